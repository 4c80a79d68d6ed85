//! The root query type.

use std::collections::HashSet;

use async_graphql::{Context, Object, Result, SimpleObject, ID};

use super::connection::{
    self, build, id_arg, narrow, page_sorted, page_store, page_with, wants_total, ActorConnection, EventConnection,
    FundingAllocationConnection, FundingTotals, Page, PageArgs, ParsedEventFilter, PlaceConnection, Totals,
    TreatyConnection, Window,
};
use super::errors::{bad_input, internal};
use super::federation;
use super::filters::{ActorFilter, EventFilter, FundingFilter, TreatyFilter};
use super::scalars::{BigInt, Money};
use super::types::{date_arg, load_all, load_one, Actor, Event, FundingAllocation, Node, Place, Source, Treaty};
use crate::model::{EntityKind, Id, Relation};
use crate::store::{Direction, Keyed, PeriodScan, Store};

/// Most hits `search` returns.
pub const MAX_SEARCH_HITS: i32 = 100;
/// Most events `timeline` returns.
pub const MAX_TIMELINE: i32 = 1000;

/// The entry points of the graph.
pub struct QueryRoot;

/// One search result: the matching entity and how well it matched.
#[derive(SimpleObject)]
pub struct SearchHit {
    /// Higher is better: name matches count most, then aliases, then summaries;
    /// whole-word matches count double a word's beginning.
    score: f64,
    /// The matching entity; use an inline fragment (`... on Actor { name }`) for its fields.
    node: Node,
}

fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

fn lookup_id(kind: EntityKind, id: &ID) -> Result<Id> {
    id_arg("id", kind, id.as_str())
}

fn related_ids(store: &Store, relation: Relation, to: &Id) -> Result<Vec<Id>> {
    let mut map = store
        .related(relation, Direction::Backward, std::slice::from_ref(to))
        .map_err(internal)?;
    Ok(map
        .remove(to)
        .unwrap_or_default()
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// The entry points of the graph: look up any entity by id, list and filter
/// each kind, search by name, or read the timeline.
#[Object(name = "Query")]
impl QueryRoot {
    /// Fetches any entity by its global id (`actor/dmitry-medvedev`); null if there is none.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, `kind/slug`.")] id: ID,
    ) -> Result<Option<Node>> {
        let id = Id::parse(id.as_str()).map_err(|e| bad_input("id", e))?;
        load_one(ctx, Some(&id)).await
    }

    /// Fetches several entities by global id, in the order asked; null for each id that matches nothing.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, `kind/slug`; at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(bad_input("ids", format!("at most 100 ids, got {}", ids.len())));
        }
        let parsed = ids
            .iter()
            .map(|id| Id::parse(id.as_str()).map_err(|e| bad_input("ids", e)))
            .collect::<Result<Vec<Id>>>()?;
        let found: Vec<Node> = load_all(ctx, parsed.iter().cloned()).await?;
        Ok(parsed
            .iter()
            .map(|id| found.iter().find(|n| n.global_id() == id).cloned())
            .collect())
    }

    /// An actor by id (`actor/eduard-kokoity`) or bare slug (`eduard-kokoity`); null if none.
    async fn actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An actor id or its bare slug.")] id: ID,
    ) -> Result<Option<Actor>> {
        load_one(ctx, Some(&lookup_id(EntityKind::Actor, &id)?)).await
    }

    /// An event by id (`event/recognition-decrees`) or bare slug; null if none.
    async fn event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An event id or its bare slug.")] id: ID,
    ) -> Result<Option<Event>> {
        load_one(ctx, Some(&lookup_id(EntityKind::Event, &id)?)).await
    }

    /// A treaty by id (`treaty/friendship-2008`) or bare slug; null if none.
    async fn treaty(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A treaty id or its bare slug.")] id: ID,
    ) -> Result<Option<Treaty>> {
        load_one(ctx, Some(&lookup_id(EntityKind::Treaty, &id)?)).await
    }

    /// A funding allocation by id (`funding/federal-budget-2009`) or bare slug; null if none.
    async fn funding_allocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A funding id or its bare slug.")] id: ID,
    ) -> Result<Option<FundingAllocation>> {
        load_one(ctx, Some(&lookup_id(EntityKind::Funding, &id)?)).await
    }

    /// A place by id (`place/tskhinval`) or bare slug; null if none.
    async fn place(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A place id or its bare slug.")] id: ID,
    ) -> Result<Option<Place>> {
        load_one(ctx, Some(&lookup_id(EntityKind::Place, &id)?)).await
    }

    /// A source by id (`source/background`) or bare slug; null if none.
    async fn source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A source id or its bare slug.")] id: ID,
    ) -> Result<Option<Source>> {
        load_one(ctx, Some(&lookup_id(EntityKind::Source, &id)?)).await
    }

    /// Actors, ordered by id, optionally filtered by name and kind. Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
    async fn actors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only actors matching this filter.")] filter: Option<ActorFilter>,
        #[graphql(desc = "Return the first n actors (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return actors after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n actors (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return actors before this cursor.")] before: Option<String>,
    ) -> Result<ActorConnection> {
        let store = store(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window(ctx)?;
        let set = actor_set(store, filter.unwrap_or_default())?;
        connection::listing(ctx, store, EntityKind::Actor, set, &window).await
    }

    /// Events in chronological order (undated events last), optionally filtered
    /// by period, kind, participant and place. Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter.")] filter: Option<EventFilter>,
        #[graphql(desc = "Return the first n events (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return events after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n events (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return events before this cursor.")] before: Option<String>,
    ) -> Result<EventConnection> {
        let store = store(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window(ctx)?;
        let filter = ParsedEventFilter::parse(filter)?;
        let (page, total_count) = event_listing(store, &filter, &window, wants_total(ctx))?;
        build(ctx, page, Totals { total_count }).await
    }

    /// Treaties and agreements, ordered by id, optionally filtered by party,
    /// kind and signing date. Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
    async fn treaties(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only treaties matching this filter.")] filter: Option<TreatyFilter>,
        #[graphql(desc = "Return the first n treaties (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return treaties after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n treaties (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return treaties before this cursor.")] before: Option<String>,
    ) -> Result<TreatyConnection> {
        let store = store(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window(ctx)?;
        let set = treaty_set(store, filter.unwrap_or_default())?;
        connection::listing(ctx, store, EntityKind::Treaty, set, &window).await
    }

    /// Funding allocations, ordered by id, optionally filtered by donor,
    /// recipient and date, with the total amount per currency of all that
    /// match. Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
    async fn funding_allocations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only allocations matching this filter.")] filter: Option<FundingFilter>,
        #[graphql(desc = "Return the first n allocations (after `after`). Default 20, at most 100.")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return allocations after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n allocations (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return allocations before this cursor.")] before: Option<String>,
    ) -> Result<FundingAllocationConnection> {
        let store = store(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window(ctx)?;
        let keyed = funding_keyed(store, filter.unwrap_or_default())?;
        let total_count = keyed.len();
        // Sums need every matching allocation, so only compute them when asked.
        let mut total_amount = Vec::new();
        if ctx.look_ahead().field("totalAmount").exists() {
            let all: Vec<FundingAllocation> = load_all(ctx, keyed.iter().map(|(_, id)| id.clone())).await?;
            total_amount = crate::read::table::sum_amounts(all.iter().map(|f| &f.0.amount))
                .into_iter()
                .map(|sum| Money {
                    amount: BigInt::new(sum.amount as i128),
                    currency: sum.currency,
                })
                .collect();
        }
        build(
            ctx,
            page_sorted(keyed, &window),
            FundingTotals {
                total_count,
                total_amount,
            },
        )
        .await
    }

    /// Places, ordered by id. Pages default to 20 items, at most 100.
    #[graphql(complexity = "connection::complexity(child_complexity, first, None)")]
    async fn places(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n places (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return places after this cursor.")] after: Option<String>,
    ) -> Result<PlaceConnection> {
        let store = store(ctx)?;
        let window = PageArgs {
            first,
            after,
            ..PageArgs::default()
        }
        .window(ctx)?;
        let total_count = store.count(EntityKind::Place).map_err(internal)? as usize;
        build(
            ctx,
            page_store(store, EntityKind::Place, &window)?,
            Totals { total_count },
        )
        .await
    }

    /// Finds entities of every kind by words in their names, aliases and
    /// summaries, ignoring case and accents ("kokoity" finds Kokoïty); a word
    /// may be the start of a longer one. Best matches first.
    #[graphql(complexity = "first.unwrap_or(10).clamp(1, 1_000_000) as usize * child_complexity + 1")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The words to look for; every word must match.")] query: String,
        #[graphql(desc = "How many hits to return. Default 10, at most 100.")] first: Option<i32>,
    ) -> Result<Vec<SearchHit>> {
        let top = search_hits(store(ctx)?, &query, first)?;
        let nodes: Vec<Node> = load_all(ctx, top.iter().map(|(id, _)| id.clone())).await?;
        Ok(top
            .into_iter()
            .filter_map(|(id, score)| {
                nodes.iter().find(|n| *n.global_id() == id).map(|node| SearchHit {
                    score,
                    node: node.clone(),
                })
            })
            .collect())
    }

    /// Dated events in chronological order, optionally within a period and
    /// for one actor. A partial date counts as the whole period it names:
    /// `from: "2009-03"` includes an event dated "March 2009". Events the
    /// source gives no date for are left out.
    #[graphql(complexity = "first.unwrap_or(200).clamp(1, 1_000_000) as usize * child_complexity + 1")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start of the period: `2008`, `2008-08` or `2008-08-26`.")] from: Option<String>,
        #[graphql(desc = "End of the period, inclusive: `2009`, `2009-03` or `2009-03-31`.")] to: Option<String>,
        #[graphql(desc = "Only events this actor took part in (an id or bare slug).")] actor: Option<ID>,
        #[graphql(desc = "How many events to return. Default 200, at most 1000.")] first: Option<i32>,
    ) -> Result<Vec<Event>> {
        let ids = timeline_ids(store(ctx)?, TimelineArgs { from, to, actor, first })?;
        load_all(ctx, ids).await
    }

    /// Federation: an actor a gateway refers to by its key, `id`.
    #[graphql(entity)]
    async fn actor_entity(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Actor>> {
        federation::entity(ctx, EntityKind::Actor, &id).await
    }

    /// Federation: an event a gateway refers to by its key, `id`.
    #[graphql(entity)]
    async fn event_entity(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Event>> {
        federation::entity(ctx, EntityKind::Event, &id).await
    }

    /// Federation: a treaty a gateway refers to by its key, `id`.
    #[graphql(entity)]
    async fn treaty_entity(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Treaty>> {
        federation::entity(ctx, EntityKind::Treaty, &id).await
    }

    /// Federation: a funding allocation a gateway refers to by its key, `id`.
    #[graphql(entity)]
    async fn funding_allocation_entity(&self, ctx: &Context<'_>, id: ID) -> Result<Option<FundingAllocation>> {
        federation::entity(ctx, EntityKind::Funding, &id).await
    }

    /// Federation: a place a gateway refers to by its key, `id`.
    #[graphql(entity)]
    async fn place_entity(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Place>> {
        federation::entity(ctx, EntityKind::Place, &id).await
    }

    /// Federation: a source a gateway refers to by its key, `id`.
    #[graphql(entity)]
    async fn source_entity(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Source>> {
        federation::entity(ctx, EntityKind::Source, &id).await
    }
}

/// A page of the events matching `filter`, in listing order, and how many
/// match in all (0 unless `count` is set: counting reads every match).
pub(super) fn event_listing(
    store: &Store,
    filter: &ParsedEventFilter,
    window: &Window,
    count: bool,
) -> Result<(Page, usize)> {
    let scan = PeriodScan {
        from: filter.from.as_ref(),
        to: filter.to.as_ref(),
        subkind: filter.kind.map(|k| k.as_str()),
        ..PeriodScan::default()
    };
    if filter.actor.is_none() && filter.place.is_none() {
        // Period and kind are ranges of ordered indexes: read just the page.
        let page = page_with(window, |after, before, limit, from_end| {
            let scan = PeriodScan {
                after,
                before,
                from_end,
                ..scan
            };
            store.page_period(EntityKind::Event, &scan, limit)
        })?;
        let total_count = match (count, scan.is_everything()) {
            (false, _) => 0,
            (true, true) => store.count(EntityKind::Event).map_err(internal)? as usize,
            (true, false) => store.count_period(EntityKind::Event, &scan).map_err(internal)?,
        };
        return Ok((page, total_count));
    }
    // An actor's or a place's events are few: take them, then keep those
    // in the period and of the kind.
    let mut set: Option<HashSet<Id>> = None;
    if let Some(actor) = &filter.actor {
        narrow(&mut set, related_ids(store, Relation::EventParticipant, actor)?);
    }
    if let Some(place) = &filter.place {
        narrow(&mut set, related_ids(store, Relation::EventPlace, place)?);
    }
    let ids: Vec<Id> = set.unwrap_or_default().into_iter().collect();
    let mut keyed = store.list_keys(&ids).map_err(internal)?;
    keyed.retain(|(key, _)| scan.admits(key));
    if let Some(kind) = scan.subkind {
        let mut kept = Vec::with_capacity(keyed.len());
        for (key, id) in keyed {
            if store.event_is_of_kind(kind, &key).map_err(internal)? {
                kept.push((key, id));
            }
        }
        keyed = kept;
    }
    let total_count = keyed.len();
    Ok((page_sorted(keyed, window), total_count))
}

/// The ids and scores of the best `first` matches of a search.
pub(super) fn search_hits(store: &Store, query: &str, first: Option<i32>) -> Result<Vec<(Id, f64)>> {
    let first = first.unwrap_or(10);
    if !(0..=MAX_SEARCH_HITS).contains(&first) {
        return Err(bad_input(
            "first",
            format!("must be between 0 and {MAX_SEARCH_HITS}, got {first}"),
        ));
    }
    if query.len() > 200 {
        return Err(bad_input(
            "query",
            format!("at most 200 characters, got {}", query.len()),
        ));
    }
    store.search_top(query, 1, first as usize).map_err(internal)
}

/// The arguments of `timeline`.
pub(super) struct TimelineArgs {
    pub from: Option<String>,
    pub to: Option<String>,
    pub actor: Option<ID>,
    pub first: Option<i32>,
}

/// The ids of the events `timeline` answers with, in order.
pub(super) fn timeline_ids(store: &Store, args: TimelineArgs) -> Result<Vec<Id>> {
    let first = args.first.unwrap_or(200);
    if !(0..=MAX_TIMELINE).contains(&first) {
        return Err(bad_input(
            "first",
            format!("must be between 0 and {MAX_TIMELINE}, got {first}"),
        ));
    }
    let from = date_arg("from", args.from.as_deref())?;
    let to = date_arg("to", args.to.as_deref())?;
    let scan = PeriodScan {
        from: from.as_ref(),
        to: to.as_ref(),
        dated: true,
        ..PeriodScan::default()
    };
    let mut keyed = match args.actor {
        None => store
            .page_period(EntityKind::Event, &scan, first as usize)
            .map_err(internal)?,
        Some(actor) => {
            let actor = id_arg("actor", EntityKind::Actor, actor.as_str())?;
            let theirs = related_ids(store, Relation::EventParticipant, &actor)?;
            let mut keyed = store.list_keys(&theirs).map_err(internal)?;
            keyed.retain(|(key, _)| scan.admits(key));
            keyed
        }
    };
    keyed.truncate(first as usize);
    Ok(keyed.into_iter().map(|(_, id)| id).collect())
}

/// The actors `filter` leaves, or `None` when it leaves them all.
pub(super) fn actor_set(store: &Store, filter: ActorFilter) -> Result<Option<HashSet<Id>>> {
    let mut set: Option<HashSet<Id>> = None;
    if let Some(name) = &filter.name {
        if name.trim().is_empty() {
            return Err(bad_input("filter.name", "must not be empty"));
        }
        let hits = store.search(name, 3).map_err(internal)?;
        narrow(
            &mut set,
            hits.into_iter()
                .map(|(id, _)| id)
                .filter(|id| id.kind() == EntityKind::Actor),
        );
    }
    if let Some(kind) = filter.kind {
        narrow(
            &mut set,
            store
                .ids_of_subkind(EntityKind::Actor, kind.as_str())
                .map_err(internal)?,
        );
    }
    Ok(set)
}

/// Narrows `set` to the `kind` entities whose period overlaps the one the
/// two date arguments (name, value) give, when either is given.
fn narrow_to_period(
    set: &mut Option<HashSet<Id>>,
    store: &Store,
    kind: EntityKind,
    from: (&str, Option<&str>),
    to: (&str, Option<&str>),
) -> Result<()> {
    let from = date_arg(from.0, from.1)?;
    let to = date_arg(to.0, to.1)?;
    if from.is_some() || to.is_some() {
        narrow(
            set,
            store
                .ids_in_period(kind, from.as_ref(), to.as_ref())
                .map_err(internal)?,
        );
    }
    Ok(())
}

/// The treaties `filter` leaves, or `None` when it leaves them all.
pub(super) fn treaty_set(store: &Store, filter: TreatyFilter) -> Result<Option<HashSet<Id>>> {
    let mut set: Option<HashSet<Id>> = None;
    narrow_to_period(
        &mut set,
        store,
        EntityKind::Treaty,
        ("filter.signedFrom", filter.signed_from.as_deref()),
        ("filter.signedTo", filter.signed_to.as_deref()),
    )?;
    if let Some(kind) = filter.kind {
        narrow(
            &mut set,
            store
                .ids_of_subkind(EntityKind::Treaty, kind.as_str())
                .map_err(internal)?,
        );
    }
    if let Some(party) = &filter.party {
        let party = id_arg("filter.party", EntityKind::Actor, party)?;
        narrow(&mut set, related_ids(store, Relation::TreatyParty, &party)?);
    }
    Ok(set)
}

/// The funding allocations `filter` leaves, in listing order.
pub(super) fn funding_keyed(store: &Store, filter: FundingFilter) -> Result<Vec<Keyed>> {
    let mut set: Option<HashSet<Id>> = None;
    narrow_to_period(
        &mut set,
        store,
        EntityKind::Funding,
        ("filter.from", filter.from.as_deref()),
        ("filter.to", filter.to.as_deref()),
    )?;
    if let Some(donor) = &filter.donor {
        let donor = id_arg("filter.donor", EntityKind::Actor, donor)?;
        narrow(&mut set, related_ids(store, Relation::FundingDonor, &donor)?);
    }
    if let Some(recipient) = &filter.recipient {
        let recipient = id_arg("filter.recipient", EntityKind::Actor, recipient)?;
        narrow(&mut set, related_ids(store, Relation::FundingRecipient, &recipient)?);
    }
    Ok(match set {
        Some(set) => store
            .list_keys(&set.into_iter().collect::<Vec<_>>())
            .map_err(internal)?,
        None => store
            .list(EntityKind::Funding, None, None, usize::MAX, false)
            .map_err(internal)?,
    })
}
