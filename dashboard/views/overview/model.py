"""The overview: headline figures for London, a borough or a ward, and the map's values.

Reads through the store only; returns plain data that the page turns into components.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.data import schema
from dashboard.figures import MapValues, fit_extent
from dashboard.domain.state import FilterState, Known
from dashboard.domain.text import fmt_number

# Map measures on the overview: indicator ids of the 2022 ward layer, with a short label.
MEASURES = {
    "ev_devices_per_100k": "Public charge devices per 100,000 residents (2024)",
    "ev_vehicles_per_device": "Plug-in vehicles per public charge device (2024)",
    "no_car_households_pct": "Households with no car or van (2021)",
    "deprived_1plus_pct": "Households deprived in one or more dimensions (2021)",
    "usual_residents": "Usual residents (2021)",
}
DEFAULT_MEASURE = "ev_devices_per_100k"

# Headline cards: (indicator id, label, note template). Periods come from the catalogue.
HEADLINES = (
    ("usual_residents", "Residents", "Census 2021"),
    ("ev_public_devices", "Public charge devices", "DfT / OZEV, 2024"),
    ("ev_devices_per_100k", "Devices per 100,000 residents", "2024"),
    ("ev_plugin_vehicles", "Licensed plug-in vehicles", "DfT, 2024 Q2"),
    ("ev_vehicles_per_device", "Plug-in vehicles per public device", "2024"),
    ("no_car_households_pct", "Households with no car or van", "Census 2021"),
    ("deprived_1plus_pct", "Households deprived in 1 or more dimensions", "Census 2021"),
)


@dataclass(frozen=True)
class Headline:
    indicator_id: str
    label: str
    value: str
    note: str


def area_key(state: FilterState, known: Known, layers: dict[str, pd.DataFrame]) -> tuple[str, str]:
    """(indicator layer, code) that holds statistics for the area in view.

    A City of London ward reports under the City as a whole.
    """
    if state.ward:
        table = layers[state.ward_layer].set_index("code")
        if state.ward in table.index:
            return state.ward_layer, table.at[state.ward, "stat_code"]
    if state.borough:
        return "borough", state.borough
    return "london", schema.LONDON_CODE


def _value(store, indicator_id: str, layer: str, code: str) -> float | None:
    frame = store.indicator_values(indicator_id, layer)
    hit = frame.loc[frame["code"] == code, "value"]
    if hit.empty or pd.isna(hit.iloc[0]):
        return None
    return float(hit.iloc[0])


def headlines(store, state: FilterState, known: Known, layers: dict[str, pd.DataFrame],
              catalogue: pd.DataFrame) -> list[Headline]:
    """Headline figures for the area in view, each with London beside it (unless London)."""
    layer, code = area_key(state, known, layers)
    cat = catalogue.set_index("indicator_id")
    out = []
    for ind, label, period in HEADLINES:
        # Ward-level indicators live on the 2022 layer; on 2011 wards use their borough instead.
        lay, cd = (layer, code)
        if lay == "ward2011":
            lay, cd = "borough", known.ward("ward2011", state.ward).borough
        value = _value(store, ind, lay, cd)
        unit = str(cat.at[ind, "unit"]) if ind in cat.index else ""
        decimals = int(cat.at[ind, "decimals"]) if ind in cat.index else 0
        text = fmt_number(value, decimals)
        if value is not None and unit.startswith("%"):
            text = f"{text}%"
        pct = "%" if unit.startswith("%") else ""
        note = period
        if lay in ("ward2022", "ward2011") and state.borough:
            borough = _value(store, ind, "borough", state.borough)
            note += f". {known.borough_name(state.borough)}: {fmt_number(borough, decimals)}{pct}"
        if lay != "london":
            london = _value(store, ind, "london", schema.LONDON_CODE)
            note += f". London: {fmt_number(london, decimals)}{pct}"
        out.append(Headline(ind, label, text, note))
    return out


def rapid_devices(store, state: FilterState) -> int:
    """Devices on the map rated 50 kW or more (rapid and ultra-rapid) in the area in view."""
    devices = store.devices(borough=state.borough, ward=state.ward, ward_layer=state.ward_layer,
                            speeds=("rapid", "ultra"))
    return int(len(devices))


@dataclass(frozen=True)
class MapView:
    """What the overview map shows: the layer, its areas and values, and where to look."""
    layer: str
    codes: list[str]
    names: list[str]
    values: MapValues
    outline: list[str]
    selected: list[str]
    centre: dict | None
    zoom: float | None


def map_view(store, state: FilterState, known: Known, layers: dict[str, pd.DataFrame],
             catalogue: pd.DataFrame, extents: pd.DataFrame, measure: str) -> MapView:
    """London: boroughs coloured by the measure. A borough: its 2022 wards, zoomed to it."""
    cat = catalogue.set_index("indicator_id")
    measure = measure if measure in MEASURES else DEFAULT_MEASURE
    polarity = int(cat.at[measure, "polarity"]) if measure in cat.index else 0
    decimals = int(cat.at[measure, "decimals"]) if measure in cat.index else 0
    unit = str(cat.at[measure, "unit"]) if measure in cat.index else ""
    if state.borough is None:
        layer, table = "borough", layers["borough"]
        vals = store.indicator_values(measure, "borough").set_index("code")["value"]
        z = table["code"].map(vals)
        centre = zoom = None
        outline, selected = [], []
    else:
        layer = "ward2022"
        table = layers[layer][layers[layer]["borough_code"] == state.borough]
        vals = store.indicator_values(measure, layer).set_index("code")["value"]
        z = table["stat_code"].map(vals)
        centre, zoom = fit_extent(extents, "borough", state.borough)
        outline = [state.borough]
        selected = [state.ward] if state.ward and state.ward_layer == layer else []
        if state.ward and state.ward_layer == "ward2011":
            selected = []
    values = MapValues(
        codes=list(table["code"]), values=[float(v) if pd.notna(v) else math.nan for v in z],
        label=MEASURES[measure], unit=unit, decimals=decimals,
        reverse=polarity > 0, neutral=polarity == 0,
    )
    return MapView(layer, list(table["code"]), list(table["name"]), values, outline, selected,
                   centre, zoom)


def has_values(view: MapView) -> bool:
    return bool(np.isfinite(np.asarray(view.values.values, dtype=float)).any())
