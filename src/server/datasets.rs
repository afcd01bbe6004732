//! Dataset routes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiResult;
use super::guard;
use super::items::ItemBody;
use super::params::{Params, PathParam, json_body};
use super::state::{AppState, blocking};
use super::streaming::{list_response, object_with_streamed_array, paged_chunks};
use crate::json_object::ObjectOnly;
use crate::store::dataset_object;
use crate::{NewItem, Store};

/// The body of `PUT /v1/datasets/{name}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DatasetBody {
    /// The members, stored with the dataset in one atomic batch.
    #[schema(value_type = Vec<ItemBody>)]
    items: Vec<ObjectOnly<ItemBody>>,
    /// A free-form description.
    #[serde(default)]
    info: serde_json::Value,
}

/// The dataset body parse, for the `http_body` fuzz target.
pub(crate) fn fuzz_dataset_body(bytes: &[u8]) -> bool {
    serde_json::from_slice::<ObjectOnly<DatasetBody>>(bytes).is_ok()
}

#[utoipa::path(
    put, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = super::openapi_schemas::Name, Path, description = "The dataset's name")),
    request_body(content = DatasetBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The items and a new dataset version pinning them", body = crate::DatasetRef),
        (status = 400, description = "A bad body or name", body = super::error::ErrorBody),
        (status = 413, description = "Body over 64 MiB", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
    ),
)]
/// `PUT /v1/datasets/{name}`: stores the items and the dataset atomically.
pub async fn put_dataset(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    guard::require_json(&headers, false)?;
    let ObjectOnly(body): ObjectOnly<DatasetBody> = json_body(body)?;
    let items: Vec<NewItem> = body.items.into_iter().map(|ObjectOnly(item)| item.into()).collect();
    let info = body.info;
    let stored = blocking(&state, move |store| store.put_dataset(&name, items, info)).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

#[utoipa::path(
    get, path = "/v1/datasets/{name}", tag = "datasets",
    params(
        ("name" = super::openapi_schemas::Name, Path, description = "The dataset's name"),
        ("version" = Option<u32>, Query, minimum = 1, description = "A version (default: the latest)"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
        ("with_data" = Option<super::openapi_schemas::Flag>, Query, description = "Members with their data (default true)"),
    ),
    responses(
        (status = 200, description = "The dataset with its members at their pinned versions", body = super::openapi_schemas::DatasetWithItems),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "No such dataset or version, or a member's data pruned", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/datasets/{name}?version=N&with_data=`: the same object as
/// `recstore dataset get --with-data`, or with `with_data=false` as
/// `recstore dataset get` (members' metadata only).
pub async fn get_dataset(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["version", "as_of", "with_data"])?;
    let (version, as_of) = (params.number("version")?, params.as_of()?);
    // With data unless asked otherwise, as the old store's retrieve_dataset.
    let with_data = params.single("with_data")?.is_none() || params.flag("with_data")?;
    // The members' objects (with their data) are read and sent a page at a
    // time, so a dataset of any size costs the server one page.
    let dataset = blocking(&state, move |store| store.at_or_latest(as_of)?.dataset(&name, version)).await?;
    let frame = dataset_object(&dataset, Vec::new());
    let mut members = dataset.members.into_iter();
    let next_page = move |store: &Store, count: usize| {
        let page = members.by_ref().take(count);
        page.map(|(id, version)| store.item_json(&id, Some(version), with_data)).collect::<crate::Result<Vec<_>>>()
    };
    let items = paged_chunks(&state, false, next_page).await?;
    object_with_streamed_array(&frame, "items", items)
}

#[utoipa::path(
    get, path = "/v1/datasets", tag = "datasets",
    params(("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "Every dataset's latest version, by name: a JSON array, or NDJSON with \
                                      `Accept: application/x-ndjson`",
            content((Vec<crate::DatasetSummary> = "application/json"), (Vec<crate::DatasetSummary> = "application/x-ndjson"))),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "An `@OFFSET` the log no longer holds (compacted away)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/datasets`.
pub async fn list_datasets(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["as_of"])?;
    let as_of = params.as_of()?;
    let list = blocking(&state, move |store| Ok(store.at_or_latest(as_of)?.list_datasets())).await?;
    Ok(list_response(&headers, list))
}
