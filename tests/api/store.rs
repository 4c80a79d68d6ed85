//! The store: indexes agree with entities after every write, writes are all
//! or nothing, and the date and text indexes answer what they promise.

use std::collections::BTreeSet;

use diplograph::model::{Entity, EntityKind, Event, EventKind, Id, Origin, Participant, Relation, Role};
use diplograph::store::{Change, Direction, PeriodScan, Store, StoreError};

use crate::helpers::{date, id, seeded};

fn counts(store: &Store) -> Vec<(EntityKind, u64)> {
    EntityKind::ALL
        .into_iter()
        .map(|k| (k, store.count(k).unwrap()))
        .collect()
}

fn ids_of(store: &Store, kind: EntityKind) -> Vec<Id> {
    store
        .all(kind)
        .unwrap()
        .into_iter()
        .map(|r| r.entity.id().clone())
        .collect()
}

fn put(entity: Entity) -> Change {
    Change::Put {
        entity,
        origin: Origin::Api,
    }
}

pub(crate) fn event(slug: &str, when: Option<&str>, participants: &[(&str, Role)]) -> Event {
    Event {
        id: id(&format!("event/{slug}")),
        title: format!("Test event {slug}"),
        kind: EventKind::Meeting,
        date: when.map(date),
        place: None,
        summary: None,
        participants: participants
            .iter()
            .map(|(actor, role)| Participant {
                actor: id(actor),
                role: *role,
            })
            .collect(),
        treaties: vec![],
        part_of: None,
        after: vec![],
        retracted_by: None,
        figures: vec![],
        sources: vec![],
        note: None,
        responds: vec![],
    }
}

/// Checks one relation in both directions against what the entities hold.
/// `expected` is (holder, target, payload), read from the entities' own
/// fields rather than through `Entity::edges`, which the store itself uses.
fn assert_relation_agrees(
    store: &Store,
    relation: Relation,
    holders: &[Id],
    targets: &[Id],
    expected: &BTreeSet<(Id, Id, Vec<u8>)>,
) {
    let forward: BTreeSet<(Id, Id, Vec<u8>)> = store
        .related(relation, Direction::Forward, holders)
        .unwrap()
        .into_iter()
        .flat_map(|(from, links)| links.into_iter().map(move |(to, payload)| (from.clone(), to, payload)))
        .collect();
    assert_eq!(
        &forward, expected,
        "{relation:?}: the forward index should hold exactly the entities' links"
    );
    let backward: BTreeSet<(Id, Id, Vec<u8>)> = store
        .related(relation, Direction::Backward, targets)
        .unwrap()
        .into_iter()
        .flat_map(|(to, links)| {
            links
                .into_iter()
                .map(move |(from, payload)| (from, to.clone(), payload))
        })
        .collect();
    assert_eq!(
        &backward, expected,
        "{relation:?}: the backward index should hold exactly the entities' links"
    );
}

#[test]
fn the_seed_leaves_every_index_in_agreement_with_the_entities() {
    let store = seeded();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn every_event_an_actor_took_part_in_lists_that_actor_and_the_reverse() {
    let store = seeded();
    let actors = ids_of(&store, EntityKind::Actor);
    let mut events = Vec::new();
    let mut expected = BTreeSet::new();
    for record in store.all(EntityKind::Event).unwrap() {
        let Entity::Event(event) = record.entity else {
            panic!("a non-event in the events tree");
        };
        // Only the first role of an actor listed twice is indexed.
        let mut seen = BTreeSet::new();
        for p in &event.participants {
            if seen.insert(p.actor.clone()) {
                expected.insert((event.id.clone(), p.actor.clone(), p.role.as_str().as_bytes().to_vec()));
            }
        }
        events.push(event.id);
    }
    assert!(expected.len() > 100, "the seed should have many participations");
    assert_relation_agrees(&store, Relation::EventParticipant, &events, &actors, &expected);

    // The same, read the way a resolver reads it: one actor at a time.
    for actor in &actors {
        let linked = store
            .related(
                Relation::EventParticipant,
                Direction::Backward,
                std::slice::from_ref(actor),
            )
            .unwrap();
        for (event_id, role) in &linked[actor] {
            let Some(Entity::Event(event)) = store.get(event_id).unwrap() else {
                panic!("{actor} is linked to {event_id}, which is not a stored event");
            };
            assert!(
                event
                    .participants
                    .iter()
                    .any(|p| &p.actor == actor && p.role.as_str().as_bytes() == role.as_slice()),
                "{event_id} does not list {actor} as {}",
                String::from_utf8_lossy(role)
            );
        }
    }
}

#[test]
fn every_treaty_party_and_funding_donor_and_recipient_is_indexed_both_ways() {
    let store = seeded();
    let actors = ids_of(&store, EntityKind::Actor);

    let mut treaties = Vec::new();
    let mut parties = BTreeSet::new();
    for record in store.all(EntityKind::Treaty).unwrap() {
        let Entity::Treaty(treaty) = record.entity else {
            panic!("a non-treaty in the treaties tree");
        };
        for party in &treaty.parties {
            parties.insert((treaty.id.clone(), party.clone(), Vec::new()));
        }
        treaties.push(treaty.id);
    }
    assert!(!parties.is_empty());
    assert_relation_agrees(&store, Relation::TreatyParty, &treaties, &actors, &parties);

    let mut funding = Vec::new();
    let mut donors = BTreeSet::new();
    let mut recipients = BTreeSet::new();
    for record in store.all(EntityKind::Funding).unwrap() {
        let Entity::Funding(f) = record.entity else {
            panic!("a non-allocation in the funding tree");
        };
        donors.insert((f.id.clone(), f.donor.clone(), Vec::new()));
        recipients.insert((f.id.clone(), f.recipient.clone(), Vec::new()));
        funding.push(f.id);
    }
    assert!(!donors.is_empty());
    assert_relation_agrees(&store, Relation::FundingDonor, &funding, &actors, &donors);
    assert_relation_agrees(&store, Relation::FundingRecipient, &funding, &actors, &recipients);
}

#[test]
fn updating_and_deleting_remove_the_old_index_entries() {
    let store = seeded();
    let decrees = id("event/recognition-decrees");
    let abkhazia = id("actor/abkhazia");
    let Some(Entity::Event(mut event)) = store.get(&decrees).unwrap() else {
        panic!("the seed has {decrees}");
    };
    let before = counts(&store);
    let generation = store.generation().unwrap();

    // Drop Abkhazia from the participants, move the date, rename it.
    assert!(event.participants.iter().any(|p| p.actor == abkhazia));
    event.participants.retain(|p| p.actor != abkhazia);
    event.date = Some(date("2008-08-27"));
    event.title = "Zygomorphic placeholder title".into();
    let updated = Entity::Event(event);
    assert!(store.apply(&[put(updated.clone())], true).unwrap() > generation);

    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    assert_eq!(counts(&store), before, "an update adds nothing");
    assert_eq!(store.get(&decrees).unwrap(), Some(updated));
    let abkhazia_events = store
        .related(
            Relation::EventParticipant,
            Direction::Backward,
            std::slice::from_ref(&abkhazia),
        )
        .unwrap();
    assert!(
        !abkhazia_events[&abkhazia].iter().any(|(e, _)| e == &decrees),
        "Abkhazia still lists the decrees"
    );
    let day = |d: &str| {
        store
            .ids_in_period(EntityKind::Event, Some(&date(d)), Some(&date(d)))
            .unwrap()
    };
    assert!(!day("2008-08-26").contains(&decrees));
    assert!(day("2008-08-27").contains(&decrees));
    assert!(store.search("medvedev signs decrees", 4).unwrap().is_empty());
    assert_eq!(
        store.search("zygomorphic", 4).unwrap().first().map(|h| &h.0),
        Some(&decrees)
    );

    // Delete an allocation: it leaves its donor's and its period's indexes.
    let reconstruction = id("funding/reconstruction");
    let russia = id("actor/russia");
    store.apply(&[Change::Delete(reconstruction.clone())], true).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    assert_eq!(store.get(&reconstruction).unwrap(), None);
    assert_eq!(
        store.count(EntityKind::Funding).unwrap(),
        before.iter().find(|(k, _)| *k == EntityKind::Funding).unwrap().1 - 1
    );
    let given = store
        .related(
            Relation::FundingDonor,
            Direction::Backward,
            std::slice::from_ref(&russia),
        )
        .unwrap();
    assert!(!given[&russia].iter().any(|(f, _)| f == &reconstruction));
    assert!(!store
        .search("reconstruction", 1)
        .unwrap()
        .iter()
        .any(|(hit, _)| hit == &reconstruction));
}

#[test]
fn a_write_with_a_bad_reference_is_refused_and_changes_nothing() {
    struct Case {
        description: &'static str,
        changes: Vec<Change>,
        /// (entity, field, target) the error must name.
        names: (&'static str, &'static str, &'static str),
    }
    let cases = vec![
        Case {
            description: "a participant that does not exist",
            changes: vec![put(Entity::Event(event(
                "rally",
                Some("2009-03"),
                &[("actor/nobody", Role::Actor)],
            )))],
            names: ("event/rally", "participants.actor", "actor/nobody"),
        },
        Case {
            description: "a place id where an actor belongs",
            changes: vec![put(Entity::Event(event(
                "rally",
                None,
                &[("place/kremlin", Role::Host)],
            )))],
            names: ("event/rally", "participants.actor", "place/kremlin"),
        },
        Case {
            description: "a good write batched with a bad one",
            changes: vec![
                put(Entity::Event(event("good", None, &[("actor/russia", Role::Actor)]))),
                put(Entity::Event(event("bad", None, &[("actor/nobody", Role::Actor)]))),
            ],
            names: ("event/bad", "participants.actor", "actor/nobody"),
        },
        Case {
            description: "a reference to an entity the same batch deletes",
            changes: vec![
                Change::Delete(id("actor/nicolas-sarkozy")),
                put(Entity::Event(event(
                    "talks",
                    None,
                    &[("actor/nicolas-sarkozy", Role::Mediator)],
                ))),
            ],
            names: ("event/talks", "participants.actor", "actor/nicolas-sarkozy"),
        },
    ];
    let store = seeded();
    let before = counts(&store);
    let generation = store.generation().unwrap();
    for case in cases {
        let error = store.apply(&case.changes, true).expect_err(case.description);
        let StoreError::MissingReference { id, field, target } = &error else {
            panic!(
                "{}: expected StoreError::MissingReference, got {error:?}",
                case.description
            );
        };
        assert_eq!(
            (id.as_str(), *field, target.as_str()),
            case.names,
            "{}",
            case.description
        );
        let message = error.to_string();
        for part in [case.names.0, case.names.1, case.names.2] {
            assert!(
                message.contains(part),
                "{}: {message:?} should name {part}",
                case.description
            );
        }
        assert_eq!(counts(&store), before, "{}", case.description);
        assert_eq!(store.generation().unwrap(), generation, "{}", case.description);
        for change in &case.changes {
            if let Change::Put { entity, .. } = change {
                assert_eq!(store.get(entity.id()).unwrap(), None, "{}", case.description);
            }
        }
    }
    assert!(store.get(&id("actor/nicolas-sarkozy")).unwrap().is_some());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn references_are_checked_once_the_whole_batch_is_applied() {
    let store = seeded();
    // The event comes first and names an actor the batch creates after it.
    let mut newcomer = match store.get(&id("actor/nicolas-sarkozy")).unwrap() {
        Some(Entity::Actor(a)) => a,
        other => panic!("the seed has Sarkozy, got {other:?}"),
    };
    newcomer.id = id("actor/newcomer");
    let changes = [
        put(Entity::Event(event(
            "welcome",
            Some("2010"),
            &[("actor/newcomer", Role::Visitor)],
        ))),
        put(Entity::Actor(newcomer)),
    ];
    store.apply(&changes, true).expect("the batch is consistent");
    assert!(store.get(&id("event/welcome")).unwrap().is_some());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn deleting_an_entity_that_does_not_exist_is_not_found_and_changes_nothing() {
    let store = seeded();
    let before = counts(&store);
    let generation = store.generation().unwrap();
    match store.apply(&[Change::Delete(id("actor/nobody"))], false) {
        Err(e @ StoreError::NotFound { .. }) => {
            assert!(e.to_string().contains("actor/nobody"), "{e}")
        }
        other => panic!("expected StoreError::NotFound, got {other:?}"),
    }
    assert_eq!(counts(&store), before);
    assert_eq!(store.generation().unwrap(), generation);
}

#[test]
fn a_period_finds_every_event_whose_dates_overlap_it() {
    // (date, whether it overlaps March 2009, why)
    let table: &[(Option<&str>, bool, &str)] = &[
        (Some("2009-03"), true, "the same month"),
        (Some("2009"), true, "a year that contains the month"),
        (Some("2009-03-01"), true, "the first day of the month"),
        (Some("2009-03-31"), true, "the last day of the month"),
        (
            Some("2009-02-15/2009-03-01"),
            true,
            "a range that ends on its first day",
        ),
        (Some("2000/2020"), true, "a long range that starts long before"),
        (Some("2009-04-01"), false, "the day after"),
        (Some("2009-02-28"), false, "the day before"),
        (Some("2009-04"), false, "the next month"),
        (Some("2008"), false, "the year before"),
        (Some("2008-08-07/2008-08-08"), false, "a range that ends long before"),
        (None, false, "an undated event"),
    ];
    let store = Store::temporary().unwrap();
    let changes: Vec<Change> = table
        .iter()
        .enumerate()
        .map(|(i, (when, _, _))| put(Entity::Event(event(&format!("e{i}"), *when, &[]))))
        .collect();
    store.apply(&changes, true).unwrap();

    let march = date("2009-03");
    let found = store
        .ids_in_period(EntityKind::Event, Some(&march), Some(&march))
        .unwrap();
    for (i, (when, overlaps, why)) in table.iter().enumerate() {
        let event = id(&format!("event/e{i}"));
        assert_eq!(
            found.contains(&event),
            *overlaps,
            "{why} ({when:?}) should {}be found for March 2009",
            if *overlaps { "" } else { "not " }
        );
    }

    // Open-ended periods: everything dated from March 2009 on, or up to it.
    let from = store.ids_in_period(EntityKind::Event, Some(&march), None).unwrap();
    assert!(from.contains(&id("event/e6")), "the day after is later");
    assert!(!from.contains(&id("event/e9")), "the year before is earlier");
    let to = store.ids_in_period(EntityKind::Event, None, Some(&march)).unwrap();
    assert!(to.contains(&id("event/e9")), "the year before is earlier");
    assert!(!to.contains(&id("event/e6")), "the day after is later");
    assert!(!to.contains(&id("event/e11")), "undated events have no period");
}

#[test]
fn search_finds_kokoity_whatever_the_case_and_accents() {
    let store = seeded();
    let kokoity = id("actor/eduard-kokoity");
    for query in ["kokoity", "Kokoïty", "KOKOITY", "kokoÏty", "Eduard Kokoity"] {
        let hits = store.search(query, 1).unwrap();
        assert_eq!(
            hits.first().map(|h| &h.0),
            Some(&kokoity),
            "{query:?} should find Kokoity first: {hits:?}"
        );
    }
    let hits = store.search("kokoity", 1).unwrap();
    assert!(
        hits.iter().any(|(hit, _)| hit == &id("event/kokoity-flies-to-moscow")),
        "events titled after Kokoity match too: {hits:?}"
    );
    assert!(store.search("zzzzunknown", 1).unwrap().is_empty());
}

#[test]
fn a_search_of_several_words_finds_what_each_word_finds_whatever_their_order() {
    // Words of the seed's names, common and rare, in pairs and a triple:
    // the hits are the entities every word finds, scored alike whichever
    // word is read first (the store reads the word with fewest entries first).
    let store = seeded();
    let queries = [
        ("russia", "ossetia"),
        ("south", "ossetia"),
        ("kokoity", "moscow"),
        ("treaty", "friendship"),
        ("ossetia", "medvedev"),
        ("rus", "oss"),
    ];
    for forgiving in [false, true] {
        let run = |q: &str| match forgiving {
            false => store.search(q, 1).unwrap(),
            true => store.search_forgiving(q, usize::MAX).unwrap(),
        };
        for (a, b) in queries {
            let both = run(&format!("{a} {b}"));
            assert_eq!(
                both,
                run(&format!("{b} {a}")),
                "{a} {b} either way (forgiving {forgiving})"
            );
            let found: BTreeSet<Id> = both.iter().map(|(id, _)| id.clone()).collect();
            let of_a: BTreeSet<Id> = run(a).into_iter().map(|(id, _)| id).collect();
            let of_b: BTreeSet<Id> = run(b).into_iter().map(|(id, _)| id).collect();
            assert_eq!(found, &of_a & &of_b, "{a} {b} (forgiving {forgiving})");
        }
        let three = run("south ossetia russia");
        assert!(!three.is_empty());
        assert_eq!(three, run("russia south ossetia"), "forgiving {forgiving}");
    }
}

/// Random entity graphs: whatever is written, in whatever batches, the
/// indexes agree with the entities and every entity reads back as written.
mod random_graphs {
    use std::collections::{BTreeMap, BTreeSet};

    use diplograph::model::{
        Actor, ActorKind, Currency, Entity, EntityKind, Event, EventKind, Figure, FundingAllocation, Id, Money, Origin,
        PartialDate, Participant, Place, PlaceKind, Position, Ratification, Response, ResponseKind, Role, Source,
        SourceKind, Treaty, TreatyKind,
    };
    use diplograph::store::{Change, PeriodScan, Store};
    use proptest::prelude::*;

    /// Every random decision is read from this tape of numbers, so proptest
    /// shrinks a failing graph by shrinking the tape (towards zeros, which
    /// build the smallest graphs).
    struct Tape<'a> {
        choices: &'a [u32],
        pos: usize,
    }

    impl Tape<'_> {
        /// A number in `0..n` (0 when `n` is 0 or the tape has run out).
        fn next(&mut self, n: usize) -> usize {
            let choice = self.choices.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            if n == 0 {
                0
            } else {
                choice as usize % n
            }
        }

        fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
            if items.is_empty() {
                None
            } else {
                Some(items[self.next(items.len())].clone())
            }
        }

        /// Half the time nothing, otherwise one of `items`.
        fn maybe<T: Clone>(&mut self, items: &[T]) -> Option<T> {
            if self.next(2) == 0 {
                None
            } else {
                self.pick(items)
            }
        }

        /// Up to `max` of `items`, repeats allowed.
        fn some<T: Clone>(&mut self, items: &[T], max: usize) -> Vec<T> {
            let n = self.next(max + 1);
            (0..n).filter_map(|_| self.pick(items)).collect()
        }

        /// Half the time nothing, otherwise some words.
        fn maybe_words(&mut self) -> Option<String> {
            (self.next(2) == 1).then(|| self.words())
        }

        /// A name of one to four words, with accents, capitals and short words.
        fn words(&mut self) -> String {
            const WORDS: &[&str] = &[
                "Kokoïty",
                "Tskhinval",
                "Ossetia",
                "RUSSIA",
                "treaty",
                "Ambassador",
                "Médvédev",
                "border",
                "guard",
                "ministry",
                "of",
                "2009",
            ];
            let n = 1 + self.next(4);
            (0..n)
                .map(|_| WORDS[self.next(WORDS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        }

        fn point(&mut self, year: usize) -> String {
            let month = 1 + self.next(12);
            let day = 1 + self.next(28);
            match self.next(3) {
                0 => format!("{year:04}"),
                1 => format!("{year:04}-{month:02}"),
                _ => format!("{year:04}-{month:02}-{day:02}"),
            }
        }

        /// No date, or a year, month, day or range, all within 2000–2003 and
        /// on few distinct days, so that periods often start or end together.
        fn crowded_date(&mut self) -> Option<PartialDate> {
            let year = 2000 + self.next(3);
            let point = |t: &mut Self, year: usize| match t.next(3) {
                0 => format!("{year:04}"),
                1 => format!("{year:04}-{:02}", 1 + t.next(2)),
                _ => format!("{year:04}-{:02}-{:02}", 1 + t.next(2), 1 + t.next(3)),
            };
            let text = match self.next(6) {
                0 => return None,
                1..=3 => point(self, year),
                _ => {
                    let start = point(self, year);
                    let end_year = year + self.next(2);
                    let end = point(self, end_year);
                    format!("{start}/{end}")
                }
            };
            // A range may end before it starts; those are not valid dates.
            PartialDate::parse(&text).ok()
        }

        /// No date, or a year, month, day or range.
        fn date(&mut self) -> Option<PartialDate> {
            let year = 1900 + self.next(150);
            let text = match self.next(5) {
                0 => return None,
                1..=3 => self.point(year),
                _ => {
                    let start = self.point(year);
                    let end_year = year + 1 + self.next(5);
                    let end = self.point(end_year);
                    format!("{start}/{end}")
                }
            };
            Some(PartialDate::parse(&text).expect("generated dates are valid"))
        }
    }

    /// The ids of the graph, decided before any entity is built so that each
    /// builder can point at entities of kinds built before it.
    struct Ids {
        sources: Vec<Id>,
        places: Vec<Id>,
        actors: Vec<Id>,
        treaties: Vec<Id>,
        events: Vec<Id>,
        funding: Vec<Id>,
    }

    fn make_ids(kind: EntityKind, n: usize) -> Vec<Id> {
        (0..n).map(|i| Id::new(kind, &format!("n{i}")).unwrap()).collect()
    }

    fn pick_kind<T: Copy>(t: &mut Tape, all: &[T]) -> T {
        all[t.next(all.len())]
    }

    /// Entity `i` of `kind`; references to its own kind point at earlier ones.
    fn build(t: &mut Tape, ids: &Ids, kind: EntityKind, i: usize) -> Entity {
        let note = t.maybe_words();
        match kind {
            EntityKind::Source => Entity::Source(Source {
                id: ids.sources[i].clone(),
                document: t.words(),
                section: t.maybe_words(),
                url: None,
                note,
                kind: SourceKind::ALL[i % SourceKind::ALL.len()],
            }),
            EntityKind::Place => Entity::Place(Place {
                id: ids.places[i].clone(),
                name: t.words(),
                kind: pick_kind(t, PlaceKind::ALL),
                aliases: (0..t.next(3)).map(|_| t.words()).collect(),
                summary: t.maybe_words(),
                within: t.maybe(&ids.places[..i]),
                sources: t.some(&ids.sources, 2),
                note,
            }),
            EntityKind::Actor => Entity::Actor(Actor {
                id: ids.actors[i].clone(),
                name: t.words(),
                kind: pick_kind(t, ActorKind::ALL),
                aliases: (0..t.next(3)).map(|_| t.words()).collect(),
                summary: t.maybe_words(),
                part_of: t.maybe(&ids.actors[..i]),
                positions: t
                    .some(&ids.actors[..i], 2)
                    .into_iter()
                    .map(|of| Position {
                        title: t.words(),
                        of,
                        from: t.date(),
                        to: None,
                        note: None,
                    })
                    .collect(),
                sources: t.some(&ids.sources, 2),
                note,
            }),
            EntityKind::Treaty => Entity::Treaty(Treaty {
                id: ids.treaties[i].clone(),
                name: t.words(),
                kind: pick_kind(t, TreatyKind::ALL),
                aliases: vec![],
                cited_only: t.next(2) == 0,
                summary: t.maybe_words(),
                signed_on: t.date(),
                signed_at: t.maybe(&ids.places),
                parties: t.some(&ids.actors, 3),
                signatories: t.some(&ids.actors, 2),
                ratifications: t
                    .some(&ids.actors, 2)
                    .into_iter()
                    .map(|by| Ratification { by, date: t.date() })
                    .collect(),
                entered_into_force_on: t.date(),
                provisions: (0..t.next(3)).map(|_| t.words()).collect(),
                mediator: t.maybe(&ids.actors),
                based_on: t.maybe(&ids.treaties[..i]),
                sources: t.some(&ids.sources, 2),
                note,
            }),
            EntityKind::Event => Entity::Event(Event {
                id: ids.events[i].clone(),
                title: t.words(),
                kind: pick_kind(t, EventKind::ALL),
                date: t.date(),
                place: t.maybe(&ids.places),
                summary: t.maybe_words(),
                participants: t
                    .some(&ids.actors, 4)
                    .into_iter()
                    .map(|actor| Participant {
                        actor,
                        role: pick_kind(t, Role::ALL),
                    })
                    .collect(),
                treaties: t.some(&ids.treaties, 2),
                part_of: t.maybe(&ids.events[..i]),
                after: t.some(&ids.events[..i], 2),
                retracted_by: t.maybe(&ids.events[..i]),
                figures: (0..t.next(3))
                    .map(|_| Figure {
                        label: t.words(),
                        value: t.next(2_000_000) as i64 - 1_000_000,
                        unit: "soldiers".into(),
                        claimed_by: t.maybe(&ids.actors),
                    })
                    .collect(),
                sources: t.some(&ids.sources, 2),
                note,
                // At most one, so never two responses to one event; never a
                // retraction, which `retracted_by` records.
                responds: t
                    .maybe(&ids.events[..i])
                    .map(|event| Response {
                        event,
                        kind: pick_kind(t, &ResponseKind::ALL[1..]),
                    })
                    .into_iter()
                    .collect(),
            }),
            EntityKind::Funding => Entity::Funding(FundingAllocation {
                id: ids.funding[i].clone(),
                title: t.words(),
                amount: Money::new(
                    1 + t.next(u32::MAX as usize) as u64 * 1_000_003,
                    Currency::parse(["RUB", "USD", "EUR"][t.next(3)]).unwrap(),
                )
                .unwrap(),
                donor: t.pick(&ids.actors).expect("graphs have actors"),
                recipient: t.pick(&ids.actors).expect("graphs have actors"),
                purpose: t.words(),
                date: t.date(),
                authorized_by: t.maybe(&ids.actors),
                basis: t.maybe(&ids.treaties),
                event: t.maybe(&ids.events),
                sources: t.some(&ids.sources, 2),
                note,
            }),
        }
    }

    /// What to do to an entity after the graph is written.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Fate {
        Keep,
        Update,
        Delete,
        UpdateThenDelete,
    }

    /// A change of the second write. The test keeps its own type rather
    /// than matching on `Change`, so it reads the same whatever other kinds
    /// of change the store learns.
    enum Op {
        Update(Box<Entity>),
        Delete(Id),
    }

    impl Op {
        fn change(&self) -> Change {
            match self {
                Op::Update(entity) => Change::Put {
                    entity: (**entity).clone(),
                    origin: Origin::Api,
                },
                Op::Delete(id) => Change::Delete(id.clone()),
            }
        }
    }

    struct Plan {
        /// Every entity, in an order where references point backwards.
        entities: Vec<Entity>,
        /// Where the first write is cut into batches.
        cuts: BTreeSet<usize>,
        /// The second write: updates and deletes, cut into batches too.
        later: Vec<Op>,
        later_cuts: BTreeSet<usize>,
    }

    fn plan(choices: &[u32]) -> Plan {
        let t = &mut Tape { choices, pos: 0 };
        let ids = Ids {
            sources: make_ids(EntityKind::Source, t.next(4)),
            places: make_ids(EntityKind::Place, 1 + t.next(8)),
            actors: make_ids(EntityKind::Actor, 1 + t.next(10)),
            treaties: make_ids(EntityKind::Treaty, t.next(4)),
            events: make_ids(EntityKind::Event, t.next(16)),
            funding: make_ids(EntityKind::Funding, t.next(4)),
        };
        // Batch boundaries come early on the tape, so that long graphs do
        // not run it out before they are decided.
        let cut_fractions: Vec<usize> = (0..t.next(4)).map(|_| t.next(1000)).collect();
        let later_cut_fractions: Vec<usize> = (0..t.next(3)).map(|_| t.next(1000)).collect();
        let order = [
            (EntityKind::Source, ids.sources.len()),
            (EntityKind::Place, ids.places.len()),
            (EntityKind::Actor, ids.actors.len()),
            (EntityKind::Treaty, ids.treaties.len()),
            (EntityKind::Event, ids.events.len()),
            (EntityKind::Funding, ids.funding.len()),
        ];
        let mut entities = Vec::new();
        let mut later = Vec::new();
        for (kind, n) in order {
            for i in 0..n {
                let entity = build(t, &ids, kind, i);
                let fate = match t.next(8) {
                    0..=3 => Fate::Keep,
                    4 | 5 => Fate::Update,
                    6 => Fate::Delete,
                    _ => Fate::UpdateThenDelete,
                };
                if matches!(fate, Fate::Update | Fate::UpdateThenDelete) {
                    later.push(Op::Update(Box::new(build(t, &ids, kind, i))));
                }
                if matches!(fate, Fate::Delete | Fate::UpdateThenDelete) {
                    later.push(Op::Delete(entity.id().clone()));
                }
                entities.push(entity);
            }
        }
        let at = |fractions: &[usize], len: usize| fractions.iter().map(|f| f * len / 1000).collect();
        let cuts = at(&cut_fractions, entities.len());
        let later_cuts = at(&later_cut_fractions, later.len());
        Plan {
            entities,
            cuts,
            later,
            later_cuts,
        }
    }

    /// `items` cut at `cuts` into non-empty batches.
    fn batches<'a, T>(items: &'a [T], cuts: &BTreeSet<usize>) -> Vec<&'a [T]> {
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([items.len()].iter()) {
            if cut > start {
                out.push(&items[start..cut]);
                start = cut;
            }
        }
        out
    }

    proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]

            #[test]
            fn any_graph_written_in_any_batches_reads_back_with_consistent_indexes(
                choices in prop::collection::vec(any::<u32>(), 0..3000),
                origin_is_seed in any::<bool>(),
            ) {
                let plan = plan(&choices);
                let origin = if origin_is_seed { Origin::Seed } else { Origin::Api };
                let store = Store::temporary().unwrap();

                // The first write only points backwards, so every batch passes
                // the reference check.
                let puts: Vec<Change> = plan
                    .entities
                    .iter()
                    .map(|e| Change::Put { entity: e.clone(), origin })
                    .collect();
                for batch in batches(&puts, &plan.cuts) {
                    store.apply(batch, true).expect("a backward-pointing batch is consistent");
                }
                prop_assert_eq!(store.verify().unwrap(), Vec::<String>::new());

                // Updates may point at entities the same write deletes, so the
                // second write skips the reference check.
                let later: Vec<Change> = plan.later.iter().map(Op::change).collect();
                for batch in batches(&later, &plan.later_cuts) {
                    store.apply(batch, false).expect("updates and deletes of existing entities");
                }

                let mut live: BTreeMap<Id, (Entity, Origin)> = plan
                    .entities
                    .iter()
                    .map(|e| (e.id().clone(), (e.clone(), origin)))
                    .collect();
                for op in &plan.later {
                    match op {
                        Op::Update(entity) => {
                            live.insert(entity.id().clone(), ((**entity).clone(), Origin::Api));
                        }
                        Op::Delete(id) => {
                            live.remove(id);
                        }
                    }
                }

                prop_assert_eq!(store.verify().unwrap(), Vec::<String>::new());
                for kind in EntityKind::ALL {
                    let expected = live.keys().filter(|id| id.kind() == kind).count() as u64;
                    prop_assert_eq!(store.count(kind).unwrap(), expected, "count of {}", kind.plural());
                    prop_assert_eq!(store.all(kind).unwrap().len() as u64, expected);
                }
                for entity in &plan.entities {
                    let stored = store.get_record(entity.id()).unwrap();
                    match live.get(entity.id()) {
                        Some((entity, origin)) => {
                            let record = stored.expect("a live entity is stored");
                            prop_assert_eq!(&record.entity, entity);
                            prop_assert_eq!(record.origin, *origin);
                        }
                        None => prop_assert!(stored.is_none(), "{} was deleted", entity.id()),
                    }
                }
                for kind in [EntityKind::Event, EntityKind::Treaty, EntityKind::Funding] {
                    let dated: BTreeSet<Id> = live
                        .values()
                        .filter(|(e, _)| e.kind() == kind && e.date().is_some())
                        .map(|(e, _)| e.id().clone())
                        .collect();
                    let found: BTreeSet<Id> =
                        store.ids_in_period(kind, None, None).unwrap().into_iter().collect();
                    prop_assert_eq!(found, dated, "every dated {} and nothing else", kind);
                }
                // The best few hits are the first few of the full ranking, for
                // every word of the vocabulary alone (the one-word shortcut) and
                // for every name (mostly several words).
                let words = ["Kokoïty", "tskhinval", "OSSETIA", "treaty", "médvédev", "of", "2009", "guard"];
                let labels = live.values().map(|(e, _)| e.label().to_owned());
                for query in words.iter().map(|w| w.to_string()).chain(labels) {
                    for min_weight in [1, 4] {
                        let all = store.search(&query, min_weight).unwrap();
                        for limit in [0, 1, 2, 5] {
                            let top = store.search_top(&query, min_weight, limit).unwrap();
                            prop_assert_eq!(&top[..], &all[..limit.min(all.len())], "top {} for {:?}", limit, query);
                        }
                    }
                    // The same for a search that forgives.
                    let all = store.search_forgiving(&query, usize::MAX).unwrap();
                    for limit in [0, 1, 2, 5] {
                        let top = store.search_forgiving(&query, limit).unwrap();
                        prop_assert_eq!(&top[..], &all[..limit.min(all.len())], "forgiving top {} for {:?}", limit, query);
                    }
                }
                for (entity, _) in live.values() {
                    let hits = store.search(entity.label(), 4).unwrap();
                    prop_assert!(
                        hits.iter().any(|(hit, _)| hit == entity.id()),
                        "searching for {:?} should find {}",
                        entity.label(),
                        entity.id()
                    );
                }
            }

            #[test]
            fn chronological_pages_filtered_by_period_and_kind_match_a_full_filter(
                choices in prop::collection::vec(any::<u32>(), 200..2000),
            ) {
                // Many events crowded into three years, so that periods share start
                // days, overlap and end on the boundaries the scan seeks over.
                let mut t = Tape { choices: &choices, pos: 0 };
                let store = Store::temporary().unwrap();
                let kinds = [EventKind::Visit, EventKind::Statement, EventKind::Signing];
                let puts: Vec<Change> = (0..600)
                    .map(|i| Change::Put {
                        entity: Entity::Event(Event {
                            kind: kinds[t.next(kinds.len())],
                            date: t.crowded_date(),
                            ..super::event(&format!("e{i}"), None, &[])
                        }),
                        origin: Origin::Seed,
                    })
                    .collect();
                store.apply(&puts, true).unwrap();
                let mut events: Vec<(Vec<u8>, Event)> = puts
                    .iter()
                    .filter_map(|c| match c {
                        Change::Put { entity: Entity::Event(e), .. } => Some((store.list_key(&e.id).unwrap().unwrap(), e.clone())),
                        _ => None,
                    })
                    .collect();
                events.sort_by(|a, b| a.0.cmp(&b.0));
                for kind in kinds {
                    let found: BTreeSet<Id> =
                        store.ids_of_subkind(EntityKind::Event, kind.as_str()).unwrap().into_iter().collect();
                    let expected: BTreeSet<Id> =
                        events.iter().filter(|(_, e)| e.kind == kind).map(|(_, e)| e.id.clone()).collect();
                    prop_assert_eq!(found, expected, "events of kind {:?}", kind);
                }
                for _ in 0..40 {
                    // Half the periods start on a new year, the day most periods
                    // start on, so the scan has long runs of them to skip.
                    let from = match t.next(2) {
                        0 => Some(PartialDate::parse(&(2000 + t.next(4)).to_string()).unwrap()),
                        _ => t.crowded_date(),
                    };
                    let to = t.crowded_date();
                    let subkind = t.maybe(&kinds);
                    let undated = t.next(6) == 0;
                    let dated = !undated && t.next(4) == 0;
                    let whole = t.next(2) == 0;
                    // Undated entries only, with or without a period (which none lies in).
                    let (from, to) = if undated && t.next(2) == 0 { (None, None) } else { (from, to) };
                    let matching: Vec<&(Vec<u8>, Event)> = events
                        .iter()
                        .filter(|(_, e)| subkind.is_none_or(|k| e.kind == k))
                        .filter(|(_, e)| match (&from, &to, dated) {
                            _ if undated => e.date.is_none() && from.is_none() && to.is_none(),
                            (None, None, false) => true,
                            _ if whole => e.date.is_some_and(|d| d.lies_within(from.as_ref(), to.as_ref())),
                            _ => e.date.is_some_and(|d| d.overlaps(from.as_ref(), to.as_ref())),
                        })
                        .collect();
                    let keys: Vec<Vec<u8>> = events.iter().map(|(k, _)| k.clone()).collect();
                    let (after, before) = (t.maybe(&keys), t.maybe(&keys));
                    let (limit, from_end) = (t.next(30), t.next(2) == 1);
                    let scan = PeriodScan {
                        from: from.as_ref(),
                        to: to.as_ref(),
                        whole,
                        dated,
                        undated,
                        subkind: subkind.map(EventKind::as_str),
                        after: after.as_deref(),
                        before: before.as_deref(),
                        from_end,
                    };
                    let between: Vec<&Id> = matching
                        .iter()
                        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a) && before.as_ref().is_none_or(|b| k < b))
                        .map(|(_, e)| &e.id)
                        .collect();
                    let expected: Vec<&Id> = if from_end {
                        between[between.len().saturating_sub(limit)..].to_vec()
                    } else {
                        between.iter().take(limit).copied().collect()
                    };
                    let page = store.page_period(EntityKind::Event, &scan, limit).unwrap();
                    let found: Vec<&Id> = page.iter().map(|(_, id)| id).collect();
                    prop_assert_eq!(
                        found,
                        expected,
                        "page of {:?}..{:?} kind {:?} whole {} undated {}",
                        from,
                        to,
                        subkind,
                        whole,
                        undated
                    );
                    prop_assert_eq!(store.count_period(EntityKind::Event, &scan).unwrap(), between.len());
                    // Without cursors, an overlapping period is counted by blocks.
                    let uncut = PeriodScan { after: None, before: None, ..scan };
                    prop_assert_eq!(
                        store.count_period(EntityKind::Event, &uncut).unwrap(),
                        matching.len(),
                        "count of {:?}..{:?} kind {:?} whole {} undated {} dated {}",
                        from,
                        to,
                        subkind,
                        whole,
                        undated,
                        dated
                    );
                }
            }
    }
}

#[test]
fn a_period_scan_keeps_what_ends_on_its_first_day_among_many_that_end_before() {
    // Thirty events fill 2004 (they start and end with it), which the scan
    // jumps over; two more start with them but end on New Year's Day 2005 or
    // on the day after, so they belong to 2005, as does one that started the
    // day before them.
    let store = Store::temporary().unwrap();
    let mut changes: Vec<Change> = (0..30)
        .map(|i| put(Entity::Event(event(&format!("year-{i:02}"), Some("2004"), &[]))))
        .collect();
    changes.push(put(Entity::Event(event("into-new-year", Some("2004/2005-01-01"), &[]))));
    changes.push(put(Entity::Event(event("day-after", Some("2004/2005-01-02"), &[]))));
    changes.push(put(Entity::Event(event("late-2004", Some("2004-12-31"), &[]))));
    changes.push(put(Entity::Event(event(
        "from-2003",
        Some("2003-12-31/2005-01-01"),
        &[],
    ))));
    store.apply(&changes, true).unwrap();
    for from_end in [false, true] {
        let scan = PeriodScan {
            from: Some(&date("2005")),
            from_end,
            ..PeriodScan::default()
        };
        let found: Vec<Id> = store
            .page_period(EntityKind::Event, &scan, 10)
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let expected = ["event/from-2003", "event/into-new-year", "event/day-after"].map(id);
        assert_eq!(found, expected, "from_end {from_end}");
        assert_eq!(store.count_period(EntityKind::Event, &scan).unwrap(), 3);
        let until = PeriodScan {
            to: Some(&date("2004-12-31")),
            from: Some(&date("2004-12-31")),
            from_end,
            ..PeriodScan::default()
        };
        assert_eq!(
            store.count_period(EntityKind::Event, &until).unwrap(),
            34,
            "from_end {from_end}"
        );
    }
}
