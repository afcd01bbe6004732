//! As-of reads and point-in-time restore against an in-memory model: for
//! random histories and random points, every as-of read (get, metadata,
//! query, dataset, lineage, stats) equals the model's state at that point,
//! and a store restored to that point answers the same.

use std::collections::BTreeMap;

use proptest::prelude::*;
use recstore::timetravel::AsOf;
use recstore::{Data, Direction, Error, Metadata, NewItem, Query, Store, StoreOptions, SyncMode};
use serde_json::json;

#[derive(Debug, Clone)]
enum Op {
    Put { id: u8, value: u8, kind: u8, tag: u8, parent: Option<u8> },
    Delete { id: u8 },
    Dataset { name: u8, ids: Vec<u8> },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..6u8, 0..3u8, 0..2u8, 0..3u8, proptest::option::of(0..6u8))
            .prop_map(|(id, value, kind, tag, parent)| Op::Put { id, value, kind, tag, parent }),
        2 => (0..6u8).prop_map(|id| Op::Delete { id }),
        1 => (0..2u8, proptest::collection::vec(0..6u8, 1..3)).prop_map(|(name, ids)| Op::Dataset { name, ids }),
    ]
}

/// What one item looks like in the model: its versions' values and whether deleted.
#[derive(Debug, Clone, Default, PartialEq)]
struct ModelItem {
    versions: Vec<(u8, u8, u8, Option<u8>)>,
    deleted: bool,
}

type Model = BTreeMap<u8, ModelItem>;

fn metadata(id: u8, kind: u8, tag: u8, parent: Option<u8>) -> Metadata {
    Metadata {
        id: Some(format!("item-{id}")),
        item_type: Some(format!("kind-{kind}")),
        tags: vec![format!("tag-{tag}")],
        parents: parent.filter(|p| *p != id).map(|p| format!("item-{p}")).into_iter().collect(),
        ..Metadata::default()
    }
}

/// Applies an op to the store and the model; returns the model after it if the store acknowledged it.
fn apply(store: &Store, model: &mut Model, datasets: &mut BTreeMap<u8, u32>, op: &Op) -> Result<bool, Error> {
    match op {
        Op::Put { id, value, kind, tag, parent } => {
            let stored = store.put(Data::Json(json!({"v": value})), metadata(*id, *kind, *tag, *parent))?;
            let item = model.entry(*id).or_default();
            let last = item.versions.last().copied();
            let identical = !item.deleted && last == Some((*value, *kind, *tag, parent.filter(|p| p != id)));
            if !identical {
                item.versions.push((*value, *kind, *tag, parent.filter(|p| p != id)));
                item.deleted = false;
            }
            Ok(stored.created)
        }
        Op::Delete { id } => match store.delete(&format!("item-{id}")) {
            Ok(_) => {
                model.entry(*id).or_default().deleted = true;
                Ok(true)
            }
            Err(Error::NotFound { .. } | Error::Deleted { .. }) => Ok(false),
            Err(error) => Err(error),
        },
        Op::Dataset { name, ids } => {
            let items = ids
                .iter()
                .map(|id| NewItem { data: Data::Json(json!({"ds": name})), metadata: metadata(*id, 0, 0, None) })
                .collect();
            store.put_dataset(&format!("ds-{name}"), items, json!({"n": name}))?;
            for id in ids {
                let item = model.entry(*id).or_default();
                let entry = (0, 0, 0, None);
                let value = 100 + name;
                if item.deleted || item.versions.last() != Some(&(value, entry.1, entry.2, entry.3)) {
                    item.versions.push((value, 0, 0, None));
                    item.deleted = false;
                }
            }
            *datasets.entry(*name).or_default() += 1;
            Ok(true)
        }
    }
}

/// Everything a reader can ask, rendered as text for comparison.
fn observe(read: &recstore::timetravel::StoreAt<'_>) -> Result<String, Error> {
    let mut out = String::new();
    for id in 0..6u8 {
        let id = format!("item-{id}");
        let got = match read.get(&id) {
            Ok(data) => format!("{}", data.json()?),
            Err(Error::NotFound { .. }) => "none".into(),
            Err(Error::Deleted { .. }) => "deleted".into(),
            Err(error) => return Err(error),
        };
        let history = read.history(&id).map(|h| h.len()).unwrap_or(0);
        let lineage = read.lineage(&id, Direction::Up, 3).map(|l| l.len()).unwrap_or(0);
        out += &format!("{id}: {got} history={history} lineage={lineage}\n");
    }
    for kind in 0..2 {
        let query = Query { item_type: Some(format!("kind-{kind}")), ..Query::default() };
        let hits: Vec<_> = read.query_hits(&query)?.into_iter().map(|h| (h.id, h.version)).collect();
        out += &format!("kind-{kind}: {hits:?} count={}\n", read.count(&query)?);
    }
    for name in 0..2 {
        match read.dataset(&format!("ds-{name}"), None) {
            Ok(dataset) => out += &format!("ds-{name}: v{} {:?}\n", dataset.version, dataset.members),
            Err(Error::DatasetNotFound { .. }) => out += &format!("ds-{name}: none\n"),
            Err(error) => return Err(error),
        }
    }
    let stats = read.stats();
    out += &format!("live={} deleted={} versions={}\n", stats.items_live, stats.items_deleted, stats.versions);
    out += &format!("logical_bytes={} stored_bytes={}\n", stats.logical_bytes, stats.stored_bytes);
    Ok(out)
}

/// The model's answer for `get` of each id.
fn model_gets(model: &Model) -> Vec<String> {
    (0..6u8)
        .map(|id| match model.get(&id) {
            None => "none".into(),
            Some(item) if item.deleted => "deleted".into(),
            Some(item) => {
                let (value, ..) = item.versions.last().copied().unwrap_or_default();
                if value >= 100 {
                    format!("{}", json!({"ds": value - 100}))
                } else {
                    format!("{}", json!({"v": value}))
                }
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn as_of_reads_and_restores_equal_the_model_at_every_point(ops in proptest::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let options = StoreOptions::default().sync(SyncMode::Never).segment_size_bytes(2048);
        let store = Store::open(dir.path().join("source"), options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut model = Model::new();
        let mut datasets = BTreeMap::new();
        // (offset of the last record after the op, the model then, what latest reads said then)
        let mut points = Vec::new();
        for op in &ops {
            apply(&store, &mut model, &mut datasets, op).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let next = store.log().next_offset();
            if next > 0 {
                let latest = observe(&store.at_or_latest(None).map_err(|e| TestCaseError::fail(e.to_string()))?)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                points.push((next - 1, model.clone(), latest));
            }
        }
        for (i, (offset, model_then, latest_then)) in points.iter().enumerate() {
            let read = store.at(AsOf::Offset(*offset)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let observed = observe(&read).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&observed, latest_then, "as-of @{} differs from what latest reads said then", offset);
            let gets: Vec<String> = observed.lines().take(6).map(|l| l.split(' ').nth(1).unwrap_or("").to_string()).collect();
            prop_assert_eq!(gets, model_gets(model_then), "as-of @{} differs from the model", offset);
            if i % 7 == 0 {
                let target = dir.path().join(format!("restored-{i}"));
                store.restore(AsOf::Offset(*offset), &target).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let restored = Store::open(&target, StoreOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let restored_view = observe(&restored.at_or_latest(None).map_err(|e| TestCaseError::fail(e.to_string()))?)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&restored_view, latest_then, "restore to @{} differs from as-of", offset);
                let report = recstore::log::verify(&target.join("log"), false).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(report.is_clean(), "restored log verifies clean: {:?}", report.problems);
            }
        }
    }
}

#[test]
fn time_as_of_sees_exactly_the_records_stamped_before() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default().sync(SyncMode::Never))?;
    let id = Metadata { id: Some("x".into()), ..Metadata::default() };
    let first = store.put(Data::Json(json!(1)), id.clone())?;
    std::thread::sleep(std::time::Duration::from_millis(2));
    store.put(Data::Json(json!(2)), id)?;
    let first_time: AsOf = first.timestamp.parse()?;
    assert_eq!(store.at(first_time)?.get("x")?.json()?, json!(1));
    let before: AsOf = "2000-01-01T00:00:00Z".parse()?;
    assert!(matches!(store.at(before)?.get("x"), Err(Error::NotFound { .. })));
    assert!(matches!(store.at(AsOf::Offset(99)), Err(Error::InvalidInput { .. })), "past the end is refused");
    assert!(matches!("@x".parse::<AsOf>(), Err(Error::InvalidInput { .. })));
    Ok(())
}

#[test]
fn restore_refuses_a_non_empty_target_and_runs_beside_writers() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store =
        std::sync::Arc::new(Store::open(dir.path().join("src"), StoreOptions::default().segment_size_bytes(4096))?);
    for i in 0..200 {
        store.put(Data::Json(json!({"i": i})), Metadata { id: Some(format!("k{}", i % 50)), ..Metadata::default() })?;
    }
    let occupied = dir.path().join("occupied");
    std::fs::create_dir_all(&occupied)?;
    std::fs::write(occupied.join("keep.txt"), "mine")?;
    assert!(matches!(store.restore(AsOf::Offset(10), &occupied), Err(Error::InvalidInput { .. })));
    assert_eq!(std::fs::read_to_string(occupied.join("keep.txt"))?, "mine", "refused target left untouched");
    for inside in [dir.path().join("src/log/sub"), dir.path().join("src/../src/new")] {
        let refused = store.restore(AsOf::Offset(10), &inside);
        assert!(matches!(refused, Err(Error::InvalidInput { .. })), "{}: {refused:?}", inside.display());
        assert!(!inside.exists(), "nothing is created inside the source");
    }

    let point = store.log().next_offset() - 1;
    let expected = observe(&store.at(AsOf::Offset(point))?)?;
    let writer = {
        let store = std::sync::Arc::clone(&store);
        std::thread::spawn(move || -> Result<(), Error> {
            for i in 0..300 {
                store.put(
                    Data::Json(json!({"late": i})),
                    Metadata { id: Some(format!("k{}", i % 60)), ..Metadata::default() },
                )?;
            }
            Ok(())
        })
    };
    let target = dir.path().join("restored");
    let report = store.restore(AsOf::Offset(point), &target)?;
    writer.join().map_err(|_| "writer panicked")??;
    assert_eq!(report.next_offset, point + 1);
    let restored = Store::open(&target, StoreOptions::default())?;
    assert_eq!(observe(&restored.at_or_latest(None)?)?, expected);
    assert_eq!(observe(&store.at(AsOf::Offset(point))?)?, expected, "the source still answers the same as-of");
    restored.put(Data::Json(json!("new")), Metadata { id: Some("k1".into()), ..Metadata::default() })?;
    assert_eq!(observe(&store.at(AsOf::Offset(point))?)?, expected, "writing to the restore leaves the source alone");
    Ok(())
}

#[test]
fn restore_after_a_purging_compaction_opens_and_answers_like_as_of() -> Result<(), Box<dyn std::error::Error>> {
    use recstore::compaction::Policy;
    let dir = tempfile::tempdir()?;
    let store =
        Store::open(dir.path().join("src"), StoreOptions::default().sync(SyncMode::Never).segment_size_bytes(2048))?;
    for i in 0..120 {
        store.put(Data::Json(json!({"i": i})), Metadata { id: Some(format!("k{}", i % 10)), ..Metadata::default() })?;
    }
    store.compact(Policy::keep_everything().max_versions(Some(1)).purge(true))?;
    store.put(Data::Json(json!("after")), Metadata { id: Some("late".into()), ..Metadata::default() })?;
    let point = store.log().next_offset() - 1;
    let expected = observe(&store.at(AsOf::Offset(point))?)?;
    let target = dir.path().join("restored");
    store.restore(AsOf::Offset(point), &target)?;
    let restored = Store::open(&target, StoreOptions::default())?;
    assert_eq!(observe(&restored.at_or_latest(None)?)?, expected);
    let written = restored.put(Data::Json(json!("new")), Metadata { id: Some("k1".into()), ..Metadata::default() })?;
    assert_eq!(written.offset, point + 1, "the restored log continues at the restore point");
    assert!(recstore::log::verify(&target.join("log"), false)?.is_clean());
    Ok(())
}
