"""``recstore export --all-versions`` then ``recstore import --preserve``
(the built binary, real processes) into an empty store, read back through
the Python package: ids, versions, timestamps and parents are the same."""

import os
import pathlib
import shutil
import subprocess

import pytest

import recstore

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("RECSTORE_BIN") or shutil.which("recstore") or str(ROOT / "target" / "debug" / "recstore")

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason="no built recstore binary (cargo build)")


def cli(data_dir, *args):
    return subprocess.run([BINARY, "--data", str(data_dir), *args], check=True, capture_output=True, text=True).stdout


def test_export_all_versions_then_import_preserve_round_trips(tmp_path):
    source = tmp_path / "source"
    with recstore.Store(source) as store:
        for v in range(4):
            store.put({"v": v, "f": v / 3}, {"id": "raw", "type": "reading", "tags": ["t"]})
        store.put({"clean": True}, {"id": "clean", "parents": ["raw@4"]})
        store.put(b"\x00bytes", {"id": "blob", "content_type": "image/png"})
    exported = tmp_path / "all.jsonl"
    cli(source, "export", "--all-versions", "--out", str(exported))
    copy = tmp_path / "copy"
    cli(copy, "import", "--preserve", str(exported))
    with recstore.Store(source, read_only=True) as before, recstore.Store(copy, read_only=True) as after:
        for item_id in ("raw", "clean", "blob"):
            old, new = before.history(item_id), after.history(item_id)
            assert [(e["version"], e["timestamp"]) for e in new] == [(e["version"], e["timestamp"]) for e in old]
            for entry in old:
                assert after.retrieve(item_id, entry["version"]) == before.retrieve(item_id, entry["version"])
            assert after.retrieve_metadata(item_id)["parents"] == before.retrieve_metadata(item_id)["parents"]
