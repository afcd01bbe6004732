"""The time forms ``as_of``, ``since`` and ``until`` accept.

An ``int`` offset, an ``"@N"`` string, an RFC 3339 string or a
timezone-aware ``datetime``; each becomes the string the library parses.
Never touches the store.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional, Union

When = Union[int, str, _dt.datetime]


def when_text(when: Optional[When], name: str = "as_of") -> Optional[str]:
    """``when`` as ``"@N"`` or RFC 3339 text; None stays None."""
    if when is None:
        return None
    if isinstance(when, bool):
        raise TypeError(f"{name} is a bool: give an offset, '@N', an RFC 3339 time or a datetime")
    if isinstance(when, int):
        if when < 0:
            raise ValueError(f"{name}={when}: an offset is not negative")
        return f"@{when}"
    if isinstance(when, str):
        return when
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"{name}={when!r} has no time zone: give an aware datetime (e.g. tzinfo=timezone.utc)")
        return when.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    raise TypeError(f"{name} is a {type(when).__name__}: give an offset, '@N', an RFC 3339 time or a datetime")


def query_text(query: Optional[dict]) -> Optional[dict]:
    """A query dict with ``since``/``until`` turned into text."""
    if query is None:
        return None
    if not isinstance(query, dict):
        raise TypeError(f"query is a {type(query).__name__}: give a dict like {{'type': 'x', 'tag': 'y'}}")
    out = dict(query)
    for key in ("since", "until"):
        if key in out:
            out[key] = when_text(out[key], key)
    return out
