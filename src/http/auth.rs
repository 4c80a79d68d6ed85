//! Write tokens: mutations need `Authorization: Bearer <token>`.
//!
//! Tokens come from the settings (several, so they can be rotated) and are
//! compared in constant time. With no token configured writes are disabled.
//! A client that keeps sending wrong tokens is refused with 429 for a while;
//! the right token always writes (the limit is on failures, so a guesser
//! behind the same NAT as the real writer cannot lock the writer out).

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per client within [`WINDOW`] before 429.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Clients tracked at once: a new one pushes out the one whose last failure
/// is oldest, so every client is limited however many there are.
pub const MAX_TRACKED: usize = 10_000;

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No token is configured: this server takes no writes (403).
    Disabled,
    /// Missing or wrong token (401 with `WWW-Authenticate`).
    Unauthorized,
    /// Too many failures from this client (429); seconds until it may retry.
    TooMany { retry_after: u64 },
}

pub struct Auth {
    tokens: Vec<Vec<u8>>,
    /// Failures per client: how many, and when the window began.
    failures: Mutex<lru::LruCache<IpAddr, (u32, Instant)>>,
}

/// Equal in time that depends only on the lengths, never on where bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

impl Auth {
    pub fn new(tokens: Vec<String>) -> Auth {
        Auth {
            tokens: tokens
                .into_iter()
                .filter(|t| !t.is_empty())
                .map(String::into_bytes)
                .collect(),
            failures: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(MAX_TRACKED).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    pub fn writes_enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether `header` (an `Authorization` value) carries a configured token.
    pub fn token_ok(&self, header: Option<&str>) -> bool {
        // The scheme name is case-insensitive (RFC 7235).
        let Some(token) = header
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return false;
        };
        // Check every token, so timing does not reveal which one is close.
        self.tokens
            .iter()
            .fold(false, |found, t| found | constant_time_eq(t, token.as_bytes()))
    }

    /// Checks a write request from `client`.
    pub fn check(&self, header: Option<&str>, client: IpAddr) -> Result<(), Denied> {
        if !self.writes_enabled() {
            return Err(Denied::Disabled);
        }
        if self.token_ok(header) {
            return Ok(());
        }
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures
            .peek(&client)
            .is_some_and(|(_, since)| now.duration_since(*since) >= WINDOW)
        {
            failures.pop(&client);
        }
        // A new client pushes out the least recently failing one when the table is full.
        let entry = failures.get_or_insert_mut(client, || (0, now));
        if entry.0 >= MAX_FAILURES {
            return Err(Denied::TooMany {
                retry_after: (WINDOW - now.duration_since(entry.1)).as_secs().max(1),
            });
        }
        entry.0 += 1;
        Err(Denied::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn several_tokens_are_accepted_and_repeated_failures_are_limited() {
        let auth = Auth::new(vec!["old".into(), "new".into()]);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(auth.check(Some("Bearer old"), ip), Ok(()));
        assert_eq!(auth.check(Some("Bearer new"), ip), Ok(()));
        for _ in 0..MAX_FAILURES {
            assert_eq!(auth.check(Some("Bearer wrong"), ip), Err(Denied::Unauthorized));
        }
        assert!(matches!(
            auth.check(Some("Bearer wrong"), ip),
            Err(Denied::TooMany { .. })
        ));
        // The right token still writes.
        assert_eq!(auth.check(Some("Bearer new"), ip), Ok(()));
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(auth.check(Some("Bearer new"), other), Ok(()));
    }

    #[test]
    fn every_one_of_10050_addresses_is_limited_and_the_table_stays_bounded() {
        let auth = Auth::new(vec!["right-token".into()]);
        let mut limited = 0;
        for n in 0..10_050u32 {
            let ip = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
            for _ in 0..MAX_FAILURES {
                assert_eq!(auth.check(Some("Bearer wrong"), ip), Err(Denied::Unauthorized));
            }
            if matches!(auth.check(Some("Bearer wrong"), ip), Err(Denied::TooMany { .. })) {
                limited += 1;
            }
            assert_eq!(auth.check(Some("Bearer right-token"), ip), Ok(()));
        }
        assert_eq!(limited, 10_050);
        assert!(auth.failures.lock().unwrap().len() <= MAX_TRACKED);
        // The last addresses are still remembered, and still refused.
        let last = IpAddr::from((0x0a00_0000u32 + 10_049).to_be_bytes());
        assert!(matches!(
            auth.check(Some("Bearer wrong"), last),
            Err(Denied::TooMany { .. })
        ));
    }

    #[test]
    fn no_token_configured_means_writes_are_disabled() {
        let auth = Auth::new(vec![]);
        assert_eq!(
            auth.check(Some("Bearer anything"), "10.0.0.1".parse().unwrap()),
            Err(Denied::Disabled)
        );
    }
}
