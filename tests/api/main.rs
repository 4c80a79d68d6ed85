//! The integration tests: one binary, real servers on port 0, real sled databases.

mod batching;
mod clients;
mod compression;
mod cors_and_apq;
mod durability;
mod field_table;
mod first_hour;
mod full_disk;
mod graphql;
mod helpers;
mod hostile;
mod http;
mod metrics;
mod pagination;
mod plans;
mod readme;
mod relations;
mod response_cache;
mod schema_file;
mod seed;
mod seed_facts;
mod seed_lint;
mod shared_subtrees;
mod store;
mod subscriptions;
mod writes;
