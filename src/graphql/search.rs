//! The types of `Query.search`: a hit, the fields it matched in, and where
//! the matching words are. What they mean is read from
//! [`crate::read::search`], through the field table.

use std::sync::Arc;

use async_graphql::{Object, Result};

use super::cost::FAN_OUT;
use super::table::{self, Obj, Ty};
use super::types::Node;
use crate::model::{MatchKind, SearchField};
use crate::read::cache::Entity;
use crate::read::search::{self, matches};

/// One search result: the matching entity, how well it matched, and where.
pub struct SearchHit {
    pub(super) score: f64,
    pub(super) node: Node,
    /// The query it answers, for its matches.
    pub(super) query: Arc<str>,
}

/// One search result: the matching entity, how well it matched, and where.
#[Object]
impl SearchHit {
    /// Higher is better, and hits come best first. Name matches count most,
    /// then aliases, then provisions and figures, then summaries and notes;
    /// a whole word counts double a word's beginning. A hit that needed a
    /// transliteration scores a thousandth of that, one that needed a typo
    /// forgiven a millionth, so exact matches always rank first.
    async fn score(&self) -> f64 {
        self.score
    }
    /// The matching entity; use an inline fragment (`... on Actor { name }`) for its fields.
    async fn node(&self) -> &Node {
        &self.node
    }
    /// Each field of the entity that holds words of the query, closest
    /// matches first: which field, how it matched, and the words in a snippet.
    #[graphql(complexity = "super::cost::list(Ty::SearchHit, \"matches\", child_complexity)")]
    async fn matches(&self) -> Vec<SearchMatch> {
        matches(&entity_of(&self.node), &self.query)
            .into_iter()
            .map(SearchMatch)
            .collect()
    }
}

/// A field of a search hit that holds words of the query.
pub struct SearchMatch(search::SearchMatch);

/// A field of a search hit that holds words of the query.
#[Object]
impl SearchMatch {
    /// The field the words were found in (`PROVISIONS`, `FIGURES`, `ALIASES`…).
    async fn field(&self) -> Result<SearchField> {
        table::leaf(Ty::SearchMatch, "field", Obj::Match(&self.0))
    }
    /// How closely the field's words matched: the closest of them.
    async fn kind(&self) -> Result<MatchKind> {
        table::leaf(Ty::SearchMatch, "kind", Obj::Match(&self.0))
    }
    /// The field's text, cut to about 160 characters around the first
    /// matching word when longer (an ellipsis marks each cut).
    async fn snippet(&self) -> Result<String> {
        table::leaf(Ty::SearchMatch, "snippet", Obj::Match(&self.0))
    }
    /// Where the matching words are in `snippet`, in order.
    // Counted at a flat length: a range is two integers with nothing below
    // it to multiply, and a snippet of at most 160 characters holds few.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn highlights(&self) -> Vec<TextRange> {
        self.0.highlights.iter().cloned().map(TextRange).collect()
    }
}

/// A range of characters in a snippet: `snippet[start..end]` in Unicode
/// characters (JavaScript's `Array.from(snippet).slice(start, end)`).
pub struct TextRange(search::TextRange);

/// A range of characters in a snippet: `snippet[start..end]` in Unicode
/// characters (JavaScript's `Array.from(snippet).slice(start, end)`).
#[Object]
impl TextRange {
    /// The first character of the word, counted from 0.
    async fn start(&self) -> Result<i32> {
        table::leaf(Ty::TextRange, "start", Obj::Range(&self.0))
    }
    /// The character just after the word.
    async fn end(&self) -> Result<i32> {
        table::leaf(Ty::TextRange, "end", Obj::Range(&self.0))
    }
}

/// The entity a node wraps.
fn entity_of(node: &Node) -> Entity {
    match node {
        Node::Actor(x) => Entity::Actor(x.0.clone()),
        Node::Event(x) => Entity::Event(x.0.clone()),
        Node::Treaty(x) => Entity::Treaty(x.0.clone()),
        Node::FundingAllocation(x) => Entity::FundingAllocation(x.0.clone()),
        Node::Place(x) => Entity::Place(x.0.clone()),
        Node::Source(x) => Entity::Source(x.0.clone()),
    }
}
