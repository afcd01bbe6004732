//! The write lock: one writing process per log directory.
//!
//! An OS advisory lock (`flock`) on `log/LOCK`, so it is released when its
//! holder dies, even by SIGKILL. The holder writes its pid into the file so
//! the error can name it. Read-only opens do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::error::LogError;

/// Name of the lock file inside the log directory.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Takes the write lock, or says who holds it.
pub(crate) fn acquire(log_dir: &Path) -> Result<File, LogError> {
    let path = log_dir.join(LOCK_FILE_NAME);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(LogError::io(&path, "open", 0))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok()).unwrap_or(0);
            return Err(LogError::Locked { path, pid });
        }
        Err(TryLockError::Error(source)) => return Err(LogError::Io { path, op: "flock", position_bytes: 0, source }),
    }
    file.set_len(0).map_err(LogError::io(&path, "truncate", 0))?;
    file.rewind().map_err(LogError::io(&path, "seek", 0))?;
    write!(file, "{}", std::process::id()).map_err(LogError::io(&path, "write", 0))?;
    Ok(file)
}
