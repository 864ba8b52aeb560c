"""Charging sessions: the real reference sessions and the SIMULATED London usage built from them.

London charge-point usage is commercially confidential, so the app shows simulated sessions,
always labelled as such. They are resampled from real session records published by Dundee City
Council (2017-2018) and Perth & Kinross Council (2016-2019):

1. ``load_reference_sessions`` reads and cleans every raw session file into the session schema,
   with an audit report of rows read, dropped (by reason) and kept; ``write_reference`` writes
   both for the pipeline.
2. ``fit_reference`` summarises the reference per power class (slow, fast, rapid): how busy a
   device is, how that varies by weekday and from day to day, and the pool of whole sessions.
3. ``simulate`` / ``iter_simulation`` generate sessions for every London device, month by month,
   deterministically from a seed; ``ensure_sessions`` keeps the result as a Parquet cache that is
   rebuilt only when its inputs change.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dashboard.data import schema
from dashboard.core.config import Config

log = logging.getLogger(__name__)

# Bump when the simulation method changes, so that every cached simulation is rebuilt.
SIMULATION_VERSION = "4"
SIM_START = "2024-04-01"
SIM_MONTHS = 24

# Reference sessions ------------------------------------------------------------------------------
REFERENCE_SOURCES = {
    "dundee": "ev/sessions-dundee-2017-2018",
    "perth": "ev/sessions-perth-2016-2019",
}
NOT_SESSION_FILES = {"cp-locations.csv"}
RAW_COLUMNS = {
    "Charging event": "event",
    "CP ID": "cp",
    "Connector": "connector",
    "Start Date": "start_date",
    "Start Time": "start_time",
    "End Date": "end_date",
    "End Time": "end_time",
    "Total kWh": "kwh",
    "Model": "model",
}
RAW_DATETIME_FORMAT = "%d/%m/%Y %H:%M"
MAX_DURATION_HOURS = 48.0
MAX_SESSION_KWH = 150.0
POWER_TOLERANCE = 1.1  # energy may exceed rated kW x hours by 10% (meter and minute rounding)

# Rows failing a rule are dropped and counted under the FIRST rule they fail, in this order.
DROP_REASONS = {
    "missing_cp_id": "no charge point id",
    "bad_start": "start date or time missing or unreadable",
    "missing_end": "no end date or time (session still open when exported)",
    "missing_kwh": "no energy reading",
    "negative_kwh": "negative energy reading",
    "end_not_after_start": "end at or before start",
    "over_48h": f"plugged in for more than {MAX_DURATION_HOURS:g} hours",
    "kwh_over_150": f"more than {MAX_SESSION_KWH:g} kWh in one session",
    "kwh_exceeds_power": f"more energy than rated kW x hours x {POWER_TOLERANCE:g}",
    "duplicate": "same source, charge point, connector and start as an earlier row",
}

# Rated power from the charger model text, first matching rule wins:
#   1. an explicit rating such as "7kW", "22kW" or "7 kW"  -> that number
#      ("APT 22kW Dual Outlet" 22, "APT 7kW Dual Outlet" 7, "APT 50kW Raption" 50)
#   2. "Semi-Rapid" (Siemens, Perth)                        -> 22 (22 kW AC; observed energy per
#      hour in the data never exceeds ~22.6 kW)
#   3. "Rapid" ("APT Triple Rapid Charger", "Dual Rapid")   -> 50 (the DC rating of these units)
#   otherwise the rating is unknown (NaN) and the class "unknown".
MODEL_KW_RULES = (
    (re.compile(r"(\d+(?:\.\d+)?)\s*kw\b", re.IGNORECASE), None),
    (re.compile(r"semi[- ]?rapid", re.IGNORECASE), 22.0),
    (re.compile(r"rapid", re.IGNORECASE), 50.0),
)

REFERENCE_COLUMNS = (*schema.SESSION_COLUMNS, "source", "model", "max_kw", "speed_class")

# Simulation --------------------------------------------------------------------------------------
# Classes without reference sessions borrow from the nearest class that has them, in this order.
# The reference has no ultra-rapid (150 kW+) chargers: ultra devices use rapid sessions, so their
# energy per session looks like a 50 kW rapid's while their rating (and so the energy-based
# utilisation denominator) is higher. Devices whose power is not published use slow sessions,
# because most London public devices are slow on-street chargers.
CLASS_FALLBACK = {
    "slow": ("slow", "fast", "rapid"),
    "fast": ("fast", "slow", "rapid"),
    "rapid": ("rapid", "fast", "slow"),
    "ultra": ("rapid", "fast", "slow"),
    "unknown": ("slow", "fast", "rapid"),
}
MIN_ACTIVE_DAYS = 28  # reference devices observed for fewer days do not inform device busyness
MIN_CLASS_SESSIONS = 500  # a class needs this many reference sessions to be sampled from
# A device's expected plugged-in time is capped at this share of its connector-hours (connectors
# x 24 h; one connector when unknown), so that simulated devices are not busier than physically
# possible on average.
MAX_OCCUPANCY = 0.9

# Ward demand factor ------------------------------------------------------------------------------
# Licensed plug-in vehicles per public charge device, by ward (built by dashboard.pipeline.
# indicators). Wards where more plug-in vehicles share each public device get busier devices.
DEMAND_INDICATOR = "ev_vehicles_per_device"
DEMAND_LAYER = "ward2022"
DEMAND_CLIP = (0.25, 4.0)


# Reference sessions ------------------------------------------------------------------------------
def model_max_kw(model: str | None) -> float:
    """Rated kW from a charger model text by ``MODEL_KW_RULES``; NaN when no rule applies."""
    if not isinstance(model, str):
        return float("nan")
    for pattern, kw in MODEL_KW_RULES:
        match = pattern.search(model)
        if match:
            return float(match.group(1)) if kw is None else kw
    return float("nan")


def _session_files(raw_dir: Path, source: str) -> list[Path]:
    folder = Path(raw_dir) / REFERENCE_SOURCES[source]
    return sorted(p for p in folder.glob("*.csv") if p.name not in NOT_SESSION_FILES)


def _read_raw(path: Path) -> pd.DataFrame:
    """One raw file as text columns named by ``RAW_COLUMNS`` (extra and empty columns ignored)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False,
                     usecols=lambda c: c in RAW_COLUMNS, encoding="utf-8-sig")
    df = df.rename(columns=RAW_COLUMNS)
    for col in RAW_COLUMNS.values():
        if col not in df:
            df[col] = ""
        df[col] = df[col].str.strip()
    return df


def _parse(df: pd.DataFrame, source: str) -> pd.DataFrame:
    start = pd.to_datetime(df["start_date"] + " " + df["start_time"], format=RAW_DATETIME_FORMAT,
                           errors="coerce")
    end = pd.to_datetime(df["end_date"] + " " + df["end_time"], format=RAW_DATETIME_FORMAT,
                         errors="coerce")
    kw_by_model = {m: model_max_kw(m) for m in df["model"].unique()}
    return pd.DataFrame({
        "source": source,
        "cp": df["cp"],
        "connector": df["connector"],
        "event": df["event"],
        "start": start.astype("datetime64[us]"),
        "end": end.astype("datetime64[us]"),
        "kwh": pd.to_numeric(df["kwh"], errors="coerce").astype("float64"),
        "model": df["model"],
        "max_kw": df["model"].map(kw_by_model).astype("float64"),
    })


def _drop_reason(df: pd.DataFrame) -> pd.Series:
    """The first failed rule of ``DROP_REASONS`` per row ("" when the row is valid)."""
    hours = (df["end"] - df["start"]).dt.total_seconds() / 3600.0
    rules = {
        "missing_cp_id": df["cp"].eq(""),
        "bad_start": df["start"].isna(),
        "missing_end": df["end"].isna(),
        "missing_kwh": df["kwh"].isna(),
        "negative_kwh": df["kwh"] < 0,
        "end_not_after_start": hours <= 0,
        "over_48h": hours > MAX_DURATION_HOURS,
        "kwh_over_150": df["kwh"] > MAX_SESSION_KWH,
        "kwh_exceeds_power": df["kwh"] > df["max_kw"] * hours * POWER_TOLERANCE,
    }
    reason = pd.Series("", index=df.index, dtype=object)
    for name in reversed(list(rules)):  # the earliest rule written last wins
        reason = reason.mask(rules[name].fillna(False).astype(bool), name)
    return reason


def _session_ids(df: pd.DataFrame) -> pd.Series:
    """Dundee rows carry the council's event number; Perth rows are keyed by their natural key."""
    natural = (df["source"] + "-" + df["cp"] + "-" + df["connector"] + "-"
               + df["start"].dt.strftime("%Y%m%d%H%M"))
    by_event = df["source"] + "-" + df["event"]
    return by_event.where(df["event"].ne(""), natural)


def load_reference_sessions(raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and clean every Dundee and Perth session file.

    Returns ``(sessions, report)``. ``sessions`` has the session schema (``simulated`` False;
    ``start``/``end`` naive local time) plus ``source``, ``model``, ``max_kw`` and
    ``speed_class`` (see ``MODEL_KW_RULES``), sorted by source, device and start. ``report`` has
    one row per raw file and a total row per source and overall: ``rows_read``, one
    ``dropped_<reason>`` column per ``DROP_REASONS`` entry and ``rows_kept``; every row satisfies
    read = kept + dropped. Duplicates (same source, charge point, connector and start) are found
    across all files of a source, keeping the first in file order.
    """
    frames = []
    for source in REFERENCE_SOURCES:
        files = _session_files(raw_dir, source)
        if not files:
            folder = Path(raw_dir) / REFERENCE_SOURCES[source]
            raise FileNotFoundError(f"no session files in {folder}")
        for order, path in enumerate(files):
            parsed = _parse(_read_raw(path), source)
            parsed["file"] = path.name
            parsed["file_order"] = order
            parsed["row"] = np.arange(len(parsed))
            frames.append(parsed)
    rows = pd.concat(frames, ignore_index=True)
    rows["reason"] = _drop_reason(rows)
    valid = rows["reason"].eq("")
    key = ["source", "cp", "connector", "start"]
    ordered = rows[valid].sort_values([*key, "file_order", "row"], kind="stable")
    dupes = ordered.index[ordered.duplicated(key, keep="first")]
    rows.loc[dupes, "reason"] = "duplicate"

    report = _report(rows)
    kept = rows[rows["reason"].eq("")].copy()
    kept["device_id"] = kept["source"] + "-" + kept["cp"]
    kept["session_id"] = _session_ids(kept)
    kept["simulated"] = False
    kept["speed_class"] = [schema.speed_class(kw) for kw in kept["max_kw"]]
    kept = kept.sort_values(["source", "device_id", "start", "connector"], kind="stable")
    sessions = kept[list(REFERENCE_COLUMNS)].reset_index(drop=True)
    sessions["session_id"] = sessions["session_id"].astype("string")
    for col in ("device_id", "source", "model", "speed_class"):
        sessions[col] = sessions[col].astype("string")
    return sessions, report


def _report(rows: pd.DataFrame) -> pd.DataFrame:
    counts = (rows.assign(n=1)
              .pivot_table(index=["source", "file"], columns="reason", values="n", aggfunc="sum",
                           fill_value=0, sort=False))
    report = pd.DataFrame(index=counts.index)
    report["rows_read"] = counts.sum(axis=1)
    for reason in DROP_REASONS:
        report[f"dropped_{reason}"] = counts[reason] if reason in counts else 0
    report["rows_kept"] = counts[""] if "" in counts else 0
    report = report.reset_index()
    totals = [report]
    for source, part in report.groupby("source", sort=False):
        totals.append(part.drop(columns=["source", "file"]).sum().to_frame().T
                      .assign(source=source, file="(all files)"))
    totals.append(report.drop(columns=["source", "file"]).sum().to_frame().T
                  .assign(source="(all sources)", file="(all files)"))
    out = pd.concat(totals, ignore_index=True)
    count_cols = [c for c in out.columns if c not in ("source", "file")]
    out[count_cols] = out[count_cols].astype("int64")
    return out[["source", "file", *count_cols]]


def write_reference(raw_dir: Path, out_dir: Path) -> dict:
    """Pipeline step: write ``reference_sessions.parquet`` and ``reference_sessions_report.csv``.

    The Parquet holds only the session schema plus ``source``, ``max_kw`` and ``speed_class``
    (the charger model text is summarised in the report's method notes), zstd-compressed, and
    byte-identical across runs. Returns a small summary for the pipeline log.
    """
    sessions, report = load_reference_sessions(raw_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = [*schema.SESSION_COLUMNS, "source", "max_kw", "speed_class"]
    table = pa.Table.from_pandas(sessions[keep], preserve_index=False)
    table = table.replace_schema_metadata(None)
    for name in ("source", "speed_class"):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(name).dictionary_encode())
    _write_parquet(table, schema.reference_sessions_path(out_dir),
                   delta=("session_id", "start", "end"))
    report.to_csv(report_path(out_dir), index=False, lineterminator="\n")
    total = report.iloc[-1]
    return {"rows_read": int(total["rows_read"]), "rows_kept": int(total["rows_kept"]),
            "devices": int(sessions["device_id"].nunique())}


def report_path(data_dir: Path) -> Path:
    return Path(data_dir) / "reference_sessions_report.csv"


def _write_parquet(table: pa.Table, path: Path, delta: tuple[str, ...] = (),
                   level: int = 9) -> None:
    """Atomic, deterministic zstd Parquet write.

    Columns in ``delta`` (sorted or nearly sorted integers and timestamps, or strings sharing
    prefixes) use delta encodings, which are several times smaller than dictionaries for them.
    """
    path = Path(path)
    text = (pa.types.is_string, pa.types.is_large_string)
    encodings = {c: "DELTA_BYTE_ARRAY" if any(t(table.schema.field(c).type) for t in text)
                 else "DELTA_BINARY_PACKED" for c in delta}
    dictionary = [c for c in table.column_names if c not in encodings]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=level,
                   row_group_size=1 << 20, use_dictionary=dictionary,
                   column_encoding=encodings or None, write_statistics=True)
    os.replace(tmp, path)


def dataset_rows() -> list[dict]:
    """Source manifest rows (``schema.DATASET_COLUMNS``) for the two real session datasets."""
    common = {
        "licence": "OGL v3.0",
        "geography": "Individual public charge points",
        "used_for": "Reference sessions resampled into the simulated London usage",
        "method_notes": (
            "Cleaned by dashboard.data.usage: rows without charge point, end or energy, ending at or "
            f"before their start, longer than {MAX_DURATION_HOURS:g} h, over "
            f"{MAX_SESSION_KWH:g} kWh, or with more energy than the rated power allows "
            f"(x{POWER_TOLERANCE:g}) are dropped, as are repeated rows for the same charge point, "
            "connector and start; power class from the charger model text (7 kW slow; 22 kW and "
            "semi-rapid fast; rapid and 50 kW rapid). Counts per file in "
            "reference_sessions_report.csv."
        ),
    }
    return [
        {
            "dataset_id": "sessions-dundee",
            "title": "Dundee City Council electric vehicle charging sessions",
            "publisher": "Dundee City Council",
            "attribution": "Contains public sector information licensed under the Open "
                           "Government Licence v3.0 (Dundee City Council).",
            "period": "September 2017 to September 2018",
            "official_url": "https://data.dundeecity.gov.uk/dataset/ev-charging-data",
            "raw_folder": REFERENCE_SOURCES["dundee"],
            **common,
        },
        {
            "dataset_id": "sessions-perth",
            "title": "Perth & Kinross Council electric vehicle charging sessions",
            "publisher": "Perth & Kinross Council",
            "attribution": "Contains public sector information licensed under the Open "
                           "Government Licence v3.0 (Perth & Kinross Council).",
            "period": "September 2016 to August 2019",
            "official_url": "https://data.pkc.gov.uk/dataset/ev-charging-data",
            "raw_folder": REFERENCE_SOURCES["perth"],
            **common,
        },
    ]


# Ward demand factor ------------------------------------------------------------------------------
def demand_factor(indicators: pd.DataFrame | None, indicator_id: str = DEMAND_INDICATOR
                  ) -> pd.Series:
    """Relative charging demand per ward, indexed by ward (2022) code.

    From the latest period of ``indicator_id`` (licensed plug-in vehicles per public charge
    device): each ward's value divided by London's value for the same period (layer "london";
    the median over wards if London's is missing), then clipped to ``DEMAND_CLIP`` (0.25 to 4).
    London's ratio is total vehicles over total devices, i.e. the ward ratios averaged with
    each ward weighted by its devices, so before clipping the factor averages 1 over London's
    devices and the simulated London total stays anchored to the reference busyness; clipping
    keeps a ward with one device and hundreds of vehicles from dominating. Wards without a
    finite value (no public device in the indicator's source) are left out: ``simulate`` gives
    them 1. If the indicator is missing the result is empty (factor 1 everywhere) and a warning
    is logged.
    """
    empty = pd.Series(dtype="float64", name="demand_factor")
    empty.index.name = "ward2022_code"
    rows = (indicators[indicators["indicator_id"] == indicator_id]
            if indicators is not None and not indicators.empty else None)
    wards = rows[rows["layer"] == DEMAND_LAYER] if rows is not None else None
    if wards is None or wards.empty:
        log.warning("indicator %r not found at %s level: ward demand factor is 1 everywhere",
                    indicator_id, DEMAND_LAYER)
        return empty
    period = wards["period"].max()
    values = pd.to_numeric(wards[wards["period"] == period].set_index("code")["value"],
                           errors="coerce").astype("float64")
    values = values[np.isfinite(values) & (values >= 0)].sort_index()
    london = pd.to_numeric(rows.loc[(rows["layer"] == "london") & (rows["period"] == period),
                                    "value"], errors="coerce")
    scale = float(london.iloc[0]) if len(london) and london.iloc[0] > 0 else values.median()
    if values.empty or not scale > 0:
        log.warning("indicator %r has no usable ward values: demand factor is 1 everywhere",
                    indicator_id)
        return empty
    factor = (values / scale).clip(*DEMAND_CLIP)
    factor.index.name = "ward2022_code"
    return factor.rename("demand_factor")


# Fitting the reference ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassModel:
    """What the reference says about one power class.

    A device's mean sessions per day follows a gamma distribution (``rate_shape``,
    ``rate_scale``) fitted by moments to the mean rates of the class's reference devices (each
    over its observed window, first to last session day); ``max_rate`` is the busiest reference
    device's rate; ``mean_hours`` is the mean plug-in duration. The device's mean is multiplied
    by ``weekday_factor`` (Monday first, averaging 1); the day-to-day variation around it is
    gamma-Poisson (negative binomial) with shape ``day_shape`` (``inf``: plain Poisson), fitted
    by moments to the reference device-days.
    Sessions are drawn whole from the pool (start time of day, plug-in duration, kWh), which is
    sorted by weekday with ``offsets[w]:offsets[w + 1]`` holding weekday ``w``: sampling within
    a weekday reproduces the joint weekday x hour distribution and keeps the link between start
    hour, duration and energy.
    """

    name: str
    devices: int
    sessions: int
    mean_rate: float
    max_rate: float
    mean_hours: float
    rate_shape: float
    rate_scale: float
    weekday_factor: np.ndarray
    day_shape: float
    time_of_day_s: np.ndarray
    duration_s: np.ndarray
    kwh: np.ndarray
    offsets: np.ndarray


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 for datetime64[D] values (1970-01-01 was a Thursday)."""
    return (days.astype("int64") + 3) % 7


def _fit_class(name: str, ref: pd.DataFrame) -> ClassModel:
    start = ref["start"].to_numpy("datetime64[s]")
    end = ref["end"].to_numpy("datetime64[s]")
    day = start.astype("datetime64[D]")
    weekday = _weekday(day)

    # Device busyness over each device's observed window (first to last session day).
    dev_codes, dev = np.unique(ref["device_id"].to_numpy(str), return_inverse=True)
    first = np.full(len(dev_codes), np.iinfo(np.int64).max)
    last = np.full(len(dev_codes), np.iinfo(np.int64).min)
    day_i = day.astype("int64")
    np.minimum.at(first, dev, day_i)
    np.maximum.at(last, dev, day_i)
    window = last - first + 1
    usable = window >= MIN_ACTIVE_DAYS
    if not usable.any():
        usable = window == window.max()
    dev_rate = np.where(usable, np.bincount(dev, minlength=len(dev_codes)) / window, 0.0)
    rates = dev_rate[usable]
    mean_rate = float(rates.mean())
    var = float(rates.var(ddof=1)) if rates.size > 1 else 0.0
    rate_shape = mean_rate**2 / var if var > 0 else 1e6
    rate_scale = mean_rate / rate_shape

    # Device-days: every day of every usable device's window, with its session count.
    keep = usable[dev]
    grid_dev = np.repeat(np.flatnonzero(usable), window[usable])
    grid_day = (np.concatenate([np.arange(a, b + 1) for a, b in zip(first[usable], last[usable])])
                if usable.any() else np.zeros(0, np.int64))
    grid_wd = (grid_day + 3) % 7
    base = np.zeros(len(dev_codes), np.int64)
    base[usable] = np.concatenate([[0], np.cumsum(window[usable])[:-1]])
    cell = base[dev[keep]] + (day_i[keep] - first[dev[keep]])
    counts = np.bincount(cell, minlength=grid_day.size)

    sessions_wd = np.bincount(grid_wd, weights=counts, minlength=7)
    days_wd = np.bincount(grid_wd, minlength=7)
    overall = counts.sum() / max(grid_day.size, 1)
    weekday_factor = np.where(days_wd > 0, sessions_wd / np.maximum(days_wd, 1), overall)
    weekday_factor = weekday_factor / overall if overall > 0 else np.ones(7)

    expected = dev_rate[grid_dev] * weekday_factor[grid_wd]
    excess = ((counts - expected) ** 2 - expected).sum()
    day_shape = float((expected**2).sum() / excess) if excess > 0 else float("inf")

    order = np.argsort(weekday, kind="stable")
    tod = (start - day.astype("datetime64[s]")).astype("int64")
    duration = (end - start).astype("int64")
    offsets = np.searchsorted(weekday[order], np.arange(8))
    return ClassModel(
        name=name, devices=int(usable.sum()), sessions=len(ref), mean_rate=mean_rate,
        max_rate=float(rates.max()), mean_hours=float(duration.mean() / 3600),
        rate_shape=float(rate_shape), rate_scale=float(rate_scale),
        weekday_factor=weekday_factor, day_shape=day_shape,
        time_of_day_s=tod[order].astype("int32"), duration_s=duration[order].astype("int32"),
        kwh=ref["kwh"].to_numpy("float64")[order], offsets=offsets.astype("int64"),
    )


def fit_reference(reference: pd.DataFrame) -> dict[str, ClassModel]:
    """One ``ClassModel`` per power class with at least ``MIN_CLASS_SESSIONS`` sessions."""
    models = {}
    for name in schema.SPEED_CLASSES:
        part = reference[reference["speed_class"] == name]
        if len(part) >= MIN_CLASS_SESSIONS:
            models[name] = _fit_class(name, part)
    if not models:
        raise ValueError("the reference sessions hold no power class with enough sessions")
    return models


def class_mapping(models: dict[str, ClassModel]) -> dict[str, str]:
    """The reference class each device class samples from (see ``CLASS_FALLBACK``)."""
    fallback = next(iter(models))
    return {c: next((m for m in CLASS_FALLBACK[c] if m in models), fallback)
            for c in schema.SPEED_CLASSES}


# Simulation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Devices:
    ids: np.ndarray          # device_id, sorted
    cls: np.ndarray          # index into the list of fitted classes
    kw: np.ndarray           # rated kW, NaN when unknown
    installed_s: np.ndarray  # seconds since 1970 (naive local time); int64 min when unknown
    rate: np.ndarray         # mean sessions per day (before the weekday factor)


def _prepare_devices(devices: pd.DataFrame, models: dict[str, ClassModel],
                     demand: pd.Series | None, seed: int, scale: float) -> _Devices:
    dev = devices.drop_duplicates("device_id").sort_values("device_id", kind="stable")
    kw = pd.to_numeric(dev["max_kw"], errors="coerce").to_numpy("float64")
    kw = np.where(kw > 0, kw, np.nan)
    if "speed_class" in dev:
        classes = dev["speed_class"].fillna("unknown").astype(str).to_numpy()
    else:
        classes = np.array([schema.speed_class(k) for k in kw])
    mapping = class_mapping(models)
    names = list(models)
    cls = np.array([names.index(mapping.get(c, mapping["unknown"])) for c in classes], np.int64)

    installed = pd.to_datetime(dev["installed"], errors="coerce") if "installed" in dev else None
    installed_s = np.full(len(dev), np.iinfo(np.int64).min, np.int64)
    if installed is not None:
        known = installed.notna().to_numpy()
        installed_s[known] = (installed[known].to_numpy("datetime64[s]").astype("int64"))

    factor = np.ones(len(dev))
    if demand is not None and len(demand) and "ward2022_code" in dev:
        factor = dev["ward2022_code"].map(demand).fillna(1.0).to_numpy("float64")

    connectors = np.ones(len(dev))
    if "connectors" in dev:
        connectors = pd.to_numeric(dev["connectors"], errors="coerce").fillna(1).clip(lower=1)
        connectors = connectors.to_numpy("float64")

    rng = np.random.default_rng([seed, 0])
    shape = np.array([models[n].rate_shape for n in names])[cls]
    spread = np.array([models[n].rate_scale for n in names])[cls]
    busiest = np.array([models[n].max_rate for n in names])[cls]
    hours = np.array([models[n].mean_hours for n in names])[cls]
    occupancy = MAX_OCCUPANCY * 24.0 * connectors / hours
    rate = np.minimum(rng.gamma(shape, spread) * factor, np.minimum(busiest, occupancy)) * scale
    return _Devices(ids=dev["device_id"].astype(str).to_numpy(), cls=cls, kw=kw,
                    installed_s=installed_s, rate=rate)


def _month_starts(start: str, months: int) -> np.ndarray:
    first = np.datetime64(pd.Timestamp(start).strftime("%Y-%m"), "M")
    return first + np.arange(months + 1)


def _simulate_month(models: list[ClassModel], dev: _Devices, month: np.datetime64,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    days = np.arange(month.astype("datetime64[D]"), (month + 1).astype("datetime64[D]"))
    day_start = days.astype("datetime64[s]").astype("int64")
    weekday = _weekday(days)
    wd_factor = np.stack([m.weekday_factor for m in models])          # classes x 7
    day_shape = np.array([m.day_shape for m in models])

    mean = dev.rate[:, None] * wd_factor[dev.cls][:, weekday]
    mean *= day_start[None, :] >= dev.installed_s[:, None]
    k = day_shape[dev.cls][:, None]
    finite = np.isfinite(k)
    noise = rng.gamma(np.where(finite, k, 1.0), 1.0 / np.where(finite, k, 1.0), size=mean.shape)
    counts = rng.poisson(np.where(finite, mean * noise, mean))

    cell = np.repeat(np.arange(counts.size), counts.ravel())
    d, t = np.divmod(cell, len(days))
    cls = dev.cls[d]
    wd = weekday[t]
    pools = np.cumsum([0] + [m.kwh.size for m in models])
    lo = np.stack([m.offsets[:-1] for m in models]) + pools[:-1, None]  # classes x 7
    n = np.stack([np.diff(m.offsets) for m in models])
    empty = n == 0
    lo = np.where(empty, pools[:-1, None], lo)
    n = np.where(empty, np.diff(pools)[:, None], n)
    j = lo[cls, wd] + (rng.random(cell.size) * n[cls, wd]).astype("int64")

    tod = np.concatenate([m.time_of_day_s for m in models]).astype("int64")[j]
    duration = np.concatenate([m.duration_s for m in models]).astype("int64")[j]
    kwh = np.concatenate([m.kwh for m in models])[j]
    kw = dev.kw[d]
    cap = kw * duration / 3600.0
    kwh = np.where(np.isfinite(cap) & (kwh > cap), cap, kwh)
    start = day_start[t] + tod

    order = np.lexsort((j, d, start))
    return {"device": d[order], "start_s": start[order], "duration_s": duration[order],
            "kwh": kwh[order]}


def _to_table(chunk: dict[str, np.ndarray], ids: pa.Array, first_id: int) -> pa.Table:
    n = chunk["start_s"].size
    start = chunk["start_s"] * 1_000_000
    end = (chunk["start_s"] + chunk["duration_s"]) * 1_000_000
    return pa.table({
        "session_id": pa.array(np.arange(first_id, first_id + n, dtype="int64")),
        "device_id": pa.DictionaryArray.from_arrays(
            pa.array(chunk["device"].astype("int32")), ids),
        "start": pa.array(start, pa.timestamp("us")),
        "end": pa.array(end, pa.timestamp("us")),
        "kwh": pa.array(chunk["kwh"], pa.float64()),
        "simulated": pa.array(np.ones(n, bool)),
    })


def iter_simulation(devices: pd.DataFrame, reference: pd.DataFrame,
                    demand: pd.Series | None = None, start: str = SIM_START,
                    months: int = SIM_MONTHS, seed: int = Config.sim_seed,
                    scale: float = 1.0) -> Iterator[tuple[str, pa.Table]]:
    """Simulated sessions month by month: yields ``("YYYY-MM", table)`` in time order.

    Memory stays proportional to one month of sessions whatever ``scale``. See ``simulate``.
    """
    models = fit_reference(reference)
    dev = _prepare_devices(devices, models, demand, seed, scale)
    model_list = list(models.values())
    ids = pa.array(dev.ids, pa.string())
    next_id = 1
    starts = _month_starts(start, months)
    for i, month in enumerate(starts[:-1]):
        rng = np.random.default_rng([seed, 1, i])
        chunk = _simulate_month(model_list, dev, month, rng)
        table = _to_table(chunk, ids, next_id)
        next_id += table.num_rows
        yield str(month), table


def simulate(devices: pd.DataFrame, reference: pd.DataFrame, demand: pd.Series | None = None,
             start: str = SIM_START, months: int = SIM_MONTHS, seed: int = Config.sim_seed,
             scale: float = 1.0) -> pd.DataFrame:
    """SIMULATED sessions (session schema, ``simulated`` True) for every device, sorted by start.

    For each device (``schema.CHARGEPOINT_COLUMNS``; ``device_id``, ``max_kw``, ``speed_class``,
    ``ward2022_code`` and ``installed`` are used):

    - its power class picks the reference sessions it resamples (``CLASS_FALLBACK``: the
      reference has no ultra-rapid chargers, so ``ultra`` uses ``rapid``; ``unknown`` uses
      ``slow``; any class missing from ``reference`` uses the nearest one present);
    - its mean sessions per day is drawn from the class's fitted gamma distribution, multiplied by
      the ward ``demand`` factor (``demand_factor``; 1 where missing), capped at the busiest
      reference device of the class and at ``MAX_OCCUPANCY`` of its connector-hours (from the
      class's mean plug-in duration and the device's ``connectors``, 1 when unknown), then
      multiplied by ``scale``;
    - each day (``months`` whole months from the month of ``start``; only days starting at or
      after installation) gets a negative-binomial count around that mean
      times the class's weekday factor;
    - each session is a whole reference session of the class starting on the same weekday: its
      time of day, plug-in duration and kWh travel together, and the kWh is capped at the device's
      rated kW x plug-in hours (a lower-rated device cannot deliver more; a higher-rated one is
      given the same energy, as the vehicle, not the charger, limits it).

    Everything is vectorised per month and deterministic: the same inputs and ``seed`` give an
    identical frame; ``session_id`` counts from 1 in start order.
    """
    tables = [t for _, t in iter_simulation(devices, reference, demand, start, months, seed,
                                            scale)]
    if not tables:
        return _empty_sessions()
    frame = pa.concat_tables(tables).to_pandas()
    frame["device_id"] = frame["device_id"].astype("string")
    return frame


def _empty_sessions() -> pd.DataFrame:
    return pd.DataFrame({
        "session_id": pd.Series(dtype="int64"), "device_id": pd.Series(dtype="string"),
        "start": pd.Series(dtype="datetime64[us]"), "end": pd.Series(dtype="datetime64[us]"),
        "kwh": pd.Series(dtype="float64"), "simulated": pd.Series(dtype="bool"),
    })


# The simulation cache ----------------------------------------------------------------------------
MANIFEST = "manifest.json"


def sessions_dir(config) -> Path:
    """Where the simulation for ``config``'s seed and scale lives (under ``config.cache_dir``)."""
    return Path(config.cache_dir) / f"sessions-seed{config.sim_seed}-x{config.sim_scale:g}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (files may be larger than memory should hold)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_demand(data_dir: Path) -> pd.Series:
    path = schema.indicators_path(data_dir)
    if not path.exists():
        log.warning("%s not found: ward demand factor is 1 everywhere", path)
        return pd.Series(dtype="float64", name="demand_factor")
    indicators = pd.read_parquet(path, filters=[("indicator_id", "==", DEMAND_INDICATOR)])
    return demand_factor(indicators)


def fingerprint(config, demand: pd.Series) -> str:
    """Hash of everything the simulation depends on: input files, demand, seed, scale, method."""
    data_dir = Path(config.data_dir)
    digest = hashlib.sha256()
    parts = {
        "version": SIMULATION_VERSION, "start": SIM_START, "months": SIM_MONTHS,
        "seed": int(config.sim_seed), "scale": float(config.sim_scale),
        "chargepoints": file_sha256(schema.chargepoints_path(data_dir)),
        "reference": file_sha256(schema.reference_sessions_path(data_dir)),
        "demand": hashlib.sha256(demand.to_json().encode()).hexdigest(),
    }
    digest.update(json.dumps(parts, sort_keys=True).encode())
    return digest.hexdigest()


def read_manifest(path: Path) -> dict | None:
    """The manifest of a simulation cache folder, or None if it is absent or unreadable."""
    try:
        return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def file_lock(lock_path: Path):
    """An exclusive ``flock`` on ``lock_path`` (created if needed), shared by all processes."""
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_sessions(config) -> Path:
    """The folder of simulated sessions for ``config``, generated only when needed.

    The folder ``<cache_dir>/sessions-seed<seed>-x<scale>/`` holds one Parquet file per month
    (``YYYY-MM.parquet``, sorted by start, so DuckDB prunes by time from row-group statistics)
    and ``manifest.json`` (fingerprint, row count, period, timings). It is reused while its
    fingerprint matches the inputs (``chargepoints.parquet``, ``reference_sessions.parquet``,
    the ward demand factor, seed, scale and ``SIMULATION_VERSION``); otherwise it is regenerated
    into a temporary folder and renamed into place. An exclusive ``flock`` on
    ``<cache_dir>/sessions.lock`` makes concurrent starters (several gunicorn workers) wait for one
    generation instead of racing.
    """
    data_dir = Path(config.data_dir)
    for needed in (schema.chargepoints_path(data_dir), schema.reference_sessions_path(data_dir)):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing: run `python -m dashboard.pipeline`")
    target = sessions_dir(config)
    demand = _load_demand(data_dir)
    expected = fingerprint(config, demand)
    if (read_manifest(target) or {}).get("fingerprint") == expected:
        return target

    cache_dir = Path(config.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(cache_dir / "sessions.lock"):
        if (read_manifest(target) or {}).get("fingerprint") == expected:
            return target
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
        tmp.chmod(0o755)
        try:
            manifest = _generate(config, demand, tmp)
            manifest.update(fingerprint=expected,
                            generated_seconds=round(time.perf_counter() - t0, 2))
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True),
                                        encoding="utf-8")
            old = None
            if target.exists():
                old = cache_dir / f".old-{target.name}-{os.getpid()}"
                os.rename(target, old)
            os.rename(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        log.info("simulated %s sessions in %.1f s into %s", f"{manifest['rows']:,}",
                 manifest["generated_seconds"], target)
    return target


def _generate(config, demand: pd.Series, folder: Path) -> dict:
    data_dir = Path(config.data_dir)
    devices = pd.read_parquet(schema.chargepoints_path(data_dir))
    reference = pd.read_parquet(schema.reference_sessions_path(data_dir))
    rows, per_month = 0, {}
    for month, table in iter_simulation(devices, reference, demand, seed=config.sim_seed,
                                        scale=config.sim_scale):
        _write_parquet(table, folder / f"{month}.parquet", delta=("session_id", "start"), level=3)
        rows += table.num_rows
        per_month[month] = table.num_rows
    models = fit_reference(reference)
    mapping = class_mapping(models)
    return {
        "simulated": True,
        "rows": rows,
        "devices": int(devices["device_id"].nunique()),
        "start": SIM_START,
        "months": SIM_MONTHS,
        "end_exclusive": str(_month_starts(SIM_START, SIM_MONTHS)[-1].astype("datetime64[D]")),
        "seed": int(config.sim_seed),
        "scale": float(config.sim_scale),
        "version": SIMULATION_VERSION,
        "rows_per_month": per_month,
        "class_mapping": mapping,
        "reference_classes": {
            name: {"devices": m.devices, "sessions": m.sessions,
                   "mean_sessions_per_device_day": round(m.mean_rate, 3)}
            for name, m in models.items()
        },
        "demand_indicator": DEMAND_INDICATOR,
        "demand_wards": int(len(demand)),
    }
