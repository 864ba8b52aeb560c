"""Residents' needs: ranks, percentiles and map classes of ward indicators, and the views built
on them (context figures, need against provision, series, tables for export).

Direction of need. Every indicator in the catalogue has a polarity: -1 "higher is worse" (more
need), +1 "higher is better" (less need) and 0 "neither". A *need score* puts every indicator the
same way round: the value itself for -1 and 0, minus the value for +1. So "more need" is always a
higher score, and for neutral indicators (polarity 0) the ranking simply runs from the highest
value.

Ranks (see :func:`rank`): 1st is the area with the highest need score. Tied areas share the best
rank of their group and the next rank is skipped (two areas tied for 3rd are both 3rd and the next
is 5th): "standard competition" ranking. Areas without a value are not ranked.

Percentiles (see :func:`percentile`): the percentage of the *other* areas with a value that have a
strictly lower need score. 100 means more need than every other area; 0 means no area has less
need. Ties count as "not lower", so tied areas share one percentile.

Statistical units. On 2022 wards the City of London's 25 wards are one statistical unit
(E09000001): they share its value and count once in ranks (680 units); on 2011 wards the City is
already one ward (625 units).

Pure functions first (no data access), then :class:`NeedsData`, which reads through the store and
caches what does not change while the app runs.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dashboard.data import schema
from dashboard.domain.state import FilterState, Known, Message
from dashboard.domain.text import fmt_month, fmt_number, ordinal

# Defaults and choices ---------------------------------------------------------------------------
DEFAULT_INDICATOR = "deprived_1plus_pct"
N_CLASSES = 5
CLASS_METHODS = {
    "quantile": "Quantiles: about the same number of areas in each class",
    "equal": "Equal intervals: classes of the same width",
}
DEFAULT_CLASSES = "quantile"
# Need against provision: (need / demand on x, provision / supply on y).
PRESETS = {
    "demand": ("ev_plugin_vehicles", "ev_public_devices"),
    "fairness": ("imd_england_20pct_pct", "ev_devices_per_100k"),
}
PRESET_LABELS = {
    "demand": "Demand and supply: plug-in vehicles against public charge devices",
    "fairness": "Fairness: deprivation against charge devices per 100,000 residents",
}
DEFAULT_PRESET = "demand"
DEFAULT_NEED_PCT = 80
DEFAULT_PROV_PCT = 20
DEFAULT_CRIME = "all"
EV_SERIES = ("ev_public_devices", "ev_plugin_vehicles")

# ColorBrewer 5-class YlGnBu (sequential, colour-blind safe) and Purples (for neutral indicators).
NEED_COLOURS = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
NEUTRAL_COLOURS = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")

POLARITY_TEXT = {
    -1: "Higher values mean more need.",
    1: "Higher values mean less need, so the colours run the other way: darker is lower.",
    0: "Higher is neither better nor worse: darker simply means a higher value.",
}
METHOD_TEXT = {
    "native": "Published for these areas",
    "apportioned": "Built up by best fit from smaller areas (output areas or LSOAs)",
}
RANK_HINT = ("Ranks: 1st = most need (the highest value where higher is worse, the lowest where "
             "higher is better; for neutral indicators, the highest value). Tied areas share a "
             "rank. Percentile: the percentage of the other areas with data that have less need.")
PERCENTILE_HINT = ("Percentiles compare each ward with all London wards: the need percentile is "
                   "the share of other wards with less need, the provision percentile the share "
                   "with less provision.")

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_MONTH_SPAN = re.compile(r"^(\d{4}-(?:0[1-9]|1[0-2])) to (\d{4}-(?:0[1-9]|1[0-2]))$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_CRIME_MONTHLY = re.compile(r"^crime_(.+)_monthly$")


# Pure functions ---------------------------------------------------------------------------------
def need_score(values: Sequence[float], polarity: int) -> np.ndarray:
    """Values turned so that a higher score always means more need (see the module docstring)."""
    v = np.asarray(values, dtype=float)
    return -v if int(polarity) > 0 else v.copy()


def provision_score(values: Sequence[float], polarity: int) -> np.ndarray:
    """Values turned so that a higher score means more provision: minus the value when higher is
    worse (polarity -1, e.g. vehicles per device), else the value."""
    v = np.asarray(values, dtype=float)
    return -v if int(polarity) < 0 else v.copy()


def rank(values: Sequence[float], polarity: int) -> np.ndarray:
    """Rank of each value, 1 = most need; ties share the best rank ("1224"); NaN where missing."""
    score = need_score(values, polarity)
    out = np.full(score.shape, np.nan)
    ok = np.isfinite(score)
    if ok.any():
        finite = np.sort(score[ok])
        # rank = 1 + number of areas with a strictly higher score
        out[ok] = 1 + finite.size - np.searchsorted(finite, score[ok], side="right")
    return out


def ties(values: Sequence[float]) -> np.ndarray:
    """How many other areas share each value (0 when unique or missing)."""
    v = np.asarray(values, dtype=float)
    out = np.zeros(v.shape, dtype=int)
    ok = np.isfinite(v)
    if ok.any():
        uniq, inverse, counts = np.unique(v[ok], return_inverse=True, return_counts=True)
        out[ok] = counts[inverse] - 1
    return out


def percentile_of(scores: Sequence[float]) -> np.ndarray:
    """Percentage of the other finite scores strictly below each score; NaN where missing or when
    fewer than two scores exist."""
    s = np.asarray(scores, dtype=float)
    out = np.full(s.shape, np.nan)
    ok = np.isfinite(s)
    n = int(ok.sum())
    if n >= 2:
        finite = np.sort(s[ok])
        out[ok] = 100.0 * np.searchsorted(finite, s[ok], side="left") / (n - 1)
    return out


def percentile(values: Sequence[float], polarity: int) -> np.ndarray:
    """Need percentile of each value: the percentage of the other areas with data that have less
    need (a strictly lower need score). 100 = more need than all others; ties share a percentile."""
    return percentile_of(need_score(values, polarity))


def quantile_breaks(values: Sequence[float], k: int = N_CLASSES) -> list[float]:
    """Class edges (minimum, k-1 inner breaks, maximum) at the 1/k, 2/k ... quantiles of the finite
    values (linear interpolation). Missing values are ignored; equal edges, where many areas share
    a value, are merged, so there may be fewer than k classes. Empty input gives []."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return []
    edges = np.quantile(v, np.linspace(0, 1, k + 1))
    return _unique_edges(edges)


def equal_breaks(values: Sequence[float], k: int = N_CLASSES) -> list[float]:
    """Class edges splitting the range of the finite values into k classes of equal width.
    One class when every value is the same; [] when there is no value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return []
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        return [lo, hi]
    return [float(e) for e in np.linspace(lo, hi, k + 1)]


def _unique_edges(edges: np.ndarray) -> list[float]:
    out = [float(edges[0])]
    for e in edges[1:]:
        if float(e) > out[-1]:
            out.append(float(e))
    if len(out) == 1:  # every value the same: one class
        out.append(out[0])
    return out


def breaks(values: Sequence[float], method: str, k: int = N_CLASSES) -> list[float]:
    """Class edges by ``method`` ("quantile" or "equal")."""
    if method == "equal":
        return equal_breaks(values, k)
    if method == "quantile":
        return quantile_breaks(values, k)
    raise ValueError(f"unknown classification {method!r}")


def classify(values: Sequence[float], edges: Sequence[float]) -> np.ndarray:
    """Class index of each value: class i holds values from edge i up to (not including) edge i+1;
    the last class includes the maximum. -1 where the value is missing."""
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, -1, dtype=int)
    if len(edges) < 2:
        return out
    ok = np.isfinite(v)
    inner = np.asarray(edges[1:-1], dtype=float)
    out[ok] = np.searchsorted(inner, v[ok], side="right")
    return out


def class_colours(k: int, polarity: int) -> list[str]:
    """Colours of classes 0..k-1 (class 0 holds the lowest values).

    The darkest colour always marks the most need: for polarity -1 it is the highest class, for
    +1 the lowest (the scale is reversed). Polarity 0 uses a different, neutral palette, darker for
    higher values.
    """
    palette = NEUTRAL_COLOURS if int(polarity) == 0 else NEED_COLOURS
    picks = [palette[int(i)] for i in np.round(np.linspace(0, len(palette) - 1, max(k, 1)))][:k]
    return picks[::-1] if int(polarity) > 0 else picks


def class_labels(edges: Sequence[float], decimals: int) -> list[str]:
    """"low to high" label of each class, numbers rounded to the indicator's decimals."""
    return [f"{fmt_number(a, decimals)} to {fmt_number(b, decimals)}"
            for a, b in zip(edges[:-1], edges[1:])]


def period_text(period: str | None) -> str:
    """A period code in words: "2026-03" -> "March 2026", "2024Q2" -> "2024 Q2",
    "2025-04 to 2026-03" -> "April 2025 to March 2026"; anything else as it is."""
    if not period:
        return "no period"
    text = str(period)
    if _MONTH.match(text):
        return fmt_month(text)
    span = _MONTH_SPAN.match(text)
    if span:
        return f"{fmt_month(span[1])} to {fmt_month(span[2])}"
    quarter = _QUARTER.match(text)
    if quarter:
        return f"{quarter[1]} Q{quarter[2]}"
    return text


def number_text(value: float | None, unit: str, decimals: int) -> str:
    """A value with only the short part of its unit: "53.1%", "£450,000", "12.3"."""
    number = fmt_number(value, decimals)
    if number == "no data":
        return number
    if unit.startswith("%"):
        return f"{number}%"
    if unit == "£":
        return f"£{number}"
    return number


def value_text(value: float | None, unit: str, decimals: int) -> str:
    """A value with its unit: "53.1%", "£450,000", "12.3 per 1,000 residents"."""
    number = number_text(value, unit, decimals)
    if number == "no data" or unit.startswith("%") or unit in ("count", "", "£"):
        return number
    return f"{number} {unit}"


def rank_text(rank_value: float | None, total: int, polarity: int, tied: int = 0,
              noun: str = "areas") -> str:
    """"48th of 680 areas" (1st = most need); for neutral indicators "48th highest of 680 areas";
    "joint" in front when the area shares its value with others."""
    if rank_value is None or not np.isfinite(rank_value):
        return "not ranked (no data)"
    place = ordinal(int(rank_value))
    if int(polarity) == 0:
        place += " highest"
    joint = "joint " if tied else ""
    return f"{joint}{place} of {fmt_number(total)} {noun}"


def percentile_text(pct: float | None, polarity: int, noun: str = "areas") -> str:
    """"More need than 93% of the other areas" ("A higher value than" for neutral ones)."""
    if pct is None or not np.isfinite(pct):
        return ""
    what = "A higher value than" if int(polarity) == 0 else "More need than"
    return f"{what} {fmt_number(pct, 0)}% of the other {noun}"


# The catalogue ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Indicator:
    """One catalogue row, typed."""
    id: str
    title: str
    theme: str
    unit: str
    polarity: int
    definition: str
    source: str
    licence: str
    period_label: str
    layer: str
    method: str
    kind: str
    default_period: str
    decimals: int

    @property
    def short_unit(self) -> str:
        """The unit for axes and legends ("%" for all percentages)."""
        return "%" if self.unit.startswith("%") else ("" if self.unit == "count" else self.unit)

    @property
    def crime_category(self) -> str | None:
        match = re.match(r"^crime_(.+)_(monthly|12m)$", self.id)
        return match[1] if match else None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def indicators(catalogue: pd.DataFrame) -> dict[str, Indicator]:
    """The catalogue as ``{id: Indicator}`` (text columns may be missing or empty)."""
    out = {}
    for row in catalogue.fillna("").to_dict("records"):
        out[row["indicator_id"]] = Indicator(
            id=row["indicator_id"], title=row["title"], theme=row["theme"], unit=row["unit"],
            polarity=_int(row["polarity"]), definition=row["definition"], source=row["source"],
            licence=row["licence"], period_label=row["period_label"], layer=row["layer"],
            method=row["method"], kind=row["kind"], default_period=row["default_period"],
            decimals=_int(row["decimals"], 1),
        )
    return out


def _theme_order(theme: str) -> int:
    return schema.THEMES.index(theme) if theme in schema.THEMES else len(schema.THEMES)


def picker_label(ind: Indicator) -> str:
    """"Theme — Title", with the boundary vintage for the 2011 ward profiles."""
    label = f"{ind.theme} — {ind.title}"
    if ind.kind == "series" and ind.crime_category:
        label += " (monthly)"
    if ind.layer == "ward2011":
        label += " (2011 wards)"
    return label


def picker_options(inds: Mapping[str, Indicator], layer: str | None = None) -> list[dict]:
    """Dropdown options for the indicators (of one layer if given), by theme then title."""
    chosen = [i for i in inds.values() if layer is None or i.layer == layer]
    chosen.sort(key=lambda i: (_theme_order(i.theme), i.title.split(" (")[0].casefold(),
                               i.kind == "series", i.id))
    return [{"label": picker_label(i), "value": i.id} for i in chosen]


def crime_categories(inds: Mapping[str, Indicator]) -> dict[str, str]:
    """``{category: label}`` of the monthly crime series, "all" first, the rest by label."""
    found = {}
    for ind in inds.values():
        match = _CRIME_MONTHLY.match(ind.id)
        if match:
            found[match[1]] = ind.title.split(":")[0]
    return dict(sorted(found.items(), key=lambda kv: (kv[0] != "all", kv[1])))


# Statistical units ------------------------------------------------------------------------------
def units(layer_table: pd.DataFrame) -> pd.DataFrame:
    """The statistical units of a ward layer: ``code`` (the stat code), ``name``, ``borough_code``,
    ``borough_name``, ``wards`` (how many map wards report under it). A unit made of several wards
    (the City of London on 2022 wards) is named after its borough."""
    table = layer_table.copy()
    if "stat_code" not in table:
        table["stat_code"] = table["code"]
    grouped = table.groupby("stat_code", sort=True).agg(
        name=("name", "first"), borough_code=("borough_code", "first"),
        borough_name=("borough_name", "first"), wards=("code", "size"))
    grouped.loc[grouped["wards"] > 1, "name"] = grouped.loc[grouped["wards"] > 1, "borough_name"]
    return grouped.reset_index().rename(columns={"stat_code": "code"})


def ranked_table(unit_table: pd.DataFrame, values: pd.DataFrame, polarity: int) -> pd.DataFrame:
    """Units with their ``value``, ``rank``, ``tied`` (others sharing the value) and
    ``percentile`` among all units with data."""
    vals = values.drop_duplicates("code").set_index("code")["value"]
    out = unit_table.copy()
    out["value"] = out["code"].map(vals).astype(float)
    out["rank"] = rank(out["value"], polarity)
    out["tied"] = ties(out["value"])
    out["percentile"] = percentile(out["value"], polarity)
    return out


def in_view(table: pd.DataFrame, borough: str | None) -> pd.DataFrame:
    """The units of the borough (all of London when None), most need first."""
    rows = table if borough is None else table[table["borough_code"] == borough]
    return rows.sort_values(["rank", "name"], na_position="last")


def flag(x: Sequence[float], x_polarity: int, y: Sequence[float], y_polarity: int,
         need_pct: float, provision_pct: float) -> pd.DataFrame:
    """High need and low provision: ``need_pct`` (percentile of the x indicator in the direction of
    need; for neutral x, higher = more demand), ``provision_pct`` (percentile of y in the direction
    of provision) and ``flagged``: need percentile at or above ``need_pct`` and provision percentile
    at or below ``provision_pct``. Areas missing either value are never flagged."""
    need = percentile_of(need_score(x, x_polarity))
    prov = percentile_of(provision_score(y, y_polarity))
    ok = np.isfinite(need) & np.isfinite(prov)
    flagged = ok & (np.nan_to_num(need, nan=-1) >= need_pct) & (
        np.nan_to_num(prov, nan=101) <= provision_pct)
    return pd.DataFrame({"need_pct": need, "provision_pct": prov, "flagged": flagged})


# The page's own URL parameters ------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    """Page choices beyond the shared filters, kept in the URL: map classes, the two indicators of
    the need-against-provision view and its thresholds, the crime category."""
    classes: str = DEFAULT_CLASSES
    x: str = PRESETS[DEFAULT_PRESET][0]
    y: str = PRESETS[DEFAULT_PRESET][1]
    need: int = DEFAULT_NEED_PCT
    prov: int = DEFAULT_PROV_PCT
    crime: str = DEFAULT_CRIME

    @property
    def preset(self) -> str | None:
        for name, pair in PRESETS.items():
            if pair == (self.x, self.y):
                return name
        return None


VIEW_PARAMS = ("classes", "x", "y", "need", "prov", "crime")


def _first(query: Mapping[str, Any], name: str) -> str | None:
    value = query.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value).strip()


def parse_view(query: Mapping[str, Any] | None, inds: Mapping[str, Indicator],
               crimes: Mapping[str, str]) -> tuple[View, list[Message]]:
    """The page's own parameters from the layout's query mapping; bad values fall back to the
    default with a message."""
    query = query or {}
    view, notes = View(), []

    def warn(what: str) -> None:
        notes.append(Message("warning", f"We couldn't use the {what} in the link, so we're "
                                        "showing the default."))

    classes = _first(query, "classes")
    if classes:
        if classes.lower() in CLASS_METHODS:
            view = replace(view, classes=classes.lower())
        else:
            warn("map classes")
    for axis, label in (("x", "need indicator"), ("y", "provision indicator")):
        value = _first(query, axis)
        if value:
            ind = inds.get(value.lower()) or inds.get(value)
            if ind is not None and ind.layer == schema.DEFAULT_WARD_LAYER:
                view = replace(view, **{axis: ind.id})
            else:
                warn(label)
    for name, label in (("need", "need threshold"), ("prov", "provision threshold")):
        value = _first(query, name)
        if value:
            try:
                number = int(value)
            except ValueError:
                number = -1
            if 0 <= number <= 100:
                view = replace(view, **{name: number})
            else:
                warn(label)
    crime = _first(query, "crime")
    if crime:
        if crime.lower() in crimes:
            view = replace(view, crime=crime.lower())
        else:
            warn("crime category")
    return view, notes


def view_query(view: View) -> str:
    """The non-default page parameters as query text, in a fixed order."""
    default = View()
    return "&".join(f"{name}={getattr(view, name)}" for name in VIEW_PARAMS
                    if getattr(view, name) != getattr(default, name))


def page_query(shared: str, view: View) -> str:
    """The page's full query string (without "?"): the shared filters then the page's own."""
    return "&".join(part for part in (shared, view_query(view)) if part)


def align_layer(state: FilterState, known: Known, ind: Indicator) -> tuple[FilterState,
                                                                            list[Message]]:
    """Put the state on the boundaries the indicator is published for. A ward of the other
    vintage is cleared (values are never moved between vintages), with a message."""
    if ind.layer not in known.wards or ind.layer == state.ward_layer:
        return state, []
    notes = []
    if state.ward:
        ward = known.ward(state.ward_layer, state.ward)
        name = ward.name if ward else state.ward
        year = "2022" if state.ward_layer == "ward2022" else "2011"
        notes.append(Message("info", f"{ind.title} is published for "
                                     f"{'2011' if year == '2022' else '2022'} wards, so we've "
                                     f"cleared the ward {name} ({year} boundaries). Choose a "
                                     "ward on the new boundaries."))
    return state.replace(ward_layer=ind.layer, ward=None, compare=None), notes


# Reading the data -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranked:
    """One indicator across the statistical units of its layer at one period."""
    indicator: Indicator
    period: str | None
    table: pd.DataFrame          # units with value, rank, tied, percentile

    @property
    def ranked_count(self) -> int:
        return int(self.table["value"].notna().sum())


@dataclass(frozen=True)
class PlaceFigure:
    """The value of the indicator for one place, with its rank among places of its kind."""
    role: str                    # "ward", "borough" or "london"
    place: str
    value: float | None
    rank: float | None
    total: int
    tied: int
    percentile: float | None


class NeedsData:
    """Indicator tables read through the store, cached for the life of the process (the processed
    data does not change while the app runs)."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._cache: dict = {}

    def _cached(self, key, make):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = make()
        with self._lock:
            self._cache.setdefault(key, value)
            return self._cache[key]

    def indicators(self) -> dict[str, Indicator]:
        return self._cached("catalogue", lambda: indicators(self.store.catalogue()))

    def indicator(self, indicator_id: str | None) -> Indicator:
        """The indicator, or the page's default for an unknown id."""
        inds = self.indicators()
        return inds.get(indicator_id or "") or inds[DEFAULT_INDICATOR]

    def dataset(self, dataset_id: str) -> dict:
        """The manifest row of a dataset (empty values when it is not listed)."""
        def make():
            frame = self.store.datasets().fillna("")
            return {r["dataset_id"]: r for r in frame.to_dict("records")}
        return self._cached("datasets", make).get(dataset_id, {"dataset_id": dataset_id,
                                                              "title": dataset_id})

    def layer_table(self, layer: str) -> pd.DataFrame:
        return self._cached(("layer", layer), lambda: self.store.layer_table(layer))

    def units(self, layer: str) -> pd.DataFrame:
        return self._cached(("units", layer), lambda: units(self.layer_table(layer)))

    def ranked(self, indicator_id: str) -> Ranked:
        """The indicator on its own layer at its default period, ranked across all units."""
        ind = self.indicator(indicator_id)

        def make():
            values = self.store.indicator_values(ind.id, ind.layer)
            period = None if values.empty else str(values["period"].iloc[0])
            table = ranked_table(self.units(ind.layer), values, ind.polarity)
            return Ranked(ind, period, table)
        return self._cached(("ranked", ind.id), make)

    def area_values(self, indicator_id: str, layer: str, period: str | None) -> pd.Series:
        """``{code: value}`` of boroughs or London at the period."""
        def make():
            frame = self.store.indicator_values(indicator_id, layer, period)
            return frame.set_index("code")["value"].astype(float)
        return self._cached(("area", indicator_id, layer, period), make)

    def unit_of(self, layer: str, ward: str | None) -> str | None:
        """The statistical unit a ward reports under (the City for a City ward on 2022 wards)."""
        if not ward:
            return None
        table = self.layer_table(layer)
        hit = table.loc[table["code"] == ward]
        if hit.empty:
            return None
        return str(hit["stat_code"].iloc[0]) if "stat_code" in hit else ward

    def wards_of_unit(self, layer: str, unit: str | None) -> list[str]:
        """The map wards of a statistical unit (25 for the City on 2022 wards)."""
        if not unit:
            return []
        table = self.layer_table(layer)
        column = "stat_code" if "stat_code" in table else "code"
        return table.loc[table[column] == unit, "code"].tolist()

    def series(self, indicator_id: str, codes: Sequence[str], layer: str) -> pd.DataFrame:
        return self.store.indicator_series(indicator_id, list(codes), layer)


@lru_cache(maxsize=4)
def data_for(store) -> NeedsData:
    """One :class:`NeedsData` per store (per process)."""
    return NeedsData(store)


# Views built on the data ------------------------------------------------------------------------
def context(data: NeedsData, ranked: Ranked, state: FilterState, known: Known
            ) -> list[PlaceFigure]:
    """The ward (if chosen), the borough (if chosen) and London, each with its rank among places of
    its kind (ward units of the layer; the 33 boroughs, or those with data)."""
    ind = ranked.indicator
    out = []
    unit = data.unit_of(state.ward_layer, state.ward) if state.ward else None
    if unit:
        row = ranked.table.loc[ranked.table["code"] == unit].iloc[0]
        out.append(PlaceFigure("ward", _unit_place(row), _num(row["value"]), _num(row["rank"]),
                               ranked.ranked_count, int(row["tied"]), _num(row["percentile"])))
    boroughs = data.area_values(ind.id, "borough", ranked.period)
    if state.borough:
        values = boroughs.reindex(list(known.boroughs))
        ranks, pcts, tie = (rank(values, ind.polarity), percentile(values, ind.polarity),
                            ties(values))
        i = list(values.index).index(state.borough)
        out.append(PlaceFigure("borough", known.borough_name(state.borough), _num(values.iloc[i]),
                               _num(ranks[i]), int(values.notna().sum()), int(tie[i]),
                               _num(pcts[i])))
    london = data.area_values(ind.id, "london", ranked.period)
    out.append(PlaceFigure("london", schema.LONDON_NAME, _num(london.get(schema.LONDON_CODE)),
                           None, 1, 0, None))
    return out


def _num(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _unit_place(row) -> str:
    if int(row["wards"]) > 1:
        return f"{row['name']} ({int(row['wards'])} wards, counted as one area)"
    return f"{row['name']}, {row['borough_name']}"


def london_value(data: NeedsData, ranked: Ranked) -> float | None:
    return _num(data.area_values(ranked.indicator.id, "london", ranked.period)
                .get(schema.LONDON_CODE))


def borough_value(data: NeedsData, ranked: Ranked, borough: str | None) -> float | None:
    if not borough:
        return None
    return _num(data.area_values(ranked.indicator.id, "borough", ranked.period).get(borough))


@dataclass(frozen=True)
class Provision:
    """Two ward indicators side by side with the need and provision percentiles and flags."""
    x: Ranked
    y: Ranked
    table: pd.DataFrame     # code, name, borough_code, borough_name, x, y, need_pct,
    #                         provision_pct, flagged


def provision(data: NeedsData, x_id: str, y_id: str, need_pct: float, prov_pct: float
              ) -> Provision:
    """Need (x) against provision (y) for every 2022 ward unit, flagged by the thresholds."""
    x, y = data.ranked(x_id), data.ranked(y_id)
    table = x.table[["code", "name", "borough_code", "borough_name", "wards"]].copy()
    table["x"] = x.table["value"].to_numpy()
    table["y"] = table["code"].map(y.table.set_index("code")["value"])
    flags = flag(table["x"], x.indicator.polarity, table["y"], y.indicator.polarity,
                 need_pct, prov_pct)
    table = pd.concat([table.reset_index(drop=True), flags], axis=1)
    return Provision(x, y, table)


def series_areas(data: NeedsData, state: FilterState, known: Known, layer: str
                 ) -> list[tuple[str, str, str]]:
    """(layer, code, name) of the places a series chart shows: the ward (on ``layer`` only), the
    borough, then London."""
    out = []
    if state.ward and state.ward_layer == layer:
        unit = data.unit_of(layer, state.ward)
        if unit:
            name = data.units(layer).set_index("code").at[unit, "name"]
            out.append((layer, unit, str(name)))
    if state.borough:
        out.append(("borough", state.borough, known.borough_name(state.borough)))
    out.append(("london", schema.LONDON_CODE, schema.LONDON_NAME))
    return out


def series_frame(data: NeedsData, indicator_id: str, areas: Sequence[tuple[str, str, str]],
                 first: str | None = None, last: str | None = None) -> pd.DataFrame:
    """Long table ``area``, ``code``, ``period``, ``value`` of one indicator for the areas, in
    their order, periods from ``first`` to ``last`` inclusive when given (text comparison, so
    months "YYYY-MM" compare correctly)."""
    frames = []
    for layer, code, name in areas:
        frame = data.series(indicator_id, [code], layer)
        if first:
            frame = frame[frame["period"] >= first]
        if last:
            frame = frame[frame["period"] <= last]
        frames.append(frame.assign(area=name)[["area", "code", "period", "value"]])
    if not frames:
        return pd.DataFrame(columns=["area", "code", "period", "value"])
    return pd.concat(frames, ignore_index=True)


TABLE_COLUMNS = ("rank", "name", "borough_name", "value", "percentile")


def table_rows(ranked: Ranked, borough: str | None, sort: str = "rank", descending: bool = False
               ) -> pd.DataFrame:
    """Units in view for the table, sorted by a column (missing values last), ties by name."""
    if sort not in TABLE_COLUMNS:
        sort = "rank"
    rows = in_view(ranked.table, borough)
    return rows.sort_values([sort, "name"], ascending=[not descending, True],
                            na_position="last", kind="stable")


def export_frame(ranked: Ranked, borough: str | None) -> pd.DataFrame:
    """The table for CSV/Excel: one row per area in view, most need first."""
    ind = ranked.indicator
    rows = in_view(ranked.table, borough)
    return pd.DataFrame({
        "Rank (1 = most need)" if ind.polarity else "Rank (1 = highest)": rows["rank"].map(
            lambda r: int(r) if pd.notna(r) else None),
        "Joint rank": rows["tied"].gt(0) & rows["value"].notna(),
        "Area code": rows["code"],
        "Area": rows["name"],
        "Wards": rows["wards"],
        "Borough": rows["borough_name"],
        f"{ind.title} ({ind.unit})": rows["value"],
        "Percentile": rows["percentile"].round(1),
        "Period": period_text(ranked.period),
    })


def ranking_rows(ranked: Ranked, borough: str | None, selected: str | None,
                 n: int = 20) -> pd.DataFrame:
    """Rows for the ranking chart, most need first, with ``pos`` (position among all units in
    view with data, from 0). A borough shows all its units; London shows the ``n`` with the most
    need, the ``n`` with the least, and the selected unit wherever it falls."""
    rows = in_view(ranked.table, borough)
    rows = rows[rows["value"].notna()].reset_index(drop=True)
    rows["pos"] = np.arange(len(rows))
    if borough is not None or len(rows) <= 2 * n + 1:
        return rows
    keep = (rows["pos"] < n) | (rows["pos"] >= len(rows) - n)
    if selected:
        keep |= rows["code"] == selected
    return rows[keep]


@dataclass(frozen=True)
class Cut:
    """A threshold drawn on the scatter: the value, and which side holds the flagged wards."""
    value: float
    above: bool   # True: flagged areas are at or above ``value``


def thresholds(prov: Provision, need_pct: float, prov_pct: float
               ) -> tuple[Cut | None, Cut | None]:
    """The x value beyond which wards reach the need threshold and the y value within which they
    stay under the provision threshold (None when no ward qualifies)."""
    t = prov.table
    need = t.loc[t["need_pct"] >= need_pct, "x"].dropna()
    low = t.loc[t["provision_pct"] <= prov_pct, "y"].dropna()
    x_cut = y_cut = None
    if not need.empty:
        high_is_need = prov.x.indicator.polarity <= 0
        x_cut = Cut(float(need.min() if high_is_need else need.max()), high_is_need)
    if not low.empty:
        high_is_low = prov.y.indicator.polarity < 0
        y_cut = Cut(float(low.min() if high_is_low else low.max()), high_is_low)
    return x_cut, y_cut
