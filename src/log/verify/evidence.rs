//! The highest offset a log ever handed out, as far as its files show:
//! what a repair resumes from, so that no offset is handed out twice.
//!
//! Reads every segment file, damaged or not, and takes the largest of each
//! base offset (the next offset when the segment was created) and one past
//! each frame that still checks out anywhere in it, skipping over damage
//! with the same one-pass search recovery uses. Changes nothing.

use std::ops::ControlFlow;
use std::path::Path;

use crate::log::error::LogError;
use crate::log::frame::SEGMENT_HEADER_SIZE_BYTES;
use crate::log::naming::segment_path;
use crate::log::recovery::find_valid_frame_after;
use crate::log::segment::walk_frames;

/// One past the highest offset any segment in `bases` shows was handed out.
pub(super) fn evidence_next_offset(log_dir: &Path, bases: &[u64]) -> Result<u64, LogError> {
    let mut next_offset = 0;
    for &base in bases {
        let path = segment_path(log_dir, base);
        let bytes = std::fs::read(&path).map_err(LogError::io(&path, "read", 0))?;
        next_offset = next_offset.max(base).max(frames_next_offset(&bytes));
    }
    Ok(next_offset)
}

/// One past the highest offset of any valid frame in `bytes`, 0 if none.
fn frames_next_offset(bytes: &[u8]) -> u64 {
    let mut next_offset = 0;
    let mut position = SEGMENT_HEADER_SIZE_BYTES;
    while position < bytes.len() {
        let end = walk_frames(bytes, position, |_, frame| {
            next_offset = next_offset.max(frame.last_offset.saturating_add(1));
            ControlFlow::Continue(())
        });
        if end.defect.is_none() {
            break;
        }
        match find_valid_frame_after(bytes, end.end_position, 0) {
            Some(later) => position = later,
            None => break,
        }
    }
    next_offset
}
