//! Item routes: put (JSON envelope or bytes, see `upload.rs`), get, metadata,
//! history, lineage, delete, query.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::params::{Params, PathParam, body_bytes, json_body};
use super::state::{AppState, Counters, blocking};
use super::streaming::{list_limit, list_response, paged_response};
use super::upload::{self, BodyKind};
use crate::json_object::ObjectOnly;
use crate::store::from_document;
use crate::{Data, Direction, Metadata, NewItem, Query};

/// The body of a put: `{"data": ..., "metadata": {...}}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    /// The item's data: any JSON value whose integers fit in 64 bits (-2^63
    /// to 2^64-1; a larger number needs a decimal point or an exponent),
    /// nested at most 100 levels deep.
    data: serde_json::Value,
    /// What the caller says about it; every field optional.
    #[serde(default)]
    #[schema(value_type = super::openapi_schemas::MetadataSchema)]
    metadata: Metadata,
}

impl From<ItemBody> for NewItem {
    fn from(body: ItemBody) -> Self {
        NewItem { data: Data::Json(body.data), metadata: body.metadata }
    }
}

/// One item, or an atomic batch of them: told apart by the body's first
/// byte, so that each is parsed by one type and a bad body gets that
/// type's error, not "matched no variant".
enum OneOrMany {
    One(ItemBody),
    Many(Vec<ItemBody>),
}

impl OneOrMany {
    fn parse(body: Result<Bytes, BytesRejection>) -> ApiResult<Self> {
        let bytes = body_bytes(body)?;
        let parsed = if bytes.trim_ascii_start().starts_with(b"[") {
            from_document::<Vec<ObjectOnly<ItemBody>>>(&bytes)
                .map(|items| Self::Many(items.into_iter().map(|ObjectOnly(item)| item).collect()))
        } else {
            from_document::<ObjectOnly<ItemBody>>(&bytes).map(|ObjectOnly(item)| Self::One(item))
        };
        parsed.map_err(|e| ApiError::bad_request(format!("request body: {e}")))
    }
}

#[utoipa::path(
    post, path = "/v1/items", tag = "items",
    params(
        ("id" = Option<super::openapi_schemas::NewId>, Query, description = "Byte uploads only: the id (default: the md5 hex of the bytes)"),
        ("type" = Option<super::openapi_schemas::Name>, Query, description = "Byte uploads only: the item's type"),
        ("source" = Option<super::openapi_schemas::Name>, Query, description = "Byte uploads only: where the item came from"),
        ("tag" = Option<Vec<super::openapi_schemas::Name>>, Query, explode, description = "Byte uploads only: a tag (repeat for more)"),
        ("parent" = Option<Vec<super::openapi_schemas::ParentLink>>, Query, explode, description = "Byte uploads only: a parent, `ID` or `ID@V` (repeat for more)"),
        ("meta" = Option<String>, Query, description = "Byte uploads only: a JSON object of further metadata fields"),
    ),
    request_body(
        description = "The JSON envelope, or an array of them written as one atomic batch; with any other \
                       Content-Type (not a form type, not multipart) the body is one byte item of that type",
        content(
            (super::openapi::PutBody = "application/json"),
            (super::openapi::Binary = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 201, description = "Stored: a new version (an array for a batch)", body = super::openapi::PutAnswer),
        (status = 200, description = "Identical to the current version: nothing written", body = super::openapi::PutAnswer),
        (status = 400, description = "A bad body, metadata or parameter", body = super::error::ErrorBody),
        (status = 413, description = "Body over 64 MiB", body = super::error::ErrorBody),
        (status = 415, description = "No Content-Type, a form type or multipart", body = super::error::ErrorBody),
    ),
)]
/// `POST /v1/items`: the JSON envelope (one, or an array written as one
/// atomic batch), or with any other `Content-Type` the body as one byte item.
pub async fn post_items(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    if let BodyKind::Bytes(content_type) = BodyKind::of(&headers)? {
        let body = body_bytes(body)?;
        let item = upload::byte_item(&params, &upload::POST_PARAMS, content_type, Vec::from(body))?;
        return put_one(&state, item).await;
    }
    upload::refuse_params_on_envelope(&params)?;
    match OneOrMany::parse(body)? {
        OneOrMany::One(item) => put_one(&state, item.into()).await,
        OneOrMany::Many(items) => {
            let items: Vec<NewItem> = items.into_iter().map(Into::into).collect();
            let refs = blocking(&state, move |store| store.put_batch(items)).await?;
            Counters::add(&state.counters.items_written, refs.iter().filter(|r| r.created).count() as u64);
            let status = if refs.iter().any(|r| r.created) { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(refs)).into_response())
        }
    }
}

#[utoipa::path(
    put, path = "/v1/items/{id}", tag = "items",
    params(
        ("id" = super::openapi_schemas::NewId, Path, description = "The item's id"),
        ("type" = Option<super::openapi_schemas::Name>, Query, description = "Byte uploads only: the item's type"),
        ("source" = Option<super::openapi_schemas::Name>, Query, description = "Byte uploads only: where the item came from"),
        ("tag" = Option<Vec<super::openapi_schemas::Name>>, Query, explode, description = "Byte uploads only: a tag (repeat for more)"),
        ("parent" = Option<Vec<super::openapi_schemas::ParentLink>>, Query, explode, description = "Byte uploads only: a parent, `ID` or `ID@V` (repeat for more)"),
        ("meta" = Option<String>, Query, description = "Byte uploads only: a JSON object of further metadata fields"),
    ),
    request_body(
        description = "The JSON envelope; with any other Content-Type (not a form type, not multipart) the body \
                       as a byte item of that type",
        content((ItemBody = "application/json"), (super::openapi::Binary = "application/octet-stream")),
    ),
    responses(
        (status = 201, description = "Stored as a new version", body = crate::ItemRef),
        (status = 200, description = "Identical to the current version: nothing written", body = crate::ItemRef),
        (status = 400, description = "A bad body, metadata or parameter", body = super::error::ErrorBody),
        (status = 413, description = "Body over 64 MiB", body = super::error::ErrorBody),
        (status = 415, description = "No Content-Type, a form type or multipart", body = super::error::ErrorBody),
    ),
)]
/// `PUT /v1/items/{id}`: the JSON envelope, or with any other
/// `Content-Type` the body as bytes.
pub async fn put_item(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    let mut item: NewItem = match BodyKind::of(&headers)? {
        BodyKind::Bytes(content_type) => {
            let body = body_bytes(body)?;
            upload::byte_item(&params, &upload::PUT_PARAMS, content_type, Vec::from(body))?
        }
        BodyKind::Envelope => {
            upload::refuse_params_on_envelope(&params)?;
            json_body::<ObjectOnly<ItemBody>>(body)?.0.into()
        }
    };
    match &item.metadata.id {
        Some(body_id) if *body_id != id => {
            return Err(ApiError::bad_request(format!("metadata id {body_id:?} differs from the path id {id:?}")));
        }
        _ => item.metadata.id = Some(id),
    }
    put_one(&state, item).await
}

async fn put_one(state: &AppState, item: NewItem) -> ApiResult<Response> {
    let stored = blocking(state, move |store| store.put(item.data, item.metadata)).await?;
    Counters::add(&state.counters.items_written, u64::from(stored.created));
    let status = if stored.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(stored)).into_response())
}

#[utoipa::path(
    get, path = "/v1/items/{id}", tag = "items",
    params(
        ("id" = super::openapi_schemas::Name, Path, description = "The item's id"),
        ("version" = Option<u32>, Query, minimum = 1, description = "A version (default: the latest)"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An ETag from an earlier answer: 304 if it still names the record"),
    ),
    responses(
        (status = 200, description = "The data exactly as stored: JSON as `application/json`, bytes with their stored type",
            headers(
                ("ETag" = String, description = "Names the record, `\"o<offset>\"`"),
                ("x-recstore-version" = u32, description = "The version answered"),
                ("x-recstore-offset" = u64, description = "Offset of its record"),
            ),
            content((serde_json::Value = "application/json"), (super::openapi::Binary = "application/octet-stream"), (super::openapi::Binary = "*/*")),
        ),
        (status = 304, description = "`If-None-Match` names this record"),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "No such item or version (kind `not_found`, `deleted` or `pruned`)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/items/{id}`: the data exactly as stored, with its content type.
///
/// The ETag names the record (`"o<offset>"`): a record never changes, so
/// `If-None-Match` with it answers 304, and a fixed `?version=N` (whose
/// record is fixed too) may be cached for ever.
pub async fn get_item(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    RawQuery(raw): RawQuery,
    request_headers: HeaderMap,
) -> ApiResult<Response> {
    let (version, as_of) = Params::parse(raw).version_as_of()?;
    let data = blocking(&state, move |store| {
        let read = store.at_or_latest(as_of)?;
        match version {
            Some(version) => read.get_version(&id, version),
            None => read.get(&id),
        }
    })
    .await?;
    // The store refuses control characters in a type, which are all a header
    // value cannot carry (non-ASCII goes out as its UTF-8 bytes). Should one
    // slip through, the bytes are still worth sending: say only that they are bytes.
    let content_type = HeaderValue::from_str(&data.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let etag = format!("\"o{}\"", data.offset);
    // A fixed version is one record for ever; the latest may move on.
    let cache_control = if version.is_some() { "public, max-age=31536000, immutable" } else { "no-cache" };
    // A stored type is the uploader's word: `nosniff` keeps a browser from
    // running a `text/html` item, or guessing script in one, on this origin.
    let headers = [
        (header::ETAG, HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache_control)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::HeaderName::from_static("x-recstore-version"), HeaderValue::from(data.version)),
        (header::HeaderName::from_static("x-recstore-offset"), HeaderValue::from(data.offset)),
    ];
    if etag_matches(&request_headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    Ok(([(header::CONTENT_TYPE, content_type)], headers, data.bytes).into_response())
}

/// Whether `If-None-Match` names `etag` (or is `*`), per RFC 9110 13.1.2:
/// a comma-separated list, compared weakly (a `W/` prefix is ignored).
fn etag_matches(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok()).any(|list| {
        list.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    })
}

#[utoipa::path(
    get, path = "/v1/items/{id}/metadata", tag = "items",
    params(
        ("id" = super::openapi_schemas::Name, Path, description = "The item's id"),
        ("version" = Option<u32>, Query, minimum = 1, description = "A version (default: the latest)"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "The version's metadata", body = super::openapi_schemas::ItemMetaSchema),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "No such item or version", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/items/{id}/metadata`.
pub async fn get_metadata(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let (version, as_of) = Params::parse(raw).version_as_of()?;
    let meta = blocking(&state, move |store| store.at_or_latest(as_of)?.metadata(&id, version)).await?;
    Ok(Json(meta).into_response())
}

#[utoipa::path(
    get, path = "/v1/items/{id}/history", tag = "items",
    params(
        ("id" = super::openapi_schemas::Name, Path, description = "The item's id"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "Every put and delete, oldest first: a JSON array, or NDJSON (one element per line; the schema is that of the whole sequence) with `Accept: application/x-ndjson`",
            content((Vec<crate::HistoryEntry> = "application/json"), (Vec<crate::HistoryEntry> = "application/x-ndjson"))),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "No such item", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/items/{id}/history`.
pub async fn get_history(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["as_of"])?;
    let as_of = params.as_of()?;
    let history = blocking(&state, move |store| store.at_or_latest(as_of)?.history(&id)).await?;
    Ok(list_response(&headers, history))
}

#[utoipa::path(
    get, path = "/v1/items/{id}/lineage", tag = "items",
    params(
        ("id" = super::openapi_schemas::Name, Path, description = "The item's id"),
        ("direction" = Option<String>, Query, pattern = "^(up|down)$", description = "`up` (parents, the default) or `down` (children)"),
        ("depth" = Option<u32>, Query, description = "Steps to walk (default 10)"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "The versions reached: a JSON array, or NDJSON (one element per line; the schema is that of the whole sequence) with `Accept: application/x-ndjson`",
            content((Vec<crate::LineageEntry> = "application/json"), (Vec<crate::LineageEntry> = "application/x-ndjson"))),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "No such item", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/items/{id}/lineage?direction=up|down&depth=N`.
pub async fn get_lineage(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["direction", "depth", "as_of"])?;
    let as_of = params.as_of()?;
    let direction = match params.single("direction")?.unwrap_or("up") {
        "up" => Direction::Up,
        "down" => Direction::Down,
        other => return Err(ApiError::bad_request(format!("direction={other:?} must be up or down"))),
    };
    let depth = params.number::<u32>("depth")?.unwrap_or(10);
    let lineage = blocking(&state, move |store| store.at_or_latest(as_of)?.lineage(&id, direction, depth)).await?;
    Ok(list_response(&headers, lineage))
}

#[utoipa::path(
    delete, path = "/v1/items/{id}", tag = "items",
    params(("id" = super::openapi_schemas::Name, Path, description = "The item's id")),
    responses(
        (status = 200, description = "A tombstone was written; history stays readable", body = super::openapi_schemas::DeleteAnswer),
        (status = 400, description = "An id no item can have (a control character, over 512 bytes)", body = super::error::ErrorBody),
        (status = 404, description = "No such item, or deleted already", body = super::error::ErrorBody),
    ),
)]
/// `DELETE /v1/items/{id}`.
pub async fn delete_item(State(state): State<AppState>, PathParam(id): PathParam) -> ApiResult<Response> {
    let deleted_id = id.clone();
    let offset = blocking(&state, move |store| store.delete(&id)).await?;
    Ok(Json(serde_json::json!({"id": deleted_id, "deleted": true, "offset": offset})).into_response())
}

#[utoipa::path(
    get, path = "/v1/query", tag = "items",
    params(
        ("type" = Option<String>, Query, description = "Only items of this type"),
        ("source" = Option<String>, Query, description = "Only items from this source"),
        ("tag" = Option<Vec<String>>, Query, explode, description = "Only items with every tag given (repeat)"),
        ("since" = Option<super::openapi_schemas::When>, Query, description = "Stored at or after: `@OFFSET` or an RFC 3339 time"),
        ("until" = Option<super::openapi_schemas::When>, Query, description = "Stored before: `@OFFSET` or an RFC 3339 time"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000000, description = "At most this many (default 10,000)"),
        ("offset" = Option<usize>, Query, maximum = 18_446_744_073_709_551_615_u64, description = "Skip this many first"),
        ("ids_only" = Option<super::openapi_schemas::Flag>, Query, description = "Only `{id, version, offset}` of each"),
        ("with_data" = Option<super::openapi_schemas::Flag>, Query, description = "Each with `data` or `data_base64` (not with `ids_only`)"),
    ),
    responses(
        (status = 200, description = "The matching items' latest versions, oldest first: metadata, with `with_data` \
                                      also their data, with `ids_only` only where they are; a JSON array, or \
                                      NDJSON (one element per line; the schema is that of the whole sequence) with `Accept: application/x-ndjson`",
            content((Vec<super::openapi::QueryAnswer> = "application/json"), (Vec<super::openapi::QueryAnswer> = "application/x-ndjson"))),
        (status = 400, description = "A bad parameter", body = super::error::ErrorBody),
        (status = 404, description = "An `@OFFSET` the log no longer holds (compacted away)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/query?type=&source=&tag=&tag=&since=&until=&limit=&offset=&ids_only=&with_data=`;
/// `limit` is 10,000 unless given, and at most 1,000,000. With `with_data`
/// each element also carries `data` (JSON) or `data_base64` (bytes).
pub async fn get_query(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["type", "source", "tag", "since", "until", "as_of", "limit", "offset", "ids_only", "with_data"])?;
    let as_of = params.as_of()?;
    let (since, until) = (params.when("since")?, params.when("until")?);
    let mut query = Query {
        item_type: params.single("type")?.map(str::to_string),
        source: params.single("source")?.map(str::to_string),
        tags: params.all("tag"),
        since_us: None,
        until_us: None,
        limit: Some(list_limit(&params)?),
        offset: params.number("offset")?.unwrap_or(0),
    };
    let ids_only = params.flag("ids_only")?;
    let with_data = params.flag("with_data")?;
    if ids_only && with_data {
        return Err(ApiError::bad_request("ids_only and with_data ask for different answers: give one"));
    }
    Counters::add(&state.counters.queries, 1);
    // `@OFFSET` names the time its record was stored, as on the command line.
    let resolved = move |store: &crate::Store| -> crate::Result<Query> {
        query.since_us = since.map(|when| store.timestamp_of(when)).transpose()?;
        query.until_us = until.map(|when| store.timestamp_of(when)).transpose()?;
        Ok(query)
    };
    // The matches are chosen now; their metadata and data are read a page
    // at a time while the body goes out, so memory holds one page.
    let mut cursor = blocking(&state, move |store| store.at_or_latest(as_of)?.query_cursor(&resolved(store)?)).await?;
    if ids_only {
        return paged_response(&state, &headers, move |store, count| cursor.next_hits(store, count)).await;
    }
    if with_data {
        // The objects `recstore query --with-data` prints: metadata plus
        // `data` (JSON) or `data_base64` (bytes), at most `limit` of them.
        return paged_response(&state, &headers, move |store, count| cursor.next_items(store, count, true)).await;
    }
    paged_response(&state, &headers, move |store, count| cursor.next_metas(store, count)).await
}

#[utoipa::path(
    get, path = "/v1/search", tag = "items",
    params(
        ("q" = String, Query, description = "A query in tantivy's syntax"),
        ("limit" = Option<usize>, Query, maximum = 18_446_744_073_709_551_615_u64, description = "At most this many (default 20)"),
        ("as_of" = Option<super::openapi_schemas::When>, Query, description = "A point in history: `@OFFSET` or an RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "The matches, best first: a JSON array, or NDJSON (one element per line; the schema is that of the whole sequence) with `Accept: application/x-ndjson`",
            content((Vec<super::openapi_schemas::ItemMetaSchema> = "application/json"), (Vec<super::openapi_schemas::ItemMetaSchema> = "application/x-ndjson"))),
        (status = 400, description = "A bad parameter or query", body = super::error::ErrorBody),
        (status = 404, description = "An `@OFFSET` the log no longer holds (compacted away)", body = super::error::ErrorBody),
    ),
)]
/// `GET /v1/search?q=&limit=&as_of=`: tantivy query syntax, best match first.
pub async fn get_search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    params.only(&["q", "limit", "as_of"])?;
    let query = params.single("q")?.ok_or_else(|| ApiError::bad_request("q (the query) is required"))?.to_string();
    let limit = params.number::<usize>("limit")?.unwrap_or(20);
    let as_of = params.as_of()?;
    Counters::add(&state.counters.queries, 1);
    let found = blocking(&state, move |store| store.at_or_latest(as_of)?.search(&query, limit)).await?;
    Ok(list_response(&headers, found))
}
