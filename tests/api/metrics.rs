//! Observability over HTTP: `/metrics` counts exactly the traffic sent,
//! `/health` and `/ready` answer, and every answer carries a request id.
//!
//! The metrics recorder is process-wide, and other tests run at the same
//! time in this process, so these tests use operation names of their own and
//! compare scrapes taken before and after their traffic.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

/// One sample of the Prometheus text format, e.g.
/// `diplograph_graphql_requests_total{operation="Q",outcome="ok"} 3`.
fn parse_sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse::<f64>().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect();
            (name, labels)
        }
    };
    Some((name.to_owned(), labels, value))
}

/// A scrape of `/metrics`.
pub struct Scrape(String);

impl Scrape {
    /// The value of the series with exactly these labels; 0 if it has not
    /// been recorded yet (a counter that was never incremented).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.0
            .lines()
            .filter_map(parse_sample)
            .find(|(n, l, _)| n == name && *l == wanted)
            .map_or(0.0, |(_, _, v)| v)
    }
}

impl Scrape {
    /// The sum of a metric's samples over every set of labels.
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .lines()
            .filter_map(parse_sample)
            .filter(|(n, _, _)| n == name)
            .map(|(_, _, v)| v)
            .sum()
    }
}

pub async fn scrape(app: &TestApp) -> Scrape {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    Scrape(response.text().await.expect("a text body"))
}

async fn post(app: &TestApp, body: Value) -> Value {
    app.client
        .post(format!("{}/graphql", app.address))
        .json(&body)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON response")
}

const REQUESTS: &str = "diplograph_graphql_requests_total";
const DURATIONS_COUNT: &str = "diplograph_graphql_request_duration_seconds_count";
const REFUSED: &str = "diplograph_refused_queries_total";
const STORE_READS: &str = "diplograph_store_reads_total";

#[tokio::test]
async fn the_metrics_count_exactly_the_traffic_sent() {
    let app = spawn_app().await;
    let ok = [("operation", "MetricsProbeOk"), ("outcome", "ok")];
    let bad = [("operation", "MetricsProbeBad"), ("outcome", "refused")];
    let flood = [("operation", "MetricsProbeFlood"), ("outcome", "refused")];
    let too_many_aliases = [("reason", "TOO_MANY_ALIASES")];
    let invalid = [("reason", "GRAPHQL_VALIDATION_FAILED")];

    let before = scrape(&app).await;
    let reads_before = app.store.reads();

    for _ in 0..3 {
        let answer = post(
            &app,
            json!({
                "query": r#"query MetricsProbeOk { actor(id: "actor/russia") { name events(first: 3) { totalCount } } }"#,
                "operationName": "MetricsProbeOk"
            }),
        )
        .await;
        assert_eq!(answer["data"]["actor"]["name"], "Russia", "{answer}");
    }
    for _ in 0..2 {
        let answer = post(
            &app,
            json!({
                "query": r#"query MetricsProbeBad { actor(id: "actor/russia") { noSuchField } }"#,
                "operationName": "MetricsProbeBad"
            }),
        )
        .await;
        assert_eq!(error_code(&answer), "GRAPHQL_VALIDATION_FAILED", "{answer}");
    }
    // Aliases at the root would also be root fields, and that limit is
    // checked first; nested, only the alias limit trips.
    let aliases: String = (0..100).map(|i| format!("a{i}: __typename ")).collect();
    let flood_query = format!(r#"query MetricsProbeFlood {{ actor(id: "actor/russia") {{ {aliases}}} }}"#);
    let answer = post(
        &app,
        json!({ "query": flood_query, "operationName": "MetricsProbeFlood" }),
    )
    .await;
    assert_eq!(error_code(&answer), "TOO_MANY_ALIASES", "{answer}");

    let reads_after = app.store.reads();
    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);

    // Series of our own operation names move by exactly our traffic.
    assert_eq!(delta(REQUESTS, &ok), 3.0);
    assert_eq!(delta(REQUESTS, &bad), 2.0);
    assert_eq!(delta(REQUESTS, &flood), 1.0);
    assert_eq!(delta(DURATIONS_COUNT, &ok), 3.0);
    assert_eq!(delta(DURATIONS_COUNT, &bad), 2.0);
    assert_eq!(
        delta(REQUESTS, &[("operation", "MetricsProbeOk"), ("outcome", "refused")]),
        0.0,
        "no successful probe was counted as refused"
    );
    // Refusal reasons are shared with every other test in the process.
    assert!(delta(REFUSED, &too_many_aliases) >= 1.0);
    assert!(delta(REFUSED, &invalid) >= 2.0);
    // The store counters are set (as a running maximum) from the serving
    // store at each scrape; every test server shares the recorder, so the
    // scraped value is at least this server's count, which our traffic moved.
    assert!(reads_after > reads_before, "the probe queries read the store");
    assert!(after.value(STORE_READS, &[]) >= reads_after as f64);
    assert!(after.value(STORE_READS, &[]) >= before.value(STORE_READS, &[]));
}

#[tokio::test]
async fn the_metrics_page_names_its_series_in_the_prometheus_text_format() {
    let app = spawn_app().await;
    // One request, so the request series exist even if this test runs first.
    app.data("query MetricsFormatProbe { __typename }").await;

    let text = scrape(&app).await.0;

    for (series, kind) in [
        (REQUESTS, "counter"),
        ("diplograph_graphql_request_duration_seconds", "histogram"),
        (STORE_READS, "counter"),
        ("diplograph_store_writes_total", "counter"),
        ("diplograph_store_write_groups_total", "counter"),
        ("diplograph_store_log_syncs_total", "counter"),
        ("diplograph_read_cache_bytes", "gauge"),
        ("diplograph_search_vocabulary_bytes", "gauge"),
    ] {
        assert!(
            text.lines().any(|l| l == format!("# TYPE {series} {kind}")),
            "no `# TYPE {series} {kind}` line in:\n{text}"
        );
    }
    let unparsable: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && parse_sample(l).is_none())
        .collect();
    assert!(unparsable.is_empty(), "lines that are not samples: {unparsable:?}");
}

#[tokio::test]
async fn health_and_readiness_answer_once_the_seed_is_loaded() {
    let app = spawn_app().await;

    let health = app.client.get(format!("{}/health", app.address)).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let ready = app.client.get(format!("{}/ready", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_plain_client_id_is_echoed() {
    let app = spawn_app().await;
    let url = |path: &str| format!("{}{path}", app.address);
    let requests = [
        ("GET /health", app.client.get(url("/health"))),
        ("GET /ready", app.client.get(url("/ready"))),
        ("GET /metrics", app.client.get(url("/metrics"))),
        (
            "POST /graphql",
            app.client
                .post(url("/graphql"))
                .json(&json!({ "query": "{ __typename }" })),
        ),
        (
            "POST /graphql refused",
            app.client
                .post(url("/graphql"))
                .header("content-type", "text/plain")
                .body("{}"),
        ),
        ("PUT /graphql", app.client.put(url("/graphql"))),
        ("GET of an unknown path", app.client.get(url("/no-such-page"))),
    ];
    let mut seen = std::collections::HashSet::new();
    for (description, request) in requests {
        let response = request.send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{description}: no x-request-id"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!id.is_empty(), "{description}: an empty request id");
        assert!(seen.insert(id.clone()), "{description}: request id {id} was used twice");
    }

    let too_long = "x".repeat(65);
    // (what the client sends, whether it comes back as it is)
    let supplied = [
        ("probe-123", true),
        ("Probe_ABC_789", true),
        ("has spaces in it", false),
        ("semi;colon", false),
        (too_long.as_str(), false),
    ];
    for (id, echoed) in supplied {
        let response = app
            .client
            .get(url("/health"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        let back = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(back == id, echoed, "sent {id:?}, got {back:?}");
        assert!(!back.is_empty());
    }
}
