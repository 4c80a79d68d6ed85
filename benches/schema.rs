//! Schema execution without HTTP: the GraphQL layer's own cost for a lookup
//! and for the nested query the load benchmark uses.
//! `cargo bench --bench schema`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use diplograph::graphql::{self, SchemaOptions};
use diplograph::store::Store;

fn schema_benches(c: &mut Criterion) {
    let store = Store::temporary().expect("a temporary store");
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seed");
    diplograph::seed::load(&store, &seed, false).expect("the seed loads");
    let schema = graphql::build_schema(store.clone(), SchemaOptions::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let queries = [
        (
            "lookup",
            r#"{ actor(id: "actor/eduard-kokoity") { id name kind aliases summary } }"#,
        ),
        (
            "nested",
            "{ events(first: 20) { nodes { id title participants { actor { name events { nodes { title } } } } } } }",
        ),
        (
            "search",
            r#"{ search(query: "medvedev treaty", first: 10) { score node { id } } }"#,
        ),
    ];
    for (name, query) in queries {
        c.bench_function(&format!("schema/{name}"), |b| {
            b.iter(|| {
                let request = async_graphql::Request::new(query).data(graphql::loaders_for(&schema));
                let response = runtime.block_on(graphql::execute(&schema, request, None));
                assert!(response.errors.is_empty(), "{:?}", response.errors);
                black_box(serde_json::to_vec(&response).unwrap())
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = schema_benches
}
criterion_main!(benches);
