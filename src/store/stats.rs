//! Statistics of the lists the store holds, kept with every write: for each
//! kind of list, the longest any one entity has (an event's participants,
//! an actor's events), and how many entities there are of each sub-kind
//! (events of kind `RETRACTION`). The query guard estimates what a query
//! will read from them instead of assuming the same length for every list.
//!
//! They must never be too low, or a costly query would pass for a cheap one:
//! every write raises a longest length to what it leaves behind (and never
//! lowers one: a deletion leaves it as it was, which only overestimates),
//! sub-kind counts move with creations, deletions and kind changes in the
//! same transaction as the entities, a bulk load tallies them as it fills
//! the trees, and a store written before they existed is tallied when it is
//! opened. All live in the meta tree, so the write-ahead log carries them.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::sled_err;
use super::packed::Range;
use super::trees::{self, TreeRef};
use super::{keys, read_u64, Store, StoreError};
use crate::model::{Entity, EntityKind, Relation};

/// Meta key prefix of the longest list lengths.
const LONGEST: &str = "stats/longest/";
/// Meta key prefix of the per sub-kind counts.
const SUBKIND: &str = "stats/kind/";
/// Present once the statistics cover every entity the store holds; its
/// value is the [`STATS_VERSION`] they were kept by.
pub(super) const META_STATS: &[u8] = b"stats_complete";
/// Which statistics are kept: 1 before an event's responses and retraction
/// were (`Fan::Held(EventResponds)`, `Fan::Held(EventRetractedBy)`). A store
/// whose statistics are of another version has them tallied again on open,
/// since a statistic it never kept would read as 0, below the real lists.
pub(super) const STATS_VERSION: &[u8] = &[2];

/// A kind of list whose longest length the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fan {
    /// The targets one entity holds under a relation, counted as its list
    /// holds them (an event's participants, a treaty's ratifications).
    Held(Relation),
    /// The entities holding a relation to one target (an actor's events,
    /// a source's citations): what reading the relation back returns.
    Holders(Relation),
    /// An event's figures.
    Figures,
}

impl Fan {
    pub(super) fn key(self) -> Vec<u8> {
        match self {
            Fan::Held(r) => format!("{LONGEST}held/{}", trees::relation_tree(r)),
            Fan::Holders(r) => format!("{LONGEST}holders/{}", trees::relation_tree(r)),
            Fan::Figures => format!("{LONGEST}figures"),
        }
        .into_bytes()
    }
}

/// The meta key counting the entities of `kind` whose sub-kind is `sub`.
pub(super) fn subkind_key(kind: EntityKind, sub: &str) -> Vec<u8> {
    format!("{SUBKIND}{}/{sub}", kind.prefix()).into_bytes()
}

/// The lengths of the lists `entity` holds, as its fields hold them (an
/// actor holding two posts in one ministry holds two positions, though
/// the relation's index has one entry for them).
pub(super) fn held(entity: &Entity) -> Vec<(Fan, u64)> {
    use Relation::*;
    let n = |len: usize| len as u64;
    let (mut out, sources) = match entity {
        Entity::Actor(a) => (vec![(Fan::Held(ActorPositionIn), n(a.positions.len()))], &a.sources),
        Entity::Event(e) => (
            vec![
                (Fan::Held(EventParticipant), n(e.participants.len())),
                (Fan::Held(EventTreaty), n(e.treaties.len())),
                (Fan::Held(EventAfter), n(e.after.len())),
                (Fan::Held(EventResponds), n(e.responds.len())),
                (Fan::Held(EventRetractedBy), n(usize::from(e.retracted_by.is_some()))),
                (Fan::Figures, n(e.figures.len())),
            ],
            &e.sources,
        ),
        Entity::Treaty(t) => (
            vec![
                (Fan::Held(TreatyParty), n(t.parties.len())),
                (Fan::Held(TreatySignatory), n(t.signatories.len())),
                (Fan::Held(TreatyRatifier), n(t.ratifications.len())),
            ],
            &t.sources,
        ),
        Entity::Funding(f) => (Vec::new(), &f.sources),
        Entity::Place(p) => (Vec::new(), &p.sources),
        Entity::Source(_) => return Vec::new(),
    };
    out.push((Fan::Held(CitedSource), n(sources.len())));
    out
}

/// A snapshot of the statistics, read in one scan of the meta tree.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    values: HashMap<Vec<u8>, u64>,
}

impl Stats {
    /// The most entries any one entity has in a list of this kind (0 when
    /// the store holds none).
    pub fn longest(&self, fan: Fan) -> u64 {
        self.values.get(&fan.key()).copied().unwrap_or(0)
    }

    /// How many entities of `kind` there are.
    pub fn count(&self, kind: EntityKind) -> u64 {
        self.values.get(&super::meta_count_key(kind)).copied().unwrap_or(0)
    }

    /// How many entities of `kind` have the sub-kind `sub` (an event kind,
    /// an actor kind), as stored (`retraction`, `state`).
    pub fn count_of(&self, kind: EntityKind, sub: &str) -> u64 {
        self.values.get(&subkind_key(kind, sub)).copied().unwrap_or(0)
    }

    /// Whether no statistic here is higher than in `other`: an estimate
    /// within a limit under `other` is within it under these too.
    pub fn within(&self, other: &Stats) -> bool {
        self.values
            .iter()
            .all(|(key, n)| *n <= other.values.get(key).copied().unwrap_or(0))
    }
}

/// The shared slot the store keeps its statistics snapshot in, with the
/// generation it is current at (`None`: not read yet).
pub(super) type Slot = std::sync::RwLock<Option<(u64, Arc<Stats>)>>;

/// Whether a meta key holds a statistic [`Store::stats`] reads.
fn is_statistic(key: &[u8]) -> bool {
    STATISTICS.iter().any(|prefix| key.starts_with(prefix.as_bytes()))
}

/// The meta key prefixes of what [`Stats`] holds.
const STATISTICS: [&str; 2] = ["stats/", "count/"];

impl Store {
    /// The statistics as of the current generation, shared by every request:
    /// read from the meta tree when the snapshot is missing or behind (read
    /// after the generation, so a snapshot is never older than the
    /// generation it is kept under), and otherwise moved along by each
    /// landed group with the statistics it wrote ([`Store::advance_stats`]),
    /// so a stream of writes does not make every request read them again.
    pub fn stats_snapshot(&self) -> Result<Arc<Stats>, StoreError> {
        let generation = self.current_generation();
        {
            let slot = self.inner.stats.read().unwrap_or_else(|p| p.into_inner());
            if let Some((_, stats)) = slot.as_ref().filter(|(at, _)| *at == generation) {
                return Ok(stats.clone());
            }
        }
        let stats = Arc::new(self.stats()?);
        let mut slot = self.inner.stats.write().unwrap_or_else(|p| p.into_inner());
        // A landed group may have moved it past this generation meanwhile.
        if slot.as_ref().is_none_or(|(at, _)| *at <= generation) {
            *slot = Some((generation, stats.clone()));
        }
        Ok(stats)
    }

    /// Applies a landed group's record writes to the statistics snapshot,
    /// if it was current up to the group (`before`); it is then current at
    /// `after`. The writes set values outright, so a snapshot read while
    /// the group was being applied comes out the same.
    pub(super) fn advance_stats(&self, writes: &[super::batch::Write], before: u64, after: u64) {
        let meta = self.position(TreeRef::Meta);
        let mut slot = self.inner.stats.write().unwrap_or_else(|p| p.into_inner());
        let Some((_, stats)) = slot.as_ref().filter(|(at, _)| *at == before) else {
            return;
        };
        let mut next = Stats::clone(stats);
        for (_, key, value) in writes
            .iter()
            .filter(|(position, key, _)| *position == meta && is_statistic(key))
        {
            match value {
                Some(value) => next.values.insert(key.clone(), read_u64(Some(value.as_slice().into()))),
                None => next.values.remove(key),
            };
        }
        *slot = Some((after, Arc::new(next)));
    }

    /// The statistics as they stand: a few dozen small meta records.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        self.count_read();
        let meta = self.tree(TreeRef::Meta)?;
        let mut values = HashMap::new();
        for prefix in STATISTICS {
            for item in meta.scan_prefix(prefix) {
                let (key, value) = item.map_err(sled_err("reading the statistics"))?;
                values.insert(key.to_vec(), read_u64(Some(value)));
            }
        }
        Ok(Stats { values })
    }

    /// How many entities hold `relation` to `target`, as stored.
    pub(super) fn holders_stored(&self, relation: Relation, target: &[u8]) -> Result<u64, StoreError> {
        let tree = TreeRef::Backward(relation);
        let mut n = 0;
        for entry in self.index_prefix(tree, &keys::prefix(target))? {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// The statistics as the store's entities and indexes are now: every
    /// entity read once, and every relation index once in key order.
    fn measure_stats(&self) -> Result<Measured, StoreError> {
        let mut longest: HashMap<Fan, u64> = HashMap::new();
        let mut subkinds: HashMap<Vec<u8>, u64> = HashMap::new();
        for kind in EntityKind::ALL {
            let tree_ref = TreeRef::Entity(kind);
            for item in self.records(kind)? {
                let (key, value) = item?;
                let record = super::index::decode(self.name(tree_ref), &key, &value)?;
                for (fan, n) in held(&record.entity) {
                    let at = longest.entry(fan).or_default();
                    *at = (*at).max(n);
                }
                if let Some(sub) = record.entity.subkind() {
                    *subkinds.entry(subkind_key(kind, sub)).or_default() += 1;
                }
            }
        }
        for relation in Relation::ALL {
            let tree = TreeRef::Backward(relation);
            let mut runs = RunLength::default();
            for entry in Range::new(
                &self.tree(tree)?,
                self.name(tree),
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
            ) {
                runs.push(&entry?.0);
            }
            longest.insert(Fan::Holders(relation), runs.longest());
        }
        Ok(Measured { longest, subkinds })
    }

    /// Tallies the statistics of a store that holds entities but none, or
    /// not all that are kept now (one written before they were), and marks
    /// them complete.
    pub(super) fn tally_stats(&self) -> Result<(), StoreError> {
        let meta = self.tree(TreeRef::Meta)?;
        let kept = meta.get(META_STATS).map_err(sled_err("reading the meta tree"))?;
        if kept.as_deref() == Some(STATS_VERSION) {
            return Ok(());
        }
        let Measured { longest, subkinds } = self.measure_stats()?;
        tracing::info!(
            path = %self.path().display(),
            "tallied the list statistics of a store written before they were kept as they are now"
        );
        let mut batch = sled::Batch::default();
        for (fan, n) in longest {
            batch.insert(fan.key(), &n.to_be_bytes());
        }
        for (key, n) in subkinds {
            batch.insert(key, &n.to_be_bytes());
        }
        batch.insert(META_STATS, STATS_VERSION);
        meta.apply_batch(batch).map_err(sled_err("recording the statistics"))?;
        self.flush()
    }

    /// What `verify` finds wrong with the statistics: a longest length below
    /// the store's real lists (an estimate could pass a costly query), or a
    /// sub-kind count that is not the number of such entities.
    pub(super) fn stats_problems(&self) -> Result<Vec<String>, StoreError> {
        let Measured { longest, mut subkinds } = self.measure_stats()?;
        let stored = self.stats()?;
        let mut problems = Vec::new();
        for (fan, n) in longest {
            if stored.longest(fan) < n {
                problems.push(format!(
                    "the statistic of {fan:?} is {}, below the longest such list ({n})",
                    stored.longest(fan)
                ));
            }
        }
        for (key, n) in &stored.values {
            if key.starts_with(SUBKIND.as_bytes()) && subkinds.remove(key).unwrap_or(0) != *n {
                problems.push(format!("the count {} is off", String::from_utf8_lossy(key)));
            }
        }
        for (key, n) in subkinds {
            if n > 0 {
                problems.push(format!("the count {} is missing", String::from_utf8_lossy(&key)));
            }
        }
        Ok(problems)
    }

    /// Removes every statistic (the store is being emptied): an empty store's are all 0.
    pub(super) fn clear_stats(&self) -> Result<(), StoreError> {
        let meta = self.tree(TreeRef::Meta)?;
        for item in meta.scan_prefix("stats/") {
            let (key, _) = item.map_err(sled_err("reading the statistics"))?;
            meta.remove(key).map_err(sled_err("resetting the statistics"))?;
        }
        meta.insert(META_STATS, STATS_VERSION)
            .map_err(sled_err("resetting the statistics"))?;
        Ok(())
    }
}

/// The statistics measured from the entities and indexes themselves.
struct Measured {
    /// By kind of list, the longest any one entity has.
    longest: HashMap<Fan, u64>,
    /// By sub-kind count key, how many entities there are.
    subkinds: HashMap<Vec<u8>, u64>,
}

/// The longest run of relation index keys (`target ‖ 0xff ‖ holder`) in key
/// order with the same target: the most holders one target has.
#[derive(Default)]
pub(super) struct RunLength {
    target: Vec<u8>,
    run: u64,
    longest: u64,
}

impl RunLength {
    pub(super) fn push(&mut self, key: &[u8]) {
        let target = keys::first(key);
        if self.run > 0 && target == self.target.as_slice() {
            self.run += 1;
        } else {
            self.target.clear();
            self.target.extend_from_slice(target);
            self.run = 1;
        }
        self.longest = self.longest.max(self.run);
    }

    pub(super) fn longest(&self) -> u64 {
        self.longest
    }
}

/// What one write batch does to the statistics, written with it.
#[derive(Clone, Default)]
pub(super) struct Pending {
    /// Longest lengths as the batch leaves them, by meta key (read on first touch).
    longest: HashMap<Vec<u8>, u64>,
    /// Sub-kind counts as the batch leaves them, by meta key.
    subkinds: HashMap<Vec<u8>, u64>,
    /// Per relation and target touched: the holders stored before the
    /// batch, and the entries the batch inserted for it. Their sum bounds
    /// the holders after the batch (an entry it rewrote counts twice, one
    /// it removed not at all: an overestimate only).
    holders: HashMap<(Relation, Vec<u8>), (u64, u64)>,
}

impl Pending {
    /// Raises the longest length of `fan` to at least `n`.
    pub(super) fn raise(&mut self, store: &Store, fan: Fan, n: u64) -> Result<(), StoreError> {
        let key = fan.key();
        let current = match self.longest.get(&key) {
            Some(v) => *v,
            None => read_u64(store.meta_get(&key)?),
        };
        if n > current {
            self.longest.insert(key, n);
        }
        Ok(())
    }

    /// Moves the count of `kind`'s sub-kind `sub` by one.
    pub(super) fn count(&mut self, store: &Store, kind: EntityKind, sub: &str, up: bool) -> Result<(), StoreError> {
        let key = subkind_key(kind, sub);
        let n = match self.subkinds.get(&key) {
            Some(v) => *v,
            None => read_u64(store.meta_get(&key)?),
        };
        let n = if up { n + 1 } else { n.saturating_sub(1) };
        self.subkinds.insert(key, n);
        Ok(())
    }

    /// Notes an entry the batch inserts into the index of `relation`
    /// (`key` is `target ‖ 0xff ‖ holder`), raising the longest run of
    /// holders to what the target may now have.
    pub(super) fn inserted(&mut self, store: &Store, relation: Relation, key: &[u8]) -> Result<(), StoreError> {
        let target = keys::first(key).to_vec();
        let bound = match self.holders.get_mut(&(relation, target.clone())) {
            Some((stored, added)) => {
                *added += 1;
                *stored + *added
            }
            None => {
                // Stored entries only: every earlier group is in sled, and
                // this batch's own are counted in `added`.
                let stored = store.holders_stored(relation, &target)?;
                self.holders.insert((relation, target), (stored, 1));
                stored + 1
            }
        };
        self.raise(store, Fan::Holders(relation), bound)
    }

    /// The meta records to write.
    pub(super) fn writes(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.longest
            .iter()
            .chain(&self.subkinds)
            .map(|(key, n)| (key.as_slice(), *n))
    }

    /// Drops what the store now holds as this holds it, once `landed` (the
    /// statistics of the batch this one went on from) is stored.
    pub(super) fn prune(&mut self, landed: &Pending) {
        fn same<K: Eq + std::hash::Hash, V: PartialEq>(mine: &mut HashMap<K, V>, landed: &HashMap<K, V>) {
            mine.retain(|key, value| landed.get(key) != Some(value));
        }
        same(&mut self.longest, &landed.longest);
        same(&mut self.subkinds, &landed.subkinds);
        same(&mut self.holders, &landed.holders);
    }
}
