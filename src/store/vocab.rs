//! The search vocabulary: every distinct word of the search index, held in
//! memory and grouped by length, so a query word's typos are found by
//! comparing it with the words of nearby lengths only (a typo changes a
//! length by one at most), never by reading the index.
//!
//! It is derived: built from the search tree on the first search that
//! forgives typos, then extended with the words of each landed group. A
//! word whose last entity is deleted stays in it; it only leads to an index
//! read that finds nothing. When the store's generation moved without a
//! landed group telling it (a bulk load, a reopened database), it is built
//! again.

use std::collections::HashSet;
use std::sync::RwLock;

use super::keys::{self, VARIANT_MARK};
use super::trees::TreeRef;
use super::{Changed, Store, StoreError};
use crate::model::text;

/// Most bytes of words the vocabulary holds; past it, new words are not
/// added (their typos go unforgiven) and a warning is logged once.
pub const MAX_VOCABULARY_BYTES: usize = 64 * 1024 * 1024;

/// What a word costs in memory beyond its text and its characters: its
/// entry in the set (a boxed string and the table's slot), its entry in
/// the list of its length (a boxed slice, and the list's spare room), and
/// the allocator's rounding of both allocations.
const WORD_OVERHEAD_BYTES: usize = 64;

/// Shortest word kept: a five-letter query word forgives one typo, so its
/// nearest words have four letters or more; three leaves room.
const MIN_WORD_CHARS: usize = 3;

/// The words, by length in characters.
#[derive(Default)]
pub(super) struct Vocabulary {
    /// The store generation the vocabulary is complete for.
    pub(super) generation: u64,
    words: HashSet<Box<str>>,
    /// The words as characters, so a comparison decodes nothing.
    by_len: Vec<Vec<Box<[char]>>>,
    bytes: usize,
    full: bool,
}

impl Vocabulary {
    /// Adds a folded word if it can be a typo's intended word.
    fn add(&mut self, word: &str) {
        let chars = word.chars().count();
        if chars < MIN_WORD_CHARS || !word.chars().all(char::is_alphabetic) || self.words.contains(word) {
            return;
        }
        let cost = word.len() + 4 * chars + WORD_OVERHEAD_BYTES;
        if self.bytes + cost > MAX_VOCABULARY_BYTES {
            if !self.full {
                tracing::warn!(
                    bytes = self.bytes,
                    "the search vocabulary is full: typos of newer words are not forgiven"
                );
            }
            self.full = true;
            return;
        }
        // The word twice: as text and as characters.
        self.bytes += cost;
        if self.by_len.len() <= chars {
            self.by_len.resize_with(chars + 1, Vec::new);
        }
        self.by_len[chars].push(word.chars().collect());
        self.words.insert(word.into());
    }

    /// The words `word` may be a typo of, fewest typos first, then in
    /// alphabetical order; at most `limit`.
    fn near(&self, word: &str, limit: usize) -> Vec<(String, usize)> {
        let allowance = text::typo_allowance(word);
        let len = word.chars().count();
        let mut typos = text::Typos::new(word);
        let mut out: Vec<(String, usize)> = Vec::new();
        for candidates in self
            .by_len
            .iter()
            .take(len + allowance + 1)
            .skip(len.saturating_sub(allowance))
        {
            for candidate in candidates {
                if let Some(n) = typos.count(candidate) {
                    out.push((candidate.iter().collect(), n));
                }
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(limit);
        out
    }
}

/// A key past every entry of `word` and before the next word's. An entry is
/// `word ‖ 0xff ‖ 255 − weight ‖ name length ‖ id` ([`keys::search`]): the
/// two bytes after the separator may be 0xff too, an id's first byte never
/// is, and a word never holds the separator, so four 0xff bytes pass them
/// all. A variant entry (its mark, then more) is passed with every other
/// variant: they sort before every word.
fn past_word(word: &[u8]) -> Vec<u8> {
    if word.first() == Some(&VARIANT_MARK) {
        return vec![VARIANT_MARK + 1];
    }
    let mut key = Vec::with_capacity(word.len() + 2);
    key.extend_from_slice(word);
    key.extend_from_slice(&[keys::SEP; 4]);
    key
}

/// The shared slot the store keeps its vocabulary in (`None`: not built).
pub(super) type Slot = RwLock<Option<Vocabulary>>;

impl Store {
    /// Indexed words `word` may be a typo of (see [`Vocabulary::near`]),
    /// building the vocabulary first when it is missing or behind.
    pub(super) fn words_near(&self, word: &str, limit: usize) -> Result<Vec<(String, usize)>, StoreError> {
        let generation = self.current_generation();
        {
            let slot = self.inner.vocabulary.read().unwrap_or_else(|p| p.into_inner());
            if let Some(vocabulary) = slot.as_ref().filter(|v| v.generation == generation) {
                return Ok(vocabulary.near(word, limit));
            }
        }
        let built = self.build_vocabulary(generation)?;
        let near = built.near(word, limit);
        let mut slot = self.inner.vocabulary.write().unwrap_or_else(|p| p.into_inner());
        // A landed group may have replaced it meanwhile with a newer one.
        if slot.as_ref().is_none_or(|v| v.generation <= built.generation) {
            *slot = Some(built);
        }
        Ok(near)
    }

    /// Builds the vocabulary now if it is missing or behind, so the first
    /// search that forgives a typo does not pay for it (start-up calls it
    /// in the background once the store is whole).
    pub fn warm_search(&self) -> Result<(), StoreError> {
        self.words_near("", 0).map(drop)
    }

    /// The bytes the search vocabulary holds, as counted against its bound
    /// (0 until it is built).
    pub fn vocabulary_bytes(&self) -> usize {
        let slot = self.inner.vocabulary.read().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().map_or(0, |v| v.bytes)
    }

    /// Reads every distinct word of the search tree: the first entry of
    /// each word, then a seek past the word's other entries (a common word
    /// holds thousands), so the build reads about one block per word
    /// rather than the whole tree, whose blocks would pass through sled's
    /// cache and the building thread's memory.
    fn build_vocabulary(&self, generation: u64) -> Result<Vocabulary, StoreError> {
        let mut vocabulary = Vocabulary {
            generation,
            ..Vocabulary::default()
        };
        let mut entries = self.index_prefix(TreeRef::SearchTokens, &[])?;
        while let Some(item) = entries.next() {
            let (key, _) = item?;
            let word = keys::first(&key);
            entries.skip_to(past_word(word));
            if word.first() == Some(&VARIANT_MARK) {
                continue;
            }
            if let Ok(word) = std::str::from_utf8(word) {
                vocabulary.add(word);
            }
        }
        tracing::debug!(
            words = vocabulary.words.len(),
            bytes = vocabulary.bytes,
            "search vocabulary built"
        );
        Ok(vocabulary)
    }

    /// Adds the words of a landed group's entities, if the vocabulary was
    /// complete up to the group (`before`); it is then complete up to `after`.
    pub(super) fn extend_vocabulary<'a>(&self, changes: impl Iterator<Item = &'a Changed>, before: u64, after: u64) {
        let mut slot = self.inner.vocabulary.write().unwrap_or_else(|p| p.into_inner());
        let Some(vocabulary) = slot.as_mut().filter(|v| v.generation == before) else {
            return;
        };
        for entity in changes.filter_map(|c| c.entity.as_ref()) {
            for (_, text, _) in entity.search_text() {
                for word in text::tokens(&text) {
                    vocabulary.add(&word);
                }
            }
        }
        vocabulary.generation = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;
    use crate::store::tests::{actor, create};

    /// A word of three letters or more, different for each `n`.
    fn word(n: usize) -> String {
        let letter = |k: usize| char::from(b'a' + (k % 26) as u8);
        format!("q{}{}{}", letter(n / 676), letter(n / 26), letter(n))
    }

    #[test]
    fn the_vocabulary_skips_over_each_words_entries_and_still_finds_every_word() {
        let store = Store::temporary().unwrap();
        // Every actor shares two words (their entries fill many blocks)
        // and has a word of its own in between, in key order.
        let actors: Vec<_> = (0..400)
            .map(|n| {
                let mut entity = actor(n);
                if let Entity::Actor(a) = &mut entity {
                    a.name = format!("Mamisoni {} Zemo", word(n));
                }
                create(entity)
            })
            .collect();
        store.apply(&actors, true).unwrap();
        let mut read_whole: HashSet<String> = HashSet::new();
        for item in store.index_prefix(TreeRef::SearchTokens, &[]).unwrap() {
            let (key, _) = item.unwrap();
            let word = keys::first(&key);
            if word.first() != Some(&VARIANT_MARK) {
                let word = std::str::from_utf8(word).unwrap();
                if word.chars().count() >= MIN_WORD_CHARS && word.chars().all(char::is_alphabetic) {
                    read_whole.insert(word.to_owned());
                }
            }
        }
        assert!(read_whole.contains("mamisoni") && read_whole.contains("zemo") && read_whole.contains(&word(399)));
        let built = store.build_vocabulary(store.current_generation()).unwrap();
        let built: HashSet<String> = built.words.iter().map(|w| w.to_string()).collect();
        assert_eq!(built, read_whole);
    }
}
