//! Damage in the middle of the log is reported, never skipped and never cut.
//!
//! A sealed segment was fsynced before the next one was created, and a frame
//! of the active segment that valid frames follow was durable once, so no
//! crash explains a bad byte in either: opening, scanning or reading a
//! damaged record must fail with `LogError::Corruption` naming the file and
//! the frame's byte position,
//! must not return a wrong record, must not hide a record behind
//! `OffsetNotFound`, and must leave the file as it found it.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use recstore::log::{Log, LogError, LogOptions, NewRecord, SyncMode};

use common::TestResult;

/// Size of a frame header ("Frame" in `segments-format.md`).
const FRAME_HEADER_SIZE_BYTES: u64 = 16;
/// Size of a segment header ("Segment header" in `segments-format.md`).
const SEGMENT_HEADER_SIZE_BYTES: u64 = 32;

fn options() -> LogOptions {
    // `Always`: every frame is durable before the next is written, and says
    // so, so damage to one with valid frames after it is corruption, not a
    // torn tail (segments-format.md, "Recovery").
    LogOptions { segment_size_bytes: 2048, sync: SyncMode::Always, ..LogOptions::default() }
}

fn payload(offset: u64) -> Vec<u8> {
    format!("mid-log record {offset};").repeat(3 + (offset % 3) as usize).into_bytes()
}

/// Where one appended batch landed.
#[derive(Debug, Clone, Copy)]
struct FrameAt {
    segment_base: u64,
    position_bytes: u64,
    first_offset: u64,
    last_offset: u64,
}

/// A closed log of several 2 KiB segments, with every frame's place.
struct WrittenLog {
    dir: tempfile::TempDir,
    frames: Vec<FrameAt>,
    next_offset: u64,
}

impl WrittenLog {
    fn frames_in(&self, segment_base: u64) -> Vec<FrameAt> {
        self.frames.iter().copied().filter(|f| f.segment_base == segment_base).collect()
    }

    fn segment_bases(&self) -> Vec<u64> {
        let mut bases: Vec<u64> = self.frames.iter().map(|f| f.segment_base).collect();
        bases.dedup();
        bases
    }
}

fn segment_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.seg"))
}

/// Appends batches of one to three records until there are five segments
/// and the active one holds four frames.
fn write_log() -> Result<WrittenLog, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options())?;
    let mut frames: Vec<FrameAt> = Vec::new();
    let mut segment_base = 0;
    while log.segment_count() < 5 || frames.iter().filter(|f| f.segment_base == segment_base).count() < 4 {
        let first = log.next_offset();
        let record_count = 1 + frames.len() as u64 % 3;
        let payloads: Vec<Vec<u8>> = (first..first + record_count).map(payload).collect();
        let batch: Vec<NewRecord<'_>> = payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        let segment_count_before = log.segment_count();
        let appended = log.append(&batch)?;
        if log.segment_count() > segment_count_before {
            segment_base = first;
        }
        frames.push(FrameAt {
            segment_base,
            position_bytes: appended.positions_bytes[0] - FRAME_HEADER_SIZE_BYTES,
            first_offset: appended.first_offset,
            last_offset: appended.last_offset,
        });
    }
    let next_offset = log.next_offset();
    drop(log);
    Ok(WrittenLog { dir, frames, next_offset })
}

/// Copies the log's segments and manifest (and indexes, if asked) to a
/// fresh directory and XORs the byte at `position_bytes` of one segment.
fn damaged_copy(
    written: &WrittenLog,
    segment_base: u64,
    position_bytes: u64,
    keep_indexes: bool,
) -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let copy = tempfile::tempdir()?;
    for entry in std::fs::read_dir(written.dir.path())? {
        let path = entry?.path();
        let extension = path.extension().and_then(|e| e.to_str());
        let manifest = path.file_name().is_some_and(|name| name == "MANIFEST");
        if manifest || extension == Some("seg") || (keep_indexes && extension == Some("idx")) {
            std::fs::copy(&path, copy.path().join(path.file_name().ok_or("a file name")?))?;
        }
    }
    let path = segment_path(copy.path(), segment_base);
    let mut bytes = std::fs::read(&path)?;
    bytes[position_bytes as usize] ^= 0xff;
    std::fs::write(&path, bytes)?;
    Ok(copy)
}

/// Asserts `result` is the corruption of the frame at `position_bytes` in `path`.
fn assert_corruption_at<T>(
    result: Result<T, LogError>,
    path: &Path,
    position_bytes: u64,
    context: &str,
) -> Result<Option<u64>, Box<dyn std::error::Error>> {
    match result {
        Err(LogError::Corruption { path: found_path, position_bytes: found_position, offset, .. }) => {
            assert_eq!(found_path, path, "{context}: the error must name the damaged segment");
            assert_eq!(found_position, position_bytes, "{context}: the error must name the frame's position");
            Ok(offset)
        }
        Err(other) => Err(format!("{context}: expected Corruption, got {other:?}").into()),
        Ok(_) => Err(format!("{context}: expected Corruption, got success").into()),
    }
}

/// Byte position just past `frame`.
fn frame_end(written: &WrittenLog, frame: FrameAt) -> Result<u64, Box<dyn std::error::Error>> {
    let next =
        written.frames.iter().find(|f| f.segment_base == frame.segment_base && f.first_offset > frame.last_offset);
    match next {
        Some(next) => Ok(next.position_bytes),
        None => Ok(std::fs::metadata(segment_path(written.dir.path(), frame.segment_base))?.len()),
    }
}

/// A frame in the middle of the second segment, which is sealed.
fn sealed_victim(written: &WrittenLog) -> FrameAt {
    let frames = written.frames_in(written.segment_bases()[1]);
    frames[frames.len() / 2]
}

#[test]
fn damaged_frame_in_sealed_segment_fails_index_rebuild_on_open() -> TestResult {
    let written = write_log()?;
    let victim = sealed_victim(&written);
    for damaged_position in victim.position_bytes..frame_end(&written, victim)? {
        let context = format!("byte {damaged_position} of the frame at {}", victim.position_bytes);
        let copy = damaged_copy(&written, victim.segment_base, damaged_position, false)?;
        let path = segment_path(copy.path(), victim.segment_base);
        let bytes_before = std::fs::read(&path)?;
        let offset = assert_corruption_at(Log::open(copy.path(), options()), &path, victim.position_bytes, &context)?;
        assert_eq!(offset, Some(victim.first_offset), "{context}: the error must name the expected offset");
        assert_eq!(std::fs::read(&path)?, bytes_before, "{context}: a failed open must not change the segment");
    }
    Ok(())
}

/// Byte range of each record of `victim`, as an append laid them out.
fn record_ranges(victim: FrameAt) -> Vec<(u64, std::ops::Range<u64>)> {
    let mut position = victim.position_bytes + FRAME_HEADER_SIZE_BYTES;
    (victim.first_offset..=victim.last_offset)
        .map(|offset| {
            let start = position;
            position += 28 + payload(offset).len() as u64;
            (offset, start..position)
        })
        .collect()
}

#[test]
fn damaged_frame_in_sealed_segment_fails_scans_and_reads_of_damaged_records() -> TestResult {
    let written = write_log()?;
    let victim = sealed_victim(&written);
    let next_segment_base = written.segment_bases()[2];
    let ranges = record_ranges(victim);
    for damaged_position in victim.position_bytes..frame_end(&written, victim)? {
        let context = format!("byte {damaged_position} of the frame at {}", victim.position_bytes);
        // With its index in place, opening does not walk the sealed segment.
        let copy = damaged_copy(&written, victim.segment_base, damaged_position, true)?;
        let path = segment_path(copy.path(), victim.segment_base);
        let bytes_before = std::fs::read(&path)?;
        let log = Log::open(copy.path(), options())?;
        assert_eq!(log.next_offset(), written.next_offset, "{context}");

        let mut scanned = Vec::new();
        let scan = log.scan(0, |record| {
            assert_eq!(record.payload, payload(record.offset), "{context}: payload of offset {}", record.offset);
            scanned.push(record.offset);
            ControlFlow::Continue(())
        });
        assert_corruption_at(scan, &path, victim.position_bytes, &context)?;
        assert_eq!(scanned, (0..victim.first_offset).collect::<Vec<_>>(), "{context}: a scan stops at the damage");

        // A point read checks the record it returns by the record's own
        // checksum, so an intact record behind the damage may still be read;
        // a damaged one never is, and a read that cannot be answered names
        // the damaged frame.
        let damaged_record = ranges.iter().find(|(_, range)| range.contains(&damaged_position)).map(|(o, _)| *o);
        for offset in 0..written.next_offset {
            let behind_damage = offset >= victim.first_offset && offset < next_segment_base;
            let read = log.read(offset);
            match read {
                Ok(record) if Some(offset) != damaged_record => {
                    assert_eq!(record.payload, payload(offset), "{context}: read({offset})");
                }
                read if behind_damage => {
                    assert_corruption_at(read, &path, victim.position_bytes, &format!("{context}, read({offset})"))?;
                }
                read => assert_eq!(read?.payload, payload(offset), "{context}: read({offset})"),
            }
        }
        let mut scanned = Vec::new();
        log.scan(next_segment_base, |record| {
            assert_eq!(record.payload, payload(record.offset), "{context}: payload of offset {}", record.offset);
            scanned.push(record.offset);
            ControlFlow::Continue(())
        })?;
        assert_eq!(scanned, (next_segment_base..written.next_offset).collect::<Vec<_>>(), "{context}");
        drop(log);
        assert_eq!(std::fs::read(&path)?, bytes_before, "{context}: reads must not change the segment");
    }
    Ok(())
}

#[test]
fn damaged_record_read_by_position_is_never_returned_wrong() -> TestResult {
    let written = write_log()?;
    let victim = sealed_victim(&written);
    // Positions as an append returned them: each record follows the one before.
    let positions: Vec<(u64, u64)> = record_ranges(victim).into_iter().map(|(o, range)| (o, range.start)).collect();
    for damaged_position in victim.position_bytes..frame_end(&written, victim)? {
        let context = format!("byte {damaged_position} of the frame at {}", victim.position_bytes);
        let copy = damaged_copy(&written, victim.segment_base, damaged_position, true)?;
        let path = segment_path(copy.path(), victim.segment_base);
        let log = Log::open(copy.path(), options())?;
        for &(offset, position_bytes) in &positions {
            // A hinted read checks only the record's own checksum, so damage
            // elsewhere in the frame may leave this record readable: then it
            // must be the right one.
            match log.read_hinted(offset, position_bytes) {
                Ok(record) => {
                    assert_eq!(record.offset, offset, "{context}");
                    assert_eq!(record.payload, payload(offset), "{context}: read_hinted({offset})");
                }
                read => {
                    assert_corruption_at(read, &path, victim.position_bytes, &context)?;
                }
            }
        }
    }
    Ok(())
}

#[test]
fn damaged_frame_followed_by_valid_frames_in_active_segment_fails_a_writable_open_and_a_read_only_one_stops_there()
-> TestResult {
    let written = write_log()?;
    let active_base = *written.segment_bases().last().ok_or("the log has segments")?;
    let frames = written.frames_in(active_base);
    assert!(frames.len() >= 4, "valid frames must follow the damaged one");
    let victim = frames[1];
    for damaged_position in victim.position_bytes..frame_end(&written, victim)? {
        let context = format!("byte {damaged_position} of the frame at {}", victim.position_bytes);
        let copy = damaged_copy(&written, active_base, damaged_position, true)?;
        let path = segment_path(copy.path(), active_base);
        let bytes_before = std::fs::read(&path)?;
        let opened = Log::open(copy.path(), options());
        let offset = assert_corruption_at(opened, &path, victim.position_bytes, &context)?;
        assert_eq!(offset, Some(victim.first_offset), "{context}: the error must name the expected offset");
        assert_eq!(std::fs::read(&path)?, bytes_before, "{context}: a failed open must not cut the segment");
        // A reader serves the intact records before the damage, and nothing from it on.
        let reader = Log::open(copy.path(), LogOptions { read_only: true, ..options() })?;
        assert_eq!(reader.next_offset(), victim.first_offset, "{context}: a reader stops at the damage");
        let before = frames[0].first_offset;
        assert_eq!(reader.read(before)?.offset, before, "{context}: records before the damage read");
        drop(reader);
        assert_eq!(std::fs::read(&path)?, bytes_before, "{context}: a reader changes nothing");
    }
    Ok(())
}

#[test]
fn damaged_segment_header_fails_open() -> TestResult {
    let written = write_log()?;
    let bases = written.segment_bases();
    let sealed_base = bases[1];
    let active_base = *bases.last().ok_or("the log has segments")?;
    for segment_base in [sealed_base, active_base] {
        for damaged_position in 0..SEGMENT_HEADER_SIZE_BYTES {
            let context = format!("byte {damaged_position} of the header of segment {segment_base}");
            let copy = damaged_copy(&written, segment_base, damaged_position, true)?;
            let path = segment_path(copy.path(), segment_base);
            let bytes_before = std::fs::read(&path)?;
            let offset = assert_corruption_at(Log::open(copy.path(), options()), &path, 0, &context)?;
            assert_eq!(offset, Some(segment_base), "{context}: the error must name the segment's base offset");
            assert_eq!(std::fs::read(&path)?, bytes_before, "{context}: a failed open must not change the segment");
        }
    }
    Ok(())
}

/// Every as-of bound of the undamaged log: the batch end of each offset,
/// and the first offset at or after each record's stamp and its neighbours.
struct Bounds {
    batch_ends: Vec<u64>,
    at_times: Vec<(u64, u64)>,
}

fn bounds_of(log: &Log) -> Result<Bounds, Box<dyn std::error::Error>> {
    let mut timestamps_us = Vec::new();
    log.scan(0, |record| {
        timestamps_us.extend([record.timestamp_us - 1, record.timestamp_us, record.timestamp_us + 1]);
        ControlFlow::Continue(())
    })?;
    timestamps_us.dedup();
    let batch_ends = (0..log.next_offset()).map(|offset| log.batch_end(offset)).collect::<Result<_, _>>()?;
    let at_times =
        timestamps_us.into_iter().map(|t| log.offset_at_time(t).map(|o| (t, o))).collect::<Result<_, _>>()?;
    Ok(Bounds { batch_ends, at_times })
}

#[test]
fn damaged_frame_in_sealed_segment_never_moves_an_as_of_bound() -> TestResult {
    // As-of bounds come from frame headers and the few records they rest
    // on (see `src/log/reader/bounds.rs`), not from a checked scan: damage
    // they do not read leaves the bound right, and damage they do read
    // sends them to the checked scan, which names the frame.
    let written = write_log()?;
    let expected = bounds_of(&Log::open(written.dir.path(), options())?)?;
    let victim = sealed_victim(&written);
    for damaged_position in victim.position_bytes..frame_end(&written, victim)? {
        let context = format!("byte {damaged_position} of the frame at {}", victim.position_bytes);
        let copy = damaged_copy(&written, victim.segment_base, damaged_position, true)?;
        let path = segment_path(copy.path(), victim.segment_base);
        let log = Log::open(copy.path(), options())?;
        for (offset, &end) in (0..).zip(&expected.batch_ends) {
            match log.batch_end(offset) {
                Ok(found) => assert_eq!(found, end, "{context}: batch_end({offset})"),
                read => {
                    assert_corruption_at(
                        read,
                        &path,
                        victim.position_bytes,
                        &format!("{context}, batch_end({offset})"),
                    )?;
                }
            }
        }
        for &(timestamp_us, at) in &expected.at_times {
            match log.offset_at_time(timestamp_us) {
                Ok(found) => assert_eq!(found, at, "{context}: offset_at_time({timestamp_us})"),
                read => {
                    let context = format!("{context}, offset_at_time({timestamp_us})");
                    assert_corruption_at(read, &path, victim.position_bytes, &context)?;
                }
            }
        }
    }
    Ok(())
}
