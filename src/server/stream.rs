//! The log over HTTP: NDJSON event streams and consumer groups (commits,
//! positions, resets, deletions).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::guard;
use super::params::{Params, PathParam, json_body};
use super::state::{AppState, blocking};
use super::streaming::{list_limit, log_page, to_line};
use crate::LogEvent;
use crate::json_object::ObjectOnly;

#[utoipa::path(
    get, path = "/v1/log", tag = "log",
    params(
        ("from" = Option<u64>, Query, description = "The first offset (default 0; not with `group`)"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000000, description = "At most this many events (default 10,000; not with `follow`)"),
        ("follow" = Option<super::openapi_schemas::Flag>, Query, description = "Stay open and send new records as they are written"),
        ("group" = Option<super::openapi_schemas::Name>, Query, description = "Resume at this consumer group's committed offset, leaving out its own commits"),
    ),
    responses(
        (status = 200, description = "NDJSON: one event per line, oldest first", body = Vec<crate::LogEvent>, content_type = "application/x-ndjson"),
        (status = 400, description = "A bad parameter, or `from` past the end of the log", body = super::error::ErrorBody),
        (status = 404, description = "`from` below the first offset the log still holds (kind `pruned`)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/log?from=OFFSET&limit=N&follow=true&group=G`: NDJSON events. With
/// `follow`, the stream stays open and delivers new records as they are written.
pub async fn get_log(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["from", "limit", "follow", "group"])?;
    let group = params.single("group")?.map(str::to_string);
    if let Some(group) = &group {
        crate::store::validate_name("consumer group", group)?;
    }
    let from = match (params.number::<u64>("from")?, &group) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("from and group exclude each other: a group resumes at its commit"));
        }
        (Some(from), None) => from,
        (None, Some(group)) => state.store.consumer_offset(group).unwrap_or(0),
        (None, None) => 0,
    };
    state.store.check_log_start(from)?;
    // As on the command line, a group does not see its own commits.
    let shown = move |event: &LogEvent| !event.is_commit_of(group.as_deref());
    if !params.flag("follow")? {
        let limit = list_limit(&params)?;
        return Ok(ndjson(log_page(Arc::clone(&state.store), from, limit, shown).await?));
    }
    let events = state.store.subscribe(from).filter(move |event| {
        let keep = event.as_ref().map_or(true, &shown);
        std::future::ready(keep)
    });
    let counters = state.counters.clone();
    counters.open_followers.fetch_add(1, Ordering::Relaxed);
    let guard = FollowerGuard(counters);
    let mut shutdown = state.shutdown.clone();
    let until_shutdown = async move {
        let _ = shutdown.wait_for(|&stopping| stopping).await;
    };
    let lines = events.take_until(until_shutdown).map(move |event| {
        let _keep_counted = &guard;
        match event {
            Ok(event) => to_line(&event).ok_or_else(|| std::io::Error::other("event does not serialise")),
            Err(error) => Err(std::io::Error::other(error.to_string())),
        }
    });
    Ok(ndjson(Body::from_stream(lines)))
}

/// Counts an open follow stream for as long as it lives.
struct FollowerGuard(std::sync::Arc<super::state::Counters>);

impl Drop for FollowerGuard {
    fn drop(&mut self) {
        self.0.open_followers.fetch_sub(1, Ordering::Relaxed);
    }
}

fn ndjson(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

/// The body of a commit.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CommitBody {
    /// The next offset the group will read.
    offset: u64,
}

#[utoipa::path(
    post, path = "/v1/consumers/{group}/commit", tag = "consumers",
    params(("group" = super::openapi_schemas::Name, Path, description = "The consumer group's name")),
    request_body(content = CommitBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Durable: the group resumes here", body = super::openapi_schemas::CommitAnswer),
        (status = 400, description = "A bad body or name, or an offset past the end of the log", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
    ),
)]
/// `POST /v1/consumers/{group}/commit` with `{"offset": N}`: the next offset
/// the group will read. Durable before it returns.
pub async fn commit(
    State(state): State<AppState>,
    PathParam(group): PathParam,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    guard::require_json(&headers, false)?;
    let ObjectOnly(CommitBody { offset }) = json_body(body)?;
    let name = group.clone();
    let record_offset = blocking(&state, move |store| store.commit_consumer(&name, offset)).await?;
    Ok(Json(serde_json::json!({"group": group, "offset": offset, "record_offset": record_offset})).into_response())
}

/// The body of a reset: where the group goes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetBody {
    /// `@OFFSET` or an RFC 3339 time.
    #[schema(value_type = super::openapi_schemas::When)]
    to: String,
}

#[utoipa::path(
    post, path = "/v1/consumers/{group}/reset", tag = "consumers",
    params(("group" = super::openapi_schemas::Name, Path, description = "The consumer group's name")),
    request_body(content = ResetBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Moved: the group's new position", body = super::openapi_schemas::GroupPosition),
        (status = 400, description = "A bad body or name, or a point past the end of the log", body = super::error::ErrorBody),
        (status = 404, description = "The point is below what the log still holds (kind `pruned`)", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
    ),
)]
/// `POST /v1/consumers/{group}/reset` with `{"to": "@N"}` or `{"to":
/// "RFC3339"}`: moves the group (see `Store::reset_consumer`) and answers
/// `{"group", "offset", "lag"}`.
pub async fn reset(
    State(state): State<AppState>,
    PathParam(group): PathParam,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    guard::require_json(&headers, false)?;
    let ObjectOnly(ResetBody { to }) = json_body(body)?;
    let to: crate::timetravel::AsOf = to.parse()?;
    let answer = blocking(&state, move |store| {
        store.reset_consumer(&group, to)?;
        Ok(group_json(store, &group))
    })
    .await?;
    Ok(Json(answer).into_response())
}

#[utoipa::path(
    get, path = "/v1/consumers", tag = "consumers",
    responses(
        (status = 200, description = "Every group with its committed offset and lag, by name: a JSON array, or \
                                      NDJSON with `Accept: application/x-ndjson`",
            content((Vec<crate::store::ConsumerGroup> = "application/json"), (Vec<crate::store::ConsumerGroup> = "application/x-ndjson"))),
        (status = 400, description = "A query parameter (this route takes none)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/consumers`: every group with its committed offset and lag, by
/// name (a JSON array, or NDJSON with `Accept: application/x-ndjson`).
pub async fn list_consumers(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(raw).only(&[])?;
    let groups = blocking(&state, |store| Ok(store.consumer_groups())).await?;
    Ok(super::streaming::list_response(&headers, groups))
}

#[utoipa::path(
    get, path = "/v1/consumers/{group}", tag = "consumers",
    params(("group" = super::openapi_schemas::Name, Path, description = "The consumer group's name")),
    responses(
        (status = 200, description = "The group's position (offset null if it never committed)", body = super::openapi_schemas::GroupPosition),
        (status = 400, description = "A bad name", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/consumers/{group}`: its committed offset (null if it never
/// committed) and its lag, counted from offset 0 for a new group.
pub async fn get_consumer(State(state): State<AppState>, PathParam(group): PathParam) -> ApiResult<Response> {
    crate::store::validate_name("consumer group", &group)?;
    Ok(Json(group_json(&state.store, &group)).into_response())
}

#[utoipa::path(
    delete, path = "/v1/consumers/{group}", tag = "consumers",
    params(("group" = super::openapi_schemas::Name, Path, description = "The consumer group's name")),
    responses(
        (status = 200, description = "Deleted: the group has no committed offset from here on", body = super::openapi_schemas::DeleteAnswer),
        (status = 400, description = "A bad name", body = super::error::ErrorBody),
        (status = 404, description = "No group of this name has a committed offset (kind `not_found`)", body = super::error::ErrorBody),
    ),
)]
/// `DELETE /v1/consumers/{group}`: deletes the group (`Store::delete_consumer`)
/// and answers `{"group", "deleted": true, "offset"}`, the offset of the
/// record that says so; 404 for a group with no committed offset.
pub async fn delete_consumer(State(state): State<AppState>, PathParam(group): PathParam) -> ApiResult<Response> {
    let name = group.clone();
    let offset = blocking(&state, move |store| store.delete_consumer(&name)).await?;
    Ok(Json(serde_json::json!({"group": group, "deleted": true, "offset": offset})).into_response())
}

/// `{"group", "offset", "lag"}` of one group: its committed offset (null if
/// it never committed) and its lag, counted from offset 0 for a new group.
fn group_json(store: &crate::Store, group: &str) -> serde_json::Value {
    let offset = store.consumer_offset(group);
    let lag = store.log().next_offset().saturating_sub(offset.unwrap_or(0));
    serde_json::json!({"group": group, "offset": offset, "lag": lag})
}
