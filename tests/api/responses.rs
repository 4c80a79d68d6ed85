//! Typed event links (issue 17): `Event.responds` and `Event.respondedBy`,
//! an event answering another with a kind (a denial, a condemnation, a
//! retraction). The article's facts are checked by name; every event's
//! answer in both directions is computed from `seed/` independently of the
//! server; plans answer as async-graphql does; writes are checked like the
//! other relations (no self-link, no loop, a retraction kept in one place).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{
    error_code, ids, seed_records, seeded, spawn_app, spawn_app_with_writes, strings_at, TestApp, TEST_WRITE_TOKEN,
};
use crate::plans::same_answers;

/// (kind, event id) pairs of a list of `EventResponse { kind event { id } }`.
fn pairs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list of responses: {list}"))
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_owned(),
                r["event"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(kind: &str, event: &str) -> (String, String) {
    (kind.to_owned(), event.to_owned())
}

/// The seed's kind name (`rejects_criticism`) in GraphQL spelling.
fn screaming(kind: &str) -> String {
    kind.to_uppercase()
}

/// What the seed says each event answers: its `responds`, and the
/// statements whose `retracted_by` names it (as RETRACTS).
fn seed_responds(event: &str) -> BTreeSet<(String, String)> {
    let events = seed_records("events");
    let mut out = BTreeSet::new();
    for e in &events {
        let id = e["id"].as_str().unwrap();
        if id == event {
            for r in e["responds"].as_array().into_iter().flatten() {
                out.insert(pair(
                    &screaming(r["kind"].as_str().unwrap()),
                    r["event"].as_str().unwrap(),
                ));
            }
        }
        if e["retracted_by"].as_str() == Some(event) {
            out.insert(pair("RETRACTS", id));
        }
    }
    out
}

/// What the seed says answers each event: the events listing it in
/// `responds`, and its own `retracted_by` (as RETRACTS).
fn seed_responded_by(event: &str) -> BTreeSet<(String, String)> {
    let events = seed_records("events");
    let mut out = BTreeSet::new();
    for e in &events {
        let id = e["id"].as_str().unwrap();
        for r in e["responds"].as_array().into_iter().flatten() {
            if r["event"].as_str() == Some(event) {
                out.insert(pair(&screaming(r["kind"].as_str().unwrap()), id));
            }
        }
        if id == event {
            if let Some(by) = e["retracted_by"].as_str() {
                out.insert(pair("RETRACTS", by));
            }
        }
    }
    out
}

const BOTH_WAYS: &str = "query($id: ID!) { event(id: $id) { \
    responds { kind event { id date } } respondedBy { kind event { id date } } } }";

async fn both_ways(app: &TestApp, event: &str) -> Value {
    let response = app.query_with(BOTH_WAYS, json!({ "id": event })).await;
    assert!(response.get("errors").is_none(), "{event}: {response:#}");
    response["data"]["event"].clone()
}

#[tokio::test]
async fn the_joining_remark_is_retracted_in_the_interfax_interview_and_denied_by_lavrov() {
    let app = spawn_app().await;
    let remark = both_ways(&app, "event/kokoity-joining-russia-remark").await;
    assert_eq!(
        pairs(&remark["respondedBy"]).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            pair("RETRACTS", "event/kokoity-interfax-retraction"),
            pair("DENIES", "event/lavrov-warsaw-denial"),
        ]),
        "{remark:#}"
    );
    assert_eq!(pairs(&remark["responds"]), vec![], "the remark answers nothing");

    // Each answer says what it answers; the retraction agrees with `retractedBy`.
    let data = app
        .data(
            r#"{ interfax: event(id: "kokoity-interfax-retraction") { responds { kind event { id } } retracts { id } }
                 lavrov: event(id: "lavrov-warsaw-denial") { responds { kind event { id } }
                   participants { role actor { id } } }
                 remark: event(id: "kokoity-joining-russia-remark") { retractedBy { id }
                   denials: respondedBy(kind: DENIES) { event { id } }
                   retractions: respondedBy(kind: RETRACTS) { event { id } } } }"#,
        )
        .await;
    assert_eq!(
        pairs(&data["interfax"]["responds"]),
        vec![pair("RETRACTS", "event/kokoity-joining-russia-remark")]
    );
    assert_eq!(
        ids(&data["interfax"]["retracts"]),
        ["event/kokoity-joining-russia-remark"]
    );
    assert_eq!(
        pairs(&data["lavrov"]["responds"]),
        vec![pair("DENIES", "event/kokoity-joining-russia-remark")]
    );
    assert!(strings_at(&data["lavrov"], &["participants", "*", "actor", "id"]).contains(&"actor/sergey-lavrov".into()));
    assert_eq!(
        data["remark"]["retractedBy"]["id"], "event/kokoity-interfax-retraction",
        "retractedBy and the RETRACTS response are one fact"
    );
    assert_eq!(
        strings_at(&data["remark"]["denials"], &["*", "event", "id"]),
        ["event/lavrov-warsaw-denial"]
    );
    assert_eq!(
        strings_at(&data["remark"]["retractions"], &["*", "event", "id"]),
        ["event/kokoity-interfax-retraction"]
    );
}

#[tokio::test]
async fn the_recognition_is_condemned_by_the_statements_of_four_actors_and_the_criticism_rejected() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ event(id: "recognition-decrees") {
                 condemned: respondedBy(kind: CONDEMNS) { kind event { id participants { role actor { id } }
                   rejected: respondedBy(kind: REJECTS_CRITICISM) { event { id } } } }
                 welcomed: respondedBy(kind: WELCOMES) { event { id participants { role actor { id } } } }
                 countered: respondedBy(kind: COUNTERS) { event { id } } } }"#,
        )
        .await;
    let condemned = &data["event"]["condemned"];
    let critics: BTreeSet<String> = condemned
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["event"]["participants"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["role"] == "CRITIC")
                .map(|p| p["actor"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        critics,
        BTreeSet::from([
            "actor/european-union".to_owned(),
            "actor/nato".to_owned(),
            "actor/pace".to_owned(),
            "actor/united-states".to_owned(),
        ]),
        "{condemned:#}"
    );
    assert_eq!(condemned.as_array().unwrap().len(), 4, "one statement per actor");
    // Every condemnation is rejected by the Russian leaders together and by
    // each of the seven the article names.
    for condemnation in condemned.as_array().unwrap() {
        let rejected = strings_at(&condemnation["event"]["rejected"], &["*", "event", "id"]);
        assert!(
            rejected.contains(&"event/russian-leaders-reject-criticism".into()),
            "{rejected:?}"
        );
        for who in ["medvedev", "putin", "ivanov", "gryzlov", "lavrov", "churkin", "rogozin"] {
            assert!(
                rejected.contains(&format!("event/{who}-rejects-criticism")),
                "{who}: {rejected:?}"
            );
        }
    }
    let welcomed = &data["event"]["welcomed"];
    assert_eq!(
        strings_at(welcomed, &["*", "event", "id"]),
        ["event/kokoity-welcomes-recognition"]
    );
    assert!(
        strings_at(welcomed, &["*", "event", "participants", "*", "actor", "id"])
            .contains(&"actor/eduard-kokoity".into())
    );
    // Georgia severed relations and declared the regions occupied as a result.
    assert_eq!(
        strings_at(&data["event"]["countered"], &["*", "event", "id"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "event/georgia-declares-occupied-territories".to_owned(),
            "event/georgia-severs-relations".to_owned(),
        ])
    );
}

#[tokio::test]
async fn makarov_confirms_the_deployment_and_the_march_2009_money_carries_out_putins_instruction() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ makarov: event(id: "makarov-confirms-deployment") { date responds { kind event { id kind } } }
                 money: event(id: "federal-budget-allocation-2009") { responds { kind event { id } } }
                 instruction: event(id: "putin-funding-instruction") { respondedBy { kind event { id date } } } }"#,
        )
        .await;
    assert_eq!(data["makarov"]["date"], "2008-11");
    assert_eq!(
        pairs(&data["makarov"]["responds"]),
        vec![pair("CONFIRMS", "event/russian-troop-deployment")]
    );
    assert_eq!(data["makarov"]["responds"][0]["event"]["kind"], "DEPLOYMENT");
    assert_eq!(
        pairs(&data["money"]["responds"]),
        vec![pair("IMPLEMENTS", "event/putin-funding-instruction")]
    );
    assert_eq!(
        pairs(&data["instruction"]["respondedBy"]),
        vec![pair("IMPLEMENTS", "event/federal-budget-allocation-2009")]
    );
    assert_eq!(data["instruction"]["respondedBy"][0]["event"]["date"], "2009-03");
}

/// The chronological key of a listed event: its date's first day, undated last.
fn date_key(event: &Value) -> String {
    match event["date"].as_str() {
        Some(date) => {
            let start = date.split('/').next().unwrap();
            match start.len() {
                4 => format!("{start}-01-01"),
                7 => format!("{start}-01"),
                _ => start.to_owned(),
            }
        }
        None => "~".into(),
    }
}

#[tokio::test]
async fn every_event_answers_in_both_directions_what_the_seed_says_in_date_order() {
    let app = spawn_app().await;
    let mut linked = 0;
    let mut kinds = BTreeSet::new();
    for record in seed_records("events") {
        let event = record["id"].as_str().unwrap();
        let answer = both_ways(&app, event).await;
        for (field, expected) in [
            ("responds", seed_responds(event)),
            ("respondedBy", seed_responded_by(event)),
        ] {
            let got = pairs(&answer[field]);
            assert_eq!(
                got.iter().cloned().collect::<BTreeSet<_>>(),
                expected,
                "{event}.{field}"
            );
            assert_eq!(got.len(), expected.len(), "{event}.{field}: no response twice");
            let dates: Vec<String> = answer[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| date_key(&r["event"]))
                .collect();
            let mut sorted = dates.clone();
            sorted.sort();
            assert_eq!(dates, sorted, "{event}.{field} is in date order, undated last");
            kinds.extend(got.into_iter().map(|(kind, _)| kind));
            linked += expected.len();
        }
    }
    // Each link is seen once from each end.
    assert!(linked >= 2 * 40, "the seed links events by responses ({linked})");
    assert_eq!(
        kinds.len(),
        10,
        "every kind of response the seed needs is used: {kinds:?}"
    );
}

#[tokio::test]
async fn compiled_plans_answer_responses_and_their_kind_argument_as_async_graphql_does() {
    let store = seeded();
    let query = "query($id: ID!, $kind: ResponseKind) { event(id: $id) { id \
        responds(kind: $kind) { kind event { id title date } } \
        respondedBy(kind: $kind) { kind event { id responds { kind event { id } } } } \
        denials: respondedBy(kind: DENIES) { event { id } } } }";
    let events = seed_records("events");
    let mut each = Vec::new();
    for kind in [
        Value::Null,
        json!("RETRACTS"),
        json!("CONDEMNS"),
        json!("REJECTS_CRITICISM"),
    ] {
        for e in &events {
            each.push(json!({ "id": e["id"], "kind": kind }));
        }
    }
    same_answers(&store, query, &each).await;
}

// ---- writes ------------------------------------------------------------------

const CREATE_EVENT: &str = "mutation($input: CreateEventInput!) { createEvent(input: $input) { \
    event { id responds { kind event { id } } } } }";
const UPDATE_EVENT: &str = "mutation($id: ID!, $input: UpdateEventInput!) { updateEvent(id: $id, input: $input) { \
    event { id responds { kind event { id } } } } }";

async fn write(app: &TestApp, query: &str, variables: Value) -> Value {
    let response = app.query_as(TEST_WRITE_TOKEN, query, variables.clone()).await;
    assert!(response.get("errors").is_none(), "{response:#}\n{variables:#}");
    assert_eq!(
        app.store.verify().unwrap(),
        Vec::<String>::new(),
        "indexes agree after {variables}"
    );
    response["data"].clone()
}

async fn responded_by(app: &TestApp, event: &str) -> Vec<(String, String)> {
    pairs(&both_ways(app, event).await["respondedBy"])
}

#[tokio::test]
async fn responses_are_written_changed_and_removed_and_the_answered_event_sees_them() {
    let app = spawn_app_with_writes().await;
    let remark = "event/kokoity-joining-russia-remark";
    let before = responded_by(&app, remark).await;

    let created = write(
        &app,
        CREATE_EVENT,
        json!({ "input": { "id": "event/medoyev-denial", "title": "Medoyev denies it too", "kind": "STATEMENT",
                           "responds": [ { "event": remark, "kind": "DENIES" },
                                         { "event": "event/lavrov-warsaw-denial", "kind": "ENDORSES" } ] } }),
    )
    .await;
    assert_eq!(
        pairs(&created["createEvent"]["event"]["responds"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([pair("DENIES", remark), pair("ENDORSES", "event/lavrov-warsaw-denial")])
    );
    let after = responded_by(&app, remark).await;
    assert!(after.contains(&pair("DENIES", "event/medoyev-denial")), "{after:?}");
    assert_eq!(after.len(), before.len() + 1);

    // An update replaces the whole list: the remark is no longer answered.
    let updated = write(
        &app,
        UPDATE_EVENT,
        json!({ "id": "medoyev-denial",
                "input": { "responds": [ { "event": "event/lavrov-warsaw-denial", "kind": "CONFIRMS" } ] } }),
    )
    .await;
    assert_eq!(
        pairs(&updated["updateEvent"]["event"]["responds"]),
        vec![pair("CONFIRMS", "event/lavrov-warsaw-denial")]
    );
    assert_eq!(responded_by(&app, remark).await, before);
    assert_eq!(
        app.data(r#"{ event(id: "lavrov-warsaw-denial") { respondedBy(kind: CONFIRMS) { event { id } } } }"#)
            .await["event"]["respondedBy"],
        json!([{ "event": { "id": "event/medoyev-denial" } }])
    );

    // Deleting the answered event with cascade takes the response out of the answering one.
    let deleted = app
        .query_as(
            TEST_WRITE_TOKEN,
            "mutation { deleteEvent(id: \"lavrov-warsaw-denial\", cascade: true) { deletedId cascaded } }",
            json!({}),
        )
        .await;
    assert!(deleted.get("errors").is_none(), "{deleted:#}");
    assert!(strings_at(&deleted, &["data", "deleteEvent", "cascaded", "*"]).contains(&"event/medoyev-denial".into()));
    assert_eq!(
        pairs(&both_ways(&app, "event/medoyev-denial").await["responds"]),
        vec![],
        "the cascade removed the response"
    );
    assert_eq!(app.store.verify().unwrap(), Vec::<String>::new());
}

/// A write that must be refused naming `argument`, changing nothing.
struct Refused {
    description: &'static str,
    query: &'static str,
    variables: Value,
    argument: &'static str,
    message: &'static str,
}

#[tokio::test]
async fn bad_responses_are_refused_naming_the_field_and_nothing_is_written() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_EVENT,
        json!({ "input": { "id": "event/first-answer", "title": "First answer", "kind": "STATEMENT",
                           "responds": [ { "event": "event/lavrov-warsaw-denial", "kind": "CONFIRMS" } ] } }),
    )
    .await;
    let cases = [
        Refused {
            description: "an event answering itself",
            query: UPDATE_EVENT,
            variables: json!({ "id": "first-answer",
                "input": { "responds": [ { "event": "event/first-answer", "kind": "DENIES" } ] } }),
            argument: "input.responds[0].event",
            message: "cannot answer itself",
        },
        Refused {
            description: "a response to an event that does not exist",
            query: CREATE_EVENT,
            variables: json!({ "input": { "title": "Answer to nothing", "kind": "STATEMENT",
                "responds": [ { "event": "event/no-such-event", "kind": "DENIES" } ] } }),
            argument: "input.responds.event",
            message: "event/no-such-event",
        },
        Refused {
            description: "a response that closes a loop",
            query: UPDATE_EVENT,
            variables: json!({ "id": "lavrov-warsaw-denial",
                "input": { "responds": [ { "event": "event/first-answer", "kind": "DENIES" } ] } }),
            argument: "input.responds.event",
            message: "event/first-answer",
        },
        Refused {
            description: "a retraction written as a response",
            query: CREATE_EVENT,
            variables: json!({ "input": { "title": "Second thoughts", "kind": "RETRACTION",
                "responds": [ { "event": "event/first-answer", "kind": "RETRACTS" } ] } }),
            argument: "input.responds[0].kind",
            message: "retractedBy",
        },
        Refused {
            description: "two responses to one event",
            query: CREATE_EVENT,
            variables: json!({ "input": { "title": "Twice", "kind": "STATEMENT",
                "responds": [ { "event": "event/first-answer", "kind": "DENIES" },
                              { "event": "event/first-answer", "kind": "CONDEMNS" } ] } }),
            argument: "input.responds[1].event",
            message: "already answered",
        },
        Refused {
            description: "a kind outside the vocabulary",
            query: CREATE_EVENT,
            variables: json!({ "input": { "title": "Shrug", "kind": "STATEMENT",
                "responds": [ { "event": "event/first-answer", "kind": "SHRUGS" } ] } }),
            argument: "",
            message: "SHRUGS",
        },
    ];
    let mut failures = Vec::new();
    for case in cases {
        let generation = app.store.generation().unwrap();
        let response = app.query_as(TEST_WRITE_TOKEN, case.query, case.variables.clone()).await;
        let error = &response["errors"][0];
        let argument = error["extensions"]["argument"].as_str().unwrap_or("");
        let message = error["message"].as_str().unwrap_or("");
        if error.is_null()
            || argument != case.argument
            || !message.contains(case.message)
            || (!case.argument.is_empty() && error_code(&response) != "BAD_USER_INPUT")
        {
            failures.push(format!("{}: {response}", case.description));
        }
        assert_eq!(
            app.store.generation().unwrap(),
            generation,
            "{}: nothing written",
            case.description
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(app.store.verify().unwrap(), Vec::<String>::new());
}
