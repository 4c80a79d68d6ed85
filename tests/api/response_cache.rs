//! The response cache answers repeated reads, and is never wrong: a write
//! invalidates it, different variables never share an entry, errors are not
//! kept, and it can be turned off.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, spawn_app_with_writes, TestApp, TEST_WRITE_TOKEN};

/// POSTs a read and returns (x-cache header, cache-control header, body).
async fn read(app: &TestApp, query: &str, variables: Value) -> (String, String, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<none>")
            .to_owned()
    };
    let (cache, control) = (header("x-cache"), header("cache-control"));
    (cache, control, response.json().await.expect("JSON"))
}

const SUMMARY: &str = r#"{ actor(id: "actor/russia") { name summary } }"#;

#[tokio::test]
async fn a_repeated_read_is_served_from_the_cache_until_a_write_changes_the_data() {
    let app = spawn_app_with_writes().await;
    let (first, _, before) = read(&app, SUMMARY, json!({})).await;
    let (second, control, again) = read(&app, SUMMARY, json!({})).await;
    assert_eq!((first.as_str(), second.as_str()), ("miss", "hit"));
    assert_eq!(before, again);
    assert!(
        !control.contains("no-store"),
        "a successful read may be reused: {control}"
    );

    let written = app
        .query_as(
            TEST_WRITE_TOKEN,
            r#"mutation { updateActor(id: "actor/russia", input: { summary: "Changed by the cache test." }) { actor { summary } } }"#,
            json!({}),
        )
        .await;
    assert!(written.get("errors").is_none(), "{written}");

    let (after_write, _, fresh) = read(&app, SUMMARY, json!({})).await;
    assert_eq!(after_write, "miss", "a write makes the cached answer stale");
    assert_eq!(fresh["data"]["actor"]["summary"], "Changed by the cache test.");
    assert_ne!(fresh, before);
}

#[tokio::test]
async fn different_variables_or_operation_names_never_share_an_entry() {
    let app = spawn_app_with(|_| {}).await;
    let query = "query Q($id: ID!) { actor(id: $id) { id name } }";
    let (_, _, russia) = read(&app, query, json!({ "id": "actor/russia" })).await;
    let (cache, _, georgia) = read(&app, query, json!({ "id": "actor/georgia" })).await;
    assert_eq!(cache, "miss", "other variables are another entry");
    assert_eq!(russia["data"]["actor"]["id"], "actor/russia");
    assert_eq!(georgia["data"]["actor"]["id"], "actor/georgia");
    let (cache, _, russia_again) = read(&app, query, json!({ "id": "actor/russia" })).await;
    assert_eq!(cache, "hit");
    assert_eq!(russia_again, russia);

    // Layout does not split the cache; string contents do.
    let (cache, _, _) = read(
        &app,
        "query   Q($id: ID!) {\n actor(id: $id) { id, name } }",
        json!({ "id": "actor/russia" }),
    )
    .await;
    assert_eq!(cache, "hit", "whitespace and commas outside strings are normalised");
    let (a, _, _) = read(&app, r#"{ search(query: "kokoity", first: 1) { score } }"#, json!({})).await;
    let (b, _, _) = read(&app, r#"{ search(query: "kokoity ", first: 1) { score } }"#, json!({})).await;
    assert_eq!(
        (a.as_str(), b.as_str()),
        ("miss", "miss"),
        "a string literal's contents are part of the key"
    );
}

#[tokio::test]
async fn answers_with_errors_are_not_cached() {
    let app = spawn_app_with(|_| {}).await;
    let bad = r#"{ events(first: -1) { totalCount } }"#;
    for _ in 0..2 {
        let (cache, control, body) = read(&app, bad, json!({})).await;
        assert_eq!(cache, "bypass", "{body}");
        assert_eq!(control, "no-store");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let app = spawn_app_with(|s| s.response_cache = false).await;
    for _ in 0..2 {
        let (cache, _, body) = read(&app, SUMMARY, json!({})).await;
        // No cache to say anything about.
        assert_eq!(cache, "<none>");
        assert_eq!(body["data"]["actor"]["name"], "Russia");
    }
}

#[tokio::test]
async fn variables_the_operation_does_not_declare_are_left_out_of_the_key() {
    let app = spawn_app_with(|_| {}).await;
    let query = "query($id: ID!) { actor(id: $id) { name } }";
    let (first, _, a) = read(&app, query, json!({ "id": "actor/russia", "junk": "x".repeat(1000) })).await;
    let (second, _, b) = read(&app, query, json!({ "id": "actor/russia", "other": 1 })).await;
    assert_eq!((first.as_str(), second.as_str()), ("miss", "hit"));
    assert_eq!(a, b);
    let (third, _, c) = read(&app, query, json!({ "id": "actor/georgia" })).await;
    assert_eq!(third, "miss");
    assert_ne!(a, c);
}

#[tokio::test]
async fn two_documents_that_differ_only_after_an_escaped_triple_quote_never_share_an_entry() {
    let app = spawn_app_with(|_| {}).await;
    // The block strings are `\"""  kokoity` and `\""",kokoity`: different
    // documents, which a key blind to the `\"""` escape read as one.
    let a = r#"{ search(query: """\"""  kokoity""", first: 1) { score } }"#;
    let b = r#"{ search(query: """\""",kokoity""", first: 1) { score } }"#;
    let (first, _, _) = read(&app, a, json!({})).await;
    let (second, _, _) = read(&app, b, json!({})).await;
    assert_eq!((first.as_str(), second.as_str()), ("miss", "miss"));
    let (again, _, _) = read(&app, a, json!({})).await;
    assert_eq!(again, "hit");
}

// ---- answered by the request's raw bytes, before they are parsed ------------------------

/// One request as sent, with what came back.
struct Sent {
    status: u16,
    cache: String,
    encoding: Option<String>,
    body: Vec<u8>,
}

/// POSTs `body` exactly as given (no re-encoding, so the bytes repeat),
/// with these extra headers.
async fn post_bytes(app: &TestApp, body: &str, headers: &[(&str, &str)]) -> Sent {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    sent(request.send().await.expect("request sent")).await
}

/// GETs `/graphql?<query_string>` exactly as given.
async fn get_bytes(app: &TestApp, query_string: &str) -> Sent {
    let response = app
        .client
        .get(format!("{}/graphql?{query_string}", app.address))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request sent");
    sent(response).await
}

async fn sent(response: reqwest::Response) -> Sent {
    let header = |name: &str| crate::helpers::header(&response, name);
    let (status, cache, encoding) = (
        response.status().as_u16(),
        header("x-cache").unwrap_or_default(),
        header("content-encoding"),
    );
    Sent {
        status,
        cache,
        encoding,
        body: response.bytes().await.expect("a body").to_vec(),
    }
}

/// Hits answered by raw bytes for the operation `name`, so far.
async fn raw_hits(app: &TestApp, name: &str) -> f64 {
    crate::metrics::scrape(app)
        .await
        .value("diplograph_response_cache_raw_hits_total", &[("operation", name)])
}

async fn update_russia_summary(app: &TestApp, summary: &str) {
    let written = app
        .query_as(
            TEST_WRITE_TOKEN,
            "mutation($s: String) { updateActor(id: \"actor/russia\", input: { summary: $s }) { actor { id } } }",
            json!({ "s": summary }),
        )
        .await;
    assert!(written.get("errors").is_none(), "{written}");
}

#[tokio::test]
async fn the_same_body_is_answered_by_its_bytes_until_a_write_moves_the_generation() {
    let app = spawn_app_with_writes().await;
    let body = r#"{"query":"query RawGeneration { actor(id: \"actor/russia\") { name summary } }","operationName":"RawGeneration"}"#;
    let before = raw_hits(&app, "RawGeneration").await;
    let first = post_bytes(&app, body, &[]).await;
    let second = post_bytes(&app, body, &[]).await;
    let third = post_bytes(&app, body, &[]).await;
    assert_eq!(
        [first.cache.as_str(), second.cache.as_str(), third.cache.as_str()],
        ["miss", "hit", "hit"]
    );
    assert_eq!(
        raw_hits(&app, "RawGeneration").await - before,
        2.0,
        "both hits by raw bytes"
    );
    assert_eq!(second.body, first.body);
    assert_eq!(third.body, first.body);

    update_russia_summary(&app, "Changed under the raw key.").await;
    let after = post_bytes(&app, body, &[]).await;
    assert_eq!(after.cache, "miss", "a write makes the raw entry stale");
    let answer: Value = serde_json::from_slice(&after.body).unwrap();
    assert_eq!(answer["data"]["actor"]["summary"], "Changed under the raw key.");
    assert_eq!(post_bytes(&app, body, &[]).await.body, after.body);
}

#[tokio::test]
async fn the_same_get_query_string_is_answered_by_its_bytes_until_a_write() {
    let app = spawn_app_with_writes().await;
    let query_string = "query=query%20RawGet%20%7B%20actor(id%3A%20%22actor%2Frussia%22)%20%7B%20summary%20%7D%20%7D&operationName=RawGet";
    let before = raw_hits(&app, "RawGet").await;
    let first = get_bytes(&app, query_string).await;
    let second = get_bytes(&app, query_string).await;
    assert_eq!(
        (first.status, first.cache.as_str(), second.cache.as_str()),
        (200, "miss", "hit")
    );
    assert_eq!(second.body, first.body);
    assert_eq!(raw_hits(&app, "RawGet").await - before, 1.0);
    // The same operation POSTed is another request's bytes: found by its normalised key.
    let posted = post_bytes(
        &app,
        r#"{"query":"query RawGet { actor(id: \"actor/russia\") { summary } }","operationName":"RawGet"}"#,
        &[],
    )
    .await;
    assert_eq!((posted.cache.as_str(), &posted.body), ("hit", &first.body));
    assert_eq!(raw_hits(&app, "RawGet").await - before, 1.0);

    update_russia_summary(&app, "Changed under the GET key.").await;
    let after = get_bytes(&app, query_string).await;
    assert_eq!(after.cache, "miss");
    assert_ne!(after.body, first.body);
}

#[tokio::test]
async fn variables_the_operation_does_not_declare_change_the_bytes_but_never_the_answer() {
    let app = spawn_app_with(|_| {}).await;
    let plain = r#"{"query":"query RawUndeclared($id: ID!) { actor(id: $id) { name } }","operationName":"RawUndeclared","variables":{"id":"actor/russia"}}"#;
    let junk = format!(
        r#"{{"query":"query RawUndeclared($id: ID!) {{ actor(id: $id) {{ name }} }}","operationName":"RawUndeclared","variables":{{"id":"actor/russia","junk":"{}"}}}}"#,
        "x".repeat(2000)
    );
    let before = raw_hits(&app, "RawUndeclared").await;
    let first = post_bytes(&app, plain, &[]).await;
    // Other bytes: not a raw hit, but the normalised key leaves `junk` out.
    let with_junk = post_bytes(&app, &junk, &[]).await;
    assert_eq!((first.cache.as_str(), with_junk.cache.as_str()), ("miss", "hit"));
    assert_eq!(raw_hits(&app, "RawUndeclared").await - before, 0.0);
    // Now kept by its own bytes too, with the same answer.
    let again = post_bytes(&app, &junk, &[]).await;
    assert_eq!(again.cache, "hit");
    assert_eq!(raw_hits(&app, "RawUndeclared").await - before, 1.0);
    assert_eq!(with_junk.body, first.body);
    assert_eq!(again.body, first.body);
    // A declared variable's value is part of the bytes and of the answer.
    let georgia = post_bytes(&app, &plain.replace("actor/russia", "actor/georgia"), &[]).await;
    assert_eq!(georgia.cache, "miss");
    assert_ne!(georgia.body, first.body);
}

#[tokio::test]
async fn the_bytes_of_a_write_are_never_answered_from_the_cache() {
    let app = spawn_app_with_writes().await;
    let body = r#"{"query":"mutation RawWrite { createActor(input: { id: \"actor/raw-write\", name: \"Raw\", kind: GROUP }) { actor { id } } }","operationName":"RawWrite"}"#;
    let bearer = format!("Bearer {TEST_WRITE_TOKEN}");
    let created = post_bytes(&app, body, &[("authorization", &bearer)]).await;
    assert_eq!((created.status, created.cache.as_str()), (200, "bypass"));
    let again = post_bytes(&app, body, &[("authorization", &bearer)]).await;
    assert_eq!(again.cache, "bypass", "a write runs every time");
    let again: Value = serde_json::from_slice(&again.body).unwrap();
    assert!(
        again["errors"].is_array(),
        "the second create is refused, not replayed: {again}"
    );
    let anonymous = post_bytes(&app, body, &[]).await;
    assert_eq!(anonymous.status, 401, "the same bytes without the token are refused");
    let wrong = post_bytes(&app, body, &[("authorization", "Bearer not-the-token")]).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(raw_hits(&app, "RawWrite").await, 0.0);

    // A read kept by its bytes is served whatever the Authorization header says:
    // reads need no token.
    let read = r#"{"query":"query RawRead { actor(id: \"actor/raw-write\") { name } }","operationName":"RawRead"}"#;
    let first = post_bytes(&app, read, &[]).await;
    let second = post_bytes(&app, read, &[("authorization", "Bearer not-the-token")]).await;
    assert_eq!((first.cache.as_str(), second.cache.as_str()), ("miss", "hit"));
    assert_eq!(second.body, first.body);
}

#[tokio::test]
async fn a_hit_by_raw_bytes_comes_gzipped_to_a_client_that_accepts_it() {
    use std::io::Read;
    let app = spawn_app_with(|_| {}).await;
    let body = r#"{"query":"query RawGzip { events(first: 20) { nodes { id title date participants { actor { name } } } } }","operationName":"RawGzip"}"#;
    let plain = post_bytes(&app, body, &[]).await;
    assert!(plain.body.len() >= 1024, "a long answer: {} bytes", plain.body.len());
    let before = raw_hits(&app, "RawGzip").await;
    let gzipped = post_bytes(&app, body, &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        (gzipped.cache.as_str(), gzipped.encoding.as_deref()),
        ("hit", Some("gzip"))
    );
    assert_eq!(raw_hits(&app, "RawGzip").await - before, 1.0);
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped.body[..])
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain.body);
    let identity = post_bytes(&app, body, &[("accept-encoding", "identity")]).await;
    assert_eq!((identity.encoding, identity.body), (None, plain.body));
}
