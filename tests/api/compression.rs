//! gzip: answers go compressed to clients that accept it, and only to them;
//! compressed answers decompress to exactly the plain ones, from the
//! response cache or not.

use std::io::Read;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

/// A nested read whose answer is well over a kilobyte.
const NESTED: &str = "{ events(first: 20) { nodes { id title participants { actor { name } } } } }";

struct Reply {
    encoding: Option<String>,
    vary: Vec<String>,
    cache: String,
    bytes: Vec<u8>,
}

impl Reply {
    /// The body as JSON, gunzipped when it says it is gzipped.
    fn json(&self) -> Value {
        let plain = match self.encoding.as_deref() {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&self.bytes[..])
                    .read_to_end(&mut out)
                    .expect("a gzip body");
                out
            }
            None => self.bytes.clone(),
            Some(other) => panic!("unexpected Content-Encoding {other}"),
        };
        serde_json::from_slice(&plain).expect("JSON")
    }
}

async fn post(app: &TestApp, query: &str, accept_encoding: Option<&str>) -> Reply {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query }));
    if let Some(value) = accept_encoding {
        request = request.header("accept-encoding", value);
    }
    let response = request.send().await.expect("request sent");
    assert_eq!(response.status(), 200);
    let header = |name: &str| crate::helpers::header(&response, name);
    let encoding = header("content-encoding");
    let cache = header("x-cache").unwrap_or_default();
    let vary = response
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let bytes = response.bytes().await.expect("body").to_vec();
    Reply {
        encoding,
        vary,
        cache,
        bytes,
    }
}

#[tokio::test]
async fn a_client_that_accepts_gzip_gets_the_same_answer_compressed() {
    let app = spawn_app_with(|_| {}).await;
    let plain = post(&app, NESTED, None).await;
    assert_eq!(plain.encoding, None, "no Accept-Encoding, no compression");
    assert!(
        plain.vary.iter().any(|v| v.contains("Accept-Encoding")),
        "{:?}",
        plain.vary
    );
    // From the response cache (compressed once, then kept), twice.
    for _ in 0..2 {
        let gzipped = post(&app, NESTED, Some("gzip, deflate, br")).await;
        assert_eq!(gzipped.cache, "hit");
        assert_eq!(gzipped.encoding.as_deref(), Some("gzip"));
        assert!(
            gzipped.bytes.len() * 4 < plain.bytes.len(),
            "{} vs {}",
            gzipped.bytes.len(),
            plain.bytes.len()
        );
        assert_eq!(gzipped.json(), plain.json());
    }
    // Refused by weight: plain again.
    let refused = post(&app, NESTED, Some("gzip;q=0, br")).await;
    assert_eq!(refused.encoding, None);
    assert_eq!(refused.bytes, plain.bytes);
}

#[tokio::test]
async fn answers_outside_the_cache_are_compressed_as_they_go_and_short_ones_not_at_all() {
    let app = spawn_app_with(|s| s.response_cache = false).await;
    let plain = post(&app, NESTED, None).await;
    let gzipped = post(&app, NESTED, Some("gzip")).await;
    assert_eq!(
        gzipped.cache, "",
        "a server without a response cache says nothing of it"
    );
    assert_eq!(gzipped.encoding.as_deref(), Some("gzip"));
    assert_eq!(gzipped.json(), plain.json());
    let short = post(&app, r#"{ actor(id: "actor/russia") { name } }"#, Some("gzip")).await;
    assert_eq!(short.encoding, None, "a short answer goes as it is");
    assert_eq!(short.json()["data"]["actor"]["name"], "Russia");
}

#[tokio::test]
async fn compression_can_be_turned_off() {
    let app = spawn_app_with(|s| s.compression = false).await;
    let reply = post(&app, NESTED, Some("gzip")).await;
    assert_eq!(reply.encoding, None);
    assert!(
        reply.vary.iter().all(|v| !v.contains("Accept-Encoding")),
        "{:?}",
        reply.vary
    );
    assert!(reply.json()["data"]["events"]["nodes"]
        .as_array()
        .is_some_and(|n| n.len() == 20));
}
