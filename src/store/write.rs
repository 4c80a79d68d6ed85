//! Writes: changes staged into a group's batch under the pipeline lock
//! (see [`super::group`]), durable before they are visible, then announced;
//! edits and creates that read before they write, through the same batch.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::batch::Batch;
use super::error::sled_err;
use super::group::Join;
use super::trees::{self, TreeRef};
use super::{meta_count_key, Change, Changed, Committed, Store, StoreError, META_MAX_SPAN};
use crate::model::{Entity, EntityKind, Id, Origin};

impl Store {
    /// Removes every entity and index entry, keeping the format version.
    /// Not atomic: callers mark the seed state `Loading` first, so a crash
    /// part-way is detected on the next start. Runs under the pipeline lock
    /// once no group is open or landing, like a bulk load: a group landing
    /// between two trees' clears, or staged from index blocks read before
    /// them, would leave entities without their index entries (or entries
    /// without their entities, and counts off).
    pub fn clear(&self) -> Result<(), StoreError> {
        let _pipeline = self.idle_pipeline();
        self.clear_idle()
    }

    /// [`Store::clear`] for a caller that already holds the pipeline idle
    /// (a bulk load discarding itself) or has the store to itself (opening it).
    pub(super) fn clear_idle(&self) -> Result<(), StoreError> {
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
        self.clear_stats()?;
        self.flush()?;
        // Caches must not serve what was cleared.
        self.bump_generation(0);
        Ok(())
    }

    /// Applies `changes` in one transaction: entities, their index entries,
    /// counts and the generation counter change together or not at all. With
    /// `check_references`, every relation must point at an entity that exists
    /// once the batch is applied. Durable (logged and synced) before it is
    /// visible, and visible before it returns. Not announced to subscribers
    /// (seed loads use it); API writes go through [`Store::commit`].
    pub fn apply(&self, changes: &[Change], check_references: bool) -> Result<u64, StoreError> {
        let (committed, ()) = self.write_in_group(Join::Shared, false, |batch| {
            Ok::<_, StoreError>((stage_changes(batch, changes, check_references)?, ()))
        })?;
        Ok(committed.generation)
    }

    /// Applies `changes` like [`Store::apply`] with references checked, then
    /// announces the commit to subscribers, once it is durable and in commit order.
    pub fn commit(&self, changes: &[Change]) -> Result<Arc<Committed>, StoreError> {
        let (committed, ()) = self.write_in_group(Join::Shared, true, |batch| {
            Ok::<_, StoreError>((stage_changes(batch, changes, true)?, ()))
        })?;
        Ok(committed)
    }

    /// [`Store::commit`] for a task: it awaits the commit's landing rather
    /// than blocking a thread on it (see [`Store::write_in_group_async`]).
    pub async fn commit_async(&self, changes: Vec<Change>) -> Result<Arc<Committed>, StoreError> {
        let (committed, ()) = self
            .write_in_group_async(true, move |batch| {
                Ok::<_, StoreError>((stage_changes(batch, &changes, true)?, ()))
            })
            .await?;
        Ok(committed)
    }

    /// Commits announced from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Committed>> {
        self.inner.announce.subscribe()
    }

    /// Moves the cache generation past `at_least` (and past where it was).
    pub(super) fn bump_generation(&self, at_least: u64) {
        let _ = self
            .inner
            .generation
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |g| Some((g + 1).max(at_least)));
    }

    /// Reads `id`, lets `edit` change it, and commits the result as
    /// API-owned, all under the pipeline lock (reading through the writes
    /// staged before it): concurrent edits of one entity apply one after
    /// the other, none lost, and an entity deleted meanwhile is not brought
    /// back. `edit` runs once, outside any transaction.
    pub fn modify<E: From<StoreError>>(
        &self,
        id: &Id,
        edit: impl FnOnce(Entity) -> Result<Entity, E>,
    ) -> Result<(Arc<Committed>, Entity), E> {
        self.write_in_group(Join::Shared, true, |batch| stage_edit(batch, id, edit))
    }

    /// [`Store::modify`] for a task (see [`Store::commit_async`]).
    pub async fn modify_async<E, F>(&self, id: Id, edit: F) -> Result<(Arc<Committed>, Entity), E>
    where
        E: From<StoreError> + Send + 'static,
        F: FnOnce(Entity) -> Result<Entity, E> + Send + 'static,
    {
        self.write_in_group_async(true, move |batch| stage_edit(batch, &id, edit))
            .await
    }

    /// [`Store::create_fresh`] for a task (see [`Store::commit_async`]).
    pub async fn create_fresh_async<E, F>(&self, candidates: Vec<Id>, build: F) -> Result<(Arc<Committed>, Entity), E>
    where
        E: From<StoreError> + Send + 'static,
        F: FnOnce(Id) -> Result<Entity, E> + Send + 'static,
    {
        self.write_in_group_async(true, move |batch| stage_fresh(batch, candidates, build))
            .await
    }

    /// Creates an entity under the first id of `candidates` that is free,
    /// chosen under the pipeline lock, so concurrent creates of the same name
    /// each get their own id and all succeed. `build` makes the entity for
    /// the chosen id (it runs once, under the lock). Announced like [`Store::commit`].
    pub fn create_fresh<E: From<StoreError>>(
        &self,
        candidates: impl IntoIterator<Item = Id>,
        build: impl FnOnce(Id) -> Result<Entity, E>,
    ) -> Result<(Arc<Committed>, Entity), E> {
        self.write_in_group(Join::Shared, true, |batch| stage_fresh(batch, candidates, build))
    }

    /// Deletes `id`. If other entities refer to it, the delete is refused
    /// unless `cascade`, which removes every such reference in the same
    /// transaction (and deletes what cannot exist without it, such as a
    /// funding allocation whose donor goes). Announced like [`Store::commit`].
    /// It reads the relation indexes, which a group's batch does not track,
    /// so it lands in a group of its own.
    pub fn delete(&self, id: &Id, cascade: bool) -> Result<Arc<Committed>, StoreError> {
        let (committed, ()) = self.write_in_group(Join::Alone, true, |batch| {
            Ok::<_, StoreError>((stage_changes(batch, &self.delete_changes(id, cascade)?, true)?, ()))
        })?;
        Ok(committed)
    }

    /// The changes that delete `id` (and, with `cascade`, its references).
    fn delete_changes(&self, id: &Id, cascade: bool) -> Result<Vec<Change>, StoreError> {
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
        Ok(changes)
    }
}

/// Stages `changes` into a group's batch (see [`Batch::apply`]); with
/// `check_references`, checks every relation they write against the
/// batch's view once all of them are staged.
fn stage_changes(batch: &mut Batch, changes: &[Change], check_references: bool) -> Result<Vec<Changed>, StoreError> {
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
    Ok(done)
}

/// What [`Store::modify`] stages: `edit` applied to the current state of `id`.
fn stage_edit<E: From<StoreError>>(
    batch: &mut Batch,
    id: &Id,
    edit: impl FnOnce(Entity) -> Result<Entity, E>,
) -> Result<(Vec<Changed>, Entity), E> {
    let current = batch
        .current(id)?
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
    let put = Change::Put {
        entity: entity.clone(),
        origin: Origin::Api,
    };
    Ok((stage_changes(batch, &[put], true)?, entity))
}

/// What [`Store::create_fresh`] stages: the entity `build` makes for the
/// first free id of `candidates`.
fn stage_fresh<E: From<StoreError>>(
    batch: &mut Batch,
    candidates: impl IntoIterator<Item = Id>,
    build: impl FnOnce(Id) -> Result<Entity, E>,
) -> Result<(Vec<Changed>, Entity), E> {
    let mut free = None;
    for id in candidates {
        if batch.current(&id)?.is_none() {
            free = Some(id);
            break;
        }
    }
    let id = free.ok_or_else(|| StoreError::AlreadyExists {
        id: "every candidate id".into(),
    })?;
    let entity = build(id)?;
    let create = Change::Create {
        entity: entity.clone(),
        origin: Origin::Api,
    };
    Ok((stage_changes(batch, &[create], true)?, entity))
}
