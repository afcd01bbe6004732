//! A clock before 1970 made every write panic (exit 101) inside chrono, and
//! a roll or a fresh store left a 0-byte segment behind that the next
//! `verify` reported as corruption; a clock past year 9999 stamped times
//! that print as `+10000-...`, which is not RFC 3339. A write now reads the
//! clock before touching any file and refuses a reading outside
//! 1970..=9999 with `invalid_input` naming it.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use recstore::log::{Clock, TIMESTAMP_US_MAX};
use recstore::{Data, ErrorKind, Metadata, Store, StoreOptions, SyncMode};

use common::TestResult;

fn options(now: SystemTime) -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Never).segment_size_bytes(512).clock(Clock::new(move || now))
}

fn put(store: &Store, id: &str) -> recstore::Result<recstore::ItemRef> {
    store.put(
        Data::Json(serde_json::json!({"pad": "x".repeat(300)})),
        Metadata { id: Some(id.into()), ..Metadata::default() },
    )
}

/// Every segment file and its size.
fn segments(data: &Path) -> Result<Vec<(String, u64)>, std::io::Error> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(data.join("log"))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".seg") {
            found.push((name, entry.metadata()?.len()));
        }
    }
    found.sort();
    Ok(found)
}

#[test]
fn writes_with_a_clock_outside_1970_to_9999_are_refused_by_name_and_change_no_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let now = SystemTime::now();
    let store = Store::open(&data, options(now))?;
    put(&store, "before")?;
    store.close()?;
    let readings = [
        (UNIX_EPOCH - Duration::from_secs(86_400), "1969-12-31T00:00:00.000000Z"),
        (UNIX_EPOCH + Duration::from_micros(TIMESTAMP_US_MAX + 1), "10000-01-01T00:00:00.000000Z"),
    ];
    for (reading, named) in readings {
        let before = segments(&data)?;
        let store = Store::open(&data, options(reading))?;
        // Twice: the segment is full, so the second attempt would roll.
        for attempt in 0..2 {
            let refused = put(&store, "refused").err().ok_or("a write with the clock out of range succeeded")?;
            assert_eq!(refused.kind(), ErrorKind::InvalidInput, "{refused}");
            assert!(refused.to_string().contains(named), "attempt {attempt}: the error names the reading: {refused}");
        }
        store.close()?;
        assert_eq!(segments(&data)?, before, "a refused write leaves every segment as it was");
    }
    let store = Store::open(&data, options(now))?;
    assert!(store.get("refused").is_err(), "nothing refused was stored");
    put(&store, "after")?;
    let report = recstore::log::verify(&data.join("log"), false)?;
    assert!(report.is_clean(), "{:?}", report.problems);
    Ok(())
}

#[test]
fn a_fresh_store_with_the_clock_before_1970_refuses_to_open_and_leaves_no_empty_segment() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let refused = Store::open(&data, options(UNIX_EPOCH - Duration::from_micros(1)))
        .err()
        .ok_or("a fresh store opened with the clock before 1970")?;
    assert_eq!(refused.kind(), ErrorKind::InvalidInput, "{refused}");
    assert!(refused.to_string().contains("1969-12-31T23:59:59.999999Z"), "{refused}");
    let leftovers = if data.join("log").exists() { segments(&data)? } else { Vec::new() };
    assert!(leftovers.is_empty(), "no half-made segment: {leftovers:?}");
    let store = Store::open(&data, options(SystemTime::now()))?;
    put(&store, "first")?;
    Ok(())
}
