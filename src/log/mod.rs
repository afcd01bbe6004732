//! The append-only log, recstore's only source of truth.
//!
//! Owns the segment files under `<data_dir>/log/`, their derived sparse
//! indexes, the write lock, and the next offset. It knows nothing of what
//! records mean: items, views, search and subscribers are built on top and
//! can all be rebuilt from here. An append returns once its batch is as
//! durable as the [`SyncMode`] promises. The bytes are specified in
//! `segments-format.md`.

mod clock;
mod compact;
mod error;
pub(crate) mod frame;
mod index;
mod lock;
pub(crate) mod manifest;
mod metrics;
mod naming;
mod open;
mod reader;
pub(crate) mod recovery;
mod reopen;
mod restore;
mod segment;
mod syncer;
mod tail;
mod verify;
mod writer;

pub(crate) use clock::system_now_us;
pub use clock::{Clock, TIMESTAMP_US_MAX, format_timestamp};
pub(crate) use compact::DirGuard;
pub use compact::{CompactionPass, RecordAction, SegmentPlanner, SegmentRewrite};
pub use error::LogError;
pub use frame::{FLAG_COMPRESSED, FORMAT_VERSION, Record, RecordRef};
pub use metrics::{FSYNC_BUCKETS_US, LogMetrics, LogMetricsSnapshot};
pub use reader::LogIter;
pub use restore::CopyReport;
pub use verify::{PayloadCheck, Problem, ProblemKind, VerifyReport, verify, verify_in, verify_payloads};
pub use writer::{Appended, NewRecord};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::limits::{BATCH_SIZE_BYTES_DEFAULT, RECORD_SIZE_BYTES_DEFAULT, SEGMENT_SIZE_BYTES_DEFAULT};
use crate::storage::{FaultInjector, LockGuard, SharedStorage};
use segment::SealedSegment;
use writer::{ActiveSegment, CommitState, Writer};

/// When an append's bytes reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every append returns after fdatasync. Concurrent appends share one
    /// fdatasync (group commit). Nothing acknowledged is lost on power loss.
    #[default]
    Always,
    /// A background thread fdatasyncs at most every `interval_ms`; an append
    /// returns once written. Power loss can lose the last `interval_ms` of
    /// acknowledged appends; a process crash loses nothing.
    Interval {
        /// Milliseconds between fdatasyncs.
        interval_ms: u64,
    },
    /// Never fdatasync except when a segment is sealed. A process crash loses
    /// nothing; power loss can lose anything not yet written back by the OS.
    Never,
}

/// How to open a log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// The active segment rolls once it reaches this size.
    pub segment_size_bytes: u64,
    /// Durability of appends.
    pub sync: SyncMode,
    /// Largest payload of one record.
    pub record_size_bytes_max: u32,
    /// Largest encoded batch.
    pub batch_size_bytes_max: u32,
    /// Open without the write lock; never writes, never truncates.
    pub read_only: bool,
    /// Test hook: fails chosen writes or fsyncs.
    pub faults: Option<Arc<FaultInjector>>,
    /// Where record stamps and segment headers read the time.
    pub clock: Clock,
    /// Where the files live: the disk, or memory in tests.
    pub storage: SharedStorage,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            segment_size_bytes: SEGMENT_SIZE_BYTES_DEFAULT,
            sync: SyncMode::default(),
            record_size_bytes_max: RECORD_SIZE_BYTES_DEFAULT,
            batch_size_bytes_max: BATCH_SIZE_BYTES_DEFAULT,
            read_only: false,
            faults: None,
            clock: Clock::default(),
            storage: crate::storage::disk(),
        }
    }
}

/// The boundary of what readers may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Offset the next record will get; readers see offsets below it.
    pub next_offset: u64,
    /// Base offset of the segment `active_len_bytes` refers to.
    pub segment_base: u64,
    /// Bytes of that segment readers may look at.
    pub active_len_bytes: u64,
    /// Timestamp of the last record below `next_offset`.
    pub last_timestamp_us: u64,
}

/// The segments as readers see them: swapped as a whole under a lock.
#[derive(Debug, Clone)]
pub(crate) struct SegmentSet {
    pub sealed: Vec<Arc<SealedSegment>>,
    pub active: Arc<ActiveSegment>,
    pub published: Tail,
}

/// An open log. `Send + Sync`: appends and reads may come from any thread.
///
/// ```
/// use recstore::log::{Log, LogOptions, NewRecord};
/// let dir = tempfile::tempdir()?;
/// let log = Log::open(dir.path(), LogOptions::default())?;
/// let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: b"hello" }])?;
/// assert_eq!(log.read(appended.first_offset)?.payload, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Log {
    inner: Arc<Inner>,
    /// The sync mode's background thread, stopped when the log is dropped.
    syncer: Option<syncer::Syncer>,
}

pub(crate) struct Inner {
    pub log_dir: PathBuf,
    pub options: LogOptions,
    pub writer: Mutex<Option<Writer>>,
    pub segments: RwLock<SegmentSet>,
    pub commit: Mutex<CommitState>,
    pub commit_changed: Condvar,
    /// Wakes the sync-ahead thread; waited on with the commit lock.
    pub sync_ahead_wanted: Condvar,
    pub published_tx: tokio::sync::watch::Sender<u64>,
    pub failure: Mutex<Option<String>>,
    /// The segments the log consists of; see `manifest.rs`. Changed by
    /// rolls (under the writer lock) and compactions (one at a time).
    pub manifest: Mutex<manifest::Manifest>,
    pub metrics: LogMetrics,
    pub _lock: Option<LockGuard>,
}

impl Log {
    /// Opens (creating if needed and writable) the log in `log_dir`, recovering
    /// the active segment's tail. Fails with [`LogError::Locked`] if another
    /// process writes to it, and [`LogError::Corruption`] on damaged data.
    pub fn open(log_dir: &Path, options: LogOptions) -> Result<Self, LogError> {
        let inner = open::open_inner(log_dir, options)?;
        let inner = Arc::new(inner);
        let syncer = syncer::Syncer::spawn(&inner);
        if inner.options.read_only {
            // Without it a reader process would never see the writer's
            // appends after its open; see `tail.rs`.
            tail::spawn_watcher(Arc::downgrade(&inner));
        }
        Ok(Self { inner, syncer })
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.inner.log_dir
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &LogOptions {
        &self.inner.options
    }

    /// Appends one batch atomically: after a crash, all of it or none of it.
    pub fn append(&self, records: &[NewRecord<'_>]) -> Result<Appended, LogError> {
        writer::append(&self.inner, records)
    }

    /// Writes a batch like [`Log::append`] but returns before its fdatasync.
    /// The caller must pass `appended.last_offset + 1` to
    /// [`Log::wait_durable`] before it acknowledges the batch to anyone: this
    /// split lets a caller release its own lock before waiting, so that
    /// concurrent writers share one fdatasync.
    ///
    /// In [`SyncMode::Always`], a batch of at least 128 records or 64 KiB
    /// has its fdatasync started at once on a background thread, so that
    /// the caller's work before [`Log::wait_durable`] overlaps with the
    /// disk. If that fdatasync fails, the log is poisoned as by any failed
    /// fdatasync, and `wait_durable` returns [`LogError::Poisoned`] naming
    /// the failure.
    pub fn append_pending(&self, records: &[NewRecord<'_>]) -> Result<Appended, LogError> {
        writer::append_pending(&self.inner, records)
    }

    /// Like [`Log::append_pending`], stamping the batch `timestamp_us`
    /// (microseconds since the epoch) instead of now: imports that keep the
    /// times items had. Refused with [`LogError::TimestampBackwards`] if
    /// that is earlier than the last record's time.
    pub fn append_pending_stamped(&self, records: &[NewRecord<'_>], timestamp_us: u64) -> Result<Appended, LogError> {
        writer::append_pending_stamped(&self.inner, records, timestamp_us)
    }

    /// Blocks until offsets below `next_offset` are as durable as the sync
    /// mode promises (a no-op in `Interval` and `Never` modes).
    pub fn wait_durable(&self, next_offset: u64) -> Result<(), LogError> {
        writer::wait_durable_for_mode(&self.inner, next_offset)
    }

    /// Makes every append so far durable, whatever the sync mode.
    pub fn sync(&self) -> Result<(), LogError> {
        writer::sync_all(&self.inner)
    }

    /// Seals the active segment (if it holds any record) and starts a new one.
    pub fn roll(&self) -> Result<(), LogError> {
        writer::roll_now(&self.inner)
    }

    /// Compaction's log half: rewrites each sealed segment below `end_offset`
    /// in which the planner replaces or drops a record, keeping every
    /// surviving record's offset and timestamp, and tells the planner once
    /// the new file is in place. Readers and appends carry on meanwhile;
    /// neither lock is held for a rewrite. See `compact.rs` and
    /// segments-format.md ("Compaction").
    pub fn compact_sealed(
        &self,
        end_offset: u64,
        planner: &mut dyn SegmentPlanner,
    ) -> Result<CompactionPass, LogError> {
        compact::compact_sealed(&self.inner, end_offset, planner)
    }

    /// The offset the next record will get: readers see every offset below it.
    pub fn next_offset(&self) -> u64 {
        self.snapshot().published.next_offset
    }

    /// Timestamp of the newest readable record, 0 if the log is empty.
    pub fn last_timestamp_us(&self) -> u64 {
        self.snapshot().published.last_timestamp_us
    }

    /// The base offset of the oldest segment.
    pub fn first_offset(&self) -> u64 {
        let set = self.snapshot();
        set.sealed.first().map_or(set.active.base_offset, |s| s.base_offset)
    }

    /// Number of segment files, the active one included.
    pub fn segment_count(&self) -> usize {
        self.snapshot().sealed.len() + 1
    }

    /// Bytes of all segment files readers can see.
    pub fn size_bytes(&self) -> u64 {
        let set = self.snapshot();
        set.sealed.iter().map(|s| s.map.len() as u64).sum::<u64>() + set.published.active_len_bytes
    }

    /// A receiver that changes whenever new records become readable; its
    /// value is [`Log::next_offset`]. Streams wait on it instead of polling.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.published_tx.subscribe()
    }

    /// Append and fdatasync counters since open.
    pub fn metrics(&self) -> LogMetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    pub(crate) fn snapshot(&self) -> SegmentSet {
        self.inner.segments.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // First, because a sync in progress holds the log alive, lock file
        // included, past this drop: a reopen right after it would fail with
        // `LogError::Locked`.
        if let Some(syncer) = self.syncer.take() {
            syncer.stop();
        }
        if self.inner.options.read_only {
            return;
        }
        if let Err(error) = writer::sync_all(&self.inner) {
            tracing::error!(%error, "final fdatasync of the log failed");
        }
    }
}
