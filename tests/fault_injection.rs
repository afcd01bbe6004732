//! A failed write or fdatasync poisons the log, and reopening recovers the
//! acknowledged prefix.
//!
//! The injector fails one chosen I/O call on a real file; a failed write
//! leaves the first half of its bytes behind, as a full disk can. The
//! failing append must return `LogError::Io`, every later write
//! `LogError::Poisoned`, reads must go on working, and after a reopen
//! without faults the log must hold what was acknowledged, with any torn
//! frame cut, and carry on with dense offsets.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use recstore::log::{Appended, Log, LogError, LogOptions, NewRecord, SyncMode};
use recstore::storage::{Fault, FaultInjector};

use common::TestResult;

const ENOSPC: i32 = 28;
const EIO: i32 = 5;
/// Size of a record header ("Record" in `segments-format.md`).
const RECORD_HEADER_SIZE_BYTES: u64 = 28;

fn payload(offset: u64) -> Vec<u8> {
    format!("fault injection record {offset};").repeat(1 + (offset % 4) as usize).into_bytes()
}

fn options(sync: SyncMode, faults: Option<Arc<FaultInjector>>) -> LogOptions {
    LogOptions { segment_size_bytes: 1024, sync, faults, ..LogOptions::default() }
}

/// Appends `record_count` records whose payloads follow from their offsets.
fn append_batch(log: &Log, record_count: u64) -> Result<Appended, LogError> {
    let first = log.next_offset();
    let payloads: Vec<Vec<u8>> = (first..first + record_count).map(payload).collect();
    let batch: Vec<NewRecord<'_>> = payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
    let appended = log.append(&batch)?;
    assert_eq!(appended.first_offset, first, "a single writer's offsets follow next_offset");
    Ok(appended)
}

/// Asserts the log holds exactly offsets `0..next_offset`, each intact.
fn assert_holds_exactly(log: &Log, next_offset: u64) -> TestResult {
    assert_eq!(log.next_offset(), next_offset);
    let mut expected = 0;
    log.scan(0, |record| {
        assert_eq!(record.offset, expected, "offsets must be dense");
        assert_eq!(record.payload, payload(record.offset), "payload of offset {}", record.offset);
        expected += 1;
        ControlFlow::Continue(())
    })?;
    assert_eq!(expected, next_offset, "a scan must return every offset below next_offset");
    for offset in 0..next_offset {
        assert_eq!(log.read(offset)?.payload, payload(offset), "read({offset})");
    }
    assert!(matches!(log.read(next_offset), Err(LogError::OffsetNotFound { .. })));
    Ok(())
}

/// Asserts `result` is the injected error, and returns the path it names.
fn assert_io_error(
    result: Result<Appended, LogError>,
    expected_op: &str,
    errno: i32,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    match result {
        Err(LogError::Io { op, source, path, .. }) => {
            assert_eq!(op, expected_op);
            assert_eq!(source.raw_os_error(), Some(errno));
            Ok(path)
        }
        other => Err(format!("expected an injected {expected_op} error, got {other:?}").into()),
    }
}

/// Asserts that every write is refused and every read still served.
fn assert_poisoned(log: &Log, acked_next_offset: u64) -> TestResult {
    for _ in 0..3 {
        assert!(matches!(append_batch(log, 1), Err(LogError::Poisoned { .. })));
    }
    assert!(matches!(log.sync(), Err(LogError::Poisoned { .. })));
    assert!(matches!(log.roll(), Err(LogError::Poisoned { .. })));
    assert_holds_exactly(log, acked_next_offset)
}

/// Reopens without faults; the log must hold `0..next_offset` and carry on.
fn assert_reopens_holding(dir: &Path, sync: SyncMode, next_offset: u64) -> TestResult {
    let log = Log::open(dir, options(sync, None))?;
    assert_holds_exactly(&log, next_offset)?;
    // Enough appends to roll, so the files a failed roll left behind are
    // shown not to get in the way either.
    let segment_count = log.segment_count();
    while log.segment_count() < segment_count + 2 {
        append_batch(&log, 2)?;
    }
    let grown_next_offset = log.next_offset();
    drop(log);
    let log = Log::open(dir, options(sync, None))?;
    assert_holds_exactly(&log, grown_next_offset)
}

fn segment_files(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "seg") {
            segments.push(path);
        }
    }
    segments.sort();
    Ok(segments)
}

fn segment_bytes_on_disk(dir: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    let mut total = 0;
    for path in segment_files(dir)? {
        total += std::fs::metadata(path)?.len();
    }
    Ok(total)
}

#[test]
fn failed_write_poisons_the_log_and_reopen_holds_the_acknowledged_prefix() -> TestResult {
    for sync in [SyncMode::Always, SyncMode::Never] {
        let dir = tempfile::tempdir()?;
        let faults = Arc::new(FaultInjector::default());
        let log =
            Log::open(dir.path(), LogOptions { segment_size_bytes: 1 << 20, ..options(sync, Some(faults.clone())) })?;
        for batch_index in 0..10 {
            append_batch(&log, 1 + batch_index % 3)?;
        }
        faults.fail_write_after(2, Fault::NoSpace);
        append_batch(&log, 2)?;
        append_batch(&log, 1)?;
        let acked_next_offset = log.next_offset();
        let path = assert_io_error(append_batch(&log, 3), "write", ENOSPC)?;
        assert_eq!(path, segment_files(dir.path())?[0]);
        assert_poisoned(&log, acked_next_offset)?;
        let readable_bytes = log.size_bytes();
        drop(log);
        assert!(segment_bytes_on_disk(dir.path())? > readable_bytes, "{sync:?}: half a frame is left on disk");
        let log = Log::open(dir.path(), options(sync, None))?;
        assert_eq!(segment_bytes_on_disk(dir.path())?, readable_bytes, "{sync:?}: recovery cuts the half frame");
        drop(log);
        assert_reopens_holding(dir.path(), sync, acked_next_offset)?;
    }
    Ok(())
}

#[test]
fn failed_fdatasync_poisons_the_log_and_reopen_holds_the_acknowledged_prefix() -> TestResult {
    let dir = tempfile::tempdir()?;
    let faults = Arc::new(FaultInjector::default());
    let log = Log::open(
        dir.path(),
        LogOptions { segment_size_bytes: 1 << 20, ..options(SyncMode::Always, Some(faults.clone())) },
    )?;
    for batch_index in 0..10 {
        append_batch(&log, 1 + batch_index % 3)?;
    }
    faults.fail_sync_after(2, Fault::Eio);
    append_batch(&log, 2)?;
    append_batch(&log, 1)?;
    let acked_next_offset = log.next_offset();
    let failed_record_count = 3;
    let path = assert_io_error(append_batch(&log, failed_record_count), "fdatasync", EIO)?;
    assert_eq!(path, segment_files(dir.path())?[0]);
    // The failed batch never became readable in this process.
    assert_poisoned(&log, acked_next_offset)?;
    drop(log);

    // Its frame reached the file before the fdatasync failed, so unlike a
    // failed write it may be found after a reopen: an append that returned
    // an error has an unknown outcome (`LogError::Poisoned` says the state
    // of the file is unknown). What must hold is that the batch is all there
    // or not at all, and that nothing written after the failure is.
    let log = Log::open(dir.path(), options(SyncMode::Always, None))?;
    let next_offset = log.next_offset();
    assert!(
        next_offset == acked_next_offset || next_offset == acked_next_offset + failed_record_count,
        "acknowledged next_offset={acked_next_offset}, failed batch of {failed_record_count}, found {next_offset}"
    );
    drop(log);
    assert_reopens_holding(dir.path(), SyncMode::Always, next_offset)
}

/// Appends single records until the active segment is full, so that the
/// next append rolls first.
fn fill_first_segment(log: &Log) -> TestResult {
    loop {
        let appended = append_batch(log, 1)?;
        let frame_end =
            appended.positions_bytes[0] + RECORD_HEADER_SIZE_BYTES + payload(appended.last_offset).len() as u64;
        if frame_end >= log.options().segment_size_bytes {
            assert_eq!(log.segment_count(), 1, "a roll happens before an append, never after");
            return Ok(());
        }
    }
}

/// Which I/O call of a roll fails.
#[derive(Debug, Clone, Copy)]
enum RollFault {
    /// Fail the write after this many more succeed.
    Write(u64),
    /// Fail the fsync after this many more succeed.
    Sync(u64),
}

/// The file a failed roll call names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RollFile {
    FullSegment,
    NewSegment,
    LogDir,
}

#[test]
fn fault_during_segment_roll_poisons_the_log_and_reopen_holds_the_acknowledged_prefix() -> TestResult {
    // A roll fdatasyncs the full segment, then creates the next one: writes
    // its header, fdatasyncs it, and fsyncs the directory. Fail each in turn.
    let cases = [
        ("fdatasync of the full segment", RollFault::Sync(0), "fdatasync", EIO, RollFile::FullSegment),
        ("header write of the new segment", RollFault::Write(0), "write", ENOSPC, RollFile::NewSegment),
        ("fdatasync of the new segment", RollFault::Sync(1), "fdatasync", EIO, RollFile::NewSegment),
        ("fsync of the directory", RollFault::Sync(2), "fsync dir", EIO, RollFile::LogDir),
    ];
    for (name, fault, expected_op, errno, file) in cases {
        let dir = tempfile::tempdir()?;
        let faults = Arc::new(FaultInjector::default());
        let log = Log::open(dir.path(), options(SyncMode::Always, Some(faults.clone())))?;
        fill_first_segment(&log)?;
        let acked_next_offset = log.next_offset();
        match fault {
            RollFault::Write(count) => faults.fail_write_after(count, Fault::NoSpace),
            RollFault::Sync(count) => faults.fail_sync_after(count, Fault::Eio),
        }
        let path = assert_io_error(append_batch(&log, 2), expected_op, errno).map_err(|e| format!("{name}: {e}"))?;
        let expected_path = match file {
            RollFile::FullSegment => dir.path().join(format!("{:020}.seg", 0)),
            RollFile::NewSegment => dir.path().join(format!("{acked_next_offset:020}.seg")),
            RollFile::LogDir => dir.path().to_path_buf(),
        };
        assert_eq!(path, expected_path, "{name}");
        assert_poisoned(&log, acked_next_offset)?;
        drop(log);
        assert_reopens_holding(dir.path(), SyncMode::Always, acked_next_offset).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}
