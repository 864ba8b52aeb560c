"""Glue between the URL filter state and the data: what may be chosen, and how to ask for it.

Builds the :class:`dashboard.domain.state.Known` from the store, the option lists the filter bar shows,
the store's usage filter for a state, and a plain-English description of a state for exports.
"""
from __future__ import annotations

import datetime as dt

from dashboard.data import schema
from dashboard.domain.state import FilterState, Known
from dashboard.domain.text import fmt_month, join_and

# What the EV map can colour wards by (ids used in the URL parameter ``measure``).
EV_MEASURES = {
    "devices": "Charge devices on the map",
    "devices_per_100k": "Public devices per 100,000 residents (DfT, 2024)",
    "sessions": "Sessions (simulated)",
    "kwh": "Energy delivered, kWh (simulated)",
    "time_utilisation": "Time-based utilisation (simulated)",
    "energy_utilisation": "Energy-based utilisation (simulated)",
    "vehicles_per_device": "Plug-in vehicles per public device (DfT)",
}
DEFAULT_PERIOD_MONTHS = 12


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as YYYY-MM."""
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def known_from_store(store) -> Known:
    """Everything a link may name, read once per process from the processed data."""
    cov = store.coverage()
    start, end = cov.get("start"), cov.get("end")
    months = (_month(start), _month(end)) if start and end else ("2024-04", "2026-03")
    layers = {layer: store.layer_table(layer) for layer in schema.LAYERS}
    catalogue = store.catalogue()
    return Known.from_layers(
        layers, months, operators=store.operators(),
        indicators=tuple(catalogue["indicator_id"]), measures=tuple(EV_MEASURES),
        location_types=store.choice_values("location_type"),
        years=store.choice_values("install_year"),
    )


def default_state(known: Known) -> FilterState:
    """London, the latest twelve months of usage, every speed and operator."""
    months = months_between(*known.months)
    first = months[max(0, len(months) - DEFAULT_PERIOD_MONTHS)]
    return known.defaults().replace(date_from=first, date_to=months[-1])


def usage_filter(state: FilterState):
    """The store's usage filter for a state."""
    from dashboard.data.store import UsageFilter

    return UsageFilter(borough=state.borough, ward=state.ward, ward_layer=state.ward_layer,
                       date_from=state.date_from, date_to=state.date_to, speeds=state.speeds,
                       operators=state.operators,
                       **{field: getattr(state, field) for field, _, _ in schema.DEVICE_FILTERS})


def borough_options(known: Known) -> list[dict]:
    names = {code: known.borough_name(code) for code in known.boroughs}
    return [{"label": names[c], "value": c} for c in sorted(names, key=names.get)]


def ward_options(known: Known, layer: str, borough: str | None) -> list[dict]:
    """Wards of the layer (of one borough when given), labelled "Ward (Borough)" London-wide."""
    wards = known.wards[layer]
    rows = [(w.name, code, w.borough) for code, w in wards.items()
            if borough is None or w.borough == borough]
    rows.sort(key=lambda r: (r[0], known.borough_name(r[2])))
    if borough:
        return [{"label": name, "value": code} for name, code, _ in rows]
    return [{"label": f"{name} ({known.borough_name(b)})", "value": code} for name, code, b in rows]


def month_options(known: Known) -> list[dict]:
    return [{"label": fmt_month(m), "value": m} for m in months_between(*known.months)]


def place_name(state: FilterState, known: Known) -> str:
    """The area in view, in words: "Brixton Windrush, Lambeth", "Lambeth" or "London"."""
    if state.ward:
        ward = known.ward(state.ward_layer, state.ward)
        if ward:
            return f"{ward.name}, {known.borough_name(ward.borough)}"
    if state.borough:
        return known.borough_name(state.borough)
    return schema.LONDON_NAME


def describe(state: FilterState, known: Known) -> str:
    """The filters in plain English, for export headers and chart captions."""
    parts = [f"Area: {place_name(state, known)}"]
    if state.ward:
        parts.append("Boundaries: " + ("2022 wards" if state.ward_layer == "ward2022"
                                        else "2011 wards"))
    parts.append("Speeds: " + (join_and([schema.SPEED_LABELS[s] for s in state.speeds])
                               if state.speeds else "all"))
    parts.append("Operators: " + (join_and(list(state.operators)) if state.operators else "all"))
    words = {**schema.STATUS_CHOICES, **schema.STREET_CHOICES}
    for field, heading in CHOICE_HEADINGS.items():
        values = getattr(state, field)
        if values:
            parts.append(f"{heading}: " + join_and([words.get(v, v) for v in values]))
    return "; ".join(parts)


# The device filters as the filter bar and export headers name them.
CHOICE_HEADINGS = {"statuses": "Status", "streets": "On or off street",
                   "location_types": "Location types", "years": "Installed in"}


def choice_options(known: Known, field: str) -> list[dict]:
    """Options of a device filter control: labels in words, values as links write them."""
    words = {**schema.STATUS_CHOICES, **schema.STREET_CHOICES}
    return [{"label": words.get(v, v), "value": v} for v in known.choices(field)]
