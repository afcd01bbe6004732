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
///
/// Corruption (a bad frame with a valid one after it) fails a writable
/// open, which must not append after damage. A `read_only` open instead
/// serves the intact frames before the damage and logs a warning, so reads
/// of everything before it keep working until `verify --repair`.
pub(crate) fn scan_active(
    path: &Path,
    bytes: &[u8],
    base_offset: u64,
    read_only: bool,
) -> Result<ActiveScan, LogError> {
    let header = check_header(path, bytes, base_offset)?;
    let mut index = IndexBuilder::default();
    let walk = index_frames(path, bytes, SEGMENT_HEADER_SIZE_BYTES, base_offset, Numbering::Dense, &mut index)?;
    let (end, expected) = (walk.end, walk.next_offset);
    if let Some(defect) = &end.defect
        && let Some(later) = find_frame_proving_damage(bytes, end.end_position, expected)
    {
        let detail = format!("{}; a valid frame follows at byte {later}", describe(defect));
        let error = corruption(path, end.end_position as u64, Some(expected), detail);
        if !read_only {
            return Err(error);
        }
        tracing::warn!(%error, "reading only the records before the damage; writes refuse until `verify --repair`");
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

/// The position of a valid frame after `bad_position` that proves the
/// bytes there were damaged after they were made durable, or `None` if the
/// bad bytes are a torn tail.
///
/// Unsynced writes may reach the disk in any order, so after a power loss a
/// later frame can survive where an earlier one was lost: that alone proves
/// nothing. A frame does prove damage when it was written while the bytes
/// at `bad_position` were already durable (its `durable_len_bytes` is past
/// them), or when it does not say (0: format 3 and before), the cautious
/// reading. Every valid frame after the bad one is considered, in one pass.
pub(crate) fn find_frame_proving_damage(bytes: &[u8], bad_position: usize, min_offset: u64) -> Option<usize> {
    find_frame_proving_damage_counted(bytes, bad_position, min_offset, &mut SearchCost::default())
}

/// [`find_frame_proving_damage`], adding what it did to `cost`.
pub(crate) fn find_frame_proving_damage_counted(
    bytes: &[u8],
    bad_position: usize,
    min_offset: u64,
    cost: &mut SearchCost,
) -> Option<usize> {
    let mut from = bad_position;
    while let Some(later) = find_valid_frame_counted(bytes, from, min_offset, cost) {
        let frame = &bytes[later..];
        let durable_len_bytes = super::frame::read_u32(frame, 12) as usize;
        if durable_len_bytes == 0 || durable_len_bytes > bad_position {
            return Some(later);
        }
        // Past the frame just found: the next valid one starts after it.
        from = later + super::frame::read_u32(frame, 4) as usize - 1;
    }
    None
}

/// What a search for a valid frame after a bad one cost: every position it
/// looked at, and the bytes it checksummed. Kept so a test can hold the
/// search to one pass over the segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SearchCost {
    /// Positions at which a frame start was considered.
    pub positions_tried: u64,
    /// Bytes handed to a checksum.
    pub bytes_checksummed: u64,
}

/// Looks for a frame that decodes and continues the log at or after
/// `min_offset`, anywhere after the bad one. It must look at every byte,
/// because the bad frame's size field cannot be trusted; but only a
/// position whose headers make a plausible frame (see
/// [`Frame::plausible_start`]) is checksummed, so damage costs one pass
/// over the segment rather than a checksum of the rest of it per byte.
/// Runs only when a defect was found. It is the rule that tells a torn tail
/// (nothing valid follows) from corruption, for recovery and verify alike.
pub(crate) fn find_valid_frame_after(bytes: &[u8], bad_position: usize, min_offset: u64) -> Option<usize> {
    find_valid_frame_counted(bytes, bad_position, min_offset, &mut SearchCost::default())
}

/// [`find_valid_frame_after`], adding what it did to `cost`.
pub(crate) fn find_valid_frame_counted(
    bytes: &[u8],
    bad_position: usize,
    min_offset: u64,
    cost: &mut SearchCost,
) -> Option<usize> {
    (bad_position + 1..bytes.len()).find(|&position| {
        cost.positions_tried += 1;
        let rest = &bytes[position..];
        if !Frame::plausible_start(rest, position, min_offset) {
            return false;
        }
        cost.bytes_checksummed += u64::from(super::frame::read_u32(rest, 4));
        Frame::decode(rest).is_ok_and(|frame| frame.first_offset >= min_offset)
    })
}

#[cfg(test)]
mod tests {
    //! Damage in the active segment used to cost a checksum of the rest of
    //! the segment at almost every byte after it: the search for a valid
    //! frame trusted each size field it read from the damaged bytes, and in
    //! incompressible payloads about one position in a thousand gave a size
    //! that fit. With one 4 KiB page zeroed in a 48 MB segment, every
    //! command spent 13.6 s of CPU. The search now checksums only positions
    //! whose headers make a plausible frame.

    use super::*;
    use crate::log::frame::{RecordRef, encode_frame};
    use crate::log::segment::walk_frames;

    const PAYLOAD_SIZE_BYTES: usize = 256 * 1024;

    /// A segment of frames with incompressible payloads, as compressed
    /// items make them.
    fn segment(frame_count: u64) -> Vec<u8> {
        let header = SegmentHeader { format_version: crate::log::frame::FORMAT_VERSION, base_offset: 0, created_us: 1 };
        let mut bytes = header.encode().to_vec();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut payload = vec![0u8; PAYLOAD_SIZE_BYTES];
        for offset in 0..frame_count {
            for byte in payload.iter_mut() {
                // xorshift64: noise without a dependency.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state.to_le_bytes()[0];
            }
            let record = RecordRef { offset, timestamp_us: offset + 1, kind: 1, flags: 0, payload: &payload };
            encode_frame(&[record], 0, &mut bytes);
        }
        bytes
    }

    #[test]
    fn a_zeroed_page_costs_one_pass_not_a_checksum_per_byte() {
        let mut bytes = segment(24);
        let middle = bytes.len() / 2;
        bytes[middle..middle + 4096].fill(0);
        let end = walk_frames(&bytes, SEGMENT_HEADER_SIZE_BYTES, |_, _| std::ops::ControlFlow::Continue(()));
        assert!(end.defect.is_some(), "the zeroed page is found");
        let mut cost = SearchCost::default();
        let later = find_valid_frame_counted(&bytes, end.end_position, 0, &mut cost);
        assert!(later.is_some_and(|later| later > middle + 4096), "the frame after the page is found: {later:?}");
        let segment_size_bytes = bytes.len() as u64;
        assert!(cost.positions_tried <= segment_size_bytes, "each position is tried once: {cost:?}");
        assert!(
            cost.bytes_checksummed <= (PAYLOAD_SIZE_BYTES as u64) * 2,
            "only the real frame after the damage is checksummed, not a size read from noise: {cost:?} for a \
             {segment_size_bytes}-byte segment"
        );
    }

    #[test]
    fn noise_after_a_bad_frame_is_a_torn_tail_found_in_one_pass() {
        let mut bytes = segment(4);
        let cut = bytes.len() - PAYLOAD_SIZE_BYTES;
        // Overwrite the last frame's start: its remaining payload is noise.
        bytes[cut..cut + 64].fill(0xff);
        let mut cost = SearchCost::default();
        let end = walk_frames(&bytes, SEGMENT_HEADER_SIZE_BYTES, |_, _| std::ops::ControlFlow::Continue(()));
        assert_eq!(find_valid_frame_counted(&bytes, end.end_position, 0, &mut cost), None);
        assert!(cost.bytes_checksummed <= bytes.len() as u64, "{cost:?}");
    }
}
