//! Following the writing process's appends from a read-only log.
//!
//! A read-only open takes a snapshot of the segments and, by itself, never
//! sees what the writing process appends afterwards, so [`Log::watch`] in a
//! reader process (for example `recstore log --follow` beside `serve`)
//! would never change. [`Log::refresh`] extends the snapshot from the files:
//! new frames at the end of the active segment, and segments the writer has
//! rolled to. A watcher thread calls it while anyone holds a watch receiver.
//!
//! The watcher sleeps on inotify events for the log directory, so another
//! process's appends wake it without polling; everything above it
//! (subscribers, the CLI) sleeps on the watch channel. A writable log never
//! runs it: its own appends publish directly.
//!
//! A reader process may see a record a moment before the writer has
//! fdatasynced it (it is in the page cache, not yet acknowledged); the same
//! holds for readers inside the writer's process (see the store layer).

use std::path::Path;
use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use super::error::LogError;
use super::naming::segment_path;
use super::recovery::{is_torn_creation, scan_active};
use super::segment::{IndexBuilder, Numbering, SealedSegment, index_frames, map_file};
use super::writer::ActiveSegment;
use super::{Inner, Log, SegmentSet, Tail};
use crate::storage::{OpenMode, Storage};

/// How long the watcher blocks on file events before it checks whether the
/// log was dropped. Data never waits on it: every append wakes it at once.
const SHUTDOWN_CHECK_INTERVAL_MS: u64 = 1000;

impl Log {
    /// Read-only logs: picks up the records the writing process appended
    /// since the open or the last refresh, wakes [`Log::watch`] receivers,
    /// and returns the new [`Log::next_offset`]. A writable log sees its own
    /// appends already, so for it this only returns the next offset.
    pub fn refresh(&self) -> Result<u64, LogError> {
        refresh(&self.inner)
    }
}

/// Starts the watcher of a read-only log; it ends when the log is dropped.
///
/// It sleeps on inotify events for the log directory (through `notify`),
/// drains a burst of them, and refreshes once: the writer's appends wake
/// it, nothing polls. If the directory does not exist yet, it watches the
/// parent until the log directory appears.
pub(crate) fn spawn_watcher(inner: Weak<Inner>) {
    let Some(log_dir) = inner.upgrade().map(|i| i.log_dir.clone()) else { return };
    let (events, arrivals) = std::sync::mpsc::channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = events.send(event.is_ok());
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "cannot watch the log directory: watch() will not see new records");
            return;
        }
    };
    let mut watching_log_dir = watch_dir(&mut watcher, &log_dir);
    let follow = move || {
        loop {
            match arrivals.recv_timeout(Duration::from_millis(SHUTDOWN_CHECK_INTERVAL_MS)) {
                Ok(_) => while arrivals.try_recv().is_ok() {},
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            }
            let Some(inner) = inner.upgrade() else { return };
            if !watching_log_dir {
                watching_log_dir = watch_dir(&mut watcher, &log_dir);
            }
            if inner.published_tx.receiver_count() > 0
                && let Err(error) = refresh(&inner)
            {
                tracing::warn!(%error, "cannot follow the writer's appends; retrying on the next change");
            }
        }
    };
    if let Err(error) = std::thread::Builder::new().name("recstore-tail".into()).spawn(follow) {
        tracing::warn!(%error, "cannot start the read-only log's watcher: watch() will not see new records");
    }
}

/// Watches `log_dir`, or its parent while it does not exist; says which.
fn watch_dir(watcher: &mut notify::RecommendedWatcher, log_dir: &Path) -> bool {
    use notify::{RecursiveMode, Watcher};
    if watcher.watch(log_dir, RecursiveMode::NonRecursive).is_ok() {
        return true;
    }
    if let Some(parent) = log_dir.parent().filter(|p| p.exists()) {
        let _ = watcher.watch(parent, RecursiveMode::NonRecursive);
    }
    false
}

fn refresh(inner: &Inner) -> Result<u64, LogError> {
    let current = inner.segments.read().unwrap_or_else(PoisonError::into_inner).clone();
    if !inner.options.read_only {
        return Ok(current.published.next_offset);
    }
    // A read-only log has no writer, so its slot serializes refreshes.
    let _refreshing = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
    let current = inner.segments.read().unwrap_or_else(PoisonError::into_inner).clone();
    let storage = &*inner.options.storage;
    let bases = super::open::list_segments(storage, &inner.log_dir)?;
    let Some(&newest) = bases.last() else { return Ok(current.published.next_offset) };
    // An open of a missing or empty log reads from a placeholder with no bytes.
    let placeholder = current.published.active_len_bytes == 0;
    let next = if newest == current.active.base_offset && !placeholder {
        extend_active(storage, &current)?
    } else {
        roll_forward(storage, &inner.log_dir, &current, &bases, placeholder)?
    };
    let Some(next) = next else { return Ok(current.published.next_offset) };
    let next_offset = next.published.next_offset;
    *inner.segments.write().unwrap_or_else(PoisonError::into_inner) = next;
    inner.published_tx.send_replace(next_offset);
    Ok(next_offset)
}

/// New frames at the end of the active segment, if any. A frame that does
/// not check out yet is one the writer is still writing: it and everything
/// after it wait for the next refresh.
fn extend_active(storage: &dyn Storage, current: &SegmentSet) -> Result<Option<SegmentSet>, LogError> {
    let active = &current.active;
    let published = current.published;
    let len_bytes = active.file.len_bytes().map_err(LogError::io(&active.path, "stat", 0))?;
    if len_bytes <= published.active_len_bytes {
        return Ok(None);
    }
    let map = map_file(storage, &active.path)?;
    let start = usize::try_from(published.active_len_bytes).unwrap_or(usize::MAX);
    // Seeded with the last entry so that the index keeps its spacing rather
    // than gaining an entry on every refresh.
    let last_entry = active.index.read().unwrap_or_else(PoisonError::into_inner).last().copied();
    let mut index = IndexBuilder { entries: last_entry.into_iter().collect(), ..IndexBuilder::default() };
    let walk = index_frames(&active.path, &map, start, published.next_offset, Numbering::Dense, &mut index)?;
    let (end, expected) = (walk.end, walk.next_offset);
    if expected == published.next_offset {
        return Ok(None);
    }
    let new_entries = index.entries.iter().skip(usize::from(last_entry.is_some()));
    active.index.write().unwrap_or_else(PoisonError::into_inner).extend(new_entries);
    let tail = Tail {
        next_offset: expected,
        segment_base: active.base_offset,
        active_len_bytes: end.end_position as u64,
        last_timestamp_us: index.last_timestamp_us,
    };
    Ok(Some(SegmentSet { sealed: current.sealed.clone(), active: Arc::clone(active), published: tail }))
}

/// The writer rolled (or created the first segment): everything before the
/// newest segment is sealed now, and the newest is the active one.
fn roll_forward(
    storage: &dyn Storage,
    log_dir: &Path,
    current: &SegmentSet,
    bases: &[u64],
    placeholder: bool,
) -> Result<Option<SegmentSet>, LogError> {
    let Some((&newest, older)) = bases.split_last() else { return Ok(None) };
    let path = segment_path(log_dir, newest);
    let map = map_file(storage, &path)?;
    if is_torn_creation(&map) {
        // The writer is creating this segment right now; look again later.
        return Ok(None);
    }
    let scan = scan_active(&path, &map, newest, true)?;
    drop(map);
    let mut sealed = current.sealed.clone();
    let first_new_base = if placeholder { 0 } else { current.active.base_offset };
    for &base in older.iter().filter(|&&base| base >= first_new_base) {
        let segment_path = segment_path(log_dir, base);
        sealed.push(Arc::new(SealedSegment::open(storage, log_dir, segment_path, base, false)?));
    }
    let previous_timestamp_us = sealed.last().map_or(0, |s| s.index.last_timestamp_us);
    let file = storage.open(&path, OpenMode::Read).map_err(LogError::io(&path, "open", 0))?;
    let active = Arc::new(ActiveSegment::new(newest, path, file, scan.index.entries, 0));
    let tail = Tail {
        next_offset: scan.next_offset,
        segment_base: newest,
        active_len_bytes: scan.valid_len_bytes,
        last_timestamp_us: scan.last_timestamp_us.max(previous_timestamp_us),
    };
    Ok(Some(SegmentSet { sealed, active, published: tail }))
}
