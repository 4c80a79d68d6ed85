//! The read side's own concerns, apart from GraphQL: what clients hold on
//! to between requests. It depends on `model` and `store` only.

pub mod cursor;
