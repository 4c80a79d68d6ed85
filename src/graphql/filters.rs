//! Filter inputs for the root connections.

use async_graphql::InputObject;

use crate::model::{ActorKind, EntityKind, EventKind, TreatyKind};
use crate::read::listing::{self, date_arg, id_arg};
use crate::read::ReadError;

/// Narrows a list of actors. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct ActorFilter {
    /// Words the actor's name or one of its aliases contains, ignoring case
    /// and accents; a word may be the start of a longer one ("medv" finds Medvedev).
    pub name: Option<String>,
    /// Only actors of this kind.
    pub kind: Option<ActorKind>,
}

/// Narrows a list of events. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct EventFilter {
    /// Only events whose period overlaps this date or later: `2008`, `2009-03`, `2008-08-26`.
    pub from: Option<String>,
    /// Only events whose period overlaps this date or earlier. "March 2009" counts as the whole month.
    pub to: Option<String>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events this actor took part in (an actor id, or its bare slug).
    pub actor: Option<String>,
    /// Only events that happened at this place (a place id, or its bare slug).
    pub place: Option<String>,
}

/// Narrows a list of treaties. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct TreatyFilter {
    /// Only treaties this actor is a party to (an actor id, or its bare slug).
    pub party: Option<String>,
    /// Only treaties of this kind.
    pub kind: Option<TreatyKind>,
    /// Only treaties signed on or after this date.
    pub signed_from: Option<String>,
    /// Only treaties signed on or before this date.
    pub signed_to: Option<String>,
}

/// Narrows a list of funding allocations. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct FundingFilter {
    /// Only allocations given by this actor (an actor id, or its bare slug).
    pub donor: Option<String>,
    /// Only allocations received by this actor (an actor id, or its bare slug).
    pub recipient: Option<String>,
    /// Only allocations dated on or after this date.
    pub from: Option<String>,
    /// Only allocations dated on or before this date.
    pub to: Option<String>,
}

// Each filter as the client sent it, parsed into the read layer's filter:
// ids and dates checked, errors naming the argument (`filter.from`).

impl ActorFilter {
    pub fn parse(self) -> Result<listing::ActorFilter, ReadError> {
        Ok(listing::ActorFilter {
            name: self.name,
            kind: self.kind,
        })
    }
}

impl EventFilter {
    pub fn parse(self) -> Result<listing::EventFilter, ReadError> {
        Ok(listing::EventFilter {
            from: date_arg("filter.from", self.from.as_deref())?,
            to: date_arg("filter.to", self.to.as_deref())?,
            kind: self.kind,
            actor: self
                .actor
                .map(|a| id_arg("filter.actor", EntityKind::Actor, &a))
                .transpose()?,
            place: self
                .place
                .map(|p| id_arg("filter.place", EntityKind::Place, &p))
                .transpose()?,
        })
    }
}

impl TreatyFilter {
    pub fn parse(self) -> Result<listing::TreatyFilter, ReadError> {
        Ok(listing::TreatyFilter {
            signed_from: date_arg("filter.signedFrom", self.signed_from.as_deref())?,
            signed_to: date_arg("filter.signedTo", self.signed_to.as_deref())?,
            kind: self.kind,
            party: self
                .party
                .map(|p| id_arg("filter.party", EntityKind::Actor, &p))
                .transpose()?,
        })
    }
}

impl FundingFilter {
    pub fn parse(self) -> Result<listing::FundingFilter, ReadError> {
        Ok(listing::FundingFilter {
            from: date_arg("filter.from", self.from.as_deref())?,
            to: date_arg("filter.to", self.to.as_deref())?,
            donor: self
                .donor
                .map(|d| id_arg("filter.donor", EntityKind::Actor, &d))
                .transpose()?,
            recipient: self
                .recipient
                .map(|r| id_arg("filter.recipient", EntityKind::Actor, &r))
                .transpose()?,
        })
    }
}
