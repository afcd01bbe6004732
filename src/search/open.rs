//! Deciding, on open, whether the index on disk can be caught up or must be
//! rebuilt from the log.
//!
//! Owns the commit payload (what part of the log an index covers) and the
//! checks made against it. The index is a view: whenever it cannot be
//! trusted (missing, unreadable, a damaged file, another schema or option,
//! or a payload that does not match this log) it is deleted and rebuilt,
//! with a warning that says why. It is never repaired in place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::{Index, IndexSettings, IndexWriter};

use super::directory::UnsyncedDirectory;
use super::indexer::Cursor;
use super::schema::{self, SCHEMA_FORMAT};
use super::{OpenOutcome, SearchOptions, view_error};
use crate::error::{Error, Result};
use crate::log::Log;

/// Memory the index writer may buffer before it flushes a segment.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Tantivy's indexing threads. One: the follower thread already builds
/// documents beside it, the store's writer needs a core of its own, and
/// every further thread writes its own segment at each commit, which the
/// merge threads then pay to merge again.
const INDEXING_THREADS: usize = 1;

/// Opens the index writer from a short-lived thread of lowered priority,
/// so that the indexing and merge threads tantivy starts inherit it (see
/// [`crate::background::lower_thread_priority`]).
fn new_writer(index: &Index) -> Result<IndexWriter> {
    let index = index.clone();
    let opener = std::thread::Builder::new()
        .name("recstore-search-open".into())
        .spawn(move || {
            crate::background::lower_thread_priority();
            index.writer_with_num_threads(INDEXING_THREADS, WRITER_MEMORY_BYTES)
        })
        .map_err(|source| Error::Io { context: "start the search writer's thread".into(), source })?;
    let writer = opener.join().map_err(|_| view_error("open index writer")("its thread panicked"))?;
    writer.map_err(view_error("open index writer"))
}

/// What each tantivy commit records about the log, as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// [`SCHEMA_FORMAT`] of the writer.
    pub format: u32,
    /// Every record below this offset is indexed.
    pub next_offset: u64,
    /// Timestamp of the record at `next_offset - 1`, 0 if none.
    pub last_timestamp_us: u64,
    /// Whether data strings went into `text`.
    pub index_data_text: bool,
}

impl Payload {
    pub(crate) fn new(cursor: Cursor, options: SearchOptions) -> Self {
        Self {
            format: SCHEMA_FORMAT,
            next_offset: cursor.next_offset,
            last_timestamp_us: cursor.last_timestamp_us,
            index_data_text: options.index_data_text,
        }
    }

    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn cursor(&self) -> Cursor {
        Cursor { next_offset: self.next_offset, last_timestamp_us: self.last_timestamp_us }
    }
}

/// An index ready to use, and where in the log it stands.
pub(crate) struct Opened {
    pub index: Index,
    /// `None` for a read-only index on disk.
    pub writer: Option<IndexWriter>,
    pub committed: Cursor,
    pub outcome: OpenOutcome,
    /// The folder of an index on disk; `None` in memory.
    pub dir: Option<PathBuf>,
}

/// Opens the index in `search_dir` for writing, rebuilding it from scratch
/// if it cannot be caught up from its payload.
pub(crate) fn open_writable(search_dir: &Path, log: &Log, options: SearchOptions) -> Result<Opened> {
    match check_existing(search_dir, log, options, false) {
        Ok(Some((index, payload))) => {
            let writer = new_writer(&index)?;
            let committed = payload.cursor();
            Ok(Opened {
                index,
                writer: Some(writer),
                committed,
                outcome: OpenOutcome::CaughtUp { from_offset: committed.next_offset },
                dir: Some(search_dir.to_path_buf()),
            })
        }
        Ok(None) => create(search_dir, options, OpenOutcome::Created),
        Err(reason) => {
            tracing::warn!(dir = %search_dir.display(), %reason, "search index unusable; rebuilding it from the log");
            create(search_dir, options, OpenOutcome::Rebuilt { reason })
        }
    }
}

/// Opens the index in `search_dir` for reading only, if it covers at least
/// the log's readable part; otherwise builds one in memory from the log.
pub(crate) fn open_read_only(search_dir: &Path, log: &Log, options: SearchOptions) -> Result<Opened> {
    let reason = match check_existing(search_dir, log, options, true) {
        Ok(Some((index, payload))) if payload.next_offset >= log.next_offset() => {
            let committed = payload.cursor();
            return Ok(Opened {
                index,
                writer: None,
                committed,
                outcome: OpenOutcome::ReadOnly { next_offset: committed.next_offset },
                dir: Some(search_dir.to_path_buf()),
            });
        }
        Ok(Some((_, payload))) => {
            format!("the index covers offsets below {} but the log ends at {}", payload.next_offset, log.next_offset())
        }
        Ok(None) => "no index on disk".to_string(),
        Err(reason) => reason,
    };
    tracing::info!(dir = %search_dir.display(), %reason, "read-only store: building the search index in memory");
    let index = Index::create_in_ram(schema::build());
    super::tokenizer::register(&index);
    let mut writer = new_writer(&index)?;
    commit_empty(&mut writer, options)?;
    Ok(Opened {
        index,
        writer: Some(writer),
        committed: Cursor::default(),
        outcome: OpenOutcome::InMemory { reason },
        dir: None,
    })
}

/// The existing index and its payload if they can be trusted; `Ok(None)`
/// if there is none; `Err` with the reason it cannot be used.
fn check_existing(
    search_dir: &Path,
    log: &Log,
    options: SearchOptions,
    read_only: bool,
) -> std::result::Result<Option<(Index, Payload)>, String> {
    if !search_dir.join("meta.json").exists() {
        return Ok(None);
    }
    let directory =
        if read_only { UnsyncedDirectory::open_read_only(search_dir) } else { UnsyncedDirectory::open(search_dir) };
    let directory = directory.map_err(|e| format!("tantivy cannot open it: {e}"))?;
    let index = Index::open(directory).map_err(|e| format!("tantivy cannot open it: {e}"))?;
    super::tokenizer::register(&index);
    if index.schema() != schema::build() {
        return Err("its schema differs from this build's".to_string());
    }
    let metas = index.load_metas().map_err(|e| format!("meta.json: {e}"))?;
    let payload = metas.payload.as_deref().ok_or("its last commit has no payload")?;
    let payload: Payload = serde_json::from_str(payload).map_err(|e| format!("commit payload {payload:?}: {e}"))?;
    if payload.format != SCHEMA_FORMAT {
        return Err(format!("format={} expected={SCHEMA_FORMAT}", payload.format));
    }
    if payload.index_data_text != options.index_data_text {
        return Err(format!(
            "index_data_text={} but this store asks for {}",
            payload.index_data_text, options.index_data_text
        ));
    }
    payload_matches_log(&payload, log, read_only)?;
    let damaged = index.validate_checksum().map_err(|e| format!("checksum validation failed: {e}"))?;
    if !damaged.is_empty() {
        let mut names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
        names.sort();
        return Err(format!("checksum mismatch in {}", names.join(", ")));
    }
    Ok(Some((index, payload)))
}

/// The index must cover a prefix of this very log. A read-only store sees
/// the log as of its open, so an index ahead of it (kept by a writer in
/// another process) is fine: its searches are bounded by the log anyway.
fn payload_matches_log(payload: &Payload, log: &Log, read_only: bool) -> std::result::Result<(), String> {
    let log_next = log.next_offset();
    if payload.next_offset > log_next {
        if read_only {
            return Ok(());
        }
        return Err(format!(
            "it covers offsets below {} but the log ends at {log_next}: another or a truncated log",
            payload.next_offset
        ));
    }
    if payload.next_offset == 0 {
        return Ok(());
    }
    match log.read(payload.next_offset - 1) {
        Ok(record) if record.timestamp_us == payload.last_timestamp_us => Ok(()),
        Ok(record) => Err(format!(
            "record {} has timestamp_us={} but the index expects {}: another log",
            record.offset, record.timestamp_us, payload.last_timestamp_us
        )),
        Err(error) => Err(format!("the last record it covers cannot be read: {error}")),
    }
}

/// A new, empty index in `search_dir`, replacing whatever was there.
fn create(search_dir: &Path, options: SearchOptions, outcome: OpenOutcome) -> Result<Opened> {
    let io = |context: &str| {
        let context = format!("{context} {}", search_dir.display());
        move |source| Error::Io { context, source }
    };
    if search_dir.exists() {
        std::fs::remove_dir_all(search_dir).map_err(io("remove search index"))?;
    }
    std::fs::create_dir_all(search_dir).map_err(io("create search index directory"))?;
    let directory = UnsyncedDirectory::open(search_dir).map_err(view_error("open index directory"))?;
    let index =
        Index::create(directory, schema::build(), IndexSettings::default()).map_err(view_error("create index"))?;
    super::tokenizer::register(&index);
    let mut writer = new_writer(&index)?;
    commit_empty(&mut writer, options)?;
    Ok(Opened {
        index,
        writer: Some(writer),
        committed: Cursor::default(),
        outcome,
        dir: Some(search_dir.to_path_buf()),
    })
}

/// Commits the empty index with a payload at offset 0, so that every index
/// on disk has one: an index without a payload is always rebuilt.
fn commit_empty(writer: &mut IndexWriter, options: SearchOptions) -> Result<()> {
    let mut prepared = writer.prepare_commit().map_err(view_error("prepare commit"))?;
    prepared.set_payload(&Payload::new(Cursor::default(), options).encode());
    prepared.commit().map_err(view_error("commit"))?;
    Ok(())
}
