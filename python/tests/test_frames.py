"""export_to_arrow / export_to_dataframe (pandas and polars) against what
retrieve gives, and import_dataframe / import_arrow round trips."""

import json

import pandas
import polars
import pyarrow
import pytest

import recstore

COLUMNS = ["id", "version", "offset", "timestamp", "type", "source_id", "tags", "parents", "metadata", "data", "data_bytes"]


@pytest.fixture
def filled(store):
    for i in range(30):
        store.put({"n": i, "f": i / 7, "s": f"ü{i}"}, {"id": f"i{i:02}", "type": "even" if i % 2 == 0 else "odd", "tags": ["t"]})
    store.put({"n": 0, "f": 0.5}, {"id": "i00", "type": "even", "tags": ["t"]})
    store.put(b"\x00raw", {"id": "blob", "content_type": "image/png"})
    return store


def test_export_to_arrow_has_the_parquet_export_columns(filled):
    table = filled.export_to_arrow()
    assert isinstance(table, pyarrow.Table)
    assert table.column_names == COLUMNS
    assert table.num_rows == 31
    assert filled.export_to_arrow({"type": "odd"}).num_rows == 15
    assert filled.export_to_arrow(all_versions=True).num_rows == 32
    assert filled.export_to_arrow(as_of=0).num_rows == 1


def test_export_to_dataframe_equals_retrieve_in_pandas_and_polars(filled):
    frame = filled.export_to_dataframe()
    assert isinstance(frame, pandas.DataFrame)
    for row in frame.itertuples():
        expected = filled.retrieve(row.id)
        # pandas shows a null string as None or NaN, depending on its version.
        got = json.loads(row.data) if isinstance(row.data, str) else row.data_bytes
        assert got == expected, row.id
        assert json.loads(row.metadata) == filled.retrieve_metadata(row.id)
    wide = filled.export_to_dataframe(engine="polars")
    assert isinstance(wide, polars.DataFrame)
    assert wide["id"].to_list() == frame["id"].to_list()
    assert wide["data"].to_list() == [d if isinstance(d, str) else None for d in frame["data"].to_list()]
    with pytest.raises(recstore.InvalidInput):
        filled.export_to_dataframe(engine="spark")


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_import_dataframe_of_an_export_round_trips(filled, tmp_path, engine):
    frame = filled.export_to_dataframe(engine=engine)
    with recstore.Store(tmp_path / "copy") as copy:
        refs = copy.import_dataframe(frame)
        assert len(refs) == 31
        for item_id in frame["id"].to_list():
            assert copy.retrieve(item_id) == filled.retrieve(item_id)
            got, want = copy.retrieve_metadata(item_id), filled.retrieve_metadata(item_id)
            for key in ("type", "tags", "source_id", "parents", "content_type", "md5"):
                assert got[key] == want[key], (item_id, key)


def test_import_arrow_of_a_plain_table_uses_named_columns(store):
    table = pyarrow.table({"key": ["a", "b"], "kind": ["x", "y"], "value": [1.5, 2.5], "label": ["p", "q"]})
    refs = store.import_arrow(table, id_column="key", type_column="kind")
    assert [r.id for r in refs] == ["a", "b"]
    assert store.retrieve("a") == {"value": 1.5, "label": "p"}
    assert store.retrieve_metadata("b")["type"] == "y"
