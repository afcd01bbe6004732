"""Reads a `recstore export --format parquet` file with pandas, polars and
DuckDB, and prints what each one sees as one JSON object, so that
tests/cli_export_dataframes.rs can check that all three read it as a normal
table. Usage: python3 read_export.py FILE"""

import json
import sys

import duckdb
import pandas
import polars

COLUMNS = ["id", "version", "offset", "type", "tags", "parents", "data", "data_bytes"]


def rows_of(records):
    """Plain JSON rows, in offset order, with bytes as lists of integers."""
    rows = []
    for record in sorted(records, key=lambda r: r["offset"]):
        row = {}
        for column in COLUMNS:
            value = record[column]
            if isinstance(value, (bytes, bytearray)):
                value = list(value)
            elif value is not None and not isinstance(value, (str, int)):
                value = [str(v) for v in value]
            row[column] = value
        rows.append(row)
    return rows


def pandas_view(path):
    frame = pandas.read_parquet(path)
    records = [
        {c: (None if (not isinstance(v, (list, bytes)) and not hasattr(v, "__len__") and pandas.isna(v)) else v)
         for c, v in row.items()}
        for row in frame.to_dict("records")
    ]
    for record in records:
        for column in ("version", "offset"):
            record[column] = int(record[column])
        for column in ("tags", "parents"):
            record[column] = list(record[column])
        for column in ("type", "data"):
            if not isinstance(record[column], str):
                record[column] = None
    return {"rows": rows_of(records), "timestamp": str(frame["timestamp"].dtype)}


def polars_view(path):
    frame = polars.read_parquet(path)
    return {"rows": rows_of(frame.to_dicts()), "timestamp": str(frame.schema["timestamp"])}


def duckdb_view(path):
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
    records = [dict(zip(relation.columns, values)) for values in relation.fetchall()]
    types = dict(zip(relation.columns, [str(t) for t in relation.types]))
    return {"rows": rows_of(records), "timestamp": types["timestamp"]}


if __name__ == "__main__":
    path = sys.argv[1]
    print(json.dumps({"pandas": pandas_view(path), "polars": polars_view(path), "duckdb": duckdb_view(path)}))
