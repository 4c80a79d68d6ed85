//! Errors as clients see them: a message and an `extensions.code`.

use async_graphql::{Error, ErrorExtensions};

/// Codes clients can switch on (the Apollo conventions where one exists).
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

/// An argument the client got wrong; the message names it.
pub fn bad_input(argument: &str, message: impl std::fmt::Display) -> Error {
    Error::new(format!("argument `{argument}`: {message}")).extend_with(|_, e| {
        e.set("code", BAD_USER_INPUT);
        e.set("argument", argument);
    })
}

/// Something failed inside the server. The full error goes to the log; the
/// client gets an opaque message and the code, never internals.
pub fn internal(err: impl std::fmt::Display) -> Error {
    tracing::error!(error = %err, "internal error while resolving");
    Error::new("internal error; the server log has the details")
        .extend_with(|_, e| e.set("code", INTERNAL_SERVER_ERROR))
}

/// A read error as clients see it: a wrong argument is `BAD_USER_INPUT`
/// naming it, a store failure is internal.
pub fn read_error(err: crate::read::ReadError) -> Error {
    match err {
        crate::read::ReadError::Argument { name, message } => bad_input(&name, message),
        crate::read::ReadError::Store(e) => internal(e),
    }
}
