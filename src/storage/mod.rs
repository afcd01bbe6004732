//! The storage seam: every file the log touches goes through a [`Storage`].
//!
//! Two backends: [`Disk`], the real file system and the default, and
//! [`MemoryStorage`], which keeps files in memory, separates the bytes
//! written from the bytes made durable, and can hand out the state a power
//! loss would leave (see `memory.rs`). A [`FaultInjector`] can stand in the
//! way of writes and fsyncs on either backend.
//!
//! This layer knows files and directories only; it must never know what a
//! segment or a record is.

mod disk;
mod faults;
mod memory;

pub use disk::Disk;
pub use faults::{Fault, FaultInjector};
pub use memory::{MemoryStorage, StorageOp};

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// A shared handle to a backend.
pub type SharedStorage = Arc<dyn Storage>;

/// An open file.
pub type FileHandle = Arc<dyn StorageFile>;

/// How [`Storage::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing file, for reading.
    Read,
    /// An existing file, for reading and writing.
    ReadWrite,
    /// A new file; fails if the name exists.
    CreateNew,
    /// A file created, or emptied if it exists.
    CreateTruncate,
}

/// A directory of files: the file system, or a model of one.
///
/// Paths are whole paths, as with `std::fs`. A created, renamed or removed
/// name is durable only after [`Storage::sync_dir`] of its directory, and a
/// file's bytes only after [`StorageFile::sync_data`], as on a POSIX disk.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Opens `path` as `mode` says.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FileHandle>;
    /// The names in `dir`, in no order; `NotFound` if it does not exist.
    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>>;
    /// Creates `dir` and its missing parents, each made durable in its parent.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the names in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the exclusive write lock `path` (a file, created if missing),
    /// held until the guard is dropped, and writes `holder` into it.
    fn lock(&self, path: &Path, holder: &str) -> Result<LockGuard, LockRefused>;

    /// Whether paths name files of this machine's file system, which other
    /// libraries (tantivy) may open themselves.
    fn is_local_disk(&self) -> bool {
        false
    }

    /// The whole of `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = self.open(path, OpenMode::Read)?;
        let len = usize::try_from(file.len_bytes()?).map_err(|_| io::Error::from(io::ErrorKind::FileTooLarge))?;
        let mut bytes = vec![0; len];
        file.read_exact_at(&mut bytes, 0)?;
        Ok(bytes)
    }
}

/// One open file.
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// The file's length in bytes.
    fn len_bytes(&self) -> io::Result<u64>;
    /// Fills `buf` from `position_bytes`; `UnexpectedEof` past the end.
    fn read_exact_at(&self, buf: &mut [u8], position_bytes: u64) -> io::Result<()>;
    /// Writes all of `bytes` at `position_bytes`.
    fn write_all_at(&self, bytes: &[u8], position_bytes: u64) -> io::Result<()>;
    /// Cuts or extends the file to `len_bytes`.
    fn set_len(&self, len_bytes: u64) -> io::Result<()>;
    /// fdatasync: the file's bytes and the metadata needed to read them back.
    fn sync_data(&self) -> io::Result<()>;
    /// The first `len_bytes` of the file, mapped or copied. The log maps a
    /// file only where its bytes no longer change (see `log/segment.rs`).
    fn map(&self, len_bytes: usize) -> io::Result<Mapped>;
}

/// Bytes of a file as [`StorageFile::map`] gives them.
pub enum Mapped {
    /// A read-only memory map of a file on disk.
    Mmap(memmap2::Mmap),
    /// A copy of the bytes.
    Bytes(Arc<[u8]>),
}

impl Deref for Mapped {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Mapped::Mmap(map) => map,
            Mapped::Bytes(bytes) => bytes,
        }
    }
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapped").field("len_bytes", &self.len()).finish()
    }
}

/// Held while a process holds a write lock; dropping it releases the lock.
pub struct LockGuard(#[allow(dead_code, reason = "held for its Drop")] Box<dyn Send + Sync>);

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// Why [`Storage::lock`] did not take the lock.
#[derive(Debug)]
pub enum LockRefused {
    /// Someone holds it; `holder` is what they wrote into the lock file.
    Held {
        /// The holder's note (the log writes its pid).
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    Io {
        /// What failed: "open", "flock", "write".
        op: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// The default backend: the real file system.
pub fn disk() -> SharedStorage {
    Arc::new(Disk)
}

/// A file of no bytes that refuses writes: the active segment of an empty
/// log opened read-only, which has nothing on disk.
pub(crate) fn empty_file() -> FileHandle {
    Arc::new(memory::EmptyFile)
}

/// Writes all of `bytes` at `position_bytes`, unless `faults` fails it.
pub(crate) fn write_all_at(
    file: &dyn StorageFile,
    faults: Option<&FaultInjector>,
    bytes: &[u8],
    position_bytes: u64,
) -> io::Result<()> {
    if let Some(fault) = faults.and_then(FaultInjector::take_write_fault) {
        // A failing write may still have put part of its bytes on disk.
        file.write_all_at(&bytes[..bytes.len() / 2], position_bytes)?;
        return Err(fault.to_io_error());
    }
    file.write_all_at(bytes, position_bytes)
}

/// fdatasync, unless `faults` fails it.
pub(crate) fn sync_data(file: &dyn StorageFile, faults: Option<&FaultInjector>) -> io::Result<()> {
    if let Some(fault) = faults.and_then(FaultInjector::take_sync_fault) {
        return Err(fault.to_io_error());
    }
    file.sync_data()
}

/// fsync of a directory, unless `faults` fails it.
pub(crate) fn sync_dir(storage: &dyn Storage, dir: &Path, faults: Option<&FaultInjector>) -> io::Result<()> {
    if let Some(fault) = faults.and_then(FaultInjector::take_sync_fault) {
        return Err(fault.to_io_error());
    }
    storage.sync_dir(dir)
}

#[cfg(test)]
mod suite;
