//! Observability: Prometheus metrics and operation labels (request ids and
//! per-request spans are [`super::front`]'s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder (metrics has one global recorder,
/// so every server in the process shares it).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (an embedding program's): keep a
            // private one so /metrics still answers.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        };
        // Histogram samples pile up in the recorder until upkeep folds them
        // into their buckets; a scrape does that too, but a server nobody
        // scrapes would grow without end.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the metrics upkeep thread");
        }
        handle
    })
}

/// How often histogram samples are folded into their buckets. The work
/// grows with the samples gathered since the last time (a few
/// nanoseconds each), and the thread runs on the cores the server's
/// workers run on (pinned to one in `benches/run.sh`): every 2 s, a
/// server answering 150,000 requests a second took the core for about
/// 2 ms at once, which the requests waiting meanwhile saw as latency.
/// Every 100 ms the same work comes in pieces of about 0.15 ms; a run
/// costs about 0.06 ms whatever it folds (`perf sched`), 0.06% of a core
/// at ten a second.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Operation names become metric labels; clients choose them, so only the
/// first few hundred distinct names get their own label. Each label's
/// metric handles are resolved once, when it is first seen: a request then
/// counts itself without building a metric key or searching the registry.
#[derive(Default)]
pub struct OperationLabels {
    seen: Mutex<HashMap<String, Arc<OperationMetrics>>>,
    anonymous: OnceLock<Arc<OperationMetrics>>,
    other: OnceLock<Arc<OperationMetrics>>,
}

const MAX_OPERATION_LABELS: usize = 200;

/// The metrics of one operation label. Each series is registered when it
/// is first counted (so `/metrics` lists only the series that happened),
/// and its handle kept.
pub struct OperationMetrics {
    pub label: String,
    /// Requests and their durations, by outcome: ok, error, refused.
    outcomes: [OnceLock<(metrics::Counter, metrics::Histogram)>; 3],
    /// Answers written by a compiled plan (registered by `crate::graphql::run`).
    pub compiled_answers: Arc<OnceLock<metrics::Counter>>,
    /// Answers from the response cache by a request's raw bytes.
    raw_hits: OnceLock<metrics::Counter>,
}

/// The outcomes [`OperationMetrics`] counts, as `crate::graphql::Outcome` labels them.
const OUTCOMES: [&str; 3] = ["ok", "error", "refused"];

impl OperationMetrics {
    fn new(label: String) -> OperationMetrics {
        OperationMetrics {
            label,
            outcomes: Default::default(),
            compiled_answers: Arc::default(),
            raw_hits: OnceLock::new(),
        }
    }

    /// The request counter and duration histogram of `outcome` (one of
    /// "ok", "error", "refused").
    pub fn outcome(&self, outcome: &'static str) -> &(metrics::Counter, metrics::Histogram) {
        let i = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(1);
        self.outcomes[i].get_or_init(|| {
            let label = self.label.clone();
            let outcome = OUTCOMES[i];
            (
                metrics::counter!("diplograph_graphql_requests_total", "operation" => label.clone(), "outcome" => outcome),
                metrics::histogram!("diplograph_graphql_request_duration_seconds", "operation" => label, "outcome" => outcome),
            )
        })
    }

    /// Counts one operation that ended with `outcome`, and how long it took.
    pub fn record(&self, outcome: &'static str, started: std::time::Instant) {
        let (requests, duration) = self.outcome(outcome);
        requests.increment(1);
        duration.record(started.elapsed().as_secs_f64());
    }

    /// The counter of answers from the response cache by raw bytes.
    pub fn raw_hits(&self) -> &metrics::Counter {
        self.raw_hits.get_or_init(
            || metrics::counter!("diplograph_response_cache_raw_hits_total", "operation" => self.label.clone()),
        )
    }
}

/// Whether `name` is a label as it is: what [`OperationLabels`] keeps of a
/// name is its ASCII letters, digits and underscores, at most 64.
fn is_clean(name: &str) -> bool {
    name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl OperationLabels {
    pub fn label(&self, name: Option<&str>) -> String {
        self.metrics(name).label.clone()
    }

    /// The metrics of the operation `name` (its label's).
    pub fn metrics(&self, name: Option<&str>) -> Arc<OperationMetrics> {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Self::fixed(&self.anonymous, "anonymous");
        };
        let Ok(mut seen) = self.seen.lock() else {
            return Self::fixed(&self.other, "other");
        };
        // A name seen before is found without copying it.
        if is_clean(name) {
            if let Some(found) = seen.get(name) {
                return found.clone();
            }
        }
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        if let Some(found) = seen.get(&clean) {
            return found.clone();
        }
        if seen.len() >= MAX_OPERATION_LABELS {
            drop(seen);
            return Self::fixed(&self.other, "other");
        }
        let metrics = Arc::new(OperationMetrics::new(clean.clone()));
        seen.insert(clean, metrics.clone());
        metrics
    }

    fn fixed(cell: &OnceLock<Arc<OperationMetrics>>, label: &str) -> Arc<OperationMetrics> {
        cell.get_or_init(|| Arc::new(OperationMetrics::new(label.to_owned())))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_cleaned_and_bounded_in_number() {
        let labels = OperationLabels::default();
        assert_eq!(labels.label(None), "anonymous");
        assert_eq!(labels.label(Some("")), "anonymous");
        assert_eq!(labels.label(Some("Get-Actor!")), "GetActor");
        assert_eq!(labels.label(Some("GetActor")), "GetActor");
        assert!(Arc::ptr_eq(
            &labels.metrics(Some("GetActor")),
            &labels.metrics(Some("Get Actor"))
        ));
        assert_eq!(labels.label(Some(&"x".repeat(100))), "x".repeat(64));
        for i in 0..MAX_OPERATION_LABELS {
            labels.label(Some(&format!("Op{i}")));
        }
        assert_eq!(labels.label(Some("OneTooMany")), "other");
        assert_eq!(
            labels.label(Some("GetActor")),
            "GetActor",
            "a label seen before keeps its name"
        );
    }
}
