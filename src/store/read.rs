//! Point reads: entities by id, relations followed either way, ordered
//! listings and their keys, entities of a sub-kind.

use std::collections::{BTreeMap, HashMap};

use super::index::decode;
use super::period::PeriodScan;
use super::trees::TreeRef;
use super::{keys, packed, Direction, Keyed, Neighbours, Store, StoreError};
use crate::model::{Entity, EntityKind, Id, Record, Relation};

impl Store {
    /// Every (relation, entity) that points at `id`.
    pub fn referrers(&self, id: &Id) -> Result<Vec<(Relation, Id)>, StoreError> {
        self.count_read();
        let mut out = Vec::new();
        for relation in Relation::ALL {
            if relation.target_kind() != id.kind() {
                continue;
            }
            let tree_ref = TreeRef::Backward(relation);
            for item in self.index_prefix(tree_ref, &keys::prefix(id.as_bytes()))? {
                let (key, _) = item?;
                out.push((relation, self.id_in(tree_ref, &key, keys::second(&key))?));
            }
        }
        Ok(out)
    }

    pub fn get_record(&self, id: &Id) -> Result<Option<Record>, StoreError> {
        self.count_read();
        self.get_uncounted(id)
    }

    pub(super) fn get_uncounted(&self, id: &Id) -> Result<Option<Record>, StoreError> {
        let tree = TreeRef::Entity(id.kind());
        match packed::get(&self.tree(tree)?, self.name(tree), id.as_bytes())? {
            Some(bytes) => Ok(Some(decode(self.name(tree), id.as_bytes(), &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every stored record of `kind`, in id order: the id's bytes and the
    /// record's (not decoded).
    pub(super) fn records(&self, kind: EntityKind) -> Result<packed::Range<'_>, StoreError> {
        self.index_prefix(TreeRef::Entity(kind), &[])
    }

    pub fn get(&self, id: &Id) -> Result<Option<Entity>, StoreError> {
        Ok(self.get_record(id)?.map(|r| r.entity))
    }

    /// Reads many entities at once (one counted read); missing ids are absent from the map.
    pub fn get_many(&self, ids: &[Id]) -> Result<HashMap<Id, Entity>, StoreError> {
        self.count_read();
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = self.get_uncounted(id)? {
                out.insert(id.clone(), record.entity);
            }
        }
        Ok(out)
    }

    /// Follows `relation` from each of `from` (one counted read): for each
    /// source id, the ids it links to with the edge payload, in id order.
    /// Forward links come from the holding entity itself; backward ones
    /// from the relation's index tree.
    pub fn related(&self, relation: Relation, direction: Direction, from: &[Id]) -> Result<Neighbours, StoreError> {
        self.count_read();
        let mut out = HashMap::with_capacity(from.len());
        if direction == Direction::Forward {
            for id in from {
                // Keyed by target like an index: one link per target, the last one winning.
                let mut links: BTreeMap<Vec<u8>, (Id, Vec<u8>)> = BTreeMap::new();
                if let Some(record) = self.get_uncounted(id)? {
                    for edge in record.entity.edges() {
                        if edge.relation == relation {
                            links.insert(edge.to.as_bytes().to_vec(), (edge.to, edge.payload));
                        }
                    }
                }
                out.insert(id.clone(), links.into_values().collect());
            }
            return Ok(out);
        }
        let tree_ref = TreeRef::Backward(relation);
        for id in from {
            let mut links = Vec::new();
            for item in self.index_prefix(tree_ref, &keys::prefix(id.as_bytes()))? {
                let (key, value) = item?;
                links.push((self.id_in(tree_ref, &key, keys::second(&key))?, value));
            }
            out.insert(id.clone(), links);
        }
        Ok(out)
    }

    /// The distinct entities holding `relation` to anything, in id order,
    /// at most `limit` (one counted read of the relation's whole index,
    /// which lists only the holders: `Query.positionHolders` without `of`).
    pub fn holders(&self, relation: Relation, limit: usize) -> Result<Vec<Id>, StoreError> {
        self.count_read();
        let tree_ref = TreeRef::Backward(relation);
        let mut out = std::collections::BTreeSet::new();
        for item in self.index_prefix(tree_ref, &[])? {
            let (key, _) = item?;
            out.insert(self.id_in(tree_ref, &key, keys::second(&key))?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out.into_iter().collect())
    }

    pub(super) fn id_in(&self, tree: TreeRef, key: &[u8], bytes: &[u8]) -> Result<Id, StoreError> {
        Id::from_key(bytes).map_err(|e| StoreError::Corrupt {
            tree: self.name(tree),
            key: String::from_utf8_lossy(key).into_owned(),
            reason: e.to_string(),
        })
    }

    /// A page of an ordered listing of every entity of `kind`: events in
    /// chronological order (undated last), everything else by id. Keys are
    /// opaque cursors. Reads only the range asked for.
    pub fn list(
        &self,
        kind: EntityKind,
        after: Option<&[u8]>,
        before: Option<&[u8]>,
        limit: usize,
        from_end: bool,
    ) -> Result<Vec<Keyed>, StoreError> {
        if kind == EntityKind::Event {
            let scan = PeriodScan {
                after,
                before,
                from_end,
                ..PeriodScan::default()
            };
            return self.page_period(kind, &scan, limit);
        }
        self.count_read();
        let tree_ref = TreeRef::Entity(kind);
        use std::ops::Bound::*;
        let lower = after.map_or(Unbounded, |a| Excluded(a.to_vec()));
        let upper = before.map_or(Unbounded, |b| Excluded(b.to_vec()));
        let range = packed::Range::new(&self.tree(tree_ref)?, self.name(tree_ref), lower, upper, from_end);
        let mut out = Vec::new();
        for item in range.take(limit) {
            let (key, _) = item?;
            let id = self.id_in(tree_ref, &key, &key)?;
            out.push((key, id));
        }
        if from_end {
            out.reverse();
        }
        Ok(out)
    }

    /// The listing key of an entity id (its cursor position), without decoding it.
    pub fn list_key(&self, id: &Id) -> Result<Option<Vec<u8>>, StoreError> {
        if id.kind() != EntityKind::Event {
            return Ok(Some(id.as_bytes().to_vec()));
        }
        let tree = TreeRef::EventSortKeys;
        let sort = packed::get(&self.tree(tree)?, self.name(tree), id.as_bytes())?;
        Ok(sort.map(|mut key| {
            key.extend_from_slice(id.as_bytes());
            key
        }))
    }

    /// Listing keys for many ids (one counted read); ids that do not exist are dropped.
    pub fn list_keys(&self, ids: &[Id]) -> Result<Vec<Keyed>, StoreError> {
        self.count_read();
        let (events, others): (Vec<&Id>, Vec<&Id>) = ids.iter().partition(|id| id.kind() == EntityKind::Event);
        let mut out: Vec<Keyed> = others
            .into_iter()
            .map(|id| (id.as_bytes().to_vec(), id.clone()))
            .collect();
        if !events.is_empty() {
            // Events in key order, so each block of sort keys is walked once.
            let mut events = events;
            events.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            let keys: Vec<&[u8]> = events.iter().map(|id| id.as_bytes()).collect();
            let tree = TreeRef::EventSortKeys;
            let sorts = packed::get_sorted(&self.tree(tree)?, self.name(tree), &keys)?;
            for (id, sort) in events.into_iter().zip(sorts) {
                if let Some(mut key) = sort {
                    key.extend_from_slice(id.as_bytes());
                    out.push((key, id.clone()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Ids of `kind` entities whose sub-kind is `subkind` (e.g. actors of kind `person`).
    pub fn ids_of_subkind(&self, kind: EntityKind, subkind: &str) -> Result<Vec<Id>, StoreError> {
        if kind == EntityKind::Event {
            // The event kind index is chronological: read it as a period scan.
            let scan = PeriodScan {
                subkind: Some(subkind),
                ..PeriodScan::default()
            };
            return Ok(self
                .page_period(kind, &scan, usize::MAX)?
                .into_iter()
                .map(|(_, id)| id)
                .collect());
        }
        self.count_read();
        let tree_ref = TreeRef::ByKind(kind, 0);
        let mut out = Vec::new();
        for item in self.index_prefix(tree_ref, &keys::prefix(subkind.as_bytes()))? {
            let (key, _) = item?;
            out.push(self.id_in(tree_ref, &key, keys::second(&key))?);
        }
        Ok(out)
    }
}
