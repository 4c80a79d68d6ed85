//! The server as an Apollo Federation v2 subgraph, and the small things
//! clients and tools read about the schema: the subgraph SDL, `_entities`
//! batches (one store read, then a compiled plan), the public SDL over
//! HTTP, `@specifiedBy` on the custom scalars, the schema's description.
//! `tests/federation/` composes the server with a second subgraph behind a
//! real gateway.

use serde_json::{json, Value};

use crate::helpers::{
    error_code, http_get, seed_records, spawn_app, spawn_app_with, spawn_app_with_writes, TestApp, ENTITY_TYPES,
    TEST_WRITE_TOKEN,
};

/// What a gateway sends for the entities another subgraph refers to.
const ENTITIES: &str = r#"query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Actor { id name kind }
    ... on Event { id title date }
    ... on Treaty { id name }
    ... on FundingAllocation { id amount { amount currency } }
    ... on Place { id name }
    ... on Source { id document }
  }
}"#;

/// Every entity of the seed as a representation, interleaved across types,
/// and ids that name nothing, `total` in all.
fn representations(total: usize) -> Vec<Value> {
    let mut per_kind: Vec<Vec<Value>> = ENTITY_TYPES
        .iter()
        .map(|(ty, file)| {
            seed_records(file)
                .iter()
                .map(|r| json!({ "__typename": ty, "id": r["id"] }))
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    while out.len() < total && per_kind.iter().any(|k| !k.is_empty()) {
        for kind in &mut per_kind {
            if !kind.is_empty() && out.len() < total {
                out.push(kind.remove(0));
            }
        }
    }
    let mut missing = 0;
    while out.len() < total {
        out.push(json!({ "__typename": "Actor", "id": format!("actor/nobody-{missing}") }));
        missing += 1;
    }
    out
}

async fn compiled_answers(app: &TestApp) -> f64 {
    crate::metrics::scrape(app)
        .await
        .sum("diplograph_compiled_answers_total")
}

/// Checks an `_entities` answer against what was asked: each entity of the
/// type and id its representation names, in order, and null for the rest.
fn check_entities(answer: &Value, asked: &[Value]) {
    let found = answer["data"]["_entities"]
        .as_array()
        .unwrap_or_else(|| panic!("an _entities list: {answer}"));
    assert_eq!(found.len(), asked.len());
    for (entity, rep) in found.iter().zip(asked) {
        let id = rep["id"].as_str().unwrap();
        if id.contains("/nobody-") {
            assert!(entity.is_null(), "{rep} names nothing: {entity}");
        } else {
            assert_eq!(entity["__typename"], rep["__typename"], "{rep}");
            assert_eq!(entity["id"], rep["id"], "{rep}");
        }
    }
}

#[tokio::test]
async fn the_subgraph_sdl_keys_every_entity_type_by_id_and_links_federation_v2() {
    let app = spawn_app().await;
    let sdl = app.data("{ _service { sdl } }").await["_service"]["sdl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        sdl,
        diplograph::graphql::subgraph_sdl(),
        "the CLI prints what gateways read"
    );
    for (ty, _) in ENTITY_TYPES {
        assert!(
            sdl.contains(&format!("type {ty} implements Node @key(fields: \"id\") {{")),
            "{ty} is an entity keyed by id"
        );
    }
    assert!(sdl.contains("url: \"https://specs.apollo.dev/federation/v2."));
    assert!(sdl.contains("type PageInfo @shareable"));
    assert!(sdl.contains("type Money @shareable"));
    // A gateway does not route subscriptions to subgraphs.
    assert!(!sdl.contains("type Subscription"));
    // The public schema has none of it.
    let public = diplograph::graphql::sdl();
    for federation in ["@key", "_entities", "_service", "_Any", "@link"] {
        assert!(!public.contains(federation), "schema.graphql has no {federation}");
    }
}

#[tokio::test]
async fn a_batch_of_200_entities_costs_one_store_read_then_is_answered_by_a_plan() {
    let app = spawn_app_with(|s| s.response_cache = false).await;
    let asked = representations(200);
    assert!(asked.iter().any(|r| r["id"].as_str().unwrap().contains("nobody")));

    let reads = app.store.reads();
    let first = app.query_with(ENTITIES, json!({ "representations": asked })).await;
    assert!(first["errors"].is_null(), "{first}");
    check_entities(&first, &asked);
    let cost = app.store.reads() - reads;
    assert!(cost <= 2, "200 representations cost {cost} store reads");

    // The gateway sends the same document again for other entities: a
    // plan answers it.
    let reversed: Vec<Value> = asked.iter().rev().cloned().collect();
    let planned = compiled_answers(&app).await;
    let reads = app.store.reads();
    let second = app.query_with(ENTITIES, json!({ "representations": reversed })).await;
    check_entities(&second, &reversed);
    assert_eq!(compiled_answers(&app).await, planned + 1.0, "a plan answered");
    // Entities come from the read cache; the ids that name nothing are
    // looked for again, all in one read.
    assert_eq!(app.store.reads() - reads, 1, "one read for the missing ids");
    let mut back: Vec<Value> = second["data"]["_entities"].as_array().unwrap().clone();
    back.reverse();
    assert_eq!(
        json!(back),
        first["data"]["_entities"],
        "the plan answers as async-graphql did"
    );
}

#[tokio::test]
async fn a_representation_that_names_no_entity_of_ours_is_refused() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "__typename": "Actor", "id": "event/recognition-decrees" }),
            "representations",
        ),
        (json!({ "__typename": "Actor", "id": "not an id" }), "representations"),
    ];
    for (rep, argument) in cases {
        let answer = app.query_with(ENTITIES, json!({ "representations": [rep] })).await;
        assert_eq!(error_code(&answer), "BAD_USER_INPUT", "{rep}: {answer}");
        assert_eq!(
            answer["errors"][0]["extensions"]["argument"], argument,
            "{rep}: {answer}"
        );
    }
    // A type that is not an entity of this subgraph.
    let answer = app
        .query_with(
            ENTITIES,
            json!({ "representations": [{ "__typename": "Review", "id": "review/1" }] }),
        )
        .await;
    assert!(answer["data"].is_null(), "{answer}");
    assert!(!answer["errors"][0]["message"].as_str().unwrap().is_empty(), "{answer}");
}

#[tokio::test]
async fn the_public_sdl_is_served_at_graphql_schema_graphql_unless_introspection_is_off() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let (status, body) = tokio::task::spawn_blocking(move || http_get(&address, "/graphql/schema.graphql"))
        .await
        .unwrap()
        .expect("an answer");
    assert_eq!(status, 200);
    let file =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql")).unwrap();
    assert_eq!(body, file);

    let closed = spawn_app_with(|s| s.introspection = false).await;
    let address = closed.address.trim_start_matches("http://").to_owned();
    let (status, _) = tokio::task::spawn_blocking(move || http_get(&address, "/graphql/schema.graphql"))
        .await
        .unwrap()
        .expect("an answer");
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_custom_scalars_say_which_spec_they_follow_and_the_schema_describes_itself() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ bigInt: __type(name: "BigInt") { specifiedByURL }
                 partialDate: __type(name: "PartialDate") { specifiedByURL }
                 __schema { description } ...More }
               fragment More on Query { again: __schema { __typename text: description } }"#,
        )
        .await;
    assert_eq!(
        data["bigInt"]["specifiedByURL"],
        "https://tc39.es/ecma262/#sec-stringtobigint"
    );
    assert_eq!(
        data["partialDate"]["specifiedByURL"],
        "https://www.loc.gov/standards/datetime/"
    );
    assert_eq!(data["__schema"]["description"], diplograph::graphql::SCHEMA_DESCRIPTION);
    assert_eq!(data["again"]["text"], diplograph::graphql::SCHEMA_DESCRIPTION);
    assert_eq!(data["again"]["__typename"], "__Schema");
    let sdl = diplograph::graphql::sdl();
    assert!(sdl.contains(r#"scalar BigInt @specifiedBy(url: "https://tc39.es/ecma262/#sec-stringtobigint")"#));
    assert!(sdl.contains(r#"scalar PartialDate @specifiedBy(url: "https://www.loc.gov/standards/datetime/")"#));
}

#[tokio::test]
async fn create_event_takes_its_date_as_a_partial_date() {
    let app = spawn_app_with_writes().await;
    let ty = app
        .data(r#"{ __type(name: "CreateEventInput") { inputFields { name type { name } } } }"#)
        .await;
    let date = ty["__type"]["inputFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "date")
        .cloned()
        .unwrap();
    assert_eq!(date["type"]["name"], "PartialDate");

    const CREATE: &str = "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id date } } }";
    let made = app
        .query_as(
            TEST_WRITE_TOKEN,
            CREATE,
            json!({ "input": { "title": "Federation test talks", "kind": "MEETING", "date": "2009-03" } }),
        )
        .await;
    assert_eq!(made["data"]["createEvent"]["event"]["date"], "2009-03", "{made}");
    let refused = app
        .query_as(
            TEST_WRITE_TOKEN,
            CREATE,
            json!({ "input": { "title": "Federation test talks, again", "kind": "MEETING", "date": "March 2009" } }),
        )
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("PartialDate") && message.contains("March 2009") && message.contains("CreateEventInput"),
        "{message}"
    );
}

#[tokio::test]
async fn a_plan_answers_entities_batches_with_the_bytes_async_graphql_gives() {
    let store = crate::helpers::seeded();
    let all = representations(200);
    let each: Vec<Value> = [
        all.clone(),
        all.iter().rev().cloned().collect(),
        all[..7].to_vec(),
        vec![all[3].clone(), all[3].clone(), all[150].clone()],
        vec![json!({ "__typename": "Place", "id": "tskhinval" })],
        Vec::new(),
    ]
    .into_iter()
    .map(|reps| json!({ "representations": reps }))
    .collect();
    crate::plans::same_answers(&store, ENTITIES, &each).await;
}
