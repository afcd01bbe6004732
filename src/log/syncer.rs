//! The log's background fdatasync threads: at most one per writable log.
//!
//! `SyncMode::Interval` has a thread that fdatasyncs what was written every
//! `interval_ms`. `SyncMode::Always` has a sync-ahead thread: when
//! [`Log::append_pending`](super::Log::append_pending) writes a large batch,
//! the thread starts its fdatasync at once, so that whatever the caller does
//! before [`Log::wait_durable`](super::Log::wait_durable) (the store applies
//! the batch to its views) overlaps with the disk. Either thread syncs
//! through the same group commit as any waiter (`writer::wait_durable`), so
//! one fdatasync runs at a time, a failure poisons the log and reaches every
//! waiter, and an append is acknowledged only once a completed fdatasync
//! covers it, whoever led that fdatasync.

use std::sync::{Arc, PoisonError, Weak, mpsc};
use std::time::Duration;

use super::writer::{lock, sync_all, wait_durable};
use super::{Inner, SyncMode};

/// A pending batch of at least this many records has its fdatasync started
/// ahead, on the sync-ahead thread.
pub(crate) const SYNC_AHEAD_RECORD_COUNT_MIN: usize = 128;
/// A pending batch whose frame has at least this many bytes has its
/// fdatasync started ahead. Below both thresholds the caller of
/// `wait_durable` syncs itself, as it always did: handing a tiny append to
/// another thread costs two context switches, more than the caller's own
/// work between append and wait could hide.
pub(crate) const SYNC_AHEAD_FRAME_SIZE_BYTES_MIN: u64 = 64 * 1024;

/// Whether a pending batch is large enough to start its fdatasync ahead.
pub(crate) fn wants_sync_ahead(mode: SyncMode, record_count: usize, frame_size_bytes: u64) -> bool {
    mode == SyncMode::Always
        && (record_count >= SYNC_AHEAD_RECORD_COUNT_MIN || frame_size_bytes >= SYNC_AHEAD_FRAME_SIZE_BYTES_MIN)
}

/// Requests to the sync-ahead thread; guarded by the commit lock, since
/// `append_pending` takes that lock anyway to record what it wrote.
#[derive(Debug, Default)]
pub(crate) struct SyncAheadRequests {
    /// A large batch was written since the thread last looked.
    pub requested: bool,
    /// The log is being dropped: the thread must return.
    pub stopping: bool,
}

/// A background sync thread, stopped and joined when the log drops.
pub(crate) enum Syncer {
    /// The `Interval` mode's thread.
    Interval {
        /// Dropping it wakes the thread and tells it to stop.
        stop: mpsc::Sender<()>,
        thread: std::thread::JoinHandle<()>,
    },
    /// The `Always` mode's sync-ahead thread.
    Ahead { inner: Arc<Inner>, thread: std::thread::JoinHandle<()> },
}

impl Syncer {
    /// Starts the thread the log's sync mode needs, if any. A log that
    /// cannot start it still keeps its promise: in `Always` mode the waiter
    /// syncs itself; in `Interval` mode appends are synced on close only.
    pub(crate) fn spawn(inner: &Arc<Inner>) -> Option<Self> {
        match inner.options.sync {
            SyncMode::Interval { interval_ms } => spawn_interval(Arc::downgrade(inner), interval_ms),
            // A read-only log never appends, so it has nothing to sync ahead.
            SyncMode::Always if !inner.options.read_only => spawn_ahead(inner.clone()),
            SyncMode::Always | SyncMode::Never => None,
        }
    }

    /// Stops the thread and waits for it. While it syncs, the thread holds
    /// the log alive, lock file included; `Log::drop` calls this first so
    /// that the directory can be reopened as soon as the drop returns.
    pub(crate) fn stop(self) {
        let thread = match self {
            Syncer::Interval { stop, thread } => {
                drop(stop);
                thread
            }
            Syncer::Ahead { inner, thread } => {
                lock(&inner.commit).sync_ahead.stopping = true;
                inner.sync_ahead_wanted.notify_all();
                thread
            }
        };
        if thread.join().is_err() {
            tracing::error!("a log sync thread panicked");
        }
    }
}

/// Runs the `Interval` sync mode: fdatasyncs what was written, every
/// `interval_ms`, until stopped.
fn spawn_interval(inner: Weak<Inner>, interval_ms: u64) -> Option<Syncer> {
    let (stop, stopped) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("recstore-log-sync".into()).spawn(move || {
        let interval = Duration::from_millis(interval_ms.max(1));
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
            let Some(inner) = inner.upgrade() else { return };
            if sync_all(&inner).is_err() {
                return;
            }
        }
    });
    match spawned {
        Ok(thread) => Some(Syncer::Interval { stop, thread }),
        Err(error) => {
            tracing::error!(%error, "could not start the interval sync thread; appends will sync on close only");
            None
        }
    }
}

fn spawn_ahead(inner: Arc<Inner>) -> Option<Syncer> {
    let thread_inner = inner.clone();
    let spawned =
        std::thread::Builder::new().name("recstore-log-sync-ahead".into()).spawn(move || run_ahead(&thread_inner));
    match spawned {
        Ok(thread) => Some(Syncer::Ahead { inner, thread }),
        Err(error) => {
            tracing::warn!(%error, "could not start the sync-ahead thread; waiters will sync themselves");
            None
        }
    }
}

/// The sync-ahead loop: on each request, makes everything written so far
/// durable, leading the group commit unless an fdatasync is already under
/// way, in which case it waits for that one and leads the next if needed.
fn run_ahead(inner: &Inner) {
    let mut commit = lock(&inner.commit);
    loop {
        if commit.sync_ahead.stopping {
            return;
        }
        if !commit.sync_ahead.requested {
            commit = inner.sync_ahead_wanted.wait(commit).unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        commit.sync_ahead.requested = false;
        let target_next_offset = commit.written.next_offset;
        drop(commit);
        // A failed fdatasync has already poisoned the log, which refuses
        // later writes and hands the error to every waiter, the batch's
        // own writer included; there is nothing left for this thread to do
        // with it.
        let _outcome = wait_durable(inner, target_next_offset);
        commit = lock(&inner.commit);
    }
}
