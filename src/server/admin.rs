//! Health, stats and compaction on demand.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::guard;
use super::params::{Params, json_body};
use super::state::{AppState, blocking};
use crate::compaction::Policy;

/// `GET /healthz`: 200 while the server runs and accepts writes (no token
/// needed); 503 with kind `unavailable` and the cause while writes are
/// refused after a failed write, until the log recovers (`write_recovery.rs`).
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.log().write_failure() {
        None => Json(serde_json::json!({"status": "ok"})).into_response(),
        Some(cause) => super::write_recovery::refused(&cause).into_response(),
    }
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
    /// Wider than the policy takes, so that a value above the maximum is
    /// refused with a message naming it rather than serde's "expected u32".
    retention_days: Option<u64>,
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
        let days = crate::records::retention::check_retention_days(days).map_err(ApiError::bad_request)?;
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
    let result = blocking(&state, move |store| store.compact(resolved(store)?)).await;
    let report = result?;
    state.counters.record_compaction(Ok(&report));
    Ok(Json(report).into_response())
}
