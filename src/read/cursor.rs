//! Cursors: opaque, versioned tokens for a position in a listing.
//!
//! A cursor carries a [`Position`] (a period and an id, or an id), never the
//! store's key bytes, so a change of storage format leaves every cursor a
//! client holds valid. The text is the version, then the position, in
//! base64url without padding: clients are meant to hand it back, not read it.
//! A cursor of another version, or one this API never made, is refused.

use crate::store::Position;

/// The version this API writes and reads.
const VERSION: char = '1';

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
    let text = match Position::of_key(key) {
        Some(Position::Dated { first, last, id }) => format!("{VERSION}d{first}.{last}.{id}"),
        Some(Position::ById(id)) => format!("{VERSION}i{id}"),
        // Not a listing key: a cursor that decodes to nothing.
        None => format!("{VERSION}x"),
    };
    base64url(text.as_bytes())
}

/// The listing key a cursor stands for.
pub fn decode(cursor: &str) -> Result<Vec<u8>, CursorError> {
    // Longer than any id could make it.
    if cursor.len() > 1024 {
        return Err(CursorError::Malformed);
    }
    let bytes = unbase64url(cursor).ok_or(CursorError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
    let mut chars = text.chars();
    match chars.next() {
        Some(VERSION) => {}
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

fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
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

    #[test]
    fn cursors_carry_positions_not_key_bytes() {
        let dated = Position::Dated {
            first: 14_000,
            last: 14_030,
            id: "event/x".into(),
        };
        for position in [dated, Position::ById("actor/russia".into())] {
            let cursor = encode(&position.key());
            assert_eq!(decode(&cursor), Ok(position.key()), "{cursor}");
            assert!(
                !cursor.contains("event") && !cursor.contains("actor"),
                "opaque: {cursor}"
            );
        }
    }

    #[test]
    fn forged_and_stale_cursors_are_refused() {
        assert_eq!(decode("00"), Err(CursorError::Malformed));
        assert_eq!(decode("not a cursor"), Err(CursorError::Malformed));
        assert_eq!(decode(&base64url(b"0iactor/russia")), Err(CursorError::OtherVersion));
        assert_eq!(decode(&base64url(b"1dx.y.event/a")), Err(CursorError::Malformed));
        assert_eq!(decode(&base64url(b"1q")), Err(CursorError::Malformed));
        assert_eq!(decode(&"A".repeat(2000)), Err(CursorError::Malformed));
    }
}
