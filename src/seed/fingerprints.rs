//! What a first load checks a seed's references and cycles against, in
//! bounded memory: ids and references as fingerprints, spilled to sorted
//! scratch runs and compared by a merge at the end, and the edges of
//! relations that must not loop as fingerprint pairs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::hash::{BuildHasher, Hash};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use crate::store::{scratch_err, StoreError};

/// Fingerprints a [`Runs`] holds in memory before it sorts and spills them
/// (16 bytes each: 16 MiB).
pub(super) const HELD_FINGERPRINTS: usize = 1 << 20;

/// Read buffer per spilled run while merging.
const READ_BUFFER: usize = 64 * 1024;

/// Fingerprints of ids (128 bits, keyed per process): what a first load
/// checks references against, at a fraction of the ids' size.
pub(super) struct Fingerprints(std::hash::RandomState, std::hash::RandomState);

impl Fingerprints {
    pub(super) fn new() -> Fingerprints {
        Fingerprints(std::hash::RandomState::new(), std::hash::RandomState::new())
    }

    pub(super) fn of<T: Hash>(&self, value: &T) -> u128 {
        (u128::from(self.0.hash_one(value)) << 64) | u128::from(self.1.hash_one(value))
    }
}

/// A multiset of fingerprints kept as sorted runs in scratch files: at most
/// `held` of them in memory at a time.
pub(super) struct Runs {
    /// Scratch files are `<prefix>-<n>`.
    prefix: PathBuf,
    held: Vec<u128>,
    limit: usize,
    /// Whether a repeat may be dropped when a run is spilled (a set of
    /// references) or must be kept (ids, whose repeats are the fault sought).
    dedup: bool,
    runs: Vec<PathBuf>,
}

impl Runs {
    pub(super) fn new(prefix: PathBuf, limit: usize, dedup: bool) -> Runs {
        Runs {
            prefix,
            held: Vec::with_capacity(limit.max(1)),
            limit: limit.max(1),
            dedup,
            runs: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, fingerprint: u128) -> Result<(), StoreError> {
        self.held.push(fingerprint);
        if self.held.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs spilled so far.
    #[cfg(test)]
    pub(super) fn spilled(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.held.sort_unstable();
        if self.dedup {
            self.held.dedup();
        }
        let path = PathBuf::from(format!("{}-{}", self.prefix.display(), self.runs.len()));
        let mut out = BufWriter::with_capacity(READ_BUFFER, File::create(&path).map_err(scratch_err(&path))?);
        for fingerprint in self.held.drain(..) {
            out.write_all(&fingerprint.to_le_bytes()).map_err(scratch_err(&path))?;
        }
        out.flush().map_err(scratch_err(&path))?;
        self.runs.push(path);
        Ok(())
    }

    /// Every fingerprint, in ascending order (repeats included, but for
    /// those a deduplicating set dropped within one run).
    fn merged(mut self) -> Result<Merged, StoreError> {
        self.spill()?;
        let mut readers = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::with_capacity(self.runs.len());
        for (i, path) in self.runs.iter().enumerate() {
            let mut reader = BufReader::with_capacity(READ_BUFFER, File::open(path).map_err(scratch_err(path))?);
            if let Some(first) = read_one(&mut reader).map_err(scratch_err(path))? {
                heap.push(Reverse((first, i)));
            }
            readers.push(reader);
        }
        Ok(Merged {
            paths: self.runs,
            readers,
            heap,
        })
    }
}

fn read_one(reader: &mut impl Read) -> std::io::Result<Option<u128>> {
    let mut bytes = [0u8; 16];
    match reader.read_exact(&mut bytes) {
        Ok(()) => Ok(Some(u128::from_le_bytes(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// A merge of spilled runs; removes its files when dropped.
struct Merged {
    paths: Vec<PathBuf>,
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(u128, usize)>>,
}

impl Merged {
    fn next(&mut self) -> Result<Option<u128>, StoreError> {
        let Some(Reverse((fingerprint, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(following) = read_one(&mut self.readers[i]).map_err(scratch_err(&self.paths[i]))? {
            self.heap.push(Reverse((following, i)));
        }
        Ok(Some(fingerprint))
    }
}

impl Drop for Merged {
    fn drop(&mut self) {
        for path in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether `ids` holds no fingerprint twice and every fingerprint of
/// `references` is among them: one merge of both, in ascending order.
pub(super) fn ids_unique_and_referenced(ids: Runs, references: Runs) -> Result<bool, StoreError> {
    let mut ids = ids.merged()?;
    let mut references = references.merged()?;
    // The greatest id read so far.
    let mut current: Option<u128> = None;
    let mut advance = |current: &mut Option<u128>| -> Result<bool, StoreError> {
        match ids.next()? {
            // Ascending, so a repeat comes right after its first.
            Some(id) if Some(id) == *current => Ok(false),
            Some(id) => {
                *current = Some(id);
                Ok(true)
            }
            None => {
                *current = None;
                Ok(false)
            }
        }
    };
    let mut last_reference = None;
    while let Some(reference) = references.next()? {
        if last_reference == Some(reference) {
            continue;
        }
        last_reference = Some(reference);
        while current.is_none_or(|id| id < reference) {
            if !advance(&mut current)? {
                // A repeated id, or no id left for this reference.
                return Ok(false);
            }
        }
        if current != Some(reference) {
            return Ok(false);
        }
    }
    // The ids no reference reached: only repeats matter.
    while advance(&mut current)? {}
    // The end of the ids (fine), or a repeat (`current` still set).
    Ok(current.is_none())
}

/// Whether the edges (`from`, `to`) have a cycle. Nodes are 64-bit
/// fingerprints: two nodes sharing one can only make a cycle appear, never
/// hide one (a cycle stays a closed walk when nodes merge), and a cycle found
/// sends the load to the validating path, which names it or finds none.
/// Memory: the edges themselves (16 bytes each) and a state byte per edge.
/// Depth-first and iterative, like [`super::load::node_on_cycle`].
pub(super) fn has_cycle(mut edges: Vec<(u64, u64)>) -> bool {
    edges.sort_unstable();
    edges.dedup();
    // A node is the index of its first edge; one without edges has no cycle through it.
    let node = |fingerprint: u64| {
        let first = edges.partition_point(|(from, _)| *from < fingerprint);
        (edges.get(first).map(|(from, _)| *from) == Some(fingerprint)).then_some(first)
    };
    // 0: not seen; 1: on the current path; 2: done, no cycle through it.
    let mut state = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if state[start] != 0 || (start > 0 && edges[start - 1].0 == edges[start].0) {
            continue;
        }
        state[start] = 1;
        // (node, its edge to follow next)
        let mut stack: Vec<(usize, usize)> = vec![(start, start)];
        while let Some((n, next)) = stack.pop() {
            match edges.get(next).filter(|(from, _)| *from == edges[n].0) {
                Some((_, to)) => {
                    stack.push((n, next + 1));
                    if let Some(t) = node(*to) {
                        match state[t] {
                            1 => return true,
                            0 => {
                                state[t] = 1;
                                stack.push((t, t));
                            }
                            _ => {}
                        }
                    }
                }
                None => state[n] = 2,
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(dir: &std::path::Path, name: &str, limit: usize, dedup: bool, values: &[u128]) -> Runs {
        let mut runs = Runs::new(dir.join(name), limit, dedup);
        for v in values {
            runs.push(*v).unwrap();
        }
        runs
    }

    fn check(limit: usize, ids: &[u128], references: &[u128]) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let ids = runs(dir.path(), "ids", limit, false, ids);
        let references = runs(dir.path(), "refs", limit, true, references);
        let ok = ids_unique_and_referenced(ids, references).unwrap();
        // The merge removes its scratch files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        ok
    }

    #[test]
    fn references_are_checked_across_runs_with_bounded_memory() {
        let ids: Vec<u128> = (0..1000u128).map(|n| n * 7 + 3).rev().collect();
        let references: Vec<u128> = (0..3000u128).map(|n| (n * 13 % 1000) * 7 + 3).collect();
        for limit in [1, 10, 64, 5000] {
            assert!(check(limit, &ids, &references), "limit {limit}");
            assert!(check(limit, &ids, &[]), "limit {limit}, no references");
            // A reference to no id, below, among and above the ids.
            for missing in [0, 5, 7 * 500 + 4, 7 * 999 + 4, u128::MAX] {
                let mut refs = references.clone();
                refs.insert(1500, missing);
                assert!(!check(limit, &ids, &refs), "limit {limit}, missing {missing}");
            }
            // A repeated id, referenced or not, first or last.
            for repeated in [3, 7 * 400 + 3, 7 * 999 + 3] {
                let mut twice = ids.clone();
                twice.push(repeated);
                assert!(!check(limit, &twice, &references), "limit {limit}, repeated {repeated}");
                assert!(
                    !check(limit, &twice, &[]),
                    "limit {limit}, repeated {repeated} unreferenced"
                );
            }
        }
        assert!(!check(4, &[], &[1]));
        assert!(check(4, &[], &[]));
    }

    #[test]
    fn runs_hold_at_most_their_limit_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Runs::new(dir.path().join("ids"), 100, false);
        for n in 0..1050u128 {
            ids.push(n).unwrap();
            assert!(ids.held.len() < 100);
        }
        assert_eq!(ids.spilled(), 10);
        assert_eq!(ids.held.capacity(), 100, "the buffer is reused, not grown");
    }

    #[test]
    fn cycles_are_found_through_long_chains() {
        let chain: Vec<(u64, u64)> = (0..10_000u64).map(|n| (n, n + 1)).collect();
        assert!(!has_cycle(chain.clone()));
        let mut looped = chain.clone();
        looped.push((10_000, 5_000));
        assert!(has_cycle(looped));
        assert!(has_cycle(vec![(1, 1)]));
        // A diamond is not a cycle; the same edge twice neither.
        assert!(!has_cycle(vec![(1, 2), (1, 3), (2, 4), (3, 4), (1, 2)]));
        assert!(has_cycle(vec![(1, 2), (1, 3), (2, 4), (3, 4), (4, 1)]));
        assert!(!has_cycle(vec![]));
    }
}
