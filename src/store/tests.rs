//! Unit tests of the store over real sled databases.

use super::index::{RECORD_VERSION, RECORD_VERSION_1, RECORD_VERSION_2};
use super::open::{
    packing_mark, PACK_BATCH, PRE_LOG_FORMAT, RECORD_PER_ENTITY_FORMAT, SEARCH_V1_FORMAT, UNPACKED_FORMAT,
};
use super::*;
use crate::model::{Actor, ActorKind, Entity, Event, EventKind, Origin, Participant, Record, Relation, Role};
use std::path::{Path, PathBuf};

/// Opens the store in `path`, waiting while sled still holds its file lock:
/// sled releases it from its flusher thread a moment after the last handle
/// of an earlier open is dropped.
fn reopen(path: &Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(path, DEFAULT_CACHE_BYTES) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            opened => return opened.unwrap(),
        }
    }
}

pub(super) fn actor(n: usize) -> Entity {
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

pub(super) fn event(n: usize) -> Entity {
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
        responds: vec![],
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
        let store = reopen(&path);
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
    let store = reopen(&path);
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
        let store = reopen(&path);
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
            assert_eq!(id.kind(), kind);
            store_record(&store, &id, bytes);
        }
        store.flush().unwrap();
    }

    let store = reopen(&path);
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
    assert_eq!(stored_record(&store, &source_id)[0], RECORD_VERSION);
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

/// The stored bytes of an entity's record, as its block holds them.
fn stored_record(store: &Store, id: &Id) -> Vec<u8> {
    let tree = TreeRef::Entity(id.kind());
    packed::get(&store.tree(tree).unwrap(), store.name(tree), id.as_bytes())
        .unwrap()
        .unwrap()
}

/// Writes `bytes` as an entity's record in its block, past every check
/// (a record of an older layout, or a damaged one).
fn store_record(store: &Store, id: &Id, bytes: Vec<u8>) {
    let tree_ref = TreeRef::Entity(id.kind());
    let tree = store.tree(tree_ref).unwrap();
    let mut edits = packed::Edits::new(&tree, store.name(tree_ref), packed::Limits::ENTITIES);
    edits.insert(id.as_bytes().to_vec(), bytes).unwrap();
    for (key, block) in edits.writes() {
        match block {
            Some(block) => tree.insert(key, block).unwrap(),
            None => tree.remove(key).unwrap(),
        };
    }
}

/// Rewrites every entity tree the way formats 5 and older kept it: one
/// sled record per entity.
fn unpack_entities(store: &Store) {
    for kind in EntityKind::ALL {
        let records: Vec<_> = store.records(kind).unwrap().collect::<Result<_, _>>().unwrap();
        let tree = store.tree(TreeRef::Entity(kind)).unwrap();
        tree.clear().unwrap();
        for (key, value) in records {
            tree.insert(key, value).unwrap();
        }
    }
}

/// Sets the format version a store says it is written in.
fn set_format(store: &Store, format: u32) {
    store
        .tree(TreeRef::Meta)
        .unwrap()
        .insert(META_FORMAT, &format.to_be_bytes())
        .unwrap();
}

pub(super) fn create(entity: Entity) -> Change {
    Change::Create {
        entity,
        origin: Origin::Api,
    }
}

/// Copies the files of `from` into `to` (sub-directories too), leaving out
/// those `skip` names: what a crash leaves on disk, taken while the store
/// is quiet.
fn copy_files(from: &Path, to: &Path, skip: &dyn Fn(&str) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip(&name) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_files(&entry.path(), &to.join(&name), skip);
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn is_log(name: &str) -> bool {
    name.starts_with("wal-")
}

/// A crash image of a store whose sled files hold actor 0 only, while its
/// write-ahead log holds actors 1 and 2, each in a group of its own: sled's
/// files are copied before the later writes, the log after them.
fn crash_image(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let image = dir.join("image");
    let store = reopen(&data);
    store.commit(&[create(actor(0))]).unwrap();
    store.flush().unwrap();
    copy_files(&data, &image, &|name| is_log(name));
    store.commit(&[create(actor(1))]).unwrap();
    store.commit(&[create(actor(2))]).unwrap();
    copy_files(&data, &image, &|name| !is_log(name));
    image
}

fn log_file(image: &Path) -> PathBuf {
    let logs = log::files(image).unwrap();
    assert_eq!(logs.len(), 1, "one log file: {logs:?}");
    logs[0].1.clone()
}

pub(super) fn has_actor(store: &Store, n: usize) -> bool {
    store
        .get(&Id::parse(&format!("actor/a{n}")).unwrap())
        .unwrap()
        .is_some()
}

#[test]
fn writes_logged_but_not_yet_in_sleds_files_are_applied_again_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let image = crash_image(dir.path());
    let store = reopen(&image);
    assert!((0..3).all(|n| has_actor(&store, n)), "every acknowledged write is back");
    assert_eq!(store.count(EntityKind::Actor).unwrap(), 3);
    assert_eq!(store.generation().unwrap(), 3);
    assert_eq!(store.damage(), Vec::<String>::new());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    // Applied and flushed: the old log files are gone, a new one is started.
    let logs = log::files(&image).unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(std::fs::metadata(&logs[0].1).unwrap().len(), 0);
}

/// A group is applied to sled write by write, its generation last: one
/// that sled holds part of when the process dies (sled keeps a prefix of
/// its own log) is applied again, whole, from the write-ahead log when the
/// store opens; and one sled refuses part-way is applied again from the
/// log by the reopen that follows.
#[test]
fn a_group_sled_holds_part_of_is_applied_again_whole_from_the_log() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let image = dir.path().join("image");
    let store = reopen(&data);
    store.commit(&[create(actor(0))]).unwrap();
    // The entity block of the next group, and nothing else of it.
    store.inner.hooks.cut_apply_after.store(1, SeqCst);
    store.commit(&[create(actor(1)), create(actor(2))]).unwrap();
    store.flush().unwrap();
    copy_files(&data, &image, &|_| false);
    // The live store is left as the crash would leave it: not used again.
    drop(store);
    let opened = reopen(&image);
    assert!(
        (0..3).all(|n| has_actor(&opened, n)),
        "every acknowledged write is back"
    );
    assert_eq!(opened.count(EntityKind::Actor).unwrap(), 3);
    assert_eq!(opened.generation().unwrap(), 2);
    assert_eq!(opened.verify().unwrap(), Vec::<String>::new());
    drop(opened);

    // Refused part-way: the reopen applies it again from the log.
    let store = reopen(&dir.path().join("refused"));
    store
        .commit(&[create(actor(0)), create(actor(1)), create(actor(2))])
        .unwrap();
    store.inner.hooks.cut_apply_after.store(2, SeqCst);
    store.inner.hooks.cut_refuses.store(true, SeqCst);
    store.commit(&[create(actor(3)), create(actor(4))]).unwrap();
    assert!((0..5).all(|n| has_actor(&store, n)));
    assert_eq!(store.count(EntityKind::Actor).unwrap(), 5);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

/// Where the records of a log file end (the zeros it is filled ahead with follow).
fn records_end(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at + 12 <= bytes.len() && bytes[at..at + 12].iter().any(|b| *b != 0) {
        at += 12 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    at
}

#[test]
fn a_log_file_is_filled_ahead_with_zeros_that_a_replay_takes_for_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let image = crash_image(dir.path());
    let bytes = std::fs::read(log_file(&image)).unwrap();
    let end = records_end(&bytes);
    assert!(end > 0);
    assert!(
        bytes.len() as u64 >= log::FILL_BYTES && bytes.len() > end,
        "filled ahead: {} bytes for {end} of records",
        bytes.len()
    );
    assert!(bytes[end..].iter().all(|b| *b == 0));
    let store = reopen(&image);
    assert!((0..3).all(|n| has_actor(&store, n)));
    assert_eq!(
        store.damage(),
        Vec::<String>::new(),
        "zeros filled ahead are not damage"
    );
    // Zeros, then a record: damage, not an end.
    let mut after = bytes[..end].to_vec();
    after.extend_from_slice(&[0; 100]);
    after.extend_from_slice(&bytes[..end]);
    drop(store);
    let image = crash_image(&dir.path().join("again"));
    std::fs::write(log_file(&image), &after).unwrap();
    let store = reopen(&image);
    assert_eq!(store.damage().len(), 1, "{:?}", store.damage());
}

#[test]
fn a_write_cut_short_at_the_end_of_the_log_is_dropped_and_the_rest_applied() {
    for filled in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let image = crash_image(dir.path());
        let log = log_file(&image);
        let whole = std::fs::read(&log).unwrap();
        let end = records_end(&whole);
        // The first record again, cut in the middle of its payload: what a
        // crash mid-append leaves, at the end of the file or over the
        // zeros it was filled ahead with.
        let first_len = u32::from_le_bytes(whole[..4].try_into().unwrap()) as usize;
        let half = &whole[..12 + first_len / 2];
        let torn = if filled {
            let mut torn = whole.clone();
            torn[end..end + half.len()].copy_from_slice(half);
            torn
        } else {
            [&whole[..end], half].concat()
        };
        std::fs::write(&log, &torn).unwrap();
        let store = reopen(&image);
        assert!((0..3).all(|n| has_actor(&store, n)), "filled: {filled}");
        assert!(!has_actor(&store, 3));
        assert_eq!(
            store.generation().unwrap(),
            3,
            "exactly the whole records (filled: {filled})"
        );
        assert_eq!(
            store.damage(),
            Vec::<String>::new(),
            "a torn tail is not damage (filled: {filled})"
        );
        assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    }
}

#[test]
fn a_damaged_record_before_the_end_of_the_log_is_reported_and_nothing_after_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let image = crash_image(dir.path());
    let log = log_file(&image);
    let mut bytes = std::fs::read(&log).unwrap();
    // A byte inside the first record's payload (after its 12-byte header).
    bytes[14] ^= 0x5a;
    std::fs::write(&log, &bytes).unwrap();
    let store = reopen(&image);
    let damage = store.damage();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(
        damage[0].contains("write-ahead log") && damage[0].contains("byte 0"),
        "{damage:?}"
    );
    assert!(has_actor(&store, 0));
    assert!(
        !has_actor(&store, 1) && !has_actor(&store, 2),
        "nothing past the damage is applied"
    );
    assert_eq!(store.verify().unwrap(), damage, "verify reports it too");
    // Accepted (`--allow-damaged`), the damaged log goes and the report with it.
    store.accept_damage();
    drop(store);
    let store = reopen(&image);
    assert_eq!(store.damage(), Vec::<String>::new());
    assert!(has_actor(&store, 0));
}

#[test]
fn a_damaged_length_is_reported_not_taken_for_a_write_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let image = crash_image(dir.path());
    let log = log_file(&image);
    let mut bytes = std::fs::read(&log).unwrap();
    // The first record's length made far larger than the file: without the
    // header's own checksum this read as a torn tail, and the two
    // acknowledged records after it were dropped with no word.
    bytes[2] ^= 0x40;
    std::fs::write(&log, &bytes).unwrap();
    let store = reopen(&image);
    let damage = store.damage();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].contains("header"), "{damage:?}");
}

#[test]
fn zeros_after_the_last_record_are_a_torn_tail_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let image = crash_image(dir.path());
    let log = log_file(&image);
    let mut bytes = std::fs::read(&log).unwrap();
    // What a filesystem may show past the last write after a crash.
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(&log, &bytes).unwrap();
    let store = reopen(&image);
    assert_eq!(store.damage(), Vec::<String>::new());
    assert!((0..3).all(|n| has_actor(&store, n)));
}

#[test]
fn concurrent_writers_share_log_syncs_and_subscribers_see_every_commit_in_order() {
    const WRITERS: usize = 16;
    const EACH: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&dir.path().join("data"));
    let mut commits = store.subscribe();
    let syncs_before = store.log_syncs();
    let acknowledged: Vec<u64> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = store.clone();
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| store.commit(&[create(actor(w * EACH + i))]).unwrap().generation)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let writes = (WRITERS * EACH) as u64;
    let syncs = store.log_syncs() - syncs_before;
    assert!(syncs < writes, "{writes} concurrent writes took {syncs} log syncs");
    assert!(syncs > 0);
    // Every acknowledged write has its own generation, and is there.
    let mut generations = acknowledged.clone();
    generations.sort_unstable();
    generations.dedup();
    assert_eq!(generations.len() as u64, writes);
    assert_eq!(store.count(EntityKind::Actor).unwrap(), writes);
    assert!((0..WRITERS * EACH).all(|n| has_actor(&store, n)));
    // Subscribers heard every commit once, in generation order.
    let mut heard = Vec::new();
    while let Ok(commit) = commits.try_recv() {
        heard.push(commit.generation);
    }
    assert_eq!(heard, generations, "commits announced in order, each once");
    assert_eq!(store.current_generation(), *generations.last().unwrap());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

/// Tasks write without a thread each: staged on the runtime's one thread,
/// they share log syncs with each other and with threads writing at the
/// same time, and every acknowledged write is there, announced in order.
#[test]
fn tasks_and_threads_writing_together_share_log_syncs_and_are_announced_in_order() {
    const TASKS: usize = 32;
    const THREADS: usize = 4;
    const EACH: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&dir.path().join("data"));
    let mut commits = store.subscribe();
    let syncs_before = store.log_syncs();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let acknowledged: Vec<u64> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = store.clone();
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            store
                                .commit(&[create(actor(10_000 + t * EACH + i))])
                                .unwrap()
                                .generation
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut acknowledged: Vec<u64> = runtime.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut generations = Vec::new();
                        for i in 0..EACH {
                            let changes = vec![create(actor(t * EACH + i))];
                            generations.push(store.commit_async(changes).await.unwrap().generation);
                        }
                        generations
                    })
                })
                .collect();
            let mut acknowledged = Vec::new();
            for task in tasks {
                acknowledged.extend(task.await.unwrap());
            }
            acknowledged
        });
        acknowledged.extend(threads.into_iter().flat_map(|t| t.join().unwrap()));
        acknowledged
    });
    let writes = ((TASKS + THREADS) * EACH) as u64;
    let syncs = store.log_syncs() - syncs_before;
    assert!(syncs * 2 < writes, "{writes} concurrent writes took {syncs} log syncs");
    let mut generations = acknowledged.clone();
    generations.sort_unstable();
    generations.dedup();
    assert_eq!(generations.len() as u64, writes, "each write its own generation");
    assert_eq!(store.count(EntityKind::Actor).unwrap(), writes);
    assert!((0..TASKS * EACH).all(|n| has_actor(&store, n)));
    assert!((0..THREADS * EACH).all(|n| has_actor(&store, 10_000 + n)));
    let mut heard = Vec::new();
    while let Ok(commit) = commits.try_recv() {
        heard.push(commit.generation);
    }
    assert_eq!(heard, generations, "commits announced in order, each once");
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    // Durable: a store opened again from the same files has them all.
    drop(runtime);
    drop(store);
    let store = reopen(&dir.path().join("data"));
    assert_eq!(store.count(EntityKind::Actor).unwrap(), writes);
}

#[test]
fn a_member_whose_write_fails_leaves_its_group_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&dir.path().join("data"));
    store.commit(&[create(actor(0))]).unwrap();
    // Writers racing: half create fresh actors, half re-create actor 0
    // together with a fresh one (refused whole: actor 0 exists).
    std::thread::scope(|scope| {
        for w in 0..8 {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..10 {
                    let n = 1 + w * 10 + i;
                    let result = if w % 2 == 0 {
                        store.commit(&[create(actor(n))])
                    } else {
                        store.commit(&[create(actor(n)), create(actor(0))])
                    };
                    assert_eq!(result.is_ok(), w % 2 == 0, "{result:?}");
                }
            });
        }
    });
    for n in 1..=80 {
        let w = (n - 1) / 10;
        assert_eq!(has_actor(&store, n), w % 2 == 0, "actor {n}");
    }
    assert_eq!(store.count(EntityKind::Actor).unwrap(), 41);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_flipped_byte_in_a_record_that_still_decodes_is_found_by_reads_and_by_verify() {
    let store = Store::temporary().unwrap();
    store.apply(&[put(actor(1)), put(actor(2))], true).unwrap();
    let id = Id::parse("actor/a1").unwrap();
    let mut bytes = stored_record(&store, &id);
    // "Actor number 1" becomes "Actor Number 1": still a valid record.
    let at = bytes.windows(6).position(|w| w == b"number").unwrap();
    bytes[at] = b'N';
    assert!(
        postcard::from_bytes::<Record>(&bytes[5..]).is_ok(),
        "the damaged body still decodes"
    );
    store_record(&store, &id, bytes);

    let error = store.get(&id).unwrap_err();
    assert!(
        matches!(&error, StoreError::Corrupt { key, .. } if key == "actor/a1"),
        "a read names the damaged record: {error}"
    );
    assert!(error.to_string().contains("checksum"), "{error}");
    assert!(store.get(&Id::parse("actor/a2").unwrap()).unwrap().is_some());
    let problems = store.verify().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("actor/a1") && p.contains("checksum")),
        "{problems:?}"
    );
    let mut intact = Vec::new();
    let damaged = store
        .for_each_intact(EntityKind::Actor, &mut |r| intact.push(r.entity.id().to_string()))
        .unwrap();
    assert_eq!(intact, vec!["actor/a2"], "export salvages the rest");
    assert_eq!(damaged.len(), 1);
}

#[test]
fn a_store_of_format_3_is_upgraded_and_its_unchecksummed_records_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let id = Id::parse("actor/a1").unwrap();
    {
        let store = reopen(&path);
        store.apply(&[put(actor(1))], true).unwrap();
        // The record and the format as a build of format 3 wrote them.
        let record = store.get_record(&id).unwrap().unwrap();
        let mut layout_2 = vec![RECORD_VERSION_2];
        layout_2.extend(postcard::to_allocvec(&record).unwrap());
        unpack_entities(&store);
        let entities = store.tree(TreeRef::Entity(EntityKind::Actor)).unwrap();
        entities.insert(id.as_bytes(), layout_2).unwrap();
        set_format(&store, PRE_LOG_FORMAT);
        store.flush().unwrap();
    }
    let store = reopen(&path);
    let format = store.meta_get(META_FORMAT).unwrap().unwrap();
    assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    assert_eq!(store.get(&id).unwrap(), Some(actor(1)));
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    // Written again, the record carries its checksum.
    store.apply(&[put(actor(1))], true).unwrap();
    assert_eq!(stored_record(&store, &id)[0], RECORD_VERSION);
    assert_eq!(store.get(&id).unwrap(), Some(actor(1)));
}

#[test]
fn a_failed_append_whose_cut_back_fails_too_stops_appends_until_the_log_is_whole_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let image = dir.path().join("image");
    let store = reopen(&data);
    store.commit(&[create(actor(0))]).unwrap();
    store.flush().unwrap();
    // sled's files as a crash after this point leaves them; the log is copied last.
    copy_files(&data, &image, &|name| is_log(name));
    let faults = faults::injected::inject(&store);
    let set = |flag: &std::sync::atomic::AtomicBool, on: bool| flag.store(on, Ordering::SeqCst);

    // The disk takes half the record and refuses the rest, and the cut fails.
    set(&faults.appends, true);
    set(&faults.truncates, true);
    let refused = store.commit(&[create(actor(1))]).unwrap_err();
    assert!(matches!(refused, StoreError::Unavailable { .. }), "{refused}");

    // Room again, but the half record is still there: nothing may be
    // appended behind it, and the store says why.
    set(&faults.appends, false);
    let refused = store.commit(&[create(actor(2))]).unwrap_err();
    assert!(
        matches!(&refused, StoreError::Unavailable { reason } if reason.contains("could not be cut off")),
        "a write behind a failed write's bytes is refused: {refused:?}"
    );
    let not_ready = store.writable().unwrap_err();
    assert!(not_ready.contains("could not be cut off"), "{not_ready}");
    assert!(!has_actor(&store, 1) && !has_actor(&store, 2));

    // Once the cut succeeds, writes go on, after the last whole record.
    set(&faults.truncates, false);
    store.commit(&[create(actor(3))]).unwrap();
    assert_eq!(store.writable(), Ok(()));
    copy_files(&data, &image, &|name| !is_log(name));
    drop(store);

    // After a crash, every acknowledged write is back and nothing else.
    let store = reopen(&image);
    assert_eq!(store.damage(), Vec::<String>::new());
    assert!(
        has_actor(&store, 0) && has_actor(&store, 3),
        "acknowledged writes survive"
    );
    assert!(!has_actor(&store, 1) && !has_actor(&store, 2), "refused writes do not");
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn clearing_while_writes_land_leaves_no_entity_without_its_index_entries_or_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&dir.path().join("data"));
    let mut n = 0;
    for round in 0..100 {
        let writing = std::sync::atomic::AtomicBool::new(true);
        std::thread::scope(|scope| {
            for w in 0..4 {
                let (store, writing) = (&store, &writing);
                let mut n = n + w * 1000;
                scope.spawn(move || {
                    while writing.load(Ordering::SeqCst) {
                        store.commit(&[create(actor(n))]).unwrap();
                        n += 1;
                    }
                });
            }
            // A clear takes each tree in turn: a group landing between two
            // of them left entities without index entries, or counts reset
            // under entities still stored.
            std::thread::sleep(std::time::Duration::from_millis(2));
            store.clear().unwrap();
            writing.store(false, Ordering::SeqCst);
        });
        n += 4000;
        let problems = store.verify().unwrap();
        assert!(
            problems.is_empty(),
            "round {round}, after a clear beside writes: {problems:?}"
        );
    }
}

#[test]
fn a_bulk_load_dropped_unfinished_is_discarded_and_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&dir.path().join("data"));
    let load = store.bulk_load().unwrap().expect("an empty store takes a bulk load");
    // Dropped while it holds the pipeline: the discard clears the store
    // without waiting for the pipeline it holds.
    drop(load);
    assert!(store.meta_get(META_BULK_LOADING).unwrap().is_none());
    store.commit(&[create(actor(1))]).unwrap();
    assert!(has_actor(&store, 1));
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_replay_stops_at_its_limit_and_applies_nothing_the_log_could_not_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let image = crash_image(dir.path());
    let (sequence, log) = log::files(&image).unwrap().remove(0);
    let whole = std::fs::read(&log).unwrap();
    // The log holds actor 0's record (already in sled), then actor 1's and
    // actor 2's. The limit: the end of actor 1's; actor 2's record past it
    // stands for a write the log could not cut off.
    let end_of = |at: usize| at + 12 + u32::from_le_bytes(whole[at..at + 4].try_into().unwrap()) as usize;
    let limit = end_of(end_of(0)) as u64;
    let names: Vec<&'static str> = trees::all_trees().into_iter().map(|(_, name)| name).collect();
    let meta = names.iter().position(|n| *n == trees::META).unwrap();
    let handles = Handles::new(open::open_db(&image, DEFAULT_CACHE_BYTES).unwrap(), &names).unwrap();
    let replayed = log::replay(&image, &handles, &names, meta, Some((sequence, limit))).unwrap();
    assert_eq!(replayed.groups, 1, "only the record before the limit is applied");
    assert_eq!(
        replayed.damage,
        Vec::<String>::new(),
        "what lies past the limit is not damage"
    );
    let actors = &handles.trees[names.iter().position(|n| *n == "actors").unwrap()];
    assert!(actors.contains_key("actor/a1").unwrap());
    assert!(
        !actors.contains_key("actor/a2").unwrap(),
        "nothing past the limit is applied"
    );
    assert_eq!(std::fs::read(&log).unwrap(), whole, "the log itself is left alone");
}

/// The same event as [`event`], as builds before typed responses wrote it.
fn event_v3(n: usize) -> crate::model::legacy::EventV3 {
    let Entity::Event(e) = event(n) else {
        unreachable!("event() makes events")
    };
    crate::model::legacy::EventV3 {
        id: e.id,
        title: e.title,
        kind: e.kind,
        date: e.date,
        place: e.place,
        summary: e.summary,
        participants: e.participants,
        treaties: e.treaties,
        part_of: e.part_of,
        after: e.after,
        retracted_by: e.retracted_by,
        figures: e.figures,
        sources: e.sources,
        note: e.note,
    }
}

#[test]
fn events_of_layouts_1_to_3_still_open_answering_nothing_and_are_rewritten_in_layout_4() {
    use super::index::RECORD_VERSION_3;
    use crate::model::legacy::{EntityV1, EntityV3, RecordV1, RecordV3};
    use crate::model::{Response, ResponseKind};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    {
        let store = reopen(&path);
        let actors: Vec<Change> = (0..40).map(|n| put(actor(n))).collect();
        store.apply(&actors, true).unwrap();
        store
            .apply(&[put(event(1)), put(event(2)), put(event(3))], true)
            .unwrap();
        // Event 1 as layout 3 wrote it (checksummed), 2 as layout 2, 3 as layout 1.
        let v3 = |n| RecordV3 {
            origin: Origin::Api,
            entity: EntityV3::Event(event_v3(n)),
        };
        let body = postcard::to_allocvec(&v3(1)).unwrap();
        let mut layout_3 = vec![RECORD_VERSION_3];
        layout_3.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        layout_3.extend(body);
        let mut layout_2 = vec![RECORD_VERSION_2];
        layout_2.extend(postcard::to_allocvec(&v3(2)).unwrap());
        let mut layout_1 = vec![RECORD_VERSION_1];
        layout_1.extend(
            postcard::to_allocvec(&RecordV1 {
                origin: Origin::Api,
                entity: EntityV1::Event(event_v3(3)),
            })
            .unwrap(),
        );
        for (n, bytes) in [(1, layout_3), (2, layout_2), (3, layout_1)] {
            store_record(&store, &Id::parse(&format!("event/e{n}")).unwrap(), bytes);
        }
        store.flush().unwrap();
    }

    let store = reopen(&path);
    for n in 1..=3 {
        let id = Id::parse(&format!("event/e{n}")).unwrap();
        assert_eq!(
            store.get(&id).unwrap(),
            Some(event(n)),
            "event {n} decodes, answering nothing"
        );
    }
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());

    // Written again with a response, event 1 is stored in layout 4 and indexed back.
    let Entity::Event(mut answering) = event(1) else {
        unreachable!("event() makes events")
    };
    answering.responds = vec![Response {
        event: Id::parse("event/e2").unwrap(),
        kind: ResponseKind::Denies,
    }];
    store.apply(&[put(Entity::Event(answering.clone()))], true).unwrap();
    assert_eq!(stored_record(&store, &answering.id)[0], RECORD_VERSION);
    assert_eq!(
        store.get(&answering.id).unwrap(),
        Some(Entity::Event(answering.clone()))
    );
    let e2 = Id::parse("event/e2").unwrap();
    let back = store
        .related(Relation::EventResponds, Direction::Backward, std::slice::from_ref(&e2))
        .unwrap();
    assert_eq!(back[&e2], vec![(answering.id.clone(), b"denies".to_vec())]);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_store_of_format_4_gets_its_search_tree_rebuilt_with_notes_and_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let mut noted = actor(1);
    if let Entity::Actor(a) = &mut noted {
        a.name = "Eduard Kokoity".into();
        a.note = Some("Zygomorphic remark".into());
    }
    let id = noted.id().clone();
    {
        let store = reopen(&path);
        store.apply(&[put(noted), put(actor(2))], true).unwrap();
        // A build of format 4 indexed names, aliases and summaries only,
        // and no transliteration keys: keep just the name words.
        let tree = store.tree(TreeRef::SearchTokens).unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = store
            .index_prefix(TreeRef::SearchTokens, &[])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tree.clear().unwrap();
        let mut edits = packed::Edits::new(&tree, "search_tokens", packed::Limits::DEFAULT);
        for (key, value) in entries {
            let word = keys::first(&key);
            if word != b"zygomorphic" && word != b"remark" && word.first() != Some(&keys::VARIANT_MARK) {
                edits.insert(key, value).unwrap();
            }
        }
        for (key, block) in edits.writes() {
            if let Some(block) = block {
                tree.insert(key, block).unwrap();
            }
        }
        unpack_entities(&store);
        set_format(&store, SEARCH_V1_FORMAT);
        store.flush().unwrap();
        assert!(store.search("zygomorphic", 1).unwrap().is_empty());
        assert!(
            !store.verify().unwrap().is_empty(),
            "the old tree lacks the new entries"
        );
    }
    let store = reopen(&path);
    let format = store.meta_get(META_FORMAT).unwrap().unwrap();
    assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    let first = |hits: Vec<(Id, f64)>| hits.first().map(|(hit, _)| hit.clone());
    assert_eq!(first(store.search("zygomorphic", 1).unwrap()), Some(id.clone()));
    assert_eq!(first(store.search_forgiving("Kokoyty", 5).unwrap()), Some(id.clone()));
    assert_eq!(first(store.search_forgiving("Kokoitty", 5).unwrap()), Some(id));
}

#[test]
fn typos_of_words_written_after_the_vocabulary_was_built_are_forgiven() {
    let store = Store::temporary().unwrap();
    store.apply(&[put(actor(1))], true).unwrap();
    // The first typo search builds the vocabulary from the index.
    let first = |hits: Vec<(Id, f64)>| hits.first().map(|(hit, _)| hit.to_string());
    assert_eq!(
        first(store.search_forgiving("Numbre", 5).unwrap()).as_deref(),
        Some("actor/a1")
    );
    assert_eq!(first(store.search_forgiving("Zygomorfic", 5).unwrap()), None);
    // A landed write adds its words to it, without a rebuild.
    let mut noted = actor(2);
    if let Entity::Actor(a) = &mut noted {
        a.summary = Some("A zygomorphic summary".into());
    }
    store.apply(&[put(noted)], true).unwrap();
    let extended = store.inner.vocabulary.read().unwrap().as_ref().map(|v| v.generation);
    assert_eq!(
        extended,
        Some(store.current_generation()),
        "the landed group extended it"
    );
    assert_eq!(
        first(store.search_forgiving("Zygomorfic", 5).unwrap()).as_deref(),
        Some("actor/a2")
    );
}

/// Every entry of every tree but the meta tree, by tree name.
fn tree_contents(store: &Store) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let mut all = Vec::new();
    for (position, name) in store.inner.names.iter().enumerate() {
        if *name == trees::META {
            continue;
        }
        for entry in store.tree_at(position).unwrap().iter() {
            let (key, value) = entry.unwrap();
            all.push((*name, key.to_vec(), value.to_vec()));
        }
    }
    all
}

/// Bulk-loads actors 0..40 and events 0..30, one entity per run.
fn bulk_loaded(dir: &Path, max_merged_runs: Option<usize>) -> Store {
    let store = reopen(dir);
    let mut load = store.bulk_load().unwrap().expect("an empty store takes a bulk load");
    if let Some(max) = max_merged_runs {
        load.max_merged_runs = max;
    }
    for entity in (0..40).map(actor).chain((0..30).map(event)) {
        let record = Record {
            origin: Origin::Seed,
            entity,
        };
        load.write(store.prepare(vec![record])).unwrap();
    }
    load.finish().unwrap();
    store
}

#[test]
fn a_bulk_load_of_more_runs_than_one_merge_reads_merges_them_in_groups_first() {
    let dir = tempfile::tempdir().unwrap();
    let whole = bulk_loaded(&dir.path().join("whole"), None);
    // 70 runs, at most 3 read at once: merged into 24, 8, then 3.
    let grouped = bulk_loaded(&dir.path().join("grouped"), Some(3));
    assert_eq!(grouped.verify().unwrap(), Vec::<String>::new());
    let expected = tree_contents(&whole);
    assert!(expected.len() > 10, "entity and index blocks: {}", expected.len());
    assert_eq!(grouped.all(EntityKind::Actor).unwrap().len(), 40);
    assert_eq!(grouped.all(EntityKind::Event).unwrap().len(), 30);
    assert_eq!(tree_contents(&grouped), expected);
    assert_eq!(grouped.get(&Id::parse("event/e29").unwrap()).unwrap(), Some(event(29)));
    assert!(
        !dir.path().join("grouped").join("seed-load.tmp").exists(),
        "the scratch runs are removed"
    );
}

#[test]
fn the_read_buffers_of_a_merge_stay_within_their_budget() {
    for runs in [1, 2, 100, 256, 1000, bulk::MAX_MERGED_RUNS] {
        let buffer = bulk::run_buffer(runs);
        assert!(runs * buffer <= bulk::MERGE_BUFFERS, "{runs} runs");
        assert!(buffer >= bulk::MIN_RUN_BUFFER);
    }
}

#[test]
fn a_store_of_format_5_has_its_entities_packed_and_an_upgrade_cut_short_goes_on_from_its_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    // More actors than one packing transaction takes.
    let actors = PACK_BATCH + 300;
    let hub = Id::parse("actor/a0").unwrap();
    let before = {
        let store = reopen(&path);
        store
            .apply(&(0..actors).map(|n| put(actor(n))).collect::<Vec<_>>(), true)
            .unwrap();
        store
            .apply(&(0..50).map(|n| put(event(n))).collect::<Vec<_>>(), true)
            .unwrap();
        let before = events_of(&store, &hub);
        unpack_entities(&store);
        set_format(&store, RECORD_PER_ENTITY_FORMAT);
        // An upgrade cut short after its first transaction over the actors:
        // their first 100 records packed, the mark at the last of them.
        let tree = store.tree(TreeRef::Entity(EntityKind::Actor)).unwrap();
        let first: Vec<(sled::IVec, sled::IVec)> = tree.iter().take(100).collect::<Result<_, _>>().unwrap();
        let mut packer = packed::Packer::new(packed::Limits::ENTITIES);
        let mut blocks = Vec::new();
        for (key, value) in &first {
            blocks.extend(packer.push(key.to_vec(), value.to_vec()));
            tree.remove(key).unwrap();
        }
        blocks.extend(packer.finish());
        for (key, block) in &blocks {
            tree.insert(key.as_slice(), block.as_slice()).unwrap();
        }
        let mark = &first.last().unwrap().0;
        store
            .tree(TreeRef::Meta)
            .unwrap()
            .insert(packing_mark(EntityKind::Actor), mark)
            .unwrap();
        store.flush().unwrap();
        assert_eq!(
            tree.len(),
            actors - 100 + blocks.len(),
            "one record per actor past the mark"
        );
        before
    };
    let store = reopen(&path);
    let format = store.meta_get(META_FORMAT).unwrap().unwrap();
    assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    assert_eq!(store.meta_get(&packing_mark(EntityKind::Actor)).unwrap(), None);
    for n in 0..actors {
        assert_eq!(
            store.get(&Id::parse(&format!("actor/a{n}")).unwrap()).unwrap(),
            Some(actor(n))
        );
    }
    for n in 0..50 {
        assert_eq!(
            store.get(&Id::parse(&format!("event/e{n}")).unwrap()).unwrap(),
            Some(event(n))
        );
    }
    assert_eq!(events_of(&store, &hub), before);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    let records = store.tree(TreeRef::Entity(EntityKind::Actor)).unwrap().len();
    assert!(
        records * 16 <= actors,
        "{actors} actors packed into {records} sled records"
    );
    // Writes go on in the packed layout.
    store.apply(&[put(actor(actors))], true).unwrap();
    assert_eq!(
        store.get(&Id::parse(&format!("actor/a{actors}")).unwrap()).unwrap(),
        Some(actor(actors))
    );
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn entity_records_share_sled_records_whether_written_together_or_one_at_a_time() {
    let store = Store::temporary().unwrap();
    store
        .apply(&(0..1000).map(|n| put(actor(n))).collect::<Vec<_>>(), true)
        .unwrap();
    for n in 0..200 {
        store.apply(&[put(event(n))], true).unwrap();
    }
    // sled keeps memory for every page, and a page holds at most 17
    // records: few records, few pages.
    let records = |kind| store.tree(TreeRef::Entity(kind)).unwrap().len();
    assert!(
        records(EntityKind::Actor) * 16 <= 1000,
        "{} records",
        records(EntityKind::Actor)
    );
    assert!(
        records(EntityKind::Event) * 6 <= 200,
        "{} records",
        records(EntityKind::Event)
    );
    // Blocks of more than one record stay small, so that a sled leaf of
    // them fits one share of sled's cache (see `packed::Limits::ENTITIES`).
    for kind in [EntityKind::Actor, EntityKind::Event] {
        for item in store.tree(TreeRef::Entity(kind)).unwrap().iter() {
            let (key, block) = item.unwrap();
            let entries = packed::decode(&block).unwrap().len();
            assert!(
                entries == 1 || block.len() <= packed::Limits::ENTITIES.max_bytes,
                "the block at {key:?} holds {entries} records in {} bytes",
                block.len()
            );
        }
    }
    assert_eq!(store.all(EntityKind::Event).unwrap().len(), 200);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    // Deleted one at a time, the blocks shrink and go.
    for n in 0..200 {
        store
            .apply(&[Change::Delete(Id::parse(&format!("event/e{n}")).unwrap())], true)
            .unwrap();
    }
    assert_eq!(records(EntityKind::Event), 0);
    assert_eq!(store.get(&Id::parse("event/e7").unwrap()).unwrap(), None);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}
