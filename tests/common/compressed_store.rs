//! The compressed item store written into the fixtures of format versions
//! 3 and 4 (`compat_v3.rs`, `compat_v4.rs`): one store, its writing, and
//! every answer it must give after a replay, for each version's fixture.

use std::path::Path;

use recstore::compaction::Policy;
use recstore::log::{Log, LogOptions, ProblemKind, verify};
use recstore::records::codec::{self, kind};
use recstore::{Data, Error, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

use super::TestResult;
use super::fixtures::{copy_fixture, fixture_dir, newest_segment, segments, tear_one_more_frame};

/// How many records the intact fixture holds, at offsets 0 to 7: the
/// dataset's put and record, four puts (two of them now audit stubs at
/// their puts' offsets), the compaction record and the put after it.
const RECORD_COUNT: u64 = 8;
pub fn options() -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Always).checkpoint_interval_records(0)
}

/// Tags long and repetitive enough that the metadata compresses.
const TAGS: [&str; 4] = ["sensor-reading-raw", "sensor-reading-lab", "sensor-reading-field", "sensor-reading-test"];

fn item(id: &str, value: Value) -> NewItem {
    let metadata = Metadata {
        id: Some(id.into()),
        item_type: Some("sensor_reading".into()),
        tags: TAGS.iter().map(|t| t.to_string()).collect(),
        ..Metadata::default()
    };
    NewItem { data: Data::Json(value), metadata }
}

/// Data that compresses: a reading with a repetitive note.
fn reading(celsius: f64) -> Value {
    json!({"celsius": celsius, "note": "calibrated against the lab reference ".repeat(3)})
}

fn put(store: &Store, id: &str, value: Value) -> Result<(), Error> {
    let NewItem { data, metadata } = item(id, value);
    store.put(data, metadata).map(drop)
}

/// Writes the fixture's store, then keeps only its log (segments, index
/// files, manifest) in `tests/fixtures/v<version>/` and its torn-tail
/// variant. The views are derived, and the tests check they are rebuilt.
pub fn regenerate(version: u32) -> TestResult {
    let scratch = tempfile::tempdir()?;
    let store = Store::open(scratch.path(), options())?;
    store.put_dataset("train", vec![item("reading-1", reading(20.5))], json!({"split": "train"}))?;
    put(&store, "reading-1", reading(21.0))?;
    put(&store, "reading-1", reading(21.5))?;
    put(&store, "reading-2", reading(5.0))?;
    put(&store, "reading-2", reading(5.5))?;
    let report = store.compact(Policy::keep_everything().max_versions(Some(1)))?;
    assert_eq!(report.records_dropped.total(), 2, "reading-1@2 and reading-2@1: {report:?}");
    put(&store, "reading-3", reading(-3.0))?;
    store.close()?;

    for (variant, torn) in [(format!("v{version}"), false), (format!("v{version}-torn-tail"), true)] {
        let log_dir = fixture_dir(&variant).join("log");
        if log_dir.exists() {
            std::fs::remove_dir_all(&log_dir)?;
        }
        std::fs::create_dir_all(&log_dir)?;
        for entry in std::fs::read_dir(scratch.path().join("log"))? {
            let entry = entry?;
            if entry.file_name() != "LOCK" {
                std::fs::copy(entry.path(), log_dir.join(entry.file_name()))?;
            }
        }
        if torn {
            tear_one_more_frame(&log_dir)?;
        }
    }
    Ok(())
}

/// Every answer the fixture's store gives, checked after a replay.
fn check_answers(store: &Store) -> TestResult {
    assert_eq!(store.log().next_offset(), RECORD_COUNT);
    let dataset = store.get_dataset("train", None)?;
    assert_eq!(dataset.members, [("reading-1".to_string(), 1)]);
    assert_eq!(store.get_version("reading-1", 1)?.json()?, reading(20.5), "kept: the dataset pins it");
    assert!(matches!(store.get_version("reading-1", 2), Err(Error::Pruned { .. })));
    assert_eq!(store.get("reading-1")?.json()?, reading(21.5));
    assert!(matches!(store.get_version("reading-2", 1), Err(Error::Pruned { .. })));
    assert_eq!(store.get("reading-2")?.json()?, reading(5.5));
    assert_eq!(store.get("reading-3")?.json()?, reading(-3.0));
    let events = store.events(0, usize::MAX)?;
    let compaction = events.iter().find(|e| e.kind == "compaction").ok_or("no compaction event")?;
    assert_eq!(compaction.pinned, Some(vec![("reading-1".to_string(), 1)]));
    assert_eq!(events.iter().filter(|e| e.kind == "audit_stub").count(), 2);
    Ok(())
}

/// Every put and stub of the fixture is codec 2; the puts with both
/// sections compressed, the stubs with their metadata compressed.
fn check_codec_2(log_dir: &Path) -> TestResult {
    let log = Log::open(log_dir, LogOptions { read_only: true, ..LogOptions::default() })?;
    let mut puts = 0;
    for record in log.read_batch(0, usize::MAX)? {
        if record.kind == kind::PUT || record.kind == kind::AUDIT_STUB {
            let put = codec::decode_put_like(record.kind, &record.payload)?;
            assert_eq!(record.payload[0], 2, "codec of the record at {}", record.offset);
            let both = codec::SECTION_METADATA_ZSTD | codec::SECTION_DATA_ZSTD;
            assert_eq!(put.sections, both, "sections of the record at {}", record.offset);
            assert!(record.payload.len() < 36 + put.metadata_json.len() + put.data_size_bytes as usize);
            puts += 1;
        }
    }
    assert_eq!(puts, 6);
    Ok(())
}

/// The intact fixture of `version`: every segment header says so, every put
/// is codec 2, verify is clean, and two opens (a replay, then the
/// checkpoint) answer alike. `check_log` adds the version's own checks.
pub fn check_replays(version: u32, check_log: impl Fn(&Path) -> TestResult) -> TestResult {
    let data_dir = copy_fixture(&format!("v{version}"))?;
    let log_dir = data_dir.path().join("log");
    for segment in segments(&log_dir)? {
        let bytes = std::fs::read(&segment)?;
        let found = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        assert_eq!(found, version, "{}", segment.display());
    }
    check_log(&log_dir)?;
    check_codec_2(&log_dir)?;
    let report = verify(&log_dir, false)?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for _ in 0..2 {
        let store = Store::open(data_dir.path(), options())?;
        check_answers(&store)?;
        store.close()?;
    }
    Ok(())
}

/// The torn-tail fixture of `version` opens with the complete records and
/// cuts exactly the torn frame.
pub fn check_torn_tail(version: u32) -> TestResult {
    let data_dir = copy_fixture(&format!("v{version}-torn-tail"))?;
    let log_dir = data_dir.path().join("log");
    let newest = newest_segment(&log_dir)?;
    let torn_length = std::fs::metadata(&newest)?.len();
    let intact_length = std::fs::metadata(newest_segment(&fixture_dir(&format!("v{version}")).join("log"))?)?.len();
    assert!(torn_length > intact_length);

    let report = verify(&log_dir, false)?;
    assert!(report.is_clean());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!((report.problems[0].kind, report.problems[0].position_bytes), (ProblemKind::TornTail, intact_length));

    let store = Store::open(data_dir.path(), options())?;
    check_answers(&store)?;
    assert_eq!(std::fs::metadata(&newest)?.len(), intact_length, "the open cut exactly the torn frame");
    store.close()?;
    Ok(())
}
