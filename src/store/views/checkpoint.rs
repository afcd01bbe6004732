//! Checkpoints: the view state saved with the log offset it covers.
//!
//! A checkpoint only makes opens fast; the log stays the truth. Saving one
//! is two steps, so that the caller holds the views' lock for the first
//! only: [`encode`] serializes the state (under the lock: it must be one
//! consistent state), then [`write()`] puts the bytes in a temporary file,
//! fsyncs it, renames it over the old one and fsyncs the directory (without
//! the lock), so a crash leaves the old or the new one, whole. [`WriteGuard`]
//! keeps two checkpoints of one directory from overlapping. On load,
//! anything wrong (missing, torn, from another log, ahead of the log) means
//! "rebuild from the log", with a warning, never an error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};

use super::{ViewState, state_codec};
use crate::storage::{OpenMode, Storage};

const MAGIC: [u8; 8] = [0x89, b'R', b'C', b'K', b'P', b'\r', b'\n', 0x1a];
/// The body's format: 1 was postcard of the whole state (two allocations
/// per item on load); 2 the columns of `state_codec.rs` without the query
/// indices; 3 adds them; 4 keeps in the second group of bitmaps only the
/// versions that are no longer latest (3 kept every version there, which
/// a build reading 3 as 4 would tolerate, but not the other way round); 5
/// counts expired items apart (`items_expired`), leaves them out of the
/// current indices, and keeps each consumer group's last commit record. A
/// checkpoint of another version is ignored and the views rebuilt from the log.
const VERSION: u32 = 5;
const HEADER_SIZE_BYTES: usize = 16;

/// File name of the checkpoint inside the views directory.
pub const CHECKPOINT_FILE_NAME: &str = "checkpoint.bin";

/// Path of the checkpoint file.
pub fn path(views_dir: &Path) -> PathBuf {
    views_dir.join(CHECKPOINT_FILE_NAME)
}

/// The checkpoint file's bytes for `state`: header (magic, version, crc32
/// of the body), then the body. Pure computation, so it is the only part of
/// a checkpoint that needs the views' lock.
pub fn encode(state: &ViewState) -> Result<Vec<u8>, String> {
    let body = state_codec::encode(state)?;
    let mut bytes = Vec::with_capacity(HEADER_SIZE_BYTES + body.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Replaces the checkpoint in `views_dir` with `bytes` (from [`encode`])
/// atomically: temporary file, fsync, rename, directory fsync. The caller
/// holds the directory's [`WriteGuard`], since every writer uses the same
/// temporary file. On failure the old checkpoint is left as it was.
pub fn write(storage: &dyn Storage, views_dir: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = views_dir.join(format!("{CHECKPOINT_FILE_NAME}.tmp"));
    storage.create_dir_all(views_dir).map_err(|e| failed(views_dir, "create directory", &e))?;
    let written = storage.open(&temp, OpenMode::CreateTruncate).and_then(|file| {
        file.write_all_at(bytes, 0)?;
        file.sync_data()
    });
    if let Err(error) = written {
        // Best effort: a stale temporary file is harmless, the next write truncates it.
        storage.remove(&temp).ok();
        return Err(failed(&temp, "write and fsync", &error));
    }
    let target = path(views_dir);
    storage.rename(&temp, &target).map_err(|e| failed(&target, "rename the temporary file over", &e))?;
    storage.sync_dir(views_dir).map_err(|e| failed(views_dir, "fsync directory", &e))
}

fn failed(path: &Path, op: &str, error: &std::io::Error) -> String {
    format!("{}: {op} failed: {error}", path.display())
}

/// Views directories with a checkpoint in progress in this process.
static WRITING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
static WRITING_DONE: Condvar = Condvar::new();

/// One checkpoint of a views directory at a time, within this process,
/// from its snapshot to its rename. Without it two checkpoints would write
/// the same temporary file, and an older snapshot could be renamed in after
/// a newer one (after a purge, one whose last record is gone, which makes
/// the next open rebuild the views from scratch).
pub struct WriteGuard {
    views_dir: PathBuf,
}

impl WriteGuard {
    /// Waits until no other checkpoint of `views_dir` is in progress.
    pub fn acquire(views_dir: &Path) -> Self {
        let mut dirs = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
        while dirs.get_or_insert_with(HashSet::new).contains(views_dir) {
            dirs = WRITING_DONE.wait(dirs).unwrap_or_else(PoisonError::into_inner);
        }
        dirs.get_or_insert_with(HashSet::new).insert(views_dir.to_path_buf());
        Self { views_dir: views_dir.to_path_buf() }
    }
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        let mut dirs = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(dirs) = dirs.as_mut() {
            dirs.remove(&self.views_dir);
        }
        WRITING_DONE.notify_all();
    }
}

/// Why there is no checkpoint to load: the views are then rebuilt from the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// None was ever written (or the views folder was deleted): nothing to warn about.
    #[error("no checkpoint at {}", .path.display())]
    Missing {
        /// Where it would be.
        path: PathBuf,
    },
    /// One is there but cannot be used: unreadable, damaged, or another version.
    #[error("{}: {detail}", .path.display())]
    Unusable {
        /// The checkpoint file.
        path: PathBuf,
        /// What failed, as `name=value` pairs where there are values.
        detail: String,
    },
}

/// Loads the checkpoint, or says why there is none to use.
pub fn load(storage: &dyn Storage, views_dir: &Path) -> Result<ViewState, CheckpointError> {
    let path = path(views_dir);
    let unusable = |detail: String| CheckpointError::Unusable { path: path.clone(), detail };
    let file = match storage.open(&path, OpenMode::Read) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(CheckpointError::Missing { path }),
        Err(error) => return Err(unusable(error.to_string())),
    };
    // Mapped, not read into the heap: a read buffer as large as the views,
    // freed once they are decoded, stayed in the allocator's free lists
    // instead of going back to the system (glibc serves it from the heap
    // once an earlier large block was freed), and the open kept its size
    // in resident memory. A checkpoint file is never written in place:
    // `write` makes a new file and renames it over the old one, which
    // leaves this map intact.
    let len_bytes = file.len_bytes().map_err(|e| unusable(format!("stat: {e}")))?;
    let len_bytes = usize::try_from(len_bytes).map_err(|_| unusable(format!("size_bytes={len_bytes} too large")))?;
    let bytes = file.map(len_bytes).map_err(|e| unusable(format!("mmap: {e}")))?;
    decode(&bytes).map_err(unusable)
}

/// Decodes a whole checkpoint file's bytes: header, version, checksum, body.
pub(crate) fn decode(bytes: &[u8]) -> Result<ViewState, String> {
    if bytes.len() < HEADER_SIZE_BYTES || bytes[..8] != MAGIC {
        return Err("not a checkpoint (bad magic or too short)".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != VERSION {
        return Err(format!("checkpoint version {version}, this build reads {VERSION}"));
    }
    let body = &bytes[HEADER_SIZE_BYTES..];
    let crc_stored = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default());
    let crc_computed = crc32fast::hash(body);
    if crc_stored != crc_computed {
        return Err(format!("crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x}"));
    }
    state_codec::decode(body)
}

/// A checkpoint file around `body`, with the header and checksum right:
/// for the fuzz target, so that random bodies reach the body decoder.
pub(crate) fn wrap_body(body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_SIZE_BYTES + body.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::{CHECKPOINT_FILE_NAME, CheckpointError, load};

    #[test]
    fn a_missing_checkpoint_is_told_apart_from_an_unusable_one() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert!(matches!(load(&crate::storage::Disk, dir.path()), Err(CheckpointError::Missing { .. })));
        std::fs::write(dir.path().join(CHECKPOINT_FILE_NAME), b"not a checkpoint")?;
        let error = load(&crate::storage::Disk, dir.path()).err().ok_or("garbage loaded as a checkpoint")?;
        assert!(matches!(error, CheckpointError::Unusable { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(CHECKPOINT_FILE_NAME) && message.contains("bad magic"), "{message}");
        Ok(())
    }
}
