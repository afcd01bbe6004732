//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` attributes and the schemas of the types they read and
//! answer, and served at `GET /v1/openapi.json` without a token.
//!
//! Owns the document's assembly: the list of routes (which must match
//! `router` in mod.rs; `tests/server_openapi.rs` checks that every
//! documented operation is routed, and schemathesis that each answers as
//! documented), the
//! answers every route may give whatever it does (a missing token, a
//! foreign `Origin`, a timeout, refused writes, an internal error), and the
//! bearer-token scheme. Never describes a route the router lacks. The
//! checked-in copy is `docs/openapi.json`, rewritten by
//! `RECSTORE_BLESS=1 cargo test --test server_openapi`.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::error::ErrorBody;
use super::{admin, datasets, items, metrics, openapi_schemas as shapes, stream};

/// The routes and the named shapes; [`build`] adds what every route shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "recstore",
        description = "An event-sourced, append-only log store for versioned data items. Every write is a \
                       record appended to the log; every answer comes from views rebuilt from it. Errors are \
                       `{\"error\", \"kind\"}` with the statuses listed per route.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        items::post_items, items::put_item, items::get_item, items::delete_item, items::get_metadata,
        items::get_history, items::get_lineage, items::get_query, items::get_search,
        datasets::put_dataset, datasets::get_dataset, datasets::list_datasets,
        stream::get_log, stream::commit, stream::reset, stream::list_consumers, stream::get_consumer,
        stream::delete_consumer,
        admin::stats, admin::compact, admin::healthz, metrics::metrics, get_openapi,
    ),
    components(schemas(
        ErrorBody, shapes::ItemMetaSchema, shapes::ItemWithData, shapes::MetadataSchema, crate::ItemRef,
        crate::store::QueryHit, shapes::Name, shapes::NewId, shapes::ParentLink, shapes::When, shapes::Flag,
    )),
    tags(
        (name = "items", description = "Item versions: put, read, delete, query, search"),
        (name = "datasets", description = "Named, versioned sets of item versions"),
        (name = "log", description = "The log as a stream of events"),
        (name = "consumers", description = "Consumer groups' durable positions in the log"),
        (name = "admin", description = "Health, statistics, metrics, compaction and this document"),
    ),
)]
struct ApiDoc;

/// Bytes exactly as stored or sent: a byte item's data.
pub(super) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        let bytes =
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)));
        RefOr::T(Schema::Object(bytes.build()))
    }
}

impl ToSchema for Binary {}

/// The body of `POST /v1/items`: one envelope, or an array of them.
pub(super) struct PutBody;

impl PartialSchema for PutBody {
    fn schema() -> RefOr<Schema> {
        one_or_many(items::ItemBody::name().as_ref())
    }
}

impl ToSchema for PutBody {}

/// What `POST /v1/items` answers: one `ItemRef`, or an array for a batch.
pub(super) struct PutAnswer;

impl PartialSchema for PutAnswer {
    fn schema() -> RefOr<Schema> {
        one_or_many(crate::ItemRef::name().as_ref())
    }
}

impl ToSchema for PutAnswer {}

/// One element of a query's answer: metadata, with `with_data` also the
/// data, with `ids_only` only where the version is.
pub(super) struct QueryAnswer;

impl PartialSchema for QueryAnswer {
    fn schema() -> RefOr<Schema> {
        any_of(&["ItemWithData", "QueryHit"])
    }
}

impl ToSchema for QueryAnswer {}

/// What a compaction answers: its report, or with `dry_run` the preview.
pub(super) struct CompactAnswer;

impl PartialSchema for CompactAnswer {
    fn schema() -> RefOr<Schema> {
        any_of(&["CompactionReport", "CompactionPreview"])
    }
}

impl ToSchema for CompactAnswer {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        use crate::compaction::CompactionPreview;
        use crate::compaction::CompactionReport;
        schemas.push((CompactionReport::name().into_owned(), CompactionReport::schema()));
        schemas.push((CompactionPreview::name().into_owned(), CompactionPreview::schema()));
        <CompactionReport as ToSchema>::schemas(schemas);
        <CompactionPreview as ToSchema>::schemas(schemas);
    }
}

fn component(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

fn one_or_many(name: &str) -> RefOr<Schema> {
    let many = ArrayBuilder::new().items(component(name)).build();
    AnyOfBuilder::new().item(component(name)).item(many).into()
}

fn any_of(names: &[&str]) -> RefOr<Schema> {
    names.iter().fold(AnyOfBuilder::new(), |any, name| any.item(component(name))).into()
}

/// Answers any route may give besides its own, with why.
const SHARED_ANSWERS: [(&str, &str); 5] = [
    ("401", "Missing or wrong bearer token (when the server runs with `--token-file`)"),
    ("403", "A foreign `Origin` or `Host` (cross-site request or DNS rebinding)"),
    ("408", "The request, or its body, took over 30 s"),
    ("500", "A failure on the server's side (I/O, corruption): the message says what and where"),
    ("503", "Writes are refused after a failed write, until the log recovers"),
];

fn build() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("The token of `--token-file`"));
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer.build()));
    }
    doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    // An empty body is the defaults; the attribute can only say required.
    let compact = doc.paths.paths.get_mut("/v1/admin/compact").and_then(|item| item.post.as_mut());
    if let Some(RefOr::T(body)) = compact.and_then(|operation| operation.request_body.as_mut()) {
        body.required = Some(utoipa::openapi::Required::False);
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            add_shared_answers(operation);
        }
    }
    doc
}

fn add_shared_answers(operation: &mut Operation) {
    let open = operation.security.as_ref().is_some_and(|requirements| requirements.iter().all(is_empty_requirement));
    for (status, description) in SHARED_ANSWERS {
        // A route without a token has no 401 to give.
        if open && status == "401" {
            continue;
        }
        let answer = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new().schema(Some(component("ErrorBody"))).build(),
            )
            .build();
        operation.responses.responses.entry(status.to_string()).or_insert(RefOr::T(answer));
    }
}

fn is_empty_requirement(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    requirement == &utoipa::openapi::security::SecurityRequirement::default()
}

/// The document as pretty JSON with a final newline: what
/// `GET /v1/openapi.json` answers and `docs/openapi.json` holds.
pub fn document_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut value = serde_json::to_value(build()).unwrap_or_default();
        bound_unsigned(&mut value);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    })
}

/// utoipa writes an unsigned integer's format as `u-int32` or `u-int64`,
/// names no JSON Schema tool knows; this replaces each with the bounds it
/// stands for, so that a client or a fuzzer knows `version=4294967295` is
/// allowed and `version=4294967296` is not.
fn bound_unsigned(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            let maximum = match object.get("format").and_then(serde_json::Value::as_str) {
                Some("u-int32") => Some(u64::from(u32::MAX)),
                Some("u-int64") => Some(u64::MAX),
                _ => None,
            };
            if let Some(maximum) = maximum {
                object.remove("format");
                object.entry("maximum").or_insert(maximum.into());
                object.entry("minimum").or_insert(0.into());
            }
            object.values_mut().for_each(bound_unsigned);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(bound_unsigned),
        _ => {}
    }
}

/// `GET /v1/openapi.json`: this document (no token needed).
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "admin", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json",
        body = serde_json::Value)),
)]
pub async fn get_openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document_json()).into_response()
}
