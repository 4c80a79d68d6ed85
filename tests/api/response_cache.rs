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
        assert_eq!(cache, "bypass");
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
