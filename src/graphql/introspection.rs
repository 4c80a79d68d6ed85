//! The schema's own description, for `__schema { description }`.
//!
//! async-graphql 7.2 answers `__Schema.description` with a fixed sentence
//! about GraphQL schemas in general, and offers no way to set it. GraphiQL
//! and other explorers show it as the schema's introduction, so [`describe`]
//! puts ours in its place after the operation ran. Only an operation that
//! asks for `__schema` pays for this; plans never answer introspection.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Response, Value};

/// What the graph is and where to start, as explorers show it.
pub const SCHEMA_DESCRIPTION: &str = "diplograph: a curated knowledge graph of international relations \
(actors, events, treaties, funding allocations, places and the sources behind each fact), first \
dataset: Russia–South Ossetia relations. Start with `search`, `timeline` or a connection such as \
`events`; fetch anything by its global id (`actor/dmitry-medvedev`) with `node`. Every type, field and \
argument is described.";

/// The sentence async-graphql answers `__Schema.description` with.
const GENERIC: &str = "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available \
types and directives on the server, as well as the entry points for query, mutation, and subscription operations.";

/// Fragments nest this deep at most here (validation has refused cycles).
const MAX_NESTING: usize = 32;

/// Replaces async-graphql's generic `__Schema.description` in `response`
/// with [`SCHEMA_DESCRIPTION`], under every root field of the operation
/// that is `__schema` (by its response key).
pub(super) fn describe(doc: &ExecutableDocument, operation: Option<&str>, response: &mut Response) {
    let Some(op) = super::plan::operation_of(doc, operation) else {
        return;
    };
    let mut keys = Vec::new();
    schema_keys(doc, &op.selection_set.node, &mut keys, 0);
    let Value::Object(data) = &mut response.data else {
        return;
    };
    for key in keys {
        let Some(Value::Object(schema)) = data.get_mut(&key) else {
            continue;
        };
        // `description` is the one string field of `__Schema` (besides
        // `__typename`, which never reads as the generic sentence).
        for value in schema.values_mut() {
            if matches!(value, Value::String(s) if s == GENERIC) {
                *value = Value::String(SCHEMA_DESCRIPTION.to_owned());
            }
        }
    }
}

/// The response keys of the `__schema` fields of a root selection set,
/// through its fragments.
fn schema_keys(doc: &ExecutableDocument, set: &SelectionSet, out: &mut Vec<Name>, nesting: usize) {
    if nesting > MAX_NESTING {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) if field.node.name.node == "__schema" => {
                out.push(field.node.response_key().node.clone());
            }
            Selection::Field(_) => {}
            Selection::InlineFragment(inline) => schema_keys(doc, &inline.node.selection_set.node, out, nesting + 1),
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    schema_keys(doc, &fragment.node.selection_set.node, out, nesting + 1);
                }
            }
        }
    }
}
