//! DataLoaders batch: a nested query costs a few store reads per level of
//! nesting, however many items each level holds. `Store::reads` counts read
//! calls (a batched read counts once), and each test has its own server, so
//! the difference across one request is that request's cost.

use serde_json::Value;

use crate::helpers::{seed_records, spawn_app, TestApp};

/// The most store reads the four-level events query below may cost: listing
/// and counting the events, loading them, then about one read per level.
/// Without batching it would cost hundreds (one per participant, per actor).
const READ_BUDGET: u64 = 12;

/// Runs a query that must succeed; returns its data and the store reads it cost.
async fn reads_for(app: &TestApp, query: &str) -> (Value, u64) {
    let before = app.store.reads();
    let data = app.data(query).await;
    (data, app.store.reads() - before)
}

/// The fewest reads a query costs over five runs, with the cost of each.
///
/// The DataLoader sends a batch one millisecond after its first key, and
/// tokio's cooperative budget makes a request that awaits more than about a
/// hundred loads in one level yield halfway through it; when the machine is
/// busy (the other tests run alongside) the millisecond can pass during that
/// yield and the level goes out in two or more batches. The cheapest run
/// shows what batching achieves without that noise.
async fn cheapest_reads_for(app: &TestApp, query: &str) -> (Value, u64, Vec<u64>) {
    let mut runs = Vec::new();
    let mut cheapest: Option<(Value, u64)> = None;
    for _ in 0..5 {
        let (data, reads) = reads_for(app, query).await;
        runs.push(reads);
        if cheapest.as_ref().is_none_or(|(_, least)| reads < *least) {
            cheapest = Some((data, reads));
        }
    }
    let (data, reads) = cheapest.expect("five runs");
    (data, reads, runs)
}

fn events_query(n: usize) -> String {
    format!(
        "{{ events(first: {n}) {{ nodes {{ title participants {{ role actor {{ name treaties {{ name }} }} }} }} }} }}"
    )
}

/// How many events an answer holds, and how many participants they list in all.
fn sizes(data: &Value) -> (usize, usize) {
    let events = data["events"]["nodes"].as_array().unwrap();
    let participants = events.iter().map(|e| e["participants"].as_array().unwrap().len()).sum();
    (events.len(), participants)
}

#[tokio::test]
async fn a_nested_query_over_fifty_events_costs_a_small_constant_number_of_reads() {
    let app = spawn_app().await;

    let (data, reads, runs) = cheapest_reads_for(&app, &events_query(50)).await;

    let (events, participants) = sizes(&data);
    assert_eq!(events, 50, "the query really covers 50 events");
    assert!(
        participants > 100,
        "and well over a hundred participants: {participants}"
    );
    assert!(
        reads <= READ_BUDGET,
        "{reads} store reads for {events} events and {participants} participants \
         (runs: {runs:?}); at most {READ_BUDGET} with batching"
    );
}

#[tokio::test]
async fn the_reads_a_nested_query_costs_do_not_grow_with_the_number_of_events() {
    let app = spawn_app().await;
    let mut costs = Vec::new();

    // Up to every event of the seed.
    let all = seed_records("events").len();
    for n in [1, 5, 20, 50, all] {
        let (data, reads, runs) = cheapest_reads_for(&app, &events_query(n)).await;
        assert_eq!(sizes(&data).0, n, "first: {n}");
        costs.push((n, reads, runs));
    }

    // Ten times the events (and participants) cost the same, or one read
    // more; without batching, fifty events would cost dozens more than five.
    let cost = |n: usize| costs.iter().find(|(m, ..)| *m == n).unwrap().1;
    assert!(cost(50) <= cost(5) + 1, "(events, cheapest, runs): {costs:?}");
    let least = costs.iter().map(|(_, r, _)| *r).min().unwrap();
    let most = costs.iter().map(|(_, r, _)| *r).max().unwrap();
    assert!(most <= least + 2, "(events, cheapest, runs): {costs:?}");
    assert!(most <= READ_BUDGET, "(events, cheapest, runs): {costs:?}");
}

#[tokio::test]
async fn every_level_of_a_six_level_query_is_batched() {
    let app = spawn_app().await;
    // Loads at seven levels below the listing: events; places and the
    // participants' actors; regions and parent actors; treaties; parties.
    let query = "{ events(first: 60) { nodes { title
        place { within { name } }
        participants { role actor { name partOf { name } treaties { name parties { name } } } }
    } } }";

    let (data, reads, runs) = cheapest_reads_for(&app, query).await;

    let (events, participants) = sizes(&data);
    assert_eq!(events, 60);
    assert!(participants > 150, "{participants} participants");
    assert!(
        reads <= READ_BUDGET,
        "{reads} store reads for {events} events and {participants} participants (runs: {runs:?})"
    );
}
