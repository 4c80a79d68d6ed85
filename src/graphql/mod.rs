//! The GraphQL schema. It knows nothing of HTTP and nothing of sled: it reads
//! through [`crate::store::Store`], and HTTP hands it requests.

mod connection;
mod errors;
mod filters;
mod loaders;
mod query;
mod scalars;
mod types;

use async_graphql::{EmptyMutation, EmptySubscription, Request, Schema};

pub use connection::Limits;
pub use errors::{BAD_USER_INPUT, INTERNAL_SERVER_ERROR, NOT_FOUND};
pub use loaders::Loaders;
pub use query::QueryRoot;

use crate::store::Store;

pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// Builds the schema once, at start-up; every worker shares it.
pub fn build_schema(store: Store, limits: Limits) -> AppSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .data(store)
        .data(limits)
        .finish()
}

/// Attaches the per-request state (fresh DataLoaders) to a request.
pub fn prepare(request: Request, store: &Store) -> Request {
    request.data(Loaders::new(store))
}

/// The SDL clients and codegen read; `schema.graphql` holds a copy.
pub fn sdl() -> String {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
