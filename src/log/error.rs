//! Errors of the log layer. Every message names the file and the byte
//! position, and the record offset where it is known.

use std::path::PathBuf;

/// What went wrong in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A complete frame or header failed its checks somewhere a crash cannot
    /// explain: in a sealed segment, or followed by valid data.
    #[error(
        "corruption in {}: at byte {position_bytes} (record offset {}): {detail}; \
         run `recstore verify --repair` to move the damaged data to quarantine/",
        .path.display(),
        .offset.map_or_else(|| "unknown".to_string(), |o| o.to_string())
    )]
    Corruption {
        /// The segment or index file.
        path: PathBuf,
        /// Byte position of the bad frame or header in that file.
        position_bytes: u64,
        /// The record offset expected or found there, when known.
        offset: Option<u64>,
        /// What check failed, as `name=value` pairs.
        detail: String,
    },

    /// An I/O call failed.
    #[error("{}: {op} failed at byte {position_bytes}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The call that failed (`write`, `fdatasync`, `rename`, ...).
        op: &'static str,
        /// Byte position in the file, or 0 where it has none.
        position_bytes: u64,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Another process holds the write lock on this log.
    #[error("{} is locked by pid {pid}: another recstore process is writing to it; \
             stop it, or open read-only", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it wrote it into the lock file (0 if unreadable).
        pid: u32,
    },

    /// An earlier write or fsync failed; the log refuses writes until reopened,
    /// because the state of the file after a failed fsync is unknown.
    #[error("log refuses writes after an earlier failure ({cause}); reopen the store")]
    Poisoned {
        /// The first failure.
        cause: String,
    },

    /// The log was opened read-only.
    #[error("log at {} is open read-only", .path.display())]
    ReadOnly {
        /// The log directory.
        path: PathBuf,
    },

    /// Input over a configured limit; nothing was written.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes; nothing was written")]
    TooLarge {
        /// What was too large (`record`, `batch`).
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// A batch with no records, or more than the limit.
    #[error("a batch must hold 1 to {max} records, got {count}")]
    BadBatch {
        /// Records in the batch.
        count: usize,
        /// The limit.
        max: u32,
    },

    /// The clock read a time the log cannot stamp; nothing was written.
    #[error(
        "the clock reads {reading}, outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z; \
         nothing was written (set the system clock right and retry)"
    )]
    ClockOutOfRange {
        /// The reading, as a calendar time where one can be printed.
        reading: String,
    },

    /// A batch stamped earlier than the last record (imports that keep
    /// times); nothing was written.
    #[error(
        "timestamp {} is earlier than the log's last record ({}): times never go back; nothing was written",
        super::clock::format_timestamp(*.timestamp_us),
        super::clock::format_timestamp(*.last_timestamp_us)
    )]
    TimestampBackwards {
        /// The timestamp asked for, microseconds since the epoch.
        timestamp_us: u64,
        /// The last record's timestamp.
        last_timestamp_us: u64,
    },

    /// No record with that offset exists (never written, or removed by compaction).
    #[error("no record at offset {offset} (log holds offsets {first}..{next})")]
    OffsetNotFound {
        /// The offset asked for.
        offset: u64,
        /// The first offset the log still holds.
        first: u64,
        /// The next offset the log will assign.
        next: u64,
    },
}

impl LogError {
    /// The kind of failure, for exit codes and statuses.
    pub fn kind(&self) -> crate::error_kind::ErrorKind {
        use crate::error_kind::ErrorKind;
        match self {
            LogError::Corruption { .. } => ErrorKind::Corruption,
            LogError::Locked { .. } => ErrorKind::Locked,
            LogError::TooLarge { .. } => ErrorKind::TooLarge,
            LogError::BadBatch { .. } | LogError::ClockOutOfRange { .. } | LogError::TimestampBackwards { .. } => {
                ErrorKind::InvalidInput
            }
            LogError::Poisoned { .. } | LogError::ReadOnly { .. } => ErrorKind::Unavailable,
            LogError::OffsetNotFound { .. } => ErrorKind::NotFound,
            LogError::Io { .. } => ErrorKind::Io,
        }
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        op: &'static str,
        position_bytes: u64,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| LogError::Io { path, op, position_bytes, source }
    }
}
