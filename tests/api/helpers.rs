//! Shared test helpers: a real server on port 0 over a temporary sled
//! database seeded from the repository's `seed/`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use diplograph::config::Settings;
use diplograph::startup::Application;
use diplograph::store::Store;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The repository's seed directory.
pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seed")
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub store: Store,
    pub client: reqwest::Client,
    pub data_dir: TempDir,
}

/// Settings for a test server: port 0, a fresh data directory, the real seed.
pub fn test_settings(data_dir: &Path) -> Settings {
    let mut settings = Settings::for_data_dir(data_dir.to_owned());
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.store.seed_dir = seed_dir();
    settings.playground_assets = "https://unpkg.com".into();
    settings
}

/// Starts the real server on port 0 over a temporary, freshly seeded database,
/// and waits until it says it is ready (the seed loads after it listens).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the settings first.
pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    diplograph::telemetry::init_for_tests();
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let mut settings = test_settings(data_dir.path());
    change(&mut settings);
    start_app(settings, data_dir).await
}

/// Starts a server in-process on `settings`, over `data_dir`, and waits
/// until it is ready.
pub async fn start_app(settings: Settings, data_dir: TempDir) -> TestApp {
    diplograph::telemetry::init_for_tests();
    // A store this test just closed may still hold sled's file lock for a
    // moment (sled lets go of it from its flusher thread).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let app = loop {
        match Application::build(settings.clone()).await {
            Err(e)
                if format!("{e:#}").contains("in use by another diplograph process")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            built => break built.expect("server starts"),
        }
    };
    let port = app.port();
    let store = app.store().clone();
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        store,
        client: reqwest::Client::new(),
        data_dir,
    };
    app.wait_until_ready().await;
    app
}

impl TestApp {
    /// Asks `/ready` until it answers 200 (the start-up seed load is done).
    pub async fn wait_until_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let response = self.client.get(format!("{}/ready", self.address)).send().await;
            if response.as_ref().is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server was not ready within a minute: {response:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl TestApp {
    /// POSTs a query (with variables) and returns the whole JSON response.
    pub async fn query_with(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.address))
            .header("content-type", "application/json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON response")
    }

    /// POSTs a query and returns the whole JSON response.
    pub async fn query(&self, query: &str) -> Value {
        self.query_with(query, json!({})).await
    }

    /// POSTs a query that must succeed and returns its `data`.
    pub async fn data(&self, query: &str) -> Value {
        let response = self.query(query).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"].clone()
    }
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}

/// `GET path` from a server at `address` (`127.0.0.1:41234`): the status and
/// the body, or `None` when nothing answers. For tests that start the real
/// binary and have no async runtime.
pub fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let address = address.trim();
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_owned()))
}

/// The status of `GET /ready`, or `None` when nothing answers.
pub fn ready_status(address: &str) -> Option<u16> {
    http_get(address, "/ready").map(|(status, _)| status)
}

// ---- Seed data and JSON paths, for tests that check answers against the seed ----

/// The entity types, each with the seed file its records come from.
pub const ENTITY_TYPES: [(&str, &str); 6] = [
    ("Actor", "actors"),
    ("Event", "events"),
    ("Treaty", "treaties"),
    ("FundingAllocation", "funding"),
    ("Place", "places"),
    ("Source", "sources"),
];

/// The records of one seed file (`"actors"`, `"events"`, …) as JSON, so tests
/// can compute what the API should answer instead of hard-coding counts.
pub fn seed_records(file: &str) -> Vec<Value> {
    let path = seed_dir().join(format!("{file}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Every string a path leads to inside a JSON value. A `*` step walks each
/// element of an array; a null or a missing key leads nowhere, so an optional
/// relation that is not set yields nothing.
pub fn strings_at(value: &Value, path: &[&str]) -> Vec<String> {
    match path.split_first() {
        None => value.as_str().map(str::to_owned).into_iter().collect(),
        Some((&"*", rest)) => value
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| strings_at(item, rest))
            .collect(),
        Some((key, rest)) => value.get(*key).map(|v| strings_at(v, rest)).unwrap_or_default(),
    }
}

/// The `id` of each element of a JSON array, in order.
pub fn ids(list: &Value) -> Vec<String> {
    strings_at(list, &["*", "id"])
}

// ---- Writes: a server that takes a write token, and requests that carry one ----

/// The write token [`spawn_app_with_writes`] configures.
pub const TEST_WRITE_TOKEN: &str = "test-write-token-0123456789";

/// Starts the real server with [`TEST_WRITE_TOKEN`] configured, so mutations can run.
pub async fn spawn_app_with_writes() -> TestApp {
    spawn_app_with(|s| s.write_tokens = vec![TEST_WRITE_TOKEN.into()]).await
}

/// What a request brought back: status, headers and the JSON body.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// POSTs an operation with `authorization` as the whole `Authorization`
    /// header (no header when `None`) and returns status, headers and body.
    pub async fn post_with_authorization(&self, authorization: Option<&str>, query: &str, variables: Value) -> Answer {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .header("content-type", "application/json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.expect("JSON response");
        Answer { status, headers, body }
    }

    /// POSTs an operation with `Authorization: Bearer <token>` and returns the whole JSON response.
    pub async fn query_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.post_with_authorization(Some(&format!("Bearer {token}")), query, variables)
            .await
            .body
    }
}

/// Parses an id the test knows is valid.
pub fn id(s: &str) -> diplograph::model::Id {
    diplograph::model::Id::parse(s).expect("a valid id")
}

/// Parses a date the test knows is valid.
pub fn date(s: &str) -> diplograph::model::PartialDate {
    diplograph::model::PartialDate::parse(s).expect("a valid date")
}

/// A temporary store holding the real seed.
pub fn seeded() -> Store {
    let store = Store::temporary().unwrap();
    diplograph::seed::load(&store, &seed_dir(), false).expect("the real seed loads");
    store
}

/// A response header as text, if it is there.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
