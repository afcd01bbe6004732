//! The item store: the library API that every surface (CLI, server) calls.
//!
//! Owns the mapping from items, versions, deletes and datasets to log
//! records, and the views built from them. Writes validate against the
//! views, append one batch to the log, apply it to the views, then wait for
//! durability; reads answer from the views and fetch payloads from the log
//! by offset. It never keeps anything that a replay of the log could not
//! rebuild.
//!
//! Visibility: a write is applied to the views before its fdatasync
//! completes, so a concurrent reader in this process may see it a moment
//! before it is acknowledged. It is never acknowledged before it is durable.
//! A read that needs the write's record from the log waits for that
//! fdatasync (see `Store::read_record`); answers from the views alone
//! (query hits, counts, history, stats) do not wait.

mod import;
mod item;
mod json_input;
mod options;
mod query;
mod query_cursor;
mod read;
pub mod views;
mod write;

pub use crate::log::format_timestamp;
pub use import::PreservedItem;
pub use item::{Data, ItemMeta, ItemRef, Metadata, ParentRef, validate_name};
pub use json_input::{JsonInputError, parse_json};
pub(crate) use json_input::{check_depth, from_document};
pub use options::StoreOptions;
pub use query::{Query, QueryHit, parse_time};
pub use query_cursor::QueryCursor;
pub(crate) use read::dataset_object;
pub use read::{
    ConsumerGroup, Dataset, DatasetSummary, Direction, HistoryEntry, ItemData, LineageEntry, PrunedMark, StoreStats,
};
pub use write::{DatasetRef, NewItem};

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Error, Result};
use crate::log::{Log, LogError, Record};
use crate::storage::Storage;
use views::{Views, checkpoint};

/// Name of the log folder inside the data directory.
pub const LOG_DIR_NAME: &str = "log";
/// Name of the views folder (checkpoints) inside the data directory.
pub const VIEWS_DIR_NAME: &str = "views";

/// The first `@N` that reads exactly after a compaction with horizon
/// `horizon_offset`, the first offset an exact read must see past: as-of
/// `@N` sees at least the records below N + 1.
pub(crate) fn earliest_exact_as_of(horizon_offset: u64) -> u64 {
    horizon_offset.saturating_sub(1)
}

/// An open store. `Send + Sync`: share it behind an `Arc`.
///
/// ```
/// use recstore::{Store, StoreOptions, Data, Metadata};
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreOptions::default())?;
/// let metadata = Metadata { item_type: Some("sensor_reading".into()), tags: vec!["raw_data".into()], ..Default::default() };
/// let stored = store.put(Data::Json(serde_json::json!({"temperature": 21.5})), metadata)?;
/// assert_eq!(stored.version, 1);
/// assert_eq!(store.get(&stored.id)?.json()?, serde_json::json!({"temperature": 21.5}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Store {
    dir: PathBuf,
    options: StoreOptions,
    /// The search view, which sits above the store and is attached by
    /// [`crate::facade`]; `None` if it could not be opened (the reason was
    /// logged). Declared before `log` so that it drops first: its follower
    /// thread indexes the log's tail before it stops.
    pub(crate) search: Option<Follower>,
    // Shared with the search view's follower thread, which holds it weakly.
    log: std::sync::Arc<Log>,
    views: RwLock<Views>,
    writer: Mutex<()>,
    records_since_checkpoint: AtomicU64,
}

/// A view above the store that follows its log on a thread of its own: held
/// by the store so that it lives and drops with it, and known only to the
/// layer that made it (it downcasts).
pub(crate) type Follower = std::sync::Arc<dyn std::any::Any + Send + Sync>;

impl Store {
    /// Opens the store's own part in `dir` (created on first write), loading
    /// the checkpoint if it is usable and replaying the log after it; the
    /// facade's [`Store::open`] attaches the views above.
    pub(crate) fn open_views(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let log = std::sync::Arc::new(Log::open(&dir.join(LOG_DIR_NAME), options.log_options())?);
        // Records the checkpoint did not cover count as unsaved work: a
        // store opened by a replay writes a checkpoint when it closes, and
        // the next open does not replay them again.
        let (views, records_replayed) = load_views(&*options.storage, &dir.join(VIEWS_DIR_NAME), &log)?;
        Ok(Self {
            dir,
            options,
            log,
            views: RwLock::new(views),
            writer: Mutex::new(()),
            records_since_checkpoint: AtomicU64::new(records_replayed),
            search: None,
        })
    }

    /// After a failed write or fsync, recovers the log's tail from disk as
    /// an open would and accepts writes again, bringing the views up to the
    /// recovered log (see [`Log::reopen_writes`]). Fails, with writes still
    /// refused, while the disk keeps refusing, or if the views hold records
    /// the recovered log lost (only a new open rebuilds them).
    pub fn reopen_writes(&self) -> Result<()> {
        let _writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let next_offset = self.log.reopen_writes()?;
        let mut views = self.views.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if views.state.next_offset > next_offset {
            let cause = format!(
                "the views cover offsets below {} but the recovered log ends at {next_offset}; \
                 reopen the store to rebuild them",
                views.state.next_offset
            );
            return Err(Error::Log(crate::log::LogError::Poisoned { cause }));
        }
        replay(&mut views, &self.log)?;
        Ok(())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// The underlying log, for replay and streaming.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The log, shared: for views above the store that follow it.
    pub(crate) fn shared_log(&self) -> &std::sync::Arc<Log> {
        &self.log
    }

    /// Writes a checkpoint of the views covering every record applied so far.
    ///
    /// Only the serialization holds the views' read lock, which writers
    /// wait for to apply their records; the file write, its fsync, the
    /// rename and the directory fsync happen after it is released. The log
    /// is synced after the snapshot and before the file is written: views
    /// are applied before their records' fdatasync, so the snapshot may name
    /// records that a crash could still lose, and a checkpoint must never
    /// cover more than the log will hold after one.
    pub fn checkpoint(&self) -> Result<()> {
        if self.options.read_only {
            return Ok(());
        }
        let views_dir = self.dir.join(VIEWS_DIR_NAME);
        let _writing = checkpoint::WriteGuard::acquire(&views_dir);
        let started = std::time::Instant::now();
        let (encoded, next_offset, records_covered) = {
            let views = self.read_views();
            // Swapped under the lock: a record counted after this was applied
            // after the snapshot, or is counted twice (one spare checkpoint), never missed.
            let records_covered = self.records_since_checkpoint.swap(0, Ordering::Relaxed);
            (checkpoint::encode(&views.state), views.state.next_offset, records_covered)
        };
        let encode_us = started.elapsed().as_micros();
        let written = encoded.and_then(|bytes| {
            self.log.sync().map_err(|e| e.to_string())?;
            checkpoint::write(&*self.options.storage, &views_dir, &bytes)?;
            Ok(bytes.len())
        });
        match written {
            Ok(size_bytes) => {
                let total_us = started.elapsed().as_micros();
                tracing::debug!(next_offset, size_bytes, encode_us, total_us, "checkpoint written");
                Ok(())
            }
            Err(detail) => {
                self.records_since_checkpoint.fetch_add(records_covered, Ordering::Relaxed);
                Err(Error::View { what: "checkpoint", detail })
            }
        }
    }

    /// Records applied since the last checkpoint: what an open would replay.
    pub fn records_since_checkpoint(&self) -> u64 {
        self.records_since_checkpoint.load(Ordering::Relaxed)
    }

    /// How long ago the views checkpoint on disk was written; `None` if
    /// there is none.
    pub fn checkpoint_age(&self) -> Option<std::time::Duration> {
        let path = checkpoint::path(&self.dir.join(VIEWS_DIR_NAME));
        std::fs::metadata(path).and_then(|m| m.modified()).ok()?.elapsed().ok()
    }

    /// Makes every write durable and, if the views hold records that the
    /// checkpoint does not cover (written or replayed since it was made),
    /// writes a checkpoint: a clean close. Closing a store that nothing
    /// changed rewrites nothing.
    pub fn close(self) -> Result<()> {
        if self.has_unsaved_records() {
            return self.checkpoint();
        }
        if !self.options.read_only {
            self.log.sync()?;
        }
        Ok(())
    }

    /// Whether the views hold records that the checkpoint does not cover
    /// and that this store may write one for.
    fn has_unsaved_records(&self) -> bool {
        !self.options.read_only && self.records_since_checkpoint.load(Ordering::Relaxed) > 0
    }

    /// Reads the record at `offset` that the views point to.
    ///
    /// Views are applied before a write's fdatasync, so that concurrent
    /// writers can plan against them and share one fdatasync. Under
    /// `SyncMode::Always`, though, the log shows a record to readers only
    /// once it is durable: without this wait, a read (or a writer's dedup
    /// check) racing a put of the same item failed with `OffsetNotFound` for
    /// a record the views already named. Waiting joins the group commit, so
    /// it costs at most the fdatasync the writer is waiting for anyway. In
    /// the other sync modes the log shows records as soon as they are
    /// written, and `wait_durable` returns at once.
    ///
    /// The read is tried first, because asking the log for its tail up
    /// front copies its segment list, a cost every read would pay for a
    /// race that few meet. Any `OffsetNotFound` then waits and retries: the
    /// tail in the error may already have moved past `offset`, and for an
    /// offset that is really gone (compacted) the wait returns at once and
    /// the retry reports it.
    pub(crate) fn read_record(&self, offset: u64, position_bytes: u64) -> Result<Record> {
        match self.log.read_hinted(offset, position_bytes) {
            Err(LogError::OffsetNotFound { .. }) => {
                self.log.wait_durable(offset + 1)?;
                Ok(self.log.read_hinted(offset, position_bytes)?)
            }
            result => Ok(result?),
        }
    }

    pub(crate) fn read_views(&self) -> RwLockReadGuard<'_, Views> {
        self.views.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write_views(&self) -> RwLockWriteGuard<'_, Views> {
        self.views.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn note_records_written(&self, count: u64) {
        let interval = self.options.checkpoint_interval_records;
        let total = self.records_since_checkpoint.fetch_add(count, Ordering::Relaxed) + count;
        if interval > 0
            && total >= interval
            && let Err(error) = self.checkpoint()
        {
            tracing::warn!(%error, "periodic checkpoint failed; the next open replays more of the log");
        }
    }
}

/// Loads the checkpoint if it matches the log, then replays what follows
/// it; also returns how many offsets the replay covered.
fn load_views(storage: &dyn Storage, views_dir: &Path, log: &Log) -> Result<(Views, u64)> {
    let mut views = match checkpoint::load(storage, views_dir) {
        Ok(state) => match checkpoint_matches_log(&state, log) {
            Ok(()) => Views::from_state(state),
            Err(why) => {
                tracing::warn!(%why, "ignoring checkpoint; rebuilding views from the log");
                Views::default()
            }
        },
        Err(checkpoint::CheckpointError::Missing { .. }) => Views::default(),
        Err(why) => {
            tracing::warn!(%why, "ignoring checkpoint; rebuilding views from the log");
            Views::default()
        }
    };
    let replayed = replay(&mut views, log)?;
    Ok((views, replayed))
}

fn checkpoint_matches_log(state: &views::ViewState, log: &Log) -> std::result::Result<(), String> {
    if state.next_offset > log.next_offset() {
        return Err(format!(
            "checkpoint covers offsets to {} but the log ends at {}",
            state.next_offset,
            log.next_offset()
        ));
    }
    if state.next_offset == 0 {
        return Ok(());
    }
    match log.read(state.next_offset - 1) {
        Ok(record) if record.timestamp_us == state.last_timestamp_us => Ok(()),
        Ok(record) => Err(format!(
            "record {} has timestamp {} but the checkpoint expects {}: another log",
            state.next_offset - 1,
            record.timestamp_us,
            state.last_timestamp_us
        )),
        Err(error) => Err(format!("checkpoint's last record cannot be read: {error}")),
    }
}

/// Applies every record from the views' next offset to the log's tail;
/// returns how many offsets that covered.
fn replay(views: &mut Views, log: &Log) -> Result<u64> {
    let from = views.state.next_offset;
    let mut failure = None;
    let mut scan = |views: &mut Views| {
        log.scan_positioned(from, |record, position| match views.apply(record, position) {
            Ok(()) => ControlFlow::Continue(()),
            Err(detail) => {
                failure = Some(Error::BadRecord { offset: record.offset, detail });
                ControlFlow::Break(())
            }
        })
    };
    // A tail longer than the item table: building the indices once is cheaper.
    let tail_records = usize::try_from(log.next_offset().saturating_sub(from)).unwrap_or(usize::MAX);
    if tail_records > views.state.items.len() {
        views.with_indices_deferred(tail_records, scan)?;
    } else {
        scan(views)?;
    }
    match failure {
        Some(error) => Err(error),
        None => {
            tracing::debug!(from, to = views.state.next_offset, "views replayed");
            Ok(views.state.next_offset - from)
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.has_unsaved_records()
            && let Err(error) = self.checkpoint()
        {
            tracing::warn!(%error, "checkpoint on close failed; the next open replays the log");
        }
    }
}
