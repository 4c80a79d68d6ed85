//! Live fan-out: one resolution per distinct subscription per commit.
//!
//! Subscribers that send the same subscription (one [`operation_key`]: the
//! same document tokens, the variables it declares and the operation name)
//! share one run of it: each commit is resolved and written as JSON once,
//! and those bytes go to every subscriber of it. Between the run and its
//! subscribers sits a queue bounded in messages and in bytes, which keeps a
//! message only until every subscriber has read it. A subscriber that falls
//! further behind than the bound loses its place and gets one
//! `SLOW_CONSUMER` error, as a lagging subscription always did, without
//! holding the others back. The run stops when its last subscriber leaves.
//!
//! [`operation_key`]: super::operation_key

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_graphql::{Executor, Request, Variables};
use futures_util::StreamExt;

use super::{loaders_for, AppSchema, Guarded};

/// Messages one run keeps for subscribers that have not read them yet; a
/// subscriber further behind is dropped (the store's own backlog, so a
/// subscriber may lag as far as it always could).
pub const MAX_QUEUED_MESSAGES: usize = crate::store::SUBSCRIBER_BACKLOG;

/// Bytes of JSON one run keeps for subscribers that have not read them yet.
pub const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;

/// The runs of the live subscriptions, by operation key.
#[derive(Default)]
pub struct Fanout {
    runs: Mutex<HashMap<String, Weak<Run>>>,
}

/// One shared run of a subscription: the task that resolves it and the
/// queue it writes into. Dropped with its last subscriber, which stops the task.
struct Run {
    key: String,
    fanout: Weak<Fanout>,
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

/// What the resolving task and the subscribers share.
struct Shared {
    queue: Mutex<Queue>,
    /// Bumped after every message and at the end, to wake the subscribers.
    published: tokio::sync::watch::Sender<()>,
}

/// The messages not yet read by every subscriber, each with how many
/// subscribers still have to read it.
struct Queue {
    items: VecDeque<(Arc<str>, usize)>,
    /// Sequence number of `items[0]`.
    first: u64,
    bytes: usize,
    /// Subscribers attached.
    readers: usize,
    /// The run's stream has ended: nothing more will come.
    ended: bool,
}

impl Queue {
    fn end(&self) -> u64 {
        self.first + self.items.len() as u64
    }

    /// Drops the messages at the front that every subscriber has read.
    fn trim(&mut self) {
        while let Some((text, 0)) = self.items.front() {
            self.bytes -= text.len();
            self.items.pop_front();
            self.first += 1;
        }
    }

    /// A subscriber at `from` leaves: it will read nothing more.
    fn release(&mut self, from: u64) {
        let start = from.max(self.first);
        for seq in start..self.end() {
            let i = (seq - self.first) as usize;
            self.items[i].1 = self.items[i].1.saturating_sub(1);
        }
        self.readers -= 1;
        self.trim();
    }

    fn push(&mut self, text: Arc<str>) {
        if self.readers == 0 {
            return;
        }
        self.bytes += text.len();
        self.items.push_back((text, self.readers));
        // Past a bound, the oldest go even if someone has not read them:
        // that subscriber finds its place gone and is told so.
        while self.items.len() > MAX_QUEUED_MESSAGES || (self.bytes > MAX_QUEUED_BYTES && self.items.len() > 1) {
            if let Some((text, _)) = self.items.pop_front() {
                self.bytes -= text.len();
                self.first += 1;
            }
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Run {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(fanout) = self.fanout.upgrade() {
            let mut runs = fanout.runs.lock().unwrap_or_else(|p| p.into_inner());
            // A newer run may hold the key already (this one had ended).
            if runs.get(&self.key).is_some_and(|run| run.strong_count() == 0) {
                runs.remove(&self.key);
            }
        }
    }
}

/// What a subscriber gets next.
pub enum Fed {
    /// One answer of the subscription: a GraphQL response as JSON.
    Next(Arc<str>),
    /// The subscriber fell this many messages behind and was dropped.
    Lagged(u64),
}

/// One subscriber's place in a shared run.
pub struct Feed {
    run: Arc<Run>,
    /// Sequence number of the next message to read; `None` once dropped for lagging.
    next: Option<u64>,
    published: tokio::sync::watch::Receiver<()>,
}

impl Feed {
    /// The next message, waiting for it; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Fed> {
        loop {
            {
                let next = self.next?;
                let mut queue = lock(&self.run.shared.queue);
                if next < queue.first {
                    queue.release(next);
                    self.next = None;
                    return Some(Fed::Lagged(queue.first - next));
                }
                if next < queue.end() {
                    let i = (next - queue.first) as usize;
                    let text = queue.items[i].0.clone();
                    queue.items[i].1 = queue.items[i].1.saturating_sub(1);
                    queue.trim();
                    self.next = Some(next + 1);
                    return Some(Fed::Next(text));
                }
                if queue.ended {
                    return None;
                }
            }
            if self.published.changed().await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(next) = self.next {
            lock(&self.run.shared.queue).release(next);
        }
    }
}

impl Fanout {
    /// Attaches a subscriber to the run of this subscription, starting one
    /// when there is none; it gets the messages published from now on.
    /// `label` names the operation in the resolution counter.
    fn attach(
        self: &Arc<Self>,
        schema: &AppSchema,
        key: String,
        request: impl FnOnce() -> Request,
        label: String,
    ) -> Feed {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let live = runs
            .get(&key)
            .and_then(Weak::upgrade)
            .filter(|run| !lock(&run.shared.queue).ended);
        let run = match live {
            Some(run) => run,
            None => {
                let run = self.start(schema, key.clone(), request(), label);
                runs.insert(key, Arc::downgrade(&run));
                run
            }
        };
        drop(runs);
        let published = run.shared.published.subscribe();
        let next = {
            let mut queue = lock(&run.shared.queue);
            queue.readers += 1;
            queue.end()
        };
        Feed {
            run,
            next: Some(next),
            published,
        }
    }

    fn start(self: &Arc<Self>, schema: &AppSchema, key: String, request: Request, label: String) -> Arc<Run> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                first: 0,
                bytes: 0,
                readers: 0,
                ended: false,
            }),
            published: tokio::sync::watch::channel(()).0,
        });
        // The run's reads: one set of loaders for every subscriber of it.
        let mut data = async_graphql::Data::default();
        data.insert(loaders_for(schema));
        let mut stream = Guarded(schema.clone()).execute_stream(request, Some(Arc::new(data)));
        let resolutions = metrics::counter!("diplograph_subscription_resolutions_total", "operation" => label);
        let writer = shared.clone();
        let task = tokio::spawn(async move {
            while let Some(response) = stream.next().await {
                resolutions.increment(1);
                let text = serde_json::to_string(&response).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a subscription answer could not be written as JSON");
                    r#"{"data":null,"errors":[{"message":"internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#
                        .to_owned()
                });
                lock(&writer.queue).push(text.into());
                writer.published.send_replace(());
            }
            lock(&writer.queue).ended = true;
            writer.published.send_replace(());
        });
        Arc::new(Run {
            key,
            fanout: Arc::downgrade(self),
            shared,
            task: task.abort_handle(),
        })
    }

    /// Runs live now (for tests and metrics).
    pub fn runs(&self) -> usize {
        self.runs
            .lock()
            .map(|r| r.values().filter(|w| w.strong_count() > 0).count())
            .unwrap_or(0)
    }
}

/// Attaches a subscriber to the shared run of the subscription `query`
/// (the operation `operation_name` picks, with `variables`); `None` when
/// it is not a subscription this serves: not a subscription, or refused by
/// the guard (async-graphql then answers it as for one client, with the
/// error). `label` names the operation in
/// `diplograph_subscription_resolutions_total`, counted once per answer
/// resolved, however many subscribers share it.
pub fn subscribe_shared(
    schema: &AppSchema,
    query: &str,
    operation_name: Option<&str>,
    variables: Option<&serde_json::Map<String, serde_json::Value>>,
    label: String,
) -> Option<Feed> {
    let fanout = schema.data::<Arc<Fanout>>()?;
    if !super::is_subscription(query, operation_name) {
        return None;
    }
    if let Some(guard) = schema.data::<Arc<super::guard::Guard>>() {
        guard.check(query).ok()?;
    }
    let key = super::operation_key(query, variables, operation_name);
    let request = || {
        let mut request = Request::new(query);
        if let Some(name) = operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = variables {
            request = request.variables(Variables::from_json(serde_json::Value::Object(vars.clone())));
        }
        request
    };
    Some(fanout.attach(schema, key, request, label))
}
