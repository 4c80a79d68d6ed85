//! Settings, in one place: flags, then `DIPLOGRAPH_*` environment variables,
//! then an optional TOML file (`--config`), then defaults. Validated at
//! start; printed at start-up with secrets redacted.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};

use crate::graphql::{Limits, QueryLimits, SchemaOptions};

/// The default source of the GraphiQL page's scripts and styles.
pub const DEFAULT_ASSETS: &str = "https://unpkg.com";

/// The request headers a browser page on an allowed origin may send by
/// default: what GraphQL requests need, the client names Apollo Client
/// sends, and the tracing headers of OpenTelemetry and Sentry.
pub const DEFAULT_CORS_ALLOW_HEADERS: &str = "accept,content-type,authorization,\
apollographql-client-name,apollographql-client-version,\
traceparent,tracestate,sentry-trace,baggage,x-request-id";

/// diplograph: a curated knowledge graph of international relations, served over GraphQL.
///
/// With no command it serves (`diplograph` is `diplograph serve`) and takes
/// the server's settings; each command's `--help` lists its own.
#[derive(Debug, Parser)]
#[command(name = "diplograph", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's settings, when no command is given.
    #[command(flatten, next_help_heading = "Server settings (as for `serve`)")]
    pub settings: Settings,
}

impl Cli {
    /// What to run: the command given, or `serve` with the top-level settings.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.settings))
    }
}

// One `Command` is parsed per process; boxing the server's settings would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API and its IDE (the default).
    Serve(Settings),
    /// Validate or load the seed files.
    Seed {
        #[command(flatten)]
        store: StoreSettings,
        /// Only validate and lint the seed: print the number of entities per
        /// kind and the lint's findings (any finding fails); write nothing.
        #[arg(long)]
        check: bool,
        /// Replace whatever the store holds with this seed.
        #[arg(long)]
        reset: bool,
        /// The seed directory (defaults to --seed-dir).
        dir: Option<PathBuf>,
        /// With --check: a plain-text copy of the document the seed's
        /// sources cite, so the lint checks signatories and dates against
        /// the text of the sections they cite.
        #[arg(long, requires = "check")]
        article: Option<PathBuf>,
    },
    /// Print the GraphQL schema (SDL) the server serves, as in `schema.graphql`.
    Schema {
        /// Print the Apollo Federation v2 subgraph SDL instead (what
        /// `Query._service { sdl }` answers a gateway): `@key(fields: "id")`
        /// on every entity type, `@shareable` value types, the `@link` to federation v2.
        #[arg(long)]
        federation: bool,
    },
    /// Check the store: acknowledged writes lost, damaged records (by id),
    /// indexes that disagree with entities. Exits non-zero on any problem.
    Verify {
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Write a deterministic synthetic graph as seed files (benchmarks, scale tests).
    Generate {
        /// About how many entities in all.
        #[arg(long, default_value_t = 10_000)]
        entities: usize,
        /// Where to write the seed files.
        #[arg(long)]
        out: PathBuf,
        /// The seed of the random number generator; the same number gives the same graph.
        #[arg(long, default_value_t = 42)]
        rng_seed: u64,
    },
    /// Write the whole store (seed and API-created entities) out as seed
    /// files that load back to the same graph: a backup.
    Export {
        #[command(flatten)]
        store: StoreSettings,
        /// The directory to write `actors.json`, `events.json`, … into.
        dir: PathBuf,
    },
}

/// Where the store and the seed are: the settings every command that opens
/// the store shares (`serve`, `seed`, `export`).
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// A TOML file of settings (keys as the long flag names, `max_depth = 10`);
    /// flags and environment variables override it.
    #[arg(long, env = "DIPLOGRAPH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the sled database; created if missing.
    #[arg(long, env = "DIPLOGRAPH_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Directory of the seed files loaded into an empty database.
    #[arg(long, env = "DIPLOGRAPH_SEED_DIR", default_value = "./seed")]
    pub seed_dir: PathBuf,
    /// sled page cache size in MiB.
    #[arg(long, env = "DIPLOGRAPH_CACHE_MB", default_value_t = 16)]
    pub cache_mb: u64,
}

impl StoreSettings {
    /// The page cache size in bytes.
    pub fn cache_bytes(&self) -> u64 {
        self.cache_mb * 1024 * 1024
    }
}

/// The server's settings.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub store: StoreSettings,
    /// Merge a changed seed folder into the store at start-up (as `diplograph
    /// seed` does); without it a seeded store is served as it is.
    #[arg(long, env = "DIPLOGRAPH_RESEED", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub reseed: bool,
    /// Once listening, write the address (`127.0.0.1:41234`) to this file:
    /// how scripts and tests find a server started on port 0.
    #[arg(long, env = "DIPLOGRAPH_ADDRESS_FILE")]
    pub address_file: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the chosen address is logged).
    #[arg(long, env = "DIPLOGRAPH_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Where the GraphiQL page loads its scripts and styles from: a URL base
    /// (the default CDN) or a local directory holding the npm packages
    /// graphiql, react and react-dom (a `node_modules`), which the server then serves.
    #[arg(long, env = "DIPLOGRAPH_PLAYGROUND_ASSETS", default_value = DEFAULT_ASSETS)]
    pub playground_assets: String,
    /// HTTP worker threads; 0 means one per CPU core.
    #[arg(long, env = "DIPLOGRAPH_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Largest page a connection returns; larger `first`/`last` are refused.
    #[arg(long, env = "DIPLOGRAPH_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: usize,
    /// Largest request body in bytes; larger bodies get 413.
    #[arg(long, env = "DIPLOGRAPH_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Deepest nesting a query may have (GraphiQL's introspection query needs 15).
    #[arg(long, env = "DIPLOGRAPH_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,
    /// Highest query complexity: every field costs 1; a list multiplies its
    /// contents by the most items it can return as the store stands: a page
    /// by `first`/`last` or what the store holds for that list if fewer, any
    /// other list by the longest list of its kind in the store.
    #[arg(long, env = "DIPLOGRAPH_MAX_COMPLEXITY", default_value_t = 50_000)]
    pub max_complexity: usize,
    /// Most aliases in one query document.
    #[arg(long, env = "DIPLOGRAPH_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,
    /// Most root fields in one operation.
    #[arg(long, env = "DIPLOGRAPH_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub max_root_fields: usize,
    /// Most directives on one field.
    #[arg(long, env = "DIPLOGRAPH_MAX_DIRECTIVES", default_value_t = 5)]
    pub max_directives: usize,
    /// Longest query text, in characters.
    #[arg(long, env = "DIPLOGRAPH_MAX_QUERY_CHARS", default_value_t = 20_000)]
    pub max_query_chars: usize,
    /// Most lexical tokens in a query.
    #[arg(long, env = "DIPLOGRAPH_MAX_TOKENS", default_value_t = 5_000)]
    pub max_tokens: usize,
    /// Longest time one operation may run, in milliseconds.
    #[arg(long, env = "DIPLOGRAPH_TIMEOUT_MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Allow introspection (`__schema`, `__type`); the IDE needs it. `--introspection false` refuses it with an error.
    #[arg(long, env = "DIPLOGRAPH_INTROSPECTION", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub introspection: bool,
    /// Add "Did you mean …" hints to validation errors.
    #[arg(long, env = "DIPLOGRAPH_SUGGESTIONS", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub suggestions: bool,
    /// Accept a JSON array of operations in one POST (at most --max-batch).
    #[arg(long, env = "DIPLOGRAPH_BATCHING", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub batching: bool,
    /// Most operations in one batch, when batching is on.
    #[arg(long, env = "DIPLOGRAPH_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,
    /// Development mode: any origin may call the API from a browser (CORS).
    #[arg(long, env = "DIPLOGRAPH_DEV", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub dev: bool,
    /// Origins allowed to call the API from a browser, comma-separated
    /// (`https://app.example.org`); in production mode no other origin is.
    #[arg(long, env = "DIPLOGRAPH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Request headers a browser page on an allowed origin may send,
    /// comma-separated; the list replaces the default (which has what
    /// GraphQL needs, Apollo Client's client name and version, and the
    /// OpenTelemetry and Sentry tracing headers).
    #[arg(long, env = "DIPLOGRAPH_CORS_ALLOW_HEADERS", value_delimiter = ',', default_value = DEFAULT_CORS_ALLOW_HEADERS)]
    pub cors_allow_headers: Vec<String>,
    /// Apollo automatic persisted queries: remember queries by their SHA-256 hash.
    #[arg(long, env = "DIPLOGRAPH_APQ", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub apq: bool,
    /// How many persisted queries the APQ cache keeps (least recently used go first).
    #[arg(long, env = "DIPLOGRAPH_APQ_CACHE_SIZE", default_value_t = 1000)]
    pub apq_cache_size: usize,
    /// Allow-list mode: a JSON file mapping SHA-256 hashes to query documents
    /// (`{"<hash>": "query { … }"}`); only those operations run.
    #[arg(long, env = "DIPLOGRAPH_PERSISTED_QUERIES")]
    pub persisted_queries: Option<PathBuf>,
    /// Bearer tokens that may write (mutations), comma-separated; several
    /// allow rotation. None configured means writes are disabled.
    #[arg(long, env = "DIPLOGRAPH_WRITE_TOKENS", value_delimiter = ',', hide_env_values = true)]
    pub write_tokens: Vec<String>,
    /// A file of write tokens, one per line (blank lines and `#` comments ignored).
    #[arg(long, env = "DIPLOGRAPH_WRITE_TOKENS_FILE")]
    pub write_tokens_file: Option<PathBuf>,
    /// Milliseconds a WebSocket client has to send `connection_init` before the server closes with 4408.
    #[arg(long, env = "DIPLOGRAPH_WS_INIT_TIMEOUT_MS", default_value_t = 10_000)]
    pub ws_init_timeout_ms: u64,
    /// Seconds between the server's keep-alive pings on WebSocket connections.
    #[arg(long, env = "DIPLOGRAPH_WS_KEEPALIVE_SECS", default_value_t = 15)]
    pub ws_keepalive_secs: u64,
    /// Most live subscriptions on one WebSocket connection.
    #[arg(long, env = "DIPLOGRAPH_MAX_SUBSCRIPTIONS", default_value_t = 20)]
    pub max_subscriptions: usize,
    /// Most open WebSocket connections from one client IP.
    #[arg(long, env = "DIPLOGRAPH_MAX_WS_PER_CLIENT", default_value_t = 16)]
    pub max_ws_per_client: usize,
    /// Answer repeated identical reads from memory until the next write.
    #[arg(long, env = "DIPLOGRAPH_RESPONSE_CACHE", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub response_cache: bool,
    /// Answer reads whose document ran before from a compiled plan that writes JSON straight from the store.
    #[arg(long, env = "DIPLOGRAPH_COMPILED_PLANS", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub compiled_plans: bool,
    /// How many distinct answers the response cache keeps (least recently used go first).
    #[arg(long, env = "DIPLOGRAPH_RESPONSE_CACHE_ENTRIES", default_value_t = 1024)]
    pub response_cache_entries: usize,
    /// gzip GraphQL answers of 1 KiB or more for clients that send `Accept-Encoding: gzip`.
    #[arg(long, env = "DIPLOGRAPH_COMPRESSION", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub compression: bool,
    /// Seconds clients and proxies may reuse a successful read (`Cache-Control: max-age`); 0 means revalidate.
    #[arg(long, env = "DIPLOGRAPH_CACHE_MAX_AGE", default_value_t = 0)]
    pub cache_max_age: u32,
    /// Seconds a client may take to send its request headers and body (slow clients get 408).
    #[arg(long, env = "DIPLOGRAPH_CLIENT_TIMEOUT_SECS", default_value_t = 5)]
    pub client_timeout_secs: u64,
    /// Free space (MiB) the data directory's disk must keep: below it, writes are
    /// refused with `STORAGE_UNAVAILABLE` before the disk is completely full (0: no floor).
    #[arg(long, env = "DIPLOGRAPH_MIN_FREE_MB", default_value_t = 64)]
    pub min_free_mb: u64,
    /// Serve a damaged store (acknowledged writes lost, records that cannot
    /// be read) instead of refusing to start: what is intact is served.
    #[arg(long, env = "DIPLOGRAPH_ALLOW_DAMAGED", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub allow_damaged: bool,
    /// Seconds the server takes to stop on SIGTERM/SIGINT: WebSocket subscribers
    /// get a close frame at once, in-flight requests are answered, and whatever
    /// still runs after this is cut off.
    #[arg(long, env = "DIPLOGRAPH_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,
}

/// A setting that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl Settings {
    /// Settings for tests and embedding: a data directory, everything else default.
    pub fn for_data_dir(data_dir: PathBuf) -> Settings {
        let mut settings = Cli::parse_from(["diplograph"]).settings;
        settings.store.data_dir = data_dir;
        settings
    }

    /// Checks what clap cannot: ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max-page-size", self.max_page_size),
            ("max-depth", self.max_depth),
            ("max-complexity", self.max_complexity),
            ("max-root-fields", self.max_root_fields),
            ("max-query-chars", self.max_query_chars),
            ("max-tokens", self.max_tokens),
            ("max-batch", self.max_batch),
            ("apq-cache-size", self.apq_cache_size),
        ];
        for (setting, value) in positive {
            if value == 0 {
                return Err(ConfigError {
                    setting,
                    message: "must be at least 1".into(),
                });
            }
        }
        if self.body_limit < 1024 {
            return Err(ConfigError {
                setting: "body-limit",
                message: format!("{} bytes is too small; use at least 1024", self.body_limit),
            });
        }
        if self.timeout_ms == 0 {
            return Err(ConfigError {
                setting: "timeout-ms",
                message: "must be at least 1".into(),
            });
        }
        for origin in &self.cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.ends_with('/') {
                return Err(ConfigError {
                    setting: "cors-origins",
                    message: format!("`{origin}` is not an origin like https://app.example.org"),
                });
            }
        }
        for name in &self.cors_allow_headers {
            if actix_web::http::header::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
                return Err(ConfigError {
                    setting: "cors-allow-headers",
                    message: format!("`{name}` is not a header name like x-request-id"),
                });
            }
        }
        if let Some(path) = &self.write_tokens_file {
            if !path.is_file() {
                return Err(ConfigError {
                    setting: "write-tokens-file",
                    message: format!("{} is not a file", path.display()),
                });
            }
        }
        if self.write_tokens.iter().any(|t| t.trim().len() < 16) {
            return Err(ConfigError {
                setting: "write-tokens",
                message: "each token must be at least 16 characters".into(),
            });
        }
        for (setting, value) in [
            ("max-subscriptions", self.max_subscriptions),
            ("max-ws-per-client", self.max_ws_per_client),
        ] {
            if value == 0 {
                return Err(ConfigError {
                    setting,
                    message: "must be at least 1".into(),
                });
            }
        }
        if let Some(path) = &self.persisted_queries {
            if !path.is_file() {
                return Err(ConfigError {
                    setting: "persisted-queries",
                    message: format!("{} is not a file", path.display()),
                });
            }
        }
        Ok(())
    }

    /// Every configured write token: the list and the file together.
    pub fn all_write_tokens(&self) -> Result<Vec<String>, ConfigError> {
        let mut tokens: Vec<String> = self.write_tokens.iter().map(|t| t.trim().to_owned()).collect();
        if let Some(path) = &self.write_tokens_file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                setting: "write-tokens-file",
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                if line.len() < 16 {
                    return Err(ConfigError {
                        setting: "write-tokens-file",
                        message: "each token must be at least 16 characters".into(),
                    });
                }
                tokens.push(line.to_owned());
            }
        }
        Ok(tokens)
    }

    pub fn schema_options(&self) -> SchemaOptions {
        SchemaOptions {
            pages: Limits {
                default_page: 20.min(self.max_page_size),
                max_page: self.max_page_size,
            },
            limits: QueryLimits {
                max_depth: self.max_depth,
                max_complexity: self.max_complexity,
                max_aliases: self.max_aliases,
                max_root_fields: self.max_root_fields,
                max_directives: self.max_directives,
                max_query_chars: self.max_query_chars,
                max_tokens: self.max_tokens,
                max_selections: 5_000.max(self.max_complexity / 4),
                introspection: self.introspection,
                timeout: Duration::from_millis(self.timeout_ms),
            },
            suggestions: self.suggestions,
            compiled_plans: self.compiled_plans,
        }
    }
}

impl fmt::Display for Settings {
    /// One `key = value` per line, as a TOML file would hold them; secrets
    /// (write tokens) print as a count, never their value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        writeln!(f, "bind = {}", s.bind)?;
        writeln!(f, "data_dir = {}", s.store.data_dir.display())?;
        writeln!(f, "seed_dir = {}", s.store.seed_dir.display())?;
        writeln!(f, "reseed = {}", s.reseed)?;
        writeln!(f, "address_file = {:?}", s.address_file)?;
        writeln!(f, "playground_assets = {}", s.playground_assets)?;
        writeln!(f, "cache_mb = {}", s.store.cache_mb)?;
        writeln!(f, "min_free_mb = {}", s.min_free_mb)?;
        writeln!(f, "allow_damaged = {}", s.allow_damaged)?;
        writeln!(f, "shutdown_grace_secs = {}", s.shutdown_grace_secs)?;
        writeln!(f, "workers = {}", s.workers)?;
        writeln!(f, "max_page_size = {}", s.max_page_size)?;
        writeln!(f, "body_limit = {}", s.body_limit)?;
        writeln!(f, "max_depth = {}", s.max_depth)?;
        writeln!(f, "max_complexity = {}", s.max_complexity)?;
        writeln!(f, "max_aliases = {}", s.max_aliases)?;
        writeln!(f, "max_root_fields = {}", s.max_root_fields)?;
        writeln!(f, "max_directives = {}", s.max_directives)?;
        writeln!(f, "max_query_chars = {}", s.max_query_chars)?;
        writeln!(f, "max_tokens = {}", s.max_tokens)?;
        writeln!(f, "timeout_ms = {}", s.timeout_ms)?;
        writeln!(f, "introspection = {}", s.introspection)?;
        writeln!(f, "suggestions = {}", s.suggestions)?;
        writeln!(f, "compiled_plans = {}", s.compiled_plans)?;
        writeln!(f, "batching = {} (max_batch = {})", s.batching, s.max_batch)?;
        writeln!(f, "dev = {}", s.dev)?;
        writeln!(f, "cors_origins = {:?}", s.cors_origins)?;
        writeln!(f, "cors_allow_headers = {:?}", s.cors_allow_headers)?;
        writeln!(f, "apq = {} (apq_cache_size = {})", s.apq, s.apq_cache_size)?;
        writeln!(f, "persisted_queries = {:?}", s.persisted_queries)?;
        writeln!(f, "client_timeout_secs = {}", s.client_timeout_secs)?;
        writeln!(f, "compression = {}", s.compression)?;
        writeln!(
            f,
            "response_cache = {} (entries = {}, cache_max_age = {})",
            s.response_cache, s.response_cache_entries, s.cache_max_age
        )?;
        // Secrets: only how many there are.
        writeln!(f, "write_tokens = <{} redacted>", s.write_tokens.len())?;
        writeln!(f, "write_tokens_file = {:?}", s.write_tokens_file)?;
        writeln!(f, "ws_init_timeout_ms = {}", s.ws_init_timeout_ms)?;
        writeln!(f, "ws_keepalive_secs = {}", s.ws_keepalive_secs)?;
        writeln!(f, "max_subscriptions = {}", s.max_subscriptions)?;
        write!(f, "max_ws_per_client = {}", s.max_ws_per_client)
    }
}

/// Parses the command line, after filling in the settings of the config
/// file (if any). A bad value that came from an environment variable or the
/// config file is reported as that variable or key, not as a flag the user
/// never typed. `--help`, `--version` and mistakes on the command line itself
/// are clap's to print (and exit on).
pub fn parse() -> Result<Cli, anyhow::Error> {
    let args: Vec<String> = std::env::args().collect();
    // The config file only fills in environment variables, so it must be
    // read before clap looks at them.
    let file = apply_config_file(&args)?;
    match Cli::try_parse_from(&args) {
        Ok(cli) => Ok(cli),
        Err(e) => match not_from_a_flag(&e, &args, file.as_ref()) {
            Some(message) => Err(anyhow::anyhow!(message)),
            None => e.exit(),
        },
    }
}

/// The settings a config file filled in: which variable came from which key.
#[derive(Debug, Default)]
pub struct ConfigFile {
    pub path: String,
    /// `(DIPLOGRAPH_MAX_DEPTH, max_depth)`, for each key the file set.
    pub keys: Vec<(String, String)>,
}

/// When clap refused a value that came from the environment or the config
/// file rather than from a flag on the command line, the message that names
/// where it came from.
fn not_from_a_flag(e: &clap::Error, args: &[String], file: Option<&ConfigFile>) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(e.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let flag = format!("--{long}");
    if args.iter().any(|a| *a == flag || a.starts_with(&format!("{flag}="))) {
        return None;
    }
    let command = Cli::command();
    let var = std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.clone(),
        _ => std::env::var(&var).unwrap_or_default(),
    };
    let reason = std::error::Error::source(e)
        .map(|s| s.to_string())
        .or_else(|| match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => Some(format!("expected one of: {}", valid.join(", "))),
            _ => None,
        })
        .unwrap_or_else(|| "not a valid value".into());
    let key = file.and_then(|f| {
        f.keys
            .iter()
            .find(|(v, _)| *v == var)
            .map(|(_, k)| (f.path.as_str(), k))
    });
    Some(match key {
        Some((path, key)) => {
            format!("config file {path}: `{key}` has an invalid value '{value}': {reason}; fix it in the file (`diplograph serve --help` describes every setting)")
        }
        None => format!(
            "environment variable {var} has an invalid value '{value}': {reason}; set it to a valid value or unset it (`diplograph serve --help` describes every setting)"
        ),
    })
}

/// Reads the TOML file named by `--config`/`DIPLOGRAPH_CONFIG` (if any) and
/// exposes each key as the matching `DIPLOGRAPH_*` variable, unless that
/// variable is already set, so flags > environment > file > defaults. Keys
/// that name no setting are refused. Returns which variables the file set.
pub fn apply_config_file(args: &[String]) -> Result<Option<ConfigFile>, anyhow::Error> {
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=")
            .map(str::to_owned)
            .or_else(|| (a == "--config").then(|| args.get(i + 1).cloned()).flatten())
    });
    let Some(path) = from_args.or_else(|| std::env::var("DIPLOGRAPH_CONFIG").ok()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read config file {path}: {e}"))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| anyhow::anyhow!("config file {path} is not valid TOML: {e}"))?;
    let known: Vec<String> = Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    let mut file = ConfigFile {
        path: path.clone(),
        keys: Vec::new(),
    };
    for (key, value) in table {
        let var = format!("DIPLOGRAPH_{}", key.replace('-', "_").to_ascii_uppercase());
        if !known.contains(&var) || var == "DIPLOGRAPH_CONFIG" {
            anyhow::bail!(
                "config file {path}: unknown setting `{key}`; keys are the long flag names with `_` (`max_depth = 10`), listed by `diplograph serve --help`"
            );
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        if std::env::var_os(&var).is_none() {
            std::env::set_var(&var, text);
            file.keys.push((var, key));
        }
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boolean flags of a command: `SetTrue` switches, and settings
    /// whose default is `true` or `false`.
    fn boolean_flags(command: &clap::Command) -> Vec<String> {
        command
            .get_arguments()
            .filter(|arg| {
                let defaults: Vec<_> = arg.get_default_values().iter().map(|v| v.to_os_string()).collect();
                matches!(arg.get_action(), ArgAction::SetTrue)
                    || (matches!(arg.get_action(), ArgAction::Set) && (defaults == ["true"] || defaults == ["false"]))
            })
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_boolean_flag_works_bare_and_takes_false_where_it_takes_a_value() {
        let cli = Cli::command();
        let mut checked = 0;
        let commands = std::iter::once((None, &cli)).chain(cli.get_subcommands().map(|c| (Some(c.get_name()), c)));
        for (name, command) in commands {
            for flag in boolean_flags(command) {
                let mut args: Vec<String> = vec!["diplograph".into()];
                args.extend(name.map(str::to_owned));
                args.push(format!("--{flag}"));
                let id = command
                    .get_arguments()
                    .find(|a| a.get_long() == Some(&flag))
                    .map(|a| a.get_id().to_string())
                    .unwrap_or_default();
                let matches = Cli::command().try_get_matches_from(&args);
                let matches = matches.unwrap_or_else(|e| panic!("{args:?} should parse: {e}"));
                let sub = name.map_or(&matches, |n| matches.subcommand_matches(n).expect("the subcommand"));
                assert_eq!(sub.get_one::<bool>(&id), Some(&true), "{args:?} means --{flag} true");
                if matches!(
                    command
                        .get_arguments()
                        .find(|a| a.get_id() == id.as_str())
                        .map(|a| a.get_action()),
                    Some(ArgAction::Set)
                ) {
                    args.push("false".into());
                    let matches = Cli::command()
                        .try_get_matches_from(&args)
                        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
                    let sub = name.map_or(&matches, |n| matches.subcommand_matches(n).expect("the subcommand"));
                    assert_eq!(sub.get_one::<bool>(&id), Some(&false), "{args:?}");
                }
                checked += 1;
            }
        }
        // `serve` and the bare command each have ten; `seed` has two; `schema` one.
        assert!(checked >= 20, "checked {checked} boolean flags");
    }
}
