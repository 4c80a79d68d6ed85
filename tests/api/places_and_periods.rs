//! Two questions analysts ask of the article: what happened in a place,
//! counting the places within it (the Kremlin lies within Moscow), and what
//! happened wholly inside a window, when dates are partial ("2009" is a
//! year, "2009-01" a month). Every answer is computed from `seed/` here,
//! independently of the server, and the article's own facts are checked by name.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{ids, seed_records, spawn_app, strings_at, TestApp};

/// The seed's place `place` and every place within it, at any depth.
fn places_within(place: &str) -> BTreeSet<String> {
    let places = seed_records("places");
    let mut found = BTreeSet::from([place.to_owned()]);
    loop {
        let more: Vec<String> = places
            .iter()
            .filter(|p| p["within"].as_str().is_some_and(|w| found.contains(w)))
            .filter_map(|p| p["id"].as_str().map(str::to_owned))
            .filter(|id| !found.contains(id))
            .collect();
        if more.is_empty() {
            return found;
        }
        found.extend(more);
    }
}

/// The seed events that `keep` keeps.
fn seed_events(keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    seed_records("events")
        .iter()
        .filter(|e| keep(e))
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

/// The seed events recorded at one of `places`.
fn events_at(places: &BTreeSet<String>) -> BTreeSet<String> {
    seed_events(|e| e["place"].as_str().is_some_and(|p| places.contains(p)))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn as_set(list: &Value) -> BTreeSet<String> {
    ids(list).into_iter().collect()
}

/// The first and last day of a seed date or a window bound, as ISO strings
/// that compare correctly ("2009-02" runs to "2009-02-31", later than any of its days).
fn bounds(date: &str) -> (String, String) {
    let (start, end) = date.split_once('/').unwrap_or((date, date));
    let first = match start.len() {
        4 => format!("{start}-01-01"),
        7 => format!("{start}-01"),
        _ => start.to_owned(),
    };
    let last = match end.len() {
        4 => format!("{end}-12-31"),
        7 => format!("{end}-31"),
        _ => end.to_owned(),
    };
    (first, last)
}

/// The seed events a window keeps: any day of the period in it (`whole`
/// false) or every day (`whole` true). Undated events are in no window.
fn seed_in_window(from: Option<&str>, to: Option<&str>, whole: bool) -> BTreeSet<String> {
    seed_events(|e| {
        let Some(date) = e["date"].as_str() else { return false };
        let (first, last) = bounds(date);
        let after_from = from.is_none_or(|f| {
            if whole {
                first >= bounds(f).0
            } else {
                last >= bounds(f).0
            }
        });
        let before_to = to.is_none_or(|t| {
            if whole {
                last <= bounds(t).1
            } else {
                first <= bounds(t).1
            }
        });
        after_from && before_to
    })
}

/// `events(filter:)` as ids in listing order, with its `totalCount`.
async fn listed(app: &TestApp, filter: Value) -> (Vec<String>, u64) {
    let response = app
        .query_with(
            "query($filter: EventFilter) { events(filter: $filter, first: 100) { totalCount nodes { id } } }",
            json!({ "filter": filter }),
        )
        .await;
    assert!(response.get("errors").is_none(), "{filter}: {response:#}");
    let events = &response["data"]["events"];
    (ids(&events["nodes"]), events["totalCount"].as_u64().unwrap())
}

#[tokio::test]
async fn moscows_events_include_those_at_the_kremlin_and_the_foreign_ministry_building() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ events(filter: { place: "moscow" }, first: 100) { totalCount nodes { id } }
                 place(id: "moscow") { events { id } directly: events(includeWithin: false) { id } contains { id } } }"#,
        )
        .await;
    let listed = ids(&data["events"]["nodes"]);
    let moscow = places_within("place/moscow");
    assert_eq!(
        moscow,
        set(&[
            "place/moscow",
            "place/kremlin",
            "place/russian-foreign-ministry-building"
        ])
    );
    // The article: the friendship treaty was signed in the Kremlin on 17
    // September 2008 and the border treaty there on 30 April 2009; notes were
    // exchanged at the Foreign Ministry on 9 September 2008; Kokoity flew to
    // Moscow on 23 August 2008.
    for event in [
        "event/friendship-treaty-signing",
        "event/border-treaty-signing",
        "event/exchange-of-notes",
        "event/diplomatic-relations-established",
        "event/kokoity-flies-to-moscow",
    ] {
        assert!(
            listed.contains(&event.to_owned()),
            "Moscow's events lack {event}: {listed:?}"
        );
    }
    let expected = events_at(&moscow);
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(data["events"]["totalCount"], json!(expected.len()));
    // Place.events answers the same, in the same (chronological) order.
    assert_eq!(ids(&data["place"]["events"]), listed);
    assert_eq!(
        as_set(&data["place"]["directly"]),
        events_at(&set(&["place/moscow"])),
        "includeWithin: false keeps the events recorded at Moscow itself"
    );
    assert!(!as_set(&data["place"]["directly"]).contains("event/friendship-treaty-signing"));
    assert_eq!(
        as_set(&data["place"]["contains"]),
        set(&["place/kremlin", "place/russian-foreign-ministry-building"])
    );
}

#[tokio::test]
async fn every_places_events_follow_within_at_any_depth_on_every_read_path() {
    let app = spawn_app().await;
    let places: Vec<String> = seed_records("places")
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    let mut deeper = 0;
    for place in &places {
        let expected = events_at(&places_within(place));
        let (listed, total) = listed(&app, json!({ "place": place })).await;
        assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), expected, "{place}");
        assert_eq!(total as usize, expected.len(), "{place}");
        let data = app
            .query_with(
                "query($id: ID!) { place(id: $id) { events { id } directly: events(includeWithin: false) { id } } \
                 actor(id: \"russia\") { events(filter: { place: $id }, first: 100) { totalCount nodes { id } } } }",
                json!({ "id": place }),
            )
            .await;
        assert!(data.get("errors").is_none(), "{place}: {data:#}");
        let data = &data["data"];
        assert_eq!(ids(&data["place"]["events"]), listed, "{place}: Place.events");
        assert_eq!(
            as_set(&data["place"]["directly"]),
            events_at(&set(&[place.as_str()])),
            "{place}: Place.events(includeWithin: false)"
        );
        // An actor's events, filtered in memory, follow `within` too.
        let russias = seed_events(|e| strings_at(e, &["participants", "*", "actor"]).contains(&"actor/russia".into()));
        let expected_russia: BTreeSet<String> = expected.intersection(&russias).cloned().collect();
        assert_eq!(
            as_set(&data["actor"]["events"]["nodes"]),
            expected_russia,
            "{place}: Actor.events"
        );
        if expected.len() > events_at(&set(&[place.as_str()])).len() {
            deeper += 1;
        }
    }
    assert!(
        deeper >= 4,
        "the seed nests places with events at several levels ({deeper})"
    );
    // South Ossetia holds Tskhinval, which holds the base: two levels down.
    let (ossetia, _) = listed(&app, json!({ "place": "south-ossetia" })).await;
    assert!(ossetia.contains(&"event/medvedev-visits-military-base".to_owned()));
}

#[tokio::test]
async fn a_within_window_on_january_2009_leaves_out_events_dated_only_2009() {
    let app = spawn_app().await;
    let january = json!({ "from": "2009-01", "to": "2009-01" });
    let (overlapping, _) = listed(&app, january.clone()).await;
    // The article dates Putin's directive on the embassy only "in 2009": it
    // overlaps January 2009 but does not lie within it.
    assert!(
        overlapping.contains(&"event/putin-embassy-directive".to_owned()),
        "{overlapping:?}"
    );
    let (within, total) = listed(&app, json!({ "from": "2009-01", "to": "2009-01", "match": "WITHIN" })).await;
    // Medoyev was appointed on 13 January 2009 and presented his credentials
    // on 16 January; the friendship treaty entered into force on 20 January.
    assert_eq!(
        within,
        vec![
            "event/medoyev-appointment",
            "event/medoyev-credentials",
            "event/friendship-treaty-entry-into-force"
        ],
    );
    assert_eq!(total, 3);
    assert_eq!(
        overlapping.iter().cloned().collect::<BTreeSet<_>>(),
        seed_in_window(Some("2009-01"), Some("2009-01"), false)
    );
}

#[tokio::test]
async fn date_windows_keep_what_overlaps_or_what_lies_within_as_asked() {
    // (description, from, to)
    let windows: [(&str, Option<&str>, Option<&str>); 7] = [
        ("a month", Some("2009-01"), Some("2009-01")),
        ("the month of the war", Some("2008-08"), Some("2008-08")),
        ("a year", Some("2008"), Some("2008")),
        ("days of the war", Some("2008-08-07"), Some("2008-08-12")),
        ("before the end of August 2008", None, Some("2008-08")),
        ("from July 2009 on", Some("2009-07"), None),
        ("a range of years", Some("1990"), Some("2008")),
    ];
    let app = spawn_app().await;
    let russias = seed_events(|e| strings_at(e, &["participants", "*", "actor"]).contains(&"actor/russia".into()));
    for (description, from, to) in windows {
        for (name, whole) in [("OVERLAPS", false), ("WITHIN", true)] {
            let expected = seed_in_window(from, to, whole);
            let filter = json!({ "from": from, "to": to, "match": name });
            let (got, total) = listed(&app, filter.clone()).await;
            assert_eq!(
                got.iter().cloned().collect::<BTreeSet<_>>(),
                expected,
                "{description} {name}"
            );
            assert_eq!(total as usize, expected.len(), "{description} {name}");
            // The same filter over an actor's events, read in memory.
            let response = app
                .query_with(
                    "query($filter: EventFilter) { actor(id: \"russia\") { events(filter: $filter, first: 100) { nodes { id } } } }",
                    json!({ "filter": filter }),
                )
                .await;
            let theirs: BTreeSet<String> = expected.intersection(&russias).cloned().collect();
            assert_eq!(
                as_set(&response["data"]["actor"]["events"]["nodes"]),
                theirs,
                "{description} {name}: Actor.events"
            );
        }
        assert!(
            seed_in_window(from, to, true).is_subset(&seed_in_window(from, to, false)),
            "{description}"
        );
    }
    // Without a `match`, a window overlaps, as before.
    let (default, _) = listed(&app, json!({ "from": "2009-01", "to": "2009-01" })).await;
    assert!(default.contains(&"event/putin-embassy-directive".to_owned()));
}

#[tokio::test]
async fn dated_false_lists_exactly_the_events_the_sources_give_no_date() {
    let app = spawn_app().await;
    let undated = seed_events(|e| e["date"].is_null());
    let dated = seed_events(|e| !e["date"].is_null());
    assert!(undated.len() > 20 && dated.len() > 20, "the seed has both");
    let (got, total) = listed(&app, json!({ "dated": false })).await;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), undated);
    assert_eq!(total as usize, undated.len());
    // Lavrov's denial in Warsaw has no date in the article.
    assert!(got.contains(&"event/lavrov-warsaw-denial".to_owned()));
    let (got, total) = listed(&app, json!({ "dated": true })).await;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), dated);
    assert_eq!(total as usize, dated.len());
    // No undated event lies in a window.
    assert_eq!(
        listed(&app, json!({ "dated": false, "from": "1900" })).await,
        (vec![], 0)
    );
    // Undated events at South Ossetia or within it, and of a kind.
    let ossetia = events_at(&places_within("place/south-ossetia"));
    let (got, _) = listed(&app, json!({ "dated": false, "place": "south-ossetia" })).await;
    assert_eq!(
        got.iter().cloned().collect::<BTreeSet<_>>(),
        undated.intersection(&ossetia).cloned().collect()
    );
    let statements = seed_events(|e| e["kind"] == "statement" && e["date"].is_null());
    let (got, _) = listed(&app, json!({ "dated": false, "kind": "STATEMENT" })).await;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), statements);

    // Paged three at a time, forwards, the undated events come each once.
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let response = app
            .query_with(
                "query($after: String) { events(filter: { dated: false }, first: 3, after: $after) { \
                 pageInfo { hasNextPage endCursor } nodes { id } } }",
                json!({ "after": after }),
            )
            .await;
        let events = &response["data"]["events"];
        seen.extend(ids(&events["nodes"]));
        if events["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = events["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        assert!(seen.len() <= undated.len(), "paging does not end");
    }
    assert_eq!(seen.len(), undated.len(), "{seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), undated);
    // The last three, from the end.
    let response = app
        .data("{ events(filter: { dated: false }, last: 3) { nodes { id } } }")
        .await;
    assert_eq!(ids(&response["events"]["nodes"]).len(), 3);
}

#[tokio::test]
async fn a_place_filter_that_names_no_place_is_refused_naming_the_argument() {
    let app = spawn_app().await;
    for (description, filter, named) in [
        ("an actor id", json!({ "place": "actor/russia" }), "filter.place"),
        ("not an id", json!({ "place": "no such place!" }), "filter.place"),
        ("an unknown match", json!({ "match": "NEARBY" }), "NEARBY"),
        ("a string for dated", json!({ "dated": "no" }), "dated"),
    ] {
        let response = app
            .query_with(
                "query($filter: EventFilter) { events(filter: $filter) { nodes { id } } }",
                json!({ "filter": filter }),
            )
            .await;
        let message = response["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{description}: {response:#}");
    }
    // A well-formed id of no place holds no events.
    assert_eq!(listed(&app, json!({ "place": "atlantis" })).await, (vec![], 0));
}
