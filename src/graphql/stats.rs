//! Group-by aggregations over the read layer's groupings
//! ([`crate::read::stats`]): `eventStats`, `fundingStats` and
//! `Actor.coParticipants`, their group, key and co-participant types.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result};

use super::connection::{self, EventConnection, FundingAllocationConnection, PageArgs};
use super::errors::read_error;
use super::filters::{EventFilter, FundingFilter};
use super::memo::Shared;
use super::scalars::{BigInt, Money};
use super::table::{self, Obj, Ty};
use super::types::{loaders, Actor, Event, Place, Treaty};
use crate::model::{EventKind, PartialDate, Role};
use crate::read::cache::Entity;
use crate::read::stats::{self as read, Dim, Group};
use crate::read::table::Sum;
use crate::store::Store;

/// What `eventStats` groups events by. Several make one group per combination.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventGroup {
    /// The kind of event.
    Kind,
    /// The year of the event's date; null for events the sources give no date
    /// (or whose period spans several years): never guessed.
    Year,
    /// The month of the event's date (`2008-08`); null for events dated only
    /// to a year, spanning several months, or undated.
    Month,
    /// Each actor taking part: an event with several participants counts in
    /// each one's group.
    Actor,
    /// The role played: an event counts once in the group of each role its
    /// participants played.
    Role,
    /// Where the event happened (the very place recorded, not the places around it).
    Place,
}

/// What `fundingStats` groups funding allocations by. Several make one group per combination.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FundingGroup {
    /// Who gave the money.
    Donor,
    /// Who received it.
    Recipient,
    /// The year of the allocation's date; null for allocations the sources give no date.
    Year,
    /// The treaty it rests on; null where none is known.
    Basis,
    /// Who authorised it; null where the sources do not say.
    AuthorizedBy,
    /// The currency of the amount.
    Currency,
}

impl From<EventGroup> for Dim {
    fn from(group: EventGroup) -> Dim {
        match group {
            EventGroup::Kind => Dim::Kind,
            EventGroup::Year => Dim::Year,
            EventGroup::Month => Dim::Month,
            EventGroup::Actor => Dim::Actor,
            EventGroup::Role => Dim::Role,
            EventGroup::Place => Dim::Place,
        }
    }
}

impl From<FundingGroup> for Dim {
    fn from(group: FundingGroup) -> Dim {
        match group {
            FundingGroup::Donor => Dim::Donor,
            FundingGroup::Recipient => Dim::Recipient,
            FundingGroup::Year => Dim::Year,
            FundingGroup::Basis => Dim::Basis,
            FundingGroup::AuthorizedBy => Dim::AuthorizedBy,
            FundingGroup::Currency => Dim::Currency,
        }
    }
}

/// The read layer's dimensions for a `groupBy` list.
pub(crate) fn dims<T: Into<Dim>>(group_by: Vec<T>) -> Vec<Dim> {
    group_by.into_iter().map(Into::into).collect()
}

impl From<&Sum> for Money {
    fn from(sum: &Sum) -> Money {
        Money {
            amount: BigInt::new(sum.amount as i128),
            currency: sum.currency.clone(),
        }
    }
}

/// `Query.eventStats`.
pub(crate) fn event_stats(
    ctx: &Context<'_>,
    filter: Option<EventFilter>,
    group_by: Vec<EventGroup>,
) -> Result<Vec<EventStatsGroup>> {
    let store = ctx.data::<Store>()?;
    let filter = filter.unwrap_or_default().parse(store).map_err(read_error)?;
    // Without `events` asked for, a group's events need not be loaded.
    let members = ctx.look_ahead().field("events").exists();
    let groups =
        read::event_groups(store, &loaders(ctx)?.direct(), &filter, &dims(group_by), members).map_err(read_error)?;
    Ok(groups.into_iter().map(|g| EventStatsGroup(Arc::new(g))).collect())
}

/// `Query.fundingStats`.
pub(crate) fn funding_stats(
    ctx: &Context<'_>,
    filter: Option<FundingFilter>,
    group_by: Vec<FundingGroup>,
) -> Result<Vec<FundingStatsGroup>> {
    let store = ctx.data::<Store>()?;
    let filter = filter.unwrap_or_default().parse().map_err(read_error)?;
    let groups = read::funding_groups(store, &loaders(ctx)?.direct(), &filter, &dims(group_by)).map_err(read_error)?;
    Ok(groups.into_iter().map(|g| FundingStatsGroup(Arc::new(g))).collect())
}

/// `Actor.coParticipants`.
pub(crate) fn co_participants(
    ctx: &Context<'_>,
    actor: &Entity,
    first: Option<i32>,
    role: Option<Role>,
) -> Result<Vec<CoParticipant>> {
    let found = read::co_participants(&loaders(ctx)?.direct(), actor, first, role).map_err(read_error)?;
    Ok(found.into_iter().map(|c| CoParticipant(Arc::new(c))).collect())
}

/// One group of `eventStats`: the events sharing a key.
#[derive(Clone)]
pub struct EventStatsGroup(Arc<Group>);

/// One group of `eventStats`: the events sharing a key.
#[Object]
impl EventStatsGroup {
    /// The group's key: the value of each dimension grouped by; the
    /// dimensions not grouped by are null.
    async fn key(&self) -> EventGroupKey {
        EventGroupKey(self.0.clone())
    }
    /// How many events the group holds.
    async fn count(&self) -> Result<usize> {
        table::leaf(Ty::EventStatsGroup, "count", Obj::Group(&self.0))
    }
    /// The group's events in chronological order (undated last), as a Relay
    /// connection. Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n events (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return events after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n events (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return events before this cursor.")] before: Option<String>,
    ) -> Result<EventConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        connection::events_among(ctx, &self.0.members, None, args)
    }
}

/// The key of an `eventStats` group: the value of each dimension grouped
/// by. A dimension not grouped by is null; so is a grouped one the events
/// have no value for (`year` for undated events, `place` for events with no
/// place recorded), and those events form a group of their own.
pub struct EventGroupKey(Arc<Group>);

/// The key of an `eventStats` group: the value of each dimension grouped
/// by. A dimension not grouped by is null; so is a grouped one the events
/// have no value for (`year` for undated events, `place` for events with no
/// place recorded), and those events form a group of their own.
#[Object]
impl EventGroupKey {
    /// With `KIND`: the events' kind.
    async fn kind(&self) -> Result<Option<EventKind>> {
        table::leaf(Ty::EventGroupKey, "kind", Obj::GroupKey(&self.0.key))
    }
    /// With `YEAR`: the year the events' dates lie in; null for undated
    /// events (or periods spanning several years), never a guess.
    async fn year(&self) -> Result<Option<i32>> {
        table::leaf(Ty::EventGroupKey, "year", Obj::GroupKey(&self.0.key))
    }
    /// With `MONTH`: the month the events' dates lie in (`2008-08`); null
    /// for events dated only to a year, spanning months, or undated.
    async fn month(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::EventGroupKey, "month", Obj::GroupKey(&self.0.key))
    }
    /// With `ACTOR`: an actor taking part in every event of the group; null
    /// for events with no participant recorded.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::EventGroupKey, "actor", Obj::GroupKey(&self.0.key)).await
    }
    /// With `ROLE`: the role played in every event of the group (by the
    /// group's actor, when grouped by `ACTOR` too).
    async fn role(&self) -> Result<Option<Role>> {
        table::leaf(Ty::EventGroupKey, "role", Obj::GroupKey(&self.0.key))
    }
    /// With `PLACE`: where the events happened; null for events with no place recorded.
    async fn place(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        table::one(ctx, Ty::EventGroupKey, "place", Obj::GroupKey(&self.0.key)).await
    }
}

/// One group of `fundingStats`: the allocations sharing a key, with their sums.
#[derive(Clone)]
pub struct FundingStatsGroup(Arc<Group>);

/// One group of `fundingStats`: the allocations sharing a key, with their sums.
#[Object]
impl FundingStatsGroup {
    /// The group's key: the value of each dimension grouped by; the
    /// dimensions not grouped by are null.
    async fn key(&self) -> FundingGroupKey {
        FundingGroupKey(self.0.clone())
    }
    /// How many allocations the group holds.
    async fn count(&self) -> Result<usize> {
        table::leaf(Ty::FundingStatsGroup, "count", Obj::Group(&self.0))
    }
    /// The sum of the group's allocations, exactly, one entry per currency
    /// (amounts in different currencies are never added together).
    async fn total_amount(&self) -> Vec<Money> {
        self.0.sums.iter().map(Money::from).collect()
    }
    /// The group's allocations ordered by id, as a Relay connection (its
    /// `totalAmount` is the group's). Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
    async fn funding_allocations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n allocations (after `after`). Default 20, at most 100.")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return allocations after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n allocations (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return allocations before this cursor.")] before: Option<String>,
    ) -> Result<FundingAllocationConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let sums = self.0.sums.iter().map(Money::from).collect();
        connection::funding_among(ctx, &self.0.members, sums, args)
    }
}

/// The key of a `fundingStats` group: the value of each dimension grouped
/// by. A dimension not grouped by is null; so is a grouped one the
/// allocations have no value for (`year` for undated ones, `basis` where no
/// treaty is known), and those allocations form a group of their own.
pub struct FundingGroupKey(Arc<Group>);

/// The key of a `fundingStats` group: the value of each dimension grouped
/// by. A dimension not grouped by is null; so is a grouped one the
/// allocations have no value for (`year` for undated ones, `basis` where no
/// treaty is known), and those allocations form a group of their own.
#[Object]
impl FundingGroupKey {
    /// With `DONOR`: who gave the money.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::FundingGroupKey, "donor", Obj::GroupKey(&self.0.key)).await
    }
    /// With `RECIPIENT`: who received it.
    async fn recipient(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::FundingGroupKey, "recipient", Obj::GroupKey(&self.0.key)).await
    }
    /// With `YEAR`: the year of the allocations' date; null for undated ones, never a guess.
    async fn year(&self) -> Result<Option<i32>> {
        table::leaf(Ty::FundingGroupKey, "year", Obj::GroupKey(&self.0.key))
    }
    /// With `BASIS`: the treaty the allocations rest on; null where none is known.
    async fn basis(&self, ctx: &Context<'_>) -> Result<Option<Shared<Treaty>>> {
        table::one(ctx, Ty::FundingGroupKey, "basis", Obj::GroupKey(&self.0.key)).await
    }
    /// With `AUTHORIZED_BY`: who authorised them; null where the sources do not say.
    async fn authorized_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::FundingGroupKey, "authorizedBy", Obj::GroupKey(&self.0.key)).await
    }
    /// With `CURRENCY`: the ISO-4217 code of their amounts.
    async fn currency(&self) -> Result<Option<String>> {
        table::leaf(Ty::FundingGroupKey, "currency", Obj::GroupKey(&self.0.key))
    }
}

/// An actor that took part in events together with another, and the events they share.
pub struct CoParticipant(Arc<read::CoParticipant>);

/// An actor that took part in events together with another, and the events they share.
#[Object]
impl CoParticipant {
    /// The other actor.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::CoParticipant, "actor", Obj::CoParticipant(&self.0)).await
    }
    /// How many events the two share.
    async fn count(&self) -> Result<usize> {
        table::leaf(Ty::CoParticipant, "count", Obj::CoParticipant(&self.0))
    }
    /// The events they share, in chronological order (undated last).
    #[graphql(complexity = "super::cost::list(Ty::CoParticipant, \"events\", child_complexity)")]
    async fn events(&self) -> Vec<Event> {
        self.0
            .events
            .iter()
            .filter_map(|e| match e {
                Entity::Event(e) => Some(Event(e.clone())),
                _ => None,
            })
            .collect()
    }
}
