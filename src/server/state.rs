//! What every handler shares: the store, the token, counters, and the
//! shutdown signal that ends live streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Store;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store this process owns.
    pub store: Arc<Store>,
    /// The bearer token, when one is required; replaced on SIGHUP.
    pub token: super::auth::TokenCell,
    /// Request counters for `/metrics`.
    pub counters: Arc<Counters>,
    /// The `/metrics` registry.
    pub metrics: Arc<super::metrics::Metrics>,
    /// Flips to true when the server shuts down; live streams end on it.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The `Origin` and `Host` values requests may carry.
    pub allowed: Arc<super::guard::Allowed>,
}

/// Counters the server keeps (the log keeps its own).
#[derive(Debug, Default)]
pub struct Counters {
    /// Item versions written through the API.
    pub items_written: AtomicU64,
    /// Queries and searches answered.
    pub queries: AtomicU64,
    /// Log streams open now.
    pub open_followers: AtomicU64,
    /// Compactions that finished.
    pub compactions: AtomicU64,
    /// Compactions that failed.
    pub compaction_failures: AtomicU64,
    /// Time spent in finished compactions.
    pub compaction_duration_us: AtomicU64,
    /// Disk bytes finished compactions gave back.
    pub compaction_reclaimed_bytes: AtomicU64,
    /// Records finished compactions dropped.
    pub compaction_records_dropped: AtomicU64,
}

impl Counters {
    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    /// Counts a compaction's outcome, whoever ran it.
    pub fn record_compaction(&self, result: Result<&crate::compaction::CompactionReport, &crate::Error>) {
        match result {
            Ok(report) => {
                Self::add(&self.compactions, 1);
                Self::add(&self.compaction_duration_us, report.duration_us);
                Self::add(&self.compaction_reclaimed_bytes, report.bytes_reclaimed());
                Self::add(&self.compaction_records_dropped, report.records_dropped.total());
            }
            Err(_) => Self::add(&self.compaction_failures, 1),
        }
    }
}

/// Runs blocking store work off the async threads: every store call may
/// wait for an fdatasync or a page fault.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Store) -> crate::Result<T> + Send + 'static,
) -> Result<T, super::error::ApiError> {
    let store = Arc::clone(&state.store);
    let log_store = Arc::clone(&store);
    match tokio::task::spawn_blocking(move || work(&store)).await {
        Ok(result) => result.map_err(|error| super::write_recovery::api_error(&log_store, error)),
        Err(error) => {
            Err(super::error::ApiError::new(crate::error::ErrorKind::Internal, format!("request task failed: {error}")))
        }
    }
}
