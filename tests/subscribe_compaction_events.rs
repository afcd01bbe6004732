//! Compaction's records stream as events, not as `unknown`.
//!
//! Compaction with `max_versions = 1` turns every older put into an audit
//! stub (record kind 5) and writes a compaction record (kind 6). The event
//! decoder used to call both `unknown`, so a consumer of the stream saw a
//! version's put turn into an event with no id and no reason, and never
//! learned that a compaction had moved the as-of horizon. Here:
//!
//! - `Store::events` shows a stub at each dropped put's offset, with the
//!   put's time, id, version and metadata, why it was dropped, the size of
//!   the put it replaced, and the horizon; kept versions are still puts; the
//!   compaction event carries its policy, eligible range and horizon;
//! - a live subscription, `recstore log` and `GET /v1/log` print exactly
//!   those events, since all of them go through `LogEvent::decode`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use recstore::compaction::Policy;
use recstore::{Data, LogEvent, Metadata, Store, StoreOptions};
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use common::TestResult;

/// Writes three versions of a JSON item and two of a bytes item, with
/// tags, parents and extra metadata fields. Segments are small, so the
/// history spans several sealed segments.
fn write_history(store: &Store) -> TestResult {
    for version in 1..=3 {
        let mut extra = serde_json::Map::new();
        extra.insert("site".into(), json!("north lab"));
        let metadata = Metadata {
            id: Some("reading-1".into()),
            item_type: Some("sensor_reading".into()),
            tags: vec!["raw_data".into()],
            parents: if version > 1 { vec![format!("reading-1@{}", version - 1)] } else { Vec::new() },
            extra,
            ..Metadata::default()
        };
        store.put(Data::Json(json!({"temperature": 20 + version, "pad": "x".repeat(300)})), metadata)?;
    }
    for version in 1..=2u8 {
        let metadata =
            Metadata { id: Some("image-1".into()), source_id: Some("camera-2".into()), ..Metadata::default() };
        store.put(Data::Bytes { bytes: vec![version; 5000], content_type: "image/png".into() }, metadata)?;
    }
    Ok(())
}

/// The events the library gives, by offset.
fn events_by_offset(store: &Store) -> TestResult<BTreeMap<u64, LogEvent>> {
    Ok(store.events(0, usize::MAX)?.into_iter().map(|event| (event.offset, event)).collect())
}

/// Checks the events after the compaction against those before it and the
/// sizes of the puts the stubs replaced.
fn check_compacted_events(
    before: &BTreeMap<u64, LogEvent>,
    put_sizes: &BTreeMap<u64, usize>,
    after: &BTreeMap<u64, LogEvent>,
) -> TestResult {
    let compactions: Vec<&LogEvent> = after.values().filter(|e| e.kind == "compaction").collect();
    let [compaction] = compactions[..] else { return Err(format!("one compaction event: {compactions:?}").into()) };
    assert_eq!(compaction.policy, Some(Policy::keep_everything().max_versions(Some(1))));
    let horizon_offset = compaction.horizon_offset.ok_or("a compaction event has a horizon")?;
    let eligible_end = compaction.eligible_end.ok_or("a compaction event has an eligible end")?;
    assert!(eligible_end <= compaction.offset, "only records before the compaction record are eligible");
    assert!(horizon_offset <= eligible_end, "the horizon lies in the eligible range");
    let horizon_event = after.get(&(horizon_offset - 1)).ok_or("the record below the horizon is kept")?;
    assert_eq!(compaction.horizon_timestamp.as_ref(), Some(&horizon_event.timestamp));
    assert_eq!(after.len(), before.len() + 1, "nothing is purged, and one compaction record is new");

    let latest = |id: &str| before.values().filter(|e| e.id.as_deref() == Some(id)).filter_map(|e| e.version).max();
    let mut stub_count = 0;
    for (offset, old) in before {
        let new = after.get(offset).ok_or_else(|| format!("offset {offset} is gone"))?;
        let id = old.id.as_deref().ok_or("every event before the compaction is a put")?;
        assert_eq!((&new.id, new.version, &new.timestamp), (&old.id, old.version, &old.timestamp), "at {offset}");
        assert_eq!(new.metadata, old.metadata, "at {offset}: a stub keeps the put's metadata, size and md5");
        if old.version == latest(id) {
            assert_eq!(new, old, "at {offset}: the latest version of {id} is kept as it was");
            continue;
        }
        stub_count += 1;
        assert_eq!(new.kind, "audit_stub", "at {offset}: {id} v{:?} is dropped", old.version);
        assert_eq!(new.reason.as_deref(), Some("max_versions"), "at {offset}");
        let put_size = put_sizes.get(offset).ok_or("every put was measured")?;
        assert_eq!(new.stored_size_bytes.map(|s| s as usize), Some(*put_size), "at {offset}: the put's stored size");
        assert_eq!(new.horizon_offset, Some(horizon_offset), "at {offset}: written at the compaction's horizon");
    }
    assert_eq!(stub_count, 3, "reading-1 v1, v2 and image-1 v1 are dropped");
    assert!(after.values().all(|e| e.kind != "unknown"), "no event is unknown: {after:?}");
    Ok(())
}

/// The events a live subscription delivers, up to `next_offset`.
fn subscribed_events(store: &Store, next_offset: u64) -> TestResult<Vec<LogEvent>> {
    let store = Arc::new(Store::open(store.dir(), StoreOptions::default().read_only(true))?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut stream = store.subscribe(0);
        let mut events = Vec::new();
        while events.last().is_none_or(|e: &LogEvent| e.offset + 1 < next_offset) {
            let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await?;
            events.push(next.ok_or("the stream ended")??);
        }
        Ok(events)
    })
}

/// A `recstore serve` process on an ephemeral loopback port; killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path) -> TestResult<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recstore"))
            .arg("--data")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("piped stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let base = line.trim().strip_prefix("recstore listening on ").ok_or_else(|| format!("first line {line:?}"))?;
        Ok(Self { base: base.to_string(), child })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ndjson(text: &str) -> TestResult<Vec<Value>> {
    Ok(text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?)
}

#[test]
fn compaction_stubs_and_record_stream_as_events_everywhere() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default().segment_size_bytes(1024))?;
    write_history(&store)?;
    let before = events_by_offset(&store)?;
    assert!(before.values().all(|e| e.kind == "put"), "{before:?}");
    let mut put_sizes = BTreeMap::new();
    for offset in before.keys() {
        put_sizes.insert(*offset, store.log().read(*offset)?.payload.len());
    }

    let report = store.compact(Policy::keep_everything().max_versions(Some(1)))?;
    assert_eq!(report.records_dropped.max_versions, 3, "{report:?}");
    let after = events_by_offset(&store)?;
    check_compacted_events(&before, &put_sizes, &after)?;
    let expected: Vec<LogEvent> = after.values().cloned().collect();
    let next_offset = store.log().next_offset();
    assert_eq!(subscribed_events(&store, next_offset)?, expected, "a subscription decodes like Store::events");
    store.close()?;
    let expected_lines: Vec<Value> = expected.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;

    let cli = Command::new(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.path())
        .arg("log")
        .env_remove("RUST_LOG")
        .output()?;
    assert!(cli.status.success(), "recstore log: {}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(ndjson(&String::from_utf8(cli.stdout)?)?, expected_lines, "recstore log prints the same events");

    let server = Server::start(dir.path())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let body = runtime.block_on(async {
        let response = reqwest::get(format!("{}/v1/log?from=0", server.base)).await?.error_for_status()?;
        response.text().await
    })?;
    assert_eq!(ndjson(&body)?, expected_lines, "GET /v1/log serves the same events");
    Ok(())
}
