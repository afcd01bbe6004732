//! Under `SyncMode::Always`, a large batch written with `append_pending`
//! has its fdatasync started at once by the log's sync-ahead thread, before
//! its writer calls `wait_durable` (issue 3: the store applies a batch to
//! its views while the disk works). The group commit's promises hold on
//! that path: a failure of the thread's fdatasync poisons the log and
//! reaches the batch's writer, small batches still sync in their writer,
//! and concurrent large and small appends are durable when acknowledged.
//!
//! Under `SyncMode::Always` the log shows a record to readers only once an
//! fdatasync covering it has completed, so `Log::next_offset` passing an
//! offset is how these tests see that it became durable.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recstore::log::{Appended, Log, LogError, LogOptions, NewRecord, SyncMode};
use recstore::storage::{Fault, FaultInjector};

use common::TestResult;

/// Records in a batch large enough to be synced ahead.
const LARGE_BATCH_RECORD_COUNT: u64 = 200;
/// How long the sync-ahead thread may take to start on a loaded machine.
const SYNC_AHEAD_WAIT_MAX: Duration = Duration::from_secs(20);

fn payload(offset: u64) -> Vec<u8> {
    format!("sync ahead record {offset};").repeat(1 + (offset % 5) as usize).into_bytes()
}

fn options(faults: Option<Arc<FaultInjector>>) -> LogOptions {
    LogOptions { sync: SyncMode::Always, faults, ..LogOptions::default() }
}

/// Writes `record_count` records whose payloads follow from their offsets,
/// without waiting for durability. Single writer only, and every earlier
/// batch waited for, so that the readable tail is the written one.
fn append_pending(log: &Log, record_count: u64) -> Result<Appended, LogError> {
    let first = log.next_offset();
    let payloads: Vec<Vec<u8>> = (first..first + record_count).map(payload).collect();
    let batch: Vec<NewRecord<'_>> = payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
    let appended = log.append_pending(&batch)?;
    assert_eq!(appended.first_offset, first, "a single writer's offsets follow what it wrote");
    Ok(appended)
}

/// Polls until `done` holds, failing after `SYNC_AHEAD_WAIT_MAX`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> TestResult {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > SYNC_AHEAD_WAIT_MAX {
            return Err(format!("timed out after {SYNC_AHEAD_WAIT_MAX:?} waiting until {what}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

#[test]
fn large_pending_batch_becomes_durable_without_a_waiter() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options(None))?;
    let fsyncs_before = log.metrics().fsyncs;
    let appended = append_pending(&log, LARGE_BATCH_RECORD_COUNT)?;
    wait_until("the sync-ahead thread made the batch durable", || log.next_offset() > appended.last_offset)?;
    assert_eq!(log.metrics().fsyncs, fsyncs_before + 1, "one fdatasync covers the batch");
    log.wait_durable(appended.last_offset + 1)?;
    assert_eq!(log.metrics().fsyncs, fsyncs_before + 1, "waiting after the sync ahead syncs nothing more");
    Ok(())
}

#[test]
fn large_batch_by_bytes_alone_is_synced_ahead() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options(None))?;
    let payload = vec![7u8; 80 * 1024];
    let appended = log.append_pending(&[NewRecord { kind: 1, flags: 0, payload: &payload }])?;
    wait_until("the sync-ahead thread made the record durable", || log.next_offset() > appended.last_offset)?;
    log.wait_durable(appended.last_offset + 1)?;
    assert_eq!(log.read(appended.first_offset)?.payload, payload);
    Ok(())
}

#[test]
fn small_pending_batch_leaves_its_fdatasync_to_the_waiter() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options(None))?;
    let fsyncs_before = log.metrics().fsyncs;
    let appended = append_pending(&log, 3)?;
    // Nothing but the waiter syncs a small batch, so no wait is long
    // enough to see it synced early; this one only gives a wrongly woken
    // thread the time to show itself.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(log.metrics().fsyncs, fsyncs_before, "no fdatasync started for a small batch");
    assert_eq!(log.next_offset(), appended.first_offset, "an unsynced batch is not readable");
    log.wait_durable(appended.last_offset + 1)?;
    assert_eq!(log.metrics().fsyncs, fsyncs_before + 1);
    assert_eq!(log.next_offset(), appended.last_offset + 1);
    Ok(())
}

#[test]
fn failed_sync_ahead_poisons_the_log_and_reaches_the_batch_writer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let faults = Arc::new(FaultInjector::default());
    let log = Log::open(dir.path(), options(Some(faults.clone())))?;
    for _ in 0..3 {
        let appended = append_pending(&log, LARGE_BATCH_RECORD_COUNT)?;
        log.wait_durable(appended.last_offset + 1)?;
    }
    let acked_next_offset = log.next_offset();
    faults.fail_sync_after(0, Fault::Eio);
    let fsyncs_before = log.metrics().fsyncs;
    let appended = append_pending(&log, LARGE_BATCH_RECORD_COUNT)?;
    // Waiting only once the thread's fdatasync has returned makes sure the
    // failure is the thread's, not one this test led itself.
    wait_until("the sync-ahead thread's fdatasync returned", || log.metrics().fsyncs > fsyncs_before)?;
    match log.wait_durable(appended.last_offset + 1) {
        Err(LogError::Poisoned { cause }) => assert!(cause.contains("fdatasync"), "cause={cause}"),
        other => return Err(format!("expected the poisoned log to refuse, got {other:?}").into()),
    }
    assert!(matches!(append_pending(&log, 1), Err(LogError::Poisoned { .. })));
    assert!(matches!(append_pending(&log, LARGE_BATCH_RECORD_COUNT), Err(LogError::Poisoned { .. })));
    assert!(matches!(log.sync(), Err(LogError::Poisoned { .. })));
    assert_eq!(log.next_offset(), acked_next_offset, "the failed batch never became readable");
    drop(log);
    assert_reopens_with_batch_all_or_nothing(dir.path(), acked_next_offset)
}

/// The failed batch's frame reached the file, so a reopen may find it (an
/// append that returned an error has an unknown outcome), but only whole.
fn assert_reopens_with_batch_all_or_nothing(dir: &Path, acked_next_offset: u64) -> TestResult {
    let log = Log::open(dir, options(None))?;
    let next_offset = log.next_offset();
    assert!(
        next_offset == acked_next_offset || next_offset == acked_next_offset + LARGE_BATCH_RECORD_COUNT,
        "acknowledged next_offset={acked_next_offset}, failed batch of {LARGE_BATCH_RECORD_COUNT}, found {next_offset}"
    );
    for offset in 0..next_offset {
        assert_eq!(log.read(offset)?.payload, payload(offset), "read({offset})");
    }
    let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: &payload(next_offset) }])?;
    assert_eq!(appended.first_offset, next_offset, "offsets stay dense after the reopen");
    Ok(())
}

#[test]
fn log_with_a_sync_ahead_thread_releases_its_lock_when_dropped() -> TestResult {
    let dir = tempfile::tempdir()?;
    for _ in 0..5 {
        let log = Log::open(dir.path(), options(None))?;
        // Dropped while the thread may still be syncing this batch.
        append_pending(&log, LARGE_BATCH_RECORD_COUNT)?;
        drop(log);
    }
    let log = Log::open(dir.path(), options(None))?;
    assert_eq!(log.next_offset(), 5 * LARGE_BATCH_RECORD_COUNT, "a drop makes pending batches durable");
    Ok(())
}
