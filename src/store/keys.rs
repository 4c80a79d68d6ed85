//! Key encodings. Only the store knows them.
//!
//! - entity trees: `id`
//! - relation trees: `to ‖ 0xff ‖ from` (ids are ASCII, so 0xff never occurs inside one)
//! - date trees (one per span class): `first_day ‖ last_day ‖ id`, days as big-endian
//!   u32 with the sign bit flipped, so byte order is numeric order
//! - kind trees: `kind ‖ 0xff ‖ id` (events: `kind ‖ 0xff ‖ first_day ‖ last_day ‖ id`, one tree per span class)
//! - search tokens: `token ‖ 0xff ‖ 255 − weight ‖ name length ‖ id`, so a word's
//!   entities list in ranking order: heaviest field first, then shortest name;
//!   transliteration keys the same way behind a `0x01` mark
//!   (`0x01 ‖ key ‖ 0xff ‖ …`)

use crate::model::{Id, PartialDate};

pub const SEP: u8 = 0xff;

pub fn pair(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(a.len() + 1 + b.len());
    key.extend_from_slice(a);
    key.push(SEP);
    key.extend_from_slice(b);
    key
}

/// `a ‖ 0xff`: the prefix under which every `pair(a, _)` lies.
pub fn prefix(a: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(a.len() + 1);
    key.extend_from_slice(a);
    key.push(SEP);
    key
}

/// A search index key (see the module docs).
pub fn search(token: &str, weight: u8, label_len: u8, id: &Id) -> Vec<u8> {
    let mut key = prefix(token.as_bytes());
    key.push(u8::MAX - weight);
    key.push(label_len);
    key.extend_from_slice(id.as_bytes());
    key
}

/// First byte of a transliteration key's entries in the search tree: it
/// sorts before every folded word (which starts with a letter or digit), so
/// words and keys never share a prefix.
pub const VARIANT_MARK: u8 = 0x01;

/// `0x01 ‖ key`: what a transliteration key is listed under.
pub fn variant_word(key: &str) -> Vec<u8> {
    let mut word = Vec::with_capacity(1 + key.len());
    word.push(VARIANT_MARK);
    word.extend_from_slice(key.as_bytes());
    word
}

/// A search index key for a transliteration key (see [`crate::model::text::variant`]):
/// `0x01 ‖ key ‖ 0xff ‖ 255 − weight ‖ name length ‖ id`.
pub fn search_variant(key: &str, weight: u8, label_len: u8, id: &Id) -> Vec<u8> {
    let mut out = prefix(&variant_word(key));
    out.push(u8::MAX - weight);
    out.push(label_len);
    out.extend_from_slice(id.as_bytes());
    out
}

/// (weight, name length, id bytes) of a search index key.
pub fn split_search(key: &[u8]) -> Option<(u8, u8, &[u8])> {
    match second(key) {
        [w, len, id @ ..] if !id.is_empty() => Some((u8::MAX - w, *len, id)),
        _ => None,
    }
}

/// The first key after every key that begins with `prefix` (`None`: no
/// such key, the range runs to the end).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The part after the separator of a `pair` key.
pub fn second(key: &[u8]) -> &[u8] {
    match key.iter().position(|b| *b == SEP) {
        Some(i) => &key[i + 1..],
        None => &[],
    }
}

/// The part before the separator of a `pair` key.
pub fn first(key: &[u8]) -> &[u8] {
    match key.iter().position(|b| *b == SEP) {
        Some(i) => &key[..i],
        None => key,
    }
}

pub fn day(d: i32) -> [u8; 4] {
    ((d as u32) ^ 0x8000_0000).to_be_bytes()
}

pub fn decode_day(b: &[u8]) -> i32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&b[..4]);
    (u32::from_be_bytes(buf) ^ 0x8000_0000) as i32
}

/// The longest period (last day minus first day) of each span class. The
/// date trees keep each class apart, so a scan for periods that overlap a day
/// looks back, in each class, only as far as that class's longest period: not
/// at all for single days, a month for months, a year for years, and as far
/// as the longest period ever stored for the rest.
pub const SPAN_CLASSES: [i32; 4] = [0, 31, 366, i32::MAX];

/// The span class of a listing key (`first_day ‖ last_day ‖ id`); 0 for
/// undated entities and anything that is not such a key.
pub fn class_of(listing: &[u8]) -> u8 {
    split_dated(listing).map_or(0, |(first, last, _)| {
        let span = last.saturating_sub(first);
        SPAN_CLASSES
            .iter()
            .position(|max| span <= *max)
            .unwrap_or(SPAN_CLASSES.len() - 1) as u8
    })
}

/// Undated entities sort after every dated one.
pub const UNDATED: i32 = i32::MAX;

/// The 8-byte chronological sort key of a date (or of no date).
pub fn sort_key(date: Option<&PartialDate>) -> [u8; 8] {
    let (first, last) = date.map_or((UNDATED, UNDATED), |d| (d.first_day(), d.last_day()));
    let mut key = [0u8; 8];
    key[..4].copy_from_slice(&day(first));
    key[4..].copy_from_slice(&day(last));
    key
}

pub fn dated(date: Option<&PartialDate>, id: &Id) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.as_bytes().len());
    key.extend_from_slice(&sort_key(date));
    key.extend_from_slice(id.as_bytes());
    key
}

/// (first_day, last_day, id bytes) of a date-tree key.
pub fn split_dated(key: &[u8]) -> Option<(i32, i32, &[u8])> {
    if key.len() < 9 {
        return None;
    }
    Some((decode_day(&key[0..4]), decode_day(&key[4..8]), &key[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_keys_sort_numerically_across_zero() {
        let days = [-40_000, -1, 0, 1, 14_000, 20_000];
        let keys: Vec<_> = days.iter().map(|d| day(*d)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(days.iter().all(|d| decode_day(&day(*d)) == *d));
    }
}

/// Where an entry lies in a listing, whatever the key encoding: a
/// chronological listing orders by period then id, the others by id.
/// Cursors carry positions, so a change of key encoding leaves them valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// In a chronological listing: the period's first and last day (days
    /// since 1970-01-01; `i32::MAX` for undated entries) and the id.
    Dated { first: i32, last: i32, id: String },
    /// In a listing by id.
    ById(String),
}

/// A [`Position`] read in place from a listing key, borrowing its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PositionRef<'k> {
    Dated { first: i32, last: i32, id: &'k str },
    ById(&'k str),
}

impl<'k> PositionRef<'k> {
    /// The position of a listing key, without copying it.
    pub fn of_key(key: &'k [u8]) -> Option<PositionRef<'k>> {
        let text = |bytes: &'k [u8]| std::str::from_utf8(bytes).ok();
        // Ids begin with their kind in lowercase letters; a dated key with
        // the day's sign bit flipped never begins with one.
        match key.first() {
            Some(b) if b.is_ascii_lowercase() => Some(PositionRef::ById(text(key)?)),
            _ => {
                let (first, last, id) = split_dated(key)?;
                Some(PositionRef::Dated {
                    first,
                    last,
                    id: text(id)?,
                })
            }
        }
    }
}

impl Position {
    /// The position of a listing key.
    pub fn of_key(key: &[u8]) -> Option<Position> {
        Some(match PositionRef::of_key(key)? {
            PositionRef::Dated { first, last, id } => Position::Dated {
                first,
                last,
                id: id.to_owned(),
            },
            PositionRef::ById(id) => Position::ById(id.to_owned()),
        })
    }

    /// The listing key of the position.
    pub fn key(&self) -> Vec<u8> {
        match self {
            Position::Dated { first, last, id } => {
                let mut key = Vec::with_capacity(8 + id.len());
                key.extend_from_slice(&day(*first));
                key.extend_from_slice(&day(*last));
                key.extend_from_slice(id.as_bytes());
                key
            }
            Position::ById(id) => id.as_bytes().to_vec(),
        }
    }
}
