//! DataLoaders batch: a nested query costs a few store reads per level of
//! nesting, however many items each level holds. `Store::reads` counts read
//! calls (a batched read counts once), and each test has its own server, so
//! the difference across one request is that request's cost.

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// The most store reads the nested queries below may cost. A level needs
/// about two reads (follow a relation, load what it leads to); the deepest
/// query here has five levels.
const READ_BUDGET: u64 = 12;

/// Runs a query that must succeed; returns its data and the store reads it cost.
async fn reads_for(app: &TestApp, query: &str) -> (Value, u64) {
    let before = app.store.reads();
    let data = app.data(query).await;
    (data, app.store.reads() - before)
}

fn events_query(n: usize) -> String {
    format!(
        "{{ events(first: {n}) {{ nodes {{ title participants {{ role actor {{ name treaties {{ name }} }} }} }} }} }}"
    )
}

/// How many participants the events of an answer list in all.
fn participants(data: &Value) -> usize {
    data["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["participants"].as_array().unwrap().len())
        .sum()
}

#[tokio::test]
async fn a_nested_query_over_fifty_events_costs_a_small_constant_number_of_reads() {
    let app = spawn_app().await;

    let (data, reads) = reads_for(&app, &events_query(50)).await;

    let events = data["events"]["nodes"].as_array().unwrap().len();
    assert_eq!(events, 50, "the query really covers 50 events");
    let people = participants(&data);
    assert!(people > 100, "and well over a hundred participants: {people}");
    assert!(
        reads <= READ_BUDGET,
        "{reads} store reads for {events} events and {people} participants; \
         at most {READ_BUDGET} with batching"
    );
}

#[tokio::test]
async fn the_reads_a_nested_query_costs_do_not_grow_with_the_number_of_events() {
    let app = spawn_app().await;

    let (few, reads_for_few) = reads_for(&app, &events_query(5)).await;
    let (many, reads_for_many) = reads_for(&app, &events_query(50)).await;
    eprintln!("READS few {reads_for_few} many {reads_for_many}");

    assert_eq!(few["events"]["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(many["events"]["nodes"].as_array().unwrap().len(), 50);
    // Ten times the events may not cost more reads: at most one more, in case
    // a level that happens to be empty for five events is not for fifty.
    assert!(
        reads_for_many <= reads_for_few + 1,
        "5 events cost {reads_for_few} reads, 50 cost {reads_for_many}"
    );
}

#[tokio::test]
async fn every_level_of_a_deep_query_is_batched() {
    let app = spawn_app().await;
    // Six levels below the root, each a list or an object per item above it.
    let query = "{ events(first: 60) { nodes { title
        place { within { name } }
        participants { role actor { name partOf { name } treaties { name parties { name } } } }
    } } }";

    let (data, reads) = reads_for(&app, query).await;
    eprintln!("READS deep {reads}");

    let events = data["events"]["nodes"].as_array().unwrap().len();
    let people = participants(&data);
    assert_eq!(events, 60);
    assert!(
        reads <= READ_BUDGET,
        "{reads} store reads for {events} events and {people} participants"
    );
}
