//! Filter inputs for the root connections.

use async_graphql::{Enum, InputObject};

use crate::model::{ActorKind, EntityKind, EventKind, Precision, Relation, TreatyKind};
use crate::read::interval::{DateWindow, Interval};
use crate::read::listing::{self, date_arg, id_arg, places_within};
use crate::read::ReadError;
use crate::store::{Direction, Store};

/// Narrows a list of actors. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct ActorFilter {
    /// Words the actor's name or one of its aliases contains, ignoring case
    /// and accents; a word may be the start of a longer one ("medv" finds Medvedev).
    pub name: Option<String>,
    /// Only actors of this kind.
    pub kind: Option<ActorKind>,
}

/// How a date filter's window (`from`..`to`) tests a date, which names a
/// whole period: "2009" is the year, "2009-01" the month,
/// "2008-08-07/2008-08-08" two days. Examples are for a window of
/// January 2009 (`from: "2009-01", to: "2009-01"`) and the dates "2008",
/// "2008-12", "2009", "2009-01" and "2009-01-16".
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateMatch {
    /// Keep events any day of whose period falls in the window: `from: "2009-01", to: "2009-01"` keeps
    /// an event dated "2009-01-16", one dated "2009-01" and one dated only "2009".
    #[default]
    Overlaps,
    /// Keep events whose whole period falls in the window: `from: "2009-01", to: "2009-01"` keeps
    /// "2009-01-16" and "2009-01" but not "2009". With `to` alone it keeps what ended by the last
    /// day of `to`, with `from` alone what began on the first day of `from` or later.
    Within,
    /// Keep what ended before the window began: the whole period lies before the first day of `from`
    /// (or of `to`, when only `to` is given). January 2009 keeps "2008" and "2008-12", not "2009".
    Before,
    /// Keep what began after the window ended: the whole period lies after the last day of `to`
    /// (or of `from`, when only `from` is given). `from: "2008-12"` keeps "2009", "2009-01" and
    /// "2009-01-16", not "2008".
    After,
}

impl DateMatch {
    /// The window `from`..`to` asks for under this match.
    fn window(self, from: Option<crate::model::PartialDate>, to: Option<crate::model::PartialDate>) -> DateWindow {
        let interval = match self {
            DateMatch::Overlaps => Interval::Overlaps,
            DateMatch::Within => Interval::Within,
            DateMatch::Before => Interval::Before,
            DateMatch::After => Interval::After,
        };
        DateWindow::new(from, to, interval)
    }
}

/// Narrows a list of events. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct EventFilter {
    /// Only events whose period overlaps this date or later: `2008`, `2009-03`, `2008-08-26`.
    /// With `match: WITHIN`, only events that begin on or after it.
    pub from: Option<String>,
    /// Only events whose period overlaps this date or earlier. "March 2009" counts as the whole month.
    /// With `match: WITHIN`, only events that end on or before it.
    pub to: Option<String>,
    /// How `from` and `to` test an event's period: `OVERLAPS` (the default), `WITHIN`,
    /// `BEFORE` or `AFTER`.
    #[graphql(name = "match", default)]
    pub date_match: DateMatch,
    /// `true`: only events with a date; `false`: only events the sources give no date
    /// (none of which matches a `from` or `to`).
    pub dated: Option<bool>,
    /// Only events dated with one of these precisions: `[YEAR]` finds the events the
    /// sources date only by their year.
    pub precision: Option<Vec<Precision>>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events this actor took part in (an actor id, or its bare slug).
    pub actor: Option<String>,
    /// Only events that happened at this place or at any place within it, at any depth
    /// (a place id, or its bare slug): `moscow` includes the events at the Kremlin.
    pub place: Option<String>,
}

/// Narrows a list of treaties. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct TreatyFilter {
    /// Only treaties this actor is a party to (an actor id, or its bare slug).
    pub party: Option<String>,
    /// Only treaties of this kind.
    pub kind: Option<TreatyKind>,
    /// Only treaties signed on or after this date (whose signing date overlaps it or later).
    pub signed_from: Option<String>,
    /// Only treaties signed on or before this date (whose signing date overlaps it or earlier).
    pub signed_to: Option<String>,
    /// How `signedFrom` and `signedTo` test the signing date: `OVERLAPS` (the default),
    /// `WITHIN`, `BEFORE` or `AFTER`.
    #[graphql(name = "match", default)]
    pub date_match: DateMatch,
    /// `true`: only treaties with a signing date; `false`: only those without one.
    pub dated: Option<bool>,
    /// Only treaties whose signing date has one of these precisions.
    pub precision: Option<Vec<Precision>>,
}

/// Narrows a list of funding allocations. All given conditions must hold.
#[derive(InputObject, Clone, Default)]
pub struct FundingFilter {
    /// Only allocations given by this actor (an actor id, or its bare slug).
    pub donor: Option<String>,
    /// Only allocations received by this actor (an actor id, or its bare slug).
    pub recipient: Option<String>,
    /// Only allocations dated on or after this date (whose date overlaps it or later).
    pub from: Option<String>,
    /// Only allocations dated on or before this date (whose date overlaps it or earlier).
    pub to: Option<String>,
    /// How `from` and `to` test the allocation's date: `OVERLAPS` (the default), `WITHIN`,
    /// `BEFORE` or `AFTER`.
    #[graphql(name = "match", default)]
    pub date_match: DateMatch,
    /// `true`: only allocations with a date; `false`: only those without one.
    pub dated: Option<bool>,
    /// Only allocations dated with one of these precisions.
    pub precision: Option<Vec<Precision>>,
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
    /// Parsed, with the place filter grown to the places within the place
    /// asked for (read from `store`).
    pub fn parse(self, store: &Store) -> Result<listing::EventFilter, ReadError> {
        let from = date_arg("filter.from", self.from.as_deref())?;
        let to = date_arg("filter.to", self.to.as_deref())?;
        let actor = self
            .actor
            .map(|a| id_arg("filter.actor", EntityKind::Actor, &a))
            .transpose()?;
        let place = self
            .place
            .map(|p| id_arg("filter.place", EntityKind::Place, &p))
            .transpose()?;
        let places = match place {
            None => None,
            Some(place) => Some(
                places_within("filter.place", &place, |p| {
                    let mut inner =
                        store.related(Relation::PlaceWithin, Direction::Backward, std::slice::from_ref(p))?;
                    Ok(inner
                        .remove(p)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(id, _)| id)
                        .collect())
                })?
                .into_iter()
                .collect(),
            ),
        };
        let window = self.date_match.window(from, to);
        Ok(listing::EventFilter {
            from: window.from,
            to: window.to,
            whole: window.whole,
            dated: self.dated,
            precision: self.precision,
            kind: self.kind,
            actor,
            places,
        })
    }
}

impl TreatyFilter {
    pub fn parse(self) -> Result<listing::TreatyFilter, ReadError> {
        let from = date_arg("filter.signedFrom", self.signed_from.as_deref())?;
        let to = date_arg("filter.signedTo", self.signed_to.as_deref())?;
        Ok(listing::TreatyFilter {
            signed: self.date_match.window(from, to),
            dated: self.dated,
            precision: self.precision,
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
        let from = date_arg("filter.from", self.from.as_deref())?;
        let to = date_arg("filter.to", self.to.as_deref())?;
        Ok(listing::FundingFilter {
            window: self.date_match.window(from, to),
            dated: self.dated,
            precision: self.precision,
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
