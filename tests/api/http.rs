//! The HTTP layer over a real socket: health, the GraphiQL page (from a CDN
//! or a local directory), GraphQL over GET and POST with the status codes and
//! media types of the GraphQL-over-HTTP spec, and the container files that
//! must agree with the server's defaults.

use std::path::Path;

use clap::CommandFactory;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.address)
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A GET of /graphql with the given query-string parameters.
async fn get_graphql(app: &TestApp, params: &[(&str, &str)]) -> reqwest::Response {
    let url = reqwest::Url::parse_with_params(&url(app, "/graphql"), params).expect("a URL");
    app.client.get(url).send().await.expect("request sent")
}

#[tokio::test]
async fn health_answers_200() {
    let app = spawn_app().await;

    let response = app.client.get(url(&app, "/health")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn a_browser_gets_the_graphiql_page_at_the_root_and_at_graphql() {
    let app = spawn_app().await;

    for path in ["/", "/graphql"] {
        let response = app
            .client
            .get(url(&app, path))
            .header(ACCEPT, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(content_type(&response).starts_with("text/html"), "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("graphiql"), "{path}: not the IDE:\n{page}");
        assert!(
            page.contains("https://unpkg.com/graphiql"),
            "{path}: scripts come from the configured CDN:\n{page}"
        );
    }
}

#[tokio::test]
async fn the_graphiql_page_pins_its_scripts_and_says_how_to_do_without_the_cdn() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(url(&app, "/"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for asset in [
        "https://unpkg.com/graphiql@3.8.3/graphiql.min.js",
        "https://unpkg.com/graphiql@3.8.3/graphiql.min.css",
        "https://unpkg.com/react@18.3.1/umd/react.production.min.js",
        "https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js",
    ] {
        let tag = page
            .lines()
            .find(|l| l.contains(&format!("\"{asset}\"")))
            .unwrap_or_else(|| panic!("the page loads {asset}:\n{page}"));
        assert!(tag.contains("integrity=\"sha384-"), "{tag}");
    }
    assert!(page.contains("subscriptionUrl"), "subscriptions run in the IDE");
    assert!(
        page.contains(&diplograph::http::install_command()),
        "the fix is on the page"
    );
    assert!(page.contains("--playground-assets"), "the fix is on the page");

    // With the scripts from the CDN, nothing is served under /playground-assets.
    let served = app
        .client
        .get(url(&app, "/playground-assets/graphiql@3.8.3/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_playground_assets_folder_without_the_pinned_releases_stops_the_start_naming_the_file() {
    let assets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(assets.path().join("graphiql")).unwrap();
    // A stand-in, not graphiql 3.8.3's file.
    std::fs::write(assets.path().join("graphiql/graphiql.min.css"), "/* a stand-in */").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut settings = diplograph::config::Settings::for_data_dir(data.path().join("data"));
    settings.store.seed_dir = crate::helpers::seed_dir();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.playground_assets = assets.path().to_str().unwrap().to_owned();
    let refused = match diplograph::startup::Application::build(settings).await {
        Ok(_) => panic!("the server started with a stand-in for graphiql.min.css"),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("graphiql/graphiql.min.css"), "{refused}");
    assert!(refused.contains("graphiql 3.8.3"), "{refused}");
    assert!(refused.contains(&diplograph::http::install_command()), "{refused}");
}

#[tokio::test]
async fn a_query_can_be_sent_with_get() {
    let app = spawn_app().await;

    let response = get_graphql(&app, &[("query", r#"{ actor(id: "russia") { name } }"#)]).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "data": { "actor": { "name": "Russia" } } }));
}

#[tokio::test]
async fn get_refuses_to_run_a_mutation_and_runs_the_query_picked_beside_one() {
    // (description, document, operationName, status)
    let cases = [
        ("a mutation", "mutation { x }", None, StatusCode::METHOD_NOT_ALLOWED),
        (
            "a mutation picked by operationName",
            "query Q { __typename } mutation M { x }",
            Some("M"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "a query picked beside a mutation",
            "query Q { __typename } mutation M { x }",
            Some("Q"),
            StatusCode::OK,
        ),
    ];
    let app = spawn_app().await;

    for (description, document, operation, status) in cases {
        let mut params = vec![("query", document)];
        if let Some(name) = operation {
            params.push(("operationName", name));
        }
        let response = get_graphql(&app, &params).await;
        assert_eq!(response.status(), status, "{description}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert_eq!(
                response.headers().get(ALLOW).map(|v| v.to_str().unwrap()),
                Some("POST"),
                "{description}: Allow names the method to use"
            );
        }
    }
}

#[tokio::test]
async fn a_post_that_is_not_json_gets_415() {
    // (description, Content-Type, body)
    let cases = [
        ("plain text", Some("text/plain"), r#"{ __typename }"#),
        (
            "a form",
            Some("application/x-www-form-urlencoded"),
            "query=%7B__typename%7D",
        ),
        ("a bare GraphQL document", Some("application/graphql"), "{ __typename }"),
        ("no content type at all", None, r#"{"query": "{ __typename }"}"#),
    ];
    let app = spawn_app().await;

    for (description, content, body) in cases {
        let mut request = app.client.post(url(&app, "/graphql")).body(body);
        if let Some(content) = content {
            request = request.header(CONTENT_TYPE, content);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{description}");
    }
}

#[tokio::test]
async fn the_response_media_type_follows_the_accept_header() {
    // (Accept, the Content-Type that comes back)
    let cases = [
        (
            Some("application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (Some("application/json"), "application/json"),
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (
            Some("application/json;q=0.5, application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (
            Some("application/graphql-response+json;q=0.2, application/json"),
            "application/json",
        ),
    ];
    let app = spawn_app().await;

    for (accept, expected) in cases {
        let mut request = app
            .client
            .post(url(&app, "/graphql"))
            .header(CONTENT_TYPE, "application/json")
            .body(r#"{"query": "{ actor(id: \"georgia\") { name } }"}"#);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "Accept: {accept:?}");
        let got = content_type(&response);
        assert!(got.starts_with(expected), "Accept: {accept:?} gave {got}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["actor"]["name"], "Georgia", "Accept: {accept:?}");
    }
}

#[tokio::test]
async fn a_client_that_accepts_no_json_gets_406() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(url(&app, "/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "text/plain")
        .body(r#"{"query": "{ __typename }"}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn a_body_that_is_not_one_graphql_request_gets_400() {
    // (description, body)
    let cases = [
        ("a JSON array (a batch)", r#"[{"query": "{ __typename }"}]"#),
        ("malformed JSON", r#"{"query": "{ __typename }""#),
        ("not JSON at all", "query { __typename }"),
        ("a JSON string", r#""{ __typename }""#),
        ("no query", r#"{"variables": {}}"#),
        ("a query that is not a string", r#"{"query": 5}"#),
        (
            "variables that are not an object",
            r#"{"query": "{ __typename }", "variables": [1]}"#,
        ),
        (
            "an operationName that is not a string",
            r#"{"query": "{ __typename }", "operationName": 3}"#,
        ),
    ];
    let app = spawn_app().await;

    for (description, body) in cases {
        let response = app
            .client
            .post(url(&app, "/graphql"))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{description}");
        let body: Value = response.json().await.expect("errors come as JSON");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{description}: {body:#}"
        );
    }
}

#[tokio::test]
async fn methods_other_than_get_and_post_get_405_naming_the_allowed_ones() {
    let app = spawn_app().await;

    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let response = app
            .client
            .request(method.clone(), url(&app, "/graphql"))
            .header(CONTENT_TYPE, "application/json")
            .body(r#"{"query": "{ __typename }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        let allow = response
            .headers()
            .get(ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            allow.contains("POST") && allow.contains("GET"),
            "{method}: Allow: {allow}"
        );
    }
}

// ---- container files -------------------------------------------------------------

fn repository_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The environment variable clap reads for one of the server's settings.
fn env_name(setting: &str) -> String {
    let command = diplograph::config::Cli::command();
    let argument = command
        .get_arguments()
        .find(|a| a.get_id() == setting)
        .unwrap_or_else(|| panic!("no setting `{setting}`"));
    argument
        .get_env()
        .unwrap_or_else(|| panic!("setting `{setting}` has no environment variable"))
        .to_string_lossy()
        .into_owned()
}

/// A compose `environment`, written either as a map or as a list of `K=V`.
fn environment(service: &serde_yaml::Value) -> Vec<(String, String)> {
    let scalar = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => panic!("an environment value that is not a scalar: {other:?}"),
    };
    match &service["environment"] {
        serde_yaml::Value::Mapping(map) => map.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        serde_yaml::Value::Sequence(list) => list
            .iter()
            .map(|item| {
                let item = scalar(item);
                let (k, v) = item.split_once('=').expect("K=V");
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        other => panic!("no environment in the service: {other:?}"),
    }
}

#[tokio::test]
async fn docker_compose_publishes_the_server_port_keeps_data_in_a_named_volume_and_checks_health() {
    let compose: serde_yaml::Value = serde_yaml::from_str(&repository_file("docker-compose.yml")).expect("valid YAML");
    let service = &compose["services"]["diplograph"];
    assert!(service.is_mapping(), "a service named `diplograph`");
    let defaults = diplograph::config::Settings::for_data_dir("unused".into());
    let port = defaults.bind.port();
    assert_eq!(port, 8000, "the server's default port");

    // Every variable set is one the server reads; inside the container the
    // server listens on all interfaces at the default port, and keeps its data
    // in /data.
    let env = environment(service);
    let (bind_env, data_env) = (env_name("bind"), env_name("data_dir"));
    for (name, _) in &env {
        let known = diplograph::config::Cli::command()
            .get_arguments()
            .any(|a| a.get_env().is_some_and(|e| e == name.as_str()));
        assert!(known, "compose sets {name}, which the server does not read");
    }
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("compose does not set {name}"))
    };
    let bind: std::net::SocketAddr = value(&bind_env).parse().expect("a socket address");
    assert!(bind.ip().is_unspecified(), "listen on every interface: {bind}");
    assert_eq!(bind.port(), port, "{bind_env}");
    let data_dir = value(&data_env);
    assert_eq!(data_dir, "/data", "{data_env}");

    // The container port that is published is the one the server binds.
    let ports: Vec<String> = service["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| p.as_str().expect("a port mapping as a string").to_owned())
        .collect();
    assert!(
        ports.iter().any(|p| p.rsplit(':').next() == Some(&port.to_string())),
        "container port {port} is published: {ports:?}"
    );
    assert!(ports.contains(&format!("{port}:{port}")), "{ports:?}");

    // The data directory is a named volume, declared at the top level.
    let named = service["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find_map(|v| match v {
            serde_yaml::Value::String(s) => s
                .split_once(':')
                .filter(|(_, target)| *target == data_dir)
                .map(|(source, _)| source.to_owned()),
            long => (long["target"].as_str() == Some(data_dir.as_str())
                && long["type"].as_str().unwrap_or("volume") == "volume")
                .then(|| long["source"].as_str().unwrap_or_default().to_owned()),
        })
        .unwrap_or_else(|| panic!("a volume mounted at {data_dir}"));
    assert!(
        !named.is_empty() && !named.starts_with('.') && !named.starts_with('/'),
        "a named volume, not a bind mount: {named}"
    );
    assert!(
        compose["volumes"].get(named.as_str()).is_some(),
        "volume {named} is declared under the top-level `volumes`"
    );

    // The health check asks the server's /health on its port.
    let test = match &service["healthcheck"]["test"] {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Sequence(parts) => parts.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join(" "),
        other => panic!("no healthcheck test: {other:?}"),
    };
    assert!(test.contains(&format!(":{port}/health")), "healthcheck: {test}");
}

#[tokio::test]
async fn the_dockerfile_exposes_the_port_and_ships_the_seed() {
    let dockerfile = repository_file("Dockerfile");
    let port = diplograph::config::Settings::for_data_dir("unused".into()).bind.port();
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).collect();

    assert!(
        lines.contains(&format!("EXPOSE {port}").as_str()),
        "EXPOSE {port}:\n{dockerfile}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("COPY") && l.contains("seed")),
        "the seed files are copied into the image:\n{dockerfile}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("CMD") && l.contains("serve")),
        "the container serves:\n{dockerfile}"
    );
    assert!(
        lines.iter().any(|l| l.contains("curl")),
        "curl is installed for the compose health check:\n{dockerfile}"
    );
}

#[test]
fn the_docker_image_installs_the_ide_releases_the_page_pins_and_serves_them() {
    let dockerfile = repository_file("Dockerfile");
    let install = diplograph::http::install_command();
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("RUN ") && l.contains(&install)),
        "the IDE stage runs `{install}`:\n{dockerfile}"
    );
    assert!(
        dockerfile.contains("COPY --from=ide /ide/node_modules /app/ide")
            && dockerfile.contains("DIPLOGRAPH_PLAYGROUND_ASSETS=/app/ide"),
        "the server is pointed at the installed packages:\n{dockerfile}"
    );
}
