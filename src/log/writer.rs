//! The write path: append with group commit, roll. Opening is `open.rs`.
//!
//! Lock order, always: `writer` → `commit` → `segments`. The writer lock
//! serialises appends and rolls; the commit lock coordinates fdatasyncs so
//! that concurrent appends share one (group commit); the segments lock
//! guards what readers see and is held only for pointer swaps.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use super::error::LogError;
use super::frame::{
    FLAGS_KNOWN, FRAME_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES, RecordRef, SEGMENT_HEADER_SIZE_BYTES, encode_frame,
    frame_size_bytes,
};
use super::index::IndexEntry;
use super::naming::index_path;
use super::segment::{IndexBuilder, SealedSegment, map_file, write_derived};
use super::syncer::{SyncAheadRequests, wants_sync_ahead};
use super::{Inner, LogOptions, SyncMode, Tail};
use crate::limits::BATCH_RECORD_COUNT_MAX;
use crate::storage::{FileHandle, sync_data, write_all_at};

/// One record to append; the log assigns its offset and timestamp.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    /// What the record means to the layer above.
    pub kind: u8,
    /// Record flags (`FLAG_COMPRESSED`); unknown bits are refused.
    pub flags: u8,
    /// The payload.
    pub payload: &'a [u8],
}

/// Where an appended batch landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the batch's first record.
    pub first_offset: u64,
    /// Offset of its last record.
    pub last_offset: u64,
    /// Ingestion timestamp shared by the batch's records.
    pub timestamp_us: u64,
    /// Byte position of each record in its segment, for fast point reads.
    pub positions_bytes: Vec<u64>,
}

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub file: FileHandle,
    /// Sparse entries for frames written so far; readers use those below
    /// the published tail only.
    pub index: RwLock<Vec<IndexEntry>>,
    /// Bytes of the file known durable: covered by a finished fdatasync.
    /// Each frame records it, so that recovery can tell a torn tail from
    /// damage to durable bytes (segments-format.md, "Recovery").
    pub synced_len_bytes: AtomicU64,
}

impl ActiveSegment {
    pub(crate) fn new(
        base_offset: u64,
        path: PathBuf,
        file: FileHandle,
        index: Vec<IndexEntry>,
        synced_len_bytes: u64,
    ) -> Self {
        let synced_len_bytes = AtomicU64::new(synced_len_bytes);
        Self { base_offset, path, file, index: RwLock::new(index), synced_len_bytes }
    }

    /// A finished fdatasync covered the first `len_bytes`.
    pub(super) fn note_synced(&self, len_bytes: u64) {
        self.synced_len_bytes.fetch_max(len_bytes, Ordering::AcqRel);
    }
}

/// State only the appending thread touches.
pub(crate) struct Writer {
    pub(super) active: Arc<ActiveSegment>,
    pub(super) len_bytes: u64,
    pub(super) next_offset: u64,
    pub(super) last_timestamp_us: u64,
    pub(super) index: IndexBuilder,
    pub(super) buffer: Vec<u8>,
}

impl Writer {
    pub(super) fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub(super) fn active(&self) -> Arc<ActiveSegment> {
        Arc::clone(&self.active)
    }

    /// Starts over from a tail recovered from disk (see `reopen.rs`).
    pub(super) fn reset(&mut self, tail: Tail, index: IndexBuilder) {
        self.len_bytes = tail.active_len_bytes;
        self.next_offset = tail.next_offset;
        self.last_timestamp_us = tail.last_timestamp_us;
        self.index = index;
    }
}

/// Group-commit state.
pub(crate) struct CommitState {
    /// The tail of what has been written, synced or not.
    pub(super) written: Tail,
    pub(super) written_segment: Arc<ActiveSegment>,
    pub(super) synced_next_offset: u64,
    /// An fdatasync is under way; its leader will announce the outcome.
    pub(super) syncing: bool,
    /// What `append_pending` asks of the sync-ahead thread (`syncer.rs`).
    pub(super) sync_ahead: SyncAheadRequests,
}

impl CommitState {
    pub(super) fn syncing(&self) -> bool {
        self.syncing
    }

    /// Everything up to `tail` is written and durable (see `reopen.rs`).
    pub(super) fn reset(&mut self, tail: Tail, segment: Arc<ActiveSegment>) {
        self.written = tail;
        self.written_segment = segment;
        self.synced_next_offset = tail.next_offset;
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn check_failure(inner: &Inner) -> Result<(), LogError> {
    match lock(&inner.failure).as_ref() {
        Some(cause) => Err(LogError::Poisoned { cause: cause.clone() }),
        None => Ok(()),
    }
}

/// Records the first failure; every later write is refused until reopen.
/// May be called with the commit lock held (failure is the innermost lock).
fn fail(inner: &Inner, error: LogError) -> LogError {
    let mut failure = lock(&inner.failure);
    if failure.is_none() {
        tracing::error!(%error, "log write failed; refusing further writes until reopened");
        *failure = Some(error.to_string());
    }
    drop(failure);
    inner.commit_changed.notify_all();
    error
}

fn check_limits(options: &LogOptions, records: &[NewRecord<'_>]) -> Result<u64, LogError> {
    if records.is_empty() || records.len() > BATCH_RECORD_COUNT_MAX as usize {
        return Err(LogError::BadBatch { count: records.len(), max: BATCH_RECORD_COUNT_MAX });
    }
    for record in records {
        let size = record.payload.len() as u64;
        if size > u64::from(options.record_size_bytes_max) {
            return Err(LogError::TooLarge { what: "record", size, limit: options.record_size_bytes_max.into() });
        }
        assert!(record.flags & !FLAGS_KNOWN == 0, "the layer above set an unknown record flag");
    }
    let size = frame_size_bytes(records.iter().map(|r| r.payload.len()));
    if size > u64::from(options.batch_size_bytes_max) {
        return Err(LogError::TooLarge { what: "batch", size, limit: options.batch_size_bytes_max.into() });
    }
    Ok(size)
}

pub(crate) fn append(inner: &Inner, records: &[NewRecord<'_>]) -> Result<Appended, LogError> {
    // The caller waits at once, with nothing to overlap with the disk, so
    // it leads the fdatasync itself rather than hand it to the sync-ahead
    // thread.
    let appended = write_batch(inner, records, false, None)?;
    wait_durable_for_mode(inner, appended.last_offset + 1)?;
    Ok(appended)
}

/// Waits for durability only where the sync mode promises it per append.
pub(crate) fn wait_durable_for_mode(inner: &Inner, target: u64) -> Result<(), LogError> {
    if inner.options.sync == SyncMode::Always { wait_durable(inner, target) } else { Ok(()) }
}

/// Writes a batch without waiting for its fdatasync; a large batch has its
/// fdatasync started ahead on the sync-ahead thread (`syncer.rs`).
pub(crate) fn append_pending(inner: &Inner, records: &[NewRecord<'_>]) -> Result<Appended, LogError> {
    write_batch(inner, records, true, None)
}

/// Like [`append_pending`], stamping the batch `timestamp_us` instead of
/// now; refused if that is earlier than the last record's timestamp (the
/// log's times never go backwards: as-of reads by time rely on it).
pub(crate) fn append_pending_stamped(
    inner: &Inner,
    records: &[NewRecord<'_>],
    timestamp_us: u64,
) -> Result<Appended, LogError> {
    write_batch(inner, records, true, Some(timestamp_us))
}

/// Writes a batch, and asks the sync-ahead thread to start its fdatasync
/// when `may_sync_ahead` and the batch is large enough to be worth it.
fn write_batch(
    inner: &Inner,
    records: &[NewRecord<'_>],
    may_sync_ahead: bool,
    timestamp_us: Option<u64>,
) -> Result<Appended, LogError> {
    let frame_size_bytes = check_limits(&inner.options, records)?;
    let sync_ahead = may_sync_ahead && wants_sync_ahead(inner.options.sync, records.len(), frame_size_bytes);
    let mut guard = lock(&inner.writer);
    let writer = guard.as_mut().ok_or_else(|| LogError::ReadOnly { path: inner.log_dir.clone() })?;
    check_failure(inner)?;
    // Read before a roll or a write, so that a refused reading changes nothing.
    let now_us = inner.options.clock.now_us()?;
    if let Some(timestamp_us) = timestamp_us.filter(|&t| t < writer.last_timestamp_us) {
        return Err(LogError::TimestampBackwards { timestamp_us, last_timestamp_us: writer.last_timestamp_us });
    }
    if writer.len_bytes >= inner.options.segment_size_bytes && writer.index.last_offset.is_some() {
        roll(inner, writer)?;
    }
    let appended = write_frame(inner, writer, records, timestamp_us.unwrap_or(now_us))?;
    let tail = Tail {
        next_offset: writer.next_offset,
        segment_base: writer.active.base_offset,
        active_len_bytes: writer.len_bytes,
        last_timestamp_us: writer.last_timestamp_us,
    };
    {
        let mut commit = lock(&inner.commit);
        commit.written = tail;
        commit.written_segment = writer.active.clone();
        commit.sync_ahead.requested |= sync_ahead;
    }
    if sync_ahead {
        inner.sync_ahead_wanted.notify_one();
    }
    if inner.options.sync != SyncMode::Always {
        publish(inner, tail);
    }
    Ok(appended)
}

fn write_frame(
    inner: &Inner,
    writer: &mut Writer,
    records: &[NewRecord<'_>],
    now_us: u64,
) -> Result<Appended, LogError> {
    let first_offset = writer.next_offset;
    let timestamp_us = now_us.max(writer.last_timestamp_us);
    let refs: Vec<RecordRef<'_>> = records
        .iter()
        .zip(first_offset..)
        .map(|(r, offset)| RecordRef { offset, timestamp_us, kind: r.kind, flags: r.flags, payload: r.payload })
        .collect();
    writer.buffer.clear();
    let synced_len_bytes = writer.active.synced_len_bytes.load(Ordering::Acquire);
    // Positions fit in u32: see SEGMENT_SIZE_BYTES_MAX.
    let durable_len_bytes = u32::try_from(synced_len_bytes).expect("segments end below 4 GiB");
    encode_frame(&refs, durable_len_bytes, &mut writer.buffer);
    let position = writer.len_bytes;
    let path = &writer.active.path;
    write_all_at(&*writer.active.file, inner.options.faults.as_deref(), &writer.buffer, position).map_err(
        |source| fail(inner, LogError::Io { path: path.clone(), op: "write", position_bytes: position, source }),
    )?;
    // The full decode is a third checksum pass over every byte: debug builds only.
    debug_assert!(super::frame::Frame::decode(&writer.buffer).is_ok(), "a frame we just encoded must decode");
    let last_offset = first_offset + records.len() as u64 - 1;
    writer.index.observe_span(position, first_offset, timestamp_us, last_offset, timestamp_us);
    if writer.index.entries.last().is_some_and(|e| e.position_bytes == position) {
        writer
            .active
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(writer.index.entries[writer.index.entries.len() - 1]);
    }
    let mut positions_bytes = Vec::with_capacity(records.len());
    let mut record_position = position + FRAME_HEADER_SIZE_BYTES as u64;
    for record in records {
        positions_bytes.push(record_position);
        record_position += (RECORD_HEADER_SIZE_BYTES + record.payload.len()) as u64;
    }
    inner.metrics.record_append(records.len(), writer.buffer.len());
    writer.len_bytes += writer.buffer.len() as u64;
    writer.next_offset += records.len() as u64;
    writer.last_timestamp_us = timestamp_us;
    Ok(Appended { first_offset, last_offset: writer.next_offset - 1, timestamp_us, positions_bytes })
}

/// Makes `tail` readable; tails only move forward.
fn publish(inner: &Inner, tail: Tail) {
    let mut set = inner.segments.write().unwrap_or_else(PoisonError::into_inner);
    if tail.next_offset <= set.published.next_offset {
        return;
    }
    assert_eq!(tail.segment_base, set.active.base_offset, "a newer tail must describe the active segment");
    set.published = tail;
    drop(set);
    inner.published_tx.send_replace(tail.next_offset);
}

/// Blocks until every offset below `target` is durable, leading an
/// fdatasync if nobody else is (group commit).
pub(super) fn wait_durable(inner: &Inner, target: u64) -> Result<(), LogError> {
    let mut commit = lock(&inner.commit);
    loop {
        check_failure(inner)?;
        if commit.synced_next_offset >= target {
            return Ok(());
        }
        if commit.syncing {
            commit = inner.commit_changed.wait(commit).unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        commit.syncing = true;
        let (tail, segment) = (commit.written, commit.written_segment.clone());
        drop(commit);
        let started = std::time::Instant::now();
        let result = sync_data(&*segment.file, inner.options.faults.as_deref());
        inner.metrics.record_fsync(started.elapsed());
        commit = lock(&inner.commit);
        commit.syncing = false;
        match result {
            Ok(()) => {
                if tail.segment_base == segment.base_offset {
                    segment.note_synced(tail.active_len_bytes);
                }
                commit.synced_next_offset = commit.synced_next_offset.max(tail.next_offset);
                publish(inner, tail);
                inner.commit_changed.notify_all();
            }
            Err(source) => {
                let position_bytes = tail.active_len_bytes;
                // Poisoned before the commit lock is released: otherwise a
                // waiter arriving in between would find no sync under way
                // and no failure, lead a new fdatasync, and could see it
                // succeed after the kernel dropped the pages this one
                // failed to write, acknowledging data that is not on disk.
                let error =
                    fail(inner, LogError::Io { path: segment.path.clone(), op: "fdatasync", position_bytes, source });
                drop(commit);
                return Err(error);
            }
        }
    }
}

/// fdatasyncs everything written so far.
pub(crate) fn sync_all(inner: &Inner) -> Result<(), LogError> {
    let target = lock(&inner.commit).written.next_offset;
    check_failure(inner)?;
    wait_durable(inner, target)
}

pub(crate) fn roll_now(inner: &Inner) -> Result<(), LogError> {
    let mut guard = lock(&inner.writer);
    let writer = guard.as_mut().ok_or_else(|| LogError::ReadOnly { path: inner.log_dir.clone() })?;
    check_failure(inner)?;
    if writer.index.last_offset.is_some() {
        roll(inner, writer)?;
    }
    Ok(())
}

/// Seals the active segment and creates the next one. Holds the writer lock.
fn roll(inner: &Inner, writer: &mut Writer) -> Result<(), LogError> {
    let faults = inner.options.faults.as_deref();
    let old = writer.active.clone();
    // Sealed segments are always durable, whatever the sync mode: recovery
    // never scans them, so a torn sealed segment would read as corruption.
    sync_data(&*old.file, faults).map_err(|source| {
        fail(inner, LogError::Io { path: old.path.clone(), op: "fdatasync", position_bytes: writer.len_bytes, source })
    })?;
    let index = std::mem::take(&mut writer.index)
        .finish(old.base_offset, writer.len_bytes)
        .expect("roll only seals a segment with records");
    write_derived(&*inner.options.storage, &index_path(&inner.log_dir, old.base_offset), &index.encode());
    let map = map_file(&*inner.options.storage, &old.path).map_err(|e| fail(inner, e))?;
    let sealed = Arc::new(SealedSegment { base_offset: old.base_offset, path: old.path.clone(), map, index });
    let active =
        super::open::create_segment(&inner.log_dir, writer.next_offset, &inner.options).map_err(|e| fail(inner, e))?;
    {
        let mut manifest = lock(&inner.manifest);
        manifest.roll(writer.len_bytes, active.base_offset);
        let storage = &*inner.options.storage;
        manifest.store(storage, &inner.log_dir, faults).map_err(|e| fail(inner, e))?;
    }
    let tail = Tail {
        next_offset: writer.next_offset,
        segment_base: active.base_offset,
        active_len_bytes: SEGMENT_HEADER_SIZE_BYTES as u64,
        last_timestamp_us: writer.last_timestamp_us,
    };
    let mut commit = lock(&inner.commit);
    commit.synced_next_offset = commit.synced_next_offset.max(writer.next_offset);
    commit.written = tail;
    commit.written_segment = active.clone();
    let mut set = inner.segments.write().unwrap_or_else(PoisonError::into_inner);
    set.sealed.push(sealed);
    set.active = active.clone();
    set.published = tail;
    drop(set);
    drop(commit);
    inner.commit_changed.notify_all();
    inner.published_tx.send_replace(tail.next_offset);
    writer.active = active;
    writer.len_bytes = tail.active_len_bytes;
    Ok(())
}
