//! The reads of one request, for resolvers: the shared read cache
//! ([`crate::read::cache`]) behind async signatures, handing out GraphQL
//! types.

use std::collections::HashMap;
use std::sync::Arc;

use super::types::Node;
use crate::model::Id;
use crate::read::cache::{Direct, Link, ReadCache, SortedEvents, Targets};
use crate::store::{Store, StoreError};

/// The reads of one request: [`Direct`] reads over the shared cache (or a
/// private one), behind the async signatures resolvers await.
///
/// Every read finishes on its first poll. async-graphql 7.2 assembles an
/// object's fields in the order their futures finish; with reads that never
/// wait, that is the order the selection set asks for (its field futures are
/// first polled in selection order), as the GraphQL spec wants. DataLoader
/// batches made fields that waited on them come back last. Batching matters
/// little here: a document async-graphql has run once is answered by a
/// compiled plan from then on, and the shared cache serves repeated reads.
pub struct Loaders {
    store: Store,
    cache: Arc<ReadCache>,
}

impl Loaders {
    /// Loaders with a cache of their own: every read reaches the store once.
    pub fn new(store: &Store) -> Loaders {
        Loaders::with_cache(store, None)
    }

    pub fn with_cache(store: &Store, cache: Option<Arc<ReadCache>>) -> Loaders {
        Loaders {
            store: store.clone(),
            cache: cache.unwrap_or_default(),
        }
    }

    pub(crate) fn direct(&self) -> Direct<'_> {
        Direct::new(&self.store, &self.cache)
    }

    /// Entities by id; missing ones are absent from the map.
    pub async fn entities(&self, ids: &[Id]) -> Result<HashMap<Id, Node>, Arc<StoreError>> {
        let found = self.direct().entities(ids)?;
        Ok(ids
            .iter()
            .zip(found)
            .filter_map(|(id, entity)| Some((id.clone(), Node::from(entity?))))
            .collect())
    }

    pub async fn entity(&self, id: &Id) -> Result<Option<Node>, Arc<StoreError>> {
        Ok(self.direct().entity(id)?.map(Node::from))
    }

    /// What a relation leads to from one entity, loaded, in key order.
    pub async fn nodes(&self, link: Link) -> Result<Arc<Vec<Node>>, Arc<StoreError>> {
        Ok(Arc::new(
            self.direct().nodes(&link)?.iter().cloned().map(Node::from).collect(),
        ))
    }

    /// The events a relation leads to, in chronological order.
    pub async fn sorted_events(&self, link: Link) -> Result<SortedEvents, Arc<StoreError>> {
        Ok(self.direct().sorted_events(&link)?)
    }

    /// Where a relation leads from one entity.
    pub async fn link(&self, link: Link) -> Result<Targets, Arc<StoreError>> {
        Ok(self.direct().link(&link)?)
    }
}
