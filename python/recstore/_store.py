"""``recstore.Store``: the old store's API over the native store.

Owns the Python-side ergonomics: time forms, ``ItemRef``/``DatasetRef``
objects, iterators, subscriptions. Everything that reads or writes goes
through ``recstore._recstore.Store``, which releases the GIL; this module
never touches files itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import _recstore
from ._errors import Unavailable
from ._time import When, query_text, when_text

#: Items fetched per native call while iterating a query.
_QUERY_BATCH_ITEMS = 1024
#: Events read per native call.
_EVENT_BATCH = 512
#: How long a subscriber sleeps (GIL released) before it checks for
#: ``close()`` and signals again.
_WAIT_SLICE_MS = 100


@dataclass(frozen=True)
class ItemRef:
    """Where a stored item version landed."""

    id: str
    version: int
    offset: int
    timestamp: str
    created: bool


@dataclass(frozen=True)
class DatasetRef:
    """Where a dataset version landed."""

    name: str
    version: int
    offset: int
    timestamp: str
    items: List[ItemRef]


def _item_ref(raw: dict) -> ItemRef:
    return ItemRef(raw["id"], raw["version"], raw["offset"], raw["timestamp"], raw["created"])


class _Reads:
    """The read calls, shared by ``Store`` and its as-of views."""

    _native: Any
    _as_of: Optional[str] = None

    def _when(self, as_of: Optional[When]) -> Optional[str]:
        return when_text(as_of) if as_of is not None else self._as_of

    def retrieve(self, id: str, version: Optional[int] = None, *, as_of: Optional[When] = None) -> Any:
        """The data of the latest version (or ``version``): JSON as Python
        objects, byte items as ``bytes``."""
        return self._native.retrieve(id, version, self._when(as_of))

    def retrieve_metadata(self, id: str, version: Optional[int] = None, *, as_of: Optional[When] = None) -> dict:
        """The metadata object ``recstore meta`` prints."""
        return self._native.retrieve_metadata(id, version, self._when(as_of))

    def retrieve_by_query(
        self, query: Optional[dict] = None, *, limit: Optional[int] = None, as_of: Optional[When] = None
    ) -> Iterator[Tuple[str, Any]]:
        """``(id, data)`` of the latest versions matching ``query`` (keys
        ``type``, ``source_id``, ``tag``, ``tags``, ``since``, ``until``), in
        the order of ``recstore query``. The matches are fixed when called."""
        when = self._when(as_of)
        hits = self._native.query_hits(query_text(query), limit, when)
        return _read_in_batches(self._native, hits, when)

    def retrieve_dataset(
        self, name: str, version: Optional[int] = None, *, as_of: Optional[When] = None
    ) -> Tuple[List[dict], Any]:
        """``(items, info)``: items as ``{"id", "version", "data", "metadata"}``."""
        return self._native.retrieve_dataset(name, version, self._when(as_of))

    def history(self, id: str, *, as_of: Optional[When] = None) -> List[dict]:
        """The item's puts and deletes, as ``recstore history`` prints them."""
        return self._native.history(id, self._when(as_of))

    def lineage(
        self, id: str, direction: str = "up", depth: Optional[int] = None, *, as_of: Optional[When] = None
    ) -> List[dict]:
        """Ancestors (``"up"``) or descendants (``"down"``), as ``recstore lineage`` prints them."""
        return self._native.lineage(id, direction, depth, self._when(as_of))

    def search(self, q: str, limit: int = 20, *, as_of: Optional[When] = None) -> List[dict]:
        """Full-text search; metadata objects, best first."""
        return self._native.search(q, limit, self._when(as_of))

    def get_storage_stats(self, *, as_of: Optional[When] = None) -> dict:
        """The object ``recstore stats --json`` prints."""
        return self._native.stats(self._when(as_of))


def _read_in_batches(native: Any, hits: list, when: Optional[str]) -> Iterator[Tuple[str, Any]]:
    for start in range(0, len(hits), _QUERY_BATCH_ITEMS):
        yield from native.read_many(hits[start : start + _QUERY_BATCH_ITEMS], when)


class View(_Reads):
    """The store as of one point in history: the read calls only."""

    def __init__(self, native: Any, as_of: str) -> None:
        self._native = native
        self._as_of = as_of

    def __repr__(self) -> str:
        return f"<recstore.View as_of={self._as_of}>"


class Store(_Reads):
    """An open store. Safe to share between threads; every call that does
    I/O or waits releases the GIL. One process may write a directory at a
    time (others get ``Locked``); ``read_only=True`` opens beside a writer.
    A ``Store`` is used only in the process that opened it: after a fork,
    open it again in the child."""

    def __init__(self, path: "os.PathLike[str] | str", *, sync: str = "always", read_only: bool = False) -> None:
        self.path = os.fspath(path)
        self.read_only = read_only
        self._native = _recstore.Store(self.path, sync, read_only)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError(
            f"a recstore.Store cannot be pickled or sent to another process: pass its path ({self.path!r}) "
            "and open it there, e.g. recstore.Store(path, read_only=True) in each DataLoader worker"
        )

    def __repr__(self) -> str:
        state = "closed" if self._native.closed else ("read-only" if self.read_only else "open")
        return f"<recstore.Store {self.path!r} {state}>"

    def close(self) -> None:
        """Flushes and unlocks the store; later calls raise ``Unavailable``."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._native.closed

    # Writes

    def store(self, data: Any, metadata: Optional[dict] = None) -> str:
        """Stores ``data`` and returns its id: ``metadata["id"]``, else the md5 of the content."""
        return self._native.put(data, metadata)["id"]

    def put(self, data: Any, metadata: Optional[dict] = None) -> ItemRef:
        """Stores ``data`` as the item's next version (``bytes`` makes a byte
        item; ``metadata["content_type"]`` names its type)."""
        return _item_ref(self._native.put(data, metadata))

    def put_many(self, items: List[dict]) -> List[ItemRef]:
        """Stores ``[{"data": ..., "metadata": {...}}, ...]`` as one atomic batch."""
        return [_item_ref(raw) for raw in self._native.put_many(items)]

    def store_dataset(self, name: str, items: List[dict], info: Optional[dict] = None) -> DatasetRef:
        """Stores the items and a dataset version pinning them, atomically."""
        raw = self._native.store_dataset(name, items, info)
        refs = [_item_ref(item) for item in raw["items"]]
        return DatasetRef(raw["name"], raw["version"], raw["offset"], raw["timestamp"], refs)

    def delete(self, id: str) -> int:
        """Deletes the item; returns the tombstone's offset."""
        return self._native.delete(id)

    def at(self, as_of: When) -> View:
        """A read-only view of the store as of ``as_of``."""
        text = when_text(as_of)
        self._native.stats(text)  # refuses a bad or pre-horizon as_of now, not at first read
        return View(self._native, text)

    def cleanup(
        self,
        retention_days: Optional[int] = 30,
        max_versions: Optional[int] = 5,
        *,
        expire: bool = True,
        purge: bool = False,
        dry_run: bool = False,
    ) -> dict:
        """Compaction: keeps ``max_versions`` per item and ``retention_days``
        of history; with ``expire`` (the old store's cleanup) also drops items
        whose latest version is older. Returns the compaction report."""
        return self._native.cleanup(retention_days, max_versions, expire, purge, dry_run)

    def verify(self) -> dict:
        """Checks every frame; the object ``recstore verify --json`` prints."""
        return self._native.verify()

    def restore(self, as_of: When, into: "os.PathLike[str] | str") -> dict:
        """Builds a new store in ``into`` equal to this one as of ``as_of``."""
        return self._native.restore(when_text(as_of), os.fspath(into))

    # Streaming

    def events(self, from_offset: int = 0) -> Iterator[dict]:
        """The log's events from ``from_offset`` to the current end."""
        end = self._native.stats(None)["next_offset"]
        next_offset = from_offset
        while next_offset < end:
            batch = self._native.events(next_offset, _EVENT_BATCH)
            if not batch:
                return
            for event in batch:
                if event["offset"] >= end:
                    return
                yield event
            next_offset = batch[-1]["offset"] + 1

    def subscribe(self, from_offset: int = 0, *, group: Optional[str] = None) -> Iterator[dict]:
        """Every event from ``from_offset`` (or the group's committed offset),
        then new ones as they are written. Blocks (GIL released) while
        waiting; ends when the store is closed. Commit progress with
        ``commit(group, event["offset"] + 1)``."""
        if group is not None:
            committed = self._native.consumer_offset(group)
            from_offset = committed if committed is not None else 0
        return _follow(self._native, from_offset, group)

    def commit(self, group: str, next_offset: int) -> None:
        """Records that ``group`` has handled every event before ``next_offset``."""
        self._native.commit(group, next_offset)

    def delete_consumer(self, group: str) -> int:
        """Deletes ``group``: it loses its committed offset, and a later
        ``subscribe(group=...)`` starts from 0 as for a new group. Returns the
        offset of the record that says so; raises ``NotFound`` for a group
        with no committed offset (never committed, or deleted already)."""
        return self._native.delete_consumer(group)

    # Dataframes (recstore._frames)

    def export_to_arrow(self, query: Optional[dict] = None, *, as_of: Optional[When] = None, all_versions: bool = False):
        """The items as a ``pyarrow.Table`` with the columns of ``recstore export --format parquet``."""
        from ._frames import export_to_arrow

        return export_to_arrow(self, query, as_of=as_of, all_versions=all_versions)

    def export_to_dataframe(
        self,
        query: Optional[dict] = None,
        *,
        as_of: Optional[When] = None,
        all_versions: bool = False,
        engine: str = "pandas",
    ):
        """``export_to_arrow`` as a pandas (or ``engine="polars"``) DataFrame."""
        from ._frames import export_to_dataframe

        return export_to_dataframe(self, query, as_of=as_of, all_versions=all_versions, engine=engine)

    def import_arrow(self, table: Any, **columns: Any) -> List[ItemRef]:
        """Each row an item: see ``recstore._frames.import_arrow``."""
        from ._frames import import_arrow

        return import_arrow(self, table, **columns)

    def import_dataframe(self, df: Any, **columns: Any) -> List[ItemRef]:
        """``import_arrow`` of a pandas or polars DataFrame."""
        from ._frames import import_dataframe

        return import_dataframe(self, df, **columns)


def _follow(native: Any, next_offset: int, group: Optional[str]) -> Iterator[dict]:
    while True:
        try:
            batch = native.events(next_offset, _EVENT_BATCH)
        except Unavailable:
            if native.closed:
                return
            raise
        for event in batch:
            # A group's own commits are bookkeeping, not events for it.
            if group is not None and event["kind"] == "consumer_commit" and event.get("group") == group:
                continue
            yield event
        if batch:
            next_offset = batch[-1]["offset"] + 1
            continue
        try:
            native.wait(next_offset, _WAIT_SLICE_MS)
        except Unavailable:
            if native.closed:
                return
            raise
