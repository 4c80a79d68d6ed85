//! An entity met many times in one answer (Russia under most events'
//! participants) is resolved once per field of the query and copied. These
//! tests check the copies are exactly what resolving each occurrence would
//! give: per field (arguments, aliases, fragments, directives), and with
//! errors reported at every path they occur.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with_writes, TEST_WRITE_TOKEN};

/// Reads every entity and relation the queries below touch, so that the
/// shared read cache answers them without waiting: then an actor's subtree
/// resolves at once, and later occurrences find it done (on a cold cache
/// every occurrence waits on the same batched read, and each resolves).
async fn warm(app: &crate::helpers::TestApp) {
    for inner in [
        "events(first: 1) { totalCount }",
        "positions { of { id events(first: 1) { totalCount } } }",
    ] {
        app.data(&format!(
            "{{ events(first: 40) {{ nodes {{ participants {{ actor {{ id {inner} }} }} }} }} }}"
        ))
        .await;
    }
}

/// Every (actor id, subtree) under `events.nodes[].participants[].<alias>`.
fn occurrences<'a>(data: &'a Value, alias: &str) -> Vec<(String, &'a Value)> {
    let mut out = Vec::new();
    for event in data["events"]["nodes"].as_array().expect("events") {
        for participant in event["participants"].as_array().expect("participants") {
            let actor = &participant[alias];
            out.push((actor["id"].as_str().expect("actor id").to_owned(), actor));
        }
    }
    out
}

#[tokio::test]
async fn repeated_actors_under_different_fields_each_get_their_own_arguments() {
    let app = spawn_app().await;
    warm(&app).await;
    let query = r#"
        query($two: Int!, $withKind: Boolean!) {
          events(first: 40) { nodes { participants {
            one: actor { id events(first: 1) { nodes { id } totalCount } }
            two: actor { id events(first: $two) { nodes { id title } } kind @include(if: $withKind) }
            ...More
          } } }
        }
        fragment More on Participant { three: actor { id name events(last: 3) { nodes { id } } } }
    "#;
    let response = app.query_with(query, json!({ "two": 2, "withKind": true })).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let data = &response["data"];

    // What each actor's subtree should be, asked once per actor.
    let one = occurrences(data, "one");
    assert!(one.len() > 30, "the test needs repeats: {} occurrences", one.len());
    let mut repeats: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, _) in &one {
        *repeats.entry(id.as_str()).or_default() += 1;
    }
    assert!(
        repeats.values().any(|n| *n >= 5),
        "some actor comes back often: {repeats:?}"
    );

    for (alias, selection, count) in [
        ("one", "id events(first: 1) { nodes { id } totalCount }", 1),
        ("two", "id events(first: 2) { nodes { id title } } kind", 2),
        ("three", "id name events(last: 3) { nodes { id } }", 3),
    ] {
        let mut expected: BTreeMap<String, Value> = BTreeMap::new();
        for (id, subtree) in occurrences(data, alias) {
            let want = match expected.get(&id) {
                Some(want) => want.clone(),
                None => {
                    let alone = app
                        .data(&format!(r#"{{ {alias}: actor(id: "{id}") {{ {selection} }} }}"#))
                        .await;
                    expected.insert(id.clone(), alone[alias].clone());
                    alone[alias].clone()
                }
            };
            assert_eq!(subtree, &want, "{alias} of {id}");
            let events = subtree["events"]["nodes"].as_array().unwrap();
            assert!(events.len() <= count, "{alias} of {id}: at most {count} events");
        }
    }

    // The directive follows the variable in the same document.
    let without = app.query_with(query, json!({ "two": 2, "withKind": false })).await;
    assert!(occurrences(&without["data"], "two")
        .iter()
        .all(|(_, a)| a.get("kind").is_none()));
}

#[tokio::test]
async fn an_error_inside_a_repeated_subtree_is_reported_at_every_path() {
    let app = spawn_app().await;
    warm(&app).await;
    let response = app
        .query(r#"{ events(first: 20) { nodes { participants { actor { id events(first: -1) { totalCount } } } } } }"#)
        .await;
    let data = &response["data"];
    let errors = response["errors"].as_array().expect("errors");
    // The answer lists the first 20 errors and counts the rest in a last one.
    let (listed, summary) = errors.split_at(errors.len() - 1);
    let more: usize = summary[0]["message"]
        .as_str()
        .and_then(|m| m.strip_prefix("… and "))
        .and_then(|m| m.strip_suffix(" more errors"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a summary of the errors left out: {summary:?}"));
    let occurrences = occurrences(data, "actor").len();
    assert!(occurrences > 20, "{occurrences}");
    assert_eq!(listed.len() + more, occurrences, "one error per occurrence");
    let paths: std::collections::BTreeSet<String> = listed.iter().map(|e| e["path"].to_string()).collect();
    assert_eq!(paths.len(), listed.len(), "each at its own path: {paths:?}");
    assert!(
        listed.iter().all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_repeated_subtree_that_resolved_with_errors_inside_is_not_copied() {
    // The error is deep inside the actor (in the actor a position is in):
    // the actor itself resolves, with an error recorded.
    let app = spawn_app().await;
    warm(&app).await;
    let response = app
        .query(
            r#"{ events(first: 40) { nodes { participants { actor { id positions { of { id events(first: -1) { totalCount } } } } } } } }"#,
        )
        .await;
    let data = &response["data"];
    let mut expected = 0;
    for (id, actor) in occurrences(data, "actor") {
        let alone = app
            .data(&format!(r#"{{ actor(id: "{id}") {{ positions {{ of {{ id }} }} }} }}"#))
            .await;
        let held = alone["actor"]["positions"].as_array().unwrap();
        expected += held.iter().filter(|p| !p["of"].is_null()).count();
        let positions = actor["positions"].as_array().unwrap();
        assert!(
            positions.iter().all(|p| p["of"].get("events").is_none()),
            "{positions:?}"
        );
    }
    assert!(expected > 20, "the test needs errors in repeated actors: {expected}");
    let errors = response["errors"].as_array().expect("errors");
    let more: usize = errors
        .last()
        .and_then(|e| e["message"].as_str())
        .and_then(|m| m.strip_prefix("… and "))
        .and_then(|m| m.strip_suffix(" more errors"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let listed = if more > 0 { errors.len() - 1 } else { errors.len() };
    assert_eq!(listed + more, expected, "one error per position of every occurrence");
}

#[tokio::test]
async fn nothing_is_kept_from_one_operation_to_the_next() {
    let app = spawn_app_with_writes().await;
    // Two operations in a row on the same server: the second sees the write
    // made between them, so nothing is kept from one operation to the next.
    let ask = r#"{ events(first: 40) { nodes { participants { actor { id name } } } } }"#;
    let before = app.data(ask).await;
    assert!(occurrences(&before, "actor").iter().any(|(id, _)| id == "actor/russia"));
    let renamed = app
        .query_as(
            TEST_WRITE_TOKEN,
            r#"mutation { updateActor(id: "actor/russia", input: { name: "Russian Federation" }) { actor { name } } }"#,
            json!({}),
        )
        .await;
    assert!(renamed.get("errors").is_none(), "{renamed:#}");
    let after = app.data(ask).await;
    for (id, actor) in occurrences(&after, "actor") {
        if id == "actor/russia" {
            assert_eq!(actor["name"], "Russian Federation");
        }
    }
}
