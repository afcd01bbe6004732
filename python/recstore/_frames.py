"""Dataframes: ``export_to_arrow``/``export_to_dataframe`` and their
reverse, ``import_arrow``/``import_dataframe``.

Export columns are built natively (``recstore::export``, the same code as
``recstore export --format parquet``) and handed to pyarrow through the
Arrow C stream interface; this module only picks the engine. Imports turn
rows into ``put_many`` batches. Never touches files.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, List, Optional

from ._errors import InvalidInput
from ._time import When, query_text, when_text

if TYPE_CHECKING:
    from ._store import ItemRef, Store

#: Rows stored per atomic batch on import.
IMPORT_BATCH_ROWS = 1000
#: Metadata fields the store computes; an exported row's values are dropped on import.
_COMPUTED = ("version", "offset", "timestamp", "size", "md5", "content_type")
#: The export's own columns besides data and metadata.
_EXPORT_COLUMNS = ("id", "version", "offset", "timestamp", "type", "source_id", "tags", "parents", "metadata", "data", "data_bytes")


def export_to_arrow(store: "Store", query: Optional[dict] = None, *, as_of: Optional[When] = None, all_versions: bool = False):
    """A ``pyarrow.Table`` with the columns of ``recstore export --format parquet``."""
    reader = store._native.export_arrow(query_text(query), when_text(as_of), all_versions)
    return reader.read_all()


def export_to_dataframe(
    store: "Store",
    query: Optional[dict] = None,
    *,
    as_of: Optional[When] = None,
    all_versions: bool = False,
    engine: str = "pandas",
):
    """The export as a pandas DataFrame, or a polars one with ``engine="polars"``."""
    if engine not in ("pandas", "polars"):
        raise InvalidInput(f'engine={engine!r}: give "pandas" or "polars"', "invalid_input")
    table = export_to_arrow(store, query, as_of=as_of, all_versions=all_versions)
    if engine == "polars":
        import polars

        return polars.from_arrow(table)
    return table.to_pandas()


def import_arrow(
    store: "Store",
    table: Any,
    *,
    id_column: Optional[str] = None,
    type_column: Optional[str] = None,
    tags_column: Optional[str] = None,
    source_id_column: Optional[str] = None,
    parents_column: Optional[str] = None,
) -> List["ItemRef"]:
    """Each row becomes an item, in atomic batches of ``IMPORT_BATCH_ROWS``.

    A table with the export's columns (``data``/``data_bytes`` and
    ``metadata``) imports as it was exported. Any other table: the named
    columns give the id, type, tags, source and parents, and the remaining
    columns form the item's data (a dict)."""
    import pyarrow

    table = pyarrow.table(table) if not isinstance(table, pyarrow.Table) else table
    rows = table.to_pylist()
    exported = "metadata" in table.column_names and ("data" in table.column_names or "data_bytes" in table.column_names)
    named = {"id": id_column, "type": type_column, "tags": tags_column, "source_id": source_id_column, "parents": parents_column}
    if exported and not any(named.values()):
        items = [_exported_item(row, i) for i, row in enumerate(rows)]
    else:
        items = [_plain_item(row, named) for row in rows]
    refs: List["ItemRef"] = []
    for start in range(0, len(items), IMPORT_BATCH_ROWS):
        refs.extend(store.put_many(items[start : start + IMPORT_BATCH_ROWS]))
    return refs


def import_dataframe(store: "Store", df: Any, **columns: Any) -> List["ItemRef"]:
    """``import_arrow`` of a pandas or polars DataFrame."""
    import pyarrow

    if hasattr(df, "to_arrow"):  # polars
        table = df.to_arrow()
    else:
        table = pyarrow.Table.from_pandas(df, preserve_index=False)
    return import_arrow(store, table, **columns)


def _exported_item(row: dict, index: int) -> dict:
    try:
        metadata = json.loads(row["metadata"])
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"row {index}: the metadata column is not a JSON object: {error}", "invalid_input") from None
    content_type = metadata.get("content_type")
    for key in _COMPUTED:
        metadata.pop(key, None)
    if row.get("data") is not None:
        data = json.loads(row["data"])
    elif row.get("data_bytes") is not None:
        data = row["data_bytes"]
        if content_type:
            metadata["content_type"] = content_type
    else:
        raise InvalidInput(f"row {index}: neither data nor data_bytes is set", "invalid_input")
    for key in ("type", "source_id"):
        if metadata.get(key) is None:
            metadata.pop(key, None)
    return {"data": data, "metadata": metadata}


def _plain_item(row: dict, named: dict) -> dict:
    metadata = {}
    for key, column in named.items():
        if column is not None:
            value = row.pop(column)
            if value is not None:
                metadata[key] = value
    return {"data": row, "metadata": metadata}
