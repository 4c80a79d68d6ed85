//! Start-up: open the store, seed it if empty, build the schema once, and
//! serve on a listener that may be port 0 (tests).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use anyhow::Context as _;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::graphql;
use crate::http::{
    self, AppState, Assets, Auth, Connections, HttpOptions, OperationLabels, Persisted, ResponseCache, WsOptions,
};
use crate::seed::{self, LoadOutcome};
use crate::store::{SeedState, Store};

/// A configured, bound server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    store: Store,
}

/// Opens the store and loads the seed if the store has none (or an
/// interrupted one). A store holding a different seed is served as it is.
pub fn open_and_seed(settings: &Settings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let store = Store::open(&settings.data_dir, settings.cache_mb * 1024 * 1024)?;
    store.set_min_free_bytes(settings.min_free_mb * 1024 * 1024);
    let damage = store.damage();
    if !damage.is_empty() {
        if !settings.allow_damaged {
            anyhow::bail!(
                "refusing to start on a damaged store: {}. Run `diplograph verify` for details and `diplograph export DIR` to salvage every intact entity (then re-seed from DIR), or start with --allow-damaged to serve what is intact",
                damage.join("; ")
            );
        }
        tracing::error!(problems = %damage.join("; "), "serving a damaged store (--allow-damaged)");
        store.accept_damage();
    }
    let state = store.seed_state()?;
    if let SeedState::Loaded { hash } = &state {
        // A changed seed is merged in; an unchanged one costs one read of the files.
        if seed::content_hash(&settings.seed_dir).ok().as_ref() == Some(hash) {
            tracing::info!(seed = %hash, "store already seeded");
            return Ok(store);
        }
    }
    if matches!(state, SeedState::Loading { .. }) {
        tracing::warn!("an earlier seed load was interrupted; loading the seed again from scratch");
    }
    let outcome = seed::load(&store, &settings.seed_dir, false)?;
    let report = outcome.report();
    match &outcome {
        LoadOutcome::Merged {
            kept_api,
            removed,
            kept_referenced,
            ..
        } => tracing::info!(
            entities = report.total(),
            seed = %report.hash,
            kept_api,
            removed,
            kept_referenced,
            "changed seed merged; API-owned entities kept"
        ),
        _ => {
            tracing::info!(entities = report.total(), seed = %report.hash, dir = %settings.seed_dir.display(), "seed loaded")
        }
    }
    Ok(store)
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        tracing::info!("settings:\n{settings}");
        // Install the metrics recorder before anything records.
        http::prometheus();
        let allow_list = settings
            .persisted_queries
            .as_deref()
            .map(Persisted::load_allow_list)
            .transpose()?;
        let store = open_and_seed(&settings)?;
        let listener = TcpListener::bind(settings.bind).with_context(|| format!("binding {}", settings.bind))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "listening; open http://{address}/ for the GraphQL IDE");
        let state = AppState {
            schema: graphql::build_schema(store.clone(), settings.schema_options()),
            store: store.clone(),
            assets: Assets::from_setting(&settings.playground_assets),
            options: HttpOptions {
                body_limit: settings.body_limit,
                batching: settings.batching,
                max_batch: settings.max_batch,
                dev: settings.dev,
                cors_origins: settings.cors_origins.clone(),
                client_timeout: Duration::from_secs(settings.client_timeout_secs.max(1)),
                cache_control: if settings.cache_max_age == 0 {
                    "no-cache".to_owned()
                } else {
                    format!("public, max-age={}", settings.cache_max_age)
                },
                compression: settings.compression,
            },
            persisted: Arc::new(
                Persisted::new(settings.apq.then_some(settings.apq_cache_size), allow_list)
                    .limited(settings.max_query_chars),
            ),
            labels: Arc::new(OperationLabels::default()),
            auth: Arc::new(Auth::new(settings.all_write_tokens()?)),
            ws: WsOptions {
                init_timeout: Duration::from_millis(settings.ws_init_timeout_ms),
                keepalive: Duration::from_secs(settings.ws_keepalive_secs.max(1)),
                max_subscriptions: settings.max_subscriptions,
                max_connections_per_client: settings.max_ws_per_client,
                send_timeout: Duration::from_secs(10),
            },
            connections: Arc::new(Connections::default()),
            cache: settings
                .response_cache
                .then(|| Arc::new(ResponseCache::new(settings.response_cache_entries))),
        };
        if !state.auth.writes_enabled() {
            tracing::info!("writes are disabled: no write token configured (DIPLOGRAPH_WRITE_TOKENS)");
        }
        if let Assets::Local(dir) = &state.assets {
            anyhow::ensure!(
                dir.is_dir(),
                "--playground-assets {} is neither a URL nor a directory",
                dir.display()
            );
        }
        let connections = state.connections.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(http::cors(&state.options))
                .wrap(actix_web::middleware::from_fn(http::request_id))
                .configure(http::configure(state.clone()))
        })
        .workers(if settings.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            settings.workers
        })
        .client_request_timeout(Duration::from_secs(settings.client_timeout_secs))
        .shutdown_timeout(settings.shutdown_grace_secs)
        .listen(listener)?
        .run();
        tokio::spawn(http::close_all_on_signal(connections));
        Ok(Application {
            port: address.port(),
            server,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until SIGINT/SIGTERM (actix stops gracefully), then flushes the store.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        self.store.flush_async().await?;
        tracing::info!("stopped; store flushed");
        Ok(())
    }
}

/// `diplograph serve`.
pub fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move { Application::build(settings).await?.run_until_stopped().await })
}

/// `diplograph seed [--check [--article FILE]] [--reset] [DIR]`. A check
/// validates the seed, then lints it; any finding fails the command.
pub fn seed(
    settings: &Settings,
    dir: Option<std::path::PathBuf>,
    check: bool,
    reset: bool,
    article: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| settings.seed_dir.clone());
    if check {
        let report = seed::check(&dir)?;
        println!("seed in {} is valid:\n{report}", dir.display());
        let text = article
            .map(|path| {
                std::fs::read_to_string(path).with_context(|| format!("reading the article copy {}", path.display()))
            })
            .transpose()?;
        let findings = seed::lint(&dir, text.as_deref())?;
        let against = match article {
            Some(path) => format!("signatories and dates checked against {}", path.display()),
            None => "no --article given: signatories checked against the cited sources, dates not checked".into(),
        };
        if findings.is_empty() {
            println!("lint: no findings ({against})");
            return Ok(());
        }
        println!("lint: {} finding(s) ({against}):", findings.len());
        for finding in &findings {
            println!("  - {finding}");
        }
        anyhow::bail!("the seed lint found {} problem(s) in {}", findings.len(), dir.display());
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = Store::open(&settings.data_dir, settings.cache_mb * 1024 * 1024)?;
    match seed::load(&store, &dir, reset)? {
        LoadOutcome::Loaded(report) => println!("loaded seed from {}:\n{report}", dir.display()),
        LoadOutcome::AlreadyLoaded(report) => {
            println!("seed from {} is already loaded; nothing changed:\n{report}", dir.display())
        }
        LoadOutcome::Merged { report, kept_api, removed, kept_referenced } => println!(
            "merged the changed seed from {}: {kept_api} API-owned entities kept, {removed} dropped seed entities removed, {kept_referenced} kept because API entities refer to them\n{report}",
            dir.display()
        ),
    }
    Ok(())
}

/// `diplograph verify`: every problem found, one a line; an error (a
/// non-zero exit) when there is any.
pub fn verify(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::open(&settings.data_dir, settings.cache_mb * 1024 * 1024)?;
    let problems = store.verify()?;
    for problem in &problems {
        println!("{problem}");
    }
    anyhow::ensure!(
        problems.is_empty(),
        "the store at {} has {} problems; `diplograph export DIR` salvages every intact entity",
        settings.data_dir.display(),
        problems.len()
    );
    println!("the store at {} is sound", settings.data_dir.display());
    Ok(())
}

/// `diplograph export DIR`.
pub fn export(settings: &Settings, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(&settings.data_dir, settings.cache_mb * 1024 * 1024)?;
    let counts = seed::export(&store, dir)?;
    for (kind, n) in counts {
        println!("{n:>10}  {}", kind.plural());
    }
    println!("exported to {}", dir.display());
    Ok(())
}
