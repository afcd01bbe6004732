"""``migrate_recursive_store``: a directory written by the old Python module
(``RecursiveDataStore``) appended to a recstore ``Store``.

Owns reading the old layout, leniently: what cannot be read is reported in
the result's ``skipped`` list with the path and why, never guessed. Every
payload is read before anything is written, so a refusal (a pickled payload
without ``allow_pickle=True``) writes nothing. Versions and times are kept
(``put_preserved``): the old store kept only the last five versions, so
an item's history may start above 1, and the gaps stay gaps.

The layout, as the old module's documentation describes it:
``data/<id[:2]>/<id>/v<N>.data`` (and ``latest.data``), gzip-compressed
pickles (or JSON) of ``{"id", "data", "metadata", "version", "timestamp"}``;
``data/<id[:2]>/<id>/metadata.json``; datasets under
``data/datasets/<name>/`` as JSON naming their items and info;
``indices/`` and ``metadata/storage_stats.json`` are derived and ignored.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import os
import pathlib
import pickle
import re
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from ._errors import InvalidInput

if TYPE_CHECKING:
    from ._store import Store

#: Versions written per ``put_preserved`` call.
_BATCH_VERSIONS = 1000
_VERSION_FILE = re.compile(r"^v(\d+)\.data$")
#: Old-store record fields that are not caller metadata.
_COMPUTED = ("version", "timestamp", "created", "updated", "current_version", "size", "versions", "checksum")


def migrate_recursive_store(old_path: "os.PathLike[str] | str", store: "Store", *, allow_pickle: bool = False) -> dict:
    """Appends every item version and dataset of the old store at
    ``old_path`` to ``store``, oldest first, keeping ids, versions, times,
    types, tags and parents. Returns ``{"items", "versions", "datasets",
    "skipped": [{"path", "why"}]}``. Pickled payloads run code when read,
    so they are refused (nothing is written) unless ``allow_pickle=True``."""
    root = pathlib.Path(old_path)
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise InvalidInput(f"{data_dir} is not a directory: not an old recstore layout", "invalid_input")
    skipped: List[Dict[str, str]] = []
    versions: List[Tuple[str, str, int, Any, dict]] = []
    for item_dir in sorted(p for p in data_dir.glob("*/*") if p.is_dir() and p.parent.name != "datasets"):
        versions.extend(_item_versions(item_dir, allow_pickle, skipped))
    versions.sort(key=lambda v: (v[0], v[1], v[2]))
    for start in range(0, len(versions), _BATCH_VERSIONS):
        batch = [(data, meta, version, when) for when, _, version, data, meta in versions[start : start + _BATCH_VERSIONS]]
        store._native.put_preserved(batch)
    datasets = _migrate_datasets(data_dir / "datasets", store, skipped)
    return {"items": len({v[1] for v in versions}), "versions": len(versions), "datasets": datasets, "skipped": skipped}


def _item_versions(item_dir: pathlib.Path, allow_pickle: bool, skipped: list) -> List[Tuple[str, str, int, Any, dict]]:
    item_meta: dict = {}
    meta_path = item_dir / "metadata.json"
    if meta_path.is_file():
        try:
            item_meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            skipped.append({"path": str(meta_path), "why": f"unreadable metadata.json ({error}); used the records' own"})
    files = sorted((int(m.group(1)), p) for p in item_dir.iterdir() if (m := _VERSION_FILE.match(p.name)))
    if not files and (item_dir / "latest.data").is_file():
        files = [(0, item_dir / "latest.data")]
    out = []
    for number, path in files:
        record = _load(path, allow_pickle, skipped)
        if record is None:
            continue
        item_id = str(record.get("id") or item_meta.get("id") or item_dir.name)
        version = int(record.get("version") or number or item_meta.get("current_version") or 1)
        when = _utc_text(record.get("timestamp") or item_meta.get("updated") or item_meta.get("created"))
        if when is None:
            skipped.append({"path": str(path), "why": "no timestamp in the record or metadata.json"})
            continue
        out.append((when, item_id, version, record.get("data"), _metadata(item_id, record, item_meta)))
    return out


def _load(path: pathlib.Path, allow_pickle: bool, skipped: list) -> Any:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        skipped.append({"path": str(path), "why": f"unreadable ({error})"})
        return None
    if raw[:1] == b"\x80":  # the pickle protocol 2+ opcode
        if not allow_pickle:
            raise InvalidInput(
                f"{path} is a pickle, and unpickling runs code: pass allow_pickle=True if you trust "
                "this directory; nothing was written",
                "invalid_input",
            )
        try:
            return pickle.loads(raw)  # noqa: S301 - the caller allowed it
        except Exception as error:  # noqa: BLE001 - any unpickling failure is reported
            skipped.append({"path": str(path), "why": f"unpickling failed ({error})"})
            return None
    try:
        record = json.loads(raw.decode("utf-8"))
    except ValueError as error:
        skipped.append({"path": str(path), "why": f"neither JSON nor a pickle ({error})"})
        return None
    if not isinstance(record, dict) or "data" not in record:
        skipped.append({"path": str(path), "why": "not a record with data"})
        return None
    return record


def _metadata(item_id: str, record: dict, item_meta: dict) -> dict:
    metadata = dict(record.get("metadata") or {})
    for key in ("type", "source_id", "tags", "parents"):
        if key not in metadata and item_meta.get(key) is not None:
            metadata[key] = item_meta[key]
    for key in _COMPUTED:
        metadata.pop(key, None)
    metadata["id"] = item_id
    for key in ("type", "source_id"):
        if metadata.get(key) is None:
            metadata.pop(key, None)
    return metadata


def _utc_text(value: Any) -> "str | None":
    """The old store's ISO times carry no zone; they were UTC."""
    if not isinstance(value, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _migrate_datasets(datasets_dir: pathlib.Path, store: "Store", skipped: list) -> int:
    if not datasets_dir.is_dir():
        return 0
    count = 0
    for dataset_dir in sorted(p for p in datasets_dir.iterdir() if p.is_dir()):
        members, info = [], {}
        for path in sorted(dataset_dir.glob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                skipped.append({"path": str(path), "why": f"unreadable ({error})"})
                continue
            if isinstance(document, dict):
                members.extend(document.get("items") or document.get("item_ids") or [])
                info = document.get("info", info) if isinstance(document.get("info", info), dict) else info
        items = []
        for member in members:
            item_id = member.get("id") if isinstance(member, dict) else member
            try:
                items.append({"data": store.retrieve(item_id), "metadata": store.retrieve_metadata(item_id)})
            except Exception as error:  # noqa: BLE001 - reported, the dataset goes on
                skipped.append({"path": str(dataset_dir), "why": f"member {item_id!r} not migrated ({error})"})
        if items:
            store.store_dataset(dataset_dir.name, [_member(i) for i in items], info)
            count += 1
        else:
            skipped.append({"path": str(dataset_dir), "why": "no readable members"})
    return count


def _member(item: dict) -> dict:
    """A dataset member stored again as it is now: an identical put, so the
    dataset pins the latest migrated version and writes no new one."""
    meta = {k: v for k, v in item["metadata"].items() if k not in ("version", "offset", "timestamp", "size", "md5")}
    if meta.get("content_type") == "application/json":
        meta.pop("content_type")
    for key in ("type", "source_id"):
        if meta.get(key) is None:
            meta.pop(key, None)
    return {"data": item["data"], "metadata": meta}
