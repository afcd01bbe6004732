//! An in-memory [`Storage`] that can lose power.
//!
//! Each file keeps two states, as a disk does: the bytes readers see, and
//! the bytes a power loss would leave (those at its last `sync_data`), with
//! the writes between them kept in order. Names work the same way: a name
//! created, renamed or removed is durable only once its directory is synced.
//! [`MemoryStorage::crash_image`] builds the state after a power loss: the
//! durable names and bytes, plus whichever unsynced writes a caller's
//! choice keeps, each torn at 512-byte sector boundaries, so that any subset
//! of sectors (a prefix, a reordering, a torn write) can survive.
//! [`MemoryStorage::cut_power_after`] makes every mutation after the Nth
//! fail, which stops a workload at a chosen point.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{FileHandle, LockGuard, LockRefused, Mapped, OpenMode, Storage, StorageFile};

/// The sector size of the simulated disk: the unit a torn write keeps or loses.
pub const SECTOR_SIZE_BYTES: u64 = 512;

/// A mutation, in the order [`MemoryStorage::ops`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageOp {
    /// A file created (or emptied by `CreateTruncate`).
    Create,
    /// Bytes written.
    Write,
    /// A file cut or extended.
    SetLen,
    /// A file's bytes made durable.
    SyncData,
    /// A directory's names made durable.
    SyncDir,
    /// A directory created.
    CreateDir,
    /// A name renamed.
    Rename,
    /// A name removed.
    Remove,
}

/// Files in memory; clones share them.
///
/// ```
/// use recstore::storage::{MemoryStorage, OpenMode, Storage};
/// use std::path::Path;
/// let storage = MemoryStorage::default();
/// storage.create_dir_all(Path::new("/db"))?;
/// let file = storage.open(Path::new("/db/a"), OpenMode::CreateNew)?;
/// file.write_all_at(b"unsynced", 0)?;
/// // The name was never synced into /db: a power loss takes the file away.
/// let after = storage.crash_image(|| true);
/// assert!(after.read(Path::new("/db/a")).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    File(u64),
}

#[derive(Debug, Default)]
struct State {
    /// Names as readers see them now.
    names: BTreeMap<PathBuf, Node>,
    /// Names as a power loss would leave them.
    durable_names: BTreeMap<PathBuf, Node>,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    /// Lock files held, with their holders' notes.
    locks: HashMap<PathBuf, String>,
    ops: Vec<StorageOp>,
    power_cut_after_ops: Option<usize>,
}

#[derive(Debug, Clone, Default)]
struct Inode {
    bytes: Vec<u8>,
    durable: Vec<u8>,
    /// Mutations since the last sync, oldest first.
    pending: Vec<Pending>,
}

#[derive(Debug, Clone)]
enum Pending {
    Write { position_bytes: u64, bytes: Vec<u8> },
    SetLen(u64),
}

impl MemoryStorage {
    /// Every mutation so far, in order.
    pub fn ops(&self) -> Vec<StorageOp> {
        self.lock().ops.clone()
    }

    /// Lets `count` mutations (counted from the start) happen, then fails
    /// every later one with an I/O error and leaves the state as it was:
    /// the machine lost power there.
    pub fn cut_power_after(&self, count: usize) {
        self.lock().power_cut_after_ops = Some(count);
    }

    /// The storage after a power loss now. `keep` is asked, in write order,
    /// whether each unsynced sector write and length change survives.
    pub fn crash_image(&self, mut keep: impl FnMut() -> bool) -> MemoryStorage {
        let state = self.lock();
        let mut inodes = HashMap::new();
        for node in state.durable_names.values() {
            if let Node::File(number) = *node
                && let Some(inode) = state.inodes.get(&number)
            {
                let bytes = surviving_bytes(inode, &mut keep);
                inodes.insert(number, Inode { durable: bytes.clone(), bytes, pending: Vec::new() });
            }
        }
        let image = State {
            names: state.durable_names.clone(),
            durable_names: state.durable_names.clone(),
            inodes,
            next_inode: state.next_inode,
            ..State::default()
        };
        MemoryStorage { state: Arc::new(Mutex::new(image)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The durable bytes of `inode` with the unsynced changes `keep` keeps.
fn surviving_bytes(inode: &Inode, keep: &mut impl FnMut() -> bool) -> Vec<u8> {
    let mut bytes = inode.durable.clone();
    for change in &inode.pending {
        match change {
            Pending::SetLen(len_bytes) => {
                if keep() {
                    bytes.resize(*len_bytes as usize, 0);
                }
            }
            Pending::Write { position_bytes, bytes: written } => {
                for (position, sector) in sectors(*position_bytes, written) {
                    if keep() {
                        write_into(&mut bytes, position, sector);
                    }
                }
            }
        }
    }
    bytes
}

/// `bytes` written at `position_bytes`, split at sector boundaries.
fn sectors(position_bytes: u64, bytes: &[u8]) -> Vec<(u64, &[u8])> {
    let mut pieces = Vec::new();
    let mut position = position_bytes;
    let mut rest = bytes;
    while !rest.is_empty() {
        let to_boundary = (SECTOR_SIZE_BYTES - position % SECTOR_SIZE_BYTES) as usize;
        let (piece, tail) = rest.split_at(to_boundary.min(rest.len()));
        pieces.push((position, piece));
        position += piece.len() as u64;
        rest = tail;
    }
    pieces
}

fn write_into(target: &mut Vec<u8>, position_bytes: u64, bytes: &[u8]) {
    let start = position_bytes as usize;
    let end = start + bytes.len();
    if target.len() < end {
        target.resize(end, 0);
    }
    target[start..end].copy_from_slice(bytes);
}

impl State {
    /// Counts a mutation, or refuses it after the power cut.
    fn mutate(&mut self, op: StorageOp) -> io::Result<()> {
        if self.power_cut_after_ops.is_some_and(|limit| self.ops.len() >= limit) {
            return Err(io::Error::other("simulated power loss: the storage accepts no more writes"));
        }
        self.ops.push(op);
        Ok(())
    }

    fn parent_exists(&self, path: &Path) -> bool {
        match path.parent() {
            None => true,
            Some(parent) if parent.as_os_str().is_empty() || parent == Path::new("/") => true,
            Some(parent) => self.names.get(parent) == Some(&Node::Dir),
        }
    }

    fn file(&self, path: &Path) -> io::Result<u64> {
        match self.names.get(path) {
            Some(Node::File(number)) => Ok(*number),
            Some(Node::Dir) => Err(io::Error::from(io::ErrorKind::IsADirectory)),
            None => Err(not_found(path)),
        }
    }

    fn create(&mut self, path: &Path) -> io::Result<u64> {
        if !self.parent_exists(path) {
            return Err(not_found(path));
        }
        self.mutate(StorageOp::Create)?;
        let number = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(number, Inode::default());
        self.names.insert(path.to_path_buf(), Node::File(number));
        Ok(number)
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display()))
}

impl Storage for MemoryStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FileHandle> {
        let mut state = self.lock();
        let number = match (mode, state.names.get(path).copied()) {
            (OpenMode::CreateNew, Some(_)) => return Err(io::Error::from(io::ErrorKind::AlreadyExists)),
            (OpenMode::CreateNew | OpenMode::CreateTruncate, None) => state.create(path)?,
            (OpenMode::CreateTruncate, Some(_)) => {
                let number = state.file(path)?;
                drop(state);
                let file = MemoryFile { storage: self.clone(), number, writable: true };
                file.set_len(0)?;
                return Ok(Arc::new(file));
            }
            (OpenMode::Read | OpenMode::ReadWrite, _) => state.file(path)?,
        };
        Ok(Arc::new(MemoryFile { storage: self.clone(), number, writable: mode != OpenMode::Read }))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        let state = self.lock();
        if state.names.get(dir) != Some(&Node::Dir) {
            return Err(not_found(dir));
        }
        let children = state.names.keys().filter(|path| path.parent() == Some(dir));
        Ok(children.filter_map(|path| path.file_name().map(OsString::from)).collect())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        for ancestor in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if ancestor.as_os_str().is_empty() || ancestor == Path::new("/") {
                continue;
            }
            match state.names.get(ancestor) {
                Some(Node::Dir) => continue,
                Some(Node::File(_)) => return Err(io::Error::from(io::ErrorKind::NotADirectory)),
                None => {}
            }
            state.mutate(StorageOp::CreateDir)?;
            // Made durable in its parent at once, as `Disk` does.
            state.names.insert(ancestor.to_path_buf(), Node::Dir);
            state.durable_names.insert(ancestor.to_path_buf(), Node::Dir);
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock();
        let number = state.file(from)?;
        if !state.parent_exists(to) {
            return Err(not_found(to));
        }
        state.mutate(StorageOp::Rename)?;
        state.names.remove(from);
        state.names.insert(to.to_path_buf(), Node::File(number));
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.file(path)?;
        state.mutate(StorageOp::Remove)?;
        state.names.remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if state.names.get(dir) != Some(&Node::Dir) {
            return Err(not_found(dir));
        }
        state.mutate(StorageOp::SyncDir)?;
        let in_dir = |path: &PathBuf| path.parent() == Some(dir);
        state.durable_names.retain(|path, _| !in_dir(path));
        let current: Vec<_> =
            state.names.iter().filter(|(path, _)| in_dir(path)).map(|(p, n)| (p.clone(), *n)).collect();
        state.durable_names.extend(current);
        Ok(())
    }

    fn lock(&self, path: &Path, holder: &str) -> Result<LockGuard, LockRefused> {
        let mut state = self.lock();
        if let Some(holder) = state.locks.get(path) {
            return Err(LockRefused::Held { holder: holder.clone() });
        }
        state.locks.insert(path.to_path_buf(), holder.to_owned());
        Ok(LockGuard(Box::new(HeldLock { storage: self.clone(), path: path.to_path_buf() })))
    }
}

/// Releases a lock of a [`MemoryStorage`] when dropped.
struct HeldLock {
    storage: MemoryStorage,
    path: PathBuf,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.storage.lock().locks.remove(&self.path);
    }
}

/// A file open in a [`MemoryStorage`], by inode: it outlives a rename or remove.
#[derive(Debug)]
struct MemoryFile {
    storage: MemoryStorage,
    number: u64,
    writable: bool,
}

impl MemoryFile {
    fn with_inode<T>(&self, op: Option<StorageOp>, act: impl FnOnce(&mut Inode) -> T) -> io::Result<T> {
        if op.is_some_and(|op| op != StorageOp::SyncData) && !self.writable {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        let mut state = self.storage.lock();
        if let Some(op) = op {
            state.mutate(op)?;
        }
        let inode = state.inodes.get_mut(&self.number).ok_or_else(|| io::Error::other("inode vanished"))?;
        Ok(act(inode))
    }
}

impl StorageFile for MemoryFile {
    fn len_bytes(&self) -> io::Result<u64> {
        self.with_inode(None, |inode| inode.bytes.len() as u64)
    }

    fn read_exact_at(&self, buf: &mut [u8], position_bytes: u64) -> io::Result<()> {
        self.with_inode(None, |inode| {
            let start = usize::try_from(position_bytes).ok().filter(|&s| s + buf.len() <= inode.bytes.len());
            let start = start.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(&inode.bytes[start..start + buf.len()]);
            Ok(())
        })?
    }

    fn write_all_at(&self, bytes: &[u8], position_bytes: u64) -> io::Result<()> {
        self.with_inode(Some(StorageOp::Write), |inode| {
            write_into(&mut inode.bytes, position_bytes, bytes);
            inode.pending.push(Pending::Write { position_bytes, bytes: bytes.to_vec() });
        })
    }

    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.with_inode(Some(StorageOp::SetLen), |inode| {
            inode.bytes.resize(len_bytes as usize, 0);
            inode.pending.push(Pending::SetLen(len_bytes));
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with_inode(Some(StorageOp::SyncData), |inode| {
            inode.durable = inode.bytes.clone();
            inode.pending.clear();
        })
    }

    fn map(&self, len_bytes: usize) -> io::Result<Mapped> {
        self.with_inode(None, |inode| Mapped::Bytes(inode.bytes[..len_bytes.min(inode.bytes.len())].into()))
    }
}

/// A file of no bytes that refuses writes.
#[derive(Debug)]
pub(super) struct EmptyFile;

impl StorageFile for EmptyFile {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(0)
    }

    fn read_exact_at(&self, buf: &mut [u8], _position_bytes: u64) -> io::Result<()> {
        if buf.is_empty() { Ok(()) } else { Err(io::Error::from(io::ErrorKind::UnexpectedEof)) }
    }

    fn write_all_at(&self, _bytes: &[u8], _position_bytes: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }

    fn set_len(&self, _len_bytes: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn map(&self, _len_bytes: usize) -> io::Result<Mapped> {
        Ok(Mapped::Bytes(Arc::from(&[][..])))
    }
}
