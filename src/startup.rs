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
use crate::http::{self, AppState, Assets, HttpOptions, OperationLabels, Persisted};
use crate::seed::{self, LoadOutcome, SeedError};
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
    match store.seed_state()? {
        SeedState::Loaded { hash } => {
            tracing::info!(seed = %hash, "store already seeded");
        }
        state => {
            if matches!(state, SeedState::Loading { .. }) {
                tracing::warn!("an earlier seed load was interrupted; loading the seed again from scratch");
            }
            match seed::load(&store, &settings.seed_dir, false)? {
                LoadOutcome::Loaded(report) | LoadOutcome::AlreadyLoaded(report) => {
                    tracing::info!(entities = report.total(), seed = %report.hash, dir = %settings.seed_dir.display(), "seed loaded");
                }
            }
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
            },
            persisted: Arc::new(Persisted::new(
                settings.apq.then_some(settings.apq_cache_size),
                allow_list,
            )),
            labels: Arc::new(OperationLabels::default()),
        };
        if let Assets::Local(dir) = &state.assets {
            anyhow::ensure!(
                dir.is_dir(),
                "--playground-assets {} is neither a URL nor a directory",
                dir.display()
            );
        }
        let server = HttpServer::new(move || {
            App::new()
                .wrap(http::cors(&state.options))
                .wrap(actix_web::middleware::from_fn(http::request_id))
                .configure(http::configure(state.clone()))
        })
        .client_request_timeout(Duration::from_secs(settings.client_timeout_secs))
        .listen(listener)?
        .run();
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

/// `diplograph seed [--check] [--reset] [DIR]`.
pub fn seed(settings: &Settings, dir: Option<std::path::PathBuf>, check: bool, reset: bool) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| settings.seed_dir.clone());
    if check {
        let report = seed::check(&dir)?;
        println!("seed in {} is valid:\n{report}", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = Store::open(&settings.data_dir, settings.cache_mb * 1024 * 1024)?;
    match seed::load(&store, &dir, reset) {
        Ok(LoadOutcome::Loaded(report)) => {
            println!("loaded seed from {}:\n{report}", dir.display())
        }
        Ok(LoadOutcome::AlreadyLoaded(report)) => {
            println!(
                "seed from {} is already loaded; nothing changed:\n{report}",
                dir.display()
            )
        }
        Err(e @ SeedError::Invalid(_)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
