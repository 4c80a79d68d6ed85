//! The GraphQL-over-HTTP endpoint, following the spec
//! (<https://graphql.github.io/graphql-over-http/>) rather than the stock
//! async-graphql-actix-web handler, which accepts any content type, runs
//! mutations over GET and always answers `application/graphql-response+json`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::auth::Denied;
use super::cache::{Answer, RawKey, Served};
use super::observe::OperationMetrics;
use super::{compress, playground, AppState};
use crate::graphql::{Planned, RawKind};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type the client will get back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    /// `application/graphql-response+json`: status codes carry request errors.
    GraphqlResponse,
    /// `application/json`: the legacy type; well-formed requests get 200.
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }

    fn header(self) -> HeaderValue {
        match self {
            Media::GraphqlResponse => GRAPHQL_RESPONSE_JSON_UTF8,
            Media::Json => JSON_UTF8,
        }
    }
}

// Header names and values built at compile time: `from_static` at run time
// checks its argument on every call.
const GRAPHQL_RESPONSE_JSON_UTF8: HeaderValue =
    HeaderValue::from_static("application/graphql-response+json; charset=utf-8");
const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");
const HIT: HeaderValue = HeaderValue::from_static("hit");
const MISS: HeaderValue = HeaderValue::from_static("miss");
const BYPASS: HeaderValue = HeaderValue::from_static("bypass");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");

/// Picks the response type from `Accept`, honouring q-values; `None` when
/// the client accepts neither JSON type.
fn negotiate(req: &HttpRequest) -> Option<Media> {
    let Some(accept) = req.headers().get(header::ACCEPT) else {
        return Some(Media::Json);
    };
    // What most clients send, settled by its bytes without checking them
    // as text or splitting them up.
    match accept.as_bytes() {
        b"application/json" | b"*/*" => return Some(Media::Json),
        b"application/graphql-response+json" => return Some(Media::GraphqlResponse),
        _ => {}
    }
    let Ok(accept) = accept.to_str() else {
        return Some(Media::Json);
    };
    if accept.trim().is_empty() {
        return Some(Media::Json);
    }
    let mut best: Option<(f32, u8, Media)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let range = pieces.next().unwrap_or_default().trim();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        // Specific types beat wildcards at equal q.
        let candidate = if range.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON) {
            (q, 3, Media::GraphqlResponse)
        } else if range.eq_ignore_ascii_case(JSON) {
            (q, 3, Media::Json)
        } else if range.eq_ignore_ascii_case("application/*") {
            (q, 2, Media::Json)
        } else if range == "*/*" {
            (q, 1, Media::Json)
        } else {
            continue;
        };
        if best.is_none_or(|(bq, bs, _)| (candidate.0, candidate.1) > (bq, bs)) {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, m)| m)
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// A request the server refuses before running it.
fn refuse(status: StatusCode, media: Media, code: &str, message: impl Into<String>) -> HttpResponse {
    let message: String = message.into();
    HttpResponse::build(status)
        .content_type(media.content_type())
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

fn bad_request(media: Media, message: impl Into<String>) -> HttpResponse {
    refuse(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", message)
}

/// The parameters of a GraphQL request, checked for type.
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn params_from_json(body: Value) -> Result<Params, String> {
    let mut map = match body {
        Value::Object(map) => map,
        Value::Array(_) => {
            return Err("batched requests (a JSON array) are not accepted; send one operation per request".into())
        }
        _ => return Err("the request body must be a JSON object with a `query` string".into()),
    };
    params_from_fields(Fields {
        query: map.remove("query"),
        operation_name: map.remove("operationName"),
        variables: map.remove("variables"),
        extensions: map.remove("extensions"),
    })
}

/// The members of a request object that mean something, each as it came
/// (`Some(Value::Null)` for a `null`); other members are ignored.
#[derive(serde::Deserialize)]
struct Fields {
    #[serde(default, deserialize_with = "present")]
    query: Option<Value>,
    #[serde(default, deserialize_with = "present", rename = "operationName")]
    operation_name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    variables: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    extensions: Option<Value>,
}

/// A member that is there, `null` included (a bare `Option` would read
/// `null` as absent, and `"query": null` is an error).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// A request object read straight into [`Fields`], without building a map
/// of its members first; `None` when that does not work (not an object, a
/// member given twice, not JSON), and the body is then read as a
/// [`Value`] as ever, which says what is wrong with it.
fn fields_from_slice(body: &[u8]) -> Option<Fields> {
    // An array would be read by position into the fields: only objects here.
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(body).ok()
}

fn params_from_fields(fields: Fields) -> Result<Params, String> {
    let query = match fields.query {
        Some(Value::String(q)) => Some(q),
        Some(_) => return Err("`query` must be a string".into()),
        // Allowed only for a persisted query, which names it by hash.
        None => None,
    };
    let operation_name = match fields.operation_name {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("`operationName` must be a string or null".into()),
    };
    let object = |name: &str, v: Option<Value>| match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("`{name}` must be an object or null")),
    };
    let variables = object("variables", fields.variables)?;
    let extensions = object("extensions", fields.extensions)?;
    Ok(Params {
        query,
        operation_name,
        variables,
        extensions,
    })
}

fn params_from_query_string(req: &HttpRequest) -> Result<Params, String> {
    let pairs: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| format!("malformed query string: {e}"))?
        .into_inner();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let json_param = |name: &str| -> Result<Value, String> {
        match get(name) {
            None => Ok(Value::Null),
            Some(s) if s.is_empty() => Ok(Value::Null),
            Some(s) => serde_json::from_str(&s).map_err(|e| format!("`{name}` is not valid JSON: {e}")),
        }
    };
    let mut body = Map::new();
    if let Some(q) = get("query") {
        body.insert("query".into(), Value::String(q));
    }
    if let Some(op) = get("operationName") {
        body.insert("operationName".into(), Value::String(op));
    }
    body.insert("variables".into(), json_param("variables")?);
    body.insert("extensions".into(), json_param("extensions")?);
    params_from_json(Value::Object(body))
}

/// Whether an answer came from the response cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CacheUse {
    Hit,
    Miss,
    /// Not cacheable: a mutation, an error, or the cache is off.
    Bypass,
}

/// What running one operation produced: the JSON body, whether it was a
/// request error (nothing executed) or carried errors, and the cache's part.
struct Outcome {
    body: Bytes,
    /// The response cache's entry for the answer, which keeps it gzipped too.
    kept: Option<Arc<Answer>>,
    request_error: bool,
    has_errors: bool,
    cache: CacheUse,
}

/// Settles the document (persisted queries), refuses mutations over GET and
/// unauthorised ones, answers from the response cache when it can, and
/// otherwise hands the operation to [`crate::graphql::run`]; records its metrics.
/// `raw`: the request's raw bytes, under which an answer from or for the
/// response cache is kept too, so that the same bytes are next answered
/// before they are parsed ([`from_raw_cache`]). `started`: when the request
/// came (its body read), from which the operation's time limit and its
/// duration in metrics run, as for an answer by raw bytes.
async fn run_one(
    state: &AppState,
    req: &HttpRequest,
    media: Media,
    params: Params,
    over_get: bool,
    raw: Option<RawKey<'_>>,
    started: std::time::Instant,
) -> Result<Outcome, HttpResponse> {
    if let Err(message) = super::cache::check_variables(params.variables.as_ref()) {
        metrics::counter!("diplograph_refused_queries_total", "reason" => "VARIABLES_TOO_LARGE").increment(1);
        return Err(refuse(StatusCode::BAD_REQUEST, media, "VARIABLES_TOO_LARGE", message));
    }
    // A read a compiled plan answers is remembered by its bytes, when they
    // say all there is to the request (no extensions, no persisted query)
    // and the response cache is off (on, it answers those bytes).
    let plan_raw = match raw.filter(|_| params.extensions.is_none() && state.cache.is_none()) {
        Some(RawKey::Post(body)) if body.len() <= crate::graphql::MAX_RAW_REQUEST => Some((RawKind::Post, body)),
        Some(RawKey::Get(query)) if query.len() <= crate::graphql::MAX_RAW_REQUEST => {
            Some((RawKind::Get, query.as_bytes()))
        }
        _ => None,
    };
    // A request that registers a persisted query is not kept by its bytes:
    // each must reach the registry, which may have let the query go.
    let raw = raw.filter(|_| params.query.is_none() || params.extensions.is_none());
    let query = match state.persisted.resolve(params.query, params.extensions.as_ref()) {
        Ok(q) => q,
        Err(refusal) => {
            metrics::counter!("diplograph_refused_queries_total", "reason" => refusal.code).increment(1);
            let status = match refusal.code {
                "PERSISTED_QUERY_NOT_FOUND" | "PERSISTED_QUERY_NOT_SUPPORTED" => StatusCode::OK,
                "PERSISTED_QUERY_NOT_ALLOWED" => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            if status == StatusCode::OK {
                let body =
                    json!({ "errors": [{ "message": refusal.message, "extensions": { "code": refusal.code } }] });
                // 200 whatever the media type: APQ clients resend on this answer.
                return Ok(Outcome {
                    body: Bytes::from(body.to_string()),
                    kept: None,
                    request_error: false,
                    has_errors: true,
                    cache: CacheUse::Bypass,
                });
            }
            return Err(refuse(status, media, refusal.code, refusal.message));
        }
    };
    let is_mutation = crate::graphql::is_mutation(&query, params.operation_name.as_deref());
    let mut write_access = false;
    if is_mutation {
        if over_get {
            metrics::counter!("diplograph_refused_queries_total", "reason" => "MUTATION_OVER_GET").increment(1);
            let mut resp = refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "METHOD_NOT_ALLOWED",
                "mutations must be sent with POST",
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return Err(resp);
        }
        let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let client = req
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        match state.auth.check(authorization, client) {
            Ok(()) => write_access = true,
            Err(denied) => return Err(deny(media, denied)),
        }
    }
    let metrics = state.labels.metrics(params.operation_name.as_deref());
    // Reads may be answered from the response cache, keyed on the store
    // generation read before execution: a write that lands meanwhile makes
    // the new entry stale at once.
    let generation = crate::graphql::generation(&state.schema);
    let cache_key = match (&state.cache, is_mutation) {
        (Some(_), false) => Some(super::cache::key(
            &query,
            params.variables.as_ref(),
            params.operation_name.as_deref(),
        )),
        _ => None,
    };
    if let (Some(cache), Some(key)) = (&state.cache, &cache_key) {
        if let Some(answer) = cache.get(key, generation) {
            if let Some(raw) = raw {
                cache.put_raw(raw, generation, answer.clone(), served(state, &metrics));
            }
            metrics.record("ok", started);
            cache_hits().increment(1);
            return Ok(Outcome {
                body: answer.body.clone(),
                kept: Some(answer),
                request_error: false,
                has_errors: false,
                cache: CacheUse::Hit,
            });
        }
    }
    let request_id = super::request_id();
    let answered = crate::graphql::run(
        &state.schema,
        state.planner.as_ref(),
        crate::graphql::Operation {
            query,
            operation_name: params.operation_name,
            variables: params.variables,
            extensions: params.extensions,
            write_access,
            request_id,
            label: metrics.label.clone(),
            compiled_answers: Some(metrics.compiled_answers.clone()),
            raw: plan_raw
                .filter(|_| !is_mutation)
                .map(|(kind, bytes)| crate::graphql::RawRequest {
                    kind,
                    bytes: bytes.into(),
                }),
            started: Some(started),
        },
    )
    .await;
    let body = Bytes::from(answered.body);
    let (cache, kept) = if answered.cacheable {
        keep(state, cache_key, generation, &body)
    } else {
        (CacheUse::Bypass, None)
    };
    if let (Some(raw), Some(answer), Some(cache)) = (raw, &kept, &state.cache) {
        cache.put_raw(raw, generation, answer.clone(), served(state, &metrics));
    }
    metrics.record(answered.outcome.label(), started);
    Ok(Outcome {
        body,
        kept,
        request_error: answered.outcome == crate::graphql::Outcome::Refused,
        has_errors: answered.outcome != crate::graphql::Outcome::Ok,
        cache,
    })
}

/// How a hit on an answer to an operation is counted and served, so that
/// [`from_raw_cache`] looks nothing up.
fn served(state: &AppState, metrics: &OperationMetrics) -> Arc<Served> {
    let (requests, duration) = metrics.outcome("ok");
    Arc::new(Served {
        requests: requests.clone(),
        duration: duration.clone(),
        raw_hits: metrics.raw_hits().clone(),
        cache_control: state.options.cache_control.clone(),
    })
}

/// The process-wide counter of response-cache hits (metrics has one
/// recorder per process, installed before any request).
fn cache_hits() -> &'static metrics::Counter {
    static HITS: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    HITS.get_or_init(|| metrics::counter!("diplograph_response_cache_hits_total"))
}

fn gzipped_answers() -> &'static metrics::Counter {
    static GZIPPED: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    GZIPPED.get_or_init(|| metrics::counter!("diplograph_gzipped_answers_total"))
}

/// A repeated read answered by its raw bytes (a POST body, a GET query
/// string) before they are parsed: the response cache kept them with the
/// answer, which was computed at the store's current generation. Looks up
/// no metric label and allocates nothing of its own; the answer goes out as
/// kept, gzipped when the client accepts it. Only answers without errors to
/// reads are kept by raw bytes, so these bytes were a read that needed no
/// token, and variables it does not declare were part of the bytes.
fn from_raw_cache(
    state: &AppState,
    req: &HttpRequest,
    media: Media,
    key: RawKey<'_>,
    started: std::time::Instant,
) -> Option<HttpResponse> {
    let raw = state
        .cache
        .as_ref()?
        .get_raw(key, crate::graphql::generation(&state.schema))?;
    cache_hits().increment(1);
    raw.served.raw_hits.increment(1);
    raw.served.requests.increment(1);
    let mut response = send(state, req, StatusCode::OK, raw.answer.body.clone(), Some(&raw.answer));
    let headers = response.headers_mut();
    headers.append(header::CONTENT_TYPE, media.header());
    headers.append(header::CACHE_CONTROL, raw.served.cache_control.clone());
    headers.append(X_CACHE, HIT);
    raw.served.duration.record(started.elapsed().as_secs_f64());
    Some(response)
}

/// A repeated read answered by a compiled plan found by the request's raw
/// bytes (a POST body, a GET query string) before they are parsed: a plan
/// answered the same bytes before, which were then remembered with their
/// decoded variables ([`crate::graphql::Planner::prepared`]). Only with the response
/// cache off: on, it answers repeated bytes itself, and an answer it missed
/// must go through it to be kept. `None` when the bytes are not known or
/// the plan leaves them to async-graphql: they are then run as any other.
fn from_raw_plan(
    state: &AppState,
    req: &HttpRequest,
    media: Media,
    kind: RawKind,
    raw: &[u8],
    started: std::time::Instant,
) -> Option<HttpResponse> {
    if state.cache.is_some() {
        return None;
    }
    let planner = state.planner.as_ref()?;
    let prepared = planner.prepared(kind, raw)?;
    let planned = planner.answer_prepared(&prepared, started)?;
    let metrics = state.labels.metrics(prepared.operation_name());
    let (body, outcome) = match planned {
        Planned::Answer(body) => {
            crate::graphql::count_compiled(&metrics.label, Some(&metrics.compiled_answers));
            (body, crate::graphql::Outcome::Ok)
        }
        Planned::TimedOut(body) => (body, crate::graphql::Outcome::Error),
    };
    metrics.record(outcome.label(), started);
    let outcome = Outcome {
        body: Bytes::from(body),
        kept: None,
        request_error: false,
        has_errors: outcome != crate::graphql::Outcome::Ok,
        cache: CacheUse::Bypass,
    };
    Some(respond(state, req, media, outcome))
}

/// Keeps an answer without errors in the response cache, when it is on and
/// the request is a read; returns the entry when it was kept.
fn keep(state: &AppState, cache_key: Option<String>, generation: u64, body: &Bytes) -> (CacheUse, Option<Arc<Answer>>) {
    match (&state.cache, cache_key) {
        (Some(cache), Some(key)) => {
            metrics::counter!("diplograph_response_cache_misses_total").increment(1);
            (CacheUse::Miss, cache.put(key, generation, body.clone()))
        }
        _ => (CacheUse::Bypass, None),
    }
}

/// The answer to a write without the right token.
fn deny(media: Media, denied: Denied) -> HttpResponse {
    let reason = match denied {
        Denied::Disabled => "WRITES_DISABLED",
        Denied::Unauthorized => "UNAUTHENTICATED",
        Denied::TooMany { .. } => "RATE_LIMITED",
    };
    metrics::counter!("diplograph_refused_queries_total", "reason" => reason).increment(1);
    match denied {
        Denied::Disabled => refuse(
            StatusCode::FORBIDDEN,
            media,
            reason,
            "this server takes no writes: no write token is configured (set DIPLOGRAPH_WRITE_TOKENS)",
        ),
        Denied::Unauthorized => {
            let mut resp = refuse(
                StatusCode::UNAUTHORIZED,
                media,
                reason,
                "mutations need `Authorization: Bearer <token>` with a valid write token",
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"diplograph\""),
            );
            resp
        }
        Denied::TooMany { retry_after } => {
            let mut resp = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                media,
                reason,
                format!("too many failed write attempts; retry in {retry_after} s"),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

fn respond(state: &AppState, req: &HttpRequest, media: Media, outcome: Outcome) -> HttpResponse {
    let status = if outcome.request_error && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = send(state, req, status, outcome.body, outcome.kept.as_deref());
    let headers = response.headers_mut();
    headers.append(header::CONTENT_TYPE, media.header());
    // Answers stay valid until the next write; say how long a client or a
    // proxy may reuse one without asking. Errors and writes: never.
    if outcome.has_errors || outcome.cache == CacheUse::Bypass && state.cache.is_some() {
        headers.append(header::CACHE_CONTROL, NO_STORE);
    } else {
        headers.append(header::CACHE_CONTROL, state.options.cache_control.clone());
    }
    // Said only by a server with a response cache: without one, every
    // answer would say `bypass`.
    if state.cache.is_some() {
        let cache = match outcome.cache {
            CacheUse::Hit => HIT,
            CacheUse::Miss => MISS,
            CacheUse::Bypass => BYPASS,
        };
        headers.append(X_CACHE, cache);
    }
    response
}

/// A response of `status` with `body`, gzipped when the client accepts it
/// and the answer is long enough: from the response cache's entry when
/// there is one (compressed once), else compressed now. `Vary` and
/// `Content-Encoding` are set; the caller adds its other headers. Built
/// as a response at once and its headers added to its map, rather
/// than through actix's response builder, which checks for an error it
/// carries and converts each header anew. The map starts empty and each
/// header is set once, so they are appended: an insert also takes out
/// and hands back what it replaces, moving the list of values it keeps
/// per name (a few hundred bytes) each way, and costs twice an append.
fn send(state: &AppState, req: &HttpRequest, status: StatusCode, body: Bytes, kept: Option<&Answer>) -> HttpResponse {
    let plain = |body: Bytes| HttpResponse::with_body(status, BoxBody::new(body));
    if !state.options.compression {
        return plain(body);
    }
    // The value the answer ends up with, CORS's part included (see `front`).
    let vary = super::front::vary_encoding();
    let gzipped = if body.len() < compress::MIN_COMPRESSED_BODY || !compress::accepts_gzip(req) {
        None
    } else {
        match kept {
            Some(answer) => answer.gzipped(),
            None => compress::gzip(&body, compress::for_once()),
        }
    };
    let mut response = match gzipped {
        Some(gzipped) => {
            gzipped_answers().increment(1);
            let mut response = plain(gzipped);
            response.headers_mut().append(header::CONTENT_ENCODING, GZIP);
            response
        }
        None => plain(body),
    };
    response.headers_mut().append(header::VARY, vary);
    response
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    // What most clients send, without splitting it up.
    if value.as_bytes() == JSON.as_bytes() {
        return true;
    }
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(JSON))
}

fn too_large(limit: usize) -> HttpResponse {
    metrics::counter!("diplograph_refused_queries_total", "reason" => "PAYLOAD_TOO_LARGE").increment(1);
    HttpResponse::PayloadTooLarge()
        .content_type(Media::Json.content_type())
        .json(json!({ "errors": [{ "message": format!("request body is larger than the limit of {limit} bytes"), "extensions": { "code": "PAYLOAD_TOO_LARGE" } }] }))
}

/// Reads the body, refusing at once when `Content-Length` is over `limit`
/// and stopping as soon as the bytes read pass it.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Bytes, HttpResponse> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    // A body that arrives in one chunk (most do) is kept as it came, uncopied.
    let mut first: Option<Bytes> = None;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| bad_request(Media::Json, format!("could not read the request body: {e}")))?;
        let read = first.as_ref().map_or(0, Bytes::len) + body.len();
        if read + chunk.len() > limit {
            return Err(too_large(limit));
        }
        if read == 0 && first.is_none() {
            first = Some(chunk);
            continue;
        }
        if let Some(first) = first.take() {
            body.extend_from_slice(&first);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(first.unwrap_or_else(|| body.freeze()))
}

/// `reading`'s output, or `None` when it is not done `timeout` after its
/// second poll. A timer costs an insertion into tokio's timer wheel and a
/// removal (about 600 instructions a request), and actix nearly always
/// polls a handler a second time at once: it polls it once before it feeds
/// it the body read with the head, then again. So a first poll that finds
/// the body incomplete arms no timer but asks for that second poll itself
/// (a wake, which costs nothing when actix polls again anyway): a pipelined
/// request queued behind another is polled once by actix and then left
/// until more bytes come, and its deadline must not wait for those bytes.
/// The second poll arms the timer if the body is still incomplete.
/// `reading` is pinned by the caller: taken by value, it would be kept
/// twice in this future (the argument, and the pinned copy polled).
async fn within<F: Future>(timeout: std::time::Duration, mut reading: Pin<&mut F>) -> Option<F::Output> {
    let mut first = true;
    let early = std::future::poll_fn(|cx| match reading.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending if first => {
            first = false;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    match early {
        Some(output) => Some(output),
        // Boxed: the timer (about a hundred bytes) would otherwise be part
        // of every request's future, copied whole when actix boxes it.
        None => Box::pin(tokio::time::timeout(timeout, reading)).await.ok(),
    }
}

pub async fn post(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let Some(media) = negotiate(&req) else {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            Media::Json,
            "NOT_ACCEPTABLE",
            "accept application/graphql-response+json or application/json",
        );
    };
    if !is_json_content_type(&req) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as Content-Type: application/json",
        );
    }
    // The body must arrive within the client timeout too (actix's own covers headers).
    let body = {
        let reading = std::pin::pin!(read_body(&req, payload, state.options.body_limit));
        match within(state.options.client_timeout, reading).await {
            None => {
                return refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    media,
                    "REQUEST_TIMEOUT",
                    "the request body did not arrive in time",
                )
            }
            Some(Ok(body)) => body,
            Some(Err(resp)) => return resp,
        }
    };
    // The request has come: its operation's time limit runs from here.
    let started = std::time::Instant::now();
    if let Some(response) = from_raw_cache(&state, &req, media, RawKey::Post(&body), started) {
        return response;
    }
    if let Some(response) = from_raw_plan(&state, &req, media, RawKind::Post, &body, started) {
        return response;
    }
    // Boxed: parsing and running an operation is a future of many kilobytes
    // (async-graphql's execution inside), which would otherwise be part of
    // this one and be moved whole on every request, a cache hit's too.
    Box::pin(post_parsed(state, req, media, body, started)).await
}

/// A POST body the raw cache did not answer: parsed, then run.
async fn post_parsed(
    state: web::Data<AppState>,
    req: HttpRequest,
    media: Media,
    body: Bytes,
    started: std::time::Instant,
) -> HttpResponse {
    let parsed = match fields_from_slice(&body) {
        Some(fields) => params_from_fields(fields),
        None => match serde_json::from_slice(&body) {
            Ok(Value::Array(items)) => return run_batch(&state, &req, media, items).await,
            Ok(json) => params_from_json(json),
            Err(e) => return bad_request(media, format!("the request body is not valid JSON: {e}")),
        },
    };
    match parsed {
        Ok(params) => match run_one(&state, &req, media, params, false, Some(RawKey::Post(&body)), started).await {
            Ok(outcome) => respond(&state, &req, media, outcome),
            Err(resp) => resp,
        },
        Err(message) => bad_request(media, message),
    }
}

/// A JSON array of operations: refused unless batching is on, and then
/// capped; each runs in turn and the answers come back in order.
async fn run_batch(state: &AppState, req: &HttpRequest, media: Media, items: Vec<Value>) -> HttpResponse {
    if !state.options.batching {
        metrics::counter!("diplograph_refused_queries_total", "reason" => "BATCHING_DISABLED").increment(1);
        return bad_request(
            media,
            "batched requests (a JSON array) are not accepted here; send one operation per request",
        );
    }
    if items.is_empty() || items.len() > state.options.max_batch {
        return bad_request(
            media,
            format!(
                "a batch holds 1 to {} operations, got {}",
                state.options.max_batch,
                items.len()
            ),
        );
    }
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        let params = match params_from_json(item) {
            Ok(p) => p,
            Err(message) => return bad_request(media, message),
        };
        // Each operation of a batch has a time limit of its own.
        match run_one(state, req, media, params, false, None, std::time::Instant::now()).await {
            Ok(outcome) => answers.push(outcome.body),
            Err(resp) => return resp,
        }
    }
    // Each answer is already JSON; join them into an array.
    let mut body = Vec::with_capacity(answers.iter().map(|a: &Bytes| a.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, answer) in answers.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(answer);
    }
    body.push(b']');
    let mut response = send(state, req, StatusCode::OK, Bytes::from(body), None);
    let headers = response.headers_mut();
    headers.append(header::CONTENT_TYPE, media.header());
    headers.append(header::CACHE_CONTROL, NO_STORE);
    response
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let has_query = req.query_string().split('&').any(|p| p.starts_with("query="));
    if !has_query && wants_html(&req) {
        return playground::page(state).await;
    }
    let Some(media) = negotiate(&req) else {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            Media::Json,
            "NOT_ACCEPTABLE",
            "accept application/graphql-response+json or application/json",
        );
    };
    let started = std::time::Instant::now();
    if let Some(response) = from_raw_cache(&state, &req, media, RawKey::Get(req.query_string()), started) {
        return response;
    }
    if let Some(response) = from_raw_plan(
        &state,
        &req,
        media,
        RawKind::Get,
        req.query_string().as_bytes(),
        started,
    ) {
        return response;
    }
    let params = match params_from_query_string(&req) {
        Ok(p) => p,
        Err(message) => return bad_request(media, message),
    };
    // Boxed, as in `post`: the cache hit above does not carry this future.
    let running = Box::pin(run_one(
        &state,
        &req,
        media,
        params,
        true,
        Some(RawKey::Get(req.query_string())),
        started,
    ));
    match running.await {
        Ok(outcome) => respond(&state, &req, media, outcome),
        Err(resp) => resp,
    }
}

pub async fn other_method() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET, POST"))
        .content_type(Media::Json.content_type())
        .json(json!({ "errors": [{ "message": "use GET for queries or POST", "extensions": { "code": "METHOD_NOT_ALLOWED" } }] }))
}
