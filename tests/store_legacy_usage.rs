//! The old Python store's documented usage, reproduced through the library:
//! store a sensor reading with tags, retrieve it and an older version,
//! read its metadata, query by type and tag, store and retrieve a dataset.

use recstore::{Data, Error, Metadata, NewItem, Query, Store, StoreOptions};
use serde_json::json;

fn reading(temperature: f64) -> (Data, Metadata) {
    let metadata = Metadata {
        item_type: Some("sensor_reading".into()),
        source_id: Some("sensor-7".into()),
        tags: vec!["raw_data".into(), "priority_high".into()],
        extra: json!({"unit": "celsius"}).as_object().cloned().unwrap_or_default(),
        ..Metadata::default()
    };
    (Data::Json(json!({"temperature": temperature, "humidity": 0.4})), metadata)
}

#[test]
fn old_store_usage_works_end_to_end() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;

    let (data, metadata) = reading(21.5);
    let first = store.put(data.clone(), metadata.clone())?;
    assert_eq!(first.version, 1);
    assert_eq!(first.id.len(), 32, "without an id, the id is the md5 hex of the data");
    assert_eq!(store.get(&first.id)?.json()?, json!({"temperature": 21.5, "humidity": 0.4}));

    let again = store.put(data, metadata.clone())?;
    assert_eq!((again.version, again.created, again.offset), (1, false, first.offset), "identical put is a no-op");

    let (updated, _) = reading(22.0);
    let metadata_with_id = Metadata { id: Some(first.id.clone()), ..metadata };
    let second = store.put(updated, metadata_with_id)?;
    assert_eq!(second.version, 2);
    assert_eq!(store.get_version(&first.id, 1)?.json()?["temperature"], json!(21.5));
    assert_eq!(store.get(&first.id)?.json()?["temperature"], json!(22.0));

    let meta = store.metadata(&first.id, None)?;
    assert_eq!(meta.version, 2);
    assert_eq!(meta.metadata.item_type.as_deref(), Some("sensor_reading"));
    assert_eq!(meta.metadata.extra["unit"], json!("celsius"));
    assert_eq!(meta.md5.len(), 32);

    let query = Query::from_json(&json!({"type": "sensor_reading", "tag": "raw_data"}))?;
    let found = store.query(&query)?;
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].id.as_str(), found[0].version), (first.id.as_str(), 2));
    assert!(store.query(&Query::from_json(&json!({"type": "sensor_reading", "tag": "absent"}))?)?.is_empty());

    let items = vec![
        NewItem {
            data: Data::Json(json!({"a": 1})),
            metadata: Metadata { item_type: Some("typeA".into()), ..Metadata::default() },
        },
        NewItem {
            data: Data::Json(json!({"a": 2})),
            metadata: Metadata { item_type: Some("typeA".into()), ..Metadata::default() },
        },
    ];
    let dataset = store.put_dataset("typeA_collection", items, json!({"description": "two A items"}))?;
    assert_eq!(dataset.version, 1);
    let loaded = store.get_dataset("typeA_collection", None)?;
    assert_eq!(loaded.info, json!({"description": "two A items"}));
    assert_eq!(loaded.members.len(), 2);
    for (id, version) in &loaded.members {
        assert_eq!(*version, 1);
        assert_eq!(store.get_version(id, *version)?.json()?["a"].as_i64().map(|a| a > 0), Some(true));
    }
    Ok(())
}

#[test]
fn deletes_and_revivals_are_reported_precisely() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    let metadata = Metadata { id: Some("item".into()), ..Metadata::default() };
    store.put(Data::Json(json!(1)), metadata.clone())?;
    let delete_offset = store.delete("item")?;
    assert!(matches!(store.get("item"), Err(Error::Deleted { offset, .. }) if offset == delete_offset));
    assert!(matches!(store.delete("item"), Err(Error::Deleted { .. })));
    assert!(matches!(store.get("nothing"), Err(Error::NotFound { .. })));
    assert!(matches!(store.get_version("item", 9), Err(Error::VersionNotFound { latest: 1, .. })));
    let revived = store.put(Data::Json(json!(1)), metadata)?;
    assert_eq!(revived.version, 2, "a put after a delete creates the next version");
    let events: Vec<_> = store.history("item")?.into_iter().map(|h| (h.event, h.version)).collect();
    assert_eq!(events, [("put".to_string(), 1), ("delete".to_string(), 1), ("put".to_string(), 2)]);
    Ok(())
}

#[test]
fn bad_input_is_refused_and_changes_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    let bad_ids = ["", "a\nb", &"x".repeat(513)];
    for id in bad_ids {
        let metadata = Metadata { id: Some(id.to_string()), ..Metadata::default() };
        assert!(matches!(store.put(Data::Json(json!(1)), metadata), Err(Error::InvalidInput { .. })), "id {id:?}");
    }
    let good = NewItem { data: Data::Json(json!(1)), metadata: Metadata::default() };
    let bad =
        NewItem { data: Data::Json(json!(2)), metadata: Metadata { tags: vec![String::new()], ..Metadata::default() } };
    assert!(matches!(store.put_batch(vec![good, bad]), Err(Error::InvalidInput { .. })));
    let reserved =
        Metadata { extra: json!({"version": 3}).as_object().cloned().unwrap_or_default(), ..Metadata::default() };
    assert!(matches!(store.put(Data::Json(json!(1)), reserved), Err(Error::InvalidInput { .. })));
    assert_eq!(store.log().next_offset(), 0, "nothing was written");
    Ok(())
}

/// A long batch is prepared in shares on several threads; whichever thread
/// meets its bad item first, the error is the first bad item's in batch
/// order, and nothing of the batch is written.
#[test]
fn a_long_batch_reports_its_first_bad_item_and_writes_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    let item = |n: usize| {
        let metadata = match n {
            90 => Metadata { tags: vec![String::new()], ..Metadata::default() },
            900 => Metadata { id: Some("bad\u{7}id".into()), ..Metadata::default() },
            _ => Metadata { id: Some(format!("item-{n}")), ..Metadata::default() },
        };
        NewItem { data: Data::Json(json!({ "n": n })), metadata }
    };
    let batch: Vec<NewItem> = (0..1000).map(item).collect();
    match store.put_batch(batch) {
        Err(Error::InvalidInput { what }) => assert!(what.contains("tag"), "{what}"),
        other => panic!("expected the empty tag of item 90 to be refused, got {other:?}"),
    }
    let bad_late: Vec<NewItem> = (100..1000).map(item).collect();
    match store.put_batch(bad_late) {
        Err(Error::InvalidInput { what }) => assert!(what.contains("id"), "{what}"),
        other => panic!("expected the id of item 900 to be refused, got {other:?}"),
    }
    assert_eq!(store.log().next_offset(), 0, "nothing was written");
    assert!(matches!(store.get("item-0"), Err(Error::NotFound { .. })));
    Ok(())
}

#[test]
fn lineage_walks_parents_and_children() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    let with = |id: &str, parents: &[&str]| Metadata {
        id: Some(id.into()),
        parents: parents.iter().map(|p| p.to_string()).collect(),
        ..Metadata::default()
    };
    store.put(Data::Json(json!("raw")), with("raw", &[]))?;
    store.put(Data::Json(json!("clean")), with("clean", &["raw"]))?;
    store.put(Data::Json(json!("raw v2")), with("raw", &[]))?;
    store.put(Data::Json(json!("feature")), with("feature", &["clean", "raw@2"]))?;
    let up = store.lineage("feature", recstore::Direction::Up, 5)?;
    let up: Vec<_> = up.iter().map(|e| (e.id.as_str(), e.version, e.depth)).collect();
    assert_eq!(up, [("clean", Some(1), 1), ("raw", Some(2), 1), ("raw", Some(1), 2)]);
    let down = store.lineage("raw", recstore::Direction::Down, 1)?;
    let down: Vec<_> = down.iter().map(|e| (e.id.as_str(), e.version)).collect();
    assert_eq!(down, [("clean", Some(1)), ("feature", Some(1))]);
    Ok(())
}

#[test]
fn views_rebuilt_without_checkpoint_answer_identically() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let snapshot = |store: &Store| -> Result<String, recstore::Error> {
        let hits = store.query_hits(&Query::default())?;
        let metas: Vec<_> = hits.iter().map(|h| store.metadata(&h.id, None)).collect::<Result<_, _>>()?;
        Ok(format!("{:?}\n{:?}\n{:?}", metas, store.stats(), store.list_datasets()))
    };
    let before = {
        let store = Store::open(dir.path(), StoreOptions::default().segment_size_bytes(4096))?;
        for i in 0..200 {
            let metadata = Metadata {
                id: Some(format!("item-{}", i % 70)),
                item_type: Some(format!("type-{}", i % 3)),
                tags: vec![format!("tag-{}", i % 5)],
                ..Metadata::default()
            };
            store.put(Data::Json(json!({"i": i})), metadata)?;
            if i % 17 == 0 {
                let _ = store.delete(&format!("item-{}", i % 70));
            }
        }
        store.put_dataset(
            "ds",
            vec![NewItem { data: Data::Json(json!("x")), metadata: Metadata::default() }],
            json!({}),
        )?;
        let before = snapshot(&store)?;
        store.close()?;
        before
    };
    let checkpoint = dir.path().join("views").join("checkpoint.bin");
    assert!(checkpoint.exists(), "a clean close writes a checkpoint");
    let from_checkpoint = snapshot(&Store::open(dir.path(), StoreOptions::default())?)?;
    std::fs::remove_file(&checkpoint)?;
    let from_log = snapshot(&Store::open(dir.path(), StoreOptions::default())?)?;
    std::fs::write(&checkpoint, b"garbage")?;
    let from_garbage = snapshot(&Store::open(dir.path(), StoreOptions::default())?)?;
    assert_eq!(before, from_checkpoint);
    assert_eq!(before, from_log);
    assert_eq!(before, from_garbage);
    Ok(())
}
