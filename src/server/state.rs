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
    /// Compactions run.
    pub compactions: AtomicU64,
}

impl Counters {
    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}

/// Runs blocking store work off the async threads: every store call may
/// wait for an fdatasync or a page fault.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Store) -> crate::Result<T> + Send + 'static,
) -> Result<T, super::error::ApiError> {
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || work(&store)).await {
        Ok(result) => result.map_err(Into::into),
        Err(error) => {
            Err(super::error::ApiError::new(crate::error::ErrorKind::Internal, format!("request task failed: {error}")))
        }
    }
}
