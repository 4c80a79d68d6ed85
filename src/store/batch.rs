//! A write batch worked out before its transaction.
//!
//! Writes are staged under the store's pipeline lock, into the open group's
//! batch (see [`super::group`]). A group opened while none lands reads the
//! entities it replaces and the index blocks it edits from the trees
//! directly: nothing else writes them meanwhile. One opened while a group
//! lands goes on from that group's batch ([`Batch::continued`]), reading
//! what it leaves rather than the trees, which take it at some point
//! during the staging; once they have, [`Batch::prune`] drops what the
//! batch only repeated of it. A batch tracks what its own earlier changes
//! did (a batch may touch one entity twice, and a group's members each
//! extend it), and ends as a list of plain record writes for one
//! transaction.

use std::collections::{BTreeMap, HashMap};

use super::index::{encode, index_entries};
use super::packed::{self, Edits, Limits};
use super::stats::{held, Pending};
use super::{meta_count_key, read_u64, trees, Store, StoreError, TreeRef};
use super::{Change, ChangeKind, Changed, META_GENERATION, META_MAX_SPAN};
use crate::model::{Entity, EntityKind, Id, Record};

/// A record write: tree position, key, and the value or `None` to remove.
pub(super) type Write = (usize, Vec<u8>, Option<Vec<u8>>);

/// Most entities a cycle check visits from one edge (hierarchies are shallow).
const MAX_CYCLE_WALK: usize = 10_000;

pub(super) struct Batch {
    store: Store,
    /// Entities as the batch leaves them so far (`None`: deleted).
    entities: HashMap<Id, Option<Record>>,
    /// Block edits per tree position: entity records and index entries.
    edits: BTreeMap<usize, Edits<'static>>,
    counts: BTreeMap<EntityKind, u64>,
    max_span: Option<u64>,
    /// What the batch does to the list statistics (see [`super::stats`]).
    stats: Pending,
    /// While a savepoint is open: how to put the batch back as it was then.
    undo: Option<Box<Undo>>,
}

/// What a batch was at a savepoint ([`Batch::savepoint`]): the small parts
/// whole, and for the large ones (entities, index edits) only what was
/// replaced since, so that opening one does not copy the batch.
struct Undo {
    /// Entities as they were before their first change since (`None`: the
    /// batch had not touched them), oldest first.
    entities: Vec<(Id, Option<Option<Record>>)>,
    /// Trees whose edits began after the savepoint.
    new_edits: Vec<usize>,
    counts: BTreeMap<EntityKind, u64>,
    max_span: Option<u64>,
    stats: Pending,
}

impl Clone for Batch {
    /// A copy without the savepoint (a copy is a new batch of its own).
    fn clone(&self) -> Batch {
        Batch {
            store: self.store.clone(),
            entities: self.entities.clone(),
            edits: self.edits.clone(),
            counts: self.counts.clone(),
            max_span: self.max_span,
            stats: self.stats.clone(),
            undo: None,
        }
    }
}

impl Batch {
    pub(super) fn new(store: Store) -> Batch {
        Batch {
            store,
            entities: HashMap::new(),
            edits: BTreeMap::new(),
            counts: BTreeMap::new(),
            max_span: None,
            stats: Pending::default(),
            undo: None,
        }
    }

    /// Starts noting what the batch changes, so that [`Batch::rollback`]
    /// can put it back as it is now: what a group does before each member
    /// stages, so a member that fails leaves it as it was. Costs what the
    /// member changes, not a copy of the batch (a group's batch holds
    /// every member's entities and index blocks).
    pub(super) fn savepoint(&mut self) {
        for edits in self.edits.values_mut() {
            edits.savepoint();
        }
        self.undo = Some(Box::new(Undo {
            entities: Vec::new(),
            new_edits: Vec::new(),
            counts: self.counts.clone(),
            max_span: self.max_span,
            stats: self.stats.clone(),
        }));
    }

    /// Keeps what was changed since the savepoint, and stops noting changes.
    pub(super) fn release(&mut self) {
        self.undo = None;
        for edits in self.edits.values_mut() {
            edits.release();
        }
    }

    /// Puts the batch back as it was at the savepoint, however far a change
    /// since got (a stage may fail or panic half-way), and stops noting
    /// changes. Without a savepoint, does nothing.
    pub(super) fn rollback(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        let Undo {
            entities,
            new_edits,
            counts,
            max_span,
            stats,
        } = *undo;
        for (id, before) in entities.into_iter().rev() {
            match before {
                Some(state) => self.entities.insert(id, state),
                None => self.entities.remove(&id),
            };
        }
        for position in new_edits {
            self.edits.remove(&position);
        }
        for edits in self.edits.values_mut() {
            edits.rollback();
        }
        self.counts = counts;
        self.max_span = max_span;
        self.stats = stats;
    }

    /// A batch that goes on from this one, for writes staged while this
    /// one lands: it reads everything this one leaves (and nothing of the
    /// trees this one changes), so its view is the same before and after
    /// this one is in sled. It writes this one's changes again until
    /// [`Batch::prune`] drops them.
    pub(super) fn continued(&self) -> Batch {
        // Each tree's edits are copied once, by `Edits::continued` (not
        // cloned with the batch first and then copied again).
        Batch {
            store: self.store.clone(),
            entities: self.entities.clone(),
            edits: self
                .edits
                .iter()
                .map(|(position, edits)| (*position, edits.continued()))
                .collect(),
            counts: self.counts.clone(),
            max_span: self.max_span,
            stats: self.stats.clone(),
            undo: None,
        }
    }

    /// Once `landed` (the batch this one went on from) is in sled: drops
    /// whatever this batch leaves as `landed` wrote it, so that it holds
    /// (and writes) only what it changes in sled as sled now is.
    pub(super) fn prune(&mut self, landed: &Batch) {
        self.entities
            .retain(|id, state| landed.entities.get(id) != Some(&*state));
        for (position, landed) in &landed.edits {
            if let Some(edits) = self.edits.get_mut(position) {
                edits.prune(landed);
                if edits.is_empty() {
                    self.edits.remove(position);
                }
            }
        }
        self.counts.retain(|kind, n| landed.counts.get(kind) != Some(&*n));
        if self.max_span == landed.max_span {
            self.max_span = None;
        }
        self.stats.prune(&landed.stats);
    }

    /// An entity as the batch leaves it so far (read from the store when
    /// the batch has not touched it).
    pub(super) fn current(&self, id: &Id) -> Result<Option<Record>, StoreError> {
        match self.entities.get(id) {
            Some(state) => Ok(state.clone()),
            None => self.store.get_uncounted(id),
        }
    }

    fn count(&mut self, kind: EntityKind) -> Result<&mut u64, StoreError> {
        if !self.counts.contains_key(&kind) {
            let n = read_u64(self.store.meta_get(&meta_count_key(kind))?);
            self.counts.insert(kind, n);
        }
        Ok(self.counts.entry(kind).or_default())
    }

    fn edits(&mut self, tree: TreeRef) -> Result<&mut Edits<'static>, StoreError> {
        let store = &self.store;
        let position = store.position(tree);
        Ok(match self.edits.entry(position) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                // Begun since the savepoint: a rollback drops them whole.
                if let Some(undo) = self.undo.as_mut() {
                    undo.new_edits.push(position);
                }
                e.insert(Edits::new(&store.tree(tree)?, store.name(tree), Limits::of(tree)))
            }
        })
    }

    /// Applies one change to the batch's view, as the transaction will.
    pub(super) fn apply(&mut self, change: &Change) -> Result<Changed, StoreError> {
        let (id, new) = match change {
            Change::Put { entity, origin } | Change::Create { entity, origin } => (
                entity.id(),
                Some(Record {
                    origin: *origin,
                    entity: entity.clone(),
                }),
            ),
            Change::Delete(id) => (id, None),
        };
        let old = self.current(id)?;
        match (change, &old) {
            (Change::Create { .. }, Some(_)) => return Err(StoreError::AlreadyExists { id: id.to_string() }),
            (Change::Delete(_), None) => return Err(StoreError::NotFound { id: id.to_string() }),
            _ => {}
        }
        // Index entries: remove what only the old state implies, write what
        // the new one changes; entries both share stay untouched (so a
        // rewrite does not repair an index that lost one: `Store::verify`
        // is what finds such drift).
        let mut stale: HashMap<(TreeRef, Vec<u8>), Vec<u8>> = HashMap::new();
        if let Some(old) = &old {
            for (tree, key, value) in index_entries(&old.entity) {
                stale.insert((tree, key), value);
            }
        }
        if let Some(new) = &new {
            for (tree, key, value) in index_entries(&new.entity) {
                if stale.remove(&(tree, key.clone())).as_ref() != Some(&value) {
                    if let TreeRef::Backward(relation) = tree {
                        self.stats.inserted(&self.store, relation, &key)?;
                    }
                    self.edits(tree)?.insert(key, value)?;
                }
            }
            for (fan, n) in held(&new.entity) {
                self.stats.raise(&self.store, fan, n)?;
            }
            if let Some(date) = new.entity.date() {
                let span = (date.last_day() - date.first_day()) as u64;
                let current = match self.max_span {
                    Some(s) => s,
                    None => read_u64(self.store.meta_get(META_MAX_SPAN)?),
                };
                self.max_span = Some(current.max(span));
            }
        }
        for (tree, key) in stale.into_keys() {
            self.edits(tree)?.remove(&key)?;
        }
        let kind = id.kind();
        match &new {
            Some(record) => self
                .edits(TreeRef::Entity(kind))?
                .insert(id.as_bytes().to_vec(), encode(record))?,
            None => self.edits(TreeRef::Entity(kind))?.remove(id.as_bytes())?,
        }
        let old_sub = old.as_ref().and_then(|r| r.entity.subkind());
        let new_sub = new.as_ref().and_then(|r| r.entity.subkind());
        if old_sub != new_sub {
            if let Some(sub) = old_sub {
                self.stats.count(&self.store, kind, sub, false)?;
            }
            if let Some(sub) = new_sub {
                self.stats.count(&self.store, kind, sub, true)?;
            }
        }
        match (&old, &new) {
            (None, Some(_)) => *self.count(kind)? += 1,
            (Some(_), None) => {
                let n = self.count(kind)?;
                *n = n.saturating_sub(1);
            }
            _ => {}
        }
        let changed = Changed {
            id: id.clone(),
            kind: match (&old, &new) {
                (_, None) => ChangeKind::Deleted,
                (Some(_), Some(_)) => ChangeKind::Updated,
                (None, Some(_)) => ChangeKind::Created,
            },
            entity: new.as_ref().map(|r| r.entity.clone()),
        };
        let before = self.entities.insert(id.clone(), new);
        if let Some(undo) = self.undo.as_mut() {
            undo.entities.push((id.clone(), before));
        }
        Ok(changed)
    }

    /// Every relation of `entity` must point at an entity of the right kind
    /// that exists once the batch is applied.
    pub(super) fn check_references(&self, entity: &Entity) -> Result<(), StoreError> {
        for edge in entity.edges() {
            let exists = edge.to.kind() == edge.relation.target_kind()
                && match self.entities.get(&edge.to) {
                    Some(state) => state.is_some(),
                    None => {
                        let tree = TreeRef::Entity(edge.to.kind());
                        let store = &self.store;
                        packed::get(&store.tree(tree)?, store.name(tree), edge.to.as_bytes())?.is_some()
                    }
                };
            if !exists {
                return Err(StoreError::MissingReference {
                    id: entity.id().to_string(),
                    field: edge.relation.field(),
                    target: edge.to.to_string(),
                });
            }
        }
        Ok(())
    }

    /// No relation that must not loop (see [`Relation::is_acyclic`]) leads
    /// from `entity` back to itself, directly or through the entities the
    /// batch leaves behind.
    pub(super) fn check_acyclic(&self, entity: &Entity) -> Result<(), StoreError> {
        let start = entity.id();
        for edge in entity.edges() {
            if !edge.relation.is_acyclic() {
                continue;
            }
            // Depth-first along the same relation, remembering the way.
            let mut stack = vec![(edge.to.clone(), vec![start.clone(), edge.to.clone()])];
            let mut seen = std::collections::HashSet::new();
            while let Some((at, path)) = stack.pop() {
                if &at == start {
                    let shown: Vec<String> = path.iter().map(Id::to_string).collect();
                    return Err(StoreError::Cycle {
                        id: start.to_string(),
                        field: edge.relation.field(),
                        path: shown.join(" → "),
                    });
                }
                if !seen.insert(at.clone()) || seen.len() > MAX_CYCLE_WALK {
                    continue;
                }
                if let Some(record) = self.current(&at)? {
                    for next in record
                        .entity
                        .edges()
                        .into_iter()
                        .filter(|e| e.relation == edge.relation)
                    {
                        let mut way = path.clone();
                        way.push(next.to.clone());
                        stack.push((next.to, way));
                    }
                }
            }
        }
        Ok(())
    }

    /// The record writes of the whole batch, with the new generation.
    pub(super) fn writes(&self, generation: u64) -> Vec<Write> {
        let store = &self.store;
        let meta = store.position(TreeRef::Meta);
        let mut out: Vec<Write> = Vec::new();
        // Entity records and index entries alike go in as packed blocks.
        for (position, edits) in &self.edits {
            debug_assert_ne!(store.inner.names[*position], trees::META);
            for (key, block) in edits.writes() {
                out.push((*position, key, block));
            }
        }
        for (kind, n) in &self.counts {
            out.push((meta, meta_count_key(*kind), Some(n.to_be_bytes().to_vec())));
        }
        if let Some(span) = self.max_span {
            out.push((meta, META_MAX_SPAN.to_vec(), Some(span.to_be_bytes().to_vec())));
        }
        for (key, n) in self.stats.writes() {
            out.push((meta, key.to_vec(), Some(n.to_be_bytes().to_vec())));
        }
        out.push((meta, META_GENERATION.to_vec(), Some(generation.to_be_bytes().to_vec())));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{actor, create};
    use crate::store::Change;

    fn sorted(mut writes: Vec<Write>) -> Vec<Write> {
        writes.sort();
        writes
    }

    #[test]
    fn a_rollback_puts_the_batch_back_as_it_was_at_the_savepoint_and_a_release_keeps_the_changes() {
        let store = Store::temporary().unwrap();
        store
            .apply(&(0..40).map(|n| create(actor(n))).collect::<Vec<_>>(), true)
            .unwrap();
        let mut batch = Batch::new(store.clone());
        for n in 40..60 {
            batch.apply(&create(actor(n))).unwrap();
        }
        let before = sorted(batch.writes(7));
        batch.savepoint();
        // A member that adds enough to split index blocks, rewrites an
        // entity an earlier member staged, deletes a stored one, and
        // writes trees the batch had not touched yet; then fails.
        for n in 60..200 {
            batch.apply(&create(actor(n))).unwrap();
        }
        let Entity::Actor(mut renamed) = actor(45) else {
            unreachable!()
        };
        renamed.name = "Renamed while staged".into();
        batch
            .apply(&Change::Put {
                entity: Entity::Actor(renamed),
                origin: crate::model::Origin::Api,
            })
            .unwrap();
        batch.apply(&Change::Delete(Id::parse("actor/a3").unwrap())).unwrap();
        let Entity::Actor(mut placed) = actor(500) else {
            unreachable!()
        };
        placed.part_of = Some(Id::parse("actor/a1").unwrap());
        placed.aliases = vec!["Another name".into()];
        batch.apply(&create(Entity::Actor(placed))).unwrap();
        assert!(
            batch.apply(&create(actor(1))).is_err(),
            "a change that fails half-way through the member"
        );
        let during = sorted(batch.writes(7));
        assert_ne!(during, before);
        assert!(
            batch.current(&Id::parse("actor/a150").unwrap()).unwrap().is_some(),
            "staged until the rollback"
        );
        batch.rollback();
        assert_eq!(sorted(batch.writes(7)), before, "the batch as it was at the savepoint");
        assert!(batch.current(&Id::parse("actor/a3").unwrap()).unwrap().is_some());
        assert!(batch.current(&Id::parse("actor/a150").unwrap()).unwrap().is_none());

        // Released: the member's changes stay, and a rollback after it
        // (no savepoint) changes nothing.
        batch.savepoint();
        batch.apply(&create(actor(300))).unwrap();
        batch.release();
        let kept = sorted(batch.writes(7));
        batch.rollback();
        assert_eq!(sorted(batch.writes(7)), kept);
        assert!(batch.current(&Id::parse("actor/a300").unwrap()).unwrap().is_some());

        // What the batch writes, as rolled back and released, is what a
        // batch that only ever staged those changes writes.
        let mut plain = Batch::new(store.clone());
        for n in (40..60).chain([300]) {
            plain.apply(&create(actor(n))).unwrap();
        }
        assert_eq!(sorted(plain.writes(7)), kept);
    }
}
