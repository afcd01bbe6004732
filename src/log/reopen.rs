//! Taking writes again after a failed write or fsync, without a restart.
//!
//! After a failure the log refuses writes (`LogError::Poisoned`), because
//! what the file holds past the last successful fsync is unknown. This
//! module makes it known the way an open does: it scans the active segment
//! from disk, cuts a torn tail, fsyncs what remains, and resets the
//! writer's state to it. Only then are writes accepted again. It never
//! touches a sealed segment, and refuses (leaving the log poisoned) when a
//! failed roll left a newer segment file than the one being written, which
//! only an open sorts out.

use std::sync::{Arc, PoisonError};

use super::error::LogError;
use super::naming::parse_segment_name;
use super::recovery::scan_active;
use super::segment::map_file;
use super::writer::lock;
use super::{Inner, Log, Tail};
use crate::storage::sync_data;

impl Log {
    /// The first write failure since the open (or the last successful
    /// [`Log::reopen_writes`]); `None` while writes are accepted.
    pub fn write_failure(&self) -> Option<String> {
        lock(&self.inner.failure).clone()
    }

    /// After a write failure, recovers the active segment's tail from disk
    /// as an open would and accepts writes again; returns the next offset.
    /// Without a failure it changes nothing. Fails, leaving writes refused,
    /// if the disk still refuses (the cut or the fsync fails).
    pub fn reopen_writes(&self) -> Result<u64, LogError> {
        reopen(&self.inner)
    }
}

fn reopen(inner: &Inner) -> Result<u64, LogError> {
    let mut guard = lock(&inner.writer);
    let writer = guard.as_mut().ok_or_else(|| LogError::ReadOnly { path: inner.log_dir.clone() })?;
    let Some(cause) = lock(&inner.failure).clone() else { return Ok(writer.next_offset()) };
    // A sync leader may still be finishing; it announces its outcome.
    let mut commit = lock(&inner.commit);
    while commit.syncing() {
        commit = inner.commit_changed.wait(commit).unwrap_or_else(PoisonError::into_inner);
    }
    drop(commit);
    let active = writer.active();
    check_still_newest(inner, active.base_offset, &cause)?;
    let map = map_file(&*inner.options.storage, &active.path)?;
    let scan = scan_active(&active.path, &map, active.base_offset, false)?;
    drop(map);
    let faults = inner.options.faults.as_deref();
    if scan.torn_bytes > 0 {
        tracing::warn!(path = %active.path.display(), position_bytes = scan.valid_len_bytes,
            dropped_bytes = scan.torn_bytes, "cutting what the failed write left");
        active.file.set_len(scan.valid_len_bytes).map_err(LogError::io(
            &active.path,
            "truncate",
            scan.valid_len_bytes,
        ))?;
    }
    // What survived the failure is durable only once this succeeds.
    sync_data(&*active.file, faults).map_err(LogError::io(&active.path, "fdatasync", scan.valid_len_bytes))?;
    active.note_synced(scan.valid_len_bytes);
    let previous_timestamp_us = {
        let set = inner.segments.read().unwrap_or_else(PoisonError::into_inner);
        set.sealed.last().map_or(0, |s| s.index.last_timestamp_us)
    };
    let tail = Tail {
        next_offset: scan.next_offset,
        segment_base: active.base_offset,
        active_len_bytes: scan.valid_len_bytes,
        last_timestamp_us: scan.last_timestamp_us.max(previous_timestamp_us),
    };
    *active.index.write().unwrap_or_else(PoisonError::into_inner) = scan.index.entries.clone();
    super::reader::active_map::forget(&active);
    writer.reset(tail, scan.index);
    lock(&inner.commit).reset(tail, Arc::clone(&active));
    {
        let mut set = inner.segments.write().unwrap_or_else(PoisonError::into_inner);
        set.published = tail;
    }
    inner.published_tx.send_replace(tail.next_offset);
    *lock(&inner.failure) = None;
    tracing::info!(next_offset = tail.next_offset, %cause, "writes accepted again after recovering the log's tail");
    Ok(tail.next_offset)
}

/// A roll that failed after creating the next segment file leaves a file
/// newer than the one being written; appending to the older one then would
/// overlap it. Only an open (which removes a torn creation) may go on.
fn check_still_newest(inner: &Inner, active_base: u64, cause: &str) -> Result<(), LogError> {
    let names = inner.options.storage.list(&inner.log_dir).map_err(LogError::io(&inner.log_dir, "read_dir", 0))?;
    for name in names {
        if name.to_str().and_then(parse_segment_name).is_some_and(|base| base > active_base) {
            let path = inner.log_dir.join(name);
            return Err(LogError::Poisoned {
                cause: format!("{cause}; a failed roll left {}: restart to recover", path.display()),
            });
        }
    }
    Ok(())
}
