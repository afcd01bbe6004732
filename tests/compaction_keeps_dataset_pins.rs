//! Compaction keeps every item version that a dataset's latest version pins.
//!
//! Before, `max_versions` or a cutoff pruned a pinned version like any old
//! one, so `get_dataset` of a dataset that still existed named versions
//! whose data was gone. Now the retention policy keeps them, exactly as it
//! keeps the current version of a live item: not pruned, not expired, and
//! with purge nothing from the item's lowest pinned version on leaves the
//! log. Only the latest version of each dataset name protects its members:
//! once the name is put again without them, they are pruned like any other
//! version, and the old dataset version reads them as pruned.
//!
//! Each check runs on the live store, after a reopen from the checkpoint,
//! and after a full replay of the compacted log.

mod common;

use std::path::Path;

use recstore::compaction::Policy;
use recstore::timetravel::AsOf;
use recstore::{Data, Error, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

use common::TestResult;

const DAY_US: u64 = 86_400 * 1_000_000;

fn options() -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Never).segment_size_bytes(4096).checkpoint_interval_records(0)
}

fn item(id: &str, value: Value) -> NewItem {
    NewItem { data: Data::Json(value), metadata: Metadata { id: Some(id.into()), ..Metadata::default() } }
}

fn put(store: &Store, id: &str, value: Value) -> Result<u64, Box<dyn std::error::Error>> {
    let stored = store.put(Data::Json(value), Metadata { id: Some(id.into()), ..Metadata::default() })?;
    Ok(store.log().read(stored.offset)?.timestamp_us)
}

/// A cutoff a day from now: every superseded version is history before it.
fn cutoff_tomorrow() -> Option<u64> {
    let now_us = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0);
    Some(now_us + DAY_US)
}

/// Runs `check` on the live store, then after a reopen, then after a
/// reopen without the checkpoint (a full replay); returns the replayed store.
fn check_everywhere(
    dir: &Path,
    store: Store,
    check: impl Fn(&Store) -> TestResult,
) -> Result<Store, Box<dyn std::error::Error>> {
    check(&store)?;
    store.close()?;
    let store = Store::open(dir, options())?;
    check(&store)?;
    drop(store);
    std::fs::remove_dir_all(dir.join(recstore::store::VIEWS_DIR_NAME))?;
    let store = Store::open(dir, options())?;
    check(&store)?;
    Ok(store)
}

#[test]
fn a_pinned_version_survives_until_the_dataset_is_put_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    let pinned = store.put_dataset("train", vec![item("x", json!({"v": 1}))], json!({}))?;
    assert_eq!((pinned.items[0].version, pinned.version), (1, 1));
    for version in 2..=7 {
        put(&store, "x", json!({"v": version}))?;
    }
    let policy = Policy::keep_everything().max_versions(Some(1)).cutoff_us(cutoff_tomorrow());
    let report = store.compact(policy)?;
    assert_eq!(report.records_dropped.total(), 5, "v2..v6 go, pinned v1 and current v7 stay: {report:?}");

    let store = check_everywhere(dir.path(), store, |store| {
        let dataset = store.get_dataset("train", None)?;
        assert_eq!(dataset.members, [("x".to_string(), 1)]);
        assert_eq!(store.get_version("x", 1)?.json()?, json!({"v": 1}));
        let json = store.dataset_json("train", None, true)?;
        assert_eq!(json["items"][0]["data"], json!({"v": 1}));
        for version in 2..=6 {
            assert!(matches!(store.get_version("x", version), Err(Error::Pruned { .. })), "v{version}");
        }
        assert_eq!(store.get("x")?.json()?, json!({"v": 7}));
        Ok(())
    })?;

    // The name moves on without x: v1 is no longer protected.
    store.put_dataset("train", vec![item("y", json!("other"))], json!({}))?;
    let report = store.compact(policy)?;
    assert_eq!(report.records_dropped.total(), 1, "only v1, superseded by v2: {report:?}");
    let store = check_everywhere(dir.path(), store, |store| {
        assert!(matches!(store.get_version("x", 1), Err(Error::Pruned { .. })));
        assert_eq!(store.get_dataset("train", None)?.members, [("y".to_string(), 1)]);
        // The old dataset version still names v1, and reads it as pruned.
        assert_eq!(store.get_dataset("train", Some(1))?.members, [("x".to_string(), 1)]);
        let old = store.dataset_json("train", Some(1), true);
        assert!(matches!(old, Err(Error::Pruned { version: 1, .. })), "{old:?}");
        // So the horizon lies past the dataset's second version: every
        // as-of it allows reads the dataset current then, with its data.
        let (horizon_offset, _) = store.compaction_horizon().ok_or("a horizon")?;
        for offset in horizon_offset - 1..store.log().next_offset() {
            let then = store.at(AsOf::Offset(offset))?;
            let dataset = then.dataset_json("train", None, true);
            assert!(dataset.is_ok(), "as of @{offset}, at or after the horizon {horizon_offset}: {dataset:?}");
        }
        Ok(())
    })?;
    store.close()?;
    Ok(())
}

#[test]
fn a_purge_keeps_a_pinned_version_of_a_deleted_item_and_the_delete() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    store.put_dataset("eval", vec![item("x", json!(1))], json!({}))?;
    put(&store, "x", json!(2))?;
    store.delete("x")?;
    let policy = Policy::keep_everything().cutoff_us(cutoff_tomorrow()).purge(true);
    let report = store.compact(policy)?;
    assert_eq!((report.records_dropped.deleted, report.stubs_written, report.records_removed), (1, 1, 0));
    let store = check_everywhere(dir.path(), store, |store| {
        assert_eq!(store.get_version("x", 1)?.json()?, json!(1));
        assert!(matches!(store.get_version("x", 2), Err(Error::Pruned { .. })), "v2 is a stub, not removed");
        assert!(matches!(store.get("x"), Err(Error::Deleted { .. })), "x stays deleted");
        let events: Vec<String> = store.history("x")?.into_iter().map(|h| h.event).collect();
        assert_eq!(events.len(), 3, "put, put (pruned), delete: {events:?}");
        Ok(())
    })?;
    store.close()?;
    Ok(())
}

/// A later compaction may purge the pinned version once its dataset moved
/// on. A replay then meets the earlier compaction's record with the pinned
/// version gone; the pin it lists must still stop that record from purging
/// the stubs the live store kept after the pin.
#[test]
fn a_replay_purges_no_more_than_the_live_store_did() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    store.put_dataset("train", vec![item("x", json!(1))], json!({}))?;
    let mut timestamps_us = Vec::new();
    for version in 2..=7 {
        std::thread::sleep(std::time::Duration::from_millis(2));
        timestamps_us.push(put(&store, "x", json!(version))?);
    }
    let strict = Policy::keep_everything().max_versions(Some(1)).cutoff_us(cutoff_tomorrow()).purge(true);
    let report = store.compact(strict)?;
    assert_eq!((report.stubs_written, report.records_removed), (5, 0), "v2..v6 become stubs after pinned v1");

    store.put_dataset("train", vec![item("y", json!("other"))], json!({}))?;
    // Superseded before v3 was written: only v1 (superseded by v2) is history.
    let v3_timestamp_us = timestamps_us[1];
    let report = store.compact(Policy::keep_everything().cutoff_us(Some(v3_timestamp_us)).purge(true))?;
    assert_eq!(report.records_removed, 1, "only v1 leaves: {report:?}");
    let store = check_everywhere(dir.path(), store, |store| {
        assert!(matches!(store.get_version("x", 1), Err(Error::VersionNotFound { .. })));
        for version in 2..=6 {
            assert!(matches!(store.get_version("x", version), Err(Error::Pruned { .. })), "v{version}");
        }
        assert_eq!(store.history("x")?.len(), 6, "v2..v6 as stubs, and v7");
        assert_eq!(store.get("x")?.json()?, json!(7));
        Ok(())
    })?;
    store.close()?;
    Ok(())
}
