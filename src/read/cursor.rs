//! Cursors: opaque, versioned tokens for a position in a listing.
//!
//! A cursor carries a [`Position`] (a period and an id, or an id), never the
//! store's key bytes, so a change of storage format leaves every cursor a
//! client holds valid. The text is the version, then the position, in
//! base64url without padding: clients are meant to hand it back, not read it.
//! A cursor of another version, or one this API never made, is refused.

use crate::store::{Position, PositionRef};

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
    let mut out = Vec::with_capacity(16 + key.len() * 2);
    encode_into(key, &mut out);
    String::from_utf8(out).expect("base64url is ASCII")
}

/// Appends the cursor of a listing key to `out`, with no allocation: the
/// compiled plans write hundreds per answer. Its characters never need
/// escaping in JSON.
pub fn encode_into(key: &[u8], out: &mut Vec<u8>) {
    let mut text = Base64Url::new(out);
    text.push(&[VERSION as u8]);
    match PositionRef::of_key(key) {
        Some(PositionRef::Dated { first, last, id }) => {
            text.push(b"d");
            text.push(decimal(first, &mut [0; 11]));
            text.push(b".");
            text.push(decimal(last, &mut [0; 11]));
            text.push(b".");
            text.push(id.as_bytes());
        }
        Some(PositionRef::ById(id)) => {
            text.push(b"i");
            text.push(id.as_bytes());
        }
        // Not a listing key: a cursor that decodes to nothing.
        None => text.push(b"x"),
    }
    text.finish();
}

/// `n` in decimal, written at the end of `buf`.
fn decimal(n: i32, buf: &mut [u8; 11]) -> &[u8] {
    let mut i = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
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

/// Base64url without padding, written to a buffer as bytes arrive.
struct Base64Url<'o> {
    out: &'o mut Vec<u8>,
    /// Up to two bytes not yet written, and how many.
    pending: u32,
    held: u8,
}

impl<'o> Base64Url<'o> {
    fn new(out: &'o mut Vec<u8>) -> Base64Url<'o> {
        Base64Url {
            out,
            pending: 0,
            held: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        // Complete a group begun by an earlier push, a byte at a time.
        while self.held > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            self.hold(b);
            bytes = rest;
        }
        // Then whole groups, four characters each.
        let mut groups = bytes.chunks_exact(3);
        for g in &mut groups {
            let n = (g[0] as u32) << 16 | (g[1] as u32) << 8 | g[2] as u32;
            self.out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize],
                ALPHABET[(n >> 12 & 63) as usize],
                ALPHABET[(n >> 6 & 63) as usize],
                ALPHABET[(n & 63) as usize],
            ]);
        }
        for &b in groups.remainder() {
            self.hold(b);
        }
    }

    fn hold(&mut self, b: u8) {
        self.pending = self.pending << 8 | b as u32;
        self.held += 1;
        if self.held == 3 {
            self.emit(self.pending, 4);
            self.pending = 0;
            self.held = 0;
        }
    }

    /// Writes the characters of the first `chars` sextets of a 24-bit group.
    fn emit(&mut self, group: u32, chars: u32) {
        for i in 0..chars {
            self.out.push(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]);
        }
    }

    fn finish(mut self) {
        match self.held {
            1 => self.emit(self.pending << 16, 2),
            2 => self.emit(self.pending << 8, 3),
            _ => {}
        }
    }
}

fn base64url(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    let mut text = Base64Url::new(&mut out);
    text.push(bytes);
    text.finish();
    String::from_utf8(out).expect("base64url is ASCII")
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
    fn base64url_is_the_same_however_the_bytes_arrive() {
        for cuts in [&[][..], &[1], &[2, 5], &[1, 2, 3, 4], &[4, 9]] {
            let text = b"abcdefghij";
            let mut out = Vec::new();
            let mut writer = Base64Url::new(&mut out);
            let mut at = 0;
            for &cut in cuts.iter().chain([&text.len()]) {
                writer.push(&text[at..cut]);
                at = cut;
            }
            writer.finish();
            assert_eq!(out, b"YWJjZGVmZ2hpag", "cut at {cuts:?}");
        }
    }

    #[test]
    fn cursors_are_written_as_before() {
        // The text under the base64: version, kind, then the position.
        let dated = Position::Dated {
            first: -12,
            last: 14_030,
            id: "event/x".into(),
        };
        assert_eq!(encode(&dated.key()), base64url(b"1d-12.14030.event/x"));
        assert_eq!(
            encode(&Position::ById("actor/russia".into()).key()),
            base64url(b"1iactor/russia")
        );
        assert_eq!(encode(&[0xff]), base64url(b"1x"));
        for n in [0, 7, -1, i32::MAX, i32::MIN] {
            assert_eq!(decimal(n, &mut [0; 11]), n.to_string().as_bytes());
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
