//! Disk faults: the free-space floor, the reserve file that lets sled
//! reopen on a full disk, reopening the database to drop a write the disk
//! refused, and the probe that tells when writes can resume.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::error::sled_err;
use super::open::open_db;
use super::trees::TreeRef;
use super::{log, Handles, Store, StoreError, META_PROBE};

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

/// Makes the reserve file (all of it, or nothing); whether it exists now.
pub(super) fn make_reserve(dir: &Path) -> bool {
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

/// How long a reading of the free space serves the floor check, while it
/// was far above the floor (see [`Store::free_bytes_lately`]).
pub(super) const FREE_READING_AGE: std::time::Duration = std::time::Duration::from_millis(100);

/// How far above the floor a reading must be to serve again.
pub(super) const FREE_READING_SLACK: u64 = 256 * 1024 * 1024;

/// Free bytes on the filesystem holding `path` (`None` if it cannot be told).
fn free_bytes(path: &Path) -> Option<u64> {
    fs2::available_space(path).ok()
}

impl Store {
    /// Sets the free space the data directory's filesystem must keep for
    /// writes to run (0: none).
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.inner.min_free_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Writes refused or failed because of the disk since the process started.
    pub fn storage_errors(&self) -> u64 {
        self.inner.storage_errors.load(Ordering::Relaxed)
    }

    pub(super) fn fault(&self) -> Option<String> {
        self.inner.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn set_fault(&self, reason: Option<String>) {
        *self.inner.fault.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    /// Refuses a write while the disk is under the free-space floor.
    fn check_floor(&self) -> Result<(), StoreError> {
        let floor = self.inner.min_free_bytes.load(Ordering::Relaxed);
        if floor == 0 || self.inner.cache_bytes.is_none() {
            return Ok(());
        }
        match self.free_bytes_lately(floor) {
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

    /// The data directory's free space for the floor check: a reading up to
    /// [`FREE_READING_AGE`] old while it was at least [`FREE_READING_SLACK`]
    /// above `floor`, else a new one. A filesystem call per write cost
    /// more than the rest of the check; the disk cannot lose that much to
    /// this server's writes (a group is at most a few MiB) in that time,
    /// and a disk that fills regardless still refuses the log append,
    /// which leaves no trace (see `docs/failure-modes.md`).
    fn free_bytes_lately(&self, floor: u64) -> Option<u64> {
        let mut seen = self.inner.free_seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if let Some((at, free)) = *seen {
            if now.duration_since(at) < FREE_READING_AGE && free >= floor.saturating_add(FREE_READING_SLACK) {
                return Some(free);
            }
        }
        let free = free_bytes(&self.inner.path);
        *seen = free.map(|free| (now, free));
        free
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

    /// Under the pipeline lock, before a write: refuses it while the disk is
    /// under the floor, or still full after a fault (then without trying),
    /// and after a fault reopens the database if it is not open (the write
    /// is then the probe that tells whether the fault is gone).
    pub(super) fn ensure_writable(&self) -> Result<(), StoreError> {
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

    /// A group the write-ahead log could not take (the disk is full or
    /// failing): counted and logged. Nothing of it reached sled, so nothing
    /// of it was ever visible; the log was cut back to its last whole
    /// record. Returns the reason its writers are given.
    pub(super) fn log_fault(&self, error: &std::io::Error) -> String {
        self.inner.storage_errors.fetch_add(1, Ordering::Relaxed);
        let reason = format!("the disk refused a write to {} ({error})", self.inner.path.display());
        tracing::error!(error = %error, path = %self.inner.path.display(), "write-ahead log append failed");
        self.set_fault(Some(reason.clone()));
        format!("{reason}; nothing of it was kept, and writes resume once the disk has room")
    }

    /// Cuts off what a failed cut left in the write-ahead log, if anything
    /// (see [`log::Log::make_whole`]): `Unavailable` while it cannot be.
    fn make_log_whole(&self) -> Result<(), StoreError> {
        let Some(log) = self.inner.log.as_ref() else {
            return Ok(());
        };
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        log.make_whole().map_err(|e| {
            self.inner.storage_errors.fetch_add(1, Ordering::Relaxed);
            StoreError::Unavailable { reason: e.to_string() }
        })
    }

    /// A write the disk let down after it was logged (sled refused it):
    /// counted, logged, and made invisible. sled has applied the transaction in memory and
    /// refuses every write after an I/O error until the database is opened
    /// again, so it is reopened from what is on disk: the refused write is
    /// gone, and so is anything a cache took from it (the generation moves).
    pub(super) fn disk_fault(&self, context: &str, error: sled::Error) -> StoreError {
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

    /// Closes the database and opens it again from disk, and applies the
    /// write-ahead log to it again (every acknowledged group comes back;
    /// a group sled refused was cut out of the log first). Runs while no
    /// group is staged or landing (or by the landing group itself, through
    /// [`Store::reopen_until`], since it holds the log). Readers get
    /// `Unavailable` for the few milliseconds it takes.
    pub(super) fn reopen(&self) -> Result<(), StoreError> {
        let limit = self
            .inner
            .log
            .as_ref()
            .and_then(|log| log.lock().unwrap_or_else(|p| p.into_inner()).replay_limit());
        self.reopen_until(limit)
    }

    /// [`Store::reopen`], the log applied again up to `limit` (what the
    /// log could not cut off is left out: see [`log::Log::replay_limit`]).
    pub(super) fn reopen_until(&self, limit: Option<(u64, u64)>) -> Result<(), StoreError> {
        let Some(cache_bytes) = self.inner.cache_bytes else {
            return Ok(());
        };
        let taken = self.inner.handles.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
        #[cfg(test)]
        while self.inner.hooks.hold_reopen.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Scans in flight hold tree handles, and with them sled's lock on
        // the database file: they end within milliseconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let db = loop {
            match open_db(&self.inner.path, cache_bytes) {
                Ok(db) => break db,
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => return Err(e),
            }
        };
        let handles = Handles::new(db, &self.inner.names)?;
        let replayed = log::replay(
            &self.inner.path,
            &handles,
            &self.inner.names,
            self.position(TreeRef::Meta),
            limit,
        )?;
        self.inner
            .log_damage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(replayed.damage);
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
        let Some(_pipeline) = self.try_idle_pipeline() else {
            return Err(reason);
        };
        let probe = || -> Result<(), StoreError> {
            self.make_log_whole()?;
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
}

/// A log file that fails on command, for tests of what the store does
/// when the disk lets it down.
#[cfg(test)]
pub(super) mod injected {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use crate::store::log::LogFile;
    use crate::store::Store;

    /// Puts a [`FaultyFile`] in place of `store`'s log file; the faults it
    /// obeys, all off.
    pub(in crate::store) fn inject(store: &Store) -> Arc<Faults> {
        let faults = Arc::new(Faults::default());
        let log = store.inner.log.as_ref().expect("a store on disk has a log");
        log.lock().unwrap_or_else(|p| p.into_inner()).wrap_file(|file| {
            Box::new(FaultyFile {
                file,
                faults: faults.clone(),
            })
        });
        faults
    }

    /// Faults in the store's own write path (see `Inner::hooks`).
    #[derive(Default)]
    pub(in crate::store) struct Hooks {
        /// The next group's sled transaction fails as on a disk fault.
        pub(in crate::store) refuse_apply: std::sync::atomic::AtomicBool,
        /// A reopen waits, with the old database closed, while this is set.
        pub(in crate::store) hold_reopen: std::sync::atomic::AtomicBool,
        /// When not 0, the next group applied write by write stops after
        /// this many of its writes: as a crash leaves sled, or, with
        /// `cut_refuses`, failing as on a disk fault.
        pub(in crate::store) cut_apply_after: std::sync::atomic::AtomicUsize,
        pub(in crate::store) cut_refuses: std::sync::atomic::AtomicBool,
    }

    /// Disk faults a test switches on and off, obeyed by a [`FaultyFile`].
    #[derive(Default)]
    pub(in crate::store) struct Faults {
        /// Appends write half their bytes, then fail as on a full disk.
        pub(in crate::store) appends: std::sync::atomic::AtomicBool,
        /// Cutting the file back fails.
        pub(in crate::store) truncates: std::sync::atomic::AtomicBool,
        /// Appends wait while this is set (a landing held open).
        pub(in crate::store) hold: std::sync::atomic::AtomicBool,
    }

    /// A log file that fails when its [`Faults`] say so.
    pub(in crate::store) struct FaultyFile {
        pub(in crate::store) file: Box<dyn LogFile>,
        pub(in crate::store) faults: Arc<Faults>,
    }

    impl LogFile for FaultyFile {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            while self.faults.hold.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if self.faults.appends.load(Ordering::SeqCst) {
                self.file.append(&bytes[..bytes.len() / 2])?;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left on device (injected)",
                ));
            }
            self.file.append(bytes)
        }

        fn fill(&mut self, from: u64, to: u64) -> std::io::Result<()> {
            if self.faults.appends.load(Ordering::SeqCst) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left on device (injected)",
                ));
            }
            self.file.fill(from, to)
        }

        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            if self.faults.truncates.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("truncate refused (injected)"));
            }
            self.file.truncate(len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open::DEFAULT_CACHE_BYTES;
    use crate::store::tests::{actor, create};
    use std::time::{Duration, Instant};

    #[test]
    fn a_free_space_reading_serves_the_floor_check_only_while_recent_and_far_above_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();
        let free = free_bytes(&store.inner.path).unwrap();
        // A floor above what the disk has: a fresh reading refuses writes.
        let floor = free + 1024 * 1024 * 1024;
        store.set_min_free_bytes(floor);
        let fake = |age: Duration, free: u64| {
            *store.inner.free_seen.lock().unwrap() = Some((Instant::now() - age, free));
        };
        // A recent reading far above the floor is taken as it is.
        fake(Duration::ZERO, floor + FREE_READING_SLACK);
        store.commit(&[create(actor(1))]).unwrap();
        // An old one is read again: the disk is under the floor.
        fake(FREE_READING_AGE, floor + FREE_READING_SLACK);
        let refused = store.commit(&[create(actor(2))]).unwrap_err();
        assert!(matches!(refused, StoreError::Unavailable { .. }), "{refused:?}");
        // So is a recent one that was near the floor.
        fake(Duration::ZERO, floor + FREE_READING_SLACK - 1);
        assert!(store.commit(&[create(actor(3))]).is_err());
        // The reading the refusals took is kept, and it is under the floor.
        assert!(store.inner.free_seen.lock().unwrap().is_some_and(|(_, f)| f < floor));
        assert!(store.commit(&[create(actor(4))]).is_err());
        store.set_min_free_bytes(0);
        store.commit(&[create(actor(5))]).unwrap();
    }
}
