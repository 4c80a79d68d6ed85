//! Relay connections: cursor paging over ordered listings.
//!
//! Every listing is ordered by a key the store defines (an id, or a
//! chronological key for events); a cursor stands for the position of that
//! key, opaque and versioned ([`crate::read::cursor`]). Paging
//! arguments are validated here: negative sizes and pages above the limit are
//! refused with `BAD_USER_INPUT`.

use std::collections::HashSet;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, ObjectType, OutputType, Result, SimpleObject};

use super::errors::{bad_input, internal};
use super::filters::EventFilter;
use super::scalars::Money;
use super::types::{date_arg, loaders, Actor, Event, FundingAllocation, Node, Place, Treaty};
use crate::model::{self, EntityKind, Id};
use crate::read::cache::Entity;
use crate::read::cursor;
use crate::store::{self, Keyed, Store};

/// Page sizes: what a connection returns when not told, and the most it returns.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub default_page: usize,
    pub max_page: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            default_page: 20,
            max_page: 100,
        }
    }
}

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

/// The four Relay paging arguments as the client sent them.
#[derive(Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Validated paging arguments.
pub struct Window {
    after: Option<Vec<u8>>,
    before: Option<Vec<u8>>,
    first: Option<usize>,
    last: Option<usize>,
}

/// A page of a listing, with whether more lies on either side.
pub struct Page<T = Keyed> {
    pub items: Vec<T>,
    pub has_prev: bool,
    pub has_next: bool,
}

/// Complexity of a connection field: its page size times the cost of one item.
pub fn complexity(child: usize, first: Option<i32>, last: Option<i32>) -> usize {
    let n = first.or(last).unwrap_or(20).clamp(1, 1_000_000) as usize;
    n.saturating_mul(child).saturating_add(1)
}

impl PageArgs {
    pub fn window(self, ctx: &Context<'_>) -> Result<Window> {
        self.window_within(ctx.data::<Limits>().copied().unwrap_or_default())
    }

    /// Checks the arguments against the page limits.
    pub fn window_within(self, limits: Limits) -> Result<Window> {
        let size = |name: &str, v: Option<i32>| -> Result<Option<usize>> {
            match v {
                None => Ok(None),
                Some(n) if n < 0 => Err(bad_input(name, format!("must be 0 or more, got {n}"))),
                Some(n) if n as usize > limits.max_page => Err(bad_input(
                    name,
                    format!(
                        "at most {} items per page, got {n}; page with `after`/`before`",
                        limits.max_page
                    ),
                )),
                Some(n) => Ok(Some(n as usize)),
            }
        };
        let cursor = |name: &str, v: Option<String>| -> Result<Option<Vec<u8>>> {
            v.map(|c| cursor::decode(&c).map_err(|e| bad_input(name, e)))
                .transpose()
        };
        let mut window = Window {
            first: size("first", self.first)?,
            last: size("last", self.last)?,
            after: cursor("after", self.after)?,
            before: cursor("before", self.before)?,
        };
        if window.first.is_none() && window.last.is_none() {
            window.first = Some(limits.default_page);
        }
        Ok(window)
    }
}

/// Pages a listing already held in memory, sorted by key.
pub fn page_sorted(all: Vec<Keyed>, w: &Window) -> Page {
    let len = all.len();
    let (s, e) = window_bounds(&all, |(k, _)| k.as_slice(), w);
    let items = all.into_iter().skip(s).take(e - s).collect();
    Page {
        items,
        has_prev: s > 0,
        has_next: e < len,
    }
}

/// The index range of `w` over a listing sorted by `key`.
pub(super) fn window_bounds<T>(all: &[T], key: impl Fn(&T) -> &[u8], w: &Window) -> (usize, usize) {
    let start = w
        .after
        .as_ref()
        .map_or(0, |a| all.partition_point(|x| key(x) <= a.as_slice()));
    let end = w
        .before
        .as_ref()
        .map_or(all.len(), |b| all.partition_point(|x| key(x) < b.as_slice()))
        .max(start);
    let (mut s, mut e) = (start, end);
    if let Some(f) = w.first {
        e = e.min(s + f);
    }
    if let Some(l) = w.last {
        s = s.max(e.saturating_sub(l));
    }
    (s, e)
}

/// Pages every entity of `kind` straight from the store's ordered listing,
/// reading only the page (plus one item to learn whether more follow).
pub fn page_store(store: &Store, kind: EntityKind, w: &Window) -> Result<Page> {
    page_with(w, |after, before, limit, from_end| {
        store.list(kind, after, before, limit, from_end)
    })
}

/// Pages an ordered listing that `fetch(after, before, limit, from_end)`
/// reads (in listing order, at most `limit` items next to the bound it
/// starts from), asking for one item more than the page to learn whether
/// more follow.
pub fn page_with<T, F>(w: &Window, fetch: F) -> Result<Page<T>>
where
    F: FnOnce(Option<&[u8]>, Option<&[u8]>, usize, bool) -> std::result::Result<Vec<T>, store::StoreError>,
{
    let (after, before) = (w.after.as_deref(), w.before.as_deref());
    if let Some(f) = w.first {
        let mut items = fetch(after, before, f + 1, false).map_err(internal)?;
        let has_next = items.len() > f;
        items.truncate(f);
        let mut has_prev = after.is_some();
        if let Some(l) = w.last {
            if items.len() > l {
                items.drain(..items.len() - l);
                has_prev = true;
            }
        }
        Ok(Page {
            items,
            has_prev,
            has_next,
        })
    } else {
        let l = w.last.unwrap_or(0);
        let mut items = fetch(after, before, l + 1, true).map_err(internal)?;
        let has_prev = items.len() > l;
        if has_prev {
            items.remove(0);
        }
        Ok(Page {
            items,
            has_prev,
            has_next: before.is_some(),
        })
    }
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
    let (page, total_count) = listing_page(store, kind, set, window)?;
    build(ctx, page, Totals { total_count }).await
}

/// The page and total count of [`listing`].
pub fn listing_page(
    store: &Store,
    kind: EntityKind,
    set: Option<HashSet<Id>>,
    window: &Window,
) -> Result<(Page, usize)> {
    match set {
        None => {
            let total_count = store.count(kind).map_err(internal)? as usize;
            Ok((page_store(store, kind, window)?, total_count))
        }
        Some(set) => {
            let keyed = store
                .list_keys(&set.into_iter().collect::<Vec<_>>())
                .map_err(internal)?;
            let total_count = keyed.len();
            Ok((page_sorted(keyed, window), total_count))
        }
    }
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

/// The chronological listing key of an event held in memory.
pub fn event_sort_key(event: &model::Event) -> Vec<u8> {
    store::event_list_key(event.date.as_ref(), &event.id)
}

/// Parses an id argument of the given kind (a full id or a bare slug).
pub fn id_arg(name: &str, kind: EntityKind, value: &str) -> Result<Id> {
    Id::parse_as(kind, value).map_err(|e| bad_input(name, e))
}

/// Keeps in `set` only what is also in `other` (or takes `other` if `set` is unconstrained).
pub fn narrow(set: &mut Option<HashSet<Id>>, other: impl IntoIterator<Item = Id>) {
    let other: HashSet<Id> = other.into_iter().collect();
    *set = Some(match set.take() {
        None => other,
        Some(current) => current.intersection(&other).cloned().collect(),
    });
}

/// An event filter with its arguments parsed.
pub struct ParsedEventFilter {
    pub from: Option<model::PartialDate>,
    pub to: Option<model::PartialDate>,
    pub kind: Option<model::EventKind>,
    pub actor: Option<Id>,
    pub place: Option<Id>,
}

impl ParsedEventFilter {
    pub fn parse(filter: Option<EventFilter>) -> Result<ParsedEventFilter> {
        let f = filter.unwrap_or_default();
        Ok(ParsedEventFilter {
            from: date_arg("filter.from", f.from.as_deref())?,
            to: date_arg("filter.to", f.to.as_deref())?,
            kind: f.kind,
            actor: f
                .actor
                .map(|a| id_arg("filter.actor", EntityKind::Actor, &a))
                .transpose()?,
            place: f
                .place
                .map(|p| id_arg("filter.place", EntityKind::Place, &p))
                .transpose()?,
        })
    }

    /// Whether an event held in memory passes the filter.
    pub fn matches(&self, e: &model::Event) -> bool {
        let dated_ok = self.from.is_none() && self.to.is_none()
            || e.date.is_some_and(|d| d.overlaps(self.from.as_ref(), self.to.as_ref()));
        dated_ok
            && self.kind.is_none_or(|k| e.kind == k)
            && self
                .actor
                .as_ref()
                .is_none_or(|a| e.participants.iter().any(|p| &p.actor == a))
            && self.place.as_ref().is_none_or(|p| e.place.as_ref() == Some(p))
    }
}

/// The page `window` selects among `events` (sorted, with their listing
/// keys) that pass `filter`, and how many pass in all.
pub fn window_among<'e>(
    events: &'e [(Vec<u8>, Entity)],
    filter: Option<&ParsedEventFilter>,
    window: &Window,
) -> (Page<(&'e [u8], &'e Entity)>, usize) {
    let page = |all: &[(&'e [u8], &'e Entity)], (start, end): (usize, usize)| Page {
        items: all[start..end].to_vec(),
        has_prev: start > 0,
        has_next: end < all.len(),
    };
    let pairs = |items: &'e [(Vec<u8>, Entity)]| items.iter().map(|(key, node)| (key.as_slice(), node));
    let Some(filter) = filter else {
        // Unfiltered, the page is a slice of the list: no copy of the rest.
        let (start, end) = window_bounds(events, |(k, _)| k.as_slice(), window);
        let items = pairs(&events[start..end]).collect();
        let page = Page {
            items,
            has_prev: start > 0,
            has_next: end < events.len(),
        };
        return (page, events.len());
    };
    let all: Vec<(&[u8], &Entity)> = pairs(events)
        .filter(|(_, node)| matches!(node, Entity::Event(e) if filter.matches(e)))
        .collect();
    let bounds = window_bounds(&all, |(k, _)| k, window);
    (page(&all, bounds), all.len())
}

/// A connection over a known, chronologically sorted set of events (an
/// actor's, from the shared read cache), filtered and paged in memory.
pub fn events_among(
    ctx: &Context<'_>,
    events: &[(Vec<u8>, Entity)],
    filter: Option<EventFilter>,
    args: PageArgs,
) -> Result<EventConnection> {
    let window = args.window(ctx)?;
    let filter = filter.map(|f| ParsedEventFilter::parse(Some(f))).transpose()?;
    let (page, total_count) = window_among(events, filter.as_ref(), &window);
    let mut connection = Connection::with_additional_fields(page.has_prev, page.has_next, Totals { total_count });
    for (key, node) in page.items {
        if let Entity::Event(event) = node {
            connection
                .edges
                .push(Edge::new(Cursor(key.to_vec()), Event(event.clone())));
        }
    }
    Ok(connection)
}
