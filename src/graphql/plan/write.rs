//! Compiled writes: a create (`createActor(input: $input) { actor { id } }`
//! and its kin) answered without async-graphql's request set-up,
//! validation and per-field futures, which cost about as much as the
//! write's own staging in the store.
//!
//! As with reads, a document is compiled only after async-graphql has run it
//! once without an error: it has passed parsing, validation and every limit,
//! and those depend on the document alone. What depends on the request is
//! checked on each: the variable's value must be one async-graphql takes
//! without complaint ([`coercible`], which says no when unsure), and must
//! parse as the input type. The input then goes through the very function
//! the mutation's resolver calls (`mutation::create_planned`), with its
//! checks and its store commit, synced before the answer.
//!
//! Only a write that succeeds is answered here. Any error (a check of the
//! input, an id already taken, a full disk) leaves nothing in the store,
//! and the request is then run again by async-graphql, which gives the error
//! its one shape. The answer selects `__typename` and scalars of the new
//! entity only, written from the entity in hand, so once the write is kept
//! nothing can stop its answer from being written.

use async_graphql::parser::types::{BaseType, ExecutableDocument, OperationType, Selection};
use async_graphql::Name;
use async_graphql_value::Value;
use serde_json::{Map, Value as Json};

use super::compile::{entity_selection, json_key, Sel};
use super::run::entity_object;
use super::{coercible, operation_of, Reads, Run};
use crate::graphql::table::Ty;
use crate::model::EntityKind;
use crate::read::cache::Entity;

/// The creates a write plan covers: the mutation field, its input type,
/// its payload type and the payload's entity field.
const CREATES: [(&str, &str, &str, &str, EntityKind); 5] = [
    (
        "createActor",
        "CreateActorInput",
        "ActorPayload",
        "actor",
        EntityKind::Actor,
    ),
    (
        "createEvent",
        "CreateEventInput",
        "EventPayload",
        "event",
        EntityKind::Event,
    ),
    (
        "createTreaty",
        "CreateTreatyInput",
        "TreatyPayload",
        "treaty",
        EntityKind::Treaty,
    ),
    (
        "createFundingAllocation",
        "CreateFundingAllocationInput",
        "FundingAllocationPayload",
        "fundingAllocation",
        EntityKind::Funding,
    ),
    (
        "createPlace",
        "CreatePlaceInput",
        "PlacePayload",
        "place",
        EntityKind::Place,
    ),
];

/// A create, compiled.
pub struct WritePlan {
    /// What it creates.
    pub kind: EntityKind,
    /// The one variable, which the mutation takes as its `input`.
    variable: Name,
    ty: async_graphql::parser::types::Type,
    /// `{"data":{"createActor":`, with the field's response key.
    head: Box<[u8]>,
    /// The payload's fields, in answer order.
    payload: Box<[Payload]>,
}

/// One field of a create's payload.
struct Payload {
    /// `{"key":` or `,"key":`, with the value too for `__typename`.
    key: Box<[u8]>,
    /// The entity's selection; `None` for `__typename`.
    entity: Option<Sel>,
}

impl WritePlan {
    /// The plan for an operation of `doc` that async-graphql just ran
    /// without error, or `None` unless it is one create whose input is its
    /// one variable and whose answer is `__typename` and the new entity's
    /// scalars (no directives anywhere).
    pub(super) fn compile(doc: &ExecutableDocument, operation: Option<&str>) -> Option<WritePlan> {
        let op = operation_of(doc, operation)?;
        if op.ty != OperationType::Mutation || !op.directives.is_empty() || op.variable_definitions.len() != 1 {
            return None;
        }
        let def = &op.variable_definitions[0].node;
        if !def.directives.is_empty() || def.default_value.is_some() {
            return None;
        }
        let [item] = op.selection_set.node.items.as_slice() else {
            return None;
        };
        let Selection::Field(root) = &item.node else {
            return None;
        };
        let root = &root.node;
        let (_, input_type, payload_type, entity_field, kind) =
            *CREATES.iter().find(|c| c.0 == root.name.node.as_str())?;
        let passes_variable = match root.arguments.as_slice() {
            [(name, value)] => name.node == "input" && value.node == Value::Variable(def.name.node.clone()),
            _ => false,
        };
        let typed = matches!(&def.var_type.node.base, BaseType::Named(name) if name == input_type);
        if !root.directives.is_empty() || !passes_variable || !typed {
            return None;
        }
        let ty = Ty::Entity(kind);
        let mut payload: Vec<Payload> = Vec::new();
        let mut keys: Vec<&str> = Vec::new();
        for item in &root.selection_set.node.items {
            let Selection::Field(field) = &item.node else {
                return None;
            };
            let field = &field.node;
            let key = field.response_key().node.as_str();
            if !field.directives.is_empty() || !field.arguments.is_empty() || keys.contains(&key) {
                return None;
            }
            keys.push(key);
            let mut bytes = vec![if payload.is_empty() { b'{' } else { b',' }];
            bytes.extend_from_slice(json_key(key).as_bytes());
            let entity = match field.name.node.as_str() {
                "__typename" => {
                    bytes.extend_from_slice(serde_json::to_string(payload_type).ok()?.as_bytes());
                    None
                }
                name if name == entity_field => Some(entity_selection(doc, ty, &field.selection_set.node)?),
                _ => return None,
            };
            payload.push(Payload {
                key: bytes.into(),
                entity,
            });
        }
        if payload.is_empty() {
            return None;
        }
        let mut head = b"{\"data\":{".to_vec();
        head.extend_from_slice(json_key(root.response_key().node.as_str()).as_bytes());
        Some(WritePlan {
            kind,
            variable: def.name.node.clone(),
            ty: def.var_type.node.clone(),
            head: head.into(),
            payload: payload.into(),
        })
    }

    /// The input these variables give the create, or `None` when
    /// async-graphql might take them otherwise than as given (then the
    /// request is left to it). Only the plan's one variable may be given.
    pub fn input(&self, variables: Option<&Map<String, Json>>) -> Option<async_graphql::Value> {
        let variables = variables?;
        let given = variables.get(self.variable.as_str())?;
        if variables.len() != 1 || !coercible(&self.ty, Some(given)) {
            return None;
        }
        async_graphql::Value::from_json(given.clone()).ok()
    }

    /// The answer to a create that made `node`.
    pub fn answer(&self, node: &Entity, reads: Reads<'_>) -> Run<Vec<u8>> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&self.head);
        for field in self.payload.iter() {
            out.extend_from_slice(&field.key);
            if let Some(sel) = &field.entity {
                out = entity_object(out, sel, node, reads.clone())?;
            }
        }
        out.extend_from_slice(b"}}}");
        Ok(out)
    }
}
