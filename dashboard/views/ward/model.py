"""Ward profiles: one ward against its borough and London, indicator by indicator.

Reads through the store only and returns plain data (dataclasses, text, frames) that the page
turns into components. A profile uses the indicators of its own boundary vintage and never
blends vintages: a 2022 ward gets the 2022-ward indicators (Census 2021, IMD 2019, crime, air
quality, EV), a 2011 ward the GLA ward profiles 2015; each links to the overlapping wards of the
other vintage (``layers.overlap``).

Conventions:

- Statistics are looked up under the ward's ``stat_code``: the 25 City of London wards report
  under the City as a whole (E09000001), so their profile shows the whole City's figures.
- London ward distributions (ranges, percentiles, ranks) count each statistical unit once.
- The benchmark at the centre of the spine is London, except for counts (residents, households,
  devices), where London's total is no comparison for one ward: there it is the median ward.
- A ward is "higher" or "lower" than the benchmark only when the difference shows at the
  indicator's published number of decimals; otherwise it is "similar". Better or worse follows
  the indicator's polarity (direction only: we have no confidence intervals).
"""
from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

import numpy as np
import pandas as pd

from dashboard.domain import metrics
from dashboard.data import schema
from dashboard.domain.export import ExportMeta
from dashboard.core.memo import derived
from dashboard.domain.text import NO_DATA, fmt_number, fmt_pct, fmt_rate, join_and, ordinal

log = logging.getLogger(__name__)

LAYER_LABELS = {"ward2022": "2022 wards", "ward2011": "2011 wards"}
VINTAGE_NOTES = {
    "ward2022": "Ward boundaries of May 2022. Census 2021, deprivation, crime, air quality and EV "
                "figures, each with its own period.",
    "ward2011": "Ward boundaries of 2011, as used by the GLA Ward Profiles and Atlas (2015 "
                "edition). Figures from 2009 to 2015, each with its own period.",
}
THEMES = schema.THEMES
MAX_RECENT = 5
MAX_SUGGESTIONS = 5
COUNT_UNITS = ("count",)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_SPAN = re.compile(r"(\d{4})-(\d{2}) to (\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})Q([1-4])")

# How a sentence cites each source: {label} is the catalogue's period label, {period} the period.
CITES = {
    "census2021-lsoa": "Census 2021",
    "census2021-oa": "Census 2021",
    "mps-ward-crime": "Metropolitan Police: {label}",
    "evci-lsoa-2011-2024": "DfT and OZEV: {label}",
    "imd2019": "Index of Multiple Deprivation 2019, MHCLG",
    "laei-2019": "London Atmospheric Emissions Inventory, modelled annual mean for {period}",
    "gla-ward-profiles-2015": "GLA ward profiles 2015: {label}",
}

# Who published each source, for the "Sources" line under each theme's table.
SOURCE_NAMES = {
    "census2021-lsoa": "ONS, Census 2021",
    "census2021-oa": "ONS, Census 2021",
    "mps-ward-crime": "Metropolitan Police recorded crime",
    "evci-lsoa-2011-2024": "DfT and OZEV (devices and licensed vehicles)",
    "imd2019": "MHCLG, English Indices of Deprivation 2019",
    "laei-2019": "GLA and TfL, London Atmospheric Emissions Inventory 2019",
    "gla-ward-profiles-2015": "GLA Ward Profiles and Atlas 2015",
}


@dataclass(frozen=True)
class Fact:
    """A key-fact sentence: ``subject`` with ``{v}`` for the ward's value; borough and London
    follow as "against X in <borough> and Y in London". ``decimals`` overrides the catalogue's
    (percentages read better whole in a sentence)."""

    indicator_id: str
    subject: str
    decimals: int | None = None


FACTS = {
    "ward2022": (
        Fact("no_car_households_pct", "{v} of households have no car or van", 0),
        Fact("ev_devices_per_100k", "There are {v} public charge devices per 100,000 residents"),
        Fact("deprived_1plus_pct", "{v} of households are deprived in at least one of four "
             "dimensions (employment, education, health, housing)", 0),
        Fact("imd_london_20pct_pct", "{v} of residents live in neighbourhoods among London's "
             "most deprived 20%", 0),
        Fact("bad_health_pct", "{v} of residents describe their health as bad or very bad"),
        Fact("aged_65_plus_pct", "{v} of residents are aged 65 or over", 0),
        Fact("social_rented_pct", "{v} of households rent from a council or housing "
             "association", 0),
        Fact("crime_all_12m", "{v} crimes per 1,000 residents were recorded by the police"),
        Fact("no2_mean", "The modelled yearly average of nitrogen dioxide is {v} µg/m³"),
    ),
    "ward2011": (
        Fact("wp_bame_pct", "{v} of residents are from Black, Asian or minority ethnic groups", 0),
        Fact("wp_life_expectancy_female", "Female life expectancy at birth is {v} years"),
        Fact("wp_life_expectancy_male", "Male life expectancy at birth is {v} years"),
        Fact("wp_cars_per_household", "Households have {v} cars or vans on average"),
        Fact("wp_median_household_income", "The median household income is estimated at {v}"),
        Fact("wp_out_of_work_benefits_pct", "{v} of working-age residents claim out-of-work "
             "benefits", 0),
        Fact("wp_crime_rate", "{v} crimes per 1,000 residents were recorded by the police"),
        Fact("wp_open_space_pct", "{v} of the ward's area is open space", 0),
    ),
}
RESIDENTS = {"ward2022": ("usual_residents", "households"), "ward2011": ("wp_population", None)}


# Wards -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WardInfo:
    """A ward of either vintage, with what its profile's header shows."""

    code: str
    name: str
    layer: str
    borough_code: str
    borough_name: str
    stat_code: str
    area_km2: float | None

    @property
    def label(self) -> str:
        """e.g. "Brixton Windrush — Lambeth (2022 wards)"."""
        return f"{self.name} — {self.borough_name} ({LAYER_LABELS[self.layer]})"

    @property
    def shares_city_figures(self) -> bool:
        """True for a City of London ward whose statistics are those of the whole City."""
        return self.stat_code != self.code

    @property
    def path(self) -> str:
        return f"/ward/{self.code}"


def ward_info(layers: dict, code: str | None) -> WardInfo | None:
    """The ward with this code (any case, surrounding spaces ignored, percent-encoding as a
    browser may leave it in a path decoded) in either vintage."""
    if not code or not isinstance(code, str):
        return None
    return _wards(layers)[1].get(unquote(code).strip().upper())


def all_wards(layers: dict) -> list[WardInfo]:
    """Every ward, 2022 vintage first, each vintage sorted by name then borough."""
    return list(_wards(layers)[0])


def _wards(layers: dict) -> tuple[tuple[WardInfo, ...], dict[str, WardInfo]]:
    """Every ward of both vintages, in order and by code, built once per layers mapping (the
    app's layers do not change while it runs)."""
    return derived(layers, "wards", _make_wards)


def _make_wards(layers: dict) -> tuple[tuple[WardInfo, ...], dict[str, WardInfo]]:
    ordered = []
    for layer in LAYER_LABELS:
        table = layers[layer].sort_values(["name", "borough_name"])
        for row in table.itertuples(index=False):
            area = float(row.area_km2) if pd.notna(row.area_km2) else None
            ordered.append(WardInfo(str(row.code), str(row.name), layer, str(row.borough_code),
                                    str(row.borough_name), str(row.stat_code), area))
    by_code: dict[str, WardInfo] = {}
    for ward in ordered:
        by_code.setdefault(ward.code, ward)   # a code in both vintages: the current one
    return tuple(ordered), by_code


def search_options(layers: dict) -> list[dict]:
    """Type-ahead options: label "Ward — Borough (2022 wards)", value the ward code; the current
    (2022) wards first. Typing a borough's name finds its wards because the label holds it."""
    return [{"label": w.label, "value": w.code} for w in all_wards(layers)]


def suggestions(text: str, layers: dict, limit: int = MAX_SUGGESTIONS) -> list[WardInfo]:
    """Wards whose code or name is close to ``text`` (for a link naming an unknown ward).

    Codes are compared as written (E05014098 vs E05014089), names ignoring case; names that
    contain the text come first. 2022 wards before 2011 wards when equally close.
    """
    wanted = (text or "").strip()
    if not wanted:
        return []
    wards = all_wards(layers)
    scored: dict[str, tuple[float, int, WardInfo]] = {}

    def add(ward: WardInfo, score: float) -> None:
        order = 0 if ward.layer == "ward2022" else 1
        best = scored.get(ward.code)
        if best is None or score > best[0]:
            scored[ward.code] = (score, order, ward)

    upper, folded = wanted.upper(), wanted.casefold()
    for ward in wards:
        code_score = difflib.SequenceMatcher(None, upper, ward.code).ratio()
        if code_score >= 0.75:
            add(ward, code_score)
        name = ward.name.casefold()
        if len(folded) >= 3 and folded in name:
            add(ward, 1.0 + len(folded) / max(len(name), 1))
        else:
            name_score = difflib.SequenceMatcher(None, folded, name).ratio()
            if name_score >= 0.6:
                add(ward, name_score)
    ranked = sorted(scored.values(), key=lambda s: (-s[0], s[1], s[2].name))
    return [w for _, _, w in ranked[:limit]]


# Indicator data ----------------------------------------------------------------------------------
def profile_indicators(catalogue: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Catalogue rows a profile of ``layer`` shows: every snapshot indicator of the layer, plus
    the latest value of its yearly or quarterly series (monthly series are summarised by their
    12-month snapshot). Ordered by theme (``schema.THEMES``) then catalogue order."""
    cat = catalogue[catalogue["layer"] == layer].copy()
    keep = (cat["kind"] == "snapshot") | (
        (cat["kind"] == "series") & ~cat["indicator_id"].str.endswith("_monthly"))
    cat = cat[keep].copy()
    cat["_theme"] = cat["theme"].map({t: i for i, t in enumerate(THEMES)}).fillna(len(THEMES))
    cat["_order"] = range(len(cat))
    return cat.sort_values(["_theme", "_order"]).drop(columns=["_theme", "_order"])


@dataclass(frozen=True)
class LayerData:
    """Every profile indicator of one vintage for every ward unit, borough and London.

    ``wards``, ``boroughs``: frames indexed by code with one column per indicator; ``london``: a
    series by indicator; ``periods``: the period of each indicator (as in the ward layer).
    """

    layer: str
    indicators: pd.DataFrame
    wards: pd.DataFrame
    boroughs: pd.DataFrame
    london: pd.Series
    periods: dict


def _wide(frame: pd.DataFrame, ids) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=list(ids), dtype=float)
    wide = frame.pivot(index="code", columns="indicator_id", values="value")
    return wide.reindex(columns=list(ids)).astype(float)


_cache_lock = threading.Lock()


@lru_cache(maxsize=8)
def _layer_data_cached(store, layer: str) -> LayerData:
    catalogue = store.catalogue()
    indicators = profile_indicators(catalogue, layer)
    ids = list(indicators["indicator_id"])
    ward_rows = store.indicator_snapshots(ids, layer)
    periods = ward_rows.drop_duplicates("indicator_id").set_index("indicator_id")["period"]
    london = _wide(store.indicator_snapshots(ids, "london"), ids)
    return LayerData(
        layer=layer, indicators=indicators, wards=_wide(ward_rows, ids),
        boroughs=_wide(store.indicator_snapshots(ids, "borough"), ids),
        london=london.iloc[0] if len(london) else pd.Series(index=ids, dtype=float),
        periods=periods.to_dict(),
    )


def layer_data(store, layer: str) -> LayerData:
    """``LayerData`` for a vintage, read once per store and layer."""
    with _cache_lock:
        return _layer_data_cached(store, layer)


def _value(frame: pd.DataFrame, code: str, indicator_id: str) -> float | None:
    if code not in frame.index or indicator_id not in frame.columns:
        return None
    value = frame.at[code, indicator_id]
    return float(value) if pd.notna(value) and np.isfinite(value) else None


def _median(frame: pd.DataFrame, codes: tuple[str, ...], indicator_id: str) -> float | None:
    """The median of the wards ``codes`` that have a value (None if none has)."""
    if not codes or indicator_id not in frame.columns:
        return None
    values = frame[indicator_id].reindex(list(codes)).astype(float)
    values = values[np.isfinite(values)]
    return float(values.median()) if len(values) else None


# One indicator in a profile -------------------------------------------------------------------------
@dataclass(frozen=True)
class Distribution:
    """London ward units with a value: how many, lowest, 25th and 75th percentile, median,
    highest (percentiles by linear interpolation, as ``numpy.percentile``)."""

    count: int
    low: float | None
    q1: float | None
    median: float | None
    q3: float | None
    high: float | None


def distribution(values: pd.Series) -> Distribution:
    finite = values[np.isfinite(values.astype(float))].astype(float)
    if finite.empty:
        return Distribution(0, None, None, None, None, None)
    q1, median, q3 = np.percentile(finite.to_numpy(), [25, 50, 75])
    return Distribution(len(finite), float(finite.min()), float(q1), float(median), float(q3),
                        float(finite.max()))


def rank_of(values: pd.Series, value: float | None) -> int | None:
    """1 + the number of ward units with a higher value (ties share a rank); None if missing."""
    if value is None:
        return None
    finite = values[np.isfinite(values.astype(float))]
    return int((finite > value).sum()) + 1


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator of a profile, with everything its table row and spine show."""

    indicator_id: str
    title: str
    label: str
    theme: str
    unit: str
    decimals: int
    polarity: int
    period: str
    period_label: str
    source: str
    cite: str
    definition: str
    ward: float | None
    borough: float | None
    london: float | None
    compare: float | None
    similar: float | None
    benchmark: float | None
    benchmark_name: str
    dist: Distribution
    rank: int | None
    direction: str   # "higher", "lower", "similar" or "none"
    verdict: str     # "better", "worse", "similar", "neutral" or "none"

    @property
    def is_count(self) -> bool:
        """True for counts (residents, devices): areas of different sizes do not compare."""
        return self.unit in COUNT_UNITS

    def fmt(self, value: float | None, decimals: int | None = None) -> str:
        """A value of this indicator as text ("58.3%", "£32,000", "1,234", "no data")."""
        return fmt_value(value, self.unit, self.decimals if decimals is None else decimals)

    @property
    def comparison_short(self) -> str:
        """``comparison_text`` for tight spaces: "higher (worse)", "similar", "below median
        ward" (London is named in the column heading)."""
        if self.direction in ("none", "similar"):
            return NO_DATA if self.direction == "none" else "similar"
        text = self.direction if self.benchmark_name == "London" else \
            f"{'above' if self.direction == 'higher' else 'below'} median ward"
        return f"{text} ({self.verdict})" if self.verdict in ("better", "worse") else text

    @property
    def period_short(self) -> str:
        """The period in a few characters: "2021", "2024 Q2", "Apr 2025 to Mar 2026"."""
        return short_period(self.period)

    @property
    def rank_text(self) -> str:
        return NO_DATA if self.rank is None else f"{ordinal(self.rank)} of {self.dist.count:,}"

    @property
    def comparison_text(self) -> str:
        """e.g. "higher than London (better)"; "no data" when the ward has no value."""
        if self.direction == "none":
            return NO_DATA
        if self.direction == "similar":
            return f"similar to {self.benchmark_name}"
        text = f"{self.direction} than {self.benchmark_name}"
        return f"{text} ({self.verdict})" if self.verdict in ("better", "worse") else text


def short_period(period: str) -> str:
    """A period as text for tight spaces: "2024Q2" -> "2024 Q2", "2025-04 to 2026-03" -> "Apr 2025
    to Mar 2026"; anything else as it is."""
    match = _MONTH_SPAN.fullmatch(period or "")
    if match:
        y0, m0, y1, m1 = (int(g) for g in match.groups())
        return f"{_MONTHS[m0 - 1]} {y0} to {_MONTHS[m1 - 1]} {y1}"
    quarter = _QUARTER.fullmatch(period or "")
    if quarter:
        return f"{quarter[1]} Q{quarter[2]}"
    return period


def fmt_value(value: float | None, unit: str, decimals: int) -> str:
    """A value with its unit where the unit is a symbol (%, £); others go in the row label."""
    if unit.startswith("%"):
        return fmt_pct(value, decimals)
    if unit == "£":
        return fmt_rate(value, "£", decimals)
    return fmt_number(value, decimals)


def _label(title: str) -> str:
    """The indicator's name without a trailing rate description (the unit says it)."""
    return title.split(": rate per")[0] if ": rate per" in title else title


def _cite(source: str, period: str, period_label: str) -> str:
    """How a sentence names an indicator's source and period, without nested brackets:
    "GLA ward profiles 2015: 2009 to 2013, five years pooled"."""
    label = (period_label or period).replace(" (", ", ").replace(")", "")
    return CITES.get(source, "{label}").format(period=period, label=label)


def _direction(value: float | None, benchmark: float | None, decimals: int,
               polarity: int) -> tuple[str, str]:
    if value is None or benchmark is None:
        return "none", "none"
    if abs(value - benchmark) < 0.5 * 10 ** (-decimals):
        return "similar", "similar"
    higher = value > benchmark
    direction = "higher" if higher else "lower"
    if polarity == 0:
        return direction, "neutral"
    return direction, "better" if higher == (polarity > 0) else "worse"


def indicator_row(meta: pd.Series, data: LayerData, ward: WardInfo,
                  compare: WardInfo | None = None,
                  similar_codes: tuple[str, ...] = ()) -> IndicatorRow:
    """One indicator of ``ward`` (and optionally a second ward) against borough and London, with
    the median of its similar wards (``similar_codes``: their statistical codes)."""
    ind = str(meta["indicator_id"])
    unit, decimals = str(meta["unit"]), int(meta["decimals"])
    polarity = int(meta["polarity"])
    column = data.wards[ind] if ind in data.wards.columns else pd.Series(dtype=float)
    dist = distribution(column)
    value = _value(data.wards, ward.stat_code, ind)
    london = None if ind not in data.london.index or pd.isna(data.london[ind]) \
        else float(data.london[ind])
    if unit in COUNT_UNITS or london is None:
        benchmark, bench_name = dist.median, "the median London ward"
    else:
        benchmark, bench_name = london, "London"
    direction, verdict = _direction(value, benchmark, decimals, polarity)
    period = str(data.periods.get(ind, meta.get("default_period", "")))
    label = str(meta["period_label"])
    return IndicatorRow(
        indicator_id=ind, title=str(meta["title"]), label=_label(str(meta["title"])),
        theme=str(meta["theme"]), unit=unit, decimals=decimals, polarity=polarity,
        period=period, period_label=label, source=str(meta["source"]),
        cite=_cite(str(meta["source"]), period, label), definition=str(meta["definition"]),
        ward=value, borough=_value(data.boroughs, ward.borough_code, ind), london=london,
        compare=_value(data.wards, compare.stat_code, ind) if compare else None,
        similar=_median(data.wards, similar_codes, ind),
        benchmark=benchmark, benchmark_name=bench_name, dist=dist,
        rank=rank_of(column, value), direction=direction, verdict=verdict,
    )


# Key facts -----------------------------------------------------------------------------------------
def _fact_value(row: IndicatorRow, fact: Fact, value: float | None) -> str:
    return row.fmt(value, fact.decimals)


def key_facts(rows: dict[str, IndicatorRow], ward: WardInfo) -> list[str]:
    """Plain-English sentences for the vintage's key indicators, each ending with its source and
    period in brackets, e.g. "58% of households have no car or van, against 58% in Lambeth and
    42% in London (Census 2021)." An indicator the ward has no value for gives no sentence."""
    out = []
    residents = _residents_fact(rows, ward)
    if residents:
        out.append(residents)
    for fact in FACTS[ward.layer]:
        row = rows.get(fact.indicator_id)
        if row is None or row.ward is None:
            continue
        subject = fact.subject.format(v=_fact_value(row, fact, row.ward))
        against = []
        if row.borough is not None and not ward.shares_city_figures:
            against.append(f"{_fact_value(row, fact, row.borough)} in {ward.borough_name}")
        if row.london is not None:
            against.append(f"{_fact_value(row, fact, row.london)} in London")
        tail = f", against {join_and(against)}" if against else ""
        out.append(f"{subject}{tail} ({row.cite}).")
    return out


def _residents_fact(rows: dict[str, IndicatorRow], ward: WardInfo) -> str | None:
    people_id, households_id = RESIDENTS[ward.layer]
    people = rows.get(people_id)
    if people is None or people.ward is None:
        return None
    where = "the City of London as a whole has" if ward.shares_city_figures else \
        f"{ward.name} has"
    text = f"{where} {fmt_number(people.ward)} residents"
    households = rows.get(households_id) if households_id else None
    if households is not None and households.ward is not None:
        text += f" in {fmt_number(households.ward)} households"
    what = "usual residents, " if people_id == "usual_residents" else ""
    return f"{text[0].upper()}{text[1:]} ({what}{people.cite})."


# EV in the ward -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvSummary:
    """EV figures for a ward: devices on the map by speed class (mixed sources), DfT figures
    (2022 wards only) and simulated usage for the last 12 months."""

    devices_by_speed: dict
    devices_total: int
    dft_devices: float | None
    dft_devices_period: str | None
    per_100k: IndicatorRow | None
    usage: dict                     # sessions, kwh, time_utilisation, devices, period_start/end
    ev_link: str
    devices: pd.DataFrame = field(default_factory=pd.DataFrame)   # name, lon, lat, speed_class


def ev_summary(store, ward: WardInfo, data: LayerData, rows: dict[str, IndicatorRow],
               date_from: str, date_to: str) -> EvSummary:
    """See ``EvSummary``. ``date_from``/``date_to`` (YYYY-MM) bound the simulated usage."""
    from dashboard.data.store import UsageFilter

    devices = store.devices(ward=ward.code, ward_layer=ward.layer)
    counts = devices["speed_class"].value_counts()
    by_speed = {s: int(counts.get(s, 0)) for s in schema.SPEED_CLASSES}
    usage_filter = UsageFilter(ward=ward.code, ward_layer=ward.layer, date_from=date_from,
                               date_to=date_to)
    totals = store.usage_summary(usage_filter).iloc[0].to_dict()
    usage = {
        "sessions": int(totals["sessions"]), "kwh": float(totals["kwh"]),
        "devices": int(totals["devices"]),
        "time_utilisation": metrics.time_utilisation(totals["plugged_hours"],
                                                     totals["available_device_hours"]),
        "period_start": totals.get("period_start"), "period_end": totals.get("period_end"),
    }
    dft = rows.get("ev_public_devices")
    return EvSummary(
        devices_by_speed=by_speed, devices_total=int(len(devices)),
        dft_devices=dft.ward if dft else None, dft_devices_period=dft.period if dft else None,
        per_100k=rows.get("ev_devices_per_100k"),
        usage=usage,
        ev_link=f"/ev?borough={ward.borough_code}&ward={ward.code}"
                + ("" if ward.layer == "ward2022" else "&layer=ward2011"),
        devices=devices[["name", "lon", "lat", "speed_class"]].reset_index(drop=True),
    )


# Overlapping wards of the other vintage ------------------------------------------------------------
@dataclass(frozen=True)
class Overlap:
    ward: WardInfo
    share_of_this: float   # share of the profiled ward's area inside ``ward``
    share_of_that: float   # share of ``ward``'s area inside the profiled ward


def overlaps(data_dir, layers: dict, ward: WardInfo) -> list[Overlap]:
    """Wards of the other vintage overlapping ``ward``, largest share of its area first."""
    from layers.overlap import overlapping

    try:
        table = overlapping(data_dir, ward.code, ward.layer)
    except (OSError, ValueError) as exc:
        log.warning("Could not compute ward overlaps: %s", exc)
        return []
    out = []
    for row in table.itertuples(index=False):
        other = ward_info(layers, row.code)
        if other:
            out.append(Overlap(other, float(row.share_of_this), float(row.share_of_that)))
    return out


# Similar wards ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimilarWard:
    """One of a ward's statistical neighbours (see ``dashboard.pipeline.similar``).

    ``stat_code`` is the unit the neighbours were computed for; ``code`` and ``path`` the ward a
    link opens (for the City of London, one unit of 25 wards, its first ward by name).
    ``close`` of ``features`` indicators differ by less than ``CLOSE_SD`` London standard
    deviations; ``distance`` is the Euclidean distance between the two wards' z-scores."""

    code: str
    stat_code: str
    name: str
    borough_name: str
    rank: int
    distance: float
    close: int
    features: int

    @property
    def path(self) -> str:
        return f"/ward/{self.code}"

    @property
    def alike_text(self) -> str:
        """e.g. "close on 10 of 11 measures"."""
        return f"close on {self.close} of {self.features} measures"


def _similar_table(store) -> pd.DataFrame:
    return derived(store, "similar-wards", lambda s: s.similar_wards())


def _units(layers: dict, layer: str) -> dict[str, list[WardInfo]]:
    """The wards of ``layer`` by statistical code, each list sorted by name."""
    def make(_):
        units: dict[str, list[WardInfo]] = {}
        for ward in all_wards(layers):
            if ward.layer == layer:
                units.setdefault(ward.stat_code, []).append(ward)
        return units
    return derived(layers, f"units-{layer}", make)


def similar_wards(store, layers: dict, ward: WardInfo) -> list[SimilarWard]:
    """The ward's similar wards, nearest first (empty if the file is missing or has no row)."""
    table = _similar_table(store)
    rows = table[(table["layer"] == ward.layer) & (table["code"] == ward.stat_code)]
    units = _units(layers, ward.layer)
    out = []
    for row in rows.itertuples(index=False):
        members = units.get(str(row.neighbour))
        if not members:
            continue
        first = members[0]
        name = first.name if len(members) == 1 else \
            f"{first.borough_name} (its {len(members)} wards share one set of figures)"
        out.append(SimilarWard(first.code, str(row.neighbour), name, first.borough_name,
                               int(row.rank), float(row.distance), int(row.close),
                               int(row.features)))
    return out


def similar_method(layer: str, subject: str = "this one") -> str:
    """How similar wards are chosen, in one paragraph (the profile's note, Data & sources)."""
    from dashboard.pipeline.similar import CLOSE_SD, FEATURES, K

    things = join_and(f.what for f in FEATURES[layer])
    n = len(FEATURES[layer])
    city = ("The City of London publishes one set of figures for its wards, so it counts as one "
            "ward here. " if layer == "ward2022" else "")
    vintage = LAYER_LABELS[layer].split()[0]
    return (f"Similar wards are the {K} wards ({vintage} boundaries) most like {subject} on "
            f"{len(FEATURES[layer])} "
            f"indicators: {things}. Each indicator is standardised across London's wards "
            "(how many standard deviations a ward is from the London ward average), all count "
            "equally, and likeness is the straight-line distance between two wards on all of "
            f"them together. \"Close on 9 of {n} measures\" means the two wards differ by less "
            f"than {CLOSE_SD:g} of a standard deviation on 9 of them. {city}This is a guide to "
            "fair comparison, not a statistical test.")


def similar_method_short(layer: str) -> str:
    """``similar_method`` in one sentence, for paper."""
    from dashboard.pipeline.similar import FEATURES, K

    return (f"The {K} wards most like this one on {len(FEATURES[layer])} indicators of age, "
            "deprivation, tenure, cars, health, "
            + ("occupation" if layer == "ward2022" else "qualifications")
            + " and density, each standardised across London's wards and weighted equally; "
            "\"close\" means within half a standard deviation. The full method is on the Data "
            "and sources page.")


# What stands out -----------------------------------------------------------------------------------
MAX_STANDOUTS = 5
MIN_STANDOUTS = 3
# An indicator stands out when the ward is at least this many London standard deviations from
# London's value; at least MIN_STANDOUTS are shown when the profile has that many indicators.
STANDOUT_SD = 1.0


@dataclass(frozen=True)
class Standout:
    """An indicator where the ward is far from London: ``score`` standard deviations."""

    row: IndicatorRow
    score: float
    text: str


def _spread(data: LayerData, indicator_id: str) -> float | None:
    """The standard deviation of the indicator across London's ward units (None if 0 or
    unknown); all indicators' computed once per ``LayerData``."""
    spreads = derived(data.wards, "spreads", lambda w: w.astype(float).std(ddof=0))
    sd = spreads.get(indicator_id)
    return float(sd) if sd is not None and np.isfinite(sd) and sd > 0 else None


def rank_phrase(row: IndicatorRow, values: pd.Series) -> str:
    """"the 45th highest of 680 London wards" or, in the lower half, "the 3rd lowest"."""
    finite = values[np.isfinite(values.astype(float))].astype(float)
    count = len(finite)
    higher = int((finite > row.ward).sum()) + 1
    lower = int((finite < row.ward).sum()) + 1
    end, place = ("highest", higher) if higher <= lower else ("lowest", lower)
    nth = "" if place == 1 else f"{ordinal(place)} "
    return f"the {nth}{end} of {count:,} London wards"


def standout_text(row: IndicatorRow, values: pd.Series, shares_city: bool = False) -> str:
    """One plain sentence: value, London's, rank, similar wards' median, better or worse only
    where the indicator has a direction."""
    subject = "the City of London" if shares_city else "the ward"
    unit = "" if row.unit.startswith(("%", "£")) else f" {row.unit}"
    text = (f"{row.label}: {row.fmt(row.ward)}{unit} in {subject} against "
            f"{row.fmt(row.london)} in London, {rank_phrase(row, values)}")
    if row.similar is not None:
        text += f"; similar wards' median {row.fmt(row.similar)}"
    if row.verdict in ("better", "worse"):
        text += f". {row.direction.capitalize()} than London is {row.verdict}"
    return f"{text} ({row.cite})."


def standouts(rows: list[IndicatorRow], data: LayerData, ward: WardInfo,
              limit: int = MAX_STANDOUTS) -> list[Standout]:
    """The indicators where the ward differs most from London, most different first: at most
    ``limit``, one per theme so that one theme's many crime types do not fill the list, counts
    and ranks left out (London's total is no comparison for a ward)."""
    scored = []
    for row in rows:
        if row.is_count or row.unit.startswith("rank") or row.ward is None or row.london is None:
            continue
        if row.direction in ("similar", "none"):
            continue
        if row.dist.low is not None and not row.dist.low <= row.london <= row.dist.high:
            continue   # London's value is a total (an area, say), not a ward-sized figure
        sd = _spread(data, row.indicator_id)
        if sd is None:
            continue
        scored.append((abs(row.ward - row.london) / sd, row))
    scored.sort(key=lambda s: (-s[0], s[1].indicator_id))
    chosen, themes = [], set()
    for score, row in scored:
        if row.theme in themes:
            continue
        if score < STANDOUT_SD and len(chosen) >= MIN_STANDOUTS:
            break
        themes.add(row.theme)
        chosen.append(Standout(row, score, standout_text(row, data.wards[row.indicator_id],
                                                         ward.shares_city_figures)))
        if len(chosen) >= limit:
            break
    return chosen


# Trends ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrendSpec:
    """A series the profile draws over time: ``per`` residents (Census 2021) turns a count into
    a rate so that areas of any size compare; None when the series is a rate already."""

    indicator_id: str
    title: str
    unit: str
    per: int | None
    decimals: int
    caption: str


TRENDS = {
    "ward2022": (
        TrendSpec("ev_public_devices", "Public charge devices, each year", "per 100,000 residents",
                  100_000, 0, "Public charge devices (DfT and OZEV, counted each year) per "
                  "100,000 usual residents (Census 2021)."),
        TrendSpec("ev_plugin_vehicles", "Plug-in vehicles, each quarter", "per 1,000 residents",
                  1_000, 1, "Licensed plug-in vehicles (DfT vehicle licensing statistics, "
                  "quarterly) per 1,000 usual residents (Census 2021)."),
        TrendSpec("crime_all_monthly", "Crime, each month", "per 1,000 residents", None, 1,
                  "All crime recorded by the Metropolitan Police each month, per 1,000 "
                  "residents."),
    ),
    "ward2011": (),
}


@dataclass(frozen=True)
class Trend:
    spec: TrendSpec
    frame: pd.DataFrame   # area (ward, borough, london, similar), name, period, value


def _rates(store, spec: TrendSpec, codes: list[str], layer: str) -> pd.DataFrame:
    """``code``, ``period``, ``value`` of the series for ``codes``, as rates."""
    series = store.indicator_series(spec.indicator_id, codes, layer)
    series["value"] = series["value"].astype(float)
    if spec.per is not None:
        residents = derived(store, f"residents-{layer}", lambda st: st.indicator_values(
            "usual_residents", layer).set_index("code")["value"])
        people = series["code"].map(residents.astype(float))
        series["value"] = series["value"] / people.where(people > 0) * spec.per
    return series


def trends(store, ward: WardInfo, similar: list[SimilarWard]) -> list[Trend]:
    """The vintage's series (``TRENDS``) for the ward, its borough, London and the median of its
    similar wards (the median of their rates, period by period). A City of London ward shows
    the City's series and no separate borough line (they are the same)."""
    out = []
    for spec in TRENDS[ward.layer]:
        parts = []
        name = "City of London" if ward.shares_city_figures else ward.name
        lines = [("ward", ward.layer, [ward.stat_code], name)]
        if not ward.shares_city_figures:
            lines.append(("borough", "borough", [ward.borough_code], ward.borough_name))
        lines.append(("london", "london", [schema.LONDON_CODE], schema.LONDON_NAME))
        for role, layer, codes, label in lines:
            rates = _rates(store, spec, codes, layer)
            parts.append(pd.DataFrame({"area": role, "name": label, "period": rates["period"],
                                       "value": rates["value"]}))
        if similar:
            rates = _rates(store, spec, [s.stat_code for s in similar], ward.layer)
            median = rates.groupby("period", sort=True)["value"].median().reset_index()
            parts.append(pd.DataFrame({"area": "similar", "name": "Similar wards (median)",
                                       "period": median["period"], "value": median["value"]}))
        frame = pd.concat(parts, ignore_index=True)
        if frame["value"].notna().any():
            out.append(Trend(spec, frame))
    return out


# The profile ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """A dataset the profile uses: its title and publisher, and the attribution its licence asks
    for."""

    name: str
    attribution: str

    def __str__(self) -> str:
        return f"{self.name}. {self.attribution}"


@dataclass(frozen=True)
class Profile:
    ward: WardInfo
    compare: WardInfo | None
    rows: list[IndicatorRow]
    facts: list[str]
    residents: IndicatorRow | None
    ev: EvSummary
    overlaps: list[Overlap]
    sources: list["Source"] = field(default_factory=list)
    similar: list[SimilarWard] = field(default_factory=list)
    standouts: list[Standout] = field(default_factory=list)
    trends: list[Trend] = field(default_factory=list)

    def themes(self) -> list[tuple[str, list[IndicatorRow]]]:
        """The rows grouped by theme, in ``schema.THEMES`` order."""
        groups: dict[str, list[IndicatorRow]] = {}
        for row in self.rows:
            groups.setdefault(row.theme, []).append(row)
        return [(t, groups[t]) for t in THEMES if t in groups] + \
            [(t, r) for t, r in groups.items() if t not in THEMES]

    @property
    def title(self) -> str:
        return f"{self.ward.name}, {self.ward.borough_name} ({LAYER_LABELS[self.ward.layer]})"


def compare_options(layers: dict, ward: WardInfo,
                    similar: list[SimilarWard] | None = None) -> list[dict]:
    """Other wards of the same vintage: its similar wards first (nearest first), then the same
    borough's, then the rest of London."""
    first = [s for s in (similar or []) if s.code != ward.code]
    taken = {s.code for s in first}
    options = [{"label": f"Similar: {s.name} — {s.borough_name}", "value": s.code}
               for s in first]
    wards = [w for w in all_wards(layers)
             if w.layer == ward.layer and w.code != ward.code and w.code not in taken]
    wards.sort(key=lambda w: (w.borough_code != ward.borough_code, w.name, w.borough_name))
    return options + [{"label": f"{w.name} — {w.borough_name}", "value": w.code} for w in wards]


def build_profile(store, layers: dict, ward: WardInfo, *, compare: WardInfo | None = None,
                  date_from: str, date_to: str, data_dir=None, datasets: pd.DataFrame | None = None
                  ) -> Profile:
    """Everything a ward's profile shows. ``compare`` must be of the same vintage (else ignored)."""
    if compare is not None and (compare.layer != ward.layer or compare.code == ward.code):
        compare = None
    data = layer_data(store, ward.layer)
    similar = similar_wards(store, layers, ward)
    codes = tuple(s.stat_code for s in similar)
    rows = [indicator_row(meta, data, ward, compare, codes)
            for _, meta in data.indicators.iterrows()]
    by_id = {r.indicator_id: r for r in rows}
    sources = []
    if datasets is not None and not datasets.empty:
        used = list(dict.fromkeys(r.source for r in rows))
        table = datasets.set_index("dataset_id")
        sources = [Source(f"{table.at[s, 'title']} ({table.at[s, 'publisher']})",
                          str(table.at[s, "attribution"])) for s in used if s in table.index]
    return Profile(
        ward=ward, compare=compare, rows=rows, facts=key_facts(by_id, ward),
        residents=by_id.get(RESIDENTS[ward.layer][0]),
        ev=ev_summary(store, ward, data, by_id, date_from, date_to),
        overlaps=overlaps(data_dir, layers, ward) if data_dir is not None else [],
        sources=sources, similar=similar, standouts=standouts(rows, data, ward),
        trends=trends(store, ward, similar),
    )


# Export ---------------------------------------------------------------------------------------------
def export_frame(profile: Profile) -> pd.DataFrame:
    """The profile's indicator table, one row per indicator, numbers as numbers."""
    ward, compare = profile.ward, profile.compare
    records = []
    for r in profile.rows:
        record = {
            "Theme": r.theme, "Indicator": r.title, "Indicator id": r.indicator_id,
            "Unit": r.unit, "Period": r.period_label,
            f"Ward: {ward.name}": r.ward, f"Borough: {ward.borough_name}": r.borough,
            "London": r.london,
        }
        if compare is not None:
            record[f"Comparison ward: {compare.name}"] = r.compare
        record.update({
            "Rank among London wards (1 = highest)": r.rank,
            "London wards with a value": r.dist.count,
            "Lowest London ward": r.dist.low, "Highest London ward": r.dist.high,
            "Compared with": r.benchmark_name, "Direction": r.comparison_text,
            "Polarity (1 higher is better, -1 lower is better, 0 neither)": r.polarity,
            "Source": r.cite,
        })
        records.append(record)
    return pd.DataFrame.from_records(records)


def export_meta(profile: Profile, link: str, now: dt.datetime) -> ExportMeta:
    ward = profile.ward
    notes = [VINTAGE_NOTES[ward.layer],
             "Better or worse is by direction only, not statistical significance."]
    if ward.shares_city_figures:
        notes.append("The City of London's statistics are published for the City as a whole: "
                     "the ward figures are the whole City's.")
    return ExportMeta(
        title=f"Ward profile: {profile.title}",
        filters_text=f"Ward {ward.name} ({ward.code}), {ward.borough_name}; "
                     f"{LAYER_LABELS[ward.layer]}"
                     + (f"; compared with {profile.compare.name}" if profile.compare else ""),
        period_text="Each indicator has its own period (see the Period column)",
        link=link, generated_at=now, sources=[str(s) for s in profile.sources], notes=notes,
    )


def remember(recent: list | None, code: str, limit: int = MAX_RECENT) -> list[str]:
    """The recently viewed ward codes with ``code`` moved to the front, at most ``limit``."""
    codes = [c for c in (recent or []) if isinstance(c, str) and c != code]
    return [code, *codes][:limit]
