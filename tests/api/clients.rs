//! The documents real clients send (`tests/clients/`: Apollo Client and urql
//! with `__typename` added everywhere, the Relay compiler's output for a
//! refetchable connection fragment) and the IDE's example tabs, each run
//! twice over HTTP: the first run is async-graphql's, the second must come
//! from a compiled plan (as `/metrics` says) with the very same bytes.

use std::path::Path;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};
use crate::metrics::scrape;

/// The variables each client document is sent with: what its client would
/// send for a first page, and for the page after it.
fn variables_for(file: &str) -> Vec<Value> {
    match file {
        "apollo-nested.graphql" => vec![json!({ "first": 20 }), json!({ "first": 20, "after": null })],
        "apollo-actor.graphql" => vec![
            json!({ "id": "actor/russia", "first": 10 }),
            json!({ "id": "actor/eduard-kokoity", "first": 5, "after": null }),
        ],
        "urql-search.graphql" => vec![json!({ "q": "ossetia" }), json!({ "q": "kokoity", "first": 3 })],
        "urql-treaty.graphql" => vec![
            json!({ "id": "treaty/friendship-2008", "withMoney": true }),
            json!({ "id": "treaty/friendship-2008", "withMoney": false }),
        ],
        "relay-ActorEventsPaginationQuery.graphql" => vec![
            json!({ "id": "actor/russia" }),
            json!({ "id": "actor/russia", "count": 3, "cursor": null }),
        ],
        "relay-ActorEventsQuery.graphql" => vec![json!({ "id": "actor/dmitry-medvedev" })],
        other => panic!("no variables for {other}: add them here"),
    }
}

/// The name of the (only) operation of a document.
fn operation_name(document: &str) -> Option<&str> {
    let rest = document.split_once("query ")?.1;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

async fn post(app: &TestApp, body: &Value) -> String {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Runs a document twice with each set of variables: the first run of the
/// document is async-graphql's, every run after it comes from a plan, and
/// each answer equals, byte for byte, what a server without plans answers.
async fn planned_on_second_run(app: &TestApp, reference: &TestApp, what: &str, document: &str, each: &[Value]) {
    let operation = operation_name(document).unwrap_or_else(|| panic!("{what} names its operation"));
    let planned = || async {
        scrape(app)
            .await
            .value("diplograph_compiled_answers_total", &[("operation", operation)])
    };
    for (i, variables) in each.iter().enumerate() {
        let body = json!({ "query": document, "operationName": operation, "variables": variables });
        let expected = post(reference, &body).await;
        let parsed: Value = serde_json::from_str(&expected).unwrap();
        assert!(parsed["errors"].is_null(), "{what} with {variables}: {expected}");
        assert!(!parsed["data"].is_null(), "{what} with {variables}: {expected}");
        let before = planned().await;
        let first = post(app, &body).await;
        let between = planned().await;
        if i == 0 {
            assert_eq!(between, before, "{what}: its first run is async-graphql's");
        }
        let second = post(app, &body).await;
        assert_eq!(
            planned().await,
            between + 1.0,
            "{what} with {variables}: the second run was answered by a plan"
        );
        assert_eq!(
            first, expected,
            "{what} with {variables}: the same answer with plans on and off"
        );
        assert_eq!(
            second, expected,
            "{what} with {variables}: the plan answers async-graphql's bytes"
        );
    }
}

/// A server with plans on, and one with them off to hold its answers to.
async fn servers() -> (TestApp, TestApp) {
    let app = spawn_app_with(|s| s.response_cache = false).await;
    let reference = spawn_app_with(|s| {
        s.response_cache = false;
        s.compiled_plans = false;
    })
    .await;
    (app, reference)
}

#[tokio::test]
async fn what_apollo_urql_and_relay_send_is_answered_by_plans_from_the_second_run() {
    let (app, reference) = servers().await;
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".graphql"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "the corpus is there: {files:?}");
    for file in files {
        let document = std::fs::read_to_string(folder.join(&file)).unwrap();
        assert!(document.contains("__typename"), "{file} is as its client sends it");
        planned_on_second_run(&app, &reference, &file, &document, &variables_for(&file)).await;
    }
}

#[tokio::test]
async fn the_ide_example_tabs_are_answered_by_plans_from_the_second_run() {
    let (app, reference) = servers().await;
    let page = app.client.get(&app.address).send().await.unwrap().text().await.unwrap();
    let tabs = page
        .split_once("defaultTabs: ")
        .and_then(|(_, rest)| rest.split_once(" }));"))
        .map(|(tabs, _)| tabs.replace("<\\/", "</"))
        .expect("the IDE page carries its example tabs");
    let tabs: Vec<Value> = serde_json::from_str(&tabs).unwrap();
    assert!(tabs.len() >= 5, "{tabs:?}");
    for tab in tabs {
        let document = tab["query"].as_str().unwrap();
        // A subscription tab runs over the WebSocket (tests/clients/browser.test.mjs runs it in the IDE).
        if document.lines().any(|line| line.starts_with("subscription ")) {
            continue;
        }
        planned_on_second_run(&app, &reference, document, document, &[json!({})]).await;
    }
}
