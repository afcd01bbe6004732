//! Every offset range is accounted for: a sealed segment deleted, cut at a
//! frame boundary, or swapped for another, and the active segment or the
//! manifest deleted, are corruption naming the file, never a silent gap.
//!
//! Before the manifest (`log/MANIFEST`, format 4) the log accepted gaps
//! between segments, because compaction leaves gaps in offsets: a deleted
//! sealed segment was a warning, `get` of an item in it said "no record",
//! and with the `.idx` files gone too everything reported clean. A segment
//! cut exactly at a frame boundary looked like one compaction had emptied
//! at its end.

mod cli_support;
mod common;

use std::path::{Path, PathBuf};

use common::TestResult;
use recstore::log::{Log, LogError, LogOptions, NewRecord, SyncMode, verify};
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::json;

fn options() -> LogOptions {
    LogOptions { segment_size_bytes: 2048, sync: SyncMode::Never, ..LogOptions::default() }
}

/// A closed log of several 2 KiB segments; each batch's payload size varies
/// so that no two segments are the same size.
fn write_log() -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let log = Log::open(dir.path(), options())?;
    let mut batch = 0u64;
    while log.segment_count() < 6 {
        let payload = format!("record {batch} {}", "x".repeat((batch * 37 % 300) as usize));
        log.append(&[NewRecord { kind: 1, flags: 0, payload: payload.as_bytes() }])?;
        batch += 1;
    }
    Ok(dir)
}

fn segments(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.retain(|path| path.extension().is_some_and(|e| e == "seg"));
    paths.sort();
    Ok(paths)
}

fn copy_dir(from: &Path) -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let copy = tempfile::tempdir()?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        std::fs::copy(&path, copy.path().join(path.file_name().ok_or("a file name")?))?;
    }
    Ok(copy)
}

/// Frame boundaries of a segment: where each frame after the header starts.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut position = 32;
    while position < bytes.len() {
        starts.push(position);
        position += u32::from_le_bytes(bytes[position + 4..position + 8].try_into().expect("4 bytes")) as usize;
    }
    starts
}

/// The open fails with corruption naming `path`; verify says the same.
fn assert_reported(dir: &Path, path: &Path, context: &str) -> TestResult {
    match Log::open(dir, options()) {
        Err(LogError::Corruption { path: named, .. }) => assert_eq!(named, path, "{context}: the open names the file"),
        Err(other) => panic!("{context}: expected corruption, got {other}"),
        Ok(_) => panic!("{context}: the open must fail"),
    }
    let report = verify(dir, false)?;
    assert!(!report.is_clean(), "{context}: verify must report it");
    assert!(report.problems.iter().any(|p| p.path == path), "{context}: {:?}", report.problems);
    Ok(())
}

#[test]
fn a_deleted_sealed_segment_is_corruption_naming_the_offsets_it_held_even_without_indexes() -> TestResult {
    let written = write_log()?;
    let sealed = segments(written.path())?;
    for (index, victim) in sealed[..sealed.len() - 1].iter().enumerate() {
        let copy = copy_dir(written.path())?;
        let path = copy.path().join(victim.file_name().ok_or("a file name")?);
        std::fs::remove_file(&path)?;
        for idx in std::fs::read_dir(copy.path())? {
            let idx = idx?.path();
            if idx.extension().is_some_and(|e| e == "idx") {
                std::fs::remove_file(idx)?;
            }
        }
        let context = format!("sealed segment {index} deleted");
        assert_reported(copy.path(), &path, &context)?;
        let report = verify(copy.path(), false)?;
        let problem = report.problems.iter().find(|p| p.path == path).ok_or("the problem")?;
        assert!(
            problem.message.contains("segment missing: the manifest lists it, holding offsets"),
            "{context}: {problem}"
        );
    }
    Ok(())
}

#[test]
fn a_sealed_segment_cut_at_any_frame_boundary_is_corruption() -> TestResult {
    let written = write_log()?;
    let sealed = segments(written.path())?;
    let victim = &sealed[1];
    let bytes = std::fs::read(victim)?;
    let starts = frame_starts(&bytes);
    assert!(starts.len() >= 2, "the segment needs frames to cut between");
    for &cut in &starts[1..] {
        let copy = copy_dir(written.path())?;
        let path = copy.path().join(victim.file_name().ok_or("a file name")?);
        std::fs::write(&path, &bytes[..cut])?;
        assert_reported(copy.path(), &path, &format!("cut at the frame boundary {cut}"))?;
    }
    Ok(())
}

#[test]
fn swapped_sealed_segments_with_matching_headers_are_corruption() -> TestResult {
    let written = write_log()?;
    let copy = copy_dir(written.path())?;
    let sealed = segments(copy.path())?;
    let (first, second) = (std::fs::read(&sealed[1])?, std::fs::read(&sealed[2])?);
    assert_ne!(first.len(), second.len(), "the test needs segments of different sizes");
    // Each gets the other's bytes, with its header's base offset made to
    // match its new name, so only the manifest can tell.
    let with_base = |bytes: &[u8], base_of: &[u8]| {
        let mut swapped = bytes.to_vec();
        swapped[12..20].copy_from_slice(&base_of[12..20]);
        swapped
    };
    std::fs::write(&sealed[1], with_base(&second, &first))?;
    std::fs::write(&sealed[2], with_base(&first, &second))?;
    match Log::open(copy.path(), options()) {
        Err(LogError::Corruption { .. }) => Ok(()),
        Err(other) => Err(format!("expected corruption, got {other}").into()),
        Ok(_) => Err("swapped segments must not open".into()),
    }
}

#[test]
fn a_deleted_active_segment_is_corruption_and_a_repair_never_hands_its_offsets_out_again() -> TestResult {
    let written = write_log()?;
    let copy = copy_dir(written.path())?;
    let active = segments(copy.path())?.pop().ok_or("a segment")?;
    let active_base: u64 = active.file_stem().and_then(|s| s.to_str()).ok_or("a name")?.parse()?;
    std::fs::remove_file(&active)?;
    assert_reported(copy.path(), &active, "active segment deleted")?;
    let repaired = verify(copy.path(), true)?;
    assert!(repaired.resumed_next_offset.is_some_and(|next| next >= active_base), "{repaired:?}");
    let log = Log::open(copy.path(), options())?;
    assert!(log.next_offset() >= active_base, "offsets {active_base}.. were handed out before");
    Ok(())
}

#[test]
fn a_deleted_manifest_is_corruption_and_a_repair_rebuilds_it() -> TestResult {
    let written = write_log()?;
    let copy = copy_dir(written.path())?;
    let manifest = copy.path().join("MANIFEST");
    std::fs::remove_file(&manifest)?;
    assert_reported(copy.path(), &manifest, "manifest deleted")?;
    verify(copy.path(), true)?;
    assert!(verify(copy.path(), false)?.problems.is_empty());
    let log = Log::open(copy.path(), options())?;
    log.read(0)?;
    Ok(())
}

#[test]
fn the_cli_verify_exits_4_on_a_deleted_segment_of_a_store() -> TestResult {
    let env = cli_support::Env::new();
    let store = Store::open(env.data(), StoreOptions::default().segment_size_bytes(4096))?;
    for n in 0..200 {
        store.put(Data::Json(json!({"n": n, "pad": "p".repeat(200)})), Metadata::default())?;
    }
    store.close()?;
    let sealed = segments(&env.data().join("log"))?;
    assert!(sealed.len() > 3, "small segments must have rolled");
    std::fs::remove_file(&sealed[1])?;
    let run = env.run(&["verify"]).expect_code(4);
    assert!(run.text().contains("segment missing"), "{}", run.text());
    Ok(())
}
