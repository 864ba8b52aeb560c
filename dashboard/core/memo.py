"""Values derived once from an object the app keeps unchanged while it runs (its layer tables,
the extents table), looked up by that object's identity: frames and dicts cannot be hashed.

The object is held with its value, so its identity cannot be reused by another while the entry
lives; a handful of entries are kept (tests make many short-lived tables)."""
from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")
_HELD: dict[tuple[int, str], tuple[object, object]] = {}
LIMIT = 16


def derived(source: object, name: str, build: Callable[[object], T]) -> T:
    """``build(source)``, made once per ``source`` object and ``name``."""
    key = (id(source), name)
    held = _HELD.get(key)
    if held is not None and held[0] is source:
        return held[1]
    value = build(source)
    if len(_HELD) >= LIMIT:
        _HELD.clear()
    _HELD[key] = (source, value)
    return value
