//! diplograph: a curated knowledge graph of international relations, served over GraphQL.
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
