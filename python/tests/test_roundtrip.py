"""Data round trips and refusals: what goes in comes back exactly, and what
JSON cannot hold raises TypeError naming where, writing nothing."""

import math
import struct

import pytest

import recstore

NESTED = {"a": [1, {"b": [None, True, False, "x"]}], "émoji": "🦀 ünïcødé", "empty": {}, "list": []}


@pytest.mark.parametrize(
    "data",
    [NESTED, "plain text", 0, -1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 1.5, None, True, [1, "a"], b"\x00\xffbytes"],
)
def test_data_round_trips(store, data):
    store.put(data, {"id": "x"})
    back = store.retrieve("x")
    assert back == data and type(back) is type(data)


def bits(value):
    return struct.pack("<d", value)


@pytest.mark.parametrize(
    "value", [0.1, 0.1 + 0.2, 1e-310, 5e-324, 1.7976931348623157e308, -0.0, 2.2250738585072014e-308, 1 / 3, 123456789.12345679]
)
def test_floats_round_trip_bit_for_bit(store, value):
    store.put({"f": value, "l": [value]}, {"id": "f"})
    back = store.retrieve("f")
    assert bits(back["f"]) == bits(value) and bits(back["l"][0]) == bits(value)


@pytest.mark.parametrize(
    "data, where",
    [
        ({"a": {1, 2}}, 'data["a"]'),
        ({"a": [0, object()]}, 'data["a"][1]'),
        ({"a": [float("nan")]}, 'data["a"][0]'),
        ({"deep": {"x": math.inf}}, 'data["deep"]["x"]'),
        ({"big": 2**64}, 'data["big"]'),
        ({"small": -(2**63) - 1}, 'data["small"]'),
        ({1: "int key"}, "data has the key 1"),
        (b"ok".decode, "data is a"),
    ],
)
def test_data_json_cannot_hold_raises_type_error_and_writes_nothing(store, data, where):
    with pytest.raises(TypeError, match=__import__("re").escape(where)):
        store.put(data, {"id": "bad"})
    with pytest.raises(TypeError):
        store.put_many([{"data": 1, "metadata": {"id": "fine"}}, {"data": data, "metadata": {"id": "bad"}}])
    assert store.get_storage_stats()["versions"] == 0
    assert list(store.events()) == []


def test_refused_metadata_and_items_write_nothing(store):
    with pytest.raises(TypeError, match=r'metadata\["when"\]'):
        store.put(1, {"id": "x", "when": {1, 2}})
    with pytest.raises(recstore.InvalidInput):
        store.put(1, {"id": "x", "tags": "not-a-list"})
    with pytest.raises(recstore.InvalidInput, match="items\\[1\\]"):
        store.put_many([{"data": 1}, {"metadata": {}}])
    with pytest.raises(recstore.InvalidInput):
        store.put(1, {"id": ""})
    assert store.get_storage_stats()["versions"] == 0


def test_errors_carry_kind_and_class_hierarchy(store):
    with pytest.raises(recstore.NotFound) as caught:
        store.retrieve("missing")
    assert caught.value.kind == "not_found" and "missing" in str(caught.value)
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, recstore.Error)
    store.put(1, {"id": "x"})
    with pytest.raises(recstore.NotFound):
        store.retrieve("x", 9)
    assert issubclass(recstore.HorizonError, recstore.InvalidInput)
    assert issubclass(recstore.InvalidInput, ValueError)
    assert issubclass(recstore.Deleted, recstore.NotFound) and issubclass(recstore.Pruned, recstore.NotFound)
    with pytest.raises(recstore.NotFound):
        store.retrieve_dataset("nope")


def test_horizon_error_before_compaction_horizon(store):
    first = store.put(1, {"id": "x"})
    for v in range(2, 5):
        store.put(v, {"id": "x"})
    store.cleanup(retention_days=None, max_versions=1, expire=False)
    with pytest.raises(recstore.HorizonError) as caught:
        store.retrieve("x", as_of=first.offset)
    assert caught.value.kind == "horizon"


def test_byte_items_keep_their_content_type(store):
    store.put(b"\x89PNG", {"id": "img", "content_type": "image/png", "type": "camera_frame"})
    assert store.retrieve("img") == b"\x89PNG"
    assert store.retrieve_metadata("img")["content_type"] == "image/png"
