//! Apollo Federation v2: the server as a subgraph that a gateway (Apollo
//! Router, Hive Gateway, Cosmo) composes with other services.
//!
//! Every `Node` type is an entity keyed by `id` (the `#[graphql(entity)]`
//! resolvers of [`super::QueryRoot`]), so async-graphql serves
//! `Query._service { sdl }` (the subgraph SDL, [`super::subgraph_sdl`]) and
//! `Query._entities(representations:)`, which a gateway calls to fetch the
//! entities another subgraph refers to. The public schema (`schema.graphql`,
//! `GET /graphql/schema.graphql`) leaves those federation fields and types
//! out ([`public`]): they are the gateway's business, not a client's.
//!
//! A gateway asks for many entities in one `_entities` call. async-graphql
//! resolves each representation on its own, so the first one resolved loads
//! every entity the call names in one read ([`prefetch`]), and the rest
//! take theirs from that batch. From the second call of a document on, a
//! compiled plan answers it (`plan/`), reading all the entities at once.

use std::sync::{Arc, Mutex};

use async_graphql::{Any, Context, Result, Value, ID};
use rustc_hash::FxHashMap;

use super::types::{load_one, loaders, Node};
use crate::model::{EntityKind, Id};
use crate::read::cache::Entity;
use crate::read::listing::id_arg;

/// The argument of `_entities`, as errors name it.
pub(crate) const REPRESENTATIONS: &str = "representations";

/// The entities each `_entities` field of one operation names, loaded in
/// one read when its first representation is resolved (by the address of
/// the field node); `None` for an id that names nothing.
#[derive(Default)]
pub struct Prefetched(Mutex<FxHashMap<usize, Arc<Batch>>>);

type Batch = FxHashMap<Id, Option<Entity>>;

/// The entity of type `kind` a representation names by `id`, for the
/// `#[graphql(entity)]` resolvers: null if there is none, an error naming
/// `representations` for an id that is not one of that type.
pub(super) async fn entity<T: TryFrom<Node>>(ctx: &Context<'_>, kind: EntityKind, id: &ID) -> Result<Option<T>> {
    let id = id_arg(REPRESENTATIONS, kind, id.as_str()).map_err(super::errors::read_error)?;
    if let Some(found) = prefetch(ctx).as_ref().and_then(|batch| batch.get(&id)) {
        return Ok(found.clone().and_then(|e| T::try_from(Node::from(e)).ok()));
    }
    load_one(ctx, Some(&id)).await
}

/// The entity type and id a representation names
/// (`{ "__typename": "Actor", "id": "actor/russia" }`), if it is one of
/// ours with an id of its type; anything else is left to async-graphql,
/// which reports it.
pub(crate) fn represented(representation: &Value) -> Option<Id> {
    let Value::Object(fields) = representation else {
        return None;
    };
    let (Some(Value::String(type_name)), Some(Value::String(id))) = (fields.get("__typename"), fields.get("id")) else {
        return None;
    };
    let kind = EntityKind::ALL.into_iter().find(|k| k.type_name() == type_name)?;
    Id::parse_as(kind, id).ok()
}

/// Every entity the current `_entities` field names, read once per field
/// and operation. `None` if the read failed: each representation's own
/// read then reports the failure.
fn prefetch(ctx: &Context<'_>) -> Option<Arc<Batch>> {
    let prefetched = ctx.data_opt::<Prefetched>()?;
    // The field node lives as long as the operation's document, which
    // outlives the request's data, so its address names it meanwhile.
    let field = std::ptr::from_ref(ctx.item) as usize;
    let mut batches = prefetched.0.lock().ok()?;
    if let Some(batch) = batches.get(&field) {
        return Some(batch.clone());
    }
    let (_, representations) = ctx.param_value::<Vec<Any>>(REPRESENTATIONS, None).ok()?;
    let ids: Vec<Id> = representations.iter().filter_map(|r| represented(&r.0)).collect();
    let found = loaders(ctx).ok()?.direct().entities(&ids).ok()?;
    let batch = Arc::new(ids.into_iter().zip(found).collect::<Batch>());
    batches.insert(field, batch.clone());
    Some(batch)
}

/// How async-graphql prints the SDL `Query._service` answers with, so
/// that `diplograph schema --federation` prints the same.
pub(super) fn subgraph_options() -> async_graphql::SDLExportOptions {
    async_graphql::SDLExportOptions::new().federation().compose_directive()
}

/// The federation types async-graphql adds to a schema with entities.
const FEDERATION_TYPES: [&str; 3] = ["_Any", "_Entity", "_Service"];

/// The federation fields async-graphql adds to `Query`.
const FEDERATION_FIELDS: [&str; 2] = ["_service", "_entities"];

/// The public SDL: async-graphql's SDL of the served schema without the
/// federation types and `Query` fields. The SDL it prints puts each type
/// in a block that ends with a blank line, and each field on a line of its
/// own, which is what this relies on (a test compares the result with the
/// schema served, type by type).
pub(super) fn public(sdl: &str) -> String {
    let mut out = String::with_capacity(sdl.len());
    for block in sdl.split_inclusive("\n\n") {
        if FEDERATION_TYPES.iter().any(|name| declares(block, name)) {
            continue;
        }
        for line in block.split_inclusive('\n') {
            let field = line.trim_start();
            let federation = FEDERATION_FIELDS
                .iter()
                .any(|name| field.starts_with(&format!("{name}:")) || field.starts_with(&format!("{name}(")));
            if !federation {
                out.push_str(line);
            }
        }
    }
    out
}

/// Whether an SDL block declares the type `name` (after its description, if any).
fn declares(block: &str, name: &str) -> bool {
    block.lines().any(|line| {
        ["scalar", "union", "type"].iter().any(|keyword| {
            line.strip_prefix(keyword)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|rest| rest.strip_prefix(name))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\n']))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The types an SDL declares, each with its fields (for object types).
    fn declared(sdl: &str) -> Vec<(String, Vec<String>)> {
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let doc = async_graphql::parser::parse_schema(sdl).expect("the SDL parses");
        doc.definitions
            .into_iter()
            .filter_map(|def| match def {
                TypeSystemDefinition::Type(ty) => {
                    let fields = match &ty.node.kind {
                        TypeKind::Object(object) => {
                            object.fields.iter().map(|f| f.node.name.node.to_string()).collect()
                        }
                        _ => Vec::new(),
                    };
                    Some((ty.node.name.node.to_string(), fields))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_public_sdl_is_the_served_one_without_the_federation_types_and_fields() {
        let served = declared(&super::super::served_sdl());
        let public = declared(&public(&super::super::served_sdl()));
        let federation = |name: &String| FEDERATION_TYPES.contains(&name.as_str());
        assert!(served.iter().filter(|(name, _)| federation(name)).count() == FEDERATION_TYPES.len());
        let expected: Vec<(String, Vec<String>)> = served
            .into_iter()
            .filter(|(name, _)| !federation(name))
            .map(|(name, fields)| {
                let fields = fields
                    .into_iter()
                    .filter(|f| !FEDERATION_FIELDS.contains(&f.as_str()))
                    .collect();
                (name, fields)
            })
            .collect();
        assert_eq!(public, expected);
        let query = &public.iter().find(|(name, _)| name == "Query").expect("a Query type").1;
        assert!(query.len() > 10 && !query.iter().any(|f| f.starts_with('_')));
    }

    #[test]
    fn a_representation_names_an_entity_of_its_type() {
        let rep = |json: serde_json::Value| Value::from_json(json).unwrap();
        let cases = [
            (
                serde_json::json!({ "__typename": "Actor", "id": "actor/russia" }),
                Some("actor/russia"),
            ),
            (
                serde_json::json!({ "__typename": "Actor", "id": "russia" }),
                Some("actor/russia"),
            ),
            (
                serde_json::json!({ "__typename": "FundingAllocation", "id": "funding/x" }),
                Some("funding/x"),
            ),
            (serde_json::json!({ "__typename": "Actor", "id": "event/x" }), None),
            (
                serde_json::json!({ "__typename": "Nothing", "id": "actor/russia" }),
                None,
            ),
            (serde_json::json!({ "__typename": "Actor" }), None),
            (serde_json::json!({ "id": "actor/russia" }), None),
            (serde_json::json!({ "__typename": "Actor", "id": 7 }), None),
            (serde_json::json!("actor/russia"), None),
        ];
        for (given, expected) in cases {
            let found = represented(&rep(given.clone()));
            assert_eq!(found.as_ref().map(Id::as_str), expected, "{given}");
        }
    }
}
