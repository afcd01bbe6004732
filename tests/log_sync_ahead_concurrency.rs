//! Concurrent large and small appends under `SyncMode::Always` are each
//! durable when acknowledged, whoever led the fdatasync that covered them:
//! the sync-ahead thread (large `append_pending` batches), a writer waiting
//! on its own small batch, or a roll sealing the segment.
//!
//! The log shows a record to readers only once an fdatasync covering it has
//! completed, so each writer checks, right after its acknowledgement, that
//! `Log::next_offset` has passed its batch. Segments are small so that
//! rolls happen while the sync-ahead thread works; at the end, a reopen must
//! hold every acknowledged record.

mod common;

use recstore::log::{Appended, Log, LogError, LogOptions, NewRecord, SyncMode};

use common::TestResult;

const LARGE_WRITER_COUNT: u64 = 2;
const SMALL_WRITER_COUNT: u64 = 3;
const BATCHES_PER_WRITER: u64 = 40;
const LARGE_BATCH_RECORD_COUNT: u64 = 150;

fn options() -> LogOptions {
    LogOptions { sync: SyncMode::Always, segment_size_bytes: 128 * 1024, ..LogOptions::default() }
}

/// A payload that names its writer, batch and record.
fn payload(writer: u64, batch: u64, record: u64) -> Vec<u8> {
    format!("{writer}/{batch}/{record}|").repeat(1 + ((writer + batch + record) % 7) as usize).into_bytes()
}

/// One acknowledged batch and what it held.
struct Acked {
    appended: Appended,
    payloads: Vec<Vec<u8>>,
}

/// Appends this writer's batches, checking each is readable (so durable)
/// when acknowledged. Large writers use `append_pending` + `wait_durable`,
/// which syncs ahead; small writers alternate that with `append`.
fn write_batches(log: &Log, writer: u64) -> Result<Vec<Acked>, LogError> {
    let large = writer < LARGE_WRITER_COUNT;
    let mut acked = Vec::new();
    for batch in 0..BATCHES_PER_WRITER {
        let record_count = if large { LARGE_BATCH_RECORD_COUNT } else { 1 + batch % 3 };
        let payloads: Vec<Vec<u8>> = (0..record_count).map(|r| payload(writer, batch, r)).collect();
        let records: Vec<NewRecord<'_>> =
            payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        let appended = if large || batch % 2 == 0 {
            let appended = log.append_pending(&records)?;
            log.wait_durable(appended.last_offset + 1)?;
            appended
        } else {
            log.append(&records)?
        };
        let readable_next_offset = log.next_offset();
        assert!(
            readable_next_offset > appended.last_offset,
            "writer {writer} batch {batch}: acknowledged last_offset={} but readable next_offset={readable_next_offset}",
            appended.last_offset
        );
        acked.push(Acked { appended, payloads });
    }
    Ok(acked)
}

#[test]
fn concurrent_large_and_small_appends_are_durable_when_acknowledged() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options())?;
    let per_writer: Vec<Result<Vec<Acked>, LogError>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..LARGE_WRITER_COUNT + SMALL_WRITER_COUNT)
            .map(|writer| {
                let log = &log;
                scope.spawn(move || write_batches(log, writer))
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    assert!(log.segment_count() > 2, "the test must cross rolls");
    drop(log);
    let log = Log::open(dir.path(), options())?;
    let mut record_count = 0;
    for acked in per_writer {
        for batch in acked? {
            for (offset, expected) in (batch.appended.first_offset..).zip(&batch.payloads) {
                assert_eq!(&log.read(offset)?.payload, expected, "offset {offset} after reopen");
                record_count += 1;
            }
        }
    }
    assert_eq!(log.next_offset(), record_count, "offsets are dense and nothing else was written");
    Ok(())
}
