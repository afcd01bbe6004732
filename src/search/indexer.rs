//! Turning log records into search documents, and keeping `to_offset` right.
//!
//! Owns the index writer and the bookkeeping between two commits. A put adds
//! a document that is current (`to_offset` = [`STILL_CURRENT`]); a later put
//! of the same id, or its delete, ends it. Tantivy documents are immutable,
//! so ending a version deletes its document (the one with its id and version
//! terms) and adds it again with the new `to_offset`, rebuilt from the put
//! record it came from (read back from the log by its `from_offset`): the
//! index stores nothing it would need to rebuild a document, which keeps it
//! small. Which version is current is answered by the uncommitted map for
//! ids touched since the last commit, and by the last committed index for
//! the rest.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, OwnedValue};
use tantivy::{DateTime, DocSet, IndexReader, IndexWriter, Searcher, TERMINATED, TantivyDocument, Term};

use super::schema::{self, Fields, STILL_CURRENT};
use super::text::{self, collect_value_strings, truncate_at_char_boundary};
use super::{SearchOptions, view_error};
use crate::error::{Error, Result};
use crate::limits::SEARCH_TEXT_SIZE_BYTES_MAX;
use crate::log::{Log, LogError, RecordRef};
use crate::records::IndexedFields;
use crate::records::codec::{self, DataKind, DeleteRecord, kind};
use crate::store::Metadata;

/// The point of the log an index covers, as stored in a commit payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Cursor {
    /// Every record below this offset has been applied.
    pub next_offset: u64,
    /// Timestamp of the record at `next_offset - 1` (0 for an empty log): it
    /// tells this log apart from another one that reached the same offset.
    pub last_timestamp_us: u64,
}

/// The version of an id that is current, as far as the index knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Current {
    version: u32,
    from_offset: u64,
}

/// Everything one item version contributes to its document, borrowed from
/// its put record where the JSON allows.
#[derive(Debug)]
pub(crate) struct VersionDoc<'a> {
    pub id: &'a str,
    pub version: u32,
    pub from_offset: u64,
    pub timestamp_us: u64,
    pub fields: IndexedFields<'a>,
    /// Every other metadata field.
    pub extra: Map<String, Value>,
    pub text: String,
}

/// The indexed fields and every other field of a put's metadata. Most
/// metadata is only the indexed fields: those are read directly, and only
/// the rest through serde.
fn metadata_fields(json: &[u8]) -> Result<(IndexedFields<'_>, Map<String, Value>), String> {
    if let Some(fields) = IndexedFields::parse_plain(json) {
        return Ok((fields, Map::new()));
    }
    let metadata: Metadata = serde_json::from_slice(json).map_err(|e| format!("metadata of put: {e}"))?;
    let owned = |strings: Vec<String>| strings.into_iter().map(Cow::Owned).collect();
    let fields = IndexedFields {
        item_type: metadata.item_type.map(Cow::Owned),
        source_id: metadata.source_id.map(Cow::Owned),
        tags: owned(metadata.tags),
        parents: owned(metadata.parents),
    };
    Ok((fields, metadata.extra))
}

impl<'a> VersionDoc<'a> {
    /// Decodes a put record; `with_data_text` adds the data's string values.
    pub(crate) fn from_put(record: RecordRef<'a>, with_data_text: bool) -> Result<Self> {
        let bad = |detail: String| Error::BadRecord { offset: record.offset, detail };
        let put = codec::decode_put(record.payload).map_err(bad)?;
        let (fields, extra) = match &put.metadata_json {
            Cow::Borrowed(json) => metadata_fields(json).map_err(bad)?,
            Cow::Owned(json) => metadata_fields(json).map(|(f, extra)| (f.into_owned(), extra)).map_err(bad)?,
        };
        let mut text = String::new();
        for value in extra.values() {
            collect_value_strings(value, &mut text);
        }
        if with_data_text && put.data_kind == DataKind::Json {
            let data = put.data(record.flags).map_err(bad)?;
            if let Err(error) = text::collect_json_strings(&data, &mut text) {
                // The data was valid JSON when it was written; a deeper
                // nesting than serde_json allows still leaves its metadata searchable.
                tracing::warn!(offset = record.offset, %error, "data text not indexed");
            }
        }
        truncate_at_char_boundary(&mut text, SEARCH_TEXT_SIZE_BYTES_MAX);
        Ok(Self {
            id: put.id,
            version: put.version,
            from_offset: record.offset,
            timestamp_us: record.timestamp_us,
            fields,
            extra,
            text,
        })
    }

    /// The tantivy document, with the given end of currency.
    pub(crate) fn to_document(&self, fields: &Fields, to_offset: u64) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.id, self.id);
        doc.add_u64(fields.version, u64::from(self.version));
        doc.add_u64(fields.from_offset, self.from_offset);
        doc.add_u64(fields.to_offset, to_offset);
        if let Some(item_type) = &self.fields.item_type {
            doc.add_text(fields.item_type, item_type);
        }
        if let Some(source_id) = &self.fields.source_id {
            doc.add_text(fields.source_id, source_id);
        }
        for tag in &self.fields.tags {
            doc.add_text(fields.tags, tag);
        }
        for parent in &self.fields.parents {
            doc.add_text(fields.parents, parent);
            // A pinned parent (`id@3`) is also found by its bare id.
            if let Some((id, version)) = parent.rsplit_once('@')
                && !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_digit())
            {
                doc.add_text(fields.parents, id);
            }
        }
        if !self.extra.is_empty() {
            doc.add_field_value(fields.meta, &OwnedValue::from(self.extra.clone()));
        }
        let micros = i64::try_from(self.timestamp_us).unwrap_or(i64::MAX);
        doc.add_date(fields.timestamp, DateTime::from_timestamp_micros(micros));
        if !self.text.is_empty() {
            doc.add_text(fields.text, &self.text);
        }
        doc
    }
}

/// The writer side of the index: applies records in offset order.
pub(crate) struct Indexer {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    options: SearchOptions,
    /// Ids whose current version changed since the last commit: `None`
    /// when they have no current version (deleted).
    uncommitted: HashMap<String, Option<Current>>,
    /// Adds and deletes given to the writer since the last commit.
    pending_ops: usize,
    /// What has been applied.
    cursor: Cursor,
    /// What the last commit covers.
    committed: Cursor,
    committed_view: CommittedView,
    /// The folder to make durable on a clean close; `None` in memory.
    dir: Option<PathBuf>,
}

impl Indexer {
    /// An indexer continuing from a commit that covers `committed`.
    pub(crate) fn new(
        writer: IndexWriter,
        reader: IndexReader,
        fields: Fields,
        options: SearchOptions,
        committed: Cursor,
        dir: Option<PathBuf>,
    ) -> Result<Self> {
        let committed_view = CommittedView::new(reader.searcher())?;
        Ok(Self {
            writer,
            reader,
            fields,
            options,
            uncommitted: HashMap::new(),
            pending_ops: 0,
            cursor: committed,
            committed,
            committed_view,
            dir,
        })
    }

    /// What has been applied (not necessarily committed).
    pub(crate) fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Adds and deletes waiting for a commit.
    pub(crate) fn pending_ops(&self) -> usize {
        self.pending_ops
    }

    /// Whether a commit would change anything, payload included.
    pub(crate) fn has_uncommitted(&self) -> bool {
        self.pending_ops > 0 || self.cursor != self.committed
    }

    /// Moves the cursor over offsets that hold no record (the tail of a scan
    /// that saw them all), so the payload can say they are covered.
    pub(crate) fn skip_to(&mut self, next_offset: u64) {
        self.cursor.next_offset = self.cursor.next_offset.max(next_offset);
    }

    /// Applies one record; they must come in offset order.
    pub(crate) fn apply(&mut self, record: RecordRef<'_>, log: &Log) -> Result<()> {
        assert!(
            record.offset >= self.cursor.next_offset,
            "records are indexed in offset order: got {} after {}",
            record.offset,
            self.cursor.next_offset
        );
        match record.kind {
            kind::PUT => {
                let doc = VersionDoc::from_put(record, self.options.index_data_text)?;
                if doc.version == 1 {
                    // An id's first put has no committed document to end,
                    // which saves a term lookup in every segment for most
                    // puts. After a purge forgot the id, its old document can
                    // still be there, called current; searches drop it (see
                    // `Store::search_hits`) and the id's next put or delete ends it.
                    self.end_uncommitted(doc.id, record.offset, log)?;
                } else {
                    self.end_current(doc.id, record.offset, log)?;
                }
                self.add(doc.to_document(&self.fields, STILL_CURRENT))?;
                let current = Current { version: doc.version, from_offset: doc.from_offset };
                self.uncommitted.insert(doc.id.to_string(), Some(current));
            }
            kind::DELETE => {
                let delete: DeleteRecord = codec::decode_json(record.payload)
                    .map_err(|detail| Error::BadRecord { offset: record.offset, detail })?;
                self.end_current(&delete.id, record.offset, log)?;
                self.uncommitted.insert(delete.id, None);
            }
            _ => {}
        }
        self.cursor = Cursor { next_offset: record.offset + 1, last_timestamp_us: record.timestamp_us };
        Ok(())
    }

    /// Commits everything applied, with the cursor as payload, and makes it
    /// searchable. Returns what is now searchable.
    pub(crate) fn commit(&mut self) -> Result<Cursor> {
        let started = std::time::Instant::now();
        let pending = self.pending_ops;
        let payload = super::open::Payload::new(self.cursor, self.options).encode();
        let mut prepared = self.writer.prepare_commit().map_err(view_error("prepare commit"))?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(view_error("commit"))?;
        self.reader.reload().map_err(view_error("reload after commit"))?;
        self.committed_view = CommittedView::new(self.reader.searcher())?;
        self.uncommitted.clear();
        self.pending_ops = 0;
        self.committed = self.cursor;
        tracing::debug!(
            ops = pending,
            elapsed_ms = started.elapsed().as_millis(),
            next_offset = self.cursor.next_offset,
            "search index committed"
        );
        Ok(self.cursor)
    }

    /// Commits what is left and waits for background merges: a clean close.
    pub(crate) fn finish(mut self) -> Result<()> {
        if self.has_uncommitted() {
            self.commit()?;
        }
        let dir = self.dir.take();
        self.writer.wait_merging_threads().map_err(view_error("wait for merges"))?;
        // Commits skip fdatasync (see `directory.rs`); a clean close does
        // one pass, so that only a crash can cost a rebuild.
        if let Some(dir) = dir {
            super::directory::sync_files(&dir).map_err(|source| Error::Io {
                context: format!("fdatasync the search index in {}", dir.display()),
                source,
            })?;
        }
        Ok(())
    }

    /// Deletes the document of one version: the one holding both terms.
    fn delete_version(&mut self, id: &str, version: u32) -> Result<()> {
        let term_query = |term| -> Box<dyn Query> { Box::new(TermQuery::new(term, IndexRecordOption::Basic)) };
        let both = BooleanQuery::intersection(vec![
            term_query(Term::from_field_text(self.fields.id, id)),
            term_query(Term::from_field_u64(self.fields.version, u64::from(version))),
        ]);
        self.writer.delete_query(Box::new(both)).map_err(view_error("delete document"))?;
        self.pending_ops += 1;
        Ok(())
    }

    fn add(&mut self, doc: TantivyDocument) -> Result<()> {
        self.writer.add_document(doc).map_err(view_error("add document"))?;
        self.pending_ops += 1;
        Ok(())
    }

    /// Ends the current version of `id` (if any) at `to_offset`.
    fn end_current(&mut self, id: &str, to_offset: u64, log: &Log) -> Result<()> {
        let current = match self.uncommitted.get(id) {
            Some(current) => current.iter().copied().collect(),
            None => self.committed_view.current(&self.fields, id)?,
        };
        self.end_versions(id, current, to_offset, log)
    }

    /// Ends the version of `id` applied since the last commit, if any.
    fn end_uncommitted(&mut self, id: &str, to_offset: u64, log: &Log) -> Result<()> {
        let current = self.uncommitted.get(id).copied().flatten();
        self.end_versions(id, current.into_iter().collect(), to_offset, log)
    }

    fn end_versions(&mut self, id: &str, current: Vec<Current>, to_offset: u64, log: &Log) -> Result<()> {
        for current in current {
            self.delete_version(id, current.version)?;
            match log.read(current.from_offset) {
                Ok(record) if record.kind == kind::PUT => {
                    let record = RecordRef {
                        offset: record.offset,
                        timestamp_us: record.timestamp_us,
                        kind: record.kind,
                        flags: record.flags,
                        payload: &record.payload,
                    };
                    let doc = VersionDoc::from_put(record, self.options.index_data_text)?;
                    self.add(doc.to_document(&self.fields, to_offset))?;
                }
                // Compaction pruned the put (an audit stub now holds its
                // offset) or purged it (a gap): the version is gone from the
                // log, so it goes from the index too, as a rebuild would have it.
                Ok(_) | Err(LogError::OffsetNotFound { .. }) => {
                    tracing::debug!(id, version = current.version, "superseded version no longer in the log");
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

/// The last commit, with the fast-field columns the current-version lookup reads.
struct CommittedView {
    searcher: Searcher,
    /// Per segment: `version`, `from_offset`, `to_offset`.
    columns: Vec<[Column<u64>; 3]>,
}

impl CommittedView {
    fn new(searcher: Searcher) -> Result<Self> {
        let columns = searcher
            .segment_readers()
            .iter()
            .map(|segment| {
                let fast = segment.fast_fields();
                let column = |name: &str| fast.u64(name).map_err(view_error("open fast field"));
                Ok([
                    column(schema::name::VERSION)?,
                    column(schema::name::FROM_OFFSET)?,
                    column(schema::name::TO_OFFSET)?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { searcher, columns })
    }

    /// The committed documents of `id` that are still current: one or none,
    /// or two after a purge forgot the id and it was put again (see `apply`).
    fn current(&self, fields: &Fields, id: &str) -> Result<Vec<Current>> {
        let term = Term::from_field_text(fields.id, id);
        let mut found = Vec::new();
        for (segment, [version, from_offset, to_offset]) in self.searcher.segment_readers().iter().zip(&self.columns) {
            let inverted = segment.inverted_index(fields.id).map_err(view_error("open postings"))?;
            let postings =
                inverted.read_postings(&term, IndexRecordOption::Basic).map_err(view_error("read postings"))?;
            let Some(mut postings) = postings else { continue };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !segment.is_deleted(doc) && to_offset.first(doc) == Some(STILL_CURRENT) {
                    let version = version.first(doc).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
                    found.push(Current { version, from_offset: from_offset.first(doc).unwrap_or(0) });
                }
                doc = postings.advance();
            }
        }
        Ok(found)
    }
}
