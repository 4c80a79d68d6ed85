//! The seed loader: bad seeds are refused whole, with problems that name the
//! file, the entity and the field; good seeds load once, resume after a
//! crash, and a changed seed is merged (or, on request, replaces the old).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use diplograph::model::{Actor, Entity, EntityKind, Event, EventKind, Origin, Participant, Place, PlaceKind, Role};
use diplograph::seed::{self, LoadOutcome, Problem, SeedError};
use diplograph::store::{Change, SeedState, Store, StoreError, FORMAT_VERSION};
use tempfile::TempDir;

use crate::helpers::{id, seed_dir};

/// A small valid seed that the bad cases below change one file of.
const BASE_PLACES: &str = r#"[
  { "id": "place/moscow", "name": "Moscow", "kind": "city" }
]"#;

const BASE_ACTORS: &str = r#"[
  { "id": "actor/russia", "name": "Russia", "kind": "state" },
  { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" }
]"#;

const BASE_EVENTS: &str = r#"[
  {
    "id": "event/recognition",
    "title": "Russia recognises South Ossetia",
    "kind": "recognition",
    "date": "2008-08-26",
    "place": "place/moscow",
    "participants": [
      { "actor": "actor/russia", "role": "actor" },
      { "actor": "actor/south-ossetia", "role": "target" }
    ]
  }
]"#;

const BASE_FUNDING: &str = r#"[
  {
    "id": "funding/budget",
    "title": "Budget support",
    "amount": { "amount": 2800000000, "currency": "RUB" },
    "donor": "actor/russia",
    "recipient": "actor/south-ossetia",
    "purpose": "Budget support"
  }
]"#;

const BASE: &[(&str, &str)] = &[
    ("places.json", BASE_PLACES),
    ("actors.json", BASE_ACTORS),
    ("events.json", BASE_EVENTS),
    ("funding.json", BASE_FUNDING),
];

/// Writes the base seed into a fresh directory, then `files` over it (a file
/// of the same name replaces the base one).
pub(crate) fn seed_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary seed directory");
    for (name, content) in BASE.iter().chain(files) {
        std::fs::write(dir.path().join(name), content).expect("write a seed file");
    }
    dir
}

/// Asserts that the store holds nothing at all and records no seed.
fn assert_empty(store: &Store, description: &str) {
    for kind in EntityKind::ALL {
        assert_eq!(
            store.count(kind).unwrap(),
            0,
            "{description}: the count of {} should be 0",
            kind.plural()
        );
        assert!(
            store.all(kind).unwrap().is_empty(),
            "{description}: no {} should be stored",
            kind.plural()
        );
    }
    assert_eq!(
        store.seed_state().unwrap(),
        SeedState::Empty,
        "{description}: no seed state should be recorded"
    );
    assert_eq!(
        store.generation().unwrap(),
        0,
        "{description}: nothing should have been written"
    );
    assert_eq!(store.verify().unwrap(), Vec::<String>::new(), "{description}");
}

/// Per-kind counts of what the store holds.
fn counts(store: &Store) -> Vec<(EntityKind, u64)> {
    EntityKind::ALL
        .into_iter()
        .map(|k| (k, store.count(k).unwrap()))
        .collect()
}

/// The problems of a load that must be refused as invalid.
fn invalid<T: std::fmt::Debug>(result: Result<T, SeedError>, description: &str) -> (Vec<Problem>, String) {
    let error = result.expect_err(description);
    let SeedError::Invalid(problems) = &error else {
        panic!("{description}: expected SeedError::Invalid, got {error:?}");
    };
    (problems.clone(), error.to_string())
}

fn file_name(problem: &Problem) -> &str {
    problem.file.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

struct BadSeed {
    description: &'static str,
    /// Files written over the base seed.
    files: &'static [(&'static str, &'static str)],
    /// The file the problem must name.
    file: &'static str,
    /// The entity id it must name, when the entity has one.
    id: Option<&'static str>,
    /// The field it must name, when one is at fault.
    field: Option<&'static str>,
    /// Words the message must contain, so the reason is the one intended.
    message: &'static str,
}

const BAD_SEEDS: &[BadSeed] = &[
    BadSeed {
        description: "a place within a place within it",
        files: &[(
            "places.json",
            r#"[
              { "id": "place/moscow", "name": "Moscow", "kind": "city", "within": "place/russia" },
              { "id": "place/russia", "name": "Russia", "kind": "country", "within": "place/moscow" }
            ]"#,
        )],
        file: "places.json",
        id: Some("place/moscow"),
        field: Some("within"),
        message: "cycle",
    },
    BadSeed {
        description: "a place within itself",
        files: &[(
            "places.json",
            r#"[ { "id": "place/moscow", "name": "Moscow", "kind": "city", "within": "place/moscow" } ]"#,
        )],
        file: "places.json",
        id: Some("place/moscow"),
        field: Some("within"),
        message: "within itself",
    },
    BadSeed {
        description: "a response to an event that no file defines",
        files: &[(
            "events.json",
            r#"[ { "id": "event/denial", "title": "Denial", "kind": "statement",
                   "responds": [ { "event": "event/remark", "kind": "denies" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/denial"),
        field: Some("responds.event"),
        message: "no seed file defines",
    },
    BadSeed {
        description: "an event answering itself",
        files: &[(
            "events.json",
            r#"[ { "id": "event/denial", "title": "Denial", "kind": "statement",
                   "responds": [ { "event": "event/denial", "kind": "denies" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/denial"),
        field: Some("responds[0].event"),
        message: "cannot answer itself",
    },
    BadSeed {
        description: "two events each answering the other",
        files: &[(
            "events.json",
            r#"[ { "id": "event/denial", "title": "Denial", "kind": "statement",
                   "responds": [ { "event": "event/remark", "kind": "denies" } ] },
                 { "id": "event/remark", "title": "Remark", "kind": "statement",
                   "responds": [ { "event": "event/denial", "kind": "condemns" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/denial"),
        field: Some("responds.event"),
        message: "cycle",
    },
    BadSeed {
        description: "a retraction written as a response instead of as retracted_by",
        files: &[(
            "events.json",
            r#"[ { "id": "event/remark", "title": "Remark", "kind": "statement" },
                 { "id": "event/retraction", "title": "Retraction", "kind": "retraction",
                   "responds": [ { "event": "event/remark", "kind": "retracts" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/retraction"),
        field: Some("responds[0].kind"),
        message: "set `retracted_by` (`retractedBy` through the API) of `event/remark` to `event/retraction`",
    },
    BadSeed {
        description: "two responses to the same event",
        files: &[(
            "events.json",
            r#"[ { "id": "event/remark", "title": "Remark", "kind": "statement" },
                 { "id": "event/denial", "title": "Denial", "kind": "statement",
                   "responds": [ { "event": "event/remark", "kind": "denies" },
                                 { "event": "event/remark", "kind": "condemns" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/denial"),
        field: Some("responds[1].event"),
        message: "already answered by responds[0]",
    },
    BadSeed {
        description: "two actors each part of the other",
        files: &[(
            "actors.json",
            r#"[
              { "id": "actor/russia", "name": "Russia", "kind": "state", "part_of": "actor/south-ossetia" },
              { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state", "part_of": "actor/russia" }
            ]"#,
        )],
        file: "actors.json",
        id: Some("actor/russia"),
        field: Some("part_of"),
        message: "cycle",
    },
    BadSeed {
        description: "an id used twice in one file",
        files: &[(
            "actors.json",
            r#"[
              { "id": "actor/russia", "name": "Russia", "kind": "state" },
              { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" },
              { "id": "actor/russia", "name": "Russian Federation", "kind": "state" }
            ]"#,
        )],
        file: "actors.json",
        id: Some("actor/russia"),
        field: Some("id"),
        message: "duplicate id",
    },
    BadSeed {
        // Topic files (`actors-*.json`) sort before `actors.json`, so the
        // second sighting, the one reported, is in `actors.json`.
        description: "an id used in two files",
        files: &[(
            "actors-extra.json",
            r#"[ { "id": "actor/south-ossetia", "name": "Republic of South Ossetia", "kind": "unrecognised_state" } ]"#,
        )],
        file: "actors.json",
        id: Some("actor/south-ossetia"),
        field: Some("id"),
        message: "duplicate id",
    },
    BadSeed {
        description: "a participant that no file defines",
        files: &[(
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally",
                   "participants": [ { "actor": "actor/nobody", "role": "actor" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/rally"),
        field: Some("participants.actor"),
        message: "actor/nobody",
    },
    BadSeed {
        description: "a place id where a participant's actor belongs",
        files: &[(
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally",
                   "participants": [ { "actor": "place/moscow", "role": "actor" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/rally"),
        field: Some("participants.actor"),
        message: "is a place id, but a actor id is required",
    },
    BadSeed {
        description: "an actor id where a treaty's place of signing belongs",
        files: &[(
            "treaties.json",
            r#"[ { "id": "treaty/friendship", "name": "Friendship treaty", "kind": "treaty",
                   "signed_at": "actor/russia" } ]"#,
        )],
        file: "treaties.json",
        id: Some("treaty/friendship"),
        field: Some("signed_at"),
        message: "is a actor id, but a place id is required",
    },
    BadSeed {
        description: "a date that does not exist (30 February)",
        files: &[(
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally", "date": "2009-02-30" } ]"#,
        )],
        file: "events.json",
        id: Some("event/rally"),
        field: Some("date"),
        message: "day 30 does not exist",
    },
    BadSeed {
        description: "a date written in words",
        files: &[(
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally", "date": "March 2009" } ]"#,
        )],
        file: "events.json",
        id: Some("event/rally"),
        field: Some("date"),
        message: "March 2009",
    },
    BadSeed {
        description: "a negative amount",
        files: &[(
            "funding.json",
            r#"[ { "id": "funding/budget", "title": "Budget", "purpose": "Budget",
                   "amount": { "amount": -5, "currency": "RUB" },
                   "donor": "actor/russia", "recipient": "actor/south-ossetia" } ]"#,
        )],
        file: "funding.json",
        id: Some("funding/budget"),
        field: Some("amount.amount"),
        message: "-5",
    },
    BadSeed {
        description: "an amount of zero",
        files: &[(
            "funding.json",
            r#"[ { "id": "funding/budget", "title": "Budget", "purpose": "Budget",
                   "amount": { "amount": 0, "currency": "RUB" },
                   "donor": "actor/russia", "recipient": "actor/south-ossetia" } ]"#,
        )],
        file: "funding.json",
        id: Some("funding/budget"),
        field: Some("amount.amount"),
        message: "positive",
    },
    BadSeed {
        description: "a fractional amount",
        files: &[(
            "funding.json",
            r#"[ { "id": "funding/budget", "title": "Budget", "purpose": "Budget",
                   "amount": { "amount": 2.5, "currency": "RUB" },
                   "donor": "actor/russia", "recipient": "actor/south-ossetia" } ]"#,
        )],
        file: "funding.json",
        id: Some("funding/budget"),
        field: Some("amount.amount"),
        message: "2.5",
    },
    BadSeed {
        description: "a currency that is not an ISO-4217 code",
        files: &[(
            "funding.json",
            r#"[ { "id": "funding/budget", "title": "Budget", "purpose": "Budget",
                   "amount": { "amount": 5, "currency": "roubles" },
                   "donor": "actor/russia", "recipient": "actor/south-ossetia" } ]"#,
        )],
        file: "funding.json",
        id: Some("funding/budget"),
        field: Some("amount.currency"),
        message: "roubles",
    },
    BadSeed {
        description: "an actor kind outside the vocabulary",
        files: &[(
            "actors.json",
            r#"[
              { "id": "actor/russia", "name": "Russia", "kind": "empire" },
              { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" }
            ]"#,
        )],
        file: "actors.json",
        id: Some("actor/russia"),
        field: Some("kind"),
        message: "empire",
    },
    BadSeed {
        description: "a participant role outside the vocabulary, deep in a list",
        files: &[(
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally",
                   "participants": [ { "actor": "actor/russia", "role": "actor" },
                                     { "actor": "actor/south-ossetia", "role": "boss" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/rally"),
        field: Some("participants[1].role"),
        message: "boss",
    },
    BadSeed {
        description: "a field the format does not have",
        files: &[(
            "actors.json",
            r#"[
              { "id": "actor/russia", "name": "Russia", "kind": "state", "nickname": "Rus" },
              { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" }
            ]"#,
        )],
        file: "actors.json",
        id: Some("actor/russia"),
        field: Some("nickname"),
        message: "nickname",
    },
    BadSeed {
        description: "a required field left out",
        files: &[(
            "actors.json",
            r#"[
              { "id": "actor/russia", "kind": "state" },
              { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" }
            ]"#,
        )],
        file: "actors.json",
        id: Some("actor/russia"),
        field: Some("name"),
        message: "name",
    },
    BadSeed {
        description: "a required field left out deep in a list",
        files: &[(
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally",
                   "participants": [ { "actor": "actor/russia" } ] } ]"#,
        )],
        file: "events.json",
        id: Some("event/rally"),
        field: Some("participants[0].role"),
        message: "role",
    },
    BadSeed {
        description: "a blank name",
        files: &[(
            "places.json",
            r#"[ { "id": "place/moscow", "name": "  ", "kind": "city" } ]"#,
        )],
        file: "places.json",
        id: Some("place/moscow"),
        field: Some("name"),
        message: "must not be empty",
    },
    BadSeed {
        description: "an id that is not of the form kind/slug",
        files: &[(
            "places.json",
            r#"[ { "id": "place/Moscow City", "name": "Moscow", "kind": "city" } ]"#,
        )],
        file: "places.json",
        id: Some("place/Moscow City"),
        field: Some("id"),
        message: "invalid slug",
    },
    BadSeed {
        description: "an entity in the file of another kind",
        files: &[(
            "places.json",
            r#"[
              { "id": "place/moscow", "name": "Moscow", "kind": "city" },
              { "id": "actor/kremlin", "name": "Kremlin", "kind": "building" }
            ]"#,
        )],
        file: "places.json",
        id: Some("actor/kremlin"),
        field: Some("id"),
        message: "is a actor id, but this file holds places",
    },
    BadSeed {
        description: "a file named after no kind",
        files: &[(
            "people.json",
            r#"[ { "id": "actor/someone", "name": "Someone", "kind": "person" } ]"#,
        )],
        file: "people.json",
        id: None,
        field: None,
        message: "unknown kind `people`",
    },
    BadSeed {
        description: "a file cut off in the middle of an entity",
        files: &[(
            "events.json",
            "[\n  { \"id\": \"event/rally\",\n    \"title\": \"Rally\",\n",
        )],
        file: "events.json",
        id: None,
        field: None,
        message: "malformed JSON at line 4 column 0",
    },
    BadSeed {
        description: "a file with a missing comma",
        files: &[(
            "places.json",
            "[\n  { \"id\": \"place/moscow\" \"name\": \"Moscow\", \"kind\": \"city\" }\n]",
        )],
        file: "places.json",
        id: None,
        field: None,
        message: "malformed JSON at line 2 column 26",
    },
    BadSeed {
        description: "a file holding an object instead of a list",
        files: &[(
            "places.json",
            r#"{ "id": "place/moscow", "name": "Moscow", "kind": "city" }"#,
        )],
        file: "places.json",
        id: None,
        field: None,
        message: "malformed JSON at line 1",
    },
];

#[test]
fn the_seed_the_bad_cases_start_from_is_valid() {
    let dir = seed_with(&[]);
    let store = Store::temporary().unwrap();
    let outcome = seed::load(&store, dir.path(), false).expect("the base seed loads");
    assert!(matches!(outcome, LoadOutcome::Loaded(_)));
    assert_eq!(store.count(EntityKind::Actor).unwrap(), 2);
    assert_eq!(store.count(EntityKind::Event).unwrap(), 1);
    assert_eq!(store.count(EntityKind::Funding).unwrap(), 1);
    assert_eq!(store.count(EntityKind::Place).unwrap(), 1);
}

/// What is wrong with how a bad seed was refused (empty when all is right).
fn mismatches(case: &BadSeed) -> Vec<String> {
    let dir = seed_with(case.files);
    let store = Store::temporary().unwrap();
    let (problems, text) = invalid(seed::load(&store, dir.path(), false), case.description);
    let mut wrong = Vec::new();
    let [problem] = problems.as_slice() else {
        return vec![format!("expected exactly one problem, got {problems:#?}")];
    };
    if file_name(problem) != case.file {
        wrong.push(format!("the file should be {}", case.file));
    }
    if problem.id.as_deref() != case.id {
        wrong.push(format!("the id should be {:?}", case.id));
    }
    if problem.field.as_deref() != case.field {
        wrong.push(format!("the field should be {:?}", case.field));
    }
    if !problem.message.contains(case.message) {
        wrong.push(format!("the message should contain {:?}", case.message));
    }

    // The text a person reads names the same three things.
    let shown = problem.to_string();
    if !shown.contains(case.file) {
        wrong.push(format!("{shown:?} should name the file"));
    }
    if case.id.is_some_and(|id| !shown.contains(id)) {
        wrong.push(format!("{shown:?} should name the id"));
    }
    if case
        .field
        .is_some_and(|field| !shown.contains(&format!("field `{field}`")))
    {
        wrong.push(format!("{shown:?} should name the field"));
    }
    if !(text.contains(&shown) && text.contains("nothing was loaded")) {
        wrong.push(format!("the error should list the problem: {text:?}"));
    }
    if !wrong.is_empty() {
        wrong.push(format!("(the problem was {problem:#?})"));
    }

    assert_empty(&store, case.description);
    wrong
}

#[test]
fn a_bad_seed_is_refused_with_its_file_id_and_field_and_nothing_is_written() {
    // Every case is checked before failing, so one run shows every case
    // that goes wrong.
    let failures: Vec<String> = BAD_SEEDS
        .iter()
        .filter_map(|case| {
            let wrong = mismatches(case);
            (!wrong.is_empty()).then(|| format!("{}:\n  {}", case.description, wrong.join("\n  ")))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_bad_seed_is_refused_by_check_exactly_as_by_load() {
    for case in BAD_SEEDS {
        let dir = seed_with(case.files);
        let store = Store::temporary().unwrap();
        let (from_load, _) = invalid(seed::load(&store, dir.path(), false), case.description);
        let (from_check, _) = invalid(seed::check(dir.path()), case.description);
        assert_eq!(from_load, from_check, "{}", case.description);
    }
}

#[test]
fn every_problem_of_a_seed_is_listed_together() {
    let dir = seed_with(&[
        (
            "actors.json",
            r#"[
              { "id": "actor/russia", "name": "Russia", "kind": "empire" },
              { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" }
            ]"#,
        ),
        (
            "events.json",
            r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally", "date": "2009-02-30" } ]"#,
        ),
    ]);
    let store = Store::temporary().unwrap();
    let (problems, text) = invalid(seed::load(&store, dir.path(), false), "two bad entities");
    let mut found: Vec<(&str, Option<&str>, Option<&str>)> = problems
        .iter()
        .map(|p| (file_name(p), p.id.as_deref(), p.field.as_deref()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("actors.json", Some("actor/russia"), Some("kind")),
            ("events.json", Some("event/rally"), Some("date")),
        ]
    );
    assert!(text.contains("2 problem(s)"), "{text}");
    for problem in &problems {
        assert!(text.contains(&problem.to_string()), "{text} should list {problem}");
    }
    assert_empty(&store, "two bad entities");
}

#[test]
fn a_seed_directory_that_does_not_exist_is_named_in_the_error() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no-such-seed");
    let store = Store::temporary().unwrap();
    match seed::load(&store, &missing, false) {
        Err(e @ SeedError::Dir { .. }) => {
            assert!(e.to_string().contains("no-such-seed"), "{e}")
        }
        other => panic!("expected SeedError::Dir, got {other:?}"),
    }
    assert_empty(&store, "a missing seed directory");
}

#[test]
fn an_empty_seed_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::temporary().unwrap();
    let (problems, _) = invalid(seed::load(&store, dir.path(), false), "empty dir");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].message.contains("no seed files"), "{problems:#?}");
    assert_empty(&store, "an empty seed directory");
}

#[test]
fn loading_the_same_seed_twice_changes_nothing_the_second_time() {
    let store = Store::temporary().unwrap();
    let first = seed::load(&store, &seed_dir(), false).expect("the real seed loads");
    let LoadOutcome::Loaded(report) = first else {
        panic!("the first load should load, got {first:?}");
    };
    let generation = store.generation().unwrap();
    let before = counts(&store);
    assert_eq!(
        store.seed_state().unwrap(),
        SeedState::Loaded {
            hash: report.hash.clone()
        }
    );

    let second = seed::load(&store, &seed_dir(), false).expect("the second load succeeds");
    assert_eq!(second, LoadOutcome::AlreadyLoaded(report.clone()));
    assert_eq!(store.generation().unwrap(), generation);
    assert_eq!(counts(&store), before);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    for (kind, count) in before {
        assert_eq!(
            count,
            report.counts.get(&kind).copied().unwrap_or(0) as u64,
            "{}",
            kind.plural()
        );
    }
}

/// Every reference held by a stored entity that points at nothing.
fn dangling(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for kind in EntityKind::ALL {
        for record in store.all(kind).unwrap() {
            for edge in record.entity.edges() {
                if store.get(&edge.to).unwrap().is_none() {
                    out.push(format!("{} --{:?}--> {}", record.entity.id(), edge.relation, edge.to));
                }
            }
        }
    }
    out
}

/// The real seed, then two API writes that a later seed must respect: an
/// event that refers to Medvedev and follows the recognition decrees (both
/// of which the small seed lacks), and an edit of Russia (which it has).
fn real_seed_with_api_writes() -> (Store, String) {
    let store = Store::temporary().unwrap();
    let LoadOutcome::Loaded(real) = seed::load(&store, &seed_dir(), false).unwrap() else {
        panic!("the real seed should load into an empty store");
    };
    let Some(Entity::Actor(mut russia)) = store.get(&id("actor/russia")).unwrap() else {
        panic!("the seed has Russia");
    };
    russia.name = "Russia, as edited through the API".into();
    let meeting = Event {
        id: id("event/api-meeting"),
        title: "A meeting recorded through the API".into(),
        kind: EventKind::Meeting,
        date: None,
        place: None,
        summary: None,
        participants: vec![Participant {
            actor: id("actor/dmitry-medvedev"),
            role: Role::Host,
        }],
        treaties: vec![],
        part_of: None,
        after: vec![id("event/recognition-decrees")],
        retracted_by: None,
        figures: vec![],
        sources: vec![],
        note: None,
        responds: vec![],
    };
    let api = |entity| Change::Put {
        entity,
        origin: Origin::Api,
    };
    store
        .apply(&[api(Entity::Actor(russia)), api(Entity::Event(meeting))], true)
        .unwrap();
    (store, real.hash)
}

// The issue asked for `SeedError::DifferentSeed` here; the loader now merges
// a changed seed instead (commit "seed merge keeping API-owned entities"),
// so this checks the merge.
#[test]
fn a_different_seed_without_reset_is_merged_and_api_owned_entities_survive() {
    let (store, real_hash) = real_seed_with_api_writes();
    let generation = store.generation().unwrap();
    let small = seed_with(&[]);
    let outcome = seed::load(&store, small.path(), false).expect("a changed seed is merged");
    let LoadOutcome::Merged {
        report,
        kept_api,
        removed,
        kept_referenced,
    } = outcome
    else {
        panic!("expected LoadOutcome::Merged, got {outcome:?}");
    };
    assert_ne!(report.hash, real_hash);
    assert_eq!(
        store.seed_state().unwrap(),
        SeedState::Loaded {
            hash: report.hash.clone()
        }
    );
    assert!(store.generation().unwrap() > generation);
    assert_eq!(kept_api, 1, "the API's Russia is kept over the seed's");
    assert!(
        kept_referenced >= 2,
        "Medvedev and the decrees are kept for the API's meeting"
    );
    assert!(removed > 100, "most of the real seed is gone: {removed} removed");

    let russia = store.get_record(&id("actor/russia")).unwrap().expect("Russia is kept");
    assert_eq!(russia.origin, Origin::Api);
    assert_eq!(russia.entity.label(), "Russia, as edited through the API");
    assert!(store.get(&id("event/api-meeting")).unwrap().is_some());
    assert!(store.get(&id("actor/dmitry-medvedev")).unwrap().is_some());
    assert!(store.get(&id("event/recognition-decrees")).unwrap().is_some());
    for small_id in [
        "actor/south-ossetia",
        "place/moscow",
        "event/recognition",
        "funding/budget",
    ] {
        assert!(
            store.get(&id(small_id)).unwrap().is_some(),
            "{small_id} comes from the new seed"
        );
    }
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_merge_leaves_no_reference_dangling() {
    let (store, _) = real_seed_with_api_writes();
    assert_eq!(
        dangling(&store),
        Vec::<String>::new(),
        "the real seed and the API writes are whole"
    );
    let small = seed_with(&[]);
    seed::load(&store, small.path(), false).expect("a changed seed is merged");
    // An entity kept because the API refers to it must keep what it refers
    // to in turn, or the graph points at nothing.
    assert_eq!(dangling(&store), Vec::<String>::new());
}

#[test]
fn a_reset_load_replaces_the_old_seed_with_the_new_one() {
    let store = Store::temporary().unwrap();
    let LoadOutcome::Loaded(real) = seed::load(&store, &seed_dir(), false).unwrap() else {
        panic!("the real seed should load into an empty store");
    };
    let small = seed_with(&[]);
    let LoadOutcome::Loaded(replaced) = seed::load(&store, small.path(), true).unwrap() else {
        panic!("a reset load should load");
    };
    assert_ne!(replaced.hash, real.hash);
    for (kind, count) in counts(&store) {
        assert_eq!(
            count,
            replaced.counts.get(&kind).copied().unwrap_or(0) as u64,
            "{}",
            kind.plural()
        );
        assert_eq!(store.all(kind).unwrap().len() as u64, count, "{}", kind.plural());
    }
    assert_eq!(store.count(EntityKind::Actor).unwrap(), 2);
    assert!(store.get(&id("actor/dmitry-medvedev")).unwrap().is_none());
    assert_eq!(store.seed_state().unwrap(), SeedState::Loaded { hash: replaced.hash });
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn an_interrupted_load_is_redone_from_scratch() {
    let report = seed::check(&seed_dir()).unwrap();
    let store = Store::temporary().unwrap();

    // What a crash part-way leaves: some of the seed, plus an entity the
    // seed does not have, and the state still `loading`.
    let actors: Vec<Actor> =
        serde_json::from_str(&std::fs::read_to_string(seed_dir().join("actors.json")).unwrap()).unwrap();
    let mut partial: Vec<Change> = actors
        .into_iter()
        .take(10)
        .map(|a| Change::Put {
            entity: Entity::Actor(a),
            origin: Origin::Seed,
        })
        .collect();
    partial.push(Change::Put {
        entity: Entity::Place(Place {
            id: id("place/left-over"),
            name: "Left over".into(),
            kind: PlaceKind::City,
            aliases: vec![],
            summary: None,
            within: None,
            sources: vec![],
            note: None,
        }),
        origin: Origin::Seed,
    });
    store
        .set_seed_state(&SeedState::Loading {
            hash: report.hash.clone(),
        })
        .unwrap();
    store.apply(&partial, false).unwrap();

    let outcome = seed::load(&store, &seed_dir(), false).expect("the load is redone");
    assert_eq!(outcome, LoadOutcome::Loaded(report.clone()));
    for kind in EntityKind::ALL {
        assert_eq!(
            store.count(kind).unwrap(),
            report.counts.get(&kind).copied().unwrap_or(0) as u64,
            "{}",
            kind.plural()
        );
    }
    assert!(store.get(&id("place/left-over")).unwrap().is_none());
    assert_eq!(store.seed_state().unwrap(), SeedState::Loaded { hash: report.hash });
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn every_seed_entity_is_stored_as_it_is_written_and_owned_by_the_seed() {
    let store = Store::temporary().unwrap();
    seed::load(&store, &seed_dir(), false).unwrap();
    let events: Vec<Event> =
        serde_json::from_str(&std::fs::read_to_string(seed_dir().join("events.json")).unwrap()).unwrap();
    assert!(!events.is_empty());
    for event in events {
        let record = store
            .get_record(&event.id)
            .unwrap()
            .unwrap_or_else(|| panic!("{} is missing", event.id));
        assert_eq!(record.origin, Origin::Seed);
        assert_eq!(record.entity, Entity::Event(event));
    }
}

/// Runs `open` until it stops failing on sled's file lock: sled releases the
/// lock from its flusher thread a moment after the last handle is dropped,
/// so reopening straight away can find it still held.
fn when_unlocked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Err(e)
                if ["could not acquire lock", "in use by another diplograph process"]
                    .iter()
                    .any(|held| e.to_string().contains(held))
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other,
        }
    }
}

#[test]
fn a_store_written_by_an_unknown_format_version_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(Store::open(&data, 1024 * 1024).expect("a new store opens"));
    {
        let db = when_unlocked(|| sled::open(&data)).expect("sled opens the store's directory");
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(
            meta.get(b"format_version").unwrap().as_deref(),
            Some(&FORMAT_VERSION.to_be_bytes()[..]),
            "the store records its format version under this key"
        );
        meta.insert(b"format_version", &99u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let error = when_unlocked(|| Store::open(&data, 1024 * 1024)).expect_err("a store of format 99 is refused");
    let StoreError::UnknownFormat { path, found, expected } = &error else {
        panic!("expected StoreError::UnknownFormat, got {error}");
    };
    assert_eq!(path, &data);
    assert_eq!((*found, *expected), (99, FORMAT_VERSION));
    let message = error.to_string();
    assert!(
        message.contains(&data.display().to_string()),
        "{message:?} should name the path"
    );
    assert!(message.contains("99"), "{message:?} should name the version");
}

#[test]
fn a_reopened_store_keeps_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (report, generation) = {
        let store = when_unlocked(|| Store::open(dir.path(), 1024 * 1024)).unwrap();
        let LoadOutcome::Loaded(report) = seed::load(&store, &seed_dir(), false).unwrap() else {
            panic!("the seed should load");
        };
        (report, store.generation().unwrap())
    };
    let store = when_unlocked(|| Store::open(dir.path(), 1024 * 1024)).unwrap();
    assert_eq!(store.generation().unwrap(), generation);
    assert_eq!(
        seed::load(&store, &seed_dir(), false).unwrap(),
        LoadOutcome::AlreadyLoaded(report)
    );
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_store_kept_by_older_statistics_has_them_tallied_again_on_open() {
    use diplograph::model::Relation;
    use diplograph::store::Fan;
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let store = when_unlocked(|| Store::open(dir.path(), 1024 * 1024)).unwrap();
        seed::load(&store, &seed_dir(), false).unwrap();
        store.stats().unwrap().longest(Fan::Held(Relation::EventResponds))
    };
    assert!(expected > 0, "the seed's events store responses");
    // As a store written before responses were counted: statistics of
    // version 1, without the lengths of the lists events hold.
    {
        let db = when_unlocked(|| sled::open(dir.path())).unwrap();
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(meta.get(b"stats_complete").unwrap().as_deref(), Some(&[2u8][..]));
        for key in meta.scan_prefix("stats/longest/held/").keys() {
            meta.remove(key.unwrap()).unwrap();
        }
        meta.insert(b"stats_complete", &[1]).unwrap();
        db.flush().unwrap();
    }
    let store = when_unlocked(|| Store::open(dir.path(), 1024 * 1024)).unwrap();
    assert_eq!(
        store.stats().unwrap().longest(Fan::Held(Relation::EventResponds)),
        expected,
        "a statistic the store never kept must not read as 0"
    );
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

/// Runs the real binary with `args` in a scratch directory.
pub(crate) fn diplograph(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diplograph"))
        .args(args)
        .current_dir(cwd)
        .env("DIPLOGRAPH_DATA_DIR", cwd.join("data"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("the diplograph binary runs")
}

#[test]
fn seed_check_prints_the_count_of_every_kind() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = seed_dir();
    let output = diplograph(&["seed", "--check", dir.to_str().unwrap()], scratch.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "seed --check failed: {stdout}\n{stderr}");
    let count = |plural: &str| -> u64 {
        stdout
            .lines()
            .find_map(|line| {
                let mut words = line.split_whitespace();
                let n = words.next()?.parse().ok()?;
                (words.next()? == plural && words.next().is_none()).then_some(n)
            })
            .unwrap_or_else(|| panic!("no count of {plural} in {stdout}"))
    };
    let report = seed::check(&dir).unwrap();
    for kind in EntityKind::ALL {
        assert_eq!(
            count(kind.plural()),
            report.counts.get(&kind).copied().unwrap_or(0) as u64,
            "{}",
            kind.plural()
        );
    }
    assert!(count("actors") > 50, "{stdout}");
    assert!(count("events") > 50, "{stdout}");
    assert!(stdout.contains(&report.hash), "{stdout}");
    assert!(
        !scratch.path().join("data").exists(),
        "a check must not create a database"
    );
}

#[test]
fn seed_check_on_a_bad_seed_fails_and_names_the_file_id_and_field() {
    let scratch = tempfile::tempdir().unwrap();
    let bad = seed_with(&[(
        "events.json",
        r#"[ { "id": "event/rally", "title": "Rally", "kind": "rally",
               "participants": [ { "actor": "actor/nobody", "role": "actor" } ] } ]"#,
    )]);
    let output = diplograph(&["seed", "--check", bad.path().to_str().unwrap()], scratch.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a bad seed should fail the check");
    for part in [
        "events.json",
        "event/rally",
        "field `participants.actor`",
        "actor/nobody",
    ] {
        assert!(stderr.contains(part), "stderr should name {part}: {stderr}");
    }
}
