//! The seed lint (`diplograph seed --check`): a valid seed that still says
//! more than its sources is caught, with the file, entity and field at fault.

use std::path::{Path, PathBuf};

use diplograph::seed::{self, Problem};

use crate::helpers::seed_dir;
use crate::seed::{diplograph, seed_with};

/// The article the real seed was written from; it lives outside the
/// repository, so the checks that need it run only where it exists.
fn article_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/source/russia-south-ossetia-relations.txt")
}

/// A short stand-in for an article: two sections under their headings.
const ARTICLE: &str = "Opening words written in 1991. \
    Background On 26 August 2008, Russia signed it in March 2009. \
    Economic ties In 2009 money was paid; Ivanov signed.";

const SOURCES: &str = r#"[
  { "id": "source/lead", "document": "Article", "section": "Lead" },
  { "id": "source/background", "document": "Article", "section": "Background" },
  { "id": "source/economy", "document": "Article", "section": "Bilateral relationship: Economic ties" }
]"#;

/// Every finding of the lint on the base seed with `files` written over it,
/// which must pass validation first.
fn lint(files: &[(&str, &str)], article: Option<&str>) -> Vec<Problem> {
    let dir = seed_with(files);
    seed::check(dir.path()).expect("the case is a valid seed: only the lint should object");
    seed::lint(dir.path(), article).expect("the lint runs")
}

struct Case {
    description: &'static str,
    files: &'static [(&'static str, &'static str)],
    article: Option<&'static str>,
    /// (file, entity, field, part of the message) of the one finding; `None`: no finding.
    finding: Option<(&'static str, &'static str, Option<&'static str>, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        description: "an actor nothing refers to and that refers to nothing",
        files: &[(
            "actors.json",
            r#"[ { "id": "actor/russia", "name": "Russia", "kind": "state" },
                 { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" },
                 { "id": "actor/loner", "name": "Loner", "kind": "group" } ]"#,
        )],
        article: None,
        finding: Some(("actors.json", "actor/loner", None, "nothing refers to this actor")),
    },
    Case {
        description: "a source nobody cites",
        files: &[("sources.json", SOURCES)],
        article: None,
        // All three are uncited; the first is enough to show the rule.
        finding: Some(("sources.json", "source/lead", None, "nothing refers to this source")),
    },
    Case {
        description: "an actor that repeats a place and takes part in nothing",
        files: &[(
            "actors.json",
            r#"[ { "id": "actor/russia", "name": "Russia", "kind": "state" },
                 { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" },
                 { "id": "actor/moscow-city", "name": "MOSCOW", "kind": "government" } ]"#,
        )],
        article: None,
        finding: Some((
            "actors.json",
            "actor/moscow-city",
            Some("name"),
            "is also the name of place/moscow",
        )),
    },
    Case {
        description: "an actor named like a place that takes part in an event is the polity, not a repeat",
        files: &[(
            "places.json",
            r#"[ { "id": "place/moscow", "name": "Moscow", "kind": "city" },
                                 { "id": "place/russia", "name": "Russia", "kind": "country" } ]"#,
        )],
        article: None,
        finding: None,
    },
    Case {
        description: "an alias that is another actor's name (two people merged)",
        files: &[(
            "actors.json",
            r#"[ { "id": "actor/russia", "name": "Russia", "kind": "state", "aliases": ["Russian Federation", "south ossetia"] },
                 { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state" } ]"#,
        )],
        article: None,
        finding: Some((
            "actors.json",
            "actor/russia",
            Some("aliases[1]"),
            "is the name of actor/south-ossetia",
        )),
    },
    Case {
        description: "a treaty signatory who cites none of the treaty's sources (no article at hand)",
        files: &[
            ("sources.json", SOURCES),
            (
                "actors.json",
                r#"[ { "id": "actor/russia", "name": "Russia", "kind": "state", "sources": ["source/lead"] },
                     { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state", "sources": ["source/economy"] } ]"#,
            ),
            (
                "treaties.json",
                r#"[ { "id": "treaty/pact", "name": "Pact", "kind": "treaty", "parties": ["actor/russia"],
                       "signatories": ["actor/russia", "actor/south-ossetia"], "sources": ["source/lead", "source/background"] } ]"#,
            ),
        ],
        article: None,
        finding: Some((
            "treaties.json",
            "treaty/pact",
            Some("signatories[1]"),
            "signatory actor/south-ossetia is sourced from none of the sections this treaty cites",
        )),
    },
    Case {
        description: "a SIGNATORY at an event whom the cited section's text does not name",
        files: &[
            ("sources.json", SOURCES),
            (
                "actors.json",
                r#"[ { "id": "actor/russia", "name": "Russia", "kind": "state", "sources": ["source/lead"] },
                     { "id": "actor/south-ossetia", "name": "South Ossetia", "kind": "unrecognised_state", "sources": ["source/background"] },
                     { "id": "actor/sergey-ivanov", "name": "Sergey Ivanov", "kind": "person", "sources": ["source/economy"] } ]"#,
            ),
            (
                "events.json",
                r#"[ { "id": "event/signing", "title": "Signing", "kind": "signing", "date": "2008-08-26", "place": "place/moscow",
                       "participants": [ { "actor": "actor/russia", "role": "signatory" },
                                         { "actor": "actor/south-ossetia", "role": "signatory" } ],
                       "sources": ["source/background"] },
                     { "id": "event/payment", "title": "Payment", "kind": "allocation", "date": "2009",
                       "participants": [ { "actor": "actor/sergey-ivanov", "role": "signatory" } ],
                       "sources": ["source/economy"] } ]"#,
            ),
        ],
        article: Some(ARTICLE),
        // Russia is named in Background, Ivanov (by surname) in Economic ties.
        finding: Some((
            "events.json",
            "event/signing",
            Some("participants[1].actor"),
            "signatory actor/south-ossetia is not named in the text of",
        )),
    },
    Case {
        description: "a day where the cited section gives only the month",
        files: &[
            ("sources.json", SOURCES),
            (
                "funding.json",
                r#"[ { "id": "funding/budget", "title": "Budget", "amount": { "amount": 1, "currency": "RUB" },
                       "donor": "actor/russia", "recipient": "actor/south-ossetia", "purpose": "Budget",
                       "date": "2009-03-05", "sources": ["source/background", "source/lead", "source/economy"] } ]"#,
            ),
        ],
        article: Some(ARTICLE),
        finding: Some((
            "funding.json",
            "funding/budget",
            Some("date"),
            "date `2009-03-05` is more precise",
        )),
    },
    Case {
        description: "a day that only another section gives",
        files: &[
            ("sources.json", SOURCES),
            (
                "events.json",
                r#"[ { "id": "event/recognition", "title": "Recognition", "kind": "recognition", "date": "2008-08-26",
                       "place": "place/moscow", "participants": [ { "actor": "actor/russia", "role": "actor" } ],
                       "sources": ["source/economy", "source/lead"] } ]"#,
            ),
            (
                "treaties.json",
                r#"[ { "id": "treaty/pact", "name": "Pact", "kind": "treaty", "parties": ["actor/south-ossetia"],
                       "sources": ["source/background"] } ]"#,
            ),
        ],
        article: Some(ARTICLE),
        finding: Some((
            "events.json",
            "event/recognition",
            Some("date"),
            "(source/economy, source/lead)",
        )),
    },
    Case {
        description: "dates the cited sections give, at their precision or coarser, are fine",
        files: &[
            ("sources.json", SOURCES),
            (
                "events.json",
                r#"[ { "id": "event/recognition", "title": "Recognition", "kind": "recognition", "date": "2008-08-26",
                       "place": "place/moscow", "participants": [ { "actor": "actor/russia", "role": "actor" } ],
                       "sources": ["source/background"] },
                     { "id": "event/later", "title": "Later", "kind": "allocation", "date": "2009",
                       "participants": [ { "actor": "actor/south-ossetia", "role": "beneficiary" } ],
                       "sources": ["source/background", "source/economy", "source/lead"] } ]"#,
            ),
        ],
        article: Some(ARTICLE),
        finding: None,
    },
    Case {
        description: "without the article, dates are not checked against text",
        files: &[
            ("sources.json", SOURCES),
            (
                "funding.json",
                r#"[ { "id": "funding/budget", "title": "Budget", "amount": { "amount": 1, "currency": "RUB" },
                       "donor": "actor/russia", "recipient": "actor/south-ossetia", "purpose": "Budget",
                       "date": "2009-03-05", "sources": ["source/background", "source/lead", "source/economy"] } ]"#,
            ),
        ],
        article: None,
        finding: None,
    },
    Case {
        description: "a response dated before the event it answers",
        files: &[(
            "events.json",
            r#"[ { "id": "event/recognition", "title": "Recognition", "kind": "recognition", "date": "2008-08-26",
                   "place": "place/moscow", "participants": [ { "actor": "actor/russia", "role": "actor" },
                                     { "actor": "actor/south-ossetia", "role": "target" } ] },
                 { "id": "event/condemnation", "title": "Condemnation", "kind": "condemnation", "date": "2008-08",
                   "responds": [ { "event": "event/recognition", "kind": "condemns" } ] },
                 { "id": "event/early-praise", "title": "Praise", "kind": "statement", "date": "2008-07-01",
                   "responds": [ { "event": "event/recognition", "kind": "welcomes" } ] } ]"#,
        )],
        article: None,
        // A month that holds the day answered is not before it; a day before it is.
        finding: Some((
            "events.json",
            "event/early-praise",
            Some("responds[0].event"),
            "a response cannot precede what it answers",
        )),
    },
    Case {
        description: "a response to the retraction that takes it back: a loop through both relations",
        files: &[(
            "events.json",
            r#"[ { "id": "event/recognition", "title": "Recognition", "kind": "recognition",
                   "place": "place/moscow", "participants": [ { "actor": "actor/russia", "role": "actor" },
                                     { "actor": "actor/south-ossetia", "role": "target" } ] },
                 { "id": "event/remark", "title": "Remark", "kind": "statement",
                   "retracted_by": "event/retraction",
                   "responds": [ { "event": "event/retraction", "kind": "denies" } ] },
                 { "id": "event/retraction", "title": "Retraction", "kind": "retraction",
                   "responds": [ { "event": "event/recognition", "kind": "condemns" } ] } ]"#,
        )],
        article: None,
        finding: Some((
            "events.json",
            "event/remark",
            Some("responds[0].event"),
            "responses and retractions loop: event/remark → event/retraction → event/remark",
        )),
    },
];

#[test]
fn each_kind_of_finding_names_the_file_entity_and_field() {
    for case in CASES {
        let findings = lint(case.files, case.article);
        match case.finding {
            None => assert!(findings.is_empty(), "{}: {findings:#?}", case.description),
            Some((file, id, field, message)) => {
                let first = findings
                    .first()
                    .unwrap_or_else(|| panic!("{}: the lint found nothing", case.description));
                assert_eq!(
                    first.file.file_name().and_then(|n| n.to_str()),
                    Some(file),
                    "{}: {first}",
                    case.description
                );
                assert_eq!(first.id.as_deref(), Some(id), "{}: {first}", case.description);
                assert_eq!(first.field.as_deref(), field, "{}: {first}", case.description);
                assert!(first.message.contains(message), "{}: {first}", case.description);
                if case.description != "a source nobody cites" {
                    assert_eq!(findings.len(), 1, "{}: {findings:#?}", case.description);
                }
            }
        }
    }
}

#[test]
fn the_real_seed_passes_the_lint_and_with_the_article_where_it_is_at_hand() {
    let findings = seed::lint(&seed_dir(), None).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    if let Ok(article) = std::fs::read_to_string(article_path()) {
        let findings = seed::lint(&seed_dir(), Some(&article)).unwrap();
        assert!(findings.is_empty(), "{findings:#?}");
    }
}

#[test]
fn seed_check_prints_the_lints_verdict_and_fails_on_a_finding() {
    let scratch = tempfile::tempdir().unwrap();
    let good = diplograph(&["seed", "--check", seed_dir().to_str().unwrap()], scratch.path());
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{stdout}");
    assert!(stdout.contains("lint: no findings"), "{stdout}");

    let bad = seed_with(&[("sources.json", SOURCES)]);
    let article = scratch.path().join("article.txt");
    std::fs::write(&article, ARTICLE).unwrap();
    let output = diplograph(
        &[
            "seed",
            "--check",
            bad.path().to_str().unwrap(),
            "--article",
            article.to_str().unwrap(),
        ],
        scratch.path(),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a finding fails the check: {stdout}");
    assert!(stdout.contains("lint: 3 finding(s)"), "{stdout}");
    for part in ["sources.json", "source/economy", "nothing refers to this source"] {
        assert!(stdout.contains(part), "stdout should name {part}: {stdout}");
    }
    assert!(stderr.contains("seed lint found 3 problem(s)"), "{stderr}");
}
