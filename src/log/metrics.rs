//! Counters the log keeps about itself, for `/metrics`: appends, bytes, and
//! a histogram of fdatasync latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the fdatasync latency buckets, in microseconds.
pub const FSYNC_BUCKETS_US: [u64; 12] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000];

/// Monotonic counters; read them with [`LogMetrics::snapshot`].
#[derive(Debug, Default)]
pub struct LogMetrics {
    appends: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    fsyncs: AtomicU64,
    fsync_sum_us: AtomicU64,
    fsync_buckets: [AtomicU64; FSYNC_BUCKETS_US.len() + 1],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogMetricsSnapshot {
    /// Batches appended.
    pub appends: u64,
    /// Records appended.
    pub records: u64,
    /// Frame bytes appended.
    pub bytes: u64,
    /// fdatasync calls.
    pub fsyncs: u64,
    /// Total fdatasync time, microseconds.
    pub fsync_sum_us: u64,
    /// fdatasyncs per bucket of [`FSYNC_BUCKETS_US`], the last one unbounded (not cumulative).
    pub fsync_buckets: Vec<u64>,
}

impl LogMetrics {
    pub(crate) fn record_append(&self, records: usize, bytes: usize) {
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_fsync(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = FSYNC_BUCKETS_US.iter().position(|&bound| micros <= bound).unwrap_or(FSYNC_BUCKETS_US.len());
        self.fsync_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> LogMetricsSnapshot {
        LogMetricsSnapshot {
            appends: self.appends.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            fsync_sum_us: self.fsync_sum_us.load(Ordering::Relaxed),
            fsync_buckets: self.fsync_buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
        }
    }
}
