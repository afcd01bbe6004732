//! Compressed puts (format version 3, segments-format.md "Put payload"):
//! any sequence of puts reads back byte-exact from compressed segments,
//! after a replay as well as from the checkpoint; and a put whose checksum
//! is right but whose zstd frame is not (a writer bug, or a forged record)
//! is corruption that `recstore verify` names with its file, byte position
//! and offset, which `verify --repair` cuts off while keeping every record
//! before it.

mod cli_support;

use std::collections::BTreeMap;
use std::path::Path;

use cli_support::{Env, TestResult};
use proptest::collection::vec;
use proptest::prelude::*;
use recstore::log::{Log, LogOptions, NewRecord};
use recstore::records::codec::{self, DataKind, PutDraft, PutEncoding, kind};
use recstore::store::views::checkpoint;
use recstore::{Data, Metadata, Store, StoreOptions, SyncMode};

/// Segments this small roll every few puts, so most records end up in
/// sealed segments.
const SEGMENT_SIZE_BYTES: u64 = 4096;

fn options(compression: bool) -> StoreOptions {
    StoreOptions::default()
        .sync(SyncMode::Never)
        .segment_size_bytes(SEGMENT_SIZE_BYTES)
        .checkpoint_interval_records(0)
        .compression(compression)
}

/// One put: which of a few ids, JSON or bytes, the bytes, and tags.
#[derive(Debug, Clone)]
struct PutOp {
    id_index: u8,
    json: bool,
    bytes: Vec<u8>,
    tags: Vec<String>,
}

fn put_op() -> impl Strategy<Value = PutOp> {
    // Repetitive and random bytes, so both compressed and plain sections occur.
    let bytes = prop_oneof![vec(any::<u8>(), 0..600), (any::<u8>(), 0..3000usize).prop_map(|(b, n)| vec![b; n])];
    let tags = vec("[a-z]{1,12}", 0..4);
    (0..6u8, any::<bool>(), bytes, tags).prop_map(|(id_index, json, bytes, tags)| PutOp { id_index, json, bytes, tags })
}

fn data_of(op: &PutOp) -> Data {
    if op.json {
        // A JSON string holding the bytes as hex keeps them exact.
        Data::Json(serde_json::Value::String(codec::hex(&op.bytes)))
    } else {
        Data::Bytes { bytes: op.bytes.clone(), content_type: "application/x-test".into() }
    }
}

/// Every version each put created, as it must read back: (data bytes, tags).
type Expected = BTreeMap<(String, u32), (Vec<u8>, Vec<String>)>;

fn write(dir: &Path, ops: &[PutOp], compression: bool) -> Result<Expected, Box<dyn std::error::Error>> {
    let store = Store::open(dir, options(compression))?;
    let mut expected = Expected::new();
    for op in ops {
        let id = format!("item-{}", op.id_index);
        let metadata = Metadata { id: Some(id.clone()), tags: op.tags.clone(), ..Metadata::default() };
        let created = store.put(data_of(op), metadata)?;
        let bytes = if op.json { format!("\"{}\"", codec::hex(&op.bytes)).into_bytes() } else { op.bytes.clone() };
        // Tags are kept as a set: sorted, without repeats.
        let tags: Vec<String> =
            op.tags.iter().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        expected.insert((id, created.version), (bytes, tags));
    }
    store.close()?;
    Ok(expected)
}

fn check(dir: &Path, expected: &Expected) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(dir, options(true))?;
    for ((id, version), (bytes, tags)) in expected {
        assert_eq!(&store.get_version(id, *version)?.bytes, bytes, "{id}@{version}");
        assert_eq!(&store.metadata(id, Some(*version))?.metadata.tags, tags, "{id}@{version}");
    }
    store.close()?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn any_puts_read_back_byte_exact_from_compressed_segments(ops in vec(put_op(), 1..40)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let run = || -> Result<(), Box<dyn std::error::Error>> {
            let expected = write(dir.path(), &ops, true)?;
            check(dir.path(), &expected)?;
            // Again from a full replay of the log.
            std::fs::remove_file(checkpoint::path(&dir.path().join(recstore::store::VIEWS_DIR_NAME)))?;
            check(dir.path(), &expected)
        };
        run().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

/// A zstd frame header that claims 2^40 bytes, then one RLE block of 128 KiB:
/// a bomb of 17 bytes.
const BOMB: [u8; 17] = [0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x03, 0x00, 0x10, 0x61];

/// A codec 2 put whose data section is `data_section`, flagged as a zstd
/// frame, appended to the log as it is (the log computes the checksums).
fn append_forged_put(log_dir: &Path, id: &str, data_section: &[u8]) -> Result<u64, Box<dyn std::error::Error>> {
    let draft = PutDraft {
        data_kind: DataKind::Bytes,
        id,
        version: 1,
        md5: [0; 16],
        content_type: "application/x-test",
        metadata_json: b"{}",
        data: &[7; 64],
    };
    let (mut payload, flags) = codec::encode_put(&draft, PutEncoding::Zstd { data_threshold_bytes: 0 });
    let data_start = payload.len() - codec::decode_put(&payload)?.data_section.len();
    payload.truncate(data_start);
    payload.extend_from_slice(data_section);
    let log = Log::open(log_dir, LogOptions::default())?;
    let appended = log.append(&[NewRecord { kind: kind::PUT, flags, payload: &payload }])?;
    let good = codec::encode_put(&PutDraft { id: "after", ..draft }, PutEncoding::Zstd { data_threshold_bytes: 0 });
    log.append(&[NewRecord { kind: kind::PUT, flags: good.1, payload: &good.0 }])?;
    Ok(appended.first_offset)
}

#[test]
fn a_put_whose_frame_does_not_decompress_is_corruption_and_repair_keeps_what_precedes() -> TestResult {
    for (name, section) in [("garbage", b"\x28\xb5\x2f\xfd not zstd at all".to_vec()), ("bomb", BOMB.to_vec())] {
        let env = Env::new();
        let store = Store::open(env.data(), options(true))?;
        for i in 0..20 {
            let metadata = Metadata { id: Some(format!("kept-{i}")), ..Metadata::default() };
            store.put(Data::Json(serde_json::json!({"reading": i, "note": "x".repeat(200)})), metadata)?;
        }
        store.close()?;
        let log_dir = env.data().join("log");
        let bad_offset = append_forged_put(&log_dir, "forged", &section)?;

        let run = env.run(&["verify"]).expect_code(4);
        let text = run.text();
        let segment = std::fs::read_dir(&log_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .max()
            .ok_or("no segment")?;
        let expected = format!("Corruption in {} at byte ", segment.display());
        assert!(text.contains(&expected), "{name}: {text}");
        assert!(text.contains(&format!("(record offset {bad_offset})")), "{name}: {text}");
        assert!(text.contains("data section"), "{name}: the message says what did not decode: {text}");
        if name == "bomb" {
            assert!(text.contains("claims 1099511627776 bytes"), "{name}: {text}");
        }

        let run = env.run(&["verify", "--repair"]).ok();
        assert!(run.text().contains(&format!("cut back to offset {bad_offset}")), "{name}: {}", run.text());
        env.run(&["verify"]).ok();
        let store = Store::open(env.data(), options(true))?;
        assert!(store.log().next_offset() > bad_offset, "the quarantined offset is never handed out again");
        for i in 0..20 {
            assert_eq!(store.get(&format!("kept-{i}"))?.json()?["reading"], serde_json::json!(i));
        }
        store.close()?;
    }
    Ok(())
}

#[test]
fn stats_show_logical_and_stored_bytes_so_the_ratio_is_visible() -> TestResult {
    let env = Env::new();
    for compression in [true, false] {
        let store = Store::open(env.data(), options(compression))?;
        let metadata = Metadata { id: Some("reading".into()), ..Metadata::default() };
        let note = "calibrated against the lab reference ".repeat(20);
        store.put(Data::Json(serde_json::json!({"compressed": compression, "note": note})), metadata)?;
        store.close()?;
    }
    let stats = env.run(&["--json", "stats"]).ok().json();
    let (logical, stored) = (stats["logical_bytes"].as_u64(), stats["stored_bytes"].as_u64());
    let (logical, stored) = (logical.ok_or("no logical_bytes")?, stored.ok_or("no stored_bytes")?);
    // Two puts of about 800 bytes: one compressed to a fraction, one plain
    // with its header, id and metadata on top.
    assert!(logical > 1500, "{stats}");
    assert!(stored < logical * 3 / 4, "the compressed put makes stored bytes the smaller: {stats}");
    Ok(())
}
