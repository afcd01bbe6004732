//! Logs in format version 1 stay readable, byte for byte, and a writer
//! upgrades them by starting a version 2 segment.
//!
//! `tests/fixtures/v1/log/` is a three-segment log. It was written once by
//! `regenerate` below, straight from `segments-format.md`, and committed. It
//! was not written through `Log`, which stamps the wall clock, so the
//! fixture's timestamps are fixed, and the fixture also shows that the
//! document is enough to write a log. `tests/fixtures/v1-torn-tail/log/` is
//! the same log with most of an eleventh record's frame at the end of its
//! newest segment, as a crash during an append leaves it.
//!
//! Once version 1 has shipped these files never change. Before that, they
//! are regenerated with `cargo test --test compat_v1 -- --ignored regenerate`.
//! Tests open copies in temporary directories, so nothing writes into the
//! fixtures (not even `LOCK`).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use recstore::log::{FLAG_COMPRESSED, FORMAT_VERSION, Log, LogOptions, ProblemKind, Record, verify};

use common::TestResult;

/// 2023-11-14T22:13:20Z, in microseconds.
const T0: u64 = 1_700_000_000_000_000;

/// What the compressed record's payload inflates to.
const COMPRESSED_PLAIN: &[u8] = br#"{"id":"doc-1","text":"hello hello hello hello"}"#;
/// zlib (RFC 1950) of `COMPRESSED_PLAIN`, fixed here so that regenerating
/// does not depend on a compressor's version.
const COMPRESSED_PAYLOAD: &[u8] = &[
    0x78, 0xda, 0xab, 0x56, 0xca, 0x4c, 0x51, 0xb2, 0x52, 0x4a, 0xc9, 0x4f, 0xd6, 0x35, 0x54, 0xd2, 0x51, 0x2a, 0x49,
    0xad, 0x28, 0x01, 0x72, 0x33, 0x52, 0x73, 0x72, 0xf2, 0x15, 0x30, 0x48, 0xa5, 0x5a, 0x00, 0x5e, 0x06, 0x0f, 0x7f,
];

struct FixtureRecord {
    kind: u8,
    flags: u8,
    payload: &'static [u8],
}

struct FixtureBatch {
    timestamp_us: u64,
    records: &'static [FixtureRecord],
}

struct FixtureSegment {
    base_offset: u64,
    created_us: u64,
    batches: &'static [FixtureBatch],
}

const fn record(kind: u8, flags: u8, payload: &'static [u8]) -> FixtureRecord {
    FixtureRecord { kind, flags, payload }
}

/// The log's content. Kinds and payloads are opaque to the log, so these
/// are not valid item-store records: kind 0, kind 255, an empty payload, a
/// compressed one, and two batches sharing a timestamp cover the edges.
const SEGMENTS: &[FixtureSegment] = &[
    FixtureSegment {
        base_offset: 0,
        created_us: T0 - 500,
        batches: &[
            FixtureBatch {
                timestamp_us: T0,
                records: &[
                    record(1, 0, b"put item-a v1"),
                    record(1, 0, b"put item-b v1"),
                    record(3, 0, br#"{"dataset":"train","items":[0,1]}"#),
                ],
            },
            FixtureBatch { timestamp_us: T0 + 1_000, records: &[record(2, 0, b"delete item-a")] },
        ],
    },
    FixtureSegment {
        base_offset: 4,
        created_us: T0 + 1_500,
        batches: &[
            FixtureBatch {
                timestamp_us: T0 + 2_000,
                records: &[
                    record(1, FLAG_COMPRESSED, COMPRESSED_PAYLOAD),
                    record(4, 0, br#"{"group":"g1","offset":3}"#),
                ],
            },
            FixtureBatch { timestamp_us: T0 + 2_000, records: &[record(0, 0, b"")] },
        ],
    },
    FixtureSegment {
        base_offset: 7,
        created_us: T0 + 2_500,
        batches: &[
            FixtureBatch { timestamp_us: T0 + 3_000, records: &[record(255, 0, &[0x00, 0x01, 0xfe, 0xff])] },
            FixtureBatch {
                timestamp_us: T0 + 4_000,
                records: &[record(1, 0, b"put item-c v1"), record(2, 0, b"delete item-b")],
            },
        ],
    },
];

/// The batch whose frame the torn-tail variant holds only part of.
const TORN_BATCH: FixtureBatch =
    FixtureBatch { timestamp_us: T0 + 5_000, records: &[record(1, 0, b"lost in a crash")] };
/// How many bytes of that frame's end the crash lost.
const TORN_MISSING_BYTES: usize = 5;

const RECORD_COUNT: u64 = 10;
const LAST_TIMESTAMP_US: u64 = T0 + 4_000;

// Encoding, following segments-format.md section by section.

/// "Segment header": magic, `format_version`, `base_offset`, `created_us`,
/// and the crc of bytes 0..28.
fn encode_segment_header(base_offset: u64, created_us: u64) -> Vec<u8> {
    let mut bytes = vec![0x89, 0x52, 0x53, 0x45, 0x47, 0x0d, 0x0a, 0x1a];
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&base_offset.to_le_bytes());
    bytes.extend_from_slice(&created_us.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// "Frame" and "Record": a 16-byte frame header, then 28-byte record
/// headers each followed by its payload.
fn encode_frame(first_offset: u64, batch: &FixtureBatch) -> Vec<u8> {
    let mut records = Vec::new();
    for (offset, record) in (first_offset..).zip(batch.records) {
        let start = records.len();
        records.extend_from_slice(&offset.to_le_bytes());
        records.extend_from_slice(&batch.timestamp_us.to_le_bytes());
        records.extend_from_slice(&[record.kind, record.flags, 0, 0]);
        records.extend_from_slice(&u32::try_from(record.payload.len()).expect("small payload").to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&records[start..]);
        crc.update(record.payload);
        records.extend_from_slice(&crc.finalize().to_le_bytes());
        records.extend_from_slice(record.payload);
    }
    let frame_size = u32::try_from(16 + records.len()).expect("small frame");
    let record_count = u32::try_from(batch.records.len()).expect("few records");
    let mut covered = Vec::new();
    covered.extend_from_slice(&frame_size.to_le_bytes());
    covered.extend_from_slice(&record_count.to_le_bytes());
    covered.extend_from_slice(&0u32.to_le_bytes());
    covered.extend_from_slice(&records);
    let mut frame = crc32fast::hash(&covered).to_le_bytes().to_vec();
    frame.extend_from_slice(&covered);
    frame
}

/// "Index file": the header, one entry for the first frame (these segments
/// are far smaller than the 65536-byte index interval), the crc trailer.
fn encode_index(segment: &FixtureSegment, segment_size_bytes: u64) -> Vec<u8> {
    let last_offset = segment.base_offset + segment.batches.iter().map(|b| b.records.len() as u64).sum::<u64>() - 1;
    let last_timestamp_us = segment.batches.last().expect("a sealed segment holds a batch").timestamp_us;
    let mut bytes = vec![0x89, 0x52, 0x49, 0x44, 0x58, 0x0d, 0x0a, 0x1a];
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    for field in [segment.base_offset, segment_size_bytes, last_offset, last_timestamp_us] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    for field in [segment.base_offset, segment.batches[0].timestamp_us, 32] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// The fixture's files by name; with `torn`, the torn-tail variant.
fn encode_log(torn: bool) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (segment_index, segment) in SEGMENTS.iter().enumerate() {
        let mut bytes = encode_segment_header(segment.base_offset, segment.created_us);
        let mut offset = segment.base_offset;
        for batch in segment.batches {
            bytes.extend_from_slice(&encode_frame(offset, batch));
            offset += batch.records.len() as u64;
        }
        let newest = segment_index + 1 == SEGMENTS.len();
        if newest && torn {
            let frame = encode_frame(offset, &TORN_BATCH);
            bytes.extend_from_slice(&frame[..frame.len() - TORN_MISSING_BYTES]);
        }
        if !newest {
            let index = encode_index(segment, bytes.len() as u64);
            files.insert(format!("{:020}.idx", segment.base_offset), index);
        }
        files.insert(format!("{:020}.seg", segment.base_offset), bytes);
    }
    files
}

fn fixture_dir(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(variant).join("log")
}

fn expected_records() -> Vec<Record> {
    let mut records = Vec::new();
    for segment in SEGMENTS {
        let mut offset = segment.base_offset;
        for batch in segment.batches {
            for record in batch.records {
                records.push(Record {
                    offset,
                    timestamp_us: batch.timestamp_us,
                    kind: record.kind,
                    flags: record.flags,
                    payload: record.payload.to_vec(),
                });
                offset += 1;
            }
        }
    }
    records
}

/// Copies a fixture's log folder to `<temp>/log`, so tests write only there.
fn copy_fixture(variant: &str) -> Result<(tempfile::TempDir, PathBuf), std::io::Error> {
    let data_dir = tempfile::tempdir()?;
    let log_dir = data_dir.path().join("log");
    std::fs::create_dir(&log_dir)?;
    for entry in std::fs::read_dir(fixture_dir(variant))? {
        let entry = entry?;
        std::fs::copy(entry.path(), log_dir.join(entry.file_name()))?;
    }
    Ok((data_dir, log_dir))
}

fn read_all(log: &Log) -> Result<Vec<Record>, recstore::log::LogError> {
    log.read_batch(0, usize::MAX)
}

#[test]
#[ignore = "rewrites the committed fixtures; run only before version 1 ships"]
fn regenerate() -> TestResult {
    for (variant, torn) in [("v1", false), ("v1-torn-tail", true)] {
        let dir = fixture_dir(variant);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in encode_log(torn) {
            std::fs::write(dir.join(name), bytes)?;
        }
    }
    Ok(())
}

#[test]
fn committed_fixtures_are_the_documented_encoding() -> TestResult {
    for (variant, torn) in [("v1", false), ("v1-torn-tail", true)] {
        let mut committed = BTreeMap::new();
        for entry in std::fs::read_dir(fixture_dir(variant))? {
            let entry = entry?;
            committed.insert(entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path())?);
        }
        assert!(committed == encode_log(torn), "tests/fixtures/{variant}/log differs from what `regenerate` writes");
    }
    Ok(())
}

#[test]
fn v1_log_opens_and_every_record_is_exact() -> TestResult {
    let (_data_dir, log_dir) = copy_fixture("v1")?;
    let report = verify(&log_dir, false)?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!((report.segments_checked, report.frames_checked, report.records_checked), (3, 6, RECORD_COUNT));

    let reader = Log::open(&log_dir, LogOptions { read_only: true, ..LogOptions::default() })?;
    assert_eq!(read_all(&reader)?, expected_records());
    drop(reader);

    let log = Log::open(&log_dir, LogOptions::default())?;
    assert_eq!(read_all(&log)?, expected_records());
    // The writer sealed the version 1 segment and appends to a version 2 one.
    assert_eq!((log.first_offset(), log.next_offset(), log.segment_count()), (0, RECORD_COUNT, 4));
    assert_eq!(header_versions(&log_dir)?, [(0, 1), (4, 1), (7, 1), (RECORD_COUNT, FORMAT_VERSION)]);
    assert_eq!(log.last_timestamp_us(), LAST_TIMESTAMP_US);
    for (offset, record) in (0..).zip(expected_records()) {
        assert_eq!(log.read(offset)?, record);
    }
    assert_eq!(log.offset_at_time(T0 + 1)?, 3);
    assert_eq!(log.offset_at_time(T0 + 2_000)?, 4, "the first of two batches sharing a timestamp");
    assert_eq!(log.offset_at_time(LAST_TIMESTAMP_US + 1)?, RECORD_COUNT);

    let compressed = log.read(4)?;
    assert_eq!(compressed.flags, FLAG_COMPRESSED);
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.payload.as_slice()).read_to_end(&mut plain)?;
    assert_eq!(plain, COMPRESSED_PLAIN);

    let appended = log.append(&[recstore::log::NewRecord { kind: 1, flags: 0, payload: b"new" }])?;
    assert_eq!(appended.first_offset, RECORD_COUNT, "appends continue after the fixture's last offset");
    assert!(appended.timestamp_us >= LAST_TIMESTAMP_US);
    drop(log);
    assert!(verify(&log_dir, false)?.problems.is_empty(), "a log mixing versions 1 and 2 verifies");
    let reopened = Log::open(&log_dir, LogOptions::default())?;
    assert_eq!(reopened.segment_count(), 4, "a version 2 newest segment is appended to, not sealed");
    assert_eq!(reopened.read(RECORD_COUNT)?.payload, b"new");
    Ok(())
}

#[test]
fn an_empty_v1_newest_segment_gets_a_v2_header_in_place() -> TestResult {
    let (_data_dir, log_dir) = copy_fixture("v1")?;
    let newest = log_dir.join(format!("{RECORD_COUNT:020}.seg"));
    // The segment before it has no index file yet: opens derive one.
    std::fs::write(&newest, encode_segment_header(RECORD_COUNT, T0 + 9_000))?;

    drop(Log::open(&log_dir, LogOptions { read_only: true, ..LogOptions::default() })?);
    assert_eq!(header_versions(&log_dir)?.last(), Some(&(RECORD_COUNT, 1)), "a read-only open changes nothing");

    let log = Log::open(&log_dir, LogOptions::default())?;
    assert_eq!(log.segment_count(), 4, "no segment was added: the empty one was upgraded");
    assert_eq!(header_versions(&log_dir)?.last(), Some(&(RECORD_COUNT, FORMAT_VERSION)));
    let appended = log.append(&[recstore::log::NewRecord { kind: 1, flags: 0, payload: b"new" }])?;
    assert_eq!(appended.first_offset, RECORD_COUNT);
    assert_eq!(std::fs::metadata(&newest)?.len(), 32 + 16 + 28 + 3, "the record went into the upgraded file");
    assert_eq!(read_all(&log)?.len() as u64, RECORD_COUNT + 1);
    Ok(())
}

/// `(base_offset, format_version)` of every segment, read from the headers.
fn header_versions(log_dir: &Path) -> Result<Vec<(u64, u32)>, std::io::Error> {
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(log_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "seg") {
            let bytes = std::fs::read(&path)?;
            let base: u64 = path.file_stem().and_then(|s| s.to_str()?.parse().ok()).expect("a segment name");
            versions.push((base, u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]])));
        }
    }
    versions.sort_unstable();
    Ok(versions)
}

#[test]
fn v1_torn_tail_opens_with_the_complete_records_and_cuts_the_tail() -> TestResult {
    let (_data_dir, log_dir) = copy_fixture("v1-torn-tail")?;
    let newest_name = format!("{:020}.seg", SEGMENTS[SEGMENTS.len() - 1].base_offset);
    let newest = log_dir.join(&newest_name);
    let torn_bytes = std::fs::read(&newest)?;
    let intact_bytes = std::fs::read(fixture_dir("v1").join(&newest_name))?;
    assert!(torn_bytes.len() > intact_bytes.len());

    let report = verify(&log_dir, false)?;
    assert!(report.is_clean());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].kind, ProblemKind::TornTail);
    assert_eq!(report.problems[0].position_bytes, intact_bytes.len() as u64);
    assert_eq!(report.problems[0].offset, Some(RECORD_COUNT));

    let reader = Log::open(&log_dir, LogOptions { read_only: true, ..LogOptions::default() })?;
    assert_eq!(read_all(&reader)?, expected_records());
    drop(reader);
    assert_eq!(std::fs::read(&newest)?, torn_bytes, "a read-only open cuts nothing");

    let log = Log::open(&log_dir, LogOptions::default())?;
    assert_eq!(read_all(&log)?, expected_records());
    assert_eq!(log.next_offset(), RECORD_COUNT);
    assert_eq!(std::fs::read(&newest)?, intact_bytes, "the open cut exactly the torn frame");
    Ok(())
}
