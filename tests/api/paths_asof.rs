//! Paths between entities and as-of views (issue 17, items 2 and 5), over
//! the real seed. The shortest paths are also found here, independently of
//! the server, by a plain breadth-first search over the seed files; the
//! article's facts are checked by name.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use crate::helpers::{seed_records, seeded, spawn_app, strings_at, TestApp};
use crate::plans::same_answers;

/// Every relation of the seed as (holder, field, target), `sources` left out.
fn seed_edges() -> Vec<(String, &'static str, String)> {
    const ONE: [&str; 11] = [
        "part_of",
        "place",
        "retracted_by",
        "mediator",
        "signed_at",
        "based_on",
        "donor",
        "recipient",
        "authorized_by",
        "basis",
        "within",
    ];
    const MANY: [&str; 4] = ["treaties", "after", "parties", "signatories"];
    let mut out = Vec::new();
    for file in ["actors", "events", "treaties", "funding", "places"] {
        for r in seed_records(file) {
            let id = r["id"].as_str().unwrap().to_owned();
            let mut add = |field: &'static str, to: &Value| {
                if let Some(to) = to.as_str() {
                    out.push((id.clone(), field, to.to_owned()));
                }
            };
            for field in ONE {
                add(field, &r[field]);
            }
            // A funding allocation's `event` is a relation; an event's is not a field.
            if file == "funding" {
                add("event", &r["event"]);
            }
            for field in MANY {
                for to in r[field].as_array().into_iter().flatten() {
                    add(field, to);
                }
            }
            for p in r["positions"].as_array().into_iter().flatten() {
                add("positions", &p["of"]);
            }
            for p in r["participants"].as_array().into_iter().flatten() {
                add("participants", &p["actor"]);
            }
            for p in r["ratifications"].as_array().into_iter().flatten() {
                add("ratifications", &p["by"]);
            }
            for p in r["figures"].as_array().into_iter().flatten() {
                add("figures", &p["claimed_by"]);
            }
            for p in r["responds"].as_array().into_iter().flatten() {
                add("responds", &p["event"]);
            }
        }
    }
    out
}

/// The node sequences of every shortest path from `from` to `to` over the
/// seed's relations (either way), one per distinct chain of relations, sorted.
fn seed_shortest_paths(from: &str, to: &str) -> Vec<Vec<String>> {
    let mut next: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, _, b) in seed_edges() {
        next.entry(a.clone()).or_default().push(b.clone());
        next.entry(b).or_default().push(a);
    }
    let mut depth: BTreeMap<String, usize> = BTreeMap::from([(from.to_owned(), 0)]);
    let mut came: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue = VecDeque::from([from.to_owned()]);
    while let Some(at) = queue.pop_front() {
        for n in next.get(&at).into_iter().flatten() {
            let d = depth[&at] + 1;
            match depth.get(n) {
                None => {
                    depth.insert(n.clone(), d);
                    queue.push_back(n.clone());
                    came.entry(n.clone()).or_default().push(at.clone());
                }
                Some(&known) if known == d => came.entry(n.clone()).or_default().push(at.clone()),
                Some(_) => {}
            }
        }
    }
    fn back(at: &str, from: &str, came: &BTreeMap<String, Vec<String>>, out: &mut Vec<Vec<String>>) {
        if at == from {
            out.push(vec![from.to_owned()]);
            return;
        }
        for before in &came[at] {
            let mut paths = Vec::new();
            back(before, from, came, &mut paths);
            for mut p in paths {
                p.push(at.to_owned());
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    back(to, from, &came, &mut out);
    out.sort();
    out
}

const PATHS: &str = r#"query($from: ID!, $to: ID!, $maxHops: Int! = 4, $via: [RelationKind!], $first: Int! = 5, $budget: Int! = 5000) {
  paths(from: $from, to: $to, maxHops: $maxHops, via: $via, first: $first, budget: $budget) {
    complete expanded
    paths { hops nodes { id } steps { kind reversed role phrase } }
  }
}"#;

async fn paths(app: &TestApp, variables: Value) -> Value {
    let response = app.query_with(PATHS, variables.clone()).await;
    assert!(response.get("errors").is_none(), "{variables}: {response:#}");
    response["data"]["paths"].clone()
}

fn node_ids(answer: &Value) -> Vec<Vec<String>> {
    answer["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| strings_at(&p["nodes"], &["*", "id"]))
        .collect()
}

#[tokio::test]
async fn sergey_lavrov_reaches_the_federation_council_in_four_steps_by_every_shortest_path() {
    let app = spawn_app().await;
    let seed = seed_shortest_paths("actor/sergey-lavrov", "actor/federation-council");
    assert_eq!(seed[0].len(), 5, "four steps in the seed: {seed:?}");
    let all = paths(
        &app,
        json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "first": 50 }),
    )
    .await;
    assert_eq!(all["complete"], true);
    assert_eq!(node_ids(&all), seed, "every shortest path, ordered by the ids along it");
    assert!(all["paths"].as_array().unwrap().iter().all(|p| p["hops"] == 4));
    // The default lists the first five of them.
    let five = paths(
        &app,
        json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council" }),
    )
    .await;
    assert_eq!(node_ids(&five), seed[..5].to_vec());
    // The article: Lavrov exchanged notes with Dzhioyev for Russia, whose Federal Assembly's
    // upper chamber is the Federation Council.
    let through_notes = all["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["nodes"][1]["id"] == "treaty/diplomatic-notes-2008" && p["nodes"][2]["id"] == "actor/russia")
        .expect("a path through the exchange of notes and Russia");
    assert_eq!(
        through_notes["nodes"][3]["id"], "actor/russian-federal-assembly",
        "{through_notes:#}"
    );
    assert_eq!(
        through_notes["steps"],
        json!([
            { "kind": "SIGNED", "reversed": false, "role": null, "phrase": "signed" },
            { "kind": "PARTY_TO", "reversed": true, "role": null, "phrase": "has as party" },
            { "kind": "PART_OF", "reversed": true, "role": null, "phrase": "has as part" },
            { "kind": "PART_OF", "reversed": true, "role": null, "phrase": "has as part" },
        ])
    );
    // A step through an event says the role Lavrov took part in.
    let spoke = all["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["nodes"][1]["id"] == "event/russian-leaders-reject-criticism")
        .expect("a path through the leaders' rejection of criticism");
    assert_eq!(
        spoke["steps"][0],
        json!({ "kind": "PARTICIPATED_IN", "reversed": false, "role": "SPEAKER", "phrase": "participated in as speaker" })
    );
    assert_eq!(spoke["steps"][1]["phrase"], "had as speaker");
}

#[tokio::test]
async fn a_search_past_its_budget_says_it_was_cut_short_instead_of_failing() {
    let app = spawn_app().await;
    let cut = paths(
        &app,
        json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "budget": 3 }),
    )
    .await;
    assert_eq!(cut["complete"], false);
    assert_eq!(cut["expanded"], 3);
    assert_eq!(cut["paths"], json!([]));
    let whole = paths(
        &app,
        json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council" }),
    )
    .await;
    assert_eq!(whole["complete"], true);
    assert!(whole["expanded"].as_u64().unwrap() > 3);
}

#[tokio::test]
async fn via_narrows_the_steps_a_path_may_take() {
    let app = spawn_app().await;
    let lavrov = |via: Value, max_hops: u64| json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "via": via, "maxHops": max_hops });
    // Through his post and the state's bodies alone: the ministry, the government, Russia, the
    // Federal Assembly, the Federation Council.
    let posts = paths(&app, lavrov(json!(["HOLDS_POSITION_IN", "PART_OF"]), 5)).await;
    assert_eq!(
        node_ids(&posts),
        vec![vec![
            "actor/sergey-lavrov",
            "actor/russian-mfa",
            "actor/russian-government",
            "actor/russia",
            "actor/russian-federal-assembly",
            "actor/federation-council"
        ]]
    );
    assert_eq!(posts["paths"][0]["steps"][0]["phrase"], "holds a position in");
    // Five steps are too many for four hops: no path, and the search finished.
    let short = paths(&app, lavrov(json!(["HOLDS_POSITION_IN", "PART_OF"]), 4)).await;
    assert_eq!(
        (short["complete"].clone(), short["paths"].clone()),
        (json!(true), json!([]))
    );
    // Every listed step is of a kind asked for.
    let events = paths(&app, lavrov(json!(["PARTICIPATED_IN", "AFTER"]), 4)).await;
    assert!(!node_ids(&events).is_empty());
    for kind in strings_at(&events["paths"], &["*", "steps", "*", "kind"]) {
        assert!(["PARTICIPATED_IN", "AFTER"].contains(&kind.as_str()), "{kind}");
    }
}

#[tokio::test]
async fn entities_with_no_path_between_them_answer_an_empty_list() {
    let app = spawn_app().await;
    // Lavrov signed nothing the Federation Council signed.
    let none = paths(
        &app,
        json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "via": ["SIGNED"] }),
    )
    .await;
    assert_eq!(
        (none["complete"].clone(), none["paths"].clone()),
        (json!(true), json!([]))
    );
    // One hop is not enough either.
    let one = paths(
        &app,
        json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "maxHops": 1 }),
    )
    .await;
    assert_eq!(one["paths"], json!([]));
    // From an entity to itself: one path of no steps.
    let same = paths(&app, json!({ "from": "actor/russia", "to": "actor/russia" })).await;
    assert_eq!(
        same["paths"],
        json!([{ "hops": 0, "nodes": [{ "id": "actor/russia" }], "steps": [] }])
    );
}

#[tokio::test]
async fn bad_path_arguments_are_refused_naming_the_argument() {
    let app = spawn_app().await;
    for (variables, argument) in [
        (json!({ "from": "actor/nobody", "to": "actor/russia" }), "from"),
        (json!({ "from": "actor/russia", "to": "russia" }), "to"),
        (
            json!({ "from": "actor/russia", "to": "actor/georgia", "maxHops": 7 }),
            "maxHops",
        ),
        (
            json!({ "from": "actor/russia", "to": "actor/georgia", "maxHops": 0 }),
            "maxHops",
        ),
        (
            json!({ "from": "actor/russia", "to": "actor/georgia", "first": 51 }),
            "first",
        ),
        (
            json!({ "from": "actor/russia", "to": "actor/georgia", "budget": 0 }),
            "budget",
        ),
        (
            json!({ "from": "actor/russia", "to": "actor/georgia", "via": [] }),
            "via",
        ),
    ] {
        let response = app.query_with(PATHS, variables.clone()).await;
        let error = &response["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {response}");
        assert_eq!(error["extensions"]["argument"], argument, "{variables}: {response}");
    }
}

#[tokio::test]
async fn the_president_of_russia_on_26_august_2008_is_medvedev_from_attested_dates() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ positionHolders(title: "president of russia", asOf: "2008-08-26") {
                   holder { id } position { title of { id } from to tenure attestedOn } } }"#,
        )
        .await;
    let holders = data["positionHolders"].as_array().unwrap();
    assert_eq!(holders.len(), 1, "{data:#}");
    assert_eq!(holders[0]["holder"]["id"], "actor/dmitry-medvedev");
    let position = &holders[0]["position"];
    // The seed gives the post no dates: none is invented, and the answer says so.
    assert_eq!(
        (position["from"].clone(), position["to"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(position["tenure"], "ATTESTED");
    let attested = strings_at(&position["attestedOn"], &["*"]);
    // The article: Medvedev signed the recognition decrees on 26 August 2008.
    assert!(attested.contains(&"2008-08-26".to_owned()), "{attested:?}");
    // The dates are those of his dated events in the seed, in order, once each.
    let mut seed: Vec<String> = seed_records("events")
        .iter()
        .filter(|e| {
            e["participants"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["actor"] == "actor/dmitry-medvedev")
        })
        .filter_map(|e| e["date"].as_str().map(str::to_owned))
        .collect();
    seed.sort();
    seed.dedup();
    assert_eq!(attested, seed);
    // Before the first attested date, nobody is known to hold it; `of` narrows to Russia's posts.
    let before = app
        .data(
            r#"{ positionHolders(title: "President of Russia", of: "russia", asOf: "2008-08-01") { holder { id } } }"#,
        )
        .await;
    assert_eq!(before["positionHolders"], json!([]));
}

#[tokio::test]
async fn a_post_with_stated_dates_is_held_from_them_on() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ actor(id: "elbrus-kargiyev") {
                   before: positions(asOf: "2008-09-24") { title }
                   after: positions(asOf: "2008-10") { title from tenure attestedOn }
                   all: positions { title } } }"#,
        )
        .await;
    let actor = &data["actor"];
    assert_eq!(actor["before"], json!([]));
    assert_eq!(
        actor["after"],
        json!([{ "title": "Ambassador of Russia to South Ossetia", "from": "2008-09-25", "tenure": "STATED", "attestedOn": [] }])
    );
    assert_eq!(actor["all"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn events_within_a_stated_tenure_attest_no_undated_post() {
    let app = spawn_app().await;
    // Medoyev was plenipotentiary representative before he became ambassador on 2009-01-13; the
    // seed gives the first post no dates, and all his dated events come after the appointment.
    let data = app
        .data(
            r#"{ actor(id: "dmitry-medoyev") {
                   all: positions { title tenure attestedOn }
                   february: positions(asOf: "2009-02") { title } } }"#,
        )
        .await;
    let all = data["actor"]["all"].as_array().unwrap();
    assert_eq!(all.len(), 2, "{data:#}");
    assert_eq!(
        all[0],
        json!({ "title": "Plenipotentiary Representative of the President of the Republic of South Ossetia to Russia",
                "tenure": "UNKNOWN", "attestedOn": [] })
    );
    assert_eq!(
        data["actor"]["february"],
        json!([{ "title": "Ambassador of South Ossetia to Russia" }])
    );
}

#[tokio::test]
async fn the_friendship_treaty_was_ratified_but_not_in_force_on_1_december_2008_and_in_force_on_1_february_2009() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ treaty(id: "treaty/friendship-2008") {
                   september: status(asOf: "2008-09-01") { state signedOn ratifiedOn enteredIntoForceOn }
                   december: status(asOf: "2008-12-01") { state signedOn ratifiedOn enteredIntoForceOn }
                   february: status(asOf: "2009-02-01") { state signedOn ratifiedOn enteredIntoForceOn }
                   now: status { state } } }"#,
        )
        .await;
    let treaty = &data["treaty"];
    assert_eq!(
        treaty["september"],
        json!({ "state": "PROPOSED", "signedOn": null, "ratifiedOn": null, "enteredIntoForceOn": null })
    );
    // The article: signed on 17 September 2008, ratified by the State Duma on 29 October 2008,
    // in force from 20 January 2009.
    assert_eq!(
        treaty["december"],
        json!({ "state": "RATIFIED", "signedOn": "2008-09-17", "ratifiedOn": "2008-10-29", "enteredIntoForceOn": null })
    );
    assert_eq!(
        treaty["february"],
        json!({ "state": "IN_FORCE", "signedOn": "2008-09-17", "ratifiedOn": "2008-10-29", "enteredIntoForceOn": "2009-01-20" })
    );
    assert_eq!(treaty["now"]["state"], "IN_FORCE");
}

#[tokio::test]
async fn paths_and_as_of_views_read_the_same_through_plans() {
    let store = seeded();
    same_answers(
        &store,
        PATHS,
        // The plan is learnt from the first, and answers sizes no larger (`maxHops`, `first`, `budget`).
        &[
            json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "via": ["PART_OF", "HOLDS_POSITION_IN"], "maxHops": 5 }),
            json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council" }),
            json!({ "from": "actor/sergey-lavrov", "to": "actor/federation-council", "first": 3, "budget": 3 }),
            json!({ "from": "place/kremlin", "to": "event/recognition-decrees", "first": 2 }),
        ],
    )
    .await;
    let nodes = r#"{ paths(from: "actor/sergey-lavrov", to: "treaty/friendship-2008", maxHops: 3) {
        paths { nodes { __typename ... on Actor { name } ... on Event { title date } ... on Treaty { name } } } } }"#;
    same_answers(&store, nodes, &[json!({})]).await;
    let asof = r#"query($on: PartialDate) {
        positionHolders(title: "President of Russia", asOf: $on) { holder { name } position { title tenure attestedOn } }
        treaty(id: "friendship-2008") { status(asOf: $on) { state signedOn ratifiedOn enteredIntoForceOn } }
        actor(id: "dmitry-medoyev") { positions(asOf: $on) { title from tenure attestedOn } } }"#;
    same_answers(
        &store,
        asof,
        &[
            json!({ "on": "2008-08-26" }),
            json!({ "on": "2008-12-01" }),
            json!({ "on": "2009-02" }),
            json!({ "on": null }),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_costly_selection_under_paths_is_refused_before_it_runs() {
    let app = spawn_app().await;
    // Fifty paths of up to seven nodes, each with two nested pages of a hundred events.
    let response = app
        .query(
            r#"{ paths(from: "actor/sergey-lavrov", to: "actor/federation-council", first: 50) { paths { nodes {
                 ... on Actor { events(first: 100) { nodes { participants { actor {
                   events(first: 100) { nodes { id } } } } } } } } } } }"#,
        )
        .await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{response}"
    );
}
