"""The exception classes: one per ``recstore.ErrorKind``.

Owns the class hierarchy only; the native module picks the class for each
library error (``python/src/errors.rs``) and never defines classes itself.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every recstore error. ``kind`` is the library's machine name
    (``"not_found"``, ``"locked"``, ...), as in the CLI's and the server's
    JSON errors."""

    def __init__(self, message: str, kind: str = "internal") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def __str__(self) -> str:
        return self.message


class NotFound(Error, KeyError):
    """No such item, version, dataset or consumer group."""


class Deleted(NotFound):
    """The item's latest event is a delete."""


class Pruned(NotFound):
    """Compaction dropped the data asked for; its metadata remains."""


class InvalidInput(Error, ValueError):
    """The input was refused; nothing was written."""


class HorizonError(InvalidInput):
    """An as-of read before the compaction horizon."""


class TooLarge(InvalidInput):
    """Input over a size limit; nothing was written."""


class UsageError(InvalidInput):
    """A malformed command (the CLI's kind; kept for exhaustiveness)."""


class Corruption(Error):
    """Stored bytes failed their checks."""


class Locked(Error):
    """Another process holds the store's write lock (the message names its pid)."""


class Unavailable(Error):
    """Writes are refused (read-only store, earlier failure), or the Store
    is closed or was opened by another process (fork)."""


class IoError(Error, OSError):
    """The operating system failed a call."""


class Unauthorized(Error):
    """The server's kind for a missing token (never raised in-process)."""


class MethodNotAllowed(Error):
    """The server's kind for a wrong method (never raised in-process)."""


class BrokenPipe(Error):
    """The CLI's kind for a closed stdout (never raised in-process)."""


class InternalError(Error):
    """A bug in recstore."""
