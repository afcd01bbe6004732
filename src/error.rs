//! The crate's error: what a caller of the store can get back.
//!
//! Each variant says what went wrong and where, in words a user can act on.
//! [`Error::kind`] gives its [`ErrorKind`], which the CLI maps to an exit
//! code and the server to an HTTP status, each in one exhaustive match, and
//! whose [`ErrorKind::as_str`] is the `kind` of every JSON error body.

pub use crate::error_kind::ErrorKind;
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

    /// A purge compaction renumbered the items while a query's results were
    /// being read a page at a time, so the rest of them can no longer be
    /// told apart from the items that took their numbers.
    #[error(
        "a purge compaction renumbered the items while this query's results were being read, after \
         {returned_count} of them: run the query again"
    )]
    QueryCursorStale {
        /// Results handed out before the purge.
        returned_count: u64,
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
            Error::QueryCursorStale { .. } => ErrorKind::Unavailable,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Error::InvalidInput { what: what.into() }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
