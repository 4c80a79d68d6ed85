//! The GraphiQL IDE page, with example operations in named tabs, queries
//! over HTTP and subscriptions over the WebSocket at `/graphql`.
//!
//! The page itself is ours; its scripts and styles (React, ReactDOM,
//! GraphiQL) are pinned npm releases, each with its Subresource Integrity
//! hash, so a browser runs exactly those bytes or nothing. They come from a
//! CDN by default or from a local copy of the packages
//! (`--playground-assets DIR`), of which the server checks and serves only
//! the files the page uses, gzipped, so an air-gapped site still gets a
//! working IDE. When the scripts cannot load, the page says why and what to
//! do. No third-party bundle is committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use sha2::{Digest, Sha384};

use super::{compress, AppState};
/// Example operations shown as tabs when the IDE opens; each is named, so
/// its tab has a title.
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
    (
        "Live: events as they are added",
        r#"# Run it, then add an event (a mutation with a write token, see
# docs/writes.md): it shows up here once it is on disk.
subscription EventsAsTheyAreAdded {
  eventAdded {
    id
    title
    date
    kind
    participants { role actor { name } }
  }
}"#,
    ),
];

/// One file the page loads from a pinned npm release.
#[derive(Debug)]
pub struct Asset {
    /// The npm package.
    pub package: &'static str,
    /// Its exact version: the integrity hash holds for this release only.
    pub version: &'static str,
    /// The file's path inside the package.
    pub path: &'static str,
    /// Subresource Integrity: the base64 SHA-384 of the file.
    pub integrity: &'static str,
}

impl Asset {
    fn is_css(&self) -> bool {
        self.path.ends_with(".css")
    }

    /// Where the page loads it from.
    fn url(&self, assets: &Assets) -> String {
        match assets {
            Assets::Cdn(base) => format!("{base}/{}@{}/{}", self.package, self.version, self.path),
            Assets::Local(_) => self.local_path(),
        }
    }

    /// The path this server serves it at, versioned so a browser may keep it.
    fn local_path(&self) -> String {
        format!("{LOCAL_PREFIX}/{}@{}/{}", self.package, self.version, self.path)
    }

    fn content_type(&self) -> &'static str {
        if self.is_css() {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        }
    }
}

/// Every file the page loads, in the order it loads them: GraphiQL's
/// styles, then React and ReactDOM (GraphiQL's UMD build expects them as
/// globals), then GraphiQL, whose bundle includes the graphql-ws client its
/// `subscriptionUrl` uses. The Dockerfile installs these versions, and
/// `tests/clients/package.json` pins them for the browser test.
pub const ASSETS: [Asset; 4] = [
    Asset {
        package: "graphiql",
        version: "3.8.3",
        path: "graphiql.min.css",
        integrity: "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    },
    Asset {
        package: "react",
        version: "18.3.1",
        path: "umd/react.production.min.js",
        integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    },
    Asset {
        package: "react-dom",
        version: "18.3.1",
        path: "umd/react-dom.production.min.js",
        integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    },
    Asset {
        package: "graphiql",
        version: "3.8.3",
        path: "graphiql.min.js",
        integrity: "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    },
];

/// Where local assets are served.
const LOCAL_PREFIX: &str = "/playground-assets";

/// The largest asset file read from `--playground-assets` (GraphiQL's
/// bundle is 3.5 MB); anything larger is not the pinned release.
const MAX_ASSET_BYTES: u64 = 16 * 1024 * 1024;

/// The npm command that installs the pinned packages, for messages.
pub fn install_command() -> String {
    let mut packages: Vec<String> = Vec::new();
    for asset in &ASSETS {
        let package = format!("{}@{}", asset.package, asset.version);
        if !packages.contains(&package) {
            packages.push(package);
        }
    }
    format!("npm install {}", packages.join(" "))
}

/// Where the IDE's scripts come from.
#[derive(Clone, Debug)]
pub enum Assets {
    /// A URL base such as `https://unpkg.com`, laid out like a package CDN.
    Cdn(String),
    /// The files of a local `node_modules`, checked and held in memory.
    Local(Arc<LocalAssets>),
}

/// A `--playground-assets` directory that cannot serve the IDE.
#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("--playground-assets {0} is neither a URL nor a directory")]
    NotADirectory(PathBuf),
    #[error("--playground-assets: cannot read {file} ({reason}); it is {package} {version}'s {path}: in that directory's parent run `{install}`", install = install_command())]
    Unreadable {
        file: PathBuf,
        reason: String,
        package: &'static str,
        version: &'static str,
        path: &'static str,
    },
    #[error("--playground-assets: {file} is not {package} {version}'s {path} (its SHA-384 differs, so browsers would refuse it): in that directory's parent run `{install}`", install = install_command())]
    NotPinned {
        file: PathBuf,
        package: &'static str,
        version: &'static str,
        path: &'static str,
    },
}

impl Assets {
    /// A setting is a URL when it has a scheme; anything else is a
    /// `node_modules` directory holding the pinned packages, whose files the
    /// page uses are read and checked now.
    pub fn from_setting(setting: &str) -> Result<Assets, AssetsError> {
        if setting.starts_with("http://") || setting.starts_with("https://") {
            Ok(Assets::Cdn(setting.trim_end_matches('/').to_owned()))
        } else {
            Ok(Assets::Local(Arc::new(LocalAssets::load(Path::new(setting))?)))
        }
    }

    /// Where the page says its scripts come from.
    fn source(&self) -> String {
        match self {
            Assets::Cdn(base) => base.clone(),
            Assets::Local(_) => format!("this server ({LOCAL_PREFIX}/)"),
        }
    }
}

/// One local asset, plain and gzipped.
#[derive(Debug)]
struct LocalFile {
    asset: &'static Asset,
    plain: Bytes,
    gzipped: Option<Bytes>,
}

/// The files the page uses, read from a local `node_modules` at start-up.
#[derive(Debug)]
pub struct LocalAssets {
    files: Vec<LocalFile>,
}

impl LocalAssets {
    /// Reads every file of [`ASSETS`] under `dir` (`dir/graphiql/graphiql.min.js`),
    /// refusing one that is missing, too large or not the pinned release.
    pub fn load(dir: &Path) -> Result<LocalAssets, AssetsError> {
        if !dir.is_dir() {
            return Err(AssetsError::NotADirectory(dir.to_owned()));
        }
        let files = ASSETS
            .iter()
            .map(|asset| {
                let plain = read_checked(dir, asset)?;
                let gzipped = compress::gzip(&plain, compress::for_keeping());
                Ok(LocalFile { asset, plain, gzipped })
            })
            .collect::<Result<_, AssetsError>>()?;
        Ok(LocalAssets { files })
    }

    fn find(&self, path: &str) -> Option<&LocalFile> {
        self.files.iter().find(|f| f.asset.local_path() == path)
    }
}

/// The file of `asset` under `dir`, if it is that release's.
fn read_checked(dir: &Path, asset: &'static Asset) -> Result<Bytes, AssetsError> {
    let file = dir.join(asset.package).join(asset.path);
    let unreadable = |reason: String| AssetsError::Unreadable {
        file: file.clone(),
        reason,
        package: asset.package,
        version: asset.version,
        path: asset.path,
    };
    let size = std::fs::metadata(&file).map_err(|e| unreadable(e.to_string()))?.len();
    if size > MAX_ASSET_BYTES {
        return Err(unreadable(format!("{size} bytes, over {MAX_ASSET_BYTES}")));
    }
    let bytes = std::fs::read(&file).map_err(|e| unreadable(e.to_string()))?;
    if integrity(&bytes) != asset.integrity {
        return Err(AssetsError::NotPinned {
            file,
            package: asset.package,
            version: asset.version,
            path: asset.path,
        });
    }
    Ok(Bytes::from(bytes))
}

/// The Subresource Integrity value of `bytes` (`sha384-…`).
fn integrity(bytes: &[u8]) -> String {
    let digest = Sha384::digest(bytes);
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(digest))
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;")
}

/// A value as a JavaScript literal that is safe inside a `<script>`.
fn js_literal(value: &serde_json::Value) -> String {
    // `</` inside a script must not close it.
    serde_json::to_string(value).unwrap_or_default().replace("</", "<\\/")
}

/// The `<link>` and `<script>` tags of the assets, each with its integrity
/// hash and an `onerror` that records which one failed.
fn asset_tags(assets: &Assets) -> String {
    ASSETS
        .iter()
        .map(|asset| {
            let url = escape_attr(&asset.url(assets));
            let label = escape_attr(&format!("{} {} ({})", asset.package, asset.version, asset.path));
            let common = format!(
                r#"integrity="{}" crossorigin="anonymous" data-asset="{label}" onerror="ideAssetFailed(this)""#,
                asset.integrity
            );
            if asset.is_css() {
                format!(r#"  <link rel="stylesheet" href="{url}" {common}>"#)
            } else {
                format!(r#"  <script src="{url}" {common}></script>"#)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders the IDE page.
pub fn render(assets: &Assets) -> String {
    let tabs: Vec<serde_json::Value> = EXAMPLES
        .iter()
        .map(|(_, query)| serde_json::json!({ "query": query }))
        .collect();
    let tabs = js_literal(&serde_json::Value::from(tabs));
    let source = assets.source();
    let how = js_literal(&serde_json::json!({
        "source": source,
        "install": install_command(),
    }));
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>diplograph — GraphQL IDE</title>
  <style>
    html, body, #graphiql {{ height: 100%; margin: 0; }}
    #ide-status {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46em; margin: 3em auto; padding: 0 1em; color: #222; }}
    #ide-status h1 {{ font-size: 1.4em; }}
    #ide-status code {{ background: #f1f1f1; padding: 0 .25em; border-radius: 3px; }}
    #ide-status li {{ margin: .3em 0; }}
  </style>
  <script>
    // Which assets failed to load (unreachable, or refused for a wrong integrity hash).
    const ideFailed = [];
    function ideAssetFailed(element) {{ ideFailed.push(element.dataset.asset); }}
  </script>
{tags}
</head>
<body>
  <div id="graphiql"><div id="ide-status">Loading the GraphQL IDE from {source_html}…</div></div>
  <script>
    const how = {how};
    const status = document.getElementById('ide-status');
    if (ideFailed.length || typeof GraphiQL === 'undefined' || typeof ReactDOM === 'undefined') {{
      // Say why, and how to fix it, with no help from the styles that did not load.
      const item = (text) => {{ const li = document.createElement('li'); li.textContent = text; return li; }};
      status.innerHTML = '<h1>The GraphQL IDE could not load its scripts</h1>'
        + '<p>These files did not load from <code></code>:</p><ul id="ide-failed"></ul>'
        + '<p>Either this browser cannot reach that address (offline, a firewall, a proxy or a content blocker), '
        + 'or what it got there is not the pinned release, so the browser refused it (its integrity hash differs). '
        + 'The browser’s console names the file and the reason.</p>'
        + '<p><strong>To fix it</strong>, serve the IDE from this server: in a folder of your choice run '
        + '<code id="ide-install"></code>, then start the server with <code>--playground-assets</code> pointing at '
        + 'that folder’s <code>node_modules</code> (the Docker image does this already). '
        + 'See docs/configuration.md on an IDE for an air-gapped site.</p>'
        + '<p>The API itself works without the IDE: <code>POST /graphql</code>.</p>';
      status.querySelector('code').textContent = how.source;
      status.querySelector('#ide-install').textContent = how.install;
      const list = status.querySelector('#ide-failed');
      (ideFailed.length ? ideFailed : ['(a script ran but defined nothing)']).forEach((f) => list.appendChild(item(f)));
    }} else {{
      const url = window.location.origin + '/graphql';
      const fetcher = GraphiQL.createFetcher({{ url, subscriptionUrl: url.replace(/^http/, 'ws') }});
      const root = ReactDOM.createRoot(document.getElementById('graphiql'));
      root.render(React.createElement(GraphiQL, {{ fetcher, defaultEditorToolsVisibility: true, defaultTabs: {tabs} }}));
    }}
  </script>
</body>
</html>
"#,
        tags = asset_tags(assets),
        source_html = escape_attr(&source),
    )
}

/// `GET /`: the IDE page.
pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render(&state.assets))
}

/// `GET /playground-assets/…`: one of the files the page uses, gzipped for
/// clients that accept it; anything else under the folder is not served.
pub async fn asset(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Assets::Local(local) = &state.assets else {
        return HttpResponse::NotFound().body("the IDE's assets come from a CDN (--playground-assets)");
    };
    let Some(file) = local.find(req.path()) else {
        return HttpResponse::NotFound().body(format!(
            "not an asset of the IDE page; it loads {}",
            ASSETS.iter().map(Asset::local_path).collect::<Vec<_>>().join(", ")
        ));
    };
    let mut response = HttpResponse::Ok();
    response
        .content_type(file.asset.content_type())
        // The path names the version: the bytes behind it never change.
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::VARY, "accept-encoding"));
    match &file.gzipped {
        Some(gzipped) if compress::accepts_gzip(&req) => response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gzipped.clone()),
        _ => response.body(file.plain.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_pinned_to_an_exact_version_with_an_integrity_hash() {
        let page = render(&Assets::Cdn("https://cdn.example".into()));
        for asset in &ASSETS {
            assert!(asset.version.split('.').all(|n| n.parse::<u32>().is_ok()), "{asset:?}");
            assert!(
                asset.integrity.starts_with("sha384-") && asset.integrity.len() == 71,
                "{asset:?}"
            );
            let url = format!("https://cdn.example/{}@{}/{}", asset.package, asset.version, asset.path);
            let tag = page
                .lines()
                .find(|l| l.contains(&format!("\"{url}\"")))
                .unwrap_or_else(|| panic!("the page loads {url}"));
            assert!(tag.contains(&format!("integrity=\"{}\"", asset.integrity)), "{tag}");
            assert!(tag.contains("crossorigin=\"anonymous\""), "{tag}");
        }
        assert!(!page.contains("@3/") && !page.contains("@18/"), "no floating versions");
    }

    #[test]
    fn a_folder_without_the_pinned_files_is_refused_naming_the_file_and_the_fix() {
        let scratch = tempfile::tempdir().unwrap();
        let missing = LocalAssets::load(scratch.path()).unwrap_err().to_string();
        assert!(missing.contains("graphiql.min.css"), "{missing}");
        assert!(missing.contains(&install_command()), "{missing}");

        let css = scratch.path().join("graphiql/graphiql.min.css");
        std::fs::create_dir_all(css.parent().unwrap()).unwrap();
        std::fs::write(&css, "/* another release */").unwrap();
        let other = LocalAssets::load(scratch.path()).unwrap_err().to_string();
        assert!(other.contains(&css.display().to_string()), "{other}");
        assert!(other.contains("is not graphiql 3.8.3's graphiql.min.css"), "{other}");

        let not_a_folder = Assets::from_setting("/no/such/folder").unwrap_err().to_string();
        assert!(not_a_folder.contains("/no/such/folder"), "{not_a_folder}");
    }

    #[test]
    fn the_integrity_of_bytes_is_their_base64_sha384() {
        // `printf abc | openssl dgst -sha384 -binary | base64`
        assert_eq!(
            integrity(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
    }

    #[test]
    fn the_install_command_names_each_package_once() {
        assert_eq!(
            install_command(),
            "npm install graphiql@3.8.3 react@18.3.1 react-dom@18.3.1"
        );
    }
}
