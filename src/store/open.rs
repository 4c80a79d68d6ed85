//! Opening a store: the sled database, its trees, the format check, and
//! the upgrade of older formats (rebuilding the indexes from the entities).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::error::sled_err;
use super::faults::make_reserve;
use super::index::{decode, index_entries};
use super::trees::{self, TreeRef, FORMAT_VERSION};
use super::{
    log, packed, read_u64, Handles, Inner, Store, StoreError, META_FORMAT, META_GENERATION, SUBSCRIBER_BACKLOG,
};
use crate::model::EntityKind;

/// Default sled page cache: small, because the article seed is tiny and
/// sled's own default (1 GiB) would dwarf the process.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The last format with one record per index entry: its stores are
/// upgraded by rebuilding their indexes.
pub(super) const UNPACKED_FORMAT: u32 = 2;

/// The format before the write-ahead log and record checksums: its stores
/// are upgraded by writing the new version (their records of layout 2 still
/// decode, and they have no log to read).
pub(super) const PRE_LOG_FORMAT: u32 = 3;

/// The last format whose search tree held fewer fields and no
/// transliteration keys: its stores are upgraded by rebuilding that tree.
pub(super) const SEARCH_V1_FORMAT: u32 = 4;

/// The last format with one record per entity: its stores (and older
/// ones) have their entity trees packed into blocks when opened.
pub(super) const RECORD_PER_ENTITY_FORMAT: u32 = 5;

/// The formats this build upgrades when it opens a store of one.
const UPGRADED_FORMATS: [u32; 4] = [
    UNPACKED_FORMAT,
    PRE_LOG_FORMAT,
    SEARCH_V1_FORMAT,
    RECORD_PER_ENTITY_FORMAT,
];

/// Entities whose index entries a rebuild gathers before writing them.
const REBUILD_BATCH: usize = 2_000;

/// Entity records packed into blocks per transaction when a store of
/// format 5 or older is upgraded.
pub(super) const PACK_BATCH: usize = 4_800;

/// The meta key recording how far the packing of one entity tree has come
/// (the last id packed), so an upgrade cut short goes on where it was.
pub(super) fn packing_mark(kind: EntityKind) -> Vec<u8> {
    format!("packing/{}", kind.prefix()).into_bytes()
}

pub(super) fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
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
    pub(super) fn new(db: sled::Db, names: &[&'static str]) -> Result<Handles, StoreError> {
        let mut trees = Vec::with_capacity(names.len());
        for name in names {
            trees.push(db.open_tree(name).map_err(sled_err(format!("opening tree `{name}`")))?);
        }
        Ok(Handles { db, trees })
    }
}

/// Data directories this process has open, one entry per store, and when
/// each was closed (dropped), with a signal when one is: a store's last
/// handle may be a thread of its own finishing work after the last write
/// was answered (landing the next group, a checkpoint), and sled lets go of
/// its lock on the directory from its own thread a moment after the last
/// handle goes. So opening the directory again in this process waits for a
/// store of its own to close and sled to let go, where another process
/// holding it is refused at once.
static OPEN_HERE: Mutex<Vec<(PathBuf, Option<std::time::Instant>)>> = Mutex::new(Vec::new());
static CLOSED_HERE: Condvar = Condvar::new();

/// How long [`Store::open`] waits for this process's own store of the same
/// directory to close, and after it closed, for sled to let go of the lock.
const CLOSING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A store's entry in [`OPEN_HERE`], marked closed when the store is
/// dropped (the last field of [`Inner`], so after its database).
pub(super) struct OpenHere(PathBuf);

impl OpenHere {
    fn note(path: &Path) -> OpenHere {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|(_, closed)| closed.is_none_or(|at| at.elapsed() < RELEASE_WAIT));
        open.push((path.clone(), None));
        OpenHere(path)
    }
}

impl Drop for OpenHere {
    fn drop(&mut self) {
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = open.iter_mut().find(|(p, closed)| *p == self.0 && closed.is_none()) {
            entry.1 = Some(std::time::Instant::now());
        }
        CLOSED_HERE.notify_all();
    }
}

/// [`open_db`], waiting (up to [`CLOSING_WAIT`]) while the directory is
/// held by a store of this process, or was until a moment ago.
fn open_db_here(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + CLOSING_WAIT;
    loop {
        let locked = match open_db(path, cache_bytes) {
            Err(StoreError::Locked { path }) => path,
            other => return other,
        };
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        let ours = open
            .iter()
            .any(|(p, closed)| *p == canonical && closed.is_none_or(|at| at.elapsed() < RELEASE_WAIT));
        let now = std::time::Instant::now();
        if now >= deadline || !ours {
            return Err(StoreError::Locked { path: locked });
        }
        let _ = CLOSED_HERE.wait_timeout(open, (deadline - now).min(std::time::Duration::from_millis(20)));
    }
}

impl Store {
    /// Opens (or creates) the database in `path` with a page cache of `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let db = open_db_here(path, cache_bytes)?;
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
        let mut positions = rustc_hash::FxHashMap::default();
        for (i, (tree_ref, name)) in trees::all_trees().into_iter().enumerate() {
            names.push(name);
            positions.insert(tree_ref, i);
        }
        let handles = Handles::new(db, &names)?;
        let meta = positions[&TreeRef::Meta];
        let (log, log_damage) = match cache_bytes {
            Some(_) => {
                // A store of a format this build does not know is refused
                // before its log (if it has one) touches it.
                refuse_unknown_format(&path, &handles, meta)?;
                let replayed = log::replay(&path, &handles, &names, meta, None)?;
                if replayed.damage.is_empty() {
                    // Every logged group is in sled's files now.
                    log::remove_before(&path, u64::MAX);
                }
                (Some(Mutex::new(log::Log::create(&path)?)), replayed.damage)
            }
            None => (None, Vec::new()),
        };
        let path_for_note = path.clone();
        let store = Store {
            inner: Arc::new(Inner {
                handles: std::sync::RwLock::new(Some(Arc::new(handles))),
                path,
                cache_bytes,
                names,
                positions,
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
                pipeline: Mutex::default(),
                turn: Condvar::new(),
                coming: std::sync::atomic::AtomicUsize::new(0),
                gathering: std::sync::atomic::AtomicBool::new(false),
                log,
                log_syncs: AtomicU64::new(0),
                checkpointing: AtomicBool::new(false),
                log_damage: Mutex::new(log_damage),
                generation: AtomicU64::new(0),
                announce: tokio::sync::broadcast::channel(SUBSCRIBER_BACKLOG).0,
                fault: std::sync::Mutex::new(None),
                storage_errors: AtomicU64::new(0),
                min_free_bytes: AtomicU64::new(0),
                free_seen: Mutex::new(None),
                vocabulary: Default::default(),
                stats: Default::default(),
                #[cfg(test)]
                hooks: Default::default(),
                _open_here: cache_bytes.is_some().then(|| OpenHere::note(&path_for_note)),
            }),
        };
        store.check_format()?;
        store.discard_interrupted_bulk_load()?;
        store.tally_stats()?;
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
                if UPGRADED_FORMATS.contains(&found) {
                    // An unfinished bulk load goes first: nothing to rebuild.
                    self.discard_interrupted_bulk_load()?;
                    // Every older format stores one record per entity.
                    self.pack_entities(found)?;
                    // Format 2 packs every index anew; 3 (whose records
                    // still decode, and which has no log) and 4 only need
                    // the search tree written the current way; 5 nothing more.
                    if found != RECORD_PER_ENTITY_FORMAT {
                        let rebuild: fn(TreeRef) -> bool = if found == UNPACKED_FORMAT {
                            trees::is_index
                        } else {
                            |tree| tree == TreeRef::SearchTokens
                        };
                        self.rebuild_indexes(found, rebuild)?;
                    }
                    let mut done = sled::Batch::default();
                    done.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
                    for kind in EntityKind::ALL {
                        done.remove(packing_mark(kind));
                    }
                    meta.apply_batch(done).map_err(sled_err("writing the format version"))?;
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

    /// Packs the entity trees of a store of format 5 or older (one record
    /// per entity) into blocks, in id order, a batch of records per
    /// transaction that also moves the tree's packing mark: what lies past
    /// the mark is still one record per key, what lies up to it is blocks,
    /// so an upgrade cut short goes on from the mark when the store is
    /// next opened.
    fn pack_entities(&self, from: u32) -> Result<(), StoreError> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        use sled::Transactional;
        use std::ops::Bound::{Excluded, Unbounded};

        tracing::warn!(path = %self.path().display(), from, "upgrading the store's format: packing entity records into blocks");
        let meta = self.tree(TreeRef::Meta)?;
        for kind in EntityKind::ALL {
            let tree_ref = TreeRef::Entity(kind);
            let name = self.name(tree_ref);
            let tree = self.tree(tree_ref)?;
            let mark = packing_mark(kind);
            let mut packed_to = meta.get(&mark).map_err(sled_err("reading the packing mark"))?;
            loop {
                let lower = packed_to.as_ref().map_or(Unbounded, |k| Excluded(k.to_vec()));
                let mut records = Vec::with_capacity(PACK_BATCH);
                for item in tree.range::<Vec<u8>, _>((lower, Unbounded)).take(PACK_BATCH) {
                    let (key, value) = item.map_err(sled_err(format!("packing `{name}`")))?;
                    records.push((key, value));
                }
                let Some(last) = records.last().map(|(key, _)| key.clone()) else {
                    break;
                };
                let mut packer = packed::Packer::new(packed::Limits::ENTITIES);
                let mut blocks = Vec::new();
                for (key, value) in &records {
                    blocks.extend(packer.push(key.to_vec(), value.to_vec()));
                }
                blocks.extend(packer.finish());
                (&tree, &meta)
                    .transaction(|(tree, meta)| {
                        for (key, _) in &records {
                            tree.remove(key)?;
                        }
                        for (key, block) in &blocks {
                            tree.insert(key.as_slice(), block.as_slice())?;
                        }
                        meta.insert(mark.as_slice(), &last)?;
                        Ok::<_, ConflictableTransactionError<StoreError>>(())
                    })
                    .map_err(|e| match e {
                        TransactionError::Abort(e) => e,
                        TransactionError::Storage(e) => sled_err(format!("packing `{name}`"))(e),
                    })?;
                packed_to = Some(last);
            }
        }
        self.flush()
    }

    /// Rebuilds the index trees `rebuild` picks from the entities, in the
    /// packed layout (a store of format 2 holds the same entities and one
    /// record per index entry; one of format 3 or 4 an older search tree).
    /// The format version is written after this returns, so a rebuild cut
    /// short is simply done again at the next start.
    fn rebuild_indexes(&self, from: u32, rebuild: fn(TreeRef) -> bool) -> Result<(), StoreError> {
        tracing::warn!(path = %self.path().display(), from, "upgrading the store's format: rebuilding indexes");
        for (tree_ref, name) in trees::all_trees() {
            if trees::is_index(tree_ref) && rebuild(tree_ref) {
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
            for item in self.records(kind)? {
                let (key, value) = item?;
                let record = decode(self.name(tree_ref), &key, &value)?;
                for (tree, key, value) in index_entries(&record.entity) {
                    if !rebuild(tree) {
                        continue;
                    }
                    let position = self.position(tree);
                    let edit = match edits.entry(position) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => e.insert(packed::Edits::new(
                            &self.tree(tree)?,
                            self.name(tree),
                            packed::Limits::of(tree),
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
}

/// Refuses a store whose recorded format this build neither reads nor
/// upgrades ([`Store::check_format`] does the upgrading, after the log is
/// applied again).
fn refuse_unknown_format(path: &Path, handles: &Handles, meta: usize) -> Result<(), StoreError> {
    let stored = handles.trees[meta]
        .get(META_FORMAT)
        .map_err(sled_err("reading the format version"))?;
    let Some(stored) = stored else { return Ok(()) };
    let found = <[u8; 4]>::try_from(stored.as_ref())
        .map(u32::from_be_bytes)
        .unwrap_or(u32::MAX);
    if UPGRADED_FORMATS.contains(&found) || found == FORMAT_VERSION {
        return Ok(());
    }
    Err(StoreError::UnknownFormat {
        path: path.to_owned(),
        found,
        expected: FORMAT_VERSION,
    })
}
