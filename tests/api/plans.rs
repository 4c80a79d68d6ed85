//! Compiled plans answer a read that async-graphql has run once, writing
//! JSON straight from the store. These tests hold a plan's answer to the
//! very bytes async-graphql gives for the same request, over every entity
//! of the seed and every field plans cover; check that what plans do not
//! cover, and every request async-graphql would answer with an error, is
//! left to async-graphql; and that a plan reads the store as it is now.

use async_graphql::{Request, Variables};
use diplograph::graphql::{self, answer_compiled, build_schema, learn_plan, AppSchema, Planned, SchemaOptions};
use diplograph::store::Store;
use serde_json::{json, Value};

use crate::helpers::{id, seed_records, seeded, spawn_app_with};

pub(crate) fn schema(store: &Store) -> AppSchema {
    build_schema(
        store.clone(),
        SchemaOptions {
            compiled_plans: true,
            ..SchemaOptions::default()
        },
    )
}

/// async-graphql's answer, as the HTTP endpoint serialises it.
pub(crate) async fn executed(schema: &AppSchema, query: &str, variables: &Value) -> (String, bool) {
    let request = Request::new(query)
        .variables(Variables::from_json(variables.clone()))
        .data(graphql::loaders_for(schema));
    let response = graphql::execute(schema, request, None).await;
    let ok = response.errors.is_empty();
    (String::from_utf8(serde_json::to_vec(&response).unwrap()).unwrap(), ok)
}

fn compiled(schema: &AppSchema, query: &str, variables: &Value) -> Option<String> {
    match answer_compiled(schema, query, None, variables.as_object())? {
        Planned::Answer(body) => Some(String::from_utf8(body).unwrap()),
        Planned::TimedOut(body) => panic!("a plan ran out of time: {}", String::from_utf8_lossy(&body)),
    }
}

/// Runs `query` through async-graphql, learns its plan, and checks the
/// plan gives the same bytes for each set of variables.
pub(crate) async fn same_answers(store: &Store, query: &str, each: &[Value]) {
    same_answers_in(&schema(store), query, each).await
}

/// [`same_answers`] in `schema`, which must have learned no plan for `query`.
pub(crate) async fn same_answers_in(schema: &AppSchema, query: &str, each: &[Value]) {
    let schema = schema.clone();
    let (answer, ok) = executed(&schema, query, &each[0]).await;
    assert!(ok, "the query must run without error first: {query}: {answer}");
    assert!(compiled(&schema, query, &each[0]).is_none(), "no plan before a run");
    learn_plan(&schema, query, None, each[0].as_object());
    for variables in each {
        let (expected, _) = executed(&schema, query, variables).await;
        let got =
            compiled(&schema, query, variables).unwrap_or_else(|| panic!("a plan answers {query} with {variables}"));
        assert_same(&got, &expected, &format!("{variables}"));
    }
}

/// The same answer, byte for byte: the same values, escapes and key order
/// (both answer in the order the query asks, as the spec says).
fn assert_same(plan: &str, executed: &str, what: &str) {
    let plan_value: Value = serde_json::from_str(plan).expect("a plan writes JSON");
    let executed_value: Value = serde_json::from_str(executed).unwrap();
    assert_eq!(plan_value, executed_value, "for {what}");
    assert_eq!(plan, executed, "the same bytes, key order included, for {what}");
}

fn ids_of(file: &str) -> Vec<Value> {
    seed_records(file).iter().map(|r| json!({ "id": r["id"] })).collect()
}

/// Cursors made for the tests: before every event of a chronological
/// listing (`MWQtMjE0…` in `ACTOR`), after every one (`MWQyMTQ3…`), and
/// after every id (`MWl6enp6`), in version 1 (still read); `cursors_are_positions`
/// checks them.
const BEFORE_EVERY_EVENT: &str = "MWQtMjE0NzQ4MzY0OC4tMjE0NzQ4MzY0OC4";

const ACTOR: &str = r#"query($id: ID!) { actor(id: $id) {
    __typename id name kind aliases summary note
    partOf { id name } parts { id } positionHolders { id name }
    treaties { id name } signedTreaties { id } ratifiedTreaties { id } mediatedTreaties { id }
    fundingProvided { id title amount { amount currency } } fundingReceived { id } fundingAuthorized { id }
    claimedFiguresIn { id } sources { id document section url note kind }
    positions { __typename title from to note of { id name } }
    participations { __typename role event { id title date } }
    events(first: 3) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                       edges { cursor node { id date period { precision start end } } } }
    later: events(first: 2, after: "MWQtMjE0NzQ4MzY0OC4tMjE0NzQ4MzY0OC4") { nodes { id } pageInfo { hasPreviousPage } }
    last: events(last: 2) { nodes { id title } pageInfo { hasNextPage hasPreviousPage } }
} }"#;

const EVENT: &str = r#"query($id: ID!) { event(id: $id) {
    __typename id title kind date period { __typename precision start end } summary note
    place { id name within { id } } participants { __typename role actor { id name kind } }
    treaties { id } fundingAllocations { id donor { id } recipient { id } }
    partOf { id title } parts { id } after { id } followedBy { id } retractedBy { id } retracts { id }
    sources { id } figures { __typename label value unit claimedBy { id name } }
} }"#;

const TREATY: &str = r#"query($id: ID!) { treaty(id: $id) {
    __typename id name kind aliases citedOnly summary note signedOn enteredIntoForceOn provisions
    signedAt { id name } parties { id name } signatories { id } ratifications { __typename by { id name } date }
    mediator { id } basedOn { id } derivedTreaties { id } events { id date } fundingAllocations { id }
    sources { id }
} }"#;

const FUNDING: &str = r#"query($id: ID!) { fundingAllocation(id: $id) {
    __typename id title purpose date note amount { __typename amount currency }
    donor { id } recipient { id name } authorizedBy { id } basis { id name } event { id title } sources { id }
} }"#;

const PLACE: &str = r#"query($id: ID!) { place(id: $id) {
    __typename id name kind aliases summary note within { id name } contains { id }
    events { id title } directly: events(includeWithin: false) { id } treaties { id } sources { id }
} }"#;

const SOURCE: &str = r#"query($id: ID!) { source(id: $id) { __typename id document section url note kind } }"#;

#[tokio::test]
async fn every_entity_of_the_seed_reads_the_same_through_its_plan() {
    let store = seeded();
    for (query, file) in [
        (ACTOR, "actors"),
        (EVENT, "events"),
        (TREATY, "treaties"),
        (FUNDING, "funding"),
        (PLACE, "places"),
        (SOURCE, "sources"),
    ] {
        let ids = ids_of(file);
        assert!(!ids.is_empty(), "{file}");
        same_answers(&store, query, &ids).await;
        // A bare slug, as async-graphql takes it, and an id that matches nothing.
        let slug = ids[0]["id"].as_str().unwrap().split_once('/').unwrap().1;
        same_answers(
            &store,
            query,
            &[json!({ "id": slug }), json!({ "id": "no-such-thing" })],
        )
        .await;
    }
}

#[tokio::test]
async fn nested_queries_with_fragments_aliases_and_paging_read_the_same() {
    let store = seeded();
    let nested =
        "{ events(first: 20) { nodes { id title participants { actor { name events { nodes { title } } } } } } }";
    same_answers(&store, nested, &[json!({})]).await;
    let deep = r#"{ actor(id: "actor/russia") { events(first: 10) { nodes { participants { actor {
        treaties { name fundingAllocations { amount { amount currency } donor { name } } } } } } } } }"#;
    same_answers(&store, deep, &[json!({})]).await;
    let fragments = r#"
        query Page($after: String) {
          events(first: 7, after: $after) {
            __typename totalCount
            pageInfo { ...Ends hasNextPage }
            edges { cursor node { ...Brief ... on Event { id kind participants { ... { role } } } } }
            nodes { ...Brief first: participants { who: actor { ...Named } } }
          }
        }
        fragment Ends on PageInfo { startCursor endCursor hasPreviousPage }
        fragment Brief on Event { id title date }
        fragment Named on Actor { id name partOf { ...Named2 } }
        fragment Named2 on Actor { id name }
    "#;
    // Every page of the listing, forwards, with the cursors the first run gave.
    let schema = schema(&store);
    let mut pages = vec![json!({ "after": null })];
    loop {
        let (answer, ok) = executed(&schema, fragments, pages.last().unwrap()).await;
        assert!(ok, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let info = &answer["data"]["events"]["pageInfo"];
        if info["hasNextPage"] != json!(true) {
            break;
        }
        pages.push(json!({ "after": info["endCursor"] }));
    }
    assert!(pages.len() > 5, "the seed spans several pages of 7");
    same_answers(&store, fragments, &pages).await;
    let backwards =
        "{ events(last: 4, before: \"MWQyMTQ3NDgzNjQ3LjIxNDc0ODM2NDcufg\") { nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor } } }";
    same_answers(&store, backwards, &[json!({})]).await;
}

/// Entities met again under the same field are copied from where they were
/// first written, found by id (a participant's actor, a place) or by their
/// record (the items of a list), scalars-only selections included; the same
/// entity under another field (aliases, other arguments, another place in
/// the query) is written for that field.
#[tokio::test]
async fn entities_met_again_under_any_field_read_the_same() {
    let store = seeded();
    let again = r#"{ events(first: 40) { nodes {
        id place { name } at: place { name kind }
        participants { role actor {
          name
          first: events(first: 2) { nodes { title place { name } } }
          last: events(last: 3) { nodes { title } }
          all: events { nodes { id } }
        } also: actor { name } }
    } } }"#;
    same_answers(&store, again, &[json!({})]).await;
    let nodes = r#"query($ids: [ID!]!) { nodes(ids: $ids) { ... on Event { participants { actor { name } } }
        ... on Actor { events { nodes { title participants { actor { id } } } } } } }"#;
    let ids = json!({ "ids": ["actor/russia", "actor/south-ossetia", "event/war-2008", "actor/russia"] });
    same_answers(&store, nodes, &[ids]).await;
}

#[tokio::test]
async fn fields_follow_the_query() {
    let store = seeded();
    let schema = schema(&store);
    let variables = json!({ "id": "actor/russia" });
    let (first_run, _) = executed(&schema, ACTOR, &variables).await;
    learn_plan(&schema, ACTOR, None, variables.as_object());
    let answer = compiled(&schema, ACTOR, &variables).unwrap();
    let asked = [
        "__typename",
        "id",
        "name",
        "kind",
        "aliases",
        "summary",
        "note",
        "partOf",
        "parts",
        "positionHolders",
        "treaties",
        "signedTreaties",
        "ratifiedTreaties",
        "mediatedTreaties",
        "fundingProvided",
        "fundingReceived",
        "fundingAuthorized",
        "claimedFiguresIn",
        "sources",
        "events",
        "later",
        "last",
    ];
    let positions: Vec<usize> = asked
        .iter()
        .map(|key| {
            answer
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} in {answer}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{answer}");
    assert_eq!(first_run, answer, "async-graphql answers in the same order");
}

const ANY: &str = r#"
    __typename id
    ... on Actor { name kind partOf { id } }
    ... on Event { title date participants { role actor { name } } }
    ...Rest
"#;

#[tokio::test]
async fn the_node_interface_search_timeline_and_filters_read_the_same() {
    let store = seeded();
    let rest = "fragment Rest on Node { ... on Treaty { name parties { id } } ... on Place { name } \
                ... on FundingAllocation { title amount { amount currency } } ... on Source { document } }";
    let node = format!("query($id: ID!) {{ node(id: $id) {{ {ANY} }} }} {rest}");
    let mut every: Vec<Value> = Vec::new();
    for file in ["actors", "events", "treaties", "funding", "places", "sources"] {
        every.extend(ids_of(file));
    }
    every.push(json!({ "id": "actor/no-such-actor" }));
    same_answers(&store, &node, &every).await;

    let cited = format!("query($id: ID!) {{ source(id: $id) {{ id citedBy {{ {ANY} }} }} }} {rest}");
    same_answers(&store, &cited, &ids_of("sources")).await;

    let search = format!("query($q: String!) {{ search(query: $q, first: 20) {{ score node {{ {ANY} }} }} }} {rest}");
    let words: Vec<Value> = [
        "ossetia",
        "medvedev treaty",
        "kokoity",
        "russia",
        "zzz",
        "tskhinval",
        "2008",
    ]
    .iter()
    .map(|q| json!({ "q": q }))
    .collect();
    same_answers(&store, &search, &words).await;

    let timeline = "query($from: String, $to: String, $actor: ID) { \
        timeline(from: $from, to: $to, actor: $actor, first: 50) { id date title kind } }";
    same_answers(
        &store,
        timeline,
        &[
            json!({}),
            json!({ "from": "2008-08", "to": "2009-12" }),
            json!({ "from": "2008", "actor": "actor/russia" }),
            json!({ "actor": "dmitry-medvedev" }),
            json!({ "to": "1995" }),
        ],
    )
    .await;

    let filtered = "query($filter: EventFilter, $after: String) { \
        events(first: 5, filter: $filter, after: $after) { totalCount pageInfo { hasNextPage endCursor } \
          nodes { id date kind place { name } } } \
        actor(id: \"russia\") { events(first: 3, filter: $filter) { totalCount nodes { id } } } }";
    same_answers(
        &store,
        filtered,
        &[
            json!({}),
            json!({ "filter": { "from": "2008", "to": "2008-12" } }),
            json!({ "filter": { "kind": "RECOGNITION" } }),
            json!({ "filter": { "actor": "actor/dmitry-medvedev", "from": "2008" } }),
            json!({ "filter": { "place": "tskhinval", "kind": "MILITARY_ACTION" } }),
            json!({ "filter": { "from": "2009" }, "after": BEFORE_EVERY_EVENT }),
            json!({ "filter": { "place": "moscow" } }),
            json!({ "filter": { "place": "south-ossetia", "from": "2009" } }),
            json!({ "filter": { "from": "2009-01", "to": "2009-01", "match": "WITHIN" } }),
            json!({ "filter": { "from": "2009-01", "to": "2009-01", "match": "OVERLAPS" } }),
            json!({ "filter": { "to": "2008-08", "match": "WITHIN", "kind": "STATEMENT" } }),
            json!({ "filter": { "dated": false } }),
            json!({ "filter": { "dated": false, "place": "south-ossetia" } }),
            json!({ "filter": { "dated": true, "from": "2008-09" } }),
            json!({ "filter": { "dated": false, "from": "2008" } }),
        ],
    )
    .await;
    let place_events = "query($id: ID!, $within: Boolean!) { \
        place(id: $id) { events(includeWithin: $within) { id date place { id } } } }";
    same_answers(
        &store,
        place_events,
        &[
            json!({ "id": "moscow", "within": true }),
            json!({ "id": "moscow", "within": false }),
            json!({ "id": "south-caucasus", "within": true }),
            json!({ "id": "kremlin", "within": true }),
        ],
    )
    .await;
    // Objects none of whose fields apply to their type are null, as async-graphql has them.
    let narrow = r#"query($id: ID!) {
        node(id: $id) { ... on Actor { name } }
        search(query: "tskhinval", first: 5) { score node { ... on Event { title } } }
        actor(id: "russia") { ... on Node { ... on Event { title } } }
    }"#;
    same_answers(
        &store,
        narrow,
        &[
            json!({ "id": "event/recognition-decrees" }),
            json!({ "id": "actor/russia" }),
        ],
    )
    .await;
    let literal = r#"{ events(first: 20, filter: { actor: "actor/dmitry-medvedev", from: "2008" }) {
        totalCount nodes { id title date place { name } } } }"#;
    same_answers(&store, literal, &[json!({})]).await;
}

#[tokio::test]
async fn the_root_listings_read_the_same_page_by_page() {
    let store = seeded();
    let listing = r#"query($after: String, $actors: ActorFilter, $treaties: TreatyFilter) {
        actors(first: 9, after: $after, filter: $actors) { __typename totalCount
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { __typename cursor node { id name kind } } }
        treaties(first: 4, after: $after, filter: $treaties) { totalCount nodes { id name parties { id } } }
        places(first: 5, after: $after) { totalCount nodes { id name within { id } } pageInfo { endCursor } }
    }"#;
    // Every page of the listing without filters, then with them.
    let plain = listing
        .replace(", $actors: ActorFilter, $treaties: TreatyFilter", "")
        .replace(", filter: $actors", "")
        .replace(", filter: $treaties", "");
    let schema = schema(&store);
    let mut pages = vec![json!({})];
    for _ in 0..12 {
        let (answer, ok) = executed(&schema, &plain, pages.last().unwrap()).await;
        assert!(ok, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        match answer["data"]["actors"]["pageInfo"]["endCursor"].as_str() {
            Some(cursor) => pages.push(json!({ "after": cursor })),
            None => break,
        }
    }
    assert!(pages.len() > 5, "the seed's actors span several pages of 9");
    same_answers(&store, &plain, &pages).await;
    same_answers(
        &store,
        listing,
        &[
            json!({ "actors": { "kind": "PERSON" }, "treaties": { "party": "russia" } }),
            json!({ "actors": { "name": "kokoity" } }),
            json!({ "after": pages[1]["after"], "treaties": { "kind": "TREATY", "signedFrom": "2008" } }),
        ],
    )
    .await;
    let filtered = r#"{
        actors(first: 50, filter: { kind: PERSON }) { totalCount nodes { id } }
        named: actors(filter: { name: "kokoity" }) { totalCount nodes { id name } }
        treaties(filter: { party: "actor/russia", signedFrom: "2008" }) { totalCount nodes { id signedOn } }
        last: actors(last: 3, before: "MWl6enp6") { nodes { id } pageInfo { hasPreviousPage hasNextPage } }
        fundingAllocations { __typename totalCount totalAmount { __typename amount currency }
          edges { __typename cursor node { id amount { amount currency } } } }
        russian: fundingAllocations(first: 1, filter: { donor: "actor/russia", from: "2008" }) {
          totalCount totalAmount { amount currency } nodes { id } pageInfo { hasNextPage } }
        nodes(ids: ["actor/russia", "event/recognition-decrees", "actor/nobody", "source/lead", "actor/russia"]) {
          __typename id ... on Actor { name } ... on Event { title } }
    }"#;
    same_answers(&store, filtered, &[json!({})]).await;
}

#[tokio::test]
async fn only_introspection_and_writes_stay_with_async_graphql() {
    let store = seeded();
    for query in [
        r#"{ __schema { queryType { name } } }"#,
        r#"{ __type(name: "Actor") { name } }"#,
        "mutation { __typename }",
    ] {
        let schema = schema(&store);
        let (_, ok) = executed(&schema, query, &json!({})).await;
        learn_plan(&schema, query, None, None);
        assert!(
            compiled(&schema, query, &json!({})).is_none(),
            "no plan for {query} (ran without error: {ok})"
        );
    }
}

#[tokio::test]
async fn directives_merged_fields_and_variables_of_every_type_are_planned() {
    let store = seeded();
    // @include/@skip, literal or from variables, on fields, fragments and spreads.
    let switched = r#"query($more: Boolean!, $less: Boolean = false) {
        actor(id: "russia") {
          name @include(if: true) kind @skip(if: true)
          aliases @include(if: $more)
          ... on Actor @skip(if: $less) { summary }
          ...Parts @include(if: $more)
          partOf @skip(if: $more) { id }
        }
    }
    fragment Parts on Actor { parts { id name } }"#;
    same_answers(
        &store,
        switched,
        &[
            json!({ "more": true }),
            json!({ "more": false }),
            json!({ "more": true, "less": true }),
            json!({ "more": false, "less": false }),
        ],
    )
    .await;
    // An object asked twice under one key (as fragments of Relay and Apollo
    // Client do) answers once, with both selections merged in order.
    let merged = r#"{ actor(id: "russia") {
        partOf { id } ...A parts { id } ...B
        events(first: 2) { nodes { id } } ... on Actor { events(first: 2) { nodes { title } totalCount } }
    } }
    fragment A on Actor { partOf { name } parts { name kind } }
    fragment B on Actor { parts { id aliases } }"#;
    same_answers(&store, merged, &[json!({})]).await;
    // Lists, enums and input objects from variables; page sizes of either nullability.
    for (query, each) in [
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            vec![json!({ "ids": ["actor/russia", "place/tskhinval"] }), json!({ "ids": [] })],
        ),
        (
            "query($kind: EventKind) { events(first: 2, filter: { kind: $kind }) { nodes { id } } }",
            vec![json!({ "kind": "RECOGNITION" }), json!({ "kind": null }), json!({})],
        ),
        (
            "query($first: Int!, $after: String) { events(first: $first, after: $after) { edges { cursor node { id } } } }",
            vec![json!({ "first": 5 }), json!({ "first": 3, "after": BEFORE_EVERY_EVENT }), json!({ "first": 0 })],
        ),
        (
            "query($n: Int = 4) { events(first: $n) { nodes { id } } search(query: \"russia\", first: $n) { score } }",
            vec![json!({}), json!({ "n": 2 })],
        ),
    ] {
        same_answers(&store, query, &each).await;
    }
}

#[tokio::test]
async fn a_larger_page_size_than_any_accepted_waits_for_async_graphql_to_accept_it() {
    let store = seeded();
    let schema = schema(&store);
    let query = "query($n: Int!, $m: Int!) { events(first: $n) { nodes { id participants { actor { name } } } } \
                 actors(first: $m) { nodes { name } } }";
    let small = json!({ "n": 5, "m": 5 });
    let (_, ok) = executed(&schema, query, &small).await;
    assert!(ok);
    learn_plan(&schema, query, None, small.as_object());
    assert!(
        compiled(&schema, query, &json!({ "n": 3, "m": 5 })).is_some(),
        "smaller pages"
    );
    // Larger in one variable: not known to be within the complexity limit.
    let larger = json!({ "n": 50, "m": 5 });
    assert!(compiled(&schema, query, &larger).is_none());
    let (_, ok) = executed(&schema, query, &larger).await;
    assert!(ok);
    learn_plan(&schema, query, None, larger.as_object());
    assert!(
        compiled(&schema, query, &larger).is_some(),
        "accepted once, planned after"
    );
    // Accepted sizes of two runs do not add up: (50, 5) and (5, 60) do not cover (50, 60).
    let wide = json!({ "n": 5, "m": 60 });
    executed(&schema, query, &wide).await;
    learn_plan(&schema, query, None, wide.as_object());
    assert!(compiled(&schema, query, &wide).is_some());
    assert!(compiled(&schema, query, &json!({ "n": 50, "m": 60 })).is_none());
    // A size async-graphql refuses is never learned.
    let huge = json!({ "n": 1000, "m": 5 });
    let (answer, ok) = executed(&schema, query, &huge).await;
    assert!(!ok, "{answer}");
    assert!(compiled(&schema, query, &huge).is_none());
}

#[tokio::test]
async fn requests_async_graphql_would_refuse_are_left_to_it() {
    let store = seeded();
    let schema = schema(&store);
    let lookup = "query($id: ID!) { actor(id: $id) { name } }";
    let paged = "query($after: String) { events(first: 2, after: $after) { nodes { id } } }";
    let filtered = "query($filter: EventFilter) { events(first: 2, filter: $filter) { nodes { id } } }";
    for (query, good) in [
        (lookup, json!({ "id": "russia" })),
        (paged, json!({ "after": null })),
        (filtered, json!({ "filter": { "from": "2008" } })),
    ] {
        let (_, ok) = executed(&schema, query, &good).await;
        assert!(ok);
        learn_plan(&schema, query, None, good.as_object());
        assert!(compiled(&schema, query, &good).is_some(), "{query}");
    }
    for (query, variables) in [
        (lookup, json!({ "id": "event/recognition-decrees" })),
        (lookup, json!({ "id": "not an id!" })),
        (lookup, json!({})),
        (lookup, json!({ "id": null })),
        (lookup, json!({ "id": 7 })),
        (paged, json!({ "after": "not hex" })),
        (filtered, json!({ "filter": { "actr": "russia" } })),
        (filtered, json!({ "filter": { "kind": "NOT_A_KIND" } })),
        (filtered, json!({ "filter": { "match": "NEARBY" } })),
        (filtered, json!({ "filter": { "dated": "yes" } })),
        (filtered, json!({ "filter": { "place": "not a place!" } })),
        (paged, json!({ "after": 3 })),
    ] {
        let (answer, ok) = executed(&schema, query, &variables).await;
        // Left to async-graphql (`None`), whatever it answers is the answer.
        if let Some(planned) = compiled(&schema, query, &variables) {
            assert!(ok, "{variables} is refused by async-graphql, not by the plan: {answer}");
            assert_same(&planned, &answer, &format!("{variables}"));
        }
    }
}

#[tokio::test]
async fn a_plan_reads_the_store_as_it_is_after_a_write() {
    let store = seeded();
    let schema = schema(&store);
    let query = r#"{ actor(id: "russia") { name events(first: 100) { totalCount nodes { id } } } }"#;
    let (before, _) = executed(&schema, query, &json!({})).await;
    learn_plan(&schema, query, None, None);
    assert_same(&compiled(&schema, query, &json!({})).unwrap(), &before, "before");
    store
        .delete(&id("event/recognition-decrees"), true)
        .expect("the event is deleted");
    let (after, _) = executed(&schema, query, &json!({})).await;
    assert_ne!(after, before);
    assert!(!after.contains("event/recognition-decrees"));
    assert_same(&compiled(&schema, query, &json!({})).unwrap(), &after, "after");
}

/// The process-wide count of answers plans gave.
async fn compiled_answers(app: &crate::helpers::TestApp) -> f64 {
    crate::metrics::scrape(app)
        .await
        .sum("diplograph_compiled_answers_total")
}

#[tokio::test]
async fn over_http_the_second_run_of_a_document_answers_the_same_bytes() {
    let app = spawn_app_with(|s| s.response_cache = false).await;
    let body = json!({ "query": "query($id: ID!) { actor(id: $id) { name events(first: 5) { nodes { title participants { role actor { name } } } } } }", "variables": { "id": "russia" } });
    let mut answers = Vec::new();
    let before = compiled_answers(&app).await;
    for _ in 0..3 {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        answers.push(response.text().await.unwrap());
    }
    assert!(answers[0].contains("\"name\":\"Russia\""), "{}", answers[0]);
    assert_eq!(answers[1], answers[0]);
    assert_eq!(answers[2], answers[0]);
    // Other tests share the counter, so it can only say "at least".
    assert!(compiled_answers(&app).await >= before + 2.0);
}

#[tokio::test]
async fn a_plan_stops_at_the_operation_time_limit() {
    let store = seeded();
    let schema = build_schema(
        store.clone(),
        SchemaOptions {
            compiled_plans: true,
            limits: graphql::QueryLimits {
                timeout: std::time::Duration::ZERO,
                ..graphql::QueryLimits::default()
            },
            ..SchemaOptions::default()
        },
    );
    let heavy =
        "{ events(first: 100) { nodes { participants { actor { name events(first: 5) { nodes { title } } } } } } }";
    // async-graphql stops it too: every read after the deadline fails.
    let (answer, ok) = executed(&schema, heavy, &json!({})).await;
    assert!(!ok && answer.contains("TIMEOUT"), "{answer}");
    // Learned as if a run had gone through, the plan stops at the deadline.
    learn_plan(&schema, heavy, None, None);
    match answer_compiled(&schema, heavy, None, None) {
        Some(Planned::TimedOut(body)) => {
            let body = String::from_utf8(body).unwrap();
            assert!(body.contains("\"code\":\"TIMEOUT\""), "{body}");
        }
        Some(Planned::Answer(body)) => panic!("answered past the deadline: {}", String::from_utf8_lossy(&body)),
        None => panic!("the plan gave up rather than stop"),
    }
    let light = "{ actor(id: \"russia\") { name } }";
    learn_plan(&schema, light, None, None);
    assert!(
        matches!(answer_compiled(&schema, light, None, None), Some(Planned::Answer(_))),
        "the clock is read every few hundred objects, not on every one"
    );
}

#[tokio::test]
async fn an_operation_whose_time_limit_was_spent_before_it_ran_times_out_on_either_path() {
    use diplograph::graphql::{run, Operation, Outcome, Planner, RawKind, RawRequest};
    let store = seeded();
    let schema = schema(&store);
    let planner = Planner::of(&schema).expect("plans are on");
    // Over 256 objects, so that a plan reads the clock while it writes.
    let heavy =
        "{ events(first: 100) { nodes { participants { actor { name events(first: 5) { nodes { title } } } } } } }";
    let bytes = serde_json::to_vec(&json!({ "query": heavy })).unwrap();
    // A request that came a whole time limit ago: waiting for a worker,
    // or its body parsed, took it all.
    let limit = graphql::QueryLimits::default().timeout;
    let spent = std::time::Instant::now()
        .checked_sub(limit + std::time::Duration::from_millis(1))
        .expect("the clock has run longer than the time limit");
    let operation = |started| Operation {
        query: heavy.into(),
        raw: Some(RawRequest {
            kind: RawKind::Post,
            bytes: bytes.clone().into(),
        }),
        started,
        ..Operation::default()
    };
    let timed_out = |answer: &graphql::Answered, path: &str| {
        let body = String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)]);
        assert_eq!(answer.outcome, Outcome::Error, "{path}: {body}");
        assert!(body.contains("\"code\":\"TIMEOUT\""), "{path}: {body}");
    };
    // No plan yet: async-graphql runs it, with what is left of the limit.
    timed_out(
        &run(&schema, Some(&planner), operation(Some(spent))).await,
        "async-graphql",
    );
    // Run in time, it is answered, and a plan learned from the run.
    let first = run(&schema, Some(&planner), operation(None)).await;
    assert_eq!(first.outcome, Outcome::Ok, "{}", String::from_utf8_lossy(&first.body));
    let planned = run(&schema, Some(&planner), operation(Some(std::time::Instant::now()))).await;
    assert_eq!(planned.body, first.body);
    assert!(
        planner.prepared(RawKind::Post, &bytes).is_some(),
        "the plan answered the second run"
    );
    // The plan keeps the limit from when the request came, not from when it starts.
    timed_out(&run(&schema, Some(&planner), operation(Some(spent))).await, "the plan");
}

#[test]
fn cursors_are_positions() {
    use diplograph::read::cursor;
    use diplograph::store::Position;
    let at = |p: Position| cursor::encode(&p.key());
    assert_eq!(
        cursor::decode(BEFORE_EVERY_EVENT),
        Ok(Position::Dated {
            first: i32::MIN,
            last: i32::MIN,
            id: String::new()
        }
        .key())
    );
    assert_eq!(
        cursor::decode("MWQyMTQ3NDgzNjQ3LjIxNDc0ODM2NDcufg"),
        Ok(Position::Dated {
            first: i32::MAX,
            last: i32::MAX,
            id: "~".into()
        }
        .key())
    );
    assert_eq!(cursor::decode("MWl6enp6"), Ok(Position::ById("zzzz".into()).key()));
    // Those are version 1 cursors (positions no entity has: the tests' own),
    // still read; this API writes version 2, and reads it back.
    let russia = Position::ById("actor/russia".into());
    assert!(at(russia.clone()).starts_with('C'));
    assert_eq!(cursor::decode(&at(russia.clone())), Ok(russia.key()));
}

/// POSTs `body` as the very bytes given; returns the answer's text.
async fn post_bytes(app: &crate::helpers::TestApp, body: &'static str) -> String {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_same_bytes_again_are_answered_by_their_plan_unparsed_and_counted_as_any_request() {
    use crate::helpers::TEST_WRITE_TOKEN;
    let app = spawn_app_with(|s| {
        s.response_cache = false;
        s.write_tokens = vec![TEST_WRITE_TOKEN.into()];
    })
    .await;
    // A name of its own, so that the counters under it are this test's alone.
    const RUSSIA: &str = r#"{"operationName":"RawBytesActor","query":"query RawBytesActor($id: ID!) { actor(id: $id) { name events(first: 3) { nodes { title } } } }","variables":{"id":"russia"}}"#;
    const GEORGIA: &str = r#"{"operationName":"RawBytesActor","query":"query RawBytesActor($id: ID!) { actor(id: $id) { name events(first: 3) { nodes { title } } } }","variables":{"id":"georgia"}}"#;
    const ENVOY: &str = r#"{"operationName":"RawBytesActor","query":"query RawBytesActor($id: ID!) { actor(id: $id) { name events(first: 3) { nodes { title } } } }","variables":{"id":"actor/raw-bytes-envoy"}}"#;
    let reference = |id: &str| {
        let schema = schema(&app.store);
        let query = "query RawBytesActor($id: ID!) { actor(id: $id) { name events(first: 3) { nodes { title } } } }";
        let variables = json!({ "id": id });
        async move { executed(&schema, query, &variables).await.0 }
    };
    let russia = reference("russia").await;
    let georgia = reference("georgia").await;
    assert_ne!(russia, georgia);
    // Run by async-graphql, then by the plan (which remembers the bytes),
    // then from the bytes: the same answer every time.
    for _ in 0..4 {
        assert_eq!(post_bytes(&app, RUSSIA).await, russia);
    }
    // Other bytes of the same document are another request.
    for _ in 0..3 {
        assert_eq!(post_bytes(&app, GEORGIA).await, georgia);
    }
    let scrape = crate::metrics::scrape(&app).await;
    let label = [("operation", "RawBytesActor")];
    assert_eq!(
        scrape.value(
            "diplograph_graphql_requests_total",
            &[("operation", "RawBytesActor"), ("outcome", "ok")]
        ),
        7.0
    );
    // All but the first run of the document.
    assert_eq!(scrape.value("diplograph_compiled_answers_total", &label), 6.0);
    // A plan answered from the bytes reads the store as it is after a write.
    assert_eq!(
        post_bytes(&app, ENVOY).await,
        r#"{"data":{"actor":null}}"#,
        "no such actor yet"
    );
    assert_eq!(post_bytes(&app, ENVOY).await, r#"{"data":{"actor":null}}"#);
    let created = app
        .query_as(
            TEST_WRITE_TOKEN,
            r#"mutation { createActor(input: { id: "actor/raw-bytes-envoy", name: "Raw Bytes Envoy", kind: PERSON }) { actor { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        created["data"]["createActor"]["actor"]["id"], "actor/raw-bytes-envoy",
        "{created}"
    );
    assert_eq!(
        post_bytes(&app, ENVOY).await,
        r#"{"data":{"actor":{"name":"Raw Bytes Envoy","events":{"nodes":[]}}}}"#
    );
    assert_eq!(post_bytes(&app, RUSSIA).await, reference("russia").await);
}

#[tokio::test]
async fn a_request_is_remembered_by_its_bytes_only_once_a_plan_answers_it_and_over_the_method_it_came_by() {
    use diplograph::graphql::{run, Operation, Planner, RawKind, RawRequest};
    let store = seeded();
    let schema = schema(&store);
    let planner = Planner::of(&schema).expect("plans are on");
    let query = "query($id: ID!, $first: Int!) { actor(id: $id) { name events(first: $first) { nodes { title } } } }";
    let variables = json!({ "id": "russia", "first": 2 });
    let bytes = serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap();
    let operation = |raw: bool, extensions: Option<serde_json::Map<String, Value>>| Operation {
        query: query.into(),
        variables: variables.as_object().cloned(),
        extensions,
        raw: raw.then(|| RawRequest {
            kind: RawKind::Post,
            bytes: bytes.clone().into(),
        }),
        ..Operation::default()
    };
    // The first run is async-graphql's: nothing is remembered.
    let first = run(&schema, Some(&planner), operation(true, None)).await;
    assert!(planner.prepared(RawKind::Post, &bytes).is_none());
    // A plan's answer to a request with extensions is not remembered either
    // (a persisted query's hash must reach the registry every time).
    let extensions = json!({ "tracing": true }).as_object().cloned();
    assert_eq!(
        run(&schema, Some(&planner), operation(true, extensions)).await.body,
        first.body
    );
    assert!(planner.prepared(RawKind::Post, &bytes).is_none());
    assert_eq!(
        run(&schema, Some(&planner), operation(true, None)).await.body,
        first.body
    );
    let remembered = planner
        .prepared(RawKind::Post, &bytes)
        .expect("remembered once a plan answered");
    assert!(
        planner.prepared(RawKind::Get, &bytes).is_none(),
        "GET bytes are another request"
    );
    match planner.answer_prepared(&remembered, std::time::Instant::now()) {
        Some(Planned::Answer(body)) => assert_eq!(body, first.body),
        _ => panic!("the plan answers the remembered request"),
    }
    let (expected, _) = executed(&schema, query, &variables).await;
    assert_same(
        &String::from_utf8(first.body).unwrap(),
        &expected,
        "async-graphql's answer",
    );
}
