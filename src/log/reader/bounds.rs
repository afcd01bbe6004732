//! Batch bounds from frame headers: the fast path of
//! [`Log::batch_end`](crate::log::Log::batch_end) and
//! [`Log::offset_at_time`](crate::log::Log::offset_at_time), which resolve
//! every as-of read.
//!
//! Both questions have frame-sized answers. A batch is one frame (the batch
//! commit rule), so the end of the batch holding an offset is the first
//! offset of the next frame. All records of a frame share one timestamp and
//! timestamps never decrease along the log (segments-format.md,
//! "Timestamps"), so the first record stamped at or after a time is the
//! first record of some frame. Neither needs the records inside a frame, and
//! the checked scan, which pays the crc of every frame it passes (up to
//! 256 MiB for one batch), is kept for when this path cannot decide.
//!
//! From the segment index's floor entry we hop from frame header to frame
//! header by `frame_size_bytes`, reading one frame header and the header of
//! the frame's first record each time (a cache line or two), and no crc.
//! What makes trusting those unchecked fields sound:
//!
//! - The walk is chained to checked data at both ends. Its first frame's
//!   first offset must equal the index entry's offset (the index has its own
//!   crc, or is the writer's in-memory copy), and a frame that ends the
//!   segment must end exactly at the file's end with the segment's last
//!   offset (the index's `last_offset`, or the published next offset).
//! - Each hop is checked against the next frame: a frame of `record_count`
//!   records starting at `first_offset` must be followed by a frame starting
//!   at `first_offset + record_count`. Record offsets are unique, so the only
//!   record header holding that offset is the next frame's first one: a
//!   damaged size field lands anywhere else and fails the check, and so does
//!   a damaged count or first offset. The same check says the frame is
//!   dense, so its last offset is the next frame's first offset minus one.
//!   Compaction with purge leaves gaps, which fail the check: such a segment
//!   goes to the checked scan, as does anything else that does not line up.
//! - The records the answer rests on are then checked by their own crc: for
//!   a batch end, the first records of the frame holding the offset and of
//!   the frame after it; for a time, the first records of the frame found
//!   and of the frame before it (the one stamped before the time).
//!
//! A damaged byte that this path does not read (the middle of a frame, or a
//! frame crc) does not change the answer, which is a bound between batches,
//! not data: the reads that follow check every record they return, and
//! scans and `verify` still report the damage.

use super::active_map::with_active_bytes;
use crate::limits::FRAME_SIZE_BYTES_MAX;
use crate::log::SegmentSet;
use crate::log::error::LogError;
use crate::log::frame::{
    FLAGS_KNOWN, FRAME_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES, decode_record, read_u32,
    read_u64,
};
use crate::log::index::IndexEntry;

/// The end of the batch holding `offset` (one past its last offset), or
/// `None` when the frame headers cannot decide it and the caller must scan.
pub(super) fn batch_end(set: &SegmentSet, offset: u64) -> Result<Option<u64>, LogError> {
    if offset >= set.published.next_offset {
        return Ok(None);
    }
    let sealed = set.sealed.partition_point(|s| s.base_offset <= offset).checked_sub(1).map(|i| &set.sealed[i]);
    if let Some(segment) = sealed.filter(|s| s.index.last_offset >= offset) {
        let Some(entry) = segment.index.floor_by_offset(offset) else { return Ok(None) };
        let chain = Chain::new(segment.bytes(), entry, segment.index.last_offset.checked_add(1));
        return Ok(chain.and_then(|chain| chain.batch_end(offset)));
    }
    if offset < set.active.base_offset {
        // A gap left by compaction at the end of a sealed segment.
        return Ok(None);
    }
    let entry = active_floor_entry(set, |e| e.offset <= offset);
    let end = with_active_bytes(set, |bytes| {
        Chain::new(bytes, entry, Some(set.published.next_offset)).and_then(|chain| chain.batch_end(offset))
    })?;
    Ok(end.flatten())
}

/// The offset of the first record stamped at or after `timestamp_us`, or
/// the published next offset if there is none; `None` when the frame
/// headers cannot decide it and the caller must scan.
pub(super) fn offset_at_time(set: &SegmentSet, timestamp_us: u64) -> Result<Option<u64>, LogError> {
    // The first segment whose last record is stamped at or after the time.
    // Every earlier segment ends before the time, which is what lets this
    // one's first frame be the answer (see `Chain::first_at_time`).
    if let Some(segment) = set.sealed.iter().find(|s| s.index.last_timestamp_us >= timestamp_us) {
        let Some(entry) = segment.index.floor_by_time(timestamp_us) else { return Ok(None) };
        let chain = Chain::new(segment.bytes(), entry, segment.index.last_offset.checked_add(1));
        // The index says a record at or after the time is in this segment:
        // a walk that does not find it goes to the scan.
        return Ok(chain.and_then(|chain| chain.first_at_time(timestamp_us)).flatten());
    }
    let entry = active_floor_entry(set, |e| e.timestamp_us < timestamp_us);
    let found = with_active_bytes(set, |bytes| {
        let chain = Chain::new(bytes, entry, Some(set.published.next_offset));
        chain.and_then(|chain| chain.first_at_time(timestamp_us))
    })?;
    Ok(match found {
        Some(found) => found.map(|found| found.unwrap_or(set.published.next_offset)),
        // An active segment without frames: nothing is stamped that late.
        None => (set.published.segment_base == set.active.base_offset).then_some(set.published.next_offset),
    })
}

/// The last entry of the active segment's in-memory index for which
/// `before` holds, among those the published tail covers; the segment's
/// first frame if there is none.
fn active_floor_entry(set: &SegmentSet, before: impl Fn(&IndexEntry) -> bool) -> IndexEntry {
    let index = set.active.index.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let after = index.partition_point(|e| e.offset < set.published.next_offset && before(e));
    after.checked_sub(1).map(|i| index[i]).unwrap_or(IndexEntry {
        // Compaction never touches the active segment, so its offsets are
        // dense from its base (segments-format.md, "Offsets").
        offset: set.active.base_offset,
        timestamp_us: 0,
        position_bytes: SEGMENT_HEADER_SIZE_BYTES as u64,
    })
}

/// What a frame's header and its first record's header say, unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHead {
    /// Byte position of the frame in its segment.
    position: usize,
    size_bytes: usize,
    record_count: u32,
    /// Offset and timestamp of the frame's first record.
    first_offset: u64,
    first_timestamp_us: u64,
}

impl FrameHead {
    /// Reads the headers at `position`, refusing fields a valid frame
    /// cannot have ("Frame" and "Record" in segments-format.md): a size out
    /// of range or past the end of `bytes`, no records, a durable length
    /// past the frame's own position, a reserved field that is not zero, or
    /// a first record that does not fit in the frame.
    fn read(bytes: &[u8], position: usize) -> Option<Self> {
        let record = position.checked_add(FRAME_HEADER_SIZE_BYTES)?;
        let header = bytes.get(position..record.checked_add(RECORD_HEADER_SIZE_BYTES)?)?;
        let size_bytes = read_u32(header, 4);
        let smallest = (FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES) as u32;
        let record_count = read_u32(header, 8);
        let durable_len_bytes = read_u32(header, 12) as usize;
        let record_header = &header[FRAME_HEADER_SIZE_BYTES..];
        let (flags, record_reserved) = (record_header[17], u16::from_le_bytes([record_header[18], record_header[19]]));
        let payload_size_bytes = read_u32(record_header, 20) as usize;
        let size_bytes = (smallest..=FRAME_SIZE_BYTES_MAX).contains(&size_bytes).then_some(size_bytes as usize)?;
        let fits = position.checked_add(size_bytes).is_some_and(|end| end <= bytes.len())
            && FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES + payload_size_bytes <= size_bytes;
        let valid = fits
            && record_count > 0
            && durable_len_bytes <= position
            && record_reserved == 0
            && flags & !FLAGS_KNOWN == 0;
        valid.then(|| Self {
            position,
            size_bytes,
            record_count,
            first_offset: read_u64(record_header, 0),
            first_timestamp_us: read_u64(record_header, 8),
        })
    }

    fn end_position(&self) -> usize {
        self.position + self.size_bytes
    }

    /// Whether the frame's first record passes its own crc and says what
    /// the unchecked read of its header said.
    fn first_record_checks(&self, bytes: &[u8]) -> bool {
        let record = &bytes[self.position + FRAME_HEADER_SIZE_BYTES..self.end_position()];
        decode_record(record).is_ok_and(|r| r.offset == self.first_offset && r.timestamp_us == self.first_timestamp_us)
    }
}

/// A dense run of frames in one segment's bytes, from an index entry to
/// the end of the segment.
struct Chain<'a> {
    bytes: &'a [u8],
    start: FrameHead,
    /// One past the segment's last offset: what the frame that ends the
    /// segment must end at.
    end_offset: u64,
}

/// One frame the walk passed, and the first offset after it.
#[derive(Debug, Clone, Copy)]
struct Hopped {
    frame: FrameHead,
    /// First offset of the next frame, or the segment's end offset: by the
    /// density check, one past this frame's last offset.
    end_offset: u64,
}

/// Where a walk stopped.
struct Landing {
    /// The frame walked just before `found` (or the last frame, if none
    /// was found); `None` if `found` is the first frame of the walk.
    previous: Option<Hopped>,
    /// The first frame the walk was looking for, if the segment has one.
    found: Option<Hopped>,
}

impl<'a> Chain<'a> {
    /// Starts at the frame an index entry names, if it is where the entry
    /// says and holds the offset the entry says.
    fn new(bytes: &'a [u8], entry: IndexEntry, end_offset: Option<u64>) -> Option<Self> {
        let start = FrameHead::read(bytes, usize::try_from(entry.position_bytes).ok()?)?;
        (start.first_offset == entry.offset).then_some(Self { bytes, start, end_offset: end_offset? })
    }

    /// Hops from frame to frame until `wanted` holds for one, checking each
    /// hop against the next frame (see the module docs); `None` as soon as
    /// something does not line up.
    fn walk(&self, wanted: impl Fn(&Hopped) -> bool) -> Option<Landing> {
        let mut frame = self.start;
        let mut previous = None;
        loop {
            let next_position = frame.end_position();
            let next =
                if next_position < self.bytes.len() { Some(FrameHead::read(self.bytes, next_position)?) } else { None };
            let end_offset = next.map_or(self.end_offset, |n| n.first_offset);
            if frame.first_offset.checked_add(u64::from(frame.record_count)) != Some(end_offset) {
                return None;
            }
            let hopped = Hopped { frame, end_offset };
            if wanted(&hopped) {
                return Some(Landing { previous, found: Some(hopped) });
            }
            let Some(next) = next else { return Some(Landing { previous: Some(hopped), found: None }) };
            previous = Some(hopped);
            frame = next;
        }
    }

    /// The end of the batch holding `offset`, confirmed by the crcs of its
    /// first record and of the first record after it.
    fn batch_end(&self, offset: u64) -> Option<u64> {
        // The walk starts at or below `offset` and every frame it passes is
        // dense, so the first frame ending past `offset` holds it.
        let found = self.walk(|hopped| hopped.end_offset > offset)?.found?;
        let next = found.frame.end_position();
        let next_checks = next == self.bytes.len()
            || FrameHead::read(self.bytes, next).is_some_and(|n| n.first_record_checks(self.bytes));
        (found.frame.first_record_checks(self.bytes) && next_checks).then_some(found.end_offset)
    }

    /// The first offset of the first frame stamped at or after
    /// `timestamp_us` (`Some(None)` if no frame from the start on is),
    /// confirmed by the crcs of its first record and of the first record of
    /// the frame before it.
    fn first_at_time(&self, timestamp_us: u64) -> Option<Option<u64>> {
        let landing = self.walk(|hopped| hopped.frame.first_timestamp_us >= timestamp_us)?;
        let previous_checks = match landing.previous {
            Some(previous) => previous.frame.first_record_checks(self.bytes),
            // The walk's first frame is the answer: only right if nothing
            // earlier in the segment could be, that is, if it is the
            // segment's first frame.
            None => self.start.position == SEGMENT_HEADER_SIZE_BYTES,
        };
        let found_checks = landing.found.is_none_or(|found| found.frame.first_record_checks(self.bytes));
        (previous_checks && found_checks).then_some(landing.found.map(|found| found.frame.first_offset))
    }
}
