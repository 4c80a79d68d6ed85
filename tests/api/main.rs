//! The integration tests: one binary, real servers on port 0, real sled databases.

mod helpers;
mod schema_file;
mod seed;
mod seed_facts;
mod store;
mod graphql;
mod relations;
mod pagination;
mod http;
mod batching;
