//! Writes over real HTTP: every mutation, what it does to queries and to the
//! reverse relations, bad input refused with the field at fault and nothing
//! written, bearer-token auth, deletes of referenced entities, racing
//! writers, and how API data lives alongside the seed (merge and export).

use std::collections::BTreeSet;
use std::path::Path;

use diplograph::model::{EntityKind, Origin};
use diplograph::seed::{self, LoadOutcome};
use diplograph::store::{SeedState, Store};
use serde_json::{json, Value};

use crate::helpers::{
    error_code, id, ids, seed_dir, spawn_app, spawn_app_with, spawn_app_with_writes, strings_at, TestApp,
    TEST_WRITE_TOKEN,
};

// ---- helpers ------------------------------------------------------------------

/// Fails with the list of disagreements when an index and the entities differ.
fn assert_consistent(store: &Store, after: &str) {
    assert_eq!(
        store.verify().unwrap(),
        Vec::<String>::new(),
        "after {after}, every index entry should agree with the entities"
    );
}

/// Runs a mutation with the write token. It must succeed, and the store's
/// indexes must still agree with its entities afterwards.
async fn write(app: &TestApp, query: &str, variables: Value) -> Value {
    let response = app.query_as(TEST_WRITE_TOKEN, query, variables.clone()).await;
    assert!(
        response.get("errors").is_none(),
        "the write should succeed: {response:#}\nvariables: {variables:#}"
    );
    assert_consistent(&app.store, &format!("{query} with {variables}"));
    response["data"].clone()
}

/// Runs a query without any token; it must succeed.
async fn read(app: &TestApp, query: &str, variables: Value) -> Value {
    let response = app.query_with(query, variables).await;
    assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
    response["data"].clone()
}

/// What a refused write must leave exactly as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    generation: u64,
    counts: Vec<(EntityKind, u64)>,
}

fn snapshot(store: &Store) -> Snapshot {
    Snapshot {
        generation: store.generation().unwrap(),
        counts: EntityKind::ALL
            .into_iter()
            .map(|k| (k, store.count(k).unwrap()))
            .collect(),
    }
}

/// `base` with the keys of `patch` replaced.
fn with(base: &Value, patch: Value) -> Value {
    let mut out = base.clone();
    for (k, v) in patch.as_object().expect("a patch is an object") {
        out[k] = v.clone();
    }
    out
}

fn contains(list: &[String], wanted: &str) -> bool {
    list.iter().any(|x| x == wanted)
}

const CREATE_ACTOR: &str =
    "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id name kind summary } } }";
const UPDATE_ACTOR: &str =
    "mutation($id: ID!, $input: UpdateActorInput!) { updateActor(id: $id, input: $input) { actor { id name summary } } }";
const CREATE_EVENT: &str =
    "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id title date } } }";
const UPDATE_EVENT: &str =
    "mutation($id: ID!, $input: UpdateEventInput!) { updateEvent(id: $id, input: $input) { event { id title date } } }";
const CREATE_TREATY: &str =
    "mutation($input: CreateTreatyInput!) { createTreaty(input: $input) { treaty { id name } } }";
const UPDATE_TREATY: &str =
    "mutation($id: ID!, $input: UpdateTreatyInput!) { updateTreaty(id: $id, input: $input) { treaty { id name } } }";
const CREATE_FUNDING: &str = "mutation($input: CreateFundingAllocationInput!) { createFundingAllocation(input: $input) { fundingAllocation { id amount { amount currency } } } }";
const UPDATE_FUNDING: &str = "mutation($id: ID!, $input: UpdateFundingAllocationInput!) { updateFundingAllocation(id: $id, input: $input) { fundingAllocation { id amount { amount currency } } } }";
const CREATE_PLACE: &str = "mutation($input: CreatePlaceInput!) { createPlace(input: $input) { place { id name } } }";
const UPDATE_PLACE: &str =
    "mutation($id: ID!, $input: UpdatePlaceInput!) { updatePlace(id: $id, input: $input) { place { id name } } }";
const ADD_PARTICIPANT: &str = "mutation($input: AddParticipantInput!) { addParticipant(input: $input) { event { id participants { actor { id } role } } } }";
const REMOVE_PARTICIPANT: &str = "mutation($input: RemoveParticipantInput!) { removeParticipant(input: $input) { event { id participants { actor { id } role } } } }";
const ADD_RATIFICATION: &str = "mutation($input: AddRatificationInput!) { addRatification(input: $input) { treaty { id ratifications { by { id } date } } } }";
const LINK_FUNDING: &str = "mutation($input: LinkFundingToTreatyInput!) { linkFundingToTreaty(input: $input) { fundingAllocation { id basis { id } } } }";
const LINK_PLACE: &str =
    "mutation($input: LinkEventToPlaceInput!) { linkEventToPlace(input: $input) { event { id place { id } } } }";

/// The delete mutation of one kind (`Actor`, `FundingAllocation`, …).
fn delete_mutation(kind: &str) -> String {
    format!("mutation($id: ID!, $cascade: Boolean! = false) {{ delete{kind}(id: $id, cascade: $cascade) {{ deletedId cascaded }} }}")
}

// ---- every mutation, seen through queries and reverse relations ----------------

#[tokio::test]
async fn actors_are_created_changed_and_deleted_and_the_actors_they_point_at_see_it() {
    let app = spawn_app_with_writes().await;
    let created = write(
        &app,
        CREATE_ACTOR,
        json!({ "input": {
            "id": "actor/test-envoy",
            "name": "Test Envoy",
            "kind": "PERSON",
            "aliases": ["T. Envoy"],
            "summary": "An envoy made up for this test.",
            "partOf": "actor/russian-mfa",
            "positions": [{ "title": "Special Envoy", "of": "actor/russia", "from": "2009-03" }],
            "sources": ["source/lead"]
        }}),
    )
    .await;
    assert_eq!(
        created["createActor"]["actor"],
        json!({ "id": "actor/test-envoy", "name": "Test Envoy", "kind": "PERSON", "summary": "An envoy made up for this test." })
    );

    let sides = r#"query {
        actor(id: "actor/test-envoy") { name aliases summary partOf { id } positions { title from of { id } } sources { id } }
        mfa: actor(id: "actor/russian-mfa") { parts { id } }
        government: actor(id: "actor/russian-government") { parts { id } }
        russia: actor(id: "actor/russia") { positionHolders { id } }
        source(id: "source/lead") { citedBy { ... on Actor { id } } }
    }"#;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["actor"],
        json!({
            "name": "Test Envoy",
            "aliases": ["T. Envoy"],
            "summary": "An envoy made up for this test.",
            "partOf": { "id": "actor/russian-mfa" },
            "positions": [{ "title": "Special Envoy", "from": "2009-03", "of": { "id": "actor/russia" } }],
            "sources": [{ "id": "source/lead" }]
        })
    );
    assert!(contains(&ids(&seen["mfa"]["parts"]), "actor/test-envoy"), "{seen:#}");
    assert!(
        contains(&ids(&seen["russia"]["positionHolders"]), "actor/test-envoy"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["source"]["citedBy"]), "actor/test-envoy"),
        "{seen:#}"
    );
    assert_eq!(
        app.store.get_record(&id("actor/test-envoy")).unwrap().unwrap().origin,
        Origin::Api
    );

    let updated = write(
        &app,
        UPDATE_ACTOR,
        json!({ "id": "test-envoy", "input": {
            "summary": "Moved to the government.",
            "partOf": "actor/russian-government",
            "positions": []
        }}),
    )
    .await;
    assert_eq!(
        updated["updateActor"]["actor"],
        json!({ "id": "actor/test-envoy", "name": "Test Envoy", "summary": "Moved to the government." }),
        "fields left out keep their value"
    );
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["actor"]["partOf"], json!({ "id": "actor/russian-government" }));
    assert_eq!(seen["actor"]["positions"], json!([]));
    assert_eq!(
        seen["actor"]["aliases"],
        json!(["T. Envoy"]),
        "aliases were left out, so kept"
    );
    assert!(!contains(&ids(&seen["mfa"]["parts"]), "actor/test-envoy"), "{seen:#}");
    assert!(
        contains(&ids(&seen["government"]["parts"]), "actor/test-envoy"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["russia"]["positionHolders"]), "actor/test-envoy"),
        "{seen:#}"
    );

    let deleted = write(&app, &delete_mutation("Actor"), json!({ "id": "actor/test-envoy" })).await;
    assert_eq!(
        deleted["deleteActor"],
        json!({ "deletedId": "actor/test-envoy", "cascaded": [] })
    );
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["actor"], Value::Null);
    assert!(
        !contains(&ids(&seen["government"]["parts"]), "actor/test-envoy"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["source"]["citedBy"]), "actor/test-envoy"),
        "{seen:#}"
    );
    assert!(app.store.referrers(&id("actor/test-envoy")).unwrap().is_empty());
}

#[tokio::test]
async fn events_and_their_participants_are_written_and_every_side_of_each_relation_shows_it() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_EVENT,
        json!({ "input": {
            "id": "event/test-talks",
            "title": "Test talks in Moscow",
            "kind": "MEETING",
            "date": "2009-05-07",
            "place": "place/moscow",
            "participants": [{ "actor": "actor/russia", "role": "HOST" }],
            "treaties": ["treaty/friendship-2008"],
            "figures": [{ "label": "Delegates", "value": "12", "unit": "people", "claimedBy": "actor/russia" }],
            "sources": ["source/diplomatic-ties"]
        }}),
    )
    .await;

    let sides = r#"query {
        event(id: "event/test-talks") { title date place { id } participants { actor { id } role } treaties { id } figures { value claimedBy { id } } }
        russia: actor(id: "actor/russia") { events(first: 100) { nodes { id } } claimedFiguresIn { id } }
        georgia: actor(id: "actor/georgia") { events(first: 100) { nodes { id } } participations { event { id } role } }
        moscow: place(id: "place/moscow") { events { id } }
        tskhinval: place(id: "place/tskhinval") { events { id } }
        treaty(id: "treaty/friendship-2008") { events { id } }
    }"#;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["event"],
        json!({
            "title": "Test talks in Moscow",
            "date": "2009-05-07",
            "place": { "id": "place/moscow" },
            "participants": [{ "actor": { "id": "actor/russia" }, "role": "HOST" }],
            "treaties": [{ "id": "treaty/friendship-2008" }],
            "figures": [{ "value": "12", "claimedBy": { "id": "actor/russia" } }]
        })
    );
    let russia_events = |seen: &Value| strings_at(seen, &["russia", "events", "nodes", "*", "id"]);
    let georgia_events = |seen: &Value| strings_at(seen, &["georgia", "events", "nodes", "*", "id"]);
    assert!(contains(&russia_events(&seen), "event/test-talks"), "{seen:#}");
    assert!(
        contains(&ids(&seen["russia"]["claimedFiguresIn"]), "event/test-talks"),
        "{seen:#}"
    );
    assert!(!contains(&georgia_events(&seen), "event/test-talks"), "{seen:#}");
    assert!(
        contains(&ids(&seen["moscow"]["events"]), "event/test-talks"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["treaty"]["events"]), "event/test-talks"),
        "{seen:#}"
    );

    // addParticipant: the actor's events and participations gain the event.
    write(
        &app,
        ADD_PARTICIPANT,
        json!({ "input": { "event": "event/test-talks", "actor": "actor/georgia", "role": "TARGET" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert!(contains(&georgia_events(&seen), "event/test-talks"), "{seen:#}");
    let role_of_georgia = |seen: &Value| -> Vec<Value> {
        seen["georgia"]["participations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["event"]["id"] == "event/test-talks")
            .map(|p| p["role"].clone())
            .collect()
    };
    assert_eq!(role_of_georgia(&seen), vec![json!("TARGET")]);

    // Adding the same actor again changes its role; it is not listed twice.
    write(
        &app,
        ADD_PARTICIPANT,
        json!({ "input": { "event": "test-talks", "actor": "georgia", "role": "PARTY" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["event"]["participants"],
        json!([
            { "actor": { "id": "actor/russia" }, "role": "HOST" },
            { "actor": { "id": "actor/georgia" }, "role": "PARTY" }
        ])
    );
    assert_eq!(role_of_georgia(&seen), vec![json!("PARTY")]);

    // linkEventToPlace moves the event from one place's list to the other's.
    write(
        &app,
        LINK_PLACE,
        json!({ "input": { "event": "event/test-talks", "place": "place/tskhinval" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["event"]["place"], json!({ "id": "place/tskhinval" }));
    assert!(
        contains(&ids(&seen["tskhinval"]["events"]), "event/test-talks"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["moscow"]["events"]), "event/test-talks"),
        "{seen:#}"
    );

    // updateEvent: a new date moves the event in the date index.
    let updated = write(
        &app,
        UPDATE_EVENT,
        json!({ "id": "event/test-talks", "input": { "title": "Test talks, postponed", "date": "2009-06" } }),
    )
    .await;
    assert_eq!(
        updated["updateEvent"]["event"],
        json!({ "id": "event/test-talks", "title": "Test talks, postponed", "date": "2009-06" })
    );
    let in_period = |from: &str, to: &str| {
        let app = &app;
        let (from, to) = (from.to_owned(), to.to_owned());
        async move {
            let data = read(
                app,
                "query($f: EventFilter) { events(filter: $f, first: 100) { nodes { id } } }",
                json!({ "f": { "from": from, "to": to } }),
            )
            .await;
            strings_at(&data, &["events", "nodes", "*", "id"])
        }
    };
    assert!(contains(
        &in_period("2009-06-15", "2009-06-15").await,
        "event/test-talks"
    ));
    assert!(!contains(
        &in_period("2009-05-07", "2009-05-07").await,
        "event/test-talks"
    ));

    // removeParticipant: the actor's events lose the event.
    write(
        &app,
        REMOVE_PARTICIPANT,
        json!({ "input": { "event": "event/test-talks", "actor": "actor/russia" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert!(!contains(&russia_events(&seen), "event/test-talks"), "{seen:#}");
    assert!(contains(&georgia_events(&seen), "event/test-talks"), "{seen:#}");
    assert_eq!(
        seen["event"]["participants"],
        json!([{ "actor": { "id": "actor/georgia" }, "role": "PARTY" }])
    );

    let deleted = write(&app, &delete_mutation("Event"), json!({ "id": "event/test-talks" })).await;
    assert_eq!(
        deleted["deleteEvent"],
        json!({ "deletedId": "event/test-talks", "cascaded": [] })
    );
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["event"], Value::Null);
    assert!(!contains(&georgia_events(&seen), "event/test-talks"), "{seen:#}");
    assert!(
        !contains(&ids(&seen["tskhinval"]["events"]), "event/test-talks"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["treaty"]["events"]), "event/test-talks"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["russia"]["claimedFiguresIn"]), "event/test-talks"),
        "{seen:#}"
    );
}

#[tokio::test]
async fn treaties_and_ratifications_are_written_and_the_parties_see_them() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_TREATY,
        json!({ "input": {
            "id": "treaty/test-accord",
            "name": "Test accord",
            "kind": "AGREEMENT",
            "signedOn": "2009-04-30",
            "signedAt": "place/moscow",
            "parties": ["actor/russia", "actor/abkhazia"],
            "signatories": ["actor/sergey-lavrov"],
            "mediator": "actor/france",
            "basedOn": "treaty/friendship-2008",
            "provisions": ["Both sides test things."],
            "sources": ["source/diplomatic-ties"]
        }}),
    )
    .await;
    let sides = r#"query {
        treaty(id: "treaty/test-accord") { name signedOn enteredIntoForceOn signedAt { id } parties { id } signatories { id } mediator { id } basedOn { id } ratifications { by { id } date } }
        russia: actor(id: "actor/russia") { treaties { id } }
        abkhazia: actor(id: "actor/abkhazia") { treaties { id } }
        southOssetia: actor(id: "actor/south-ossetia") { treaties { id } }
        lavrov: actor(id: "actor/sergey-lavrov") { signedTreaties { id } }
        france: actor(id: "actor/france") { mediatedTreaties { id } }
        duma: actor(id: "actor/state-duma") { ratifiedTreaties { id } }
        moscow: place(id: "place/moscow") { treaties { id } }
        friendship: treaty(id: "treaty/friendship-2008") { derivedTreaties { id } }
    }"#;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["treaty"],
        json!({
            "name": "Test accord",
            "signedOn": "2009-04-30",
            "enteredIntoForceOn": null,
            "signedAt": { "id": "place/moscow" },
            "parties": [{ "id": "actor/russia" }, { "id": "actor/abkhazia" }],
            "signatories": [{ "id": "actor/sergey-lavrov" }],
            "mediator": { "id": "actor/france" },
            "basedOn": { "id": "treaty/friendship-2008" },
            "ratifications": []
        })
    );
    for (side, field) in [
        ("russia", "treaties"),
        ("abkhazia", "treaties"),
        ("lavrov", "signedTreaties"),
        ("france", "mediatedTreaties"),
        ("moscow", "treaties"),
        ("friendship", "derivedTreaties"),
    ] {
        assert!(
            contains(&ids(&seen[side][field]), "treaty/test-accord"),
            "{side}.{field}: {seen:#}"
        );
    }

    write(
        &app,
        ADD_RATIFICATION,
        json!({ "input": { "treaty": "treaty/test-accord", "by": "actor/state-duma", "date": "2009-05-20" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["treaty"]["ratifications"],
        json!([{ "by": { "id": "actor/state-duma" }, "date": "2009-05-20" }])
    );
    assert!(
        contains(&ids(&seen["duma"]["ratifiedTreaties"]), "treaty/test-accord"),
        "{seen:#}"
    );

    // A second ratification by the same body replaces the first.
    write(
        &app,
        ADD_RATIFICATION,
        json!({ "input": { "treaty": "test-accord", "by": "state-duma", "date": "2009-06" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["treaty"]["ratifications"],
        json!([{ "by": { "id": "actor/state-duma" }, "date": "2009-06" }])
    );

    write(
        &app,
        UPDATE_TREATY,
        json!({ "id": "treaty/test-accord", "input": {
            "parties": ["actor/russia", "actor/south-ossetia"],
            "enteredIntoForceOn": "2009-07"
        }}),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["treaty"]["enteredIntoForceOn"], json!("2009-07"));
    assert!(
        !contains(&ids(&seen["abkhazia"]["treaties"]), "treaty/test-accord"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["southOssetia"]["treaties"]), "treaty/test-accord"),
        "{seen:#}"
    );
    assert_eq!(
        seen["treaty"]["ratifications"],
        json!([{ "by": { "id": "actor/state-duma" }, "date": "2009-06" }]),
        "fields left out keep their value"
    );

    let deleted = write(&app, &delete_mutation("Treaty"), json!({ "id": "treaty/test-accord" })).await;
    assert_eq!(
        deleted["deleteTreaty"],
        json!({ "deletedId": "treaty/test-accord", "cascaded": [] })
    );
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["treaty"], Value::Null);
    for (side, field) in [
        ("russia", "treaties"),
        ("southOssetia", "treaties"),
        ("lavrov", "signedTreaties"),
        ("france", "mediatedTreaties"),
        ("duma", "ratifiedTreaties"),
        ("moscow", "treaties"),
        ("friendship", "derivedTreaties"),
    ] {
        assert!(
            !contains(&ids(&seen[side][field]), "treaty/test-accord"),
            "{side}.{field}: {seen:#}"
        );
    }
}

#[tokio::test]
async fn funding_allocations_keep_exact_amounts_and_donors_recipients_and_treaties_see_them() {
    let app = spawn_app_with_writes().await;
    let created = write(
        &app,
        CREATE_FUNDING,
        json!({ "input": {
            "id": "funding/test-grant",
            "title": "A test grant",
            "amount": { "amount": "12500000000", "currency": "RUB" },
            "donor": "actor/russia",
            "recipient": "actor/abkhazia",
            "purpose": "Testing that money survives the round trip.",
            "date": "2010-02",
            "authorizedBy": "actor/vladimir-putin"
        }}),
    )
    .await;
    assert_eq!(
        created["createFundingAllocation"]["fundingAllocation"],
        json!({ "id": "funding/test-grant", "amount": { "amount": "12500000000", "currency": "RUB" } })
    );
    let sides = r#"query {
        fundingAllocation(id: "funding/test-grant") { amount { amount currency } date donor { id } recipient { id } authorizedBy { id } basis { id } }
        russia: actor(id: "actor/russia") { fundingProvided { id } }
        abkhazia: actor(id: "actor/abkhazia") { fundingReceived { id } }
        southOssetia: actor(id: "actor/south-ossetia") { fundingReceived { id } }
        putin: actor(id: "actor/vladimir-putin") { fundingAuthorized { id } }
        treaty(id: "treaty/finance-agreements-2009") { fundingAllocations { id } }
    }"#;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["fundingAllocation"],
        json!({
            "amount": { "amount": "12500000000", "currency": "RUB" },
            "date": "2010-02",
            "donor": { "id": "actor/russia" },
            "recipient": { "id": "actor/abkhazia" },
            "authorizedBy": { "id": "actor/vladimir-putin" },
            "basis": null
        })
    );
    assert!(
        contains(&ids(&seen["russia"]["fundingProvided"]), "funding/test-grant"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["abkhazia"]["fundingReceived"]), "funding/test-grant"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["putin"]["fundingAuthorized"]), "funding/test-grant"),
        "{seen:#}"
    );

    let linked = write(
        &app,
        LINK_FUNDING,
        json!({ "input": { "fundingAllocation": "test-grant", "treaty": "finance-agreements-2009" } }),
    )
    .await;
    assert_eq!(
        linked["linkFundingToTreaty"]["fundingAllocation"]["basis"],
        json!({ "id": "treaty/finance-agreements-2009" })
    );
    let seen = read(&app, sides, json!({})).await;
    assert!(
        contains(&ids(&seen["treaty"]["fundingAllocations"]), "funding/test-grant"),
        "{seen:#}"
    );

    write(
        &app,
        UPDATE_FUNDING,
        json!({ "id": "funding/test-grant", "input": {
            "amount": { "amount": 7, "currency": "USD" },
            "recipient": "actor/south-ossetia"
        }}),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["fundingAllocation"]["amount"],
        json!({ "amount": "7", "currency": "USD" })
    );
    assert_eq!(
        seen["fundingAllocation"]["basis"],
        json!({ "id": "treaty/finance-agreements-2009" }),
        "fields left out keep their value"
    );
    assert!(
        !contains(&ids(&seen["abkhazia"]["fundingReceived"]), "funding/test-grant"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["southOssetia"]["fundingReceived"]), "funding/test-grant"),
        "{seen:#}"
    );

    let deleted = write(
        &app,
        &delete_mutation("FundingAllocation"),
        json!({ "id": "funding/test-grant" }),
    )
    .await;
    assert_eq!(
        deleted["deleteFundingAllocation"],
        json!({ "deletedId": "funding/test-grant", "cascaded": [] })
    );
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["fundingAllocation"], Value::Null);
    assert!(
        !contains(&ids(&seen["treaty"]["fundingAllocations"]), "funding/test-grant"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["russia"]["fundingProvided"]), "funding/test-grant"),
        "{seen:#}"
    );
    assert!(
        !contains(&ids(&seen["putin"]["fundingAuthorized"]), "funding/test-grant"),
        "{seen:#}"
    );
}

#[tokio::test]
async fn places_are_written_and_the_places_around_them_list_them() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_PLACE,
        json!({ "input": {
            "id": "place/test-village",
            "name": "Test village",
            "kind": "CITY",
            "aliases": ["Testovo"],
            "within": "place/south-ossetia"
        }}),
    )
    .await;
    let sides = r#"query {
        place(id: "place/test-village") { name kind aliases summary within { id } }
        southOssetia: place(id: "place/south-ossetia") { contains { id } }
        georgia: place(id: "place/georgia") { contains { id } }
    }"#;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(
        seen["place"],
        json!({ "name": "Test village", "kind": "CITY", "aliases": ["Testovo"], "summary": null, "within": { "id": "place/south-ossetia" } })
    );
    assert!(
        contains(&ids(&seen["southOssetia"]["contains"]), "place/test-village"),
        "{seen:#}"
    );

    write(
        &app,
        UPDATE_PLACE,
        json!({ "id": "test-village", "input": { "summary": "Moved for the test.", "within": "place/georgia" } }),
    )
    .await;
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["place"]["summary"], json!("Moved for the test."));
    assert!(
        !contains(&ids(&seen["southOssetia"]["contains"]), "place/test-village"),
        "{seen:#}"
    );
    assert!(
        contains(&ids(&seen["georgia"]["contains"]), "place/test-village"),
        "{seen:#}"
    );

    // Without an explicit id, the id is made from the name.
    let made = write(
        &app,
        CREATE_PLACE,
        json!({ "input": { "name": "Akhalgori Test Café", "kind": "CITY" } }),
    )
    .await;
    assert_eq!(made["createPlace"]["place"]["id"], json!("place/akhalgori-test-cafe"));

    let deleted = write(&app, &delete_mutation("Place"), json!({ "id": "place/test-village" })).await;
    assert_eq!(
        deleted["deletePlace"],
        json!({ "deletedId": "place/test-village", "cascaded": [] })
    );
    let seen = read(&app, sides, json!({})).await;
    assert_eq!(seen["place"], Value::Null);
    assert!(
        !contains(&ids(&seen["georgia"]["contains"]), "place/test-village"),
        "{seen:#}"
    );
}

// ---- bad input ---------------------------------------------------------------------

/// A write that must be refused, and how.
struct BadWrite {
    description: &'static str,
    /// A write that must succeed first (the first of two creates with one id).
    setup: Option<(&'static str, Value)>,
    query: &'static str,
    variables: Value,
    code: &'static str,
    /// The `extensions.argument` the error must carry, for `BAD_USER_INPUT`.
    argument: Option<&'static str>,
}

impl BadWrite {
    /// `CreateEventInput.date` and `UpdateEventInput.date` are `PartialDate`s: async-graphql refuses a
    /// bad one as it parses the input, before the seed-format check that
    /// names fields, so the error names the scalar and the input type in its
    /// message (`Failed to parse "PartialDate": … (occurred while parsing
    /// "CreateEventInput")`) rather than in `extensions.argument`; the
    /// message still names the bad value and why.
    fn of_a_partial_date(self) -> BadWrite {
        BadWrite { argument: None, ..self }
    }
}

fn bad_writes() -> Vec<BadWrite> {
    let event = json!({ "title": "A test event", "kind": "MEETING" });
    let actor = json!({ "name": "A test actor", "kind": "GROUP" });
    let funding = json!({
        "title": "A test grant",
        "amount": { "amount": "1000", "currency": "RUB" },
        "donor": "actor/russia",
        "recipient": "actor/south-ossetia",
        "purpose": "Testing"
    });
    let bad = |description, query, variables, argument| BadWrite {
        description,
        setup: None,
        query,
        variables,
        code: "BAD_USER_INPUT",
        argument: Some(argument),
    };
    vec![
        bad(
            "a participant that does not exist",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "participants": [{ "actor": "actor/nobody", "role": "ACTOR" }] })) }),
            "input.participants.actor",
        ),
        bad(
            "a participant that is a place, not an actor",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "participants": [{ "actor": "place/tskhinval", "role": "ACTOR" }] })) }),
            "input.participants.actor",
        ),
        bad(
            "an event place that is an actor, not a place",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "place": "actor/russia" })) }),
            "input.place",
        ),
        bad(
            "a day that does not exist (30 February)",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "date": "2010-02-30" })) }),
            "input.date",
        )
        .of_a_partial_date(),
        bad(
            "a date in words",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "date": "March 2010" })) }),
            "input.date",
        )
        .of_a_partial_date(),
        bad(
            "a negative amount",
            CREATE_FUNDING,
            json!({ "input": with(&funding, json!({ "amount": { "amount": "-5", "currency": "RUB" } })) }),
            "input.amount.amount",
        ),
        bad(
            "a zero amount",
            CREATE_FUNDING,
            json!({ "input": with(&funding, json!({ "amount": { "amount": "0", "currency": "RUB" } })) }),
            "input.amount.amount",
        ),
        bad(
            "an amount that is not a whole number",
            CREATE_FUNDING,
            json!({ "input": with(&funding, json!({ "amount": { "amount": "2.5", "currency": "RUB" } })) }),
            "input.amount.amount",
        ),
        bad(
            "a currency in lower case",
            CREATE_FUNDING,
            json!({ "input": with(&funding, json!({ "amount": { "amount": "1000", "currency": "rub" } })) }),
            "input.amount.currency",
        ),
        bad(
            "an empty actor name",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "name": "" })) }),
            "input.name",
        ),
        bad(
            "an actor name of spaces only",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "name": "   " })) }),
            "input.name",
        ),
        bad(
            "an empty event title",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "title": "" })) }),
            "input.title",
        ),
        bad(
            "a malformed id",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "id": "Not An Id!" })) }),
            "input.id",
        ),
        bad(
            "an id of another kind",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "id": "place/a-test-actor" })) }),
            "input.id",
        ),
        BadWrite {
            setup: Some((
                CREATE_ACTOR,
                json!({ "input": with(&actor, json!({ "id": "actor/twice" })) }),
            )),
            ..bad(
                "the same explicit id created twice",
                CREATE_ACTOR,
                json!({ "input": with(&actor, json!({ "id": "actor/twice", "name": "Another" })) }),
                "input.id",
            )
        },
        bad(
            "an id that a seed entity already has",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "id": "actor/russia" })) }),
            "input.id",
        ),
        bad(
            "an update with a month that does not exist",
            UPDATE_EVENT,
            json!({ "id": "event/war-2008", "input": { "date": "2009-13" } }),
            "input.date",
        )
        .of_a_partial_date(),
        bad(
            "an update that empties a name",
            UPDATE_ACTOR,
            json!({ "id": "actor/georgia", "input": { "name": "" } }),
            "input.name",
        ),
        bad(
            "a participant added who does not exist",
            ADD_PARTICIPANT,
            json!({ "input": { "event": "event/war-2008", "actor": "actor/nobody", "role": "ACTOR" } }),
            "input.actor",
        ),
        bad(
            "a participant removed who does not take part",
            REMOVE_PARTICIPANT,
            json!({ "input": { "event": "event/war-2008", "actor": "actor/south-ossetian-embassy-in-russia" } }),
            "input.actor",
        ),
        bad(
            "a ratification by a body that does not exist",
            ADD_RATIFICATION,
            json!({ "input": { "treaty": "treaty/friendship-2008", "by": "actor/nobody" } }),
            "input.by",
        ),
        bad(
            "a ratification with a date in words",
            ADD_RATIFICATION,
            json!({ "input": { "treaty": "treaty/friendship-2008", "by": "actor/state-duma", "date": "autumn 2008" } }),
            "input.date",
        ),
        bad(
            "funding linked to a treaty that does not exist",
            LINK_FUNDING,
            json!({ "input": { "fundingAllocation": "funding/reconstruction", "treaty": "treaty/nothing" } }),
            "input.treaty",
        ),
        bad(
            "an event linked to a place that does not exist",
            LINK_PLACE,
            json!({ "input": { "event": "event/war-2008", "place": "place/nowhere" } }),
            "input.place",
        ),
        BadWrite {
            code: "NOT_FOUND",
            argument: None,
            ..bad(
                "an update of an actor that does not exist",
                UPDATE_ACTOR,
                json!({ "id": "actor/nobody", "input": { "summary": "x" } }),
                "",
            )
        },
        // ---- cycles: nothing part of, within, after, retracted by or based on itself ----
        bad(
            "an actor part of itself",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "id": "actor/self-part", "partOf": "actor/self-part" })) }),
            "input.partOf",
        ),
        bad(
            "an event after itself",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "id": "event/self-after", "after": ["event/self-after"] })) }),
            "input.after",
        ),
        bad(
            "an event retracted by itself",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "id": "event/self-retracted", "retractedBy": "event/self-retracted" })) }),
            "input.retractedBy",
        ),
        bad(
            "an event part of itself",
            CREATE_EVENT,
            json!({ "input": with(&event, json!({ "id": "event/self-part", "partOf": "event/self-part" })) }),
            "input.partOf",
        ),
        bad(
            "a treaty based on itself",
            CREATE_TREATY,
            json!({ "input": { "id": "treaty/self-based", "name": "Self-based", "kind": "TREATY", "basedOn": "treaty/self-based" } }),
            "input.basedOn",
        ),
        bad(
            "a place within itself",
            CREATE_PLACE,
            json!({ "input": { "id": "place/self-within", "name": "Self", "kind": "AREA", "within": "place/self-within" } }),
            "input.within",
        ),
        bad(
            "a place within a place inside it (georgia within one of its own parts)",
            UPDATE_PLACE,
            json!({ "id": "place/georgia", "input": { "within": "place/georgia-proper-security-zones" } }),
            "input.within",
        ),
        BadWrite {
            setup: Some((
                CREATE_ACTOR,
                json!({ "input": with(&actor, json!({ "id": "actor/cycle-a", "partOf": "actor/russia" })) }),
            )),
            ..bad(
                "two actors each part of the other",
                UPDATE_ACTOR,
                json!({ "id": "actor/russia", "input": { "partOf": "actor/cycle-a" } }),
                "input.partOf",
            )
        },
        BadWrite {
            setup: Some((
                CREATE_EVENT,
                json!({ "input": with(&event, json!({ "id": "event/cycle-a", "after": ["event/war-2008"] })) }),
            )),
            ..bad(
                "two events each after the other",
                UPDATE_EVENT,
                json!({ "id": "event/war-2008", "input": { "after": ["event/cycle-a"] } }),
                "input.after",
            )
        },
        BadWrite {
            setup: Some((
                CREATE_EVENT,
                json!({ "input": with(&event, json!({ "id": "event/cycle-retracting", "retractedBy": "event/war-2008" })) }),
            )),
            ..bad(
                "two events each retracted by the other",
                UPDATE_EVENT,
                json!({ "id": "event/war-2008", "input": { "retractedBy": "event/cycle-retracting" } }),
                "input.retractedBy",
            )
        },
        BadWrite {
            setup: Some((
                CREATE_TREATY,
                json!({ "input": { "id": "treaty/cycle-a", "name": "Cycle A", "kind": "TREATY", "basedOn": "treaty/friendship-2008" } }),
            )),
            ..bad(
                "two treaties each based on the other",
                UPDATE_TREATY,
                json!({ "id": "treaty/friendship-2008", "input": { "basedOn": "treaty/cycle-a" } }),
                "input.basedOn",
            )
        },
        // ---- text: limits per field, and no control characters but newline and tab ----
        bad(
            "a 50 KB name",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "name": "n".repeat(50 * 1024) })) }),
            "input.name",
        ),
        bad(
            "a summary over 10,000 characters",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "summary": "s".repeat(10_001) })) }),
            "input.summary",
        ),
        bad(
            "a NUL in a name",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "name": "Bad\u{0}Name" })) }),
            "input.name",
        ),
        bad(
            "an ANSI escape in a summary",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "summary": "red \u{1b}[31m text" })) }),
            "input.summary",
        ),
        bad(
            "a right-to-left override in a position title",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "kind": "PERSON", "positions": [{ "title": "Envoy \u{202e}yovnE", "of": "actor/russia" }] })) }),
            "input.positions[0].title",
        ),
        bad(
            "a control character in an alias",
            CREATE_ACTOR,
            json!({ "input": with(&actor, json!({ "aliases": ["fine", "bell\u{7}"] })) }),
            "input.aliases[1]",
        ),
        BadWrite {
            code: "NOT_FOUND",
            argument: None,
            ..bad(
                "a participant added to an event that does not exist",
                ADD_PARTICIPANT,
                json!({ "input": { "event": "event/nothing", "actor": "actor/russia", "role": "ACTOR" } }),
                "",
            )
        },
    ]
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_at_fault_and_nothing_is_written() {
    let app = spawn_app_with_writes().await;
    let mut failures = Vec::new();
    for case in bad_writes() {
        if let Some((query, variables)) = &case.setup {
            write(&app, query, variables.clone()).await;
        }
        let before = snapshot(&app.store);
        let response = app.query_as(TEST_WRITE_TOKEN, case.query, case.variables.clone()).await;
        let error = &response["errors"][0];
        let code = error_code(&response);
        let argument = error["extensions"]["argument"].as_str();
        if code != case.code || argument != case.argument {
            failures.push(format!(
                "{}: expected {} naming {:?}, got {code} naming {argument:?}: {}",
                case.description, case.code, case.argument, error
            ));
        }
        assert_eq!(
            snapshot(&app.store),
            before,
            "{}: a refused write must change nothing",
            case.description
        );
        assert_consistent(&app.store, case.description);
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- auth ----------------------------------------------------------------------------

const CREATE_INTRUDER: &str =
    r#"mutation { createActor(input: { id: "actor/intruder", name: "Intruder", kind: GROUP }) { actor { id } } }"#;

#[tokio::test]
async fn a_write_without_the_right_token_is_refused_with_401_and_a_bearer_challenge_and_changes_nothing() {
    let app = spawn_app_with_writes().await;
    let cases: [(&str, Option<String>); 6] = [
        ("no Authorization header", None),
        ("a wrong token", Some("Bearer wrong-token-0123456789-wrong".into())),
        (
            "the right token with one character changed",
            Some(format!("Bearer {}", TEST_WRITE_TOKEN.replace('0', "1"))),
        ),
        (
            "the right token without the Bearer scheme",
            Some(TEST_WRITE_TOKEN.into()),
        ),
        (
            "the right token under the Basic scheme",
            Some(format!("Basic {TEST_WRITE_TOKEN}")),
        ),
        ("an empty bearer token", Some("Bearer ".into())),
    ];
    for (description, authorization) in cases {
        let before = snapshot(&app.store);
        let answer = app
            .post_with_authorization(authorization.as_deref(), CREATE_INTRUDER, json!({}))
            .await;
        assert_eq!(answer.status, 401, "{description}: {:#}", answer.body);
        let challenge = answer
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "{description}: WWW-Authenticate should challenge for Bearer, got {challenge:?}"
        );
        assert_eq!(error_code(&answer.body), "UNAUTHENTICATED", "{description}");
        assert_eq!(snapshot(&app.store), before, "{description}: nothing may change");
        assert!(app.store.get(&id("actor/intruder")).unwrap().is_none(), "{description}");
    }
    // And the right token is still accepted.
    let answer = app
        .post_with_authorization(Some(&format!("Bearer {TEST_WRITE_TOKEN}")), CREATE_INTRUDER, json!({}))
        .await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(
        answer.body["data"]["createActor"]["actor"]["id"],
        json!("actor/intruder")
    );
}

#[tokio::test]
async fn a_server_without_a_write_token_refuses_every_write_with_403_writes_disabled() {
    let app = spawn_app().await;
    for authorization in [None, Some(format!("Bearer {TEST_WRITE_TOKEN}"))] {
        let before = snapshot(&app.store);
        let answer = app
            .post_with_authorization(authorization.as_deref(), CREATE_INTRUDER, json!({}))
            .await;
        assert_eq!(answer.status, 403, "{authorization:?}: {:#}", answer.body);
        assert_eq!(error_code(&answer.body), "WRITES_DISABLED", "{authorization:?}");
        assert_eq!(snapshot(&app.store), before);
    }
    assert!(app.store.get(&id("actor/intruder")).unwrap().is_none());
}

#[tokio::test]
async fn eleven_wrong_tokens_in_a_minute_get_429_with_retry_after_while_the_right_token_and_queries_still_work() {
    let app = spawn_app_with_writes().await;
    let wrong = Some("Bearer wrong-token-0123456789-wrong");
    for attempt in 1..=10 {
        let answer = app.post_with_authorization(wrong, CREATE_INTRUDER, json!({})).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {:#}", answer.body);
    }
    let answer = app.post_with_authorization(wrong, CREATE_INTRUDER, json!({})).await;
    assert_eq!(answer.status, 429, "the eleventh attempt: {:#}", answer.body);
    assert_eq!(error_code(&answer.body), "RATE_LIMITED");
    let retry_after: u64 = answer
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After holds a number of seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");

    // The limit is on failures: the right token still writes (a writer
    // behind the same NAT as whoever guesses is never locked out).
    let answer = app
        .post_with_authorization(Some(&format!("Bearer {TEST_WRITE_TOKEN}")), CREATE_INTRUDER, json!({}))
        .await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert!(answer.body.get("errors").is_none(), "{:#}", answer.body);
    // And wrong tokens are still refused with 429.
    let answer = app.post_with_authorization(wrong, CREATE_INTRUDER, json!({})).await;
    assert_eq!(answer.status, 429, "{:#}", answer.body);

    // Queries never need a token, locked out or not, with a wrong token or none.
    for authorization in [None, wrong] {
        let answer = app
            .post_with_authorization(authorization, r#"{ actor(id: "actor/russia") { name } }"#, json!({}))
            .await;
        assert_eq!(answer.status, 200, "{authorization:?}: {:#}", answer.body);
        assert_eq!(answer.body["data"]["actor"]["name"], json!("Russia"));
    }
}

/// The status of a write with a wrong token sent from `source`, one of
/// loopback's addresses (all of 127.0.0.0/8 reaches the server on Linux),
/// so the server sees a client of its own; `None` if `source` cannot be bound.
async fn wrong_token_from(app: &TestApp, source: std::net::Ipv4Addr) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind((source, 0).into()).ok()?;
    let mut stream = socket
        .connect(([127, 0, 0, 1], app.port).into())
        .await
        .expect("connected");
    let body = json!({ "query": CREATE_INTRUDER }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer wrong-token-0123456789-wrong\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer read");
    let status = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
    Some(status[9..12].parse().expect("a status line"))
}

#[tokio::test]
async fn once_10050_addresses_have_failed_a_new_one_is_still_limited() {
    use futures_util::StreamExt;
    let app = spawn_app_with_writes().await;
    if wrong_token_from(&app, [127, 1, 0, 1].into()).await.is_none() {
        eprintln!("skipped: this host cannot send from 127.1.0.1 (loopback is not all of 127.0.0.0/8)");
        return;
    }
    // One failure each from 10,050 addresses: more than the table holds.
    let statuses: Vec<Option<u16>> = futures_util::stream::iter(1..10_050u32)
        .map(|n| wrong_token_from(&app, [127, 1, (n / 250) as u8, (n % 250 + 1) as u8].into()))
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == Some(401)), "{:?}", &statuses[..8]);
    // A new address is limited like the first ever was (the table did not
    // fill up and stop limiting).
    let late = [127, 2, 0, 1].into();
    for attempt in 1..=10 {
        assert_eq!(wrong_token_from(&app, late).await, Some(401), "attempt {attempt}");
    }
    assert_eq!(wrong_token_from(&app, late).await, Some(429), "the eleventh attempt");
}

#[tokio::test]
async fn queries_never_need_a_token() {
    for app in [spawn_app().await, spawn_app_with_writes().await] {
        let answer = app
            .post_with_authorization(None, r#"{ actor(id: "actor/georgia") { name } }"#, json!({}))
            .await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        assert_eq!(answer.body["data"]["actor"]["name"], json!("Georgia"));
    }
}

// ---- deletes of referenced entities --------------------------------------------------------

/// Deletes `target` (of GraphQL type `kind`): refused with CONFLICT while
/// others refer to it, then done with `cascade`, which must list every
/// referrer and leave no index entry pointing at the target.
async fn refused_then_cascaded(app: &TestApp, kind: &str, target: &str) {
    let target_id = id(target);
    let referrers: BTreeSet<String> = app
        .store
        .referrers(&target_id)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r.to_string())
        .filter(|r| r != target)
        .collect();
    assert!(
        referrers.len() >= 5,
        "{target} should be well referenced: {referrers:?}"
    );

    let before = snapshot(&app.store);
    let refused = app
        .query_as(TEST_WRITE_TOKEN, &delete_mutation(kind), json!({ "id": target }))
        .await;
    assert_eq!(error_code(&refused), "CONFLICT", "{target}: {refused:#}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        referrers.iter().any(|r| message.contains(r.as_str())),
        "the refusal should name a referrer: {message}"
    );
    assert_eq!(snapshot(&app.store), before, "a refused delete changes nothing");
    assert!(app.store.get(&target_id).unwrap().is_some());

    let deleted = write(app, &delete_mutation(kind), json!({ "id": target, "cascade": true })).await;
    let payload = &deleted[format!("delete{kind}")];
    assert_eq!(payload["deletedId"], json!(target));
    let cascaded: BTreeSet<String> = strings_at(payload, &["cascaded", "*"]).into_iter().collect();
    assert_eq!(
        cascaded, referrers,
        "`cascaded` lists exactly the entities that referred to {target}"
    );

    assert!(app.store.get(&target_id).unwrap().is_none());
    assert_eq!(
        app.store.referrers(&target_id).unwrap(),
        vec![],
        "no index entry may still lead to {target}"
    );
    for touched in &cascaded {
        if let Some(entity) = app.store.get(&id(touched)).unwrap() {
            let still: Vec<_> = entity.edges().into_iter().filter(|e| e.to == target_id).collect();
            assert!(still.is_empty(), "{touched} still refers to {target}: {still:?}");
        } else {
            assert_eq!(
                id(touched).kind(),
                EntityKind::Funding,
                "only funding that cannot exist without {target} goes with it, not {touched}"
            );
        }
    }
    let node = read(app, "query($id: ID!) { node(id: $id) { id } }", json!({ "id": target })).await;
    assert_eq!(node["node"], Value::Null);
}

#[tokio::test]
async fn a_referenced_actor_is_deleted_only_with_cascade_and_then_nothing_refers_to_it() {
    let app = spawn_app_with_writes().await;
    refused_then_cascaded(&app, "Actor", "actor/eduard-kokoity").await;
    // South Ossetia receives funding, which cannot exist without it.
    refused_then_cascaded(&app, "Actor", "actor/south-ossetia").await;
    let funding = read(&app, "{ fundingAllocations(first: 100) { nodes { id } } }", json!({})).await;
    assert_eq!(
        funding["fundingAllocations"]["nodes"],
        json!([]),
        "both seed allocations went to South Ossetia"
    );
}

#[tokio::test]
async fn a_referenced_place_is_deleted_only_with_cascade_and_then_nothing_refers_to_it() {
    let app = spawn_app_with_writes().await;
    // An API-made place inside it, so the cascade reaches an API-owned entity too.
    write(
        &app,
        CREATE_PLACE,
        json!({ "input": { "id": "place/test-district", "name": "Test district", "kind": "REGION", "within": "place/tskhinval" } }),
    )
    .await;
    let inside = read(
        &app,
        r#"{ place(id: "place/tskhinval") { contains { id } } }"#,
        json!({}),
    )
    .await;
    let inside = ids(&inside["place"]["contains"]);
    assert!(contains(&inside, "place/test-district"), "{inside:?}");
    refused_then_cascaded(&app, "Place", "place/tskhinval").await;
    for place in inside {
        let seen = read(
            &app,
            "query($id: ID!) { place(id: $id) { within { id } } }",
            json!({ "id": place }),
        )
        .await;
        assert_eq!(
            seen["place"]["within"],
            Value::Null,
            "{place} no longer lies within the deleted place"
        );
    }
}

// ---- racing writers ---------------------------------------------------------------------------

/// Sends a write from its own task, so writes race for real.
fn spawn_write(app: &TestApp, query: &'static str, variables: Value) -> tokio::task::JoinHandle<Value> {
    let client = app.client.clone();
    let url = format!("{}/graphql", app.address);
    tokio::spawn(async move {
        client
            .post(url)
            .header("authorization", format!("Bearer {TEST_WRITE_TOKEN}"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent")
            .json::<Value>()
            .await
            .expect("JSON response")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_updates_of_one_actor_end_in_one_of_the_written_states() {
    let app = spawn_app_with_writes().await;
    let summaries: Vec<String> = (0..8).map(|n| format!("Summary written by task {n}")).collect();
    let tasks: Vec<_> = summaries
        .iter()
        .map(|s| {
            spawn_write(
                &app,
                UPDATE_ACTOR,
                json!({ "id": "actor/georgia", "input": { "summary": s } }),
            )
        })
        .collect();
    for task in tasks {
        let response = task.await.unwrap();
        assert!(response.get("errors").is_none(), "{response:#}");
    }
    let record = app.store.get_record(&id("actor/georgia")).unwrap().unwrap();
    let diplograph::model::Entity::Actor(georgia) = record.entity else {
        panic!("actor/georgia is an actor");
    };
    let summary = georgia.summary.unwrap_or_default();
    assert!(
        summaries.contains(&summary),
        "the final summary {summary:?} was never written"
    );
    assert_eq!(georgia.name, "Georgia");
    assert_consistent(&app.store, "racing updates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_updates_of_different_fields_of_one_actor_all_take_effect() {
    let app = spawn_app_with_writes().await;
    for round in 0..3 {
        let summary = format!("Summary of round {round}");
        let note = format!("Note of round {round}");
        let alias = format!("Alias of round {round}");
        let title = format!("Post of round {round}");
        // Every update names one field; fields left out keep their value, so
        // every serial order of the four ends with all four written.
        let tasks = [
            json!({ "summary": summary }),
            json!({ "note": note }),
            json!({ "aliases": [alias] }),
            json!({ "positions": [{ "title": title, "of": "actor/georgia" }] }),
        ]
        .into_iter()
        .map(|input| spawn_write(&app, UPDATE_ACTOR, json!({ "id": "actor/france", "input": input })))
        .collect::<Vec<_>>();
        for task in tasks {
            let response = task.await.unwrap();
            assert!(response.get("errors").is_none(), "round {round}: {response:#}");
        }
        let Some(diplograph::model::Entity::Actor(france)) = app.store.get(&id("actor/france")).unwrap() else {
            panic!("actor/france exists");
        };
        let found = (
            france.summary.clone(),
            france.note.clone(),
            france.aliases.clone(),
            france.positions.iter().map(|p| p.title.clone()).collect::<Vec<_>>(),
        );
        assert_eq!(
            found,
            (Some(summary), Some(note), vec![alias], vec![title]),
            "round {round}: four acknowledged updates of different fields, but not all of them show"
        );
        assert_consistent(&app.store, "racing updates of different fields");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_participant_edits_on_one_event_all_take_effect() {
    let app = spawn_app_with_writes().await;
    let leaving = ["actor/georgia", "actor/france", "actor/united-states", "actor/abkhazia"];
    let joining = [
        "actor/transnistria",
        "actor/nato",
        "actor/european-union",
        "actor/united-nations",
    ];
    for round in 0..3 {
        let event = format!("event/race-{round}");
        write(
            &app,
            CREATE_EVENT,
            json!({ "input": {
                "id": event,
                "title": format!("Race {round}"),
                "kind": "MEETING",
                "participants": std::iter::once("actor/russia").chain(leaving)
                    .map(|a| json!({ "actor": a, "role": "PARTICIPANT" }))
                    .collect::<Vec<_>>()
            }}),
        )
        .await;
        let mut tasks = Vec::new();
        for (out, into) in leaving.iter().zip(joining) {
            tasks.push(spawn_write(
                &app,
                REMOVE_PARTICIPANT,
                json!({ "input": { "event": event, "actor": out } }),
            ));
            tasks.push(spawn_write(
                &app,
                ADD_PARTICIPANT,
                json!({ "input": { "event": event, "actor": into, "role": "PARTY" } }),
            ));
        }
        for task in tasks {
            let response = task.await.unwrap();
            assert!(response.get("errors").is_none(), "round {round}: {response:#}");
        }
        // Each edit touches a different actor, so every serial order of the
        // eight ends in the same set: Russia and the four that joined.
        let Some(diplograph::model::Entity::Event(stored)) = app.store.get(&id(&event)).unwrap() else {
            panic!("{event} exists");
        };
        let found: BTreeSet<String> = stored.participants.iter().map(|p| p.actor.to_string()).collect();
        let expected: BTreeSet<String> = std::iter::once("actor/russia")
            .chain(joining)
            .map(str::to_owned)
            .collect();
        assert_eq!(
            found, expected,
            "round {round}: eight acknowledged edits, but the event does not show all of them"
        );
        assert_consistent(&app.store, "racing participant edits");
    }
}

// ---- API data alongside the seed --------------------------------------------------------------

/// A copy of the repository's seed that a test may edit.
fn seed_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(seed_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// Rewrites one seed file of `dir` through `edit`.
fn edit_seed_file(dir: &Path, file: &str, edit: impl FnOnce(&mut Vec<Value>)) {
    let path = dir.join(format!("{file}.json"));
    let mut records: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut records);
    std::fs::write(&path, serde_json::to_string_pretty(&records).unwrap()).unwrap();
}

fn set_summary(records: &mut [Value], target: &str, summary: &str) {
    let record = records
        .iter_mut()
        .find(|r| r["id"] == target)
        .unwrap_or_else(|| panic!("{target} is in the seed"));
    record["summary"] = json!(summary);
}

#[tokio::test]
async fn a_changed_seed_is_merged_without_touching_entities_created_through_the_api() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_ACTOR,
        json!({ "input": { "id": "actor/api-made", "name": "Made through the API", "kind": "GROUP", "partOf": "actor/russia" } }),
    )
    .await;
    let api_record = app.store.get_record(&id("actor/api-made")).unwrap().unwrap();
    let dropped = id("place/georgian-populated-areas");
    assert!(
        app.store.referrers(&dropped).unwrap().is_empty(),
        "the dropped place must be unreferenced"
    );

    let changed = seed_copy();
    edit_seed_file(changed.path(), "actors", |actors| {
        set_summary(actors, "actor/france", "France, as the changed seed describes it.")
    });
    edit_seed_file(changed.path(), "places", |places| {
        places.retain(|p| p["id"] != dropped.as_str())
    });

    let outcome = seed::load(&app.store, changed.path(), false).expect("the changed seed merges");
    let LoadOutcome::Merged {
        removed,
        kept_api,
        kept_referenced,
        report,
    } = outcome
    else {
        panic!("a changed seed should be merged, got {outcome:?}");
    };
    assert_eq!((removed, kept_api, kept_referenced), (1, 0, 0));
    assert_eq!(
        app.store.seed_state().unwrap(),
        SeedState::Loaded {
            hash: report.hash.clone()
        }
    );

    let seen = read(
        &app,
        r#"{ france: actor(id: "actor/france") { summary }
             dropped: place(id: "place/georgian-populated-areas") { id }
             apiMade: actor(id: "actor/api-made") { name partOf { id } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        seen["france"]["summary"],
        json!("France, as the changed seed describes it.")
    );
    assert_eq!(seen["dropped"], Value::Null);
    assert_eq!(
        seen["apiMade"],
        json!({ "name": "Made through the API", "partOf": { "id": "actor/russia" } })
    );
    assert_eq!(
        app.store.get_record(&id("actor/api-made")).unwrap().unwrap(),
        api_record
    );
    assert_consistent(&app.store, "merging a changed seed");
}

#[tokio::test]
async fn an_api_edit_of_a_seed_entity_survives_a_later_merge() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        UPDATE_ACTOR,
        json!({ "id": "actor/georgia", "input": { "summary": "Georgia, as an editor wrote it." } }),
    )
    .await;
    assert_eq!(
        app.store.get_record(&id("actor/georgia")).unwrap().unwrap().origin,
        Origin::Api,
        "an API edit makes the entity API-owned"
    );

    let changed = seed_copy();
    edit_seed_file(changed.path(), "actors", |actors| {
        set_summary(actors, "actor/georgia", "Georgia, as the changed seed describes it.");
        set_summary(actors, "actor/france", "France, changed too.");
    });
    let outcome = seed::load(&app.store, changed.path(), false).unwrap();
    let LoadOutcome::Merged { kept_api, .. } = outcome else {
        panic!("a changed seed should be merged, got {outcome:?}");
    };
    assert_eq!(kept_api, 1);
    let seen = read(
        &app,
        r#"{ georgia: actor(id: "actor/georgia") { summary } france: actor(id: "actor/france") { summary } }"#,
        json!({}),
    )
    .await;
    assert_eq!(seen["georgia"]["summary"], json!("Georgia, as an editor wrote it."));
    assert_eq!(seen["france"]["summary"], json!("France, changed too."));
    assert_consistent(&app.store, "merging over an API edit");
}

#[tokio::test]
async fn a_seed_entity_the_new_seed_drops_is_kept_while_api_entities_refer_to_it() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_EVENT,
        json!({ "input": {
            "id": "event/api-interview",
            "title": "An interview recorded through the API",
            "kind": "INTERVIEW",
            "participants": [{ "actor": "actor/south-ossetian-embassy-in-russia", "role": "MEDIUM" }]
        }}),
    )
    .await;
    let changed = seed_copy();
    edit_seed_file(changed.path(), "actors", |actors| {
        actors.retain(|a| a["id"] != "actor/south-ossetian-embassy-in-russia")
    });
    let outcome = seed::load(&app.store, changed.path(), false).unwrap();
    let LoadOutcome::Merged {
        removed,
        kept_referenced,
        ..
    } = outcome
    else {
        panic!("a changed seed should be merged, got {outcome:?}");
    };
    assert_eq!((removed, kept_referenced), (0, 1));
    assert!(app
        .store
        .get(&id("actor/south-ossetian-embassy-in-russia"))
        .unwrap()
        .is_some());
    assert_consistent(&app.store, "merging a seed that drops a referenced entity");
}

// ---- export --------------------------------------------------------------------------------

/// Every entity of every kind, in key order, without who owns it.
fn all_entities(store: &Store) -> Vec<(EntityKind, Vec<diplograph::model::Entity>)> {
    EntityKind::ALL
        .into_iter()
        .map(|kind| (kind, store.all(kind).unwrap().into_iter().map(|r| r.entity).collect()))
        .collect()
}

#[tokio::test]
async fn an_export_after_api_writes_loads_back_into_the_same_graph() {
    let app = spawn_app_with_writes().await;
    write(
        &app,
        CREATE_ACTOR,
        json!({ "input": { "id": "actor/exported", "name": "Exported Envoy", "kind": "PERSON",
                           "positions": [{ "title": "Envoy", "of": "actor/russia", "from": "2009", "note": "made up" }] } }),
    )
    .await;
    write(
        &app,
        CREATE_EVENT,
        json!({ "input": { "id": "event/exported", "title": "Exported talks", "kind": "MEETING", "date": "2009-08-07/2009-08-08",
                           "participants": [{ "actor": "actor/exported", "role": "SPEAKER" }],
                           "figures": [{ "label": "Hours", "value": 9, "unit": "hours" }] } }),
    )
    .await;
    write(
        &app,
        CREATE_FUNDING,
        json!({ "input": { "id": "funding/exported", "title": "Exported grant", "amount": { "amount": "9007199254740993", "currency": "USD" },
                           "donor": "actor/russia", "recipient": "actor/exported", "purpose": "Round trips" } }),
    )
    .await;
    write(
        &app,
        UPDATE_ACTOR,
        json!({ "id": "actor/france", "input": { "summary": "Changed before the export." } }),
    )
    .await;
    write(
        &app,
        &delete_mutation("Place"),
        json!({ "id": "place/georgian-populated-areas" }),
    )
    .await;

    let out = tempfile::tempdir().unwrap();
    let counts = seed::export(&app.store, out.path()).expect("the export is written");
    for kind in EntityKind::ALL {
        assert_eq!(
            counts[&kind] as u64,
            app.store.count(kind).unwrap(),
            "{}",
            kind.plural()
        );
    }
    let copy = Store::temporary().unwrap();
    seed::load(&copy, out.path(), false).expect("the export loads as a seed");
    assert_eq!(all_entities(&copy), all_entities(&app.store));
    assert_consistent(&copy, "loading an export");
}

/// Runs the real binary with `args` against the data directory `data`.
fn diplograph(args: &[&str], data: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_diplograph"))
        .args(args)
        .env("DIPLOGRAPH_DATA_DIR", data)
        .env("DIPLOGRAPH_SEED_DIR", seed_dir())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the diplograph binary runs")
}

#[test]
fn the_export_command_writes_seed_files_that_load_back_into_the_same_graph() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let out = scratch.path().join("export");
    let seeded = diplograph(&["seed", "--data-dir", data.to_str().unwrap()], &data);
    assert!(
        seeded.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let exported = diplograph(
        &["export", out.to_str().unwrap(), "--data-dir", data.to_str().unwrap()],
        &data,
    );
    let stdout = String::from_utf8_lossy(&exported.stdout);
    assert!(
        exported.status.success(),
        "export failed: {stdout}\n{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let report = seed::check(&seed_dir()).unwrap();
    for kind in EntityKind::ALL {
        let line = format!("{}  {}", report.counts.get(&kind).copied().unwrap_or(0), kind.plural());
        assert!(stdout.contains(&line), "stdout should count {line:?}: {stdout}");
        assert!(
            out.join(format!("{}.json", kind.plural())).is_file(),
            "{}",
            kind.plural()
        );
    }

    let original = Store::temporary().unwrap();
    seed::load(&original, &seed_dir(), false).unwrap();
    let copy = Store::temporary().unwrap();
    seed::load(&copy, &out, false).expect("the export loads as a seed");
    assert_eq!(all_entities(&copy), all_entities(&original));
    assert_consistent(&copy, "loading an exported seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_the_same_name_all_succeed_each_with_its_own_id() {
    let app = std::sync::Arc::new(spawn_app_with_writes().await);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.query_as(
                TEST_WRITE_TOKEN,
                "mutation { createActor(input: { name: \"Same Name Envoy\", kind: PERSON }) { actor { id } } }",
                json!({}),
            )
            .await
        }));
    }
    let mut created = BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert!(answer.get("errors").is_none(), "{answer:#}");
        created.insert(
            answer["data"]["createActor"]["actor"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(created.len(), 12, "{created:?}");
    assert!(
        created.contains("actor/same-name-envoy") && created.contains("actor/same-name-envoy-12"),
        "{created:?}"
    );
    assert_consistent(&app.store, "twelve concurrent creates");
}

#[tokio::test]
async fn text_with_newlines_and_tabs_within_its_limits_is_accepted() {
    let app = spawn_app_with_writes().await;
    let summary = format!("First line\n\tindented {}", "x".repeat(9_000));
    let created = write(
        &app,
        CREATE_ACTOR,
        json!({ "input": { "id": "actor/long-summary", "name": "N".repeat(300), "kind": "GROUP", "summary": summary } }),
    )
    .await;
    assert_eq!(created["createActor"]["actor"]["summary"], json!(summary));
}

// ---- compiled writes ---------------------------------------------------------------

/// POSTs an operation with the write token and returns the answer's bytes.
async fn raw_write(app: &TestApp, query: &str, variables: &Value) -> String {
    app.client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TEST_WRITE_TOKEN}"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent")
        .text()
        .await
        .expect("a body")
}

/// A server with compiled plans (the default) and one without, both taking
/// the write token, to hold the first one's answers to the second's.
async fn write_servers() -> (TestApp, TestApp) {
    let app = spawn_app_with(|s| s.write_tokens = vec![TEST_WRITE_TOKEN.into()]).await;
    let reference = spawn_app_with(|s| {
        s.write_tokens = vec![TEST_WRITE_TOKEN.into()];
        s.compiled_plans = false;
    })
    .await;
    (app, reference)
}

/// `answer` with each error's request id taken out (each server makes its own).
fn without_request_ids(answer: &str) -> Value {
    let mut value: Value = serde_json::from_str(answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    if let Some(errors) = value.get_mut("errors").and_then(Value::as_array_mut) {
        for error in errors {
            if let Some(extensions) = error.get_mut("extensions").and_then(Value::as_object_mut) {
                extensions.remove("requestId");
            }
        }
    }
    value
}

/// Creates as clients send them: the benchmark's, Apollo Client's (an
/// operation name, `__typename` at every level, a fragment), aliases,
/// and every kind a create covers, with text that JSON must escape.
fn compiled_creates() -> Vec<(&'static str, Vec<Value>)> {
    let actor = |n: usize| {
        json!({ "input": {
            "id": format!("actor/compiled-{n}"),
            "name": format!("Compiled \"quoted\" actor {n}"),
            "kind": "GROUP",
            "aliases": [format!("CA{n}"), "a\tb"],
            "summary": "Line one\nline two \\ backslash, \u{e9}t\u{e9}",
            "partOf": "actor/russia"
        }})
    };
    let event = |n: usize| {
        json!({ "input": {
            "title": format!("A compiled event {n}"),
            "kind": "MEETING",
            "date": "2010-05-07",
            "participants": [{ "actor": "actor/russia", "role": "ACTOR" }]
        }})
    };
    vec![
        (
            "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }",
            (0..3).map(actor).collect(),
        ),
        (
            "mutation CreateActor($input: CreateActorInput!) { createActor(input: $input) { __typename actor { __typename id name kind aliases summary ...More } } } fragment More on Actor { note name }",
            (3..6).map(actor).collect(),
        ),
        (
            "mutation($a: CreateActorInput!) { made: createActor(input: $a) { who: actor { key: id n: name } t: __typename } }",
            (6..9)
                .map(|n| json!({ "a": actor(n)["input"].clone() }))
                .collect(),
        ),
        (
            "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { __typename id title kind date } } }",
            (0..3).map(event).collect(),
        ),
        (
            "mutation($input: CreateTreatyInput!) { createTreaty(input: $input) { treaty { id name } __typename } }",
            (0..3)
                .map(|n| json!({ "input": { "name": format!("A compiled treaty {n}"), "kind": "TREATY" } }))
                .collect(),
        ),
        (
            "mutation($input: CreatePlaceInput!) { createPlace(input: $input) { place { id name kind } } }",
            (0..3)
                .map(|n| json!({ "input": { "name": format!("A compiled place {n}"), "kind": "CITY" } }))
                .collect(),
        ),
    ]
}

#[tokio::test]
async fn compiled_creates_answer_as_async_graphql_does_and_keep_what_it_keeps() {
    let (app, reference) = write_servers().await;
    let before = crate::metrics::scrape(&app)
        .await
        .sum("diplograph_compiled_answers_total");
    let mut compiled = 0;
    for (query, each) in compiled_creates() {
        for (i, variables) in each.iter().enumerate() {
            let got = raw_write(&app, query, variables).await;
            let expected = raw_write(&reference, query, variables).await;
            assert_eq!(got, expected, "{query} with {variables}");
            assert!(!got.contains("\"errors\""), "the create should succeed: {got}");
            compiled += usize::from(i > 0);
        }
    }
    let after = crate::metrics::scrape(&app)
        .await
        .sum("diplograph_compiled_answers_total");
    assert_eq!(
        after - before,
        compiled as f64,
        "every create after the first of its document is answered by its plan"
    );
    // What the two servers kept is the same, entity by entity.
    for kind in EntityKind::ALL {
        assert_eq!(
            app.store.count(kind).unwrap(),
            reference.store.count(kind).unwrap(),
            "{kind:?} count"
        );
    }
    for n in 0..9 {
        let id = diplograph::model::Id::parse(&format!("actor/compiled-{n}")).unwrap();
        assert_eq!(app.store.get(&id).unwrap(), reference.store.get(&id).unwrap(), "{id}");
    }
    assert_consistent(&app.store, "the compiled creates");
}

#[tokio::test]
async fn once_a_create_is_compiled_bad_variables_and_bad_input_get_async_graphqls_errors_and_write_nothing() {
    let (app, reference) = write_servers().await;
    let query = "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id name } } }";
    for server in [&app, &reference] {
        let first = raw_write(server, query, &json!({ "input": { "name": "First", "kind": "GROUP" } })).await;
        assert!(!first.contains("\"errors\""), "{first}");
    }
    let taken = json!({ "input": { "id": "actor/russia", "name": "Again", "kind": "GROUP" } });
    let cases = [
        (
            "an unknown input field",
            json!({ "input": { "name": "X", "kind": "GROUP", "colour": "red" } }),
        ),
        (
            "an unknown enum value",
            json!({ "input": { "name": "X", "kind": "TRIBE" } }),
        ),
        (
            "a number for a name",
            json!({ "input": { "name": 7, "kind": "GROUP" } }),
        ),
        ("no name", json!({ "input": { "kind": "GROUP" } })),
        ("a null input", json!({ "input": null })),
        ("no input", json!({})),
        ("a string for the input", json!({ "input": "actor" })),
        ("an empty name", json!({ "input": { "name": "", "kind": "GROUP" } })),
        (
            "a name over its limit",
            json!({ "input": { "name": "n".repeat(301), "kind": "GROUP" } }),
        ),
        (
            "a control character",
            json!({ "input": { "name": "a\u{7}b", "kind": "GROUP" } }),
        ),
        (
            "a parent that does not exist",
            json!({ "input": { "name": "X", "kind": "GROUP", "partOf": "actor/nobody" } }),
        ),
        (
            "a malformed id",
            json!({ "input": { "id": "event/x", "name": "X", "kind": "GROUP" } }),
        ),
        ("an id already taken", taken),
    ];
    for (description, variables) in cases {
        let before = snapshot(&app.store);
        let got = raw_write(&app, query, &variables).await;
        let expected = raw_write(&reference, query, &variables).await;
        assert_eq!(
            without_request_ids(&got),
            without_request_ids(&expected),
            "{description}: the same answer as without plans"
        );
        assert_eq!(
            error_code(&serde_json::from_str(&got).unwrap()),
            "BAD_USER_INPUT",
            "{description}: refused as bad input: {got}"
        );
        assert_eq!(snapshot(&app.store), before, "{description}: nothing is written");
    }
    assert_consistent(&app.store, "the refused creates");
    // A variable the document does not declare is ignored, as the spec has
    // it: that create is not for the plan, and is answered the same.
    let extra = json!({ "input": { "id": "actor/extra", "name": "Extra", "kind": "GROUP" }, "other": 1 });
    assert_eq!(
        raw_write(&app, query, &extra).await,
        raw_write(&reference, query, &extra).await
    );
}
