//! The write lock: one writing process per log directory.
//!
//! On disk, an OS advisory lock (`flock`) on `log/LOCK`, so it is released
//! when its holder dies, even by SIGKILL. The holder writes its pid into
//! the file so the error can name it. Read-only opens do not take it.

use std::path::Path;

use super::error::LogError;
use crate::storage::{LockGuard, LockRefused, Storage};

/// Name of the lock file inside the log directory.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Takes the write lock, or says who holds it.
pub(crate) fn acquire(storage: &dyn Storage, log_dir: &Path) -> Result<LockGuard, LogError> {
    let path = log_dir.join(LOCK_FILE_NAME);
    storage.lock(&path, &std::process::id().to_string()).map_err(|refused| match refused {
        LockRefused::Held { holder } => LogError::Locked { pid: holder.parse().unwrap_or(0), path },
        LockRefused::Io { op, source } => LogError::Io { path, op, position_bytes: 0, source },
    })
}
