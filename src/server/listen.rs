//! Accepting connections and closing idle ones.
//!
//! Owns the accept loop and each connection's lifetime, which it counts in
//! `recstore_http_open_connections`; requests go to the router, and nothing
//! here touches the store. axum's `serve` gives hyper no
//! timer, so a client that opens a connection and never sends a request, or
//! goes quiet between keep-alive requests, would hold a socket and a task
//! for ever. Here hyper's header-read timeout closes a connection that has
//! not sent a complete request header within the idle timeout, which covers
//! both cases and never cuts a response that is still streaming (a live log
//! follow). On shutdown the listener closes at once and every connection
//! may finish its in-flight request within the grace; whatever is still
//! open then (a follower that does not read, a body that never comes) is
//! abandoned, so shutdown always ends. hyper's limits on a request head
//! are set above the server's own (`head_limits.rs`), and its automatic
//! answers get the JSON error body (`wire_errors.rs`).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;

use super::wire_errors::JsonErrorBodies;
use crate::limits::{HTTP_PARSER_BUFFER_SIZE_BYTES_MAX, HTTP_PARSER_HEADER_COUNT_MAX};

/// Pause after a failed accept (e.g. out of file descriptors), so the loop
/// does not spin while the condition lasts.
const ACCEPT_RETRY_MS: u64 = 100;

/// One accepted connection counted in `recstore_http_open_connections`
/// until it is dropped, whichever way the connection ends.
struct Counted(Gauge);

impl Counted {
    fn new(open_connections: &Gauge) -> Self {
        open_connections.inc();
        Self(open_connections.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Serves `app` on `listener` until `stop` completes, then waits up to
/// `grace` for the open connections to finish their requests. Each
/// connection counts in `open_connections` from accept to close.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    idle_timeout: Duration,
    grace: Duration,
    open_connections: Gauge,
    stop: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .max_headers(HTTP_PARSER_HEADER_COUNT_MAX)
        .max_buf_size(HTTP_PARSER_BUFFER_SIZE_BYTES_MAX);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                continue;
            }
        };
        let stream = TokioIo::new(JsonErrorBodies::new(stream));
        let connection = builder.serve_connection(stream, TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        let counted = Counted::new(&open_connections);
        tokio::spawn(async move {
            let _counted = counted;
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    // New connections are refused from here on, not left in the backlog.
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace_ms = grace.as_millis() as u64, "shutdown grace over: closing the connections still open");
    }
}
