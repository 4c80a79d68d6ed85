//! Hostile and malformed requests: each is refused quickly, with the right
//! status and (for GraphQL error bodies) an `extensions.code`, with a small
//! answer however large the request, and the server goes on answering.
//!
//! Most cases are rows of one table; cases that need their own settings or a
//! raw socket (slow clients, bodies cut short) have their own tests.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The largest answer any refusal may have: errors never echo the request.
const MAX_ANSWER: usize = 4 * 1024;

/// How long a refusal may take. Generous, because tests run unoptimised and
/// concurrently; a hostile request that hangs a worker takes far longer.
const PATIENCE: Duration = Duration::from_secs(10);

/// The query every case is followed by, to show the server still serves.
const NORMAL_QUERY: &str = r#"{ actor(id:"actor/russia") { name } }"#;

// ---- how a case is sent ---------------------------------------------------------

/// One HTTP request, spelled out: method, path with query string, headers, body.
struct Request {
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A POST to `/graphql` of raw bytes with the given `Content-Type` (or
    /// none), asking for `application/graphql-response+json` so request
    /// errors show in the status.
    fn post_bytes(content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Request {
        let mut headers = vec![("accept", GRAPHQL_RESPONSE_JSON.to_owned())];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct.to_owned()));
        }
        Request {
            method: "POST",
            target: "/graphql".into(),
            headers,
            body: body.into(),
        }
    }

    /// A POST of a JSON body.
    fn post_json(body: Value) -> Request {
        Request::post_bytes(Some("application/json"), serde_json::to_vec(&body).unwrap())
    }

    /// A POST of one query.
    fn post_query(query: impl Into<String>) -> Request {
        Request::post_json(json!({ "query": query.into() }))
    }

    /// A request with no body to `target` (a path and query string).
    fn bodiless(method: &'static str, target: impl Into<String>) -> Request {
        Request {
            method,
            target: target.into(),
            headers: vec![("accept", GRAPHQL_RESPONSE_JSON.to_owned())],
            body: Vec::new(),
        }
    }

    /// The same request with another `Accept` header.
    fn accept(mut self, accept: &str) -> Request {
        self.headers.retain(|(name, _)| *name != "accept");
        self.headers.push(("accept", accept.to_owned()));
        self
    }

    /// The same request with another method.
    fn method(mut self, method: &'static str) -> Request {
        self.method = method;
        self
    }
}

/// One row: what is sent and what must come back.
struct Case {
    description: &'static str,
    request: Request,
    status: u16,
    /// The `extensions.code` of the first error, or `None` when the answer is
    /// not a GraphQL error body (a HEAD answer, an answer from actix itself).
    code: Option<&'static str>,
    /// A header the answer must carry, with its exact value.
    header: Option<(&'static str, &'static str)>,
}

fn case(description: &'static str, request: Request, status: u16, code: Option<&'static str>) -> Case {
    Case {
        description,
        request,
        status,
        code,
        header: None,
    }
}

impl Case {
    fn with_header(mut self, name: &'static str, value: &'static str) -> Case {
        self.header = Some((name, value));
        self
    }
}

// ---- building hostile documents ---------------------------------------------------

/// `outer { f1 { f2 { … { leaf } } } }`: fields nested inside one another.
fn nest(outer: &str, fields: &[String], leaf: &str) -> String {
    let mut query = format!("{{ {outer} {{ ");
    for field in fields {
        query.push_str(field);
        query.push_str(" { ");
    }
    query.push_str(leaf);
    query.push_str(&" }".repeat(fields.len() + 2));
    query
}

/// Fragments `F1` … `Fn` on `on`, each spreading the one before `fan_out`
/// times, over an `F0` holding `leaf`: `Fn` expands to `fan_out^n` leaves.
fn fragment_bomb(on: &str, leaf: &str, levels: usize, fan_out: usize) -> String {
    let mut fragments = format!("fragment F0 on {on} {{ {leaf} }}");
    for level in 1..=levels {
        let spreads = format!("...F{} ", level - 1).repeat(fan_out);
        fragments.push_str(&format!(" fragment F{level} on {on} {{ {spreads}}}"));
    }
    fragments
}

/// A minimal multipart body, as the GraphQL multipart request spec would send.
fn multipart_body() -> Vec<u8> {
    b"--XYZ\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{\"query\":\"{ __typename }\"}\r\n--XYZ--\r\n"
        .to_vec()
}

fn cases() -> Vec<Case> {
    // actor → events → nodes → participants → actor → …, 30 levels in all.
    let cycle = ["events(first: 1)", "nodes", "participants", "actor"];
    let actor_chain: Vec<String> = (0..28).map(|i| cycle[i % 4].to_owned()).collect();
    let of_type = |n: usize| vec!["ofType".to_owned(); n];
    let part_of_chain = vec!["partOf".to_owned(); 28];
    let many = |item: &str, n: usize| item.repeat(n);
    let unknown_fields: String = (0..1500).map(|i| format!("x{i} ")).collect();
    let unused_variables: String = (0..1000).map(|i| format!("$v{i}: Int ")).collect();
    let nested_brackets = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge_string = "a".repeat(500 * 1024);
    let ten_thousand = "events(first: 10000)".to_owned();

    vec![
        // ---- depth ----
        case(
            "30 levels of actor → events → nodes → participants → actor …: the lists' fan-out \
             trips the complexity limit, which async-graphql checks before depth",
            Request::post_query(nest(r#"actor(id: "actor/russia")"#, &actor_chain, "name")),
            400,
            Some("QUERY_TOO_COMPLEX"),
        ),
        case(
            "30 levels of `partOf` (one event each, so cheap) are refused for depth",
            Request::post_query(nest(r#"event(id: "event/recognition-decrees")"#, &part_of_chain, "id")),
            400,
            Some("QUERY_TOO_DEEP"),
        ),
        case(
            "an introspection `ofType` chain 20 deep",
            Request::post_query(nest(r#"__type(name: "Actor")"#, &of_type(20), "name")),
            400,
            Some("QUERY_TOO_DEEP"),
        ),
        case(
            "an introspection `ofType` chain 40 deep (past async-graphql's own recursion check at 32)",
            Request::post_query(nest(r#"__type(name: "Actor")"#, &of_type(40), "name")),
            400,
            Some("QUERY_TOO_DEEP"),
        ),
        case(
            "selection sets nested 100 deep (past the parser's recursion limit of 64)",
            Request::post_query(nest("a", &vec!["a".to_owned(); 98], "a")),
            400,
            Some("QUERY_TOO_DEEP"),
        ),
        // ---- width and size ----
        case(
            "100 aliases of __typename",
            Request::post_query(format!(
                r#"{{ actor(id: "actor/russia") {{ {} }} }}"#,
                (0..100).map(|i| format!("a{i}: __typename ")).collect::<String>()
            )),
            400,
            Some("TOO_MANY_ALIASES"),
        ),
        case(
            "10,000 repeated __typename selections without aliases",
            Request::post_query(format!("{{ {} }}", many("__typename ", 10_000))),
            400,
            Some("QUERY_TOO_LARGE"),
        ),
        case(
            "6,000 one-letter fields: within the length limit, over the token limit",
            Request::post_query(format!(
                r#"{{ actor(id: "actor/russia") {{ {} }} }}"#,
                many("x ", 6_000)
            )),
            400,
            Some("QUERY_TOO_LARGE"),
        ),
        case(
            "a 500 KB string literal",
            Request::post_query(format!(r#"{{ search(query: "{huge_string}") {{ score }} }}"#)),
            400,
            Some("QUERY_TOO_LARGE"),
        ),
        case(
            "a query padded with a 25,000-character comment",
            Request::post_query(format!("# {}\n{{ __typename }}", many("x", 25_000))),
            400,
            Some("QUERY_TOO_LARGE"),
        ),
        case(
            "25 root fields (one name repeated)",
            Request::post_query(format!("{{ {} }}", many("__typename ", 25))),
            400,
            Some("TOO_MANY_ROOT_FIELDS"),
        ),
        case(
            "25 aliased root lookups: fewer aliases than the alias limit, too many root fields",
            Request::post_query(format!(
                "{{ {} }}",
                (0..25)
                    .map(|i| format!(r#"a{i}: actor(id: "actor/russia") {{ name }} "#))
                    .collect::<String>()
            )),
            400,
            Some("TOO_MANY_ROOT_FIELDS"),
        ),
        case(
            "50 @include directives on one field",
            Request::post_query(format!("{{ __typename {} }}", many("@include(if: true) ", 50))),
            400,
            Some("TOO_MANY_DIRECTIVES"),
        ),
        // ---- fragments ----
        case(
            "fragments spreading each other in a circle",
            Request::post_query("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "a fragment bomb inside a field: 6 levels of 10 spreads (a million selections)",
            Request::post_query(format!(
                r#"{{ actor(id: "actor/russia") {{ ...F6 }} }} {}"#,
                fragment_bomb("Actor", "name", 6, 10)
            )),
            400,
            Some("QUERY_TOO_COMPLEX"),
        ),
        case(
            "a fragment bomb at the root: 6 levels of 10 spreads (a million root fields)",
            Request::post_query(format!("{{ ...F6 }} {}", fragment_bomb("Query", "__typename", 6, 10))),
            400,
            Some("TOO_MANY_ROOT_FIELDS"),
        ),
        // ---- arguments and variables ----
        // The guard calls a variable of the wrong type bad user input; it is
        // still a request error (nothing ran), hence 400.
        case(
            "a string variable where an Int is declared, asking for graphql-response+json",
            Request::post_json(json!({
                "query": "query Q($first: Int) { events(first: $first) { totalCount } }",
                "variables": { "first": "abc" }
            })),
            400,
            Some("BAD_USER_INPUT"),
        ),
        case(
            "a string variable where an Int is declared, asking for plain JSON (200 by the spec)",
            Request::post_json(json!({
                "query": "query Q($first: Int) { events(first: $first) { totalCount } }",
                "variables": { "first": "abc" }
            }))
            .accept("application/json"),
            200,
            Some("BAD_USER_INPUT"),
        ),
        case(
            "2^31 in an Int argument",
            Request::post_query("{ events(first: 2147483648) { totalCount } }"),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "a 10,000-digit number in an Int argument",
            Request::post_query(format!("{{ events(first: {}) {{ totalCount }} }}", many("9", 10_000))),
            400,
            Some("GRAPHQL_PARSE_FAILED"),
        ),
        case(
            "a negative page size (refused while executing: 200 with an error)",
            Request::post_query("{ events(first: -1) { totalCount } }"),
            200,
            Some("BAD_USER_INPUT"),
        ),
        case(
            "a page of a million (complexity is checked before anything runs)",
            Request::post_query("{ events(first: 1000000) { totalCount } }"),
            400,
            Some("QUERY_TOO_COMPLEX"),
        ),
        case(
            "a page of 10,000 on its own: cheap enough to run, then over the page limit",
            Request::post_query("{ events(first: 10000) { totalCount } }"),
            200,
            Some("BAD_USER_INPUT"),
        ),
        case(
            "pages of 10,000 nested three deep",
            Request::post_query(format!(
                "{{ actors(first: 10000) {{ nodes {{ {ten_thousand} {{ nodes {{ participants {{ actor {{ \
                 {ten_thousand} {{ totalCount }} }} }} }} }} }} }} }}"
            )),
            400,
            Some("QUERY_TOO_COMPLEX"),
        ),
        case(
            "an operation name the document does not have",
            Request::post_json(json!({ "query": "query A { __typename }", "operationName": "B" })),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        // ---- documents that do not parse or validate ----
        case(
            "a syntax error",
            Request::post_query(r#"{ actor(id: "x" { name } }"#),
            400,
            Some("GRAPHQL_PARSE_FAILED"),
        ),
        case(
            "an empty query",
            Request::post_query(""),
            400,
            Some("GRAPHQL_PARSE_FAILED"),
        ),
        case(
            "a NUL character in the query",
            Request::post_query("{ __typename \u{0} }"),
            400,
            Some("GRAPHQL_PARSE_FAILED"),
        ),
        case(
            "a misspelt field (no 'Did you mean' hint: suggestions are off)",
            Request::post_query(r#"{ actor(id: "actor/russia") { nam } }"#),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "a 15,000-character unknown field name, which the message must not echo whole",
            Request::post_query(format!(
                r#"{{ actor(id: "actor/russia") {{ {} }} }}"#,
                many("x", 15_000)
            )),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "1,500 unknown fields in one selection (one error each would be a 200 KB answer)",
            Request::post_query(format!(r#"{{ actor(id: "actor/russia") {{ {unknown_fields}}} }}"#)),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "1,000 declared but unused variables",
            Request::post_query(format!("query Q({unused_variables}) {{ __typename }}")),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        // ---- bodies ----
        case(
            "a 2 MB body (the limit is 1 MiB)",
            Request::post_json(json!({ "query": "{ __typename }", "padding": many("a", 2 * 1024 * 1024) })),
            413,
            Some("PAYLOAD_TOO_LARGE"),
        ),
        case(
            "a batch (a JSON array) with batching off",
            Request::post_json(json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }])),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "an empty batch",
            Request::post_json(json!([])),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "a body that is not UTF-8",
            Request::post_bytes(
                Some("application/json"),
                b"{\"query\":\"{ __typename \xff\xfe }\"}".to_vec(),
            ),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "malformed JSON",
            Request::post_bytes(Some("application/json"), r#"{"query": "{ __typename }""#),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "an empty body",
            Request::post_bytes(Some("application/json"), ""),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "a JSON null body",
            Request::post_bytes(Some("application/json"), "null"),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "variables nested 10,000 arrays deep",
            Request::post_bytes(
                Some("application/json"),
                format!(r#"{{"query":"{{ __typename }}","variables":{{"x":{nested_brackets}}}}}"#),
            ),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "`query` is a number",
            Request::post_json(json!({ "query": 42 })),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "`variables` is a number",
            Request::post_json(json!({ "query": "{ __typename }", "variables": 7 })),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "`operationName` is an object",
            Request::post_json(json!({ "query": "{ __typename }", "operationName": { "name": "Q" } })),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "`extensions` is a string",
            Request::post_json(json!({ "query": "{ __typename }", "extensions": "persisted" })),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "no `query` at all",
            Request::post_json(json!({ "variables": {} })),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "`extensions.persistedQuery` is a string",
            Request::post_json(json!({ "query": "{ __typename }", "extensions": { "persistedQuery": "x" } })),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "a persisted query of an unknown protocol version",
            Request::post_json(json!({
                "query": "{ __typename }",
                "extensions": { "persistedQuery": { "version": 2, "sha256Hash": many("0", 64) } }
            })),
            400,
            Some("PERSISTED_QUERY_VERSION"),
        ),
        // ---- content types and negotiation ----
        case(
            "Content-Type: text/plain",
            Request::post_bytes(Some("text/plain"), r#"{"query":"{ __typename }"}"#),
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        case(
            "no Content-Type",
            Request::post_bytes(None, r#"{"query":"{ __typename }"}"#),
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        case(
            "Content-Type: application/x-www-form-urlencoded",
            Request::post_bytes(
                Some("application/x-www-form-urlencoded"),
                "query=%7B%20__typename%20%7D",
            ),
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        case(
            "Content-Type: multipart/form-data",
            Request::post_bytes(Some("multipart/form-data; boundary=XYZ"), multipart_body()),
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        case(
            "Content-Type: application/graphql",
            Request::post_bytes(Some("application/graphql"), "{ __typename }"),
            415,
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ),
        case(
            "Accept: text/csv only",
            Request::post_query("{ __typename }").accept("text/csv"),
            406,
            Some("NOT_ACCEPTABLE"),
        ),
        case(
            "Accept: application/json;q=0 (explicitly not JSON)",
            Request::post_query("{ __typename }").accept("application/json;q=0"),
            406,
            Some("NOT_ACCEPTABLE"),
        ),
        // ---- methods and GET ----
        case(
            "a mutation over GET",
            Request::bodiless("GET", "/graphql?query=mutation%20%7B%20__typename%20%7D"),
            405,
            Some("METHOD_NOT_ALLOWED"),
        )
        .with_header("allow", "POST"),
        case(
            "PUT",
            Request::post_query("{ __typename }").method("PUT"),
            405,
            Some("METHOD_NOT_ALLOWED"),
        )
        .with_header("allow", "GET, POST"),
        case(
            "DELETE",
            Request::bodiless("DELETE", "/graphql"),
            405,
            Some("METHOD_NOT_ALLOWED"),
        )
        .with_header("allow", "GET, POST"),
        case(
            "PATCH",
            Request::post_query("{ __typename }").method("PATCH"),
            405,
            Some("METHOD_NOT_ALLOWED"),
        )
        .with_header("allow", "GET, POST"),
        case(
            "HEAD (an answer without a body)",
            Request::bodiless("HEAD", "/graphql"),
            405,
            None,
        )
        .with_header("allow", "GET, POST"),
        case(
            "OPTIONS that is not a CORS preflight",
            Request::bodiless("OPTIONS", "/graphql"),
            405,
            Some("METHOD_NOT_ALLOWED"),
        )
        .with_header("allow", "GET, POST"),
        case(
            "GET without a query",
            Request::bodiless("GET", "/graphql?operationName=Q"),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "GET with `variables` that are not JSON",
            Request::bodiless("GET", "/graphql?query=%7B__typename%7D&variables=%7Bx"),
            400,
            Some("BAD_REQUEST"),
        ),
        case(
            "GET with a 60 KB query in the URL",
            Request::bodiless(
                "GET",
                format!("/graphql?query=%23{}%0A%7B__typename%7D", many("x", 60 * 1024)),
            ),
            400,
            Some("QUERY_TOO_LARGE"),
        ),
        case(
            "`__typename` with `@include(if:)` given a string",
            Request::post_query(r#"{ __typename @include(if: "yes") }"#),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "`__typename` with a directive that does not exist",
            Request::post_query("{ __typename @nonexistent }"),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "`__typename` with an argument (and an undefined variable)",
            Request::post_query("{ __typename(arg: $nope) }"),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "`__typename` with `@skip(if:)` given an undefined variable",
            Request::post_query("{ __typename @skip(if: $nope) }"),
            400,
            Some("GRAPHQL_VALIDATION_FAILED"),
        ),
        case(
            "a 0.9 MB variable the operation never declares",
            Request::post_json(json!({ "query": "{ __typename }", "variables": { "junk": many("x", 900 * 1024) } })),
            400,
            Some("VARIABLES_TOO_LARGE"),
        ),
        case(
            "APQ registration of a 0.9 MB query (refused before it is stored)",
            {
                let query = format!("{{ __typename }} #{}", many("x", 900 * 1024));
                let hash = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(query.as_bytes()));
                Request::post_json(json!({ "query": query,
                    "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
            },
            400,
            Some("QUERY_TOO_LARGE"),
        ),
    ]
}

// ---- running a case -----------------------------------------------------------------

/// Sends a request; the answer's status, headers and body.
async fn send(app: &TestApp, request: &Request) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), String> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut builder = app
        .client
        .request(method, format!("{}{}", app.address, request.target))
        .timeout(PATIENCE);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| format!("answer cut short: {e}"))?;
    Ok((status, headers, body.to_vec()))
}

/// Checks what every GraphQL error body must satisfy: each error has a code,
/// and no message hints at field names (suggestions are off by default).
fn check_error_body(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(errors) = body["errors"].as_array() else {
        return vec![format!("no `errors` list in {body}")];
    };
    if errors.is_empty() {
        problems.push("an empty `errors` list".to_owned());
    }
    for error in errors {
        if !error["extensions"]["code"].is_string() {
            problems.push(format!("an error without extensions.code: {error}"));
        }
        if error["message"].as_str().is_some_and(|m| m.contains("Did you mean")) {
            problems.push(format!("a suggestion in an error message: {error}"));
        }
    }
    problems
}

/// Whether the server answers the normal query correctly.
async fn still_serves(app: &TestApp) -> Result<(), String> {
    let answer: Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .timeout(PATIENCE)
        .json(&json!({ "query": NORMAL_QUERY }))
        .send()
        .await
        .map_err(|e| format!("no answer to the normal query afterwards: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the normal query got no JSON afterwards: {e}"))?;
    if answer["data"]["actor"]["name"] == "Russia" {
        Ok(())
    } else {
        Err(format!("the normal query went wrong afterwards: {answer}"))
    }
}

/// Runs one case; what was wrong with the answer, if anything.
async fn check(app: &TestApp, case: &Case) -> Vec<String> {
    let started = Instant::now();
    let mut problems = Vec::new();
    match send(app, &case.request).await {
        Err(e) => problems.push(e),
        Ok((status, headers, body)) => {
            if status != case.status {
                problems.push(format!("status {status}, expected {}", case.status));
            }
            if body.len() >= MAX_ANSWER {
                problems.push(format!("a {} byte answer (at most {MAX_ANSWER} allowed)", body.len()));
            }
            if let Some((name, value)) = case.header {
                let got = headers.get(name).and_then(|v| v.to_str().ok());
                if got != Some(value) {
                    problems.push(format!("header {name}: {got:?}, expected {value:?}"));
                }
            }
            let json = serde_json::from_slice::<Value>(&body).ok();
            match (case.code, json) {
                (Some(code), Some(json)) => {
                    if error_code(&json) != code {
                        problems.push(format!("code {}, expected {code}", error_code(&json)));
                    }
                    problems.extend(check_error_body(&json));
                }
                (Some(code), None) => problems.push(format!(
                    "expected a JSON error body with code {code}, got {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                )),
                (None, Some(json)) if json.get("errors").is_some() => {
                    problems.push(format!("an unexpected GraphQL error body: {json}"))
                }
                (None, _) => {}
            }
        }
    }
    if let Err(e) = still_serves(app).await {
        problems.push(e);
    }
    if started.elapsed() > PATIENCE {
        problems.push(format!("took {:?}", started.elapsed()));
    }
    problems
}

/// A problem description cut to a readable length (a failed request's
/// error can quote a whole hostile URL).
fn shorten(problem: &str) -> String {
    match problem.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &problem[..cut]),
        None => problem.to_owned(),
    }
}

#[tokio::test]
async fn hostile_and_malformed_requests_are_refused_quickly_with_small_coded_answers() {
    let app = spawn_app().await;
    let cases = cases();
    assert!(cases.len() >= 35, "the table should hold at least 35 cases");

    // Every row runs, and every failing row is reported, so one failure does
    // not hide the others.
    let mut failures = Vec::new();
    for case in &cases {
        let problems = check(&app, case).await;
        if !problems.is_empty() {
            let problems: Vec<String> = problems.iter().map(|p| shorten(p)).collect();
            failures.push(format!("{}:\n    {}", case.description, problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases went wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---- cases that need more than one request, or their own server --------------------

/// A fragment bomb only twice as many levels deep as the table's is a
/// hundred million selections: the guard must refuse it without walking them.
#[tokio::test]
async fn a_fragment_bomb_of_a_hundred_million_selections_is_refused_quickly() {
    let app = spawn_app().await;
    let bomb = format!(
        r#"{{ actor(id: "actor/russia") {{ ...F8 }} }} {}"#,
        fragment_bomb("Actor", "name", 8, 10)
    );
    let request = Request::post_query(bomb);

    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), send(&app, &request)).await;

    let (status, _, body) = answer
        .unwrap_or_else(|_| panic!("no answer within 5 s (waited {:?})", started.elapsed()))
        .expect("an answer");
    let body: Value = serde_json::from_slice(&body).expect("a JSON answer");
    assert_eq!((status, error_code(&body)), (400, "QUERY_TOO_COMPLEX"), "{body}");
}

/// What a raw connection got back.
#[derive(Debug)]
enum RawAnswer {
    /// The server answered (the text of the answer).
    Answered(String),
    /// The server closed the connection without a word.
    Closed,
    /// Nothing came back in time.
    Silent,
}

/// Writes `bytes` to a fresh connection (closing our side if `hang_up`),
/// then waits up to `within` for the answer.
async fn raw_exchange(app: &TestApp, bytes: &[u8], hang_up: bool, within: Duration) -> RawAnswer {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    if hang_up {
        stream.shutdown().await.expect("close our side");
    }
    let (answer, closed) = read_for(&mut stream, within).await;
    match (closed, answer.is_empty()) {
        (_, false) => RawAnswer::Answered(String::from_utf8_lossy(&answer).into_owned()),
        (true, true) => RawAnswer::Closed,
        (false, true) => RawAnswer::Silent,
    }
}

/// What the server sends on `stream` for up to `within`, and whether it
/// closed the connection by then.
async fn read_for(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    (answer, read.is_ok())
}

/// The body of a raw HTTP/1.1 answer (after the blank line).
fn raw_body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

const RAW_HEAD: &str = "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                        Accept: application/graphql-response+json\r\n";

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_cut_off_and_the_server_goes_on() {
    let app = spawn_app_with(|s| s.client_timeout_secs = 1).await;

    let answer = raw_exchange(&app, RAW_HEAD.as_bytes(), false, Duration::from_secs(4)).await;

    match &answer {
        RawAnswer::Answered(text) => assert!(text.starts_with("HTTP/1.1 408"), "{text}"),
        RawAnswer::Closed => {}
        RawAnswer::Silent => panic!("the connection was still open after 4 s"),
    }
    still_serves(&app).await.unwrap();
}

#[tokio::test]
async fn a_client_that_stalls_in_its_body_is_cut_off_and_the_server_goes_on() {
    let app = spawn_app_with(|s| s.client_timeout_secs = 1).await;
    let request = format!("{RAW_HEAD}Content-Length: 100\r\n\r\n{{\"query\":");

    let answer = raw_exchange(&app, request.as_bytes(), false, Duration::from_secs(4)).await;

    still_serves(&app).await.unwrap();
    match &answer {
        RawAnswer::Answered(text) => assert!(text.starts_with("HTTP/1.1 408"), "{text}"),
        RawAnswer::Closed => {}
        RawAnswer::Silent => panic!("the connection was still open 4 s after the client stopped sending its body"),
    }
}

#[tokio::test]
async fn a_pipelined_request_that_stalls_in_its_body_is_cut_off_too() {
    // actix queues a request whose head arrives while the one before is
    // being answered, and polls its handler once when it gets to it:
    // nothing polls it again until more bytes come, so the body's deadline
    // must be set on that first poll.
    let app = spawn_app_with(|s| {
        s.client_timeout_secs = 1;
        s.response_cache = false;
    })
    .await;
    for pause in [0, 1, 3] {
        // A slow first request (a forgiving search), then the second's
        // head and part of its body while the first is being answered.
        let slow = r#"{"query":"{ search(query: \"Tskinvali Kokoyti Medvedv\", first: 50) { score } }"}"#;
        let first = format!("{RAW_HEAD}Content-Length: {}\r\n\r\n{slow}", slow.len());
        let second = format!("{RAW_HEAD}Content-Length: 100\r\n\r\n{{\"query\":");
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
        stream.write_all(first.as_bytes()).await.expect("write");
        tokio::time::sleep(Duration::from_millis(pause)).await;
        stream.write_all(second.as_bytes()).await.expect("write");
        let (answer, closed) = read_for(&mut stream, Duration::from_secs(4)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("HTTP/1.1 200"),
            "the first request is answered: {text}"
        );
        assert!(
            closed || text.contains("HTTP/1.1 408"),
            "pause {pause} ms: the connection was still open 4 s after the second request stopped sending its body: {}",
            shorten(&text)
        );
    }
    still_serves(&app).await.unwrap();
}

#[tokio::test]
async fn a_url_too_long_for_the_http_parser_is_refused_and_the_server_goes_on() {
    let app = spawn_app().await;
    // Longer than reqwest will build, so sent by hand.
    let request = format!(
        "GET /graphql?query=%7B__typename%7D&x={} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
        "a".repeat(200 * 1024)
    );

    let answer = raw_exchange(&app, request.as_bytes(), false, Duration::from_secs(4)).await;

    let RawAnswer::Answered(text) = answer else {
        panic!("no answer to a 200 KB URL: {answer:?}");
    };
    let status = text.get(9..12).unwrap_or_default();
    // Which 4xx is actix's choice (today 400); 414 or 431 would do as well.
    assert!(["400", "414", "431"].contains(&status), "{}", shorten(&text));
    assert!(text.len() < MAX_ANSWER, "a {} byte answer", text.len());
    still_serves(&app).await.unwrap();
}

#[tokio::test]
async fn a_body_cut_short_gets_a_coded_400() {
    let app = spawn_app().await;
    let request = format!("{RAW_HEAD}Content-Length: 100\r\n\r\n{{\"query\":");

    let answer = raw_exchange(&app, request.as_bytes(), true, Duration::from_secs(4)).await;

    let RawAnswer::Answered(text) = answer else {
        panic!("no answer to a body cut short: {answer:?}");
    };
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    let body: Value = serde_json::from_str(raw_body(&text))
        .unwrap_or_else(|e| panic!("the answer is not a JSON error body ({e}):\n{text}"));
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
    still_serves(&app).await.unwrap();
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413_without_a_content_length() {
    let app = spawn_app_with(|s| s.body_limit = 4096).await;
    // Ten 1 KB chunks: the server learns the size only by reading.
    let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
    let request = format!(
        "{}Transfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
        RAW_HEAD,
        chunk.repeat(10)
    );

    let answer = raw_exchange(&app, request.as_bytes(), false, Duration::from_secs(4)).await;

    let RawAnswer::Answered(text) = answer else {
        panic!("no answer to an oversize chunked body: {answer:?}");
    };
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let body: Value = serde_json::from_str(raw_body(&text)).expect("a JSON error body");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    still_serves(&app).await.unwrap();
}

// ---- introspection ------------------------------------------------------------------

#[tokio::test]
async fn with_introspection_off_every_way_of_asking_for_the_schema_gets_introspection_disabled() {
    let app = spawn_app_with(|s| s.introspection = false).await;
    let attempts = [
        ("__schema at the root", "{ __schema { types { name } } }"),
        ("__type at the root", r#"{ __type(name: "Actor") { name } }"#),
        ("__schema under an alias", "{ s: __schema { queryType { name } } }"),
        (
            "__schema in an inline fragment",
            "{ ... on Query { __schema { types { name } } } }",
        ),
        (
            "__type in a named fragment",
            r#"{ ...F } fragment F on Query { __type(name: "Actor") { name } }"#,
        ),
        ("the federation SDL", "{ _service { sdl } }"),
    ];

    for (description, query) in attempts {
        let answer = app.query(query).await;
        assert_eq!(error_code(&answer), "INTROSPECTION_DISABLED", "{description}: {answer}");
        assert!(
            answer.get("data").is_none_or(Value::is_null),
            "{description}: introspection data leaked: {answer}"
        );
    }
    // Ordinary queries, and __typename, which is not introspection of the schema, still work.
    assert_eq!(app.data(NORMAL_QUERY).await["actor"]["name"], "Russia");
    assert_eq!(app.data("{ __typename }").await["__typename"], "Query");
}

/// Nine levels of `ofType`, as GraphiQL's introspection query has, to reach
/// the named type inside `[[Type!]!]!` and the like.
fn type_ref_fragment() -> String {
    let mut fragment = String::from("fragment TypeRef on __Type { kind name ");
    for _ in 0..9 {
        fragment.push_str("ofType { kind name ");
    }
    fragment.push_str(&"} ".repeat(10));
    fragment
}

#[tokio::test]
async fn a_full_introspection_query_as_deep_as_graphiqls_succeeds() {
    let app = spawn_app().await;
    let query = format!(
        "query IntrospectionQuery {{ __schema {{
            queryType {{ name }}
            mutationType {{ name }}
            subscriptionType {{ name }}
            types {{
                kind name description
                fields(includeDeprecated: true) {{
                    name description
                    args {{ name description type {{ ...TypeRef }} defaultValue }}
                    type {{ ...TypeRef }}
                    isDeprecated deprecationReason
                }}
                inputFields {{ name description type {{ ...TypeRef }} defaultValue }}
                interfaces {{ ...TypeRef }}
                enumValues(includeDeprecated: true) {{ name description isDeprecated deprecationReason }}
                possibleTypes {{ ...TypeRef }}
            }}
            directives {{ name description locations args {{ name description type {{ ...TypeRef }} defaultValue }} }}
        }} }}
        {}",
        type_ref_fragment()
    );

    let data = app.data(&query).await;

    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let types = data["__schema"]["types"].as_array().expect("a list of types");
    assert!(
        types.iter().any(|t| t["name"] == "Actor" && t["fields"].is_array()),
        "Actor and its fields are described"
    );
    assert!(
        data["__schema"]["directives"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["name"] == "include")),
        "the built-in directives are listed"
    );
}

// ---- the execution time limit ----------------------------------------------------------

#[tokio::test]
async fn an_operation_over_its_time_limit_is_stopped_with_the_code_timeout() {
    // Without the response cache, so that every try runs the operation
    // (after a first answer, the same document is answered by its plan,
    // which keeps the time limit too).
    let app = spawn_app_with(|s| {
        s.timeout_ms = 1;
        s.response_cache = false;
    })
    .await;
    // A hundred events, their participants and each participant's events:
    // thousands of objects, well over a millisecond.
    let heavy = "{ events(first: 100) { nodes { participants { actor { name \
                 events(first: 5) { nodes { title } } } } } } }";

    let mut timeouts = 0;
    for _ in 0..5 {
        let answer = app.query(heavy).await;
        if answer.get("errors").is_some() {
            assert_eq!(error_code(&answer), "TIMEOUT", "{answer}");
            assert!(check_error_body(&answer).is_empty(), "{answer}");
            timeouts += 1;
        } else {
            assert!(answer["data"]["events"]["nodes"].is_array(), "{answer}");
        }
    }
    assert!(timeouts >= 1, "the heavy query never ran over 1 ms in 5 tries");
}

// ---- memory under hostile requests --------------------------------------------------

/// Resident memory of a process, in bytes (Linux).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// Sends `n` POSTs to `url`, four at a time, the `i`th of `body(i)` (made
/// as it goes, so the test holds only a few); the status of each.
async fn post_all(client: &reqwest::Client, url: &str, n: usize, body: impl Fn(usize) -> Vec<u8>) -> Vec<u16> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .map(|i| {
            let body = body(i);
            let request = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send();
            async move {
                match request.await {
                    Ok(r) => r.status().as_u16(),
                    Err(e) => {
                        eprintln!("request failed: {e:?}");
                        0
                    }
                }
            }
        })
        .buffer_unordered(4)
        .collect()
        .await
}

#[tokio::test]
async fn hostile_cache_and_apq_requests_leave_the_server_under_128_mb() {
    let data = tempfile::tempdir().unwrap();
    let server = crate::durability::Server::start(data.path(), &crate::helpers::seed_dir());
    let client = reqwest::Client::new();
    let pid = server.pid();
    let before = rss(pid);

    // Each with its own 0.9 MB variable the operation never declares.
    let junk = "x".repeat(900 * 1024);
    let statuses = post_all(&client, &server.url, 1024, |i| {
        format!(r#"{{"query":"{{ __typename }}","variables":{{"junk{i}":"{junk}"}}}}"#).into_bytes()
    })
    .await;
    assert!(statuses.iter().all(|s| *s == 400), "{:?}", &statuses[..8]);

    // Under the variables limit, but unused: one cache entry serves them all.
    let junk = "y".repeat(40 * 1024);
    let statuses = post_all(&client, &server.url, 256, |i| {
        format!(r#"{{"query":"{{ __typename }}","variables":{{"junk{i}":"{junk}"}}}}"#).into_bytes()
    })
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{:?}", &statuses[..8]);

    // 500 APQ registrations of 0.9 MB queries, each different.
    let statuses = post_all(&client, &server.url, 500, |i| {
        let query = format!("{{ __typename }} #{i}{}", "z".repeat(900 * 1024));
        let hash = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(query.as_bytes()));
        serde_json::to_vec(&json!({ "query": query,
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .unwrap()
    })
    .await;
    assert!(statuses.iter().all(|s| *s == 400), "{:?}", &statuses[..8]);

    let after = rss(pid);
    println!(
        "server RSS: {} MB before, {} MB after 1,024 + 256 hostile cache requests and 500 hostile APQ registrations",
        before >> 20,
        after >> 20
    );
    assert!(after < 128 << 20, "RSS {} MB", after >> 20);
}
