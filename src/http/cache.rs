//! The response cache: identical read operations share one answer until the
//! next write.
//!
//! The key is the document's tokens (as the GraphQL lexer reads them), the
//! variables it mentions and the operation name. Each entry remembers the
//! store generation it was computed at, captured before execution; any
//! committed write moves the generation on, so a stale entry is never served.
//! Only answers without errors are kept, the cache is bounded in entries and
//! in bytes (least recently used go first) and large answers are not kept at all. An entry
//! also keeps its answer gzipped, made the first time a client asks for it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::web::Bytes;
use lru::LruCache;

/// Answers larger than this are not cached.
pub const MAX_CACHED_BODY: usize = 256 * 1024;

pub struct ResponseCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
}

struct Entries {
    lru: LruCache<String, (u64, Arc<Answer>)>,
    /// The same answers by the request's raw bytes: a POST body.
    raw_post: LruCache<Box<[u8]>, Raw>,
    /// … and a GET query string.
    raw_get: LruCache<Box<[u8]>, Raw>,
    /// Sum of [`cost`] and [`raw_cost`] over the entries.
    bytes: usize,
}

/// An answer kept by the raw bytes of the request that asked for it.
#[derive(Clone)]
pub struct Raw {
    generation: u64,
    pub answer: Arc<Answer>,
    /// How a hit is counted and served, settled when it was kept.
    pub served: Arc<Served>,
}

/// What answering a hit needs besides the answer, resolved once when it is
/// kept so that a hit looks nothing up: the operation's request counter and
/// duration histogram (by its label), its counter of hits by raw bytes,
/// and the `Cache-Control` value.
pub struct Served {
    pub requests: metrics::Counter,
    pub duration: metrics::Histogram,
    pub raw_hits: metrics::Counter,
    pub cache_control: actix_web::http::header::HeaderValue,
}

/// The raw bytes of a request, by how they came.
#[derive(Clone, Copy)]
pub enum RawKey<'a> {
    /// A POST body.
    Post(&'a [u8]),
    /// A GET query string.
    Get(&'a str),
}

impl RawKey<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            RawKey::Post(body) => body,
            RawKey::Get(query) => query.as_bytes(),
        }
    }
}

/// Requests longer than this are not kept by their raw bytes (the
/// normalised key still finds their answer).
pub const MAX_RAW_KEY: usize = 16 * 1024;

/// What a raw entry costs against the byte bound: its key, and its answer
/// twice over as a normalised entry does, since it keeps the answer alive
/// even once the normalised entry is gone.
fn raw_cost(key: &[u8], answer: &Answer) -> usize {
    key.len() + 2 * answer.body.len() + 64
}

impl Entries {
    fn pop(&mut self, key: &str) {
        if let Some((_, answer)) = self.lru.pop(key) {
            self.bytes -= cost(key, &answer.body);
        }
    }

    fn raw(&mut self, key: RawKey<'_>) -> &mut LruCache<Box<[u8]>, Raw> {
        match key {
            RawKey::Post(_) => &mut self.raw_post,
            RawKey::Get(_) => &mut self.raw_get,
        }
    }

    /// Drops least recently used entries, the raw ones first (they only
    /// save the parse), until the bound holds.
    fn shrink_to(&mut self, max_bytes: usize) {
        while self.bytes > max_bytes {
            if let Some((k, old)) = self.raw_post.pop_lru().or_else(|| self.raw_get.pop_lru()) {
                self.bytes -= raw_cost(&k, &old.answer);
            } else if let Some((k, (_, old))) = self.lru.pop_lru() {
                self.bytes -= cost(&k, &old.body);
            } else {
                break;
            }
        }
    }
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

/// The full cache key: [`crate::graphql::operation_key`], which the live
/// fan-out shares subscriptions by too.
pub use crate::graphql::operation_key as key;

/// Largest `variables` object accepted, in bytes of JSON (about): larger
/// ones are refused before anything runs. Generous for any real operation
/// (a mutation's longest text field is far smaller).
pub const MAX_VARIABLES_BYTES: usize = 64 * 1024;

/// Refuses a `variables` object larger than [`MAX_VARIABLES_BYTES`], with a
/// message naming the variable that weighs most.
pub fn check_variables(variables: Option<&serde_json::Map<String, serde_json::Value>>) -> Result<(), String> {
    let Some(variables) = variables else { return Ok(()) };
    let sizes: Vec<(&String, usize)> = variables.iter().map(|(k, v)| (k, k.len() + json_size(v))).collect();
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    if total <= MAX_VARIABLES_BYTES {
        return Ok(());
    }
    let heaviest = sizes
        .iter()
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k.as_str())
        .unwrap_or("");
    Err(format!(
        "`variables` holds about {total} bytes (`{heaviest}` the most); the limit is {MAX_VARIABLES_BYTES}"
    ))
}

/// About how many bytes a JSON value takes written out.
fn json_size(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 20,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| json_size(v) + 1).sum::<usize>(),
        Value::Object(map) => 2 + map.iter().map(|(k, v)| k.len() + 4 + json_size(v)).sum::<usize>(),
    }
}

/// Total bytes the response cache holds (keys and answers, each answer
/// counted twice so its gzipped copy fits); past it, the least recently
/// used entries go first.
pub const MAX_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// What an entry costs against [`MAX_CACHE_BYTES`].
fn cost(key: &str, body: &Bytes) -> usize {
    key.len() + 2 * body.len() + 64
}

impl ResponseCache {
    pub fn new(capacity: usize) -> ResponseCache {
        ResponseCache::bounded(capacity, MAX_CACHE_BYTES)
    }

    /// A cache of at most `capacity` entries and `max_bytes` bytes.
    pub fn bounded(capacity: usize, max_bytes: usize) -> ResponseCache {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        ResponseCache {
            entries: Mutex::new(Entries {
                lru: LruCache::new(capacity),
                raw_post: LruCache::new(capacity),
                raw_get: LruCache::new(capacity),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    /// The cached answer for `key` if it was computed at `generation`.
    pub fn get(&self, key: &str, generation: u64) -> Option<Arc<Answer>> {
        let mut entries = self.entries.lock().ok()?;
        match entries.lru.get(key) {
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
        let added = cost(&key, &body);
        if body.len() > MAX_CACHED_BODY || added > self.max_bytes {
            return None;
        }
        let answer = Arc::new(Answer::new(body));
        if let Ok(mut entries) = self.entries.lock() {
            entries.pop(&key);
            if let Some((old_key, (_, old))) = entries.lru.push(key, (generation, answer.clone())) {
                entries.bytes -= cost(&old_key, &old.body);
            }
            entries.bytes += added;
            entries.shrink_to(self.max_bytes);
        }
        Some(answer)
    }

    /// The answer kept for these raw request bytes, if it was computed at
    /// `generation`. Allocates nothing: the hit path of a repeated read.
    pub fn get_raw(&self, key: RawKey<'_>, generation: u64) -> Option<Raw> {
        let mut entries = self.entries.lock().ok()?;
        let map = entries.raw(key);
        let raw = map.get(key.bytes())?;
        if raw.generation == generation {
            return Some(raw.clone());
        }
        if let Some((k, old)) = map.pop_entry(key.bytes()) {
            entries.bytes -= raw_cost(&k, &old.answer);
        }
        None
    }

    /// Keeps `answer` (an entry [`ResponseCache::put`] or
    /// [`ResponseCache::get`] returned, computed at `generation`) under the
    /// raw bytes of a request that asked for it. Only answers without errors
    /// to reads reach here, so a raw key never stands for a write.
    pub fn put_raw(&self, key: RawKey<'_>, generation: u64, answer: Arc<Answer>, served: Arc<Served>) {
        let bytes = key.bytes();
        let added = raw_cost(bytes, &answer);
        if bytes.len() > MAX_RAW_KEY || added > self.max_bytes {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        let raw = Raw {
            generation,
            answer,
            served,
        };
        let map = entries.raw(key);
        let mut freed = 0;
        if let Some((k, old)) = map.pop_entry(bytes) {
            freed += raw_cost(&k, &old.answer);
        }
        if let Some((k, old)) = map.push(bytes.into(), raw) {
            freed += raw_cost(&k, &old.answer);
        }
        entries.bytes = entries.bytes + added - freed;
        entries.shrink_to(self.max_bytes);
    }

    /// Entries by normalised key.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.lru.len()).unwrap_or(0)
    }

    /// Bytes held, as counted against the bound.
    pub fn bytes(&self) -> usize {
        self.entries.lock().map(|e| e.bytes).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(query: &str) -> String {
        key(query, None, None)
    }

    #[test]
    fn layout_does_not_matter_but_strings_do() {
        assert_eq!(k("{\n  a ,\n b }"), k("{ a b }"));
        assert_ne!(k(r#"{ s(q: "a  b") }"#), k(r#"{ s(q: "a b") }"#));
        assert_eq!(k("{ a # comment\n b }"), k("{ a b }"));
        assert_ne!(k(r#"{ s(q: "x\"y") z }"#), k(r#"{ s(q: "x\"y z") }"#));
    }

    #[test]
    fn an_escaped_triple_quote_does_not_end_a_block_string() {
        // Two different documents that a normaliser blind to `\"""` would
        // read as one string each, ending at the same place.
        let a = r#"{ a(s: """\""" x  y""") }"#;
        let b = r#"{ a(s: """\""" x,y""") }"#;
        assert_ne!(k(a), k(b));
    }

    #[test]
    fn variables_the_document_does_not_mention_are_left_out_of_the_key() {
        let used = serde_json::json!({ "id": "a" });
        let extra = serde_json::json!({ "id": "a", "junk": "x".repeat(1000) });
        let q = "query($id: ID!) { actor(id: $id) { name } }";
        assert_eq!(key(q, used.as_object(), None), key(q, extra.as_object(), None));
        assert!(key(q, extra.as_object(), None).len() < 200);
    }

    #[test]
    fn the_cache_keeps_to_its_byte_bound() {
        let cache = ResponseCache::bounded(100, 10_000);
        for i in 0..50 {
            cache.put(format!("k{i}"), 1, Bytes::from(vec![b'x'; 1000]));
            assert!(cache.bytes() <= 10_000, "{} bytes", cache.bytes());
        }
        assert!(cache.len() < 50 && cache.len() >= 4, "{} entries", cache.len());
        assert!(cache.get("k49", 1).is_some());
    }

    fn served() -> Arc<Served> {
        Arc::new(Served {
            requests: metrics::Counter::noop(),
            duration: metrics::Histogram::noop(),
            raw_hits: metrics::Counter::noop(),
            cache_control: actix_web::http::header::HeaderValue::from_static("no-cache"),
        })
    }

    #[test]
    fn raw_entries_keep_to_the_byte_bound_and_to_their_generation_and_method() {
        let cache = ResponseCache::bounded(100, 20_000);
        let answer = cache.put("k".into(), 1, Bytes::from(vec![b'x'; 1000])).unwrap();
        let body = br#"{"query":"{ a }"}"#;
        cache.put_raw(RawKey::Post(body), 1, answer.clone(), served());
        assert!(cache.get_raw(RawKey::Post(body), 1).is_some());
        assert!(
            cache.get_raw(RawKey::Get(r#"{"query":"{ a }"}"#), 1).is_none(),
            "a GET is not a POST"
        );
        assert!(cache.get_raw(RawKey::Post(body), 2).is_none(), "another generation");
        assert!(
            cache.get_raw(RawKey::Post(body), 1).is_none(),
            "a stale entry is dropped"
        );
        for i in 0..100 {
            let key = format!(r#"{{"query":"{{ a }}","variables":{{"junk":{i}}}}}"#);
            cache.put_raw(RawKey::Post(key.as_bytes()), 1, answer.clone(), served());
            assert!(cache.bytes() <= 20_000, "{} bytes", cache.bytes());
        }
        let long = vec![b' '; MAX_RAW_KEY + 1];
        cache.put_raw(RawKey::Post(&long), 1, answer, served());
        assert!(
            cache.get_raw(RawKey::Post(&long), 1).is_none(),
            "too long to keep by its bytes"
        );
    }

    #[test]
    fn a_large_variables_object_is_refused_naming_its_heaviest_variable() {
        let big = serde_json::json!({ "small": 1, "huge": "x".repeat(MAX_VARIABLES_BYTES) });
        let message = check_variables(big.as_object()).unwrap_err();
        assert!(message.contains("`huge`"), "{message}");
        assert!(check_variables(serde_json::json!({ "a": "b" }).as_object()).is_ok());
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
        let q = "query($id: ID!) { x(id: $id) }";
        assert_ne!(key(q, a.as_object(), None), key(q, b.as_object(), None));
        assert_ne!(key("{ x }", None, Some("A")), key("{ x }", None, Some("B")));
    }
}
