//! Bulk loading: a seed written into an empty store without transactions.
//!
//! sled's inserts cost most when they land all over a tree that does not fit
//! the page cache, and a seed's index entries do: a batch of events touches
//! the index pages of every actor. So a bulk load sorts externally. Each
//! batch is encoded, sorted per tree and spilled to a scratch file (a run);
//! at the end, every tree is filled from a merge of its runs, in key order,
//! which sled handles as appends at the right edge of the tree. Memory stays
//! bounded by a batch and one read buffer per run; the scratch files take
//! about the size of the entries and are removed when the load ends.
//!
//! Transactions are not needed because the store is empty and its seed
//! state says `loading` throughout: a crash part-way is detected at the next
//! start and the load redone from scratch. Without transactions a crash can
//! leave entities without their index entries, so the meta tree also marks
//! the bulk load itself, and opening a store that bears the mark discards
//! the partial load first: a store is never seen inconsistent.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{scratch_err, sled_err};
use super::index::{encode, index_entries};
use super::packed::{Limits, Packer};
use super::stats::{held, subkind_key, Fan, RunLength, META_STATS, STATS_VERSION};
use super::{meta_count_key, read_u64, trees, Store, StoreError, TreeRef};
use super::{META_BULK_LOADING, META_GENERATION, META_MAX_SPAN};
use crate::model::{EntityKind, Record};

/// Threads that fill trees at the end of a bulk load (trees are independent).
const WRITERS: usize = 2;

/// The scratch directory of a bulk load, inside the database directory.
const SCRATCH_DIR: &str = "seed-load.tmp";

/// Read buffer per run while merging, at most (and the write buffer of a run).
pub(super) const RUN_BUFFER: usize = 64 * 1024;

/// Read buffers of one tree's merge, all runs together: a load of many
/// runs gives each a smaller buffer rather than taking more memory.
pub(super) const MERGE_BUFFERS: usize = 16 * 1024 * 1024;

/// The smallest read buffer of a run; [`MAX_MERGED_RUNS`] of them fill
/// [`MERGE_BUFFERS`].
pub(super) const MIN_RUN_BUFFER: usize = 16 * 1024;

/// Runs one merge reads at once. A load with more first merges them in
/// groups of this many into larger runs (one more pass over the scratch
/// data), so the merge's buffers stay within [`MERGE_BUFFERS`] whatever the
/// size of the seed (10,000 entities a run: 10 million entities in one pass).
pub(super) const MAX_MERGED_RUNS: usize = MERGE_BUFFERS / MIN_RUN_BUFFER;

/// The read buffer of each of `runs` runs merged together.
pub(super) fn run_buffer(runs: usize) -> usize {
    (MERGE_BUFFERS / runs.max(1)).clamp(MIN_RUN_BUFFER, RUN_BUFFER)
}

/// A tree's (key, value) pairs.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A batch of entities encoded for a bulk load by [`Store::prepare`].
pub struct Prepared {
    /// Per tree (by position), its pairs in key order, one per key.
    trees: Vec<Entries>,
    counts: BTreeMap<EntityKind, u64>,
    max_span: u64,
    entities: usize,
    /// List statistics of the batch: longest lengths and sub-kind counts.
    stats: BulkStats,
}

/// The list statistics a bulk load tallies (see [`super::stats`]): the
/// longest list each entity holds and the sub-kind counts from the
/// entities; the most holders of one target from the filled index trees.
#[derive(Default)]
struct BulkStats {
    longest: BTreeMap<Fan, u64>,
    subkinds: BTreeMap<Vec<u8>, u64>,
}

impl BulkStats {
    fn raise(&mut self, fan: Fan, n: u64) {
        let at = self.longest.entry(fan).or_default();
        *at = (*at).max(n);
    }

    fn add(&mut self, other: BulkStats) {
        for (fan, n) in other.longest {
            self.raise(fan, n);
        }
        for (key, n) in other.subkinds {
            *self.subkinds.entry(key).or_default() += n;
        }
    }
}

impl Prepared {
    /// Number of entities in the batch.
    pub fn len(&self) -> usize {
        self.entities
    }

    pub fn is_empty(&self) -> bool {
        self.entities == 0
    }
}

/// One spilled batch: a scratch file holding, tree after tree, each tree's
/// sorted pairs as `key length ‖ value length ‖ key ‖ value` (lengths u32 LE).
struct Run {
    path: PathBuf,
    /// Per tree position: (byte offset of its section, number of pairs).
    sections: Vec<(u64, u64)>,
}

/// Reads one tree's section of a run, pair by pair.
struct RunReader {
    reader: BufReader<File>,
    left: u64,
}

impl RunReader {
    fn open(run: &Run, position: usize, buffer: usize) -> std::io::Result<RunReader> {
        let (offset, count) = run.sections[position];
        let mut file = File::open(&run.path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(RunReader {
            reader: BufReader::with_capacity(buffer, file),
            left: count,
        })
    }

    fn next(&mut self) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut lengths = [0u8; 8];
        self.reader.read_exact(&mut lengths)?;
        let key_len = u32::from_le_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]) as usize;
        let value_len = u32::from_le_bytes([lengths[4], lengths[5], lengths[6], lengths[7]]) as usize;
        let mut key = vec![0; key_len];
        self.reader.read_exact(&mut key)?;
        let mut value = vec![0; value_len];
        self.reader.read_exact(&mut value)?;
        Ok(Some((key, value)))
    }
}

/// Writes a run: each tree's pairs in key order, tree after tree.
struct RunWriter {
    path: PathBuf,
    out: BufWriter<File>,
    sections: Vec<(u64, u64)>,
    offset: u64,
}

impl RunWriter {
    fn create(path: PathBuf) -> Result<RunWriter, StoreError> {
        let out = BufWriter::with_capacity(RUN_BUFFER, File::create(&path).map_err(scratch_err(&path))?);
        Ok(RunWriter {
            path,
            out,
            sections: Vec::new(),
            offset: 0,
        })
    }

    /// Starts the next tree's section.
    fn next_tree(&mut self) {
        self.sections.push((self.offset, 0));
    }

    fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let err = scratch_err(&self.path);
        self.out.write_all(&(key.len() as u32).to_le_bytes()).map_err(&err)?;
        self.out.write_all(&(value.len() as u32).to_le_bytes()).map_err(&err)?;
        self.out.write_all(key).map_err(&err)?;
        self.out.write_all(value).map_err(&err)?;
        self.offset += 8 + key.len() as u64 + value.len() as u64;
        if let Some(section) = self.sections.last_mut() {
            section.1 += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Run, StoreError> {
        self.out.flush().map_err(scratch_err(&self.path))?;
        Ok(Run {
            path: self.path,
            sections: self.sections,
        })
    }
}

/// A load into an empty store without transactions (see the module docs).
/// Counts, the longest date span and the generation are kept here and
/// written once by [`BulkLoad::finish`]; the pipeline lock is held throughout (no group is open or landing).
pub struct BulkLoad<'a> {
    store: &'a Store,
    _guard: std::sync::MutexGuard<'a, super::group::Pipeline>,
    counts: BTreeMap<EntityKind, u64>,
    max_span: u64,
    stats: BulkStats,
    scratch: Scratch,
    runs: Vec<Run>,
    /// Runs one merge reads at once ([`MAX_MERGED_RUNS`]; fewer in tests).
    pub(super) max_merged_runs: usize,
    finished: bool,
}

impl Drop for BulkLoad<'_> {
    /// A load abandoned on an error leaves nothing half-written behind.
    fn drop(&mut self) {
        if !self.finished {
            if let Err(e) = self.store.discard_interrupted_bulk_load() {
                tracing::error!(error = %e, "could not discard an abandoned bulk load; it is discarded at the next start");
            }
        }
    }
}

/// The scratch directory of a bulk load, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn create(store: &Store) -> Result<Scratch, StoreError> {
        // Next to the database when it has a directory (a crashed load's
        // leftovers are found and replaced there), else the system's.
        static LOADS: AtomicU64 = AtomicU64::new(0);
        let dir = if store.path().is_dir() {
            store.path().join(SCRATCH_DIR)
        } else {
            let n = LOADS.fetch_add(1, Ordering::Relaxed);
            std::env::temp_dir().join(format!("diplograph-seed-load-{}-{n}", std::process::id()))
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(scratch_err(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(scratch_err(&dir))?;
        Ok(Scratch(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Store {
    /// Starts a bulk load, or returns `None` when the store holds any entity
    /// or index entry. The seed state must say `loading` before
    /// [`BulkLoad::finish`] writes the trees (see the module docs); until
    /// then the load writes only scratch files.
    pub fn bulk_load(&self) -> Result<Option<BulkLoad<'_>>, StoreError> {
        let guard = self.idle_pipeline();
        for (i, tree) in self.live()?.trees.iter().enumerate() {
            if self.inner.names[i] != trees::META && !tree.is_empty() {
                return Ok(None);
            }
        }
        for kind in EntityKind::ALL {
            if read_u64(self.meta_get(&meta_count_key(kind))?) != 0 {
                return Ok(None);
            }
        }
        let scratch = Scratch::create(self)?;
        let meta = self.tree(TreeRef::Meta)?;
        meta.insert(META_BULK_LOADING, &[1])
            .map_err(sled_err("marking a bulk load"))?;
        self.flush()?;
        Ok(Some(BulkLoad {
            store: self,
            _guard: guard,
            counts: BTreeMap::new(),
            max_span: read_u64(self.meta_get(META_MAX_SPAN)?),
            stats: BulkStats::default(),
            scratch,
            runs: Vec::new(),
            max_merged_runs: MAX_MERGED_RUNS,
            finished: false,
        }))
    }

    /// Removes whatever a bulk load that did not finish wrote (the process
    /// died): its entities may lack index entries. The seed state still says
    /// `loading`, so the next load starts again from scratch.
    pub(super) fn discard_interrupted_bulk_load(&self) -> Result<(), StoreError> {
        if self.meta_get(META_BULK_LOADING)?.is_none() {
            return Ok(());
        }
        tracing::warn!(path = %self.path().display(), "discarding an interrupted bulk load");
        // Its callers hold the pipeline idle (a load dropped unfinished
        // still holds its guard) or have the store to themselves (opening it).
        self.clear_idle()?;
        self.tree(TreeRef::Meta)?
            .remove(META_BULK_LOADING)
            .map_err(sled_err("unmarking a bulk load"))?;
        if self.path().is_dir() {
            let _ = std::fs::remove_dir_all(self.path().join(SCRATCH_DIR));
        }
        self.flush()
    }

    /// Encodes `records` and every index entry they imply, grouped by tree
    /// and sorted by key. Pure CPU work that touches no tree, so a loader can
    /// run it on another thread while the previous batch is being spilled.
    pub fn prepare(&self, records: Vec<Record>) -> Prepared {
        let mut trees: Vec<Entries> = vec![Vec::new(); self.inner.names.len()];
        let mut counts = BTreeMap::new();
        let mut max_span = 0;
        let mut stats = BulkStats::default();
        let entities = records.len();
        for record in records {
            let entity = &record.entity;
            for (fan, n) in held(entity) {
                stats.raise(fan, n);
            }
            if let Some(sub) = entity.subkind() {
                *stats.subkinds.entry(subkind_key(entity.kind(), sub)).or_default() += 1;
            }
            for (tree, key, value) in index_entries(entity) {
                trees[self.position(tree)].push((key, value));
            }
            if let Some(date) = entity.date() {
                max_span = max_span.max((date.last_day() - date.first_day()) as u64);
            }
            *counts.entry(entity.kind()).or_insert(0) += 1;
            let key = entity.id().as_bytes().to_vec();
            trees[self.position(TreeRef::Entity(entity.kind()))].push((key, encode(&record)));
        }
        for entries in &mut trees {
            // Stable, then one pair per key keeping the last value: what
            // inserting the pairs one by one would leave (an entity that
            // links one target twice indexes the later link).
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    std::mem::swap(&mut later.1, &mut earlier.1);
                }
                same
            });
        }
        Prepared {
            trees,
            counts,
            max_span,
            entities,
            stats,
        }
    }
}

impl BulkLoad<'_> {
    /// The load's scratch directory, removed with it: a loader may keep
    /// files of its own there.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Spills a prepared batch to a scratch run. Each id may appear once in
    /// the whole load: a bulk load never replaces an entity.
    pub fn write(&mut self, prepared: Prepared) -> Result<(), StoreError> {
        let mut run = RunWriter::create(self.scratch.path().join(format!("run-{}", self.runs.len())))?;
        for entries in &prepared.trees {
            run.next_tree();
            for (key, value) in entries {
                run.push(key, value)?;
            }
        }
        self.runs.push(run.finish()?);
        for (kind, n) in prepared.counts {
            *self.counts.entry(kind).or_insert(0) += n;
        }
        self.max_span = self.max_span.max(prepared.max_span);
        self.stats.add(prepared.stats);
        Ok(())
    }

    /// Fills every tree from its runs in key order, records counts, the date
    /// span and one new generation, then flushes: when this returns,
    /// everything is on disk.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.compact()?;
        let store = self.store;
        // Trees shared out over the writers, most inserts first, each to the
        // least loaded writer. A packed tree takes one insert per block.
        let all = trees::all_trees();
        let mut sizes: Vec<(usize, u64)> = (0..store.inner.names.len())
            .map(|position| {
                let entries: u64 = self.runs.iter().map(|r| r.sections[position].1).sum();
                let packed = all
                    .get(position)
                    .map(|(tree, _)| *tree)
                    .filter(|tree| trees::is_packed(*tree));
                (
                    position,
                    match packed {
                        Some(tree) => entries.div_ceil(Limits::of(tree).fill_entries() as u64),
                        None => entries,
                    },
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        sizes.sort_by_key(|(_, n)| Reverse(*n));
        let mut shares: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); WRITERS];
        for (position, n) in sizes {
            if let Some(share) = shares.iter_mut().min_by_key(|(load, _)| *load) {
                share.0 += n;
                share.1.push(position);
            }
        }
        let runs = &self.runs;
        std::thread::scope(|scope| {
            let writers: Vec<_> = shares
                .into_iter()
                .map(|(_, positions)| {
                    scope.spawn(move || {
                        positions
                            .into_iter()
                            .map(|p| Ok((p, fill(store, runs, p)?)))
                            .collect::<Result<Vec<_>, StoreError>>()
                    })
                })
                .collect();
            writers.into_iter().try_for_each(|writer| {
                let filled = writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                for (position, holders) in filled {
                    if let Some((TreeRef::Backward(relation), _)) = all.get(position) {
                        self.stats.raise(Fan::Holders(*relation), holders);
                    }
                }
                Ok::<_, StoreError>(())
            })
        })?;

        let generation = store.generation()? + 1;
        let mut batch = sled::Batch::default();
        for (kind, n) in &self.counts {
            batch.insert(meta_count_key(*kind), &n.to_be_bytes());
        }
        if self.max_span > 0 {
            batch.insert(META_MAX_SPAN, &self.max_span.to_be_bytes());
        }
        for (fan, n) in &self.stats.longest {
            batch.insert(fan.key(), &n.to_be_bytes());
        }
        for (key, n) in &self.stats.subkinds {
            batch.insert(key.as_slice(), &n.to_be_bytes());
        }
        batch.insert(META_STATS, STATS_VERSION);
        batch.insert(META_GENERATION, &generation.to_be_bytes());
        batch.remove(META_BULK_LOADING);
        store
            .tree(TreeRef::Meta)?
            .apply_batch(batch)
            .map_err(sled_err("recording a bulk load"))?;
        self.finished = true;
        store.flush()?;
        store.bump_generation(generation);
        store.record_acknowledged(generation);
        store.inner.writes.fetch_add(1, Ordering::Relaxed);
        Ok(generation)
    }
}

impl BulkLoad<'_> {
    /// While there are more runs than one merge reads at once, merges them
    /// in groups into larger runs, in order (a later run's value still wins).
    fn compact(&mut self) -> Result<(), StoreError> {
        let mut level = 0;
        while self.runs.len() > self.max_merged_runs {
            let mut merged = Vec::new();
            for (n, group) in self.runs.chunks(self.max_merged_runs).enumerate() {
                let mut run = RunWriter::create(self.scratch.path().join(format!("merged-{level}-{n}")))?;
                for position in 0..self.store.inner.names.len() {
                    run.next_tree();
                    merge(group, position, |key, value| run.push(&key, &value))?;
                }
                merged.push(run.finish()?);
                for spent in group {
                    let _ = std::fs::remove_file(&spent.path);
                }
            }
            self.runs = merged;
            level += 1;
        }
        Ok(())
    }
}

/// Of every [`LEAF_SPAN`] keys in order, the first pass inserts this many.
const FIRST_PASS: usize = 9;
/// Entries a full sled leaf holds (it splits at one more, into 9 and 8).
const LEAF_SPAN: usize = 16;

/// Inserts the tree at `position` from a merge of its sections of `runs`,
/// in two passes over the merge. Returns the most entries with one target
/// (the first part of a relation index key): for a relation's index, the
/// most holders any one target has.
///
/// Inserted in plain key order, sled's leaves split at 17 entries and keep
/// 9, so every leaf ends up about half full. So the first pass inserts the
/// first 9 keys of every 16 (leaving a leaf per 9 of them, each spanning 16
/// keys), and the second fills in the other 7 of each: leaves end up fuller.
/// Measured at a million entities: the database is a fifth smaller and the
/// server's memory a tenth lower, for the same load time (the loader peaks
/// higher: the second pass reads leaves back in).
fn fill(store: &Store, runs: &[Run], position: usize) -> Result<u64, StoreError> {
    let packed = trees::all_trees()
        .get(position)
        .map(|(tree, _)| *tree)
        .filter(|tree| trees::is_packed(*tree));
    let mut runs_of = RunLength::default();
    for pass in 0..2 {
        let mut index = 0usize;
        let mut put = |key: Vec<u8>, value: Vec<u8>| {
            let first = index % LEAF_SPAN < FIRST_PASS;
            index += 1;
            if first == (pass == 0) {
                store
                    .tree_at(position)?
                    .insert(key, value)
                    .map_err(sled_err(format!("bulk writing `{}`", store.inner.names[position])))?;
            }
            Ok(())
        };
        if let Some(tree) = packed {
            // Entries go in as blocks (see `packed`).
            let mut packer = Packer::new(Limits::of(tree));
            merge(runs, position, |key, value| {
                if pass == 0 {
                    runs_of.push(&key);
                }
                match packer.push(key, value) {
                    Some((key, block)) => put(key, block),
                    None => Ok(()),
                }
            })?;
            if let Some((key, block)) = packer.finish() {
                put(key, block)?;
            }
        } else {
            merge(runs, position, &mut put)?;
        }
    }
    Ok(runs_of.longest())
}

/// Hands `each` every entry of the tree at `position` from `runs`, in key order.
fn merge(
    runs: &[Run],
    position: usize,
    mut each: impl FnMut(Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut readers = Vec::with_capacity(runs.len());
    let buffer = run_buffer(runs.len());
    // The smallest pending key of each run, and its value.
    let mut heap = BinaryHeap::with_capacity(runs.len());
    let mut values: Vec<Vec<u8>> = vec![Vec::new(); runs.len()];
    for (i, run) in runs.iter().enumerate() {
        let mut reader = RunReader::open(run, position, buffer).map_err(scratch_err(&run.path))?;
        if let Some((key, value)) = reader.next().map_err(scratch_err(&run.path))? {
            heap.push(Reverse((key, i)));
            values[i] = value;
        }
        readers.push(reader);
    }
    // One entry per key, the later run's value winning, as inserting them
    // one by one would leave it (a packed block must not repeat a key).
    let mut held: Option<(Vec<u8>, Vec<u8>)> = None;
    while let Some(Reverse((key, i))) = heap.pop() {
        let value = std::mem::take(&mut values[i]);
        match held.take() {
            Some((previous, _)) if previous == key => held = Some((key, value)),
            Some((previous, previous_value)) => {
                each(previous, previous_value)?;
                held = Some((key, value));
            }
            None => held = Some((key, value)),
        }
        let next = readers[i].next().map_err(scratch_err(&runs[i].path))?;
        if let Some((key, value)) = next {
            heap.push(Reverse((key, i)));
            values[i] = value;
        }
    }
    if let Some((key, value)) = held {
        each(key, value)?;
    }
    Ok(())
}
