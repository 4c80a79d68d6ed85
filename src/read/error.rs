//! Why a read could not be answered. The GraphQL layer maps these to error
//! codes in one place (`graphql/errors.rs`).

use crate::store::StoreError;

/// Why a read could not be answered. It has no `Display` on purpose:
/// async-graphql turns anything `Display` into an error without a code, so
/// every conversion goes through `graphql::errors::read_error`.
#[derive(Debug)]
pub enum ReadError {
    /// An argument the client sent is wrong: its name as the client spells
    /// it (`first`, `filter.from`) and what is wrong with it.
    Argument { name: String, message: String },
    /// The store failed.
    Store(StoreError),
}

impl ReadError {
    /// The argument `name` is wrong, for the reason `message` gives.
    pub fn argument(name: &str, message: impl std::fmt::Display) -> ReadError {
        ReadError::Argument {
            name: name.to_owned(),
            message: message.to_string(),
        }
    }
}

impl From<StoreError> for ReadError {
    fn from(e: StoreError) -> ReadError {
        ReadError::Store(e)
    }
}
