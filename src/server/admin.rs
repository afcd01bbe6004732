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

#[utoipa::path(
    get, path = "/healthz", tag = "admin", security(()),
    responses(
        (status = 200, description = "The server runs and accepts writes", body = super::openapi_schemas::Health),
        (status = 503, description = "Writes are refused after a failed write (kind `unavailable`, with the cause)", body = super::error::ErrorBody),
    ),
)]
/// `GET /healthz`: 200 while the server runs and accepts writes (no token
/// needed); 503 with kind `unavailable` and the cause while writes are
/// refused after a failed write, until the log recovers (`write_recovery.rs`).
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.log().write_failure() {
        None => Json(serde_json::json!({"status": "ok"})).into_response(),
        Some(cause) => super::write_recovery::refused(&cause).into_response(),
    }
}

#[utoipa::path(
    get, path = "/v1/stats", tag = "admin",
    params(
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "Counts kept by the views and the log", body = crate::StoreStats),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "An `@OFFSET` the log no longer holds (compacted away)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/stats`.
pub async fn stats(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["as_of"])?;
    let as_of = params.as_of()?;
    let stats = blocking(&state, move |store| Ok(store.at_or_latest(as_of)?.stats())).await?;
    Ok(Json(stats).into_response())
}

/// The body of `POST /v1/admin/compact`; every field optional.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CompactBody {
    /// Keep at most this many versions of each item (default 5).
    #[schema(minimum = 1, maximum = 4_294_967_295_u32)]
    max_versions: Option<u32>,
    // Wider than the policy takes, so that a value above the maximum is
    // refused with a message naming it rather than serde's "expected u32".
    /// Drop history that ended more than this many days ago (default 30).
    #[schema(maximum = 36_500)]
    retention_days: Option<u64>,
    /// Drop history that ended before this point instead: `@OFFSET` or an RFC 3339 time.
    #[schema(value_type = Option<super::openapi_schemas::When>)]
    before: Option<String>,
    /// Also drop the current version of items stored before the cutoff.
    #[serde(default)]
    expire: bool,
    /// Leave no audit stubs: dropped records disappear from the log.
    #[serde(default)]
    purge: bool,
    /// Only say what would be dropped.
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(
    post, path = "/v1/admin/compact", tag = "admin",
    request_body(content = CompactBody, content_type = "application/json",
        description = "Every field optional; an empty body is the defaults"),
    responses(
        (status = 200, description = "The report; with `dry_run`, what would be dropped", body = super::openapi::CompactAnswer),
        (status = 400, description = "A bad body, or a query parameter (options go in the body)", body = super::error::ErrorBody),
        (status = 404, description = "An `@OFFSET` the log no longer holds (compacted away)", body = super::error::ErrorBody),
        (status = 415, description = "A body that is not `application/json`", body = super::error::ErrorBody),
    ),
)]
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
