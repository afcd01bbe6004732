//! Recovery cuts a torn tail: whatever a crash left after the last complete
//! frame of the active segment is removed on open, and the log then holds
//! exactly the batches whose frames were whole, and carries on from there.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use recstore::log::{Log, LogOptions, NewRecord, SyncMode};

use common::TestResult;

/// Size of a frame header ("Frame" in `segments-format.md`).
const FRAME_HEADER_SIZE_BYTES: u64 = 16;

/// Records per batch: single-record batches, then three multi-record ones
/// at the tail, so that a cut inside a batch must drop all of it.
const BATCH_RECORD_COUNTS: [usize; 47] = {
    let mut counts = [1; 47];
    counts[44] = 3;
    counts[46] = 2;
    counts
};

fn options() -> LogOptions {
    LogOptions { sync: SyncMode::Never, ..LogOptions::default() }
}

fn payload(offset: u64) -> Vec<u8> {
    format!("torn tail record {offset};").repeat(1 + (offset % 5) as usize).into_bytes()
}

/// The one segment file of a log directory.
fn segment_file(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "seg") {
            segments.push(path);
        }
    }
    assert_eq!(segments.len(), 1, "the test log must fit in one segment: {segments:?}");
    Ok(segments.remove(0))
}

/// A closed log of 50 records, and where each of its frames ends.
struct WrittenLog {
    _dir: tempfile::TempDir,
    segment_name: std::ffi::OsString,
    bytes: Vec<u8>,
    /// The log's manifest, which lists its one segment as the active one.
    manifest: Vec<u8>,
    /// For each batch: the byte position just past its frame, and the next
    /// offset once it is in the log.
    frame_ends: Vec<(u64, u64)>,
}

fn write_log() -> Result<WrittenLog, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut frame_starts = Vec::new();
    let mut next_offsets = Vec::new();
    {
        let log = Log::open(dir.path(), options())?;
        for &record_count in &BATCH_RECORD_COUNTS {
            let first = log.next_offset();
            let payloads: Vec<Vec<u8>> = (first..first + record_count as u64).map(payload).collect();
            let batch: Vec<NewRecord<'_>> =
                payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
            let appended = log.append(&batch)?;
            assert_eq!(appended.first_offset, first);
            frame_starts.push(appended.positions_bytes[0] - FRAME_HEADER_SIZE_BYTES);
            next_offsets.push(appended.last_offset + 1);
        }
        assert_eq!(log.next_offset(), 50);
    }
    let path = segment_file(dir.path())?;
    let bytes = std::fs::read(&path)?;
    let ends = frame_starts.iter().skip(1).copied().chain([bytes.len() as u64]);
    let frame_ends = ends.zip(next_offsets).collect();
    let segment_name = path.file_name().ok_or("segment path has a file name")?.to_owned();
    let manifest = std::fs::read(dir.path().join("MANIFEST"))?;
    Ok(WrittenLog { _dir: dir, segment_name, bytes, manifest, frame_ends })
}

/// Asserts the log holds offsets `0..next_offset`, each with its payload.
fn assert_holds_exactly(log: &Log, next_offset: u64, context: &str) -> TestResult {
    assert_eq!(log.next_offset(), next_offset, "{context}");
    let mut expected = 0;
    log.scan(0, |record| {
        assert_eq!(record.offset, expected, "{context}: offsets must be dense");
        assert_eq!(record.payload, payload(record.offset), "{context}: payload of offset {}", record.offset);
        expected += 1;
        ControlFlow::Continue(())
    })?;
    assert_eq!(expected, next_offset, "{context}: a scan must return every record below next_offset");
    Ok(())
}

/// Asserts the next append gets `next_offset` and reads back.
fn assert_appends_at(log: &Log, next_offset: u64) -> TestResult {
    let bytes = payload(next_offset);
    let appended = log.append(&[NewRecord { kind: 2, flags: 0, payload: &bytes }])?;
    assert_eq!(appended.first_offset, next_offset);
    assert_eq!(log.read(next_offset)?.payload, bytes);
    assert_eq!(log.next_offset(), next_offset + 1);
    Ok(())
}

#[test]
fn every_cut_in_the_last_three_frames_keeps_exactly_the_whole_batches() -> TestResult {
    let written = write_log()?;
    // The end of the fourth frame from last is where the last three begin.
    let frame_ends = &written.frame_ends[written.frame_ends.len() - 4..];
    for cut in frame_ends[0].0..=written.bytes.len() as u64 {
        let (valid_len_bytes, next_offset) =
            frame_ends.iter().rev().copied().find(|&(end, _)| end <= cut).ok_or("the range starts at a frame end")?;
        let context = format!("cut at byte {cut}");
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("MANIFEST"), &written.manifest)?;
        let path = dir.path().join(&written.segment_name);
        std::fs::write(&path, &written.bytes[..cut as usize])?;
        let log = Log::open(dir.path(), options())?;
        assert_eq!(std::fs::metadata(&path)?.len(), valid_len_bytes, "{context}: the torn frame must be removed");
        assert_holds_exactly(&log, next_offset, &context)?;
        assert_appends_at(&log, next_offset)?;
    }
    Ok(())
}

/// Reopens a copy of the written log with `tail` after its last frame.
fn reopen_with_tail(written: &WrittenLog, tail: &[u8]) -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("MANIFEST"), &written.manifest)?;
    let path = dir.path().join(&written.segment_name);
    std::fs::write(&path, [written.bytes.as_slice(), tail].concat())?;
    let log = Log::open(dir.path(), options())?;
    let context = format!("{} bytes of tail", tail.len());
    assert_eq!(std::fs::metadata(&path)?.len(), written.bytes.len() as u64, "{context}: the tail must be cut off");
    assert_holds_exactly(&log, 50, &context)?;
    assert_appends_at(&log, 50)?;
    drop(log);
    let log = Log::open(dir.path(), options())?;
    assert_holds_exactly(&log, 51, &context)
}

#[test]
fn trailing_zeros_after_the_last_frame_are_trimmed() -> TestResult {
    let written = write_log()?;
    for zero_count in [1, 15, 16, 17, 100, 4096] {
        reopen_with_tail(&written, &vec![0u8; zero_count])?;
    }
    Ok(())
}

#[test]
fn trailing_garbage_after_the_last_frame_is_trimmed() -> TestResult {
    let written = write_log()?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    for garbage_size in [1, 16, 44, 1000, 4096] {
        reopen_with_tail(&written, &garbage[..garbage_size])?;
    }
    Ok(())
}

/// The segment header a fresh log writes, from a log that was just created.
fn fresh_segment_header() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    drop(Log::open(dir.path(), options())?);
    Ok(std::fs::read(segment_file(dir.path())?)?)
}

/// Prefixes of a segment header a crash during its creation can leave, and
/// a whole header whose last byte never reached the disk intact.
fn torn_headers(header: &[u8]) -> Vec<Vec<u8>> {
    let mut torn: Vec<Vec<u8>> = [0, 1, 16, 31].iter().map(|&len| header[..len].to_vec()).collect();
    let mut damaged = header.to_vec();
    damaged[31] ^= 0xff;
    torn.push(damaged);
    torn
}

#[test]
fn newest_segment_cut_short_at_creation_is_recreated_and_the_sealed_one_untouched() -> TestResult {
    let written = write_log()?;
    for torn in torn_headers(&fresh_segment_header()?) {
        let dir = tempfile::tempdir()?;
        // The manifest lists segment 0 only: the crash came before it
        // named the new one, which the open takes in.
        std::fs::write(dir.path().join("MANIFEST"), &written.manifest)?;
        let sealed = dir.path().join(&written.segment_name);
        std::fs::write(&sealed, &written.bytes)?;
        let newest = dir.path().join(format!("{:020}.seg", 50));
        std::fs::write(&newest, &torn)?;
        let context = format!("newest segment of {} bytes", torn.len());
        let log = Log::open(dir.path(), options())?;
        assert!(std::fs::metadata(&newest)?.len() >= 32, "{context}: the torn segment is created again, whole");
        assert_holds_exactly(&log, 50, &context)?;
        assert_appends_at(&log, 50)?;
        assert_eq!(std::fs::read(&sealed)?, written.bytes, "{context}: the sealed segment is never appended to");
    }
    Ok(())
}

#[test]
fn only_segment_cut_short_at_creation_is_recreated() -> TestResult {
    let written = write_log()?;
    for torn in torn_headers(&fresh_segment_header()?) {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("MANIFEST"), &written.manifest)?;
        std::fs::write(dir.path().join(format!("{:020}.seg", 0)), &torn)?;
        let context = format!("only segment of {} bytes", torn.len());
        let log = Log::open(dir.path(), options()).map_err(|e| format!("{context}: {e}"))?;
        assert_holds_exactly(&log, 0, &context)?;
        assert_appends_at(&log, 0)?;
        drop(log);
        assert_holds_exactly(&Log::open(dir.path(), options())?, 1, &context)?;
    }
    Ok(())
}
