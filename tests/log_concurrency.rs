//! Concurrent appends get unique, dense offsets, and concurrent readers
//! never see a gap or a wrong payload.
//!
//! Eight threads append with `SyncMode::Always`, so their fdatasyncs are
//! shared (group commit), while two threads read: tailing scans that must
//! reach every offset published before they started, and full rescans that
//! must see the same bytes every time. Segments are small, so appends and
//! reads cross rolls. `SyncMode::Interval` gets a basic run with reopens.

mod common;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use recstore::log::{Log, LogOptions, NewRecord, SyncMode};

use common::TestResult;

const APPENDER_COUNT: u64 = 8;
const READER_COUNT: usize = 2;
const BATCHES_PER_APPENDER: u64 = 150;

fn options(sync: SyncMode) -> LogOptions {
    LogOptions { segment_size_bytes: 64 * 1024, sync, ..LogOptions::default() }
}

/// A payload that names its writer and can be checked on its own: an
/// ASCII header `thread/batch/record|`, then filler derived from it.
fn payload(thread: u64, batch: u64, record: u64) -> Vec<u8> {
    let header = format!("{thread}/{batch}/{record}|");
    let filler_size = ((thread * 131 + batch * 31 + record * 7) % 300) as usize;
    let filler = header.bytes().cycle().take(filler_size);
    header.bytes().chain(filler).collect()
}

/// Whether `bytes` is a payload `payload` could have made.
fn is_well_formed(bytes: &[u8]) -> bool {
    let Some(end) = bytes.iter().position(|&b| b == b'|') else { return false };
    let Ok(header) = std::str::from_utf8(&bytes[..end]) else { return false };
    let fields: Vec<u64> = header.split('/').filter_map(|f| f.parse().ok()).collect();
    fields.len() == 3 && payload(fields[0], fields[1], fields[2]) == bytes
}

/// One acknowledged batch: its offsets and the payloads sent.
struct AckedBatch {
    first_offset: u64,
    last_offset: u64,
    payloads: Vec<Vec<u8>>,
}

fn append_from_thread(log: &Log, thread: u64, batch_count: u64) -> Result<Vec<AckedBatch>, String> {
    let mut acked: Vec<AckedBatch> = Vec::new();
    for batch in 0..batch_count {
        let payloads: Vec<Vec<u8>> = (0..1 + (thread + batch) % 3).map(|r| payload(thread, batch, r)).collect();
        let records: Vec<NewRecord<'_>> =
            payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        let appended = log.append(&records).map_err(|e| e.to_string())?;
        assert_eq!(appended.last_offset - appended.first_offset + 1, payloads.len() as u64, "a batch is dense");
        if let Some(previous) = acked.last() {
            assert!(appended.first_offset > previous.last_offset, "one thread's appends are ordered");
        }
        acked.push(AckedBatch { first_offset: appended.first_offset, last_offset: appended.last_offset, payloads });
    }
    Ok(acked)
}

/// What one reader saw: the payload of each offset, the first time.
#[derive(Default)]
struct ReaderView {
    seen: Vec<Vec<u8>>,
}

impl ReaderView {
    /// Checks one record seen at `offset` against earlier sightings.
    fn observe(&mut self, offset: u64, payload: &[u8]) {
        assert!(is_well_formed(payload), "offset {offset}: a reader got a payload no writer sent");
        match self.seen.get(offset as usize) {
            Some(first) => assert_eq!(first.as_slice(), payload, "offset {offset} changed between reads"),
            None => {
                assert_eq!(offset, self.seen.len() as u64, "a reader skipped an offset");
                self.seen.push(payload.to_vec());
            }
        }
    }
}

/// Reads until the appenders are done and everything is seen: tailing
/// scans, and a full rescan every tenth pass.
fn read_while_appending(log: &Log, appenders_done: &AtomicBool) -> Result<ReaderView, String> {
    let mut view = ReaderView::default();
    for pass in 0u64.. {
        let finished = appenders_done.load(Ordering::Acquire);
        let published = log.next_offset();
        let from_offset = if pass % 10 == 9 { 0 } else { view.seen.len() as u64 };
        let mut expected = from_offset;
        log.scan(from_offset, |record| {
            assert_eq!(record.offset, expected, "a scan from {from_offset} skipped an offset");
            view.observe(record.offset, record.payload);
            expected += 1;
            ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
        assert!(expected >= published, "offsets below {published} were published, a later scan ended at {expected}");
        if finished {
            return Ok(view);
        }
    }
    unreachable!("the loop returns once the appenders are done")
}

#[test]
fn concurrent_appends_get_dense_offsets_and_readers_see_no_gap() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options(SyncMode::Always))?;
    let appenders_done = AtomicBool::new(false);
    let (acked, views) = std::thread::scope(|scope| {
        let readers: Vec<_> =
            (0..READER_COUNT).map(|_| scope.spawn(|| read_while_appending(&log, &appenders_done))).collect();
        let appenders: Vec<_> = (0..APPENDER_COUNT)
            .map(|thread| {
                scope.spawn({
                    let log = &log;
                    move || append_from_thread(log, thread, BATCHES_PER_APPENDER)
                })
            })
            .collect();
        let acked: Vec<_> = appenders.into_iter().map(|a| a.join().expect("appender panicked")).collect();
        appenders_done.store(true, Ordering::Release);
        let views: Vec<_> = readers.into_iter().map(|r| r.join().expect("reader panicked")).collect();
        (acked, views)
    });
    let acked: Vec<AckedBatch> = acked.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
    let views = views.into_iter().collect::<Result<Vec<_>, _>>()?;

    let mut by_offset: Vec<Option<&[u8]>> = vec![None; log.next_offset() as usize];
    for batch in &acked {
        for (offset, payload) in (batch.first_offset..=batch.last_offset).zip(&batch.payloads) {
            let slot = by_offset.get_mut(offset as usize).ok_or("an acknowledged offset is past next_offset")?;
            assert!(slot.replace(payload).is_none(), "offset {offset} was given out twice");
        }
    }
    assert!(by_offset.iter().all(Option::is_some), "every offset below next_offset was acknowledged");
    let record_count: usize = acked.iter().map(|b| b.payloads.len()).sum();
    assert_eq!(record_count as u64, log.next_offset());
    assert!(log.segment_count() > 2, "the appends must have crossed rolls");

    for (offset, payload) in by_offset.iter().enumerate() {
        let payload = payload.ok_or("checked above")?;
        assert_eq!(log.read(offset as u64)?.payload, payload, "read({offset})");
        for view in &views {
            assert_eq!(view.seen[offset], payload, "a reader saw offset {offset} with another payload");
        }
    }
    Ok(())
}

#[test]
fn interval_sync_appends_read_back_and_survive_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let interval = SyncMode::Interval { interval_ms: 5 };
    let mut expected: Vec<Vec<u8>> = Vec::new();
    for reopen in 0..10u64 {
        let log = Log::open(dir.path(), options(interval))?;
        assert_eq!(log.next_offset(), expected.len() as u64, "reopen {reopen}: every append survives");
        let mut scanned = 0;
        log.scan(0, |record| {
            assert_eq!(record.payload, expected[record.offset as usize], "reopen {reopen}: offset {}", record.offset);
            scanned += 1;
            ControlFlow::Continue(())
        })?;
        assert_eq!(scanned, expected.len(), "reopen {reopen}: a scan returns every record");
        let acked = std::thread::scope(|scope| {
            let appenders: Vec<_> = (0..4)
                .map(|thread| {
                    scope.spawn({
                        let log = &log;
                        move || append_from_thread(log, reopen * 4 + thread, 50)
                    })
                })
                .collect();
            appenders.into_iter().map(|a| a.join().expect("appender panicked")).collect::<Result<Vec<_>, _>>()
        })?;
        let mut batches: Vec<AckedBatch> = acked.into_iter().flatten().collect();
        batches.sort_by_key(|b| b.first_offset);
        for batch in batches {
            assert_eq!(batch.first_offset, expected.len() as u64, "reopen {reopen}: offsets are dense");
            for (offset, payload) in (batch.first_offset..).zip(&batch.payloads) {
                assert_eq!(&log.read(offset)?.payload, payload, "reopen {reopen}: read({offset})");
            }
            expected.extend(batch.payloads);
        }
    }
    Ok(())
}

/// Regression: the `Interval` syncer thread held a strong reference to the
/// log while it synced, so a log dropped during a sync stayed alive, lock
/// file included, and reopening the directory at once failed with
/// `LogError::Locked` naming this very process.
#[test]
fn interval_sync_log_releases_its_lock_when_dropped() -> TestResult {
    let dir = tempfile::tempdir()?;
    for reopen in 0..300u64 {
        let log = Log::open(dir.path(), options(SyncMode::Interval { interval_ms: 1 }))
            .map_err(|e| format!("reopen {reopen}: {e}"))?;
        assert_eq!(log.next_offset(), reopen, "reopen {reopen}: every append survives");
        let bytes = payload(0, reopen, 0);
        log.append(&[NewRecord { kind: 1, flags: 0, payload: &bytes }])?;
        // Let the drop land at a different point of the syncer's period each time.
        std::thread::sleep(std::time::Duration::from_micros(reopen * 7 % 1500));
    }
    Ok(())
}
