//! What a query costs, estimated from what the store knows.
//!
//! async-graphql adds up a document's complexity in its validation: every
//! field costs 1, and a list field multiplies the cost of its items by the
//! functions here. A list is counted at the most items it can return: a
//! page at `min(first, what the store holds for that list)`, an unpaged
//! list at the longest list of its kind in the store
//! ([`crate::read::bounds`]). Both are upper bounds of what it returns for
//! any parent (the statistics never fall below the store's real lists), so
//! the estimate stays an upper bound of the objects the query can produce,
//! while an analyst's `first: 100` over a list that holds three items
//! costs three.
//!
//! A page larger than the page limit is counted at its face value: it is
//! refused anyway, and a million-item page is refused as too complex
//! before anything runs.
//!
//! async-graphql's complexity functions are plain functions without the
//! schema's data, so the statistics reach them as a task-local set around
//! the validation ([`with_known`]). Without one (a schema run outside
//! [`super::execute`]) lists count at the page size or at [`FAN_OUT`], as
//! they did before the statistics were kept.

use std::future::Future;
use std::sync::Arc;

use super::connection::Limits;
use crate::model::{EntityKind, EventKind};
use crate::read::bounds::{bound, Bound};
use crate::read::table::Ty;
use crate::store::Stats;

/// The length assumed for an unpaged list when no statistics are at hand.
pub const FAN_OUT: usize = 5;

/// What the estimate knows while a document is validated.
#[derive(Clone)]
pub struct Known {
    pub stats: Arc<Stats>,
    pub pages: Limits,
}

tokio::task_local! {
    static KNOWN: Known;
}

/// Runs `future` (an operation's execution, whose validation adds up its
/// complexity) with `known` at hand for the estimate.
pub async fn with_known<F: Future>(known: Option<Known>, future: F) -> F::Output {
    match known {
        Some(known) => KNOWN.scope(known, future).await,
        None => future.await,
    }
}

fn known() -> Option<Known> {
    KNOWN.try_with(Known::clone).ok()
}

/// `n` items of cost `child` each, plus the field itself.
fn times(n: u64, child: usize) -> usize {
    usize::try_from(n)
        .unwrap_or(usize::MAX)
        .saturating_mul(child)
        .saturating_add(1)
}

/// The most items the list field `field` of `parent` returns, as the store stands.
fn most(known: &Known, parent: Ty, field: &str) -> Option<u64> {
    bound(parent, field).map(|b| b.most(&known.stats))
}

/// The cost of the unpaged list field `field` of `parent` whose items cost
/// `child` each: the longest such list in the store times `child`.
pub fn list(parent: Ty, field: &str, child: usize) -> usize {
    match known() {
        Some(known) => times(most(&known, parent, field).unwrap_or(FAN_OUT as u64), child),
        None => times(FAN_OUT as u64, child),
    }
}

/// The cost of a page of the list field `field` of `parent` (`first` or
/// `last` items, or the default page), each costing `child`; `kind` is the
/// event kind the page is filtered to, if any.
pub fn page(
    parent: Ty,
    field: &str,
    first: Option<i32>,
    last: Option<i32>,
    kind: Option<EventKind>,
    child: usize,
) -> usize {
    let Some(known) = known() else {
        return super::connection::complexity(child, first, last);
    };
    let asked = first
        .or(last)
        .map_or(known.pages.default_page as u64, |n| n.clamp(1, 1_000_000) as u64);
    if asked > known.pages.max_page as u64 {
        return times(asked, child);
    }
    let mut n = asked;
    if let Some(held) = most(&known, parent, field) {
        n = n.min(held);
    }
    if let Some(kind) = kind {
        n = n.min(known.stats.count_of(EntityKind::Event, kind.as_str()));
    }
    times(n, child)
}

/// The cost of a list of `first` items (or `default`) of the field `field`
/// of `parent` that is not paged by the connection rules (the timeline).
pub fn capped(parent: Ty, field: &str, first: Option<i32>, default: i32, child: usize) -> usize {
    let asked = first.unwrap_or(default).clamp(1, 1_000_000) as u64;
    let n = match known() {
        Some(known) => match bound(parent, field) {
            Some(Bound::All(kind)) => asked.min(known.stats.count(kind)),
            Some(b) => asked.min(b.most(&known.stats)),
            None => asked,
        },
        None => asked,
    };
    times(n, child)
}
