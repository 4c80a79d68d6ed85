//! `schema.graphql` is generated from the code; this test keeps it in sync.

use std::path::Path;

#[test]
fn schema_graphql_matches_the_served_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let served = diplograph::graphql::sdl();
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != served {
        // Rewrite it so the change shows up as a diff to review and commit.
        std::fs::write(&path, &served).expect("rewrite schema.graphql");
        panic!("schema.graphql was out of date and has been rewritten; review the diff and commit it");
    }
}

#[tokio::test]
async fn the_server_serves_the_schema_in_schema_graphql() {
    let app = crate::helpers::spawn_app().await;
    let response = app.data("{ __schema { queryType { name } types { name } } }").await;
    let types: Vec<&str> = response["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let file = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql")).unwrap();
    // The federation types a gateway uses are served but are not part of
    // the public schema (`diplograph schema --federation` prints them).
    let federation = ["_Any", "_Entity", "_Service"];
    for name in types.iter().filter(|n| !n.starts_with("__") && !federation.contains(n)) {
        let declared = ["type", "interface", "enum", "scalar", "input", "union"]
            .iter()
            .any(|kw| file.contains(&format!("{kw} {name} ")) || file.contains(&format!("{kw} {name}\n")));
        let builtin = ["String", "Int", "Float", "Boolean", "ID"].contains(name);
        assert!(declared || builtin, "type {name} is served but not in schema.graphql");
    }
}
