//! Period scans: chronological indexes split by span class, walked side by
//! side and merged into listing order.

use super::trees::TreeRef;
use super::{keys, packed, read_u64, Keyed, Store, StoreError, META_MAX_SPAN};
use crate::model::{EntityKind, Id, PartialDate};

/// How many entries that start on one day and end too early a backwards
/// period scan reads one by one before it seeks past the rest of them.
const SEEK_AFTER_SKIPS: usize = 8;

/// What a walk over a chronological index selects: entries whose period
/// overlaps `[from, to]` (or lies wholly inside it, with `whole`; every
/// entry, undated ones last, when neither bound is set), of one event kind,
/// strictly between two listing keys.
#[derive(Clone, Copy, Default)]
pub struct PeriodScan<'a> {
    pub from: Option<&'a PartialDate>,
    pub to: Option<&'a PartialDate>,
    /// Only entries whose whole period lies in `[from, to]`, not merely overlaps it.
    pub whole: bool,
    /// Leave out undated entries even when no period is set.
    pub dated: bool,
    /// Only undated entries (none, when a period is set: no undated entry lies in one).
    pub undated: bool,
    /// Only events of this kind ([`crate::model::EventKind::as_str`]); ignored for other kinds.
    pub subkind: Option<&'a str>,
    pub after: Option<&'a [u8]>,
    pub before: Option<&'a [u8]>,
    /// Walk backwards from `before` (for `last`); results still come back in listing order.
    pub from_end: bool,
}

impl PeriodScan<'_> {
    /// Whether the scan selects every entry (no period, no kind).
    pub fn is_everything(&self) -> bool {
        !self.dated_only() && !self.undated && self.subkind.is_none()
    }

    fn dated_only(&self) -> bool {
        self.dated || self.from.is_some() || self.to.is_some()
    }

    /// Whether an entry with this listing key lies in the period (the kind is not checked).
    pub fn admits(&self, key: &[u8]) -> bool {
        if self.undated {
            return !self.dated_only() && keys::split_dated(key).is_some_and(|(first, _, _)| first == keys::UNDATED);
        }
        if !self.dated_only() {
            return true;
        }
        keys::split_dated(key).is_some_and(|(first, last, _)| {
            // Overlapping asks that the period end on or after `from` and
            // start on or before `to`; lying wholly inside asks that it
            // start on or after `from` and end on or before `to`.
            let (held_to_from, held_to_to) = if self.whole { (first, last) } else { (last, first) };
            first != keys::UNDATED
                && self.from.is_none_or(|f| held_to_from >= f.first_day())
                && self.to.is_none_or(|t| held_to_to <= t.last_day())
        })
    }
}

impl Store {
    /// Ids of dated entities of `kind` whose period overlaps `[from, to]`,
    /// in chronological order.
    pub fn ids_in_period(
        &self,
        kind: EntityKind,
        from: Option<&PartialDate>,
        to: Option<&PartialDate>,
    ) -> Result<Vec<Id>, StoreError> {
        let scan = PeriodScan {
            from,
            to,
            dated: true,
            ..PeriodScan::default()
        };
        let mut out = Vec::new();
        self.scan_period(kind, &scan, |listing, id| {
            out.push(self.id_in(TreeRef::ByDate(kind, keys::class_of(listing)), listing, id)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// At most `limit` entries of the chronological listing that `scan`
    /// selects, as (listing key, id).
    pub fn page_period(&self, kind: EntityKind, scan: &PeriodScan<'_>, limit: usize) -> Result<Vec<Keyed>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let events_by_kind = scan.subkind.is_some() && kind == EntityKind::Event;
        self.scan_period(kind, scan, |listing, id| {
            let class = keys::class_of(listing);
            let tree = if events_by_kind {
                TreeRef::ByKind(kind, class)
            } else {
                TreeRef::ByDate(kind, class)
            };
            out.push((listing.to_vec(), self.id_in(tree, listing, id)?));
            Ok(out.len() < limit)
        })?;
        if scan.from_end {
            out.reverse();
        }
        Ok(out)
    }

    /// How many entries `scan` selects (keys only; no entity is read).
    ///
    /// Without cursors, and for periods that need only overlap, every entry
    /// of a span class that starts within the period lies in it, so those
    /// are counted by blocks ([`packed::count`]); only the entries that
    /// start up to the class's longest period earlier are read one by one
    /// (an entry ending too early is passed over with the rest of its day's
    /// that do, as a page does). A count then costs about a block read per
    /// 48 entries instead of a merge step per entry.
    pub fn count_period(&self, kind: EntityKind, scan: &PeriodScan<'_>) -> Result<usize, StoreError> {
        use std::ops::Bound::{Excluded, Included};
        if scan.whole || scan.undated || scan.after.is_some() || scan.before.is_some() {
            return self.count_period_walking(kind, scan);
        }
        self.count_read();
        let events_by_kind = scan.subkind.is_some() && kind == EntityKind::Event;
        let prefix = match scan.subkind {
            Some(sub) if events_by_kind => keys::prefix(sub.as_bytes()),
            _ => Vec::new(),
        };
        let under = |day: i32| [prefix.as_slice(), &keys::day(day)].concat();
        let longest = read_u64(self.meta_get(META_MAX_SPAN)?).min(i32::MAX as u64) as i32;
        let from_day = scan.from.map(PartialDate::first_day);
        // Undated entries sort last and never overlap a period.
        let end = match scan.dated_only() {
            true => Excluded(under(scan.to.map_or(keys::UNDATED, |t| t.last_day().saturating_add(1)))),
            false => keys::prefix_end(&prefix).map_or(std::ops::Bound::Unbounded, Excluded),
        };
        let mut n = 0;
        for (class, max_span) in keys::SPAN_CLASSES.iter().enumerate() {
            let tree_ref = if events_by_kind {
                TreeRef::ByKind(kind, class as u8)
            } else {
                TreeRef::ByDate(kind, class as u8)
            };
            let (tree, name) = (self.tree(tree_ref)?, self.name(tree_ref));
            let start = match from_day {
                None => prefix.clone(),
                Some(f) => {
                    // Entries starting before `from` count when they end on
                    // or after it (and start by the period's end).
                    let look_back = (*max_span).min(longest).max(0);
                    let upper = match &end {
                        Excluded(e) if *e < under(f) => e.clone(),
                        _ => under(f),
                    };
                    let mut earlier = packed::Range::new(
                        &tree,
                        name,
                        Included(under(f.saturating_sub(look_back))),
                        Excluded(upper),
                        false,
                    );
                    while let Some(entry) = earlier.next() {
                        let (key, _) = entry?;
                        let Some((first, last, _)) = keys::split_dated(&key[prefix.len().min(key.len())..]) else {
                            return Err(StoreError::Corrupt {
                                tree: name,
                                key: String::from_utf8_lossy(&key).into_owned(),
                                reason: "not a chronological index key".into(),
                            });
                        };
                        if last < f {
                            earlier.skip_to([prefix.as_slice(), &keys::day(first), &keys::day(f)].concat());
                        } else {
                            n += 1;
                        }
                    }
                    under(f)
                }
            };
            n += packed::count(&tree, name, Included(start), end.clone())?;
        }
        Ok(n)
    }

    /// [`Store::count_period`] by walking every entry the scan selects.
    fn count_period_walking(&self, kind: EntityKind, scan: &PeriodScan<'_>) -> Result<usize, StoreError> {
        let mut n = 0;
        self.scan_period(kind, scan, |_, _| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    /// Whether the event with listing key `key` (from [`Store::list_key`]) is of `subkind`.
    pub fn event_is_of_kind(&self, subkind: &str, key: &[u8]) -> Result<bool, StoreError> {
        let mut probe = keys::prefix(subkind.as_bytes());
        probe.extend_from_slice(key);
        let tree = TreeRef::ByKind(EntityKind::Event, keys::class_of(key));
        Ok(packed::get(&self.tree(tree)?, self.name(tree), &probe)?.is_some())
    }

    /// Walks a chronological index in listing order (or backwards), calling
    /// `visit(listing key, id bytes)` for every entry that `scan` selects until
    /// it returns `false`. Reads only keys, never entities.
    ///
    /// Events filtered by kind are read from the kind index, whose keys are
    /// `kind ‖ 0xff ‖ listing key`, so a kind and a period make one range. Each
    /// span class has a tree of its own (see [`keys::SPAN_CLASSES`]); the
    /// classes are walked side by side ([`ClassRun`]) and merged into listing
    /// order.
    fn scan_period(
        &self,
        kind: EntityKind,
        scan: &PeriodScan<'_>,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        self.count_read();
        let events_by_kind = scan.subkind.is_some() && kind == EntityKind::Event;
        let prefix = match scan.subkind {
            Some(sub) if events_by_kind => keys::prefix(sub.as_bytes()),
            _ => Vec::new(),
        };
        let longest = read_u64(self.meta_get(META_MAX_SPAN)?).min(i32::MAX as u64) as i32;
        let mut runs = Vec::with_capacity(keys::SPAN_CLASSES.len());
        for (class, max_span) in keys::SPAN_CLASSES.iter().enumerate() {
            let class = class as u8;
            let tree_ref = if events_by_kind {
                TreeRef::ByKind(kind, class)
            } else {
                TreeRef::ByDate(kind, class)
            };
            runs.push(ClassRun::new(
                &self.tree(tree_ref)?,
                self.name(tree_ref),
                &prefix,
                scan,
                (*max_span).min(longest),
            ));
        }
        loop {
            for run in runs.iter_mut() {
                run.fill()?;
            }
            // The run whose next entry comes first in walking order.
            let mut next: Option<usize> = None;
            for (i, run) in runs.iter().enumerate() {
                let Some(head) = run.head() else { continue };
                let better = match next.and_then(|n| runs[n].head()) {
                    None => true,
                    Some(best) if scan.from_end => head > best,
                    Some(best) => head < best,
                };
                if better {
                    next = Some(i);
                }
            }
            let Some(i) = next else { return Ok(()) };
            let key = runs[i].take();
            let listing = &key[prefix.len()..];
            // The runs' bounds select overlapping periods; a period that
            // only overlaps is left out here when the scan wants it whole.
            if scan.whole && !scan.admits(listing) {
                continue;
            }
            let id = keys::split_dated(listing).map_or(&[][..], |(_, _, id)| id);
            if !visit(listing, id)? {
                return Ok(());
            }
        }
    }
}

/// The listing key (cursor position) an event has in chronological listings.
/// Exposed so callers can order events they already hold without a read.
pub fn event_list_key(date: Option<&PartialDate>, id: &Id) -> Vec<u8> {
    keys::dated(date, id)
}

/// The first and last day of the period a chronological listing key (from
/// [`event_list_key`]) holds; `None` for an undated entry or another key.
pub fn listing_days(key: &[u8]) -> Option<(i32, i32)> {
    keys::split_dated(key).and_then(|(first, last, _)| (first != keys::UNDATED).then_some((first, last)))
}

/// One span class of a chronological index, walked in listing order (or
/// backwards): the entries under `prefix` whose period overlaps the scan's,
/// between its cursors. The walk starts from `from` minus the class's
/// longest period; an entry that ends before `from` is skipped with the
/// rest of its day's that do (they all sort before `first ‖ from`):
/// forwards, the walk goes on from `first ‖ from` at once, inside the block
/// it is reading when that block reaches so far, else with the one seek it
/// would make at the block's end anyway; backwards, after a few such
/// entries of one day it seeks past the rest. So a page costs about the
/// same at ten thousand entities as at a million.
struct ClassRun<'t> {
    tree: sled::Tree,
    name: &'static str,
    prefix_len: usize,
    prefix: Vec<u8>,
    lower: std::ops::Bound<Vec<u8>>,
    upper: std::ops::Bound<Vec<u8>>,
    from_end: bool,
    from_day: Option<i32>,
    entries: Option<packed::Range<'t>>,
    head: Option<Vec<u8>>,
    done: bool,
}

impl<'t> ClassRun<'t> {
    fn new(tree: &sled::Tree, name: &'static str, prefix: &[u8], scan: &PeriodScan<'_>, max_span: i32) -> ClassRun<'t> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let under = |tail: &[u8]| [prefix, tail].concat();
        let from_day = scan.from.map(PartialDate::first_day);
        let to_day = scan.to.map(PartialDate::last_day);
        let mut lower = Included(prefix.to_vec());
        if let Some(f) = from_day {
            // A period wholly inside starts on `from` or later; one that
            // overlaps may start up to the class's longest period earlier.
            let look_back = if scan.whole { 0 } else { max_span.max(0) };
            lower = Included(under(&keys::day(f.saturating_sub(look_back))));
        }
        if scan.undated {
            // Undated entries sort after every dated one.
            lower = Included(under(&keys::day(keys::UNDATED)));
        }
        if let Some(a) = scan.after {
            let after = under(a);
            if matches!(&lower, Included(l) if *l <= after) {
                lower = Excluded(after);
            }
        }
        let mut upper = keys::prefix_end(prefix).map_or(Unbounded, Excluded);
        if scan.dated_only() {
            // Undated entries sort last and never overlap a period.
            let end = to_day.map_or(keys::UNDATED, |t| t.saturating_add(1));
            upper = Excluded(under(&keys::day(end)));
        }
        if let Some(b) = scan.before {
            let before = under(b);
            if matches!(&upper, Excluded(u) if before < *u) || matches!(upper, Unbounded) {
                upper = Excluded(before);
            }
        }
        ClassRun {
            tree: tree.clone(),
            name,
            prefix_len: prefix.len(),
            prefix: prefix.to_vec(),
            lower,
            upper,
            from_end: scan.from_end,
            from_day,
            entries: None,
            head: None,
            // No undated entry lies in a period.
            done: scan.undated && scan.dated_only(),
        }
    }

    /// Reads up to the next selected entry, unless it is already read.
    fn fill(&mut self) -> Result<(), StoreError> {
        use std::ops::Bound::Excluded;
        let mut same_day_skips = 0usize;
        let mut skipped_day = None;
        while self.head.is_none() && !self.done {
            let entries = self.entries.get_or_insert_with(|| {
                packed::Range::new(
                    &self.tree,
                    self.name,
                    self.lower.clone(),
                    self.upper.clone(),
                    self.from_end,
                )
            });
            let Some(entry) = entries.next() else {
                self.done = true;
                break;
            };
            let (key, _) = entry?;
            let Some((first, last, _)) = keys::split_dated(&key[self.prefix_len.min(key.len())..]) else {
                return Err(StoreError::Corrupt {
                    tree: self.name,
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: "not a chronological index key".into(),
                });
            };
            match self.from_day {
                // Forwards, the entries of that day that end before `from`
                // all sort before `first ‖ from`: the walk goes on from
                // there, in the same block when it reaches that far (no seek).
                Some(f) if last < f && !self.from_end => {
                    entries.skip_to([self.prefix.as_slice(), &keys::day(first), &keys::day(f)].concat());
                }
                Some(f) if last < f => {
                    same_day_skips = if skipped_day == Some(first) {
                        same_day_skips + 1
                    } else {
                        1
                    };
                    skipped_day = Some(first);
                    if same_day_skips >= SEEK_AFTER_SKIPS {
                        // Backwards, the rest of that day's entries end earlier still.
                        self.upper = Excluded([self.prefix.as_slice(), &keys::day(first)].concat());
                        self.entries = None;
                        same_day_skips = 0;
                    }
                }
                _ => self.head = Some(key),
            }
        }
        Ok(())
    }

    /// The listing key of the entry [`ClassRun::fill`] found.
    fn head(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|k| &k[self.prefix_len..])
    }

    /// Takes the entry [`ClassRun::fill`] found.
    fn take(&mut self) -> Vec<u8> {
        self.head.take().unwrap_or_default()
    }
}
