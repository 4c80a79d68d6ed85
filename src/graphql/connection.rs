//! Relay connections over the read layer's pages ([`crate::read::page`]):
//! the connection types, their totals, and the cursor as GraphQL sees it.

use std::collections::HashSet;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, ObjectType, OutputType, Result, SimpleObject};

use super::errors::{internal, read_error};
use super::filters::EventFilter;
use super::scalars::Money;
use super::types::{loaders, Actor, Event, FundingAllocation, Node, Place, Treaty};
use crate::model::{EntityKind, Id};
use crate::read::cache::Entity;
use crate::read::cursor;
use crate::read::listing::window_among;
pub use crate::read::page::{listing_page, Limits, Page, PageArgs, Window};
use crate::store::Store;

/// Counts that come with every connection.
#[derive(SimpleObject, Clone)]
pub struct Totals {
    /// How many items match in all, across every page.
    pub total_count: usize,
}

/// Counts and sums that come with a list of funding allocations.
#[derive(SimpleObject, Clone)]
pub struct FundingTotals {
    /// How many allocations match in all, across every page.
    pub total_count: usize,
    /// The sum of every matching allocation (not just this page), one entry per currency.
    pub total_amount: Vec<Money>,
}

/// A position in a listing: its key, made a cursor only if a client asks
/// for it (most queries read `nodes` and never pay for it).
pub struct Cursor(Vec<u8>);

impl CursorType for Cursor {
    type Error = &'static str;

    fn decode_cursor(s: &str) -> std::result::Result<Cursor, Self::Error> {
        cursor::decode(s)
            .map(Cursor)
            .map_err(|_| "not a cursor returned by this API")
    }

    fn encode_cursor(&self) -> String {
        cursor::encode(&self.0)
    }
}

pub type ActorConnection = Connection<Cursor, Actor, Totals>;
pub type EventConnection = Connection<Cursor, Event, Totals>;
pub type TreatyConnection = Connection<Cursor, Treaty, Totals>;
pub type PlaceConnection = Connection<Cursor, Place, Totals>;
pub type FundingAllocationConnection = Connection<Cursor, FundingAllocation, FundingTotals>;

/// Complexity of a connection field: its page size times the cost of one item.
pub fn complexity(child: usize, first: Option<i32>, last: Option<i32>) -> usize {
    let n = first.or(last).unwrap_or(20).clamp(1, 1_000_000) as usize;
    n.saturating_mul(child).saturating_add(1)
}

/// Checks paging arguments against the schema's page limits.
pub fn window(args: PageArgs, ctx: &Context<'_>) -> Result<Window> {
    args.window(ctx.data::<Limits>().copied().unwrap_or_default())
        .map_err(read_error)
}
/// Whether a connection's `totalCount` is selected: counting a filtered
/// listing reads all of it, so a query that never asks does not pay.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// A page of every entity of `kind`, or of those in `set` when a filter
/// narrowed them, with its total count (a counter read when unfiltered).
pub async fn listing<T>(
    ctx: &Context<'_>,
    store: &Store,
    kind: EntityKind,
    set: Option<HashSet<Id>>,
    window: &Window,
) -> Result<Connection<Cursor, T, Totals>>
where
    T: OutputType + TryFrom<Node>,
{
    let (page, total_count) = listing_page(store, kind, set, window).map_err(read_error)?;
    build(ctx, page, Totals { total_count }).await
}

/// Turns a page into a connection, loading its nodes in one batch.
pub async fn build<T, F>(ctx: &Context<'_>, page: Page, totals: F) -> Result<Connection<Cursor, T, F>>
where
    T: OutputType + TryFrom<Node>,
    F: ObjectType,
{
    let ids: Vec<Id> = page.items.iter().map(|(_, id)| id.clone()).collect();
    let found = loaders(ctx)?.entities(&ids).await.map_err(internal)?;
    let mut connection = Connection::with_additional_fields(page.has_prev, page.has_next, totals);
    for (key, id) in page.items {
        if let Some(node) = found.get(&id).cloned().and_then(|n| T::try_from(n).ok()) {
            connection.edges.push(Edge::new(Cursor(key), node));
        }
    }
    Ok(connection)
}

/// A connection over a known, chronologically sorted set of events (an
/// actor's, from the shared read cache), filtered and paged in memory.
pub fn events_among(
    ctx: &Context<'_>,
    events: &[(Vec<u8>, Entity)],
    filter: Option<EventFilter>,
    args: PageArgs,
) -> Result<EventConnection> {
    let window = window(args, ctx)?;
    let store = ctx.data::<crate::store::Store>()?;
    let filter = filter.map(|f| f.parse(store)).transpose().map_err(read_error)?;
    let (page, total_count) = window_among(events, filter.as_ref(), &window);
    Ok(page_among(page, Totals { total_count }, |node| match node {
        Entity::Event(event) => Some(Event(event.clone())),
        _ => None,
    }))
}

/// A connection over a known set of funding allocations sorted by their
/// listing keys (a group's members), paged in memory, with their totals.
pub fn funding_among(
    ctx: &Context<'_>,
    allocations: &[(Vec<u8>, Entity)],
    total_amount: Vec<Money>,
    args: PageArgs,
) -> Result<FundingAllocationConnection> {
    let window = window(args, ctx)?;
    let (page, total_count) = window_among(allocations, None, &window);
    let totals = FundingTotals {
        total_count,
        total_amount,
    };
    Ok(page_among(page, totals, |node| match node {
        Entity::FundingAllocation(f) => Some(FundingAllocation(f.clone())),
        _ => None,
    }))
}

/// A page of entities held in memory as a connection, each node made by `node`.
fn page_among<T: OutputType, F: ObjectType>(
    page: Page<(&[u8], &Entity)>,
    totals: F,
    node: impl Fn(&Entity) -> Option<T>,
) -> Connection<Cursor, T, F> {
    let mut connection = Connection::with_additional_fields(page.has_prev, page.has_next, totals);
    for (key, entity) in page.items {
        if let Some(node) = node(entity) {
            connection.edges.push(Edge::new(Cursor(key.to_vec()), node));
        }
    }
    connection
}
