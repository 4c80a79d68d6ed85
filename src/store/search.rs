//! Search: the token index, ranked by how closely each word matched, field
//! weight and name coverage.

use std::ops::Bound::{Excluded, Included};

use rustc_hash::FxHashMap;

use super::trees::TreeRef;
use super::{keys, packed, Store, StoreError};
use crate::model::{text, Id, LABEL_WEIGHT};

/// Most index entries a search word's prefix matches are read (whole-word
/// matches are always read in full).
pub const MAX_PREFIX_HITS: usize = 2_000;

/// Most indexed words a query word's typos are looked up as (the nearest).
pub const MAX_TYPO_WORDS: usize = 16;

/// Most index entries read for one query word's transliterations and
/// typos together, so a forgiving search stays bounded whatever the words.
const MAX_FORGIVEN_HITS: usize = 4_000;

/// Most words of a query that are looked up.
const MAX_QUERY_WORDS: usize = 16;

/// Past how many index entries a query word counts as large when the
/// words are ordered, smallest first.
const SIZE_WORDS_UP_TO: usize = 8_192;

/// The entities every word so far matched, with what they scored.
type Candidates = FxHashMap<Id, (usize, f64, Tier, usize, u8)>;

/// How far a forgiving search may stray from the words asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Forgive {
    /// Whole words and the words they begin only.
    Nothing,
    /// Also other romanisations (transliteration keys) and typos.
    Spellings,
}

/// How closely an entity matched a query word: lower is closer. Every hit
/// of a closer tier ranks before every hit of a farther one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Tier {
    Exact = 0,
    Transliteration = 1,
    Typo = 2,
}

impl Tier {
    /// What a hit's score is divided by: a query word scores at most 4
    /// (65 for a whole query, with the name bonus), and at least 0.5 for a
    /// whole-word or prefix match, so a thousandfold step keeps the tiers
    /// apart in a single score.
    fn divisor(self) -> f64 {
        1000f64.powi(self as i32)
    }
}

/// The best match of one query word in one entity.
#[derive(Clone, Copy)]
struct WordMatch {
    tier: Tier,
    score: f64,
    in_label: bool,
    label_len: u8,
}

impl Store {
    /// Entities whose indexed text matches the folded `query`, best first.
    /// Each query word matches an indexed word it equals or begins; the score
    /// adds the best field weight per word (names 4, aliases 3, provisions
    /// and figures 2, summaries and notes 1), halved for a prefix match, and
    /// an entity must match every word. Ties go to the entity whose name the
    /// query covers best ("Kokoity" ranks the man above an event whose long
    /// title mentions him). `min_weight` restricts matching to names (4) or
    /// names and aliases (3).
    pub fn search(&self, query: &str, min_weight: u8) -> Result<Vec<(Id, f64)>, StoreError> {
        self.ranked(query, min_weight, Forgive::Nothing)
    }

    /// Like [`Store::search`], and a query word also matches another
    /// romanisation of it (its transliteration key, see
    /// [`text::variant`]) and, from five letters, words one typo away (two
    /// from eight letters; see [`text::typos`]), the nearest
    /// [`MAX_TYPO_WORDS`] of them. An entity's tier is its farthest word's:
    /// hits whose every word matched as asked come first, then those that
    /// needed a transliteration, then those that needed a typo forgiven; a
    /// tier divides the score by 1000 per step, so the score still orders
    /// the hits. At most `limit` hits.
    pub fn search_forgiving(&self, query: &str, limit: usize) -> Result<Vec<(Id, f64)>, StoreError> {
        if let Some(top) = self.top_by_name(query, limit)? {
            return Ok(top);
        }
        let mut hits = self.ranked(query, 1, Forgive::Spellings)?;
        hits.truncate(limit);
        Ok(hits)
    }

    fn ranked(&self, query: &str, min_weight: u8, forgive: Forgive) -> Result<Vec<(Id, f64)>, StoreError> {
        self.count_read();
        let mut words: Vec<String> = text::fold(query)
            .split(' ')
            .filter(|w| !w.is_empty())
            .take(MAX_QUERY_WORDS)
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        // An entity must match every word, so only the first word's
        // matches can: the word with the fewest index entries goes first,
        // and the others' entries are kept only for entities it matched
        // (looked up by the id's text, never parsed). Scores are sums of
        // halves, so the order they are added in changes nothing.
        let mut expected = 0;
        if words.len() > 1 {
            let mut sized = Vec::with_capacity(words.len());
            for word in words {
                sized.push((self.word_entries_at_most(&word, SIZE_WORDS_UP_TO)?, word));
            }
            sized.sort_by_key(|(n, _)| *n);
            expected = sized[0].0.min(SIZE_WORDS_UP_TO);
            words = sized.into_iter().map(|(_, word)| word).collect();
        }
        // id → (words matched so far, score, farthest tier, words matched in the name, name length)
        let mut scores: Candidates = FxHashMap::with_capacity_and_hasher(expected, Default::default());
        for (i, word) in words.iter().enumerate() {
            let mut best: FxHashMap<Id, WordMatch> =
                FxHashMap::with_capacity_and_hasher(if i == 0 { expected } else { scores.len() }, Default::default());
            let only = (i > 0).then_some(&scores);
            self.word_matches(word, min_weight, only, &mut best)?;
            if forgive == Forgive::Spellings {
                self.forgiven_matches(word, min_weight, only, &mut best)?;
            }
            for (id, m) in best {
                let entry = scores.entry(id).or_insert((0, 0.0, Tier::Exact, 0, m.label_len));
                if entry.0 == i {
                    entry.0 = i + 1;
                    entry.1 += m.score;
                    entry.2 = entry.2.max(m.tier);
                    entry.3 += usize::from(m.in_label);
                }
            }
        }
        let mut hits: Vec<(Id, f64)> = scores
            .into_iter()
            .filter(|(_, (matched, ..))| *matched == words.len())
            .map(|(id, (_, score, tier, in_label, label_len))| {
                (id, (score + in_label as f64 / f64::from(label_len)) / tier.divisor())
            })
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(hits)
    }

    /// How many index entries `word` and the words it begins have, counted
    /// by blocks and at most about `limit` (to order a query's words).
    fn word_entries_at_most(&self, word: &str, limit: usize) -> Result<usize, StoreError> {
        let tree = TreeRef::SearchTokens;
        let (lower, upper) = packed::prefix_bounds(word.as_bytes());
        packed::count_at_most(&self.tree(tree)?, self.name(tree), lower, upper, limit)
    }

    /// Entities holding `word` or a word it begins.
    /// With `only`, entities it does not hold are passed over.
    fn word_matches(
        &self,
        word: &str,
        min_weight: u8,
        only: Option<&Candidates>,
        best: &mut FxHashMap<Id, WordMatch>,
    ) -> Result<(), StoreError> {
        let tree = TreeRef::SearchTokens;
        // Whole-word matches first (`word ‖ 0xff …` sorts after longer
        // words sharing the prefix), all of them; then words it begins,
        // at most MAX_PREFIX_HITS, so a short common prefix stays cheap.
        let exact = self.index_prefix(tree, &keys::prefix(word.as_bytes()))?;
        // The longer words sort between `word` and `word ‖ 0xff` (no
        // folded word holds that byte), before the whole word's entries.
        let longer = packed::Range::new(
            &self.tree(tree)?,
            self.name(tree),
            Included(word.as_bytes().to_vec()),
            Excluded(keys::prefix(word.as_bytes())),
            false,
        )
        .take(MAX_PREFIX_HITS);
        for item in exact.chain(longer) {
            let (key, _) = item?;
            let whole = keys::first(&key) == word.as_bytes();
            self.note_entry(&key, min_weight, only, Tier::Exact, if whole { 1.0 } else { 0.5 }, best)?;
        }
        Ok(())
    }

    /// Entities holding another romanisation of `word`, or a word one or
    /// two typos away, within [`MAX_FORGIVEN_HITS`] index entries. With
    /// `only`, entities it does not hold are passed over.
    fn forgiven_matches(
        &self,
        word: &str,
        min_weight: u8,
        only: Option<&Candidates>,
        best: &mut FxHashMap<Id, WordMatch>,
    ) -> Result<(), StoreError> {
        let tree = TreeRef::SearchTokens;
        let key = text::variant(word);
        let mut lists: Vec<(Vec<u8>, Tier)> = vec![(keys::variant_word(&key), Tier::Transliteration)];
        if key != word {
            // Words that are their own key are listed under themselves.
            lists.push((key.into_bytes(), Tier::Transliteration));
        }
        if text::typo_allowance(word) > 0 {
            for (near, _) in self.words_near(word, MAX_TYPO_WORDS)? {
                lists.push((near.into_bytes(), Tier::Typo));
            }
        }
        let mut budget = MAX_FORGIVEN_HITS;
        for (listed, tier) in lists {
            for item in self.index_prefix(tree, &keys::prefix(&listed))?.take(budget) {
                let (key, _) = item?;
                budget -= 1;
                self.note_entry(&key, min_weight, only, tier, 1.0, best)?;
            }
        }
        Ok(())
    }

    /// Records the match an index entry stands for, if it is the entity's
    /// best for the word so far (and, with `only`, an entity it holds).
    fn note_entry(
        &self,
        key: &[u8],
        min_weight: u8,
        only: Option<&Candidates>,
        tier: Tier,
        factor: f64,
        best: &mut FxHashMap<Id, WordMatch>,
    ) -> Result<(), StoreError> {
        if let Some(only) = only {
            let held = keys::split_search(key)
                .and_then(|(_, _, id)| std::str::from_utf8(id).ok())
                .is_some_and(|id| only.contains_key(id));
            if !held {
                return Ok(());
            }
        }
        let (weight, label_len, id) = self.search_entry(key)?;
        if weight < min_weight {
            return Ok(());
        }
        let found = WordMatch {
            tier,
            score: f64::from(weight) * factor,
            in_label: weight >= LABEL_WEIGHT,
            label_len,
        };
        match best.entry(id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let known = e.get_mut();
                if found.tier < known.tier {
                    *known = found;
                } else if found.tier == known.tier {
                    known.score = known.score.max(found.score);
                    known.in_label |= found.in_label;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(found);
            }
        }
        Ok(())
    }

    /// The best `limit` hits of [`Store::search`], in its order. A one-word
    /// query that names at least `limit` entities in full is answered from
    /// the first `limit` index entries alone: the index lists a word's
    /// entities by weight, then by how short their name is, then by id,
    /// which is the ranking order, and a whole-word name match outranks
    /// every other kind of match. Anything else ranks every match.
    pub fn search_top(&self, query: &str, min_weight: u8, limit: usize) -> Result<Vec<(Id, f64)>, StoreError> {
        if let Some(top) = self.top_by_name(query, limit)? {
            return Ok(top);
        }
        let mut hits = self.search(query, min_weight)?;
        hits.truncate(limit);
        Ok(hits)
    }

    /// The one-word shortcut of [`Store::search_top`]: `None` unless the
    /// query is one word that at least `limit` names hold whole. Such
    /// matches outrank every other, forgiving or not.
    fn top_by_name(&self, query: &str, limit: usize) -> Result<Option<Vec<(Id, f64)>>, StoreError> {
        let folded = text::fold(query);
        let mut words = folded.split(' ').filter(|w| !w.is_empty());
        let (Some(word), None, true) = (words.next(), words.next(), limit > 0) else {
            return Ok(None);
        };
        self.count_read();
        let mut top = Vec::with_capacity(limit.min(MAX_QUERY_WORDS));
        for item in self.index_prefix(TreeRef::SearchTokens, &keys::prefix(word.as_bytes()))? {
            let (key, _) = item?;
            let (weight, label_len, id) = self.search_entry(&key)?;
            if weight < LABEL_WEIGHT {
                break;
            }
            top.push((id, f64::from(weight) + 1.0 / f64::from(label_len)));
            if top.len() == limit {
                return Ok(Some(top));
            }
        }
        Ok(None)
    }

    /// (weight, name length in words, id) of a search index key.
    fn search_entry(&self, key: &[u8]) -> Result<(u8, u8, Id), StoreError> {
        let (weight, label_len, id) = keys::split_search(key).ok_or_else(|| StoreError::Corrupt {
            tree: self.name(TreeRef::SearchTokens),
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "not a search index key".into(),
        })?;
        Ok((weight, label_len.max(1), self.id_in(TreeRef::SearchTokens, key, id)?))
    }
}
