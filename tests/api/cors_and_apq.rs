//! Who may call the API from a browser (CORS), and queries sent by hash:
//! Apollo's automatic persisted queries and the allow-list mode.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

const ACAO: &str = "access-control-allow-origin";

// ---- CORS ------------------------------------------------------------------------

/// Sends the preflight a browser sends before a cross-origin JSON POST.
async fn preflight(app: &TestApp, origin: &str) -> HeaderMap {
    let response = app
        .client
        .request(Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight sent");
    response.headers().clone()
}

/// Sends a query as a browser page at `origin` would.
async fn cross_origin_post(app: &TestApp, origin: &str) -> HeaderMap {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("origin", origin)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("request sent");
    response.headers().clone()
}

fn allowed_origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(ACAO).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn in_production_mode_only_the_servers_own_origin_may_call_it_from_a_browser() {
    let app = spawn_app().await;
    let own = app.address.clone();
    let look_alike = format!("{own}.evil.example");

    // (origin, whether a browser there may read the answers)
    let origins = [
        ("https://evil.example", false),
        ("null", false),
        (own.as_str(), true),
        // The same host under another port is another origin.
        ("http://127.0.0.1:1", false),
        // A look-alike that merely starts with our address.
        (look_alike.as_str(), false),
    ];
    for (origin, allowed) in origins {
        let expected = allowed.then_some(origin);
        assert_eq!(
            allowed_origin(&preflight(&app, origin).await),
            expected,
            "preflight from {origin}"
        );
        assert_eq!(
            allowed_origin(&cross_origin_post(&app, origin).await),
            expected,
            "POST from {origin}"
        );
    }
}

#[tokio::test]
async fn a_listed_origin_may_call_it_and_others_may_not() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://app.example".into()]).await;

    let listed = preflight(&app, "https://app.example").await;
    assert_eq!(allowed_origin(&listed), Some("https://app.example"));
    let methods = listed["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "allowed methods: {methods}");

    let answer = cross_origin_post(&app, "https://app.example").await;
    assert_eq!(allowed_origin(&answer), Some("https://app.example"));
    let exposed = answer["access-control-expose-headers"].to_str().unwrap();
    assert!(
        exposed.contains("x-request-id"),
        "the page may read the request id: {exposed}"
    );

    for other in [
        "https://evil.example",
        "http://app.example",
        "https://app.example.evil.example",
    ] {
        assert_eq!(
            allowed_origin(&preflight(&app, other).await),
            None,
            "preflight from {other}"
        );
        assert_eq!(
            allowed_origin(&cross_origin_post(&app, other).await),
            None,
            "POST from {other}"
        );
    }
}

#[tokio::test]
async fn in_development_mode_any_origin_may_call_it() {
    let app = spawn_app_with(|s| s.dev = true).await;

    for origin in ["https://evil.example", "http://localhost:5173"] {
        assert_eq!(
            allowed_origin(&preflight(&app, origin).await),
            Some(origin),
            "preflight from {origin}"
        );
        assert_eq!(
            allowed_origin(&cross_origin_post(&app, origin).await),
            Some(origin),
            "POST from {origin}"
        );
    }
}

// ---- persisted queries ------------------------------------------------------------

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs a body; the status and JSON answer.
async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

/// GETs `/graphql` with these query parameters (`extensions` as URL-encoded
/// JSON); the status, the `Allow` header and the JSON answer.
async fn get(app: &TestApp, params: &[(&str, String)]) -> (StatusCode, Option<String>, Value) {
    let url = Url::parse_with_params(&format!("{}/graphql", app.address), params).unwrap();
    let response = app
        .client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
    (status, allow, response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn an_automatic_persisted_query_is_remembered_after_it_is_sent_once() {
    let app = spawn_app().await;
    let query = r#"query ApqProbe { actor(id: "actor/russia") { name } }"#;
    let hash = sha256_hex(query);
    let expected = json!({ "actor": { "name": "Russia" } });

    // The hash alone, before the server has seen the query: the client is
    // told to send it (Apollo clients look for this code and message).
    let (status, answer) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&answer), "PERSISTED_QUERY_NOT_FOUND", "{answer}");
    assert_eq!(answer["errors"][0]["message"], "PersistedQueryNotFound");

    // The query with its hash runs and is remembered…
    let (status, answer) = post(&app, json!({ "query": query, "extensions": persisted(&hash) })).await;
    assert_eq!((status, &answer["data"]), (StatusCode::OK, &expected), "{answer}");

    // …so the hash alone now runs it, over POST and over GET.
    let (status, answer) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!((status, &answer["data"]), (StatusCode::OK, &expected), "{answer}");
    let (status, _, answer) = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
    assert_eq!((status, &answer["data"]), (StatusCode::OK, &expected), "{answer}");
}

#[tokio::test]
async fn an_automatic_persisted_query_can_be_registered_and_run_over_get() {
    let app = spawn_app().await;
    let query = r#"query ApqGetProbe { actor(id: "actor/georgia") { name } }"#;
    let hash = sha256_hex(query);
    let extensions = persisted(&hash).to_string();

    let (_, _, answer) = get(&app, &[("extensions", extensions.clone())]).await;
    assert_eq!(error_code(&answer), "PERSISTED_QUERY_NOT_FOUND", "{answer}");

    let (status, _, answer) = get(&app, &[("query", query.to_owned()), ("extensions", extensions.clone())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["data"]["actor"]["name"], "Georgia", "{answer}");

    let (status, _, answer) = get(&app, &[("extensions", extensions)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["data"]["actor"]["name"], "Georgia", "{answer}");
}

#[tokio::test]
async fn a_persisted_query_whose_hash_does_not_match_is_refused() {
    let app = spawn_app().await;
    let query = r#"{ actor(id: "actor/russia") { name } }"#;
    let other_hash = sha256_hex("{ __typename }");

    // (what is wrong, the hash sent)
    let hashes = [
        ("the hash of another query", other_hash.clone()),
        ("the right hash in capitals but one digit off", {
            let mut h = sha256_hex(query).to_uppercase();
            let last = if h.ends_with('0') { "1" } else { "0" };
            h.replace_range(63.., last);
            h
        }),
        ("63 hex digits", sha256_hex(query)[..63].to_owned()),
        ("64 characters that are not hex", "g".repeat(64)),
    ];
    for (description, hash) in hashes {
        let (status, answer) = post(&app, json!({ "query": query, "extensions": persisted(&hash) })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{description}: {answer}");
        assert_eq!(error_code(&answer), "BAD_REQUEST", "{description}: {answer}");
        assert!(answer.get("data").is_none(), "{description}: the query ran: {answer}");
    }
    // The mismatched hash was not remembered for the query sent with it.
    let (_, answer) = post(&app, json!({ "extensions": persisted(&other_hash) })).await;
    assert_eq!(error_code(&answer), "PERSISTED_QUERY_NOT_FOUND", "{answer}");
}

/// A server in allow-list mode over a file holding one query and one mutation.
struct AllowList {
    app: TestApp,
    query: &'static str,
    mutation: &'static str,
    /// Keeps the allow-list file until the test ends.
    _dir: tempfile::TempDir,
}

async fn allow_list_app() -> AllowList {
    let query = r#"query Registered { actor(id: "actor/russia") { name } }"#;
    let mutation = "mutation M { x }";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persisted.json");
    let file = json!({ sha256_hex(query): query, sha256_hex(mutation): mutation });
    std::fs::write(&path, file.to_string()).unwrap();
    let app = spawn_app_with(|s| s.persisted_queries = Some(path)).await;
    AllowList {
        app,
        query,
        mutation,
        _dir: dir,
    }
}

#[tokio::test]
async fn in_allow_list_mode_registered_queries_run_by_hash_or_by_text() {
    let AllowList { app, query, .. } = allow_list_app().await;
    let hash = sha256_hex(query);

    let (status, answer) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(
        (status, &answer["data"]["actor"]["name"]),
        (StatusCode::OK, &json!("Russia")),
        "{answer}"
    );

    let (status, _, answer) = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
    assert_eq!(
        (status, &answer["data"]["actor"]["name"]),
        (StatusCode::OK, &json!("Russia")),
        "{answer}"
    );

    let (status, answer) = post(&app, json!({ "query": query })).await;
    assert_eq!(
        (status, &answer["data"]["actor"]["name"]),
        (StatusCode::OK, &json!("Russia")),
        "{answer}"
    );
}

#[tokio::test]
async fn in_allow_list_mode_everything_unregistered_is_refused_with_403() {
    let AllowList { app, .. } = allow_list_app().await;
    let unregistered = r#"{ actor(id: "actor/georgia") { name } }"#;
    let unregistered_hash = sha256_hex(unregistered);

    // (how the unregistered operation is sent, the body)
    let attempts = [
        ("as text", json!({ "query": unregistered })),
        ("by hash", json!({ "extensions": persisted(&unregistered_hash) })),
        (
            "as text with its hash, as an APQ client registers a query",
            json!({ "query": unregistered, "extensions": persisted(&unregistered_hash) }),
        ),
        ("as a trivial query", json!({ "query": "{ __typename }" })),
    ];
    for (description, body) in attempts {
        let (status, answer) = post(&app, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{description}: {answer}");
        assert_eq!(
            error_code(&answer),
            "PERSISTED_QUERY_NOT_ALLOWED",
            "{description}: {answer}"
        );
        assert!(answer.get("data").is_none(), "{description}: it ran: {answer}");
    }
    // Registering by sending it did not make it runnable.
    let (status, _) = post(&app, json!({ "extensions": persisted(&unregistered_hash) })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_persisted_mutation_asked_for_over_get_is_refused_with_405() {
    let AllowList { app, mutation, .. } = allow_list_app().await;

    let (status, allow, answer) = get(&app, &[("extensions", persisted(&sha256_hex(mutation)).to_string())]).await;

    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    assert_eq!(allow.as_deref(), Some("POST"));
    assert_eq!(error_code(&answer), "METHOD_NOT_ALLOWED", "{answer}");
}

/// The preflight a page sends before a POST with these request headers.
async fn preflight_with(app: &TestApp, origin: &str, headers: &str) -> (u16, HeaderMap) {
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

#[tokio::test]
async fn pages_on_allowed_origins_may_send_the_common_client_and_tracing_headers() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://app.example".into()]).await;
    let sent = "content-type,authorization,apollographql-client-name,apollographql-client-version,traceparent,tracestate,sentry-trace,baggage,x-request-id";
    let (status, headers) = preflight_with(&app, "https://app.example", sent).await;
    assert_eq!(status, 200);
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in sent.split(',') {
        assert!(allowed.contains(header), "{header} is allowed: {allowed}");
    }
    assert_eq!(
        headers["access-control-max-age"], "3600",
        "browsers may reuse the preflight"
    );
    let (status, _) = preflight_with(&app, "https://app.example", "content-type,x-something-else").await;
    assert_eq!(status, 400, "a header that is not listed fails the preflight");

    let exposed = cross_origin_post(&app, "https://app.example").await["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in ["x-request-id", "x-cache"] {
        assert!(exposed.contains(header), "{header} is exposed: {exposed}");
    }
}

#[tokio::test]
async fn cors_allow_headers_replaces_the_list_of_request_headers() {
    let app = spawn_app_with(|s| {
        s.cors_origins = vec!["https://app.example".into()];
        s.cors_allow_headers = vec!["content-type".into(), "x-tenant".into()];
    })
    .await;
    assert_eq!(
        preflight_with(&app, "https://app.example", "content-type,x-tenant")
            .await
            .0,
        200
    );
    assert_eq!(
        preflight_with(&app, "https://app.example", "content-type,traceparent")
            .await
            .0,
        400
    );

    let mut settings = diplograph::config::Settings::for_data_dir("unused".into());
    settings.cors_allow_headers = vec!["not a header".into()];
    let refused = settings.validate().unwrap_err().to_string();
    assert!(
        refused.contains("cors-allow-headers") && refused.contains("`not a header`"),
        "{refused}"
    );
}

/// The status of a WebSocket upgrade sent with this `Origin` (or none).
async fn upgrade_status(app: &TestApp, origin: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/graphql", app.address.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("the upgrade got no answer: {e}"),
    }
}

#[tokio::test]
async fn the_websocket_upgrade_checks_the_origin_against_the_same_list() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://app.example".into()]).await;
    let own = app.address.clone();
    // (origin, upgraded)
    let cases = [
        (None, true),
        (Some("https://app.example"), true),
        (Some(own.as_str()), true),
        (Some("https://evil.example"), false),
        (Some("http://app.example"), false),
    ];
    for (origin, upgraded) in cases {
        let expected = if upgraded { 101 } else { 403 };
        assert_eq!(upgrade_status(&app, origin).await, expected, "Origin {origin:?}");
    }
    let dev = spawn_app_with(|s| s.dev = true).await;
    assert_eq!(
        upgrade_status(&dev, Some("https://evil.example")).await,
        101,
        "--dev lets any origin in"
    );
}

#[tokio::test]
async fn an_answer_without_origin_varies_on_origin_and_carries_no_cross_origin_headers() {
    for cached in [true, false] {
        let app = spawn_app_with(|s| {
            s.cors_origins = vec!["https://app.example".into()];
            s.response_cache = cached;
        })
        .await;
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("request sent");
        let headers = response.headers();
        // A cross-origin request for the same URL gets more headers: a
        // shared cache must tell the two apart.
        let vary: Vec<&str> = headers.get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(
            vary.iter().any(|v| v.split(',').any(|name| name.trim() == "Origin")),
            "vary: {vary:?}"
        );
        assert!(
            vary.iter().all(|v| !v.contains("Access-Control-Request")),
            "only a preflight carries those: {vary:?}"
        );
        assert!(headers.get("access-control-expose-headers").is_none());
        assert!(headers.get("x-request-id").is_some());
        // Whether the response cache answered, said only by a server that has one.
        let cache = headers.get("x-cache").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(cache.as_deref(), cached.then_some("miss"), "response cache {cached}");
        // Cross-origin, the page may still read both.
        let exposed = cross_origin_post(&app, "https://app.example").await["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            exposed.contains("x-request-id") && exposed.contains("x-cache"),
            "{exposed}"
        );
    }
}
