//! Settings, from flags and `DIPLOGRAPH_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// diplograph: a curated knowledge graph of international relations, served over GraphQL.
#[derive(Debug, Parser)]
#[command(name = "diplograph", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API and its IDE (the default).
    Serve,
    /// Validate or load the seed files.
    Seed {
        /// Only validate the seed and print the number of entities per kind; write nothing.
        #[arg(long)]
        check: bool,
        /// Replace whatever the store holds with this seed.
        #[arg(long)]
        reset: bool,
        /// The seed directory (defaults to --seed-dir).
        dir: Option<PathBuf>,
    },
    /// Print the GraphQL schema (SDL) the server serves.
    Schema,
}

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (the chosen address is logged).
    #[arg(
        long,
        env = "DIPLOGRAPH_BIND",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: SocketAddr,
    /// Directory of the sled database; created if missing.
    #[arg(
        long,
        env = "DIPLOGRAPH_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Directory of the seed files loaded into an empty database.
    #[arg(
        long,
        env = "DIPLOGRAPH_SEED_DIR",
        default_value = "./seed",
        global = true
    )]
    pub seed_dir: PathBuf,
    /// Where the GraphiQL page loads its scripts and styles from: a URL base
    /// (the default CDN) or a local directory holding the `dist` files of the
    /// npm packages graphiql, react and react-dom, which the server then serves.
    #[arg(long, env = "DIPLOGRAPH_PLAYGROUND_ASSETS", default_value = DEFAULT_ASSETS, global = true)]
    pub playground_assets: String,
    /// sled page cache size in MiB.
    #[arg(long, env = "DIPLOGRAPH_CACHE_MB", default_value_t = 32, global = true)]
    pub cache_mb: u64,
    /// Largest page a connection returns; larger `first`/`last` are refused.
    #[arg(
        long,
        env = "DIPLOGRAPH_MAX_PAGE_SIZE",
        default_value_t = 100,
        global = true
    )]
    pub max_page_size: usize,
}

impl Settings {
    /// Settings for tests and embedding: a data directory, everything else default.
    pub fn for_data_dir(data_dir: PathBuf) -> Settings {
        let cli = Cli::parse_from(["diplograph"]);
        Settings {
            data_dir,
            ..cli.settings
        }
    }
}

/// The default source of the GraphiQL page's scripts and styles.
pub const DEFAULT_ASSETS: &str = "https://unpkg.com";
