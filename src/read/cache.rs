//! The read cache: decoded entities and followed relations, shared by
//! every request and both read paths (resolvers and compiled plans), in
//! front of the store.
//!
//! The cache holds what the store held at one generation; the first read
//! after a write sees a new generation and starts it afresh, so it never
//! serves a state older than the last acknowledged write. Misses read the
//! store at once ([`Direct`]); nothing waits for a batch.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use crate::model::{self, EntityKind, Id, Relation};
use crate::store::{Direction, Keyed, PeriodScan, Store, StoreError};

/// An entity as reads hand it out: its record, shared.
#[derive(Clone, Debug)]
pub enum Entity {
    Actor(Arc<model::Actor>),
    Event(Arc<model::Event>),
    Treaty(Arc<model::Treaty>),
    FundingAllocation(Arc<model::FundingAllocation>),
    Place(Arc<model::Place>),
    Source(Arc<model::Source>),
}

impl From<model::Entity> for Entity {
    fn from(entity: model::Entity) -> Entity {
        match entity {
            model::Entity::Actor(e) => Entity::Actor(Arc::new(e)),
            model::Entity::Event(e) => Entity::Event(Arc::new(e)),
            model::Entity::Treaty(e) => Entity::Treaty(Arc::new(e)),
            model::Entity::Funding(e) => Entity::FundingAllocation(Arc::new(e)),
            model::Entity::Place(e) => Entity::Place(Arc::new(e)),
            model::Entity::Source(e) => Entity::Source(Arc::new(e)),
        }
    }
}

impl Entity {
    pub fn id(&self) -> &Id {
        match self {
            Entity::Actor(x) => &x.id,
            Entity::Event(x) => &x.id,
            Entity::Treaty(x) => &x.id,
            Entity::FundingAllocation(x) => &x.id,
            Entity::Place(x) => &x.id,
            Entity::Source(x) => &x.id,
        }
    }

    pub fn kind(&self) -> EntityKind {
        self.id().kind()
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

/// A map valid for one store generation, bounded in size.
struct Generational<K, V> {
    inner: RwLock<(u64, FxHashMap<K, V>)>,
    max: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> Generational<K, V> {
    fn new(max: usize) -> Self {
        Generational {
            inner: RwLock::new((0, FxHashMap::default())),
            max,
        }
    }

    fn get(&self, generation: u64, key: &K) -> Option<V> {
        let inner = self.inner.read().ok()?;
        if inner.0 != generation {
            return None;
        }
        inner.1.get(key).cloned()
    }

    fn put_all(&self, generation: u64, items: impl IntoIterator<Item = (K, V)>) {
        let Ok(mut inner) = self.inner.write() else { return };
        // Only move forward: a slow reader of an older generation must not
        // wipe what newer readers cached.
        if inner.0 > generation {
            return;
        }
        if inner.0 != generation {
            *inner = (generation, FxHashMap::default());
        }
        for (k, v) in items {
            if inner.1.len() >= self.max {
                // Simple and bounded: start over rather than track recency.
                inner.1.clear();
            }
            inner.1.insert(k, v);
        }
    }
}

/// An actor's events (or any set of events) in chronological order, with
/// their listing keys; every node is an event.
pub type SortedEvents = Arc<Vec<(Vec<u8>, Entity)>>;

/// Decoded entities and followed relations shared by every request; built
/// once with the schema.
pub struct ReadCache {
    entities: Generational<Id, Entity>,
    links: Generational<Link, Targets>,
    /// What a relation leads to, loaded: saves a lookup per item.
    lists: Generational<Link, Arc<Vec<Entity>>>,
    sorted: Generational<Link, SortedEvents>,
    /// Pages of the unfiltered chronological event listing.
    event_pages: Generational<EventPage, Arc<Vec<Keyed>>>,
}

/// Where a page of the event listing lies: after and before which keys,
/// how many items, and from which end.
#[derive(Clone, PartialEq, Eq, Hash)]
struct EventPage(Option<Vec<u8>>, Option<Vec<u8>>, usize, bool);

/// Entries each half of the cache holds at most.
pub const READ_CACHE_ENTRIES: usize = 50_000;

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache {
            entities: Generational::new(READ_CACHE_ENTRIES),
            links: Generational::new(READ_CACHE_ENTRIES),
            lists: Generational::new(READ_CACHE_ENTRIES / 4),
            sorted: Generational::new(READ_CACHE_ENTRIES / 4),
            event_pages: Generational::new(READ_CACHE_ENTRIES / 4),
        }
    }
}

/// The events among `nodes`, in chronological order with their listing keys.
fn sort_events(nodes: &[Entity]) -> SortedEvents {
    let mut events: Vec<(Vec<u8>, Entity)> = nodes
        .iter()
        .filter_map(|n| match n {
            Entity::Event(e) => Some((crate::store::event_list_key(e.date.as_ref(), &e.id), n.clone())),
            _ => None,
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    Arc::new(events)
}

/// Reads that finish without waiting: the shared cache first, then the
/// store itself. Compiled plans run outside async-graphql's executor, so
/// they have no DataLoader batches to join.
pub struct Direct<'a> {
    store: &'a Store,
    cache: &'a ReadCache,
    generation: u64,
}

impl<'a> Direct<'a> {
    pub fn new(store: &'a Store, cache: &'a ReadCache) -> Direct<'a> {
        Direct {
            store,
            cache,
            generation: store.current_generation(),
        }
    }

    /// Entities by id, in the order asked; `None` for each that is missing.
    /// The ids may be borrowed (`&[&Id]`): only those the cache misses are copied.
    pub fn entities<I: std::borrow::Borrow<Id>>(&self, ids: &[I]) -> Result<Vec<Option<Entity>>, StoreError> {
        let mut out: Vec<Option<Entity>> = ids
            .iter()
            .map(|id| self.cache.entities.get(self.generation, id.borrow()))
            .collect();
        let missing: Vec<Id> = ids
            .iter()
            .zip(&out)
            .filter(|(_, node)| node.is_none())
            .map(|(id, _)| id.borrow().clone())
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let loaded: HashMap<Id, Entity> = self
            .store
            .get_many(&missing)?
            .into_iter()
            .map(|(id, entity)| (id, Entity::from(entity)))
            .collect();
        for (slot, id) in out.iter_mut().zip(ids) {
            if slot.is_none() {
                *slot = loaded.get(id.borrow()).cloned();
            }
        }
        self.cache.entities.put_all(self.generation, loaded);
        Ok(out)
    }

    pub fn entity(&self, id: &Id) -> Result<Option<Entity>, StoreError> {
        if let Some(hit) = self.cache.entities.get(self.generation, id) {
            return Ok(Some(hit));
        }
        Ok(self.entities(std::slice::from_ref(id))?.pop().flatten())
    }

    /// Where a relation leads from one entity.
    pub fn link(&self, link: &Link) -> Result<Targets, StoreError> {
        if let Some(hit) = self.cache.links.get(self.generation, link) {
            return Ok(hit);
        }
        let mut found = self
            .store
            .related(link.relation, link.direction, std::slice::from_ref(&link.from))?;
        let targets = Arc::new(found.remove(&link.from).unwrap_or_default());
        self.cache
            .links
            .put_all(self.generation, [(link.clone(), targets.clone())]);
        Ok(targets)
    }

    /// What a relation leads to from one entity, loaded, in key order.
    pub fn nodes(&self, link: &Link) -> Result<Arc<Vec<Entity>>, StoreError> {
        if let Some(hit) = self.cache.lists.get(self.generation, link) {
            return Ok(hit);
        }
        let targets = self.link(link)?;
        let ids: Vec<&Id> = targets.iter().map(|(id, _)| id).collect();
        let nodes = Arc::new(self.entities(&ids)?.into_iter().flatten().collect::<Vec<_>>());
        self.cache
            .lists
            .put_all(self.generation, [(link.clone(), nodes.clone())]);
        Ok(nodes)
    }

    /// Up to `limit` events of the chronological listing next to a bound
    /// (see [`Store::page_period`]).
    pub fn event_page(
        &self,
        after: Option<&[u8]>,
        before: Option<&[u8]>,
        limit: usize,
        from_end: bool,
    ) -> Result<Arc<Vec<Keyed>>, StoreError> {
        let key = EventPage(after.map(<[u8]>::to_vec), before.map(<[u8]>::to_vec), limit, from_end);
        if let Some(hit) = self.cache.event_pages.get(self.generation, &key) {
            return Ok(hit);
        }
        let scan = PeriodScan {
            after,
            before,
            from_end,
            ..PeriodScan::default()
        };
        let page = Arc::new(self.store.page_period(EntityKind::Event, &scan, limit)?);
        self.cache.event_pages.put_all(self.generation, [(key, page.clone())]);
        Ok(page)
    }

    /// The events a relation leads to, in chronological order.
    pub fn sorted_events(&self, link: &Link) -> Result<SortedEvents, StoreError> {
        if let Some(hit) = self.cache.sorted.get(self.generation, link) {
            return Ok(hit);
        }
        let events = sort_events(&self.nodes(link)?);
        self.cache
            .sorted
            .put_all(self.generation, [(link.clone(), events.clone())]);
        Ok(events)
    }
}
