//! The response cache: identical read operations share one answer until the
//! next write.
//!
//! The key is the normalised document (whitespace outside strings collapsed),
//! the variables and the operation name. Each entry remembers the store
//! generation it was computed at, captured before execution; any committed
//! write moves the generation on, so a stale entry is never served. Only
//! answers without errors are kept, the number of entries is bounded (least
//! recently used go first) and large answers are not kept at all. An entry
//! also keeps its answer gzipped, made the first time a client asks for it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::web::Bytes;
use lru::LruCache;

/// Answers larger than this are not cached.
pub const MAX_CACHED_BODY: usize = 256 * 1024;

pub struct ResponseCache {
    entries: Mutex<LruCache<String, (u64, Arc<Answer>)>>,
}

/// A kept answer: its JSON, and the same gzipped once a client asked.
pub struct Answer {
    pub body: Bytes,
    gzipped: OnceLock<Option<Bytes>>,
}

impl Answer {
    pub fn new(body: Bytes) -> Answer {
        Answer {
            body,
            gzipped: OnceLock::new(),
        }
    }

    /// The answer gzipped (compressed on the first call), or `None` when it
    /// is not worth compressing.
    pub fn gzipped(&self) -> Option<Bytes> {
        self.gzipped
            .get_or_init(|| super::compress::gzip(&self.body, super::compress::for_keeping()))
            .clone()
    }
}

/// Collapses whitespace and commas outside string literals, so layout
/// differences do not split the cache; string contents stay exact.
pub fn normalise(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let mut pending_space = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            if pending_space && !out.is_empty() {
                out.push(b' ');
            }
            pending_space = false;
            let block = bytes[i..].starts_with(b"\"\"\"");
            let start = i;
            i += if block { 3 } else { 1 };
            while i < bytes.len() {
                if block && bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    break;
                }
                if !block && bytes[i] == b'\\' {
                    i += 2;
                    continue;
                }
                i += 1;
                if !block && bytes[i - 1] == b'"' {
                    break;
                }
            }
            out.extend_from_slice(&bytes[start..i.min(bytes.len())]);
            continue;
        }
        if b == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            pending_space = true;
            continue;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',') {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(b' ');
            }
            pending_space = false;
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| query.to_owned())
}

/// The full cache key: no hashing, so two different requests never collide.
pub fn key(
    query: &str,
    variables: Option<&serde_json::Map<String, serde_json::Value>>,
    operation: Option<&str>,
) -> String {
    let vars = variables
        .map(|v| serde_json::to_string(v).unwrap_or_default())
        .unwrap_or_default();
    format!("{}\u{0}{}\u{0}{}", normalise(query), vars, operation.unwrap_or(""))
}

impl ResponseCache {
    pub fn new(capacity: usize) -> ResponseCache {
        ResponseCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The cached answer for `key` if it was computed at `generation`.
    pub fn get(&self, key: &str, generation: u64) -> Option<Arc<Answer>> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some((g, answer)) if *g == generation => Some(answer.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `body` as the answer for `key` at `generation`, and returns the
    /// entry; `None` when the answer is too large to keep.
    pub fn put(&self, key: String, generation: u64, body: Bytes) -> Option<Arc<Answer>> {
        if body.len() > MAX_CACHED_BODY {
            return None;
        }
        let answer = Arc::new(Answer::new(body));
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(key, (generation, answer.clone()));
        }
        Some(answer)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_does_not_matter_but_strings_do() {
        assert_eq!(normalise("{\n  a ,\n b }"), normalise("{ a b }"));
        assert_ne!(normalise(r#"{ s(q: "a  b") }"#), normalise(r#"{ s(q: "a b") }"#));
        assert_eq!(normalise("{ a # comment\n b }"), "{ a b }");
        assert_eq!(normalise(r#"{ s(q: "x\"y") z }"#), r#"{ s(q: "x\"y") z }"#);
    }

    #[test]
    fn a_new_generation_makes_entries_stale() {
        let cache = ResponseCache::new(2);
        cache.put("k".into(), 1, Bytes::from_static(b"old"));
        assert_eq!(
            cache.get("k", 1).map(|a| a.body.clone()),
            Some(Bytes::from_static(b"old"))
        );
        assert!(cache.get("k", 2).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn different_variables_never_share_an_entry() {
        let a = serde_json::json!({ "id": "a" });
        let b = serde_json::json!({ "id": "b" });
        assert_ne!(key("{ x }", a.as_object(), None), key("{ x }", b.as_object(), None));
        assert_ne!(key("{ x }", None, Some("A")), key("{ x }", None, Some("B")));
    }
}
