//! File I/O with an optional fault injector in the way.
//!
//! Every write and fsync of the log goes through here, so a test can make
//! the Nth one fail with EIO or ENOSPC on a real file and check that the
//! log refuses to carry on. Without an injector these are plain calls.

mod faults;

pub use faults::{Fault, FaultInjector};

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Writes all of `bytes` at `position_bytes`.
pub(crate) fn write_all_at(
    file: &File,
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

/// fdatasync: the file's data and the metadata needed to read it back.
pub(crate) fn sync_data(file: &File, faults: Option<&FaultInjector>) -> io::Result<()> {
    if let Some(fault) = faults.and_then(FaultInjector::take_sync_fault) {
        return Err(fault.to_io_error());
    }
    file.sync_data()
}

/// fsync of a directory, so a created, renamed or removed entry survives power loss.
pub(crate) fn sync_dir(dir: &Path, faults: Option<&FaultInjector>) -> io::Result<()> {
    if let Some(fault) = faults.and_then(FaultInjector::take_sync_fault) {
        return Err(fault.to_io_error());
    }
    File::open(dir)?.sync_all()
}
