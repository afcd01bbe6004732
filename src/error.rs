//! The crate's error: what a caller of the store can get back.
//!
//! Each variant says what went wrong and where, in words a user can act on.
//! [`Error::kind`] gives its [`ErrorKind`], which the CLI maps to an exit
//! code and the server to an HTTP status, each in one exhaustive match, and
//! whose [`ErrorKind::as_str`] is the `kind` of every JSON error body.

use crate::log::LogError;

/// Anything the store can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No item with this id was ever stored (or visible at the as-of point).
    #[error("item {id:?} not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },

    /// The item exists but its latest event is a delete.
    #[error("item {id:?} was deleted at offset {offset}")]
    Deleted {
        /// The id asked for.
        id: String,
        /// Offset of the delete record.
        offset: u64,
    },

    /// The item exists but has no such version.
    #[error("item {id:?} has no version {version} (latest is {latest})")]
    VersionNotFound {
        /// The id asked for.
        id: String,
        /// The version asked for.
        version: u32,
        /// The latest version the item has.
        latest: u32,
    },

    /// The version exists, but compaction dropped its data; an audit stub
    /// keeps its metadata, so history and lineage still show it.
    #[error(
        "item {id:?} version {version} was pruned by compaction at horizon offset {horizon_offset}: \
         its metadata and history remain, its data does not"
    )]
    Pruned {
        /// The id asked for.
        id: String,
        /// The version asked for.
        version: u32,
        /// The compaction horizon when it was pruned: as-of reads below it are not exact.
        horizon_offset: u64,
    },

    /// An as-of read before the compaction horizon: compaction dropped
    /// history it would need, so its answer would not be exact.
    #[error(
        "{what} is before the compaction horizon: older history was compacted; \
         the earliest exact as-of is @{earliest_exact_as_of} ({horizon_time})"
    )]
    BeforeHorizon {
        /// The read refused, e.g. `as-of @3`.
        what: String,
        /// The first `@N` that reads exactly.
        earliest_exact_as_of: u64,
        /// The horizon's time, RFC 3339.
        horizon_time: String,
    },

    /// No dataset with this name (or version).
    #[error("dataset {name:?}{} not found", .version.map(|v| format!(" version {v}")).unwrap_or_default())]
    DatasetNotFound {
        /// The name asked for.
        name: String,
        /// The version asked for, if one was.
        version: Option<u32>,
    },

    /// No consumer group of this name has a committed offset.
    #[error("consumer group {group:?} not found (it never committed, or was deleted)")]
    ConsumerGroupNotFound {
        /// The name asked for.
        group: String,
    },

    /// The input was refused; nothing was written.
    #[error("invalid input: {what}")]
    InvalidInput {
        /// What is wrong with it.
        what: String,
    },

    /// The log failed: corruption, a lock held by another process, I/O, limits.
    #[error(transparent)]
    Log(#[from] LogError),

    /// A stored record could not be decoded although its checksum held.
    #[error("record at offset {offset} does not decode: {detail}")]
    BadRecord {
        /// Its offset.
        offset: u64,
        /// What failed.
        detail: String,
    },

    /// An I/O failure outside the log (network, token file, runtime).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A derived file (checkpoint, search index) could not be written.
    #[error("{what}: {detail}")]
    View {
        /// Which view.
        what: &'static str,
        /// What failed.
        detail: String,
    },
}

impl Error {
    /// The kind of error, which every surface maps to its exit code or status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } | Error::DatasetNotFound { .. } | Error::VersionNotFound { .. } => {
                ErrorKind::NotFound
            }
            Error::ConsumerGroupNotFound { .. } => ErrorKind::NotFound,
            Error::Pruned { .. } => ErrorKind::Pruned,
            Error::Deleted { .. } => ErrorKind::Deleted,
            Error::BeforeHorizon { .. } => ErrorKind::Horizon,
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::Log(error) => error.kind(),
            Error::BadRecord { .. } => ErrorKind::Corruption,
            Error::View { .. } | Error::Io { .. } => ErrorKind::Io,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Error::InvalidInput { what: what.into() }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an error is: the one thing the CLI's exit codes, the
/// server's statuses and the JSON `kind` strings are derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was refused; nothing was written.
    InvalidInput,
    /// The command line was malformed (CLI only).
    Usage,
    /// No such item, version, dataset, offset or route.
    NotFound,
    /// The item's latest event is a delete.
    Deleted,
    /// Compaction dropped the data asked for; its metadata remains.
    Pruned,
    /// An as-of read before the compaction horizon.
    Horizon,
    /// Input over a size limit; nothing was written.
    TooLarge,
    /// Stored bytes failed their checks.
    Corruption,
    /// Another process holds the write lock.
    Locked,
    /// Writes are refused: the store is read-only, or a write failed.
    Unavailable,
    /// The operating system failed a call.
    Io,
    /// A request without the right bearer token (server only).
    Unauthorized,
    /// A route that does not take this method (server only).
    MethodNotAllowed,
    /// A request, or its body, did not arrive in time (server only).
    Timeout,
    /// The reader of standard output went away (CLI only; ends quietly).
    BrokenPipe,
    /// A bug: a task panicked.
    Internal,
}

impl ErrorKind {
    /// The stable machine name used in JSON error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Usage => "usage",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Deleted => "deleted",
            ErrorKind::Pruned => "pruned",
            ErrorKind::Horizon => "horizon",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Corruption => "corruption",
            ErrorKind::Locked => "locked",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Io => "io",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BrokenPipe => "broken_pipe",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
