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

use super::weight::Weight;
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

impl Weight for Entity {
    fn heap(&self) -> usize {
        match self {
            Entity::Actor(x) => x.heap(),
            Entity::Event(x) => x.heap(),
            Entity::Treaty(x) => x.heap(),
            Entity::FundingAllocation(x) => x.heap(),
            Entity::Place(x) => x.heap(),
            Entity::Source(x) => x.heap(),
        }
    }
}

/// A relation followed from one entity in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    pub relation: Relation,
    pub direction: Direction,
    pub from: Id,
}

impl Weight for Link {
    fn heap(&self) -> usize {
        self.from.heap()
    }
}

/// The ids a relation leads to, with each edge's payload (a role, a date).
pub type Targets = Arc<Vec<(Id, Vec<u8>)>>;

/// A map valid for one store generation, bounded in bytes: each entry
/// counts its key's and value's [`Weight`] and its slot in the table.
struct Generational<K, V> {
    inner: RwLock<Held<K, V>>,
    max_bytes: usize,
}

/// What a [`Generational`] holds: its generation, its entries and their bytes.
struct Held<K, V> {
    generation: u64,
    map: FxHashMap<K, V>,
    bytes: usize,
}

impl<K, V> Held<K, V> {
    fn new(generation: u64) -> Self {
        Held {
            generation,
            map: FxHashMap::default(),
            bytes: 0,
        }
    }
}

/// What an entry costs in memory: what its key and value own, and its slot
/// (a hash table keeps at least one slot in eight free, and a control byte
/// per slot).
fn entry_bytes<K: Weight, V: Weight>(key: &K, value: &V) -> usize {
    slot_bytes::<K, V>() + key.heap() + value.heap()
}

/// An entry's slot in the table.
fn slot_bytes<K, V>() -> usize {
    (std::mem::size_of::<(K, V)>() + 1) * 8 / 7
}

impl<K: Eq + Hash + Clone + Weight, V: Clone + Weight> Generational<K, V> {
    fn new(max_bytes: usize) -> Self {
        Generational {
            inner: RwLock::new(Held::new(0)),
            max_bytes,
        }
    }

    fn get(&self, generation: u64, key: &K) -> Option<V> {
        let inner = self.inner.read().ok()?;
        if inner.generation != generation {
            return None;
        }
        inner.map.get(key).cloned()
    }

    fn put_all(&self, generation: u64, items: impl IntoIterator<Item = (K, V)>) {
        let Ok(mut inner) = self.inner.write() else { return };
        // Only move forward: a slow reader of an older generation must not
        // wipe what newer readers cached.
        if inner.generation > generation {
            return;
        }
        if inner.generation != generation {
            *inner = Held::new(generation);
        }
        for (k, v) in items {
            let bytes = entry_bytes(&k, &v);
            if bytes > self.max_bytes {
                // Larger than the whole cache: kept by its reader only.
                continue;
            }
            if inner.bytes + bytes > self.max_bytes {
                // Simple and bounded: start over rather than track recency.
                // The table's own block is let go too, so a cache that once
                // grew does not keep its slots.
                *inner = Held::new(generation);
            }
            // Equal keys own as much: the one kept counts as the one given.
            let key_bytes = k.heap();
            if let Some(old) = inner.map.insert(k, v) {
                // The key was there: its old value goes.
                inner.bytes -= slot_bytes::<K, V>() + key_bytes + old.heap();
            }
            inner.bytes += bytes;
        }
    }

    /// The bytes its entries hold, as counted against its bound.
    fn bytes(&self) -> usize {
        self.inner.read().map_or(0, |inner| inner.bytes)
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

impl Weight for EventPage {
    fn heap(&self) -> usize {
        self.0.heap() + self.1.heap()
    }
}

/// The bytes the read cache holds at most, all its maps together.
pub const READ_CACHE_BYTES: usize = 40 * 1024 * 1024;

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache::with_bytes(READ_CACHE_BYTES)
    }
}

impl ReadCache {
    /// A cache of at most `bytes`: three fifths of it for entities, a
    /// fifth for the relations followed, the rest for loaded lists and
    /// pages. The aggregations read their members past it
    /// ([`Direct::entities_passing`]): a year's 32,000 funding allocations
    /// at 10 million generated entities (about 17 MB) would fill the
    /// entities' share on every run.
    pub fn with_bytes(bytes: usize) -> ReadCache {
        ReadCache {
            entities: Generational::new(bytes / 5 * 3),
            links: Generational::new(bytes / 5),
            lists: Generational::new(bytes / 20),
            sorted: Generational::new(bytes / 10),
            event_pages: Generational::new(bytes / 20),
        }
    }

    /// The bytes its entries hold, all its maps together.
    pub fn bytes(&self) -> usize {
        self.entities.bytes() + self.links.bytes() + self.lists.bytes() + self.sorted.bytes() + self.event_pages.bytes()
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
        self.read_entities(ids, true)
    }

    /// As [`Direct::entities`], but what the cache misses is not kept: for
    /// an aggregation that reads tens of thousands of entities once, which
    /// would otherwise fill the cache's share (and so empty it of the
    /// entities answers keep asking for) and hold their memory after.
    pub fn entities_passing<I: std::borrow::Borrow<Id>>(&self, ids: &[I]) -> Result<Vec<Option<Entity>>, StoreError> {
        self.read_entities(ids, false)
    }

    fn read_entities<I: std::borrow::Borrow<Id>>(
        &self,
        ids: &[I],
        keep: bool,
    ) -> Result<Vec<Option<Entity>>, StoreError> {
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
        if keep {
            self.cache.entities.put_all(self.generation, loaded);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ActorKind;

    fn actor(n: usize, name_bytes: usize) -> (Id, Entity) {
        let id = Id::parse(&format!("actor/a{n}")).unwrap();
        let actor = model::Actor {
            id: id.clone(),
            name: "n".repeat(name_bytes),
            kind: ActorKind::State,
            aliases: vec![],
            summary: None,
            part_of: None,
            positions: vec![],
            sources: vec![],
            note: None,
        };
        (id, Entity::Actor(Arc::new(actor)))
    }

    #[test]
    fn a_passing_read_is_served_by_the_cache_and_keeps_nothing_in_it() {
        let store = Store::temporary().unwrap();
        let written: Vec<crate::store::Change> = (0..50)
            .map(|n| crate::store::Change::Put {
                entity: match actor(n, 10).1 {
                    Entity::Actor(a) => model::Entity::Actor((*a).clone()),
                    _ => unreachable!(),
                },
                origin: model::Origin::Api,
            })
            .collect();
        store.apply(&written, true).unwrap();
        let ids: Vec<Id> = (0..50).map(|n| actor(n, 0).0).collect();
        let cache = ReadCache::default();
        let direct = Direct::new(&store, &cache);
        let passed = direct.entities_passing(&ids).unwrap();
        assert!(passed.iter().all(Option::is_some));
        assert_eq!(cache.bytes(), 0, "a passing read kept what it read");
        // A kept read of a few, then a passing read of all: the few come
        // from the cache (the store's read count does not move for them),
        // and the cache holds the few only.
        direct.entities(&ids[..5]).unwrap();
        let few = cache.bytes();
        assert!(few > 0);
        let reads = store.reads();
        assert!(direct.entities_passing(&ids[..5]).unwrap().iter().all(Option::is_some));
        assert_eq!(store.reads(), reads, "the cached ones were read again");
        direct.entities_passing(&ids).unwrap();
        assert_eq!(cache.bytes(), few);
    }

    #[test]
    fn an_entity_weighs_its_record_and_what_the_record_owns() {
        let (id, small) = actor(1, 10);
        let (_, large) = actor(1, 10_000);
        assert!(small.weight() > std::mem::size_of::<model::Actor>());
        // The name's block is counted, rounded up to 16 bytes.
        assert_eq!(large.weight() - small.weight(), 10_000 - 16);
        assert!(entry_bytes(&id, &large) > 10_000);
    }

    #[test]
    fn the_cache_holds_no_more_bytes_than_its_bound_and_starts_over_past_it() {
        let bound = 64 * 1024;
        let cache: Generational<Id, Entity> = Generational::new(bound);
        let (first, _) = actor(0, 0);
        let mut largest = 0;
        for n in 0..1_000 {
            let (id, entity) = actor(n, 100);
            cache.put_all(1, [(id, entity)]);
            assert!(cache.bytes() <= bound, "{} bytes held, bound {bound}", cache.bytes());
            largest = largest.max(cache.bytes());
        }
        // It filled up to near its bound, then started over: the first
        // entries are gone, the last one is there.
        assert!(largest > bound / 2, "never held more than {largest} bytes");
        assert!(cache.get(1, &first).is_none());
        assert!(cache.get(1, &actor(999, 0).0).is_some());
        // What it counts is what its entries weigh.
        let held = cache.inner.read().unwrap();
        let counted: usize = held.map.iter().map(|(k, v)| entry_bytes(k, v)).sum();
        assert_eq!(held.bytes, counted);
    }

    #[test]
    fn an_entry_larger_than_the_bound_is_not_kept_and_does_not_clear_the_others() {
        let cache: Generational<Id, Entity> = Generational::new(8 * 1024);
        let (kept, entity) = actor(1, 10);
        cache.put_all(1, [(kept.clone(), entity)]);
        let (huge, entity) = actor(2, 100_000);
        cache.put_all(1, [(huge.clone(), entity)]);
        assert!(cache.get(1, &huge).is_none());
        assert!(cache.get(1, &kept).is_some());
    }

    #[test]
    fn an_entry_put_again_is_counted_once() {
        let cache: Generational<Id, Entity> = Generational::new(1024 * 1024);
        let (id, small) = actor(1, 10);
        let (_, large) = actor(1, 1_000);
        cache.put_all(1, [(id.clone(), small.clone())]);
        let once = cache.bytes();
        cache.put_all(1, [(id.clone(), small.clone())]);
        assert_eq!(cache.bytes(), once);
        cache.put_all(1, [(id.clone(), large.clone())]);
        assert_eq!(cache.bytes(), entry_bytes(&id, &large));
        // A new generation starts empty.
        cache.put_all(2, [(id.clone(), small.clone())]);
        assert_eq!(cache.bytes(), once);
    }
}
