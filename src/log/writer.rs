//! The write path: open and recover, append with group commit, roll.
//!
//! Lock order, always: `writer` → `commit` → `segments`. The writer lock
//! serialises appends and rolls; the commit lock coordinates fdatasyncs so
//! that concurrent appends share one (group commit); the segments lock
//! guards what readers see and is held only for pointer swaps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};

use super::error::LogError;
use super::frame::{
    FLAGS_KNOWN, FORMAT_VERSION, FRAME_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES, RecordRef,
    SEGMENT_HEADER_SIZE_BYTES, SegmentHeader, encode_frame, frame_size_bytes,
};
use super::index::IndexEntry;
use super::manifest::Manifest;
use super::naming::{index_path, segment_path};
use super::segment::{IndexBuilder, SealedSegment, map_file, write_derived};
use super::syncer::{SyncAheadRequests, wants_sync_ahead};
use super::{Inner, LogOptions, SegmentSet, SyncMode, Tail, lock, recovery};
use crate::limits::{BATCH_RECORD_COUNT_MAX, SEGMENT_SIZE_BYTES_MAX};
use crate::storage::{FileHandle, LockGuard, OpenMode, Storage, StorageFile, sync_data, sync_dir, write_all_at};

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
    active: Arc<ActiveSegment>,
    len_bytes: u64,
    next_offset: u64,
    last_timestamp_us: u64,
    index: IndexBuilder,
    buffer: Vec<u8>,
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
    written_segment: Arc<ActiveSegment>,
    synced_next_offset: u64,
    /// An fdatasync is under way; its leader will announce the outcome.
    syncing: bool,
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

/// The first bytes of a segment file, one past its header: all that
/// `recovery::is_torn_creation` needs (the file itself may be 128 MiB).
fn read_prefix(options: &LogOptions, path: &Path) -> Result<Vec<u8>, LogError> {
    let file = options.storage.open(path, OpenMode::Read).map_err(LogError::io(path, "open", 0))?;
    let len_bytes = file.len_bytes().map_err(LogError::io(path, "stat", 0))?;
    let mut prefix = vec![0; len_bytes.min(SEGMENT_HEADER_SIZE_BYTES as u64 + 1) as usize];
    file.read_exact_at(&mut prefix, 0).map_err(LogError::io(path, "read", 0))?;
    Ok(prefix)
}

pub(crate) fn open_inner(log_dir: &Path, options: LogOptions) -> Result<Inner, LogError> {
    if options.segment_size_bytes > SEGMENT_SIZE_BYTES_MAX {
        let (size, limit) = (options.segment_size_bytes, SEGMENT_SIZE_BYTES_MAX);
        return Err(LogError::TooLarge { what: "segment_size_bytes", size, limit });
    }
    if !options.read_only {
        options.storage.create_dir_all(log_dir).map_err(LogError::io(log_dir, "create_dir_all", 0))?;
    }
    let lock_file = if options.read_only { None } else { Some(lock::acquire(&*options.storage, log_dir)?) };
    let listed = list_segments(&*options.storage, log_dir)?;
    let (bases, manifest) = super::manifest::settle(&options, log_dir, &listed)?;
    let writable = !options.read_only;
    if let Some(&newest) = bases.last() {
        let path = segment_path(log_dir, newest);
        if recovery::is_torn_creation(&read_prefix(&options, &path)?) && writable {
            tracing::warn!(path = %path.display(), "replacing a segment whose creation a crash interrupted");
            options.storage.remove(&path).map_err(LogError::io(&path, "remove", 0))?;
            sync_dir(&*options.storage, log_dir, options.faults.as_deref()).map_err(LogError::io(
                log_dir,
                "fsync dir",
                0,
            ))?;
            // Its name still says which offset comes next, so it is created
            // again rather than dropped. Dropping it would make the sealed
            // segment before it active again, and appending to a sealed
            // segment could write through a hard link into a restored copy
            // (see `restore.rs`); with no older segment, the log would never
            // open again.
            create_segment(log_dir, newest, &options)?;
        }
    }
    let Some((&active_base, sealed_bases)) = bases.split_last() else {
        return create_fresh(log_dir, options, lock_file);
    };
    let sealed = sealed_bases
        .iter()
        .map(|&base| {
            SealedSegment::open(&*options.storage, log_dir, segment_path(log_dir, base), base, writable).map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_chain(&sealed, active_base)?;
    let (active, writer, older_format) = recover_active(log_dir, active_base, &options)?;
    let previous_timestamp = sealed.last().map_or(0, |s| s.index.last_timestamp_us);
    let tail = Tail {
        next_offset: writer.next_offset,
        segment_base: active_base,
        active_len_bytes: writer.len_bytes,
        last_timestamp_us: writer.last_timestamp_us.max(previous_timestamp),
    };
    let mut writer = writer;
    writer.last_timestamp_us = tail.last_timestamp_us;
    let mut inner = assemble(log_dir, options, lock_file, sealed, active, writer, tail);
    *inner.manifest.get_mut().unwrap_or_else(PoisonError::into_inner) = manifest;
    if older_format {
        // Records of this build's format must not land in a file whose
        // header promises an older one, which older builds would then read.
        tracing::info!(base_offset = active_base, "sealing a segment of an older format before appending");
        roll_now(&inner)?;
    }
    Ok(inner)
}

fn assemble(
    log_dir: &Path,
    options: LogOptions,
    lock_file: Option<LockGuard>,
    sealed: Vec<Arc<SealedSegment>>,
    active: Arc<ActiveSegment>,
    writer: Writer,
    tail: Tail,
) -> Inner {
    let commit = CommitState {
        written: tail,
        written_segment: active.clone(),
        synced_next_offset: tail.next_offset,
        syncing: false,
        sync_ahead: SyncAheadRequests::default(),
    };
    let writer = (!options.read_only).then_some(writer);
    Inner {
        log_dir: log_dir.to_path_buf(),
        options,
        writer: Mutex::new(writer),
        segments: RwLock::new(SegmentSet { sealed, active, published: tail }),
        commit: Mutex::new(commit),
        commit_changed: Condvar::new(),
        sync_ahead_wanted: Condvar::new(),
        published_tx: tokio::sync::watch::Sender::new(tail.next_offset),
        failure: Mutex::new(None),
        manifest: Mutex::new(Manifest::default()),
        metrics: super::LogMetrics::default(),
        _lock: lock_file,
    }
}

/// The base offsets of the segment files in `log_dir`, oldest first.
pub(crate) fn list_segments(storage: &dyn Storage, log_dir: &Path) -> Result<Vec<u64>, LogError> {
    let names = match storage.list(log_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(LogError::Io { path: log_dir.into(), op: "read_dir", position_bytes: 0, source: error });
        }
    };
    let mut bases: Vec<u64> =
        names.iter().filter_map(|name| name.to_str().and_then(super::naming::parse_segment_name)).collect();
    bases.sort_unstable();
    Ok(bases)
}

/// Sealed segments must hold increasing, non-overlapping offset ranges.
fn check_chain(sealed: &[Arc<SealedSegment>], active_base: u64) -> Result<(), LogError> {
    let next_bases = sealed.iter().skip(1).map(|s| s.base_offset).chain([active_base]);
    for (segment, next_base) in sealed.iter().zip(next_bases) {
        if segment.index.last_offset >= next_base {
            let detail = format!(
                "last_offset={} overlaps the next segment's base_offset={next_base}",
                segment.index.last_offset
            );
            return Err(super::segment::corruption(&segment.path, 0, Some(segment.index.last_offset), detail));
        }
    }
    Ok(())
}

/// Recovers the newest segment and says whether it holds records in an
/// older format version, which a writer must seal before appending.
fn recover_active(
    log_dir: &Path,
    base: u64,
    options: &LogOptions,
) -> Result<(Arc<ActiveSegment>, Writer, bool), LogError> {
    let path = segment_path(log_dir, base);
    let map = map_file(&*options.storage, &path)?;
    let scan = recovery::scan_active(&path, &map, base, options.read_only)?;
    drop(map);
    let mode = if options.read_only { OpenMode::Read } else { OpenMode::ReadWrite };
    let file = options.storage.open(&path, mode).map_err(LogError::io(&path, "open", 0))?;
    if scan.torn_bytes > 0 && !options.read_only {
        tracing::warn!(path = %path.display(), position_bytes = scan.valid_len_bytes, dropped_bytes = scan.torn_bytes,
            "cutting a torn tail left by an interrupted append");
        file.set_len(scan.valid_len_bytes).map_err(LogError::io(&path, "truncate", scan.valid_len_bytes))?;
    }
    if !options.read_only {
        // Even without a cut: a process that died in `Never` mode may have
        // left its frames in the page cache only, and the frames appended
        // now will say these bytes are durable.
        sync_data(&*file, options.faults.as_deref()).map_err(LogError::io(&path, "fdatasync", scan.valid_len_bytes))?;
    }
    let older_format = scan.format_version < FORMAT_VERSION && !options.read_only;
    if older_format && scan.next_offset == base {
        upgrade_empty_header(&path, &*file, base, options)?;
    }
    let synced_len_bytes = if options.read_only { 0 } else { scan.valid_len_bytes };
    let active = Arc::new(ActiveSegment::new(base, path, file, scan.index.entries.clone(), synced_len_bytes));
    let writer = Writer {
        active: active.clone(),
        len_bytes: scan.valid_len_bytes,
        next_offset: scan.next_offset,
        last_timestamp_us: scan.last_timestamp_us,
        index: scan.index,
        buffer: Vec::new(),
    };
    Ok((active, writer, older_format && scan.next_offset > base))
}

/// Rewrites, in place, the header of a segment of an older format that
/// holds no record. A crash mid-write leaves a header-only file whose
/// header fails its crc: a torn creation, which the next open recreates.
fn upgrade_empty_header(
    path: &Path,
    file: &dyn StorageFile,
    base_offset: u64,
    options: &LogOptions,
) -> Result<(), LogError> {
    let faults = options.faults.as_deref();
    let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset, created_us: options.clock.now_us()? };
    write_all_at(file, faults, &header.encode(), 0).map_err(LogError::io(path, "write", 0))?;
    sync_data(file, faults).map_err(LogError::io(path, "fdatasync", 0))
}

fn create_fresh(log_dir: &Path, options: LogOptions, lock_file: Option<LockGuard>) -> Result<Inner, LogError> {
    let tail = Tail {
        next_offset: 0,
        segment_base: 0,
        active_len_bytes: SEGMENT_HEADER_SIZE_BYTES as u64,
        last_timestamp_us: 0,
    };
    let manifest = Manifest::of_files(&[0], |_| Ok(0))?;
    let active = if options.read_only {
        // An empty read-only log: nothing on disk, nothing to read.
        let path = segment_path(log_dir, 0);
        Arc::new(ActiveSegment::new(0, path, crate::storage::empty_file(), Vec::new(), 0))
    } else {
        let active = create_segment(log_dir, 0, &options)?;
        manifest.store(&*options.storage, log_dir, options.faults.as_deref())?;
        active
    };
    let writer = Writer {
        active: active.clone(),
        len_bytes: tail.active_len_bytes,
        next_offset: 0,
        last_timestamp_us: 0,
        index: IndexBuilder::default(),
        buffer: Vec::new(),
    };
    let read_only_empty = options.read_only;
    let mut inner = assemble(log_dir, options, lock_file, Vec::new(), active, writer, tail);
    *inner.manifest.get_mut().unwrap_or_else(PoisonError::into_inner) = manifest;
    if read_only_empty {
        inner.segments.get_mut().unwrap_or_else(PoisonError::into_inner).published.active_len_bytes = 0;
    }
    Ok(inner)
}

/// Creates a segment file with its header, fsyncs it and the directory.
fn create_segment(log_dir: &Path, base_offset: u64, options: &LogOptions) -> Result<Arc<ActiveSegment>, LogError> {
    let path = segment_path(log_dir, base_offset);
    let faults = options.faults.as_deref();
    // Read before the file exists: a refused reading leaves no 0-byte segment.
    let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset, created_us: options.clock.now_us()? };
    let storage = &*options.storage;
    let file = storage.open(&path, OpenMode::CreateNew).map_err(LogError::io(&path, "create", 0))?;
    write_all_at(&*file, faults, &header.encode(), 0).map_err(LogError::io(&path, "write", 0))?;
    sync_data(&*file, faults).map_err(LogError::io(&path, "fdatasync", 0))?;
    sync_dir(storage, log_dir, faults).map_err(LogError::io(log_dir, "fsync dir", 0))?;
    // The header is durable: its fdatasync just returned.
    Ok(Arc::new(ActiveSegment::new(base_offset, path, file, Vec::new(), SEGMENT_HEADER_SIZE_BYTES as u64)))
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
    let active = create_segment(&inner.log_dir, writer.next_offset, &inner.options).map_err(|e| fail(inner, e))?;
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
