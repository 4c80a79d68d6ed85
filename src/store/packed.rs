//! Packed trees: many entries to one sled record.
//!
//! sled 0.34 splits a leaf at 17 records whatever their size, keeps metadata
//! in memory for every page (about 250 bytes: its page-table slot, the page,
//! and a vector of where its fragments lie on disk), and copies a whole leaf
//! on every insert. Index entries are small and many (a dozen per entity), so
//! stored one per record they made a million-entity store take a million
//! pages, most of a bulk load's time and most of the server's memory; entity
//! records, one per record, still took a page per dozen entities, about 40
//! bytes of memory per entity whatever was read (since format 6 they are
//! packed too).
//!
//! So every tree but the meta tree holds *blocks*: a run of consecutive entries, in key
//! order, stored under the key of its **last** entry. The block that holds
//! (or would hold) a key is then the first block whose key is not below it,
//! a plain forward seek; a key past every block belongs to the last one.
//! Inside a block, keys are prefix-compressed against the one before.
//!
//! Reads see entries, never blocks ([`Range`], [`get`]). Writes go through
//! [`Edits`], which reads the blocks a batch touches *outside* the
//! transaction and hands the transaction finished blocks to write: sled
//! transactions cannot seek, and they need not, because every write is
//! staged under the store's pipeline lock (see `group.rs`), so nothing
//! changes a block between the read and the commit. A block that outgrows [`Limits`] splits in two.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{self, Excluded, Included, Unbounded};

use super::error::sled_err;
use super::trees::TreeRef;
use super::StoreError;

/// One index entry: key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// When a block splits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most entries a block holds.
    pub max_entries: usize,
    /// Most encoded bytes a block of more than one entry holds.
    pub max_bytes: usize,
}

impl Limits {
    /// Index trees: small entries, many to a block.
    pub const DEFAULT: Limits = Limits {
        max_entries: 64,
        max_bytes: 8 * 1024,
    };

    /// Entity trees: records of a few hundred bytes, in smaller blocks.
    /// sled's cache is split into 256 shards of an equal share of its
    /// capacity (64 KiB of the default 16 MiB), and a shard keeps the page
    /// it last read however large: a leaf of 17 blocks of 3 KiB stays
    /// within a share, where blocks of 8 KiB made pages of up to 136 KiB
    /// and the cache hold twice its capacity.
    pub const ENTITIES: Limits = Limits {
        max_entries: 64,
        max_bytes: 3 * 1024,
    };

    /// The limits of a tree's blocks.
    pub fn of(tree: TreeRef) -> Limits {
        match tree {
            TreeRef::Entity(_) => Limits::ENTITIES,
            _ => Limits::DEFAULT,
        }
    }

    /// How full a bulk load packs blocks: three quarters, leaving room for
    /// later inserts, so the first write into a block does not split it at once.
    pub fn fill_entries(self) -> usize {
        self.max_entries * 3 / 4
    }

    pub fn fill_bytes(self) -> usize {
        self.max_bytes * 3 / 4
    }
}

// ---- block encoding ---------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= ((b & 0x7f) as usize).checked_shl(shift)?;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

fn take_bytes<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if bytes.len() < n {
        return None;
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Some(head)
}

/// A block's bytes: the entry count, then per entry the length it shares
/// with the previous key, the rest of the key, and the value.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len_hint(entries));
    put_varint(&mut out, entries.len());
    let mut previous: &[u8] = &[];
    for (key, value) in entries {
        let shared = previous.iter().zip(key).take_while(|(a, b)| a == b).count();
        put_varint(&mut out, shared);
        put_varint(&mut out, key.len() - shared);
        out.extend_from_slice(&key[shared..]);
        put_varint(&mut out, value.len());
        out.extend_from_slice(value);
        previous = key;
    }
    out
}

fn encoded_len_hint(entries: &[Entry]) -> usize {
    entries.iter().map(|(k, v)| k.len() + v.len() + 3).sum::<usize>() + 2
}

/// The entries of a block, or `None` when the bytes are not one (keys out
/// of order included).
pub fn decode(bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut cursor = Cursor::new(bytes)?;
    let mut out: Vec<Entry> = Vec::with_capacity(cursor.left.min(bytes.len()));
    while let Some(value) = cursor.advance().ok()? {
        out.push((cursor.key.clone(), bytes[value].to_vec()));
    }
    (cursor.offset == bytes.len()).then_some(out)
}

fn corrupt(tree: &'static str, key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.into(),
    }
}

/// Decodes the block stored at `key`, checking that it is one: entries in
/// strictly increasing order ([`decode`]), the last one at the block's key.
fn decode_block(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<Vec<Entry>, StoreError> {
    let entries = decode(bytes).ok_or_else(|| corrupt(tree, key, "not an index block"))?;
    if entries.last().map(|(k, _)| k.as_slice()) != Some(key) {
        return Err(corrupt(tree, key, "an index block is not stored under its last key"));
    }
    Ok(entries)
}

// ---- bounds -----------------------------------------------------------------

fn above_lower(lower: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match lower {
        Included(l) => key >= l.as_slice(),
        Excluded(l) => key > l.as_slice(),
        Unbounded => true,
    }
}

fn below_upper(upper: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match upper {
        Included(u) => key <= u.as_slice(),
        Excluded(u) => key < u.as_slice(),
        Unbounded => true,
    }
}

/// Whether no key lies between the bounds.
fn is_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Included(l), Included(u)) => l > u,
        (Included(l) | Excluded(l), Included(u) | Excluded(u)) => l >= u,
        _ => false,
    }
}

/// The bounds of every key that begins with `prefix`.
pub fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let upper = super::keys::prefix_end(prefix).map_or(Unbounded, Excluded);
    (Included(prefix.to_vec()), upper)
}

// ---- reads ------------------------------------------------------------------

/// The entries of a packed tree between two bounds, in key order or
/// backwards.
pub struct Range<'t> {
    /// A handle of its own (sled trees are shared handles), so a scan never
    /// borrows the store, which may reopen its database after a disk fault.
    tree: sled::Tree,
    _scan: std::marker::PhantomData<&'t ()>,
    name: &'static str,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    /// Backwards: whether the block straddling the upper bound was read.
    started: bool,
    /// Forwards: the block being read, entry by entry, and its key.
    cursor: Option<(Cursor<sled::IVec>, sled::IVec)>,
    /// Backwards: the entries of the block being read, within the bounds,
    /// in key order (handed out from the end).
    pending: Vec<Entry>,
    done: bool,
}

/// Walks a block's entries in key order without decoding the rest: the
/// current key is rebuilt in place, and a value is a span of the block.
struct Cursor<B> {
    bytes: B,
    offset: usize,
    left: usize,
    key: Vec<u8>,
    /// Whether `key` holds an entry yet.
    started: bool,
}

impl<B: AsRef<[u8]>> Cursor<B> {
    fn new(bytes: B) -> Option<Cursor<B>> {
        let mut rest = bytes.as_ref();
        let left = take_varint(&mut rest)?;
        let offset = bytes.as_ref().len() - rest.len();
        Some(Cursor {
            bytes,
            offset,
            left,
            key: Vec::new(),
            started: false,
        })
    }

    /// Moves to the next entry and returns where its value lies; `Ok(None)`
    /// past the last entry, `Err(())` when the block is malformed (keys out
    /// of order included).
    fn advance(&mut self) -> Result<Option<std::ops::Range<usize>>, ()> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let bytes = self.bytes.as_ref();
        let mut rest = &bytes[self.offset..];
        let shared = take_varint(&mut rest).ok_or(())?;
        let len = take_varint(&mut rest).ok_or(())?;
        if shared > self.key.len() {
            return Err(());
        }
        let suffix = take_bytes(&mut rest, len).ok_or(())?;
        // Each key sorts after the one before: past their shared part, it
        // goes on longer or with a greater byte.
        let ascending = match (self.key.get(shared), suffix.first()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(old), Some(new)) => new > old,
        };
        if self.started && !ascending {
            return Err(());
        }
        self.started = true;
        self.key.truncate(shared);
        self.key.extend_from_slice(suffix);
        let value_len = take_varint(&mut rest).ok_or(())?;
        if rest.len() < value_len {
            return Err(());
        }
        let start = bytes.len() - rest.len();
        self.offset = start + value_len;
        Ok(Some(start..start + value_len))
    }
}

impl<'t> Range<'t> {
    pub fn new(
        tree: &sled::Tree,
        name: &'static str,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        reverse: bool,
    ) -> Range<'t> {
        let done = is_empty(&lower, &upper);
        Range {
            tree: tree.clone(),
            _scan: std::marker::PhantomData,
            name,
            lower,
            upper,
            reverse,
            started: false,
            cursor: None,
            pending: Vec::new(),
            done,
        }
    }

    /// Every entry whose key begins with `prefix`, in key order.
    pub fn prefix(tree: &sled::Tree, name: &'static str, prefix: &[u8]) -> Range<'t> {
        let (lower, upper) = prefix_bounds(prefix);
        Range::new(tree, name, lower, upper, false)
    }

    /// Forwards: moves the lower bound up to `key` (when that is higher),
    /// and the walk goes on from there: within the block being read when
    /// that block reaches `key` (the entries in between are passed over
    /// without being handed out), else from the first block that can hold
    /// `key` (one seek, which stands for the one the walk would make at
    /// the block's end anyway). Backwards, nothing changes.
    pub fn skip_to(&mut self, key: Vec<u8>) {
        if self.reverse || !above_lower(&self.lower, &key) {
            return;
        }
        if let Some((_, block_key)) = &self.cursor {
            if block_key.as_ref() < key.as_slice() {
                self.cursor = None;
            }
        }
        self.lower = Included(key);
    }

    /// Backwards: keeps the entries of a block within the bounds, and moves
    /// the upper bound below the block.
    fn load(&mut self, key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        let mut entries = decode_block(self.name, key, bytes)?;
        let first = entries.first().map(|(k, _)| k.clone());
        entries.retain(|(k, _)| above_lower(&self.lower, k) && below_upper(&self.upper, k));
        self.pending = entries;
        if let Some(first) = first {
            if below_upper(&self.upper, &first) {
                self.upper = Excluded(first);
            }
        }
        Ok(())
    }

    /// Forwards: the next entry of the current block within the bounds.
    /// Past the upper bound, the walk is over; at the block's end, the lower
    /// bound moves past it.
    fn next_in_block(&mut self) -> Result<Option<Entry>, StoreError> {
        let Some((cursor, block_key)) = self.cursor.as_mut() else {
            return Ok(None);
        };
        loop {
            let value = match cursor.advance() {
                Ok(Some(value)) => value,
                Ok(None) => break,
                Err(()) => return Err(corrupt(self.name, block_key, "not an index block")),
            };
            if !above_lower(&self.lower, &cursor.key) {
                continue;
            }
            if !below_upper(&self.upper, &cursor.key) {
                self.done = true;
                break;
            }
            return Ok(Some((cursor.key.clone(), cursor.bytes[value].to_vec())));
        }
        self.lower = Excluded(block_key.to_vec());
        self.cursor = None;
        Ok(None)
    }

    /// Reads the next block in walking order. Each block is looked up
    /// afresh from the bounds, which move past every block read: a write
    /// that commits meanwhile may split or re-key blocks, and a long-lived
    /// sled iterator could then skip or repeat entries that did not change.
    fn next_block(&mut self) -> Result<(), StoreError> {
        let scan = |e| sled_err(format!("scanning `{}`", self.name))(e);
        if is_empty(&self.lower, &self.upper) {
            self.done = true;
            return Ok(());
        }
        if !self.reverse {
            // Blocks are keyed by their last entry: the first block that can
            // hold a key within the bounds is the first keyed at the lower bound.
            match self.tree.range::<Vec<u8>, _>((self.lower.clone(), Unbounded)).next() {
                Some(item) => {
                    let (key, bytes) = item.map_err(scan)?;
                    let cursor = Cursor::new(bytes).ok_or_else(|| corrupt(self.name, &key, "not an index block"))?;
                    self.cursor = Some((cursor, key));
                }
                None => self.done = true,
            }
            return Ok(());
        }
        // Backwards: first the block that straddles the upper bound (keyed
        // past it, so a range up to it misses it), then the last block keyed
        // below the bound, again and again.
        let item = if self.started {
            self.tree
                .range::<Vec<u8>, _>((self.lower.clone(), self.upper.clone()))
                .next_back()
        } else {
            self.started = true;
            let past_upper = match &self.upper {
                Included(u) => Excluded(u.clone()),
                Excluded(u) => Included(u.clone()),
                Unbounded => return Ok(()),
            };
            match self.tree.range::<Vec<u8>, _>((past_upper, Unbounded)).next() {
                Some(item) => Some(item),
                None => return Ok(()),
            }
        };
        match item {
            Some(item) => {
                let (key, bytes) = item.map_err(scan)?;
                self.load(&key, &bytes)?;
            }
            None => self.done = true,
        }
        Ok(())
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, StoreError> {
        loop {
            if let Some(entry) = self.pending.pop() {
                return Ok(Some(entry));
            }
            if let Some(entry) = self.next_in_block()? {
                return Ok(Some(entry));
            }
            if self.done {
                return Ok(None);
            }
            self.next_block()?;
        }
    }
}

impl Iterator for Range<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(entry) => entry.map(Ok),
            Err(e) => {
                self.done = true;
                self.pending.clear();
                self.cursor = None;
                Some(Err(e))
            }
        }
    }
}

/// How many entries lie between two bounds. A block that lies wholly
/// within them is counted from its header, without reading its entries,
/// so a count reads each block once rather than each entry: the blocks at
/// the two ends are the only ones walked. Blocks come in key order and
/// only entries past the last one counted are counted, so a write that
/// splits or re-keys a block while the count goes on does not count an
/// entry twice.
pub fn count(
    tree: &sled::Tree,
    name: &'static str,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
) -> Result<usize, StoreError> {
    count_at_most(tree, name, lower, upper, usize::MAX)
}

/// [`count`], stopping at the first block that brings the count to
/// `limit` or past it (so at most `limit` plus a block's entries).
pub fn count_at_most(
    tree: &sled::Tree,
    name: &'static str,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    limit: usize,
) -> Result<usize, StoreError> {
    let mut n = 0;
    if is_empty(&lower, &upper) {
        return Ok(n);
    }
    let mut counted: Option<Vec<u8>> = None;
    let fresh = |key: &[u8], counted: &Option<Vec<u8>>| counted.as_deref().is_none_or(|c| key > c);
    for item in tree.range::<Vec<u8>, _>((lower.clone(), Unbounded)) {
        let (key, bytes) = item.map_err(sled_err(format!("scanning `{name}`")))?;
        let bad = || corrupt(name, &key, "not an index block");
        let within = below_upper(&upper, &key);
        let mut cursor = Cursor::new(bytes.as_ref()).ok_or_else(bad)?;
        let entries = cursor.left;
        let whole = within
            && match cursor.advance().map_err(|()| bad())? {
                Some(_) => above_lower(&lower, &cursor.key) && fresh(&cursor.key, &counted),
                None => true,
            };
        if whole {
            n += entries;
        } else {
            let mut cursor = Cursor::new(bytes.as_ref()).ok_or_else(bad)?;
            while cursor.advance().map_err(|()| bad())?.is_some() {
                let key = cursor.key.as_slice();
                if above_lower(&lower, key) && below_upper(&upper, key) && fresh(key, &counted) {
                    n += 1;
                }
            }
        }
        if !within || n >= limit {
            break;
        }
        counted = Some(key.to_vec());
    }
    Ok(n)
}

/// The value at `key` in a packed tree.
pub fn get(tree: &sled::Tree, name: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(get_sorted(tree, name, &[key])?.pop().flatten())
}

/// The values at `keys` (in key order) in a packed tree, in the same order:
/// one walk per block, however many of the keys it holds.
pub fn get_sorted(tree: &sled::Tree, name: &'static str, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    let mut out = vec![None; keys.len()];
    let mut i = 0;
    while i < keys.len() {
        let Some(item) = tree.range(keys[i]..).next() else {
            break;
        };
        let (block_key, bytes) = item.map_err(sled_err(format!("reading `{name}`")))?;
        let malformed = || corrupt(name, &block_key, "not an index block");
        let mut cursor = Cursor::new(bytes.clone()).ok_or_else(malformed)?;
        let mut value = cursor.advance().map_err(|()| malformed())?;
        while i < keys.len() && keys[i] <= &block_key[..] {
            while let Some(v) = &value {
                match cursor.key.as_slice().cmp(keys[i]) {
                    std::cmp::Ordering::Less => value = cursor.advance().map_err(|()| malformed())?,
                    std::cmp::Ordering::Equal => {
                        out[i] = Some(cursor.bytes[v.clone()].to_vec());
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            i += 1;
        }
    }
    Ok(out)
}

/// Checks every block of a packed tree (see [`decode_block`]) and that
/// blocks do not overlap; returns what is wrong.
pub fn check(tree: &sled::Tree, name: &'static str) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut previous: Option<Vec<u8>> = None;
    for item in tree.iter() {
        let (key, bytes) = item.map_err(sled_err(format!("scanning `{name}`")))?;
        match decode_block(name, &key, &bytes) {
            Ok(entries) => {
                if let (Some(p), Some((first, _))) = (&previous, entries.first()) {
                    if first <= p {
                        problems.push(format!(
                            "`{name}`: the block at {} overlaps the one before",
                            String::from_utf8_lossy(&key)
                        ));
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
        previous = Some(key.to_vec());
    }
    Ok(problems)
}

// ---- writes -----------------------------------------------------------------

/// Changes to one packed tree, gathered before a transaction writes them.
/// Only for a caller that holds the store's pipeline lock (see the module docs).
#[derive(Clone)]
pub struct Edits<'t> {
    tree: sled::Tree,
    _edits: std::marker::PhantomData<&'t ()>,
    name: &'static str,
    limits: Limits,
    /// Blocks as the edits leave them, by key.
    live: BTreeMap<Vec<u8>, Vec<Entry>>,
    /// Keys of stored blocks the edits replaced (unless `live` has the key again).
    gone: BTreeSet<Vec<u8>>,
    /// While a savepoint is open ([`Edits::savepoint`]): what each change
    /// to `live` and `gone` replaced, oldest first, to undo them.
    journal: Option<Vec<Undo>>,
}

/// What one change to [`Edits`] replaced.
#[derive(Clone)]
enum Undo {
    /// `live` held this at the key (`None`: nothing).
    Live(Vec<u8>, Option<Vec<Entry>>),
    /// Whether `gone` held the key.
    Gone(Vec<u8>, bool),
    /// The edited block at `block` held this value at `key` (`None`: no
    /// entry), and the change left the block where it was: same key, no
    /// split (see [`Edits::edit_in_place`]).
    Entry {
        block: Vec<u8>,
        key: Vec<u8>,
        before: Option<Vec<u8>>,
    },
}

/// A block taken out for editing: its key, its entries, and whether it
/// came from the tree (rather than from earlier edits).
struct Taken {
    key: Vec<u8>,
    entries: Vec<Entry>,
    stored: bool,
}

impl<'t> Edits<'t> {
    pub fn new(tree: &sled::Tree, name: &'static str, limits: Limits) -> Edits<'t> {
        Edits {
            tree: tree.clone(),
            _edits: std::marker::PhantomData,
            name,
            limits,
            live: BTreeMap::new(),
            gone: BTreeSet::new(),
            journal: None,
        }
    }

    /// Starts noting what the edits change, so that [`Edits::rollback`]
    /// can put them back as they are now (a savepoint already open is
    /// dropped). Costs a copy of each block taken out (an edit in place
    /// notes only the entry it changes), not of the edits.
    pub fn savepoint(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Keeps the changes since the savepoint, and stops noting them.
    pub fn release(&mut self) {
        self.journal = None;
    }

    /// Puts the edits back as they were at the savepoint, and stops noting
    /// changes. Without a savepoint, does nothing.
    pub fn rollback(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        for undo in journal.into_iter().rev() {
            match undo {
                Undo::Live(key, Some(block)) => {
                    self.live.insert(key, block);
                }
                Undo::Live(key, None) => {
                    self.live.remove(&key);
                }
                Undo::Gone(key, true) => {
                    self.gone.insert(key);
                }
                Undo::Gone(key, false) => {
                    self.gone.remove(&key);
                }
                Undo::Entry { block, key, before } => {
                    // Undone in reverse order, so the block is again as
                    // the change left it: at `block`, holding `key` iff
                    // the change put a value there.
                    let Some(entries) = self.live.get_mut(&block) else {
                        debug_assert!(false, "an entry's block is gone before its undo");
                        continue;
                    };
                    match (entries.binary_search_by(|(k, _)| k.as_slice().cmp(&key)), before) {
                        (Ok(i), Some(value)) => entries[i].1 = value,
                        (Ok(i), None) => {
                            entries.remove(i);
                        }
                        (Err(i), Some(value)) => entries.insert(i, (key, value)),
                        (Err(_), None) => {}
                    }
                }
            }
        }
    }

    /// Whether the journal has what `live` held at `key` at the savepoint
    /// already. Only a key's first change since the savepoint is noted: a
    /// rollback puts back each key's state from then, so later changes need
    /// no note (and a block edited entry by entry is copied once, not once
    /// per entry). A member notes a few keys, so a scan is cheap.
    fn noted_live(journal: &[Undo], key: &[u8]) -> bool {
        journal.iter().any(|undo| matches!(undo, Undo::Live(k, _) if k == key))
    }

    /// Takes the edited block at `key` out of `live` (noted for a rollback).
    fn live_remove(&mut self, key: &[u8]) -> Option<Vec<Entry>> {
        let block = self.live.remove(key);
        if let Some(journal) = self.journal.as_mut() {
            if !Self::noted_live(journal, key) {
                journal.push(Undo::Live(key.to_vec(), block.clone()));
            }
        }
        block
    }

    /// Puts an edited block in `live` (noted for a rollback).
    fn live_insert(&mut self, key: Vec<u8>, block: Vec<Entry>) {
        let noted = self
            .journal
            .as_ref()
            .is_some_and(|journal| !Self::noted_live(journal, &key))
            .then(|| key.clone());
        let before = self.live.insert(key, block);
        if let (Some(journal), Some(key)) = (self.journal.as_mut(), noted) {
            journal.push(Undo::Live(key, before));
        }
    }

    /// Marks a stored block as replaced (noted for a rollback, the first
    /// time since the savepoint, like [`Edits::live_remove`]).
    fn gone_insert(&mut self, key: Vec<u8>) {
        let noted = self
            .journal
            .as_ref()
            .is_some_and(|journal| !journal.iter().any(|undo| matches!(undo, Undo::Gone(k, _) if *k == key)))
            .then(|| key.clone());
        let new = self.gone.insert(key);
        if let (Some(journal), Some(key)) = (self.journal.as_mut(), noted) {
            journal.push(Undo::Gone(key, !new));
        }
    }

    /// The edited block whose span holds `key` (its first key at or below
    /// it, its own key at or above): its key, and its entries.
    fn live_holding(&mut self, key: &[u8]) -> Option<(&Vec<u8>, &mut Vec<Entry>)> {
        self.live
            .range_mut::<[u8], _>((Included(key), Unbounded))
            .next()
            .filter(|(_, block)| block.first().is_some_and(|(first, _)| first.as_slice() <= key))
    }

    /// Makes the change `put` (a value, or `None` to remove the entry)
    /// at `key` in place, when an edited block holds `key` and the change
    /// leaves it where it is: not its last entry (whose key is the
    /// block's), and no split. Most edits of a busy group are such (an
    /// entry into a block an earlier member edited), and in place they
    /// cost neither taking the block out of `live` and back nor, under a
    /// savepoint, a copy of the block for a rollback: the journal notes
    /// the entry's old value instead. `false` when the change must take
    /// the block out ([`Edits::take`]); nothing has changed then.
    fn edit_in_place(&mut self, key: &[u8], put: &mut Option<Vec<u8>>) -> bool {
        let limits = self.limits;
        let Some((block_key, entries)) = self.live_holding(key) else {
            return false;
        };
        let found = entries.binary_search_by(|(k, _)| k.as_slice().cmp(key));
        let last = entries.len() - 1;
        let fits = match (&found, put.as_ref()) {
            (Ok(i), Some(value)) if entries[*i].1 == *value => return true,
            (Ok(i), Some(value)) => {
                let bytes = encoded_len_hint(entries) + value.len() - entries[*i].1.len();
                entries.len() == 1 || bytes <= limits.max_bytes
            }
            (Err(_), Some(value)) => {
                let bytes = encoded_len_hint(entries) + key.len() + value.len() + 3;
                entries.len() < limits.max_entries && bytes <= limits.max_bytes
            }
            (Ok(i), None) => *i != last,
            (Err(_), None) => return true,
        };
        // An entry after the last one would re-key the block; the last
        // one removed too.
        let keeps_key = match found {
            Ok(_) => true,
            Err(i) => i <= last,
        };
        if !fits || !keeps_key || found == Ok(last) && put.is_none() {
            return false;
        }
        let block_key = block_key.clone();
        let before = match (found, put.take()) {
            (Ok(i), Some(value)) => Some(std::mem::replace(&mut entries[i].1, value)),
            (Ok(i), None) => Some(entries.remove(i).1),
            (Err(i), Some(value)) => {
                entries.insert(i, (key.to_vec(), value));
                None
            }
            (Err(_), None) => unreachable!("returned above"),
        };
        if let Some(journal) = self.journal.as_mut() {
            // A block noted whole is put back whole: its entries need no note.
            if !Self::noted_live(journal, &block_key) {
                journal.push(Undo::Entry {
                    block: block_key,
                    key: key.to_vec(),
                    before,
                });
            }
        }
        true
    }

    /// Inserts or replaces the entry at `key`.
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StoreError> {
        let mut put = Some(value);
        if self.edit_in_place(&key, &mut put) {
            return Ok(());
        }
        let Some(value) = put else {
            return Ok(());
        };
        let mut block = self.take(&key)?.unwrap_or(Taken {
            key: key.clone(),
            entries: Vec::new(),
            stored: false,
        });
        let changed = match block.entries.binary_search_by(|(k, _)| k.as_slice().cmp(&key)) {
            Ok(i) if block.entries[i].1 == value => false,
            Ok(i) => {
                block.entries[i].1 = value;
                true
            }
            Err(i) => {
                block.entries.insert(i, (key, value));
                true
            }
        };
        self.put_back(block, changed);
        Ok(())
    }

    /// Removes the entry at `key`, if there is one.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), StoreError> {
        if self.edit_in_place(key, &mut None) {
            return Ok(());
        }
        let Some(mut block) = self.take(key)? else {
            return Ok(());
        };
        let found = block.entries.binary_search_by(|(k, _)| k.as_slice().cmp(key));
        if let Ok(i) = found {
            block.entries.remove(i);
        }
        self.put_back(block, found.is_ok());
        Ok(())
    }

    /// Every block write, for the transaction: the key, and the encoded
    /// block or `None` to remove it.
    pub fn writes(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let removed = self.gone.iter().filter(|k| !self.live.contains_key(*k));
        removed
            .map(|key| (key.clone(), None))
            .chain(self.live.iter().map(|(key, block)| (key.clone(), Some(encode(block)))))
            .collect()
    }

    /// Edits that go on from these, for a write staged while these are
    /// being written: they read these edits' blocks, and never a stored
    /// block at a key these edits wrote (until [`Edits::prune`] says the
    /// tree holds them), so they read the same whether or not the tree
    /// has taken these edits yet.
    pub fn continued(&self) -> Edits<'t> {
        let mut gone = self.gone.clone();
        gone.extend(self.live.keys().cloned());
        Edits {
            tree: self.tree.clone(),
            _edits: std::marker::PhantomData,
            name: self.name,
            limits: self.limits,
            live: self.live.clone(),
            gone,
            journal: None,
        }
    }

    /// Drops what the tree now holds as these edits hold it, once `landed`
    /// (edits these were [`Edits::continued`] from, or that came before)
    /// are in the tree: a block these edits left as `landed` wrote it, and
    /// the mark of a block `landed` removed. What remains is what these
    /// edits change in the tree as it now is.
    pub fn prune(&mut self, landed: &Edits<'_>) {
        for (key, block) in &landed.live {
            if self.live.get(key) == Some(block) {
                self.live.remove(key);
                self.gone.remove(key);
            }
        }
        for key in landed.gone.iter().filter(|k| !landed.live.contains_key(*k)) {
            if !self.live.contains_key(key) {
                self.gone.remove(key);
            }
        }
    }

    /// Whether these edits change nothing.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.gone.is_empty()
    }

    /// Whether a stored block key still stands for a stored block.
    fn untouched(&self, key: &[u8]) -> bool {
        !self.gone.contains(key) && !self.live.contains_key(key)
    }

    /// The first untouched stored block among `blocks`: its key and bytes.
    fn first_untouched(
        &self,
        blocks: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    ) -> Result<Option<(Vec<u8>, sled::IVec)>, StoreError> {
        for item in blocks {
            let (key, bytes) = item.map_err(sled_err(format!("scanning `{}`", self.name)))?;
            if self.untouched(&key) {
                return Ok(Some((key.to_vec(), bytes)));
            }
        }
        Ok(None)
    }

    /// Takes out the block that holds `key` or would: the first block keyed
    /// at or after it, else the last block. `None` when there is no block.
    fn take(&mut self, key: &[u8]) -> Result<Option<Taken>, StoreError> {
        // Edited and stored blocks interleave; nothing stored past the
        // first edited candidate can come first, so the scans stop there.
        // Blocks never overlap (stored ones the edits left alone and edited
        // ones together cover each key once), so when `key` lies inside
        // the edited candidate's span, no stored block can come first, and
        // the scan of the tree (the dearest part of an edit of a block
        // edited before) is skipped.
        let (edited, inside) = match self.live.range::<[u8], _>((Included(key), Unbounded)).next() {
            Some((k, block)) => (
                Some(k.clone()),
                block.first().is_some_and(|(first, _)| first.as_slice() <= key),
            ),
            None => (None, false),
        };
        let stored = if inside {
            None
        } else {
            let upper = edited.as_deref().map_or(Unbounded, Excluded);
            self.first_untouched(self.tree.range::<&[u8], _>((Included(key), upper)))?
        };
        // A stored block comes with its bytes, read by the scan that found
        // it (not looked up again).
        let (block_key, stored) = match (edited, stored) {
            (_, Some((key, bytes))) => (key, Some(bytes)),
            (Some(e), None) => (e, None),
            (None, None) => {
                // Past every block: the last one takes the key.
                let edited = self.live.keys().next_back().cloned();
                let lower = edited.as_deref().map_or(Unbounded, Excluded);
                match self.first_untouched(self.tree.range::<&[u8], _>((lower, Unbounded)).rev())? {
                    Some((key, bytes)) => (key, Some(bytes)),
                    None => match edited {
                        Some(e) => (e, None),
                        None => return Ok(None),
                    },
                }
            }
        };
        let entries = match &stored {
            Some(bytes) => decode_block(self.name, &block_key, bytes)?,
            None => self.live_remove(&block_key).unwrap_or_default(),
        };
        Ok(Some(Taken {
            key: block_key,
            entries,
            stored: stored.is_some(),
        }))
    }

    /// Puts a taken block back: unchanged, as it was; changed, in its new
    /// place (split as needed, gone when empty).
    fn put_back(&mut self, block: Taken, changed: bool) {
        if !changed {
            if !block.stored {
                self.live_insert(block.key, block.entries);
            }
            return;
        }
        if block.stored {
            self.gone_insert(block.key);
        }
        let mut stack = vec![block.entries];
        while let Some(mut entries) = stack.pop() {
            if entries.is_empty() {
                continue;
            }
            let too_big = entries.len() > self.limits.max_entries
                || (entries.len() > 1 && encoded_len_hint(&entries) > self.limits.max_bytes);
            if too_big {
                let upper = entries.split_off(entries.len() / 2);
                stack.push(entries);
                stack.push(upper);
                continue;
            }
            let key = entries.last().map(|(k, _)| k.clone()).unwrap_or_default();
            self.live_insert(key, entries);
        }
    }
}

/// Groups a bulk load's entries, arriving in key order, into blocks.
pub struct Packer {
    block: Vec<Entry>,
    bytes: usize,
    limits: Limits,
}

impl Packer {
    /// Fills blocks as [`Limits::fill_entries`] and [`Limits::fill_bytes`] say.
    pub fn new(limits: Limits) -> Packer {
        Packer {
            block: Vec::new(),
            bytes: 0,
            limits,
        }
    }

    /// Adds an entry; returns a block (key and bytes) once one is full.
    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<(Vec<u8>, Vec<u8>)> {
        self.bytes += key.len() + value.len() + 3;
        self.block.push((key, value));
        (self.block.len() >= self.limits.fill_entries() || self.bytes >= self.limits.fill_bytes()).then(|| self.take())
    }

    /// The last, partly filled block, if any.
    pub fn finish(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        (!self.block.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> (Vec<u8>, Vec<u8>) {
        let block = std::mem::take(&mut self.block);
        self.bytes = 0;
        let key = block.last().map(|(k, _)| k.clone()).unwrap_or_default();
        (key, encode(&block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Limits {
        Limits {
            max_entries: 4,
            max_bytes: 64,
        }
    }

    fn apply(tree: &sled::Tree, edits: &Edits<'_>) {
        for (key, value) in edits.writes() {
            match value {
                Some(v) => tree.insert(key, v).unwrap(),
                None => tree.remove(key).unwrap(),
            };
        }
    }

    fn all(tree: &sled::Tree, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>, reverse: bool) -> Vec<Entry> {
        Range::new(tree, "t", lower, upper, reverse)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// An entry put into (or replaced, or removed from) the middle of a
    /// block edited before the savepoint is edited in place: the journal
    /// notes the entry's old value, not a copy of the block; an entry
    /// past the block's last key (which re-keys it) takes the block out
    /// and notes it whole. A rollback puts back exactly what was there.
    #[test]
    fn edits_inside_an_edited_block_note_entries_not_blocks() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let mut edits = Edits::new(&tree, "t", Limits::DEFAULT);
        for key in [b"a", b"c", b"e", b"g"] {
            edits.insert(key.to_vec(), b"1".to_vec()).unwrap();
        }
        let before = edits.writes();
        edits.savepoint();
        edits.insert(b"b".to_vec(), b"2".to_vec()).unwrap();
        edits.insert(b"c".to_vec(), b"2".to_vec()).unwrap();
        edits.remove(b"e").unwrap();
        let journal = edits.journal.as_ref().unwrap();
        assert_eq!(journal.len(), 3);
        assert!(journal.iter().all(|undo| matches!(undo, Undo::Entry { .. })));
        edits.insert(b"h".to_vec(), b"2".to_vec()).unwrap();
        let journal = edits.journal.as_ref().unwrap();
        assert!(matches!(journal.get(3), Some(Undo::Live(key, Some(_))) if key == b"g"));
        edits.rollback();
        assert_eq!(edits.writes(), before);
    }

    #[test]
    fn blocks_round_trip() {
        let entries: Vec<Entry> = vec![
            (b"abc".to_vec(), vec![]),
            (b"abd".to_vec(), b"v".to_vec()),
            (b"b".to_vec(), vec![0; 300]),
        ];
        assert_eq!(decode(&encode(&entries)), Some(entries));
        assert_eq!(decode(&encode(&[])), Some(vec![]));
        assert_eq!(decode(&[3, 0]), None);
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0u8..4, 0..4)
    }

    fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
        prop_oneof![Just(Unbounded), key().prop_map(Included), key().prop_map(Excluded),]
    }

    proptest! {
        /// Batches of inserts and removes, each written like a transaction,
        /// read back like a BTreeMap, whole and between random bounds.
        #[test]
        fn behaves_like_a_map(
            batches in prop::collection::vec(
                prop::collection::vec((any::<bool>(), key(), prop::collection::vec(any::<u8>(), 0..20)), 1..12),
                1..8,
            ),
            probes in prop::collection::vec((bound(), bound()), 4),
        ) {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let tree = db.open_tree("t").unwrap();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for batch in batches {
                let mut edits = Edits::new(&tree, "t", small());
                for (put, key, value) in batch {
                    if put {
                        edits.insert(key.clone(), value.clone()).unwrap();
                        model.insert(key, value);
                    } else {
                        edits.remove(&key).unwrap();
                        model.remove(&key);
                    }
                }
                apply(&tree, &edits);
                prop_assert_eq!(check(&tree, "t").unwrap(), Vec::<String>::new());
                let want: Vec<Entry> = model.clone().into_iter().collect();
                prop_assert_eq!(all(&tree, Unbounded, Unbounded, false), want);
                for (key, value) in &model {
                    prop_assert_eq!(get(&tree, "t", key).unwrap(), Some(value.clone()));
                }
                let mut probes: Vec<Vec<u8>> = (0..24u8).map(|n| vec![n % 4, n / 4 % 4]).collect();
                probes.extend(model.keys().cloned());
                probes.sort();
                let keys: Vec<&[u8]> = probes.iter().map(Vec::as_slice).collect();
                let found = get_sorted(&tree, "t", &keys).unwrap();
                for (key, value) in keys.iter().zip(found) {
                    prop_assert_eq!(value.as_ref(), model.get(*key));
                }
            }
            for (lower, upper) in probes {
                let mut want: Vec<Entry> = model
                    .iter()
                    .filter(|(k, _)| above_lower(&lower, k) && below_upper(&upper, k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(all(&tree, lower.clone(), upper.clone(), false), want.clone());
                prop_assert_eq!(count(&tree, "t", lower.clone(), upper.clone()).unwrap(), want.len());
                let at_most = count_at_most(&tree, "t", lower.clone(), upper.clone(), 3).unwrap();
                prop_assert!(at_most == want.len() || (3..=want.len()).contains(&at_most), "{} of {}", at_most, want.len());
                want.reverse();
                prop_assert_eq!(all(&tree, lower, upper, true), want);
            }
        }

        /// Edits, a savepoint, more edits (the same blocks edited entry by
        /// entry, split and emptied), a rollback: the edits write exactly
        /// what they wrote at the savepoint; without the rollback, what a
        /// map of all the edits holds.
        #[test]
        fn a_rollback_puts_the_edits_back_as_they_were_at_the_savepoint(
            stored in prop::collection::vec((key(), prop::collection::vec(any::<u8>(), 0..20)), 0..12),
            before in prop::collection::vec((any::<bool>(), key(), prop::collection::vec(any::<u8>(), 0..20)), 0..12),
            after in prop::collection::vec((any::<bool>(), key(), prop::collection::vec(any::<u8>(), 0..20)), 1..16),
            roll_back in any::<bool>(),
        ) {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let tree = db.open_tree("t").unwrap();
            let mut seed = Edits::new(&tree, "t", small());
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (key, value) in stored {
                seed.insert(key.clone(), value.clone()).unwrap();
                model.insert(key, value);
            }
            apply(&tree, &seed);
            let edit = |edits: &mut Edits<'_>, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[(bool, Vec<u8>, Vec<u8>)]| {
                for (put, key, value) in ops {
                    if *put {
                        edits.insert(key.clone(), value.clone()).unwrap();
                        model.insert(key.clone(), value.clone());
                    } else {
                        edits.remove(key).unwrap();
                        model.remove(key);
                    }
                }
            };
            let mut edits = Edits::new(&tree, "t", small());
            edit(&mut edits, &mut model, &before);
            let at_savepoint = (edits.writes(), model.clone());
            edits.savepoint();
            edit(&mut edits, &mut model, &after);
            if roll_back {
                edits.rollback();
                model = at_savepoint.1.clone();
                prop_assert_eq!(edits.writes(), at_savepoint.0);
            } else {
                edits.release();
            }
            // Either way, the edits go on from there as a map would.
            edit(&mut edits, &mut model, &after);
            apply(&tree, &edits);
            prop_assert_eq!(check(&tree, "t").unwrap(), Vec::<String>::new());
            let want: Vec<Entry> = model.into_iter().collect();
            prop_assert_eq!(all(&tree, Unbounded, Unbounded, false), want);
        }

        /// A write committed in the middle of a scan (splitting and re-keying
        /// blocks) never makes the scan repeat an entry or miss one the write
        /// did not remove (a value replaced in place included).
        #[test]
        fn a_scan_survives_a_write_in_its_middle(
            start in prop::collection::btree_set(key(), 0..40),
            edits in prop::collection::vec((any::<bool>(), key()), 1..16),
            read_first in 0usize..20,
            reverse in any::<bool>(),
        ) {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let tree = db.open_tree("t").unwrap();
            let mut before = Edits::new(&tree, "t", small());
            for k in &start {
                before.insert(k.clone(), vec![1]).unwrap();
            }
            apply(&tree, &before);
            let mut range = Range::new(&tree, "t", Unbounded, Unbounded, reverse);
            let mut seen: Vec<Vec<u8>> = Vec::new();
            for entry in range.by_ref().take(read_first) {
                seen.push(entry.unwrap().0);
            }
            let mut kept = start.clone();
            let mut write = Edits::new(&tree, "t", small());
            for (put, k) in edits {
                if put {
                    write.insert(k.clone(), vec![2]).unwrap();
                } else {
                    write.remove(&k).unwrap();
                    kept.remove(&k);
                }
            }
            apply(&tree, &write);
            for entry in range {
                seen.push(entry.unwrap().0);
            }
            let ordered = seen.windows(2).all(|w| if reverse { w[0] > w[1] } else { w[0] < w[1] });
            prop_assert!(ordered, "out of order or repeated: {:?}", seen);
            for k in &kept {
                prop_assert!(seen.contains(k), "{:?} was missed: {:?}", k, seen);
            }
        }

        /// A bulk load's blocks read back as the entries that went in.
        #[test]
        fn packed_blocks_read_back(keys in prop::collection::btree_set(prop::collection::vec(any::<u8>(), 1..6), 0..200)) {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let tree = db.open_tree("t").unwrap();
            let mut packer = Packer::new(Limits::DEFAULT);
            for key in &keys {
                if let Some((k, v)) = packer.push(key.clone(), key.clone()) {
                    tree.insert(k, v).unwrap();
                }
            }
            if let Some((k, v)) = packer.finish() {
                tree.insert(k, v).unwrap();
            }
            let want: Vec<Entry> = keys.iter().map(|k| (k.clone(), k.clone())).collect();
            prop_assert_eq!(all(&tree, Unbounded, Unbounded, false), want);
            prop_assert_eq!(check(&tree, "t").unwrap(), Vec::<String>::new());
        }
    }
}
