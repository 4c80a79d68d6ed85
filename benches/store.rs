//! Store micro-benchmarks: a point read, index reads, a transactional write.
//! `cargo bench --bench store`; regressions show here without a load run.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use diplograph::model::{Entity, EntityKind, Id, PartialDate, Relation};
use diplograph::store::{Change, Direction, Store};

fn seeded() -> Store {
    let store = Store::temporary().expect("a temporary store");
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seed");
    diplograph::seed::load(&store, &seed, false).expect("the seed loads");
    store
}

fn store_benches(c: &mut Criterion) {
    let store = seeded();
    let russia = Id::parse("actor/russia").unwrap();
    c.bench_function("store/point read (actor/russia)", |b| {
        b.iter(|| black_box(store.get(black_box(&russia)).unwrap()))
    });
    let ids = [russia.clone()];
    c.bench_function("store/index prefix (actor -> events)", |b| {
        b.iter(|| {
            black_box(
                store
                    .related(Relation::EventParticipant, Direction::Backward, black_box(&ids))
                    .unwrap(),
            )
        })
    });
    let from = PartialDate::parse("2008-08").unwrap();
    let to = PartialDate::parse("2009-03").unwrap();
    c.bench_function("store/date range (events 2008-08..2009-03)", |b| {
        b.iter(|| black_box(store.ids_in_period(EntityKind::Event, Some(&from), Some(&to)).unwrap()))
    });
    c.bench_function("store/search (\"medvedev treaty\")", |b| {
        b.iter(|| black_box(store.search(black_box("medvedev treaty"), 1).unwrap()))
    });
    let Entity::Actor(mut actor) = store.get(&russia).unwrap().unwrap() else {
        unreachable!("an actor")
    };
    let mut n = 0u64;
    c.bench_function("store/transactional write + flush (update one actor)", |b| {
        b.iter(|| {
            n += 1;
            actor.summary = Some(format!("benchmark revision {n}"));
            let change = Change::Put {
                entity: Entity::Actor(actor.clone()),
                origin: diplograph::model::Origin::Api,
            };
            black_box(store.commit(&[change]).unwrap())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = store_benches
}
criterion_main!(benches);
