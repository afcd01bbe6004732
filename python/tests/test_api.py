"""Every call of the API table, each asserting what it returns."""

import datetime as dt

import pytest

import recstore

READING = {"temperature": 21.5, "humidity": 0.4}
META = {"type": "sensor_reading", "source_id": "sensor-7", "tags": ["raw_data", "priority_high"]}


def test_store_returns_the_md5_content_id_or_the_given_id(store):
    item_id = store.store(READING, META)
    assert len(item_id) == 32
    assert store.store(READING, {"id": "r-1"}) == "r-1"
    assert store.retrieve(item_id) == READING


def test_put_returns_an_item_ref_and_identical_puts_write_nothing(store):
    first = store.put({"a": 1}, {"id": "x"})
    assert (first.id, first.version, first.created) == ("x", 1, True)
    again = store.put({"a": 1}, {"id": "x"})
    assert (again.version, again.offset, again.created) == (1, first.offset, False)
    second = store.put({"a": 2}, {"id": "x"})
    assert second.version == 2 and second.offset > first.offset
    assert store.retrieve("x", 1) == {"a": 1}
    assert store.retrieve("x") == {"a": 2}


def test_put_many_is_one_batch_with_one_ref_per_item(store):
    refs = store.put_many([{"data": i, "metadata": {"id": f"n{i}"}} for i in range(3)])
    assert [r.id for r in refs] == ["n0", "n1", "n2"]
    assert len({r.timestamp for r in refs}) == 1, "one batch, one timestamp"


def test_retrieve_metadata_is_the_cli_meta_object(store):
    store.put(READING, dict(META, id="r", unit="celsius"))
    meta = store.retrieve_metadata("r")
    assert meta["type"] == "sensor_reading" and meta["unit"] == "celsius" and meta["parents"] == []
    assert set(meta) >= {"id", "version", "offset", "timestamp", "size", "md5", "content_type", "source_id", "tags"}


def test_retrieve_by_query_yields_id_and_data_of_latest_versions(store):
    store.put({"t": 1}, dict(META, id="a"))
    store.put({"t": 2}, dict(META, id="a"))
    store.put({"t": 3}, {"id": "b", "type": "sensor_reading", "tags": ["raw_data"]})
    store.put({"t": 4}, {"id": "c", "type": "other", "tags": ["raw_data"]})
    assert list(store.retrieve_by_query({"type": "sensor_reading", "tag": "raw_data"})) == [("a", {"t": 2}), ("b", {"t": 3})]
    assert list(store.retrieve_by_query({"tags": ["raw_data", "priority_high"]})) == [("a", {"t": 2})]
    assert list(store.retrieve_by_query({"source_id": "sensor-7"})) == [("a", {"t": 2})]
    assert len(list(store.retrieve_by_query({"tag": "raw_data"}, limit=2))) == 2


def test_query_since_and_until_take_every_time_form(store):
    early = store.put(1, {"id": "early", "type": "t"})
    late = store.put(2, {"id": "late", "type": "t"})
    since = dt.datetime.fromisoformat(late.timestamp.replace("Z", "+00:00"))
    for form in (late.offset, f"@{late.offset}", late.timestamp, since):
        assert [i for i, _ in store.retrieve_by_query({"type": "t", "since": form})] == ["late"], form
    assert [i for i, _ in store.retrieve_by_query({"type": "t", "until": late.offset})] == ["early"]
    assert early.offset < late.offset


def test_datasets_round_trip_items_and_info(store):
    ref = store.store_dataset("train", [{"data": {"x": 1}, "metadata": {"id": "d1"}}, {"data": b"\x01", "metadata": {"id": "d2"}}], {"split": 0.8})
    assert (ref.name, ref.version) == ("train", 1) and [i.id for i in ref.items] == ["d1", "d2"]
    items, info = store.retrieve_dataset("train")
    assert info == {"split": 0.8}
    assert [(i["id"], i["version"], i["data"]) for i in items] == [("d1", 1, {"x": 1}), ("d2", 1, b"\x01")]
    assert items[0]["metadata"]["id"] == "d1"
    store.put({"x": 2}, {"id": "d1"})
    assert store.retrieve_dataset("train", 1)[0][0]["data"] == {"x": 1}, "a dataset pins its versions"


def test_delete_returns_the_tombstone_offset_and_history_shows_it(store):
    put = store.put(1, {"id": "gone"})
    offset = store.delete("gone")
    assert offset > put.offset
    with pytest.raises(recstore.Deleted):
        store.retrieve("gone")
    assert [e["event"] for e in store.history("gone")] == ["put", "delete"]


def test_lineage_follows_parents_both_ways(store):
    store.put(1, {"id": "raw"})
    store.put(2, {"id": "clean", "parents": ["raw@1"]})
    assert [e["id"] for e in store.lineage("clean")] == ["raw"]
    assert [e["id"] for e in store.lineage("raw", direction="down")] == ["clean"]
    with pytest.raises(recstore.InvalidInput):
        store.lineage("raw", direction="sideways")


def test_search_finds_metadata(store):
    store.put({"note": "calibration drift on sensor seven"}, {"id": "n1"})
    found = store.search("calibration")
    assert [m["id"] for m in found] == ["n1"]


def test_as_of_in_every_form_and_at_views(store):
    first = store.put({"v": 1}, {"id": "x"})
    store.put({"v": 2}, {"id": "x"})
    when = dt.datetime.fromisoformat(first.timestamp.replace("Z", "+00:00"))
    for form in (first.offset, f"@{first.offset}", first.timestamp, when):
        assert store.retrieve("x", as_of=form) == {"v": 1}, form
        assert store.at(form).retrieve("x") == {"v": 1}
    view = store.at(first.offset)
    assert view.retrieve_metadata("x")["version"] == 1
    assert [e["version"] for e in view.history("x")] == [1]
    assert view.get_storage_stats()["versions"] == 1
    with pytest.raises(ValueError):
        store.retrieve("x", as_of=dt.datetime(2026, 1, 1))  # naive: which zone?
    with pytest.raises(recstore.InvalidInput):
        store.retrieve("x", as_of="yesterday")


def test_stats_verify_cleanup_and_restore(store, tmp_path):
    for v in range(8):
        store.put({"v": v}, {"id": "many"})
    stats = store.get_storage_stats()
    assert stats["items_live"] == 1 and stats["versions"] == 8
    assert store.verify()["clean"] is True
    preview = store.cleanup(max_versions=2, dry_run=True)
    assert preview["records_dropped"]["max_versions"] == 6
    report = store.cleanup(max_versions=2)
    assert report["records_dropped"]["max_versions"] == 6
    with pytest.raises(recstore.Pruned):
        store.retrieve("many", 1)
    restored = store.restore(7, tmp_path / "restored")
    assert restored["items_live"] == 1
    with recstore.Store(tmp_path / "restored") as old:
        assert old.retrieve("many") == {"v": 7}


def test_events_end_at_the_current_end(store):
    store.put(1, {"id": "a"})
    store.delete("a")
    events = list(store.events())
    assert [(e["offset"], e["kind"]) for e in events] == [(0, "put"), (1, "delete")]
    assert [e["offset"] for e in store.events(1)] == [1]


def test_closed_store_refuses_calls_and_context_manager_closes(store_dir):
    with recstore.Store(store_dir) as store:
        store.put(1, {"id": "a"})
    assert store.closed
    with pytest.raises(recstore.Unavailable, match="closed"):
        store.retrieve("a")
    store.close()  # idempotent
    with recstore.Store(store_dir, sync="never") as again:
        assert again.retrieve("a") == 1
    with pytest.raises(recstore.InvalidInput):
        recstore.Store(store_dir, sync="sometimes")


def test_a_deleted_consumer_group_starts_again_from_zero(store):
    store.put({"n": 1}, {"id": "g1"})
    store.commit("readers", 1)
    offset = store.delete_consumer("readers")
    events = list(store.events(offset))
    assert [(e["kind"], e.get("group")) for e in events] == [("consumer_delete", "readers")]
    first = next(iter(store.subscribe(group="readers")))
    assert first["offset"] == 0
    with pytest.raises(recstore.NotFound):
        store.delete_consumer("readers")
