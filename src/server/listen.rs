//! Accepting connections and closing idle ones.
//!
//! Owns the accept loop and each connection's lifetime; requests go to the
//! router, and nothing here touches the store. axum's `serve` gives hyper no
//! timer, so a client that opens a connection and never sends a request, or
//! goes quiet between keep-alive requests, would hold a socket and a task
//! for ever. Here hyper's header-read timeout closes a connection that has
//! not sent a complete request header within the idle timeout, which covers
//! both cases and never cuts a response that is still streaming (a live log
//! follow). On shutdown every connection finishes its in-flight request and
//! then closes.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Pause after a failed accept (e.g. out of file descriptors), so the loop
/// does not spin while the condition lasts.
const ACCEPT_RETRY_MS: u64 = 100;

/// Serves `app` on `listener` until `stop` completes, then waits for the
/// open connections to finish their requests.
pub(super) async fn serve(listener: TcpListener, app: Router, idle_timeout: Duration, stop: impl Future<Output = ()>) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(idle_timeout);
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
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    graceful.shutdown().await;
}
