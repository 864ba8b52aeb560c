"""The one way the app reads data: parameterised DuckDB queries over the processed files.

A ``Store`` opens one in-memory DuckDB database per process, lazily (under gunicorn: in each
worker, after the fork), and serves every call through its own cursor, so Dash callbacks may call
it from several threads. It holds:

- ``chargepoints`` (``data/chargepoints.parquet``) with two helper columns: ``k``, the device's
  integer key in the session index, and ``avail_from``, the start of the first full day after
  installation (NULL when the installation date is unknown: available throughout);
- ``indicators`` (``data/indicators.parquet``) and ``catalogue`` (``data/catalogue.csv``), as
  views of a small read-only DuckDB file built from them once (``ensure_tables``, in the cache
  folder) rather than as tables copied into every worker's memory;
- the simulated sessions, through a read-only session index (``index.duckdb``, attached as
  ``sim``) built once next to the Parquet cache of ``dashboard.data.usage.ensure_sessions``.
  ``sim.device_days`` and ``sim.device_months`` hold sessions, kWh, plug-in hours and estimated
  charging hours summed per device and day or month, sorted by time so that date filters skip
  most of the data; ``sim.sessions`` keeps one compact row per session (device key, start day,
  hour of the week, kWh) and ``sim.day_hours`` sums them per day and hour of the week over all
  devices; ``sim.device_month_hours`` sums sessions and kWh per device, month and hour of the
  week. Monthly figures read whole months from ``device_months`` and the partial months at a
  period's edges from ``device_days``; daily and weekly series read ``device_days``; the weekday
  x hour heatmap reads ``day_hours`` for all of London and, for a selection,
  ``device_month_hours`` for whole months and session rows only for the partial months at the
  period's edges (a quarter of the rows of ``sessions`` at x10 usage, a tenth of the time).

For periods of whole months (all the pages offer) totals, monthly series and heat-maps above
ward level skip SQL: ``monthly()`` holds the monthly rollups as arrays (``dashboard.data.monthly``),
read once per process, and the SQL here stays the definition they are tested against.

Usage figures are attributed to the day a session starts. Periods are clipped to the simulated
period (see ``coverage``). Every value coming from a user is passed as a query parameter; the
few SQL fragments chosen by the caller (ward layer, grouping dimension, frequency, layer) are
looked up in fixed tables and anything else raises ``ValueError``.
"""
from __future__ import annotations

import atexit
import calendar
import contextlib
import datetime as dt
import gc
import hashlib
import json
import logging
import os
import re
import threading
import weakref
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dashboard.data import schema
from dashboard.data import usage
from dashboard.data.monthly import MonthlyUsage
from dashboard.core.config import DEFAULT_DUCKDB_MEMORY

log = logging.getLogger(__name__)

INDEX_NAME = "index.duckdb"
INDEX_VERSION = "6"

WARD_COLUMNS = {"ward2022": "ward2022_code", "ward2011": "ward2011_code"}
BY_DIMENSIONS = ("speed_class", "operator", "borough_code", "ward2022_code", "ward2011_code",
                 "device_id")
FREQUENCIES = ("day", "week", "month")
INDICATOR_LAYERS = (*schema.LAYERS, "london")
_GSS_CODE = re.compile(r"^[A-Z][0-9]{8}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")

# Totals returned for any selection of sessions; see dashboard.domain.metrics for the ratios built on them.
USAGE_COLUMNS = (
    "devices",               # devices installed before the period ends
    "devices_rated",         # ... of which with a known rated kW
    "sessions",
    "kwh",
    "plugged_hours",
    "kwh_rated",             # kWh delivered by devices with a known rating
    "plugged_hours_rated",   # plug-in hours at devices with a known rating
    "charging_hours_est",    # sum over those sessions of min(plug-in hours, kWh / rated kW)
    "available_device_hours",  # devices x hours in the period, from installation
    "rated_kwh_capacity",    # sum of rated kW x available hours, devices with a known rating
)


# Totals over the devices ``d`` joined to their per-device usage ``per`` (see Store._usage_by).
_TOTALS = """
    count(*) FILTER (WHERE avail_hours > 0) AS devices,
    count(*) FILTER (WHERE avail_hours > 0 AND max_kw > 0) AS devices_rated,
    coalesce(sum(per.n), 0)::BIGINT AS sessions,
    coalesce(sum(per.kwh), 0)::DOUBLE AS kwh,
    coalesce(sum(per.hours), 0)::DOUBLE AS plugged_hours,
    coalesce(sum(per.kwh) FILTER (WHERE max_kw > 0), 0)::DOUBLE AS kwh_rated,
    coalesce(sum(per.hours) FILTER (WHERE max_kw > 0), 0)::DOUBLE AS plugged_hours_rated,
    coalesce(sum(per.charging_hours), 0)::DOUBLE AS charging_hours_est,
    coalesce(sum(avail_hours), 0)::DOUBLE AS available_device_hours,
    coalesce(sum(max_kw * avail_hours) FILTER (WHERE max_kw > 0), 0)::DOUBLE AS rated_kwh_capacity
"""


def _speed_filter(f: "UsageFilter") -> tuple[str, ...]:
    """The speed classes to filter on: none when every class is selected."""
    return () if set(f.speeds) == set(schema.SPEED_CLASSES) else f.speeds


def _device_choices(f: "UsageFilter") -> dict[str, tuple[str, ...]]:
    """The filter's selections on ``schema.DEVICE_FILTERS`` columns (column -> values), the
    empty ones left out."""
    return {column: getattr(f, field) for field, column, _ in schema.DEVICE_FILTERS
            if getattr(f, field)}


def _every_device(f: "UsageFilter") -> bool:
    """True when the filter selects devices by nothing (all of London, every speed and operator)."""
    return not (f.borough or f.ward or _speed_filter(f) or f.operators or _device_choices(f))


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _month_split(period: tuple[dt.date, dt.date]) -> dict[str, dt.date]:
    """A period as its whole months (``m0``..``m1``, first days of months) and the days before
    (``h0``..``h1``) and after (``e0``..``e1``) them; a part that is empty has its start after
    its end, so ``BETWEEN`` matches nothing."""
    first, last = period
    head_end = _month_end(first) if first.day != 1 else first - dt.timedelta(days=1)
    tail_start = (last.replace(day=1) if last != _month_end(last)
                  else last + dt.timedelta(days=1))
    whole = (first if first.day == 1 else head_end + dt.timedelta(days=1),
             tail_start - dt.timedelta(days=1))
    head, tail = (first, min(head_end, last)), (max(tail_start, first), last)
    if whole[0] > whole[1]:  # no whole month: the period lies inside one month
        head, tail = (first, last), (last, first)
    return dict(m0=whole[0], m1=whole[1], h0=head[0], h1=head[1], e0=tail[0], e1=tail[1])


# The filter --------------------------------------------------------------------------------------
def _parse_day(value: Any, end: bool) -> dt.date | None:
    """A date from a date, a timestamp, "YYYY-MM-DD" or "YYYY-MM" (first or last day of month)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _MONTH.match(text):
            year, month = int(text[:4]), int(text[5:])
            if not 1 <= month <= 12:
                raise ValueError(f"not a month: {value!r}")
            day = calendar.monthrange(year, month)[1] if end else 1
            return dt.date(year, month, day)
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a date or YYYY-MM month: {value!r}") from None
    raise ValueError(f"not a date: {value!r}")


def _code(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _GSS_CODE.match(value):
        raise ValueError(f"{what} must be a GSS code such as E09000001, not {value!r}")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class UsageFilter:
    """What to count: a place, a period and kinds of device. Hashable, validated on creation.

    - ``borough``: borough GSS code (E09...); ``ward``: ward GSS code (E05...) in ``ward_layer``
      ("ward2022" or "ward2011"). None means all of London.
    - ``date_from`` / ``date_to``: inclusive; "YYYY-MM" (whole months), "YYYY-MM-DD", a date or
      a datetime. None means the start / end of the simulated period. Stored as ``date``.
    - ``speeds``: subset of ``schema.SPEED_CLASSES``; ``operators``: operator names as in
      ``chargepoints.operator``. Empty means all.
    - ``statuses``, ``streets``, ``location_types``, ``years``: values of the derived columns of
      ``schema.DEVICE_FILTERS`` ("in-service", "on-street", "Public car park", "2021"). Empty
      means all.

    Invalid codes, layers, speeds or dates raise ``ValueError``. Build one from a mapping (for
    example a URL state) with ``UsageFilter.from_mapping``.
    """

    borough: str | None = None
    ward: str | None = None
    ward_layer: str = schema.DEFAULT_WARD_LAYER
    date_from: dt.date | str | None = None
    date_to: dt.date | str | None = None
    speeds: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    location_types: tuple[str, ...] = ()
    years: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.ward_layer not in WARD_COLUMNS:
            raise ValueError(f"ward_layer must be one of {sorted(WARD_COLUMNS)}, "
                             f"not {self.ward_layer!r}")
        speeds = _texts(self.speeds)
        unknown = set(speeds) - set(schema.SPEED_CLASSES)
        if unknown:
            raise ValueError(f"unknown speed classes {sorted(unknown)}; "
                             f"expected some of {schema.SPEED_CLASSES}")
        date_from = _parse_day(self.date_from, end=False)
        date_to = _parse_day(self.date_to, end=True)
        if date_from and date_to and date_from > date_to:
            raise ValueError(f"date_from {date_from} is after date_to {date_to}")
        set_ = object.__setattr__
        set_(self, "borough", _code(self.borough, "borough"))
        set_(self, "ward", _code(self.ward, "ward"))
        set_(self, "date_from", date_from)
        set_(self, "date_to", date_to)
        set_(self, "speeds", tuple(sorted(set(speeds))))
        set_(self, "operators", tuple(sorted(set(_texts(self.operators)))))
        for field, _, _ in schema.DEVICE_FILTERS:
            set_(self, field, tuple(sorted(set(_texts(getattr(self, field))))))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "UsageFilter":
        """From a dict with any of the field names (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})


def as_filter(value: UsageFilter | Mapping[str, Any] | None) -> UsageFilter:
    """A ``UsageFilter`` from a filter, a mapping of its fields, or None (all of London)."""
    if value is None:
        return UsageFilter()
    if isinstance(value, UsageFilter):
        return value
    if isinstance(value, Mapping):
        return UsageFilter.from_mapping(value)
    raise ValueError(f"not a usage filter: {value!r}")


# The session index -------------------------------------------------------------------------------
def _sql_text(value: str) -> str:
    """A SQL string literal, for the statements DuckDB cannot parameterise (ATTACH)."""
    return "'" + str(value).replace("'", "''") + "'"


def _session_files(sessions: Path) -> list[Path]:
    sessions = Path(sessions)
    return [sessions] if sessions.is_file() else sorted(sessions.glob("*.parquet"))


def _index_signature(sessions: Path, chargepoints: Path) -> str:
    """The cache fingerprint when there is one, else a hash of file names, sizes and times."""
    manifest = usage.read_manifest(sessions) if Path(sessions).is_dir() else None
    parts = [INDEX_VERSION]
    if manifest and manifest.get("fingerprint"):
        parts.append(manifest["fingerprint"])
    else:
        for path in [*_session_files(sessions), Path(chargepoints)]:
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def index_path(sessions: Path) -> Path:
    sessions = Path(sessions)
    return sessions / INDEX_NAME if sessions.is_dir() else sessions.with_suffix(".index.duckdb")


def _build_once(target: Path, signature: str, build: Callable) -> Path:
    """Build a read-only DuckDB file at ``target`` with ``build(connection)`` unless the one
    there was built for ``signature`` (kept beside it as JSON). Written to a temporary file and
    renamed, under an exclusive file lock, so processes starting together build it once."""
    meta = target.with_suffix(".json")

    def current() -> bool:
        try:
            built = json.loads(meta.read_text())
            return (built["signature"] == signature and _intact(target, built.get("size")))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    if current():
        return target
    with usage.file_lock(target.with_suffix(".lock")):
        if current():
            return target
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        con = duckdb.connect(str(tmp))
        try:
            build(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        size = tmp.stat().st_size
        os.replace(tmp, target)
        meta.write_text(json.dumps({"signature": signature, "size": size}))
    return target


def _intact(path: Path, size: int | None) -> bool:
    """True when ``path`` is the DuckDB file as built: the size recorded when it was written
    and DuckDB's magic bytes. A file truncated by a full disk or a crash fails this check and
    is built again, instead of failing every query."""
    with open(path, "rb") as f:
        header = f.read(12)
    return size is not None and path.stat().st_size == size and header[8:12] == b"DUCK"


def invalidate(target: Path) -> None:
    """Forget that ``target`` was built, so that the next ``_build_once`` builds it again."""
    with contextlib.suppress(FileNotFoundError):
        target.with_suffix(".json").unlink()


def ensure_index(sessions: Path, chargepoints: Path) -> Path:
    """Build (once) the compact, read-only session index for a folder or file of sessions.

    Rebuilt when its signature (the simulation fingerprint, or the session files' names, sizes
    and times) changes (see ``_build_once``).
    """
    def build(con: duckdb.DuckDBPyConnection) -> None:
        # Imported sessions are stored in UTC (TIMESTAMPTZ): their days and hours of the week
        # are London's. The simulation's naive local times are unaffected.
        con.execute("SET TimeZone = 'Europe/London'")
        files = [str(p) for p in _session_files(sessions)]
        con.execute(
            "CREATE TABLE devices AS SELECT (row_number() OVER (ORDER BY device_id) - 1)"
            "::INTEGER AS k, device_id, max_kw FROM (SELECT DISTINCT device_id, "
            "TRY_CAST(max_kw AS DOUBLE) AS max_kw FROM read_parquet($cp))",
            {"cp": str(chargepoints)})
        raw = """(
            SELECT d.k, d.max_kw, CAST(s.start AS DATE) AS day, s.start,
                   epoch(s."end" - s.start) / 3600 AS hours, s.kwh
            FROM read_parquet($files) AS s JOIN devices AS d USING (device_id)
        )"""
        con.execute(f"""
            CREATE TABLE sessions AS
            SELECT k, day, ((isodow(start) - 1) * 24 + hour(start))::SMALLINT AS how,
                   kwh::FLOAT AS kwh
            FROM {raw} ORDER BY day, k
        """, {"files": files})
        con.execute(f"""
            CREATE TABLE device_days AS
            SELECT k, day, count(*)::INTEGER AS n, sum(kwh)::DOUBLE AS kwh,
                   sum(hours)::DOUBLE AS hours,
                   sum(CASE WHEN max_kw > 0 THEN least(hours, kwh / max_kw) END)::DOUBLE
                       AS charging_hours
            FROM {raw} GROUP BY k, day ORDER BY day, k
        """, {"files": files})
        con.execute("""
            CREATE TABLE day_hours AS
            SELECT day, how, count(*)::INTEGER AS n, sum(kwh)::DOUBLE AS kwh
            FROM sessions GROUP BY ALL ORDER BY day, how
        """)
        con.execute("""
            CREATE TABLE device_month_hours AS
            SELECT k, date_trunc('month', day)::DATE AS month, how, count(*)::INTEGER AS n,
                   sum(kwh)::DOUBLE AS kwh
            FROM sessions GROUP BY ALL ORDER BY month, k
        """)
        con.execute("""
            CREATE TABLE device_months AS
            SELECT k, date_trunc('month', day)::DATE AS month, sum(n)::INTEGER AS n,
                   sum(kwh) AS kwh, sum(hours) AS hours, sum(charging_hours) AS charging_hours
            FROM device_days GROUP BY ALL ORDER BY month, k
        """)

    return _build_once(index_path(sessions), _index_signature(sessions, chargepoints), build)


TABLES_NAME = "tables.duckdb"


def _create_catalogue(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Table ``catalogue`` from the catalogue CSV (all text), empty with its columns if absent."""
    if path.exists():
        con.execute("CREATE TABLE catalogue AS SELECT * FROM read_csv($path, header = true, "
                    "all_varchar = true)", {"path": str(path)})
    else:
        con.execute("CREATE TABLE catalogue ("
                    + ", ".join(f"{c} VARCHAR" for c in schema.CATALOGUE_COLUMNS) + ")")


def ensure_tables(data_dir: Path, folder: Path) -> Path | None:
    """Build (once) a read-only DuckDB file in ``folder`` holding the indicators and the
    catalogue of ``data_dir`` (None when there are no indicators).

    Each worker attaches it instead of copying both into its own memory (about 25 MB a worker
    as in-memory tables; 4 MB on disk, read block by block through DuckDB's buffer and the OS
    page cache that the workers share). Rebuilt when the files' contents change (see
    ``_build_once``).
    """
    indicators = schema.indicators_path(data_dir)
    catalogue = schema.catalogue_path(data_dir)
    if not indicators.exists():
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(INDEX_VERSION.encode())
    for path in (indicators, catalogue):
        digest.update(path.read_bytes() if path.exists() else b"-")
    signature = digest.hexdigest()

    def build(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE indicators AS SELECT layer, code, indicator_id, "
                    "CAST(period AS VARCHAR) AS period, CAST(value AS DOUBLE) AS value "
                    "FROM read_parquet($path) ORDER BY indicator_id, layer, code, period",
                    {"path": str(indicators)})
        _create_catalogue(con, catalogue)

    return _build_once(folder / TABLES_NAME, signature, build)


# The store ---------------------------------------------------------------------------------------
_OPEN_STORES: "weakref.WeakSet[Store]" = weakref.WeakSet()


def _close_before_fork() -> None:
    """Close every open store connection in a process about to fork.

    DuckDB is not fork-safe: a database inherited through ``fork`` crashes the child when it is
    used or freed. Closing first means parent and child each reopen on their next query (under
    gunicorn ``--preload``: each worker opens its own).
    """
    for store in list(_OPEN_STORES):
        store.close()


os.register_at_fork(before=_close_before_fork)
# The store is what makes a process fork-aware here, so it also freezes the garbage collector's
# view of the parent's objects before a fork: a worker's collections then leave them alone
# instead of writing to (and so copying) every page of the parent's heap it shares.
# The parent thaws them again at once, and a child before it exits, so that interpreter shutdown
# still frees everything.
os.register_at_fork(before=gc.freeze, after_in_parent=gc.unfreeze,
                    after_in_child=lambda: atexit.register(gc.unfreeze))


class Store:
    """Read access to all processed data for one process. See the module docstring.

    ``sessions`` overrides where the sessions come from (a folder of Parquet files or one file,
    in the session schema); by default they are the simulation cache of
    ``usage.ensure_sessions(config)``. ``chargepoints`` overrides the device table (an imported
    dataset that added devices carries its own copy of the table with them). Call ``prepare()`` once before forking workers to make
    sure the cache and its index exist; the database itself opens on first use.
    """

    def __init__(self, config, sessions: Path | None = None, chargepoints: Path | None = None):
        self.config = config
        self._sessions = Path(sessions) if sessions is not None else None
        self._chargepoints = Path(chargepoints) if chargepoints is not None else None
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._coverage: dict | None = None
        self._tables: Path | None = None
        self._monthly: MonthlyUsage | None = None
        self._restoring: threading.Thread | None = None

    # Opening -------------------------------------------------------------------------------------
    def prepare(self) -> Path | None:
        """Ensure the session cache and index and the indicator tables (``ensure_tables``)
        exist; returns the index (None without devices)."""
        data_dir = Path(self.config.data_dir)
        self._tables = ensure_tables(data_dir, Path(self.config.cache_dir))
        chargepoints = self.chargepoints_file()
        if not chargepoints.exists():
            log.warning("%s is missing: the store has no devices and no sessions", chargepoints)
            return None
        sessions = self._sessions
        if sessions is None:
            sessions = usage.ensure_sessions(self.config)
        if not _session_files(sessions):
            log.warning("no session files in %s", sessions)
            return None
        self._sessions = sessions
        return ensure_index(sessions, chargepoints)

    def chargepoints_file(self) -> Path:
        """The device table this store reads."""
        return self._chargepoints or schema.chargepoints_path(Path(self.config.data_dir))

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = self._con
        if con is not None:
            return con
        with self._lock:
            if self._con is None:
                self._con = self._open()
                _OPEN_STORES.add(self)
            return self._con

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            return self._open_once()
        except duckdb.Error as exc:
            # A cache file that passed the size check but that DuckDB cannot read (or one
            # removed between the check and the attach): build the cache files again, once.
            log.warning("the cache in %s could not be opened (%s); rebuilding it",
                        self.config.cache_dir, str(exc).splitlines()[0][:160])
            for path in self._cache_files():
                invalidate(path)
            return self._open_once()

    def _cache_files(self) -> list[Path]:
        """The DuckDB files this store attaches (those that exist or are expected)."""
        files = [Path(self.config.cache_dir) / TABLES_NAME]
        if self._sessions is not None:
            files.append(index_path(self._sessions))
        return files

    def _open_once(self) -> duckdb.DuckDBPyConnection:
        data_dir = Path(self.config.data_dir)
        index = self.prepare()
        con = duckdb.connect()
        # Per process (config ``duckdb_memory``, BD_DUCKDB_MEMORY); DuckDB spills beyond it.
        limit = getattr(self.config, "duckdb_memory", None) or DEFAULT_DUCKDB_MEMORY
        con.execute(f"SET memory_limit = {_sql_text(limit)}")
        # Spill (rare: the queries aggregate small groups) to the cache folder, not to ".tmp"
        # in whatever folder the server was started from.
        spill = Path(self.config.cache_dir) / "duckdb-tmp"
        con.execute(f"SET temp_directory = {_sql_text(spill)}")
        if index is not None:
            con.execute(f"ATTACH {_sql_text(index)} AS sim (READ_ONLY)")
            con.execute("SELECT count(*) FROM sim.devices").fetchone()
            self._coverage = self._read_coverage(con)
        else:
            con.execute("CREATE SCHEMA sim")
            con.execute("CREATE TABLE sim.devices (k INTEGER, device_id VARCHAR, max_kw DOUBLE)")
            con.execute("CREATE TABLE sim.sessions (k INTEGER, day DATE, how SMALLINT, "
                        "kwh FLOAT)")
            con.execute("CREATE TABLE sim.day_hours (day DATE, how SMALLINT, n INTEGER, "
                        "kwh DOUBLE)")
            con.execute("CREATE TABLE sim.device_month_hours (k INTEGER, month DATE, "
                        "how SMALLINT, n INTEGER, kwh DOUBLE)")
            for name, grain in (("device_days", "day"), ("device_months", "month")):
                con.execute(f"CREATE TABLE sim.{name} (k INTEGER, {grain} DATE, n INTEGER, "
                            "kwh DOUBLE, hours DOUBLE, charging_hours DOUBLE)")
            self._coverage = {"start": None, "end": None, "simulated": False, "rows": 0,
                              "seed": None, "scale": None}

        chargepoints = self.chargepoints_file()
        columns = ", ".join(f'CAST(NULL AS VARCHAR) AS "{c}"' for c in schema.CHARGEPOINT_COLUMNS)
        present = (set(pq.read_schema(chargepoints).names) if chargepoints.exists()
                   else set(schema.CHARGEPOINT_COLUMNS))
        # Tables without the registry's status and location type still load (all "unknown").
        missing = "".join(f', CAST(NULL AS VARCHAR) AS "{c}"' for c in ("status", "location_type")
                          if c not in present)
        source = (f"SELECT *{missing} FROM read_parquet($path)" if chargepoints.exists()
                  else f"SELECT {columns}{missing} WHERE false")
        unknown = _sql_text(schema.NOT_PUBLISHED)
        con.execute(f"""
            CREATE TABLE chargepoints AS
            SELECT c.* EXCLUDE (ts) REPLACE (TRY_CAST(c.max_kw AS DOUBLE) AS max_kw), k.k,
                   CASE WHEN ts = date_trunc('day', ts) THEN ts
                        ELSE date_trunc('day', ts) + INTERVAL 1 DAY END AS avail_from,
                   replace(coalesce(c.status, {unknown}), ' ', '-') AS status_id,
                   CASE WHEN TRY_CAST(c.on_street AS BOOLEAN) THEN 'on-street'
                        WHEN NOT TRY_CAST(c.on_street AS BOOLEAN) THEN 'off-street'
                        ELSE {unknown} END AS street,
                   coalesce(CAST(year(ts) AS VARCHAR), {unknown}) AS install_year
            FROM (SELECT *, TRY_CAST(installed AS TIMESTAMP) AS ts FROM ({source})) AS c
            LEFT JOIN sim.devices AS k USING (device_id)
            ORDER BY c.device_id
        """, {"path": str(chargepoints)} if chargepoints.exists() else None)

        if self._tables is not None:
            con.execute(f"ATTACH {_sql_text(self._tables)} AS data (READ_ONLY)")
            con.execute("SELECT count(*) FROM data.catalogue").fetchone()
            con.execute("CREATE VIEW indicators AS SELECT * FROM data.indicators")
            con.execute("CREATE VIEW catalogue AS SELECT * FROM data.catalogue")
        else:  # no indicators
            con.execute("CREATE TABLE indicators (layer VARCHAR, code VARCHAR, "
                        "indicator_id VARCHAR, period VARCHAR, value DOUBLE)")
            _create_catalogue(con, schema.catalogue_path(data_dir))
        return con

    def _read_coverage(self, con: duckdb.DuckDBPyConnection) -> dict:
        manifest = usage.read_manifest(self._sessions) if self._sessions.is_dir() else None
        if manifest:
            start = dt.date.fromisoformat(manifest["start"])
            end = dt.date.fromisoformat(manifest["end_exclusive"]) - dt.timedelta(days=1)
            return {"start": start, "end": end, "simulated": bool(manifest.get("simulated")),
                    "rows": int(manifest["rows"]), "seed": manifest.get("seed"),
                    "scale": manifest.get("scale")}
        first, last, rows = con.execute(
            "SELECT min(day), max(day), count(*) FROM sim.sessions").fetchone()
        return {"start": first, "end": last, "simulated": None, "rows": int(rows), "seed": None,
                "scale": None}

    def _df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one parameterised query on a fresh cursor (DuckDB rejects unused parameters, so
        only those named in ``sql`` are passed)."""
        used = {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", sql)}
        cursor = self._connection().cursor()
        try:
            return cursor.execute(sql, used or None).df()
        finally:
            cursor.close()

    def health(self) -> str | None:
        """Why this store cannot serve a page (None when it can): a trivial query through the
        connection and every cache table it reads. Cache files deleted while the store is open
        are built again in the background (the open connection still reads the deleted files)."""
        try:
            self._df("SELECT (SELECT count(*) FROM sim.devices) + "
                     "(SELECT count(*) FROM catalogue) AS n")
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("health check: the store cannot answer (%s)",
                        str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)
            return "the data store cannot answer a query"
        self.restore_cache()
        return None

    def restore_cache(self) -> bool:
        """Rebuild, in a background thread, cache files removed while serving; True when one
        was missing. Cheap when nothing is missing (a few ``stat`` calls)."""
        if self._con is None or all(p.exists() for p in self._cache_files()):
            return False
        with self._lock:
            if self._restoring is not None and self._restoring.is_alive():
                return True

            def rebuild():
                try:
                    self.prepare()
                    log.info("cache files in %s rebuilt", self.config.cache_dir)
                except Exception:  # noqa: BLE001 - logged; the next check tries again
                    log.warning("rebuilding the cache in %s failed", self.config.cache_dir,
                                exc_info=True)

            log.warning("cache files in %s are missing; rebuilding them", self.config.cache_dir)
            self._restoring = threading.Thread(target=rebuild, name="cache-rebuild", daemon=True)
            self._restoring.start()
        return True

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = None

    # Selections ----------------------------------------------------------------------------------
    def coverage(self) -> dict:
        """The sessions' period and provenance: ``start`` and ``end`` (inclusive dates, None
        without sessions), ``simulated`` (bool, None if unknown), ``rows``, ``seed``, ``scale``."""
        self._connection()
        return dict(self._coverage)

    def monthly(self) -> MonthlyUsage | None:
        """The per-device monthly usage as arrays (``dashboard.data.monthly``), read once per process
        (None without sessions). Reading it before a fork shares it with the workers."""
        if self._monthly is None:
            cov = self.coverage()
            if cov["start"] is None:
                return None
            con = self._connection()
            with self._lock:
                if self._monthly is None:
                    cursor = con.cursor()
                    try:
                        self._monthly = MonthlyUsage.load(cursor, cov["start"], cov["end"])
                    finally:
                        cursor.close()
        return self._monthly

    def _arrays_for(self, f: UsageFilter
                    ) -> tuple[MonthlyUsage, tuple[dt.date, dt.date]] | None:
        """(arrays, period) when the filter's period is whole months the arrays hold, so the
        question can skip SQL; None otherwise."""
        period = self._period(f)
        monthly = None if period is None else self.monthly()
        if monthly is None or not monthly.covers(*period):
            return None
        return monthly, period

    def _whole_months(self, f: UsageFilter, device_id: str | None = None):
        """(arrays, selected-device mask, period) as ``_arrays_for``, with the devices the
        filter (and ``device_id``, when given) selects; None when SQL must answer."""
        found = self._arrays_for(f)
        if found is None:
            return None
        monthly, period = found
        equal = {"device_id": str(device_id)} if device_id is not None else {}
        if f.borough:
            equal["borough_code"] = f.borough
        if f.ward:
            equal[WARD_COLUMNS[f.ward_layer]] = f.ward
        among = {"speed_class": _speed_filter(f), "operator": f.operators, **_device_choices(f)}
        return monthly, monthly.mask(equal, {k: v for k, v in among.items() if v}), period

    def _period(self, f: UsageFilter) -> tuple[dt.date, dt.date] | None:
        """The filter's inclusive period clipped to the sessions' coverage; None if empty."""
        cov = self.coverage()
        if cov["start"] is None:
            return None
        first = max(f.date_from or cov["start"], cov["start"])
        last = min(f.date_to or cov["end"], cov["end"])
        return (first, last) if first <= last else None

    @staticmethod
    def _device_where(f: UsageFilter, device_id: str | None = None) -> tuple[str, dict]:
        """WHERE clause over ``chargepoints`` for a filter, with its parameters."""
        clauses, params = ["true"], {}
        if f.borough:
            clauses.append("borough_code = $borough")
            params["borough"] = f.borough
        if f.ward:
            clauses.append(f"{WARD_COLUMNS[f.ward_layer]} = $ward")
            params["ward"] = f.ward
        if _speed_filter(f):
            clauses.append("list_contains($speeds, speed_class)")
            params["speeds"] = list(f.speeds)
        if f.operators:
            clauses.append("list_contains($operators, operator)")
            params["operators"] = list(f.operators)
        for i, (column, values) in enumerate(_device_choices(f).items()):
            clauses.append(f'list_contains($choice{i}, "{column}")')
            params[f"choice{i}"] = list(values)
        if device_id is not None:
            clauses.append("device_id = $device_id")
            params["device_id"] = str(device_id)
        return " AND ".join(clauses), params

    def _selection(self, f: UsageFilter, key: str | None = None, device_id: str | None = None
                   ) -> tuple[str, dict, tuple[dt.date, dt.date]] | None:
        """CTE ``d``: the selected devices (``k``, optional ``key``, ``max_kw``, ``f`` the start
        of their availability in the period, ``avail_hours``), its parameters and the period."""
        period = self._period(f)
        if period is None:
            return None
        where, params = self._device_where(f, device_id)
        params.update(first=period[0], last=period[1],
                      t0=dt.datetime.combine(period[0], dt.time()),
                      t1=dt.datetime.combine(period[1] + dt.timedelta(days=1), dt.time()))
        cte = f"""d AS (
                SELECT k, {f"{key} AS key, " if key else ""}max_kw,
                       greatest($t0, coalesce(avail_from, $t0)) AS f,
                       greatest(0, epoch($t1 - greatest($t0, coalesce(avail_from, $t0)))) / 3600
                           AS avail_hours
                FROM chargepoints WHERE {where}
            )"""
        return cte, params, period

    @staticmethod
    def _usage_rows(params: dict, period: tuple[dt.date, dt.date], grain: str,
                    every_device: bool) -> str:
        """CTE ``u`` (k, t, n, kwh, hours, charging_hours): usage of the devices in ``d`` per
        device and ``grain`` ("month": ``t`` is the month; "day": the day).

        Monthly usage comes from the monthly rollup for whole months and from the daily rollup
        for the partial months at the period's edges. ``every_device`` skips the device
        semi-join when the selection is every device.
        """
        only = "" if every_device else " AND k IN (SELECT k FROM d)"
        if grain == "day":
            return f"""u AS (
                SELECT k, day AS t, n, kwh, hours, charging_hours FROM sim.device_days
                WHERE day BETWEEN $first AND $last{only}
            )"""
        params.update(_month_split(period))
        edge = """
                SELECT k, date_trunc('month', day)::DATE AS t, n, kwh, hours, charging_hours
                FROM sim.device_days WHERE day BETWEEN ${a} AND ${b}{only}"""
        return f"""u AS (
                SELECT k, month AS t, n, kwh, hours, charging_hours FROM sim.device_months
                WHERE month BETWEEN $m0 AND $m1{only}
                UNION ALL {edge.format(a="h0", b="h1", only=only)}
                UNION ALL {edge.format(a="e0", b="e1", only=only)}
            )"""

    def _usage_by(self, f: UsageFilter, key: str | None) -> pd.DataFrame | None:
        fast = self._whole_months(f)
        if fast is not None:
            monthly, keep, period = fast
            return monthly.totals(keep, *period, key)
        selection = self._selection(f, key)
        if selection is None:
            return None
        d, params, period = selection
        u = self._usage_rows(params, period, "month", _every_device(f))
        group = "GROUP BY key ORDER BY key" if key else ""
        return self._df(f"""
            WITH {d}, {u},
            per AS (
                SELECT k, sum(n) AS n, sum(kwh) AS kwh, sum(hours) AS hours,
                       sum(charging_hours) AS charging_hours
                FROM u GROUP BY k
            )
            SELECT {"key, " if key else ""}{_TOTALS}
            FROM d LEFT JOIN per USING (k)
            {group}
        """, params)

    def usage_per_device(self, filt: UsageFilter | Mapping | None, keep: np.ndarray
                         ) -> dict | None:
        """Usage totals (``USAGE_COLUMNS``, float arrays) in the filter's period of the devices
        ``keep`` marks among every device in ``device_id`` order, when the period is whole
        months the arrays hold (any other period: None; ask ``usage_by``). Only the period of
        the filter matters: ``keep`` is the selection."""
        found = self._arrays_for(as_filter(filt))
        if found is None or len(keep) != len(found[0].max_kw):
            return None
        return found[0].per_device(keep, *found[1])

    # Devices -------------------------------------------------------------------------------------
    def devices(self, borough: str | None = None, ward: str | None = None,
                ward_layer: str = schema.DEFAULT_WARD_LAYER, speeds=None, operators=None,
                extra: tuple[str, ...] = (), **choices) -> pd.DataFrame:
        """Charge devices (``schema.CHARGEPOINT_COLUMNS`` and the ``extra`` columns asked for,
        e.g. the ``schema.DEVICE_FILTERS`` columns) in a place, of given speeds and operators and
        ``choices`` (``statuses=...`` and the other ``UsageFilter`` device fields; None or empty:
        all), sorted by ``device_id``."""
        f = UsageFilter(borough=borough, ward=ward, ward_layer=ward_layer, speeds=speeds or (),
                        operators=operators or (), **{k: v or () for k, v in choices.items()})
        where, params = self._device_where(f)
        cols = ", ".join(f'"{c}"' for c in (*schema.CHARGEPOINT_COLUMNS, *extra))
        return self._df(f"SELECT {cols} FROM chargepoints WHERE {where} ORDER BY device_id",
                        params)

    def choice_values(self, column: str) -> list[str]:
        """The values a ``schema.DEVICE_FILTERS`` column holds, sorted, "unknown" left out."""
        if column not in {c for _, c, _ in schema.DEVICE_FILTERS}:
            raise ValueError(f"not a device filter column: {column!r}")
        return self._df(f'SELECT DISTINCT "{column}" AS v FROM chargepoints WHERE "{column}" '
                        f"IS NOT NULL AND \"{column}\" <> $u ORDER BY v",
                        {"u": schema.NOT_PUBLISHED})["v"].tolist()

    def operators(self) -> list[str]:
        """Every operator name in the device table, sorted."""
        return self._df("SELECT DISTINCT operator FROM chargepoints WHERE operator IS NOT NULL "
                        "ORDER BY operator")["operator"].tolist()

    # Usage ---------------------------------------------------------------------------------------
    def usage_summary(self, filt: UsageFilter | Mapping | None = None) -> pd.DataFrame:
        """One row of usage totals for the selection (``USAGE_COLUMNS``) plus ``days``,
        ``period_start`` and ``period_end`` (inclusive dates of the clipped period).

        An empty period (outside the simulated one) gives zero totals and ``days`` 0.
        """
        f = as_filter(filt)
        out = self._usage_by(f, None)
        if out is None:
            row = {c: 0 for c in USAGE_COLUMNS}
            row.update(days=0, period_start=None, period_end=None)
            return pd.DataFrame([row])
        first, last = self._period(f)
        out["days"] = (last - first).days + 1
        out["period_start"], out["period_end"] = first, last
        return out

    def usage_by(self, filt: UsageFilter | Mapping | None, dim: str) -> pd.DataFrame:
        """Usage totals (``USAGE_COLUMNS``) per value of ``dim`` (one of ``BY_DIMENSIONS``), one
        row per value present among the selected devices (with zeros where a value's devices had
        no sessions), sorted by that value. The first column is named ``dim``."""
        if dim not in BY_DIMENSIONS:
            raise ValueError(f"dim must be one of {BY_DIMENSIONS}, not {dim!r}")
        out = self._usage_by(as_filter(filt), dim)
        if out is None:
            return pd.DataFrame(columns=[dim, *USAGE_COLUMNS])
        return out.rename(columns={"key": dim})

    def usage_timeseries(self, filt: UsageFilter | Mapping | None = None, freq: str = "month"
                         ) -> pd.DataFrame:
        """Usage totals per ``freq`` ("day", "week" starting Monday, or "month"), one row per
        period from the first to the last of the (clipped) period, zeros included: ``period``
        (date the bucket starts) then ``USAGE_COLUMNS``. First and last buckets count only the
        days inside the selected period."""
        return self._timeseries(as_filter(filt), freq)

    def monthly_series(self, filt: UsageFilter | Mapping | None) -> dict | None:
        """``usage_timeseries`` by month as arrays by column name, when the period is whole
        months the arrays hold (None otherwise: ask ``usage_timeseries``)."""
        fast = self._whole_months(as_filter(filt))
        return None if fast is None else fast[0].series_columns(fast[1], *fast[2])

    def device_history(self, device_id: str, freq: str = "month") -> pd.DataFrame:
        """``usage_timeseries`` of one device over the whole simulated period (no rows if the
        device is unknown)."""
        return self._timeseries(UsageFilter(), freq, device_id=str(device_id))

    def _timeseries(self, f: UsageFilter, freq: str, device_id: str | None = None
                    ) -> pd.DataFrame:
        if freq not in FREQUENCIES:
            raise ValueError(f"freq must be one of {FREQUENCIES}, not {freq!r}")
        fast = self._whole_months(f, device_id) if freq == "month" else None
        if fast is not None:
            monthly, keep, period = fast
            out = monthly.series(keep, *period)
            if device_id is not None and out["devices"].sum() == 0 and out["sessions"].sum() == 0:
                return out.iloc[0:0]
            return out
        selection = self._selection(f, device_id=device_id)
        if selection is None:
            return pd.DataFrame(columns=["period", *USAGE_COLUMNS])
        d, params, period = selection
        grain = "month" if freq == "month" else "day"
        every = device_id is None and _every_device(f)
        usage = f"""{self._usage_rows(params, period, grain, every)},
            s AS (
                SELECT date_trunc('{freq}', t)::DATE AS period, sum(n) AS n, sum(kwh) AS kwh,
                       sum(hours) AS hours, sum(kwh_rated) AS kwh_rated,
                       sum(hours_rated) AS hours_rated, sum(charging_hours) AS charging_hours
                FROM (
                    SELECT t, sum(n) AS n, sum(kwh) AS kwh, sum(hours) AS hours,
                           sum(kwh) FILTER (WHERE charging_hours IS NOT NULL) AS kwh_rated,
                           sum(hours) FILTER (WHERE charging_hours IS NOT NULL) AS hours_rated,
                           sum(charging_hours) AS charging_hours
                    FROM u GROUP BY t
                ) GROUP BY 1
            )"""
        out = self._df(f"""
            WITH {d}, {usage},
            starts AS (
                SELECT f, count(*) AS n, count(*) FILTER (WHERE max_kw > 0) AS n_rated,
                       coalesce(sum(max_kw) FILTER (WHERE max_kw > 0), 0) AS kw
                FROM d GROUP BY f
            ),
            b AS (
                SELECT range::DATE AS period, greatest(range, $t0) AS b0,
                       least(range + INTERVAL 1 {freq}, $t1) AS b1
                FROM range(date_trunc('{freq}', $t0), $t1, INTERVAL 1 {freq})
            ),
            a AS (
                SELECT b.period,
                       coalesce(sum(n) FILTER (WHERE f < b1), 0) AS devices,
                       coalesce(sum(n_rated) FILTER (WHERE f < b1), 0) AS devices_rated,
                       coalesce(sum(n * greatest(0, epoch(b1 - greatest(b0, f)))), 0) / 3600
                           AS available_device_hours,
                       coalesce(sum(kw * greatest(0, epoch(b1 - greatest(b0, f)))), 0) / 3600
                           AS rated_kwh_capacity
                FROM b LEFT JOIN starts ON true
                GROUP BY b.period
            )
            SELECT a.period, a.devices::BIGINT AS devices,
                   a.devices_rated::BIGINT AS devices_rated,
                   coalesce(s.n, 0)::BIGINT AS sessions,
                   coalesce(s.kwh, 0)::DOUBLE AS kwh,
                   coalesce(s.hours, 0)::DOUBLE AS plugged_hours,
                   coalesce(s.kwh_rated, 0)::DOUBLE AS kwh_rated,
                   coalesce(s.hours_rated, 0)::DOUBLE AS plugged_hours_rated,
                   coalesce(s.charging_hours, 0)::DOUBLE AS charging_hours_est,
                   a.available_device_hours::DOUBLE AS available_device_hours,
                   a.rated_kwh_capacity::DOUBLE AS rated_kwh_capacity
            FROM a LEFT JOIN s USING (period)
            ORDER BY a.period
        """, params)
        if device_id is not None and out["devices"].sum() == 0 and out["sessions"].sum() == 0:
            return out.iloc[0:0]
        return out

    def usage_heatmap(self, filt: UsageFilter | Mapping | None = None) -> pd.DataFrame:
        """Sessions and kWh by weekday (0 = Monday) and hour of start: all 168 cells, zeros
        included, columns ``weekday``, ``hour``, ``sessions``, ``kwh``."""
        f = as_filter(filt)
        found = None if f.ward or f.operators else self._arrays_for(f)
        if found is not None:
            monthly, period = found
            speeds = _speed_filter(f)
            n, kwh = monthly.heatmap([f.borough] if f.borough else None,
                                     list(speeds) if speeds else None, *period)
            return pd.DataFrame({"weekday": np.arange(168) // 24, "hour": np.arange(168) % 24,
                                 "sessions": n.round().astype("int64"), "kwh": kwh})
        selection = self._selection(f)
        counts = pd.DataFrame({"how": pd.Series(dtype="int64"), "sessions": 0, "kwh": 0.0})
        if selection is not None:
            d, params, _ = selection
            if _every_device(f):
                sql = """
                    SELECT how, sum(n) AS sessions, sum(kwh)::DOUBLE AS kwh FROM sim.day_hours
                    WHERE day BETWEEN $first AND $last GROUP BY how"""
            else:
                params.update(_month_split(selection[2]))
                sql = f"""
                    WITH {d}
                    SELECT how, sum(n)::BIGINT AS sessions, sum(kwh)::DOUBLE AS kwh FROM (
                        SELECT how, n, kwh FROM sim.device_month_hours
                        WHERE month BETWEEN $m0 AND $m1 AND k IN (SELECT k FROM d)
                        UNION ALL
                        SELECT how, 1 AS n, kwh FROM sim.sessions
                        WHERE (day BETWEEN $h0 AND $h1 OR day BETWEEN $e0 AND $e1)
                          AND k IN (SELECT k FROM d)
                    ) GROUP BY how"""
            counts = self._df(sql, params)
        grid = pd.DataFrame({"how": range(168)})
        out = grid.merge(counts.astype({"how": "int64"}), on="how", how="left")
        return pd.DataFrame({
            "weekday": out["how"] // 24, "hour": out["how"] % 24,
            "sessions": out["sessions"].fillna(0).astype("int64"),
            "kwh": out["kwh"].fillna(0.0).astype("float64"),
        })

    # Indicators and layers -----------------------------------------------------------------------
    def catalogue(self) -> pd.DataFrame:
        """The indicator catalogue (``schema.CATALOGUE_COLUMNS``, text), sorted by id."""
        return self._df("SELECT * FROM catalogue ORDER BY indicator_id")

    def indicator_values(self, indicator_id: str, layer: str, period: str | None = None
                         ) -> pd.DataFrame:
        """``code``, ``period``, ``value`` of one indicator for every area of ``layer`` at
        ``period`` (None: the catalogue's ``default_period`` if set, else the latest)."""
        layer = _layer(layer, INDICATOR_LAYERS)
        params = {"id": str(indicator_id), "layer": layer}
        if period is None:
            chosen = self._df("""
                SELECT coalesce(
                    (SELECT nullif(default_period, '') FROM catalogue
                     WHERE indicator_id = $id AND (SELECT count(*) FROM indicators
                         WHERE indicator_id = $id AND layer = $layer
                           AND period = catalogue.default_period) > 0
                     LIMIT 1),
                    (SELECT max(period) FROM indicators WHERE indicator_id = $id AND layer = $layer)
                ) AS period
            """, params)["period"].iloc[0]
            period = None if pd.isna(chosen) else chosen
        params["period"] = None if period is None else str(period)
        return self._df("""
            SELECT code, period, value FROM indicators
            WHERE indicator_id = $id AND layer = $layer AND period = $period
            ORDER BY code
        """, params)

    def indicator_series(self, indicator_id: str, codes, layer: str) -> pd.DataFrame:
        """``code``, ``period``, ``value`` of one indicator for the given area codes in every
        period, sorted by code then period."""
        layer = _layer(layer, INDICATOR_LAYERS)
        return self._df("""
            SELECT code, period, value FROM indicators
            WHERE indicator_id = $id AND layer = $layer AND list_contains($codes, code)
            ORDER BY code, period
        """, {"id": str(indicator_id), "layer": layer, "codes": list(_texts(codes))})

    def indicator_snapshots(self, indicator_ids, layer: str) -> pd.DataFrame:
        """``indicator_id``, ``code``, ``period``, ``value`` of several indicators for every area of
        ``layer``, each at its own period: the catalogue's ``default_period`` where ``layer`` has
        values for it, else the latest period present in ``layer``. Sorted by indicator then code.

        One query for what ``indicator_values`` gives one indicator at a time (a ward profile
        needs a few dozen indicators for every ward, borough and London at once).
        """
        layer = _layer(layer, INDICATOR_LAYERS)
        return self._df("""
            WITH wanted AS (
                SELECT DISTINCT unnest($ids) AS indicator_id
            ),
            present AS (
                SELECT indicator_id, period FROM indicators
                WHERE layer = $layer AND list_contains($ids, indicator_id)
                GROUP BY indicator_id, period
            ),
            chosen AS (
                SELECT w.indicator_id,
                       coalesce(max(p.period) FILTER (WHERE p.period = nullif(c.default_period, '')),
                                max(p.period)) AS period
                FROM wanted AS w
                JOIN present AS p USING (indicator_id)
                LEFT JOIN catalogue AS c USING (indicator_id)
                GROUP BY w.indicator_id
            )
            SELECT i.indicator_id, i.code, i.period, i.value
            FROM indicators AS i JOIN chosen AS ch USING (indicator_id, period)
            WHERE i.layer = $layer
            ORDER BY i.indicator_id, i.code
        """, {"ids": list(_texts(indicator_ids)), "layer": layer})

    def extents(self) -> pd.DataFrame:
        """Bounding box and an inside point of every area (``schema.extents_path``)."""
        path = schema.extents_path(self.config.data_dir)
        return self._df("SELECT * FROM read_csv($path, header = true, all_varchar = false) "
                        "ORDER BY layer, code", {"path": str(path)})

    def datasets(self) -> pd.DataFrame:
        """The source manifest (``schema.DATASET_COLUMNS``), sorted by dataset id."""
        path = schema.datasets_path(self.config.data_dir)
        if not path.exists():
            return pd.DataFrame(columns=list(schema.DATASET_COLUMNS))
        return self._df("SELECT * FROM read_csv($path, header = true, all_varchar = true) "
                        "ORDER BY dataset_id", {"path": str(path)})

    def similar_wards(self) -> pd.DataFrame:
        """The similar wards of every ward unit (``schema.similar_wards_path``), nearest first;
        empty (same columns) when the file has not been built."""
        path = schema.similar_wards_path(self.config.data_dir)
        if not path.exists():
            return pd.DataFrame(columns=list(schema.SIMILAR_COLUMNS))
        return self._df("SELECT * FROM read_csv($path, header = true, all_varchar = false) "
                        "ORDER BY layer, code, rank", {"path": str(path)})

    def layer_table(self, layer: str) -> pd.DataFrame:
        """The attribute table of a boundary layer (every column except ``geometry``)."""
        layer = _layer(layer, schema.LAYERS)
        path = schema.layer_path(self.config.data_dir, layer)
        if not path.exists():
            return pd.DataFrame(columns=[c for c in schema.LAYER_COLUMNS if c != "geometry"])
        return self._df("SELECT * EXCLUDE (geometry) FROM read_parquet($path) ORDER BY code",
                        {"path": str(path)})


def _layer(layer: str, allowed: tuple[str, ...]) -> str:
    if layer not in allowed:
        raise ValueError(f"layer must be one of {allowed}, not {layer!r}")
    return layer
