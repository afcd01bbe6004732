//! The kinds of failure, below every layer: each layer's error says which
//! it is, and the CLI's exit codes, the server's statuses and the JSON
//! `kind` strings are derived from it. It imports nothing of the crate.

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
