//! The GraphiQL IDE page, with example queries in tabs.
//!
//! The page itself is ours; its scripts (React, GraphiQL) come from a CDN by
//! default or from a local directory (`--playground-assets`), so an
//! air-gapped site still gets a working IDE. No third-party bundle is committed.

use actix_web::{web, HttpResponse};

use super::{AppState, Assets};

/// Example queries shown as tabs when the IDE opens.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "Treaty in depth",
        r#"# A treaty, who signed and ratified it, and the money that rests on it.
query TreatyInDepth {
  treaty(id: "treaty/friendship-2008") {
    name
    signedOn
    enteredIntoForceOn
    signedAt { name within { name } }
    signatories { name positions { title } }
    ratifications { by { name } date }
    provisions
    fundingAllocations {
      amount { amount currency }
      authorizedBy { name }
    }
  }
}"#,
    ),
    (
        "Actor → events → participants",
        r#"# Kokoity's first events, and who else took part in each.
query ActorEventsParticipants {
  actor(id: "eduard-kokoity") {
    name
    aliases
    events(first: 5) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        date
        title
        participants { role actor { name kind } }
      }
    }
  }
}"#,
    ),
    (
        "Timeline of recognition",
        r#"# Everything that happened in late August 2008, in order.
query RecognitionTimeline {
  timeline(from: "2008-08-20", to: "2008-08-31") {
    date
    kind
    title
    place { name }
  }
}"#,
    ),
    (
        "Money",
        r#"# Every allocation from Russia, and the total per currency.
query FundingFromRussia {
  fundingAllocations(filter: { donor: "actor/russia" }) {
    totalAmount { amount currency }
    nodes {
      title
      amount { amount currency }
      date
      basis { name }
      note
    }
  }
}"#,
    ),
    (
        "Search",
        r#"# Case- and accent-insensitive search across every kind.
query SearchTskhinvali {
  search(query: "tskhinvali", first: 5) {
    score
    node {
      id
      ... on Place { name events { title } }
      ... on Event { title date }
      ... on Actor { name }
    }
  }
}"#,
    ),
];

fn urls(assets: &Assets) -> [String; 4] {
    match assets {
        Assets::Cdn(base) => [
            format!("{base}/react@18/umd/react.production.min.js"),
            format!("{base}/react-dom@18/umd/react-dom.production.min.js"),
            format!("{base}/graphiql@3/graphiql.min.js"),
            format!("{base}/graphiql@3/graphiql.min.css"),
        ],
        Assets::Local(_) => [
            "/playground-assets/react/umd/react.production.min.js".into(),
            "/playground-assets/react-dom/umd/react-dom.production.min.js".into(),
            "/playground-assets/graphiql/graphiql.min.js".into(),
            "/playground-assets/graphiql/graphiql.min.css".into(),
        ],
    }
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;")
}

/// Renders the IDE page.
pub fn render(assets: &Assets) -> String {
    let [react, react_dom, graphiql_js, graphiql_css] = urls(assets).map(|u| escape_attr(&u));
    let tabs: Vec<serde_json::Value> = EXAMPLES
        .iter()
        .map(|(_, query)| serde_json::json!({ "query": query }))
        .collect();
    // `</` inside a script must not close it.
    let tabs = serde_json::to_string(&tabs).unwrap_or_default().replace("</", "<\\/");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>diplograph — GraphQL IDE</title>
  <link rel="stylesheet" href="{graphiql_css}">
  <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
  <div id="graphiql">Loading the GraphQL IDE… (its scripts come from {source}; if this stays, start the server with --playground-assets pointing at a local copy)</div>
  <script src="{react}" crossorigin></script>
  <script src="{react_dom}" crossorigin></script>
  <script src="{graphiql_js}" crossorigin></script>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: window.location.origin + '/graphql' }});
    const root = ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(React.createElement(GraphiQL, {{ fetcher, defaultEditorToolsVisibility: true, defaultTabs: {tabs} }}));
  </script>
</body>
</html>
"#,
        source = match assets {
            Assets::Cdn(base) => escape_attr(base),
            Assets::Local(_) => "/playground-assets".into(),
        },
    )
}

pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render(&state.assets))
}
