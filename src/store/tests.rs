//! Unit tests of the store over real sled databases.

use super::index::{RECORD_VERSION, RECORD_VERSION_1};
use super::open::UNPACKED_FORMAT;
use super::*;
use crate::model::{Actor, ActorKind, Entity, Event, EventKind, Origin, Participant, Relation, Role};

fn actor(n: usize) -> Entity {
    Entity::Actor(Actor {
        id: Id::parse(&format!("actor/a{n}")).unwrap(),
        name: format!("Actor number {n}"),
        kind: ActorKind::State,
        aliases: vec![],
        summary: None,
        part_of: None,
        positions: vec![],
        sources: vec![],
        note: None,
    })
}

fn event(n: usize) -> Entity {
    Entity::Event(Event {
        id: Id::parse(&format!("event/e{n}")).unwrap(),
        title: format!("Meeting {n} of the hub"),
        kind: EventKind::ALL[n % EventKind::ALL.len()],
        date: None,
        place: None,
        summary: None,
        participants: (0..3)
            .map(|i| Participant {
                actor: Id::parse(&format!("actor/a{}", if i == 0 { 0 } else { (n + i) % 40 })).unwrap(),
                role: Role::ALL[i % Role::ALL.len()],
            })
            .collect(),
        treaties: vec![],
        part_of: None,
        after: vec![],
        retracted_by: None,
        figures: vec![],
        sources: vec![],
        note: None,
    })
}

/// The events `hub` takes part in, read through the relation index.
fn events_of(store: &Store, hub: &Id) -> Neighbours {
    store
        .related(
            Relation::EventParticipant,
            Direction::Backward,
            std::slice::from_ref(hub),
        )
        .unwrap()
}

fn put(entity: Entity) -> Change {
    Change::Put {
        entity,
        origin: Origin::Api,
    }
}

#[test]
fn a_store_of_the_unpacked_format_is_upgraded_by_rebuilding_its_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let hub = Id::parse("actor/a0").unwrap();
    let before = {
        let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        store
            .apply(&(0..40).map(|n| put(actor(n))).collect::<Vec<_>>(), true)
            .unwrap();
        store
            .apply(&(0..300).map(|n| put(event(n))).collect::<Vec<_>>(), true)
            .unwrap();
        let before = events_of(&store, &hub);
        // Rewrite every index the way format 2 kept it: a record per entry.
        for (tree_ref, _) in trees::all_trees() {
            if !trees::is_packed(tree_ref) {
                continue;
            }
            let entries: Vec<_> = store
                .index_prefix(tree_ref, &[])
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let tree = store.tree(tree_ref).unwrap();
            tree.clear().unwrap();
            for (key, value) in entries {
                tree.insert(key, value).unwrap();
            }
        }
        store
            .tree(TreeRef::Meta)
            .unwrap()
            .insert(META_FORMAT, &UNPACKED_FORMAT.to_be_bytes())
            .unwrap();
        store.flush().unwrap();
        before
    };
    assert_eq!(before[&hub].len(), 300, "the hub takes part in every event");
    let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    let after = events_of(&store, &hub);
    assert_eq!(after, before);
    assert_eq!(store.search("hub", 0).unwrap().len(), 300);
    let format = store.meta_get(META_FORMAT).unwrap().unwrap();
    assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
}

#[test]
fn records_of_layout_1_still_open_and_their_sources_cite_the_body_text() {
    use crate::model::legacy::{EntityV1, RecordV1, SourceV1};
    use crate::model::{Source, SourceKind};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let source_id = Id::parse("source/old").unwrap();
    let old_source = SourceV1 {
        id: source_id.clone(),
        document: "A document cited before sources had a kind".into(),
        section: Some("Background".into()),
        url: None,
        note: Some("written by an older build".into()),
    };
    {
        let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
        let mut cited = match actor(1) {
            Entity::Actor(a) => a,
            _ => unreachable!("actor() makes actors"),
        };
        cited.sources = vec![source_id.clone()];
        store
            .apply(
                &[
                    put(Entity::Actor(cited)),
                    // The same text, so the indexes already fit the old record.
                    put(Entity::Source(Source {
                        id: source_id.clone(),
                        document: old_source.document.clone(),
                        section: old_source.section.clone(),
                        url: None,
                        note: old_source.note.clone(),
                        kind: SourceKind::Caption,
                    })),
                ],
                true,
            )
            .unwrap();
        // Overwrite both records the way the previous build wrote them.
        for (kind, id, entity) in [
            (EntityKind::Actor, Id::parse("actor/a1").unwrap(), None),
            (
                EntityKind::Source,
                source_id.clone(),
                Some(EntityV1::Source(old_source.clone())),
            ),
        ] {
            let entity = entity.unwrap_or_else(|| match actor(1) {
                Entity::Actor(mut a) => {
                    a.sources = vec![source_id.clone()];
                    EntityV1::Actor(a)
                }
                _ => unreachable!("actor() makes actors"),
            });
            let mut bytes = vec![RECORD_VERSION_1];
            bytes.extend(
                postcard::to_allocvec(&RecordV1 {
                    origin: Origin::Api,
                    entity,
                })
                .unwrap(),
            );
            store
                .tree(TreeRef::Entity(kind))
                .unwrap()
                .insert(id.as_bytes(), bytes)
                .unwrap();
        }
        store.flush().unwrap();
    }

    let store = Store::open(&path, DEFAULT_CACHE_BYTES).unwrap();
    let Some(Entity::Source(source)) = store.get(&source_id).unwrap() else {
        panic!("the layout-1 source decodes");
    };
    assert_eq!(source.kind, SourceKind::Body, "an old source defaults to the body text");
    assert_eq!(source.note, old_source.note);
    assert_eq!(source.section, old_source.section);
    let Some(Entity::Actor(a)) = store.get(&Id::parse("actor/a1").unwrap()).unwrap() else {
        panic!("the layout-1 actor decodes");
    };
    assert_eq!(a.sources, vec![source_id.clone()]);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());

    // Written again, the source is stored in the current layout.
    store.apply(&[put(Entity::Source(source.clone()))], true).unwrap();
    let bytes = store
        .tree(TreeRef::Entity(EntityKind::Source))
        .unwrap()
        .get(source_id.as_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(bytes[0], RECORD_VERSION);
    assert_eq!(store.get(&source_id).unwrap(), Some(Entity::Source(source)));
}

#[test]
fn index_blocks_split_and_shrink_as_writes_come_and_go() {
    let store = Store::temporary().unwrap();
    let hub = Id::parse("actor/a0").unwrap();
    store
        .apply(&(0..40).map(|n| put(actor(n))).collect::<Vec<_>>(), true)
        .unwrap();
    // One at a time, so every write edits the blocks the last one left.
    for n in 0..200 {
        store.apply(&[put(event(n))], true).unwrap();
    }
    let blocks = store.tree(TreeRef::Backward(Relation::EventParticipant)).unwrap().len();
    assert!(blocks > 5, "600 entries take several blocks, not {blocks}");
    for n in (0..200).step_by(2) {
        store
            .apply(&[Change::Delete(Id::parse(&format!("event/e{n}")).unwrap())], true)
            .unwrap();
    }
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    let links = events_of(&store, &hub);
    let want: Vec<String> = {
        let mut ids: Vec<String> = (1..200).step_by(2).map(|n| format!("event/e{n}")).collect();
        ids.sort();
        ids
    };
    let have: Vec<String> = links[&hub].iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(have, want);
    store
        .apply(
            &(1..200)
                .step_by(2)
                .map(|n| Change::Delete(Id::parse(&format!("event/e{n}")).unwrap()))
                .collect::<Vec<_>>(),
            true,
        )
        .unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    assert_eq!(
        store.tree(TreeRef::Backward(Relation::EventParticipant)).unwrap().len(),
        0,
        "no empty block is left behind"
    );
}
