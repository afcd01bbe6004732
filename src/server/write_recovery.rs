//! The server after a failed write: refused writes answer 503 with kind
//! `unavailable` and the cause, and the log is recovered in place (see
//! `Store::reopen_writes`) as soon as the disk lets it, without a restart.
//!
//! Owns the retry loop and the mapping of write failures to 503. Never
//! touches a read: reads keep their own statuses throughout.

use std::sync::Arc;
use std::time::Duration;

use super::error::ApiError;
use crate::error::ErrorKind;
use crate::{Error, Store};

/// How often the server tries to take writes again while they are refused.
const RETRY_INTERVAL_MS: u64 = 1000;

/// The 503 of a refused write, naming its cause.
pub(super) fn refused(cause: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        format!("writes are refused until the log recovers (retried every {RETRY_INTERVAL_MS} ms): {cause}"),
    )
}

/// `error` as the client sees it: a failure of the write itself (an I/O
/// error, or the refusal that follows one) is a 503 naming the cause, from
/// the first failure on; anything else keeps its status.
pub(super) fn api_error(store: &Store, error: Error) -> ApiError {
    let kind = error.kind();
    match store.log().write_failure() {
        Some(cause) if matches!(kind, ErrorKind::Io | ErrorKind::Unavailable) => {
            tracing::warn!(%error, "write refused");
            refused(&cause)
        }
        _ => error.into(),
    }
}

/// Tries [`Store::reopen_writes`] every second while writes are refused,
/// until the server shuts down.
pub(super) async fn retry_while_refused(store: Arc<Store>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(RETRY_INTERVAL_MS)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        if store.log().write_failure().is_none() {
            continue;
        }
        let store = Arc::clone(&store);
        let reopened = tokio::task::spawn_blocking(move || store.reopen_writes()).await;
        match reopened {
            Ok(Ok(())) => tracing::info!("writes accepted again"),
            Ok(Err(error)) => tracing::warn!(%error, "writes still refused"),
            Err(error) => tracing::error!(%error, "the write recovery task failed"),
        }
    }
}
