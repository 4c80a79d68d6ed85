//! The field table is the one place a read field's meaning lives for
//! compiled plans. These tests walk the schema async-graphql serves: every
//! object field a read can reach must have an entry in the table, and a
//! query generated for each field reads the same bytes through its plan as
//! through async-graphql, for every entity of the seed.

use std::collections::{BTreeMap, VecDeque};

use async_graphql::Request;
use diplograph::graphql::{build_schema, in_field_table, AppSchema, QueryLimits, SchemaOptions};
use serde_json::{json, Value};

use crate::helpers::{seed_records, seeded, ENTITY_TYPES};
use crate::plans::{same_answers_in, schema};

/// A field as introspection describes it.
struct FieldInfo {
    name: String,
    /// The named type under any list and non-null wrappers.
    ty: String,
    /// Whether it needs an argument.
    required_args: bool,
}

/// The object and interface types of the served schema, with their fields,
/// and the kind of every type.
struct Types {
    kinds: BTreeMap<String, String>,
    fields: BTreeMap<String, Vec<FieldInfo>>,
}

async fn served_types(schema: &AppSchema) -> Types {
    let query = r#"{ __schema { types { name kind fields {
        name args { type { kind } defaultValue }
        type { name ofType { name ofType { name ofType { name } } } } } } } }"#;
    let response = schema.execute(Request::new(query)).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let mut types = Types {
        kinds: BTreeMap::new(),
        fields: BTreeMap::new(),
    };
    for ty in data["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap().to_owned();
        types
            .kinds
            .insert(name.clone(), ty["kind"].as_str().unwrap().to_owned());
        let Some(fields) = ty["fields"].as_array() else {
            continue;
        };
        let fields = fields
            .iter()
            .map(|f| {
                let mut t = &f["type"];
                while t["name"].is_null() {
                    t = &t["ofType"];
                }
                FieldInfo {
                    name: f["name"].as_str().unwrap().to_owned(),
                    ty: t["name"].as_str().unwrap().to_owned(),
                    required_args: f["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null()),
                }
            })
            .collect();
        types.fields.insert(name, fields);
    }
    types
}

impl Types {
    fn is_leaf(&self, ty: &str) -> bool {
        matches!(self.kinds.get(ty).map(String::as_str), Some("SCALAR" | "ENUM"))
    }

    /// A selection that reads every field of `ty` that needs no argument,
    /// down `depth` more levels; `{ __typename }` where it stops.
    fn selection(&self, ty: &str, depth: usize) -> String {
        if self.is_leaf(ty) {
            return String::new();
        }
        let mut out = String::from("{ __typename");
        if self.kinds[ty] == "INTERFACE" {
            out.push_str(" id");
        }
        // The one union, `_Entity`, holds the entity types.
        if self.kinds[ty] == "UNION" {
            out.push_str(" ... on Node { id }");
        }
        for field in self.fields.get(ty).into_iter().flatten() {
            if field.required_args || field.name.starts_with("__") {
                continue;
            }
            if self.is_leaf(&field.ty) {
                out.push_str(&format!(" {}", field.name));
            } else if depth > 0 {
                out.push_str(&format!(" {} {}", field.name, self.selection(&field.ty, depth - 1)));
            }
        }
        out.push_str(" }");
        out
    }

    /// The object types reads can reach, each with a way to reach it: from
    /// an entity type (by a chain of fields), or from the root.
    fn reachable(&self) -> BTreeMap<String, (String, Vec<String>)> {
        let mut found: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        let mut queue = VecDeque::new();
        for entity in ENTITY_TYPES
            .iter()
            .map(|(t, _)| t.to_string())
            .chain(["Query".to_owned()])
        {
            found.insert(entity.clone(), (entity.clone(), Vec::new()));
            queue.push_back(entity);
        }
        while let Some(ty) = queue.pop_front() {
            let (root, path) = found[&ty].clone();
            for field in self.fields.get(&ty).into_iter().flatten() {
                let next = &field.ty;
                if self.is_leaf(next) || found.contains_key(next) || metadata(&field.name) {
                    continue;
                }
                if root != "Query" && field.required_args {
                    continue;
                }
                let mut chain = path.clone();
                let args = if ty == "Query" { root_arguments(&field.name) } else { "" };
                chain.push(format!("{}{args}", field.name));
                found.insert(next.clone(), (root.clone(), chain));
                queue.push_back(next.clone());
            }
        }
        found
    }
}

/// Fields about the schema rather than the graph: introspection, and the
/// subgraph SDL a federation gateway reads (`_service`). Reads never reach
/// them, so the field table has no entry for them.
fn metadata(field: &str) -> bool {
    field.starts_with("__") || field == "_service"
}

/// Arguments for the root fields that need some.
fn root_arguments(field: &str) -> &'static str {
    match field {
        "node" | "actor" => r#"(id: "actor/russia")"#,
        "nodes" => r#"(ids: ["actor/russia", "event/recognition-decrees", "place/tskhinval", "actor/nobody"])"#,
        "event" => r#"(id: "event/recognition-decrees")"#,
        "treaty" => r#"(id: "treaty/friendship-2008")"#,
        "place" => r#"(id: "place/tskhinval")"#,
        "search" => r#"(query: "russia ossetia", first: 20)"#,
        "timeline" => "(first: 10)",
        // Every dimension at once: a group per combination, every key field set.
        "eventStats" => "(groupBy: [KIND, YEAR, MONTH, ACTOR, ROLE, PLACE])",
        "fundingStats" => "(groupBy: [DONOR, RECIPIENT, YEAR, BASIS, AUTHORIZED_BY, CURRENCY])",
        "paths" => r#"(from: "actor/sergey-lavrov", to: "actor/federation-council")"#,
        "positionHolders" => r#"(title: "President of Russia", asOf: "2008-08-26")"#,
        "_entities" => {
            r#"(representations: [{ __typename: "Actor", id: "actor/russia" }, { __typename: "Place", id: "place/tskhinval" }, { __typename: "Event", id: "event/nothing" }, { __typename: "Treaty", id: "treaty/friendship-2008" }])"#
        }
        _ => "",
    }
}

#[tokio::test]
async fn every_field_reads_can_reach_has_an_entry_in_the_field_table() {
    let store = seeded();
    let types = served_types(&schema(&store)).await;
    let mut missing = Vec::new();
    let mut checked = 0;
    for ty in types.reachable().keys() {
        if types.kinds[ty] != "OBJECT" {
            continue;
        }
        for field in &types.fields[ty] {
            if metadata(&field.name) {
                continue;
            }
            checked += 1;
            if !in_field_table(ty, &field.name) {
                missing.push(format!("{ty}.{}", field.name));
            }
        }
    }
    assert!(checked > 100, "the walk found the schema's fields ({checked})");
    assert!(
        missing.is_empty(),
        "fields with no entry in the field table: {missing:?}"
    );
    // And a name the schema does not serve is not in the table.
    assert!(!in_field_table("Actor", "nonsense"));
}

#[tokio::test]
async fn a_query_for_each_field_reads_the_same_through_its_plan_for_every_entity() {
    let store = seeded();
    let types = served_types(&schema(&store)).await;
    // Each query asks for every field of a type at once, lists in lists:
    // far past the complexity limit where a list is long (an actor's
    // co-participants' shared events). The limit is not what this checks.
    let walk = build_schema(
        store.clone(),
        SchemaOptions {
            compiled_plans: true,
            limits: QueryLimits {
                max_complexity: 10_000_000,
                ..QueryLimits::default()
            },
            ..SchemaOptions::default()
        },
    );
    let ids: BTreeMap<&str, Vec<Value>> = ENTITY_TYPES
        .iter()
        .map(|(ty, file)| {
            let ids = seed_records(file).iter().map(|r| json!({ "id": r["id"] })).collect();
            (*ty, ids)
        })
        .collect();
    let mut fields = 0;
    for (ty, (root, path)) in types.reachable() {
        if types.kinds[&ty] != "OBJECT" {
            continue;
        }
        for field in &types.fields[&ty] {
            if metadata(&field.name) || (root != "Query" && field.required_args) {
                continue;
            }
            let args = if ty == "Query" { root_arguments(&field.name) } else { "" };
            if field.required_args && args.is_empty() {
                continue;
            }
            let mut inner = format!("{}{} {}", field.name, args, types.selection(&field.ty, 1));
            for step in path.iter().rev() {
                inner = format!("{step} {{ __typename {inner} }}");
            }
            fields += 1;
            if root == "Query" {
                same_answers_in(&walk, &format!("{{ {inner} }}"), &[json!({})]).await;
            } else {
                let query = format!("query($id: ID!) {{ node(id: $id) {{ ... on {root} {{ {inner} }} }} }}");
                same_answers_in(&walk, &query, &ids[root.as_str()]).await;
            }
        }
    }
    assert!(fields > 100, "a query for each field ({fields})");
}
