//! Subscriptions: live notice of every committed write.
//!
//! The store announces each commit once it is durable and applied, in commit order, on
//! one broadcast channel shared by the whole server. Each subscription reads
//! that channel; one that falls more than the channel's backlog behind is
//! ended with an error instead of buffering without bound.

use std::sync::Arc;

use async_graphql::{Context, Enum, ErrorExtensions, Result, SimpleObject, Subscription, ID};
use futures_util::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::errors::bad_input;
use super::filters::EventFilter;
use super::types::{Event, Node};
use crate::model::{Entity, EntityKind, Id};
use crate::store::{ChangeKind, Committed, Store};

/// What happened to an entity.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeType {
    /// It was created.
    Created,
    /// It was changed (including a reference removed by a cascading delete).
    Updated,
    /// It was deleted.
    Deleted,
}

impl From<ChangeKind> for ChangeType {
    fn from(kind: ChangeKind) -> ChangeType {
        match kind {
            ChangeKind::Created => ChangeType::Created,
            ChangeKind::Updated => ChangeType::Updated,
            ChangeKind::Deleted => ChangeType::Deleted,
        }
    }
}

/// One entity changed by a committed write.
#[derive(SimpleObject, Clone)]
pub struct EntityChange {
    /// What happened.
    pub change: ChangeType,
    /// The entity's id.
    pub id: ID,
    /// The entity's kind.
    pub kind: EntityKind,
    /// The entity after the change; null when it was deleted.
    pub node: Option<Node>,
    /// The store's write counter after the commit; increases with every commit.
    pub generation: u64,
}

/// The commits announced from now on; a lagging reader gets one error and stops.
fn commits(store: &Store) -> impl Stream<Item = Result<Arc<Committed>>> {
    BroadcastStream::new(store.subscribe())
        .map(move |item| {
            item.map_err(|BroadcastStreamRecvError::Lagged(n)| {
                async_graphql::Error::new(format!(
                    "this subscription fell {n} commits behind and was dropped; subscribe again"
                ))
                .extend_with(|_, e| e.set("code", "SLOW_CONSUMER"))
            })
        })
        .scan(false, |failed, item| {
            // End the stream right after the first error.
            if *failed {
                return futures_util::future::ready(None);
            }
            *failed = item.is_err();
            futures_util::future::ready(Some(item))
        })
}

/// Live notices of writes.
pub struct SubscriptionRoot;

/// Live notices of committed writes, over WebSocket at `/graphql`
/// (protocols `graphql-transport-ws` and the legacy `graphql-ws`).
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every entity change from now on, in commit order, sent once the write
    /// is on disk. Narrow it by kind and/or id; with neither, every change.
    async fn entity_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only changes to entities of these kinds.")] kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "Only changes to these ids (full ids).")] ids: Option<Vec<ID>>,
    ) -> Result<impl Stream<Item = Result<EntityChange>>> {
        let ids: Option<Vec<Id>> = ids
            .map(|ids| {
                ids.iter()
                    .map(|i| Id::parse(i.as_str()).map_err(|e| bad_input("ids", e)))
                    .collect()
            })
            .transpose()?;
        let store = ctx.data::<Store>()?;
        Ok(commits(store).flat_map(move |item| {
            let changes: Vec<Result<EntityChange>> = match item {
                Err(e) => vec![Err(e)],
                Ok(committed) => committed
                    .changes
                    .iter()
                    .filter(|c| kinds.as_ref().is_none_or(|k| k.contains(&c.id.kind())))
                    .filter(|c| ids.as_ref().is_none_or(|i| i.contains(&c.id)))
                    .map(|c| {
                        Ok(EntityChange {
                            change: c.kind.into(),
                            id: ID(c.id.to_string()),
                            kind: c.id.kind(),
                            node: c.entity.clone().map(Node::from),
                            generation: committed.generation,
                        })
                    })
                    .collect(),
            };
            stream::iter(changes)
        }))
    }

    /// Every event created from now on that matches the filter, in commit order.
    async fn event_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter.")] filter: Option<EventFilter>,
    ) -> Result<impl Stream<Item = Result<Event>>> {
        let store = ctx.data::<Store>()?;
        // The places within a place filter are read now, once.
        let filter = filter
            .unwrap_or_default()
            .parse(store)
            .map_err(super::errors::read_error)?;
        Ok(commits(store).flat_map(move |item| {
            let events: Vec<Result<Event>> = match item {
                Err(e) => vec![Err(e)],
                Ok(committed) => committed
                    .changes
                    .iter()
                    .filter(|c| c.kind == ChangeKind::Created)
                    .filter_map(|c| match &c.entity {
                        Some(Entity::Event(e)) if filter.matches(e) => Some(Ok(Event(Arc::new(e.clone())))),
                        _ => None,
                    })
                    .collect(),
            };
            stream::iter(events)
        }))
    }
}
