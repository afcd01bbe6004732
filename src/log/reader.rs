//! The read path: point reads, scans by offset and by time.
//!
//! Readers take a snapshot of the segment set and then never lock again.
//! Sealed segments are read through their memory maps; the active segment
//! is read only up to the published tail, through a fresh map or `pread`.
//! A scan checks every frame it passes; a point read checks the record it
//! returns by the record's own checksum. Either way no record whose
//! checksum failed is ever returned.

use std::ops::ControlFlow;

use super::error::LogError;
use super::frame::{
    FRAME_HEADER_SIZE_BYTES, Frame, RECORD_HEADER_SIZE_BYTES, Record, RecordRef, SEGMENT_HEADER_SIZE_BYTES,
    decode_record, find_record,
};
use super::segment::{corruption, describe, walk_frames};
use super::{Log, SegmentSet};
use crate::storage::Mapped;

pub(crate) mod active_map;
mod bounds;
#[cfg(test)]
mod tests;

impl Log {
    /// Reads the record at `offset`, checking its own checksum.
    pub fn read(&self, offset: u64) -> Result<Record, LogError> {
        let set = self.snapshot();
        if let Some(record) = find_indexed(&set, offset)? {
            return Ok(record);
        }
        self.read_checked(offset)
    }

    /// Reads the record at `offset` by a scan that checks every frame on
    /// the way: slower, but it names what is wrong when something is.
    fn read_checked(&self, offset: u64) -> Result<Record, LogError> {
        let mut found = None;
        self.scan(offset, |record| {
            if record.offset == offset {
                found = Some(record.to_owned());
            }
            ControlFlow::Break(())
        })?;
        found.ok_or_else(|| self.not_found(offset))
    }

    /// Reads the record at `offset`, trying `position_bytes` (as returned by
    /// an append) first: one record checksum instead of a frame scan. Falls
    /// back to [`Log::read`] if the hint is stale, e.g. after compaction.
    pub fn read_hinted(&self, offset: u64, position_bytes: u64) -> Result<Record, LogError> {
        let set = self.snapshot();
        if let Some(record) = read_at_position(&set, offset, position_bytes) {
            return Ok(record);
        }
        self.read(offset)
    }

    /// Calls `visit` for each record from `from_offset` on, in offset order,
    /// until the published tail or until `visit` breaks.
    pub fn scan(
        &self,
        from_offset: u64,
        mut visit: impl FnMut(RecordRef<'_>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        self.scan_positioned(from_offset, |record, _| visit(record))
    }

    /// Like [`Log::scan`], also passing each record's byte position in its
    /// segment (a hint for [`Log::read_hinted`]).
    pub fn scan_positioned(
        &self,
        from_offset: u64,
        mut visit: impl FnMut(RecordRef<'_>, u64) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        self.scan_frames(from_offset, |frame_position, frame| {
            let mut position = (frame_position + FRAME_HEADER_SIZE_BYTES) as u64;
            for record in frame.records() {
                let record_position = position;
                position += (RECORD_HEADER_SIZE_BYTES + record.payload.len()) as u64;
                if record.offset >= from_offset && visit(record, record_position).is_break() {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
    }

    /// The offset just past the batch that holds `offset`: a point in the
    /// log's history that never splits an atomic batch. An offset in a gap
    /// left by compaction gives `offset + 1`.
    ///
    /// Found from frame headers (see `reader/bounds.rs`), with the checked
    /// scan of `batch_end_checked` when they cannot decide.
    pub fn batch_end(&self, offset: u64) -> Result<u64, LogError> {
        match bounds::batch_end(&self.snapshot(), offset)? {
            Some(end) => Ok(end),
            None => self.batch_end_checked(offset),
        }
    }

    /// [`Log::batch_end`] by a scan that checks every frame from the index
    /// floor to the one holding `offset`: it names the damage if any.
    fn batch_end_checked(&self, offset: u64) -> Result<u64, LogError> {
        let mut end = None;
        self.scan_frames(offset, |_, frame| {
            end = Some(if frame.first_offset <= offset { frame.last_offset + 1 } else { offset + 1 });
            ControlFlow::Break(())
        })?;
        end.ok_or_else(|| self.not_found(offset))
    }

    /// Calls `visit` with each frame (and its byte position) that holds
    /// offsets at or after `from_offset`, in order, until it breaks.
    pub(crate) fn scan_frames(
        &self,
        from_offset: u64,
        mut visit: impl FnMut(usize, &Frame<'_>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let set = self.snapshot();
        let first_segment = set.sealed.partition_point(|s| s.base_offset <= from_offset).saturating_sub(1);
        for segment in &set.sealed[first_segment..] {
            if segment.index.last_offset < from_offset {
                continue;
            }
            let start = segment
                .index
                .floor_by_offset(from_offset)
                .map_or(SEGMENT_HEADER_SIZE_BYTES as u64, |e| e.position_bytes);
            if walk_checked(&segment.path, segment.bytes(), start, from_offset, &mut visit)?.is_break() {
                return Ok(());
            }
        }
        let Some(bytes) = map_active(&set)? else { return Ok(()) };
        let start = active_floor(&set, from_offset);
        walk_checked(&set.active.path, &bytes, start, from_offset, &mut visit).map(|_| ())
    }

    /// Reads up to `record_count_max` records from `from_offset` on.
    pub fn read_batch(&self, from_offset: u64, record_count_max: usize) -> Result<Vec<Record>, LogError> {
        let mut records = Vec::new();
        self.scan(from_offset, |record| {
            records.push(record.to_owned());
            if records.len() >= record_count_max { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })?;
        Ok(records)
    }

    /// Iterates owned records from `from_offset` to the tail as of each step.
    pub fn iter_from(&self, from_offset: u64) -> LogIter<'_> {
        LogIter { log: self, next_offset: from_offset, buffered: std::collections::VecDeque::new(), done: false }
    }

    /// The offset of the first record stamped at or after `timestamp_us`, or
    /// [`Log::next_offset`] if there is none.
    ///
    /// Found from frame headers (see `reader/bounds.rs`), with the checked
    /// scan of `offset_at_time_checked` when they cannot decide.
    pub fn offset_at_time(&self, timestamp_us: u64) -> Result<u64, LogError> {
        match bounds::offset_at_time(&self.snapshot(), timestamp_us)? {
            Some(offset) => Ok(offset),
            None => self.offset_at_time_checked(timestamp_us),
        }
    }

    /// [`Log::offset_at_time`] by a scan that checks every record from the
    /// time index's floor on.
    fn offset_at_time_checked(&self, timestamp_us: u64) -> Result<u64, LogError> {
        let set = self.snapshot();
        let in_segment = set.sealed.iter().position(|s| s.index.last_timestamp_us >= timestamp_us);
        let start_offset = match in_segment {
            Some(i) => set.sealed[i].index.floor_by_time(timestamp_us).map_or(set.sealed[i].base_offset, |e| e.offset),
            None => {
                let index = set.active.index.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                let after =
                    index.partition_point(|e| e.timestamp_us < timestamp_us && e.offset < set.published.next_offset);
                after.checked_sub(1).map_or(set.active.base_offset, |i| index[i].offset)
            }
        };
        let mut found = set.published.next_offset;
        self.scan(start_offset, |record| {
            if record.timestamp_us >= timestamp_us {
                found = record.offset;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }

    fn not_found(&self, offset: u64) -> LogError {
        LogError::OffsetNotFound { offset, first: self.first_offset(), next: self.next_offset() }
    }
}

/// Walks frames from `start`, skipping frames wholly below `from_offset`;
/// a frame that fails its checks is corruption.
fn walk_checked(
    path: &std::path::Path,
    bytes: &[u8],
    start: u64,
    from_offset: u64,
    visit: &mut impl FnMut(usize, &Frame<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LogError> {
    let mut flow = ControlFlow::Continue(());
    let end = walk_frames(bytes, usize::try_from(start).unwrap_or(usize::MAX), |frame_position, frame| {
        if frame.last_offset < from_offset {
            return ControlFlow::Continue(());
        }
        flow = visit(frame_position, frame);
        flow
    });
    match end.defect {
        Some(defect) => Err(corruption(path, end.end_position as u64, None, describe(&defect))),
        None => Ok(flow),
    }
}

/// Maps the readable part of the active segment, if it holds any frame.
pub(crate) fn map_active(set: &SegmentSet) -> Result<Option<Mapped>, LogError> {
    let len = set.published.active_len_bytes;
    if set.published.segment_base != set.active.base_offset || len <= SEGMENT_HEADER_SIZE_BYTES as u64 {
        return Ok(None);
    }
    let path = &set.active.path;
    let len = usize::try_from(len).map_err(|_| corruption(path, len, None, "segment too large to map".into()))?;
    // The active segment only grows while the log is open, and only
    // bytes already published are mapped.
    set.active.file.map(len).map(Some).map_err(LogError::io(path, "mmap", 0))
}

fn active_floor(set: &SegmentSet, offset: u64) -> u64 {
    let index = set.active.index.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let after = index.partition_point(|e| e.offset <= offset && e.offset < set.published.next_offset);
    after.checked_sub(1).map_or(SEGMENT_HEADER_SIZE_BYTES as u64, |i| index[i].position_bytes)
}

/// The record at `offset`, found from the segment index's floor by
/// [`find_record`]; `None` sends the caller to the checked scan.
fn find_indexed(set: &SegmentSet, offset: u64) -> Result<Option<Record>, LogError> {
    if offset >= set.published.next_offset {
        return Ok(None);
    }
    let sealed = set.sealed.partition_point(|s| s.base_offset <= offset).checked_sub(1).map(|i| &set.sealed[i]);
    if let Some(segment) = sealed.filter(|s| s.index.last_offset >= offset) {
        let start =
            segment.index.floor_by_offset(offset).map_or(SEGMENT_HEADER_SIZE_BYTES as u64, |e| e.position_bytes);
        return Ok(usize::try_from(start)
            .ok()
            .and_then(|start| find_record(segment.bytes(), start, offset))
            .map(|r| r.to_owned()));
    }
    let Some(bytes) = map_active(set)? else { return Ok(None) };
    let start = usize::try_from(active_floor(set, offset)).unwrap_or(usize::MAX);
    Ok(find_record(&bytes, start, offset).map(|r| r.to_owned()))
}

/// The record at a hinted position, if the hint is right and it checks out.
fn read_at_position(set: &SegmentSet, offset: u64, position: u64) -> Option<Record> {
    if offset >= set.published.next_offset {
        return None;
    }
    let sealed = set.sealed.partition_point(|s| s.base_offset <= offset).checked_sub(1).map(|i| &set.sealed[i]);
    let record = match sealed.filter(|s| s.index.last_offset >= offset) {
        Some(segment) => {
            let bytes = segment.bytes().get(usize::try_from(position).ok()?..)?;
            decode_record(bytes).ok()?.to_owned()
        }
        // Through the shared map: a pread of the active segment was a
        // system call and a 4 KiB copy per read, half of an update's dedup check.
        None if offset >= set.active.base_offset => {
            let read = |bytes: &[u8]| {
                let bytes = bytes.get(usize::try_from(position).ok()?..)?;
                decode_record(bytes).ok().map(|record| record.to_owned())
            };
            active_map::with_active_bytes(set, read).ok().flatten().flatten()?
        }
        None => return None,
    };
    (record.offset == offset).then_some(record)
}

/// Owned records from an offset on, fetched in batches.
pub struct LogIter<'a> {
    log: &'a Log,
    next_offset: u64,
    buffered: std::collections::VecDeque<Record>,
    done: bool,
}

impl Iterator for LogIter<'_> {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        const BATCH_RECORDS: usize = 1024;
        if self.buffered.is_empty() && !self.done {
            match self.log.read_batch(self.next_offset, BATCH_RECORDS) {
                Ok(batch) => {
                    self.done = batch.is_empty();
                    self.buffered.extend(batch);
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        let record = self.buffered.pop_front()?;
        self.next_offset = record.offset + 1;
        Some(Ok(record))
    }
}
