//! The sled store: one [`Store`] owns every tree.
//!
//! Entities live in one tree per kind; every relation is indexed from its
//! target back to the entities that hold it, and ordered indexes serve date ranges, kind filters and search.
//! [`Store::apply`] writes entities and all their index entries in one sled
//! transaction, after logging them durably in the write-ahead log (shared by
//! concurrent writers: group commit), so an acknowledged write survives a
//! crash, a refused one was never visible, and indexes never disagree with
//! entities.
//!
//! # Layout (in reading order)
//!
//! - `mod.rs`: the [`Store`] type, its shared state, the public types, meta reads.
//! - `trees.rs`: every tree's name; `keys.rs`: key encodings.
//! - `index.rs`: the index entries an entity implies, and the record encoding.
//! - `open.rs`: opening a database, the format check, upgrading older formats.
//! - `write.rs`: applying, committing, editing and deleting; `batch.rs` works
//!   a batch out before its transaction.
//! - `group.rs`: group commit: concurrent writes staged into one batch, landed
//!   with one log sync, and the checkpoints (sled flushed, old log files
//!   deleted); `log.rs`: the write-ahead log, its files, records and replay.
//! - `faults.rs`: disk faults, the free-space floor, reopening after a refused write.
//! - `read.rs`: entities by id, relations, listings.
//! - `period.rs`: period scans over the chronological indexes.
//! - `search.rs`: the token index and its ranking; `vocab.rs`: the words
//!   of the index held in memory, to find a query word's typos.
//! - `stats.rs`: list statistics kept with every write (the longest list
//!   of each kind, counts per sub-kind), read by the query guard.
//! - `verify.rs`: whole-tree scans, the consistency check, lost-write detection.
//! - `packed.rs`: index entries packed into blocks.
//! - `bulk.rs`: loading a seed into an empty store without transactions.
//! - `error.rs`: [`StoreError`].

mod batch;
mod bulk;
mod error;
mod faults;
mod group;
mod index;
mod keys;
mod log;
mod open;
mod packed;
mod period;
mod read;
mod search;
mod stats;
pub mod trees;
mod verify;
mod vocab;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use bulk::{BulkLoad, Prepared};
use error::sled_err;
pub use error::{scratch_err, StoreError};
pub use group::{Sealed, WriteComing};
pub use keys::{Position, PositionRef};
pub use open::DEFAULT_CACHE_BYTES;
pub use period::{event_list_key, listing_days, PeriodScan};
pub use search::{MAX_PREFIX_HITS, MAX_TYPO_WORDS};
pub use stats::{Fan, Stats};
pub use trees::{TreeRef, FORMAT_VERSION};
pub use vocab::MAX_VOCABULARY_BYTES;

use crate::model::{Entity, EntityKind, Id, Origin};

// Meta keys.
const META_FORMAT: &[u8] = b"format_version";
const META_SEED_HASH: &[u8] = b"seed_hash";
const META_SEED_STATE: &[u8] = b"seed_state";
const META_GENERATION: &[u8] = b"generation";
const META_MAX_SPAN: &[u8] = b"max_date_span";
/// Written and flushed to tell whether the disk takes writes again after a fault.
const META_PROBE: &[u8] = b"disk_probe";
/// Present while a bulk load writes (see [`bulk`]).
const META_BULK_LOADING: &[u8] = b"bulk_loading";
fn meta_count_key(kind: EntityKind) -> Vec<u8> {
    format!("count/{}", kind.prefix()).into_bytes()
}

/// Which way to follow a relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the entity that holds the relation (event → its participants).
    Forward,
    /// Back to the holders (actor → the events it took part in).
    Backward,
}

/// One write in a batch. Puts dominate batches, so their size is not worth boxing.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// Insert or replace.
    Put {
        entity: Entity,
        origin: Origin,
    },
    /// Insert; fails with `AlreadyExists` if the id is taken.
    Create {
        entity: Entity,
        origin: Origin,
    },
    Delete(Id),
}

/// What a committed change did to one entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// One entity changed by a commit, with its state after the change.
#[derive(Clone, Debug)]
pub struct Changed {
    pub id: Id,
    pub kind: ChangeKind,
    /// The entity after the change; `None` when deleted.
    pub entity: Option<Entity>,
}

/// A committed, durable write, as announced to subscribers in commit order.
#[derive(Clone, Debug)]
pub struct Committed {
    pub generation: u64,
    pub changes: Vec<Changed>,
}

/// How many commits a slow subscriber may fall behind before it is dropped.
pub const SUBSCRIBER_BACKLOG: usize = 1024;

/// Where a seed load stands, as recorded in the meta tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedState {
    /// No seed was ever loaded.
    Empty,
    /// A load began and did not finish (the process died): the store holds a
    /// partial seed and must be reloaded.
    Loading {
        hash: String,
    },
    Loaded {
        hash: String,
    },
}

/// Where a relation leads from each entity asked about: target ids with edge payloads.
pub type Neighbours = HashMap<Id, Vec<(Id, Vec<u8>)>>;

/// A key of an ordered listing and the id it points at.
pub type Keyed = (Vec<u8>, Id);

/// The open sled database and its trees. Swapped out whole when the store
/// reopens the database after a disk fault (see [`Store::reopen`]).
struct Handles {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

struct Inner {
    /// `None` only while the database is being reopened (or could not be).
    handles: std::sync::RwLock<Option<Arc<Handles>>>,
    path: PathBuf,
    /// How the database was opened, so it can be opened again: `None` for
    /// a temporary database, which cannot.
    cache_bytes: Option<u64>,
    names: Vec<&'static str>,
    /// Looked up on every store access: a fast hash, not SipHash.
    positions: rustc_hash::FxHashMap<TreeRef, usize>,
    reads: AtomicU64,
    writes: AtomicU64,
    /// The write pipeline (see [`group`]): writes are staged one at a time
    /// under it, so commits (and their announcements) happen in one order,
    /// and reference checks that read outside a transaction stay true.
    pipeline: std::sync::Mutex<group::Pipeline>,
    /// Signalled when a group has landed (the next one may form).
    turn: std::sync::Condvar,
    /// Writes on their way to the store (see [`Store::write_coming`]).
    coming: std::sync::atomic::AtomicUsize,
    /// Whether members wait for writes on their way before sealing their group.
    gathering: std::sync::atomic::AtomicBool,
    /// The write-ahead log (`None` for a temporary database).
    log: Option<std::sync::Mutex<log::Log>>,
    /// Log syncs since the process started (one per group of writes).
    log_syncs: AtomicU64,
    /// Whether a checkpoint is under way.
    checkpointing: std::sync::atomic::AtomicBool,
    /// Damage the write-ahead log showed when it was last applied again.
    log_damage: std::sync::Mutex<Vec<String>>,
    /// What caches key on: moves after every durable commit, and again when
    /// the database is reopened (which drops any write the disk refused, so
    /// whatever a cache took from before the reopen must not be served).
    generation: AtomicU64,
    announce: tokio::sync::broadcast::Sender<Arc<Committed>>,
    /// Why writes cannot reach the disk, while they cannot.
    fault: std::sync::Mutex<Option<String>>,
    /// Writes refused or failed because of the disk, since the process started.
    storage_errors: AtomicU64,
    /// Free bytes the data directory's filesystem must keep for writes to run.
    min_free_bytes: AtomicU64,
    /// The last reading of the data directory's free space, and when it
    /// was taken (see [`faults::FREE_READING_AGE`]).
    free_seen: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
    /// The search vocabulary, for typos (see [`vocab`]).
    vocabulary: vocab::Slot,
    /// The statistics snapshot requests estimate under (see [`Store::stats_snapshot`]).
    stats: stats::Slot,
    /// Faults tests switch on in the write path beyond the log file's.
    #[cfg(test)]
    hooks: faults::injected::Hooks,
    /// This store's note among the directories the process has open
    /// (none for a temporary one). Last, so that it goes after the database.
    _open_here: Option<open::OpenHere>,
}

/// The embedded database. Cheap to clone; clones share the same trees.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish()
    }
}

fn read_u64(value: Option<sled::IVec>) -> u64 {
    value
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

impl Store {
    fn position(&self, tree: TreeRef) -> usize {
        // all_trees() lists every TreeRef the code constructs.
        self.inner.positions[&tree]
    }

    /// The open database, or `Unavailable` while it is being reopened.
    fn live(&self) -> Result<Arc<Handles>, StoreError> {
        self.inner
            .handles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| StoreError::Unavailable {
                reason: "the database is being reopened after a disk fault; try again".into(),
            })
    }

    /// A handle on the tree at `position` (in [`trees::all_trees`] order).
    fn tree_at(&self, position: usize) -> Result<sled::Tree, StoreError> {
        Ok(self.live()?.trees[position].clone())
    }

    /// A handle on one tree (sled trees are shared handles: cloning is cheap).
    fn tree(&self, tree: TreeRef) -> Result<sled::Tree, StoreError> {
        Ok(self.live()?.trees[self.position(tree)].clone())
    }

    fn name(&self, tree: TreeRef) -> &'static str {
        self.inner.names[self.position(tree)]
    }

    /// The entries of an index tree whose keys begin with `prefix`, in key order.
    fn index_prefix(&self, tree: TreeRef, prefix: &[u8]) -> Result<packed::Range<'_>, StoreError> {
        Ok(packed::Range::prefix(&self.tree(tree)?, self.name(tree), prefix))
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Number of read calls served (a batched read counts once). Tests use
    /// it to prove batching; `/metrics` exports it.
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    /// Number of committed write batches since the process started.
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(Ordering::Relaxed)
    }

    fn count_read(&self) {
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.live()?.db.flush().map_err(sled_err("flushing to disk"))?;
        Ok(())
    }

    pub async fn flush_async(&self) -> Result<(), StoreError> {
        self.live()?
            .db
            .flush_async()
            .await
            .map_err(sled_err("flushing to disk"))?;
        Ok(())
    }

    fn meta_get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        self.tree(TreeRef::Meta)?
            .get(key)
            .map_err(sled_err("reading the meta tree"))
    }

    pub fn seed_state(&self) -> Result<SeedState, StoreError> {
        let state = self.meta_get(META_SEED_STATE)?;
        let hash = self
            .meta_get(META_SEED_HASH)?
            .map(|h| String::from_utf8_lossy(&h).into_owned())
            .unwrap_or_default();
        Ok(match state.as_deref() {
            Some(b"loading") => SeedState::Loading { hash },
            Some(b"loaded") => SeedState::Loaded { hash },
            _ => SeedState::Empty,
        })
    }

    /// Records the seed state durably (flushed before returning).
    pub fn set_seed_state(&self, state: &SeedState) -> Result<(), StoreError> {
        let meta = self.tree(TreeRef::Meta)?;
        let (word, hash): (&[u8], &str) = match state {
            SeedState::Empty => (b"empty", ""),
            SeedState::Loading { hash } => (b"loading", hash),
            SeedState::Loaded { hash } => (b"loaded", hash),
        };
        let mut batch = sled::Batch::default();
        batch.insert(META_SEED_STATE, word);
        batch.insert(META_SEED_HASH, hash.as_bytes());
        meta.apply_batch(batch).map_err(sled_err("recording the seed state"))?;
        self.flush()
    }

    /// A counter bumped by every committed write, as recorded on disk.
    pub fn generation(&self) -> Result<u64, StoreError> {
        Ok(read_u64(self.meta_get(META_GENERATION)?))
    }

    /// The generation counter without a read: what caches key on. It moves
    /// only after a write is durable and applied, so a cache keyed on it never serves a
    /// state older than the last acknowledged write.
    pub fn current_generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Number of entities of `kind`, kept as a counter: no scan, no decoding.
    pub fn count(&self, kind: EntityKind) -> Result<u64, StoreError> {
        self.count_read();
        Ok(read_u64(self.meta_get(&meta_count_key(kind))?))
    }
}

#[cfg(test)]
mod tests;
