//! diplograph: a curated knowledge graph of international relations, served over GraphQL.
//!
//! # Layout
//!
//! In reading order, each layer depending only on the ones above it:
//!
//! - [`model`]: the domain. Ids (`kind/slug`), partial dates, money, the
//!   entity records and the relations between them. No I/O.
//! - [`store`]: the only code that knows sled. Entity trees, relation and
//!   index trees (all packed blocks of entries), key encodings, transactions,
//!   the bulk load, `verify`.
//! - [`seed`]: reads `seed/*.json`, checks every entity and reference, and
//!   loads them into the store all or nothing; the seed lint.
//! - [`read`]: the read side apart from GraphQL: the field table (how
//!   every read field is read), the shared read cache, opaque versioned
//!   cursors, paging, the root listings with their filters, search and
//!   the timeline, the group-by aggregations, the typed responses between
//!   events, paths between two entities and the as-of views of posts and
//!   treaties.
//! - [`graphql`]: the schema (async-graphql) over the read layer. Resolvers
//!   and the compiled plans both read through the field table; the guard
//!   refuses hostile documents before they run; [`graphql::run`] is the one
//!   entry point for an operation.
//! - [`http`]: actix-web routes. The GraphQL-over-HTTP handler, auth, the
//!   response cache, persisted queries, WebSockets, metrics, the IDE page.
//! - [`startup`]: opens the store, builds the schema once, serves at once
//!   and loads the seed behind `/ready` when the store needs it; [`config`]
//!   reads flags, `DIPLOGRAPH_*` variables and the config file;
//!   [`telemetry`] sets up logging.
//! - [`generate`]: a deterministic synthetic graph for load tests.
//! - [`allocator`]: how the server's allocator (mimalloc) gives freed
//!   memory back to the system.
pub mod allocator;
pub mod config;
pub mod generate;
pub mod graphql;
pub mod http;
pub mod model;
pub mod read;
pub mod seed;
pub mod startup;
pub mod store;
pub mod telemetry;
