"""Figures of the EV charging page: the device map, trends, the heat-map and breakdowns.

Pure builders of data frames and plain values; nothing here reads files or runs queries. Charts
use the empty ``"none"`` template (the default one adds ~7 KB to every figure sent) and carry
their own title, so that a downloaded PNG or SVG says what it shows, where and when, and that
usage is simulated. The map is a plotly figure (built on ``maps.choropleth_map``); the charts
are plain figure dicts (see "Charts").
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch

from dashboard.figures.maps import (LONDON_CENTRE, LONDON_ZOOM, NAME_FROM_GEOJSON, MapValues,
                                    _colorscale, _hover, base_layout, choropleth_map,
                                    colour_range, colour_title)

SIMULATED = "simulated usage"
SUBTITLE = '<br><span style="font-size:13px;color:#484949">{}</span>'
GRID = "#dedede"
BAR = "#1d70b8"
SECOND = "#d4351c"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HEAT = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]


@dataclass(frozen=True)
class SpeedStyle:
    """How one speed class is drawn: colour, marker size in pixels, ring for 50 kW and over."""
    label: str
    colour: str
    size: int
    ring: bool = False


# Size grows with power and rapid/ultra get a black ring, so colour is never the only cue.
# Warm colours (Okabe-Ito, and a dark red for ultra-rapid) that stand out on the blue-green
# choropleth.
SPEED_STYLES = {
    "slow": SpeedStyle("Slow (under 8 kW)", "#cc79a7", 6),
    "fast": SpeedStyle("Fast (8 to 49 kW)", "#e69f00", 8),
    "rapid": SpeedStyle("Rapid (50 to 149 kW)", "#d55e00", 12, ring=True),
    "ultra": SpeedStyle("Ultra-rapid (150 kW and over)", "#b2182b", 15, ring=True),
    "unknown": SpeedStyle("Power not published", "#5f5f5f", 5),
}
SPEEDS = tuple(SPEED_STYLES)
RING = 6  # extra pixels of the ring under rapid and ultra-rapid markers
NAMES_LIMIT = 60  # above this many points, hover shows the speed class only, not device names
# Map traces, in order: 0-2 from maps.choropleth_map (values, outline, selected area), then the
# selected-device highlight (under the points so that they stay clickable), the rings, the points.
DEVICE_TRACE = 3
RING_TRACE = 4
POINT_TRACES = {speed: 5 + i for i, speed in enumerate(SPEEDS)}


def typed(values, dtype: str = "f4") -> dict:
    """A plotly.js typed-array spec (base64, little-endian): a compact way to send numbers.

    Plotly encodes NumPy arrays like this inside figures, but not inside a ``Patch``.
    """
    array = np.ascontiguousarray(np.asarray(values, dtype=np.dtype(dtype).newbyteorder("<")))
    return {"dtype": dtype, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}


def _layout(kind: str, title: str, height: int, **extra) -> dict:
    """Shared chart layout: our font, a left-aligned title, light grid, no default template.

    ``kind`` goes in ``layout.meta``: figures of the same kind and traces can be updated with a
    patch of their data (see ``refresh``).
    """
    layout = base_layout(
        meta=kind, template="none", height=height,
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=16)),
        margin=dict(l=70, r=20, t=80, b=50), hovermode="closest", separators=".,",
    )
    layout.update(extra)
    return layout


def _axis(**extra) -> dict:
    axis = dict(gridcolor=GRID, zerolinecolor="#b1b4b6", linecolor="#0b0c0c", automargin=True,
                tickfont=dict(size=13))
    axis.update(extra)
    return axis


def title_text(what: str, place: str, when: str, simulated: bool = True) -> str:
    """A chart title: what, where, when, and the simulated warning when it applies."""
    tail = f" ({SIMULATED})" if simulated else ""
    return f"{what}{tail}{SUBTITLE.format(f'{place}, {when}')}"


# The map -----------------------------------------------------------------------------------------
# Every device's position is sent once, with the page (``device_points``); a filter change sends
# which devices are selected (``selection``: their rows, or one bit per device when shorter), and
# ``assets/ev.js`` fills the point traces with their lon/lat as float arrays and their row in
# the device table as customdata. Westminster's 1,337 devices cost about 1 KB that way instead of
# 18 KB of points.
def _b64(array: np.ndarray) -> str:
    """Bytes as URL-safe base64 ("-" and "_" for "+" and "/"): Dash's JSON writes every "/" as
    the six characters "\\u002f", which doubled the size of a selection of every device."""
    return base64.urlsafe_b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def device_points(devices: pd.DataFrame) -> dict:
    """Positions (float32) and speed classes (index into ``SPEEDS``) of every device, in row
    order, with what the browser needs to draw them: the trace of each speed class, its label,
    and the ring size (0: no ring)."""
    speed = devices["speed_class"].map({s: k for k, s in enumerate(SPEEDS)})
    return {
        "lon": _b64(devices["lon"].to_numpy(dtype="<f4")),
        "lat": _b64(devices["lat"].to_numpy(dtype="<f4")),
        "speed": _b64(speed.fillna(SPEEDS.index("unknown")).to_numpy(dtype="u1")),
        "traces": [POINT_TRACES[s] for s in SPEEDS], "ring": RING_TRACE,
        "labels": [SPEED_STYLES[s].label for s in SPEEDS],
        "ringSizes": [SPEED_STYLES[s].size + RING if SPEED_STYLES[s].ring else 0
                      for s in SPEEDS],
    }


def selection(rows: Sequence[int], total: int, names: Sequence[str] | None = None) -> dict:
    """The selected devices (rows of the device table): ``rows`` as uint16 when that is
    shorter, else ``bits``, a bit set; with their names in row order when there are at most
    ``NAMES_LIMIT`` of them (for hover labels)."""
    mask = np.zeros(total, dtype=bool)
    rows = np.asarray(rows, dtype=int)
    mask[rows] = True
    out: dict = {"count": int(mask.sum())}
    if out["count"] * 16 < total and total <= 65536:
        out["rows"] = _b64(np.flatnonzero(mask).astype("<u2"))
    else:
        out["bits"] = _b64(np.packbits(mask, bitorder="little"))
    if names is not None and len(rows) <= NAMES_LIMIT:
        order = np.argsort(rows, kind="stable")
        out["names"] = [str(names[k]) for k in order]
    return out


def selected_rows(sel: dict, total: int) -> np.ndarray:
    """The rows a ``selection`` holds, in order (its inverse)."""
    if "rows" in sel:
        return np.frombuffer(base64.urlsafe_b64decode(sel["rows"]), dtype="<u2").astype(int)
    bits = np.frombuffer(base64.urlsafe_b64decode(sel["bits"]), dtype="u1")
    return np.flatnonzero(np.unpackbits(bits, bitorder="little")[:total])


COLOURBAR = dict(orientation="h", x=0.02, xanchor="left", y=1.0, yanchor="bottom", len=0.9,
                 thickness=12, outlinewidth=0, tickfont=dict(size=12))


def device_map(geojson_url: str, values: MapValues, *, map_style: str,
               outline_url: str, outline_codes: Sequence[str], selected: Sequence[str],
               centre: dict | None, zoom: float | None, uirevision: str,
               device: dict | None = None) -> go.Figure:
    """Ward choropleth (geometry by URL, ward names from its features) with empty device
    traces, one per speed class, that the browser fills from a ``selection``.

    ``device`` (``lon``, ``lat``) marks the selected device with a large yellow disc. Trace order
    is fixed (``DEVICE_TRACE``, ``RING_TRACE``, ``POINT_TRACES``) so that patches can find them.
    """
    fig = choropleth_map(geojson_url, None, values, map_style=map_style, outline_url=outline_url,
                         outline_codes=outline_codes, selected=selected, centre=centre, zoom=zoom,
                         uirevision=uirevision)
    zmin, zmax = colour_range(values)
    fig.update_traces(marker_opacity=0.75, zmin=zmin, zmax=zmax, selector=0)
    fig.data[0].colorbar.update(COLOURBAR, title=dict(text=colour_title(values, zmax, " "),
                                                      side="top",
                                                      font=dict(size=13)))
    fig.add_trace(go.Scattermap(
        lon=[] if device is None else [device["lon"]],
        lat=[] if device is None else [device["lat"]], mode="markers",
        marker=dict(size=30, color="#ffdd00", opacity=0.8), name="Selected device",
        hoverinfo="skip", showlegend=False,
    ))
    fig.add_trace(go.Scattermap(lon=[], lat=[], mode="markers",
                                marker=dict(size=SPEED_STYLES["rapid"].size + RING,
                                            color="#0b0c0c"),
                                name="Black ring: 50 kW and over", hoverinfo="skip",
                                showlegend=False))
    for style in SPEED_STYLES.values():
        fig.add_trace(go.Scattermap(lon=[], lat=[], mode="markers", name=style.label,
                                    marker=dict(size=style.size, color=style.colour)))
    fig.update_layout(
        # The key sits under the map, never over it (exported images carry it too).
        template="none", showlegend=True, margin=dict(l=0, r=0, t=58, b=56),
        legend=dict(orientation="h", x=0, y=0, yanchor="top", bgcolor="rgba(255,255,255,0.9)",
                    font=dict(size=13), itemsizing="trace"),
    )
    return fig


def ward_values(values: MapValues) -> dict:
    """The ward values of a map as a typed array: float32 (about 4 bytes a ward instead of the
    17 characters of a full-precision float) when that keeps every value exact to the measure's
    decimals, else float64. NaN (no value) stays NaN."""
    z = np.asarray(values.values, dtype="f8")
    finite = np.abs(z[np.isfinite(z)])
    exact = finite.size == 0 or float(finite.max()) * 10 ** values.decimals < 2 ** 24
    return typed(z, "f4" if exact else "f8")


def _patch_values(patch: Patch, values: MapValues, *, codes: bool, restyle: bool) -> Patch:
    ward = patch["data"][0]
    ward["z"] = ward_values(values)
    zmin, zmax = colour_range(values)
    ward["zmin"], ward["zmax"] = zmin, zmax
    ward["colorbar"]["title"]["text"] = colour_title(values, zmax, " ")
    if codes:
        ward["locations"] = list(values.codes)
    if restyle:
        ward["colorscale"] = _colorscale(values)
        ward["hovertemplate"] = _hover(values, NAME_FROM_GEOJSON)
        ward["colorbar"]["tickformat"] = f",.{values.decimals}f"
    return patch


def patch_device_map(values: MapValues, *, codes: bool = False,
                     outline_codes: Sequence[str] | None = None,
                     selected: Sequence[str] | None = None, centre: dict | None = None,
                     zoom: float | None = None, uirevision: str | None = None,
                     device: dict | None = None) -> Patch:
    """Update a ``device_map`` after a filter change: the ward values always; the wards' codes
    only when ``codes`` (the borough changed, so the wards shown did; their names come with the
    geometry); the outline, the selected ward and the view when given (the place changed); and
    the selected device. Never geometry, never the colour scale (the measure is unchanged); the
    devices follow their ``selection``."""
    patch = _patch_values(Patch(), values, codes=codes, restyle=False)
    if outline_codes is not None:
        patch["data"][1]["locations"] = list(outline_codes)
        patch["data"][1]["z"] = [0] * len(outline_codes)
    if selected is not None:
        patch["data"][2]["locations"] = list(selected)
        patch["data"][2]["z"] = [0] * len(selected)
    if centre is not None or zoom is not None:
        patch["layout"]["map"]["center"] = centre or LONDON_CENTRE
        patch["layout"]["map"]["zoom"] = zoom or LONDON_ZOOM
    if uirevision is not None:
        patch["layout"]["uirevision"] = uirevision
    return mark_device(patch, device)


def patch_measure(values: MapValues) -> Patch:
    """Recolour the wards of a ``device_map`` for another measure (values, colour scale, hover
    and key); the wards shown and the devices stay as they are."""
    return _patch_values(Patch(), values, codes=False, restyle=True)


def mark_device(patch: Patch, device: dict | None) -> Patch:
    """Move (or clear, for None) the selected-device marker in a ``device_map`` patch."""
    patch["data"][DEVICE_TRACE]["lon"] = [] if device is None else [device["lon"]]
    patch["data"][DEVICE_TRACE]["lat"] = [] if device is None else [device["lat"]]
    return patch


# Charts: plain dicts ------------------------------------------------------------------------------
# The charts are built as plain figure dicts (``{"data": [...], "layout": {...}}``, which dcc.Graph
# takes as it is): plotly's graph objects validate every property, which costs 40-60 ms a chart
# and would dominate the time of a filter change.
def _dates(values) -> list[str]:
    """Dates as short ISO text ("2025-04-01"): a third of the length of plotly's timestamps."""
    return [d.strftime("%Y-%m-%d") for d in pd.to_datetime(values)]


def _numbers(values, scale: float = 1.0, dtype: str = "f8") -> dict:
    """Floats (None and NaN become gaps) as a typed array."""
    try:  # numbers already (None becomes NaN): no text parsing needed
        array = np.asarray(values, dtype="f8")
    except (TypeError, ValueError):  # text or missing markers that NumPy cannot read
        array = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(
            dtype="f8", na_value=np.nan)
    return typed(array * scale, dtype)


def _figure(kind: str, title: str, height: int, data: list[dict], **layout) -> dict:
    return {"data": data, "layout": _layout(kind, title, height, **layout)}


def empty(message: str, height: int = 260) -> dict:
    """A figure that says why there is nothing to draw, instead of empty axes."""
    return {"data": [], "layout": base_layout(
        meta="empty", template="none", height=height,
        xaxis=dict(visible=False), yaxis=dict(visible=False),
        annotations=[dict(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                          showarrow=False, font=dict(size=18, color="#484949"))])}


def _stacked(rows: int, spacing: float, titles: Sequence[str], **axis) -> dict:
    """Layout axes for ``rows`` charts stacked on one shared x axis (the bottom one), with a
    title above each."""
    height = (1 - spacing * (rows - 1)) / rows
    layout: dict = {"annotations": []}
    for i in range(rows):
        top = 1 - i * (height + spacing)
        suffix = "" if i == 0 else str(i + 1)
        last = i == rows - 1
        layout[f"xaxis{suffix}"] = _axis(anchor=f"y{suffix}", showticklabels=last,
                                         **({} if last else {"matches": f"x{rows}"}))
        layout[f"yaxis{suffix}"] = _axis(anchor=f"x{suffix}", domain=[max(top - height, 0), top],
                                         rangemode="tozero", **axis)
        layout["annotations"].append(dict(text=titles[i], x=0, xanchor="left", xref="paper",
                                          y=top, yanchor="bottom", yref="paper",
                                          showarrow=False, font=dict(size=14)))
    return layout


def _on(row: int) -> dict:
    suffix = "" if row == 1 else str(row)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def usage_trend(series: pd.DataFrame, freq: str, place: str, when: str) -> dict:
    """Sessions, energy and the two utilisations per month or week, stacked on one time axis.

    ``series``: ``period``, ``devices`` then ``sessions``, ``kwh``, ``time_utilisation`` and
    ``energy_utilisation`` (fractions; NaN or None where there is nothing to measure).
    """
    if series.empty or not (series["devices"] > 0).any():
        return empty("No charge devices match these filters, so there is no usage to show.")
    unit = "week" if freq == "week" else "month"
    x = _dates(series["period"])
    when_x = "%{x|%d %b %Y}" if unit == "week" else "%{x|%b %Y}"
    data = [
        dict(type="bar", x=x, y=_numbers(series["sessions"]), name="Sessions",
             marker=dict(color=BAR), showlegend=False,
             hovertemplate=f"{when_x}: %{{y:,.0f}} sessions<extra></extra>", **_on(1)),
        dict(type="bar", x=x, y=_numbers(series["kwh"]), name="Energy (kWh)",
             marker=dict(color="#4c2c92"), showlegend=False,
             hovertemplate=f"{when_x}: %{{y:,.0f}} kWh<extra></extra>", **_on(2)),
    ]
    for column, name, colour, dash in (("time_utilisation", "Time-based", BAR, "solid"),
                                       ("energy_utilisation", "Energy-based", SECOND, "dash")):
        data.append(dict(type="scatter", x=x, y=_numbers(series[column], 100),
                         name=f"{name} utilisation", mode="lines+markers",
                         line=dict(color=colour, dash=dash, width=2), marker=dict(size=5),
                         hovertemplate=f"{when_x}: %{{y:.1f}}% ({name.lower()})<extra></extra>",
                         **_on(3)))
    titles = (f"Sessions per {unit}", f"Energy per {unit} (kWh)", "Utilisation (%)")
    return _figure(f"trend-{unit}", title_text(f"Use of charge devices per {unit}", place, when),
                   640, data, bargap=0.15, **_stacked(3, 0.08, titles),
                   margin=dict(l=70, r=20, t=100, b=50),
                   legend=dict(orientation="h", x=0, y=-0.08, font=dict(size=13)))


def heatmap(cells: pd.DataFrame, place: str, when: str) -> dict:
    """Sessions by hour of start (columns) and weekday (rows, Monday at the top)."""
    sessions = np.asarray(cells["sessions"], dtype="f8")
    if len(sessions) == 0 or np.nansum(sessions) == 0:
        return empty("No charging sessions match these filters.")
    grid = np.zeros((7, 24), dtype="f4")
    grid[np.asarray(cells["weekday"], dtype=int), np.asarray(cells["hour"], dtype=int)] = \
        np.nan_to_num(sessions)
    z = dict(typed(grid.ravel(), "f4"), shape="7, 24")
    data = [dict(type="heatmap", z=z, x=[f"{h:02d}:00" for h in range(24)], y=list(WEEKDAYS),
                 colorscale=[[i / (len(HEAT) - 1), c] for i, c in enumerate(HEAT)],
                 xgap=1, ygap=1, hovertemplate="%{y} %{x}: %{z:,.0f} sessions started"
                                               "<extra></extra>",
                 colorbar=dict(title=dict(text="Sessions", side="right"), thickness=12,
                               outlinewidth=0))]
    return _figure("heatmap", title_text("Sessions by hour of start and weekday", place, when),
                   330, data, margin=dict(l=60, r=20, t=80, b=50),
                   xaxis=_axis(title=dict(text="Hour the session started"), dtick=2,
                               showgrid=False),
                   yaxis=_axis(autorange="reversed", showgrid=False))


def dft_trend(area: pd.DataFrame, london: pd.DataFrame | None, *, what: str, area_name: str,
              period_label: str, decimals: int = 1) -> dict:
    """A DfT series for the area against London, both per 100,000 residents.

    ``area`` and ``london``: ``period`` (text) and ``value``; ``london`` None when the area is
    London, when the London line is hidden (kept, so that every area's chart has the same
    traces and can be patched). Both lines share London's periods (gaps where the area has no
    figure): years on a time scale (missing years leave a gap), quarters as published.
    """
    if area.empty or area["value"].isna().all():
        return empty(f"No published figures for {area_name}.")
    periods = (area if london is None else london)["period"].tolist()
    yearly = all(str(p).isdigit() for p in periods)  # years on a true time scale
    x = [int(p) for p in periods] if yearly else [str(p).replace("Q", " Q") for p in periods]
    data = []
    for frame, name, colour, dash, visible in (
            (area, area_name, BAR, "solid", True),
            (area if london is None else london, "London", "#505a5f", "dash",
             london is not None)):
        by_period = dict(zip(frame["period"].tolist(), frame["value"].tolist()))
        values = [by_period.get(p) for p in periods]
        data.append(dict(
            type="scatter", x=x, y=_numbers(values, dtype="f4"), name=name,
            mode="lines+markers", visible=visible,
            line=dict(color=colour, dash=dash, width=2.5), marker=dict(size=5),
            hovertemplate=f"{name}, %{{x}}: %{{y:,.{decimals}f}} per 100,000 residents"
                          "<extra></extra>"))
    return _figure("dft", f"{what} per 100,000 residents{SUBTITLE.format(period_label)}", 360,
                   data, legend=dict(orientation="h", x=0, y=-0.22, font=dict(size=13)),
                   xaxis=_axis(type="linear", dtick=2, tickformat="d") if yearly
                   else _axis(type="category", nticks=8),
                   yaxis=_axis(rangemode="tozero", title=dict(text="per 100,000 residents")))


def breakdown(frame: pd.DataFrame, *, what: str, value_label: str, place: str, when: str,
              percent: bool = False, decimals: int = 0, simulated: bool = True,
              more: int = 0) -> dict:
    """Horizontal bars, largest at the top, each labelled with its value and device count.

    ``frame``: ``label``, ``value`` (NaN where there is nothing to measure) and ``devices``.
    ``more`` counts groups left out (said in the subtitle).
    """
    values = np.asarray(frame["value"], dtype="f8")
    keep = np.flatnonzero(~np.isnan(values))
    if len(keep) == 0:
        return empty("No charge devices match these filters.")
    keep = keep[np.argsort(-values[keep], kind="stable")]  # largest first, ties as given
    values = values[keep] * (100 if percent else 1)
    devices = np.asarray(frame["devices"])[keep].astype(int).tolist()
    names = np.asarray(frame["label"], dtype=object)[keep]
    suffix = "%" if percent else ""
    labels = [f"{v:,.{decimals}f}{suffix} ({d:,} device{'s' if d != 1 else ''})"
              for v, d in zip(values.tolist(), devices)]
    shown = f"; the {len(keep)} largest of {len(keep) + more}" if more else ""
    title = (f"{what}{f' ({SIMULATED})' if simulated else ''}"
             f"{SUBTITLE.format(f'{place}, {when}{shown}')}")
    data = [dict(type="bar", x=typed(values, "f8"), y=[str(v) for v in names],
                 orientation="h", marker=dict(color=BAR), text=labels, textposition="outside",
                 cliponaxis=False, textfont=dict(size=13),
                 hovertemplate="%{y}: %{text}<extra></extra>")]
    top = float(np.nanmax(values)) if len(values) else 0.0
    return _figure("breakdown", title, 130 + 34 * len(keep), data,
                   margin=dict(l=10, r=30, t=80, b=50),
                   xaxis=_axis(title=dict(text=value_label), rangemode="tozero",
                               range=[0, top * 1.45 if top > 0 else 1]),
                   yaxis=_axis(autorange="reversed", showgrid=False))


def device_history(history: pd.DataFrame, name: str, period: tuple[str, str]) -> dict:
    """One device's sessions and time-based utilisation per month over the whole simulation,
    with the selected period shaded."""
    if history.empty or not (history["devices"] > 0).any():
        return empty("No usage recorded for this device.", height=200)
    x = _dates(history["period"])
    data = [
        dict(type="bar", x=x, y=_numbers(history["sessions"]), marker=dict(color=BAR),
             name="Sessions", showlegend=False,
             hovertemplate="%{x|%b %Y}: %{y:,.0f} sessions<extra></extra>", **_on(1)),
        dict(type="scatter", x=x, y=_numbers(history["time_utilisation"], 100),
             mode="lines+markers", line=dict(color=SECOND, width=2), marker=dict(size=4),
             name="Time-based utilisation", showlegend=False,
             hovertemplate="%{x|%b %Y}: %{y:.1f}%<extra></extra>", **_on(2)),
    ]
    first, last = (pd.Timestamp(f"{m}-01") for m in period)
    shade = [dict(type="rect", xref="x", yref=f"y{'' if row == 1 else row} domain",
                  x0=(first - pd.Timedelta(days=15)).strftime("%Y-%m-%d"),
                  x1=(last + pd.Timedelta(days=15)).strftime("%Y-%m-%d"), y0=0, y1=1,
                  fillcolor="#ffdd00", opacity=0.25, line=dict(width=0), layer="below")
             for row in (1, 2)]
    subtitle = SUBTITLE.format("Each month of the simulation; the selected period is shaded")
    return _figure("history", f"{name} ({SIMULATED}){subtitle}", 400, data, shapes=shade,
                   margin=dict(l=55, r=10, t=80, b=40),
                   **_stacked(2, 0.12, ("Sessions per month", "Time-based utilisation (%)")))


# Updating charts in place -----------------------------------------------------------------------
# What changes between two figures of the same kind, so is all that a patch needs to carry.
VARYING = {
    "trend": (("x", "y"), (("title", "text"),)),
    "heatmap": (("z",), (("title", "text"),)),
    "dft": (("y", "name", "hovertemplate", "visible"), ()),
    "breakdown": (("x", "y", "text"), (("title", "text"), ("height",), ("xaxis", "range"),
                                       ("xaxis", "title", "text"))),
}


def signature(fig: dict) -> str:
    """What a figure's structure is: its kind (``layout.meta``) and trace types."""
    return f"{fig['layout'].get('meta', '')}:{','.join(t['type'] for t in fig['data'])}"


def refresh(fig: dict, previous: str | None) -> tuple[dict | Patch, str]:
    """The update to send for ``fig``: a ``Patch`` of what varies (see ``VARYING``) when the
    browser already shows a figure of the same structure (``previous`` signature), else the
    whole figure. Returns it with the new signature."""
    current = signature(fig)
    kind = str(fig["layout"].get("meta", "")).split("-")[0]
    if previous != current or kind not in VARYING:
        return fig, current
    trace_keys, layout_paths = VARYING[kind]
    patch = Patch()
    for i, trace in enumerate(fig["data"]):
        for key in trace_keys:
            if key in trace:
                patch["data"][i][key] = trace[key]
    for path in layout_paths:
        value = fig["layout"]
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            target = patch["layout"]
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
    return patch, current
