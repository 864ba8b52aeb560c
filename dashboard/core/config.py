"""Runtime configuration, read from environment variables with safe defaults.

Every setting the app or the pipeline reads from the environment is defined here and nowhere else.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = ROOT / "data"
DEFAULT_CACHE_DIR = ROOT / "cache"
# The raw open data sits beside the repository in a full checkout of the project's workspace.
DEFAULT_RAW_DIR = ROOT.parent / "shared" / "data" / "raw"

# Map styles that draw without any network access. Street tiles (e.g. "carto-positron") need the
# network, so they are opt-in through BD_MAP_STYLE.
OFFLINE_MAP_STYLES = {"white-bg"}

# DuckDB's memory limit in each process (each gunicorn worker). Beyond it DuckDB evicts cached
# blocks of the session index (they come back from the OS page cache, shared by the workers)
# and spills to disk. 128MB costs the EV page nothing measurable at x1 usage; 64MB keeps a
# worker under 250 MB at x10 usage but makes uncached filter changes about a quarter slower
# at x1 (see PERFORMANCE.md).
DEFAULT_DUCKDB_MEMORY = "128MB"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)\s*$", re.IGNORECASE)


# Results of the EV page's callbacks kept per worker, keyed by the filter state (0: none).
DEFAULT_EV_CACHE = 32
# glibc malloc arenas per process (0: glibc's own default, eight per core).
DEFAULT_MALLOC_ARENAS = 2


def _entries(value: str | None, default: int = DEFAULT_EV_CACHE) -> int:
    try:
        return max(0, int(value)) if value not in (None, "") else default
    except ValueError:
        return default


def _memory(value: str | None) -> str:
    """A DuckDB memory size such as "192MB" or "1GiB"; the default for anything else."""
    return value.strip() if value and _MEMORY.match(value) else DEFAULT_DUCKDB_MEMORY

# dcc.Graph's plotly.js: the app's partial bundle (vendor/plotly, built by tools/plotly-bundle,
# only the trace types the pages draw) or, with BD_PLOTLY_BUNDLE=0, the full plotly.js of the
# plotly package.
PLOTLY_BUNDLE = ROOT / "vendor" / "plotly" / "plotly.min.js"

# The headless Chromium that prints ward profiles to PDF (and that the browser tests drive).
CHROMIUM = os.environ.get("BD_CHROMIUM") or "/usr/bin/chromium"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    data_dir: Path = DEFAULT_DATA_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    map_style: str = "white-bg"
    debug: bool = False
    log_level: str = "INFO"
    sim_seed: int = 20240101
    sim_scale: float = 1.0
    base_url: str = ""
    duckdb_memory: str = DEFAULT_DUCKDB_MEMORY
    ev_cache: int = DEFAULT_EV_CACHE
    malloc_arenas: int = DEFAULT_MALLOC_ARENAS
    plotly_bundle: bool = True
    hsts: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Config":
        env = os.environ if env is None else env
        try:
            scale = float(env.get("BD_SIM_SCALE", "1") or 1)
        except ValueError:
            scale = 1.0
        try:
            seed = int(env.get("BD_SIM_SEED", "20240101") or 20240101)
        except ValueError:
            seed = 20240101
        return cls(
            data_dir=Path(env.get("BD_DATA_DIR") or DEFAULT_DATA_DIR),
            cache_dir=Path(env.get("BD_CACHE_DIR") or DEFAULT_CACHE_DIR),
            map_style=env.get("BD_MAP_STYLE") or "white-bg",
            debug=_bool(env.get("BD_DEBUG")),
            log_level=(env.get("BD_LOG_LEVEL") or "INFO").upper(),
            sim_seed=seed,
            sim_scale=max(scale, 0.01),
            base_url=env.get("BD_BASE_URL", ""),
            duckdb_memory=_memory(env.get("BD_DUCKDB_MEMORY")),
            ev_cache=_entries(env.get("BD_EV_CACHE")),
            malloc_arenas=_entries(env.get("BD_MALLOC_ARENAS"), DEFAULT_MALLOC_ARENAS),
            plotly_bundle=_bool(env.get("BD_PLOTLY_BUNDLE"), default=True),
            hsts=_bool(env.get("BD_HSTS")),
        )
