"""recstore embedded in Python: an event-sourced, append-only log store for
versioned data items, with the old ``RecursiveDataStore`` API.

    import recstore
    with recstore.Store("data") as store:
        item_id = store.store({"temperature": 21.5}, {"type": "sensor_reading"})
        print(store.retrieve(item_id))

The native half (``recstore._recstore``, Rust) converts types and releases
the GIL; this package adds the ergonomics. See the README's Python section.
"""

from ._errors import (
    BrokenPipe,
    Corruption,
    Deleted,
    Error,
    HorizonError,
    InternalError,
    InvalidInput,
    IoError,
    Locked,
    MethodNotAllowed,
    NotFound,
    Pruned,
    TooLarge,
    Unauthorized,
    Unavailable,
    UsageError,
)
from ._migrate import migrate_recursive_store
from ._store import DatasetRef, ItemRef, Store, View

__all__ = [
    "BrokenPipe",
    "Corruption",
    "DatasetRef",
    "Deleted",
    "Error",
    "HorizonError",
    "InternalError",
    "InvalidInput",
    "IoError",
    "ItemRef",
    "Locked",
    "MethodNotAllowed",
    "NotFound",
    "Pruned",
    "Store",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "UsageError",
    "View",
    "migrate_recursive_store",
]
