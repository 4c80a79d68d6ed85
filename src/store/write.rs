//! Writes: a batch worked out under the write lock, written in one
//! transaction and flushed, then announced; edits and deletes that read
//! before they write, under the same lock.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::batch::Batch;
use super::error::sled_err;
use super::trees::{self, TreeRef};
use super::{meta_count_key, read_u64, Change, Committed, Store, StoreError, META_GENERATION, META_MAX_SPAN};
use crate::model::{Entity, EntityKind, Id, Origin};

impl Store {
    /// Removes every entity and index entry, keeping the format version.
    /// Not atomic: callers mark the seed state `Loading` first, so a crash
    /// part-way is detected on the next start.
    pub fn clear(&self) -> Result<(), StoreError> {
        for (i, tree) in self.live()?.trees.iter().enumerate() {
            if self.inner.names[i] == trees::META {
                continue;
            }
            tree.clear()
                .map_err(sled_err(format!("clearing tree `{}`", self.inner.names[i])))?;
        }
        let meta = self.tree(TreeRef::Meta)?;
        for kind in EntityKind::ALL {
            meta.remove(meta_count_key(kind))
                .map_err(sled_err("resetting counts"))?;
        }
        meta.remove(META_MAX_SPAN)
            .map_err(sled_err("resetting the date span"))?;
        self.flush()
    }

    /// Applies `changes` in one transaction: entities, their index entries,
    /// counts and the generation counter change together or not at all. With
    /// `check_references`, every relation must point at an entity that exists
    /// once the batch is applied. Flushes before returning. Not announced to
    /// subscribers (seed loads use it); API writes go through [`Store::commit`].
    pub fn apply(&self, changes: &[Change], check_references: bool) -> Result<u64, StoreError> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.apply_locked(changes, check_references)?.generation)
    }

    /// Applies `changes` like [`Store::apply`] with references checked, then
    /// announces the commit to subscribers, after the flush and in commit order.
    pub fn commit(&self, changes: &[Change]) -> Result<Arc<Committed>, StoreError> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.commit_locked(changes)
    }

    fn commit_locked(&self, changes: &[Change]) -> Result<Arc<Committed>, StoreError> {
        let committed = Arc::new(self.apply_locked(changes, true)?);
        // No subscribers is not an error.
        let _ = self.inner.announce.send(committed.clone());
        Ok(committed)
    }

    /// Commits announced from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Committed>> {
        self.inner.announce.subscribe()
    }

    /// Works out every record a batch writes, under the write lock and
    /// outside any transaction (packed index blocks are read here; see
    /// [`packed`]), then writes them all in one transaction.
    fn apply_locked(&self, changes: &[Change], check_references: bool) -> Result<Committed, StoreError> {
        // First, so a database left closed by a fault is reopened before
        // the batch reads it.
        self.ensure_writable()?;
        let mut batch = Batch::new(self);
        let mut done = Vec::with_capacity(changes.len());
        for change in changes {
            done.push(batch.apply(change)?);
        }
        if check_references {
            for change in changes {
                if let Change::Put { entity, .. } | Change::Create { entity, .. } = change {
                    batch.check_references(entity)?;
                    batch.check_acyclic(entity)?;
                }
            }
        }
        let generation = read_u64(self.meta_get(META_GENERATION)?) + 1;
        let writes = batch.into_writes(generation);
        let live = self.live()?;
        let result = live.trees.as_slice().transaction(|tx| {
            for (position, key, value) in &writes {
                match value {
                    Some(value) => tx[*position].insert(key.as_slice(), value.as_slice())?,
                    None => tx[*position].remove(key.as_slice())?,
                };
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        });
        let written = match result {
            Ok(()) => live.db.flush().map(|_| ()),
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => Err(e),
        };
        drop(live);
        if let Err(e) = written {
            return Err(self.disk_fault("committing a write", e));
        }
        // Caches key on this: it moves only now that the write is on disk.
        self.bump_generation(generation);
        self.record_acknowledged(generation);
        if self.fault().is_some() {
            tracing::info!(path = %self.inner.path.display(), "the disk takes writes again");
            self.set_fault(None);
        }
        self.inner.writes.fetch_add(1, Ordering::Relaxed);
        Ok(Committed {
            generation,
            changes: done,
        })
    }

    /// Moves the cache generation past `at_least` (and past where it was).
    pub(super) fn bump_generation(&self, at_least: u64) {
        let _ = self
            .inner
            .generation
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |g| Some((g + 1).max(at_least)));
    }

    /// Reads `id`, lets `edit` change it, and commits the result as
    /// API-owned, all under the write lock: concurrent edits of one entity
    /// apply one after the other, none lost, and an entity deleted meanwhile
    /// is not brought back. `edit` runs once, outside any transaction.
    pub fn modify<E: From<StoreError>>(
        &self,
        id: &Id,
        edit: impl FnOnce(Entity) -> Result<Entity, E>,
    ) -> Result<(Arc<Committed>, Entity), E> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self
            .get_uncounted(id)?
            .ok_or_else(|| StoreError::NotFound { id: id.to_string() })?;
        let entity = edit(current.entity)?;
        if entity.id() != id {
            return Err(StoreError::Corrupt {
                tree: "api",
                key: id.to_string(),
                reason: "an edit changed the id".into(),
            }
            .into());
        }
        let committed = self.commit_locked(&[Change::Put {
            entity: entity.clone(),
            origin: Origin::Api,
        }])?;
        Ok((committed, entity))
    }

    /// Creates an entity under the first id of `candidates` that is free,
    /// chosen under the write lock, so concurrent creates of the same name
    /// each get their own id and all succeed. `build` makes the entity for
    /// the chosen id (it runs once, under the lock). Announced like [`Store::commit`].
    pub fn create_fresh<E: From<StoreError>>(
        &self,
        candidates: impl IntoIterator<Item = Id>,
        build: impl FnOnce(Id) -> Result<Entity, E>,
    ) -> Result<(Arc<Committed>, Entity), E> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut free = None;
        for id in candidates {
            if self.get_uncounted(&id)?.is_none() {
                free = Some(id);
                break;
            }
        }
        let id = free.ok_or_else(|| StoreError::AlreadyExists {
            id: "every candidate id".into(),
        })?;
        let entity = build(id)?;
        let committed = self.commit_locked(&[Change::Create {
            entity: entity.clone(),
            origin: Origin::Api,
        }])?;
        Ok((committed, entity))
    }

    /// Deletes `id`. If other entities refer to it, the delete is refused
    /// unless `cascade`, which removes every such reference in the same
    /// transaction (and deletes what cannot exist without it, such as a
    /// funding allocation whose donor goes). Announced like [`Store::commit`].
    pub fn delete(&self, id: &Id, cascade: bool) -> Result<Arc<Committed>, StoreError> {
        let _guard = self.inner.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.get_uncounted(id)?.is_none() {
            return Err(StoreError::NotFound { id: id.to_string() });
        }
        let mut referrers: Vec<Id> = self
            .referrers(id)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r != id)
            .collect();
        referrers.sort();
        referrers.dedup();
        if !referrers.is_empty() && !cascade {
            let shown: Vec<String> = referrers.iter().take(10).map(Id::to_string).collect();
            let more = referrers.len().saturating_sub(10);
            return Err(StoreError::Referenced {
                id: id.to_string(),
                referrers: if more > 0 {
                    format!("{} and {more} more", shown.join(", "))
                } else {
                    shown.join(", ")
                },
            });
        }
        let mut changes = Vec::with_capacity(referrers.len() + 1);
        for referrer in &referrers {
            let Some(record) = self.get_uncounted(referrer)? else {
                continue;
            };
            match record.entity.without_reference(id) {
                Some(entity) => changes.push(Change::Put {
                    entity,
                    origin: record.origin,
                }),
                None => changes.push(Change::Delete(referrer.clone())),
            }
        }
        changes.push(Change::Delete(id.clone()));
        self.commit_locked(&changes)
    }
}
