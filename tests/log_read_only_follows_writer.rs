//! A read-only log opened in one place sees what the writer appends later:
//! `Log::refresh` picks up new frames and segments the writer rolled to, and
//! `Log::watch` wakes without anyone calling it. Before this, a read-only
//! open was a frozen snapshot, so `recstore log --follow` beside a writing
//! process never printed anything new (issue 7).

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use recstore::log::{Log, LogOptions, NewRecord};

use common::TestResult;

/// What a scan saw: each record's offset and payload.
type Payloads = Vec<(u64, Vec<u8>)>;

fn small_segments(read_only: bool) -> LogOptions {
    LogOptions { segment_size_bytes: 4096, read_only, ..LogOptions::default() }
}

fn payloads(log: &Log) -> Result<Payloads, Box<dyn std::error::Error>> {
    let mut seen = Vec::new();
    log.scan(0, |record| {
        seen.push((record.offset, record.payload.to_vec()));
        ControlFlow::Continue(())
    })?;
    Ok(seen)
}

#[test]
fn refresh_follows_appends_across_segment_rolls() -> TestResult {
    let dir = tempfile::tempdir()?;
    let writer = Log::open(dir.path(), small_segments(false))?;
    writer.append(&[NewRecord { kind: 1, flags: 0, payload: b"before" }])?;
    let reader = Log::open(dir.path(), small_segments(true))?;
    assert_eq!(reader.next_offset(), 1);

    let mut expected = vec![(0, b"before".to_vec())];
    for n in 1..200u64 {
        let payload = format!("record {n} {}", "x".repeat(100)).into_bytes();
        writer.append(&[NewRecord { kind: 1, flags: 0, payload: &payload }])?;
        expected.push((n, payload));
        if n % 37 == 0 {
            assert_eq!(reader.refresh()?, n + 1, "refresh mid-way sees everything so far");
        }
    }
    assert!(writer.segment_count() > 3, "the writer rolled several times");
    assert_eq!(reader.refresh()?, 200);
    assert_eq!(reader.segment_count(), writer.segment_count());
    assert_eq!(payloads(&reader)?, expected);
    for offset in [1, 99, 150, 199] {
        assert_eq!(reader.read(offset)?.payload, expected[offset as usize].1, "point read of offset {offset}");
    }
    assert_eq!(reader.refresh()?, 200, "a refresh with nothing new changes nothing");
    Ok(())
}

#[test]
fn a_reader_opened_before_the_log_existed_sees_it_once_written() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log_dir = dir.path().join("log");
    let reader = Log::open(&log_dir, small_segments(true))?;
    assert_eq!(reader.refresh()?, 0);
    let writer = Log::open(&log_dir, small_segments(false))?;
    writer.append(&[NewRecord { kind: 1, flags: 0, payload: b"first" }])?;
    assert_eq!(reader.refresh()?, 1);
    assert_eq!(payloads(&reader)?, [(0, b"first".to_vec())]);
    Ok(())
}

#[test]
fn watch_wakes_in_a_read_only_log_without_explicit_refresh() -> TestResult {
    let dir = tempfile::tempdir()?;
    let writer = Log::open(dir.path(), small_segments(false))?;
    let reader = Log::open(dir.path(), small_segments(true))?;
    let mut published = reader.watch();
    writer.append(&[NewRecord { kind: 1, flags: 0, payload: b"news" }])?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let next = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), published.wait_for(|&next| next >= 1))
            .await
            .map(|r| r.map(|v| *v))
    })??;
    assert_eq!(next, 1);
    assert_eq!(payloads(&reader)?, [(0, b"news".to_vec())]);
    Ok(())
}
