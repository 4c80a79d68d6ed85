//! The read side, apart from GraphQL, in reading order: the field table
//! (`table.rs`: how every field is read), the read cache and the entities
//! it hands out (`cache.rs`), cursors (`cursor.rs`), paging (`page.rs`),
//! the root listings with their filters and the timeline (`listing.rs`),
//! the date filters' interval semantics (`interval.rs`), search with what
//! each hit matched (`search.rs`), the group-by aggregations (`stats.rs`),
//! typed responses between events (`responses.rs`), paths between two
//! entities (`paths.rs`) and the as-of views of posts and treaties
//! (`asof.rs`); how long each list field can be, from the store's
//! statistics (`bounds.rs`). Its errors are
//! its own ([`ReadError`]); the GraphQL
//! layer gives them codes. It depends on `model` and `store` only.

pub mod bounds;
pub mod cache;
pub mod cursor;
mod error;
pub mod interval;
pub mod listing;
pub mod page;
pub mod responses;
pub mod search;
pub mod stats;
pub mod table;
pub mod weight;
// Issue 17: paths between entities, and as-of views.
pub mod asof;
pub mod paths;

pub use error::ReadError;
