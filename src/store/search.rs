//! Search: the token index, ranked by field weight and name coverage.

use std::collections::HashMap;

use super::trees::TreeRef;
use super::{keys, Store, StoreError};
use crate::model::{text, Id};

/// Most index entries a search word's prefix matches are read (whole-word
/// matches are always read in full).
pub const MAX_PREFIX_HITS: usize = 2_000;

/// The search weight of a word in an entity's name (aliases 3, summaries 1).
const NAME_WEIGHT: u8 = 4;

impl Store {
    /// Entities whose indexed text matches the folded `query`, best first.
    /// Each query word matches an indexed word it equals or begins; the score
    /// adds the best field weight per word (names 4, aliases 3, summaries 1),
    /// halved for a prefix match, and an entity must match every word. Ties
    /// go to the entity whose name the query covers best ("Kokoity" ranks the
    /// man above an event whose long title mentions him).
    /// `min_weight` restricts matching to names (4) or names and aliases (3).
    pub fn search(&self, query: &str, min_weight: u8) -> Result<Vec<(Id, f64)>, StoreError> {
        self.count_read();
        let words: Vec<String> = text::fold(query)
            .split(' ')
            .filter(|w| !w.is_empty())
            .take(16)
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let tree = TreeRef::SearchTokens;
        // id → (words matched so far, score, words matched in the name, name length)
        let mut scores: HashMap<Id, (usize, f64, usize, u8)> = HashMap::new();
        for (i, word) in words.iter().enumerate() {
            let mut best: HashMap<Id, (f64, bool, u8)> = HashMap::new();
            // Whole-word matches first (`word ‖ 0xff …` sorts after longer
            // words sharing the prefix), all of them; then words it begins,
            // at most MAX_PREFIX_HITS, so a short common prefix stays cheap.
            let exact = self.index_prefix(tree, &keys::prefix(word.as_bytes()))?;
            let longer = self
                .index_prefix(tree, word.as_bytes())?
                .filter(|item| item.as_ref().map_or(true, |(k, _)| keys::first(k) != word.as_bytes()))
                .take(MAX_PREFIX_HITS);
            for item in exact.chain(longer) {
                let (key, _) = item?;
                let (weight, label_len, id) = self.search_entry(&key)?;
                if weight < min_weight {
                    continue;
                }
                let exact = keys::first(&key) == word.as_bytes();
                let score = f64::from(weight) * if exact { 1.0 } else { 0.5 };
                let entry = best.entry(id).or_insert((0.0, false, label_len));
                entry.0 = entry.0.max(score);
                entry.1 |= weight >= 4;
            }
            for (id, (score, in_label, label_len)) in best {
                let entry = scores.entry(id).or_insert((0, 0.0, 0, label_len));
                if entry.0 == i {
                    entry.0 = i + 1;
                    entry.1 += score;
                    entry.2 += usize::from(in_label);
                }
            }
        }
        let mut hits: Vec<(Id, f64)> = scores
            .into_iter()
            .filter(|(_, (matched, ..))| *matched == words.len())
            .map(|(id, (_, score, in_label, label_len))| (id, score + in_label as f64 / f64::from(label_len)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(hits)
    }

    /// The best `limit` hits of [`Store::search`], in its order. A one-word
    /// query that names at least `limit` entities in full is answered from
    /// the first `limit` index entries alone: the index lists a word's
    /// entities by weight, then by how short their name is, then by id,
    /// which is the ranking order, and a whole-word name match outranks
    /// every other kind of match. Anything else ranks every match.
    pub fn search_top(&self, query: &str, min_weight: u8, limit: usize) -> Result<Vec<(Id, f64)>, StoreError> {
        let folded = text::fold(query);
        let mut words = folded.split(' ').filter(|w| !w.is_empty());
        if let (Some(word), None, true) = (words.next(), words.next(), limit > 0) {
            self.count_read();
            let mut top = Vec::with_capacity(limit);
            for item in self.index_prefix(TreeRef::SearchTokens, &keys::prefix(word.as_bytes()))? {
                let (key, _) = item?;
                let (weight, label_len, id) = self.search_entry(&key)?;
                if weight < NAME_WEIGHT {
                    break;
                }
                top.push((id, f64::from(weight) + 1.0 / f64::from(label_len)));
                if top.len() == limit {
                    return Ok(top);
                }
            }
        }
        let mut hits = self.search(query, min_weight)?;
        hits.truncate(limit);
        Ok(hits)
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
