//! Interval semantics on every date filter (issue 17, item 4): `match:
//! OVERLAPS | WITHIN | BEFORE | AFTER`, `precision` and `dated` on the
//! event, funding and treaty filters, and `timeline(includeUndated:)`,
//! over the real seed, the article's dates as the seed keeps them.

use serde_json::{json, Value};

use crate::helpers::{seed_records, seeded, spawn_app, TestApp};
use crate::plans::same_answers;

/// The values at `field` of every item of the list at `path` in `data`.
fn column(data: &Value, path: &[&str], field: &str) -> Vec<String> {
    let mut at = data;
    for step in path {
        at = &at[step];
    }
    at.as_array()
        .unwrap_or_else(|| panic!("a list at {path:?}: {data:#}"))
        .iter()
        .map(|item| match &item[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

async fn event_ids(app: &TestApp, filter: &str) -> Vec<String> {
    let data = app
        .data(&format!(
            "{{ events(first: 100, filter: {filter}) {{ nodes {{ id }} }} }}"
        ))
        .await;
    column(&data, &["events", "nodes"], "id")
}

/// The seed's events whose date passes `keep`, in seed order.
fn seed_events(keep: impl Fn(Option<&str>) -> bool) -> Vec<String> {
    seed_records("events")
        .iter()
        .filter(|e| keep(e["date"].as_str()))
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn before_keeps_only_what_ended_before_the_window_began() {
    let app = spawn_app().await;
    // Before August 2008 the article dates only the 1991 declaration: the
    // events dated just "2008" overlap August and are not before it.
    assert_eq!(
        event_ids(&app, r#"{ from: "2008-08", match: BEFORE }"#).await,
        ["event/independence-declaration-1991"]
    );
    // With `to` alone the window begins at `to`: the same answer.
    assert_eq!(
        event_ids(&app, r#"{ to: "2008-08", match: BEFORE }"#).await,
        ["event/independence-declaration-1991"]
    );
}

#[tokio::test]
async fn after_keeps_only_what_began_after_the_window_ended() {
    let app = spawn_app().await;
    let after_january = event_ids(&app, r#"{ to: "2009-01", match: AFTER }"#).await;
    // Every event wholly after January 2009: dated in 2009, from February on.
    let expected = seed_events(|d| d.is_some_and(|d| d.len() >= 7 && d.starts_with("2009") && &d[5..7] > "01"));
    assert_eq!(sorted(after_january.clone()), sorted(expected));
    // The March 2009 allocation is in; the embassy directive dated only "2009" is not.
    assert!(after_january.contains(&"event/federal-budget-allocation-2009".to_owned()));
    assert!(!after_january.contains(&"event/putin-embassy-directive".to_owned()));
    for id in &after_january {
        let date = seed_records("events")
            .iter()
            .find(|e| e["id"] == id.as_str())
            .and_then(|e| e["date"].as_str().map(str::to_owned))
            .unwrap();
        assert_ne!(date, "2009", "{id} is dated only by its year");
    }
}

#[tokio::test]
async fn a_within_window_on_january_2009_excludes_the_year_only_events() {
    let app = spawn_app().await;
    let within = event_ids(&app, r#"{ from: "2009-01", to: "2009-01", match: WITHIN }"#).await;
    let overlaps = event_ids(&app, r#"{ from: "2009-01", to: "2009-01" }"#).await;
    let year_only = seed_events(|d| d == Some("2009"));
    assert!(!year_only.is_empty());
    for id in &year_only {
        assert!(overlaps.contains(id) && !within.contains(id), "{id}");
    }
    assert_eq!(
        sorted(within),
        sorted(seed_events(|d| d.is_some_and(|d| d.starts_with("2009-01"))))
    );
}

#[tokio::test]
async fn precision_keeps_the_dates_given_that_precisely() {
    let app = spawn_app().await;
    let years = event_ids(&app, "{ precision: [YEAR] }").await;
    assert_eq!(sorted(years), sorted(seed_events(|d| d.is_some_and(|d| d.len() == 4))));
    let days_and_ranges = event_ids(&app, "{ precision: [DAY, RANGE] }").await;
    assert_eq!(
        sorted(days_and_ranges),
        sorted(seed_events(|d| d.is_some_and(|d| d.len() >= 10)))
    );
    // With a window and an actor (an actor's events are read another way).
    let russia_months = app
        .data(r#"{ actor(id: "actor/russia") { events(first: 100, filter: { precision: [MONTH], from: "2009" }) { nodes { date } } } }"#)
        .await;
    let dates = column(&russia_months, &["actor", "events", "nodes"], "date");
    assert!(!dates.is_empty());
    assert!(dates.iter().all(|d| d.len() == 7 && d.starts_with("2009")), "{dates:?}");
}

#[tokio::test]
async fn funding_filters_take_the_same_interval_options() {
    let app = spawn_app().await;
    let titles = |data: Value| column(&data, &["fundingAllocations", "nodes"], "title");
    // Within 2009: the March 2009 budget money (month-precise, so wholly inside).
    let within = app
        .data(r#"{ fundingAllocations(filter: { from: "2009", to: "2009", match: WITHIN }) { nodes { title } } }"#)
        .await;
    assert_eq!(
        titles(within),
        ["2.8 billion roubles from the Russian federal budget (March 2009)"]
    );
    // The reconstruction money has no date in the article.
    let undated = app
        .data(r#"{ fundingAllocations(filter: { dated: false }) { nodes { title date } } }"#)
        .await;
    assert_eq!(titles(undated), ["8.5 billion roubles for post-war reconstruction"]);
    let before = app
        .data(r#"{ fundingAllocations(filter: { from: "2009-03", match: BEFORE }) { totalCount } }"#)
        .await;
    let expected = seed_records("funding")
        .iter()
        .filter(|f| {
            f["date"]
                .as_str()
                .is_some_and(|d| d < "2009-03" && !"2009-03".starts_with(d))
        })
        .count();
    assert_eq!(before["fundingAllocations"]["totalCount"], expected);
    let months = app
        .data(r#"{ fundingAllocations(filter: { precision: [MONTH] }) { nodes { date } } }"#)
        .await;
    let dates = column(&months, &["fundingAllocations", "nodes"], "date");
    assert!(
        dates.contains(&"2009-03".to_owned()) && dates.iter().all(|d| d.len() == 7),
        "{dates:?}"
    );
}

#[tokio::test]
async fn treaty_filters_take_the_same_interval_options() {
    let app = spawn_app().await;
    let names = |data: Value| sorted(column(&data, &["treaties", "nodes"], "signedOn"));
    // Signed only by the year: the two older instruments the article cites.
    let years = app
        .data(r#"{ treaties(filter: { precision: [YEAR] }) { nodes { signedOn } } }"#)
        .await;
    assert_eq!(names(years), ["1970", "1975"]);
    // Signed wholly after 2008: the 2009 treaties only.
    let after = app
        .data(r#"{ treaties(filter: { signedFrom: "2008", match: AFTER }) { nodes { signedOn } } }"#)
        .await;
    let expected = sorted(
        seed_records("treaties")
            .iter()
            .filter_map(|t| t["signed_on"].as_str())
            .filter(|d| d.starts_with("2009"))
            .map(str::to_owned)
            .collect(),
    );
    assert_eq!(names(after), expected);
}

#[tokio::test]
async fn the_timeline_places_undated_events_by_their_hints_only_when_asked() {
    let app = spawn_app().await;
    let query = r#"{ timeline(from: "2009-08", to: "2009-08", includeUndated: true) { date title } }"#;
    let data = app.data(query).await;
    assert_eq!(
        data["timeline"],
        json!([
            { "date": "2009", "title": "Putin orders the creation of a Russian embassy" },
            { "date": "2009-08", "title": "Kokoity tells RIA Novosti no more Russian troops are needed" },
            { "date": "2009-08", "title": "Lavrov tells Vesti recognition was unplanned" },
            { "date": null, "title": "Kokoity suggests South Ossetia will join Russia" },
            { "date": null, "title": "Kokoity withdraws his remark in an Interfax interview" },
            { "date": null, "title": "Lavrov denies South Ossetia will join Russia" },
            { "date": "2009-08", "title": "Medoyev affirms South Ossetian statehood" },
            { "date": "2009-08-07", "title": "Medvedev interviewed for the film \"In August 2008\"" }
        ])
    );
    // Without it (the default) the same window has only dated events.
    let dated = app
        .data(r#"{ timeline(from: "2009-08", to: "2009-08") { date } }"#)
        .await;
    let dates = column(&dated, &["timeline"], "date");
    assert_eq!(dates.len(), 5);
    assert!(!dates.contains(&"null".to_owned()));
}

#[tokio::test]
async fn an_actors_timeline_places_its_undated_events_where_their_hints_point() {
    let app = spawn_app().await;
    let data = app
        .data(r#"{ timeline(actor: "eduard-kokoity", to: "2008-12", includeUndated: true) { id date } }"#)
        .await;
    // His welcome of the recognition answers the decrees of 26 August 2008,
    // an event he took no part in: it goes where the decrees would be.
    assert_eq!(
        column(&data, &["timeline"], "id"),
        [
            "event/kokoity-destruction-claim",
            "event/kokoity-federation-council-address",
            "event/kokoity-flies-to-moscow",
            "event/kokoity-welcomes-recognition",
            "event/kokoity-describes-treaty",
            "event/kargiyev-credentials"
        ]
    );
}

#[tokio::test]
async fn plans_answer_the_new_filters_and_the_timeline_as_async_graphql_does() {
    let store = seeded();
    for query in [
        r#"{ timeline(includeUndated: true) { id date title } }"#,
        r#"{ timeline(actor: "eduard-kokoity", includeUndated: true) { id date } }"#,
        r#"{ events(first: 50, filter: { to: "2009-01", match: AFTER, precision: [DAY, MONTH] }) { totalCount nodes { id date } } }"#,
        r#"{ events(filter: { from: "2008-08", match: BEFORE }) { nodes { id } } }"#,
        r#"{ fundingAllocations(filter: { from: "2009", to: "2009", match: WITHIN, precision: [MONTH] }) { totalCount nodes { id } } }"#,
        r#"{ treaties(filter: { signedTo: "2008-12", match: BEFORE, dated: true }) { totalCount nodes { id signedOn } } }"#,
    ] {
        same_answers(&store, query, &[json!({})]).await;
    }
}
