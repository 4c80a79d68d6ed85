//! The sled store: one [`Store`] owns every tree.
//!
//! Entities live in one tree per kind; every relation is indexed from its
//! target back to the entities that hold it, and ordered indexes serve date ranges, kind filters and search.
//! [`Store::apply`] writes entities and all their index entries in one sled
//! transaction and flushes before returning, so an acknowledged write survives
//! a crash and indexes never disagree with entities.

mod batch;
mod bulk;
mod error;
mod keys;
mod packed;
pub mod trees;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use batch::Batch;
pub use bulk::{BulkLoad, Prepared};
use error::sled_err;
pub use error::StoreError;
pub use keys::Position;
pub use trees::{TreeRef, FORMAT_VERSION};

use crate::model::{legacy, text, Entity, EntityKind, Id, Origin, PartialDate, Record, Relation};

/// First byte of every stored record: the record layout version.
/// Layout 2 gave sources a `kind`; layout 1 records still decode (see
/// [`crate::model::legacy`]) and are rewritten in layout 2 when next written.
const RECORD_VERSION: u8 = 2;
const RECORD_VERSION_1: u8 = 1;

/// Most index entries a search word's prefix matches are read (whole-word
/// matches are always read in full).
pub const MAX_PREFIX_HITS: usize = 2_000;

/// How many entries that start on one day and end too early a period scan
/// reads one by one before it seeks past the rest of them.
const SEEK_AFTER_SKIPS: usize = 8;

/// The search weight of a word in an entity's name (aliases 3, summaries 1).
const NAME_WEIGHT: u8 = 4;

/// Default sled page cache: small, because the article seed is tiny and
/// sled's own default (1 GiB) would dwarf the process.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The last format with one record per index entry: its stores are
/// upgraded by rebuilding their indexes.
const UNPACKED_FORMAT: u32 = 2;

/// Entities whose index entries a rebuild gathers before writing them.
const REBUILD_BATCH: usize = 2_000;

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

/// A committed, flushed write, as announced to subscribers in commit order.
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

/// What a walk over a chronological index selects: entries whose period
/// overlaps `[from, to]` (every entry, undated ones last, when neither is
/// set), of one event kind, strictly between two listing keys.
#[derive(Clone, Copy, Default)]
pub struct PeriodScan<'a> {
    pub from: Option<&'a PartialDate>,
    pub to: Option<&'a PartialDate>,
    /// Leave out undated entries even when no period is set.
    pub dated: bool,
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
        !self.dated_only() && self.subkind.is_none()
    }

    fn dated_only(&self) -> bool {
        self.dated || self.from.is_some() || self.to.is_some()
    }

    /// Whether an entry with this listing key lies in the period (the kind is not checked).
    pub fn admits(&self, key: &[u8]) -> bool {
        if !self.dated_only() {
            return true;
        }
        keys::split_dated(key).is_some_and(|(first, last, _)| {
            first != keys::UNDATED
                && self.from.is_none_or(|f| last >= f.first_day())
                && self.to.is_none_or(|t| first <= t.last_day())
        })
    }
}

/// The open sled database and its trees. Swapped out whole when the store
/// reopens the database after a disk fault (see [`Store::recover`]).
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
    positions: HashMap<TreeRef, usize>,
    reads: AtomicU64,
    writes: AtomicU64,
    /// Serialises writes, so commits (and their announcements) happen in one
    /// order, and reference checks that read outside a transaction stay true.
    write_lock: std::sync::Mutex<()>,
    /// What caches key on: moves after every flushed commit, and again when
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

fn encode(record: &Record) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    // Serialising plain structs into a Vec cannot fail.
    out.extend(postcard::to_allocvec(record).unwrap_or_default());
    out
}

fn decode(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<Record, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => postcard::from_bytes(body).map_err(|e| corrupt(e.to_string())),
        Some((&RECORD_VERSION_1, body)) => postcard::from_bytes::<legacy::RecordV1>(body)
            .map(Record::from)
            .map_err(|e| corrupt(format!("record layout 1: {e}"))),
        Some((v, _)) => Err(corrupt(format!("unknown record version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

/// Every index entry an entity implies: (tree, key, value).
fn index_entries(entity: &Entity) -> Vec<(TreeRef, Vec<u8>, Vec<u8>)> {
    let id = entity.id();
    let kind = entity.kind();
    let mut out = Vec::new();
    for edge in entity.edges() {
        out.push((
            TreeRef::Backward(edge.relation),
            keys::pair(edge.to.as_bytes(), id.as_bytes()),
            edge.payload,
        ));
    }
    let listing = keys::dated(entity.date(), id);
    let class = keys::class_of(&listing);
    if trees::date_tree(kind, class).is_some() {
        out.push((TreeRef::ByDate(kind, class), listing.clone(), Vec::new()));
    }
    if kind == EntityKind::Event {
        out.push((
            TreeRef::EventSortKeys,
            id.as_bytes().to_vec(),
            keys::sort_key(entity.date()).to_vec(),
        ));
    }
    if let Some(sub) = entity.subkind() {
        // Events are listed chronologically, so their kind index is too:
        // a kind filter and a period then read one range.
        let (key, class) = if kind == EntityKind::Event {
            (keys::pair(sub.as_bytes(), &listing), class)
        } else {
            (keys::pair(sub.as_bytes(), id.as_bytes()), 0)
        };
        out.push((TreeRef::ByKind(kind, class), key, Vec::new()));
    }
    let label_len = text::tokens(entity.label()).len().min(255) as u8;
    let mut weights: BTreeMap<String, u8> = BTreeMap::new();
    for (text, weight) in entity.search_text() {
        for token in text::tokens(text) {
            let w = weights.entry(token).or_insert(0);
            *w = (*w).max(weight);
        }
    }
    for (token, weight) in weights {
        out.push((
            TreeRef::SearchTokens,
            keys::search(&token, weight, label_len, id),
            Vec::new(),
        ));
    }
    out
}

fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        .open()
        .map_err(|e| match e {
            // sled reports a data directory another process holds as an
            // I/O error with this text (sled 0.34.7, config.rs).
            sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock") => {
                StoreError::Locked { path: path.to_owned() }
            }
            e => sled_err(format!("opening database at {}", path.display()))(e),
        })
}

impl Handles {
    fn new(db: sled::Db, names: &[&'static str]) -> Result<Handles, StoreError> {
        let mut trees = Vec::with_capacity(names.len());
        for name in names {
            trees.push(db.open_tree(name).map_err(sled_err(format!("opening tree `{name}`")))?);
        }
        Ok(Handles { db, trees })
    }
}

/// Whether a sled error means the disk let a write down (rather than a bug
/// or a corrupt record): such a write is refused as `Unavailable`.
fn is_disk_fault(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(_))
}

/// Bytes the store keeps in a reserve file beside the database. sled cannot
/// even open a database on a completely full disk, and reopening it is the
/// only way to drop a write the disk refused (sled keeps it in memory and
/// refuses every write after an I/O error): so on a disk fault the reserve
/// is deleted first, and made again once the disk has room.
const RESERVE_BYTES: u64 = 512 * 1024;

const RESERVE_FILE: &str = "disk-reserve";

/// The generation of the last acknowledged write (see [`Store::damage`]).
const ACKNOWLEDGED_FILE: &str = "acknowledged";

/// Makes the reserve file (all of it, or nothing); whether it exists now.
fn make_reserve(dir: &Path) -> bool {
    use std::io::Write;
    let path = dir.join(RESERVE_FILE);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == RESERVE_BYTES) {
        return true;
    }
    let written = std::fs::File::create(&path).and_then(|mut file| {
        // Real bytes, not a sparse file: the space must be taken.
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..RESERVE_BYTES / chunk.len() as u64 {
            file.write_all(&chunk)?;
        }
        file.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
        return false;
    }
    true
}

fn release_reserve(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(RESERVE_FILE));
}

/// Free bytes on the filesystem holding `path` (`None` if it cannot be told).
fn free_bytes(path: &Path) -> Option<u64> {
    fs2::available_space(path).ok()
}

fn read_u64(value: Option<sled::IVec>) -> u64 {
    value
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

impl Store {
    /// Opens (or creates) the database in `path` with a page cache of `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = open_db(path, cache_bytes)?;
        if !make_reserve(path) {
            tracing::warn!(path = %path.display(), "no room for the disk reserve: a full disk may need a restart to recover");
        }
        Store::from_db(db, path.to_owned(), Some(cache_bytes))
    }

    /// A throwaway in-memory-backed database, deleted when dropped (tests, checks).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(DEFAULT_CACHE_BYTES)
            .open()
            .map_err(sled_err("opening a temporary database"))?;
        Store::from_db(db, PathBuf::from("<temporary>"), None)
    }

    fn from_db(db: sled::Db, path: PathBuf, cache_bytes: Option<u64>) -> Result<Store, StoreError> {
        let mut names = Vec::new();
        let mut positions = HashMap::new();
        for (i, (tree_ref, name)) in trees::all_trees().into_iter().enumerate() {
            names.push(name);
            positions.insert(tree_ref, i);
        }
        let handles = Handles::new(db, &names)?;
        let store = Store {
            inner: Arc::new(Inner {
                handles: std::sync::RwLock::new(Some(Arc::new(handles))),
                path,
                cache_bytes,
                names,
                positions,
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
                write_lock: std::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                announce: tokio::sync::broadcast::channel(SUBSCRIBER_BACKLOG).0,
                fault: std::sync::Mutex::new(None),
                storage_errors: AtomicU64::new(0),
                min_free_bytes: AtomicU64::new(0),
            }),
        };
        store.check_format()?;
        store.discard_interrupted_bulk_load()?;
        let generation = read_u64(store.meta_get(META_GENERATION)?);
        store.inner.generation.store(generation, Ordering::SeqCst);
        Ok(store)
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let meta = self.tree(TreeRef::Meta)?;
        match meta.get(META_FORMAT).map_err(sled_err("reading the format version"))? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if found == UNPACKED_FORMAT {
                    // An unfinished bulk load goes first: nothing to rebuild.
                    self.discard_interrupted_bulk_load()?;
                    self.rebuild_indexes()?;
                    meta.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes())
                        .map_err(sled_err("writing the format version"))?;
                    self.flush()?;
                } else if found != FORMAT_VERSION {
                    return Err(StoreError::UnknownFormat {
                        path: self.inner.path.clone(),
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
            }
            None => {
                meta.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes())
                    .map_err(sled_err("writing the format version"))?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Rebuilds every index tree from the entities, in the packed layout
    /// (a store of format 2 holds the same entities and one record per index
    /// entry). The format version is written after this returns, so a
    /// rebuild cut short is simply done again at the next start.
    fn rebuild_indexes(&self) -> Result<(), StoreError> {
        tracing::warn!(path = %self.path().display(), "upgrading the store from format {UNPACKED_FORMAT}: rebuilding its indexes");
        for (tree_ref, name) in trees::all_trees() {
            if trees::is_packed(tree_ref) {
                self.tree(tree_ref)?
                    .clear()
                    .map_err(sled_err(format!("clearing tree `{name}`")))?;
            }
        }
        let mut edits: BTreeMap<usize, packed::Edits<'_>> = BTreeMap::new();
        let write = |edits: &mut BTreeMap<usize, packed::Edits<'_>>| -> Result<(), StoreError> {
            for (position, tree_edits) in std::mem::take(edits) {
                let tree = self.tree_at(position)?;
                for (key, block) in tree_edits.writes() {
                    match block {
                        Some(block) => tree.insert(key, block),
                        None => tree.remove(key),
                    }
                    .map_err(sled_err(format!("rebuilding `{}`", self.inner.names[position])))?;
                }
            }
            Ok(())
        };
        let mut pending = 0usize;
        for kind in EntityKind::ALL {
            let tree_ref = TreeRef::Entity(kind);
            for item in self.tree(tree_ref)?.iter() {
                let (key, value) = item.map_err(sled_err("scanning entities"))?;
                let record = decode(self.name(tree_ref), &key, &value)?;
                for (tree, key, value) in index_entries(&record.entity) {
                    let position = self.position(tree);
                    let edit = match edits.entry(position) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => e.insert(packed::Edits::new(
                            &self.tree(tree)?,
                            self.name(tree),
                            packed::Limits::DEFAULT,
                        )),
                    };
                    edit.insert(key, value)?;
                }
                pending += 1;
                if pending == REBUILD_BATCH {
                    write(&mut edits)?;
                    pending = 0;
                }
            }
        }
        write(&mut edits)?;
        self.flush()
    }

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

    // ---- meta -------------------------------------------------------------

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
    /// only after a write is flushed, so a cache keyed on it never serves a
    /// state older than the last acknowledged write.
    pub fn current_generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Number of entities of `kind`, kept as a counter: no scan, no decoding.
    pub fn count(&self, kind: EntityKind) -> Result<u64, StoreError> {
        self.count_read();
        Ok(read_u64(self.meta_get(&meta_count_key(kind))?))
    }

    /// Removes every entity and index entry, keeping the format version.
    /// Not atomic: callers mark the seed state `Loading` first, so a crash
    /// part-way is detected on the next start.
    pub fn clear(&self) -> Result<(), StoreError> {
        for (i, tree) in self.live()?.trees.iter().enumerate() {
            if self.inner.names[i] == trees::META {
                continue;
            }
            tree.clear()
                .map_err(sled_err(format!("clearing tree `{}`", self.inner.names[i])))?;
        }
        let meta = self.tree(TreeRef::Meta)?;
        for kind in EntityKind::ALL {
            meta.remove(meta_count_key(kind))
                .map_err(sled_err("resetting counts"))?;
        }
        meta.remove(META_MAX_SPAN)
            .map_err(sled_err("resetting the date span"))?;
        self.flush()
    }

    // ---- writes -----------------------------------------------------------

    /// Applies `changes` in one transaction: entities, their index entries,
    /// counts and the generation counter change together or not at all. With
    /// `check_references`, every relation must point at an entity that exists
    /// once the batch is applied. Flushes before returning. Not announced to
    /// subscribers (seed loads use it); API writes go through [`Store::commit`].
    pub fn apply(&self, changes: &[Change], check_references: bool) -> Result<u64, StoreError> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.apply_locked(changes, check_references)?.generation)
    }

    /// Applies `changes` like [`Store::apply`] with references checked, then
    /// announces the commit to subscribers, after the flush and in commit order.
    pub fn commit(&self, changes: &[Change]) -> Result<Arc<Committed>, StoreError> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.commit_locked(changes)
    }

    fn commit_locked(&self, changes: &[Change]) -> Result<Arc<Committed>, StoreError> {
        let committed = Arc::new(self.apply_locked(changes, true)?);
        // No subscribers is not an error.
        let _ = self.inner.announce.send(committed.clone());
        Ok(committed)
    }

    /// Commits announced from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Committed>> {
        self.inner.announce.subscribe()
    }

    /// Works out every record a batch writes, under the write lock and
    /// outside any transaction (packed index blocks are read here; see
    /// [`packed`]), then writes them all in one transaction.
    fn apply_locked(&self, changes: &[Change], check_references: bool) -> Result<Committed, StoreError> {
        // First, so a database left closed by a fault is reopened before
        // the batch reads it.
        self.ensure_writable()?;
        let mut batch = Batch::new(self);
        let mut done = Vec::with_capacity(changes.len());
        for change in changes {
            done.push(batch.apply(change)?);
        }
        if check_references {
            for change in changes {
                if let Change::Put { entity, .. } | Change::Create { entity, .. } = change {
                    batch.check_references(entity)?;
                    batch.check_acyclic(entity)?;
                }
            }
        }
        let generation = read_u64(self.meta_get(META_GENERATION)?) + 1;
        let writes = batch.into_writes(generation);
        let live = self.live()?;
        let result = live.trees.as_slice().transaction(|tx| {
            for (position, key, value) in &writes {
                match value {
                    Some(value) => tx[*position].insert(key.as_slice(), value.as_slice())?,
                    None => tx[*position].remove(key.as_slice())?,
                };
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        });
        let written = match result {
            Ok(()) => live.db.flush().map(|_| ()),
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => Err(e),
        };
        drop(live);
        if let Err(e) = written {
            return Err(self.disk_fault("committing a write", e));
        }
        // Caches key on this: it moves only now that the write is on disk.
        self.bump_generation(generation);
        self.record_acknowledged(generation);
        if self.fault().is_some() {
            tracing::info!(path = %self.inner.path.display(), "the disk takes writes again");
            self.set_fault(None);
        }
        self.inner.writes.fetch_add(1, Ordering::Relaxed);
        Ok(Committed {
            generation,
            changes: done,
        })
    }

    /// Moves the cache generation past `at_least` (and past where it was).
    fn bump_generation(&self, at_least: u64) {
        let _ = self
            .inner
            .generation
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |g| Some((g + 1).max(at_least)));
    }

    // ---- damage -----------------------------------------------------------

    /// Notes, beside the database, the generation of the last write
    /// acknowledged. sled checks each log entry as it recovers and silently
    /// drops the log from a damaged one on; comparing its generation with
    /// this note at start-up tells that acknowledged writes went with it.
    /// A failure here only weakens that check, so it is logged, not returned.
    fn record_acknowledged(&self, generation: u64) {
        use std::os::unix::fs::FileExt;
        if self.inner.cache_bytes.is_none() {
            return;
        }
        let path = self.inner.path.join(ACKNOWLEDGED_FILE);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|file| {
                file.write_all_at(&generation.to_be_bytes(), 0)?;
                file.sync_data()
            });
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %path.display(), "could not note the acknowledged generation");
        }
    }

    fn acknowledged(&self) -> Option<u64> {
        let bytes = std::fs::read(self.inner.path.join(ACKNOWLEDGED_FILE)).ok()?;
        Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
    }

    /// The start-up check, fast enough to run every time: whether the
    /// database lost writes it acknowledged (the log was cut short at a
    /// damaged entry). Empty when it did not.
    pub fn damage(&self) -> Vec<String> {
        let Ok(generation) = self.generation() else {
            return vec!["the meta tree cannot be read".into()];
        };
        match self.acknowledged() {
            Some(acknowledged) if acknowledged > generation => vec![format!(
                "the database at {} holds writes up to generation {generation}, but writes up to {acknowledged} were acknowledged: {} acknowledged writes are lost (the database file is damaged)",
                self.inner.path.display(),
                acknowledged - generation
            )],
            _ => Vec::new(),
        }
    }

    /// Accepts the damage [`Store::damage`] reported (`--allow-damaged`):
    /// what is intact is served, and later starts compare with it.
    pub fn accept_damage(&self) {
        if let Ok(generation) = self.generation() {
            self.record_acknowledged(generation);
        }
    }

    // ---- disk faults ------------------------------------------------------

    /// Sets the free space the data directory's filesystem must keep for
    /// writes to run (0: none).
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.inner.min_free_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Writes refused or failed because of the disk since the process started.
    pub fn storage_errors(&self) -> u64 {
        self.inner.storage_errors.load(Ordering::Relaxed)
    }

    fn fault(&self) -> Option<String> {
        self.inner.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_fault(&self, reason: Option<String>) {
        *self.inner.fault.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    /// Refuses a write while the disk is under the free-space floor.
    fn check_floor(&self) -> Result<(), StoreError> {
        let floor = self.inner.min_free_bytes.load(Ordering::Relaxed);
        if floor == 0 || self.inner.cache_bytes.is_none() {
            return Ok(());
        }
        match free_bytes(&self.inner.path) {
            Some(free) if free < floor => Err(StoreError::Unavailable {
                reason: format!(
                    "the disk holding {} has {} KiB free, under the floor of {} KiB (--min-free-mb); writes resume once space is freed",
                    self.inner.path.display(),
                    free / 1024,
                    floor / 1024
                ),
            }),
            _ => Ok(()),
        }
    }

    /// After a fault: whether the disk has room again for the reserve and
    /// a write, and the reserve is back. Until then writes are refused
    /// without trying, so the space the reserve freed is kept for reopening.
    fn room_after_fault(&self) -> bool {
        let floor = self.inner.min_free_bytes.load(Ordering::Relaxed);
        let needed = 2 * RESERVE_BYTES + floor;
        if free_bytes(&self.inner.path).is_some_and(|free| free < needed) {
            return false;
        }
        make_reserve(&self.inner.path)
    }

    /// Under the write lock, before a write: refuses it while the disk is
    /// under the floor, or still full after a fault (then without trying),
    /// and after a fault reopens the database if it is not open (the write
    /// is then the probe that tells whether the fault is gone).
    fn ensure_writable(&self) -> Result<(), StoreError> {
        if let Err(e) = self.check_floor() {
            self.inner.storage_errors.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        if let Some(reason) = self.fault() {
            if !self.room_after_fault() {
                self.inner.storage_errors.fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::Unavailable {
                    reason: format!("{reason}; the disk is still full: writes resume once space is freed"),
                });
            }
            if self.live().is_err() {
                self.reopen()?;
            }
        }
        Ok(())
    }

    /// A write the disk let down (under the write lock): counted, logged,
    /// and made invisible. sled has applied the transaction in memory and
    /// refuses every write after an I/O error until the database is opened
    /// again, so it is reopened from what is on disk: the refused write is
    /// gone, and so is anything a cache took from it (the generation moves).
    fn disk_fault(&self, context: &str, error: sled::Error) -> StoreError {
        self.inner.storage_errors.fetch_add(1, Ordering::Relaxed);
        if !is_disk_fault(&error) {
            return sled_err(context)(error);
        }
        let reason = format!("the disk refused a write to {} ({error})", self.inner.path.display());
        tracing::error!(error = %error, path = %self.inner.path.display(), "write failed on disk; reopening the database");
        self.set_fault(Some(reason.clone()));
        // sled needs some room to open: the reserve gives it back.
        release_reserve(&self.inner.path);
        if let Err(e) = self.reopen() {
            tracing::error!(error = %e, "could not reopen the database after a disk fault");
        }
        StoreError::Unavailable {
            reason: format!("{reason}; nothing of it was kept, and writes resume once the disk has room"),
        }
    }

    /// Closes the database and opens it again from disk (under the write
    /// lock). Readers get `Unavailable` for the few milliseconds it takes.
    fn reopen(&self) -> Result<(), StoreError> {
        let Some(cache_bytes) = self.inner.cache_bytes else {
            return Ok(());
        };
        let taken = self.inner.handles.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
        // Scans in flight hold tree handles, and with them sled's lock on
        // the database file: they end within milliseconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let db = loop {
            match open_db(&self.inner.path, cache_bytes) {
                Ok(db) => break db,
                Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => return Err(e),
            }
        };
        let handles = Handles::new(db, &self.inner.names)?;
        *self.inner.handles.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(handles));
        let on_disk = self.generation()?;
        self.bump_generation(on_disk);
        tracing::info!(path = %self.inner.path.display(), "database reopened");
        Ok(())
    }

    /// Whether writes can reach the disk now; `Err` says why not. After a
    /// fault, checks by writing and flushing a probe,
    /// so `/ready` turns green again once space returns, without a write.
    pub fn writable(&self) -> Result<(), String> {
        self.check_floor().map_err(|e| e.to_string())?;
        let Some(reason) = self.fault() else {
            return Ok(());
        };
        if !self.room_after_fault() {
            return Err(reason);
        }
        // Another write is under way: it is the probe.
        let Ok(_guard) = self.inner.write_lock.try_lock() else {
            return Err(reason);
        };
        let probe = || -> Result<(), StoreError> {
            if self.live().is_err() {
                self.reopen()?;
            }
            let live = self.live()?;
            let meta = &live.trees[self.position(TreeRef::Meta)];
            let written = meta.insert(META_PROBE, &[1]).and_then(|_| live.db.flush());
            drop(live);
            written.map_err(|e| self.disk_fault("probing the disk", e))?;
            Ok(())
        };
        match probe() {
            Ok(()) => {
                tracing::info!(path = %self.inner.path.display(), "the disk takes writes again");
                self.set_fault(None);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Every (relation, entity) that points at `id`.
    pub fn referrers(&self, id: &Id) -> Result<Vec<(Relation, Id)>, StoreError> {
        self.count_read();
        let mut out = Vec::new();
        for relation in Relation::ALL {
            if relation.target_kind() != id.kind() {
                continue;
            }
            let tree_ref = TreeRef::Backward(relation);
            for item in self.index_prefix(tree_ref, &keys::prefix(id.as_bytes()))? {
                let (key, _) = item?;
                out.push((relation, self.id_in(tree_ref, &key, keys::second(&key))?));
            }
        }
        Ok(out)
    }

    /// Reads `id`, lets `edit` change it, and commits the result as
    /// API-owned, all under the write lock: concurrent edits of one entity
    /// apply one after the other, none lost, and an entity deleted meanwhile
    /// is not brought back. `edit` runs once, outside any transaction.
    pub fn modify<E: From<StoreError>>(
        &self,
        id: &Id,
        edit: impl FnOnce(Entity) -> Result<Entity, E>,
    ) -> Result<(Arc<Committed>, Entity), E> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self
            .get_uncounted(id)?
            .ok_or_else(|| StoreError::NotFound { id: id.to_string() })?;
        let entity = edit(current.entity)?;
        if entity.id() != id {
            return Err(StoreError::Corrupt {
                tree: "api",
                key: id.to_string(),
                reason: "an edit changed the id".into(),
            }
            .into());
        }
        let committed = self.commit_locked(&[Change::Put {
            entity: entity.clone(),
            origin: Origin::Api,
        }])?;
        Ok((committed, entity))
    }

    /// Creates an entity under the first id of `candidates` that is free,
    /// chosen under the write lock, so concurrent creates of the same name
    /// each get their own id and all succeed. `build` makes the entity for
    /// the chosen id (it runs once, under the lock). Announced like [`Store::commit`].
    pub fn create_fresh<E: From<StoreError>>(
        &self,
        candidates: impl IntoIterator<Item = Id>,
        build: impl FnOnce(Id) -> Result<Entity, E>,
    ) -> Result<(Arc<Committed>, Entity), E> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut free = None;
        for id in candidates {
            if self.get_uncounted(&id)?.is_none() {
                free = Some(id);
                break;
            }
        }
        let id = free.ok_or_else(|| StoreError::AlreadyExists {
            id: "every candidate id".into(),
        })?;
        let entity = build(id)?;
        let committed = self.commit_locked(&[Change::Create {
            entity: entity.clone(),
            origin: Origin::Api,
        }])?;
        Ok((committed, entity))
    }

    /// Deletes `id`. If other entities refer to it, the delete is refused
    /// unless `cascade`, which removes every such reference in the same
    /// transaction (and deletes what cannot exist without it, such as a
    /// funding allocation whose donor goes). Announced like [`Store::commit`].
    pub fn delete(&self, id: &Id, cascade: bool) -> Result<Arc<Committed>, StoreError> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.get_uncounted(id)?.is_none() {
            return Err(StoreError::NotFound { id: id.to_string() });
        }
        let mut referrers: Vec<Id> = self
            .referrers(id)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r != id)
            .collect();
        referrers.sort();
        referrers.dedup();
        if !referrers.is_empty() && !cascade {
            let shown: Vec<String> = referrers.iter().take(10).map(Id::to_string).collect();
            let more = referrers.len().saturating_sub(10);
            return Err(StoreError::Referenced {
                id: id.to_string(),
                referrers: if more > 0 {
                    format!("{} and {more} more", shown.join(", "))
                } else {
                    shown.join(", ")
                },
            });
        }
        let mut changes = Vec::with_capacity(referrers.len() + 1);
        for referrer in &referrers {
            let Some(record) = self.get_uncounted(referrer)? else {
                continue;
            };
            match record.entity.without_reference(id) {
                Some(entity) => changes.push(Change::Put {
                    entity,
                    origin: record.origin,
                }),
                None => changes.push(Change::Delete(referrer.clone())),
            }
        }
        changes.push(Change::Delete(id.clone()));
        self.commit_locked(&changes)
    }

    // ---- reads ------------------------------------------------------------

    pub fn get_record(&self, id: &Id) -> Result<Option<Record>, StoreError> {
        self.count_read();
        self.get_uncounted(id)
    }

    fn get_uncounted(&self, id: &Id) -> Result<Option<Record>, StoreError> {
        let tree = TreeRef::Entity(id.kind());
        match self
            .tree(tree)?
            .get(id.as_bytes())
            .map_err(sled_err(format!("reading {id}")))?
        {
            Some(bytes) => Ok(Some(decode(self.name(tree), id.as_bytes(), &bytes)?)),
            None => Ok(None),
        }
    }

    pub fn get(&self, id: &Id) -> Result<Option<Entity>, StoreError> {
        Ok(self.get_record(id)?.map(|r| r.entity))
    }

    /// Reads many entities at once (one counted read); missing ids are absent from the map.
    pub fn get_many(&self, ids: &[Id]) -> Result<HashMap<Id, Entity>, StoreError> {
        self.count_read();
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = self.get_uncounted(id)? {
                out.insert(id.clone(), record.entity);
            }
        }
        Ok(out)
    }

    /// Follows `relation` from each of `from` (one counted read): for each
    /// source id, the ids it links to with the edge payload, in id order.
    /// Forward links come from the holding entity itself; backward ones
    /// from the relation's index tree.
    pub fn related(&self, relation: Relation, direction: Direction, from: &[Id]) -> Result<Neighbours, StoreError> {
        self.count_read();
        let mut out = HashMap::with_capacity(from.len());
        if direction == Direction::Forward {
            for id in from {
                // Keyed by target like an index: one link per target, the last one winning.
                let mut links: BTreeMap<Vec<u8>, (Id, Vec<u8>)> = BTreeMap::new();
                if let Some(record) = self.get_uncounted(id)? {
                    for edge in record.entity.edges() {
                        if edge.relation == relation {
                            links.insert(edge.to.as_bytes().to_vec(), (edge.to, edge.payload));
                        }
                    }
                }
                out.insert(id.clone(), links.into_values().collect());
            }
            return Ok(out);
        }
        let tree_ref = TreeRef::Backward(relation);
        for id in from {
            let mut links = Vec::new();
            for item in self.index_prefix(tree_ref, &keys::prefix(id.as_bytes()))? {
                let (key, value) = item?;
                links.push((self.id_in(tree_ref, &key, keys::second(&key))?, value));
            }
            out.insert(id.clone(), links);
        }
        Ok(out)
    }

    fn id_in(&self, tree: TreeRef, key: &[u8], bytes: &[u8]) -> Result<Id, StoreError> {
        Id::from_key(bytes).map_err(|e| StoreError::Corrupt {
            tree: self.name(tree),
            key: String::from_utf8_lossy(key).into_owned(),
            reason: e.to_string(),
        })
    }

    /// A page of an ordered listing of every entity of `kind`: events in
    /// chronological order (undated last), everything else by id. Keys are
    /// opaque cursors. Reads only the range asked for.
    pub fn list(
        &self,
        kind: EntityKind,
        after: Option<&[u8]>,
        before: Option<&[u8]>,
        limit: usize,
        from_end: bool,
    ) -> Result<Vec<Keyed>, StoreError> {
        if kind == EntityKind::Event {
            let scan = PeriodScan {
                after,
                before,
                from_end,
                ..PeriodScan::default()
            };
            return self.page_period(kind, &scan, limit);
        }
        self.count_read();
        let tree_ref = TreeRef::Entity(kind);
        let tree = self.tree(tree_ref)?;
        use std::ops::Bound::*;
        let lower = after.map_or(Unbounded, |a| Excluded(a.to_vec()));
        let upper = before.map_or(Unbounded, |b| Excluded(b.to_vec()));
        let range = tree.range::<Vec<u8>, _>((lower, upper));
        let items: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if from_end {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out = Vec::new();
        for item in items.take(limit) {
            let (key, _) = item.map_err(sled_err(format!("listing `{}`", self.name(tree_ref))))?;
            out.push((key.to_vec(), self.id_in(tree_ref, &key, &key)?));
        }
        if from_end {
            out.reverse();
        }
        Ok(out)
    }

    /// The listing key of an entity id (its cursor position), without decoding it.
    pub fn list_key(&self, id: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        if id.kind() != EntityKind::Event {
            return Ok(Some(id.as_bytes().to_vec()));
        }
        let tree = TreeRef::EventSortKeys;
        let sort = packed::get(&self.tree(tree)?, self.name(tree), id.as_bytes())?;
        Ok(sort.map(|mut key| {
            key.extend_from_slice(id.as_bytes());
            key
        }))
    }

    /// Listing keys for many ids (one counted read); ids that do not exist are dropped.
    pub fn list_keys(&self, ids: &[Id]) -> Result<Vec<Keyed>, StoreError> {
        self.count_read();
        let (events, others): (Vec<&Id>, Vec<&Id>) = ids.iter().partition(|id| id.kind() == EntityKind::Event);
        let mut out: Vec<Keyed> = others
            .into_iter()
            .map(|id| (id.as_bytes().to_vec(), id.clone()))
            .collect();
        if !events.is_empty() {
            // Events in key order, so each block of sort keys is walked once.
            let mut events = events;
            events.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            let keys: Vec<&[u8]> = events.iter().map(|id| id.as_bytes()).collect();
            let tree = TreeRef::EventSortKeys;
            let sorts = packed::get_sorted(&self.tree(tree)?, self.name(tree), &keys)?;
            for (id, sort) in events.into_iter().zip(sorts) {
                if let Some(mut key) = sort {
                    key.extend_from_slice(id.as_bytes());
                    out.push((key, id.clone()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Ids of `kind` entities whose sub-kind is `subkind` (e.g. actors of kind `person`).
    pub fn ids_of_subkind(&self, kind: EntityKind, subkind: &str) -> Result<Vec<Id>, StoreError> {
        if kind == EntityKind::Event {
            // The event kind index is chronological: read it as a period scan.
            let scan = PeriodScan {
                subkind: Some(subkind),
                ..PeriodScan::default()
            };
            return Ok(self
                .page_period(kind, &scan, usize::MAX)?
                .into_iter()
                .map(|(_, id)| id)
                .collect());
        }
        self.count_read();
        let tree_ref = TreeRef::ByKind(kind, 0);
        let mut out = Vec::new();
        for item in self.index_prefix(tree_ref, &keys::prefix(subkind.as_bytes()))? {
            let (key, _) = item?;
            out.push(self.id_in(tree_ref, &key, keys::second(&key))?);
        }
        Ok(out)
    }

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
    pub fn count_period(&self, kind: EntityKind, scan: &PeriodScan<'_>) -> Result<usize, StoreError> {
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
            let id = keys::split_dated(listing).map_or(&[][..], |(_, _, id)| id);
            if !visit(listing, id)? {
                return Ok(());
            }
        }
    }

    /// Entities whose indexed text matches the folded `query`, best first.
    /// Each query word matches an indexed word it equals or begins; the score
    /// adds the best field weight per word (names 4, aliases 3, summaries 1),
    /// halved for a prefix match, and an entity must match every word. Ties
    /// go to the entity whose name the query covers best ("Kokoity" ranks the
    /// man above an event whose long title mentions him).
    /// `min_weight` restricts matching to names (4) or names and aliases (3).
    pub fn search(&self, query: &str, min_weight: u8) -> Result<Vec<(Id, f64)>, StoreError> {
        self.count_read();
        let words: Vec<String> = text::fold(query)
            .split(' ')
            .filter(|w| !w.is_empty())
            .take(16)
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let tree = TreeRef::SearchTokens;
        // id → (words matched so far, score, words matched in the name, name length)
        let mut scores: HashMap<Id, (usize, f64, usize, u8)> = HashMap::new();
        for (i, word) in words.iter().enumerate() {
            let mut best: HashMap<Id, (f64, bool, u8)> = HashMap::new();
            // Whole-word matches first (`word ‖ 0xff …` sorts after longer
            // words sharing the prefix), all of them; then words it begins,
            // at most MAX_PREFIX_HITS, so a short common prefix stays cheap.
            let exact = self.index_prefix(tree, &keys::prefix(word.as_bytes()))?;
            let longer = self
                .index_prefix(tree, word.as_bytes())?
                .filter(|item| item.as_ref().map_or(true, |(k, _)| keys::first(k) != word.as_bytes()))
                .take(MAX_PREFIX_HITS);
            for item in exact.chain(longer) {
                let (key, _) = item?;
                let (weight, label_len, id) = self.search_entry(&key)?;
                if weight < min_weight {
                    continue;
                }
                let exact = keys::first(&key) == word.as_bytes();
                let score = f64::from(weight) * if exact { 1.0 } else { 0.5 };
                let entry = best.entry(id).or_insert((0.0, false, label_len));
                entry.0 = entry.0.max(score);
                entry.1 |= weight >= 4;
            }
            for (id, (score, in_label, label_len)) in best {
                let entry = scores.entry(id).or_insert((0, 0.0, 0, label_len));
                if entry.0 == i {
                    entry.0 = i + 1;
                    entry.1 += score;
                    entry.2 += usize::from(in_label);
                }
            }
        }
        let mut hits: Vec<(Id, f64)> = scores
            .into_iter()
            .filter(|(_, (matched, ..))| *matched == words.len())
            .map(|(id, (_, score, in_label, label_len))| (id, score + in_label as f64 / f64::from(label_len)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(hits)
    }

    /// The best `limit` hits of [`Store::search`], in its order. A one-word
    /// query that names at least `limit` entities in full is answered from
    /// the first `limit` index entries alone: the index lists a word's
    /// entities by weight, then by how short their name is, then by id,
    /// which is the ranking order, and a whole-word name match outranks
    /// every other kind of match. Anything else ranks every match.
    pub fn search_top(&self, query: &str, min_weight: u8, limit: usize) -> Result<Vec<(Id, f64)>, StoreError> {
        let folded = text::fold(query);
        let mut words = folded.split(' ').filter(|w| !w.is_empty());
        if let (Some(word), None, true) = (words.next(), words.next(), limit > 0) {
            self.count_read();
            let mut top = Vec::with_capacity(limit);
            for item in self.index_prefix(TreeRef::SearchTokens, &keys::prefix(word.as_bytes()))? {
                let (key, _) = item?;
                let (weight, label_len, id) = self.search_entry(&key)?;
                if weight < NAME_WEIGHT {
                    break;
                }
                top.push((id, f64::from(weight) + 1.0 / f64::from(label_len)));
                if top.len() == limit {
                    return Ok(top);
                }
            }
        }
        let mut hits = self.search(query, min_weight)?;
        hits.truncate(limit);
        Ok(hits)
    }

    /// (weight, name length in words, id) of a search index key.
    fn search_entry(&self, key: &[u8]) -> Result<(u8, u8, Id), StoreError> {
        let (weight, label_len, id) = keys::split_search(key).ok_or_else(|| StoreError::Corrupt {
            tree: self.name(TreeRef::SearchTokens),
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "not a search index key".into(),
        })?;
        Ok((weight, label_len.max(1), self.id_in(TreeRef::SearchTokens, key, id)?))
    }

    // ---- consistency ------------------------------------------------------

    /// Calls `f` with every entity of `kind`, one at a time (exports).
    pub fn for_each(&self, kind: EntityKind, f: &mut dyn FnMut(Record)) -> Result<(), StoreError> {
        let tree_ref = TreeRef::Entity(kind);
        for item in self.tree(tree_ref)?.iter() {
            let (key, value) = item.map_err(sled_err("scanning entities"))?;
            f(decode(self.name(tree_ref), &key, &value)?);
        }
        Ok(())
    }

    /// Like [`Store::for_each`], skipping records that cannot be decoded
    /// (a damaged database), which it returns as messages naming each one:
    /// what `export` uses to salvage every intact entity.
    pub fn for_each_intact(&self, kind: EntityKind, f: &mut dyn FnMut(Record)) -> Result<Vec<String>, StoreError> {
        let tree_ref = TreeRef::Entity(kind);
        let mut damaged = Vec::new();
        for item in self.tree(tree_ref)?.iter() {
            match item {
                Ok((key, value)) => match decode(self.name(tree_ref), &key, &value) {
                    Ok(record) => f(record),
                    Err(e) => damaged.push(format!("damaged record {}: {e}", String::from_utf8_lossy(&key))),
                },
                Err(e) => {
                    damaged.push(format!("`{}` cannot be read past some point: {e}", self.name(tree_ref)));
                    break;
                }
            }
        }
        Ok(damaged)
    }

    /// Every entity of `kind` (for checks, exports and tests; not for serving).
    pub fn all(&self, kind: EntityKind) -> Result<Vec<Record>, StoreError> {
        let tree_ref = TreeRef::Entity(kind);
        let mut out = Vec::new();
        for item in self.tree(tree_ref)?.iter() {
            let (key, value) = item.map_err(sled_err("scanning entities"))?;
            out.push(decode(self.name(tree_ref), &key, &value)?);
        }
        Ok(out)
    }

    /// Checks that index trees and entities agree exactly: every entry an
    /// entity implies exists, and every index entry is implied by an entity.
    /// Returns a description of each disagreement (empty when consistent).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut expected: HashMap<TreeRef, BTreeMap<Vec<u8>, Vec<u8>>> = HashMap::new();
        let mut problems = self.damage();
        for kind in EntityKind::ALL {
            let mut records = Vec::new();
            problems.extend(self.for_each_intact(kind, &mut |r| records.push(r))?);
            let counted = read_u64(self.meta_get(&meta_count_key(kind))?);
            if records.len() as u64 != counted {
                problems.push(format!(
                    "count of {} is off: {} stored, {counted} counted",
                    kind.plural(),
                    records.len()
                ));
            }
            for record in records {
                for (tree, key, value) in index_entries(&record.entity) {
                    expected.entry(tree).or_default().insert(key, value);
                }
            }
        }
        for (tree_ref, name) in trees::all_trees() {
            if matches!(tree_ref, TreeRef::Meta | TreeRef::Entity(_)) {
                continue;
            }
            let want = expected.remove(&tree_ref).unwrap_or_default();
            let malformed = packed::check(&self.tree(tree_ref)?, name)?;
            if !malformed.is_empty() {
                // Its entries cannot be read reliably: report the blocks.
                problems.extend(malformed);
                continue;
            }
            let mut have = BTreeMap::new();
            for item in self.index_prefix(tree_ref, &[])? {
                let (k, v) = item?;
                have.insert(k, v);
            }
            for (k, v) in &want {
                match have.get(k) {
                    None => problems.push(format!("`{name}` lacks {}", String::from_utf8_lossy(k))),
                    Some(h) if h != v => {
                        problems.push(format!("`{name}` has a stale value at {}", String::from_utf8_lossy(k)))
                    }
                    _ => {}
                }
            }
            for k in have.keys().filter(|k| !want.contains_key(*k)) {
                problems.push(format!("`{name}` has an orphan entry {}", String::from_utf8_lossy(k)));
            }
        }
        Ok(problems)
    }
}

/// The listing key (cursor position) an event has in chronological listings.
/// Exposed so callers can order events they already hold without a read.
pub fn event_list_key(date: Option<&PartialDate>, id: &Id) -> Vec<u8> {
    keys::dated(date, id)
}

/// One span class of a chronological index, walked in listing order (or
/// backwards): the entries under `prefix` whose period overlaps the scan's,
/// between its cursors. The walk starts from `from` minus the class's
/// longest period; an entry that ends before `from` is skipped, and after a
/// few such entries that start the same day the walk seeks past the rest of
/// them (they all sort before `first ‖ from`). So a page costs about the same
/// at ten thousand entities as at a million.
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
            lower = Included(under(&keys::day(f.saturating_sub(max_span.max(0)))));
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
            done: false,
        }
    }

    /// Reads up to the next selected entry, unless it is already read.
    fn fill(&mut self) -> Result<(), StoreError> {
        use std::ops::Bound::{Excluded, Included};
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
                Some(f) if last < f => {
                    same_day_skips = if skipped_day == Some(first) {
                        same_day_skips + 1
                    } else {
                        1
                    };
                    skipped_day = Some(first);
                    if same_day_skips >= SEEK_AFTER_SKIPS {
                        let start = [self.prefix.as_slice(), &keys::day(first)].concat();
                        if self.from_end {
                            self.upper = Excluded(start);
                        } else {
                            self.lower = Included([start.as_slice(), &keys::day(f)].concat());
                        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Actor, ActorKind, Event, EventKind, Participant, Role};

    fn actor(n: usize) -> Entity {
        Entity::Actor(Actor {
            id: Id::parse(&format!("actor/a{n}")).unwrap(),
            name: format!("Actor number {n}"),
            kind: ActorKind::State,
            aliases: vec![],
            summary: None,
            part_of: None,
            positions: vec![],
            sources: vec![],
            note: None,
        })
    }

    fn event(n: usize) -> Entity {
        Entity::Event(Event {
            id: Id::parse(&format!("event/e{n}")).unwrap(),
            title: format!("Meeting {n} of the hub"),
            kind: EventKind::ALL[n % EventKind::ALL.len()],
            date: None,
            place: None,
            summary: None,
            participants: (0..3)
                .map(|i| Participant {
                    actor: Id::parse(&format!("actor/a{}", if i == 0 { 0 } else { (n + i) % 40 })).unwrap(),
                    role: Role::ALL[i % Role::ALL.len()],
                })
                .collect(),
            treaties: vec![],
            part_of: None,
            after: vec![],
            retracted_by: None,
            figures: vec![],
            sources: vec![],
            note: None,
        })
    }

    /// The events `hub` takes part in, read through the relation index.
    fn events_of(store: &Store, hub: &Id) -> Neighbours {
        store
            .related(
                Relation::EventParticipant,
                Direction::Backward,
                std::slice::from_ref(hub),
            )
            .unwrap()
    }

    fn put(entity: Entity) -> Change {
        Change::Put {
            entity,
            origin: Origin::Api,
        }
    }

    #[test]
    fn a_store_of_the_unpacked_format_is_upgraded_by_rebuilding_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let hub = Id::parse("actor/a0").unwrap();
        let before = {
            let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
            store
                .apply(&(0..40).map(|n| put(actor(n))).collect::<Vec<_>>(), true)
                .unwrap();
            store
                .apply(&(0..300).map(|n| put(event(n))).collect::<Vec<_>>(), true)
                .unwrap();
            let before = events_of(&store, &hub);
            // Rewrite every index the way format 2 kept it: a record per entry.
            for (tree_ref, _) in trees::all_trees() {
                if !trees::is_packed(tree_ref) {
                    continue;
                }
                let entries: Vec<_> = store
                    .index_prefix(tree_ref, &[])
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let tree = store.tree(tree_ref).unwrap();
                tree.clear().unwrap();
                for (key, value) in entries {
                    tree.insert(key, value).unwrap();
                }
            }
            store
                .tree(TreeRef::Meta)
                .unwrap()
                .insert(META_FORMAT, &UNPACKED_FORMAT.to_be_bytes())
                .unwrap();
            store.flush().unwrap();
            before
        };
        assert_eq!(before[&hub].len(), 300, "the hub takes part in every event");
        let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
        let after = events_of(&store, &hub);
        assert_eq!(after, before);
        assert_eq!(store.search("hub", 0).unwrap().len(), 300);
        let format = store.meta_get(META_FORMAT).unwrap().unwrap();
        assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    }

    #[test]
    fn records_of_layout_1_still_open_and_their_sources_cite_the_body_text() {
        use crate::model::legacy::{EntityV1, RecordV1, SourceV1};
        use crate::model::{Source, SourceKind};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let source_id = Id::parse("source/old").unwrap();
        let old_source = SourceV1 {
            id: source_id.clone(),
            document: "A document cited before sources had a kind".into(),
            section: Some("Background".into()),
            url: None,
            note: Some("written by an older build".into()),
        };
        {
            let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
            let mut cited = match actor(1) {
                Entity::Actor(a) => a,
                _ => unreachable!("actor() makes actors"),
            };
            cited.sources = vec![source_id.clone()];
            store
                .apply(
                    &[
                        put(Entity::Actor(cited)),
                        // The same text, so the indexes already fit the old record.
                        put(Entity::Source(Source {
                            id: source_id.clone(),
                            document: old_source.document.clone(),
                            section: old_source.section.clone(),
                            url: None,
                            note: old_source.note.clone(),
                            kind: SourceKind::Caption,
                        })),
                    ],
                    true,
                )
                .unwrap();
            // Overwrite both records the way the previous build wrote them.
            for (kind, id, entity) in [
                (EntityKind::Actor, Id::parse("actor/a1").unwrap(), None),
                (
                    EntityKind::Source,
                    source_id.clone(),
                    Some(EntityV1::Source(old_source.clone())),
                ),
            ] {
                let entity = entity.unwrap_or_else(|| match actor(1) {
                    Entity::Actor(mut a) => {
                        a.sources = vec![source_id.clone()];
                        EntityV1::Actor(a)
                    }
                    _ => unreachable!("actor() makes actors"),
                });
                let mut bytes = vec![RECORD_VERSION_1];
                bytes.extend(
                    postcard::to_allocvec(&RecordV1 {
                        origin: Origin::Api,
                        entity,
                    })
                    .unwrap(),
                );
                store
                    .tree(TreeRef::Entity(kind))
                    .unwrap()
                    .insert(id.as_bytes(), bytes)
                    .unwrap();
            }
            store.flush().unwrap();
        }

        let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        let Some(Entity::Source(source)) = store.get(&source_id).unwrap() else {
            panic!("the layout-1 source decodes");
        };
        assert_eq!(source.kind, SourceKind::Body, "an old source defaults to the body text");
        assert_eq!(source.note, old_source.note);
        assert_eq!(source.section, old_source.section);
        let Some(Entity::Actor(a)) = store.get(&Id::parse("actor/a1").unwrap()).unwrap() else {
            panic!("the layout-1 actor decodes");
        };
        assert_eq!(a.sources, vec![source_id.clone()]);
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());

        // Written again, the source is stored in the current layout.
        store.apply(&[put(Entity::Source(source.clone()))], true).unwrap();
        let bytes = store
            .tree(TreeRef::Entity(EntityKind::Source))
            .unwrap()
            .get(source_id.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(store.get(&source_id).unwrap(), Some(Entity::Source(source)));
    }

    #[test]
    fn index_blocks_split_and_shrink_as_writes_come_and_go() {
        let store = Store::temporary().unwrap();
        let hub = Id::parse("actor/a0").unwrap();
        store
            .apply(&(0..40).map(|n| put(actor(n))).collect::<Vec<_>>(), true)
            .unwrap();
        // One at a time, so every write edits the blocks the last one left.
        for n in 0..200 {
            store.apply(&[put(event(n))], true).unwrap();
        }
        let blocks = store.tree(TreeRef::Backward(Relation::EventParticipant)).unwrap().len();
        assert!(blocks > 5, "600 entries take several blocks, not {blocks}");
        for n in (0..200).step_by(2) {
            store
                .apply(&[Change::Delete(Id::parse(&format!("event/e{n}")).unwrap())], true)
                .unwrap();
        }
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
        let links = events_of(&store, &hub);
        let want: Vec<String> = {
            let mut ids: Vec<String> = (1..200).step_by(2).map(|n| format!("event/e{n}")).collect();
            ids.sort();
            ids
        };
        let have: Vec<String> = links[&hub].iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(have, want);
        store
            .apply(
                &(1..200)
                    .step_by(2)
                    .map(|n| Change::Delete(Id::parse(&format!("event/e{n}")).unwrap()))
                    .collect::<Vec<_>>(),
                true,
            )
            .unwrap();
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
        assert_eq!(
            store.tree(TreeRef::Backward(Relation::EventParticipant)).unwrap().len(),
            0,
            "no empty block is left behind"
        );
    }
}
