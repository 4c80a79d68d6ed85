//! The read side, apart from GraphQL: the read cache and the entities it
//! hands out, and cursors. It depends on `model` and `store` only.

pub mod cache;
pub mod cursor;
