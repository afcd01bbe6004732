//! The JSON shapes of the OpenAPI document that no single Rust type
//! derives: objects the store builds as `serde_json::Value` (an item with
//! its data, a dataset with its items) or serialises by hand (`ItemMeta`),
//! and the small answers handlers build inline.
//!
//! Owns only descriptions: nothing here is serialised to a client. Each
//! type names the code whose output it describes, and the schemathesis run
//! (`tests/server_openapi_schemathesis.rs`) checks every answer against
//! them, so a drift between the two fails a test.

#![allow(dead_code, reason = "these types exist for their schemas only; no value of them is ever built")]

use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// One item version's metadata: `ItemMeta`'s serialisation (src/store/item.rs),
/// the same on every surface. `type` and `source_id` are null when not given,
/// `tags` and `parents` empty; any other field given at put time follows.
#[derive(ToSchema)]
#[schema(as = ItemMeta)]
pub struct ItemMetaSchema {
    /// The item's id.
    id: String,
    /// The version, counting from 1.
    #[schema(minimum = 1)]
    version: u32,
    /// Offset of the record that holds this version.
    offset: u64,
    /// Ingestion time, RFC 3339 with microseconds.
    timestamp: String,
    /// Size of the data in bytes, before compression.
    size: u64,
    /// md5 hex of the data bytes.
    md5: String,
    /// Media type: `application/json` for JSON items.
    content_type: String,
    /// The item's type, null when not given.
    #[schema(required = true)]
    r#type: Option<String>,
    /// Where the item came from, null when not given.
    #[schema(required = true)]
    source_id: Option<String>,
    /// Labels, sorted, without repeats.
    tags: Vec<String>,
    /// Lineage links, as `id` or `id@version`.
    parents: Vec<String>,
}

/// An item version's metadata with its data: `data` (a JSON item's value)
/// or `data_base64` (a byte item's bytes, standard base64), as
/// `recstore query --with-data` prints it (`Store::item_json`).
#[derive(ToSchema)]
pub struct ItemWithData {
    #[serde(flatten)]
    meta: ItemMetaSchema,
    /// A JSON item's data.
    data: Option<serde_json::Value>,
    /// A byte item's data, base64.
    data_base64: Option<String>,
}

/// A dataset version with its members at their pinned versions
/// (`Store::dataset_json`); each member carries its data unless
/// `with_data=false`.
#[derive(ToSchema)]
pub struct DatasetWithItems {
    /// The dataset's name.
    name: String,
    /// The version.
    #[schema(minimum = 1)]
    version: u32,
    /// Offset of the dataset record.
    offset: u64,
    /// Ingestion time.
    timestamp: String,
    /// The free-form description given at put time.
    info: serde_json::Value,
    /// The members, in the order they were given.
    items: Vec<ItemWithData>,
}

/// A consumer group's position (`group_json` in src/server/stream.rs).
#[derive(ToSchema)]
pub struct GroupPosition {
    /// The group's name.
    group: String,
    /// The committed offset (the next record the group reads); null if it never committed.
    #[schema(required = true)]
    offset: Option<u64>,
    /// Records from the committed offset (0 for a new group) to the end of the log.
    lag: u64,
}

/// What a commit answers.
#[derive(ToSchema)]
pub struct CommitAnswer {
    /// The group's name.
    group: String,
    /// The committed offset.
    offset: u64,
    /// Offset of the commit record (of the earlier commit when this one wrote nothing).
    record_offset: u64,
}

/// What deleting an item or a consumer group answers.
#[derive(ToSchema)]
pub struct DeleteAnswer {
    /// The item's id (item deletes).
    id: Option<String>,
    /// The group's name (group deletes).
    group: Option<String>,
    /// Always true.
    deleted: bool,
    /// Offset of the record that says so.
    offset: u64,
}

/// What `/healthz` answers while the server accepts writes.
#[derive(ToSchema)]
pub struct Health {
    /// `ok`.
    status: String,
}

/// What a caller says about an item (`Metadata` in src/store/item.rs). Any
/// other field is kept and returned as given, except the names the store
/// computes (`version`, `timestamp`, `offset`, `size`, `md5`,
/// `content_type`, `deleted`, `kind`, `data`); their values are JSON data.
#[derive(ToSchema)]
#[schema(as = Metadata)]
pub struct MetadataSchema {
    /// The id; without one, the md5 hex of the canonical data bytes.
    id: Option<NewId>,
    /// The item's type.
    r#type: Option<Name>,
    /// Where the item came from.
    source_id: Option<Name>,
    /// Labels.
    #[schema(required = false)]
    tags: Vec<Name>,
    /// Items this one was derived from, as `id` or `id@version`.
    #[schema(required = false)]
    parents: Vec<ParentLink>,
}

/// A name: an id, a dataset or consumer group name, a type, a source or a
/// tag (`validate_name` in src/store/item.rs): 1 to 512 bytes without
/// control characters. The schema counts characters, which JSON Schema
/// can, so it says 512 characters; a name of multi-byte characters may be
/// refused sooner.
pub struct Name;

/// Control characters (Unicode category Cc), which no name may hold.
const NAME_PATTERN: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]+$";

impl utoipa::PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(crate::limits::NAME_SIZE_BYTES_MAX))
            .pattern(Some(NAME_PATTERN))
            .description(Some("1 to 512 bytes, no control characters"));
        RefOr::T(Schema::Object(name.build()))
    }
}

impl ToSchema for Name {}

/// A parent link: `ID` or `ID@VERSION`, the version from 1.
pub struct ParentLink;

impl utoipa::PartialSchema for ParentLink {
    fn schema() -> RefOr<Schema> {
        let link = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(crate::limits::NAME_SIZE_BYTES_MAX))
            // Any name; one that ends in `@DIGITS` pins that version, which
            // must be from 1 and fit in 32 bits, after an id that is not empty.
            .pattern(Some("^(?!@[0-9]+$)(?!.*@0+$)(?!.*@0*[1-9][0-9]{10,}$)[^\\x00-\\x1f\\x7f-\\x9f]+$"))
            .description(Some("`ID` or `ID@VERSION` (a version from 1)"));
        RefOr::T(Schema::Object(link.build()))
    }
}

impl ToSchema for ParentLink {}

/// A point in history (`AsOf` in src/timetravel): `@OFFSET`, or an RFC 3339
/// time from 1980 on (the store refuses times before 1970, and the pattern
/// keeps clear of a zone offset that would put one there).
pub struct When;

impl utoipa::PartialSchema for When {
    fn schema() -> RefOr<Schema> {
        let when = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(concat!(
                "^(@[0-9]{1,19}|(19[89][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
                "[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9]))$",
            )))
            .description(Some("`@OFFSET` (the time that record was stored) or an RFC 3339 time"));
        RefOr::T(Schema::Object(when.build()))
    }
}

impl ToSchema for When {}

/// A true/false query parameter (`Params::flag` in src/server/params.rs):
/// `true`, `1` or the empty value are true; `false` or `0` false.
pub struct Flag;

impl utoipa::PartialSchema for Flag {
    fn schema() -> RefOr<Schema> {
        let flag = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["true", "false", "1", "0", ""]))
            .description(Some("`true`, `1` or empty for true; `false` or `0` for false"));
        RefOr::T(Schema::Object(flag.build()))
    }
}

impl ToSchema for Flag {}

/// The id a put gives (`validate_new_id` in src/store/item.rs): a [`Name`]
/// with at least one character that is not whitespace.
pub struct NewId;

impl utoipa::PartialSchema for NewId {
    fn schema() -> RefOr<Schema> {
        let id = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(crate::limits::NAME_SIZE_BYTES_MAX))
            .pattern(Some("^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x1f\\x7f-\\x9f\\s][^\\x00-\\x1f\\x7f-\\x9f]*$"))
            .description(Some("1 to 512 bytes, no control characters, not only whitespace"));
        RefOr::T(Schema::Object(id.build()))
    }
}

impl ToSchema for NewId {}
