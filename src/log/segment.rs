//! One segment file: walking its frames, and opening a sealed one.
//!
//! A sealed segment is immutable and read through a read-only memory map.
//! Any defect inside a sealed segment is corruption: it was fsynced before
//! the next segment was created, so no crash can explain it.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::error::LogError;
use super::frame::{Frame, FrameDefect, SEGMENT_HEADER_SIZE_BYTES, SegmentHeader};
use super::index::{IndexEntry, SegmentIndex};
use super::naming::index_path;
use crate::limits::INDEX_INTERVAL_BYTES;
use crate::storage::{Mapped, OpenMode, Storage};

/// Where a walk over frames stopped.
#[derive(Debug)]
pub(crate) struct WalkEnd {
    /// Position just past the last valid frame visited.
    pub end_position: usize,
    /// Why the walk stopped before the end of the bytes, if it did.
    pub defect: Option<FrameDefect>,
}

/// Visits each valid frame from `start` until the bytes end, a frame fails
/// its checks, or `visit` breaks.
pub(crate) fn walk_frames<'a>(
    bytes: &'a [u8],
    start: usize,
    mut visit: impl FnMut(usize, &Frame<'a>) -> ControlFlow<()>,
) -> WalkEnd {
    let mut position = start;
    while position < bytes.len() {
        match Frame::decode(&bytes[position..]) {
            Ok(frame) => {
                if visit(position, &frame).is_break() {
                    return WalkEnd { end_position: position, defect: None };
                }
                position += frame.size_bytes;
            }
            Err(defect) => return WalkEnd { end_position: position, defect: Some(defect) },
        }
    }
    WalkEnd { end_position: position, defect: None }
}

/// Collects sparse index entries while frames are appended or walked.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexBuilder {
    pub entries: Vec<IndexEntry>,
    pub last_offset: Option<u64>,
    pub last_timestamp_us: u64,
}

impl IndexBuilder {
    pub fn observe(&mut self, position_bytes: u64, frame: &Frame<'_>) {
        let last_timestamp_us = frame.records().last().map_or(frame.first_timestamp_us, |r| r.timestamp_us);
        self.observe_span(
            position_bytes,
            frame.first_offset,
            frame.first_timestamp_us,
            frame.last_offset,
            last_timestamp_us,
        );
    }

    /// Like `observe`, for a frame whose span the caller already knows: the
    /// append path, which would otherwise decode (and checksum) its own frame again.
    pub fn observe_span(
        &mut self,
        position_bytes: u64,
        first_offset: u64,
        first_timestamp_us: u64,
        last_offset: u64,
        last_timestamp_us: u64,
    ) {
        let due = self.entries.last().is_none_or(|e| position_bytes - e.position_bytes >= INDEX_INTERVAL_BYTES);
        if due {
            self.entries.push(IndexEntry { offset: first_offset, timestamp_us: first_timestamp_us, position_bytes });
        }
        self.last_offset = Some(last_offset);
        self.last_timestamp_us = last_timestamp_us;
    }

    pub fn finish(self, base_offset: u64, segment_size_bytes: u64) -> Option<SegmentIndex> {
        Some(SegmentIndex {
            base_offset,
            segment_size_bytes,
            last_offset: self.last_offset?,
            last_timestamp_us: self.last_timestamp_us,
            entries: self.entries,
        })
    }
}

/// A segment that is no longer appended to.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub map: Mapped,
    pub index: SegmentIndex,
}

impl SealedSegment {
    /// Maps the segment, checks its header, and loads or rebuilds its index.
    /// `write_index` is false for read-only opens, which write nothing.
    pub fn open(
        storage: &dyn Storage,
        log_dir: &Path,
        path: PathBuf,
        base_offset: u64,
        write_index: bool,
    ) -> Result<Self, LogError> {
        let map = map_file(storage, &path)?;
        check_header(&path, &map, base_offset)?;
        let idx_path = index_path(log_dir, base_offset);
        let index = match SegmentIndex::load(storage, &idx_path, base_offset, map.len() as u64) {
            Some(index) => index,
            None => {
                let index = rebuild_index(&path, &map, base_offset)?;
                if write_index {
                    write_derived(storage, &idx_path, &index.encode());
                }
                index
            }
        };
        Ok(Self { base_offset, path, map, index })
    }

    /// The frames' bytes, header included; positions index into this.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// Maps a whole file read-only (see `storage::Disk`'s map for why that is sound).
pub(crate) fn map_file(storage: &dyn Storage, path: &Path) -> Result<Mapped, LogError> {
    let file = storage.open(path, OpenMode::Read).map_err(LogError::io(path, "open", 0))?;
    let len_bytes = file.len_bytes().map_err(LogError::io(path, "stat", 0))?;
    let len_bytes =
        usize::try_from(len_bytes).map_err(|_| corruption(path, len_bytes, None, "segment too large to map".into()))?;
    file.map(len_bytes).map_err(LogError::io(path, "mmap", 0))
}

/// Checks the header at the start of a segment's bytes.
pub(crate) fn check_header(path: &Path, bytes: &[u8], base_offset: u64) -> Result<SegmentHeader, LogError> {
    let header = SegmentHeader::decode(bytes).map_err(|detail| corruption(path, 0, Some(base_offset), detail))?;
    if header.base_offset != base_offset {
        let detail = format!("header base_offset={} but file name says {base_offset}", header.base_offset);
        return Err(corruption(path, 0, Some(base_offset), detail));
    }
    Ok(header)
}

/// Walks a whole sealed segment; any defect is corruption.
pub(crate) fn rebuild_index(path: &Path, bytes: &[u8], base_offset: u64) -> Result<SegmentIndex, LogError> {
    let mut builder = IndexBuilder::default();
    let walk = index_frames(path, bytes, SEGMENT_HEADER_SIZE_BYTES, base_offset, Numbering::Increasing, &mut builder)?;
    if let Some(defect) = walk.end.defect {
        return Err(corruption(path, walk.end.end_position as u64, Some(walk.next_offset), describe(&defect)));
    }
    builder.finish(base_offset, bytes.len() as u64).ok_or_else(|| {
        corruption(path, SEGMENT_HEADER_SIZE_BYTES as u64, Some(base_offset), "sealed segment holds no frames".into())
    })
}

/// How the frames of a segment must number their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbering {
    /// Each frame starts where the one before it ended: the active segment,
    /// which appends fill densely and compaction never rewrites.
    Dense,
    /// Increasing, with gaps where compaction dropped records: a sealed segment.
    Increasing,
}

/// Where [`index_frames`] stopped, and the offset the next frame would carry.
#[derive(Debug)]
pub(crate) struct IndexedWalk {
    /// Where the walk stopped, and the defect that stopped it, if any.
    pub end: WalkEnd,
    /// One past the last record of the last valid frame (`expected` if none).
    pub next_offset: u64,
}

/// Walks the frames from `start` into `index`, checking that they number
/// their records from `expected` on as `numbering` says. A frame numbered
/// otherwise is corruption of `path`; a frame that fails its checks ends the
/// walk, and the caller decides whether it is a torn tail.
pub(crate) fn index_frames(
    path: &Path,
    bytes: &[u8],
    start: usize,
    expected: u64,
    numbering: Numbering,
    index: &mut IndexBuilder,
) -> Result<IndexedWalk, LogError> {
    let mut next_offset = expected;
    let mut misnumbered = None;
    let end = walk_frames(bytes, start, |position, frame| {
        let in_order = match numbering {
            Numbering::Dense => frame.first_offset == next_offset,
            Numbering::Increasing => frame.first_offset >= next_offset,
        };
        if !in_order {
            misnumbered = Some((position, frame.first_offset));
            return ControlFlow::Break(());
        }
        next_offset = frame.last_offset + 1;
        index.observe(position as u64, frame);
        ControlFlow::Continue(())
    });
    if let Some((position, found)) = misnumbered {
        let relation = if numbering == Numbering::Dense { "" } else { "at least " };
        let detail = format!("frame first_offset={found} expected {relation}{next_offset}");
        return Err(corruption(path, position as u64, Some(next_offset), detail));
    }
    Ok(IndexedWalk { end, next_offset })
}

/// Writes a derived file without fsync: a torn one fails its checksum and is rebuilt.
pub(crate) fn write_derived(storage: &dyn Storage, path: &Path, bytes: &[u8]) {
    let written = storage.open(path, OpenMode::CreateTruncate).and_then(|file| file.write_all_at(bytes, 0));
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "could not write derived index; it will be rebuilt on next open");
    }
}

pub(crate) fn describe(defect: &FrameDefect) -> String {
    match defect {
        FrameDefect::Incomplete { needed_bytes, available_bytes } => {
            format!("incomplete frame: needed_bytes={needed_bytes} available_bytes={available_bytes}")
        }
        FrameDefect::Invalid(detail) => detail.clone(),
    }
}

pub(crate) fn corruption(path: &Path, position_bytes: u64, offset: Option<u64>, detail: String) -> LogError {
    LogError::Corruption { path: path.to_path_buf(), position_bytes, offset, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::frame::{RecordRef, encode_frame};

    /// A segment body from `start`: one single-record frame per offset.
    fn frames(start: usize, offsets: &[u64]) -> Vec<u8> {
        let mut bytes = vec![0u8; start];
        for &offset in offsets {
            let record = RecordRef { offset, timestamp_us: offset, kind: 1, flags: 0, payload: b"x" };
            encode_frame(&[record], 0, &mut bytes);
        }
        bytes
    }

    fn walk(offsets: &[u64], numbering: Numbering) -> Result<IndexedWalk, LogError> {
        let bytes = frames(SEGMENT_HEADER_SIZE_BYTES, offsets);
        index_frames(Path::new("seg"), &bytes, SEGMENT_HEADER_SIZE_BYTES, 10, numbering, &mut IndexBuilder::default())
    }

    #[test]
    fn dense_numbering_accepts_consecutive_frames_and_reports_the_next_offset() {
        let walk = walk(&[10, 11, 12], Numbering::Dense).expect("dense frames");
        assert_eq!(walk.next_offset, 13);
        assert!(walk.end.defect.is_none());
    }

    #[test]
    fn dense_numbering_calls_a_gap_corruption_at_the_frame_that_skips() {
        let second_frame_position = frames(SEGMENT_HEADER_SIZE_BYTES, &[10]).len() as u64;
        match walk(&[10, 12], Numbering::Dense) {
            Err(LogError::Corruption { position_bytes, offset, detail, .. }) => {
                assert_eq!(position_bytes, second_frame_position);
                assert_eq!(offset, Some(11));
                assert_eq!(detail, "frame first_offset=12 expected 11");
            }
            other => panic!("a gap in the active segment must be corruption, got {other:?}"),
        }
    }

    #[test]
    fn increasing_numbering_accepts_gaps_but_not_a_step_back() {
        assert_eq!(walk(&[10, 15, 20], Numbering::Increasing).expect("gaps are compaction's").next_offset, 21);
        match walk(&[10, 15, 12], Numbering::Increasing) {
            Err(LogError::Corruption { detail, .. }) => {
                assert_eq!(detail, "frame first_offset=12 expected at least 16")
            }
            other => panic!("an offset going back must be corruption, got {other:?}"),
        }
    }
}
