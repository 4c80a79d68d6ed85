//! The seed loader: reads `seed/*.json`, validates everything, then writes.
//!
//! A seed directory holds JSON files named after the kind they contain:
//! `actors.json`, or `events-war.json` for a topic split. Each file is an
//! array of entities in the format of [`crate::model`].
//!
//! Loading streams: pass one parses each file element by element, checks
//! every entity on its own and collects the set of ids (ids only, never the
//! entities); pass two re-reads the files and checks every reference against
//! that set. Only when both passes are clean does pass three write, in
//! batches of one transaction each. The seed state in the meta tree is
//! `loading` until the last batch is flushed, so a crash part-way is
//! detected at the next start and the load is redone from scratch: the store
//! ends up with nothing or everything of a seed, never a part.

mod lint;

pub use lint::lint;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer as _};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::check::{check_entity, parse_entity};
use crate::model::{
    Actor, Entity, EntityKind, Event, FundingAllocation, Id, Origin, Place, Record, Relation, Source, Treaty,
};
use crate::store::{BulkLoad, Change, SeedState, Store, StoreError};

/// Entities written per transaction: bounds the memory a large load holds
/// (sled keeps a transaction's writes in memory). The article seed fits in one.
pub const BATCH_SIZE: usize = 1_000;

/// Entities per batch of a bulk load into an empty store: each batch becomes
/// one sorted scratch run, so larger batches mean fewer runs to merge; two
/// batches in flight stay a few tens of MB.
pub const BULK_BATCH_SIZE: usize = 10_000;

/// More problems than this are summarised, not listed.
const MAX_PROBLEMS: usize = 200;

/// One thing wrong with a seed: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// The entity's id, when the entity got far enough to have one.
    pub id: Option<String>,
    /// The field at fault, as a path (`participants[2].role`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(id) = &self.id {
            write!(f, ": {id}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed is invalid, nothing was loaded ({} problem(s)):\n{}", .0.len(), list(.0))]
    Invalid(Vec<Problem>),
    #[error("cannot read seed directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store already holds a different seed ({loaded}); reload with `diplograph seed --reset` to replace it"
    )]
    DifferentSeed { loaded: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a check or load found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub counts: BTreeMap<EntityKind, usize>,
    /// SHA-256 over file names and contents, in load order.
    pub hash: String,
    pub files: Vec<PathBuf>,
}

impl SeedReport {
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for kind in EntityKind::ALL {
            writeln!(
                f,
                "{:>10}  {}",
                self.counts.get(&kind).copied().unwrap_or(0),
                kind.plural()
            )?;
        }
        writeln!(f, "{:>10}  total", self.total())?;
        write!(f, "seed hash {}", self.hash)
    }
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    Loaded(SeedReport),
    /// The same seed (by hash) was already loaded; nothing changed.
    AlreadyLoaded(SeedReport),
    /// A changed seed was merged into a store that already held one:
    /// seed-owned entities were replaced or removed, API-owned ones kept.
    Merged {
        report: SeedReport,
        /// Seed entities not written because the API owns an entity with that id.
        kept_api: usize,
        /// Seed-owned entities removed because the new seed no longer has them.
        removed: usize,
        /// Seed-owned entities the new seed dropped but API entities still refer to.
        kept_referenced: usize,
    },
}

impl LoadOutcome {
    pub fn report(&self) -> &SeedReport {
        match self {
            LoadOutcome::Loaded(r) | LoadOutcome::AlreadyLoaded(r) => r,
            LoadOutcome::Merged { report, .. } => report,
        }
    }
}

/// A seed file and the kind of entity it holds.
struct SeedFile {
    path: PathBuf,
    kind: EntityKind,
}

/// Lists the seed files of `dir` in load order, refusing files whose name
/// names no kind.
fn seed_files(dir: &Path, problems: &mut Vec<Problem>) -> Result<Vec<SeedFile>, SeedError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SeedError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| SeedError::Dir {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let plural = stem.split_once('-').map_or(stem, |(k, _)| k);
        match EntityKind::from_plural(plural) {
            Some(kind) => files.push(SeedFile { path, kind }),
            None => problems.push(Problem {
                file: path.clone(),
                id: None,
                field: None,
                message: format!(
                    "unknown kind `{plural}` in the file name; name files after their kind: {}",
                    EntityKind::ALL.map(|k| format!("{}.json", k.plural())).join(", ")
                ),
            }),
        }
    }
    // Load order: kinds first (sources before what cites them), then name.
    files.sort_by(|a, b| {
        let rank = |k: EntityKind| EntityKind::ALL.iter().position(|x| *x == k);
        rank(a.kind).cmp(&rank(b.kind)).then_with(|| a.path.cmp(&b.path))
    });
    Ok(files)
}

/// Hashes everything read through it.
struct Hashing<'a, R> {
    inner: R,
    hasher: &'a mut Sha256,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Calls `f` with each element of the JSON array in `reader`, one at a time,
/// so memory stays bounded by the largest element, not the file.
fn each_element<R: Read>(reader: R, f: &mut dyn FnMut(usize, Value)) -> Result<(), serde_json::Error> {
    struct Each<'a>(&'a mut dyn FnMut(usize, Value));
    impl<'de> Visitor<'de> for Each<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of entities")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(value) = seq.next_element::<Value>()? {
                (self.0)(i, value);
                i += 1;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(reader));
    de.deserialize_seq(Each(f))?;
    de.end()
}

/// Parses each element of the JSON array in `reader` straight into an
/// entity of `kind` (no intermediate [`Value`]: the common case, a valid
/// seed, parses about twice as fast), calling `f` with each. Stops at the
/// first element that does not parse; returns how many elements `f` saw,
/// and whether the whole array parsed.
fn each_entity<R: Read>(reader: R, kind: EntityKind, f: &mut dyn FnMut(Entity)) -> (usize, bool) {
    struct Typed(EntityKind);
    impl<'de> DeserializeSeed<'de> for Typed {
        type Value = Entity;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Entity, D::Error> {
            Ok(match self.0 {
                EntityKind::Actor => Entity::Actor(Actor::deserialize(d)?),
                EntityKind::Event => Entity::Event(Event::deserialize(d)?),
                EntityKind::Treaty => Entity::Treaty(Treaty::deserialize(d)?),
                EntityKind::Funding => Entity::Funding(FundingAllocation::deserialize(d)?),
                EntityKind::Place => Entity::Place(Place::deserialize(d)?),
                EntityKind::Source => Entity::Source(Source::deserialize(d)?),
            })
        }
    }
    struct Each<'a> {
        kind: EntityKind,
        f: &'a mut dyn FnMut(Entity),
        seen: &'a mut usize,
    }
    impl<'de> Visitor<'de> for Each<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of entities")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(entity) = seq.next_element_seed(Typed(self.kind))? {
                (self.f)(entity);
                *self.seen += 1;
            }
            Ok(())
        }
    }
    let mut seen = 0;
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(reader));
    let parsed = de
        .deserialize_seq(Each {
            kind,
            f,
            seen: &mut seen,
        })
        .and_then(|()| de.end())
        .is_ok();
    (seen, parsed)
}

/// Streams every entity of every file through `f`; parse problems are
/// recorded, and `f` sees only entities that parsed.
///
/// Each file is first parsed straight into entities. Only a file with a
/// problem is read again, element by element through [`Value`], to name
/// every bad element and field; elements `f` already saw are skipped then.
fn stream(
    files: &[SeedFile],
    problems: &mut Vec<Problem>,
    hasher: Option<&mut Sha256>,
    f: &mut dyn FnMut(&SeedFile, Entity, &mut Vec<Problem>),
) {
    let mut hasher = hasher;
    for file in files {
        let open = |problems: &mut Vec<Problem>| match File::open(&file.path) {
            Ok(h) => Some(h),
            Err(e) => {
                problems.push(Problem {
                    file: file.path.clone(),
                    id: None,
                    field: None,
                    message: format!("cannot read: {e}"),
                });
                None
            }
        };
        let Some(handle) = open(problems) else {
            continue;
        };
        let mut local = Vec::new();
        let name = file.path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default();
        // The hash so far, to start again from if this file must be re-read.
        let before = hasher.as_deref().cloned();
        let (seen, parsed) = {
            let mut on_entity = |entity: Entity| f(file, entity, &mut local);
            match hasher.as_deref_mut() {
                Some(h) => {
                    h.update(name);
                    h.update([0]);
                    each_entity(
                        Hashing {
                            inner: handle,
                            hasher: h,
                        },
                        file.kind,
                        &mut on_entity,
                    )
                }
                None => each_entity(handle, file.kind, &mut on_entity),
            }
        };
        if parsed {
            problems.extend(local);
            continue;
        }
        if let (Some(h), Some(before)) = (hasher.as_deref_mut(), before) {
            *h = before;
        }
        let Some(handle) = open(&mut local) else {
            problems.extend(local);
            continue;
        };
        let mut on_element = |i: usize, value: Value| {
            if i < seen {
                return;
            }
            let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
            match parse_entity(file.kind, &value) {
                Ok(entity) => f(file, entity, &mut local),
                Err((field, message)) => local.push(Problem {
                    file: file.path.clone(),
                    id: Some(id.unwrap_or_else(|| format!("entry #{i}"))),
                    field,
                    message,
                }),
            }
        };
        let result = match hasher.as_deref_mut() {
            Some(h) => {
                h.update(name);
                h.update([0]);
                each_element(
                    Hashing {
                        inner: handle,
                        hasher: h,
                    },
                    &mut on_element,
                )
            }
            None => each_element(handle, &mut on_element),
        };
        if let Err(e) = result {
            local.push(Problem {
                file: file.path.clone(),
                id: None,
                field: None,
                message: format!("malformed JSON at line {} column {}: {e}", e.line(), e.column()),
            });
        }
        problems.extend(local);
    }
}

/// The content hash of the seed in `dir` (what the meta tree records),
/// without parsing it: a cheap way to learn whether a seed changed.
pub fn content_hash(dir: &Path) -> Result<String, SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    let mut hasher = Sha256::new();
    for file in &files {
        hasher.update(file.path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        hasher.update([0]);
        let mut handle = File::open(&file.path).map_err(|source| SeedError::Dir {
            path: file.path.clone(),
            source,
        })?;
        std::io::copy(&mut handle, &mut hasher).map_err(|source| SeedError::Dir {
            path: file.path.clone(),
            source,
        })?;
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// Validates the seed in `dir` without writing anything.
pub fn check(dir: &Path) -> Result<SeedReport, SeedError> {
    check_with_ids(dir).map(|(report, _)| report)
}

/// Validates the seed and returns the set of ids it defines.
/// A node on a cycle of `edges` (each node's targets along one relation),
/// if there is one. Depth-first, iterative: a deep chain cannot overflow the stack.
/// Starts are taken in order, so the node reported is always the same.
fn node_on_cycle<K: std::hash::Hash + Ord + Clone>(edges: &HashMap<K, Vec<K>>) -> Option<K> {
    // 1: being walked (on the current path); 2: done, no cycle through it.
    let mut state: HashMap<&K, u8> = HashMap::new();
    let mut starts: Vec<&K> = edges.keys().collect();
    starts.sort();
    for start in starts {
        if state.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&K, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, next)) = stack.pop() {
            let targets = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            if let Some(target) = targets.get(next) {
                stack.push((node, next + 1));
                match state.get(target) {
                    Some(1) => return Some(target.clone()),
                    Some(_) => {}
                    None => {
                        state.insert(target, 1);
                        stack.push((target, 0));
                    }
                }
            } else {
                state.insert(node, 2);
            }
        }
    }
    None
}

fn check_with_ids(dir: &Path) -> Result<(SeedReport, HashSet<Id>), SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    let mut hasher = Sha256::new();
    let mut ids: HashSet<Id> = HashSet::new();
    let mut counts: BTreeMap<EntityKind, usize> = BTreeMap::new();

    // Pass one: each entity on its own, and the set of ids.
    stream(
        &files,
        &mut problems,
        Some(&mut hasher),
        &mut |file, entity, problems| {
            let id = entity.id().clone();
            let push = |problems: &mut Vec<Problem>, field: &str, message: String| {
                problems.push(Problem {
                    file: file.path.clone(),
                    id: Some(id.to_string()),
                    field: Some(field.into()),
                    message,
                })
            };
            if id.kind() != file.kind {
                push(
                    problems,
                    "id",
                    format!("is a {} id, but this file holds {}", id.kind(), file.kind.plural()),
                );
            }
            for (field, message) in check_entity(&entity) {
                push(problems, &field, message);
            }
            if !ids.insert(id.clone()) {
                push(
                    problems,
                    "id",
                    "duplicate id: another entity in the seed already has it".into(),
                );
            }
            *counts.entry(file.kind).or_default() += 1;
        },
    );
    if files.is_empty() && problems.is_empty() {
        problems.push(Problem {
            file: dir.to_owned(),
            id: None,
            field: None,
            message: "no seed files (*.json) found".into(),
        });
    }

    // Pass two: every reference resolves to an entity of the right kind,
    // and no relation that must not loop does (gathered here, checked after).
    let mut acyclic: BTreeMap<Relation, HashMap<Id, Vec<Id>>> = BTreeMap::new();
    let mut file_of: HashMap<Id, PathBuf> = HashMap::new();
    if problems.is_empty() {
        stream(&files, &mut problems, None, &mut |file, entity, problems| {
            for edge in entity.edges() {
                if edge.relation.is_acyclic() {
                    acyclic
                        .entry(edge.relation)
                        .or_default()
                        .entry(entity.id().clone())
                        .or_default()
                        .push(edge.to.clone());
                    file_of.insert(entity.id().clone(), file.path.clone());
                }
                let expected = edge.relation.target_kind();
                let message = if edge.to.kind() != expected {
                    format!(
                        "`{}` is a {} id, but a {expected} id is required",
                        edge.to,
                        edge.to.kind()
                    )
                } else if !ids.contains(&edge.to) {
                    format!("refers to `{}`, which no seed file defines", edge.to)
                } else {
                    continue;
                };
                problems.push(Problem {
                    file: file.path.clone(),
                    id: Some(entity.id().to_string()),
                    field: Some(edge.relation.field().into()),
                    message,
                });
            }
        });
    }
    if problems.is_empty() {
        for (relation, edges) in &acyclic {
            if let Some(id) = node_on_cycle(edges) {
                problems.push(Problem {
                    file: file_of.get(&id).cloned().unwrap_or_else(|| dir.to_owned()),
                    id: Some(id.to_string()),
                    field: Some(relation.field().into()),
                    message: format!(
                        "makes a cycle: `{id}` leads back to itself through `{}`",
                        relation.field()
                    ),
                });
            }
        }
    }

    if problems.is_empty() {
        let report = SeedReport {
            counts,
            hash: format!("sha256:{:x}", hasher.finalize()),
            files: files.into_iter().map(|f| f.path).collect(),
        };
        Ok((report, ids))
    } else {
        if problems.len() > MAX_PROBLEMS {
            let more = problems.len() - MAX_PROBLEMS;
            problems.truncate(MAX_PROBLEMS);
            problems.push(Problem {
                file: dir.to_owned(),
                id: None,
                field: None,
                message: format!("… and {more} more"),
            });
        }
        Err(SeedError::Invalid(problems))
    }
}

/// Validates and loads the seed in `dir`. Loading the seed the store already
/// holds changes nothing. A changed seed is merged: seed-owned entities are
/// replaced, added or removed, and entities created through the API are never
/// touched. With `reset`, the store's contents are replaced outright. An
/// interrupted earlier load is redone from scratch.
pub fn load(store: &Store, dir: &Path, reset: bool) -> Result<LoadOutcome, SeedError> {
    load_with_progress(store, dir, reset, &LoadProgress::default())
}

/// [`load`], counting the entities written into `progress` as it goes.
pub fn load_with_progress(
    store: &Store,
    dir: &Path,
    reset: bool,
    progress: &LoadProgress,
) -> Result<LoadOutcome, SeedError> {
    if !reset && store.seed_state()? == SeedState::Empty {
        if let Some(report) = load_fresh(store, dir, progress)? {
            return Ok(LoadOutcome::Loaded(report));
        }
    }
    let (report, ids) = check_with_ids(dir)?;
    let state = store.seed_state()?;
    let resume = matches!(state, SeedState::Loading { .. });
    match state {
        SeedState::Loaded { hash } if hash == report.hash && !reset => {
            return Ok(LoadOutcome::AlreadyLoaded(report));
        }
        SeedState::Loaded { .. } if !reset => return merge(store, report, &ids, progress),
        _ => {}
    }
    // Only a merge needs the ids; a million of them are worth freeing.
    drop(ids);

    store.set_seed_state(&SeedState::Loading {
        hash: report.hash.clone(),
    })?;
    if reset || resume {
        store.clear()?;
    }
    match store.bulk_load()? {
        Some(mut bulk) => {
            spill(
                store,
                &mut bulk,
                &report_files(&report),
                Some(report.total()),
                None,
                progress,
                |_, _| true,
            )?;
            bulk.finish()?;
        }
        // Entities created through the API before any seed: keep the
        // transactional path, which replaces entities and their index entries.
        None => write_seed(store, &report, progress, |_| Ok(true))?,
    }
    store.set_seed_state(&SeedState::Loaded {
        hash: report.hash.clone(),
    })?;
    Ok(LoadOutcome::Loaded(report))
}

/// Merges a changed seed into a store that holds an earlier one.
fn merge(
    store: &Store,
    report: SeedReport,
    ids: &HashSet<Id>,
    progress: &LoadProgress,
) -> Result<LoadOutcome, SeedError> {
    let mut kept_api = 0usize;
    write_seed(store, &report, progress, |entity| {
        let owned_by_api = store.get_record(entity.id())?.is_some_and(|r| r.origin == Origin::Api);
        kept_api += usize::from(owned_by_api);
        Ok(!owned_by_api)
    })?;
    // Seed-owned entities the new seed no longer has go, unless something
    // outside that set (an API entity) still refers to them.
    let mut stale = HashSet::new();
    for kind in EntityKind::ALL {
        for record in store.all(kind)? {
            if record.origin == Origin::Seed && !ids.contains(record.entity.id()) {
                stale.insert(record.entity.id().clone());
            }
        }
    }
    // Keep every stale entity a live one refers to, and, transitively,
    // every stale entity a kept one refers to: nothing may dangle.
    let mut kept: HashSet<Id> = HashSet::new();
    let mut work: Vec<Id> = Vec::new();
    for id in &stale {
        if store.referrers(id)?.into_iter().any(|(_, r)| !stale.contains(&r)) {
            tracing::warn!(%id, "the new seed drops this entity, but API-owned entities refer to it; keeping it");
            if kept.insert(id.clone()) {
                work.push(id.clone());
            }
        }
    }
    while let Some(id) = work.pop() {
        if let Some(entity) = store.get(&id)? {
            for edge in entity.edges() {
                if stale.contains(&edge.to) && kept.insert(edge.to.clone()) {
                    work.push(edge.to);
                }
            }
        }
    }
    let kept_referenced = kept.len();
    let deletes: Vec<Change> = stale
        .iter()
        .filter(|id| !kept.contains(*id))
        .map(|id| Change::Delete(id.clone()))
        .collect();
    if !deletes.is_empty() {
        store.apply(&deletes, false)?;
    }
    store.set_seed_state(&SeedState::Loaded {
        hash: report.hash.clone(),
    })?;
    Ok(LoadOutcome::Merged {
        removed: deletes.len(),
        report,
        kept_api,
        kept_referenced,
    })
}

/// The seed files a validated report lists, with their kinds.
fn report_files(report: &SeedReport) -> Vec<SeedFile> {
    report
        .files
        .iter()
        .map(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let plural = stem.split_once('-').map_or(stem, |(k, _)| k);
            SeedFile {
                path: p.clone(),
                kind: EntityKind::from_plural(plural).unwrap_or(EntityKind::Source),
            }
        })
        .collect()
}

/// How far a seed load has come, shared with whoever asks (`/ready`): the
/// entities written so far and, once known, how many there are in all. A
/// large load also logs its progress every few seconds.
#[derive(Debug)]
pub struct LoadProgress {
    written: AtomicUsize,
    /// 0 while the total is not known yet (a first load counts as it reads).
    total: AtomicUsize,
    finished: AtomicBool,
    started: Instant,
    /// Milliseconds after `started` of the last progress line.
    logged_ms: AtomicU64,
}

/// Seconds between two progress lines in the log.
const PROGRESS_LOG_SECS: u64 = 2;

impl Default for LoadProgress {
    fn default() -> LoadProgress {
        LoadProgress {
            written: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            started: Instant::now(),
            logged_ms: AtomicU64::new(0),
        }
    }
}

impl LoadProgress {
    /// Entities written so far.
    pub fn written(&self) -> usize {
        self.written.load(Ordering::Relaxed)
    }

    /// Entities in the whole seed, once known.
    pub fn total(&self) -> Option<usize> {
        Some(self.total.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// Whether the load is over (or there was nothing to load).
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Marks the load over: the store holds the whole seed.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    fn begin(&self, total: Option<usize>) {
        self.written.store(0, Ordering::Relaxed);
        self.total.store(total.unwrap_or(0), Ordering::Relaxed);
    }

    fn add(&self, n: usize) {
        let written = self.written.fetch_add(n, Ordering::Relaxed) + n;
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.logged_ms.load(Ordering::Relaxed);
        if elapsed >= last + PROGRESS_LOG_SECS * 1000
            && self
                .logged_ms
                .compare_exchange(last, elapsed, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            match self.total() {
                Some(total) => tracing::info!(written, total, "loading the seed"),
                None => tracing::info!(written, "loading the seed"),
            }
        }
    }
}

/// Fingerprints of ids (128 bits, keyed per process): what a first load
/// checks references against, at a fraction of the ids' memory.
struct Fingerprints(std::hash::RandomState, std::hash::RandomState);

impl Fingerprints {
    fn new() -> Fingerprints {
        Fingerprints(std::hash::RandomState::new(), std::hash::RandomState::new())
    }

    fn of(&self, id: &Id) -> u128 {
        use std::hash::BuildHasher;
        (u128::from(self.0.hash_one(id)) << 64) | u128::from(self.1.hash_one(id))
    }
}

/// The first load into an empty store, validated while it is written: the
/// thread that parses the seed also checks every entity on its own (fields,
/// kinds, duplicate ids by fingerprint, the content hash) and notes every
/// reference, while this one encodes and spills the bulk load's scratch
/// runs; at the end the references are checked against the ids. Only then
/// does the bulk load fill the trees: until [`BulkLoad::finish`], it has
/// written nothing but scratch files.
///
/// Returns `None`, with the store as it was (empty), when anything is off:
/// the caller then takes the ordinary path, which validates first and names
/// every problem. So a valid seed is parsed once instead of three times.
fn load_fresh(store: &Store, dir: &Path, progress: &LoadProgress) -> Result<Option<SeedReport>, SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    if !problems.is_empty() || files.is_empty() {
        return Ok(None);
    }
    // The seed state stays `empty` while the load only spills: a crash
    // then leaves the bulk-load mark, and the next start discards the rest.
    let Some(mut bulk) = store.bulk_load()? else {
        // Entities created through the API: not a first load.
        return Ok(None);
    };
    let fingerprints = Fingerprints::new();
    let mut hasher = Sha256::new();
    let mut ids: HashSet<u128> = HashSet::new();
    let mut targets: HashSet<u128> = HashSet::new();
    let mut counts: BTreeMap<EntityKind, usize> = BTreeMap::new();
    let mut valid = true;
    // Relations that must not loop, by fingerprint: a cycle sends the load
    // to the validating path, which names it.
    let mut acyclic: HashMap<(Relation, u128), Vec<u128>> = HashMap::new();
    let spilled = spill(
        store,
        &mut bulk,
        &files,
        None,
        Some(&mut hasher),
        progress,
        |file, entity| {
            valid &= entity.id().kind() == file.kind
                && check_entity(entity).is_empty()
                && ids.insert(fingerprints.of(entity.id()));
            *counts.entry(file.kind).or_default() += 1;
            for edge in entity.edges() {
                valid &= edge.to.kind() == edge.relation.target_kind();
                targets.insert(fingerprints.of(&edge.to));
                if edge.relation.is_acyclic() {
                    acyclic
                        .entry((edge.relation, fingerprints.of(entity.id())))
                        .or_default()
                        .push(fingerprints.of(&edge.to));
                }
            }
            // An invalid seed stops here; the validating path names its problems.
            valid
        },
    );
    valid &= targets.is_subset(&ids);
    drop((ids, targets));
    // One graph over every acyclic relation, nodes keyed with their relation.
    let graph: HashMap<(Relation, u128), Vec<(Relation, u128)>> = acyclic
        .into_iter()
        .map(|((relation, from), to)| ((relation, from), to.into_iter().map(|t| (relation, t)).collect()))
        .collect();
    valid &= node_on_cycle(&graph).is_none();
    match spilled {
        Ok(()) if valid => {
            let report = SeedReport {
                counts,
                hash: format!("sha256:{:x}", hasher.finalize()),
                files: files.into_iter().map(|f| f.path).collect(),
            };
            store.set_seed_state(&SeedState::Loading {
                hash: report.hash.clone(),
            })?;
            bulk.finish()?;
            store.set_seed_state(&SeedState::Loaded {
                hash: report.hash.clone(),
            })?;
            Ok(Some(report))
        }
        // Dropping the unfinished load discards it.
        Ok(()) | Err(SeedError::Invalid(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Streams the seed through a bulk load's scratch runs: a reader thread
/// parses batches (calling `each` with every entity, and hashing the files
/// into `hasher` if given; `each` returning false stops the reading early)
/// while this one encodes and spills the previous
/// batch, with at most one batch waiting between them so memory stays
/// bounded.
fn spill(
    store: &Store,
    bulk: &mut BulkLoad<'_>,
    files: &[SeedFile],
    total: Option<usize>,
    hasher: Option<&mut Sha256>,
    progress: &LoadProgress,
    mut each: impl FnMut(&SeedFile, &Entity) -> bool + Send,
) -> Result<(), SeedError> {
    progress.begin(total);
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Record>>(1);
    let (written, problems) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut problems = Vec::new();
            let mut batch = Vec::with_capacity(BULK_BATCH_SIZE);
            let mut stopped = false;
            stream(files, &mut problems, hasher, &mut |file, entity, _| {
                if stopped {
                    return;
                }
                if !each(file, &entity) {
                    stopped = true;
                    return;
                }
                batch.push(Record {
                    origin: Origin::Seed,
                    entity,
                });
                if batch.len() >= BULK_BATCH_SIZE {
                    // The writer hung up: it failed, and says why.
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BULK_BATCH_SIZE));
                    stopped = sender.send(full).is_err();
                }
            });
            if !stopped && !batch.is_empty() {
                let _ = sender.send(batch);
            }
            problems
        });
        let mut written = Ok(());
        for batch in receiver {
            let n = batch.len();
            if let Err(e) = bulk.write(store.prepare(batch)) {
                written = Err(e);
                break;
            }
            progress.add(n);
        }
        let problems = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, problems)
    });
    written?;
    if !problems.is_empty() {
        // The files changed between validation and loading.
        return Err(SeedError::Invalid(problems));
    }
    Ok(())
}

/// Streams the seed's entities into the store in transactional batches,
/// writing those `admit` accepts.
fn write_seed(
    store: &Store,
    report: &SeedReport,
    progress: &LoadProgress,
    mut admit: impl FnMut(&Entity) -> Result<bool, StoreError>,
) -> Result<(), SeedError> {
    let files = report_files(report);
    progress.begin(Some(report.total()));
    let mut batch = Vec::with_capacity(BATCH_SIZE.min(report.total()));
    let mut write_error: Option<StoreError> = None;
    let mut problems = Vec::new();
    let flush_batch = |batch: &mut Vec<Change>| -> Result<(), StoreError> {
        store.apply(batch, false)?;
        progress.add(batch.len());
        batch.clear();
        Ok(())
    };
    stream(&files, &mut problems, None, &mut |_, entity, _| {
        if write_error.is_some() {
            return;
        }
        match admit(&entity) {
            Ok(true) => batch.push(Change::Put {
                entity,
                origin: Origin::Seed,
            }),
            Ok(false) => return,
            Err(e) => {
                write_error = Some(e);
                return;
            }
        }
        if batch.len() >= BATCH_SIZE {
            if let Err(e) = flush_batch(&mut batch) {
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e.into());
    }
    if !problems.is_empty() {
        // The files changed between validation and loading.
        return Err(SeedError::Invalid(problems));
    }
    if !batch.is_empty() {
        flush_batch(&mut batch)?;
    }
    Ok(())
}

/// Writes the whole store out as seed files (`actors.json`, …) in `dir`,
/// one entity at a time, so that loading `dir` gives back the same graph.
pub fn export(store: &Store, dir: &Path) -> Result<BTreeMap<EntityKind, usize>, SeedError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source: std::io::Error| SeedError::Dir { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut counts = BTreeMap::new();
    for kind in EntityKind::ALL {
        let path = dir.join(format!("{}.json", kind.plural()));
        let mut out = std::io::BufWriter::new(File::create(&path).map_err(io(&path))?);
        out.write_all(b"[").map_err(io(&path))?;
        let mut n = 0usize;
        let mut failure: Option<SeedError> = None;
        // A damaged record is skipped (and logged): export salvages what is intact.
        let damaged = store.for_each_intact(kind, &mut |record| {
            if failure.is_some() {
                return;
            }
            let body = match &record.entity {
                Entity::Actor(e) => serde_json::to_string_pretty(e),
                Entity::Event(e) => serde_json::to_string_pretty(e),
                Entity::Treaty(e) => serde_json::to_string_pretty(e),
                Entity::Funding(e) => serde_json::to_string_pretty(e),
                Entity::Place(e) => serde_json::to_string_pretty(e),
                Entity::Source(e) => serde_json::to_string_pretty(e),
            };
            let result = body
                .map_err(std::io::Error::other)
                .and_then(|body| write!(out, "{}\n{body}", if n == 0 { "\n" } else { ",\n" }));
            match result {
                Ok(()) => n += 1,
                Err(e) => failure = Some(io(&path)(e)),
            }
        })?;
        for problem in damaged {
            tracing::error!(problem = %problem, "export skipped a damaged record");
        }
        if let Some(e) = failure {
            return Err(e);
        }
        out.write_all(b"\n]\n").map_err(io(&path))?;
        out.flush().map_err(io(&path))?;
        counts.insert(kind, n);
    }
    Ok(counts)
}
