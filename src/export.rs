//! Item versions as Arrow record batches: the column contract of
//! `recstore export --format parquet` (issue 7), shared by the CLI's export
//! and the Python binding's `export_to_arrow`.
//!
//! Owns the schema and the column builders, and which (id, version) pairs
//! an export covers. Never writes files: the CLI streams the batches into
//! Parquet, the binding hands them to pyarrow.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::limits::EXPORT_BATCH_DATA_BYTES_MAX;
use crate::limits::EXPORT_BATCH_ROWS_MAX;
use crate::timetravel::StoreAt;
use crate::{ItemData, ItemMeta, Query};

/// The (id, version) pairs an export of `query` covers, in item order, then
/// version order: the latest version of each match, or every stored
/// version with `all_versions`.
pub fn targets(store: &StoreAt<'_>, query: &Query, all_versions: bool) -> Result<Vec<(String, u32)>> {
    let mut targets = Vec::new();
    for hit in store.query_hits(query)? {
        if !all_versions {
            targets.push((hit.id, hit.version));
            continue;
        }
        let mut versions: Vec<u32> =
            store.history(&hit.id)?.into_iter().filter(|e| e.event == "put").map(|e| e.version).collect();
        versions.dedup();
        targets.extend(versions.into_iter().map(|v| (hit.id.clone(), v)));
    }
    Ok(targets)
}

/// Every batch of an export of `targets`, and how many versions were left
/// out because compaction pruned their data (the CLI counts them too).
pub fn batches(store: &StoreAt<'_>, targets: &[(String, u32)]) -> Result<(Vec<RecordBatch>, u64)> {
    let schema = schema();
    let mut columns = Columns::new();
    let (mut batches, mut pruned_count) = (Vec::new(), 0);
    for (id, version) in targets {
        let row = store.metadata(id, Some(*version)).and_then(|meta| Ok((meta, store.get_version(id, *version)?)));
        match row {
            Err(Error::Pruned { .. }) => pruned_count += 1,
            row => {
                let (meta, data) = row?;
                columns.push(meta, data)?;
                if columns.is_full() {
                    batches.push(columns.finish(&schema)?);
                }
            }
        }
    }
    if columns.row_count() > 0 || batches.is_empty() {
        batches.push(columns.finish(&schema)?);
    }
    Ok((batches, pruned_count))
}

/// The Parquet schema: the column contract of issue 7.
pub fn schema() -> SchemaRef {
    let strings = || Field::new_list_field(DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("version", DataType::UInt32, false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("type", DataType::Utf8, true),
        Field::new("source_id", DataType::Utf8, true),
        Field::new_list("tags", strings(), false),
        Field::new_list("parents", strings(), false),
        Field::new("metadata", DataType::Utf8, false),
        Field::new("data", DataType::Utf8, true),
        Field::new("data_bytes", DataType::Binary, true),
    ]))
}

/// Column builders for one record batch.
pub struct Columns {
    id: StringBuilder,
    version: UInt32Builder,
    offset: UInt64Builder,
    timestamp: TimestampMicrosecondBuilder,
    item_type: StringBuilder,
    source_id: StringBuilder,
    tags: ListBuilder<StringBuilder>,
    parents: ListBuilder<StringBuilder>,
    metadata: StringBuilder,
    data: StringBuilder,
    data_bytes: BinaryBuilder,
    row_count: usize,
    data_size_bytes: usize,
}

impl Columns {
    /// Empty builders.
    #[allow(clippy::new_without_default, reason = "builders are made fresh on purpose")]
    pub fn new() -> Self {
        Self {
            id: StringBuilder::new(),
            version: UInt32Builder::new(),
            offset: UInt64Builder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            item_type: StringBuilder::new(),
            source_id: StringBuilder::new(),
            tags: ListBuilder::new(StringBuilder::new()),
            parents: ListBuilder::new(StringBuilder::new()),
            metadata: StringBuilder::new(),
            data: StringBuilder::new(),
            data_bytes: BinaryBuilder::new(),
            row_count: 0,
            data_size_bytes: 0,
        }
    }

    /// Adds one item version as a row.
    pub fn push(&mut self, meta: ItemMeta, data: ItemData) -> Result<()> {
        let meta_json = serde_json::to_value(&meta).map_err(|e| Error::invalid(e.to_string()))?;
        self.id.append_value(&meta.id);
        self.version.append_value(meta.version);
        self.offset.append_value(meta.offset);
        self.timestamp.append_value(i64::try_from(data.timestamp_us).unwrap_or(i64::MAX));
        self.item_type.append_option(meta.metadata.item_type.as_deref());
        self.source_id.append_option(meta.metadata.source_id.as_deref());
        for (builder, values) in [(&mut self.tags, &meta.metadata.tags), (&mut self.parents, &meta.metadata.parents)] {
            for value in values {
                builder.values().append_value(value);
            }
            builder.append(true);
        }
        self.metadata.append_value(meta_json.to_string());
        self.data_size_bytes += data.bytes.len();
        if data.is_json {
            let text = String::from_utf8(data.bytes).map_err(|e| Error::BadRecord {
                offset: meta.offset,
                detail: format!("item {:?} version {}: stored JSON is not UTF-8: {e}", meta.id, meta.version),
            })?;
            self.data.append_value(text);
            self.data_bytes.append_null();
        } else {
            self.data.append_null();
            self.data_bytes.append_value(&data.bytes);
        }
        self.row_count += 1;
        Ok(())
    }

    /// Rows pushed since the last `finish`.
    pub fn row_count(&self) -> usize {
        self.row_count
    }

    /// Whether the batch is big enough to hand on.
    pub fn is_full(&self) -> bool {
        self.row_count >= EXPORT_BATCH_ROWS_MAX || self.data_size_bytes >= EXPORT_BATCH_DATA_BYTES_MAX
    }

    /// Builds the batch and resets the builders.
    pub fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.version.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.item_type.finish()),
            Arc::new(self.source_id.finish()),
            Arc::new(self.tags.finish()),
            Arc::new(self.parents.finish()),
            Arc::new(self.metadata.finish()),
            Arc::new(self.data.finish()),
            Arc::new(self.data_bytes.finish()),
        ];
        self.row_count = 0;
        self.data_size_bytes = 0;
        RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Error::invalid(format!("arrow: {e}")))
    }
}
