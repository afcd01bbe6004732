//! Two repair defects, each once a user-visible failure:
//!
//! - Two sealed segments swapped, their headers rewritten to match their new
//!   names, needed two `verify --repair` passes: the first exited 4 and the
//!   records before the damage stayed unreadable until a second one.
//! - After a repair cut the log back, later appends handed out the
//!   quarantined offsets again, so a consumer that had seen offset N saw a
//!   different record at N. A repair now leaves an empty segment based at
//!   the highest offset anything in the log ever held, and appends continue
//!   there.

mod common;

use std::path::{Path, PathBuf};

use recstore::log::{Log, LogOptions, NewRecord, SyncMode, verify};

use common::TestResult;

fn options() -> LogOptions {
    LogOptions { segment_size_bytes: 1024, sync: SyncMode::Never, ..LogOptions::default() }
}

/// A log of single-record batches over several 1 KiB segments; returns the
/// data dir guard, the log dir and the next offset.
fn write_log() -> Result<(tempfile::TempDir, PathBuf, u64), Box<dyn std::error::Error>> {
    let data_dir = tempfile::tempdir()?;
    let log_dir = data_dir.path().join("log");
    let log = Log::open(&log_dir, options())?;
    for offset in 0..60u64 {
        let payload = format!("record {offset:04} {}", "p".repeat(60)).into_bytes();
        log.append(&[NewRecord { kind: 1, flags: 0, payload: &payload }])?;
    }
    assert!(log.segment_count() >= 5, "1 KiB segments rolled several times");
    let next = log.next_offset();
    drop(log);
    Ok((data_dir, log_dir, next))
}

fn segments(log_dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(log_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn base_of(path: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(path.file_stem().and_then(|s| s.to_str()).ok_or("a segment name")?.parse()?)
}

/// A segment's bytes with its header's base offset (bytes 12..20) set to
/// `base` and the header checksum (bytes 28..32, over 0..28) made right.
fn rebased(mut bytes: Vec<u8>, base: u64) -> Vec<u8> {
    bytes[12..20].copy_from_slice(&base.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn swapped_sealed_segments_are_repaired_in_one_pass_and_the_records_before_them_read() -> TestResult {
    let (_data_dir, log_dir, next) = write_log()?;
    let paths = segments(&log_dir)?;
    let (first, second) = (&paths[1], &paths[2]);
    let (first_base, second_base) = (base_of(first)?, base_of(second)?);
    let (first_bytes, second_bytes) = (std::fs::read(first)?, std::fs::read(second)?);
    std::fs::write(first, rebased(second_bytes, first_base))?;
    std::fs::write(second, rebased(first_bytes, second_base))?;
    for path in [first, second] {
        let _ = std::fs::remove_file(path.with_extension("idx"));
    }
    assert!(!verify(&log_dir, false)?.is_clean(), "the swap is found");

    verify(&log_dir, true)?;

    let after = verify(&log_dir, false)?;
    assert!(after.is_clean() && after.problems.is_empty(), "one repair leaves a clean log: {:?}", after.problems);
    let log = Log::open(&log_dir, options())?;
    for offset in 0..first_base {
        assert_eq!(log.read(offset)?.offset, offset, "records before the damage read");
    }
    let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: b"after repair" }])?;
    assert!(appended.first_offset >= next, "offset {} was handed out before (next was {next})", appended.first_offset);
    Ok(())
}

#[test]
fn after_a_repair_no_offset_is_handed_out_twice() -> TestResult {
    for damaged_segment in [1usize, 3] {
        let (_data_dir, log_dir, next) = write_log()?;
        let paths = segments(&log_dir)?;
        let damaged = &paths[damaged_segment.min(paths.len() - 1)];
        let mut bytes = std::fs::read(damaged)?;
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(damaged, bytes)?;

        let report = verify(&log_dir, true)?;

        let cut = report.repaired_next_offset.ok_or("the repair cut the log")?;
        assert!(cut < next);
        assert_eq!(report.resumed_next_offset, Some(next), "appends resume where the log ended");
        // The cut segment is sealed now; its index is written by the next open.
        assert!(verify(&log_dir, false)?.is_clean());
        let log = Log::open(&log_dir, options())?;
        assert_eq!(log.next_offset(), next);
        for offset in 0..cut {
            assert_eq!(log.read(offset)?.offset, offset, "records before the damage read");
        }
        assert!(log.read(cut).is_err(), "the quarantined offsets are not readable");
        let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: b"after repair" }])?;
        assert_eq!(appended.first_offset, next, "segment {damaged_segment}: no offset handed out twice");
        drop(log);
        assert!(verify(&log_dir, false)?.problems.is_empty());
    }
    Ok(())
}

/// Through the CLI: after a repair cut the log, the views and the search
/// index no longer count the quarantined items (their checkpoints claim
/// offsets in the gap, whose last record no longer reads), and the next put
/// gets a fresh offset.
#[test]
fn after_a_repair_views_and_search_forget_the_quarantined_items_and_puts_get_fresh_offsets() -> TestResult {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let run = |args: &[&str], stdin: &str| -> Result<std::process::Output, std::io::Error> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recstore"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .env("CI", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().ok_or("stdin").map_err(std::io::Error::other)?.write_all(stdin.as_bytes())?;
        child.wait_with_output()
    };
    let segment_len_after_first = {
        run(&["put", "--id", "a", "--type", "t", "-"], r#"{"word": "alpha"}"#)?;
        std::fs::metadata(segments(&data.join("log"))?[0].clone())?.len() as usize
    };
    run(&["put", "--id", "b", "--type", "t", "-"], r#"{"word": "bravo"}"#)?;
    run(&["put", "--id", "c", "--type", "t", "-"], r#"{"word": "charlie"}"#)?;
    assert_eq!(String::from_utf8(run(&["search", "charlie"], "")?.stdout)?.lines().count(), 1);
    let segment = segments(&data.join("log"))?[0].clone();
    let mut bytes = std::fs::read(&segment)?;
    bytes[segment_len_after_first + 20] ^= 0x40;
    std::fs::write(&segment, bytes)?;

    let repaired = run(&["verify", "--repair"], "")?;
    assert!(repaired.status.success(), "{repaired:?}");
    assert!(String::from_utf8(repaired.stdout)?.contains("new writes get offsets from 3 on"));

    let count = run(&["query", "--type", "t", "--count"], "")?;
    assert_eq!(String::from_utf8(count.stdout)?.trim(), "1", "only the item before the damage is live");
    let found = run(&["search", "charlie"], "")?;
    assert_eq!(String::from_utf8(found.stdout)?.trim(), "", "the search index forgot the quarantined item");
    let put = run(&["put", "--id", "d", "-"], "4")?;
    assert_eq!(String::from_utf8(put.stdout)?.trim(), "d 1 3", "the next put gets a fresh offset");
    Ok(())
}

/// A deleted sealed segment left its index behind, the only trace of the
/// offsets it held, and `verify --repair` deleted it. It goes to quarantine.
#[test]
fn an_orphaned_index_is_quarantined_not_deleted() -> TestResult {
    let (data_dir, log_dir, _) = write_log()?;
    let paths = segments(&log_dir)?;
    let gone = &paths[1];
    let index = gone.with_extension("idx");
    let index_bytes = std::fs::read(&index)?;
    std::fs::remove_file(gone)?;

    verify(&log_dir, true)?;

    assert!(!index.exists());
    let mut kept = Vec::new();
    for folder in std::fs::read_dir(data_dir.path().join("quarantine"))? {
        let candidate = folder?.path().join(index.file_name().ok_or("a name")?);
        if candidate.exists() {
            kept.push(std::fs::read(candidate)?);
        }
    }
    assert_eq!(kept, vec![index_bytes], "the orphaned index is in quarantine, byte for byte");
    Ok(())
}
