//! Consistency: whole-tree scans, the index check, and the start-up check
//! for acknowledged writes the database lost.

use std::collections::{BTreeMap, HashMap};

use super::index::{decode, index_entries};
use super::trees::{self, TreeRef};
use super::{log, meta_count_key, packed, read_u64, Store, StoreError};
use crate::model::{EntityKind, Record};

/// The generation of the last acknowledged write (see [`Store::damage`]).
const ACKNOWLEDGED_FILE: &str = "acknowledged";

impl Store {
    /// Notes, beside the database, a generation every write up to which is
    /// in sled's files (written at each checkpoint, and after a bulk load).
    /// sled checks each log entry as it recovers and silently drops the log
    /// from a damaged one on; comparing its generation with this note at
    /// start-up tells that acknowledged writes went with it. Writes after
    /// the note are in the write-ahead log, whose own damage is reported.
    /// A failure here only weakens that check, so it is logged, not returned.
    pub(super) fn record_acknowledged(&self, generation: u64) {
        use std::os::unix::fs::FileExt;
        if self.inner.cache_bytes.is_none() {
            return;
        }
        let path = self.inner.path.join(ACKNOWLEDGED_FILE);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|file| {
                file.write_all_at(&generation.to_be_bytes(), 0)?;
                file.sync_data()
            });
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %path.display(), "could not note the acknowledged generation");
        }
    }

    fn acknowledged(&self) -> Option<u64> {
        let bytes = std::fs::read(self.inner.path.join(ACKNOWLEDGED_FILE)).ok()?;
        Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
    }

    /// The start-up check, fast enough to run every time: whether the
    /// database lost writes it acknowledged (sled's log was cut short at a
    /// damaged entry, or the write-ahead log is damaged). Empty when it did not.
    pub fn damage(&self) -> Vec<String> {
        let Ok(generation) = self.generation() else {
            return vec!["the meta tree cannot be read".into()];
        };
        let mut damage = self.inner.log_damage.lock().unwrap_or_else(|p| p.into_inner()).clone();
        damage.extend(match self.acknowledged() {
            Some(acknowledged) if acknowledged > generation => vec![format!(
                "the database at {} holds writes up to generation {generation}, but writes up to {acknowledged} were acknowledged: {} acknowledged writes are lost (the database file is damaged)",
                self.inner.path.display(),
                acknowledged - generation
            )],
            _ => Vec::new(),
        });
        damage
    }

    /// Accepts the damage [`Store::damage`] reported (`--allow-damaged`):
    /// what is intact is served, and later starts compare with it. The
    /// damaged write-ahead log files go (what could be applied is in sled).
    pub fn accept_damage(&self) {
        let mut log_damage = self.inner.log_damage.lock().unwrap_or_else(|p| p.into_inner());
        if !log_damage.is_empty() && self.flush().is_ok() {
            if let Some(log) = &self.inner.log {
                let current = log.lock().unwrap_or_else(|p| p.into_inner()).sequence();
                log::remove_before(&self.inner.path, current);
            }
            log_damage.clear();
        }
        if let Ok(generation) = self.generation() {
            self.record_acknowledged(generation);
        }
    }

    /// Calls `f` with every entity of `kind`, one at a time (exports).
    pub fn for_each(&self, kind: EntityKind, f: &mut dyn FnMut(Record)) -> Result<(), StoreError> {
        let tree_ref = TreeRef::Entity(kind);
        for item in self.records(kind)? {
            let (key, value) = item?;
            f(decode(self.name(tree_ref), &key, &value)?);
        }
        Ok(())
    }

    /// Like [`Store::for_each`], skipping records that cannot be decoded
    /// (a damaged database), which it returns as messages naming each one:
    /// what `export` uses to salvage every intact entity.
    pub fn for_each_intact(&self, kind: EntityKind, f: &mut dyn FnMut(Record)) -> Result<Vec<String>, StoreError> {
        let tree_ref = TreeRef::Entity(kind);
        let mut damaged = Vec::new();
        // Block by block, so a damaged block loses its own entities only.
        for item in self.tree(tree_ref)?.iter() {
            let (block_key, block) = match item {
                Ok(item) => item,
                Err(e) => {
                    damaged.push(format!("`{}` cannot be read past some point: {e}", self.name(tree_ref)));
                    break;
                }
            };
            let Some(entries) = packed::decode(&block) else {
                damaged.push(format!(
                    "damaged block of `{}` at {}: the records it holds cannot be read",
                    self.name(tree_ref),
                    String::from_utf8_lossy(&block_key)
                ));
                continue;
            };
            for (key, value) in entries {
                match decode(self.name(tree_ref), &key, &value) {
                    Ok(record) => f(record),
                    Err(e) => damaged.push(format!("damaged record {}: {e}", String::from_utf8_lossy(&key))),
                }
            }
        }
        Ok(damaged)
    }

    /// Every entity of `kind` (for checks, exports and tests; not for serving).
    pub fn all(&self, kind: EntityKind) -> Result<Vec<Record>, StoreError> {
        let tree_ref = TreeRef::Entity(kind);
        let mut out = Vec::new();
        for item in self.records(kind)? {
            let (key, value) = item?;
            out.push(decode(self.name(tree_ref), &key, &value)?);
        }
        Ok(out)
    }

    /// Checks that index trees and entities agree exactly: every entry an
    /// entity implies exists, and every index entry is implied by an entity;
    /// then that the list statistics are no lower than the lists and the
    /// sub-kind counts exact.
    /// Returns a description of each disagreement (empty when consistent).
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut expected: HashMap<TreeRef, BTreeMap<Vec<u8>, Vec<u8>>> = HashMap::new();
        let mut problems = self.damage();
        for kind in EntityKind::ALL {
            let mut records = Vec::new();
            problems.extend(self.for_each_intact(kind, &mut |r| records.push(r))?);
            let counted = read_u64(self.meta_get(&meta_count_key(kind))?);
            if records.len() as u64 != counted {
                problems.push(format!(
                    "count of {} is off: {} stored, {counted} counted",
                    kind.plural(),
                    records.len()
                ));
            }
            for record in records {
                for (tree, key, value) in index_entries(&record.entity) {
                    expected.entry(tree).or_default().insert(key, value);
                }
            }
        }
        for (tree_ref, name) in trees::all_trees() {
            if let TreeRef::Entity(_) = tree_ref {
                // Read above, entry by entry; here, the blocks themselves.
                problems.extend(packed::check(&self.tree(tree_ref)?, name)?);
            }
            if !trees::is_index(tree_ref) {
                continue;
            }
            let want = expected.remove(&tree_ref).unwrap_or_default();
            let malformed = packed::check(&self.tree(tree_ref)?, name)?;
            if !malformed.is_empty() {
                // Its entries cannot be read reliably: report the blocks.
                problems.extend(malformed);
                continue;
            }
            let mut have = BTreeMap::new();
            for item in self.index_prefix(tree_ref, &[])? {
                let (k, v) = item?;
                have.insert(k, v);
            }
            for (k, v) in &want {
                match have.get(k) {
                    None => problems.push(format!("`{name}` lacks {}", String::from_utf8_lossy(k))),
                    Some(h) if h != v => {
                        problems.push(format!("`{name}` has a stale value at {}", String::from_utf8_lossy(k)))
                    }
                    _ => {}
                }
            }
            for k in have.keys().filter(|k| !want.contains_key(*k)) {
                problems.push(format!("`{name}` has an orphan entry {}", String::from_utf8_lossy(k)));
            }
        }
        if problems.is_empty() {
            // Measured from the entities and indexes, so only once they agree.
            problems.extend(self.stats_problems()?);
        }
        Ok(problems)
    }
}
