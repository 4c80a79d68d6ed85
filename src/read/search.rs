//! Search that forgives, and what each hit matched: the field the words
//! were found in, how closely, and where (a snippet with the matching words'
//! ranges). The store finds and ranks the hits ([`Store::search_forgiving`]);
//! the matches are worked out here from the hit's own text, with the same
//! folding, transliteration keys and typo rule, over the same fields
//! ([`model::Entity::search_text`]).

use crate::model::{self, text, Id, MatchKind, SearchField};
use crate::read::cache::Entity;
use crate::read::ReadError;
use crate::store::Store;

/// Most hits `search` returns.
pub const MAX_SEARCH_HITS: i32 = 100;

/// Longest `query`, in bytes.
pub const MAX_QUERY_BYTES: usize = 200;

/// Longest snippet, in characters (without the ellipses marking a cut).
pub const MAX_SNIPPET_CHARS: usize = 160;

/// Characters of context a cut snippet keeps before its first match.
const CONTEXT_BEFORE: usize = 50;

/// Most matches reported for one hit (a treaty has a few provisions).
pub const MAX_MATCHES: usize = 16;

/// A range of characters in a snippet: `start` inclusive, `end` exclusive,
/// counted in Unicode characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextRange {
    pub start: usize,
    pub end: usize,
}

/// One field of a hit that holds words of the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchMatch {
    pub field: SearchField,
    /// The closest way any word of the field matched.
    pub kind: MatchKind,
    /// The field's text, cut around the first match when long.
    pub snippet: String,
    /// The matching words in `snippet`.
    pub highlights: Vec<TextRange>,
}

/// The ids and scores of the best `first` matches of a forgiving search.
pub fn search_hits(store: &Store, query: &str, first: Option<i32>) -> Result<Vec<(Id, f64)>, ReadError> {
    let first = first.unwrap_or(10);
    if !(0..=MAX_SEARCH_HITS).contains(&first) {
        return Err(ReadError::argument(
            "first",
            format!("must be between 0 and {MAX_SEARCH_HITS}, got {first}"),
        ));
    }
    if query.len() > MAX_QUERY_BYTES {
        return Err(ReadError::argument(
            "query",
            format!("at most {MAX_QUERY_BYTES} characters, got {}", query.len()),
        ));
    }
    Ok(store.search_forgiving(query, first as usize)?)
}

/// How a word of a text matches one of the query's folded words, if it
/// does: the closest way.
fn word_match(word: &str, query_words: &[(String, String)]) -> Option<MatchKind> {
    query_words
        .iter()
        .filter_map(|(q, key)| {
            if word == q {
                Some(MatchKind::Exact)
            } else if word.starts_with(q.as_str()) {
                Some(MatchKind::Prefix)
            } else if text::variant(word) == *key {
                Some(MatchKind::Transliteration)
            } else {
                text::typos(q, word).map(|_| MatchKind::Typo)
            }
        })
        .min()
}

/// The fields of `entity` that hold words of `query`, closest matches
/// first (then in the order of [`model::Entity::search_text`], heaviest
/// field first); at most [`MAX_MATCHES`].
pub fn matches(entity: &Entity, query: &str) -> Vec<SearchMatch> {
    let query_words: Vec<(String, String)> = text::fold(query)
        .split(' ')
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| (w.to_owned(), text::variant(w)))
        .collect();
    let entity = entity.to_model();
    let mut out: Vec<SearchMatch> = Vec::new();
    for (field, field_text, _) in entity.search_text() {
        let mut kind: Option<MatchKind> = None;
        let mut found: Vec<TextRange> = Vec::new();
        for (range, word) in text::words(&field_text) {
            if let Some(k) = word_match(&word, &query_words) {
                kind = Some(kind.map_or(k, |known| known.min(k)));
                found.push(TextRange {
                    start: range.start,
                    end: range.end,
                });
            }
        }
        if let Some(kind) = kind {
            let (snippet, highlights) = snippet(&field_text, &found);
            out.push(SearchMatch {
                field,
                kind,
                snippet,
                highlights,
            });
        }
    }
    out.sort_by_key(|m| m.kind);
    out.truncate(MAX_MATCHES);
    out
}

/// `text` with the character ranges `found` in it, cut to at most
/// [`MAX_SNIPPET_CHARS`] characters around the first range when longer
/// (at word boundaries, an ellipsis marking each cut); ranges are moved to
/// the snippet, and those outside it dropped.
fn snippet(text: &str, found: &[TextRange]) -> (String, Vec<TextRange>) {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= MAX_SNIPPET_CHARS {
        return (text.to_owned(), found.to_vec());
    }
    let first = found.first().map_or(0, |r| r.start);
    let mut start = first.saturating_sub(CONTEXT_BEFORE);
    // Start at the beginning of a word.
    while start > 0 && start < first && chars[start - 1].is_alphanumeric() {
        start += 1;
    }
    let mut end = (start + MAX_SNIPPET_CHARS).min(chars.len());
    if end < chars.len() {
        let mut cut = end;
        while cut > start && chars[cut].is_alphanumeric() && chars[cut - 1].is_alphanumeric() {
            cut -= 1;
        }
        if cut > first {
            end = cut;
        }
    }
    let mut snippet = String::new();
    let shift = if start > 0 {
        snippet.push('…');
        1
    } else {
        0
    };
    let body: String = chars[start..end].iter().collect();
    snippet.push_str(body.trim_end());
    let body_len = body.trim_end().chars().count();
    if end < chars.len() {
        snippet.push('…');
    }
    let ranges = found
        .iter()
        .filter(|r| r.start >= start && r.end <= start + body_len)
        .map(|r| TextRange {
            start: r.start - start + shift,
            end: r.end - start + shift,
        })
        .collect();
    (snippet, ranges)
}

impl Entity {
    /// The record as the model has it (a copy), for what is defined there.
    pub fn to_model(&self) -> model::Entity {
        match self {
            Entity::Actor(e) => model::Entity::Actor((**e).clone()),
            Entity::Event(e) => model::Entity::Event((**e).clone()),
            Entity::Treaty(e) => model::Entity::Treaty((**e).clone()),
            Entity::FundingAllocation(e) => model::Entity::Funding((**e).clone()),
            Entity::Place(e) => model::Entity::Place((**e).clone()),
            Entity::Source(e) => model::Entity::Source((**e).clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(pairs: &[(usize, usize)]) -> Vec<TextRange> {
        pairs.iter().map(|&(start, end)| TextRange { start, end }).collect()
    }

    #[test]
    fn a_short_text_is_its_own_snippet_and_a_long_one_is_cut_around_the_match() {
        assert_eq!(
            snippet("Recognition rally in Tskhinval", &ranges(&[(21, 30)])),
            ("Recognition rally in Tskhinval".to_owned(), ranges(&[(21, 30)]))
        );
        let long = format!("{} Tskhinval {}", "word ".repeat(40), "tail ".repeat(40));
        let at = long.find("Tskhinval").unwrap();
        let (cut, found) = snippet(&long, &ranges(&[(at, at + 9)]));
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.chars().count() <= MAX_SNIPPET_CHARS + 2, "{cut}");
        let r = &found[0];
        let word: String = cut.chars().skip(r.start).take(r.end - r.start).collect();
        assert_eq!(word, "Tskhinval");
        assert!(cut.starts_with("…word "), "cut at a word boundary: {cut}");
    }
}
