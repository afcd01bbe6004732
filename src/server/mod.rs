//! The HTTP server: the store over HTTP/JSON, built on axum.
//!
//! Owns routing, request parsing, authentication, limits and the mapping of
//! errors to statuses (in `error.rs`, one place). It holds no state of its
//! own beyond counters: every handler calls the same library API as the
//! CLI, off the async threads. One process owns the store; on SIGINT or
//! SIGTERM it stops accepting, ends live streams, lets in-flight requests
//! finish within the shutdown grace and cuts the rest, fsyncs, writes a
//! checkpoint, and returns; a second signal exits at once. Requests with a
//! foreign `Origin` or `Host` are refused before any route (`guard.rs`),
//! and a request head over the limits before that (`head_limits.rs`).

mod admin;
mod auth;
mod datasets;
mod error;
mod fuzz_entry;
mod guard;
mod head_limits;
mod items;
mod listen;
mod metrics;
mod openapi;
mod openapi_schemas;
mod params;
mod state;
mod stream;
mod streaming;
mod timeout;
mod upload;
mod wire_errors;
mod write_recovery;

pub use error::ApiError;
pub(crate) use fuzz_entry::{fuzz_body, fuzz_query};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::{Error, ErrorKind, Result};
use crate::limits::HTTP_BODY_SIZE_BYTES_MAX;
use crate::{Store, StoreOptions};
pub use guard::Allowed;
use state::{AppState, Counters};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// File holding the bearer tokens, one a line, any of which a request
    /// may present; without it, only loopback addresses are allowed.
    pub token_file: Option<PathBuf>,
    /// Store options.
    pub store: StoreOptions,
    /// A connection that sends no complete request header for this long is
    /// closed, whether it never sent one or went quiet between requests.
    pub idle_timeout_ms: u64,
    /// Compact in the background this often, with the policy of the store
    /// options (`max_versions`, `retention_days`); `None`: only on request.
    pub compact_interval_ms: Option<u64>,
    /// After SIGINT or SIGTERM, how long in-flight requests and streams may
    /// go on before they are cut and the server exits.
    pub shutdown_grace_ms: u64,
    /// Origins a browser page may call from, exactly as sent in `Origin`
    /// (`https://app.example`); every other `Origin` is refused with 403.
    pub allow_origins: Vec<String>,
    /// Host names a request may name in `Host` besides loopback names and
    /// the listen address; any other is refused with 403.
    pub allow_hosts: Vec<String>,
}

/// Runs the server until SIGINT or SIGTERM, then shuts down cleanly.
/// Prints `recstore listening on http://ADDR` on stdout once it accepts.
pub fn run(config: ServeConfig) -> Result<()> {
    let token = load_token(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("recstore-http")
        .build()
        .map_err(|source| Error::Io { context: "starting the async runtime".into(), source })?;
    let result = runtime.block_on(serve(config, token));
    // A request still running past the grace (a compaction, say) must not
    // hold the process: the log is synced and checkpointed already.
    runtime.shutdown_background();
    result
}

fn load_token(config: &ServeConfig) -> Result<Option<auth::Tokens>> {
    let Some(path) = &config.token_file else {
        if !config.listen.ip().is_loopback() {
            return Err(Error::invalid(format!(
                "refusing to listen on {} without --token-file: only loopback addresses may run without a token",
                config.listen
            )));
        }
        return Ok(None);
    };
    auth::read_token_file(path).map(Some)
}

/// On SIGHUP, reads the token file again and puts its tokens in force; a
/// file that no longer passes the checks is logged and the old tokens kept.
fn reload_token_on_hangup(path: PathBuf, cell: auth::TokenCell) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => return tracing::error!(%error, "cannot listen for SIGHUP: the token cannot be rotated"),
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match auth::read_token_file(&path) {
                Ok(tokens) => {
                    let token_count = tokens.len();
                    *cell.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokens);
                    tracing::info!(path = %path.display(), token_count, "SIGHUP: token file read again, its tokens in force");
                }
                Err(error) => tracing::error!(%error, "SIGHUP: keeping the tokens in force"),
            }
        }
    });
}

async fn serve(config: ServeConfig, token: Option<auth::Tokens>) -> Result<()> {
    let store = Arc::new(Store::open(&config.data_dir, config.store.clone())?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Io { context: format!("binding {}", config.listen), source })?;
    let address = listener.local_addr().map_err(|source| Error::Io { context: "local address".into(), source })?;
    let (shutdown_sender, shutdown) = tokio::sync::watch::channel(false);
    let allowed = Arc::new(Allowed {
        origins: config.allow_origins.clone(),
        hosts: config.allow_hosts.clone(),
        listen: Some(address),
    });
    let counters = Arc::new(Counters::default());
    let metrics = Arc::new(metrics::Metrics::new(Arc::clone(&store), Arc::clone(&counters)));
    let token: auth::TokenCell = Arc::new(std::sync::RwLock::new(token));
    if let Some(path) = &config.token_file {
        reload_token_on_hangup(path.clone(), Arc::clone(&token));
    }
    let state =
        AppState { store: Arc::clone(&store), token, counters: Arc::clone(&counters), metrics, shutdown, allowed };
    println!("recstore listening on http://{address}");
    tracing::info!(%address, data_dir = %config.data_dir.display(), "serving");
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let stop = async move {
        wait_for_signal().await;
        tracing::info!(grace_ms = config.shutdown_grace_ms, "shutting down: finishing in-flight requests");
        let _ = shutdown_sender.send(true);
        tokio::spawn(async {
            wait_for_signal().await;
            // Acknowledged writes are durable already: nothing is lost.
            tracing::warn!("second signal: exiting at once");
            std::process::exit(1);
        });
    };
    tokio::spawn(write_recovery::retry_while_refused(Arc::clone(&store), state.shutdown.clone()));
    let background_compaction = config.compact_interval_ms.map(|interval_ms| {
        let options = config.store.clone();
        let policy = move || options.retention_policy();
        let record = move |result: Result<&_, &_>| counters.record_compaction(result);
        store.spawn_background_compaction_observed(Duration::from_millis(interval_ms), policy, record)
    });
    let idle_timeout = Duration::from_millis(config.idle_timeout_ms);
    let open_connections = state.metrics.open_connections();
    listen::serve(listener, router(state), idle_timeout, grace, open_connections, stop).await;
    // Waits for a compaction in progress: it holds the store.
    drop(background_compaction);
    // A checkpoint only speeds up the next open; after a failed write the
    // log may refuse one, and the stop is clean all the same.
    match store.checkpoint() {
        Ok(()) => tracing::info!("clean shutdown: log synced, checkpoint written"),
        Err(error) => tracing::warn!(%error, "clean shutdown without a checkpoint; the next open replays the log"),
    }
    Ok(())
}

/// Responses smaller than this go uncompressed: compressing them saves
/// less than it costs.
const COMPRESS_SIZE_BYTES_MIN: u64 = 1024;

/// Every route. Live log streams and compaction are exempt from the
/// request timeout; compaction's body read is timed on its own.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/items", post(items::post_items))
        .route("/v1/items/{id}", put(items::put_item).get(items::get_item).delete(items::delete_item))
        .route("/v1/items/{id}/metadata", get(items::get_metadata))
        .route("/v1/items/{id}/history", get(items::get_history))
        .route("/v1/items/{id}/lineage", get(items::get_lineage))
        .route("/v1/query", get(items::get_query))
        .route("/v1/search", get(items::get_search))
        .route("/v1/datasets", get(datasets::list_datasets))
        .route("/v1/datasets/{name}", put(datasets::put_dataset).get(datasets::get_dataset))
        .route("/v1/consumers/{group}/commit", post(stream::commit))
        .route("/v1/consumers/{group}/reset", post(stream::reset))
        .route("/v1/consumers", get(stream::list_consumers))
        .route("/v1/consumers/{group}", get(stream::get_consumer).delete(stream::delete_consumer))
        .route("/v1/stats", get(admin::stats))
        .route("/metrics", get(metrics::metrics))
        .layer(from_fn(timeout::whole_request))
        // Large answers (queries, datasets, JSON items) go compressed to a
        // client that asks. Not the live log: a compressor holds back
        // what it has not filled a block with, and a tail must not wait.
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_SIZE_BYTES_MIN))),
        );
    Router::new()
        .merge(api)
        .route("/v1/log", get(stream::get_log))
        .route("/v1/admin/compact", post(admin::compact).layer(from_fn(timeout::body_read)))
        .route("/healthz", get(admin::healthz))
        .route("/v1/openapi.json", get(openapi::get_openapi))
        .fallback(|| async { ApiError::new(ErrorKind::NotFound, "no such route") })
        // After every route: it applies to the routes registered before it.
        .method_not_allowed_fallback(|method: Method| async move {
            let message = format!("this route does not take {method}");
            ApiError::new(ErrorKind::MethodNotAllowed, message)
        })
        .route_layer(from_fn(metrics::note_route))
        .layer(DefaultBodyLimit::max(HTTP_BODY_SIZE_BYTES_MAX))
        .layer(from_fn_with_state(state.clone(), auth::require_token))
        // Outside the token check: a browser's preflight carries no token.
        .layer(cors(&state.allowed.origins))
        .layer(from_fn_with_state(Arc::clone(&state.allowed), guard::refuse_foreign))
        // Before anything reads the head's fields.
        .layer(from_fn(head_limits::refuse_oversized))
        // Outermost: every request counts, refused ones too.
        .layer(from_fn_with_state(state.clone(), metrics::track_requests))
        .with_state(state)
}

/// CORS answers for the allowed origins only (the guard has refused the
/// others by the time this runs).
fn cors(origins: &[String]) -> CorsLayer {
    let origins = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([HeaderName::from_static("x-recstore-version"), HeaderName::from_static("x-recstore-offset")])
}

async fn wait_for_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
