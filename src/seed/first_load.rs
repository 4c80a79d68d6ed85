//! The first load into an empty store: validated while it is written, and
//! written through the bulk path.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::check::check_entity;
use crate::model::{Entity, EntityKind, Origin, Record};
use crate::store::{BulkLoad, SeedState, Store, StoreError};

use super::files::{seed_files, stream, SeedFile};
use super::fingerprints::{has_cycle, ids_unique_and_referenced, Fingerprints, Runs, HELD_FINGERPRINTS};
use super::{LoadProgress, SeedError, SeedReport, BULK_BATCH_SIZE};

/// The first load into an empty store, validated while it is written: the
/// thread that parses the seed also checks every entity on its own (fields,
/// kinds, the content hash) and notes every id and reference by fingerprint
/// (spilled to sorted scratch runs, so memory does not grow with the seed),
/// while this one encodes and spills the bulk load's scratch runs; at the
/// end one merge checks that no id repeats and every reference names one,
/// and the edges of relations that must not loop (held as fingerprint
/// pairs, 16 bytes each) are checked for cycles. Only then
/// does the bulk load fill the trees: until [`BulkLoad::finish`], it has
/// written nothing but scratch files.
///
/// Returns `None`, with the store as it was (empty), when anything is off:
/// the caller then takes the ordinary path, which validates first and names
/// every problem. So a valid seed is parsed once instead of three times.
pub(super) fn load_fresh(store: &Store, dir: &Path, progress: &LoadProgress) -> Result<Option<SeedReport>, SeedError> {
    let mut problems = Vec::new();
    let files = seed_files(dir, &mut problems)?;
    if !problems.is_empty() || files.is_empty() {
        return Ok(None);
    }
    // The seed state stays `empty` while the load only spills: a crash
    // then leaves the bulk-load mark, and the next start discards the rest.
    let Some(mut bulk) = store.bulk_load()? else {
        // Entities created through the API: not a first load.
        return Ok(None);
    };
    let fingerprints = Fingerprints::new();
    let mut hasher = Sha256::new();
    let mut ids = Runs::new(bulk.scratch().join("ids"), HELD_FINGERPRINTS, false);
    let mut references = Runs::new(bulk.scratch().join("references"), HELD_FINGERPRINTS, true);
    let mut noted: Result<(), StoreError> = Ok(());
    let mut counts: BTreeMap<EntityKind, usize> = BTreeMap::new();
    let mut valid = true;
    // Edges of relations that must not loop, nodes keyed with their
    // relation: a cycle sends the load to the validating path, which names it.
    let mut acyclic: Vec<(u64, u64)> = Vec::new();
    let spilled = spill(
        store,
        &mut bulk,
        &files,
        None,
        Some(&mut hasher),
        progress,
        |file, entity| {
            valid &= entity.id().kind() == file.kind && check_entity(entity).is_empty();
            *counts.entry(file.kind).or_default() += 1;
            noted = ids.push(fingerprints.of(entity.id()));
            for edge in entity.edges() {
                valid &= edge.to.kind() == edge.relation.target_kind();
                if noted.is_ok() {
                    noted = references.push(fingerprints.of(&edge.to));
                }
                if edge.relation.is_acyclic() {
                    acyclic.push((
                        fingerprints.of(&(edge.relation, entity.id())) as u64,
                        fingerprints.of(&(edge.relation, &edge.to)) as u64,
                    ));
                }
            }
            // An invalid seed stops here; the validating path names its problems.
            valid && noted.is_ok()
        },
    );
    noted?;
    valid = valid && spilled.is_ok() && ids_unique_and_referenced(ids, references)? && !has_cycle(acyclic);
    match spilled {
        Ok(()) if valid => {
            let report = SeedReport {
                counts,
                hash: format!("sha256:{:x}", hasher.finalize()),
                files: files.into_iter().map(|f| f.path).collect(),
            };
            store.set_seed_state(&SeedState::Loading {
                hash: report.hash.clone(),
            })?;
            bulk.finish()?;
            store.set_seed_state(&SeedState::Loaded {
                hash: report.hash.clone(),
            })?;
            Ok(Some(report))
        }
        // Dropping the unfinished load discards it.
        Ok(()) | Err(SeedError::Invalid(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Streams the seed through a bulk load's scratch runs: a reader thread
/// parses batches (calling `each` with every entity, and hashing the files
/// into `hasher` if given; `each` returning false stops the reading early)
/// while this one encodes and spills the previous
/// batch, with at most one batch waiting between them so memory stays
/// bounded.
pub(super) fn spill(
    store: &Store,
    bulk: &mut BulkLoad<'_>,
    files: &[SeedFile],
    total: Option<usize>,
    hasher: Option<&mut Sha256>,
    progress: &LoadProgress,
    mut each: impl FnMut(&SeedFile, &Entity) -> bool + Send,
) -> Result<(), SeedError> {
    progress.begin(total);
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Record>>(1);
    let (written, problems) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut problems = Vec::new();
            let mut batch = Vec::with_capacity(BULK_BATCH_SIZE);
            let mut stopped = false;
            stream(files, &mut problems, hasher, &mut |file, entity, _| {
                if stopped {
                    return;
                }
                if !each(file, &entity) {
                    stopped = true;
                    return;
                }
                batch.push(Record {
                    origin: Origin::Seed,
                    entity,
                });
                if batch.len() >= BULK_BATCH_SIZE {
                    // The writer hung up: it failed, and says why.
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BULK_BATCH_SIZE));
                    stopped = sender.send(full).is_err();
                }
            });
            if !stopped && !batch.is_empty() {
                let _ = sender.send(batch);
            }
            problems
        });
        let mut written = Ok(());
        for batch in receiver {
            let n = batch.len();
            if let Err(e) = bulk.write(store.prepare(batch)) {
                written = Err(e);
                break;
            }
            progress.add(n);
        }
        let problems = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, problems)
    });
    written?;
    if !problems.is_empty() {
        // The files changed between validation and loading.
        return Err(SeedError::Invalid(problems));
    }
    Ok(())
}
