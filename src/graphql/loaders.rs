//! DataLoaders, one per kind of read, created per request.
//!
//! Resolvers at one level of a query ask for what they need; the loaders
//! gather those asks and make one batched store read for the whole level.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};

use super::types::Node;
use crate::model::{Id, Relation};
use crate::store::{Direction, Store, StoreError};

/// Loads entities by id.
pub struct EntityLoader(pub Store);

impl Loader<Id> for EntityLoader {
    type Value = Node;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, Node>, Self::Error> {
        // sled serves reads from its page cache without blocking for long,
        // so they run inline rather than on the blocking pool.
        let found = self.0.get_many(keys)?;
        Ok(found.into_iter().map(|(id, entity)| (id, Node::from(entity))).collect())
    }
}

/// A relation followed from one entity in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    pub relation: Relation,
    pub direction: Direction,
    pub from: Id,
}

/// The ids a relation leads to, with each edge's payload (a role, a date).
pub type Targets = Arc<Vec<(Id, Vec<u8>)>>;

/// Follows relations; one store read per (relation, direction) in a batch.
pub struct LinkLoader(pub Store);

impl Loader<Link> for LinkLoader {
    type Value = Targets;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[Link]) -> Result<HashMap<Link, Targets>, Self::Error> {
        let mut groups: HashMap<(Relation, Direction), Vec<Id>> = HashMap::new();
        for link in keys {
            groups
                .entry((link.relation, link.direction))
                .or_default()
                .push(link.from.clone());
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((relation, direction), ids) in groups {
            for (from, targets) in self.0.related(relation, direction, &ids)? {
                out.insert(
                    Link {
                        relation,
                        direction,
                        from,
                    },
                    Arc::new(targets),
                );
            }
        }
        Ok(out)
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub entities: DataLoader<EntityLoader>,
    pub links: DataLoader<LinkLoader>,
}

impl Loaders {
    pub fn new(store: &Store) -> Loaders {
        Loaders {
            entities: DataLoader::new(EntityLoader(store.clone()), tokio::spawn),
            links: DataLoader::new(LinkLoader(store.clone()), tokio::spawn),
        }
    }
}
