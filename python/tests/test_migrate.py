"""migrate_recursive_store from an old-layout directory made here: gzip+JSON
and gzip+pickle payloads, an item whose surviving versions are 3-7 only, a
dataset; pickles refused (nothing written) unless allow_pickle=True."""

import gzip
import json
import pickle

import pytest

import recstore


def write_item(root, item_id, versions, *, as_pickle=False, meta=None):
    item_dir = root / "data" / item_id[:2] / item_id
    item_dir.mkdir(parents=True)
    meta = meta or {}
    records = []
    for version in versions:
        record = {
            "id": item_id,
            "data": {"value": version * 1.5, "name": f"{item_id} v{version}"},
            "metadata": dict(meta),
            "version": version,
            "timestamp": f"2024-03-0{version}T10:00:00.123456",
        }
        payload = pickle.dumps(record) if as_pickle else json.dumps(record).encode()
        (item_dir / f"v{version}.data").write_bytes(gzip.compress(payload))
        records.append(record)
    (item_dir / "latest.data").write_bytes((item_dir / f"v{versions[-1]}.data").read_bytes())
    (item_dir / "metadata.json").write_text(
        json.dumps(
            {
                "id": item_id,
                "created": records[0]["timestamp"],
                "updated": records[-1]["timestamp"],
                "current_version": versions[-1],
                "type": meta.get("type"),
                "source_id": meta.get("source_id"),
                "tags": meta.get("tags", []),
                "parents": meta.get("parents", []),
                "size": 10,
                "versions": [{"version": r["version"], "timestamp": r["timestamp"], "size": 10, "checksum": "x"} for r in records],
            }
        )
    )


@pytest.fixture
def old_store(tmp_path):
    root = tmp_path / "old"
    write_item(root, "aa11", [3, 4, 5, 6, 7], meta={"type": "sensor_reading", "source_id": "s7", "tags": ["raw_data"]})
    write_item(root, "bb22", [1], meta={"type": "feature", "parents": ["aa11@7"]})
    write_item(root, "cc33", [1, 2], as_pickle=True, meta={"type": "pickled"})
    dataset_dir = root / "data" / "datasets" / "training"
    dataset_dir.mkdir(parents=True)
    (dataset_dir / "dataset.json").write_text(json.dumps({"items": ["aa11", "bb22"], "info": {"split": "train"}}))
    (root / "indices").mkdir()
    (root / "indices" / "main_indices.json").write_text("{}")
    return root


def test_pickles_are_refused_without_allow_pickle_and_nothing_is_written(old_store, store):
    with pytest.raises(recstore.InvalidInput, match="allow_pickle=True"):
        recstore.migrate_recursive_store(old_store, store)
    assert store.get_storage_stats()["versions"] == 0


def test_migration_keeps_ids_versions_times_and_datasets(old_store, store):
    report = recstore.migrate_recursive_store(old_store, store, allow_pickle=True)
    assert (report["items"], report["versions"], report["datasets"]) == (3, 8, 1), report
    assert report["skipped"] == []
    assert [e["version"] for e in store.history("aa11")] == [3, 4, 5, 6, 7]
    assert store.retrieve("aa11", 3) == {"value": 4.5, "name": "aa11 v3"}
    with pytest.raises(recstore.NotFound):
        store.retrieve("aa11", 2)
    meta = store.retrieve_metadata("aa11")
    assert (meta["version"], meta["timestamp"]) == (7, "2024-03-07T10:00:00.123456Z")
    assert (meta["type"], meta["source_id"], meta["tags"]) == ("sensor_reading", "s7", ["raw_data"])
    assert store.retrieve_metadata("bb22")["parents"] == ["aa11@7"]
    assert store.retrieve("cc33") == {"value": 3.0, "name": "cc33 v2"}
    items, info = store.retrieve_dataset("training")
    assert info == {"split": "train"}
    assert [(i["id"], i["version"]) for i in items] == [("aa11", 7), ("bb22", 1)]
    assert [i for i, _ in store.retrieve_by_query({"type": "sensor_reading", "tag": "raw_data"})] == ["aa11"]


def test_unreadable_files_are_skipped_and_reported(old_store, store):
    (old_store / "data" / "aa" / "aa11" / "v4.data").write_bytes(b"not gzip, not json")
    report = recstore.migrate_recursive_store(old_store, store, allow_pickle=True)
    assert [s["path"].rsplit("/", 1)[-1] for s in report["skipped"]] == ["v4.data"]
    assert [e["version"] for e in store.history("aa11")] == [3, 5, 6, 7]


def test_migrating_twice_is_refused_and_writes_nothing(old_store, store):
    recstore.migrate_recursive_store(old_store, store, allow_pickle=True)
    before = store.get_storage_stats()
    with pytest.raises(recstore.InvalidInput):
        recstore.migrate_recursive_store(old_store, store, allow_pickle=True)
    assert store.get_storage_stats() == before
