//! Every relation, read from both ends. For each one the test lists every
//! entity on each side, collects the (from, to) pairs each direction reports,
//! and requires both to equal what the seed files say. A relation whose
//! reverse index drifted from its forward field fails here, naming the pairs.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{ids, seed_records, spawn_app, strings_at, TestApp};

type Pairs = BTreeSet<(String, String)>;

/// A kind of entity, listed whole so a relation can be read from every entity.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Actor,
    Event,
    Treaty,
    Funding,
    Place,
    Source,
}

impl Kind {
    fn seed_file(self) -> &'static str {
        match self {
            Kind::Actor => "actors",
            Kind::Event => "events",
            Kind::Treaty => "treaties",
            Kind::Funding => "funding",
            Kind::Place => "places",
            Kind::Source => "sources",
        }
    }

    /// A query for every entity of this kind with its `id` and `selection`,
    /// and where in the answer the list is. Sources have no listing of their
    /// own, so they are fetched through `nodes` by the ids in the seed.
    fn list_all(self, selection: &str) -> (String, &'static str) {
        let connection = |field: &str| {
            (
                format!("{{ all: {field}(first: 100) {{ nodes {{ id {selection} }} }} }}"),
                "/all/nodes",
            )
        };
        match self {
            Kind::Actor => connection("actors"),
            Kind::Event => connection("events"),
            Kind::Treaty => connection("treaties"),
            Kind::Funding => connection("fundingAllocations"),
            Kind::Place => connection("places"),
            Kind::Source => {
                let ids = json!(ids(&Value::Array(seed_records("sources"))));
                (
                    format!("{{ all: nodes(ids: {ids}) {{ ... on Source {{ id {selection} }} }} }}"),
                    "/all",
                )
            }
        }
    }
}

/// One end of a relation: a field of `kind`, and the path from an entity
/// to the ids the field leads to.
struct Side {
    kind: Kind,
    selection: &'static str,
    path: &'static [&'static str],
}

/// A relation and its inverse, with what the seed says and one pair from the
/// seed that both ends must show.
struct Relation {
    /// Pairs read as (entity of `forward.kind`, target).
    forward: Side,
    /// Pairs read as (entity of `backward.kind`, target), compared swapped.
    backward: Side,
    /// Where the forward field lives in the forward kind's seed records.
    seed: &'static [&'static str],
    example: (&'static str, &'static str),
}

/// Every (entity, target) pair a side reports, over every entity of its kind.
async fn read(app: &TestApp, side: &Side) -> Pairs {
    let (query, pointer) = side.kind.list_all(side.selection);
    let data = app.data(&query).await;
    let all = data
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no list at {pointer}: {data:#}"));
    assert_eq!(
        all.len(),
        seed_records(side.kind.seed_file()).len(),
        "the listing of {:?} must hold every entity for the comparison to mean anything",
        side.kind
    );
    all.iter()
        .flat_map(|entity| {
            let id = entity["id"].as_str().expect("an id").to_owned();
            strings_at(entity, side.path)
                .into_iter()
                .map(move |target| (id.clone(), target))
        })
        .collect()
}

/// The (record, target) pairs a path leads to in a seed file.
fn seed_pairs(kind: Kind, path: &[&str]) -> Pairs {
    seed_records(kind.seed_file())
        .iter()
        .flat_map(|record| {
            let id = record["id"].as_str().expect("an id").to_owned();
            strings_at(record, path)
                .into_iter()
                .map(move |target| (id.clone(), target))
        })
        .collect()
}

fn swap(pairs: Pairs) -> Pairs {
    pairs.into_iter().map(|(a, b)| (b, a)).collect()
}

/// What one direction got wrong, or nothing.
fn differences(name: &str, got: &Pairs, expected: &Pairs) -> Option<String> {
    let missing: Vec<_> = expected.difference(got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    (!missing.is_empty() || !extra.is_empty()).then(|| format!("{name}: missing {missing:?}, unexpected {extra:?}"))
}

/// Reads a relation from both ends and requires both to agree with the seed
/// (and so with each other).
async fn check(relation: Relation) {
    let app = spawn_app().await;
    let expected = seed_pairs(relation.forward.kind, relation.seed);
    let example = (relation.example.0.to_owned(), relation.example.1.to_owned());
    assert!(
        expected.contains(&example),
        "the example {example:?} is not in the seed"
    );

    let forward = read(&app, &relation.forward).await;
    let backward = swap(read(&app, &relation.backward).await);

    let forward_name = format!("{:?}.{}", relation.forward.kind, relation.forward.selection);
    let backward_name = format!("{:?}.{}", relation.backward.kind, relation.backward.selection);
    assert!(forward.contains(&example), "{forward_name} lacks {example:?}");
    assert!(
        backward.contains(&example),
        "{backward_name} lacks {example:?} (read from {})",
        example.1
    );
    let problems: Vec<String> = [
        differences(&forward_name, &forward, &expected),
        differences(&backward_name, &backward, &expected),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- events ----------------------------------------------------------------------

#[tokio::test]
async fn event_participants_and_actor_events_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "participants { actor { id } }",
            path: &["participants", "*", "actor", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "events(first: 50) { nodes { id } }",
            path: &["events", "nodes", "*", "id"],
        },
        seed: &["participants", "*", "actor"],
        example: ("event/recognition-decrees", "actor/dmitry-medvedev"),
    })
    .await;
}

#[tokio::test]
async fn event_participants_and_actor_participations_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "participants { actor { id } }",
            path: &["participants", "*", "actor", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "participations { event { id } }",
            path: &["participations", "*", "event", "id"],
        },
        seed: &["participants", "*", "actor"],
        example: ("event/kokoity-flies-to-moscow", "actor/eduard-kokoity"),
    })
    .await;
}

#[tokio::test]
async fn the_role_of_a_participant_is_the_same_from_the_event_and_from_the_actor() {
    let app = spawn_app().await;
    let expected: BTreeSet<(String, String, String)> = seed_records("events")
        .iter()
        .flat_map(|e| {
            let event = e["id"].as_str().unwrap().to_owned();
            e["participants"].as_array().into_iter().flatten().map(move |p| {
                (
                    event.clone(),
                    p["actor"].as_str().unwrap().to_owned(),
                    p["role"].as_str().unwrap().to_ascii_uppercase(),
                )
            })
        })
        .collect();
    assert!(expected.contains(&(
        "event/border-treaty-signing".into(),
        "actor/eduard-kokoity".into(),
        "SIGNATORY".into()
    )));

    let events = app
        .data("{ events(first: 100) { nodes { id participants { role actor { id } } } } }")
        .await;
    let from_events: BTreeSet<(String, String, String)> = events["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let event = e["id"].as_str().unwrap().to_owned();
            e["participants"].as_array().unwrap().iter().map(move |p| {
                (
                    event.clone(),
                    p["actor"]["id"].as_str().unwrap_or("<null>").to_owned(),
                    p["role"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    let actors = app
        .data("{ actors(first: 100) { nodes { id participations { role event { id } } } } }")
        .await;
    let from_actors: BTreeSet<(String, String, String)> = actors["actors"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            let actor = a["id"].as_str().unwrap().to_owned();
            a["participations"].as_array().unwrap().iter().map(move |p| {
                (
                    p["event"]["id"].as_str().unwrap().to_owned(),
                    actor.clone(),
                    p["role"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();

    assert_eq!(from_events, expected, "Event.participants");
    assert_eq!(from_actors, expected, "Actor.participations");
}

#[tokio::test]
async fn event_place_and_place_events_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "place { id }",
            path: &["place", "id"],
        },
        backward: Side {
            kind: Kind::Place,
            // The events recorded at the place itself; by default the
            // list also holds those at the places within it.
            selection: "events(includeWithin: false) { id }",
            path: &["events", "*", "id"],
        },
        seed: &["place"],
        example: ("event/friendship-treaty-signing", "place/kremlin"),
    })
    .await;
}

#[tokio::test]
async fn event_treaties_and_treaty_events_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "treaties { id }",
            path: &["treaties", "*", "id"],
        },
        backward: Side {
            kind: Kind::Treaty,
            selection: "events { id }",
            path: &["events", "*", "id"],
        },
        seed: &["treaties", "*"],
        example: ("event/friendship-treaty-ratification", "treaty/friendship-2008"),
    })
    .await;
}

#[tokio::test]
async fn event_part_of_and_event_parts_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "partOf { id }",
            path: &["partOf", "id"],
        },
        backward: Side {
            kind: Kind::Event,
            selection: "parts { id }",
            path: &["parts", "*", "id"],
        },
        seed: &["part_of"],
        example: ("event/medvedev-visits-military-base", "event/medvedev-visit-tskhinval"),
    })
    .await;
}

#[tokio::test]
async fn event_retracted_by_and_event_retracts_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "retractedBy { id }",
            path: &["retractedBy", "id"],
        },
        backward: Side {
            kind: Kind::Event,
            selection: "retracts { id }",
            path: &["retracts", "*", "id"],
        },
        seed: &["retracted_by"],
        example: (
            "event/kokoity-joining-russia-remark",
            "event/kokoity-interfax-retraction",
        ),
    })
    .await;
}

#[tokio::test]
async fn event_after_and_event_followed_by_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "after { id }",
            path: &["after", "*", "id"],
        },
        backward: Side {
            kind: Kind::Event,
            selection: "followedBy { id }",
            path: &["followedBy", "*", "id"],
        },
        seed: &["after", "*"],
        example: ("event/recognition-decrees", "event/state-duma-motion"),
    })
    .await;
}

#[tokio::test]
async fn event_fundings_and_funding_event_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Funding,
            selection: "event { id }",
            path: &["event", "id"],
        },
        backward: Side {
            kind: Kind::Event,
            selection: "fundingAllocations { id }",
            path: &["fundingAllocations", "*", "id"],
        },
        seed: &["event"],
        example: ("funding/federal-budget-2009", "event/federal-budget-allocation-2009"),
    })
    .await;
}

#[tokio::test]
async fn figure_claimed_by_and_actor_claimed_figures_in_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Event,
            selection: "figures { claimedBy { id } }",
            path: &["figures", "*", "claimedBy", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "claimedFiguresIn { id }",
            path: &["claimedFiguresIn", "*", "id"],
        },
        seed: &["figures", "*", "claimed_by"],
        example: ("event/kokoity-destruction-claim", "actor/eduard-kokoity"),
    })
    .await;
}

// ---- actors ----------------------------------------------------------------------

#[tokio::test]
async fn actor_positions_and_actor_position_holders_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Actor,
            selection: "positions { of { id } }",
            path: &["positions", "*", "of", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "positionHolders { id }",
            path: &["positionHolders", "*", "id"],
        },
        seed: &["positions", "*", "of"],
        example: ("actor/sergey-lavrov", "actor/russian-mfa"),
    })
    .await;
}

#[tokio::test]
async fn actor_part_of_and_actor_parts_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Actor,
            selection: "partOf { id }",
            path: &["partOf", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "parts { id }",
            path: &["parts", "*", "id"],
        },
        seed: &["part_of"],
        example: ("actor/state-duma", "actor/russian-federal-assembly"),
    })
    .await;
}

// ---- treaties --------------------------------------------------------------------

#[tokio::test]
async fn treaty_parties_and_actor_treaties_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Treaty,
            selection: "parties { id }",
            path: &["parties", "*", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "treaties { id }",
            path: &["treaties", "*", "id"],
        },
        seed: &["parties", "*"],
        example: ("treaty/friendship-2008", "actor/south-ossetia"),
    })
    .await;
}

#[tokio::test]
async fn treaty_signatories_and_actor_signed_treaties_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Treaty,
            selection: "signatories { id }",
            path: &["signatories", "*", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "signedTreaties { id }",
            path: &["signedTreaties", "*", "id"],
        },
        seed: &["signatories", "*"],
        example: ("treaty/diplomatic-notes-2008", "actor/murat-dzhioyev"),
    })
    .await;
}

#[tokio::test]
async fn treaty_ratifications_and_actor_ratified_treaties_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Treaty,
            selection: "ratifications { by { id } }",
            path: &["ratifications", "*", "by", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "ratifiedTreaties { id }",
            path: &["ratifiedTreaties", "*", "id"],
        },
        seed: &["ratifications", "*", "by"],
        example: ("treaty/friendship-2008", "actor/state-duma"),
    })
    .await;
}

#[tokio::test]
async fn treaty_mediator_and_actor_mediated_treaties_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Treaty,
            selection: "mediator { id }",
            path: &["mediator", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "mediatedTreaties { id }",
            path: &["mediatedTreaties", "*", "id"],
        },
        seed: &["mediator"],
        example: ("treaty/ceasefire-2008", "actor/nicolas-sarkozy"),
    })
    .await;
}

#[tokio::test]
async fn treaty_signed_at_and_place_treaties_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Treaty,
            selection: "signedAt { id }",
            path: &["signedAt", "id"],
        },
        backward: Side {
            kind: Kind::Place,
            selection: "treaties { id }",
            path: &["treaties", "*", "id"],
        },
        seed: &["signed_at"],
        example: ("treaty/border-protection-2009", "place/kremlin"),
    })
    .await;
}

#[tokio::test]
async fn treaty_based_on_and_treaty_derived_treaties_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Treaty,
            selection: "basedOn { id }",
            path: &["basedOn", "id"],
        },
        backward: Side {
            kind: Kind::Treaty,
            selection: "derivedTreaties { id }",
            path: &["derivedTreaties", "*", "id"],
        },
        seed: &["based_on"],
        example: ("treaty/finance-agreements-2009", "treaty/friendship-2008"),
    })
    .await;
}

// ---- funding ---------------------------------------------------------------------

#[tokio::test]
async fn funding_donor_and_actor_funding_provided_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Funding,
            selection: "donor { id }",
            path: &["donor", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "fundingProvided { id }",
            path: &["fundingProvided", "*", "id"],
        },
        seed: &["donor"],
        example: ("funding/reconstruction", "actor/russia"),
    })
    .await;
}

#[tokio::test]
async fn funding_recipient_and_actor_funding_received_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Funding,
            selection: "recipient { id }",
            path: &["recipient", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "fundingReceived { id }",
            path: &["fundingReceived", "*", "id"],
        },
        seed: &["recipient"],
        example: ("funding/federal-budget-2009", "actor/south-ossetia"),
    })
    .await;
}

#[tokio::test]
async fn funding_authorized_by_and_actor_funding_authorized_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Funding,
            selection: "authorizedBy { id }",
            path: &["authorizedBy", "id"],
        },
        backward: Side {
            kind: Kind::Actor,
            selection: "fundingAuthorized { id }",
            path: &["fundingAuthorized", "*", "id"],
        },
        seed: &["authorized_by"],
        example: ("funding/federal-budget-2009", "actor/vladimir-putin"),
    })
    .await;
}

#[tokio::test]
async fn funding_basis_and_treaty_funding_allocations_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Funding,
            selection: "basis { id }",
            path: &["basis", "id"],
        },
        backward: Side {
            kind: Kind::Treaty,
            selection: "fundingAllocations { id }",
            path: &["fundingAllocations", "*", "id"],
        },
        seed: &["basis"],
        example: ("funding/federal-budget-2009", "treaty/finance-agreements-2009"),
    })
    .await;
}

// ---- places and sources ----------------------------------------------------------

#[tokio::test]
async fn place_within_and_place_contains_agree() {
    check(Relation {
        forward: Side {
            kind: Kind::Place,
            selection: "within { id }",
            path: &["within", "id"],
        },
        backward: Side {
            kind: Kind::Place,
            selection: "contains { id }",
            path: &["contains", "*", "id"],
        },
        seed: &["within"],
        example: ("place/kremlin", "place/moscow"),
    })
    .await;
}

#[tokio::test]
async fn the_sources_of_every_kind_and_source_cited_by_agree() {
    // (kind, an entity of that kind and one source it cites)
    let cases = [
        (Kind::Actor, ("actor/russia", "source/economic-ties")),
        (Kind::Event, ("event/war-2008", "source/economic-ties")),
        (Kind::Treaty, ("treaty/friendship-2008", "source/economic-ties")),
        (Kind::Funding, ("funding/reconstruction", "source/economic-ties")),
        (Kind::Place, ("place/tskhinval", "source/economic-ties")),
    ];
    let app = spawn_app().await;
    let cited_by = swap(
        read(
            &app,
            &Side {
                kind: Kind::Source,
                selection: "citedBy { id }",
                path: &["citedBy", "*", "id"],
            },
        )
        .await,
    );

    let mut every_citation = Pairs::new();
    for (kind, (entity, source)) in cases {
        let expected = seed_pairs(kind, &["sources", "*"]);
        let example = (entity.to_owned(), source.to_owned());
        assert!(expected.contains(&example), "{example:?} is not in the seed");
        let forward = read(
            &app,
            &Side {
                kind,
                selection: "sources { id }",
                path: &["sources", "*", "id"],
            },
        )
        .await;
        assert_eq!(forward, expected, "{kind:?}.sources");
        let prefix = format!("{}/", entity.split('/').next().unwrap());
        let backward: Pairs = cited_by
            .iter()
            .filter(|(e, _)| e.starts_with(&prefix))
            .cloned()
            .collect();
        assert!(backward.contains(&example), "Source.citedBy lacks {example:?}");
        assert_eq!(backward, expected, "Source.citedBy for {kind:?}");
        every_citation.extend(expected);
    }
    assert_eq!(
        cited_by, every_citation,
        "Source.citedBy names nothing beyond the entities that cite it"
    );
}

// ---- order -----------------------------------------------------------------------

#[tokio::test]
async fn related_events_documented_as_chronological_come_in_chronological_order() {
    // (description, query, where the list is, path from an item to its period start)
    let cases: [(&str, &str, &str, &[&str]); 4] = [
        (
            "Place.events",
            r#"{ place(id: "place/tskhinval") { events { period { start } } } }"#,
            "/place/events",
            &["period", "start"],
        ),
        (
            "Treaty.events",
            r#"{ treaty(id: "treaty/friendship-2008") { events { period { start } } } }"#,
            "/treaty/events",
            &["period", "start"],
        ),
        (
            "Actor.participations",
            r#"{ actor(id: "actor/dmitry-medvedev") { participations { event { period { start } } } } }"#,
            "/actor/participations",
            &["event", "period", "start"],
        ),
        (
            "Actor.events",
            r#"{ actor(id: "actor/russia") { events(first: 100) { nodes { period { start } } } } }"#,
            "/actor/events/nodes",
            &["period", "start"],
        ),
    ];
    let app = spawn_app().await;

    for (description, query, pointer, path) in cases {
        let data = app.data(query).await;
        let items = data.pointer(pointer).and_then(Value::as_array).unwrap();
        assert!(items.len() > 1, "{description}: too few to order");
        // Undated events (no start) come last.
        let starts: Vec<Option<String>> = items
            .iter()
            .map(|item| strings_at(item, path).into_iter().next())
            .collect();
        for pair in starts.windows(2) {
            let in_order = match (&pair[0], &pair[1]) {
                (Some(a), Some(b)) => a <= b,
                (Some(_), None) | (None, None) => true,
                (None, Some(_)) => false,
            };
            assert!(in_order, "{description}: out of order: {starts:?}");
        }
    }
}
