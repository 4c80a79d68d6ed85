//! Relay paging over real HTTP: walking a connection forwards with
//! `first`/`after` and backwards with `last`/`before` visits every item once,
//! in the same order; `pageInfo` is right at both ends; cursors and `nodes`
//! agree with the edges on every page.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{date, ids, seed_records, spawn_app, strings_at, TestApp};

/// What every page asks for.
const PAGE: &str = "totalCount \
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } \
    edges { cursor node { id } } \
    nodes { id }";

/// One page of a connection.
#[derive(Debug)]
struct Page {
    ids: Vec<String>,
    total: u64,
    has_next: bool,
    has_previous: bool,
    end_cursor: Option<String>,
    start_cursor: Option<String>,
}

/// Reads a page, checking what holds on every page: `nodes` are the edges'
/// nodes, and the start and end cursors are the first and last edge's.
fn read_page(connection: &Value, context: &str) -> Page {
    let edges = connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{context}: no edges in {connection:#}"));
    let edge_ids = strings_at(&connection["edges"], &["*", "node", "id"]);
    assert_eq!(edge_ids.len(), edges.len(), "{context}: every edge has a node");
    assert_eq!(
        ids(&connection["nodes"]),
        edge_ids,
        "{context}: `nodes` are the edges' nodes"
    );
    let cursors = strings_at(&connection["edges"], &["*", "cursor"]);
    assert_eq!(cursors.len(), edges.len(), "{context}: every edge has a cursor");
    let unique: BTreeSet<&String> = cursors.iter().collect();
    assert_eq!(unique.len(), cursors.len(), "{context}: cursors are distinct");
    let info = &connection["pageInfo"];
    let cursor = |name: &str| info[name].as_str().map(str::to_owned);
    assert_eq!(
        cursor("startCursor"),
        cursors.first().cloned(),
        "{context}: startCursor is the first edge's cursor"
    );
    assert_eq!(
        cursor("endCursor"),
        cursors.last().cloned(),
        "{context}: endCursor is the last edge's cursor"
    );
    Page {
        ids: edge_ids,
        total: connection["totalCount"].as_u64().expect("totalCount"),
        has_next: info["hasNextPage"].as_bool().expect("hasNextPage"),
        has_previous: info["hasPreviousPage"].as_bool().expect("hasPreviousPage"),
        end_cursor: cursor("endCursor"),
        start_cursor: cursor("startCursor"),
    }
}

/// The most pages a walk takes before the test gives up on it ending.
const MAX_PAGES: usize = 200;

/// A connection to walk: a query whose connection field takes `$size` and
/// `$cursor`, and where in the answer the connection is.
struct Walk<'a> {
    query: &'a str,
    pointer: &'a str,
    size: usize,
}

async fn fetch(app: &TestApp, walk: &Walk<'_>, cursor: Option<&str>, context: &str) -> Page {
    let response = app
        .query_with(walk.query, json!({ "size": walk.size, "cursor": cursor }))
        .await;
    assert!(response.get("errors").is_none(), "{context}: {response:#}");
    let connection = response["data"]
        .pointer(walk.pointer)
        .unwrap_or_else(|| panic!("{context}: nothing at {}: {response:#}", walk.pointer));
    read_page(connection, context)
}

/// Pages forwards with `first: $size, after: $cursor` until `hasNextPage` is false.
async fn forwards(app: &TestApp, walk: &Walk<'_>) -> Vec<Page> {
    let mut pages: Vec<Page> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let context = format!("forward page {}", pages.len() + 1);
        let page = fetch(app, walk, cursor.as_deref(), &context).await;
        assert!(page.ids.len() <= walk.size, "{context}: page too long");
        cursor = page.end_cursor.clone();
        let more = page.has_next;
        pages.push(page);
        if !more {
            return pages;
        }
        assert!(cursor.is_some(), "{context}: more pages but no endCursor");
        assert!(pages.len() < MAX_PAGES, "the walk forwards never ends");
    }
}

/// Pages backwards with `last: $size, before: $cursor` until
/// `hasPreviousPage` is false; pages come back in the order they were read
/// (the last page first).
async fn backwards(app: &TestApp, walk: &Walk<'_>) -> Vec<Page> {
    let mut pages: Vec<Page> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let context = format!("backward page {}", pages.len() + 1);
        let page = fetch(app, walk, cursor.as_deref(), &context).await;
        assert!(page.ids.len() <= walk.size, "{context}: page too long");
        cursor = page.start_cursor.clone();
        let more = page.has_previous;
        pages.push(page);
        if !more {
            return pages;
        }
        assert!(cursor.is_some(), "{context}: more pages but no startCursor");
        assert!(pages.len() < MAX_PAGES, "the walk backwards never ends");
    }
}

/// Checks a walk forwards: every item once, as many as `totalCount`, and
/// `pageInfo` right at both ends. Returns the items in order.
fn check_forwards(pages: &[Page], description: &str) -> Vec<String> {
    let all: Vec<String> = pages.iter().flat_map(|p| p.ids.clone()).collect();
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "{description}: an item came twice: {all:?}");
    for page in pages {
        assert_eq!(page.total as usize, all.len(), "{description}: totalCount");
    }
    let (first, last) = (&pages[0], &pages[pages.len() - 1]);
    assert!(!first.has_previous, "{description}: nothing before the first page");
    assert!(!last.has_next, "{description}: nothing after the last page");
    for (i, page) in pages[..pages.len() - 1].iter().enumerate() {
        assert!(page.has_next, "{description}: page {} has a next", i + 1);
        assert!(!page.ids.is_empty(), "{description}: page {} is empty", i + 1);
    }
    all
}

/// Checks a walk backwards the same way. Returns the items in forward order.
fn check_backwards(pages: &[Page], description: &str) -> Vec<String> {
    let all: Vec<String> = pages.iter().rev().flat_map(|p| p.ids.clone()).collect();
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "{description}: an item came twice: {all:?}");
    for page in pages {
        assert_eq!(page.total as usize, all.len(), "{description}: totalCount");
    }
    let (at_end, at_start) = (&pages[0], &pages[pages.len() - 1]);
    assert!(!at_end.has_next, "{description}: nothing after the last page");
    assert!(!at_start.has_previous, "{description}: nothing before the first page");
    for (i, page) in pages[..pages.len() - 1].iter().enumerate() {
        assert!(page.has_previous, "{description}: page {} has a previous", i + 1);
        assert!(!page.ids.is_empty(), "{description}: page {} is empty", i + 1);
    }
    all
}

fn forward_query(field: &str) -> String {
    format!("query($size: Int, $cursor: String) {{ c: {field}(first: $size, after: $cursor) {{ {PAGE} }} }}")
}

fn backward_query(field: &str) -> String {
    format!("query($size: Int, $cursor: String) {{ c: {field}(last: $size, before: $cursor) {{ {PAGE} }} }}")
}

/// The seed events an actor takes part in.
fn events_of(actor: &str) -> BTreeSet<String> {
    seed_records("events")
        .iter()
        .filter(|e| {
            strings_at(e, &["participants", "*", "actor"])
                .iter()
                .any(|a| a == actor)
        })
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_forwards_through_every_event_visits_each_exactly_once_in_order() {
    let app = spawn_app().await;
    let query = forward_query("events");

    let pages = forwards(
        &app,
        &Walk {
            query: &query,
            pointer: "/c",
            size: 7,
        },
    )
    .await;

    let all = check_forwards(&pages, "events forwards");
    assert_eq!(all.len(), seed_records("events").len(), "every seed event");
    assert!(pages.len() > 2, "the walk has a middle: {} pages", pages.len());
    let one_page = app.data("{ events(first: 100) { nodes { id } } }").await;
    assert_eq!(all, ids(&one_page["events"]["nodes"]), "the same order as one big page");
}

#[tokio::test]
async fn paging_backwards_through_every_event_gives_the_same_events_in_the_same_order() {
    let app = spawn_app().await;
    let (forward, backward) = (forward_query("events"), backward_query("events"));

    let ahead = forwards(
        &app,
        &Walk {
            query: &forward,
            pointer: "/c",
            size: 7,
        },
    )
    .await;
    let behind = backwards(
        &app,
        &Walk {
            query: &backward,
            pointer: "/c",
            size: 7,
        },
    )
    .await;

    let ahead = check_forwards(&ahead, "events forwards");
    let behind = check_backwards(&behind, "events backwards");
    assert_eq!(behind, ahead);
}

#[tokio::test]
async fn every_root_connection_can_be_walked_to_its_end() {
    // (connection, seed file, whether it takes `last`/`before`)
    let cases = [
        ("actors", "actors", true),
        ("events", "events", true),
        ("treaties", "treaties", true),
        ("fundingAllocations", "funding", true),
        ("places", "places", false),
    ];
    let app = spawn_app().await;

    for (field, file, backwards_too) in cases {
        let expected: BTreeSet<String> = ids(&Value::Array(seed_records(file))).into_iter().collect();
        let query = forward_query(field);
        let pages = forwards(
            &app,
            &Walk {
                query: &query,
                pointer: "/c",
                size: 3,
            },
        )
        .await;
        let ahead = check_forwards(&pages, field);
        assert_eq!(ahead.iter().cloned().collect::<BTreeSet<_>>(), expected, "{field}");
        if backwards_too {
            let query = backward_query(field);
            let pages = backwards(
                &app,
                &Walk {
                    query: &query,
                    pointer: "/c",
                    size: 3,
                },
            )
            .await;
            assert_eq!(check_backwards(&pages, field), ahead, "{field} backwards");
        }
    }
}

#[tokio::test]
async fn a_filtered_connection_pages_both_ways_over_only_the_matching_events() {
    let app = spawn_app().await;
    let field = r#"events(filter: { actor: "actor/dmitry-medvedev" }, "#;
    let forward =
        format!("query($size: Int, $cursor: String) {{ c: {field} first: $size, after: $cursor) {{ {PAGE} }} }}");
    let backward =
        format!("query($size: Int, $cursor: String) {{ c: {field} last: $size, before: $cursor) {{ {PAGE} }} }}");

    let ahead = forwards(
        &app,
        &Walk {
            query: &forward,
            pointer: "/c",
            size: 3,
        },
    )
    .await;
    let behind = backwards(
        &app,
        &Walk {
            query: &backward,
            pointer: "/c",
            size: 3,
        },
    )
    .await;

    let ahead = check_forwards(&ahead, "filtered forwards");
    let behind = check_backwards(&behind, "filtered backwards");
    assert_eq!(
        ahead.iter().cloned().collect::<BTreeSet<_>>(),
        events_of("actor/dmitry-medvedev")
    );
    assert_eq!(behind, ahead);
    let one_page = app
        .data(r#"{ events(filter: { actor: "actor/dmitry-medvedev" }, first: 100) { nodes { id } } }"#)
        .await;
    assert_eq!(
        ahead,
        ids(&one_page["events"]["nodes"]),
        "the same order as one big page"
    );
}

#[tokio::test]
async fn a_nested_connection_pages_both_ways() {
    // (description, actor, filter on its events, which seed events it should hold)
    let cases = [
        ("Russia's events", "actor/russia", "", events_of("actor/russia")),
        (
            "Kokoity's 2009 events",
            "actor/eduard-kokoity",
            r#"filter: { from: "2009" }, "#,
            // Kokoity's 2009 events, by the seed's dates.
            seed_records("events")
                .iter()
                .filter(|e| {
                    e["date"].as_str().is_some_and(|d| d.starts_with("2009"))
                        && strings_at(e, &["participants", "*", "actor"]).contains(&"actor/eduard-kokoity".to_owned())
                })
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect(),
        ),
    ];
    let app = spawn_app().await;

    for (description, actor, filter, expected) in cases {
        let forward = format!(
            r#"query($size: Int, $cursor: String) {{ actor(id: "{actor}") {{ events({filter}first: $size, after: $cursor) {{ {PAGE} }} }} }}"#
        );
        let backward = format!(
            r#"query($size: Int, $cursor: String) {{ actor(id: "{actor}") {{ events({filter}last: $size, before: $cursor) {{ {PAGE} }} }} }}"#
        );
        let ahead = forwards(
            &app,
            &Walk {
                query: &forward,
                pointer: "/actor/events",
                size: 4,
            },
        )
        .await;
        let behind = backwards(
            &app,
            &Walk {
                query: &backward,
                pointer: "/actor/events",
                size: 4,
            },
        )
        .await;

        let ahead = check_forwards(&ahead, description);
        let behind = check_backwards(&behind, description);
        assert!(expected.len() > 4, "{description}: more than one page");
        assert_eq!(
            ahead.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{description}"
        );
        assert_eq!(behind, ahead, "{description}: backwards");
    }
}

#[tokio::test]
async fn paging_past_the_end_gives_an_empty_page_with_no_next() {
    let app = spawn_app().await;
    let last = app
        .data("{ events(last: 1) { edges { cursor } pageInfo { hasNextPage } } }")
        .await;
    assert_eq!(last["events"]["pageInfo"]["hasNextPage"], false);
    let cursor = last["events"]["edges"][0]["cursor"].as_str().unwrap().to_owned();

    let response = app
        .query_with(
            &format!("query($cursor: String) {{ c: events(first: 5, after: $cursor) {{ {PAGE} }} }}"),
            json!({ "cursor": cursor }),
        )
        .await;

    assert!(response.get("errors").is_none(), "{response:#}");
    let page = read_page(&response["data"]["c"], "past the end");
    assert!(page.ids.is_empty(), "{page:?}");
    assert!(!page.has_next, "{page:?}");
    assert_eq!(page.total as usize, seed_records("events").len());
}

/// The seed events that `events(filter: …)` should give, in listing order:
/// chronological by start, then end, then id; undated ones last.
fn expected_events(from: Option<&str>, to: Option<&str>, kind: Option<&str>, actor: Option<&str>) -> Vec<String> {
    let (from, to) = (from.map(date), to.map(date));
    let mut matching: Vec<((i32, i32), String)> = seed_records("events")
        .iter()
        .filter(|e| kind.is_none_or(|k| e["kind"].as_str() == Some(k)))
        .filter(|e| actor.is_none_or(|a| events_of(a).contains(e["id"].as_str().unwrap())))
        .filter_map(|e| {
            let when = e["date"].as_str().map(date);
            let span = when
                .as_ref()
                .map_or((i32::MAX, i32::MAX), |d| (d.first_day(), d.last_day()));
            let in_period = match (&from, &to) {
                (None, None) => true,
                _ => when.is_some_and(|d| d.overlaps(from.as_ref(), to.as_ref())),
            };
            in_period.then(|| (span, e["id"].as_str().unwrap().to_owned()))
        })
        .collect();
    matching.sort();
    matching.into_iter().map(|(_, id)| id).collect()
}

/// An event filter: (from, to, kind, actor).
type Case = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

#[tokio::test]
async fn period_and_kind_filters_page_both_ways_over_exactly_the_matching_events() {
    let app = spawn_app().await;
    // (from, to, kind, actor): the first ones read ordered indexes, the last
    // ones start from an actor's events.
    let cases: [Case; 9] = [
        (Some("2008"), Some("2008"), None, None),
        (Some("2008-08-10"), None, None, None),
        (None, Some("2004"), None, None),
        (None, None, Some("statement"), None),
        (Some("2008-08"), Some("2010"), Some("statement"), None),
        (Some("2012"), None, Some("signing"), None),
        (Some("1900"), Some("1901"), None, None),
        (Some("2008"), None, None, Some("actor/russia")),
        (None, Some("2009"), Some("statement"), Some("actor/russia")),
    ];
    for (from, to, kind, actor) in cases {
        let expected = expected_events(from, to, kind, actor);
        let mut filter = Vec::new();
        if let Some(f) = from {
            filter.push(format!("from: \"{f}\""));
        }
        if let Some(t) = to {
            filter.push(format!("to: \"{t}\""));
        }
        if let Some(k) = kind {
            filter.push(format!("kind: {}", k.to_uppercase()));
        }
        if let Some(a) = actor {
            filter.push(format!("actor: \"{a}\""));
        }
        let field = format!("events(filter: {{ {} }}, ", filter.join(", "));
        let forward =
            format!("query($size: Int, $cursor: String) {{ c: {field} first: $size, after: $cursor) {{ {PAGE} }} }}");
        let backward =
            format!("query($size: Int, $cursor: String) {{ c: {field} last: $size, before: $cursor) {{ {PAGE} }} }}");
        let walk = |query| Walk {
            query,
            pointer: "/c",
            size: 3,
        };
        let ahead = check_forwards(&forwards(&app, &walk(&forward)).await, &field);
        let behind = check_backwards(&backwards(&app, &walk(&backward)).await, &field);
        assert_eq!(ahead, expected, "{field}: forwards");
        assert_eq!(behind, expected, "{field}: backwards");

        // Without `totalCount` the page is the same.
        let bare = app
            .data(&format!(
                "{{ c: {field} first: 100) {{ nodes {{ id }} pageInfo {{ hasNextPage }} }} }}"
            ))
            .await;
        assert_eq!(
            ids(&bare["c"]["nodes"]),
            expected,
            "{field}: one page without totalCount"
        );
    }
    let some_cases_match_nothing = expected_events(Some("1900"), Some("1901"), None, None).is_empty();
    assert!(some_cases_match_nothing);
}

#[tokio::test]
async fn a_forged_or_stale_cursor_is_refused_naming_its_argument() {
    let app = crate::helpers::spawn_app().await;
    // A cursor of this API's own first page works.
    let first = app.query("{ events(first: 2) { pageInfo { endCursor } } }").await;
    let end = first["data"]["events"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = app
        .query_with(
            "query($c: String) { events(first: 2, after: $c) { nodes { id } } }",
            serde_json::json!({ "c": end }),
        )
        .await;
    assert!(next["errors"].is_null(), "{next}");
    // Store keys in hex (what cursors were once), made-up text, and a cursor
    // of another version ("0i…", base64url) are refused.
    for (what, argument, cursor, says) in [
        ("hex of a key", "after", "00", "not a cursor returned by this API"),
        ("made up", "before", "page-2", "not a cursor returned by this API"),
        (
            "another version",
            "after",
            "MGlhY3Rvci9ydXNzaWE",
            "another version of this API",
        ),
    ] {
        let answer = app
            .query(&format!(
                "{{ events(first: 2, {argument}: \"{cursor}\") {{ nodes {{ id }} }} }}"
            ))
            .await;
        assert_eq!(
            crate::helpers::error_code(&answer),
            "BAD_USER_INPUT",
            "{what}: {answer}"
        );
        let error = &answer["errors"][0];
        assert_eq!(error["extensions"]["argument"], argument, "{what}: {answer}");
        assert!(error["message"].as_str().unwrap().contains(says), "{what}: {answer}");
    }
}

#[tokio::test]
async fn a_cursor_names_the_same_position_in_a_store_built_again() {
    // Cursors carry the entity's id and period, not a number the store
    // gives it: a store loaded afresh from the seed (as after
    // `seed --reset`) reads a cursor from the first as the same position.
    let first = spawn_app().await;
    let again = spawn_app().await;
    let query =
        "{ events(first: 100) { edges { cursor node { id } } } actors(first: 100) { edges { cursor node { id } } } }";
    let (a, b) = (first.data(query).await, again.data(query).await);
    assert_eq!(a, b, "the same cursors from both stores");
    for listing in ["events", "actors"] {
        let edges = a[listing]["edges"].as_array().unwrap();
        assert!(edges.len() > 3, "{listing}");
        for (i, edge) in edges.iter().enumerate().take(edges.len() - 2) {
            let cursor = edge["cursor"].as_str().unwrap();
            let id = edge["node"]["id"].as_str().unwrap();
            assert!(!cursor.contains(id.split('/').nth(1).unwrap()), "opaque: {cursor}");
            assert!(cursor.len() < id.len() + 10, "short: {cursor} for {id}");
            let next = format!(r#"{{ c: {listing}(first: 2, after: "{cursor}") {{ nodes {{ id }} }} }}"#);
            let (x, y) = (first.data(&next).await, again.data(&next).await);
            assert_eq!(x, y, "{listing} after {id}");
            assert_eq!(
                x["c"]["nodes"][0]["id"],
                edges[i + 1]["node"]["id"],
                "{listing} after {id}"
            );
        }
    }
}
