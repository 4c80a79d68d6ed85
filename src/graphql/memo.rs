//! Each entity subtree of a query answer resolved once.
//!
//! Graph queries meet the same entity again and again: twenty events share
//! a handful of participants, and `participants { actor { events { … } } }`
//! would otherwise build Russia's events once for every event Russia took
//! part in. Fields that lead to an entity return [`Shared`], which keeps the
//! value it resolved per (field of the query, entity id) for the rest of the
//! operation and hands out copies. The same field node always carries the
//! same arguments, variables and selection, so the copy is what resolving
//! again would give.
//!
//! The memo lives in one request's data ([`SubtreeMemo`]), so nothing
//! outlives an operation; only queries use it (a subscription's stream of
//! events must see each new state), and a subtree whose resolution reported
//! an error is not kept, so every error is still reported at its own path.

use std::borrow::Cow;
use std::sync::Mutex;

use async_graphql::parser::types::{Field, OperationType};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};
use rustc_hash::FxHashMap;

use crate::model::Id;

/// An entity whose subtrees are worth sharing: it knows its id.
pub trait Identified {
    fn memo_id(&self) -> &Id;
}

/// Resolved subtrees of one operation, by (field node address, entity id).
#[derive(Default)]
pub struct SubtreeMemo(Mutex<FxHashMap<(usize, Id), Value>>);

impl SubtreeMemo {
    fn get(&self, key: &(usize, Id)) -> Option<Value> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: (usize, Id), value: Value) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, value);
        }
    }
}

/// An entity returned from a field, resolved once per field of the query.
/// It is the entity's own GraphQL type: clients see no difference.
pub struct Shared<T>(pub T);

impl<T: OutputType + Identified> OutputType for Shared<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let memo = ctx
            .data_opt::<SubtreeMemo>()
            .filter(|_| ctx.query_env.operation.node.ty == OperationType::Query);
        let Some(memo) = memo else {
            return self.0.resolve(ctx, field).await;
        };
        // The memo is dropped with the operation's document, so a field
        // node's address names that node for as long as the memo exists.
        let key = (field as *const Positioned<Field> as usize, self.0.memo_id().clone());
        if let Some(value) = memo.get(&key) {
            return Ok(value);
        }
        let errors = |ctx: &ContextSelectionSet<'_>| ctx.query_env.errors.lock().map_or(usize::MAX, |e| e.len());
        let before = errors(ctx);
        let value = self.0.resolve(ctx, field).await?;
        if errors(ctx) == before {
            memo.put(key, value.clone());
        }
        Ok(value)
    }
}
