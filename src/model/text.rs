//! Text folding for search and name filters: case- and accent-insensitive.
//!
//! "Kokoïty", "KOKOITY" and "kokoity" all fold to `kokoity`. Folding
//! decomposes characters (NFD), drops combining marks, lowercases, and splits
//! on anything that is not a letter or digit.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Tokens shorter than this are not indexed ("of", "a"): they would match
/// nearly everything and bloat the index.
pub const MIN_TOKEN_LEN: usize = 2;

/// Folds `text` to lowercase, accent-free words separated by single spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// The distinct folded tokens of `text`, long enough to index.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = fold(text)
        .split(' ')
        .filter(|t| t.chars().count() >= MIN_TOKEN_LEN)
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Kokoïty, Éduard!"), "kokoity eduard");
        assert_eq!(fold("Russia–South Ossetia"), "russia south ossetia");
        assert_eq!(tokens("A treaty of Friendship"), vec!["friendship", "of", "treaty"]);
    }
}
