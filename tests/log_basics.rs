//! Appends, reads, rotation and reopen of the log across many segments.

use std::ops::ControlFlow;

use recstore::log::{Log, LogError, LogOptions, NewRecord, SyncMode};

fn small_segments() -> LogOptions {
    LogOptions { segment_size_bytes: 4096, sync: SyncMode::Never, ..LogOptions::default() }
}

fn payload(i: u64) -> Vec<u8> {
    format!("record number {i} {}", "x".repeat((i % 200) as usize)).into_bytes()
}

#[test]
fn appends_rotate_and_survive_reopen() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut positions = Vec::new();
    {
        let log = Log::open(dir.path(), small_segments())?;
        for i in 0..500u64 {
            let bytes = payload(i);
            let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: &bytes }])?;
            assert_eq!(appended.first_offset, i);
            positions.push(appended.positions_bytes[0]);
        }
        assert!(log.segment_count() > 10, "4 KiB segments must have rolled");
    }
    let log = Log::open(dir.path(), small_segments())?;
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
}

#[test]
fn batches_share_a_timestamp_and_time_lookup_finds_them() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), small_segments())?;
    let mut stamps = Vec::new();
    for i in 0..50u64 {
        let a = payload(i);
        let b = payload(i + 1);
        let appended =
            log.append(&[NewRecord { kind: 1, flags: 0, payload: &a }, NewRecord { kind: 1, flags: 0, payload: &b }])?;
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
}

#[test]
fn second_writer_is_refused_and_readers_are_not() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), small_segments())?;
    log.append(&[NewRecord { kind: 1, flags: 0, payload: b"one" }])?;
    match Log::open(dir.path(), small_segments()) {
        Err(LogError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second writer must be refused"),
    }
    let reader = Log::open(dir.path(), LogOptions { read_only: true, ..small_segments() })?;
    assert_eq!(reader.read(0)?.payload, b"one");
    assert!(matches!(reader.append(&[NewRecord { kind: 1, flags: 0, payload: b"x" }]), Err(LogError::ReadOnly { .. })));
    Ok(())
}

#[test]
fn oversize_input_is_refused_before_writing() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let options = LogOptions { record_size_bytes_max: 100, batch_size_bytes_max: 1000, ..small_segments() };
    let log = Log::open(dir.path(), options)?;
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
    Ok(())
}
