//! A `put_batch` large enough for the log to start its fdatasync ahead
//! (issue 3: the views are applied while the disk works) still fails when
//! that fdatasync fails, and the store then refuses every write until it is
//! reopened; the reopened store holds the batch whole or not at all.

mod common;

use std::sync::Arc;

use recstore::log::LogError;
use recstore::storage::{Fault, FaultInjector};
use recstore::{Data, Error, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::json;

use common::TestResult;

/// Items in the failing batch: well above the log's sync-ahead threshold.
const BATCH_ITEM_COUNT: usize = 500;

fn item(batch: usize, index: usize) -> NewItem {
    NewItem {
        data: Data::Json(json!({"batch": batch, "index": index, "filler": "x".repeat(200)})),
        metadata: Metadata { id: Some(format!("b{batch}-{index}")), ..Metadata::default() },
    }
}

fn batch(batch: usize) -> Vec<NewItem> {
    (0..BATCH_ITEM_COUNT).map(|index| item(batch, index)).collect()
}

fn is_fdatasync_failure(error: &Error) -> bool {
    match error {
        Error::Log(LogError::Io { op, .. }) => *op == "fdatasync",
        Error::Log(LogError::Poisoned { cause }) => cause.contains("fdatasync"),
        _ => false,
    }
}

#[test]
fn failed_fdatasync_of_a_large_batch_fails_the_put_and_poisons_the_store() -> TestResult {
    let dir = tempfile::tempdir()?;
    let faults = Arc::new(FaultInjector::default());
    let options = StoreOptions { faults: Some(faults.clone()), ..StoreOptions::default().sync(SyncMode::Always) };
    let store = Store::open(dir.path(), options)?;
    store.put_batch(batch(0))?;
    faults.fail_sync_after(0, Fault::Eio);
    match store.put_batch(batch(1)) {
        Err(error) => assert!(is_fdatasync_failure(&error), "expected the fdatasync failure, got {error}"),
        Ok(_) => return Err("a batch whose fdatasync failed was acknowledged".into()),
    }
    let refused = store.put(Data::Json(json!({"after": true})), Metadata::default());
    assert!(matches!(refused, Err(Error::Log(LogError::Poisoned { .. }))), "got {refused:?}");
    assert!(matches!(store.put_batch(batch(2)), Err(Error::Log(LogError::Poisoned { .. }))));
    drop(store);

    let store = Store::open(dir.path(), StoreOptions::default())?;
    for index in 0..BATCH_ITEM_COUNT {
        assert_eq!(store.get(&format!("b0-{index}"))?.version, 1, "acknowledged item b0-{index}");
    }
    let found = (0..BATCH_ITEM_COUNT).filter(|index| store.get(&format!("b1-{index}")).is_ok()).count();
    assert!(found == 0 || found == BATCH_ITEM_COUNT, "the failed batch is whole or absent, found {found} items");
    assert!(store.get("b2-0").is_err(), "nothing written after the failure is found");
    Ok(())
}
