//! The root query type.

use async_graphql::{Context, Object, Result, ID};

use super::connection::{
    self, build, wants_total, window, ActorConnection, EventConnection, FundingAllocationConnection, FundingTotals,
    PageArgs, PlaceConnection, Totals, TreatyConnection,
};
use super::cost;
use super::cost::FAN_OUT;
use super::errors::{bad_input, internal, read_error};
use super::federation;
use super::filters::{ActorFilter, EventFilter, FundingFilter, TreatyFilter};
use super::scalars::Money;
use super::search::SearchHit;
use super::stats::{self, EventGroup, EventStatsGroup, FundingGroup, FundingStatsGroup};
use super::table::Ty;
use super::types::{load_all, load_one, Actor, Event, FundingAllocation, Node, Place, Source, Treaty};
use crate::model::{EntityKind, Id, PartialDate, RelationKind};
use crate::read::listing::{actor_set, event_listing, funding_keyed, id_arg, timeline_ids, treaty_set, TimelineArgs};
use crate::read::page::{page_sorted, page_store};
use crate::read::search::search_hits;
use crate::store::Store;

/// The entry points of the graph.
pub struct QueryRoot;

fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

fn lookup_id(kind: EntityKind, id: &ID) -> Result<Id> {
    id_arg("id", kind, id.as_str()).map_err(read_error)
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
    #[graphql(complexity = "cost::page(Ty::Query, \"actors\", first, last, None, child_complexity)")]
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
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = window(args, ctx)?;
        let filter = filter.unwrap_or_default().parse().map_err(read_error)?;
        let set = actor_set(store, &filter).map_err(read_error)?;
        connection::listing(ctx, store, EntityKind::Actor, set, &window).await
    }

    /// Events in chronological order (undated events last), optionally filtered
    /// by period, kind, participant and place. Pages default to 20 items, at most 100.
    #[graphql(
        complexity = "cost::page(Ty::Query, \"events\", first, last, filter.as_ref().and_then(|f| f.kind), child_complexity)"
    )]
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
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = window(args, ctx)?;
        let filter = filter.unwrap_or_default().parse(store).map_err(read_error)?;
        let (page, total_count) = event_listing(store, &filter, &window, wants_total(ctx)).map_err(read_error)?;
        build(ctx, page, Totals { total_count }).await
    }

    /// Treaties and agreements, ordered by id, optionally filtered by party,
    /// kind and signing date. Pages default to 20 items, at most 100.
    #[graphql(complexity = "cost::page(Ty::Query, \"treaties\", first, last, None, child_complexity)")]
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
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = window(args, ctx)?;
        let filter = filter.unwrap_or_default().parse().map_err(read_error)?;
        let set = treaty_set(store, &filter).map_err(read_error)?;
        connection::listing(ctx, store, EntityKind::Treaty, set, &window).await
    }

    /// Funding allocations, ordered by id, optionally filtered by donor,
    /// recipient and date, with the total amount per currency of all that
    /// match. Pages default to 20 items, at most 100.
    #[graphql(complexity = "cost::page(Ty::Query, \"fundingAllocations\", first, last, None, child_complexity)")]
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
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let window = window(args, ctx)?;
        let filter = filter.unwrap_or_default().parse().map_err(read_error)?;
        let keyed = funding_keyed(store, &filter).map_err(read_error)?;
        let total_count = keyed.len();
        // Sums need every matching allocation, so only compute them when asked.
        let mut total_amount = Vec::new();
        if ctx.look_ahead().field("totalAmount").exists() {
            let all: Vec<FundingAllocation> = load_all(ctx, keyed.iter().map(|(_, id)| id.clone())).await?;
            total_amount = crate::read::table::sum_amounts(all.iter().map(|f| &f.0.amount))
                .iter()
                .map(Money::from)
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
    #[graphql(complexity = "cost::page(Ty::Query, \"places\", first, None, None, child_complexity)")]
    async fn places(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n places (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return places after this cursor.")] after: Option<String>,
    ) -> Result<PlaceConnection> {
        let store = store(ctx)?;
        let args = PageArgs {
            first,
            after,
            ..PageArgs::default()
        };
        let window = window(args, ctx)?;
        let total_count = store.count(EntityKind::Place).map_err(internal)? as usize;
        build(
            ctx,
            page_store(store, EntityKind::Place, &window).map_err(read_error)?,
            Totals { total_count },
        )
        .await
    }

    /// Finds entities of every kind by words in their names, aliases,
    /// summaries, treaty provisions, figures (label or value: "3700"), notes
    /// and source sections, ignoring case and accents ("kokoity" finds
    /// Kokoïty). A word may be the start of a longer one, another
    /// romanisation of it ("Tskhinvali" finds Tskhinval, "Kokoyty" Kokoity,
    /// Cyrillic finds Latin), or, from five letters, one typo away (two from
    /// eight). Exact matches first, then transliterations, then typos; each
    /// hit says which fields matched and where.
    #[graphql(complexity = "first.unwrap_or(10).clamp(1, 1_000_000) as usize * child_complexity + 1")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The words to look for; every word must match.")] query: String,
        #[graphql(desc = "How many hits to return. Default 10, at most 100.")] first: Option<i32>,
    ) -> Result<Vec<SearchHit>> {
        let top = search_hits(store(ctx)?, &query, first).map_err(read_error)?;
        let nodes: Vec<Node> = load_all(ctx, top.iter().map(|(id, _)| id.clone())).await?;
        let query: std::sync::Arc<str> = query.into();
        Ok(top
            .into_iter()
            .filter_map(|(id, score)| {
                nodes.iter().find(|n| *n.global_id() == id).map(|node| SearchHit {
                    score,
                    node: node.clone(),
                    query: query.clone(),
                })
            })
            .collect())
    }

    /// Dated events in chronological order, optionally within a period and
    /// for one actor. A partial date counts as the whole period it names:
    /// `from: "2009-03"` includes an event dated "March 2009". Events the
    /// source gives no date for are left out, unless `includeUndated` places
    /// them by their hints; an entry with a null `date` was placed that way.
    #[graphql(complexity = "cost::capped(Ty::Query, \"timeline\", first, 200, child_complexity)")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start of the period: `2008`, `2008-08` or `2008-08-26`.")] from: Option<String>,
        #[graphql(desc = "End of the period, inclusive: `2009`, `2009-03` or `2009-03-31`.")] to: Option<String>,
        #[graphql(desc = "Only events this actor took part in (an id or bare slug).")] actor: Option<ID>,
        #[graphql(desc = "How many events to return. Default 200, at most 1000.")] first: Option<i32>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also the events the sources give no date for, placed by their `after` hints: right after the latest dated event an event follows (through other undated ones, nearest first), or, if it follows none, right before the earliest dated event that follows it. Their `date` is null, which marks them as placed by a hint; one whose hints reach no event of the answer is left out."
        )]
        include_undated: Option<bool>,
    ) -> Result<Vec<Event>> {
        let args = TimelineArgs::parse(
            from.as_deref(),
            to.as_deref(),
            actor.as_ref().map(|a| a.as_str()),
            first,
            include_undated.unwrap_or(false),
        )
        .map_err(read_error)?;
        let ids = timeline_ids(store(ctx)?, args).map_err(read_error)?;
        load_all(ctx, ids).await
    }

    /// Counts events by kind, year, month, actor, role or place: one group
    /// per combination of the dimensions in `groupBy`, each with its key,
    /// its count and its events. An event with several participants counts
    /// in each one's group when grouped by `ACTOR` (so the counts may add up
    /// to more than the events); undated events form a group of their own
    /// (`year: null`), never guessed into a year. Groups are ordered by key,
    /// dimension by dimension in the order of `groupBy`, a missing value
    /// (undated, no place) last. At most 100,000 events are grouped and
    /// 10,000 groups answered; past that the filter must narrow them.
    // Groups count at a flat length: their number depends on the filter and
    // the values the store holds, and the read refuses past 10,000 groups or
    // 100,000 events grouped, so the work is bounded where it is done.
    #[graphql(complexity = "super::cost::FAN_OUT * child_complexity + 1")]
    async fn event_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter, as for `events`.")] filter: Option<EventFilter>,
        #[graphql(
            desc = "The dimensions to group by, at least one, each once: `[YEAR]`, or `[ACTOR, KIND]` for one group per actor and kind."
        )]
        group_by: Vec<EventGroup>,
    ) -> Result<Vec<EventStatsGroup>> {
        stats::event_stats(ctx, filter, group_by)
    }

    /// Counts and sums funding allocations by donor, recipient, year, basis,
    /// authoriser or currency: one group per combination of the dimensions
    /// in `groupBy`, each with its key, its count, its exact total per
    /// currency and its allocations. Undated allocations form a group of
    /// their own (`year: null`). Groups are ordered by key, dimension by
    /// dimension in the order of `groupBy`, a missing value last.
    // A flat length, as for `eventStats`.
    #[graphql(complexity = "super::cost::FAN_OUT * child_complexity + 1")]
    async fn funding_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only allocations matching this filter, as for `fundingAllocations`.")] filter: Option<
            FundingFilter,
        >,
        #[graphql(desc = "The dimensions to group by, at least one, each once: `[DONOR]`, or `[DONOR, YEAR]`.")]
        group_by: Vec<FundingGroup>,
    ) -> Result<Vec<FundingStatsGroup>> {
        stats::funding_stats(ctx, filter, group_by)
    }

    /// The shortest paths between two entities over the graph's relations ("how is Sergey Lavrov
    /// connected to the Federation Council?"), each as its entities and the typed steps between
    /// them. The search runs from both ends and stops past `budget` entities expanded, saying so
    /// (`complete: false`) rather than failing.
    #[graphql(complexity = "first.clamp(1, 50) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn paths(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where paths start: a global id, `actor/sergey-lavrov`.")] from: ID,
        #[graphql(desc = "Where paths end: a global id, `actor/federation-council`.")] to: ID,
        #[graphql(desc = "The most steps a path may take, 1 to 6.", default = 4)] max_hops: i32,
        #[graphql(desc = "Only steps of these kinds. Default: every kind but `CITES`.")] via: Option<Vec<RelationKind>>,
        #[graphql(desc = "How many paths to list, 1 to 50.", default = 5)] first: i32,
        #[graphql(
            desc = "The most entities the search expands before it stops, 1 to 50000.",
            default = 5000
        )]
        budget: i32,
    ) -> Result<super::paths::PathSearch> {
        super::paths::find(ctx, &from, &to, max_hops, via.as_deref(), first, budget)
    }

    /// Who held a post, by its title (case and accents aside): "President of Russia". With `asOf`,
    /// only those holding it on any day of that date; a post the sources give no dates for counts
    /// between the first and last dates its holder is attested on (`Position.attestedOn`).
    // A flat length: the holders of one title are few, and the read refuses
    // past 10,000 of them.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn position_holders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post's title, as the sources give it: \"President of Russia\".")] title: String,
        #[graphql(desc = "Only posts in this actor (an id or bare slug): `russia`.")] of: Option<ID>,
        #[graphql(desc = "Only holders on any day of this date: `2008-08-26`, `2009-03`, `2009`.")] as_of: Option<
            PartialDate,
        >,
    ) -> Result<Vec<super::asof::PositionHolding>> {
        super::asof::position_holders(ctx, &title, of.as_ref(), as_of)
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
