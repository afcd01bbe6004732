//! Recovery of the active segment on open.
//!
//! Only the active (newest) segment can hold bytes that were never fsynced,
//! so only it is scanned. The rule that separates a torn tail from
//! corruption: a bad frame with no valid frame anywhere after it is the
//! unsynced end of an interrupted append, and is cut; a bad frame followed by
//! a valid later frame was durable once, and is reported, never skipped.

use std::path::Path;

use super::error::LogError;
use super::frame::{Frame, SEGMENT_HEADER_SIZE_BYTES, SegmentHeader};
use super::segment::{IndexBuilder, Numbering, check_header, corruption, describe, index_frames};

/// What the scan of the active segment found.
#[derive(Debug)]
pub(crate) struct ActiveScan {
    /// Position just past the last valid frame.
    pub valid_len_bytes: u64,
    /// Bytes after that: a torn tail to cut.
    pub torn_bytes: u64,
    /// The next offset the log will assign.
    pub next_offset: u64,
    /// Timestamp of the last valid record, 0 if none.
    pub last_timestamp_us: u64,
    /// Sparse index entries of the valid frames.
    pub index: IndexBuilder,
    /// The format version in the segment's header.
    pub format_version: u32,
}

/// Scans the active segment's bytes from its header to the end.
pub(crate) fn scan_active(path: &Path, bytes: &[u8], base_offset: u64) -> Result<ActiveScan, LogError> {
    let header = check_header(path, bytes, base_offset)?;
    let mut index = IndexBuilder::default();
    let walk = index_frames(path, bytes, SEGMENT_HEADER_SIZE_BYTES, base_offset, Numbering::Dense, &mut index)?;
    let (end, expected) = (walk.end, walk.next_offset);
    if let Some(defect) = &end.defect
        && let Some(later) = find_valid_frame_after(bytes, end.end_position, expected)
    {
        let detail = format!("{}; a valid frame follows at byte {later}", describe(defect));
        return Err(corruption(path, end.end_position as u64, Some(expected), detail));
    }
    let valid_len_bytes = end.end_position as u64;
    Ok(ActiveScan {
        valid_len_bytes,
        torn_bytes: bytes.len() as u64 - valid_len_bytes,
        next_offset: expected,
        last_timestamp_us: index.last_timestamp_us,
        index,
        format_version: header.format_version,
    })
}

/// Whether a segment file is a creation that a crash interrupted: too short
/// to hold its header, or holding nothing but a header that fails its checks.
/// Only the newest segment can be one.
pub(crate) fn is_torn_creation(bytes: &[u8]) -> bool {
    bytes.len() < SEGMENT_HEADER_SIZE_BYTES
        || bytes.len() == SEGMENT_HEADER_SIZE_BYTES && SegmentHeader::decode(bytes).is_err()
}

/// Looks for a frame that decodes and continues the log at or after
/// `min_offset`, anywhere after the bad one: byte by byte, because the bad
/// frame's size field cannot be trusted. Runs only when a defect was found.
/// It is the rule that tells a torn tail (nothing valid follows) from
/// corruption, for recovery and verify alike.
pub(crate) fn find_valid_frame_after(bytes: &[u8], bad_position: usize, min_offset: u64) -> Option<usize> {
    (bad_position + 1..bytes.len())
        .find(|&position| Frame::decode(&bytes[position..]).is_ok_and(|frame| frame.first_offset >= min_offset))
}
