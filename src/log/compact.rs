//! Rewriting sealed segments: the log's half of compaction.
//!
//! Owns the swap of one sealed segment file for a rewritten one with the
//! same base offset, and nothing about what records mean: the caller decides,
//! record by record, to keep, replace or drop. Surviving records keep their
//! offsets and timestamps, and each original frame's survivors become one
//! frame, so a batch is never split across frames. The file-level steps and
//! the crash argument are in `segments-format.md` ("Compaction").
//!
//! Readers never wait for a rewrite. They hold `Arc<SealedSegment>`s with
//! memory maps; the swap replaces the entry in the segment set (under its
//! lock, for a pointer swap only) and leaves old maps alone. Renaming the new
//! file over the old one unlinks the old inode from the directory, but the
//! kernel keeps it until the last map of it is gone: "old files are removed
//! once no reader maps them" is what rename already does for us. The writer
//! lock is never taken: appends only touch the active segment, which is never
//! rewritten.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::Inner;
use super::error::LogError;
use super::frame::{
    FORMAT_VERSION, FRAME_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES, RecordRef, SEGMENT_HEADER_SIZE_BYTES,
    SegmentHeader, encode_frame,
};
use super::manifest::Manifest;
use super::naming::index_path;
use super::segment::{IndexBuilder, SealedSegment, corruption, describe, map_file, walk_frames, write_derived};
use crate::storage::{FileHandle, OpenMode, Storage, sync_data, sync_dir, write_all_at};

/// Suffix of a segment being rewritten; never read, removed when found.
pub const COMPACTING_SUFFIX: &str = ".compacting";
/// Bytes buffered before each positioned write of a rewritten segment.
const WRITE_BUFFER_BYTES: usize = 1024 * 1024;
/// A rewrite fdatasyncs its file every this many bytes, so that it never
/// leaves a whole segment of dirty pages for the kernel to write back at
/// once, in front of the fdatasyncs of concurrent appends.
const SYNC_INTERVAL_BYTES: u64 = 4 * 1024 * 1024;
/// After each of those fdatasyncs a rewrite pauses this many times as long
/// as the fdatasync took (at most `SYNC_PAUSE_MAX`), leaving the disk to the
/// fdatasyncs of concurrent appends: compaction is background work, and a
/// rewrite that is bound by the disk then uses about a third of it.
const SYNC_PAUSE_FACTOR: u32 = 2;
/// Longest pause after one interval fdatasync.
const SYNC_PAUSE_MAX: std::time::Duration = std::time::Duration::from_millis(100);

/// What a compaction does with one record of a sealed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordAction {
    /// Copy it unchanged.
    Keep,
    /// Put this record at the same offset and timestamp instead.
    Replace {
        /// The new record's kind.
        kind: u8,
        /// Its flags (`FLAG_COMPRESSED` or 0).
        flags: u8,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// Leave its offset empty: a gap.
    Drop,
}

/// The layer above's side of a compaction pass: it decides, the log rewrites.
pub trait SegmentPlanner {
    /// A sealed segment is about to be read; the calls to `decide` that
    /// follow are about its records, in offset order.
    fn begin_segment(&mut self, base_offset: u64) {
        let _ = base_offset;
    }

    /// What to do with one record.
    fn decide(&mut self, record: &RecordRef<'_>) -> RecordAction;

    /// The segment was rewritten (or removed) and readers now see the new one.
    fn swapped(&mut self, rewrite: &SegmentRewrite) {
        let _ = rewrite;
    }

    /// `done` of the pass's `total` sealed segments are finished: read, and
    /// rewritten if anything in them changed. For progress reports.
    fn segment_done(&mut self, done: usize, total: usize) {
        let _ = (done, total);
    }
}

/// One segment that a compaction rewrote or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentRewrite {
    /// The segment's base offset (and file name).
    pub base_offset: u64,
    /// File size before.
    pub size_bytes_before: u64,
    /// File size after; 0 when every record was dropped and the file removed.
    pub size_bytes_after: u64,
    /// Records copied unchanged.
    pub records_kept: u64,
    /// Records replaced at their offset.
    pub records_replaced: u64,
    /// Records dropped.
    pub records_dropped: u64,
    /// `(offset, position_bytes)` of every record in the new file: fresh
    /// read hints for the layer above.
    pub positions: Vec<(u64, u64)>,
}

/// What one pass over the sealed segments did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionPass {
    /// Sealed segments read.
    pub segments_scanned: u64,
    /// Their bytes.
    pub bytes_scanned: u64,
    /// Segments rewritten or removed (their `positions` emptied).
    pub rewrites: Vec<SegmentRewrite>,
}

/// One frame of the segment being planned: its records (borrowed from the
/// segment's map, already checked) and what happens to each.
struct FramePlan<'a> {
    records: Vec<(RecordRef<'a>, RecordAction)>,
}

/// Rewrites every sealed segment whose base offset is below `end_offset`
/// and in which the planner changes anything, one segment at a time.
/// Concurrent calls on one log wait for each other.
pub(crate) fn compact_sealed(
    inner: &Inner,
    end_offset: u64,
    planner: &mut dyn SegmentPlanner,
) -> Result<CompactionPass, LogError> {
    if inner.options.read_only {
        return Err(LogError::ReadOnly { path: inner.log_dir.clone() });
    }
    let _exclusive = DirGuard::acquire(&inner.log_dir);
    remove_leftovers(&*inner.options.storage, &inner.log_dir);
    let segments: Vec<Arc<SealedSegment>> = {
        let set = inner.segments.read().unwrap_or_else(PoisonError::into_inner);
        set.sealed.iter().filter(|s| s.base_offset < end_offset).cloned().collect()
    };
    let mut pass = CompactionPass::default();
    for (index, segment) in segments.iter().enumerate() {
        pass.segments_scanned += 1;
        pass.bytes_scanned += segment.map.len() as u64;
        planner.begin_segment(segment.base_offset);
        let plan = plan_segment(segment, planner)?;
        if plan.iter().any(|frame| frame.records.iter().any(|(_, action)| *action != RecordAction::Keep)) {
            let mut rewrite = rewrite_segment(inner, segment, &plan)?;
            planner.swapped(&rewrite);
            rewrite.positions = Vec::new();
            pass.rewrites.push(rewrite);
        }
        planner.segment_done(index + 1, segments.len());
    }
    Ok(pass)
}

/// Asks the planner about every record of a sealed segment, checking every frame.
fn plan_segment<'a>(
    segment: &'a SealedSegment,
    planner: &mut dyn SegmentPlanner,
) -> Result<Vec<FramePlan<'a>>, LogError> {
    let mut plan = Vec::new();
    let end = walk_frames(segment.bytes(), SEGMENT_HEADER_SIZE_BYTES, |_, frame| {
        let records = frame.records().map(|record| (record, planner.decide(&record))).collect();
        plan.push(FramePlan { records });
        ControlFlow::Continue(())
    });
    match end.defect {
        Some(defect) => Err(corruption(&segment.path, end.end_position as u64, None, describe(&defect))),
        None => Ok(plan),
    }
}

/// The new bytes of a segment, written to `<base>.seg.compacting` as they grow.
struct NewSegment<'a> {
    inner: &'a Inner,
    path: PathBuf,
    file: FileHandle,
    buffer: Vec<u8>,
    written_bytes: u64,
    synced_bytes: u64,
    index: IndexBuilder,
    rewrite: SegmentRewrite,
}

impl NewSegment<'_> {
    fn position_bytes(&self) -> u64 {
        self.written_bytes + self.buffer.len() as u64
    }

    fn write_frame(&mut self, records: &[RecordRef<'_>]) -> Result<(), LogError> {
        let position_bytes = self.position_bytes();
        // 0: the whole file is durable before it is named (see `install`).
        encode_frame(records, 0, &mut self.buffer);
        // The span is known, so the frame is not decoded (and checksummed)
        // again here, as on the append path; every reader checks it.
        let (first, last) = (records[0], records[records.len() - 1]);
        self.index.observe_span(position_bytes, first.offset, first.timestamp_us, last.offset, last.timestamp_us);
        let mut record_position = position_bytes + FRAME_HEADER_SIZE_BYTES as u64;
        for record in records {
            self.rewrite.positions.push((record.offset, record_position));
            record_position += (RECORD_HEADER_SIZE_BYTES + record.payload.len()) as u64;
        }
        if self.buffer.len() >= WRITE_BUFFER_BYTES { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), LogError> {
        let faults = self.inner.options.faults.as_deref();
        write_all_at(&*self.file, faults, &self.buffer, self.written_bytes).map_err(LogError::io(
            &self.path,
            "write",
            self.written_bytes,
        ))?;
        self.written_bytes += self.buffer.len() as u64;
        self.buffer.clear();
        if self.written_bytes - self.synced_bytes >= SYNC_INTERVAL_BYTES {
            let started = std::time::Instant::now();
            sync_data(&*self.file, faults).map_err(LogError::io(&self.path, "fdatasync", self.written_bytes))?;
            self.synced_bytes = self.written_bytes;
            // See SYNC_PAUSE_FACTOR.
            std::thread::sleep((started.elapsed() * SYNC_PAUSE_FACTOR).min(SYNC_PAUSE_MAX));
        }
        Ok(())
    }
}

/// Writes the new segment, swaps it in on disk and in the segment set.
fn rewrite_segment(inner: &Inner, segment: &SealedSegment, plan: &[FramePlan<'_>]) -> Result<SegmentRewrite, LogError> {
    let path = compacting_path(&segment.path);
    let file = inner.options.storage.open(&path, OpenMode::CreateTruncate).map_err(LogError::io(&path, "create", 0))?;
    let mut new = NewSegment {
        inner,
        path,
        file,
        buffer: Vec::with_capacity(WRITE_BUFFER_BYTES + 64 * 1024),
        written_bytes: 0,
        synced_bytes: 0,
        index: IndexBuilder::default(),
        rewrite: SegmentRewrite {
            base_offset: segment.base_offset,
            size_bytes_before: segment.map.len() as u64,
            ..SegmentRewrite::default()
        },
    };
    // Same base offset and creation time, in the newest format: every
    // older record reads the same under it (segments-format.md, "Versioning
    // and compatibility"), and the next compaction then writes it again.
    let old_header = SegmentHeader::decode(&segment.bytes()[..SEGMENT_HEADER_SIZE_BYTES])
        .map_err(|detail| corruption(&segment.path, 0, None, detail))?;
    let header = SegmentHeader { format_version: FORMAT_VERSION, ..old_header };
    new.buffer.extend_from_slice(&header.encode());
    let result = write_frames(&mut new, plan).and_then(|()| new.flush());
    if let Err(error) = result {
        discard(&*inner.options.storage, &new.path);
        return Err(error);
    }
    if new.index.last_offset.is_none() {
        discard(&*inner.options.storage, &new.path);
        remove_segment(inner, segment)?;
        return Ok(new.rewrite);
    }
    install(inner, segment, new)
}

fn write_frames(new: &mut NewSegment<'_>, plan: &[FramePlan<'_>]) -> Result<(), LogError> {
    for frame_plan in plan {
        let survivors: Vec<RecordRef<'_>> = frame_plan
            .records
            .iter()
            .filter_map(|(record, action)| match action {
                RecordAction::Keep => Some(*record),
                RecordAction::Replace { kind, flags, payload } => {
                    Some(RecordRef { kind: *kind, flags: *flags, payload, ..*record })
                }
                RecordAction::Drop => None,
            })
            .collect();
        let rewrite = &mut new.rewrite;
        for (_, action) in &frame_plan.records {
            match action {
                RecordAction::Keep => rewrite.records_kept += 1,
                RecordAction::Replace { .. } => rewrite.records_replaced += 1,
                RecordAction::Drop => rewrite.records_dropped += 1,
            }
        }
        if !survivors.is_empty() {
            new.write_frame(&survivors)?;
        }
    }
    Ok(())
}

/// Makes the new file durable, renames it over the old one, writes its
/// index and swaps it into the segment set. Each step leaves a valid log if
/// a crash follows it (segments-format.md, "Compaction").
fn install(inner: &Inner, old: &SealedSegment, new: NewSegment<'_>) -> Result<SegmentRewrite, LogError> {
    let faults = inner.options.faults.as_deref();
    let storage = &*inner.options.storage;
    let log_dir = &inner.log_dir;
    let size_bytes = new.written_bytes;
    let fail = |error: LogError| {
        discard(storage, &new.path);
        error
    };
    sync_data(&*new.file, faults).map_err(LogError::io(&new.path, "fdatasync", size_bytes)).map_err(fail)?;
    drop(new.file);
    // Read the new file back before it replaces durable data: the check a
    // reader makes, made once more on the writing side. The map stays valid
    // across the rename (same inode) and becomes the new segment's.
    let map = map_file(storage, &new.path).map_err(fail)?;
    check_rewritten(&new.path, &map, &new.index).map_err(fail)?;
    // The old index goes first, durably: a stale index that happened to
    // name the new file's size would be trusted by the next open.
    let idx_path = index_path(log_dir, old.base_offset);
    remove_if_present(storage, &idx_path).map_err(fail)?;
    sync_dir(storage, log_dir, faults).map_err(LogError::io(log_dir, "fsync dir", 0)).map_err(fail)?;
    // The manifest accepts either file while they swap (see `manifest.rs`).
    update_manifest(inner, |m| m.swapping(old.base_offset, size_bytes)).map_err(fail)?;
    storage.rename(&new.path, &old.path).map_err(LogError::io(&new.path, "rename", 0)).map_err(fail)?;
    sync_dir(storage, log_dir, faults).map_err(LogError::io(log_dir, "fsync dir", 0))?;
    update_manifest(inner, |m| m.swapped(old.base_offset, size_bytes))?;
    let index = new.index.finish(old.base_offset, size_bytes).expect("install is only called with records left");
    write_derived(storage, &idx_path, &index.encode());
    assert_eq!(map.len() as u64, size_bytes, "the renamed file is the one just written");
    let sealed = Arc::new(SealedSegment { base_offset: old.base_offset, path: old.path.clone(), map, index });
    replace_in_set(inner, old.base_offset, Some(sealed));
    let mut rewrite = new.rewrite;
    rewrite.size_bytes_after = size_bytes;
    tracing::info!(path = %old.path.display(), size_bytes_before = rewrite.size_bytes_before, size_bytes_after = size_bytes,
        records_replaced = rewrite.records_replaced, records_dropped = rewrite.records_dropped, "segment compacted");
    Ok(rewrite)
}

/// Walks every frame of a rewritten segment; it must end where the file
/// does, at the last offset written.
fn check_rewritten(path: &Path, bytes: &[u8], index: &IndexBuilder) -> Result<(), LogError> {
    let mut last_offset = None;
    let end = walk_frames(bytes, SEGMENT_HEADER_SIZE_BYTES, |_, frame| {
        last_offset = Some(frame.last_offset);
        ControlFlow::Continue(())
    });
    if let Some(defect) = end.defect {
        return Err(corruption(
            path,
            end.end_position as u64,
            None,
            format!("rewritten segment: {}", describe(&defect)),
        ));
    }
    if last_offset != index.last_offset {
        let detail = format!("rewritten segment ends at offset {last_offset:?}, expected {:?}", index.last_offset);
        return Err(corruption(path, end.end_position as u64, last_offset, detail));
    }
    Ok(())
}

/// Every record of the segment was dropped: a sealed segment must hold a
/// frame, so the file goes (segments-format.md, invariant 7).
fn remove_segment(inner: &Inner, segment: &SealedSegment) -> Result<(), LogError> {
    let faults = inner.options.faults.as_deref();
    let storage = &*inner.options.storage;
    remove_if_present(storage, &index_path(&inner.log_dir, segment.base_offset))?;
    // Unlisted first: a crash before the unlink leaves a file that the next
    // open knows for a leftover, never a listed segment gone missing.
    update_manifest(inner, |m| m.remove(segment.base_offset))?;
    storage.remove(&segment.path).map_err(LogError::io(&segment.path, "remove", 0))?;
    sync_dir(storage, &inner.log_dir, faults).map_err(LogError::io(&inner.log_dir, "fsync dir", 0))?;
    replace_in_set(inner, segment.base_offset, None);
    tracing::info!(path = %segment.path.display(), "segment compacted away: every record was dropped");
    Ok(())
}

/// Changes the manifest with `change` and stores it.
fn update_manifest(inner: &Inner, change: impl FnOnce(&mut Manifest)) -> Result<(), LogError> {
    let mut manifest = inner.manifest.lock().unwrap_or_else(PoisonError::into_inner);
    change(&mut manifest);
    manifest.store(&*inner.options.storage, &inner.log_dir, inner.options.faults.as_deref())
}

/// Swaps (or removes) the sealed segment at `base_offset` in what readers see.
fn replace_in_set(inner: &Inner, base_offset: u64, replacement: Option<Arc<SealedSegment>>) {
    let mut set = inner.segments.write().unwrap_or_else(PoisonError::into_inner);
    let index = set.sealed.iter().position(|s| s.base_offset == base_offset);
    let index = index.expect("a segment being compacted stays in the set: compactions of a log are serialised");
    match replacement {
        Some(segment) => set.sealed[index] = segment,
        None => {
            set.sealed.remove(index);
        }
    }
}

fn compacting_path(segment_path: &Path) -> PathBuf {
    let mut name = segment_path.as_os_str().to_os_string();
    name.push(COMPACTING_SUFFIX);
    PathBuf::from(name)
}

fn remove_if_present(storage: &dyn Storage, path: &Path) -> Result<(), LogError> {
    match storage.remove(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(LogError::Io { path: path.to_path_buf(), op: "remove", position_bytes: 0, source: error })
        }
        _ => Ok(()),
    }
}

/// Best-effort removal of a half-written file; one left behind is removed
/// by the next compaction and ignored by everything else.
fn discard(storage: &dyn Storage, path: &Path) {
    if let Err(error) = storage.remove(path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "could not remove a partly written compaction file");
    }
}

/// Removes `*.seg.compacting` files a crash left behind. They were never
/// renamed, so nothing refers to them.
fn remove_leftovers(storage: &dyn Storage, log_dir: &Path) {
    let Ok(names) = storage.list(log_dir) else { return };
    for name in names {
        if name.to_str().is_some_and(|n| n.ends_with(&format!(".seg{COMPACTING_SUFFIX}"))) {
            let path = log_dir.join(name);
            tracing::info!(path = %path.display(), "removing a compaction file a crash left behind");
            discard(storage, &path);
        }
    }
}

/// Serialises compactions of one directory within this process: the log
/// keys it by its log directory, the store by its data directory.
pub(crate) struct DirGuard {
    dir: PathBuf,
}

static COMPACTING_DIRS: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
static COMPACTING_DONE: Condvar = Condvar::new();

impl DirGuard {
    pub(crate) fn acquire(dir: &Path) -> Self {
        let mut dirs = COMPACTING_DIRS.lock().unwrap_or_else(PoisonError::into_inner);
        while dirs.get_or_insert_with(HashSet::new).contains(dir) {
            dirs = COMPACTING_DONE.wait(dirs).unwrap_or_else(PoisonError::into_inner);
        }
        dirs.get_or_insert_with(HashSet::new).insert(dir.to_path_buf());
        Self { dir: dir.to_path_buf() }
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        let mut dirs = COMPACTING_DIRS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(dirs) = dirs.as_mut() {
            dirs.remove(&self.dir);
        }
        COMPACTING_DONE.notify_all();
    }
}
