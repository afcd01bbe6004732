//! One writer per data directory, and read-only opens beside it.
//!
//! A second writable `Store::open` of a directory that a store already
//! writes to must fail with `LogError::Locked`, naming the holder's pid, and
//! change nothing. A read-only open needs no lock: beside the writer it
//! answers from the log as it was when it opened, and on a directory that
//! does not exist it is an empty store that creates nothing on disk.

mod common;

use recstore::log::LogError;
use recstore::{Data, Error, Metadata, Query, Store, StoreOptions, SyncMode};
use serde_json::json;

use common::TestResult;

fn with_id(id: &str) -> Metadata {
    Metadata { id: Some(id.into()), item_type: Some("reading".into()), ..Metadata::default() }
}

#[test]
fn second_writer_is_refused_with_the_holders_pid() -> TestResult {
    let dir = tempfile::tempdir()?;
    let writer = Store::open(dir.path(), StoreOptions::default().sync(SyncMode::Never))?;
    writer.put(Data::Json(json!({"n": 1})), with_id("a"))?;

    let second = Store::open(dir.path(), StoreOptions::default().sync(SyncMode::Never));
    let pid = match second {
        Err(Error::Log(LogError::Locked { pid, .. })) => pid,
        Err(other) => return Err(format!("a second writer must get LogError::Locked, got {other}").into()),
        Ok(_) => return Err("a second writer must be refused, but it opened".into()),
    };
    assert_eq!(pid, std::process::id(), "the lock names the process holding it");

    // The refused open must not have disturbed the writer.
    let next = writer.put(Data::Json(json!({"n": 2})), with_id("a"))?;
    assert_eq!(next.version, 2);
    assert_eq!(writer.get("a")?.json()?, json!({"n": 2}));

    // Once the writer is gone, the lock is free again.
    drop(writer);
    let reopened = Store::open(dir.path(), StoreOptions::default().sync(SyncMode::Never))?;
    assert_eq!(reopened.get("a")?.version, 2);
    Ok(())
}

#[test]
fn read_only_open_beside_the_writer_sees_the_log_as_of_its_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let writer = Store::open(dir.path(), StoreOptions::default())?;
    writer.put(Data::Json(json!({"n": 1})), with_id("a"))?;
    writer.put(Data::Json(json!({"n": 2})), with_id("a"))?;
    writer.put(Data::Json(json!({"n": 1})), with_id("b"))?;
    writer.delete("b")?;

    let reader = Store::open(dir.path(), StoreOptions::default().read_only(true))?;
    assert_eq!(reader.get("a")?.json()?, json!({"n": 2}));
    assert_eq!(reader.get_version("a", 1)?.json()?, json!({"n": 1}));
    assert_eq!(reader.metadata("a", None)?.version, 2);
    assert!(matches!(reader.get("b"), Err(Error::Deleted { .. })));
    let hits: Vec<_> = reader.query_hits(&Query::default())?.into_iter().map(|h| (h.id, h.version)).collect();
    assert_eq!(hits, [("a".to_string(), 2)]);
    let stats = reader.stats();
    assert_eq!((stats.items_live, stats.items_deleted, stats.versions, stats.deletes), (1, 1, 3, 1));

    // The writer goes on; the reader keeps answering as of its open.
    writer.put(Data::Json(json!({"n": 3})), with_id("a"))?;
    writer.put(Data::Json(json!({"n": 1})), with_id("c"))?;
    assert_eq!(reader.get("a")?.version, 2, "a read-only store is a snapshot of its open");
    assert!(matches!(reader.get("c"), Err(Error::NotFound { .. })));
    assert_eq!(reader.stats().versions, 3);

    // A read-only store refuses writes and leaves the writer's log alone.
    let refused = reader.put(Data::Json(json!({"n": 9})), with_id("z"));
    assert!(matches!(refused, Err(Error::Log(LogError::ReadOnly { .. }))), "got {refused:?}");
    drop(reader);
    assert_eq!(writer.get("a")?.version, 3);
    assert!(matches!(writer.get("z"), Err(Error::NotFound { .. })));

    // A new read-only open sees what the writer wrote since.
    let later = Store::open(dir.path(), StoreOptions::default().read_only(true))?;
    assert_eq!(later.get("a")?.json()?, json!({"n": 3}));
    assert_eq!(later.get("c")?.version, 1);
    Ok(())
}

#[test]
fn read_only_open_of_a_missing_directory_is_empty_and_creates_nothing() -> TestResult {
    let parent = tempfile::tempdir()?;
    let dir = parent.path().join("never-created");
    let store = Store::open(&dir, StoreOptions::default().read_only(true))?;

    assert!(matches!(store.get("a"), Err(Error::NotFound { .. })));
    assert!(matches!(store.get_version("a", 1), Err(Error::NotFound { .. })));
    assert!(matches!(store.metadata("a", None), Err(Error::NotFound { .. })));
    assert!(matches!(store.history("a"), Err(Error::NotFound { .. })));
    assert!(matches!(store.get_dataset("ds", None), Err(Error::DatasetNotFound { .. })));
    assert!(store.query(&Query::default())?.is_empty());
    assert!(store.query_hits(&Query { item_type: Some("reading".into()), ..Query::default() })?.is_empty());
    assert_eq!(store.count(&Query::default())?, 0);
    assert!(store.list_datasets().is_empty());
    let stats = store.stats();
    assert_eq!((stats.items_live, stats.items_deleted, stats.versions, stats.deletes), (0, 0, 0, 0));
    assert_eq!((stats.next_offset, stats.log_bytes, stats.datasets, stats.dataset_versions), (0, 0, 0, 0));

    let refused = store.put(Data::Json(json!(1)), with_id("a"));
    assert!(matches!(refused, Err(Error::Log(LogError::ReadOnly { .. }))), "got {refused:?}");
    store.checkpoint()?;
    store.close()?;
    assert!(!dir.exists(), "a read-only open, write, checkpoint and close must create nothing");
    Ok(())
}
