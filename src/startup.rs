//! Start-up: open the store, build the schema once, serve on a listener that
//! may be port 0 (tests), and seed the store in the background if it is
//! empty (`/ready` says when it is whole).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use actix_web::dev::Server;
use actix_web::http::header::HeaderValue;
use actix_web::{App, HttpServer};
use anyhow::Context as _;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{Settings, StoreSettings};
use crate::graphql;
use crate::http::{
    self, AppState, Assets, Auth, Connections, HttpOptions, OperationLabels, Persisted, ResponseCache, WsOptions,
};
use crate::seed::{self, LoadOutcome, LoadProgress};
use crate::store::{SeedState, Store};

/// A configured, bound server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    /// Why the start-up seed load failed, if it did (it runs while the
    /// server already answers, and stops the server when it fails).
    load_failure: Arc<Mutex<Option<anyhow::Error>>>,
}

/// Opens the store in `settings.data_dir`, creating the directory if missing.
/// A directory another process holds is refused with what to do about it.
pub fn open_store(settings: &StoreSettings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    Ok(Store::open(&settings.data_dir, settings.cache_bytes())?)
}

/// What start-up does with the seed folder, decided before listening.
enum SeedPlan {
    /// The store holds a seed: serve it as it is.
    Serve,
    /// Load the seed: into an empty store, over an interrupted load, or
    /// merged into a seeded store when asked (`--reseed`).
    Load,
}

/// Opens the store and decides whether start-up loads the seed. A seeded
/// store is served as it is, with or without the seed folder: a changed seed
/// is merged only by `diplograph seed` or `serve --reseed`, never silently.
fn open_for_serving(settings: &Settings) -> anyhow::Result<(Store, SeedPlan)> {
    let paths = &settings.store;
    let seed_found = paths.seed_dir.is_dir();
    // Refuse before creating anything: a start from the wrong folder would
    // otherwise leave an empty data directory behind.
    if !seed_found && !paths.data_dir.exists() {
        anyhow::bail!(
            "no database in {} and no seed folder at {} to fill one: run from the repository's root (where seed/ is), or pass --seed-dir DIR (and --data-dir DIR for where the database goes)",
            paths.data_dir.display(),
            paths.seed_dir.display()
        );
    }
    let store = open_store(paths)?;
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
    let plan = match store.seed_state()? {
        SeedState::Loaded { hash } if !seed_found => {
            tracing::info!(seed = %hash, seed_dir = %paths.seed_dir.display(), "seed folder not found; serving the store as it is");
            SeedPlan::Serve
        }
        SeedState::Loaded { .. } if settings.reseed => SeedPlan::Load,
        SeedState::Loaded { hash } => {
            tracing::info!(
                seed = %hash,
                "store already seeded; serving it as it is (a changed seed folder is merged by `diplograph seed` or `serve --reseed`)"
            );
            SeedPlan::Serve
        }
        _ if !seed_found => anyhow::bail!(
            "the database in {} holds no seed, and there is no seed folder at {}: pass --seed-dir DIR",
            paths.data_dir.display(),
            paths.seed_dir.display()
        ),
        SeedState::Loading { .. } => {
            tracing::warn!("an earlier seed load was interrupted; loading the seed again from scratch");
            SeedPlan::Load
        }
        SeedState::Empty => SeedPlan::Load,
    };
    Ok((store, plan))
}

/// Loads the seed folder into the store, logging what it did.
/// Builds the search vocabulary ahead of the first typo to forgive; a
/// failure only means that search builds it itself.
fn warm_search(store: &Store) {
    if let Err(e) = store.warm_search() {
        tracing::warn!(error = %e, "could not build the search vocabulary ahead of time");
    }
}

fn load_seed(store: &Store, seed_dir: &Path, progress: &LoadProgress) -> anyhow::Result<()> {
    let outcome = seed::load_with_progress(store, seed_dir, false, progress)?;
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
        LoadOutcome::AlreadyLoaded(_) => {
            tracing::info!(seed = %report.hash, "the seed folder holds the loaded seed; nothing to merge")
        }
        LoadOutcome::Loaded(_) => {
            tracing::info!(entities = report.total(), seed = %report.hash, seed_dir = %seed_dir.display(), "seed loaded")
        }
    }
    Ok(())
}

/// Binds the listening socket; a busy address gets a hint.
fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "cannot listen on {address}: the address is already in use. Is another server running? Stop it, or use --bind to pick another address (--bind 127.0.0.1:0 picks a free port)"
        ),
        _ => anyhow::Error::new(e).context(format!("binding {address}")),
    })
}

impl Application {
    /// Opens the store, binds and starts serving at once. A seed load the
    /// store needs runs in the background: until it finishes `/ready` answers
    /// 503 with its progress, and `/graphql` 503 `NOT_READY`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        // One line: `key = value; key = value; …`.
        let summary = settings.to_string().lines().collect::<Vec<_>>().join("; ");
        tracing::info!(settings = %summary, "settings");
        // Install the metrics recorder before anything records.
        http::prometheus();
        let allow_list = settings
            .persisted_queries
            .as_deref()
            .map(Persisted::load_allow_list)
            .transpose()?;
        let (store, plan) = open_for_serving(&settings)?;
        let listener = bind(settings.bind)?;
        let address = listener.local_addr()?;
        let loading = Arc::new(LoadProgress::default());
        if matches!(plan, SeedPlan::Serve) {
            loading.finish();
        }
        let schema = graphql::build_schema(store.clone(), settings.schema_options());
        let state = AppState {
            planner: graphql::Planner::of(&schema),
            schema,
            assets: Assets::from_setting(&settings.playground_assets)?,
            options: HttpOptions {
                body_limit: settings.body_limit,
                batching: settings.batching,
                max_batch: settings.max_batch,
                dev: settings.dev,
                cors_origins: settings.cors_origins.clone(),
                cors_allow_headers: settings.cors_allow_headers.clone(),
                client_timeout: Duration::from_secs(settings.client_timeout_secs.max(1)),
                cache_control: if settings.cache_max_age == 0 {
                    HeaderValue::from_static("no-cache")
                } else {
                    // Digits after plain text: always a valid header value.
                    HeaderValue::from_str(&format!("public, max-age={}", settings.cache_max_age))
                        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
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
            loading: loading.clone(),
        };
        if !state.auth.writes_enabled() {
            tracing::info!("writes are disabled: no write token configured (DIPLOGRAPH_WRITE_TOKENS)");
        }
        let connections = state.connections.clone();
        let server = HttpServer::new(move || {
            App::new()
                // The request id, the CORS headers and the 503 while loading.
                .wrap(http::Front::new(http::cors(&state.options), state.loading.clone()))
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
        tracing::info!(%address, "listening; open http://{address}/ for the GraphQL IDE");
        if let Some(path) = &settings.address_file {
            std::fs::write(path, address.to_string())
                .with_context(|| format!("writing the address to --address-file {}", path.display()))?;
        }
        let load_failure = Arc::new(Mutex::new(None));
        if matches!(plan, SeedPlan::Serve) {
            let store = store.clone();
            std::thread::spawn(move || warm_search(&store));
        }
        if matches!(plan, SeedPlan::Load) {
            let (store, seed_dir, handle) = (store.clone(), settings.store.seed_dir.clone(), server.handle());
            let failure = load_failure.clone();
            std::thread::spawn(move || match load_seed(&store, &seed_dir, &loading) {
                Ok(()) => {
                    loading.finish();
                    warm_search(&store);
                }
                Err(e) => {
                    tracing::error!(error = %error_report(&e), "the seed load failed; stopping the server");
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    // The command is sent now; the future only waits for it.
                    drop(handle.stop(true));
                }
            });
        }
        Ok(Application {
            port: address.port(),
            server,
            store,
            load_failure,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until SIGINT/SIGTERM (actix stops gracefully) or a failed seed
    /// load, then flushes the store. A failed seed load is the error returned.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        // A signal during a load leaves the load to the process exit: the
        // store marks it unfinished, and the next start redoes it.
        let failure = self.load_failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.store.flush_async().await?;
        tracing::info!("stopped; store flushed");
        failure.map_or(Ok(()), Err)
    }
}

/// `diplograph serve`.
pub fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move { Application::build(settings).await?.run_until_stopped().await })
}

/// `diplograph seed [--check [--article FILE]] [--reset] [DIR]`. A check
/// validates the seed, then lints it; any finding fails the command.
pub fn seed(
    settings: &StoreSettings,
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
    let store = open_store(settings)?;
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
pub fn verify(settings: &StoreSettings) -> anyhow::Result<()> {
    let store = Store::open(&settings.data_dir, settings.cache_bytes())?;
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
pub fn export(settings: &StoreSettings, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(&settings.data_dir, settings.cache_bytes())?;
    let counts = seed::export(&store, dir)?;
    for (kind, n) in counts {
        println!("{n:>10}  {}", kind.plural());
    }
    println!("exported to {}", dir.display());
    Ok(())
}

/// An error as one message for the terminal: each cause once (a cause whose
/// text its parent already quotes is not repeated).
pub fn error_report(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}
