use std::path::PathBuf;

/// Everything that can go wrong in the store. Messages name the tree, the
/// record or the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled error while {context}: {source}")]
    Sled {
        context: String,
        #[source]
        source: sled::Error,
    },
    #[error("the database in {path} is in use by another diplograph process (sled lets one process open a data directory): stop that process (a running `diplograph serve`?), or pass --data-dir to use another directory")]
    Locked { path: PathBuf },
    #[error("database at {path} has storage format version {found}, but this build reads version {expected}; export it with the matching build or start from an empty data directory")]
    UnknownFormat { path: PathBuf, found: u32, expected: u32 },
    #[error("corrupt record in tree `{tree}` at key `{key}`: {reason}")]
    Corrupt {
        tree: &'static str,
        key: String,
        reason: String,
    },
    #[error("{id}: field `{field}` refers to {target}, which does not exist")]
    MissingReference {
        id: String,
        field: &'static str,
        target: String,
    },
    #[error("{id} does not exist")]
    NotFound { id: String },
    #[error("{id} is referenced by {referrers}; delete those first or ask for a cascade")]
    Referenced { id: String, referrers: String },
    #[error("background task failed: {0}")]
    Task(String),
    #[error("bulk load scratch file {path}: {source}")]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write-ahead log {path}: {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{id} already exists")]
    AlreadyExists { id: String },
    /// A relation that must not loop would: an entity part of itself, an
    /// event after itself, a place within itself, directly or through others.
    #[error("{id}: `{field}` would make a cycle ({path})")]
    Cycle {
        id: String,
        field: &'static str,
        path: String,
    },
    /// The disk cannot take writes (full, failing, or under the free-space
    /// floor); nothing of the refused write is visible. Writes resume by
    /// themselves once the cause is gone.
    #[error("storage unavailable: {reason}")]
    Unavailable { reason: String },
}

pub(crate) fn sled_err(context: impl Into<String>) -> impl FnOnce(sled::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Sled { context, source }
}

/// An I/O error on a bulk load's scratch file at `path`.
pub fn scratch_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Scratch {
        path: path.to_owned(),
        source,
    }
}
