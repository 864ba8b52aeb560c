"""The EV charging page's numbers: devices, simulated usage and DfT series for a filter state.

Reads through the store only and returns plain data (frames, dataclasses, text) that the page
and ``dashboard.figures.ev`` turn into components. Every ratio comes from ``dashboard.domain.metrics``
applied to summed totals; every number says where it comes from:

- devices "on the map" come from the device table (the DfT registry to February 2022, with Open
  Charge Map's central London 2025 and Lewisham's 2022 locations added, so newer devices appear
  only in central London; see ``dashboard.domain.coverage``);
- public devices, plug-in vehicles and the rates built on them come from the DfT series;
- sessions, energy and utilisation are SIMULATED.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Callable, Hashable, Mapping
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pandas as pd

from dashboard.domain import filters
from dashboard.domain import metrics
from dashboard.data import schema
from dashboard.domain.export import ExportMeta
from dashboard.core.served import Packed, add_json_route, json_file
from dashboard.figures import MapValues, fit_extent
from dashboard.core.memo import derived
from dashboard.figures.ev import device_points
from dashboard.domain.state import FilterState, Known
from dashboard.data.store import USAGE_COLUMNS
from dashboard.domain.text import NO_DATA, fmt_month, fmt_number, fmt_pct, fmt_period

DEFAULT_MEASURE = "devices_per_100k"
FREQS = {"month": "Month", "week": "Week"}
DEFAULT_FREQ = "month"
PAGE_SIZE = 15
TOP_OPERATORS = 12
DFT_YEAR, DFT_QUARTER, CENSUS = "2024", "2024Q2", "Census 2021"

DEVICE_TABLE_SOURCE = ("device table: DfT National Chargepoint Registry (to February 2022) with "
                       "Open Charge Map (central London, 2025) and LB Lewisham (2022)")
SOURCES = (
    "Charge devices: DfT National Chargepoint Registry (to February 2022, OGL v3.0), with "
    "locations added from Open Charge Map (central London, 2025) and LB Lewisham (2022) "
    "(CC BY-SA 4.0); newer devices appear only in central London",
    "Public charge devices and licensed plug-in vehicles: DfT / OZEV statistics (OGL v3.0)",
    "Residents: ONS Census 2021 (OGL v3.0)",
    "Usage: SIMULATED from real Dundee and Perth charging sessions (OGL v3.0)",
)
NO_DEVICES = "No charge devices match these filters"

# What the breakdown bars can show: (label, axis title, percent, decimals, simulated).
BREAKDOWN_METRICS = {
    "sessions_per_device_day": ("Sessions per device per day", "sessions per device per day",
                                False, 2, True),
    "time_utilisation": ("Time-based utilisation", "time-based utilisation (%)", True, 1, True),
    "sessions": ("Sessions", "sessions", False, 0, True),
    "kwh": ("Energy delivered", "kWh", False, 0, True),
    "devices": ("Charge devices on the map", "devices", False, 0, False),
}
DEFAULT_BREAKDOWN = "sessions_per_device_day"

# Device table: sort key -> (heading, numeric).
TABLE_COLUMNS = {
    "name": ("Device", False),
    "ward": ("Ward", False),
    "speed": ("Speed", False),
    "operator": ("Operator", False),
    "sessions": ("Sessions", True),
    "kwh": ("Energy (kWh)", True),
    "time_utilisation": ("Time-based utilisation", True),
}
DEFAULT_SORT = ("sessions", True)
SPEED_SHORT = {"slow": "Slow", "fast": "Fast", "rapid": "Rapid", "ultra": "Ultra-rapid",
               "unknown": "Not published"}
SHOW = {"all": "All devices", "unused": "Only devices with no sessions in the period"}


# Results kept per worker ------------------------------------------------------------------------
class Results:
    """A small, bounded, thread-safe cache of results keyed by a filter state (least recently
    used first out), one per worker process.

    The data only changes when the app restarts (a new simulation or pipeline run means a new
    process), so entries never go stale; the bound keeps memory flat. ``size`` 0 keeps nothing.
    Two threads asking for the same missing key may both compute it; the second result wins.
    """

    def __init__(self, size: int):
        self.size = max(0, int(size))
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, make: Callable[[], object]):
        if self.size == 0:
            return make()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


_RESULTS: dict[str, Results] = {}
_RESULTS_LOCK = threading.Lock()


def results(name: str, size: int) -> Results:
    """The cache called ``name`` of this process, made with ``size`` entries on first use."""
    with _RESULTS_LOCK:
        found = _RESULTS.get(name)
        if found is None or found.size != max(0, int(size)):
            found = _RESULTS[name] = Results(size)
        return found


# Devices -----------------------------------------------------------------------------------------
# Group keys: each device carries integer codes for the groups the page sums over, so that sums
# per speed class, operator or ward are ``np.bincount`` calls rather than pandas group-bys.
GROUPS = {"speed_class": "speed_k", "operator": "operator_k", "ward2022_code": "ward_k"}


@dataclass(frozen=True)
class Devices:
    """Every charge device (``schema.CHARGEPOINT_COLUMNS``) in ``frame``, sorted by device id,
    with ``i`` (its row: the key sent to the browser in map customdata and table buttons), the
    group codes of ``GROUPS``, and ``ward_name`` (2022). ``keys[column]`` lists the value of
    each code; ``arrays`` holds every column of ``frame`` as a NumPy array, and ``ranks`` the
    order of the device table's text columns (``TEXT_SORTS``) as numbers, so that a view of
    the devices can pick and sort rows without building frames."""
    frame: pd.DataFrame
    keys: Mapping[str, np.ndarray]
    arrays: Mapping[str, np.ndarray]
    ranks: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.frame)


# How the device table sorts its text columns: by these columns' values ignoring case (a missing
# name or operator sorts as empty text), speeds from slow to ultra-rapid.
TEXT_SORTS = {"name": "name", "ward": "ward_name", "operator": "operator"}


def _ranks(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for key, column in TEXT_SORTS.items():
        text = np.array([str(v).casefold() if isinstance(v, str) else ""
                         for v in frame[column]], dtype=object)
        out[key] = np.unique(text, return_inverse=True)[1].astype("f8")
    order = {s: float(i) for i, s in enumerate(schema.SPEED_CLASSES)}
    out["speed"] = np.array([order.get(s, np.nan) for s in frame["speed_class"]], dtype="f8")
    return out


@lru_cache(maxsize=4)
def all_devices(store) -> Devices:
    """The device table, read once per process (see ``Devices``)."""
    frame = store.devices(extra=tuple(c for _, c, _ in schema.DEVICE_FILTERS)).reset_index(
        drop=True)
    for column in ("device_id", "name", "borough_code", "ward2022_code", "ward2011_code",
                   "speed_class", "operator", "source"):
        frame[column] = frame[column].astype(object)
    frame["operator"] = frame["operator"].where(frame["operator"].notna(), "Unknown")
    frame.insert(0, "i", np.arange(len(frame), dtype="int32"))
    keys = {}
    for column, code in GROUPS.items():
        if column == "speed_class":
            uniques = np.array(schema.SPEED_CLASSES, dtype=object)
            frame[code] = frame[column].map({s: k for k, s in enumerate(uniques)}).fillna(
                len(uniques) - 1).astype("int32")
        else:
            codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
            frame[code] = codes.astype("int32")
        keys[column] = np.asarray(uniques, dtype=object)
    wards = store.layer_table("ward2022")
    names = dict(zip(wards["code"], wards["name"]))
    frame["ward_name"] = [names.get(c, "") for c in frame["ward2022_code"]]
    arrays = {c: frame[c].to_numpy() for c in frame.columns}
    arrays["max_kw"] = frame["max_kw"].to_numpy(dtype="f8", na_value=np.nan)
    return Devices(frame, keys, arrays, _ranks(frame))


def selected(devices: Devices, state: FilterState) -> np.ndarray:
    """Which devices (a mask in device order) a state selects: place, speeds, operators and the
    device filters (status, street, location type, install year); the period does not matter."""
    a = devices.arrays
    keep = np.ones(len(devices), dtype=bool)
    if state.borough:
        keep &= a["borough_code"] == state.borough
    if state.ward:
        keep &= a[f"{state.ward_layer}_code"] == state.ward
    if state.speeds:
        keep &= np.isin(a["speed_class"], list(state.speeds))
    if state.operators:
        keep &= np.isin(a["operator"], list(state.operators))
    for field, column, _ in schema.DEVICE_FILTERS:
        if getattr(state, field):
            keep &= np.isin(a[column], list(getattr(state, field)))
    return keep


def selected_rows(devices: Devices, state: FilterState) -> np.ndarray:
    """The rows (``i``) of the devices a state selects, in device-id order."""
    return np.flatnonzero(selected(devices, state))


def device_by_index(devices: Devices, index) -> pd.Series | None:
    """The device at row ``index`` (None for anything else)."""
    try:
        i = int(index)
    except (TypeError, ValueError):
        return None
    return devices.frame.iloc[i] if 0 <= i < len(devices) else None


def device_by_id(devices: Devices, device_id: str | None) -> pd.Series | None:
    """The device with this id (None if there is none)."""
    if not device_id:
        return None
    ids = devices.frame["device_id"].to_numpy()
    at = int(np.searchsorted(ids, device_id))
    return devices.frame.iloc[at] if at < len(ids) and ids[at] == device_id else None


MEASURE_COLUMNS = tuple(k for k in metrics.usage_metrics({}) if k not in USAGE_COLUMNS)


def with_measures(totals: pd.DataFrame) -> pd.DataFrame:
    """Rows of usage totals with the ratios of ``metrics.usage_metrics`` added as columns
    (float, NaN where a ratio has nothing to measure)."""
    columns = {c: totals[c].to_numpy() for c in totals.columns}
    measures = metrics.usage_metrics_columns(columns)
    return pd.DataFrame({**columns, **{c: measures[c] for c in MEASURE_COLUMNS}},
                        index=totals.index)


def group_totals(devices: Mapping, column: str, size: int) -> dict[str, np.ndarray]:
    """Usage totals (``USAGE_COLUMNS``), device counts ``n`` and measures per code of a
    ``GROUPS`` column, for ``size`` codes (zeros where a code has no device). ``devices``:
    columns by name (a frame, or ``View.columns``)."""
    codes = np.asarray(devices[GROUPS[column]])
    out = {c: np.bincount(codes, weights=np.asarray(devices[c], dtype="f8"), minlength=size)
           for c in USAGE_COLUMNS}
    out["n"] = np.bincount(codes, minlength=size)
    out.update(metrics.usage_metrics_columns(out))
    return out


def _sum(columns: Mapping) -> dict:
    """``USAGE_COLUMNS`` summed (missing values skipped)."""
    return {c: float(np.nansum(np.asarray(columns[c], dtype="f8"))) for c in USAGE_COLUMNS}


# The view of one state ---------------------------------------------------------------------------
class Columns(Mapping):
    """The selected devices' columns by name: usage (``View.usage``) or any column of the
    device table, picked for the selection when first asked for."""

    def __init__(self, view: "View"):
        self._view = view
        self._picked: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        view = self._view
        if name in view.usage:
            return view.usage[name]
        if name not in self._picked:
            self._picked[name] = view.every.arrays[name][view.rows]
        return self._picked[name]

    def __iter__(self):
        return iter((*self._view.every.arrays, *self._view.usage))

    def __len__(self) -> int:
        return len(self._view.every.arrays) + len(self._view.usage)


@dataclass(frozen=True, eq=False)
class View:
    """The selected devices of one state with their usage in its period, and the totals.

    ``rows``: the selected devices' positions in ``every`` (device-id order); ``usage``: their
    ``USAGE_COLUMNS`` and ``MEASURE_COLUMNS`` in the period, as arrays in that order."""
    state: FilterState
    place: str
    period: str
    rows: np.ndarray
    usage: Mapping[str, np.ndarray]
    totals: dict            # USAGE_COLUMNS summed over the selection
    measures: dict          # metrics.usage_metrics(totals)
    every: Devices

    @property
    def keys(self) -> Mapping[str, np.ndarray]:
        """The values of the group codes (``Devices.keys``)."""
        return self.every.keys

    @property
    def size(self) -> int:
        """How many devices are selected."""
        return len(self.rows)

    @property
    def empty(self) -> bool:
        return len(self.rows) == 0

    @property
    def in_service(self) -> bool:
        """True when some selected device was installed before the period ended."""
        return self.totals["devices"] > 0

    @cached_property
    def columns(self) -> Columns:
        return Columns(self)

    @cached_property
    def devices(self) -> pd.DataFrame:
        """The selected devices (every column of the device table) with their usage, as a
        frame (for exports; the page's panels read ``columns``)."""
        frame = self.every.frame.iloc[self.rows].reset_index(drop=True)
        return pd.concat([frame, pd.DataFrame(dict(self.usage))], axis=1)


def build_view(store, state: FilterState, known: Known) -> View:
    """Select the devices and add their simulated usage in the period."""
    everything = all_devices(store)
    keep = selected(everything, state)
    rows = np.flatnonzero(keep)
    f = filters.usage_filter(state)
    usage = {c: np.zeros(0) for c in USAGE_COLUMNS}
    if len(rows):
        usage = store.usage_per_device(f, keep)
        if usage is None:  # not whole months: SQL, matched to the devices by id
            per = store.usage_by(f, "device_id")
            ids = everything.arrays["device_id"][rows]
            if not np.array_equal(per["device_id"].to_numpy(dtype=object), ids):
                per = pd.DataFrame({"device_id": ids}).merge(per, on="device_id", how="left")
            usage = {c: per[c].to_numpy(dtype="f8", na_value=0.0) for c in USAGE_COLUMNS}
    # The measures; sessions, kWh and plugged-in hours become NaN for a device not yet in
    # service in the period (nothing to count), which the totals skip.
    usage.update(metrics.usage_metrics_columns(usage))
    totals = _sum(usage)
    return View(state, filters.place_name(state, known),
                fmt_period(state.date_from, state.date_to), rows, usage, totals,
                metrics.usage_metrics(totals), everything)


@dataclass(frozen=True)
class Loaded:
    """A state's view, its usage series (``usage_series``) and its heat-map cells (None when
    no device is selected)."""
    view: View
    series: pd.DataFrame
    heat: pd.DataFrame | None


def load(store, state: FilterState, known: Known, freq: str) -> Loaded:
    """Everything a filter change needs from the store. For whole months (every period the
    page offers) these are array sums taking a few milliseconds each, so they run one after
    the other: threads would only contend for the interpreter."""
    view = build_view(store, state, known)  # selects the devices once, and their usage
    heat = None if view.empty else store.usage_heatmap(filters.usage_filter(state))
    return Loaded(view, usage_series(store, state, freq), heat)


def summary_text(view: View, known: Known) -> str:
    """One sentence saying what is selected, or that nothing is."""
    if view.empty:
        return (f"{NO_DEVICES} ({filters.describe(view.state, known)}). Try another ward, speed "
                "or operator.")
    n = view.size
    text = (f"{view.place}: {fmt_number(n)} charge device{'s' if n != 1 else ''} on the map "
            f"match these filters.")
    if not view.in_service:
        return text + f" None of them was in service by {fmt_month(view.state.date_to)}."
    return (text + f" Simulated usage, {view.period}: {fmt_number(view.totals['sessions'])} "
            f"sessions and {fmt_number(view.totals['kwh'])} kWh.")


# DfT and Census figures for the area -------------------------------------------------------------
@lru_cache(maxsize=128)
def _indicator(store, indicator_id: str, layer: str, period: str | None = None
               ) -> Mapping[str, float]:
    frame = store.indicator_values(indicator_id, layer, period)
    return dict(zip(frame["code"], frame["value"].astype(float)))


def area_key(state: FilterState, known: Known, layers: Mapping[str, pd.DataFrame]
             ) -> tuple[str, str, str]:
    """(indicator layer, code, name) holding the statistics of the area in view.

    A City of London ward reports under the City as a whole; the DfT series have no 2011 ward
    figures, so a 2011 ward reports under its borough.
    """
    if state.ward and state.ward_layer == "ward2022":
        stat_codes = derived(layers["ward2022"], "ev-stat-codes",
                             lambda t: dict(zip(t["code"].tolist(), t["stat_code"].tolist())))
        if state.ward in stat_codes:
            code = str(stat_codes[state.ward])
            if code == schema.CITY_CODE:
                return "ward2022", code, "City of London (all wards)"
            return "ward2022", code, filters.place_name(state, known)
    if state.borough:
        return "borough", state.borough, known.borough_name(state.borough)
    return "london", schema.LONDON_CODE, schema.LONDON_NAME


def dft_value(store, indicator_id: str, layer: str, code: str, period: str | None = None
              ) -> float | None:
    value = _indicator(store, indicator_id, layer, period).get(code)
    return None if value is None or not math.isfinite(value) else value


@dataclass(frozen=True)
class Kpi:
    """A headline figure: ``note`` depends on the selection (place, period, London beside it);
    ``source`` does not (where the number comes from, what it means)."""
    label: str
    value: str
    note: str
    source: str = ""
    simulated: bool = False


def _london(text: str, is_london: bool) -> str:
    return "" if is_london else f" London: {text}."


def supply_kpis(view: View, store, known: Known, layers) -> list[Kpi]:
    """Devices on the map and the DfT supply figures for the area, each with its source."""
    layer, code, area = area_key(view.state, known, layers)
    ldn = schema.LONDON_CODE
    rapid = metrics.count_rapid(view.columns["max_kw"])
    public = dft_value(store, "ev_public_devices", layer, code, DFT_YEAR)
    vehicles = dft_value(store, "ev_plugin_vehicles", layer, code, DFT_QUARTER)
    residents = dft_value(store, "usual_residents", layer, code)
    # Rapid devices are counted in the selected place, so a City ward (whose residents are
    # counted for the City as a whole) has no rate of its own.
    own_residents = residents if layer != "ward2022" or code == view.state.ward else None
    london_public = dft_value(store, "ev_public_devices", "london", ldn, DFT_YEAR)
    london_res = dft_value(store, "usual_residents", "london", ldn)
    london_veh = dft_value(store, "ev_plugin_vehicles", "london", ldn, DFT_QUARTER)
    is_london = layer == "london"
    quarter = DFT_QUARTER.replace("Q", " Q")
    london_rate = metrics.devices_per_100k(london_public, london_res)
    london_vpd = metrics.vehicles_per_device(london_veh, london_public)
    return [
        Kpi("Charge devices on the map", fmt_number(view.size),
            f"{view.place}, matching these filters.", f"Source: {DEVICE_TABLE_SOURCE}."),
        Kpi("Rapid and ultra-rapid devices on the map", fmt_number(rapid),
            f"{view.place}, matching these filters.",
            "Rated 50 kW or more, in the same device table."),
        Kpi("Public charge devices (DfT)", fmt_number(public),
            f"{area}.{_london(fmt_number(london_public), is_london)}",
            f"DfT / OZEV, {DFT_YEAR}; all speeds and operators."),
        Kpi("Public devices per 100,000 residents (DfT)",
            fmt_number(metrics.devices_per_100k(public, residents), 1),
            f"{area}.{_london(fmt_number(london_rate, 1), is_london)}",
            f"DfT devices {DFT_YEAR}; residents {CENSUS}."),
        Kpi("Rapid devices per 100,000 residents",
            fmt_number(metrics.rapid_devices_per_100k(rapid, own_residents), 1),
            f"{view.place}." if own_residents is not None else
            "Residents are counted for the City as a whole, not by ward.",
            f"Rapid and ultra-rapid devices on the map; residents {CENSUS}."),
        Kpi("Plug-in vehicles per public device (DfT)",
            fmt_number(metrics.vehicles_per_device(vehicles, public), 1),
            f"{area}.{_london(fmt_number(london_vpd, 1), is_london)}",
            f"DfT: licensed vehicles {quarter}, public devices {DFT_YEAR}."),
    ]


def usage_kpis(view: View) -> list[Kpi]:
    """Simulated usage figures for the selection and period ("no data" when there is none)."""
    m = view.measures
    when = view.period
    per_day = "Days counted from each device's installation."
    return [
        Kpi("Charging sessions", fmt_number(m["sessions"]), when, simulated=True),
        Kpi("Energy delivered", fmt_rate_kwh(m["kwh"]), when, simulated=True),
        Kpi("Sessions per device per day", fmt_number(m["sessions_per_device_day"], 2), when,
            per_day, True),
        Kpi("Energy per device per day", fmt_rate_kwh(m["kwh_per_device_day"], 1), when,
            per_day, True),
        Kpi("Idle plugged-in time (estimate)",
            fmt_pct(m["estimated_idle_share"], 0, fraction=True), when,
            "An estimate: assumes charging at full rated power; rated devices only.", True),
    ]


def utilisation_kpis(view: View) -> list[Kpi]:
    """Time- and energy-based utilisation, each with its one-line definition."""
    return [
        Kpi(metrics.METRIC_DEFINITIONS[key][0], fmt_pct(view.measures[key], 1, fraction=True),
            view.period, metrics.METRIC_DEFINITIONS[key][2], True)
        for key in ("time_utilisation", "energy_utilisation")
    ]


def fmt_rate_kwh(value, decimals: int = 0) -> str:
    text = fmt_number(value, decimals)
    return text if text == NO_DATA else f"{text} kWh"


def dft_series(store, state: FilterState, known: Known, layers, indicator_id: str
               ) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """(area series, London series or None when the area is London, area name) of a DfT count,
    per 100,000 residents (Census 2021 residents for every year, so areas compare fairly)."""
    layer, code, area = area_key(state, known, layers)
    london = None if layer == "london" else _per_100k(store, indicator_id, "london",
                                                      schema.LONDON_CODE)
    return _per_100k(store, indicator_id, layer, code), london, area


@lru_cache(maxsize=512)
def _per_100k(store, indicator_id: str, layer: str, code: str) -> pd.DataFrame:
    """``period``, ``value`` (per 100,000 Census 2021 residents) and ``count`` of a DfT series
    for one area. Published series do not change while the app runs, so they are cached."""
    series = store.indicator_series(indicator_id, [code], layer)
    residents = dft_value(store, "usual_residents", layer, code)
    values = [metrics.per_100k(v, residents) for v in series["value"]]
    return pd.DataFrame({"period": series["period"].astype(str),
                         "value": np.array([np.nan if v is None else v for v in values],
                                           dtype="float64"),
                         "count": series["value"].astype(float).to_numpy()})


# The map -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapView:
    """The wards the map colours, the measure, where to look and what is selected."""
    codes: list[str]
    names: list[str]
    values: MapValues
    outline: list[str]
    selected: list[str]
    centre: dict | None
    zoom: float | None
    uirevision: str


MEASURE_STYLE = {  # measure -> (unit, decimals, reverse, neutral, dark means)
    "devices": ("devices", 0, False, True, "more devices on the map"),
    "devices_per_100k": ("per 100,000 residents", 1, True, False,
                         "fewer public devices per resident"),
    "sessions": ("sessions", 0, False, False, "more sessions"),
    "kwh": ("kWh", 0, False, False, "more energy delivered"),
    "time_utilisation": ("per cent", 1, False, False, "busier devices"),
    "energy_utilisation": ("per cent", 1, False, False, "busier devices"),
    "vehicles_per_device": ("vehicles per device", 1, False, False,
                            "more plug-in vehicles per public device"),
}


def measure_of(state: FilterState) -> str:
    return state.measure if state.measure in filters.EV_MEASURES else DEFAULT_MEASURE


def measure_hint(measure: str) -> str:
    return f"Darker wards: {MEASURE_STYLE[measure][4]}. Grey: no data or no devices."


@dataclass(frozen=True)
class Wards:
    """The 2022 wards a map shows (every ward, or a borough's) as plain lists: ``codes``,
    ``names`` and ``stat_codes`` (the code their statistics are published under)."""
    codes: list[str]
    names: list[str]
    stat_codes: list[str]


def _wards_by_borough(table: pd.DataFrame) -> dict[str | None, Wards]:
    out = {}
    for borough in (None, *dict.fromkeys(table["borough_code"].tolist())):
        rows = table if borough is None else table[table["borough_code"] == borough]
        out[borough] = Wards(*(rows[c].astype(object).tolist()
                               for c in ("code", "name", "stat_code")))
    return out


def map_wards(layers, borough: str | None) -> Wards:
    """The 2022 wards of ``borough`` (None: every ward), from lists made once per layer table."""
    by_borough = derived(layers["ward2022"], "ev-map-wards", _wards_by_borough)
    return by_borough.get(borough) or Wards([], [], [])


def ward_values(store, state: FilterState, wards: Wards, measure: str) -> list[float]:
    """The measure for each ward of ``wards`` over the devices ``state`` selects: device counts
    (0 where none), else NaN where there is nothing to show (no devices, or no published
    figure). Usage measures come from one per-ward store query, so the map never needs the
    per-device usage that the rest of the page uses."""
    if measure in ("devices_per_100k", "vehicles_per_device"):
        indicator = {"devices_per_100k": "ev_devices_per_100k",
                     "vehicles_per_device": "ev_vehicles_per_device"}[measure]
        values = _indicator(store, indicator, "ward2022", DFT_YEAR)
        return [values.get(code, math.nan) for code in wards.stat_codes]
    if measure == "devices":
        devices = all_devices(store)
        codes = devices.arrays["ward2022_code"][selected(devices, state)]
        counts = dict(zip(*np.unique(codes.astype(str), return_counts=True)))
        return [float(counts.get(code, 0)) for code in wards.codes]
    by_code = _ward_usage(store, filters.usage_filter(state))[measure]
    scale = 100.0 if measure.endswith("utilisation") else 1.0
    return [float(by_code.get(code, math.nan)) * scale for code in wards.codes]


def _ward_usage(store, f) -> dict[str, dict[str, float]]:
    """Usage measures per 2022 ward code of the selected devices (wards without any absent),
    from one store query; kept per worker (``Config.ev_cache`` states)."""
    def make():
        per = store.usage_by(f, "ward2022_code")
        columns = metrics.usage_metrics_columns(
            {c: per[c].to_numpy(dtype="f8") for c in USAGE_COLUMNS})
        codes = per["ward2022_code"].tolist()
        return {m: dict(zip(codes, values.tolist())) for m, values in columns.items()}

    return results("ward-usage", cache_size(store)).get((store, f), make)


class MapsFirst:
    """Map requests before panels work, within one worker process.

    A filter change is two requests: the map's (a few milliseconds) and the panels' (ten times
    that). In a worker serving several users, a map request would otherwise share the
    interpreter with the panels requests in flight and wait behind them; panels requests call
    ``wait`` between their stages and pause (at most ``timeout`` each time) while any map
    request of this process is running."""

    def __init__(self, timeout: float = 0.05):
        self.timeout = timeout
        self._maps = 0
        self._changed = threading.Condition()

    @contextmanager
    def map_request(self):
        with self._changed:
            self._maps += 1
        try:
            yield
        finally:
            with self._changed:
                self._maps -= 1
                if self._maps == 0:
                    self._changed.notify_all()

    def wait(self) -> None:
        if self._maps:
            with self._changed:
                self._changed.wait_for(lambda: self._maps == 0, timeout=self.timeout)


MAPS_FIRST = MapsFirst()


def cache_size(store) -> int:
    """How many states the per-worker result caches keep (``Config.ev_cache``)."""
    from dashboard.core.config import DEFAULT_EV_CACHE
    return getattr(store.config, "ev_cache", DEFAULT_EV_CACHE)


MAP_SIZE = (700, 470)  # pixels of map the view is fitted to (the figure less its legends)


def _zoom_to(extents: pd.DataFrame, layer: str, code: str | None = None
             ) -> tuple[dict | None, float | None]:
    """Centre and zoom fitting one area (or, without a code, every area of the layer)."""
    return fit_extent(extents, layer, code, *MAP_SIZE)


def map_view(store, state: FilterState, layers, extents: pd.DataFrame, measure: str) -> MapView:
    """London: every 2022 ward. A borough: its wards, zoomed to it. A ward: zoomed to the ward.

    Needs no usage beyond the per-ward totals of the measure (see ``ward_values``)."""
    wards = map_wards(layers, state.borough)
    outline = [state.borough] if state.borough else []
    selected = [state.ward] if state.ward and state.ward_layer == "ward2022" else []
    if selected:
        centre, zoom = _zoom_to(extents, "ward2022", state.ward)
        zoom = None if zoom is None else min(zoom - 0.8, 15.0)  # the ward and its neighbours
    else:
        centre, zoom = _zoom_to(extents, "borough", state.borough)
    unit, decimals, reverse, neutral, _ = MEASURE_STYLE[measure]
    values = MapValues(codes=wards.codes, values=ward_values(store, state, wards, measure),
                       label=filters.EV_MEASURES[measure], unit=unit, decimals=decimals,
                       reverse=reverse, neutral=neutral)
    return MapView(wards.codes, wards.names, values, outline, selected, centre,
                   zoom, f"{state.borough or 'london'}|{state.ward or ''}")


# Trends and breakdowns ---------------------------------------------------------------------------
def usage_series(store, state: FilterState, freq: str) -> pd.DataFrame:
    """Usage totals and measures per month or week of the period."""
    f = filters.usage_filter(state)
    columns = store.monthly_series(f) if freq == "month" else None
    if columns is None:
        return with_measures(store.usage_timeseries(f, freq))
    measures = metrics.usage_metrics_columns(columns)
    return pd.DataFrame({**columns, **{c: measures[c] for c in MEASURE_COLUMNS}})


def breakdown_frame(view: View, dim: str, metric: str) -> tuple[pd.DataFrame, int]:
    """(``label``, ``value``, ``devices``) per speed class or operator, and how many operators
    beyond ``TOP_OPERATORS`` were left out (largest values kept)."""
    if view.empty:
        return pd.DataFrame(columns=["label", "value", "devices"]), 0
    keys = view.keys[dim]
    totals = group_totals(view.columns, dim, len(keys))
    value = totals["n"].astype("f8") if metric == "devices" else totals[metric]
    present = np.flatnonzero(totals["n"] > 0)
    # Largest first, ties in code order (a stable sort), missing values last.
    order = present[np.argsort(-value[present], kind="stable")]
    more = max(0, len(order) - TOP_OPERATORS) if dim == "operator" else 0
    if more:
        order = order[:TOP_OPERATORS]
    labels = ([schema.SPEED_LABELS.get(keys[k], keys[k]) for k in order] if dim == "speed_class"
              else [str(keys[k]) for k in order])
    return pd.DataFrame({"label": np.asarray(labels, dtype=object), "value": value[order],
                         "devices": totals["n"][order]}), more


# The device table --------------------------------------------------------------------------------
def _sort_key(view: View, key: str) -> np.ndarray:
    """The numbers a table column sorts by (text by its rank ignoring case, speeds slow to
    ultra), for the selected devices; NaN sorts last."""
    if key in view.every.ranks:
        return view.every.ranks[key][view.rows]
    return np.asarray(view.columns[key], dtype="f8")


def table_page(view: View, sort: str, descending: bool, page: int, show: str
               ) -> tuple[np.ndarray, int, int, int]:
    """(positions in the selection of the page's rows, page number, page count, rows in all)
    of the device table, sorted with the device id breaking ties; ``show`` "unused" keeps
    devices with no sessions."""
    rows = np.arange(view.size)
    if show == "unused":
        rows = rows[view.columns["sessions"] == 0]
    if len(rows) == 0:
        return rows, 0, 0, 0
    key = _sort_key(view, sort if sort in TABLE_COLUMNS else DEFAULT_SORT[0])[rows]
    # Rows are in device-id order, so a stable sort on the key alone breaks ties by id.
    order = rows[np.argsort(-key if descending else key, kind="stable")]
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(int(page or 0), 0), pages - 1)
    return order[page * PAGE_SIZE:(page + 1) * PAGE_SIZE], page, pages, len(rows)


def table_data(view: View, sort: str, descending: bool, page: int, show: str) -> dict:
    """The device table page as compact JSON for the browser to draw (see ``assets/ev.js``):
    ``columns`` ([key, heading, numeric]), ``rows`` ([row key, name, device id, ward, speed,
    operator, sessions, kWh, time-based utilisation] as display text), the sort, the page,
    ``pages``, ``status`` (a sentence) and ``message`` (instead of rows, when there are none)."""
    out = {"columns": [[k, label, numeric] for k, (label, numeric) in TABLE_COLUMNS.items()],
           "sort": sort, "desc": descending, "rows": [], "page": 0, "pages": 0, "status": "",
           "message": None,
           "caption": f"Charge devices in {view.place}, usage {view.period}"}
    if view.empty:
        out["message"] = f"{NO_DEVICES}, so there are no devices to list."
        return out
    rows, page, pages, total = table_page(view, sort, descending, page, show)
    out.update(page=page, pages=pages)
    if total == 0:
        out["message"] = ("Every device matching these filters had at least one session in "
                          "the period.")
        return out
    columns = ("i", "name", "device_id", "ward_name", "speed_class", "operator", "sessions",
               "kwh", "time_utilisation")
    out["rows"] = [
        [int(i), str(name or device_id), str(device_id), str(ward),
         SPEED_SHORT.get(speed, str(speed)), str(operator or "Unknown"),
         fmt_number(sessions), fmt_number(kwh), fmt_pct(utilisation, 1, fraction=True)]
        for i, name, device_id, ward, speed, operator, sessions, kwh, utilisation
        in zip(*(view.columns[c][rows].tolist() for c in columns))
    ]
    first = page * PAGE_SIZE + 1
    out["status"] = (f"Page {page + 1} of {pages}: devices {first} to {first + len(rows) - 1} "
                     f"of {fmt_number(total)}, sorted by {TABLE_COLUMNS[sort][0].lower()} "
                     f"({sort_order_words(sort, descending)}).")
    return out


def sort_order_words(sort: str, descending: bool) -> str:
    """How a column is ordered, in words: "highest first", "A to Z", "fastest first"."""
    if sort == "speed":
        return "fastest first" if descending else "slowest first"
    if TABLE_COLUMNS.get(sort, ("", True))[1]:
        return "highest first" if descending else "lowest first"
    return "Z to A" if descending else "A to Z"


def table_summary(view: View) -> str:
    """Busiest and least used devices, and how many had no sessions in the period."""
    if view.empty or not view.in_service:
        return ""
    c = view.columns
    live = np.flatnonzero(c["devices"] > 0)  # in device-id order: ties go to the first id
    sessions = np.asarray(c["sessions"], dtype="f8")[live]
    busiest = live[np.argsort(-sessions, kind="stable")[0]]
    least = live[np.argsort(sessions, kind="stable")[0]]
    unused = int(np.count_nonzero(c["sessions"] == 0))
    idle = (f"Every device had at least one session in {view.period}." if unused == 0 else
            f"{fmt_number(unused)} device{'s' if unused != 1 else ''} had no sessions in "
            f"{view.period}.")
    return (f"Busiest: {c['name'][busiest]} ({fmt_number(c['sessions'][busiest])} sessions). "
            f"Least used: {c['name'][least]} ({fmt_number(c['sessions'][least])} sessions). "
            f"{idle}")


# One device --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceDetail:
    device: pd.Series
    facts: list[tuple[str, str]]
    history: pd.DataFrame        # monthly, whole simulation, with measures
    measures: dict               # in the selected period


def device_detail(store, device: pd.Series, state: FilterState, known: Known) -> DeviceDetail:
    """Facts about one device, its monthly history and its usage in the selected period."""
    history = with_measures(store.device_history(device["device_id"], "month"))
    months = pd.to_datetime(history["period"]).dt.strftime("%Y-%m")
    in_period = history[(months >= state.date_from) & (months <= state.date_to)]
    measures = metrics.usage_metrics(_sum(in_period))
    kw = device["max_kw"]
    installed = device["installed"]
    facts = [
        ("Device ID", str(device["device_id"])),
        ("Operator", str(device["operator"] or "Unknown")),
        ("Ward (2022)", str(device["ward_name"] or "Unknown")),
        ("Borough", known.borough_name(device["borough_code"])),
        ("Power", f"{fmt_number(kw, 1)} kW" if pd.notna(kw) else "Not published"),
        ("Speed", schema.SPEED_LABELS.get(device["speed_class"], device["speed_class"])),
        ("Connectors", fmt_number(device["connectors"]) if pd.notna(device["connectors"])
         else "Not published"),
        ("Installed", installed.strftime("%d %B %Y") if pd.notna(installed) else "Not known"),
        ("Location", f"{device['lat']:.5f}, {device['lon']:.5f}"),
        ("Source", str(device["source"])),
    ]
    return DeviceDetail(device, facts, history, measures)


# Links and exports -------------------------------------------------------------------------------
def page_query(query: str, device: str | None = None, freq: str = DEFAULT_FREQ) -> str:
    """The page's query string: the filter state's (from ``to_query``) plus the selected device
    and the trend frequency when not the default."""
    extra = {}
    if device:
        extra["device"] = device
    if freq != DEFAULT_FREQ:
        extra["freq"] = freq
    tail = urlencode(extra)
    return "&".join(part for part in (query, tail) if part)


def query_extras(query: str | Mapping | None) -> tuple[str | None, str]:
    """(device id, frequency) from a query string or ``layout(**query)`` mapping."""
    if isinstance(query, Mapping):
        pairs = [(k, v if isinstance(v, str) else (v[0] if v else "")) for k, v in query.items()]
    else:
        pairs = parse_qsl((query or "").lstrip("?"), keep_blank_values=True)
    values = {k.strip().lower(): v.strip() for k, v in reversed(pairs)}
    freq = values.get("freq", DEFAULT_FREQ)
    return values.get("device") or None, freq if freq in FREQS else DEFAULT_FREQ


def export_meta(view: View, known: Known, title: str, link: str, when: datetime,
                notes: tuple[str, ...] = ()) -> ExportMeta:
    """The header block of a download: filters, period, sources, link; usage is simulated."""
    return ExportMeta(title=f"{title}: {view.place}", filters_text=filters.describe(view.state,
                                                                                   known),
                      period_text=f"Usage {view.period} (simulated)", link=link,
                      generated_at=when, sources=SOURCES, simulated=True, notes=notes)


def device_export(view: View, known: Known) -> pd.DataFrame:
    """The filtered device table with usage, one row per device, for download."""
    d = view.devices
    return pd.DataFrame({
        "device_id": d["device_id"], "name": d["name"], "ward_2022": d["ward_name"],
        "borough": [known.borough_name(c) for c in d["borough_code"]],
        "speed_class": d["speed_class"], "max_kw": d["max_kw"], "operator": d["operator"],
        "lat": d["lat"], "lon": d["lon"], "installed": d["installed"], "source": d["source"],
        "in_service_in_period": d["devices"] > 0,
        "sessions_simulated": d["sessions"].astype("int64"),
        "kwh_simulated": d["kwh"].round(3),
        "plugged_in_hours_simulated": d["plugged_hours"].round(3),
        "time_utilisation_simulated": d["time_utilisation"],
        "energy_utilisation_simulated": d["energy_utilisation"],
        "sessions_per_device_day_simulated": d["sessions_per_device_day"],
    }).sort_values(["sessions_simulated", "device_id"], ascending=[False, True])


def trend_export(series: pd.DataFrame, freq: str) -> pd.DataFrame:
    """The usage trend series for download (utilisations as fractions of 1)."""
    return pd.DataFrame({
        f"{freq}_starting": pd.to_datetime(series["period"]).dt.date,
        "devices_in_service": series["devices"].astype("int64"),
        "sessions_simulated": series["sessions"].astype("int64"),
        "kwh_simulated": series["kwh"].round(3),
        "plugged_in_hours_simulated": series["plugged_hours"].round(3),
        "available_device_hours": series["available_device_hours"].round(3),
        "time_utilisation_simulated": series["time_utilisation"],
        "energy_utilisation_simulated": series["energy_utilisation"],
        "sessions_per_device_day_simulated": series["sessions_per_device_day"],
        "kwh_per_device_day_simulated": series["kwh_per_device_day"],
    })


# Every device's position, served once -----------------------------------------------------------
POINTS_ROUTE = "/ev-points/"


@lru_cache(maxsize=2)
def _points_file(store) -> tuple[str, Packed]:
    """(name, bytes) of ``figs.device_points`` for every device as JSON (``served.json_file``)."""
    return json_file("points", device_points(all_devices(store).frame))


def points_url(store) -> str:
    return POINTS_ROUTE + _points_file(store)[0]


def register_routes(server) -> None:
    """Add the device-positions route to the Flask server (once)."""
    from dashboard.core import runtime

    add_json_route(server, POINTS_ROUTE, "ev_points", lambda: _points_file(runtime.store()))
