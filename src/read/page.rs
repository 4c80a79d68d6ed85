//! Paging over ordered listings. Every listing is ordered by a key the
//! store defines (an id, or a chronological key for events); a cursor
//! stands for the position of that key ([`super::cursor`]). Page sizes are
//! checked here: negative sizes and pages above the limit are refused,
//! naming the argument.

use std::collections::HashSet;

use super::cursor;
use super::ReadError;
use crate::model::{EntityKind, Id};
use crate::store::{Keyed, Store, StoreError};

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

/// The four Relay paging arguments as the client sent them.
#[derive(Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Checked paging arguments: cursors decoded to listing keys.
#[derive(Clone)]
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

impl PageArgs {
    /// Checks the arguments against the page limits.
    pub fn window(self, limits: Limits) -> Result<Window, ReadError> {
        let size = |name: &str, v: Option<i32>| -> Result<Option<usize>, ReadError> {
            match v {
                None => Ok(None),
                Some(n) if n < 0 => Err(ReadError::argument(name, format!("must be 0 or more, got {n}"))),
                Some(n) if n as usize > limits.max_page => Err(ReadError::argument(
                    name,
                    format!(
                        "at most {} items per page, got {n}; page with `after`/`before`",
                        limits.max_page
                    ),
                )),
                Some(n) => Ok(Some(n as usize)),
            }
        };
        let cursor = |name: &str, v: Option<String>| -> Result<Option<Vec<u8>>, ReadError> {
            v.map(|c| cursor::decode(&c).map_err(|e| ReadError::argument(name, e)))
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

impl Window {
    /// No bounds and no page size: all of a listing held in memory
    /// ([`page_sorted`]).
    pub fn everything() -> Window {
        Window {
            after: None,
            before: None,
            first: None,
            last: None,
        }
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
pub fn window_bounds<T>(all: &[T], key: impl Fn(&T) -> &[u8], w: &Window) -> (usize, usize) {
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
pub fn page_store(store: &Store, kind: EntityKind, w: &Window) -> Result<Page, ReadError> {
    page_with(w, |after, before, limit, from_end| {
        store.list(kind, after, before, limit, from_end)
    })
}

/// Pages an ordered listing that `fetch(after, before, limit, from_end)`
/// reads (in listing order, at most `limit` items next to the bound it
/// starts from), asking for one item more than the page to learn whether
/// more follow.
pub fn page_with<T, F>(w: &Window, fetch: F) -> Result<Page<T>, ReadError>
where
    F: FnOnce(Option<&[u8]>, Option<&[u8]>, usize, bool) -> Result<Vec<T>, StoreError>,
{
    let (after, before) = (w.after.as_deref(), w.before.as_deref());
    if let Some(f) = w.first {
        let mut items = fetch(after, before, f + 1, false)?;
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
        let mut items = fetch(after, before, l + 1, true)?;
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

/// A page of every entity of `kind`, or of those in `set` when a filter
/// narrowed them, with the total count (a counter read when unfiltered).
pub fn listing_page(
    store: &Store,
    kind: EntityKind,
    set: Option<HashSet<Id>>,
    window: &Window,
) -> Result<(Page, usize), ReadError> {
    match set {
        None => {
            let total_count = store.count(kind)? as usize;
            Ok((page_store(store, kind, window)?, total_count))
        }
        Some(set) => {
            let keyed = store.list_keys(&set.into_iter().collect::<Vec<_>>())?;
            let total_count = keyed.len();
            Ok((page_sorted(keyed, window), total_count))
        }
    }
}
