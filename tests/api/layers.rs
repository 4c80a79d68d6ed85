//! The layers ARCHITECTURE.md names, held by a check of the source: only
//! `store/` uses sled, `http/` never reaches into the store, `graphql/`
//! never into the seed loader, and `read/` knows nothing of GraphQL.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Lines of code (comments dropped) under `src/<dir>` that contain `needle`.
fn uses(dir: &str, needle: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let root = src.join(dir);
    let files = if root.is_dir() { sources(&root) } else { vec![root] };
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            if code.contains(needle) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaks = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "store" {
            breaks.extend(uses(&name, "sled::"));
        }
    }
    breaks.extend(uses("http", "store::"));
    breaks.extend(uses("http", "Store"));
    breaks.extend(uses("graphql", "seed::"));
    breaks.extend(uses("read", "async_graphql"));
    breaks.extend(uses("read", "graphql::"));
    assert!(breaks.is_empty(), "layering broken:\n{}", breaks.join("\n"));
    // The check sees what it looks for.
    assert!(!uses("store", "sled::").is_empty());
    assert!(!uses("graphql", "store::").is_empty());
}
