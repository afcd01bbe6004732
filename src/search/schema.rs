//! The tantivy schema of the search view: one document per item version.
//!
//! Owns the field names, their options and the schema's format number. A
//! document is identified by its `id` and `version` terms, which is how the
//! indexer deletes and re-adds it when the version is superseded.
//! `from_offset` and `to_offset` bound the offsets at which the version was
//! current; they are what as-of searches filter on (see `query.rs`).
//!
//! Every term a document adds is paid for again at each commit, where the
//! new segment's terms are sorted, and at each merge: so no field gives a
//! document a term of its own beyond its id.

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, JsonObjectOptions, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

/// Bumped whenever a field is added or its options change: an index written
/// with another format is rebuilt from the log.
pub(crate) const SCHEMA_FORMAT: u32 = 2;

/// The `to_offset` of a version that is still current.
pub(crate) const STILL_CURRENT: u64 = u64::MAX;

/// Handles of every field, looked up once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// The item id (exact).
    pub id: Field,
    /// The version number.
    pub version: Field,
    /// Offset of the put that created this version.
    pub from_offset: Field,
    /// Offset of the record that superseded it, or [`STILL_CURRENT`].
    pub to_offset: Field,
    /// Metadata `type` (exact).
    pub item_type: Field,
    /// Metadata `source_id` (exact).
    pub source_id: Field,
    /// Metadata `tags` (exact, one value each).
    pub tags: Field,
    /// Metadata `parents` as written, plus the bare id of pinned ones.
    pub parents: Field,
    /// Every other metadata field, as a JSON object.
    pub meta: Field,
    /// Ingestion time of the put.
    pub timestamp: Field,
    /// Free text: the string values of the data and of `meta`.
    pub text: Field,
}

/// Field names, as they appear in queries.
pub(crate) mod name {
    pub const ID: &str = "id";
    pub const VERSION: &str = "version";
    pub const FROM_OFFSET: &str = "from_offset";
    pub const TO_OFFSET: &str = "to_offset";
    pub const TYPE: &str = "type";
    pub const SOURCE_ID: &str = "source_id";
    pub const TAGS: &str = "tags";
    pub const PARENTS: &str = "parents";
    pub const META: &str = "meta";
    pub const TIMESTAMP: &str = "timestamp";
    pub const TEXT: &str = "text";
}

/// The schema this build writes.
pub(crate) fn build() -> Schema {
    let mut builder = Schema::builder();
    // The id is the one stored field: a hit's version and offset are read
    // from fast columns, which every document fills anyway.
    builder.add_text_field(name::ID, STRING | STORED);
    builder.add_u64_field(name::VERSION, INDEXED | FAST);
    // Offsets are only ever filtered by range, which tantivy answers from a
    // fast field's column, so they are not indexed.
    builder.add_u64_field(name::FROM_OFFSET, FAST);
    builder.add_u64_field(name::TO_OFFSET, FAST);
    builder.add_text_field(name::TYPE, STRING);
    builder.add_text_field(name::SOURCE_ID, STRING);
    builder.add_text_field(name::TAGS, STRING);
    builder.add_text_field(name::PARENTS, STRING);
    // Keyword matching on each metadata value (`meta.site:lab-a`); the same
    // values are also tokenized into `text`. Fast, so ranges on numbers and
    // dates inside it work (tantivy answers JSON ranges from fast fields only).
    let keyword = TextFieldIndexing::default().set_tokenizer("raw").set_index_option(IndexRecordOption::Basic);
    builder.add_json_field(name::META, JsonObjectOptions::default().set_indexing_options(keyword).set_fast("raw"));
    // Queries and ranges see microseconds, like the log's timestamps.
    let timestamp = DateOptions::from(INDEXED).set_fast().set_precision(DateTimePrecision::Microseconds);
    builder.add_date_field(name::TIMESTAMP, timestamp);
    // Tokenized and lowercased as tantivy's default analyzer would, faster (`tokenizer.rs`).
    let text = TextFieldIndexing::default()
        .set_tokenizer(super::tokenizer::TEXT_TOKENIZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    builder.add_text_field(name::TEXT, TextOptions::default().set_indexing_options(text));
    builder.build()
}

impl Fields {
    /// Looks up every field; the error names the one that is missing.
    pub(crate) fn of(schema: &Schema) -> Result<Self, String> {
        let field = |field_name: &str| {
            schema.get_field(field_name).map_err(|_| format!("search schema has no field {field_name:?}"))
        };
        Ok(Self {
            id: field(name::ID)?,
            version: field(name::VERSION)?,
            from_offset: field(name::FROM_OFFSET)?,
            to_offset: field(name::TO_OFFSET)?,
            item_type: field(name::TYPE)?,
            source_id: field(name::SOURCE_ID)?,
            tags: field(name::TAGS)?,
            parents: field(name::PARENTS)?,
            meta: field(name::META)?,
            timestamp: field(name::TIMESTAMP)?,
            text: field(name::TEXT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_field_is_in_the_schema() -> Result<(), String> {
        let schema = build();
        let fields = Fields::of(&schema)?;
        assert_eq!(schema.get_field_name(fields.text), name::TEXT);
        assert_eq!(schema.num_fields(), 11, "a new field needs a handle in Fields and a SCHEMA_FORMAT bump");
        Ok(())
    }

    #[test]
    fn the_schema_is_deterministic() {
        assert_eq!(build(), build(), "open compares the stored schema with a fresh one");
    }
}
