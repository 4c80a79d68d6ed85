//! Persisted queries: Apollo's automatic persisted queries (APQ), and an
//! allow-list mode in which only registered documents run.
//!
//! APQ: a client sends `extensions.persistedQuery.sha256Hash` without the
//! query; if the server knows the hash it runs the stored query, otherwise it
//! answers `PERSISTED_QUERY_NOT_FOUND` and the client retries with both, which
//! the server checks and remembers in a bounded LRU cache.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why a request's document could not be settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refusal(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// Total bytes of query text APQ remembers; past it, the least recently
/// used go first (whatever the entry count allows).
pub const MAX_APQ_BYTES: usize = 16 * 1024 * 1024;

pub struct Persisted {
    cache: Option<Mutex<Remembered>>,
    allow_list: Option<HashMap<String, Arc<str>>>,
    /// Longest query APQ stores, in characters (the guard's own limit: a
    /// longer one would be refused anyway, so it is refused before it costs memory).
    max_query_chars: usize,
}

/// The APQ store: queries by hash, bounded in entries and in bytes.
struct Remembered {
    lru: LruCache<String, Arc<str>>,
    bytes: usize,
}

impl Remembered {
    fn put(&mut self, hash: String, query: Arc<str>) {
        if let Some(old) = self.lru.pop(&hash) {
            self.bytes -= old.len();
        }
        self.bytes += query.len();
        if let Some((_, old)) = self.lru.push(hash, query) {
            self.bytes -= old.len();
        }
        while self.bytes > MAX_APQ_BYTES {
            match self.lru.pop_lru() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }
}

impl Persisted {
    pub fn new(apq_capacity: Option<usize>, allow_list: Option<HashMap<String, Arc<str>>>) -> Persisted {
        Persisted {
            cache: apq_capacity.and_then(NonZeroUsize::new).map(|n| {
                Mutex::new(Remembered {
                    lru: LruCache::new(n),
                    bytes: 0,
                })
            }),
            allow_list,
            max_query_chars: usize::MAX,
        }
    }

    /// Refuses (and never stores) queries longer than `max_query_chars`.
    pub fn limited(mut self, max_query_chars: usize) -> Persisted {
        self.max_query_chars = max_query_chars;
        self
    }

    /// Reads an allow-list file: a JSON object of `sha256 hex → document`.
    /// Every hash is checked against its document.
    pub fn load_allow_list(path: &Path) -> anyhow::Result<HashMap<String, Arc<str>>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read persisted queries {}: {e}", path.display()))?;
        let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "persisted queries {} must be a JSON object of hash → query: {e}",
                path.display()
            )
        })?;
        let mut out = HashMap::with_capacity(map.len());
        for (hash, query) in map {
            let actual = sha256_hex(&query);
            if actual != hash.to_ascii_lowercase() {
                anyhow::bail!(
                    "persisted queries {}: entry `{hash}` does not match the SHA-256 of its query ({actual})",
                    path.display()
                );
            }
            out.insert(actual, Arc::from(query));
        }
        Ok(out)
    }

    /// Settles the document to run from the request's `query` and
    /// `extensions.persistedQuery`.
    pub fn resolve(&self, query: Option<String>, extensions: Option<&Map<String, Value>>) -> Result<String, Refusal> {
        let persisted = extensions.and_then(|e| e.get("persistedQuery"));
        let hash = match persisted {
            None => None,
            Some(Value::Object(p)) => {
                if p.get("version").and_then(Value::as_i64) != Some(1) {
                    return Err(refusal("PERSISTED_QUERY_VERSION", "persistedQuery.version must be 1"));
                }
                match p.get("sha256Hash").and_then(Value::as_str) {
                    Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        Some(h.to_ascii_lowercase())
                    }
                    _ => {
                        return Err(refusal(
                            "BAD_REQUEST",
                            "persistedQuery.sha256Hash must be 64 hex digits",
                        ))
                    }
                }
            }
            Some(_) => return Err(refusal("BAD_REQUEST", "extensions.persistedQuery must be an object")),
        };
        match (query, hash) {
            // Hashed only when there is an allow-list to look the hash up in.
            (Some(query), None) if self.allow_list.is_none() => Ok(query),
            (Some(query), None) => self.check_allowed(&sha256_hex(&query)).map(|_| query),
            (Some(query), Some(hash)) => {
                // Checked before anything is hashed or stored.
                if query.len() > self.max_query_chars && query.chars().count() > self.max_query_chars {
                    return Err(refusal(
                        "QUERY_TOO_LARGE",
                        format!(
                            "the query is {} characters long; the limit is {}",
                            query.chars().count(),
                            self.max_query_chars
                        ),
                    ));
                }
                if sha256_hex(&query) != hash {
                    return Err(refusal(
                        "BAD_REQUEST",
                        "persistedQuery.sha256Hash does not match the SHA-256 of the query",
                    ));
                }
                self.check_allowed(&hash)?;
                if let Some(cache) = &self.cache {
                    if let Ok(mut cache) = cache.lock() {
                        cache.put(hash, Arc::from(query.as_str()));
                    }
                }
                Ok(query)
            }
            (None, Some(hash)) => {
                if let Some(query) = self.allow_list.as_ref().and_then(|l| l.get(&hash)) {
                    return Ok(query.to_string());
                }
                if self.allow_list.is_some() {
                    return Err(refusal(
                        "PERSISTED_QUERY_NOT_ALLOWED",
                        "this server only runs registered operations, and this hash is not one",
                    ));
                }
                let Some(cache) = &self.cache else {
                    return Err(refusal("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported"));
                };
                let found = cache.lock().ok().and_then(|mut c| c.lru.get(&hash).cloned());
                // Apollo clients look for this exact message to resend the query.
                found
                    .map(|q| q.to_string())
                    .ok_or_else(|| refusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"))
            }
            (None, None) => Err(refusal("BAD_REQUEST", "`query` is missing")),
        }
    }

    fn check_allowed(&self, hash: &str) -> Result<(), Refusal> {
        match &self.allow_list {
            Some(list) if !list.contains_key(hash) => Err(refusal(
                "PERSISTED_QUERY_NOT_ALLOWED",
                "this server only runs registered operations, and this one is not registered",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ext(hash: &str) -> Map<String, Value> {
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn apq_remembers_a_query_after_it_is_sent_once() {
        let p = Persisted::new(Some(2), None);
        let q = "{ __typename }".to_string();
        let h = sha256_hex(&q);
        assert_eq!(
            p.resolve(None, Some(&ext(&h))).unwrap_err().code,
            "PERSISTED_QUERY_NOT_FOUND"
        );
        assert_eq!(p.resolve(Some(q.clone()), Some(&ext(&h))).unwrap(), q);
        assert_eq!(p.resolve(None, Some(&ext(&h))).unwrap(), q);
    }

    #[test]
    fn the_apq_cache_is_bounded() {
        let p = Persisted::new(Some(1), None);
        let (a, b) = ("{ a }".to_string(), "{ b }".to_string());
        p.resolve(Some(a.clone()), Some(&ext(&sha256_hex(&a)))).unwrap();
        p.resolve(Some(b.clone()), Some(&ext(&sha256_hex(&b)))).unwrap();
        assert!(p.resolve(None, Some(&ext(&sha256_hex(&a)))).is_err());
        assert!(p.resolve(None, Some(&ext(&sha256_hex(&b)))).is_ok());
    }

    #[test]
    fn a_query_over_the_size_limit_is_refused_and_not_remembered() {
        let p = Persisted::new(Some(10), None).limited(100);
        let q = format!("{{ {} }}", "a ".repeat(100));
        let h = sha256_hex(&q);
        assert_eq!(p.resolve(Some(q), Some(&ext(&h))).unwrap_err().code, "QUERY_TOO_LARGE");
        assert_eq!(
            p.resolve(None, Some(&ext(&h))).unwrap_err().code,
            "PERSISTED_QUERY_NOT_FOUND"
        );
    }

    #[test]
    fn the_apq_cache_is_bounded_in_bytes() {
        let p = Persisted::new(Some(100_000), None);
        for i in 0..40 {
            let q = format!("{{ a{i} }} #{}", "x".repeat(1024 * 1024));
            p.resolve(Some(q.clone()), Some(&ext(&sha256_hex(&q)))).unwrap();
        }
        let bytes = p.cache.as_ref().unwrap().lock().unwrap().bytes;
        assert!(bytes <= MAX_APQ_BYTES, "{bytes}");
    }

    #[test]
    fn a_hash_that_does_not_match_its_query_is_refused() {
        let p = Persisted::new(Some(10), None);
        let wrong = "0".repeat(64);
        assert_eq!(
            p.resolve(Some("{ a }".into()), Some(&ext(&wrong))).unwrap_err().code,
            "BAD_REQUEST"
        );
    }

    #[test]
    fn allow_list_mode_runs_only_registered_documents() {
        let q = "{ a }".to_string();
        let list = HashMap::from([(sha256_hex(&q), Arc::from(q.as_str()))]);
        let p = Persisted::new(None, Some(list));
        assert_eq!(p.resolve(None, Some(&ext(&sha256_hex(&q)))).unwrap(), q);
        assert_eq!(p.resolve(Some(q.clone()), None).unwrap(), q);
        assert_eq!(
            p.resolve(Some("{ b }".into()), None).unwrap_err().code,
            "PERSISTED_QUERY_NOT_ALLOWED"
        );
    }
}
