//! HTTP: the actix-web routes in front of the schema. This layer knows
//! GraphQL-over-HTTP, not entity types.
//!
//! Routes: `POST /graphql`, `GET /graphql` (queries only), the GraphiQL IDE at
//! `/` and at `/graphql` for browsers asking for HTML, the public SDL at
//! `GET /graphql/schema.graphql`, `GET /health`,
//! `GET /ready`, `GET /metrics`, and the files the IDE page uses under
//! `/playground-assets/` when they are served locally.

mod auth;
mod cache;
mod compress;
mod front;
mod graphql;
mod observe;
mod persisted;
mod playground;
mod ws;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::{header, Method};
use actix_web::{web, HttpResponse};

pub use auth::Auth;
pub use cache::ResponseCache;
pub use front::{request_id, Front, EXPOSED_HEADERS, REQUEST_ID_HEADER};
pub use observe::{prometheus, OperationLabels};
pub use persisted::{sha256_hex, Persisted};
pub use playground::{install_command, Assets, AssetsError};
pub use ws::{close_all_on_signal, Connections, WsOptions};

use crate::graphql::AppSchema;
use crate::graphql::Readiness;
use crate::seed::LoadProgress;

/// HTTP-level behaviour, from the settings.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub body_limit: usize,
    pub batching: bool,
    pub max_batch: usize,
    /// Development mode: any origin may call the API.
    pub dev: bool,
    pub cors_origins: Vec<String>,
    /// Request headers a page on an allowed origin may send (names are case-insensitive).
    pub cors_allow_headers: Vec<String>,
    /// How long a client may take to send a request body.
    pub client_timeout: std::time::Duration,
    /// The `Cache-Control` value of a successful read.
    pub cache_control: header::HeaderValue,
    /// gzip answers for clients that accept it.
    pub compression: bool,
}

/// What every handler shares; built once and cloned into each worker.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub assets: Assets,
    pub options: HttpOptions,
    pub persisted: Arc<Persisted>,
    pub labels: Arc<OperationLabels>,
    pub auth: Arc<Auth>,
    pub ws: WsOptions,
    pub connections: Arc<Connections>,
    /// Shared answers for repeated reads; `None` when turned off.
    pub cache: Option<Arc<ResponseCache>>,
    /// What compiled plans read from (the schema's); `None` when they are off.
    pub planner: Option<crate::graphql::Planner>,
    /// The start-up seed load: until it finishes, `/ready` says 503 with its
    /// progress and `/graphql` refuses with 503 (the store is not whole yet).
    pub loading: Arc<LoadProgress>,
}

/// How long a browser may reuse a preflight's answer, in seconds (Chromium
/// caps it at two hours, Firefox at a day).
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// Whether a browser page at `origin` may call the API: the server's own
/// origin (the IDE) always may, listed origins may, and in development mode
/// every origin may. `host` is the request's `Host` header. The CORS policy
/// and the WebSocket upgrade both ask this.
pub fn origin_allowed(options: &HttpOptions, origin: &str, host: Option<&str>) -> bool {
    if options.dev || options.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let bare = origin.trim_start_matches("http://").trim_start_matches("https://");
    host.is_some_and(|h| h == bare)
}

/// The CORS policy: [`origin_allowed`] decides; other origins get no
/// `Access-Control-Allow-Origin`, so browsers keep the answer from them.
/// Pages may send the configured request headers and read the request id
/// and whether the response cache answered (`x-cache`).
pub fn cors(options: &HttpOptions) -> Cors {
    let options = options.clone();
    let headers: Vec<header::HeaderName> = options
        .cors_allow_headers
        .iter()
        .filter_map(|name| header::HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers(headers)
        .expose_headers(EXPOSED_HEADERS.map(header::HeaderName::from_static))
        .block_on_origin_mismatch(false)
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        .allowed_origin_fn(move |origin, head| {
            let host = head.headers().get(header::HOST).and_then(|h| h.to_str().ok());
            origin
                .to_str()
                .is_ok_and(|origin| origin_allowed(&options, origin, host))
        })
}

/// Registers every route.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        // Routes are tried in order: `/graphql` first, as nearly every
        // request is for it (the asset pattern further down is a regex).
        cfg.app_data(web::Data::new(state))
            .route("/graphql", web::to(graphql_endpoint))
            .route("/health", web::get().to(health))
            .route("/ready", web::get().to(ready))
            .route("/metrics", web::get().to(metrics_page))
            .route("/", web::get().to(playground::page))
            .route("/graphql/schema.graphql", web::get().to(schema_sdl))
            .route("/playground-assets/{file:.*}", web::get().to(playground::asset));
    }
}

/// `/graphql`, by method: one route that reads the method itself. A route
/// per method costs every request a walk through actix's method guards,
/// each of which notes the method it tried in the request's extensions (a
/// map and a list allocated per request, for the `Allow` header of a 405
/// that [`graphql::other_method`] writes itself anyway).
async fn graphql_endpoint(req: actix_web::HttpRequest, body: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    match *req.method() {
        Method::POST => graphql::post(req, body, state).await,
        Method::GET => get_or_upgrade(req, body, state).await,
        _ => graphql::other_method().await,
    }
}

/// `GET /graphql`: a WebSocket upgrade, the IDE, or a query.
async fn get_or_upgrade(req: actix_web::HttpRequest, body: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    // The upgrade is boxed so that a query over GET does not carry its future.
    if ws::is_upgrade(&req) {
        Box::pin(ws::upgrade(req, body, state)).await
    } else {
        graphql::get(req, state).await
    }
}

/// `GET /graphql/schema.graphql`: the public schema, as in `schema.graphql`
/// (404 when introspection is off).
async fn schema_sdl(state: web::Data<AppState>) -> HttpResponse {
    match crate::graphql::public_sdl(&state.schema) {
        Some(sdl) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(sdl),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Liveness: the process answers.
async fn health() -> HttpResponse {
    // The same bytes `json!({ "status": "ok" })` writes, without writing them.
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        ))
        .body(r#"{"status":"ok"}"#)
}

/// Readiness: the store is open, a seed is fully loaded, and writes can
/// reach the disk (a full disk answers 503 with the reason).
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if !state.loading.is_finished() {
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(serde_json::json!({
                "status": "loading the seed",
                "written": state.loading.written(),
                "total": state.loading.total(),
            }));
    }
    // After a disk fault this writes a probe and flushes: off the workers.
    let schema = state.schema.clone();
    match web::block(move || crate::graphql::readiness(&schema)).await {
        Ok(Readiness::Ready { seed }) => {
            HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "seed": seed }))
        }
        Ok(Readiness::Unwritable(reason)) => HttpResponse::ServiceUnavailable().json(
            serde_json::json!({ "status": "not ready", "reason": format!("writes cannot reach the disk: {reason}") }),
        ),
        Ok(Readiness::NotSeeded(state)) => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "not ready", "seed": state }))
        }
        Ok(Readiness::Unavailable) | Err(_) => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "store unavailable" }))
        }
    }
}

/// Prometheus text format.
async fn metrics_page(state: web::Data<AppState>) -> HttpResponse {
    let counters = crate::graphql::store_counters(&state.schema);
    metrics::counter!("diplograph_store_reads_total").absolute(counters.reads);
    metrics::counter!("diplograph_store_writes_total").absolute(counters.writes);
    metrics::counter!("diplograph_storage_errors_total").absolute(counters.storage_errors);
    metrics::counter!("diplograph_store_write_groups_total").absolute(counters.write_groups);
    metrics::counter!("diplograph_store_log_syncs_total").absolute(counters.log_syncs);
    metrics::gauge!("diplograph_read_cache_bytes").set(counters.read_cache_bytes as f64);
    metrics::gauge!("diplograph_search_vocabulary_bytes").set(counters.vocabulary_bytes as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(prometheus().render())
}
