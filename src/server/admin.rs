//! Health, stats and Prometheus metrics.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::guard;
use super::params::{Params, json_body};
use super::state::{AppState, Counters, blocking};
use crate::compaction::Policy;
use crate::log::FSYNC_BUCKETS_US;

/// `GET /healthz`: 200 while the server runs (no token needed).
pub async fn healthz() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// `GET /v1/stats`.
pub async fn stats(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["as_of"])?;
    let as_of = params.as_of()?;
    let stats = blocking(&state, move |store| Ok(store.at_or_latest(as_of)?.stats())).await?;
    Ok(Json(stats).into_response())
}

/// The body of `POST /v1/admin/compact`; every field optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactBody {
    max_versions: Option<u32>,
    retention_days: Option<u32>,
    before: Option<String>,
    #[serde(default)]
    expire: bool,
    #[serde(default)]
    purge: bool,
    /// Only say what would be dropped.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /v1/admin/compact`: runs a compaction (defaults: 5 versions, 30
/// days) and returns its report. Writers keep working meanwhile. With
/// `"dry_run": true` it returns what would be dropped and changes nothing.
/// Options come only in the body: a query parameter such as `?dry_run=true`
/// is refused rather than ignored, since ignoring it would compact for real.
pub async fn compact(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    if let Some(key) = Params::parse(raw).keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {key:?}: compaction takes its options as a JSON body, e.g. {{\"dry_run\": true}}"
        )));
    }
    guard::require_json(&headers, body.as_ref().is_ok_and(Bytes::is_empty))?;
    let body: CompactBody = match &body {
        Ok(bytes) if bytes.is_empty() => CompactBody::default(),
        _ => json_body(body)?,
    };
    if body.before.is_some() && body.retention_days.is_some() {
        return Err(ApiError::bad_request("retention_days and before both set the cutoff: give one"));
    }
    let mut policy = Policy::default().expire(body.expire).purge(body.purge);
    if let Some(days) = body.retention_days {
        policy = policy.retention_days(days);
    }
    let before = body.before.as_deref().map(str::parse::<crate::timetravel::AsOf>).transpose()?;
    if let Some(versions) = body.max_versions {
        policy = policy.max_versions(Some(versions));
    }
    // `before` as `@OFFSET` is the time of that record, as on the command line.
    let resolved = move |store: &crate::Store| -> crate::Result<Policy> {
        let policy = match before {
            Some(before) => policy.cutoff_us(Some(store.timestamp_of(before)?)),
            None => policy,
        };
        policy.validate().map_err(crate::Error::invalid)?;
        Ok(policy)
    };
    if body.dry_run {
        let preview = blocking(&state, move |store| store.compaction_preview(resolved(store)?)).await?;
        return Ok(Json(preview).into_response());
    }
    let report = blocking(&state, move |store| store.compact(resolved(store)?)).await?;
    Counters::add(&state.counters.compactions, 1);
    Ok(Json(report).into_response())
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let log = state.store.log().metrics();
    let counters = &state.counters;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP recstore_{name} {help}\n# TYPE recstore_{name} {kind}\nrecstore_{name} {value}");
    };
    metric("log_appends_total", "counter", "Batches appended to the log.", log.appends);
    metric("log_records_total", "counter", "Records appended to the log.", log.records);
    metric("log_bytes_total", "counter", "Frame bytes appended to the log.", log.bytes);
    metric(
        "items_written_total",
        "counter",
        "Item versions written through the API.",
        counters.items_written.load(Ordering::Relaxed),
    );
    metric("queries_total", "counter", "Queries answered.", counters.queries.load(Ordering::Relaxed));
    metric("open_followers", "gauge", "Log streams open now.", counters.open_followers.load(Ordering::Relaxed));
    metric("compactions_total", "counter", "Compactions run.", counters.compactions.load(Ordering::Relaxed));
    metric("log_next_offset", "gauge", "Offset the next record will get.", state.store.log().next_offset());
    let _ = writeln!(out, "# HELP recstore_fsync_seconds fdatasync latency.\n# TYPE recstore_fsync_seconds histogram");
    let mut cumulative = 0;
    for (bound_us, count) in FSYNC_BUCKETS_US.iter().zip(&log.fsync_buckets) {
        cumulative += count;
        let _ = writeln!(out, "recstore_fsync_seconds_bucket{{le=\"{}\"}} {cumulative}", *bound_us as f64 / 1e6);
    }
    let _ = writeln!(out, "recstore_fsync_seconds_bucket{{le=\"+Inf\"}} {}", log.fsyncs);
    let _ = writeln!(out, "recstore_fsync_seconds_sum {}", log.fsync_sum_us as f64 / 1e6);
    let _ = writeln!(out, "recstore_fsync_seconds_count {}", log.fsyncs);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
