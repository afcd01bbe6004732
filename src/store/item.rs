//! The item types callers see: data, metadata, references and descriptions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::limits::NAME_SIZE_BYTES_MAX;
use crate::store::json_input::check_depth;

/// An item's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// A JSON value, stored as compact JSON with sorted keys (see
    /// [`Data::canonical_bytes`]). Build it from JSON text with
    /// [`Data::from_json_slice`], which keeps every number exactly.
    Json(Value),
    /// Raw bytes with a content type (e.g. `image/png`).
    Bytes {
        /// The bytes.
        bytes: Vec<u8>,
        /// Their media type.
        content_type: String,
    },
}

impl Data {
    /// The canonical bytes that are stored, hashed and (without an id) named:
    /// for JSON, compact serde_json text with object keys sorted by their
    /// UTF-8 bytes; for bytes, the bytes themselves. An item's `md5` is the
    /// md5 of these bytes, and without an `id` its id is that md5 in hex.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        match self {
            Data::Json(value) => json_bytes(value),
            Data::Bytes { bytes, .. } => bytes.clone(),
        }
    }
}

/// Compact JSON of `value`. serde_json keeps object keys in sorted order, so
/// equal values give equal bytes.
pub(crate) fn json_bytes(value: &Value) -> Vec<u8> {
    // Starting near 1 KiB spares the typical item (about 512 bytes) the
    // three regrowths from serde_json's 128 bytes; the buffer lives only
    // until the record is encoded. Not 1 KiB itself: glibc's malloc first
    // consolidates its fast bins for a request that size or larger, and
    // with the previous items' `Value`s just freed into them that took a
    // tenth of preparing a put.
    const INITIAL_CAPACITY_BYTES: usize = 1000;
    let mut bytes = Vec::with_capacity(INITIAL_CAPACITY_BYTES);
    // Writing a `Value` into a Vec cannot fail: its map keys are strings.
    serde_json::to_writer(&mut bytes, value).unwrap_or_default();
    bytes
}

/// What a caller says about an item when storing it. Unknown fields are kept
/// in `extra` and returned as they were given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The id; without one, the md5 hex of the canonical data bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The item's type, e.g. `sensor_reading`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<String>,
    /// Where the item came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Labels; queries match all of the tags they name. A put stores them
    /// sorted by their bytes and without repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Lineage: items this one was derived from, as `id` or `id@version`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// Any other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Fields the store computes; a caller may not set them in `extra`.
pub const RESERVED_FIELDS: [&str; 9] =
    ["version", "timestamp", "offset", "size", "md5", "content_type", "deleted", "kind", "data"];

impl Metadata {
    /// Checks names, tags and parents; the error says which field is wrong.
    pub fn validate(&self) -> Result<()> {
        if let Some(id) = &self.id {
            validate_new_id(id)?;
        }
        for (field, value) in [("type", &self.item_type), ("source_id", &self.source_id)] {
            if let Some(value) = value {
                validate_name(field, value)?;
            }
        }
        for tag in &self.tags {
            validate_name("tag", tag)?;
        }
        for parent in &self.parents {
            ParentRef::parse(parent)?;
        }
        if let Some(field) = RESERVED_FIELDS.iter().find(|f| self.extra.contains_key(**f)) {
            return Err(Error::invalid(format!("metadata field {field:?} is computed by the store and cannot be set")));
        }
        for (field, value) in &self.extra {
            check_depth(value).map_err(|e| Error::invalid(format!("metadata field {field:?}: {e}")))?;
        }
        Ok(())
    }

    /// Sorts and dedups the tags: they are a set, so neither their order
    /// nor a repeat makes a new version.
    pub(crate) fn normalize_tags(&mut self) {
        self.tags.sort_unstable();
        self.tags.dedup();
    }
}

/// Checks the id a put gives: a name (see [`validate_name`]) that is not
/// only whitespace. Reads and deletes take any stored id, so ids stored
/// before this rule stay reachable.
pub(crate) fn validate_new_id(id: &str) -> Result<()> {
    validate_name("id", id)?;
    if id.trim().is_empty() {
        return Err(Error::invalid(format!("id {id:?} is only whitespace; an id must have a visible character")));
    }
    Ok(())
}

/// Checks an id, name, tag or type: non-empty, at most 512 bytes, no control characters.
pub fn validate_name(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if value.len() > NAME_SIZE_BYTES_MAX {
        return Err(Error::invalid(format!(
            "{field} is {} bytes, over the limit of {NAME_SIZE_BYTES_MAX}",
            value.len()
        )));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(format!("{field} {value:?} contains the control character {c:?}")));
    }
    Ok(())
}

/// A parent link: an id, optionally pinned to a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// The parent's id.
    pub id: String,
    /// The pinned version, if the link names one.
    pub version: Option<u32>,
}

impl ParentRef {
    /// Parses `id` or `id@version`.
    pub fn parse(text: &str) -> Result<Self> {
        let (id, version) = Self::parse_borrowed(text)?;
        Ok(Self { id: id.to_string(), version })
    }

    /// Parses `id` or `id@version` without copying the id: the views
    /// parse every parent link of every put they replay.
    pub fn parse_borrowed(text: &str) -> Result<(&str, Option<u32>)> {
        let (id, version) = match text.rsplit_once('@') {
            Some((id, version)) if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) => {
                let version =
                    version.parse().map_err(|_| Error::invalid(format!("parent {text:?}: version too large")))?;
                (id, Some(version))
            }
            _ => (text, None),
        };
        validate_name("parent id", id)?;
        if version == Some(0) {
            return Err(Error::invalid(format!("parent {text:?}: versions count from 1")));
        }
        Ok((id, version))
    }
}

/// Where a stored item version landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemRef {
    /// The item's id.
    pub id: String,
    /// Its version, counting from 1.
    pub version: u32,
    /// Offset of the record that holds this version.
    pub offset: u64,
    /// Ingestion time, RFC 3339 with microseconds.
    pub timestamp: String,
    /// False when the put was identical to the current version and wrote nothing.
    pub created: bool,
}

/// Everything known about one item version, as returned by reads and queries.
///
/// Serializes as one flat object, the same on every surface (library JSON,
/// CLI, HTTP, log events, export): the store's fields, then `type`,
/// `source_id`, `tags` and `parents` (null or empty when not given, so a
/// reader never has to guess whether a key exists), then any other fields.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ItemMeta {
    /// The item's id.
    pub id: String,
    /// The version.
    pub version: u32,
    /// Offset of its record.
    pub offset: u64,
    /// Ingestion time, RFC 3339 with microseconds.
    pub timestamp: String,
    /// Size of the data in bytes (uncompressed).
    pub size: u64,
    /// md5 hex of the data bytes.
    pub md5: String,
    /// Media type: `application/json` for JSON items.
    pub content_type: String,
    /// The metadata as given (without `id`).
    #[serde(flatten)]
    pub metadata: Metadata,
}

impl Serialize for ItemMeta {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let metadata = &self.metadata;
        let mut map = serializer.serialize_map(Some(11 + metadata.extra.len()))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("offset", &self.offset)?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        map.serialize_entry("size", &self.size)?;
        map.serialize_entry("md5", &self.md5)?;
        map.serialize_entry("content_type", &self.content_type)?;
        map.serialize_entry("type", &metadata.item_type)?;
        map.serialize_entry("source_id", &metadata.source_id)?;
        map.serialize_entry("tags", &metadata.tags)?;
        map.serialize_entry("parents", &metadata.parents)?;
        for (key, value) in &metadata.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
