//! `verify` finds damage without the write lock, tells corruption from
//! warnings, and `verify --repair` moves damaged data to quarantine so that
//! the log opens again holding exactly the records before the damage.

mod common;

use std::path::{Path, PathBuf};

use recstore::log::{FORMAT_VERSION, Log, LogError, LogOptions, NewRecord, ProblemKind, SyncMode, verify};

use common::TestResult;

const BATCH_COUNT: u64 = 30;
const RECORDS_PER_BATCH: u64 = 2;

fn options() -> LogOptions {
    // `Always`: every frame is durable before the next is written, and says
    // so, so damage to one with valid frames after it is corruption.
    LogOptions { segment_size_bytes: 1024, sync: SyncMode::Always, ..LogOptions::default() }
}

fn payload(offset: u64) -> Vec<u8> {
    format!("record {offset:04} {}", "p".repeat(40)).into_bytes()
}

/// A data directory with a log of `BATCH_COUNT` two-record batches in
/// several 1 KiB segments; returns `(data_dir guard, log_dir)`.
fn write_log() -> Result<(tempfile::TempDir, PathBuf), Box<dyn std::error::Error>> {
    let data_dir = tempfile::tempdir()?;
    let log_dir = data_dir.path().join("log");
    let log = Log::open(&log_dir, options())?;
    for batch in 0..BATCH_COUNT {
        let first = batch * RECORDS_PER_BATCH;
        let payloads: Vec<Vec<u8>> = (first..first + RECORDS_PER_BATCH).map(payload).collect();
        let records: Vec<NewRecord<'_>> =
            payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        assert_eq!(log.append(&records)?.first_offset, first);
    }
    assert!(log.segment_count() >= 4, "1 KiB segments must have rolled several times");
    drop(log);
    Ok((data_dir, log_dir))
}

fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == extension) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Positions of the frames of a segment, read with the documented layout:
/// frames start after the 32-byte header, the size is at frame bytes 4..8.
fn frame_positions(segment: &[u8]) -> Vec<usize> {
    let mut positions = Vec::new();
    let mut position = 32;
    while position < segment.len() {
        positions.push(position);
        let size = u32::from_le_bytes(segment[position + 4..position + 8].try_into().expect("4 bytes"));
        position += size as usize;
    }
    positions
}

fn first_record_offset(segment: &[u8], frame_position: usize) -> u64 {
    let at = frame_position + 16;
    u64::from_le_bytes(segment[at..at + 8].try_into().expect("8 bytes"))
}

fn flip_byte(path: &Path, position: usize) -> Result<(), std::io::Error> {
    let mut bytes = std::fs::read(path)?;
    bytes[position] ^= 0x40;
    std::fs::write(path, bytes)
}

fn only_quarantine_folder(data_dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let folders: Vec<PathBuf> =
        std::fs::read_dir(data_dir.join("quarantine"))?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    assert_eq!(folders.len(), 1, "one repair makes one quarantine folder: {folders:?}");
    Ok(folders[0].clone())
}

#[test]
fn clean_log_gives_a_clean_report_with_exact_counts() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let segments = files_with_extension(&log_dir, "seg")?;
    let bytes_total: u64 = segments.iter().map(|p| std::fs::metadata(p).map(|m| m.len())).sum::<Result<_, _>>()?;

    let report = verify(&log_dir, false)?;

    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.is_clean());
    assert_eq!(report.segments_checked, segments.len() as u64);
    assert_eq!(report.frames_checked, BATCH_COUNT);
    assert_eq!(report.records_checked, BATCH_COUNT * RECORDS_PER_BATCH);
    assert_eq!(report.bytes_checked, bytes_total);
    assert_eq!(report.next_offset, BATCH_COUNT * RECORDS_PER_BATCH);
    assert!(report.quarantined.is_empty());
    assert_eq!(report.repaired_next_offset, None);
    Ok(())
}

#[test]
fn check_needs_no_lock_and_repair_refuses_a_live_writer() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let log = Log::open(&log_dir, options())?;
    assert!(verify(&log_dir, false)?.problems.is_empty());
    assert!(matches!(verify(&log_dir, true), Err(LogError::Locked { .. })));
    drop(log);
    Ok(())
}

#[test]
fn flipped_byte_in_a_sealed_segment_is_corruption_at_that_frame() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let sealed = files_with_extension(&log_dir, "seg")?[0].clone();
    let bytes = std::fs::read(&sealed)?;
    let frame_position = frame_positions(&bytes)[1];
    flip_byte(&sealed, frame_position + 16 + 28 + 3)?;

    let report = verify(&log_dir, false)?;

    assert!(!report.is_clean());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(problem.kind, ProblemKind::Corruption);
    assert_eq!(problem.path, sealed);
    assert_eq!(problem.position_bytes, frame_position as u64);
    assert_eq!(problem.offset, Some(RECORDS_PER_BATCH));
    assert!(problem.message.contains("crc"), "{}", problem.message);
    Ok(())
}

#[test]
fn repair_quarantines_from_the_damage_on_and_the_log_reopens_with_the_prefix() -> TestResult {
    let (data_dir, log_dir) = write_log()?;
    let segments = files_with_extension(&log_dir, "seg")?;
    let damaged = segments[1].clone();
    let original = std::fs::read(&damaged)?;
    let frame_position = frame_positions(&original)[1];
    let first_lost_offset = first_record_offset(&original, frame_position);
    let later: Vec<(PathBuf, Vec<u8>)> =
        segments[2..].iter().map(|p| std::fs::read(p).map(|b| (p.clone(), b))).collect::<Result<_, _>>()?;
    flip_byte(&damaged, frame_position + 20)?;
    // As a restore leaves it: the sealed segment shared with another log.
    let link = data_dir.path().join("restored-link.seg");
    std::fs::hard_link(&damaged, &link)?;
    let damaged_bytes = std::fs::read(&damaged)?;

    let report = verify(&log_dir, true)?;

    assert!(!report.is_clean(), "the report describes what was found before repairing");
    let quarantine = only_quarantine_folder(data_dir.path())?;
    let name = damaged.file_name().and_then(|n| n.to_str()).ok_or("name")?;
    let tail_copy = quarantine.join(format!("{name}.from-byte-{frame_position}"));
    let mut damaged_tail = original[frame_position..].to_vec();
    damaged_tail[20] ^= 0x40;
    assert_eq!(std::fs::read(&tail_copy)?, damaged_tail, "quarantine holds the bytes from the bad frame on");
    for (path, bytes) in &later {
        let moved = quarantine.join(path.file_name().ok_or("name")?);
        assert_eq!(&std::fs::read(&moved)?, bytes, "later segments are moved whole");
        assert!(!path.exists());
    }
    assert_eq!(report.quarantined.len(), 1 + later.len());
    assert_eq!(report.repaired_next_offset, Some(first_lost_offset), "where the repair cut it back to");
    assert!(quarantine.join("problems.txt").exists());
    assert_eq!(std::fs::read(&damaged)?, original[..frame_position], "the segment is cut at the bad frame");
    assert_eq!(std::fs::read(&link)?, damaged_bytes, "a sealed segment is replaced, never changed in place");

    let again = verify(&log_dir, false)?;
    assert!(again.is_clean(), "{:?}", again.problems);
    assert!(again.problems.is_empty(), "{:?}", again.problems);

    // Appends resume past every offset handed out before: none is reused.
    let next_before = BATCH_COUNT * RECORDS_PER_BATCH;
    assert_eq!(report.resumed_next_offset, Some(next_before));
    let log = Log::open(&log_dir, options())?;
    assert_eq!(log.next_offset(), next_before);
    let records = log.read_batch(0, usize::MAX)?;
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..first_lost_offset).collect::<Vec<_>>());
    for record in &records {
        assert_eq!(record.payload, payload(record.offset));
    }
    assert_eq!(log.append(&[NewRecord { kind: 1, flags: 0, payload: b"after repair" }])?.first_offset, next_before);
    Ok(())
}

#[test]
fn damaged_header_moves_that_segment_and_later_ones_whole() -> TestResult {
    let (data_dir, log_dir) = write_log()?;
    let segments = files_with_extension(&log_dir, "seg")?;
    let damaged = segments[2].clone();
    let base: u64 = damaged.file_stem().and_then(|s| s.to_str()).ok_or("name")?.parse()?;
    flip_byte(&damaged, 14)?;
    let becomes_newest = segments[1].clone();
    let link = data_dir.path().join("restored-link.seg");
    std::fs::hard_link(&becomes_newest, &link)?;
    let shared_bytes = std::fs::read(&link)?;

    let report = verify(&log_dir, false)?;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].kind, ProblemKind::Corruption);
    assert_eq!((report.problems[0].path.clone(), report.problems[0].position_bytes), (damaged.clone(), 0));

    verify(&log_dir, true)?;
    let quarantine = only_quarantine_folder(data_dir.path())?;
    for path in &segments[2..] {
        assert!(quarantine.join(path.file_name().ok_or("name")?).exists());
    }
    // Appends continue in a new segment past every offset handed out before.
    let next_before = BATCH_COUNT * RECORDS_PER_BATCH;
    let mut kept = segments[..2].to_vec();
    kept.push(log_dir.join(format!("{next_before:020}.seg")));
    assert_eq!(files_with_extension(&log_dir, "seg")?, kept);
    let log = Log::open(&log_dir, LogOptions { segment_size_bytes: 1 << 20, ..options() })?;
    assert_eq!(log.next_offset(), next_before, "offsets {base}.. are not handed out again");
    log.append(&[NewRecord { kind: 1, flags: 0, payload: b"appended after the repair" }])?;
    drop(log);
    assert_eq!(std::fs::read(&link)?, shared_bytes, "appends never reach an inode a restore may share");
    assert_eq!(std::fs::read(&becomes_newest)?, shared_bytes, "the segment before the damage stays sealed");
    Ok(())
}

#[test]
fn bad_frame_followed_by_a_valid_one_in_the_newest_segment_is_corruption() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let newest = files_with_extension(&log_dir, "seg")?.pop().ok_or("no segment")?;
    let positions = frame_positions(&std::fs::read(&newest)?);
    assert!(positions.len() >= 2, "the newest segment needs two frames for this test");
    flip_byte(&newest, positions[0] + 8)?;

    let report = verify(&log_dir, false)?;

    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].kind, ProblemKind::Corruption);
    assert_eq!(report.problems[0].position_bytes, positions[0] as u64);
    assert!(report.problems[0].message.contains("a valid frame follows"), "{}", report.problems[0].message);
    Ok(())
}

#[test]
fn torn_tail_is_a_warning_and_repair_cuts_it_like_recovery() -> TestResult {
    let (data_dir, log_dir) = write_log()?;
    let newest = files_with_extension(&log_dir, "seg")?.pop().ok_or("no segment")?;
    let intact = std::fs::read(&newest)?;
    // The start of a frame that claims 200 bytes, cut off after 30.
    let mut torn = intact.clone();
    torn.extend_from_slice(&[0xaa; 4]);
    torn.extend_from_slice(&200u32.to_le_bytes());
    torn.extend_from_slice(&[0x55; 22]);
    std::fs::write(&newest, &torn)?;

    let report = verify(&log_dir, false)?;

    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].kind, ProblemKind::TornTail);
    assert_eq!(report.problems[0].path, newest);
    assert_eq!(report.problems[0].position_bytes, intact.len() as u64);
    assert_eq!(std::fs::read(&newest)?, torn, "a check without repair writes nothing");

    verify(&log_dir, true)?;
    assert_eq!(std::fs::read(&newest)?, intact);
    assert!(!data_dir.path().join("quarantine").exists(), "a torn tail is cut, not quarantined");
    assert!(verify(&log_dir, false)?.problems.is_empty());
    assert_eq!(Log::open(&log_dir, options())?.next_offset(), BATCH_COUNT * RECORDS_PER_BATCH);
    Ok(())
}

#[test]
fn torn_creation_of_the_newest_segment_is_a_warning_and_repair_removes_it() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let torn = log_dir.join(format!("{:020}.seg", BATCH_COUNT * RECORDS_PER_BATCH));
    std::fs::write(&torn, [0x89, b'R', b'S'])?;

    let report = verify(&log_dir, false)?;
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!((report.problems[0].kind, &report.problems[0].path), (ProblemKind::TornTail, &torn));

    verify(&log_dir, true)?;
    assert!(!torn.exists());
    assert!(verify(&log_dir, false)?.problems.is_empty());
    Ok(())
}

#[test]
fn missing_or_garbled_index_is_a_warning_not_corruption() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let indexes = files_with_extension(&log_dir, "idx")?;
    assert!(indexes.len() >= 2);
    std::fs::remove_file(&indexes[0])?;
    flip_byte(&indexes[1], 20)?;

    let report = verify(&log_dir, false)?;

    assert!(report.is_clean(), "{:?}", report.problems);
    let kinds: Vec<(ProblemKind, &Path)> = report.problems.iter().map(|p| (p.kind, p.path.as_path())).collect();
    assert_eq!(
        kinds,
        [(ProblemKind::IndexMissing, indexes[0].as_path()), (ProblemKind::IndexMismatch, indexes[1].as_path())]
    );

    verify(&log_dir, true)?;
    assert!(!indexes[1].exists(), "a garbled index is deleted so that it is rebuilt");
    drop(Log::open(&log_dir, options())?);
    let rebuilt = verify(&log_dir, false)?;
    assert!(rebuilt.problems.is_empty(), "an open rebuilds both indexes: {:?}", rebuilt.problems);
    Ok(())
}

#[test]
fn index_that_disagrees_with_its_segment_is_a_mismatch() -> TestResult {
    let (_data_dir, log_dir) = write_log()?;
    let indexes = files_with_extension(&log_dir, "idx")?;
    // A well-formed index, but of another segment.
    std::fs::copy(&indexes[1], &indexes[0])?;

    let report = verify(&log_dir, false)?;

    assert!(report.is_clean());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].kind, ProblemKind::IndexMismatch);
    assert!(report.problems[0].message.contains("base_offset"), "{}", report.problems[0].message);
    Ok(())
}

#[test]
fn segment_of_a_newer_format_version_is_reported_and_repair_refuses() -> TestResult {
    let (data_dir, log_dir) = write_log()?;
    let sealed = files_with_extension(&log_dir, "seg")?[1].clone();
    let mut bytes = std::fs::read(&sealed)?;
    let newer = FORMAT_VERSION + 1;
    bytes[8..12].copy_from_slice(&newer.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&sealed, &bytes)?;

    let report = verify(&log_dir, false)?;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!((report.problems[0].kind, &report.problems[0].path), (ProblemKind::Corruption, &sealed));
    let message = &report.problems[0].message;
    assert!(message.contains(&format!("format_version={newer}, this build reads 1 to {FORMAT_VERSION}")), "{message}");

    match verify(&log_dir, true) {
        Err(LogError::Corruption { detail, .. }) => assert!(detail.contains("upgrade"), "{detail}"),
        other => panic!("repair must refuse a newer format version, got {other:?}"),
    }
    assert_eq!(std::fs::read(&sealed)?, bytes, "nothing is changed");
    assert!(!data_dir.path().join("quarantine").exists());
    Ok(())
}
