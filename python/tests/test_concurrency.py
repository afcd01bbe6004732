"""Threads sharing one Store, a second process (Locked, read-only beside a
writer), forked and spawned DataLoader-style workers, and subscribers."""

import multiprocessing
import os
import signal
import threading

import pytest

import recstore
from loader_support import StoreDataset, open_for_writing, read_with_parent_store


def test_two_threads_write_and_read_one_store(store):
    errors = []

    def writer(prefix):
        try:
            for i in range(300):
                store.put({"i": i}, {"id": f"{prefix}{i}", "type": prefix})
                assert store.retrieve(f"{prefix}{i}") == {"i": i}
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.get_storage_stats()["items_live"] == 600
    assert len(list(store.retrieve_by_query({"type": "a"}))) == 300


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_second_writer_process_gets_locked_with_the_holders_pid(store, store_dir, method):
    with multiprocessing.get_context(method).Pool(1) as pool:
        outcome = pool.apply(open_for_writing, (str(store_dir),))
    assert outcome.startswith("Locked") and f"pid {os.getpid()}" in outcome, outcome


def test_read_only_opens_beside_a_writer_and_sees_its_writes(store, store_dir):
    store.put({"v": 1}, {"id": "x"})
    with recstore.Store(store_dir, read_only=True) as reader:
        assert reader.retrieve("x") == {"v": 1}
        with pytest.raises(recstore.Unavailable):
            reader.put(2, {"id": "y"})
    store.put({"v": 2}, {"id": "x"})
    with recstore.Store(store_dir, read_only=True) as reader:
        assert reader.retrieve("x") == {"v": 2}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_store_used_in_a_forked_child_raises_a_clear_error(store):
    store.put(1, {"id": "x"})
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=lambda: results.put(read_with_parent_store(store, "x")))
    child.start()
    outcome = results.get()
    child.join()
    assert outcome.startswith("Unavailable") and f"opened by process {os.getpid()}" in outcome, outcome
    assert store.retrieve("x") == 1, "the parent's Store still works"


def test_a_store_refuses_to_be_pickled_and_says_what_to_do(store):
    import pickle

    with pytest.raises(TypeError, match="read_only=True"):
        pickle.dumps(store)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_dataloader_workers_each_open_the_store_read_only(store, store_dir, method):
    refs = store.put_many([{"data": {"n": i}, "metadata": {"id": f"s{i}"}} for i in range(40)])
    dataset = StoreDataset(store_dir, [r.id for r in refs])
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.map(dataset.__getitem__, range(len(dataset)))
    assert got == [(f"s{i}", {"n": i}) for i in range(40)]


def collect(store, events, count, group=None, from_offset=0):
    for event in store.subscribe(from_offset, group=group):
        events.append(event)
        if group is not None:
            store.commit(group, event["offset"] + 1)
        if len(events) == count:
            return


def test_subscriber_thread_sees_every_event_in_order_and_resumes_after_restart(store_dir):
    with recstore.Store(store_dir) as store:
        seen = []
        thread = threading.Thread(target=collect, args=(store, seen, 200, "g"))
        thread.start()
        for batch in range(10):
            store.put_many([{"data": i, "metadata": {"id": f"b{batch}-{i}"}} for i in range(10)])
            for i in range(10):
                store.put({"one": i}, {"id": f"single{batch}-{i}"})
        thread.join()
        assert [e["kind"] for e in seen] == ["put"] * 200
        offsets = [e["offset"] for e in seen]
        assert offsets == sorted(offsets) and len(set(offsets)) == 200
        last = offsets[-1]
    with recstore.Store(store_dir) as store:
        store.put("after restart", {"id": "late"})
        resumed = []
        collect(store, resumed, 1, "g")
        assert resumed[0]["id"] == "late" and resumed[0]["offset"] > last


def test_close_stops_a_waiting_subscriber(store_dir):
    store = recstore.Store(store_dir)
    store.put(1, {"id": "x"})
    seen = []
    thread = threading.Thread(target=collect, args=(store, seen, 1000))
    thread.start()
    store.close()
    thread.join()
    assert [e["id"] for e in seen] == ["x"]
    with recstore.Store(store_dir) as again:
        assert again.retrieve("x") == 1, "close() released the lock"


def test_keyboard_interrupt_stops_a_subscriber(store):
    store.put(1, {"id": "x"})
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for event in store.subscribe():
            seen.append(event)
    timer.join()
    assert [e["id"] for e in seen] == ["x"]
    store.put(2, {"id": "y"})
