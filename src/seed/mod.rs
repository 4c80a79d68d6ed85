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
//!
//! # Layout (in reading order)
//!
//! - `mod.rs`: the public types (problems, errors, reports, load progress).
//! - `files.rs`: listing seed files, streaming their elements, hashing them.
//! - `load.rs`: validating a seed, then writing it (replace, merge, resume).
//! - `first_load.rs`: the first load into an empty store, through the bulk path.
//! - `fingerprints.rs`: what the first load checks ids, references and
//!   cycles against, in memory that does not grow with the seed.
//! - `export.rs`: writing a store out as seed files.
//! - `lint.rs`: the seed lint (`seed --check`).

mod export;
mod files;
mod fingerprints;
mod first_load;
mod lint;
mod load;

pub use export::export;
pub use files::content_hash;
pub use lint::lint;
pub use load::{check, load, load_with_progress};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::model::EntityKind;
use crate::store::StoreError;

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
