//! How to open a store: durability, segment size, checkpoints, compression,
//! retention defaults. Every field has a sensible default; the builder
//! methods read well at the call site.

use std::sync::Arc;

use crate::limits::{RECORD_SIZE_BYTES_DEFAULT, SEGMENT_SIZE_BYTES_DEFAULT};
use crate::log::{Clock, LogOptions, SyncMode};
use crate::records::codec;
use crate::records::retention::Policy;
use crate::storage::{FaultInjector, SharedStorage};

/// Options of [`crate::Store::open`].
///
/// ```
/// use recstore::{StoreOptions, SyncMode};
/// let options = StoreOptions::default().sync(SyncMode::Interval { interval_ms: 10 }).max_versions(3);
/// assert_eq!(options.max_versions, 3);
/// ```
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Durability of writes (default: fdatasync before every acknowledgement).
    pub sync: SyncMode,
    /// Size at which the active segment rolls (default 128 MiB).
    pub segment_size_bytes: u64,
    /// Write a checkpoint after this many records (0: only on close).
    pub checkpoint_interval_records: u64,
    /// Whether puts are written compressed (default: on): their metadata,
    /// and data of at least `compress_threshold_bytes`, as zstd frames
    /// wherever that makes them smaller (segments-format.md, "Put payload,
    /// codec 2"). Off writes puts as format version 2 did, uncompressed.
    /// Either way every older record reads as it was written.
    pub compression: bool,
    /// With compression on, shorter data is stored as it is (default 0).
    pub compress_threshold_bytes: usize,
    /// Largest data of one item version (default 64 MiB).
    pub record_size_bytes_max: u32,
    /// Retention default: versions kept per item (the old store's 5).
    pub max_versions: u32,
    /// Retention default: days of superseded history kept (the old store's 30).
    pub retention_days: u32,
    /// Open without the write lock, beside a running writer.
    pub read_only: bool,
    /// Test hook: fails chosen writes or fsyncs of the log.
    pub faults: Option<Arc<FaultInjector>>,
    /// Where writes read the time (default: the system clock). A write
    /// whose reading lies outside 1970..=9999 is refused.
    pub clock: Clock,
    /// Where the log and the checkpoints live (default: the disk). The
    /// search view needs the disk, and is not opened on another storage.
    pub storage: SharedStorage,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sync: SyncMode::Always,
            segment_size_bytes: SEGMENT_SIZE_BYTES_DEFAULT,
            checkpoint_interval_records: 1_000_000,
            compression: true,
            compress_threshold_bytes: 0,
            record_size_bytes_max: RECORD_SIZE_BYTES_DEFAULT,
            max_versions: 5,
            retention_days: 30,
            read_only: false,
            faults: None,
            clock: Clock::default(),
            storage: crate::storage::disk(),
        }
    }
}

impl StoreOptions {
    /// The configured defaults of compaction: `max_versions` and `retention_days`.
    pub fn retention_policy(&self) -> Policy {
        Policy::default().max_versions(Some(self.max_versions)).retention_days(self.retention_days)
    }

    /// Sets the sync mode.
    pub fn sync(mut self, sync: SyncMode) -> Self {
        self.sync = sync;
        self
    }

    /// Sets the clock writes read (tests use it to read any time).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the storage the log and checkpoints go through: the disk by
    /// default, or a [`MemoryStorage`](crate::storage::MemoryStorage) in tests.
    pub fn storage(mut self, storage: SharedStorage) -> Self {
        self.storage = storage;
        self
    }

    /// Sets the segment size.
    pub fn segment_size_bytes(mut self, bytes: u64) -> Self {
        self.segment_size_bytes = bytes;
        self
    }

    /// Sets how many records pass between checkpoints (0: only on close).
    pub fn checkpoint_interval_records(mut self, records: u64) -> Self {
        self.checkpoint_interval_records = records;
        self
    }

    /// Turns compression of new puts on or off.
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Sets the compression threshold.
    pub fn compress_threshold_bytes(mut self, bytes: usize) -> Self {
        self.compress_threshold_bytes = bytes;
        self
    }

    /// Sets the default number of versions kept per item.
    pub fn max_versions(mut self, versions: u32) -> Self {
        self.max_versions = versions;
        self
    }

    /// Sets the default retention in days.
    pub fn retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    /// Opens read-only.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    pub(crate) fn log_options(&self) -> LogOptions {
        LogOptions {
            segment_size_bytes: self.segment_size_bytes,
            sync: self.sync,
            // Room for the put header, id and metadata around the largest data.
            record_size_bytes_max: self.record_size_bytes_max.saturating_add(1024 * 1024),
            read_only: self.read_only,
            faults: self.faults.clone(),
            clock: self.clock.clone(),
            storage: self.storage.clone(),
            ..LogOptions::default()
        }
    }

    /// How new puts are encoded.
    pub(crate) fn put_encoding(&self) -> codec::PutEncoding {
        match self.compression {
            true => codec::PutEncoding::Zstd { data_threshold_bytes: self.compress_threshold_bytes },
            false => codec::PutEncoding::Plain,
        }
    }
}
