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
    if text.is_ascii() {
        return fold_ascii(text.as_bytes());
    }
    fold_general(text)
}

/// [`fold`] of any text: decomposed, its combining marks dropped.
fn fold_general(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let chars: Vec<char> = text.nfd().filter(|c| !is_combining_mark(*c)).collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ',' && thousands_separator(&chars, i, |c| c.is_ascii_digit()) {
            continue;
        }
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

/// [`fold`] of ASCII text, byte by byte. Decomposition leaves ASCII as it
/// is and ASCII has no combining marks, so this is the same fold without
/// the decomposition and the list of characters, which cost most of a
/// write's tokenising (names and summaries are mostly ASCII).
fn fold_ascii(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut pending_space = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b',' && thousands_separator(bytes, i, |b| b.is_ascii_digit()) {
            continue;
        }
        if b.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            pending_space = true;
        }
    }
    out
}

/// Whether the comma at `i` separates thousands ("3,700"): a digit before
/// it and exactly three after it. Such a number folds to one word ("3700"),
/// so a figure is found however it is written.
fn thousands_separator<T: Copy>(items: &[T], i: usize, is_digit: impl Fn(T) -> bool) -> bool {
    let digit = |j: usize| items.get(j).is_some_and(|&c| is_digit(c));
    i > 0 && digit(i - 1) && digit(i + 1) && digit(i + 2) && digit(i + 3) && !digit(i + 4)
}

/// The words of `text` with where they are: each word's range in
/// characters and its folded form (as [`fold`] folds it: "3,700" is one
/// word, "3700").
pub fn words(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let chars: Vec<char> = text.chars().collect();
    let in_word = |i: usize| {
        let c = chars[i];
        c.is_alphanumeric()
            || is_combining_mark(c)
            || (c == ',' && thousands_separator(&chars, i, |c| c.is_ascii_digit()))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !in_word(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && in_word(i) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        out.push((start..i, fold(&word).replace(' ', "")));
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

/// The transliteration key of a folded word: the spelling every common
/// romanisation of the same Russian or Ossetian name shares, so that
/// "Tskhinvali" meets "Tskhinval", "Kokoyty" "Kokoity" and "Dzhioyev"
/// "Dzhioev". Cyrillic letters are romanised first (х → kh, ц → ts, й → y);
/// then `dzh`/`dj` become `j`, `kh` becomes `h`, `ts` becomes `c`, a `y`
/// between two vowels (the iotation some romanisations spell, "Dzhioyev")
/// and before a word-initial `e` is dropped, any other `y` becomes `i`, a
/// doubled `i` is one (`-iy` and `-y` alike), and a final `i` is dropped (of
/// a key longer than three letters). The key is never shown: it only groups
/// spellings for search.
pub fn variant(word: &str) -> String {
    let mut latin = String::with_capacity(word.len());
    for c in word.chars() {
        match romanise(c) {
            Some(r) => latin.push_str(r),
            None => latin.push(c),
        }
    }
    let chars: Vec<char> = latin.chars().collect();
    let is_vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let mut out = String::with_capacity(latin.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let (piece, used): (Option<char>, usize) = match rest {
            ['d', 'z', 'h', ..] => (Some('j'), 3),
            ['d', 'j', ..] => (Some('j'), 2),
            ['k', 'h', ..] => (Some('h'), 2),
            ['t', 's', ..] => (Some('c'), 2),
            ['y', next, ..] if i == 0 && *next == 'e' => (None, 1),
            ['y', next, ..] if out.chars().last().is_some_and(is_vowel) && is_vowel(*next) => (None, 1),
            ['y', ..] => (Some('i'), 1),
            [c, ..] => (Some(*c), 1),
            [] => break,
        };
        if let Some(p) = piece {
            if !(p == 'i' && out.ends_with('i')) {
                out.push(p);
            }
        }
        i += used;
    }
    if out.ends_with('i') && out.chars().count() > 3 {
        out.pop();
    }
    out
}

/// The Latin spelling of a lowercase Cyrillic letter (after folding, which
/// has already turned й into и and ё into е), or `None` for any other.
fn romanise(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' | 'э' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' | 'ы' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        'і' => "i",
        _ => return None,
    })
}

/// Fewest letters a query word has before a typo in it is forgiven.
pub const MIN_TYPO_LEN: usize = 5;
/// Fewest letters a query word has before two typos in it are forgiven.
pub const MIN_TWO_TYPOS_LEN: usize = 8;

/// How many typos a folded query word may carry: none under five letters
/// (or if it holds anything but letters: numbers are never guessed at), one
/// from five, two from eight.
pub fn typo_allowance(query_word: &str) -> usize {
    if !query_word.chars().all(char::is_alphabetic) {
        return 0;
    }
    match query_word.chars().count() {
        n if n >= MIN_TWO_TYPOS_LEN => 2,
        n if n >= MIN_TYPO_LEN => 1,
        _ => 0,
    }
}

/// The number of typos between a folded query word and an indexed word,
/// when it is at least one and within what the query word allows
/// ([`typo_allowance`]). A typo is a letter added, dropped, replaced, or two
/// neighbours swapped (optimal string alignment distance).
pub fn typos(query_word: &str, word: &str) -> Option<usize> {
    let word: Vec<char> = word.chars().collect();
    Typos::new(query_word).count(&word)
}

/// [`typos`] for one query word against many words, reusing its buffers:
/// what a search compares with every indexed word of nearby length.
pub struct Typos {
    query: Vec<char>,
    limit: usize,
    /// The table's last three rows (a swap looks two rows back).
    rows: [Vec<usize>; 3],
}

impl Typos {
    pub fn new(query_word: &str) -> Typos {
        Typos {
            query: query_word.chars().collect(),
            limit: typo_allowance(query_word),
            rows: Default::default(),
        }
    }

    /// The typos between the query word and `word` (its characters), if
    /// at least one and within the allowance. Work stops as soon as a row
    /// of the table passes the allowance.
    pub fn count(&mut self, word: &[char]) -> Option<usize> {
        let (a, b, limit) = (&self.query, word, self.limit);
        if limit == 0 || a.len().abs_diff(b.len()) > limit || a.as_slice() == b {
            return None;
        }
        let width = b.len() + 1;
        let [before, prev, row] = &mut self.rows;
        for r in [&mut *before, &mut *prev, &mut *row] {
            r.clear();
            r.resize(width, 0);
        }
        for (j, cell) in prev.iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            row[0] = i;
            let mut best = row[0];
            for j in 1..width {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut d = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d = d.min(before[j - 2] + 1);
                }
                row[j] = d;
                best = best.min(d);
            }
            if best > limit {
                return None;
            }
            std::mem::swap(before, prev);
            std::mem::swap(prev, row);
        }
        let d = prev[b.len()];
        (1..=limit).contains(&d).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Kokoïty, Éduard!"), "kokoity eduard");
        assert_eq!(fold("Russia–South Ossetia"), "russia south ossetia");
        assert_eq!(tokens("A treaty of Friendship"), vec!["friendship", "of", "treaty"]);
        assert_eq!(
            fold("3,700 soldiers, 2.8 billion, 1,2345"),
            "3700 soldiers 2 8 billion 1 2345"
        );
    }

    proptest::proptest! {
        #[test]
        fn ascii_text_folds_as_the_general_fold_folds_it(text in "[ -~\\t\\n]{0,40}") {
            proptest::prop_assert_eq!(fold(&text), fold_general(&text));
        }

        #[test]
        fn ascii_figures_and_separators_fold_as_the_general_fold_folds_them(text in "[0-9, .a-zA-Z]{0,24}") {
            proptest::prop_assert_eq!(fold(&text), fold_general(&text));
        }
    }

    #[test]
    fn romanisations_of_one_name_share_a_variant_key() {
        let same = [
            ("tskhinvali", "tskhinval"),
            ("kokoyty", "kokoity"),
            ("kokoiti", "kokoity"),
            ("dzhioyev", "dzhioev"),
            ("djioev", "dzhioev"),
            ("anatoliy", "anatoly"),
            ("dmitriy", "dmitry"),
            ("sergei", "sergey"),
            ("shoygu", "shoigu"),
            ("yevgeny", "evgeny"),
            ("цхинвали", "tskhinval"),
            ("кокойты", "kokoity"),
            ("джиоев", "dzhioev"),
        ];
        for (a, b) in same {
            assert_eq!(variant(&fold(a)), variant(b), "{a} and {b}");
        }
        for (a, b) in [("russia", "georgia"), ("lavrov", "lavrova"), ("medvedev", "medvedeva")] {
            assert_ne!(variant(a), variant(b), "{a} and {b}");
        }
    }

    #[test]
    fn typos_are_forgiven_by_word_length() {
        // (query word, indexed word, typos forgiven)
        let cases = [
            ("lavrov", "lavrov", None),
            ("lavorv", "lavrov", Some(1)),
            ("lavrof", "lavrov", Some(1)),
            ("lavr", "lavrov", None),
            ("putn", "putin", None),
            ("medvdev", "medvedev", Some(1)),
            ("medvdv", "medvedev", None),
            ("mdvedevv", "medvedev", Some(2)),
            ("ossetia", "osetia", Some(1)),
            ("3701", "3700", None),
            ("friendsihp", "friendship", Some(1)),
            ("abkhazia", "georgia", None),
        ];
        for (query, word, expected) in cases {
            assert_eq!(typos(query, word), expected, "{query} against {word}");
        }
    }
}
