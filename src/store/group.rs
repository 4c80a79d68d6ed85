//! Group commit: concurrent writers share one log sync.
//!
//! Writers take turns, under the pipeline lock, staging their changes into
//! the *open group*: one [`Batch`] that each member extends, so a member
//! sees what the members before it wrote (a batch tracks its own changes),
//! and each member gets the next generation. The member that finds nobody
//! else waiting to join (or the group full, in bytes) seals the group and
//! lands it: logs it as one record and syncs the log once
//! ([`super::log`]), applies it to sled in one transaction, moves the
//! generation, announces every member's commit in order, and wakes the
//! members. Until the group has landed, nothing of it is in sled, so no
//! reader can see it; a group the disk refuses leaves sled untouched.
//!
//! Writers that arrive while a group lands wait for it (a batch reads sled,
//! which must hold every earlier group) and then form the next group
//! together. A member whose changes fail (a missing reference, a cycle)
//! leaves the group as it was before it joined.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::batch::Batch;
use super::{log, read_u64, Changed, Committed, Store, StoreError, META_GENERATION};

/// A group stops taking members once their entities add up to this many
/// bytes (index blocks come on top): what bounds a log record and the
/// memory a group holds.
pub(super) const GROUP_BYTES: usize = 4 * 1024 * 1024;

/// Bytes a change is counted for beyond its entity (its index entries).
const CHANGE_OVERHEAD_BYTES: usize = 256;

/// The write pipeline's state, under the store's pipeline lock.
#[derive(Default)]
pub(super) struct Pipeline {
    /// The group writers are joining, if any.
    open: Option<Group>,
    /// Whether a sealed group is being logged and applied.
    landing: bool,
    /// Writers waiting for a landing to end, to join the next group.
    waiting: usize,
}

/// Writes staged together, landed with one log sync.
struct Group {
    batch: Batch,
    /// The generation before the group: member `i` commits `base + i + 1`.
    base: u64,
    members: Vec<Member>,
    bytes: usize,
    landed: Arc<Landed>,
}

struct Member {
    committed: Arc<Committed>,
    /// Whether subscribers hear of it (seed loads are not announced).
    announce: bool,
}

/// Why a group did not land.
#[derive(Clone, Debug)]
enum Refused {
    /// The disk refused it (full, failing): members answer
    /// `StoreError::Unavailable` with this reason.
    Disk(String),
    /// Anything else (a bug, a corrupt record): an internal error, whose
    /// text goes to the log, not to clients.
    Other(String),
}

impl Refused {
    fn into_error(self) -> StoreError {
        match self {
            Refused::Disk(reason) => StoreError::Unavailable { reason },
            Refused::Other(message) => StoreError::Task(message),
        }
    }
}

/// How a group's landing ended, for its members to wait on.
#[derive(Default)]
struct Landed {
    outcome: Mutex<Option<Result<(), Refused>>>,
    done: Condvar,
}

impl Landed {
    fn set(&self, outcome: Result<(), Refused>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), Refused> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return outcome.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A panic caught while staging, to be resumed once the pipeline is in order.
type Panic = Box<dyn std::any::Any + Send>;

/// How a writer takes part in a group.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Join {
    /// With whoever else writes at the same time.
    Shared,
    /// In a group of its own, staged against sled alone (a delete reads
    /// the relation indexes, which a batch does not track).
    Alone,
}

/// A store error that stopped a group, as its members will report it.
fn refused(error: StoreError) -> Refused {
    match error {
        StoreError::Unavailable { reason } => Refused::Disk(reason),
        other => Refused::Other(other.to_string()),
    }
}

impl Store {
    fn lock_pipeline(&self) -> MutexGuard<'_, Pipeline> {
        self.inner.pipeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pipeline lock, once no group is open or landing: for work that
    /// writes sled directly (a bulk load) and must not interleave with groups.
    pub(super) fn idle_pipeline(&self) -> MutexGuard<'_, Pipeline> {
        let mut pipeline = self.lock_pipeline();
        while pipeline.landing || pipeline.open.is_some() {
            pipeline = self.inner.turn.wait(pipeline).unwrap_or_else(|p| p.into_inner());
        }
        pipeline
    }

    /// The pipeline lock if it is free and no group is open or landing.
    pub(super) fn try_idle_pipeline(&self) -> Option<MutexGuard<'_, Pipeline>> {
        let pipeline = self.inner.pipeline.try_lock().ok()?;
        (!pipeline.landing && pipeline.open.is_none()).then_some(pipeline)
    }

    /// Stages a write with `stage` (which extends the group's batch and
    /// says what changed), waits until its group is durable and applied,
    /// and returns its commit. Announced to subscribers if `announce`.
    pub(super) fn write_in_group<T, E: From<StoreError>>(
        &self,
        join: Join,
        announce: bool,
        stage: impl FnOnce(&mut Batch) -> Result<(Vec<Changed>, T), E>,
    ) -> Result<(Arc<Committed>, T), E> {
        let alone = join == Join::Alone;
        let mut pipeline = self.lock_pipeline();
        if !alone {
            pipeline.waiting += 1;
        }
        while pipeline.landing || (alone && pipeline.open.is_some()) {
            pipeline = self.inner.turn.wait(pipeline).unwrap_or_else(|p| p.into_inner());
        }
        if !alone {
            pipeline.waiting -= 1;
        }
        // A stage that panics has been undone (see `stage_in`); the panic
        // goes on once the group is sealed if this writer was to seal it,
        // so no member is left waiting for a landing nobody starts.
        let staged = self.stage_in(&mut pipeline, announce, stage);
        let landed = pipeline.open.as_ref().map(|g| g.landed.clone());
        let seal = pipeline
            .open
            .as_ref()
            .is_some_and(|g| alone || pipeline.waiting == 0 || g.bytes >= GROUP_BYTES);
        if seal {
            let group = pipeline.open.take();
            pipeline.landing = true;
            drop(pipeline);
            if let Some(group) = group {
                self.land(group);
            }
        } else {
            drop(pipeline);
        }
        let (committed, value) = staged.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        if let Some(landed) = landed {
            landed.wait().map_err(|refusal| E::from(refusal.into_error()))?;
        }
        Ok((committed, value))
    }

    /// Stages one member into the open group (opening one if needed). A
    /// stage that fails or panics leaves the group as it was before it
    /// began (a panic is handed back, to go on once the pipeline is left
    /// in order): whatever it staged would otherwise land with the next
    /// member's changes.
    fn stage_in<T, E: From<StoreError>>(
        &self,
        pipeline: &mut Pipeline,
        announce: bool,
        stage: impl FnOnce(&mut Batch) -> Result<(Vec<Changed>, T), E>,
    ) -> Result<Result<(Arc<Committed>, T), E>, Panic> {
        // First, so a database left closed by a fault is reopened before
        // the batch reads it.
        if let Err(e) = self.ensure_writable() {
            return Ok(Err(e.into()));
        }
        let base = match pipeline.open.as_ref() {
            Some(group) => group.base,
            None => match self.meta_get(META_GENERATION) {
                Ok(generation) => read_u64(generation),
                Err(e) => return Ok(Err(e.into())),
            },
        };
        let group = match &mut pipeline.open {
            Some(group) => group,
            empty => empty.insert(Group {
                batch: Batch::new(self.clone()),
                base,
                members: Vec::new(),
                bytes: 0,
                landed: Arc::default(),
            }),
        };
        let before = (!group.members.is_empty()).then(|| group.batch.clone());
        // The batch is put back as it was whatever the stage left it in,
        // so nothing it holds is observed half-made.
        let staged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stage(&mut group.batch)));
        let staged = match staged {
            Ok(Ok(staged)) => Ok(staged),
            Ok(Err(e)) => Err(Ok(e)),
            Err(panic) => Err(Err(panic)),
        };
        Ok(match staged {
            Ok((changes, value)) => {
                group.bytes += changes
                    .iter()
                    .map(|c| {
                        CHANGE_OVERHEAD_BYTES
                            + c.entity
                                .as_ref()
                                .and_then(|e| postcard::to_allocvec(e).ok())
                                .map_or(0, |bytes| bytes.len())
                    })
                    .sum::<usize>();
                let committed = Arc::new(Committed {
                    generation: group.base + group.members.len() as u64 + 1,
                    changes,
                });
                group.members.push(Member {
                    committed: committed.clone(),
                    announce,
                });
                Ok((committed, value))
            }
            Err(failed) => {
                match before {
                    Some(batch) => group.batch = batch,
                    None => pipeline.open = None,
                }
                return failed.map(Err);
            }
        })
    }

    /// Logs a sealed group, applies it, announces its commits and wakes its
    /// members; then lets the next group form.
    fn land(&self, group: Group) {
        let last = group.base + group.members.len() as u64;
        let outcome = self.log_and_apply(group.batch, group.base + 1, last);
        let mut checkpoint = None;
        if outcome.is_ok() {
            // Caches key on this: it moves only now that the group is
            // durable and in sled.
            self.bump_generation(last);
            if self.fault().is_some() {
                tracing::info!(path = %self.inner.path.display(), "the disk takes writes again");
                self.set_fault(None);
            }
            self.inner
                .writes
                .fetch_add(group.members.len() as u64, Ordering::Relaxed);
            for member in group.members.iter().filter(|m| m.announce) {
                // No subscribers is not an error.
                let _ = self.inner.announce.send(member.committed.clone());
            }
            checkpoint = self.rotate_log_if_due(last);
        }
        self.lock_pipeline().landing = false;
        self.inner.turn.notify_all();
        group.landed.set(outcome);
        if let Some(sequence) = checkpoint {
            self.checkpoint(sequence, last);
        }
    }

    /// Appends the group to the log and syncs it, then applies it to sled in
    /// one transaction. A failure leaves sled as it was (cutting the record
    /// back out of the log when sled refused it).
    fn log_and_apply(&self, batch: Batch, first: u64, last: u64) -> Result<(), Refused> {
        let writes = batch.into_writes(last);
        // Before logging: a group logged and then not applied would come
        // back when the log is next applied again.
        let live = self.live().map_err(refused)?;
        let mut log = self
            .inner
            .log
            .as_ref()
            .map(|log| log.lock().unwrap_or_else(|p| p.into_inner()));
        let start = log.as_ref().map(|log| log.end());
        if let Some(log) = log.as_mut() {
            let record = log::encode(first, last, &writes, &self.inner.names);
            if let Err(e) = log.append(&record) {
                drop(live);
                // Too large for a record is the write's fault, not the disk's.
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    return Err(Refused::Other(e.to_string()));
                }
                return Err(Refused::Disk(self.log_fault(&e)));
            }
            self.inner.log_syncs.fetch_add(1, Ordering::Relaxed);
        }
        let result = live.trees.as_slice().transaction(|tx| {
            for (position, key, value) in &writes {
                match value {
                    Some(value) => tx[*position].insert(key.as_slice(), value.as_slice())?,
                    None => tx[*position].remove(key.as_slice())?,
                };
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        });
        drop(live);
        let error = match result {
            Ok(()) => return Ok(()),
            Err(TransactionError::Abort(e)) => return Err(refused(e)),
            Err(TransactionError::Storage(e)) => e,
        };
        // sled keeps an I/O error once it has had one (a checkpoint's flush
        // on a full disk, say), and refuses every write after it, even with
        // room again. The group is durable in the log: reopening the
        // database applies the log again, this group included.
        // (The log is held here: the replay limit comes from it directly.)
        let limit = log.as_ref().and_then(|log| log.replay_limit());
        if log.is_some() && self.reopen_until(limit).is_ok() && self.generation().is_ok_and(|g| g >= last) {
            tracing::info!(path = %self.inner.path.display(), error = %error, "sled refused a logged write; reopened and applied it from the log");
            return Ok(());
        }
        // Logged but not applied: cut it back out, so the replay after the
        // reopen does not bring back a write its writers were told failed.
        if let (Some(log), Some(start)) = (log.as_mut(), start) {
            log.cut_back(start);
        }
        drop(log);
        Err(refused(self.disk_fault("applying a logged write", error)))
    }

    /// Starts a new log file when a checkpoint is due (under the landing,
    /// so every group up to `generation` is in sled); returns its sequence.
    fn rotate_log_if_due(&self, generation: u64) -> Option<u64> {
        let mut log = self.inner.log.as_ref()?.lock().unwrap_or_else(|p| p.into_inner());
        if !log.checkpoint_due() || self.inner.checkpointing.swap(true, Ordering::AcqRel) {
            return None;
        }
        match log.rotate() {
            Ok(sequence) => Some(sequence),
            Err(e) => {
                tracing::warn!(error = %e, generation, "could not start a new write-ahead log file");
                self.inner.checkpointing.store(false, Ordering::Release);
                None
            }
        }
    }

    /// Flushes sled, then deletes the log files before `sequence` (every
    /// group in them, up to `generation`, is now in sled's files). A failed
    /// flush keeps the files: the next start applies them again.
    fn checkpoint(&self, sequence: u64, generation: u64) {
        match self.flush() {
            Ok(()) => {
                log::remove_before(&self.inner.path, sequence);
                self.record_acknowledged(generation);
            }
            Err(e) => tracing::warn!(error = %e, generation, "checkpoint failed: the write-ahead log is kept"),
        }
        self.inner.checkpointing.store(false, Ordering::Release);
    }

    /// Log syncs since the process started: each lands one group of writes.
    pub fn log_syncs(&self) -> u64 {
        self.inner.log_syncs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::faults::injected;
    use crate::store::open::DEFAULT_CACHE_BYTES;
    use crate::store::tests::{actor, create, has_actor as has};
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;

    /// A write whose stage puts actor `n` in the batch, then panics.
    fn panicking_write(store: &Store, n: usize) -> std::thread::Result<()> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = store.write_in_group::<(), StoreError>(Join::Shared, true, |batch| {
                batch.apply(&create(actor(n)))?;
                panic!("a bug while staging actor {n}")
            });
        }))
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "waited 10 s for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_stage_that_panics_leaves_nothing_in_the_group_and_strands_no_member() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();

        // Alone: what it staged is not committed with the next write.
        assert!(panicking_write(&store, 1).is_err(), "the panic goes on to its writer");
        store.commit(&[create(actor(2))]).unwrap();
        assert!(!has(&store, 1), "a panicking stage left its change in the group");
        assert!(has(&store, 2));

        // In a group with another member, whichever of the two stages first.
        // A landing is held open while both arrive, so they form the next
        // group together.
        let faults = injected::inject(&store);
        faults.hold.store(true, SeqCst);
        let landing = std::thread::spawn({
            let store = store.clone();
            move || store.commit(&[create(actor(3))]).map(|_| ())
        });
        wait_until("the landing", || store.lock_pipeline().landing);
        let (member, answer) = std::sync::mpsc::channel();
        std::thread::spawn({
            let store = store.clone();
            move || member.send(store.commit(&[create(actor(4))]).map(|_| ()))
        });
        let panicking = std::thread::spawn({
            let store = store.clone();
            move || panicking_write(&store, 5)
        });
        wait_until("both writers", || store.lock_pipeline().waiting == 2);
        faults.hold.store(false, SeqCst);
        landing.join().unwrap().unwrap();
        let member = answer
            .recv_timeout(Duration::from_secs(10))
            .expect("the member that staged beside the panicking one is not left waiting");
        member.unwrap();
        assert!(panicking.join().unwrap().is_err());
        store.commit(&[create(actor(6))]).unwrap();
        assert!(has(&store, 3) && has(&store, 4) && has(&store, 6));
        assert!(!has(&store, 5), "a panicking stage left its change in the group");
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn only_the_disk_makes_a_refused_group_storage_unavailable() {
        let disk = refused(StoreError::Unavailable { reason: "full".into() }).into_error();
        assert!(matches!(disk, StoreError::Unavailable { reason } if reason == "full"));
        let corrupt = StoreError::Corrupt {
            tree: "actors",
            key: "actor/x".into(),
            reason: "bad bytes".into(),
        };
        let internal = refused(corrupt).into_error();
        assert!(
            matches!(internal, StoreError::Task(message) if message.contains("actor/x")),
            "an internal error, not the disk's"
        );
    }
}
