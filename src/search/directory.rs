//! The index's files on disk, written without fdatasync.
//!
//! Owns nothing but the policy: tantivy's `MmapDirectory` does the work, and
//! this wrapper only leaves out its fdatasyncs (about fifteen per commit).
//! The search index is a view: if a power loss leaves it with a commit whose
//! files did not all reach the disk, the checksum check on open finds the
//! damage and the index is rebuilt from the log (`open.rs`); tantivy never
//! rewrites a file in place, so a lost write cannot leave an older file that
//! still checks out. A process crash loses nothing, since the page cache
//! survives it. What the fdatasyncs would buy, durability of the index, is
//! not worth their cost: they made every read-your-own-writes search wait
//! for a dozen disk flushes, competing with the log's own.
//! [`sync_files`] makes a cleanly closed index durable with one pass.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite, WatchCallback,
    WatchHandle, WritePtr,
};

/// An `MmapDirectory` whose writes are never fdatasynced.
#[derive(Debug, Clone)]
pub(crate) struct UnsyncedDirectory {
    inner: MmapDirectory,
    root: PathBuf,
    /// Takes no lock files, so that read commands need no write permission
    /// on the folder (`recstore search` beside a server run by another user).
    read_only: bool,
}

impl UnsyncedDirectory {
    /// Opens `root`, which must exist.
    pub(crate) fn open(root: &Path) -> tantivy::Result<Self> {
        Ok(Self { inner: MmapDirectory::open(root)?, root: root.to_path_buf(), read_only: false })
    }

    /// Opens `root` for reading only: locks are not taken on disk. The meta
    /// lock only keeps a writer's cleanup from deleting files while a reader
    /// loads them; should that happen, the open fails and the read-only
    /// store builds its index in memory instead (`open.rs`).
    pub(crate) fn open_read_only(root: &Path) -> tantivy::Result<Self> {
        Ok(Self { read_only: true, ..Self::open(root)? })
    }
}

/// Makes every file in `root`, and the folder itself, durable.
pub(crate) fn sync_files(root: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            File::open(entry.path())?.sync_data()?;
        }
    }
    File::open(root)?.sync_data()
}

/// A file writer whose `terminate` flushes to the OS and stops there.
struct UnsyncedWriter(File);

impl Write for UnsyncedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl TerminatingWrite for UnsyncedWriter {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.0.flush()
    }
}

impl Directory for UnsyncedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = OpenOptions::new().write(true).create_new(true).open(self.root.join(path)).map_err(|error| {
            if error.kind() == io::ErrorKind::AlreadyExists {
                OpenWriteError::FileAlreadyExists(path.to_path_buf())
            } else {
                OpenWriteError::wrap_io_error(error, path.to_path_buf())
            }
        })?;
        Ok(BufWriter::new(Box::new(UnsyncedWriter(file))))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    /// Writes a temporary file and renames it over `path`: readers see the
    /// old content or the new, never a mix.
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
        let target = self.root.join(path);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let count = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = self.root.join(format!(".{name}.{}.{count}.tmp", std::process::id()));
        let written = std::fs::write(&temp, data).and_then(|()| std::fs::rename(&temp, &target));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        if self.read_only {
            return Ok(DirectoryLock::from(Box::new(())));
        }
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
