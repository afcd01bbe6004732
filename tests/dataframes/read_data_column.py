"""Reads the `id` and `data` columns of a `recstore export --format parquet`
file with pyarrow and prints one JSON object: for each id, the `data` text as
pyarrow gave it, and that text parsed by Python's json module and written
again (Python reads and prints doubles exactly), so that
tests/cli_export_dataframes.rs can compare both with what was stored, bit for
bit. Usage: python3 read_data_column.py FILE"""

import json
import sys

import pyarrow.parquet

table = pyarrow.parquet.read_table(sys.argv[1], columns=["id", "data"])
out = {}
for row in table.to_pylist():
    if row["data"] is not None:
        out[row["id"]] = {"text": row["data"], "python": json.dumps(json.loads(row["data"]))}
print(json.dumps(out))
