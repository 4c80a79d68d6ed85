//! The real seed says what the article says, in its own words.
//!
//! The facts below are checked against `seed/` as loaded into a store, so a
//! typo in a date or an id, or a loader that drops a field, shows up here.
//! The last tests make sure the seed paraphrases the article rather than
//! copying it: no run of eight words of its prose appears in the article.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use diplograph::model::{
    text, Actor, Entity, EntityKind, Event, EventKind, FundingAllocation, Place, Precision, Relation, Role, Source,
    SourceKind, Treaty,
};
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
    assert_eq!(budget.basis, Some(id("treaty/finance-agreements-2009")));
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

fn actor(store: &Store, s: &str) -> Actor {
    match entity(store, s) {
        Entity::Actor(a) => a,
        other => panic!("{s} is not an actor: {other:?}"),
    }
}

fn source(store: &Store, s: &str) -> Source {
    match entity(store, s) {
        Entity::Source(x) => x,
        other => panic!("{s} is not a source: {other:?}"),
    }
}

/// The ids of the entities holding `relation` to `target`, read through its index.
fn holders(store: &Store, relation: Relation, target: &str) -> Vec<String> {
    let target = id(target);
    let found = store
        .related(relation, Direction::Backward, std::slice::from_ref(&target))
        .unwrap();
    found
        .get(&target)
        .map(|list| list.iter().map(|(holder, _)| holder.to_string()).collect())
        .unwrap_or_default()
}

// ---- what the article does not say, the seed does not say (issue 13) ----------

#[test]
fn the_two_makarovs_are_two_actors_and_only_sergey_was_at_the_base_visit() {
    let store = seeded();
    let nikolay = actor(&store, "actor/nikolay-makarov");
    let sergey = actor(&store, "actor/sergey-makarov");
    assert!(
        !nikolay.aliases.iter().any(|a| text::fold(a).contains("sergey")),
        "{:?}",
        nikolay.aliases
    );
    assert!(
        !sergey.aliases.iter().any(|a| text::fold(a).contains("nikola")),
        "{:?}",
        sergey.aliases
    );
    assert!(
        nikolay
            .positions
            .iter()
            .any(|p| p.title.contains("Chief of the General Staff")),
        "the body text gives Nikolay his post: {:?}",
        nikolay.positions
    );
    assert!(sergey.positions.is_empty(), "the caption gives Sergey no post");

    let visit = event(&store, "event/medvedev-visits-military-base");
    let present: Vec<&str> = visit.participants.iter().map(|p| p.actor.as_str()).collect();
    assert!(present.contains(&"actor/sergey-makarov"), "{present:?}");
    assert!(!present.contains(&"actor/nikolay-makarov"), "{present:?}");
    // Nikolay's part in the story is the body text's: two statements, no visit.
    let nikolays: Vec<String> = holders(&store, Relation::EventParticipant, "actor/nikolay-makarov");
    assert_eq!(
        nikolays.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["event/makarov-confirms-deployment", "event/makarov-june-2009-statement"])
    );
    assert_eq!(
        holders(&store, Relation::EventParticipant, "actor/sergey-makarov"),
        vec!["event/medvedev-visits-military-base".to_owned()]
    );
}

#[test]
fn facts_from_a_caption_or_an_inference_cite_a_source_of_that_kind() {
    let store = seeded();
    // (entity, the kind of source it must cite, kinds it must not cite)
    let table = [
        (
            "event/medvedev-visits-military-base",
            SourceKind::Caption,
            Some(SourceKind::Body),
        ),
        ("actor/sergey-makarov", SourceKind::Caption, Some(SourceKind::Body)),
        ("actor/anatoly-serdyukov", SourceKind::Caption, Some(SourceKind::Body)),
        (
            "event/medvedev-meets-south-ossetian-government",
            SourceKind::Caption,
            Some(SourceKind::Body),
        ),
        ("treaty/border-protection-2009", SourceKind::Caption, None),
        ("place/russian-military-base-tskhinval", SourceKind::Caption, None),
        ("treaty/finance-agreements-2009", SourceKind::Inferred, None),
        ("treaty/ceasefire-2008", SourceKind::Inferred, None),
        ("event/abkhazia-rally-2008", SourceKind::Inferred, None),
        ("actor/unity-party", SourceKind::Inferred, None),
    ];
    for (entity_id, wanted, unwanted) in table {
        let cited = entity(&store, entity_id)
            .edges()
            .into_iter()
            .filter(|e| e.relation == Relation::CitedSource)
            .map(|e| source(&store, e.to.as_str()).kind)
            .collect::<Vec<_>>();
        assert!(cited.contains(&wanted), "{entity_id} cites {cited:?}");
        if let Some(unwanted) = unwanted {
            assert!(!cited.contains(&unwanted), "{entity_id} cites {cited:?}");
        }
    }
    assert_eq!(source(&store, "source/military-ties").kind, SourceKind::Body);
}

#[test]
fn the_friendship_treaty_names_no_signatories_anywhere() {
    let store = seeded();
    assert_eq!(treaty(&store, "treaty/friendship-2008").signatories, Vec::new());
    let signing = event(&store, "event/friendship-treaty-signing");
    assert!(
        signing.participants.iter().all(|p| p.role != Role::Signatory),
        "{:?}",
        signing.participants
    );
    for person in ["actor/dmitry-medvedev", "actor/eduard-kokoity"] {
        let signed = holders(&store, Relation::TreatySignatory, person);
        assert!(
            !signed.contains(&"treaty/friendship-2008".to_owned()),
            "{person}: {signed:?}"
        );
    }
}

#[test]
fn the_finance_agreements_are_undated_and_the_motions_unplaced() {
    let store = seeded();
    assert_eq!(treaty(&store, "treaty/finance-agreements-2009").signed_on, None);
    for motion in ["event/federation-council-motion", "event/state-duma-motion"] {
        let e = event(&store, motion);
        assert_eq!(e.place, None, "{motion}");
        assert_eq!(e.date, Some(date("2008-08-25")), "{motion}");
    }
}

#[test]
fn the_base_lies_in_tskhinval_so_the_city_holds_the_visit() {
    let store = seeded();
    let base = place(&store, "place/russian-military-base-tskhinval");
    assert_eq!(base.within, Some(id("place/tskhinval")));
    let note = base.note.unwrap_or_default();
    assert!(
        note.contains("near") && note.contains("caption"),
        "the note says why: {note}"
    );
    assert!(holders(&store, Relation::PlaceWithin, "place/tskhinval")
        .contains(&"place/russian-military-base-tskhinval".to_owned()));
    assert!(
        holders(&store, Relation::EventPlace, "place/russian-military-base-tskhinval")
            .contains(&"event/medvedev-visits-military-base".to_owned())
    );
}

#[test]
fn entities_the_article_never_mentions_are_gone() {
    let store = seeded();
    for gone in [
        "actor/russian-ministry-of-defence",
        "actor/people-of-abkhazia",
        "event/withdrawal-deadline",
        "event/russian-financial-dependence",
        "actor/georgian-ssr",
        "actor/south-ossetian-autonomous-oblast",
    ] {
        assert_eq!(store.get(&id(gone)).unwrap(), None, "{gone} is invented or a duplicate");
    }
    // The places the two duplicate actors repeated are still there.
    for kept in ["place/georgian-ssr", "place/south-ossetian-autonomous-oblast"] {
        place(&store, kept);
    }
    let october_withdrawals: Vec<String> = events(&store)
        .into_iter()
        .filter(|e| e.kind == EventKind::Withdrawal)
        .filter(|e| {
            e.date
                .is_some_and(|d| d.overlaps(Some(&date("2008-10")), Some(&date("2008-10"))))
        })
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(
        october_withdrawals,
        vec!["event/russian-withdrawal-completed".to_owned()]
    );
    let abkhazia = event(&store, "event/abkhazia-rally-2008");
    assert!(
        abkhazia.participants.is_empty(),
        "the article names no one: {:?}",
        abkhazia.participants
    );
    let ceasefire = treaty(&store, "treaty/ceasefire-2008");
    assert!(
        ceasefire.provisions.iter().all(|p| !p.contains("12 August")),
        "the article gives the ceasefire no start date: {:?}",
        ceasefire.provisions
    );
}

#[test]
fn every_alias_is_the_articles_or_marked_as_from_elsewhere() {
    let store = seeded();
    let Ok(article) = std::fs::read_to_string(article_path()) else {
        // Without the article, the aliases the review found invented must be gone.
        for kind in [EntityKind::Actor, EntityKind::Place, EntityKind::Treaty] {
            for record in store.all(kind).unwrap() {
                let aliases = match &record.entity {
                    Entity::Actor(a) => a.aliases.clone(),
                    Entity::Place(p) => p.aliases.clone(),
                    Entity::Treaty(t) => t.aliases.clone(),
                    _ => Vec::new(),
                };
                for invented in ["US", "USA", "RSO", "EU", "NYT", "Sergey Makarov", "Transcaucasia"] {
                    assert!(
                        !aliases.iter().any(|a| a == invented),
                        "{}: {invented}",
                        record.entity.id()
                    );
                }
            }
        }
        return;
    };
    let article = format!(" {} ", text::fold(&article));
    let mut unmarked = Vec::new();
    for kind in [EntityKind::Actor, EntityKind::Place, EntityKind::Treaty] {
        for record in store.all(kind).unwrap() {
            let (aliases, note) = match &record.entity {
                Entity::Actor(a) => (&a.aliases, &a.note),
                Entity::Place(p) => (&p.aliases, &p.note),
                Entity::Treaty(t) => (&t.aliases, &t.note),
                _ => continue,
            };
            for alias in aliases {
                let in_article = article.contains(&format!(" {} ", text::fold(alias)));
                let marked = note.as_deref().is_some_and(|n| n.contains(alias.as_str()));
                if !in_article && !marked {
                    unmarked.push(format!("{}: {alias}", record.entity.id()));
                }
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "aliases neither in the article nor marked: {unmarked:#?}"
    );
}

#[test]
fn georgia_proper_and_transnistria_are_places() {
    let store = seeded();
    assert_eq!(place(&store, "place/georgia-proper").within, Some(id("place/georgia")));
    assert_eq!(
        place(&store, "place/georgia-proper-security-zones").within,
        Some(id("place/georgia-proper"))
    );
    assert_eq!(place(&store, "place/transnistria").name, "Transnistria");
    assert_eq!(actor(&store, "actor/transnistria").name, "Transnistria");
}

#[test]
fn the_allocation_rests_on_the_finance_agreements_which_rest_on_the_friendship_treaty() {
    let store = seeded();
    let agreements = treaty(&store, "treaty/finance-agreements-2009");
    assert_eq!(agreements.based_on, Some(id("treaty/friendship-2008")));
    assert_eq!(
        funding(&store, "funding/federal-budget-2009").basis,
        Some(id("treaty/finance-agreements-2009"))
    );
    // Both directions, through the indexes: treaty → agreements → funding.
    assert_eq!(
        holders(&store, Relation::TreatyBasedOn, "treaty/friendship-2008"),
        vec!["treaty/finance-agreements-2009".to_owned()]
    );
    assert_eq!(
        holders(&store, Relation::FundingBasis, "treaty/finance-agreements-2009"),
        vec!["funding/federal-budget-2009".to_owned()]
    );
    assert_eq!(
        holders(&store, Relation::FundingBasis, "treaty/friendship-2008"),
        Vec::<String>::new()
    );
    assert_eq!(
        event(&store, "event/federal-budget-allocation-2009").treaties,
        vec![id("treaty/finance-agreements-2009")]
    );
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

/// Fields that hold names: of entities, of cited documents and their
/// sections. A name must match the source to be found, so it is not checked
/// for copying; every other string is. `title` is a name on a post
/// (`positions[].title`) and prose at the top of an event or allocation.
const NAME_FIELDS: &[&str] = &["name", "aliases", "document", "section", "url"];

/// Names this long are cut out of prose before its runs are counted: a
/// summary may name "the Chief of the General Staff of the Armed Forces of
/// the Russian Federation" without copying the article. Shorter names are
/// left in, so they cannot break up a copied sentence.
const MASKED_NAME_WORDS: usize = 4;

/// Every prose string of a seed entity, with where it is, and every name.
fn prose<'a>(value: &'a Value, path: String, top: bool, out: &mut Vec<(String, &'a str)>, names: &mut Vec<&'a str>) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields {
                let here = format!("{path}.{key}");
                if NAME_FIELDS.contains(&key.as_str()) || (!top && key == "title") {
                    strings(v, here, &mut |_, name| names.push(name));
                } else {
                    prose(v, here, false, out, names);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prose(v, format!("{path}[{i}]"), false, out, names);
            }
        }
        Value::String(s) => out.push((path, s)),
        _ => {}
    }
}

/// Calls `found` with every string in `value` (a string or a list of them).
fn strings<'a>(value: &'a Value, path: String, found: &mut dyn FnMut(String, &'a str)) {
    match value {
        Value::String(s) => found(path, s),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(v, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// The runs of `text` that also occur in the article, counted apart from
/// the long `names` it contains (folded).
fn copied(text: &str, article: &BTreeSet<u64>, names: &[String]) -> Vec<String> {
    let mut folded = format!(" {} ", text::fold(text));
    for name in names {
        folded = folded.replace(&format!(" {name} "), " | ");
    }
    folded
        .split('|')
        .flat_map(shingles)
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

    let mut files: Vec<PathBuf> = std::fs::read_dir(seed_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut texts = Vec::new();
    let mut names = Vec::new();
    let parsed: Vec<(String, Value)> = files
        .iter()
        .map(|file| {
            let json: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            (file.file_name().unwrap().to_string_lossy().into_owned(), json)
        })
        .collect();
    for (name, json) in &parsed {
        for item in json.as_array().expect("a seed file is a list") {
            let label = format!("{name}: {}", item["id"].as_str().unwrap_or("?"));
            prose(item, label, true, &mut texts, &mut names);
        }
    }
    // Longest first, so a name is cut out before any shorter name inside it.
    let mut long_names: Vec<String> = names
        .iter()
        .map(|n| text::fold(n))
        .filter(|n| n.split(' ').count() >= MASKED_NAME_WORDS)
        .collect();
    long_names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    long_names.dedup();

    // The check catches a copied sentence, so passing means something; and
    // a long official name inside prose is a name, not a copy.
    let lifted = "On the night of 7 to 8 August 2008, the Georgian military launched an offensive on Tskhinval.";
    assert!(
        !copied(lifted, &article, &long_names).is_empty(),
        "a sentence lifted from the article should be caught"
    );
    let naming = "In late 2008 the Chief of the General Staff of the Armed Forces of the Russian Federation spoke.";
    assert!(
        !copied(naming, &article, &[]).is_empty(),
        "without the names, the post's long title reads as copied"
    );
    assert_eq!(
        copied(naming, &article, &long_names),
        Vec::<String>::new(),
        "a post's title is a name"
    );

    let mut checked = 0;
    let mut found = Vec::new();
    for (path, text) in texts {
        checked += 1;
        found.extend(
            copied(text, &article, &long_names)
                .into_iter()
                .map(|run| format!("{path}: \"{run}\"")),
        );
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
