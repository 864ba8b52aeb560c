"""Process-wide objects the pages share: the configuration, the data store and the geo assets.

Created lazily in the process that uses them, so that under gunicorn each worker opens its own
database connection after the fork.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from dashboard.core.config import Config

_lock = threading.Lock()
_config: Config | None = None
_geo = None
_store = None


def configure(config: Config) -> None:
    global _config, _store
    with _lock:
        _config = config
        _store = None
    known.cache_clear()
    tables.cache_clear()


def config() -> Config:
    global _config
    if _config is None:
        _config = Config.from_env()
    return _config


def set_geo(geo) -> None:
    global _geo
    _geo = geo


def geo():
    if _geo is None:
        from dashboard.core.geo import GeoAssets
        set_geo(GeoAssets(config().data_dir))
    return _geo


def store():
    """The data store of this process (opened on first use)."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                from dashboard.data.store import Store
                _store = Store(config())
    return _store


def health() -> str | None:
    """Why this process cannot serve a page (None when it can): a required data file missing,
    or the store unable to answer a trivial query. Cheap enough for a load balancer's probe."""
    from dashboard.data import schema
    missing = schema.missing_files(config().data_dir)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"data files missing: {', '.join(missing[:3])}{more}"
    return store().health()


@lru_cache(maxsize=1)
def known():
    """What URL parameters may name: codes, operators, indicators and the usage period."""
    from dashboard.domain import filters
    return filters.known_from_store(store())


@dataclass(frozen=True)
class Tables:
    """Small, read-only tables every page needs: layer attributes, catalogue, area extents."""
    layers: dict
    catalogue: object
    extents: object


@lru_cache(maxsize=1)
def tables() -> Tables:
    from dashboard.data import schema
    s = store()
    return Tables(layers={layer: s.layer_table(layer) for layer in schema.LAYERS},
                  catalogue=s.catalogue(), extents=s.extents())


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas for this process and the workers forked from it.

    glibc gives each new thread its own arena (up to eight per core), and a threaded worker
    then holds freed memory in several half-empty arenas: measured under gunicorn with four
    threads and the EV page's filter changes at ten times the usage, a worker's PSS fell from
    283 to 255 MB with two arenas. Call before threads start. Returns False where it does not
    apply (0, or not glibc)."""
    if arenas <= 0:
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_ARENA_MAX = -8
    return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
