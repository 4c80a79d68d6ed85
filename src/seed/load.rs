//! Loading a seed: validate everything, then write (replacing, merging
//! into an earlier seed, or resuming an interrupted load).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::check::check_entity;
use crate::model::{Entity, EntityKind, Id, Origin, Relation};
use crate::store::{Change, SeedState, Store, StoreError};

use super::files::{report_files, seed_files, stream};
use super::first_load::{load_fresh, spill};
use super::{LoadOutcome, LoadProgress, Problem, SeedError, SeedReport, BATCH_SIZE, MAX_PROBLEMS};

/// Validates the seed in `dir` without writing anything.
pub fn check(dir: &Path) -> Result<SeedReport, SeedError> {
    check_with_ids(dir).map(|(report, _)| report)
}

/// Validates the seed and returns the set of ids it defines.
/// A node on a cycle of `edges` (each node's targets along one relation),
/// if there is one. Depth-first, iterative: a deep chain cannot overflow the stack.
/// Starts are taken in order, so the node reported is always the same.
pub(super) fn node_on_cycle<K: std::hash::Hash + Ord + Clone>(edges: &HashMap<K, Vec<K>>) -> Option<K> {
    // 1: being walked (on the current path); 2: done, no cycle through it.
    let mut state: HashMap<&K, u8> = HashMap::new();
    let mut starts: Vec<&K> = edges.keys().collect();
    starts.sort();
    for start in starts {
        if state.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&K, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, next)) = stack.pop() {
            let targets = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            if let Some(target) = targets.get(next) {
                stack.push((node, next + 1));
                match state.get(target) {
                    Some(1) => return Some(target.clone()),
                    Some(_) => {}
                    None => {
                        state.insert(target, 1);
                        stack.push((target, 0));
                    }
                }
            } else {
                state.insert(node, 2);
            }
        }
    }
    None
}

fn check_with_ids(dir: &Path) -> Result<(SeedReport, HashSet<Id>), SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    let mut hasher = Sha256::new();
    let mut ids: HashSet<Id> = HashSet::new();
    let mut counts: BTreeMap<EntityKind, usize> = BTreeMap::new();

    // Pass one: each entity on its own, and the set of ids.
    stream(
        &files,
        &mut problems,
        Some(&mut hasher),
        &mut |file, entity, problems| {
            let id = entity.id().clone();
            let push = |problems: &mut Vec<Problem>, field: &str, message: String| {
                problems.push(Problem {
                    file: file.path.clone(),
                    id: Some(id.to_string()),
                    field: Some(field.into()),
                    message,
                })
            };
            if id.kind() != file.kind {
                push(
                    problems,
                    "id",
                    format!("is a {} id, but this file holds {}", id.kind(), file.kind.plural()),
                );
            }
            for (field, message) in check_entity(&entity) {
                push(problems, &field, message);
            }
            if !ids.insert(id.clone()) {
                push(
                    problems,
                    "id",
                    "duplicate id: another entity in the seed already has it".into(),
                );
            }
            *counts.entry(file.kind).or_default() += 1;
        },
    );
    if files.is_empty() && problems.is_empty() {
        problems.push(Problem {
            file: dir.to_owned(),
            id: None,
            field: None,
            message: "no seed files (*.json) found".into(),
        });
    }

    // Pass two: every reference resolves to an entity of the right kind,
    // and no relation that must not loop does (gathered here, checked after).
    let mut acyclic: BTreeMap<Relation, HashMap<Id, Vec<Id>>> = BTreeMap::new();
    let mut file_of: HashMap<Id, PathBuf> = HashMap::new();
    if problems.is_empty() {
        stream(&files, &mut problems, None, &mut |file, entity, problems| {
            for edge in entity.edges() {
                if edge.relation.is_acyclic() {
                    acyclic
                        .entry(edge.relation)
                        .or_default()
                        .entry(entity.id().clone())
                        .or_default()
                        .push(edge.to.clone());
                    file_of.insert(entity.id().clone(), file.path.clone());
                }
                let expected = edge.relation.target_kind();
                let message = if edge.to.kind() != expected {
                    format!(
                        "`{}` is a {} id, but a {expected} id is required",
                        edge.to,
                        edge.to.kind()
                    )
                } else if !ids.contains(&edge.to) {
                    format!("refers to `{}`, which no seed file defines", edge.to)
                } else {
                    continue;
                };
                problems.push(Problem {
                    file: file.path.clone(),
                    id: Some(entity.id().to_string()),
                    field: Some(edge.relation.field().into()),
                    message,
                });
            }
        });
    }
    if problems.is_empty() {
        for (relation, edges) in &acyclic {
            if let Some(id) = node_on_cycle(edges) {
                problems.push(Problem {
                    file: file_of.get(&id).cloned().unwrap_or_else(|| dir.to_owned()),
                    id: Some(id.to_string()),
                    field: Some(relation.field().into()),
                    message: format!(
                        "makes a cycle: `{id}` leads back to itself through `{}`",
                        relation.field()
                    ),
                });
            }
        }
    }

    if problems.is_empty() {
        let report = SeedReport {
            counts,
            hash: format!("sha256:{:x}", hasher.finalize()),
            files: files.into_iter().map(|f| f.path).collect(),
        };
        Ok((report, ids))
    } else {
        if problems.len() > MAX_PROBLEMS {
            let more = problems.len() - MAX_PROBLEMS;
            problems.truncate(MAX_PROBLEMS);
            problems.push(Problem {
                file: dir.to_owned(),
                id: None,
                field: None,
                message: format!("… and {more} more"),
            });
        }
        Err(SeedError::Invalid(problems))
    }
}

/// Validates and loads the seed in `dir`. Loading the seed the store already
/// holds changes nothing. A changed seed is merged: seed-owned entities are
/// replaced, added or removed, and entities created through the API are never
/// touched. With `reset`, the store's contents are replaced outright. An
/// interrupted earlier load is redone from scratch.
pub fn load(store: &Store, dir: &Path, reset: bool) -> Result<LoadOutcome, SeedError> {
    load_with_progress(store, dir, reset, &LoadProgress::default())
}

/// [`load`], counting the entities written into `progress` as it goes.
pub fn load_with_progress(
    store: &Store,
    dir: &Path,
    reset: bool,
    progress: &LoadProgress,
) -> Result<LoadOutcome, SeedError> {
    if !reset && store.seed_state()? == SeedState::Empty {
        if let Some(report) = load_fresh(store, dir, progress)? {
            return Ok(LoadOutcome::Loaded(report));
        }
    }
    let (report, ids) = check_with_ids(dir)?;
    let state = store.seed_state()?;
    let resume = matches!(state, SeedState::Loading { .. });
    match state {
        SeedState::Loaded { hash } if hash == report.hash && !reset => {
            return Ok(LoadOutcome::AlreadyLoaded(report));
        }
        SeedState::Loaded { .. } if !reset => return merge(store, report, &ids, progress),
        _ => {}
    }
    // Only a merge needs the ids; a million of them are worth freeing.
    drop(ids);

    store.set_seed_state(&SeedState::Loading {
        hash: report.hash.clone(),
    })?;
    if reset || resume {
        store.clear()?;
    }
    match store.bulk_load()? {
        Some(mut bulk) => {
            spill(
                store,
                &mut bulk,
                &report_files(&report),
                Some(report.total()),
                None,
                progress,
                |_, _| true,
            )?;
            bulk.finish()?;
        }
        // Entities created through the API before any seed: keep the
        // transactional path, which replaces entities and their index entries.
        None => write_seed(store, &report, progress, |_| Ok(true))?,
    }
    store.set_seed_state(&SeedState::Loaded {
        hash: report.hash.clone(),
    })?;
    Ok(LoadOutcome::Loaded(report))
}

/// Merges a changed seed into a store that holds an earlier one.
fn merge(
    store: &Store,
    report: SeedReport,
    ids: &HashSet<Id>,
    progress: &LoadProgress,
) -> Result<LoadOutcome, SeedError> {
    let mut kept_api = 0usize;
    write_seed(store, &report, progress, |entity| {
        let owned_by_api = store.get_record(entity.id())?.is_some_and(|r| r.origin == Origin::Api);
        kept_api += usize::from(owned_by_api);
        Ok(!owned_by_api)
    })?;
    // Seed-owned entities the new seed no longer has go, unless something
    // outside that set (an API entity) still refers to them.
    let mut stale = HashSet::new();
    for kind in EntityKind::ALL {
        for record in store.all(kind)? {
            if record.origin == Origin::Seed && !ids.contains(record.entity.id()) {
                stale.insert(record.entity.id().clone());
            }
        }
    }
    // Keep every stale entity a live one refers to, and, transitively,
    // every stale entity a kept one refers to: nothing may dangle.
    let mut kept: HashSet<Id> = HashSet::new();
    let mut work: Vec<Id> = Vec::new();
    for id in &stale {
        if store.referrers(id)?.into_iter().any(|(_, r)| !stale.contains(&r)) {
            tracing::warn!(%id, "the new seed drops this entity, but API-owned entities refer to it; keeping it");
            if kept.insert(id.clone()) {
                work.push(id.clone());
            }
        }
    }
    while let Some(id) = work.pop() {
        if let Some(entity) = store.get(&id)? {
            for edge in entity.edges() {
                if stale.contains(&edge.to) && kept.insert(edge.to.clone()) {
                    work.push(edge.to);
                }
            }
        }
    }
    let kept_referenced = kept.len();
    let deletes: Vec<Change> = stale
        .iter()
        .filter(|id| !kept.contains(*id))
        .map(|id| Change::Delete(id.clone()))
        .collect();
    if !deletes.is_empty() {
        store.apply(&deletes, false)?;
    }
    store.set_seed_state(&SeedState::Loaded {
        hash: report.hash.clone(),
    })?;
    Ok(LoadOutcome::Merged {
        removed: deletes.len(),
        report,
        kept_api,
        kept_referenced,
    })
}

/// Streams the seed's entities into the store in transactional batches,
/// writing those `admit` accepts.
fn write_seed(
    store: &Store,
    report: &SeedReport,
    progress: &LoadProgress,
    mut admit: impl FnMut(&Entity) -> Result<bool, StoreError>,
) -> Result<(), SeedError> {
    let files = report_files(report);
    progress.begin(Some(report.total()));
    let mut batch = Vec::with_capacity(BATCH_SIZE.min(report.total()));
    let mut write_error: Option<StoreError> = None;
    let mut problems = Vec::new();
    let flush_batch = |batch: &mut Vec<Change>| -> Result<(), StoreError> {
        store.apply(batch, false)?;
        progress.add(batch.len());
        batch.clear();
        Ok(())
    };
    stream(&files, &mut problems, None, &mut |_, entity, _| {
        if write_error.is_some() {
            return;
        }
        match admit(&entity) {
            Ok(true) => batch.push(Change::Put {
                entity,
                origin: Origin::Seed,
            }),
            Ok(false) => return,
            Err(e) => {
                write_error = Some(e);
                return;
            }
        }
        if batch.len() >= BATCH_SIZE {
            if let Err(e) = flush_batch(&mut batch) {
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e.into());
    }
    if !problems.is_empty() {
        // The files changed between validation and loading.
        return Err(SeedError::Invalid(problems));
    }
    if !batch.is_empty() {
        flush_batch(&mut batch)?;
    }
    Ok(())
}
