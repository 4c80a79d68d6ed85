//! The GraphQL surface over real HTTP: every root field, lookups by id and
//! slug, `node` for every type, filters, search, the timeline, deep nesting,
//! errors, and a description on everything a newcomer sees in the IDE.
//!
//! Expected answers come from the seed files where they can, so a change to
//! the data changes what the tests expect rather than breaking them.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{error_code, ids, seed_records, spawn_app, strings_at};

/// The ids of the seed records (of one file) that satisfy `keep`.
fn seed_ids(file: &str, keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    seed_records(file)
        .iter()
        .filter(|r| keep(r))
        .map(|r| r["id"].as_str().expect("every seed record has an id").to_owned())
        .collect()
}

/// Whether a seed event lists `actor` among its participants.
fn takes_part(event: &Value, actor: &str) -> bool {
    strings_at(event, &["participants", "*", "actor"])
        .iter()
        .any(|a| a == actor)
}

fn as_set(list: &Value) -> BTreeSet<String> {
    ids(list).into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Whether an event's `period { start end }` overlaps `[start, end]`. ISO
/// dates compare correctly as strings.
fn overlaps(period: &Value, start: &str, end: &str) -> bool {
    match (period["start"].as_str(), period["end"].as_str()) {
        (Some(s), Some(e)) => s <= end && e >= start,
        _ => false,
    }
}

// ---- every root field ----------------------------------------------------------

#[tokio::test]
async fn every_root_field_of_query_returns_real_data() {
    // (root field, query, where to look, what the seed says is there)
    let cases: &[(&str, &str, &str, Value)] = &[
        (
            "node",
            r#"{ node(id: "actor/dmitry-medvedev") { id } }"#,
            "/node/id",
            json!("actor/dmitry-medvedev"),
        ),
        (
            "nodes",
            r#"{ nodes(ids: ["place/kremlin", "treaty/friendship-2008"]) { id } }"#,
            "/nodes",
            json!([{ "id": "place/kremlin" }, { "id": "treaty/friendship-2008" }]),
        ),
        (
            "actor",
            r#"{ actor(id: "actor/eduard-kokoity") { name kind } }"#,
            "/actor",
            json!({ "name": "Eduard Kokoity", "kind": "PERSON" }),
        ),
        (
            "actors",
            r#"{ actors(filter: { kind: UNRECOGNISED_STATE }) { nodes { id } } }"#,
            "/actors/nodes",
            json!([
                { "id": "actor/abkhazia" },
                { "id": "actor/south-ossetia" },
                { "id": "actor/transnistria" }
            ]),
        ),
        (
            "event",
            r#"{ event(id: "event/recognition-decrees") { date kind } }"#,
            "/event",
            json!({ "date": "2008-08-26", "kind": "RECOGNITION" }),
        ),
        (
            "events",
            r#"{ events(first: 1) { nodes { id date } } }"#,
            "/events/nodes/0",
            json!({ "id": "event/independence-declaration-1991", "date": "1991" }),
        ),
        (
            "treaty",
            r#"{ treaty(id: "treaty/friendship-2008") { signedOn signedAt { name } } }"#,
            "/treaty",
            json!({ "signedOn": "2008-09-17", "signedAt": { "name": "The Kremlin" } }),
        ),
        (
            "treaties",
            r#"{ treaties(filter: { kind: CEASEFIRE }) { nodes { name } } }"#,
            "/treaties/nodes",
            json!([{ "name": "August 2008 ceasefire agreement" }]),
        ),
        (
            "fundingAllocation",
            r#"{ fundingAllocation(id: "funding/federal-budget-2009") { amount { amount currency } } }"#,
            "/fundingAllocation/amount",
            json!({ "amount": "2800000000", "currency": "RUB" }),
        ),
        (
            "fundingAllocations",
            r#"{ fundingAllocations { totalCount } }"#,
            "/fundingAllocations/totalCount",
            json!(seed_records("funding").len()),
        ),
        (
            "place",
            r#"{ place(id: "place/tskhinval") { aliases within { id } } }"#,
            "/place",
            json!({ "aliases": ["Tskhinvali"], "within": { "id": "place/south-ossetia" } }),
        ),
        (
            "places",
            r#"{ places(first: 1) { totalCount nodes { id } } }"#,
            "/places",
            json!({ "totalCount": seed_records("places").len(), "nodes": [{ "id": "place/abkhazia" }] }),
        ),
        (
            "source",
            r#"{ source(id: "source/economic-ties") { section } }"#,
            "/source/section",
            json!("Bilateral relationship: Economic ties"),
        ),
        (
            "search",
            r#"{ search(query: "Sarkozy", first: 1) { node { id } } }"#,
            "/search",
            json!([{ "node": { "id": "actor/nicolas-sarkozy" } }]),
        ),
        (
            "timeline",
            r#"{ timeline(actor: "actor/dmitry-medoyev", from: "2009-01", to: "2009-01") { id } }"#,
            "/timeline",
            json!([{ "id": "event/medoyev-appointment" }, { "id": "event/medoyev-credentials" }]),
        ),
        (
            "eventStats",
            r#"{ eventStats(filter: { from: "2009-01", to: "2009-01" }, groupBy: [MONTH]) { key { month } count } }"#,
            "/eventStats/0",
            json!({ "key": { "month": "2009-01" }, "count": 3 }),
        ),
        (
            "fundingStats",
            r#"{ fundingStats(groupBy: [RECIPIENT]) { key { recipient { id } } totalAmount { amount currency } } }"#,
            "/fundingStats",
            json!([{ "key": { "recipient": { "id": "actor/south-ossetia" } }, "totalAmount": [{ "amount": "11300000000", "currency": "RUB" }] }]),
        ),
        (
            "paths",
            r#"{ paths(from: "actor/sergey-lavrov", to: "actor/federation-council", first: 1) { paths { hops } } }"#,
            "/paths/paths",
            json!([{ "hops": 4 }]),
        ),
        (
            "positionHolders",
            r#"{ positionHolders(title: "President of Russia", asOf: "2008-08-26") { holder { id } } }"#,
            "/positionHolders",
            json!([{ "holder": { "id": "actor/dmitry-medvedev" } }]),
        ),
        (
            "_entities",
            r#"{ _entities(representations: [{ __typename: "Actor", id: "actor/russia" }]) { ... on Actor { name } } }"#,
            "/_entities",
            json!([{ "name": "Russia" }]),
        ),
        (
            "_service",
            r#"{ _service { sdl } }"#,
            "/_service/sdl",
            json!(diplograph::graphql::subgraph_sdl()),
        ),
    ];
    let app = spawn_app().await;

    for (field, query, pointer, expected) in cases {
        let data = app.data(query).await;
        assert_eq!(
            data.pointer(pointer),
            Some(expected),
            "root field `{field}`: {query} gave {data:#}"
        );
    }

    // The table must keep up with the schema: a new root field needs a row.
    let schema = app.data("{ __schema { queryType { fields { name } } } }").await;
    let served: BTreeSet<String> = strings_at(&schema, &["__schema", "queryType", "fields", "*", "name"])
        .into_iter()
        .collect();
    let covered: BTreeSet<String> = cases.iter().map(|(f, ..)| f.to_string()).collect();
    let untested: Vec<&String> = served.difference(&covered).collect();
    assert!(
        untested.is_empty(),
        "root fields without a row in this test: {untested:?}"
    );
}

// ---- lookups -------------------------------------------------------------------

#[tokio::test]
async fn typed_lookups_accept_a_global_id_and_a_bare_slug() {
    // (root field, global id)
    let cases = [
        ("actor", "actor/sergey-lavrov"),
        ("event", "event/war-2008"),
        ("treaty", "treaty/un-charter"),
        ("fundingAllocation", "funding/reconstruction"),
        ("place", "place/roki-tunnel"),
        ("source", "source/lead"),
    ];
    let app = spawn_app().await;

    for (field, id) in cases {
        let slug = id.split_once('/').expect("a global id has a slash").1;
        let query = format!(
            "query($full: ID!, $bare: ID!) {{ full: {field}(id: $full) {{ id }} bare: {field}(id: $bare) {{ id }} }}"
        );
        let response = app.query_with(&query, json!({ "full": id, "bare": slug })).await;
        assert!(response.get("errors").is_none(), "{field}: {response:#}");
        assert_eq!(response["data"]["full"]["id"], id, "{field} by global id");
        assert_eq!(response["data"]["bare"]["id"], id, "{field} by bare slug `{slug}`");
    }
}

#[tokio::test]
async fn node_returns_every_type_with_its_typename_and_only_its_own_fragment() {
    // Every fragment asks for a field name no other fragment uses, so a
    // fragment applied to the wrong type would show up as an extra key.
    const QUERY: &str = r#"query($id: ID!) {
        node(id: $id) {
            __typename
            id
            ... on Actor { name }
            ... on Event { date }
            ... on Treaty { signedOn }
            ... on FundingAllocation { amount { amount currency } }
            ... on Place { kind }
            ... on Source { section }
        }
    }"#;
    // (global id, __typename, the fragment's field, its value in the seed)
    let cases = [
        ("actor/dmitry-medvedev", "Actor", "name", json!("Dmitry Medvedev")),
        ("event/war-2008", "Event", "date", json!("2008-08-07/2008-08-12")),
        ("treaty/ceasefire-2008", "Treaty", "signedOn", json!("2008-08-12")),
        (
            "funding/reconstruction",
            "FundingAllocation",
            "amount",
            json!({ "amount": "8500000000", "currency": "RUB" }),
        ),
        ("place/roki-tunnel", "Place", "kind", json!("TUNNEL")),
        ("source/lead", "Source", "section", json!("Lead")),
    ];
    let app = spawn_app().await;

    for (id, typename, field, value) in cases {
        let response = app.query_with(QUERY, json!({ "id": id })).await;
        assert!(response.get("errors").is_none(), "{id}: {response:#}");
        let node = &response["data"]["node"];
        assert_eq!(node["__typename"], typename, "{id}: {node:#}");
        assert_eq!(node["id"], id);
        assert_eq!(node[field], value, "{id}: the `... on {typename}` fragment");
        let keys: BTreeSet<&str> = node
            .as_object()
            .expect("node is an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["__typename", "id", field]),
            "{id}: only its own fragment applies"
        );
    }
}

#[tokio::test]
async fn a_source_says_whether_it_is_body_text_a_caption_or_an_inference() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{
                visit: event(id: "event/medvedev-visits-military-base") { sources { id kind } }
                makarov: actor(id: "actor/nikolay-makarov") { sources { id kind } }
                agreements: treaty(id: "treaty/finance-agreements-2009") { sources { kind } }
            }"#,
        )
        .await;
    assert_eq!(
        data["visit"]["sources"],
        json!([{ "id": "source/military-ties-caption", "kind": "CAPTION" }]),
        "the base visit is known only from a caption"
    );
    assert_eq!(
        data["makarov"]["sources"],
        json!([{ "id": "source/military-ties", "kind": "BODY" }]),
        "Nikolay Makarov is known from the body text"
    );
    let kinds: BTreeSet<String> = strings_at(&data["agreements"], &["sources", "*", "kind"])
        .into_iter()
        .collect();
    assert_eq!(kinds, ["BODY", "INFERRED"].map(String::from).into_iter().collect());
}

#[tokio::test]
async fn tskhinvals_places_lead_to_the_base_visit() {
    let app = spawn_app().await;
    let data = app
        .data(r#"{ place(id: "place/tskhinval") { contains { id note events { id } } } }"#)
        .await;
    let base = data["place"]["contains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "place/russian-military-base-tskhinval")
        .expect("the base lies within Tskhinval");
    assert!(
        ids(&base["events"]).contains(&"event/medvedev-visits-military-base".to_owned()),
        "{base}"
    );
    assert!(
        base["note"].as_str().unwrap().contains("near"),
        "the note says the text has it near the city"
    );
}

#[tokio::test]
async fn nodes_keeps_the_order_asked_and_gives_null_for_an_unknown_id() {
    let app = spawn_app().await;

    let data = app
        .data(r#"{ nodes(ids: ["treaty/un-charter", "actor/nobody-at-all", "actor/russia"]) { __typename id } }"#)
        .await;

    assert_eq!(
        data["nodes"],
        json!([
            { "__typename": "Treaty", "id": "treaty/un-charter" },
            null,
            { "__typename": "Actor", "id": "actor/russia" }
        ])
    );
}

// ---- event filters -------------------------------------------------------------

#[tokio::test]
async fn an_event_date_filter_treats_a_partial_date_as_the_whole_period_it_names() {
    struct Case {
        description: &'static str,
        from: Option<&'static str>,
        to: Option<&'static str>,
        /// The first and last day the filter covers.
        window: (&'static str, &'static str),
        includes: &'static [&'static str],
        excludes: &'static [&'static str],
    }
    let cases = [
        Case {
            description: "a month filter includes an event dated only by that month",
            from: Some("2009-03"),
            to: Some("2009-03"),
            window: ("2009-03-01", "2009-03-31"),
            includes: &["event/federal-budget-allocation-2009"],
            excludes: &["event/border-treaty-signing", "event/medoyev-credentials"],
        },
        Case {
            description: "a day filter includes the event of that day",
            from: Some("2008-08-26"),
            to: Some("2008-08-26"),
            window: ("2008-08-26", "2008-08-26"),
            includes: &["event/recognition-decrees"],
            excludes: &["event/state-duma-motion", "event/georgia-severs-relations"],
        },
        Case {
            description: "a year filter includes the month-precision events of that year",
            from: Some("2009"),
            to: Some("2009"),
            window: ("2009-01-01", "2009-12-31"),
            includes: &[
                "event/federal-budget-allocation-2009",
                "event/makarov-june-2009-statement",
                "event/lavrov-vesti-interview",
                "event/putin-embassy-directive",
            ],
            excludes: &["event/makarov-confirms-deployment", "event/friendship-treaty-signing"],
        },
        Case {
            description: "a day within a month includes an event dated only by that month",
            from: Some("2009-03-15"),
            to: Some("2009-03-15"),
            window: ("2009-03-15", "2009-03-15"),
            includes: &["event/federal-budget-allocation-2009", "event/putin-embassy-directive"],
            excludes: &["event/friendship-treaty-entry-into-force"],
        },
        Case {
            description: "a day within a date range includes the event spanning it",
            from: Some("2008-08-10"),
            to: Some("2008-08-10"),
            window: ("2008-08-10", "2008-08-10"),
            includes: &["event/war-2008"],
            excludes: &["event/georgian-offensive-2008", "event/ceasefire-2008-agreed"],
        },
        Case {
            description: "`from` alone keeps everything from then on",
            from: Some("2009-08"),
            to: None,
            window: ("2009-08-01", "9999-12-31"),
            includes: &["event/medvedev-documentary-interview"],
            excludes: &["event/medvedev-visit-tskhinval"],
        },
        Case {
            description: "`to` alone keeps everything up to then",
            from: None,
            to: Some("1991"),
            window: ("0001-01-01", "1991-12-31"),
            includes: &["event/independence-declaration-1991"],
            excludes: &["event/war-2008"],
        },
    ];
    let app = spawn_app().await;
    let all = app
        .data("{ events(first: 100) { totalCount nodes { id period { start end } } } }")
        .await;
    assert_eq!(
        all["events"]["totalCount"],
        json!(seed_records("events").len()),
        "one page must hold every event for this test to see them all"
    );

    for case in cases {
        let (start, end) = case.window;
        let expected: BTreeSet<String> = all["events"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| overlaps(&e["period"], start, end))
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        let response = app
            .query_with(
                "query($filter: EventFilter) { events(filter: $filter, first: 100) { totalCount nodes { id } } }",
                json!({ "filter": { "from": case.from, "to": case.to } }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{}: {response:#}", case.description);
        let got = as_set(&response["data"]["events"]["nodes"]);
        for id in case.includes {
            assert!(got.contains(*id), "{}: {id} missing", case.description);
        }
        for id in case.excludes {
            assert!(!got.contains(*id), "{}: {id} included", case.description);
        }
        assert_eq!(
            got, expected,
            "{}: exactly the events whose period overlaps {start}..{end}",
            case.description
        );
        assert_eq!(
            response["data"]["events"]["totalCount"],
            json!(expected.len()),
            "{}",
            case.description
        );
    }
}

#[tokio::test]
async fn event_filters_by_kind_actor_and_place_give_exactly_the_matching_seed_events() {
    // (description, filter, which seed events match, one that must be there)
    type Keep = fn(&Value) -> bool;
    let cases: [(&str, Value, Keep, &str); 8] = [
        (
            "kind RECOGNITION",
            json!({ "kind": "RECOGNITION" }),
            |e| e["kind"] == "recognition",
            "event/recognition-decrees",
        ),
        (
            "kind SIGNING",
            json!({ "kind": "SIGNING" }),
            |e| e["kind"] == "signing",
            "event/exchange-of-notes",
        ),
        (
            "an actor by global id",
            json!({ "actor": "actor/dmitry-medvedev" }),
            |e| takes_part(e, "actor/dmitry-medvedev"),
            "event/recognition-decrees",
        ),
        (
            "an actor by bare slug",
            json!({ "actor": "eduard-kokoity" }),
            |e| takes_part(e, "actor/eduard-kokoity"),
            "event/kokoity-flies-to-moscow",
        ),
        (
            "a place by global id",
            json!({ "place": "place/kremlin" }),
            |e| e["place"] == "place/kremlin",
            "event/friendship-treaty-signing",
        ),
        (
            "a place by bare slug, with the base within it",
            json!({ "place": "tskhinval" }),
            |e| e["place"] == "place/tskhinval" || e["place"] == "place/russian-military-base-tskhinval",
            "event/medvedev-visit-tskhinval",
        ),
        (
            "an actor and a kind together",
            json!({ "actor": "actor/dmitry-medvedev", "kind": "VISIT" }),
            |e| e["kind"] == "visit" && takes_part(e, "actor/dmitry-medvedev"),
            "event/medvedev-visits-military-base",
        ),
        (
            "an actor, a place and a period together",
            json!({ "actor": "actor/eduard-kokoity", "place": "place/kremlin", "from": "2009" }),
            |e| {
                e["place"] == "place/kremlin"
                    && takes_part(e, "actor/eduard-kokoity")
                    && e["date"].as_str().is_some_and(|d| d >= "2009")
            },
            "event/border-treaty-signing",
        ),
    ];
    let app = spawn_app().await;

    for (description, filter, keep, example) in cases {
        let expected = seed_ids("events", keep);
        assert!(expected.contains(example), "{description}: bad example");
        let response = app
            .query_with(
                "query($filter: EventFilter) { events(filter: $filter, first: 100) { totalCount nodes { id } } }",
                json!({ "filter": filter }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{description}: {response:#}");
        assert_eq!(as_set(&response["data"]["events"]["nodes"]), expected, "{description}");
        assert_eq!(
            response["data"]["events"]["totalCount"],
            json!(expected.len()),
            "{description}"
        );
    }
}

// ---- actors, treaties, funding -------------------------------------------------

#[tokio::test]
async fn an_actor_kind_filter_gives_exactly_the_actors_of_that_kind() {
    // (GraphQL enum value, seed value)
    let cases = [
        ("PERSON", "person"),
        ("LEGISLATURE", "legislature"),
        ("MINISTRY", "ministry"),
        ("MEDIA", "media"),
    ];
    let app = spawn_app().await;

    for (kind, seed_kind) in cases {
        let expected = seed_ids("actors", |a| a["kind"] == seed_kind);
        assert!(!expected.is_empty(), "the seed has actors of kind {seed_kind}");
        let response = app
            .query_with(
                "query($kind: ActorKind) { actors(filter: { kind: $kind }, first: 100) { totalCount nodes { id kind } } }",
                json!({ "kind": kind }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{kind}: {response:#}");
        let nodes = &response["data"]["actors"]["nodes"];
        assert_eq!(as_set(nodes), expected, "kind {kind}");
        assert!(
            strings_at(nodes, &["*", "kind"]).iter().all(|k| k == kind),
            "kind {kind}: {nodes}"
        );
        assert_eq!(response["data"]["actors"]["totalCount"], json!(expected.len()));
    }
}

#[tokio::test]
async fn an_actor_name_filter_ignores_case_and_accents_and_matches_aliases() {
    // (description, filter, exactly these actors)
    let cases = [
        (
            "upper case with a diaeresis",
            json!({ "name": "KOKOÏTY" }),
            set(&["actor/eduard-kokoity"]),
        ),
        (
            "lower case",
            json!({ "name": "kokoity" }),
            set(&["actor/eduard-kokoity"]),
        ),
        (
            "a spelling only an alias has",
            json!({ "name": "Kokoyty" }),
            set(&["actor/eduard-kokoity"]),
        ),
        (
            "the start of a word",
            json!({ "name": "medv" }),
            set(&["actor/dmitry-medvedev"]),
        ),
        (
            "a first name only aliases spell this way",
            json!({ "name": "Sergei" }),
            set(&["actor/sergey-ivanov", "actor/sergey-lavrov", "actor/sergey-shoygu"]),
        ),
        (
            "a name and a kind together",
            json!({ "name": "sergey", "kind": "PERSON" }),
            set(&[
                "actor/sergey-ivanov",
                "actor/sergey-lavrov",
                "actor/sergey-makarov",
                "actor/sergey-shoygu",
            ]),
        ),
        ("a name nobody has", json!({ "name": "Zyxwvut" }), BTreeSet::new()),
    ];
    let app = spawn_app().await;

    for (description, filter, expected) in cases {
        let response = app
            .query_with(
                "query($filter: ActorFilter) { actors(filter: $filter, first: 100) { totalCount nodes { id } } }",
                json!({ "filter": filter }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{description}: {response:#}");
        assert_eq!(as_set(&response["data"]["actors"]["nodes"]), expected, "{description}");
        assert_eq!(
            response["data"]["actors"]["totalCount"],
            json!(expected.len()),
            "{description}"
        );
    }
}

#[tokio::test]
async fn treaty_filters_by_party_kind_and_signing_date_give_the_matching_treaties() {
    // (description, filter, exactly these treaties)
    let cases = [
        (
            "a party by global id",
            json!({ "party": "actor/south-ossetia" }),
            seed_ids("treaties", |t| {
                strings_at(t, &["parties", "*"]).contains(&"actor/south-ossetia".to_owned())
            }),
        ),
        (
            "a party by bare slug",
            json!({ "party": "russia" }),
            set(&[
                "treaty/border-protection-2009",
                "treaty/ceasefire-2008",
                "treaty/diplomatic-notes-2008",
                "treaty/friendship-2008",
            ]),
        ),
        (
            "a kind",
            json!({ "kind": "AGREEMENT" }),
            set(&["treaty/finance-agreements-2009", "treaty/prosecutors-agreement-2009"]),
        ),
        (
            "signed within a year",
            json!({ "signedFrom": "2009", "signedTo": "2009" }),
            // Not the finance agreements: the article does not date them.
            set(&["treaty/border-protection-2009", "treaty/prosecutors-agreement-2009"]),
        ),
        (
            "signed within a month, including one dated only by that month",
            json!({ "signedFrom": "2008-09-01", "signedTo": "2008-09-30" }),
            set(&[
                "treaty/diplomatic-notes-2008",
                "treaty/friendship-2008",
                "treaty/party-partnership-2008",
            ]),
        ),
        (
            "a single day inside a month-dated signing",
            json!({ "signedFrom": "2008-09-10", "signedTo": "2008-09-10" }),
            set(&["treaty/party-partnership-2008"]),
        ),
        (
            "signed up to a year",
            json!({ "signedTo": "1975" }),
            set(&[
                "treaty/friendly-relations-declaration-1970",
                "treaty/helsinki-final-act-1975",
            ]),
        ),
        (
            "a party and a signing date together",
            json!({ "party": "actor/russia", "signedFrom": "2008-09" }),
            set(&[
                "treaty/border-protection-2009",
                "treaty/diplomatic-notes-2008",
                "treaty/friendship-2008",
            ]),
        ),
    ];
    let app = spawn_app().await;

    for (description, filter, expected) in cases {
        let response = app
            .query_with(
                "query($filter: TreatyFilter) { treaties(filter: $filter, first: 100) { totalCount nodes { id } } }",
                json!({ "filter": filter }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{description}: {response:#}");
        assert_eq!(
            as_set(&response["data"]["treaties"]["nodes"]),
            expected,
            "{description}"
        );
        assert_eq!(
            response["data"]["treaties"]["totalCount"],
            json!(expected.len()),
            "{description}"
        );
    }
}

#[tokio::test]
async fn funding_filters_give_the_matching_allocations_and_their_exact_total() {
    // (description, filter, exactly these allocations, totalAmount)
    let cases = [
        (
            "everything Russia gave",
            json!({ "donor": "actor/russia" }),
            set(&["funding/federal-budget-2009", "funding/reconstruction"]),
            json!([{ "amount": "11300000000", "currency": "RUB" }]),
        ),
        (
            "everything South Ossetia received, by bare slug",
            json!({ "recipient": "south-ossetia" }),
            set(&["funding/federal-budget-2009", "funding/reconstruction"]),
            json!([{ "amount": "11300000000", "currency": "RUB" }]),
        ),
        (
            "a donor that gave nothing",
            json!({ "donor": "actor/georgia" }),
            BTreeSet::new(),
            json!([]),
        ),
        (
            "donor and recipient the wrong way round",
            json!({ "donor": "actor/south-ossetia", "recipient": "actor/russia" }),
            BTreeSet::new(),
            json!([]),
        ),
        (
            "dated in 2009 (the undated allocation is left out)",
            json!({ "from": "2009", "to": "2009" }),
            set(&["funding/federal-budget-2009"]),
            json!([{ "amount": "2800000000", "currency": "RUB" }]),
        ),
    ];
    let app = spawn_app().await;

    for (description, filter, expected, total) in cases {
        let response = app
            .query_with(
                "query($filter: FundingFilter) { fundingAllocations(filter: $filter, first: 100) { totalCount totalAmount { amount currency } nodes { id } } }",
                json!({ "filter": filter }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{description}: {response:#}");
        let connection = &response["data"]["fundingAllocations"];
        assert_eq!(as_set(&connection["nodes"]), expected, "{description}");
        assert_eq!(connection["totalCount"], json!(expected.len()), "{description}");
        assert_eq!(connection["totalAmount"], total, "{description}");
    }
}

#[tokio::test]
async fn amounts_beyond_32_bits_come_back_exact_as_decimal_strings() {
    let app = spawn_app().await;

    let data = app
        .data("{ fundingAllocations { totalAmount { amount } nodes { id amount { amount currency } } } }")
        .await;

    let amounts: Vec<(String, Value)> = data["fundingAllocations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_owned(), n["amount"].clone()))
        .collect();
    assert_eq!(
        amounts,
        vec![
            (
                "funding/federal-budget-2009".to_owned(),
                json!({ "amount": "2800000000", "currency": "RUB" })
            ),
            (
                "funding/reconstruction".to_owned(),
                json!({ "amount": "8500000000", "currency": "RUB" })
            ),
        ]
    );
    // Each amount exceeds i32::MAX, which is why they travel as strings.
    for (id, amount) in &amounts {
        let n: i64 = amount["amount"].as_str().unwrap().parse().unwrap();
        assert!(n > i64::from(i32::MAX), "{id}: {n}");
    }
}

// ---- search --------------------------------------------------------------------

#[tokio::test]
async fn search_finds_entities_by_name_alias_and_any_case_or_accent() {
    // (description, query, the best hit)
    let cases = [
        ("a name", "Medvedev", "actor/dmitry-medvedev"),
        ("a name in lower case", "sarkozy", "actor/nicolas-sarkozy"),
        ("an alias spelling variant", "Kokoyty", "actor/eduard-kokoity"),
        ("another alias spelling variant", "Shoigu", "actor/sergey-shoygu"),
        ("an accented spelling", "Kokoïty", "actor/eduard-kokoity"),
        ("upper case", "LAVROV", "actor/sergey-lavrov"),
        ("a place alias", "Tskhinvali", "place/tskhinval"),
        ("a treaty alias", "Helsinki Accords", "treaty/helsinki-final-act-1975"),
        ("an alias with mixed case", "AnatoLIY", "actor/anatoly-serdyukov"),
    ];
    let app = spawn_app().await;

    for (description, query, best) in cases {
        let response = app
            .query_with(
                "query($q: String!) { search(query: $q, first: 10) { score node { id } } }",
                json!({ "q": query }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{description}: {response:#}");
        let hits = &response["data"]["search"];
        assert_eq!(hits[0]["node"]["id"], best, "{description}: `{query}` gave {hits}");
        let scores: Vec<f64> = hits
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["score"].as_f64().unwrap())
            .collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{description}: best matches first: {scores:?}"
        );
    }
}

#[tokio::test]
async fn search_with_every_word_unknown_finds_nothing() {
    let app = spawn_app().await;

    let data = app.data(r#"{ search(query: "medvedev zyxwvut") { score } }"#).await;

    assert_eq!(data["search"], json!([]));
}

// ---- timeline ------------------------------------------------------------------

#[tokio::test]
async fn the_timeline_holds_every_dated_event_in_chronological_order() {
    let app = spawn_app().await;

    let data = app.data("{ timeline { id date period { start end } } }").await;

    let events = data["timeline"].as_array().unwrap();
    let expected = seed_ids("events", |e| e["date"].is_string());
    assert_eq!(as_set(&data["timeline"]), expected, "every dated event, no undated one");
    assert_eq!(events.len(), expected.len(), "no event twice");
    let starts: Vec<&str> = events
        .iter()
        .map(|e| e["period"]["start"].as_str().expect("a dated event has a period"))
        .collect();
    for pair in starts.windows(2) {
        assert!(pair[0] <= pair[1], "out of order: {pair:?} in {starts:?}");
    }
}

#[tokio::test]
async fn the_timeline_filters_by_actor_and_period() {
    struct Case {
        description: &'static str,
        actor: Option<&'static str>,
        from: Option<&'static str>,
        to: Option<&'static str>,
        window: (&'static str, &'static str),
        includes: &'static str,
    }
    let cases = [
        Case {
            description: "one actor, all time",
            actor: Some("actor/eduard-kokoity"),
            from: None,
            to: None,
            window: ("0001-01-01", "9999-12-31"),
            includes: "event/border-treaty-signing",
        },
        Case {
            description: "one actor by bare slug, one year",
            actor: Some("dmitry-medvedev"),
            from: Some("2009"),
            to: Some("2009"),
            window: ("2009-01-01", "2009-12-31"),
            includes: "event/medvedev-visit-tskhinval",
        },
        Case {
            description: "late August 2008, everyone",
            actor: None,
            from: Some("2008-08-20"),
            to: Some("2008-08-31"),
            window: ("2008-08-20", "2008-08-31"),
            includes: "event/recognition-decrees",
        },
        Case {
            description: "a month, everyone",
            actor: None,
            from: Some("2009-03"),
            to: Some("2009-03"),
            window: ("2009-03-01", "2009-03-31"),
            includes: "event/federal-budget-allocation-2009",
        },
    ];
    let app = spawn_app().await;
    let all = app.data("{ timeline { id period { start end } } }").await;

    for case in cases {
        let (start, end) = case.window;
        let actor = case.actor.map(|a| {
            if a.contains('/') {
                a.to_owned()
            } else {
                format!("actor/{a}")
            }
        });
        let theirs = actor.as_deref().map(|a| seed_ids("events", |e| takes_part(e, a)));
        let expected: Vec<String> = all["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| overlaps(&e["period"], start, end))
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .filter(|id| theirs.as_ref().is_none_or(|t| t.contains(id)))
            .collect();
        let response = app
            .query_with(
                "query($actor: ID, $from: String, $to: String) { timeline(actor: $actor, from: $from, to: $to) { id } }",
                json!({ "actor": case.actor, "from": case.from, "to": case.to }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{}: {response:#}", case.description);
        let got = ids(&response["data"]["timeline"]);
        assert!(
            got.iter().any(|id| id == case.includes),
            "{}: {} missing from {got:?}",
            case.description,
            case.includes
        );
        // Same events, and in the same (chronological) order as the full timeline.
        assert_eq!(got, expected, "{}", case.description);
    }
}

// ---- nesting -------------------------------------------------------------------

#[tokio::test]
async fn a_four_level_query_follows_actor_events_participants_and_treaties() {
    let app = spawn_app().await;

    let data = app
        .data(
            r#"{
                actor(id: "actor/dmitry-medvedev") {
                    events(first: 100) {
                        nodes {
                            id
                            participants {
                                role
                                actor {
                                    id
                                    treaties { id }
                                }
                            }
                        }
                    }
                }
            }"#,
        )
        .await;

    let events = data["actor"]["events"]["nodes"].as_array().unwrap();
    assert_eq!(
        as_set(&data["actor"]["events"]["nodes"]),
        seed_ids("events", |e| takes_part(e, "actor/dmitry-medvedev"))
    );
    let signing = events
        .iter()
        .find(|e| e["id"] == "event/border-treaty-signing")
        .expect("Medvedev signed the border treaty");
    let kokoity = signing["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["actor"]["id"] == "actor/eduard-kokoity")
        .expect("Kokoity took part in the signing");
    assert_eq!(kokoity["role"], "SIGNATORY");
    // Level four: the treaties of another participant of the signing, Russia.
    let russia = signing["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["actor"]["id"] == "actor/russia")
        .expect("Russia is a party at the signing");
    let treaties = as_set(&russia["actor"]["treaties"]);
    assert!(treaties.contains("treaty/border-protection-2009"), "{treaties:?}");
    assert_eq!(
        treaties,
        seed_ids("treaties", |t| {
            strings_at(t, &["parties", "*"]).contains(&"actor/russia".to_owned())
        })
    );
}

// ---- errors --------------------------------------------------------------------

#[tokio::test]
async fn bad_arguments_are_refused_with_bad_user_input_naming_the_argument() {
    // (description, query, the argument the error must name)
    let cases = [
        ("a malformed id", r#"{ actor(id: "Not An Id") { name } }"#, "id"),
        (
            "a malformed id given to node",
            r#"{ node(id: "no slash here!") { id } }"#,
            "id",
        ),
        (
            "an id of the wrong kind",
            r#"{ treaty(id: "actor/russia") { name } }"#,
            "id",
        ),
        ("a negative `first`", "{ events(first: -1) { totalCount } }", "first"),
        ("a negative `last`", "{ actors(last: -5) { totalCount } }", "last"),
        ("`first` above 100", "{ events(first: 101) { totalCount } }", "first"),
        (
            "`last` above 100 on a nested connection",
            r#"{ actor(id: "russia") { events(last: 1000) { totalCount } } }"#,
            "last",
        ),
        (
            "a cursor the API never issued",
            r#"{ events(after: "not a cursor") { totalCount } }"#,
            "after",
        ),
        (
            "a `before` cursor the API never issued",
            r#"{ treaties(before: "xyz") { totalCount } }"#,
            "before",
        ),
        (
            "month 13 in an event filter",
            r#"{ events(filter: { from: "2009-13" }) { totalCount } }"#,
            "filter.from",
        ),
        (
            "a day that does not exist in an event filter",
            r#"{ events(filter: { to: "2009-02-29" }) { totalCount } }"#,
            "filter.to",
        ),
        (
            "words instead of a date in a treaty filter",
            r#"{ treaties(filter: { signedFrom: "last spring" }) { totalCount } }"#,
            "filter.signedFrom",
        ),
        (
            "an American date in the timeline",
            r#"{ timeline(from: "08/26/2008") { id } }"#,
            "from",
        ),
        (
            "a name where an actor id belongs",
            r#"{ events(filter: { actor: "Dmitry Medvedev" }) { totalCount } }"#,
            "filter.actor",
        ),
        (
            "a negative number of search hits",
            r#"{ search(query: "russia", first: -1) { score } }"#,
            "first",
        ),
    ];
    let app = spawn_app().await;

    for (description, query, argument) in cases {
        let response = app.query(query).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{description}: {response:#}");
        let error = &response["errors"][0];
        assert_eq!(error["extensions"]["argument"], argument, "{description}: {response:#}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("`{argument}`")),
            "{description}: the message names `{argument}`: {message}"
        );
        assert!(
            response["data"].is_null()
                || response["data"]
                    .as_object()
                    .is_some_and(|d| d.values().all(Value::is_null)),
            "{description}: no data for the failed field: {response:#}"
        );
    }
}

#[tokio::test]
async fn an_unknown_but_well_formed_id_gives_null_without_an_error() {
    let cases = [
        r#"{ found: node(id: "place/atlantis") { id } }"#,
        r#"{ found: actor(id: "actor/nobody-at-all") { id } }"#,
        r#"{ found: actor(id: "nobody-at-all") { id } }"#,
        r#"{ found: event(id: "event/never-happened") { id } }"#,
        r#"{ found: treaty(id: "treaty/of-nowhere") { id } }"#,
        r#"{ found: fundingAllocation(id: "funding/no-money") { id } }"#,
        r#"{ found: place(id: "atlantis") { id } }"#,
        r#"{ found: source(id: "source/rumour") { id } }"#,
    ];
    let app = spawn_app().await;

    for query in cases {
        let response = app.query(query).await;
        assert_eq!(response, json!({ "data": { "found": null } }), "{query}");
    }
}

#[tokio::test]
async fn an_unknown_field_is_an_error_that_names_the_field() {
    // A validation error is a request error: legacy JSON clients get 200, while
    // `application/graphql-response+json` clients get 400 (GraphQL over HTTP).
    // (Accept, status, Content-Type)
    let cases = [
        ("application/json", 200, "application/json"),
        (
            "application/graphql-response+json",
            400,
            "application/graphql-response+json",
        ),
    ];
    let app = spawn_app().await;

    for (accept, status, content_type) in cases {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .header("accept", accept)
            .json(&json!({ "query": r#"{ actor(id: "russia") { name nickname } }"# }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), status, "Accept: {accept}");
        let got_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got_type.starts_with(content_type), "Accept: {accept}: {got_type}");
        let body: Value = response.json().await.expect("JSON body");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("nickname"),
            "Accept: {accept}: the message names the field: {body:#}"
        );
        assert!(body.get("data").is_none(), "Accept: {accept}: nothing ran: {body:#}");
    }
}

// ---- descriptions --------------------------------------------------------------

#[tokio::test]
async fn every_type_field_argument_and_enum_value_has_a_description() {
    const BUILT_IN: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];
    const FEDERATION_TYPES: &[&str] = &["_Any", "_Entity", "_Service"];
    const FEDERATION_FIELDS: &[&str] = &["_service", "_entities"];
    let app = spawn_app().await;

    let data = app
        .data(
            r#"{ __schema { types {
                name description
                fields(includeDeprecated: true) { name description args { name description } }
                inputFields { name description }
                enumValues(includeDeprecated: true) { name description }
            } } }"#,
        )
        .await;

    let described = |v: &Value| v["description"].as_str().is_some_and(|d| !d.trim().is_empty());
    let mut missing = Vec::new();
    for ty in data["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        // async-graphql builds the federation types without descriptions;
        // they are for gateways, and the public schema leaves them out.
        if name.starts_with("__") || BUILT_IN.contains(&name) || FEDERATION_TYPES.contains(&name) {
            continue;
        }
        if !described(ty) {
            missing.push(format!("type {name}"));
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().unwrap();
            if name == "Query" && FEDERATION_FIELDS.contains(&field_name) {
                continue;
            }
            if !described(field) {
                missing.push(format!("field {name}.{field_name}"));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if !described(arg) {
                    missing.push(format!("argument {name}.{field_name}({})", arg["name"]));
                }
            }
        }
        for field in ty["inputFields"].as_array().into_iter().flatten() {
            if !described(field) {
                missing.push(format!("input field {name}.{}", field["name"]));
            }
        }
        for value in ty["enumValues"].as_array().into_iter().flatten() {
            if !described(value) {
                missing.push(format!("enum value {name}.{}", value["name"]));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} items lack a description:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[tokio::test]
async fn typename_with_include_skip_and_a_boolean_or_a_declared_variable_still_runs() {
    let app = crate::helpers::spawn_app().await;
    let data = app
        .data(r#"{ a: __typename @include(if: true) b: __typename @skip(if: true) }"#)
        .await;
    assert_eq!(data, serde_json::json!({ "a": "Query" }));
    let answer = app
        .query_with(
            r#"query($show: Boolean!) { __typename @include(if: $show) actor(id: "actor/russia") @include(if: $show) { name } }"#,
            serde_json::json!({ "show": true }),
        )
        .await;
    assert_eq!(
        answer["data"],
        serde_json::json!({ "__typename": "Query", "actor": { "name": "Russia" } }),
        "{answer}"
    );
}

/// The keys of `treaty` in an answer, in the order they were written.
fn treaty_keys(answer: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(answer).unwrap();
    value["data"]["treaty"]
        .as_object()
        .unwrap_or_else(|| panic!("{answer}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn keys_come_back_in_selection_order_on_a_first_run_a_plan_run_and_a_cache_hit() {
    // Asked in another order than the type declares its fields, with fields
    // that read other entities between scalars.
    let query = r#"{ treaty(id: "treaty/friendship-2008") { name signedOn enteredIntoForceOn
        signedAt { name } signatories { name } ratifications { date } provisions fundingAllocations { id }
        kind parties { id } id } }"#;
    let asked = [
        "name",
        "signedOn",
        "enteredIntoForceOn",
        "signedAt",
        "signatories",
        "ratifications",
        "provisions",
        "fundingAllocations",
        "kind",
        "parties",
        "id",
    ];
    for cached in [true, false] {
        let app = crate::helpers::spawn_app_with(|s| s.response_cache = cached).await;
        for run in ["first run", if cached { "cache hit" } else { "plan run" }] {
            let response = app
                .client
                .post(format!("{}/graphql", app.address))
                .json(&serde_json::json!({ "query": query }))
                .send()
                .await
                .unwrap();
            let hit = response
                .headers()
                .get("x-cache")
                .map(|v| v.to_str().unwrap().to_owned());
            let answer = response.text().await.unwrap();
            assert_eq!(treaty_keys(&answer), asked, "{run}: {answer}");
            if run == "cache hit" {
                assert_eq!(hit.as_deref(), Some("hit"), "{run}");
            }
        }
    }
}
