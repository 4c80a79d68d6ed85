//! The real seed says what the article says, in its own words.
//!
//! The facts below are checked against `seed/` as loaded into a store, so a
//! typo in a date or an id, or a loader that drops a field, shows up here.
//! The last tests make sure the seed paraphrases the article rather than
//! copying it: no run of eight words of its prose appears in the article.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use diplograph::model::{text, Entity, EntityKind, Event, FundingAllocation, Place, Precision, Relation, Role, Treaty};
use diplograph::seed;
use diplograph::store::{Direction, Store};
use serde_json::Value;

use crate::helpers::{date, id, seed_dir, seeded};

fn entity(store: &Store, s: &str) -> Entity {
    store
        .get(&id(s))
        .unwrap()
        .unwrap_or_else(|| panic!("the seed has no {s}"))
}

fn treaty(store: &Store, s: &str) -> Treaty {
    match entity(store, s) {
        Entity::Treaty(t) => t,
        other => panic!("{s} is not a treaty: {other:?}"),
    }
}

fn funding(store: &Store, s: &str) -> FundingAllocation {
    match entity(store, s) {
        Entity::Funding(f) => f,
        other => panic!("{s} is not an allocation: {other:?}"),
    }
}

fn event(store: &Store, s: &str) -> Event {
    match entity(store, s) {
        Entity::Event(e) => e,
        other => panic!("{s} is not an event: {other:?}"),
    }
}

fn place(store: &Store, s: &str) -> Place {
    match entity(store, s) {
        Entity::Place(p) => p,
        other => panic!("{s} is not a place: {other:?}"),
    }
}

fn events(store: &Store) -> Vec<Event> {
    store
        .all(EntityKind::Event)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.entity {
            Entity::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn the_store_holds_as_many_entities_of_each_kind_as_the_check_counts() {
    let report = seed::check(&seed_dir()).expect("the real seed is valid");
    let store = seeded();
    for kind in EntityKind::ALL {
        let counted = report.counts.get(&kind).copied().unwrap_or(0) as u64;
        assert_eq!(store.count(kind).unwrap(), counted, "{}", kind.plural());
        assert_eq!(store.all(kind).unwrap().len() as u64, counted, "{}", kind.plural());
        assert!(counted > 0, "the seed has no {}", kind.plural());
    }
    assert!(store.count(EntityKind::Actor).unwrap() > 50);
    assert!(store.count(EntityKind::Event).unwrap() > 50);
}

#[test]
fn the_friendship_treaty_was_signed_ratified_and_entered_into_force_on_the_articles_dates() {
    let store = seeded();
    let friendship = treaty(&store, "treaty/friendship-2008");
    assert_eq!(friendship.signed_on, Some(date("2008-09-17")));
    assert_eq!(friendship.signed_at, Some(id("place/kremlin")));
    assert_eq!(friendship.entered_into_force_on, Some(date("2009-01-20")));
    assert!(
        friendship
            .ratifications
            .iter()
            .any(|r| r.by == id("actor/state-duma") && r.date == Some(date("2008-10-29"))),
        "the State Duma ratified it on 29 October 2008: {:?}",
        friendship.ratifications
    );
    for party in ["actor/russia", "actor/south-ossetia"] {
        assert!(friendship.parties.contains(&id(party)), "{party} is a party");
    }

    // The ratification date travels with the index entry, for resolvers.
    let duma = id("actor/state-duma");
    let ratified = store
        .related(
            Relation::TreatyRatifier,
            Direction::Backward,
            std::slice::from_ref(&duma),
        )
        .unwrap();
    assert!(
        ratified[&duma].contains(&(friendship.id.clone(), b"2008-10-29".to_vec())),
        "{:?}",
        ratified[&duma]
    );
}

#[test]
fn the_border_treaty_and_the_ceasefire_have_the_articles_date_and_mediator() {
    let store = seeded();
    let border = treaty(&store, "treaty/border-protection-2009");
    assert_eq!(border.signed_on, Some(date("2009-04-30")));
    assert_eq!(border.signed_on.unwrap().precision(), Precision::Day);

    let ceasefire = treaty(&store, "treaty/ceasefire-2008");
    assert_eq!(ceasefire.mediator, Some(id("actor/nicolas-sarkozy")));
    assert_eq!(ceasefire.signed_on, Some(date("2008-08-12")));
}

#[test]
fn the_two_allocations_are_2_8_and_8_5_billion_roubles() {
    let store = seeded();
    let budget = funding(&store, "funding/federal-budget-2009");
    assert_eq!(budget.amount.amount, 2_800_000_000);
    assert_eq!(budget.amount.currency.as_str(), "RUB");
    assert_eq!(budget.authorized_by, Some(id("actor/vladimir-putin")));
    assert_eq!(budget.basis, Some(id("treaty/friendship-2008")));
    assert_eq!(budget.date, Some(date("2009-03")));

    let reconstruction = funding(&store, "funding/reconstruction");
    assert_eq!(reconstruction.amount.amount, 8_500_000_000);
    assert_eq!(reconstruction.amount.currency.as_str(), "RUB");

    // Summed as u64: the total does not fit a GraphQL Int and must stay exact.
    assert_eq!(budget.amount.amount + reconstruction.amount.amount, 11_300_000_000);
    for f in [&budget, &reconstruction] {
        assert_eq!(f.donor, id("actor/russia"), "{}", f.id);
        assert_eq!(f.recipient, id("actor/south-ossetia"), "{}", f.id);
    }
}

#[test]
fn kargiyev_is_ambassador_and_the_places_nest_as_in_the_article() {
    let store = seeded();
    let Entity::Actor(kargiyev) = entity(&store, "actor/elbrus-kargiyev") else {
        panic!("Kargiyev is an actor");
    };
    assert!(
        kargiyev.positions.iter().any(|p| p.title.contains("Ambassador")),
        "{:?}",
        kargiyev.positions
    );

    for (inner, outer) in [
        ("place/kremlin", "place/moscow"),
        ("place/tskhinval", "place/south-ossetia"),
    ] {
        assert_eq!(
            place(&store, inner).within,
            Some(id(outer)),
            "{inner} lies within {outer}"
        );
        let children = store
            .related(Relation::PlaceWithin, Direction::Backward, &[id(outer)])
            .unwrap();
        assert!(
            children[&id(outer)].iter().any(|(child, _)| child == &id(inner)),
            "{outer} contains {inner}"
        );
    }
}

#[test]
fn the_events_carry_the_articles_dates_with_their_precision() {
    let store = seeded();
    // (event, date, precision)
    let table = [
        (
            "event/georgian-offensive-2008",
            "2008-08-07/2008-08-08",
            Precision::Range,
        ),
        ("event/recognition-decrees", "2008-08-26", Precision::Day),
        ("event/diplomatic-relations-established", "2008-09-09", Precision::Day),
        ("event/federal-budget-allocation-2009", "2009-03", Precision::Month),
        ("event/putin-embassy-directive", "2009", Precision::Year),
    ];
    for (event_id, when, precision) in table {
        let found = event(&store, event_id)
            .date
            .unwrap_or_else(|| panic!("{event_id} is dated"));
        assert_eq!(found, date(when), "{event_id}");
        assert_eq!(found.precision(), precision, "{event_id}");
        assert_eq!(found.to_string(), when, "{event_id} keeps its written form");
    }
    let offensive = event(&store, "event/georgian-offensive-2008").date.unwrap();
    assert_eq!(
        (offensive.first_iso(), offensive.last_iso()),
        ("2008-08-07".to_owned(), "2008-08-08".to_owned())
    );
}

#[test]
fn the_articles_figures_are_recorded_with_who_claimed_them() {
    let store = seeded();
    let all = events(&store);
    assert!(
        all.iter()
            .flat_map(|e| &e.figures)
            .any(|f| f.value == 3_700 && f.unit == "soldiers"),
        "some event records the 3,700 soldiers deployed"
    );
    let housing = all
        .iter()
        .flat_map(|e| &e.figures)
        .find(|f| f.value == 70 && f.unit == "percent" && f.label.to_lowercase().contains("housing"))
        .expect("some event records that 70 percent of housing was destroyed");
    assert_eq!(housing.claimed_by, Some(id("actor/eduard-kokoity")));
}

#[test]
fn kokoitys_remark_about_joining_russia_points_at_his_retraction() {
    let store = seeded();
    let kokoity = id("actor/eduard-kokoity");
    let remark = event(&store, "event/kokoity-joining-russia-remark");
    assert!(
        remark
            .participants
            .iter()
            .any(|p| p.actor == kokoity && p.role == Role::Speaker),
        "Kokoity made the remark: {:?}",
        remark.participants
    );
    let retraction_id = remark.retracted_by.clone().expect("the remark was retracted");
    let retraction = event(&store, retraction_id.as_str());
    assert!(
        retraction.participants.iter().any(|p| p.actor == kokoity),
        "Kokoity retracted it himself: {:?}",
        retraction.participants
    );
    let retracts = store
        .related(
            Relation::EventRetractedBy,
            Direction::Backward,
            std::slice::from_ref(&retraction_id),
        )
        .unwrap();
    assert!(retracts[&retraction_id].iter().any(|(e, _)| e == &remark.id));
}

// ---- no copied prose --------------------------------------------------------

/// How many words in a row count as copying.
const RUN: usize = 8;

/// The article the seed was written from. It lives outside the repository,
/// so tests use its fingerprint in `fixtures/` and check the fingerprint
/// against it only where it exists.
fn article_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/source/russia-south-ossetia-relations.txt")
}

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/fixtures/article-shingles.txt")
}

/// 64-bit FNV-1a: tiny, stable across platforms and Rust versions (unlike
/// `DefaultHasher`), which a committed fingerprint needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The hash of every run of `RUN` words of `text`, after folding case,
/// accents and punctuation ("3,700" and "3 , 700" both read `3 700`), with
/// the words of the run.
fn shingles(text: &str) -> Vec<(u64, String)> {
    let folded = text::fold(text);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    words
        .windows(RUN)
        .map(|run| {
            let run = run.join(" ");
            (fnv1a(run.as_bytes()), run)
        })
        .collect()
}

const FIXTURE_HEADER: &str = "\
# FNV-1a (64-bit) hashes of every run of 8 words of the source article
# (../shared/source/russia-south-ossetia-relations.txt), folded with
# diplograph::model::text::fold. Generated by tests/api/seed_facts.rs:
# when the article is present and differs, the test rewrites this file.
";

fn fixture_text(article: &str) -> String {
    let hashes: BTreeSet<u64> = shingles(article).into_iter().map(|(h, _)| h).collect();
    let mut out = FIXTURE_HEADER.to_owned();
    for hash in hashes {
        out.push_str(&format!("{hash:016x}\n"));
    }
    out
}

fn read_fixture() -> BTreeSet<u64> {
    let text = std::fs::read_to_string(fixture_path()).expect("tests/api/fixtures/article-shingles.txt exists");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| u64::from_str_radix(l.trim(), 16).unwrap_or_else(|_| panic!("{l:?} is not a hex u64")))
        .collect()
}

/// Fields written in our own words. Names, aliases, the titles of posts
/// (`positions[].title`) and the citations in sources are proper names,
/// which must match the source to be found, so they are not checked.
const PROSE_ANYWHERE: &[&str] = &["summary", "provisions", "note", "purpose", "label"];
const PROSE_AT_TOP: &[&str] = &["title"];

/// Every prose string of a seed entity, with where it is.
fn prose<'a>(value: &'a Value, path: String, top: bool, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields {
                let here = format!("{path}.{key}");
                if PROSE_ANYWHERE.contains(&key.as_str()) || (top && PROSE_AT_TOP.contains(&key.as_str())) {
                    strings(v, here.clone(), out);
                }
                if v.is_object() || v.is_array() {
                    prose(v, here, false, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prose(v, format!("{path}[{i}]"), false, out);
            }
        }
        _ => {}
    }
}

fn strings<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(s) => out.push((path, s)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(v, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The runs of `text` that also occur in the article.
fn copied(text: &str, article: &BTreeSet<u64>) -> Vec<String> {
    shingles(text)
        .into_iter()
        .filter(|(h, _)| article.contains(h))
        .map(|(_, run)| run)
        .collect()
}

#[test]
fn no_prose_in_the_seed_repeats_eight_words_of_the_article() {
    let article = read_fixture();
    assert!(
        article.len() > 1_000,
        "the fingerprint has {} runs; the article has far more",
        article.len()
    );

    // The check catches a copied sentence, so passing means something.
    let lifted = "On the night of 7 to 8 August 2008, the Georgian military launched an offensive on Tskhinval.";
    assert!(
        !copied(lifted, &article).is_empty(),
        "a sentence lifted from the article should be caught"
    );

    let mut files: Vec<PathBuf> = std::fs::read_dir(seed_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut checked = 0;
    let mut found = Vec::new();
    for file in files {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for item in json.as_array().expect("a seed file is a list") {
            let mut texts = Vec::new();
            let label = format!("{name}: {}", item["id"].as_str().unwrap_or("?"));
            prose(item, label, true, &mut texts);
            for (path, text) in texts {
                checked += 1;
                found.extend(
                    copied(text, &article)
                        .into_iter()
                        .map(|run| format!("{path}: \"{run}\"")),
                );
            }
        }
    }
    assert!(
        checked > 300,
        "only {checked} prose strings were checked; has a field been renamed?"
    );
    assert!(
        found.is_empty(),
        "seed prose copies the article; reword it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_article_fingerprint_is_up_to_date_and_well_formed() {
    let on_disk = std::fs::read_to_string(fixture_path()).unwrap_or_default();

    // CI has no copy of the article; where it exists, the fingerprint must
    // be the one it gives.
    if let Ok(article) = std::fs::read_to_string(article_path()) {
        let fresh = fixture_text(&article);
        if fresh != on_disk {
            std::fs::create_dir_all(fixture_path().parent().unwrap()).unwrap();
            std::fs::write(fixture_path(), &fresh).unwrap();
            panic!("tests/api/fixtures/article-shingles.txt was out of date and has been rewritten; commit it");
        }
    }

    let hashes = read_fixture();
    let listed: Vec<&str> = on_disk.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(listed.len(), hashes.len(), "the fingerprint lists each run once");
    assert!(listed.iter().all(|l| l.len() == 16), "one 16-digit hex hash a line");
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "the fingerprint is sorted");
}
