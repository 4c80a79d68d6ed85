//! Cursors: opaque, versioned tokens for a position in a listing.
//!
//! A cursor carries a [`Position`] (a period and an id, or an id), never the
//! store's key bytes, so a change of storage format leaves every cursor a
//! client holds valid; and it carries the id itself, not a number the store
//! gave it, so it means the same position after the store is rebuilt
//! (`seed --reset`) and can never silently point at another entity.
//!
//! Version 2 (written since 2026-12): every character is one base64url
//! digit (six bits). The first is the version (`C`, 2); the second the
//! form (by id, dated, undated) and the kind of the id; a dated position's
//! first day and length in days follow as variable-length numbers (five
//! bits a digit); then the id's slug, a digit per character. A cursor for
//! `event/independence-declaration-1991` dated 1991 is 36 characters, where
//! version 1 (base64url of the text `1d7670.8034.event/…`) took 63.
//!
//! Version 1 cursors are still read, so a client paging across an upgrade
//! goes on where it was. A cursor of any other version, or one this API
//! never made, is refused: each position has exactly one spelling.

use crate::model::EntityKind;
use crate::store::{Position, PositionRef};

/// The first version, still read.
const VERSION_1: char = '1';

/// The version this API writes, as its first character.
const VERSION: u8 = ALPHABET[2];

/// Why a cursor was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    #[error("not a cursor returned by this API")]
    Malformed,
    #[error("a cursor from another version of this API; start again from the first page")]
    OtherVersion,
}

/// The cursor of a listing key.
pub fn encode(key: &[u8]) -> String {
    let mut out = Vec::with_capacity(16 + key.len());
    encode_into(key, &mut out);
    String::from_utf8(out).expect("base64url is ASCII")
}

/// The kinds in the order their index is written (never to be reordered:
/// cursors clients hold depend on it).
const KINDS: [EntityKind; 6] = [
    EntityKind::Actor,
    EntityKind::Event,
    EntityKind::Treaty,
    EntityKind::Funding,
    EntityKind::Place,
    EntityKind::Source,
];

/// The forms of a position (the second digit is form × 8 + kind).
const BY_ID: u8 = 0;
const DATED: u8 = 1;
const UNDATED: u8 = 2;
/// Not a listing key: a cursor that decodes to nothing.
const NOTHING: u8 = 63;

/// The characters of a slug, in the order of their digit.
const SLUG: &[u8; 37] = b"-0123456789abcdefghijklmnopqrstuvwxyz";

/// The cursor character of each slug character; 0 for any other byte.
const SLUG_CHAR: [u8; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < SLUG.len() {
        table[SLUG[i] as usize] = ALPHABET[i];
        i += 1;
    }
    table
};

/// The value of each base64url character; 0xff for any other byte.
const DIGIT: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Appends the cursor of a listing key to `out`, with no allocation: the
/// compiled plans write hundreds per answer. Its characters never need
/// escaping in JSON.
pub fn encode_into(key: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    if !write_position(key, out) {
        out.truncate(start);
        out.extend_from_slice(&[VERSION, ALPHABET[NOTHING as usize]]);
    }
}

/// Writes a position's cursor; false if the key is not a listing key of an id.
fn write_position(key: &[u8], out: &mut Vec<u8>) -> bool {
    let (form, days, id) = match PositionRef::of_key(key) {
        Some(PositionRef::ById(id)) => (BY_ID, None, id),
        Some(PositionRef::Dated { first, last, id }) if first == i32::MAX && last == i32::MAX => (UNDATED, None, id),
        Some(PositionRef::Dated { first, last, id }) => (DATED, Some((first, last)), id),
        None => return false,
    };
    let id = id.as_bytes();
    // The kinds' prefixes begin with different letters.
    let Some(kind) = KINDS.iter().position(|k| id.first() == k.prefix().as_bytes().first()) else {
        return false;
    };
    let prefix = KINDS[kind].prefix().len();
    if id.len() <= prefix + 1 || !id.starts_with(KINDS[kind].prefix().as_bytes()) || id[prefix] != b'/' {
        return false;
    }
    let slug = &id[prefix + 1..];
    out.reserve(16 + slug.len());
    out.push(VERSION);
    out.push(ALPHABET[(form * 8) as usize + kind]);
    if let Some((first, last)) = days {
        write_number(zigzag(i64::from(first)), out);
        write_number(zigzag(i64::from(last) - i64::from(first)), out);
    }
    // A character at a time, with no check of the room left.
    let mut valid = true;
    out.extend(slug.iter().map(|&c| {
        let written = SLUG_CHAR[c as usize];
        valid &= written != 0;
        written
    }));
    valid
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// Five bits a digit, lowest first; the sixth bit says more follow.
fn write_number(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let low = (n & 31) as usize;
        n >>= 5;
        if n == 0 {
            out.push(ALPHABET[low]);
            return;
        }
        out.push(ALPHABET[low | 32]);
    }
}

/// Reads a number [`write_number`] wrote, refusing any other spelling of it.
fn read_number(digits: &mut std::slice::Iter<'_, u8>) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..40).step_by(5) {
        let digit = *digits.next()?;
        n |= u64::from(digit & 31) << shift;
        if digit & 32 == 0 {
            // A last digit of 0 after others would spell the number twice.
            return (digit != 0 || shift == 0).then_some(n);
        }
    }
    None
}

/// The listing key a cursor stands for.
pub fn decode(cursor: &str) -> Result<Vec<u8>, CursorError> {
    // Longer than any id could make it.
    if cursor.len() > 1024 {
        return Err(CursorError::Malformed);
    }
    if cursor.as_bytes().first() == Some(&VERSION) {
        return decode_v2(cursor).map(|p| p.key()).ok_or(CursorError::Malformed);
    }
    decode_v1(cursor)
}

fn decode_v2(cursor: &str) -> Option<Position> {
    let digits: Vec<u8> = cursor.bytes().map(|c| DIGIT[c as usize]).collect();
    if digits.contains(&0xff) {
        return None;
    }
    let mut digits = digits[1..].iter();
    let tag = *digits.next()?;
    let (form, kind) = (tag / 8, KINDS.get((tag % 8) as usize)?);
    let days = match form {
        DATED => {
            let first = i32::try_from(unzigzag(read_number(&mut digits)?)).ok()?;
            let length = unzigzag(read_number(&mut digits)?);
            let last = i32::try_from(i64::from(first) + length).ok()?;
            // The undated form spells that position.
            if (first, last) == (i32::MAX, i32::MAX) {
                return None;
            }
            Some((first, last))
        }
        BY_ID | UNDATED => None,
        _ => return None,
    };
    let slug: Vec<u8> = digits.map(|&d| SLUG.get(d as usize).copied()).collect::<Option<_>>()?;
    if slug.is_empty() {
        return None;
    }
    let id = format!("{}/{}", kind.prefix(), String::from_utf8(slug).ok()?);
    Some(match (form, days) {
        (DATED, Some((first, last))) => Position::Dated { first, last, id },
        (UNDATED, _) => Position::Dated {
            first: i32::MAX,
            last: i32::MAX,
            id,
        },
        _ => Position::ById(id),
    })
}

/// A version 1 cursor: base64url of the version, a form letter, then the
/// position as text (`d<first>.<last>.<id>` or `i<id>`).
fn decode_v1(cursor: &str) -> Result<Vec<u8>, CursorError> {
    let bytes = unbase64url(cursor).ok_or(CursorError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
    let mut chars = text.chars();
    match chars.next() {
        Some(VERSION_1) => {}
        Some(_) => return Err(CursorError::OtherVersion),
        None => return Err(CursorError::Malformed),
    }
    let rest = chars.as_str();
    let position = match rest.split_at_checked(1) {
        Some(("i", id)) if !id.is_empty() => Position::ById(id.to_owned()),
        Some(("d", dated)) => {
            let mut parts = dated.splitn(3, '.');
            let mut day = || {
                parts
                    .next()
                    .and_then(|d| d.parse::<i32>().ok())
                    .ok_or(CursorError::Malformed)
            };
            let (first, last) = (day()?, day()?);
            let id = parts.next().ok_or(CursorError::Malformed)?.to_owned();
            Position::Dated { first, last, id }
        }
        _ => return Err(CursorError::Malformed),
    };
    Ok(position.key())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Base64url without padding (version 1 cursors).
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=group.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unbase64url(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    // Only the one canonical spelling of each cursor is accepted.
    (base64url(&out) == text).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_and_refuses_other_spellings() {
        for bytes in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0, 255, 128, 7],
        ] {
            let text = base64url(bytes);
            assert_eq!(unbase64url(&text).as_deref(), Some(bytes), "{text}");
        }
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(unbase64url("Zm9"), None, "a non-canonical last character");
        assert_eq!(unbase64url("Z"), None);
        assert_eq!(unbase64url("Zm8="), None, "no padding");
    }

    fn dated(first: i32, last: i32, id: &str) -> Position {
        Position::Dated {
            first,
            last,
            id: id.into(),
        }
    }

    #[test]
    fn cursors_carry_positions_not_key_bytes() {
        for position in [
            dated(14_000, 14_030, "event/x"),
            dated(-40_000, -39_000, "treaty/treaty-of-kuchuk-kainarji-1774"),
            dated(i32::MIN, i32::MAX, "event/a-b-9"),
            dated(7670, 8034, "event/independence-declaration-1991"),
            dated(i32::MAX, i32::MAX, "event/undated"),
            dated(5, 5, "funding/x1"),
            Position::ById("actor/russia".into()),
            Position::ById("source/s".into()),
            Position::ById("place/tskhinvali".into()),
        ] {
            let cursor = encode(&position.key());
            assert_eq!(decode(&cursor), Ok(position.key()), "{cursor}");
            assert!(
                !cursor.contains("event") && !cursor.contains("actor") && !cursor.contains("russia"),
                "opaque: {cursor}"
            );
            assert!(cursor.bytes().all(|c| ALPHABET.contains(&c)), "{cursor}");
        }
    }

    #[test]
    fn cursors_are_short_and_spelt_one_way() {
        // Version, form and kind, the days, then a digit per slug character.
        let independence = encode(&dated(7670, 8034, "event/independence-declaration-1991").key());
        assert_eq!(independence.len(), 2 + 3 + 2 + "independence-declaration-1991".len());
        assert_eq!(encode(&Position::ById("actor/russia".into()).key()), "CAcfddTL");
        assert_eq!(encode(&dated(i32::MAX, i32::MAX, "event/a").key()), "CRL");
        assert_eq!(encode(&dated(0, 0, "event/a").key()), "CJAAL");
        assert_eq!(encode(&dated(-1, 0, "event/a").key()), "CJBCL");
        // Not a listing key, or not an id: a cursor that decodes to nothing.
        for key in [&[0xff][..], b"zzzz", b"actor/", b"actor/Russia"] {
            assert_eq!(encode(key), "C_", "{key:?}");
            assert_eq!(decode(&encode(key)), Err(CursorError::Malformed));
        }
        // Another spelling of a number (a last digit of 0 after others), an
        // unknown form or kind, a character no slug has: refused.
        let spelt_as_dated = format!("CJ{}AL", {
            let mut n = Vec::new();
            write_number(zigzag(i64::from(i32::MAX)), &mut n);
            String::from_utf8(n).unwrap()
        });
        for forged in [
            spelt_as_dated.as_str(),
            "CJgAAL",
            "CJAgAL",
            "CZAAL",
            "CGcfdd",
            "CAcfd_",
            "CA",
            "C",
            "CAc=",
            "CAcf dd",
        ] {
            assert_eq!(decode(forged), Err(CursorError::Malformed), "{forged}");
        }
        assert_eq!(decode("CAcfddTL"), Ok(b"actor/russia".to_vec()));
    }

    #[test]
    fn version_1_cursors_are_still_read() {
        assert_eq!(
            decode(&base64url(b"1d-12.14030.event/x")),
            Ok(dated(-12, 14_030, "event/x").key())
        );
        assert_eq!(decode(&base64url(b"1iactor/russia")), Ok(b"actor/russia".to_vec()));
        assert_eq!(decode(&base64url(b"1x")), Err(CursorError::Malformed));
    }

    #[test]
    fn forged_and_stale_cursors_are_refused() {
        assert_eq!(decode("00"), Err(CursorError::Malformed));
        assert_eq!(decode("not a cursor"), Err(CursorError::Malformed));
        assert_eq!(decode(&base64url(b"0iactor/russia")), Err(CursorError::OtherVersion));
        assert_eq!(decode(&base64url(b"3iactor/russia")), Err(CursorError::OtherVersion));
        assert_eq!(decode(&base64url(b"1dx.y.event/a")), Err(CursorError::Malformed));
        assert_eq!(decode(&base64url(b"1q")), Err(CursorError::Malformed));
        assert_eq!(decode(&"A".repeat(2000)), Err(CursorError::Malformed));
        assert_eq!(decode(&format!("CA{}", "L".repeat(2000))), Err(CursorError::Malformed));
    }
}
