//! Group commit: concurrent writers share one log sync, and the next group
//! forms while one lands.
//!
//! Writers take turns, under the pipeline lock, staging their changes into
//! the *open group*: one [`Batch`] that each member extends, so a member
//! sees what the members before it wrote (a batch tracks its own changes),
//! and each member gets the next generation. A group is sealed as soon as
//! no other is landing, by the thread that leads the pipeline then, and
//! landed: logged as one record and the log synced once ([`super::log`]),
//! applied to sled (write by write, its generation last, or in one
//! transaction when it deletes: see [`Store::apply_in_order`]), the
//! generation moved, every member's commit announced in order, and the
//! members woken. Until a group is durable in the log, nothing of it is in
//! sled, so no reader can see it; a group the disk refuses leaves sled
//! untouched.
//!
//! One thread at a time leads ([`Store::lead`]): the first writer to stage
//! while none does. A thread writing leads until its own group has landed
//! and hands what is left to a thread of its own; a task writing
//! ([`Store::write_in_group_async`], what the API's mutations use) stages
//! on its own thread and hands the lead to the blocking pool at once,
//! then awaits its landing. So a write costs no thread of its own: the
//! tasks of a group are woken together when it lands.
//!
//! Landings are pipelined: writers that arrive while a group lands stage
//! into the next group at once, over a batch that goes on from the landing
//! one ([`Batch::continued`]: it reads what the landing group leaves, not
//! sled, which may or may not hold it yet), and that group is sealed and
//! its sync started the moment the landing ends, with everyone who arrived
//! meanwhile. So a sync is never idle while writers wait, and every writer
//! that arrives during a sync shares the next one. Once the landing group
//! is in sled, the next group's batch drops what it only repeated of it
//! ([`Batch::prune`]), so a group logs and applies only its own changes.
//! At most two groups exist at once (one landing, one open), each bounded
//! by [`GROUP_BYTES`]: a writer that finds the open group full waits.
//!
//! Should the landing group fail (the disk refused it), the group staged
//! over it fails with it, with the same reason: its members read a state
//! that never came to be. A member whose own changes fail (a missing
//! reference, a cycle) leaves the group as it was before it joined.
//! Writers that need sled to hold every earlier group (a delete reads the
//! relation indexes, which a batch does not track; a bulk load or a clear
//! writes sled directly) wait until nothing is open or landing, and no new
//! group opens while one of them waits.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::batch::{Batch, Write};
use super::{log, read_u64, Changed, Committed, Store, StoreError, META_GENERATION};

/// A group stops taking members once their entities add up to this many
/// bytes (index blocks come on top): what bounds a log record and the
/// memory a group holds.
pub(super) const GROUP_BYTES: usize = 4 * 1024 * 1024;

/// Bytes a change is counted for beyond its entity (its index entries).
const CHANGE_OVERHEAD_BYTES: usize = 256;

/// The longest a group waits, once it could be sealed, for writes on their
/// way to join it (see [`Pipeline::gather_until`]).
pub(super) const GATHER: Duration = Duration::from_micros(1000);

/// The write pipeline's state, under the store's pipeline lock.
pub(super) struct Pipeline {
    /// The group writers are joining, if any.
    open: Option<Group>,
    /// Whether a sealed group is being logged and applied.
    landing: bool,
    /// Whether a thread leads the pipeline: seals the open group, lands it,
    /// and goes on with the next while there is one (see [`Store::lead`]).
    /// Whenever a group is open or landing, one does.
    lander: bool,
    /// The landing group's batch and last generation, while it lands: a
    /// group opened meanwhile goes on from them.
    landing_view: Option<(Arc<Batch>, u64)>,
    /// Whether the landing group is reopening the database (sled refused
    /// it): no new group may open over the old database's trees meanwhile.
    reopening: bool,
    /// Writers waiting for the pipeline to themselves (see [`Join::Alone`],
    /// [`Store::idle_pipeline`]): no new group opens while there are any.
    exclusive: usize,
    /// Groups sealed so far, and their members (for tests and metrics).
    pub(super) sealed: Sealed,
    /// How long a group may wait for writes on their way ([`GATHER`];
    /// tests make it long, to tell a wait from an end).
    gather: Duration,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline {
            open: None,
            landing: false,
            lander: false,
            landing_view: None,
            reopening: false,
            exclusive: 0,
            sealed: Sealed::default(),
            gather: GATHER,
        }
    }
}

/// How many groups were sealed and how many members they had.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// Groups sealed (one log sync each, unless refused before it).
    pub groups: u64,
    /// Members of those groups (writes).
    pub members: u64,
    /// The most members one group had.
    pub largest: u64,
}

/// Writes staged together, landed with one log sync.
struct Group {
    batch: Batch,
    /// The generation before the group: member `i` commits `base + i + 1`.
    base: u64,
    members: Vec<Member>,
    bytes: usize,
    landed: Arc<Landed>,
    /// Until when it may wait for writes on their way, once it could be
    /// sealed (set the first time it could).
    gather_until: Option<Instant>,
    /// Why the group cannot land, decided before it is sealed (the group it
    /// was staged over failed): its members get this.
    doomed: Option<Refused>,
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

    /// The refusal of a group staged over one refused with `self`.
    fn for_next(&self) -> Refused {
        match self {
            Refused::Disk(reason) => Refused::Disk(format!(
                "{reason} (it was refused together with the write before it, which it followed)"
            )),
            Refused::Other(message) => Refused::Other(format!("the write before it failed: {message}")),
        }
    }
}

/// How a group's landing ended, for its members to wait on: a thread
/// blocks on it ([`Landed::wait`]), a task awaits it ([`Landing`]).
#[derive(Default)]
pub(super) struct Landed {
    state: Mutex<LandedState>,
    done: Condvar,
}

#[derive(Default)]
struct LandedState {
    outcome: Option<Result<(), Refused>>,
    /// Tasks awaiting the outcome.
    wakers: Vec<Waker>,
}

impl Landed {
    fn set(&self, outcome: Result<(), Refused>) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        self.done.notify_all();
        for waker in wakers {
            waker.wake();
        }
    }

    fn is_set(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).outcome.is_some()
    }

    fn wait(&self) -> Result<(), Refused> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = state.outcome.as_ref() {
                return outcome.clone();
            }
            state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A task's wait for its group's landing.
struct Landing(Arc<Landed>);

impl std::future::Future for Landing {
    type Output = Result<(), Refused>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(outcome) = state.outcome.as_ref() {
            return std::task::Poll::Ready(outcome.clone());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        std::task::Poll::Pending
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

impl Pipeline {
    /// Whether nothing is open or landing (sled holds every group).
    fn idle(&self) -> bool {
        !self.landing && self.open.is_none()
    }

    /// Whether a shared writer may stage now: into the open group unless
    /// it is full or doomed, into a new one unless someone waits for the
    /// pipeline to themselves; and not at all while a group lands on a
    /// failing disk or reopening the database (a reopen must not meet a
    /// batch holding the old database's trees, or a second reopen).
    fn may_join(&self, faulty: bool) -> bool {
        if self.landing && (faulty || self.reopening) {
            return false;
        }
        match &self.open {
            Some(group) => group.doomed.is_none() && group.bytes < GROUP_BYTES,
            None => self.exclusive == 0,
        }
    }
}

impl Pipeline {
    /// Whether the open group (nothing landing) is to wait for more members
    /// rather than be sealed now, and until when: while writes are on their
    /// way that have not joined it (`coming` counts them with its members),
    /// for at most [`GATHER`] from the moment it could first be sealed.
    /// Never while it is full or doomed, or someone waits for the pipeline
    /// to themselves. A lone writer, or writers that all joined, seal at
    /// once: the wait is only ever for writers known to be coming, whose
    /// requests the CPU is working through meanwhile, so one log sync (and
    /// one transaction) serves more of them.
    fn gather_until(&mut self, coming: usize) -> Option<Instant> {
        let group = self.open.as_mut()?;
        if self.exclusive > 0 || group.doomed.is_some() || group.bytes >= GROUP_BYTES || coming <= group.members.len() {
            return None;
        }
        let now = Instant::now();
        let until = *group.gather_until.get_or_insert(now + self.gather);
        (now < until).then_some(until)
    }
}

/// A write on its way to the store, from before its request is parsed
/// until it is answered (see [`Store::write_coming`]).
pub struct WriteComing {
    store: Store,
}

impl Drop for WriteComing {
    fn drop(&mut self) {
        self.store.inner.coming.fetch_sub(1, Ordering::AcqRel);
        // A group gathering for it goes on without it.
        if self.store.inner.gathering.load(Ordering::Acquire) {
            self.store.inner.turn.notify_all();
        }
    }
}

impl Store {
    /// Notes a write on its way, until the guard is dropped: a group that
    /// could be sealed waits a little for the writes on their way (at most
    /// [`GATHER`]), so that they share its log sync. The HTTP layer takes
    /// one for each authorised mutation before it is executed.
    pub fn write_coming(&self) -> WriteComing {
        self.inner.coming.fetch_add(1, Ordering::AcqRel);
        WriteComing { store: self.clone() }
    }

    fn lock_pipeline(&self) -> MutexGuard<'_, Pipeline> {
        self.inner.pipeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_turn<'a>(&self, pipeline: MutexGuard<'a, Pipeline>) -> MutexGuard<'a, Pipeline> {
        self.inner.turn.wait(pipeline).unwrap_or_else(|p| p.into_inner())
    }

    /// The pipeline lock, once no group is open or landing: for work that
    /// writes sled directly (a bulk load) and must not interleave with groups.
    /// No new group opens while it waits.
    pub(super) fn idle_pipeline(&self) -> MutexGuard<'_, Pipeline> {
        let mut pipeline = self.lock_pipeline();
        pipeline.exclusive += 1;
        while !pipeline.idle() {
            pipeline = self.wait_turn(pipeline);
        }
        pipeline.exclusive -= 1;
        // Writers held back for this one may go once the lock is free.
        self.inner.turn.notify_all();
        pipeline
    }

    /// The pipeline lock if it is free and no group is open or landing.
    pub(super) fn try_idle_pipeline(&self) -> Option<MutexGuard<'_, Pipeline>> {
        let pipeline = self.inner.pipeline.try_lock().ok()?;
        pipeline.idle().then_some(pipeline)
    }

    /// Groups sealed since the store opened, and their members: how well
    /// concurrent writes share log syncs.
    pub fn sealed_groups(&self) -> Sealed {
        self.lock_pipeline().sealed
    }

    /// Stages a write with `stage` (which extends the group's batch and
    /// says what changed), waits until its group is durable and applied,
    /// and returns its commit. Announced to subscribers if `announce`.
    /// The calling thread blocks: a task uses [`Store::write_in_group_async`].
    pub(super) fn write_in_group<T, E: From<StoreError>>(
        &self,
        join: Join,
        announce: bool,
        stage: impl FnOnce(&mut Batch) -> Result<(Vec<Changed>, T), E>,
    ) -> Result<(Arc<Committed>, T), E> {
        let mut pipeline = match join {
            Join::Alone => self.idle_pipeline(),
            Join::Shared => {
                let mut pipeline = self.lock_pipeline();
                while !pipeline.may_join(self.fault().is_some()) {
                    pipeline = self.wait_turn(pipeline);
                }
                pipeline
            }
        };
        // A stage that panics has been undone (see `stage_in`); the panic
        // goes on once the pipeline is in order, so no member is left waiting.
        let (staged, mine, leads) = self.join_group(&mut pipeline, announce, stage);
        if leads {
            // The first to stage while no thread leads leads, here, until
            // its own group has landed.
            self.lead(pipeline, mine.as_ref());
        } else {
            drop(pipeline);
        }
        let (committed, value) = staged.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        if let Some(mine) = mine {
            mine.wait().map_err(|refusal| E::from(refusal.into_error()))?;
        }
        Ok((committed, value))
    }

    /// [`Store::write_in_group`] for a task, in a group shared with whoever
    /// writes at the same time: the write is staged on the calling thread
    /// when the pipeline is free to take it at once (the usual case: staging
    /// is short), and the task then awaits its group's landing, which a
    /// thread of the blocking pool leads, one for every group landed while
    /// writes keep coming. So concurrent writes cost no thread each: they
    /// wake when their group has landed, together. When the pipeline is
    /// busy (locked, its open group full, the disk at fault) the write
    /// goes to the blocking pool as it is.
    pub(super) async fn write_in_group_async<T, E, F>(&self, announce: bool, stage: F) -> Result<(Arc<Committed>, T), E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Batch) -> Result<(Vec<Changed>, T), E> + Send + 'static,
    {
        let stage = match self.stage_now(announce, stage) {
            Ok(Ok((committed, value, landed))) => {
                Landing(landed).await.map_err(|refusal| E::from(refusal.into_error()))?;
                return Ok((committed, value));
            }
            Ok(Err(e)) => return Err(e),
            Err(stage) => stage,
        };
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.write_in_group(Join::Shared, announce, stage)).await {
            Ok(outcome) => outcome,
            Err(e) => Err(E::from(StoreError::Task(format!("a write failed: {e}")))),
        }
    }

    /// Stages a write into the open group if the pipeline takes it at once,
    /// making sure a thread leads the group to its landing; hands `stage`
    /// back when it cannot without waiting.
    #[allow(clippy::type_complexity)]
    fn stage_now<T, E, F>(&self, announce: bool, stage: F) -> Result<Result<(Arc<Committed>, T, Arc<Landed>), E>, F>
    where
        E: From<StoreError>,
        F: FnOnce(&mut Batch) -> Result<(Vec<Changed>, T), E>,
    {
        // A fault may mean reopening the database before staging: not here.
        if self.fault().is_some() {
            return Err(stage);
        }
        let Ok(mut pipeline) = self.inner.pipeline.try_lock() else {
            return Err(stage);
        };
        if !pipeline.may_join(false) {
            return Err(stage);
        }
        let (staged, mine, leads) = self.join_group(&mut pipeline, announce, stage);
        drop(pipeline);
        if leads {
            self.spawn_lander();
        }
        Ok(match staged {
            Ok(Ok((committed, value))) => match mine {
                Some(mine) => Ok((committed, value, mine)),
                None => unreachable!("a staged write is in the open group"),
            },
            Ok(Err(e)) => Err(e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "a write panicked while staging; nothing of it was kept");
                Err(E::from(StoreError::Task(format!(
                    "a write panicked while staging: {what}"
                ))))
            }
        })
    }

    /// Stages a member (see [`Store::stage_in`]) and returns what staging
    /// gave, the landing its group will have (`None` unless it staged), and
    /// whether the caller is to lead: no thread did, and a group is open
    /// (`lander` is set for the caller then). A group gathering writes on
    /// its way is woken: it may have them all now.
    #[allow(clippy::type_complexity)]
    fn join_group<T, E: From<StoreError>>(
        &self,
        pipeline: &mut Pipeline,
        announce: bool,
        stage: impl FnOnce(&mut Batch) -> Result<(Vec<Changed>, T), E>,
    ) -> (Result<Result<(Arc<Committed>, T), E>, Panic>, Option<Arc<Landed>>, bool) {
        let staged = self.stage_in(pipeline, announce, stage);
        let mine = match &staged {
            Ok(Ok(_)) => pipeline.open.as_ref().map(|g| g.landed.clone()),
            _ => None,
        };
        if self.inner.gathering.load(Ordering::Acquire) {
            self.inner.turn.notify_all();
        }
        let leads = pipeline.open.is_some() && !pipeline.lander;
        if leads {
            pipeline.lander = true;
        }
        (staged, mine, leads)
    }

    /// Leads from a thread of its own (`lander` is already set for it).
    fn spawn_lander(&self) {
        self.in_background("lander", |store| {
            let pipeline = store.lock_pipeline();
            store.lead(pipeline, None);
        });
    }

    /// Runs `work` on a thread of the blocking pool, or outside a runtime on
    /// a thread of its own (`diplograph-NAME`); here, should no thread start.
    fn in_background(&self, name: &str, work: impl Fn(&Store) + Send + Sync + 'static) {
        let work = Arc::new(work);
        let (store, there) = (self.clone(), work.clone());
        let run = move || there(&store);
        let started = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                drop(runtime.spawn_blocking(run));
                Ok(())
            }
            Err(_) => std::thread::Builder::new()
                .name(format!("diplograph-{name}"))
                .spawn(run)
                .map(drop),
        };
        if let Err(e) = started {
            tracing::warn!(error = %e, work = name, "could not start a thread; running it here");
            work(self);
        }
    }

    /// Leads the pipeline (under the lock, `lander` set for this thread):
    /// seals the open group as soon as nothing lands and no write it waits
    /// for is still on its way, lands it, and goes on with the next group
    /// while there is one. A thread that has a write of its own in it
    /// (`mine`) leads until that write's group has landed, and hands the
    /// rest to a new thread, so that its own caller is answered.
    fn lead<'a>(&'a self, mut pipeline: MutexGuard<'a, Pipeline>, mine: Option<&Arc<Landed>>) {
        let mut checkpoints = Vec::new();
        loop {
            let done = mine.is_some_and(|m| m.is_set());
            if pipeline.open.is_none() || done {
                if pipeline.open.is_some() {
                    drop(pipeline);
                    self.spawn_lander();
                } else {
                    pipeline.lander = false;
                    drop(pipeline);
                    // Whoever waits for the pipeline to themselves.
                    self.inner.turn.notify_all();
                }
                break;
            }
            match pipeline.gather_until(self.inner.coming.load(Ordering::Acquire)) {
                Some(until) => {
                    self.inner.gathering.store(true, Ordering::Release);
                    let wait = until.saturating_duration_since(Instant::now());
                    pipeline = self
                        .inner
                        .turn
                        .wait_timeout(pipeline, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                None => {
                    self.inner.gathering.store(false, Ordering::Release);
                    let checkpoint;
                    (pipeline, checkpoint) = self.seal(pipeline);
                    checkpoints.extend(checkpoint);
                    // A checkpoint (a sled flush) must not hold up the
                    // groups waiting to land: another thread takes it.
                    if pipeline.open.is_some() {
                        for (sequence, last) in checkpoints.drain(..) {
                            self.in_background("checkpoint", move |store| store.checkpoint(sequence, last));
                        }
                    }
                }
            }
        }
        for (sequence, last) in checkpoints {
            self.checkpoint(sequence, last);
        }
    }

    /// Stages one member into the open group (opening one if needed: over
    /// the landing group's batch while one lands). A stage that fails or
    /// panics leaves the group as it was before it began (a panic is handed
    /// back, to go on once the pipeline is left in order): whatever it
    /// staged would otherwise land with the next member's changes.
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
        if pipeline.open.is_none() {
            let (batch, base) = match &pipeline.landing_view {
                Some((landing, last)) => (landing.continued(), *last),
                None => match self.meta_get(META_GENERATION) {
                    Ok(generation) => (Batch::new(self.clone()), read_u64(generation)),
                    Err(e) => return Ok(Err(e.into())),
                },
            };
            pipeline.open = Some(Group {
                batch,
                base,
                members: Vec::new(),
                bytes: 0,
                landed: Arc::default(),
                gather_until: None,
                doomed: None,
            });
        }
        let Some(group) = pipeline.open.as_mut() else {
            unreachable!("a group was opened above");
        };
        // The first member's failure drops the group; a later one's puts
        // the batch back as it was at the savepoint (noting what the member
        // changes, rather than copying a batch that holds every earlier
        // member's entities and index blocks), whatever the stage left it
        // in, so nothing it holds is observed half-made.
        let first = group.members.is_empty();
        if !first {
            group.batch.savepoint();
        }
        let staged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stage(&mut group.batch)));
        let staged = match staged {
            Ok(Ok(staged)) => Ok(staged),
            Ok(Err(e)) => Err(Ok(e)),
            Err(panic) => Err(Err(panic)),
        };
        Ok(match staged {
            Ok((changes, value)) => {
                group.batch.release();
                group.bytes += changes
                    .iter()
                    .map(|c| {
                        CHANGE_OVERHEAD_BYTES
                            + c.entity
                                .as_ref()
                                .and_then(|e| {
                                    postcard::serialize_with_flavor(e, postcard::ser_flavors::Size::default()).ok()
                                })
                                .unwrap_or(0)
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
                if first {
                    pipeline.open = None;
                } else {
                    group.batch.rollback();
                }
                return failed.map(Err);
            }
        })
    }

    /// Seals the open group (under the lock, with nothing landing) and lands
    /// it; returns the lock taken again, and the checkpoint due after it (a
    /// log file's sequence and the generation it covers), if one is. A
    /// doomed group is refused at once.
    fn seal<'a>(&'a self, mut pipeline: MutexGuard<'a, Pipeline>) -> (MutexGuard<'a, Pipeline>, Option<(u64, u64)>) {
        let Some(group) = pipeline.open.take() else {
            return (pipeline, None);
        };
        let members = group.members.len() as u64;
        let sealed = &mut pipeline.sealed;
        sealed.groups += 1;
        sealed.members += members;
        sealed.largest = sealed.largest.max(members);
        if let Some(refusal) = group.doomed.clone() {
            drop(pipeline);
            self.inner.turn.notify_all();
            group.landed.set(Err(refusal));
            return (self.lock_pipeline(), None);
        }
        let batch = Arc::new(group.batch);
        let last = group.base + members;
        pipeline.landing = true;
        pipeline.landing_view = Some((batch.clone(), last));
        drop(pipeline);
        // Writers that found this group full wait for it to seal: now they
        // may stage over its landing.
        self.inner.turn.notify_all();
        let checkpoint = self.land(batch, group.base, group.members, group.landed);
        (self.lock_pipeline(), checkpoint)
    }

    /// Logs a sealed group, applies it, announces its commits and wakes its
    /// members; then lets the next group be sealed (dropping from it what
    /// this one wrote, or dooming it if this one failed). Returns the
    /// checkpoint due, if one is, for the caller to run.
    fn land(&self, batch: Arc<Batch>, base: u64, members: Vec<Member>, landed: Arc<Landed>) -> Option<(u64, u64)> {
        let last = base + members.len() as u64;
        // A group that deletes nothing is applied write by write, not in a
        // sled transaction (see `apply_in_order`).
        let deletes = members
            .iter()
            .any(|m| m.committed.changes.iter().any(|c| c.entity.is_none()));
        let outcome = self.log_and_apply(batch, base + 1, last, deletes);
        let mut checkpoint = None;
        if let Ok(writes) = &outcome {
            // Caches key on this: it moves only now that the group is
            // durable and in sled.
            let before = self.current_generation();
            self.bump_generation(last);
            let after = self.current_generation();
            self.extend_vocabulary(members.iter().flat_map(|m| m.committed.changes.iter()), before, after);
            self.advance_stats(writes, before, after);
            if self.fault().is_some() {
                tracing::info!(path = %self.inner.path.display(), "the disk takes writes again");
                self.set_fault(None);
            }
            self.inner.writes.fetch_add(members.len() as u64, Ordering::Relaxed);
            for member in members.iter().filter(|m| m.announce) {
                // No subscribers is not an error.
                let _ = self.inner.announce.send(member.committed.clone());
            }
            checkpoint = self.rotate_log_if_due(last);
        }
        {
            let mut pipeline = self.lock_pipeline();
            pipeline.landing = false;
            pipeline.reopening = false;
            let view = pipeline.landing_view.take();
            if let Some(next) = pipeline.open.as_mut() {
                match (&outcome, view) {
                    (Ok(_), Some((landed, _))) => next.batch.prune(&landed),
                    (Ok(_), None) => {}
                    (Err(refusal), _) => next.doomed = Some(refusal.for_next()),
                }
            }
        }
        self.inner.turn.notify_all();
        landed.set(outcome.map(drop));
        checkpoint.map(|sequence| (sequence, last))
    }

    /// A group staged over the landing one must not hold the database's
    /// trees while it is reopened: the reopen waits for every handle to go.
    /// Dooms it (its members are told to send their writes again) and
    /// drops the landing group's batch, before a reopen.
    fn release_staged_batches(&self) {
        let mut pipeline = self.lock_pipeline();
        pipeline.landing_view = None;
        pipeline.reopening = true;
        if let Some(next) = pipeline.open.as_mut() {
            next.batch = Batch::new(self.clone());
            next.doomed = Some(Refused::Disk(
                "the database was reopened after a disk fault while this write waited to be logged; nothing of it was kept: send it again".into(),
            ));
        }
    }

    /// Appends the group to the log and syncs it, then applies it to sled:
    /// in one transaction if it deletes an entity (`deletes`) or the store
    /// has no log, else write by write ([`Store::apply_in_order`]). A
    /// failure leaves sled as it was, or as the log has it (cutting the
    /// record back out of the log when sled refused it and could not be
    /// reopened).
    /// Returns the record writes.
    fn log_and_apply(&self, batch: Arc<Batch>, first: u64, last: u64, deletes: bool) -> Result<Vec<Write>, Refused> {
        let writes = batch.writes(last);
        drop(batch);
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
        // Only the trees the group writes take part: sled's transaction
        // costs something per tree, and a small write touches a few of dozens.
        let mut slot = vec![usize::MAX; live.trees.len()];
        let mut trees = Vec::new();
        for (position, _, _) in &writes {
            if slot[*position] == usize::MAX {
                slot[*position] = trees.len();
                trees.push(live.trees[*position].clone());
            }
        }
        #[cfg(test)]
        if self.inner.hooks.refuse_apply.swap(false, Ordering::SeqCst) {
            drop(trees);
            let refusal = std::io::Error::other("sled refused the transaction (injected)");
            return self.after_sled_refused(log, start, live, sled::Error::Io(refusal), last, writes);
        }
        // A temporary store has no log to apply a group again from.
        if !deletes && log.is_some() {
            return self.apply_in_order(log, start, live, trees, &slot, writes, last);
        }
        let result = trees.as_slice().transaction(|tx| {
            for (position, key, value) in &writes {
                let tree = &tx[slot[*position]];
                match value {
                    Some(value) => tree.insert(key.as_slice(), value.as_slice())?,
                    None => tree.remove(key.as_slice())?,
                };
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        });
        drop(trees);
        let error = match result {
            Ok(()) => return Ok(writes),
            Err(TransactionError::Abort(e)) => return Err(refused(e)),
            Err(TransactionError::Storage(e)) => e,
        };
        self.after_sled_refused(log, start, live, error, last, writes)
    }

    /// Applies a logged group that deletes nothing to sled write by write,
    /// rather than in a transaction: sled (0.34) seals and writes out its
    /// own log buffer twice for every transaction, on threads of its own,
    /// each with a `sync_file_range`, which cost writes more than anything
    /// else but their own log sync; a write outside a transaction goes into
    /// sled's buffer, written out when full or at a checkpoint.
    ///
    /// What a transaction gave is kept another way:
    /// - **Crashes.** The group is already durable in the write-ahead log,
    ///   and its generation is written last: sled recovers a prefix of its
    ///   log (it stops at the first tear), so a group sled lost part of
    ///   has sled's generation before it, and opening the store applies it
    ///   again from the log, whole (its writes are whole blocks, so applying
    ///   one twice changes nothing).
    /// - **A refusal part-way** reopens the database and applies the group
    ///   from the log, as a refused transaction did.
    /// - **Readers** see each key whole (sled's writes are atomic per key)
    ///   and, during the apply, part of a group that is durable already,
    ///   never anything undurable. The order keeps what they can meet
    ///   sound: entity records before the indexes that lead to them, new
    ///   blocks before the blocks they were split from, every put before
    ///   any removal, the counts and the generation last (caches key on the
    ///   generation, which moves only once the group is whole). A group
    ///   that deletes an entity goes in a transaction, so that no index
    ///   leads to an entity that is gone.
    #[allow(clippy::too_many_arguments)]
    fn apply_in_order(
        &self,
        log: Option<MutexGuard<'_, log::Log>>,
        start: Option<u64>,
        live: Arc<super::Handles>,
        trees: Vec<sled::Tree>,
        slot: &[usize],
        writes: Vec<Write>,
        last: u64,
    ) -> Result<Vec<Write>, Refused> {
        // `writes` come tree by tree (entity trees first, then the indexes,
        // then the meta tree's counts and generation), keys ascending
        // within a tree; puts go first, then removals, the generation last
        // of all.
        let meta = self.position(super::trees::TreeRef::Meta);
        let rank = |(position, key, value): &&Write| match (*position == meta, value.is_some()) {
            (false, true) => 0,
            (false, false) => 1,
            (true, _) if key.as_slice() == META_GENERATION => 3,
            (true, _) => 2,
        };
        // Stable: within a rank, the order `writes` came in.
        let mut in_order: Vec<&Write> = writes.iter().collect();
        in_order.sort_by_key(rank);
        // A test may stop the apply part-way, as a crash or a refusal would.
        #[cfg(test)]
        let cut = match self.inner.hooks.cut_apply_after.swap(0, Ordering::SeqCst) {
            0 => None,
            n => {
                in_order.truncate(n);
                Some(self.inner.hooks.cut_refuses.load(Ordering::SeqCst))
            }
        };
        for (position, key, value) in in_order {
            let tree = &trees[slot[*position]];
            let applied = match value {
                Some(value) => tree.insert(key.as_slice(), value.as_slice()).map(drop),
                None => tree.remove(key.as_slice()).map(drop),
            };
            if let Err(error) = applied {
                // The reopen waits for every handle of the database to go.
                drop(trees);
                return self.after_sled_refused(log, start, live, error, last, writes);
            }
        }
        #[cfg(test)]
        if cut == Some(true) {
            drop(trees);
            let refusal = std::io::Error::other("sled refused a write (injected)");
            return self.after_sled_refused(log, start, live, sled::Error::Io(refusal), last, writes);
        }
        Ok(writes)
    }

    /// What [`Store::log_and_apply`] does once sled refused a logged group.
    fn after_sled_refused(
        &self,
        mut log: Option<MutexGuard<'_, log::Log>>,
        start: Option<u64>,
        live: Arc<super::Handles>,
        error: sled::Error,
        last: u64,
        writes: Vec<Write>,
    ) -> Result<Vec<Write>, Refused> {
        drop(live);
        // sled keeps an I/O error once it has had one (a checkpoint's flush
        // on a full disk, say), and refuses every write after it, even with
        // room again. The group is durable in the log: reopening the
        // database applies the log again, this group included.
        // (The log is held here: the replay limit comes from it directly.)
        let limit = log.as_ref().and_then(|log| log.replay_limit());
        if log.is_some() {
            self.release_staged_batches();
        }
        if log.is_some() && self.reopen_until(limit).is_ok() && self.generation().is_ok_and(|g| g >= last) {
            tracing::info!(path = %self.inner.path.display(), error = %error, "sled refused a logged write; reopened and applied it from the log");
            return Ok(writes);
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
        // A landing is held open while both arrive, so they stage into the
        // next group together (over the landing one).
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
        wait_until("both writers", || {
            panicking.is_finished()
                && store
                    .lock_pipeline()
                    .open
                    .as_ref()
                    .is_some_and(|g| g.members.len() == 1)
        });
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
    fn a_task_whose_stage_panics_gets_an_error_and_leaves_nothing_in_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // A member staged before it, still landing, is not stranded.
            let member = tokio::spawn({
                let store = store.clone();
                async move { store.commit_async(vec![create(actor(1))]).await }
            });
            tokio::task::yield_now().await;
            let panicked = store
                .write_in_group_async::<(), StoreError, _>(true, |batch| {
                    batch.apply(&create(actor(2)))?;
                    panic!("a bug while staging actor 2")
                })
                .await;
            assert!(
                matches!(&panicked, Err(StoreError::Task(why)) if why.contains("a bug while staging actor 2")),
                "{panicked:?}"
            );
            member.await.unwrap().unwrap();
            store.commit_async(vec![create(actor(3))]).await.unwrap();
        });
        assert!(has(&store, 1) && has(&store, 3));
        assert!(!has(&store, 2), "a panicking stage left its change in the group");
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn writers_arriving_while_a_group_lands_stage_at_once_and_share_the_next_sync() {
        const LATE: usize = 15;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();
        store.commit(&[create(actor(0))]).unwrap();
        let mut commits = store.subscribe();
        let syncs_before = store.log_syncs();
        let sealed_before = store.sealed_groups();
        let faults = injected::inject(&store);
        faults.hold.store(true, SeqCst);
        let first = std::thread::spawn({
            let store = store.clone();
            move || store.commit(&[create(actor(1))]).unwrap().generation
        });
        wait_until("the landing", || store.lock_pipeline().landing);
        let late: Vec<_> = (0..LATE)
            .map(|n| {
                let store = store.clone();
                // Each refers to the first actor, which is not in sled
                // yet: the next group reads it from the landing one.
                std::thread::spawn(move || {
                    let mut late = actor(2 + n);
                    if let crate::model::Entity::Actor(a) = &mut late {
                        a.part_of = Some(crate::model::Id::parse("actor/a1").unwrap());
                    }
                    store.commit(&[create(late)]).unwrap().generation
                })
            })
            .collect();
        // Staged while the first group is still landing (before, they
        // waited for the landing to end before staging anything).
        wait_until("every late writer in the next group", || {
            store
                .lock_pipeline()
                .open
                .as_ref()
                .is_some_and(|g| g.members.len() == LATE)
        });
        assert!(!has(&store, 1), "nothing of a landing group is visible before its sync");
        faults.hold.store(false, SeqCst);
        let first = first.join().unwrap();
        let mut acknowledged: Vec<u64> = late.into_iter().map(|w| w.join().unwrap()).collect();
        acknowledged.sort_unstable();
        assert_eq!(acknowledged, ((first + 1)..=(first + LATE as u64)).collect::<Vec<_>>());
        assert_eq!(
            store.log_syncs() - syncs_before,
            2,
            "one sync for the first, one for the 15 after it"
        );
        let sealed = store.sealed_groups();
        assert_eq!(sealed.groups - sealed_before.groups, 2);
        assert_eq!(sealed.members - sealed_before.members, 1 + LATE as u64);
        assert!(sealed.largest >= LATE as u64);
        assert!((0..=1 + LATE).all(|n| has(&store, n)));
        let mut heard = Vec::new();
        while let Ok(commit) = commits.try_recv() {
            heard.push(commit.generation);
        }
        assert_eq!(
            heard,
            (first..=first + LATE as u64).collect::<Vec<_>>(),
            "announced in commit order"
        );
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
        // The next group logged only its own changes: a store opened from
        // the log alone (sled never flushed) has everything.
        drop(store);
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();
        assert!((0..=1 + LATE).all(|n| has(&store, n)));
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }

    /// A store holding one actor whose groups may gather for 30 s: long
    /// enough that a test passing in time saw each gathering end because
    /// every write on its way joined (or went), not by the clock.
    fn gathering_store(dir: &std::path::Path) -> Store {
        let store = Store::open(&dir.join("data"), DEFAULT_CACHE_BYTES).unwrap();
        store.commit(&[create(actor(0))]).unwrap();
        store.lock_pipeline().gather = Duration::from_secs(30);
        store
    }

    #[test]
    fn a_group_that_could_be_sealed_waits_for_writes_on_their_way_and_no_longer() {
        let dir = tempfile::tempdir().unwrap();
        let store = gathering_store(dir.path());
        let started = std::time::Instant::now();
        let syncs_before = store.log_syncs();
        let write = |n: usize, coming: WriteComing| {
            let store = store.clone();
            std::thread::spawn(move || {
                let generation = store.commit(&[create(actor(n))]).unwrap().generation;
                drop(coming);
                generation
            })
        };

        // Alone, a writer seals at once: nothing else is on its way.
        let alone = write(1, store.write_coming());
        alone.join().unwrap();
        assert_eq!(store.log_syncs() - syncs_before, 1);

        // One lands (held), one stages meanwhile, two more are on their way.
        let faults = injected::inject(&store);
        faults.hold.store(true, SeqCst);
        let first = write(2, store.write_coming());
        wait_until("the landing", || store.lock_pipeline().landing);
        let second = write(3, store.write_coming());
        wait_until("the second in the next group", || {
            store
                .lock_pipeline()
                .open
                .as_ref()
                .is_some_and(|g| g.members.len() == 1)
        });
        let third = store.write_coming();
        let refused = store.write_coming();
        faults.hold.store(false, SeqCst);
        first.join().unwrap();
        // The landing ended, the next group could be sealed: it waits for
        // the writes on their way.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            store
                .lock_pipeline()
                .open
                .as_ref()
                .is_some_and(|g| g.members.len() == 1),
            "the group waits for the writes on their way"
        );
        assert_eq!(store.log_syncs() - syncs_before, 2);
        let third = write(4, third);
        wait_until("the third in the group", || {
            store
                .lock_pipeline()
                .open
                .as_ref()
                .is_some_and(|g| g.members.len() == 2)
        });
        // One on its way never writes (its request was refused): the group
        // goes without it at once.
        drop(refused);
        let (second, third) = (second.join().unwrap(), third.join().unwrap());
        assert_eq!(third, second + 1);
        assert_eq!(store.log_syncs() - syncs_before, 3, "the two shared one sync");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sealed by the clock, not by the writes"
        );
        assert!((0..=4).all(|n| has(&store, n)));

        // A write on its way that never comes holds a group for the gathering
        // time at most.
        store.lock_pipeline().gather = Duration::from_millis(200);
        faults.hold.store(true, SeqCst);
        let first = write(5, store.write_coming());
        wait_until("the landing", || store.lock_pipeline().landing);
        let second = write(6, store.write_coming());
        wait_until("the second in the next group", || store.lock_pipeline().open.is_some());
        let never = store.write_coming();
        let held = std::time::Instant::now();
        faults.hold.store(false, SeqCst);
        first.join().unwrap();
        second.join().unwrap();
        assert!(
            held.elapsed() >= Duration::from_millis(200),
            "it waited for the write on its way"
        );
        assert!(held.elapsed() < Duration::from_secs(10));
        drop(never);
        assert!(has(&store, 5) && has(&store, 6));
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn no_group_opens_while_a_landing_reopens_the_database_after_sled_refused_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();
        store.commit(&[create(actor(0))]).unwrap();
        let hooks = &store.inner.hooks;
        hooks.refuse_apply.store(true, SeqCst);
        hooks.hold_reopen.store(true, SeqCst);
        let first = std::thread::spawn({
            let store = store.clone();
            move || store.commit(&[create(actor(1))]).map(|c| c.generation)
        });
        // The landing group is logged, sled refused it, and the database
        // is closed for the reopen (held there).
        wait_until("the reopen", || store.lock_pipeline().reopening);
        let late = std::thread::spawn({
            let store = store.clone();
            move || store.commit(&[create(actor(2))]).map(|c| c.generation)
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            store.lock_pipeline().open.is_none(),
            "a writer arriving during the reopen waits: a group opened now would read a closed database"
        );
        assert!(!late.is_finished(), "it waits, rather than failing");
        hooks.hold_reopen.store(false, SeqCst);
        let first = first.join().unwrap().expect("applied from the log by the reopen");
        let late = late.join().unwrap().expect("staged once the database is open again");
        assert_eq!(late, first + 1);
        assert!(has(&store, 1) && has(&store, 2));
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_batch_that_goes_on_from_a_landed_one_writes_only_its_own_changes() {
        use crate::model::EntityKind;
        use crate::store::tests::event;
        use crate::store::trees::TreeRef;
        let store = Store::temporary().unwrap();
        let mut landing = Batch::new(store.clone());
        for n in 0..40 {
            landing.apply(&create(actor(n))).unwrap();
        }
        let mut next = landing.continued();
        // It reads what the landing batch leaves: actor 1 exists.
        assert!(next
            .current(&crate::model::Id::parse("actor/a1").unwrap())
            .unwrap()
            .is_some());
        assert!(
            next.apply(&create(actor(1))).is_err(),
            "actor 1 already exists in its view"
        );
        // An event naming landing actors: their records are in its view.
        next.apply(&create(event(1))).unwrap();
        let written = |batch: &Batch, kind: EntityKind| -> Vec<Vec<u8>> {
            let tree = store.position(TreeRef::Entity(kind));
            batch
                .writes(9)
                .into_iter()
                .filter(|(position, _, _)| *position == tree)
                .map(|(_, key, _)| key)
                .collect()
        };
        assert!(
            !written(&next, EntityKind::Actor).is_empty(),
            "before the prune it repeats the landing batch"
        );
        next.prune(&landing);
        assert_eq!(written(&next, EntityKind::Actor), Vec::<Vec<u8>>::new());
        assert_eq!(written(&next, EntityKind::Event), vec![b"event/e1".to_vec()]);
    }

    #[test]
    fn a_group_staged_over_one_the_disk_refuses_is_refused_with_it_and_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), DEFAULT_CACHE_BYTES).unwrap();
        let faults = injected::inject(&store);
        faults.hold.store(true, SeqCst);
        faults.appends.store(true, SeqCst);
        let first = std::thread::spawn({
            let store = store.clone();
            move || store.commit(&[create(actor(1))]).map(|_| ())
        });
        wait_until("the landing", || store.lock_pipeline().landing);
        let next = std::thread::spawn({
            let store = store.clone();
            move || store.commit(&[create(actor(2))]).map(|_| ())
        });
        wait_until("the next group", || store.lock_pipeline().open.is_some());
        faults.hold.store(false, SeqCst);
        let first = first.join().unwrap().unwrap_err();
        let next = next.join().unwrap().unwrap_err();
        assert!(matches!(first, StoreError::Unavailable { .. }), "{first:?}");
        assert!(
            matches!(&next, StoreError::Unavailable { reason } if reason.contains("the write before it")),
            "{next:?}"
        );
        faults.appends.store(false, SeqCst);
        assert!(!has(&store, 1) && !has(&store, 2));
        store.commit(&[create(actor(3))]).unwrap();
        assert!(!has(&store, 1) && !has(&store, 2) && has(&store, 3));
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
