//! The real file system behind the [`Storage`] seam: plain `std::fs` calls.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use memmap2::MmapOptions;

use super::{FileHandle, LockGuard, LockRefused, Mapped, OpenMode, Storage, StorageFile};

/// How often, and how long each time, a lock that this process's own note
/// says it holds is tried again (see [`Disk::lock`]): 200 ms in all.
const OWN_LOCK_WAITS: u32 = 20;
const OWN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// The file system of this machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Storage for Disk {
    fn is_local_disk(&self) -> bool {
        true
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FileHandle> {
        let mut options = OpenOptions::new();
        options.read(true);
        match mode {
            OpenMode::Read => {}
            OpenMode::ReadWrite => {
                options.write(true);
            }
            OpenMode::CreateNew => {
                options.write(true).create_new(true);
            }
            OpenMode::CreateTruncate => {
                options.write(true).create(true).truncate(true);
            }
        }
        Ok(Arc::new(DiskFile(options.open(path)?)))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.file_name())).collect()
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            self.create_dir_all(parent)?;
        }
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(error) => return Err(error),
        }
        // The new name lives in its parent; without this a power loss can
        // take the directory, and every file in it, away.
        let parent = parent.unwrap_or(Path::new("."));
        self.sync_dir(parent)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, path: &Path, holder_note: &str) -> Result<LockGuard, LockRefused> {
        let io = |op| move |source| LockRefused::Io { op, source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io("open"))?;
        let mut waits_left = OWN_LOCK_WAITS;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let holder = text.trim().to_owned();
                    // Held in this very process: either a store still open
                    // here (refused below, after the waits), or a child that
                    // another thread is spawning, which holds a copy of every
                    // descriptor, this lock's included, from its fork to its
                    // exec. That lasts microseconds: wait it out.
                    if holder != holder_note || waits_left == 0 {
                        return Err(LockRefused::Held { holder });
                    }
                    waits_left -= 1;
                    file.rewind().map_err(io("seek"))?;
                    std::thread::sleep(OWN_LOCK_WAIT);
                }
                Err(TryLockError::Error(source)) => return Err(LockRefused::Io { op: "flock", source }),
            }
        }
        file.set_len(0).map_err(io("truncate"))?;
        file.rewind().map_err(io("seek"))?;
        file.write_all(holder_note.as_bytes()).map_err(io("write"))?;
        Ok(LockGuard(Box::new(file)))
    }
}

/// A file open on disk.
#[derive(Debug)]
struct DiskFile(File);

impl StorageFile for DiskFile {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], position_bytes: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, position_bytes)
    }

    fn write_all_at(&self, bytes: &[u8], position_bytes: u64) -> io::Result<()> {
        self.0.write_all_at(bytes, position_bytes)
    }

    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.0.set_len(len_bytes)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn map(&self, len_bytes: usize) -> io::Result<Mapped> {
        // SAFETY: recstore never truncates or rewrites the mapped part of a
        // file while it is mapped: sealed segments are immutable, the active
        // one only grows and readers map it only up to bytes already
        // written, and compaction replaces files by rename, which leaves
        // existing maps intact. A map longer than the file is sound as long
        // as nothing reads past the file's end, which the log never does.
        #[allow(unsafe_code, reason = "memory-mapped reads of immutable bytes")]
        let mapped = unsafe { MmapOptions::new().len(len_bytes).map(&self.0) };
        match mapped {
            Ok(map) => Ok(Mapped::Mmap(map)),
            // Some file systems refuse maps (a remount read-only has been
            // seen to, for the active segment); the bytes are read instead,
            // as far as the file goes, so reads keep working.
            Err(error) => {
                tracing::debug!(%error, len_bytes, "mmap refused; reading the bytes instead");
                let readable = usize::try_from(self.len_bytes()?).unwrap_or(usize::MAX).min(len_bytes);
                let mut bytes = vec![0; readable];
                self.0.read_exact_at(&mut bytes, 0)?;
                Ok(Mapped::Bytes(bytes.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_refuses_a_map_is_read_instead() -> io::Result<()> {
        // /dev/null cannot be mapped (ENODEV), as a remounted file system
        // has been seen to refuse; its bytes, none, are read instead.
        let file = Disk.open(Path::new("/dev/null"), OpenMode::Read)?;
        assert!(file.map(16)?.is_empty());
        Ok(())
    }
}
