//! Appends, reads, rotation and reopen of the log across many segments,
//! on every storage backend (`common::every_backend`).

mod common;

use std::ops::ControlFlow;

use common::{Backend, TestResult, every_backend};
use recstore::log::{Log, LogError, LogOptions, NewRecord, SyncMode};

fn small_segments(backend: &Backend) -> LogOptions {
    backend.options(LogOptions { segment_size_bytes: 4096, sync: SyncMode::Never, ..LogOptions::default() })
}

/// Runs `check` on a fresh log directory of each backend, naming the
/// backend when it fails.
fn on_every_backend(check: impl Fn(&Backend) -> TestResult) -> TestResult {
    for backend in every_backend()? {
        check(&backend).map_err(|error| format!("on the {} backend: {error}", backend.name))?;
    }
    Ok(())
}

fn payload(i: u64) -> Vec<u8> {
    format!("record number {i} {}", "x".repeat((i % 200) as usize)).into_bytes()
}

#[test]
fn appends_rotate_and_survive_reopen() -> TestResult {
    on_every_backend(|backend| {
        let mut positions = Vec::new();
        {
            let log = Log::open(&backend.log_dir, small_segments(backend))?;
            for i in 0..500u64 {
                let bytes = payload(i);
                let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: &bytes }])?;
                assert_eq!(appended.first_offset, i);
                positions.push(appended.positions_bytes[0]);
            }
            assert!(log.segment_count() > 10, "4 KiB segments must have rolled");
        }
        let log = Log::open(&backend.log_dir, small_segments(backend))?;
        assert_eq!(log.next_offset(), 500);
        for i in [0u64, 1, 77, 250, 499] {
            assert_eq!(log.read(i)?.payload, payload(i));
            assert_eq!(log.read_hinted(i, positions[i as usize])?.payload, payload(i));
        }
        let mut seen = Vec::new();
        log.scan(123, |r| {
            seen.push(r.offset);
            ControlFlow::Continue(())
        })?;
        assert_eq!(seen, (123..500).collect::<Vec<_>>());
        let appended = log.append(&[NewRecord { kind: 2, flags: 0, payload: b"after reopen" }])?;
        assert_eq!(appended.first_offset, 500);
        assert!(matches!(log.read(9999), Err(LogError::OffsetNotFound { offset: 9999, .. })));
        Ok(())
    })
}

#[test]
fn batches_share_a_timestamp_and_time_lookup_finds_them() -> TestResult {
    on_every_backend(|backend| {
        let log = Log::open(&backend.log_dir, small_segments(backend))?;
        let mut stamps = Vec::new();
        for i in 0..50u64 {
            let a = payload(i);
            let b = payload(i + 1);
            let appended = log.append(&[
                NewRecord { kind: 1, flags: 0, payload: &a },
                NewRecord { kind: 1, flags: 0, payload: &b },
            ])?;
            assert_eq!(log.read(appended.first_offset)?.timestamp_us, log.read(appended.last_offset)?.timestamp_us);
            stamps.push((appended.first_offset, appended.timestamp_us));
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        for &(offset, timestamp_us) in &stamps {
            let found = log.offset_at_time(timestamp_us)?;
            assert_eq!(log.read(found)?.timestamp_us, timestamp_us);
            assert!(found <= offset);
        }
        assert_eq!(log.offset_at_time(u64::MAX)?, log.next_offset());
        Ok(())
    })
}

#[test]
fn second_writer_is_refused_and_readers_are_not() -> TestResult {
    on_every_backend(|backend| {
        let log = Log::open(&backend.log_dir, small_segments(backend))?;
        log.append(&[NewRecord { kind: 1, flags: 0, payload: b"one" }])?;
        match Log::open(&backend.log_dir, small_segments(backend)) {
            Err(LogError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a second writer must be refused"),
        }
        let reader = Log::open(&backend.log_dir, LogOptions { read_only: true, ..small_segments(backend) })?;
        assert_eq!(reader.read(0)?.payload, b"one");
        assert!(matches!(
            reader.append(&[NewRecord { kind: 1, flags: 0, payload: b"x" }]),
            Err(LogError::ReadOnly { .. })
        ));
        Ok(())
    })
}

#[test]
fn oversize_input_is_refused_before_writing() -> TestResult {
    on_every_backend(|backend| {
        let options = LogOptions { record_size_bytes_max: 100, batch_size_bytes_max: 1000, ..small_segments(backend) };
        let log = Log::open(&backend.log_dir, options)?;
        let big = vec![7u8; 101];
        assert!(matches!(
            log.append(&[NewRecord { kind: 1, flags: 0, payload: &big }]),
            Err(LogError::TooLarge { what: "record", .. })
        ));
        let fine = vec![7u8; 100];
        let many: Vec<_> = (0..10).map(|_| NewRecord { kind: 1, flags: 0, payload: &fine }).collect();
        assert!(matches!(log.append(&many), Err(LogError::TooLarge { what: "batch", .. })));
        assert!(matches!(log.append(&[]), Err(LogError::BadBatch { count: 0, .. })));
        assert_eq!(log.next_offset(), 0);
        assert_eq!(log.append(&[NewRecord { kind: 1, flags: 0, payload: &fine }])?.first_offset, 0);
        drop(log);
        // A frame records positions as u32, so a segment must end below 4 GiB.
        let huge = LogOptions { segment_size_bytes: 3 << 30, ..small_segments(backend) };
        assert!(matches!(
            Log::open(&backend.log_dir, huge),
            Err(LogError::TooLarge { what: "segment_size_bytes", .. })
        ));
        Ok(())
    })
}
