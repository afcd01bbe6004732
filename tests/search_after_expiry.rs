//! Searches after a compaction that drops live items' current versions
//! (the old store's cleanup: expire, with or without purge) answer as an
//! index rebuilt from the compacted log would: expired items are gone, and
//! an id put again after a purge is found once, at its new version.

mod common;

use std::collections::BTreeSet;

use recstore::compaction::Policy;
use recstore::search::SEARCH_DIR_NAME;
use recstore::{Data, Metadata, Store, StoreOptions, SyncMode};
use serde_json::json;

use common::TestResult;

/// Expired items beside `old_a`: more than the first pages of a search
/// with limit 1 hold.
const STALE_EXTRA_COUNT: usize = 30;

fn put(store: &Store, id: &str, tag: &str) -> recstore::Result<u32> {
    let metadata = Metadata { id: Some(id.into()), tags: vec![tag.into()], ..Metadata::default() };
    Ok(store.put(Data::Json(json!({ "id": id, "tag": tag })), metadata)?.version)
}

fn tagged(store: &Store, tag: &str) -> recstore::Result<BTreeSet<(String, u32)>> {
    Ok(store.search_hits(&format!("tags:{tag}"), 100, None)?.into_iter().map(|hit| (hit.id, hit.version)).collect())
}

fn expire_everything(purge: bool) -> Policy {
    let future_us = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0) + 60_000_000;
    Policy::keep_everything().cutoff_us(Some(future_us)).expire(true).purge(purge)
}

fn check(purge: bool) -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Never);
    {
        let store = Store::open(dir.path(), options.clone())?;
        put(&store, "old_a", "stale")?;
        for n in 0..STALE_EXTRA_COUNT {
            put(&store, &format!("old_{n}"), "stale")?;
        }
        store.search_wait_for(store.log().next_offset())?;
        assert_eq!(tagged(&store, "stale")?.len(), 1 + STALE_EXTRA_COUNT);
        store.compact(expire_everything(purge))?;
        let version = put(&store, "old_a", "fresh")?;
        assert_eq!(version, if purge { 1 } else { 2 }, "a purge forgets the id; stubs keep its versions");
        let expected: BTreeSet<(String, u32)> = [("old_a".to_string(), version)].into();
        assert_eq!(tagged(&store, "stale")?, BTreeSet::new(), "expired versions are not current");
        assert_eq!(tagged(&store, "fresh")?, expected);
        let all = store.search("*", 100, None)?;
        assert_eq!(all.len(), 1, "only the item put after the cleanup: {all:?}");
        // Oldest first among equal scores: the leftovers fill the first
        // pages the index returns, and the search fetches on past them.
        let first = store.search_hits("*", 1, None)?;
        assert_eq!(first.iter().map(|hit| (hit.id.as_str(), hit.version)).collect::<Vec<_>>(), [("old_a", version)]);
    }
    std::fs::remove_dir_all(dir.path().join(SEARCH_DIR_NAME))?;
    let store = Store::open(dir.path(), options)?;
    assert_eq!(tagged(&store, "stale")?, BTreeSet::new(), "a rebuild agrees");
    assert_eq!(store.search("*", 100, None)?.len(), 1);
    Ok(())
}

#[test]
fn expired_items_leave_the_search_view() -> TestResult {
    check(false)
}

#[test]
fn expired_and_purged_items_leave_the_search_view_and_a_new_put_is_found_once() -> TestResult {
    check(true)
}
