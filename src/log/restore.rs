//! Copying a prefix of the log into a new directory: the log half of a
//! point-in-time restore.
//!
//! Sealed segments wholly below the cut are hard-linked (copied if the
//! filesystem refuses), which is safe because sealed segments are never
//! modified in place: compaction replaces them by rename, leaving a link's
//! inode untouched. The segment holding the cut is copied up to the frame
//! boundary, and the last piece is always copied. Every copied piece stays
//! sealed, and the copy gets a new, empty active segment at the cut: the restored store appends only there, never
//! into an inode it shares with the source, and a compacted piece (whose
//! offsets may have gaps) is never asked to be dense like an active segment.

use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

use super::error::LogError;
use super::frame::{FORMAT_VERSION, SEGMENT_HEADER_SIZE_BYTES, SegmentHeader};
use super::naming::{index_path, segment_path};
use super::segment::walk_frames;
use super::{Log, reader};

/// What [`Log::copy_prefix`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Segments hard-linked whole.
    pub segments_linked: usize,
    /// Segments copied (whole, or cut at the boundary).
    pub segments_copied: usize,
    /// Bytes of segments in the copy.
    pub bytes: u64,
}

impl Log {
    /// Writes the records below `next_offset` (which must be a batch
    /// boundary, see [`Log::batch_end`]) as a new log in `into_log_dir`.
    pub fn copy_prefix(&self, next_offset: u64, into_log_dir: &Path) -> Result<CopyReport, LogError> {
        std::fs::create_dir_all(into_log_dir).map_err(LogError::io(into_log_dir, "create_dir_all", 0))?;
        let set = self.snapshot();
        // (base, path, bytes, sealed): only sealed files may be linked; the
        // active one keeps growing after the snapshot.
        let mut pieces: Vec<(u64, &Path, &[u8], bool)> = set
            .sealed
            .iter()
            .filter(|s| s.base_offset < next_offset)
            .map(|s| (s.base_offset, s.path.as_path(), s.bytes(), true))
            .collect();
        let active_map = reader::map_active(&set)?;
        if set.active.base_offset < next_offset
            && let Some(map) = &active_map
        {
            pieces.push((set.active.base_offset, set.active.path.as_path(), map, false));
        }
        let mut report = CopyReport::default();
        let piece_count = pieces.len();
        for (index, (base, path, bytes, sealed)) in pieces.into_iter().enumerate() {
            let cut = cut_position(bytes, next_offset);
            if cut <= SEGMENT_HEADER_SIZE_BYTES {
                break;
            }
            let target = segment_path(into_log_dir, base);
            let whole = cut == bytes.len();
            // The last piece is always copied: should the new active
            // segment below never be written, the copy's newest file is
            // then its own inode, never one of the source's.
            let last = index + 1 == piece_count;
            if whole && sealed && !last && std::fs::hard_link(path, &target).is_ok() {
                let _ = std::fs::hard_link(index_path(self.dir(), base), index_path(into_log_dir, base));
                report.segments_linked += 1;
            } else {
                write_synced(&target, &bytes[..cut])?;
                report.segments_copied += 1;
            }
            report.bytes += cut as u64;
            if !whole {
                break;
            }
        }
        if report.segments_linked + report.segments_copied > 0 {
            let created_us = super::clock::system_now_us();
            let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset: next_offset, created_us };
            write_synced(&segment_path(into_log_dir, next_offset), &header.encode())?;
        }
        File::open(into_log_dir).and_then(|d| d.sync_all()).map_err(LogError::io(into_log_dir, "fsync dir", 0))?;
        // The copy is a log of its own: it lists the segments it holds.
        super::manifest::rebuild(&crate::storage::Disk, into_log_dir)?;
        Ok(report)
    }
}

/// Position of the first frame holding offsets at or past `next_offset`,
/// or the end of the bytes.
fn cut_position(bytes: &[u8], next_offset: u64) -> usize {
    let mut cut = None;
    let end = walk_frames(bytes, SEGMENT_HEADER_SIZE_BYTES, |position, frame| {
        if frame.first_offset >= next_offset {
            cut = Some(position);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    cut.unwrap_or(end.end_position)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let mut file = File::create(path).map_err(LogError::io(path, "create", 0))?;
    file.write_all(bytes).map_err(LogError::io(path, "write", 0))?;
    file.sync_all().map_err(LogError::io(path, "fsync", 0))
}
