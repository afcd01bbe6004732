"""A PyTorch-DataLoader-style dataset for the worker tests: each worker
process opens the store read-only on first use (never the parent's Store).
Importable by name, so spawned workers can unpickle it."""

import os

import recstore


class StoreDataset:
    """Items by index, read through a per-process read-only Store."""

    def __init__(self, path, ids):
        self.path = str(path)
        self.ids = list(ids)
        self._store = None
        self._pid = None

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        if self._store is None or self._pid != os.getpid():
            self._store = recstore.Store(self.path, read_only=True)
            self._pid = os.getpid()
        return self.ids[index], self._store.retrieve(self.ids[index])


def read_with_parent_store(store, item_id):
    """What a careless worker does: use the Store the parent opened."""
    try:
        store.retrieve(item_id)
    except recstore.Unavailable as error:
        return f"{type(error).__name__}: {error}"
    return "no error"


def open_for_writing(path):
    """A second writer process: returns the error it got."""
    try:
        recstore.Store(path)
    except recstore.Locked as error:
        return f"{type(error).__name__}: {error}"
    return "opened"
