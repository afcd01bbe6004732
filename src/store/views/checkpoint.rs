//! Checkpoints: the view state saved with the log offset it covers.
//!
//! A checkpoint only makes opens fast; the log stays the truth. It is
//! written to a temporary file, fsynced, renamed over the old one and the
//! directory fsynced, so a crash leaves the old or the new one, whole. On
//! load, anything wrong (missing, torn, from another log, ahead of the log)
//! means "rebuild from the log", with a warning, never an error.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ViewState;

const MAGIC: [u8; 8] = [0x89, b'R', b'C', b'K', b'P', b'\r', b'\n', 0x1a];
const VERSION: u32 = 1;
const HEADER_SIZE_BYTES: usize = 16;

/// File name of the checkpoint inside the views directory.
pub const CHECKPOINT_FILE_NAME: &str = "checkpoint.bin";

/// Path of the checkpoint file.
pub fn path(views_dir: &Path) -> PathBuf {
    views_dir.join(CHECKPOINT_FILE_NAME)
}

/// Writes `state` atomically (temp file, fsync, rename, directory fsync).
pub fn save(views_dir: &Path, state: &ViewState) -> std::io::Result<u64> {
    std::fs::create_dir_all(views_dir)?;
    let body = postcard::to_stdvec(state).map_err(std::io::Error::other)?;
    let mut bytes = Vec::with_capacity(HEADER_SIZE_BYTES + body.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let temp = views_dir.join(format!("{CHECKPOINT_FILE_NAME}.tmp"));
    let mut file = File::create(&temp)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&temp, path(views_dir))?;
    File::open(views_dir)?.sync_all()?;
    Ok(bytes.len() as u64)
}

/// Loads the checkpoint, or says (as a warning) why it cannot be used.
pub fn load(views_dir: &Path) -> Result<ViewState, String> {
    let path = path(views_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err("no checkpoint".into()),
        Err(error) => return Err(format!("{}: {error}", path.display())),
    };
    if bytes.len() < HEADER_SIZE_BYTES || bytes[..8] != MAGIC {
        return Err(format!("{}: not a checkpoint (bad magic or too short)", path.display()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != VERSION {
        return Err(format!("{}: checkpoint version {version}, this build reads {VERSION}", path.display()));
    }
    let body = &bytes[HEADER_SIZE_BYTES..];
    let crc_stored = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default());
    let crc_computed = crc32fast::hash(body);
    if crc_stored != crc_computed {
        return Err(format!("{}: crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x}", path.display()));
    }
    postcard::from_bytes(body).map_err(|e| format!("{}: {e}", path.display()))
}
