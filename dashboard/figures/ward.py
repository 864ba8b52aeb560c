"""Ward profile figures: the Fingertips-style spine, the plug-in vehicles chart, the finder map.

Pure builders: numbers in, components or plotly figures out; nothing here reads data.

The spine is drawn as part of each indicator's table row (as Fingertips does) rather than as
one separate chart, so every marker sits beside the numbers it shows, prints as crisp vector
shapes at any paper width, and is read out by screen readers through its text label. Each row is
scaled on its own so that the benchmark (London) sits at the centre and the London ward furthest
from it touches an end; for indicators where lower is better the row is mirrored, so that
"better" is always to the right.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import plotly.graph_objects as go
from dash import html

from dashboard.figures.maps import FONT, base_layout
from dashboard.domain.text import finite

CENTRE = 0.5
VERDICTS = ("better", "worse", "similar", "neutral", "none")
VERDICT_SYMBOLS = {"better": "▲", "worse": "▼", "similar": "●", "neutral": "◆", "none": "–"}
LINE_COLOURS = {"ward": "#1d70b8", "borough": "#0b0c0c", "london": "#6f777b", "compare": "#912b88",
                "similar": "#00703c"}
LINE_DASHES = {"ward": "solid", "borough": "dash", "london": "dot", "compare": "dashdot",
               "similar": "longdash"}
FINDER_FILL = "#c9e0f2"


@dataclass(frozen=True)
class SpineRow:
    """One indicator's numbers for the spine: the ward, its borough, an optional second ward, the
    benchmark at the centre (London, or the median London ward for counts) and the London ward
    distribution (lowest, 25th percentile, 75th percentile, highest). None where missing."""

    ward: float | None
    borough: float | None
    benchmark: float | None
    low: float | None
    q1: float | None
    q3: float | None
    high: float | None
    polarity: int = 0
    compare: float | None = None
    similar: float | None = None


@dataclass(frozen=True)
class SpinePositions:
    """Positions from 0 (left) to 1 (right), the benchmark at ``CENTRE``. ``range_left`` and
    ``range_right`` are the ends of the London range, ``band_left``/``band_right`` those of the
    25th-75th percentile band (left and right, whatever the polarity). None where missing."""

    range_left: float | None
    range_right: float | None
    band_left: float | None
    band_right: float | None
    ward: float | None
    borough: float | None
    compare: float | None
    mirrored: bool
    similar: float | None = None


def spine_half_width(row: SpineRow) -> float | None:
    """The scale of a row: the distance from the benchmark to the London ward furthest from it."""
    bench, low, high = finite(row.benchmark), finite(row.low), finite(row.high)
    if bench is None or low is None or high is None:
        return None
    return max(abs(high - bench), abs(bench - low))


def spine_position(value, row: SpineRow) -> float | None:
    """Where ``value`` sits on the row: ``CENTRE`` + signed distance from the benchmark / (2 x
    half width), mirrored when lower is better, clipped to [0, 1]. None for a missing value."""
    number, bench = finite(value), finite(row.benchmark)
    half = spine_half_width(row)
    if number is None or bench is None or half is None:
        return None
    if half == 0:
        return CENTRE
    sign = -1.0 if row.polarity < 0 else 1.0
    return min(1.0, max(0.0, CENTRE + sign * (number - bench) / (2 * half)))


def spine_positions(row: SpineRow) -> SpinePositions:
    """Every marker and band of a row (see ``spine_position``)."""
    ends = sorted(p for p in (spine_position(row.low, row), spine_position(row.high, row))
                  if p is not None)
    band = sorted(p for p in (spine_position(row.q1, row), spine_position(row.q3, row))
                  if p is not None)
    return SpinePositions(
        range_left=ends[0] if len(ends) == 2 else None,
        range_right=ends[1] if len(ends) == 2 else None,
        band_left=band[0] if len(band) == 2 else None,
        band_right=band[1] if len(band) == 2 else None,
        ward=spine_position(row.ward, row),
        borough=spine_position(row.borough, row),
        compare=spine_position(row.compare, row),
        mirrored=row.polarity < 0,
        similar=spine_position(row.similar, row),
    )


def _pct(position: float) -> str:
    return f"{position * 100:.2f}%"


def _span(left: float, right: float, class_name: str) -> html.Span:
    return html.Span(className=class_name,
                     style={"left": _pct(left), "width": _pct(max(right - left, 0.004))})


def _marker(position: float | None, class_name: str) -> html.Span | None:
    if position is None:
        return None
    return html.Span(className=class_name, style={"left": _pct(position)})


def spine_cell(row: SpineRow, verdict: str, description: str) -> html.Div:
    """The spine drawing for one indicator: range bar, percentile band, benchmark line, borough
    diamond, the median of similar wards (a triangle), optional second ward (square) and the
    ward circle coloured by ``verdict`` (one of
    ``VERDICTS``). ``description`` is what a screen reader hears instead of the shapes."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    pos = spine_positions(row)
    if pos.ward is None or pos.range_left is None:
        return html.Div("no data", className="spine spine--empty", role="img",
                        **{"aria-label": description})
    parts = [_span(pos.range_left, pos.range_right, "spine__range")]
    if pos.band_left is not None:
        parts.append(_span(pos.band_left, pos.band_right, "spine__band"))
    parts.append(html.Span(className="spine__centre"))
    parts += [m for m in (_marker(pos.borough, "spine__borough"),
                          _marker(pos.similar, "spine__similar"),
                          _marker(pos.compare, "spine__compare"),
                          _marker(pos.ward, f"spine__ward spine__ward--{verdict}"))
              if m is not None]
    return html.Div(parts, className="spine", role="img", **{"aria-label": description})


def spine_legend(similar: bool = False) -> html.Div:
    """The key to the spine's shapes, in words and the same shapes (``similar``: with the
    similar wards' median)."""
    def item(shape: html.Span, text: str) -> html.Li:
        return html.Li([html.Span(shape, className="spine-key__shape"), text])

    return html.Div(className="spine-key", children=[
        html.Ul([
            item(html.Span(className="spine-key__range"), "Range of London wards, lowest to highest"),
            item(html.Span(className="spine-key__band"), "Middle half of London wards "
                 "(25th to 75th percentile)"),
            item(html.Span(className="spine-key__centre"), "London (centre line)"),
            item(html.Span(className="spine-key__borough"), "Borough"),
            *([item(html.Span(className="spine-key__similar"), "Similar wards (median)")]
              if similar else []),
            item(html.Span(className="spine-key__ward spine__ward--better"), "Ward, better than "
                 "London ▲"),
            item(html.Span(className="spine-key__ward spine__ward--worse"), "Ward, worse than "
                 "London ▼"),
            item(html.Span(className="spine-key__ward spine__ward--neutral"), "Ward, where neither "
                 "higher nor lower is better ◆"),
            item(html.Span(className="spine-key__compare"), "Comparison ward"),
        ]),
    ])


# Lines over time -----------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One line of a time chart: ``role`` is ward, borough, london or compare (sets the style)."""

    role: str
    name: str
    periods: Sequence[str]
    values: Sequence[float | None]


def _quarter_label(period: str) -> str:
    return period.replace("Q", " Q") if "Q" in period else period


def _quarter_start(period: str) -> str:
    """"2024Q2" -> "2024-04-01" (a date axis labels years cleanly); other periods unchanged."""
    if len(period) == 6 and period[4] == "Q" and period[:4].isdigit() and period[5] in "1234":
        return f"{period[:4]}-{(int(period[5]) - 1) * 3 + 1:02d}-01"
    return period


def _spread_labels(values: Sequence[float], gap_share: float = 0.09) -> list[float]:
    """Label heights near ``values`` but at least ``gap_share`` of their span apart (so end
    labels of lines that finish close together do not overprint), in the input order."""
    if not values:
        return []
    span = (max(values) - min(0.0, min(values))) or 1.0
    gap = gap_share * span
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = list(values)
    for before, i in zip(order, order[1:]):
        placed[i] = max(placed[i], placed[before] + gap)
    return placed


def trend_chart(lines: Sequence[Line], *, unit: str, decimals: int = 1,
                width: int = 640, height: int = 300, font_size: int = 14,
                dtick: str = "M24", tickformat: str = "%Y") -> go.Figure:
    """A series over time, one line per area, at a fixed size that also fits A4 paper.

    Lines differ in dash pattern as well as colour, and each is named at its last point, so the
    chart reads without colour. Quarters are placed at their first day on a date axis; years
    ("2019") and months ("2025-03") are dates already.
    """
    fig = go.Figure()
    ends: list = []
    starts = sorted(_quarter_start(p) for line in lines for p in line.periods)
    for line in lines:
        x = [_quarter_start(p) for p in line.periods]
        y = [finite(v) for v in line.values]
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", name=line.name,
            customdata=[_quarter_label(p) for p in line.periods],
            line=dict(color=LINE_COLOURS.get(line.role, "#0b0c0c"),
                      dash=LINE_DASHES.get(line.role, "solid"), width=3 if line.role == "ward" else 2),
            hovertemplate=(f"{line.name}, %{{customdata}}: %{{y:,.{decimals}f}} {unit}"
                           "<extra></extra>"),
        ))
        last = next(((xi, yi) for xi, yi in zip(reversed(x), reversed(y)) if yi is not None), None)
        if last:
            ends.append((last[0], last[1], line))
    for (xi, yi, line), shown in zip(ends, _spread_labels([e[1] for e in ends])):
        fig.add_annotation(x=xi, y=shown, text=line.name, xanchor="left", xshift=6,
                           showarrow=False, font=dict(size=font_size - 2,
                                                      color=LINE_COLOURS.get(line.role)))
    fig.update_layout(**base_layout(
        width=width, height=height, autosize=False, showlegend=False,
        margin=dict(l=10, r=130, t=10, b=10),
        font={**FONT, "size": font_size},
        xaxis=dict(showgrid=False, type="date", tickformat=tickformat, dtick=dtick, fixedrange=True,
                   range=[starts[0], starts[-1]] if starts else None),
        yaxis=dict(title=dict(text=unit), rangemode="tozero", gridcolor="#e5e5e5",
                   fixedrange=True, tickformat=f",.{min(decimals, 1)}f"),
        hovermode="closest",
    ))
    return fig


# The finder map -----------------------------------------------------------------------------------
def finder_map(geojson_url: str, codes: Sequence[str], names: Sequence[str], *,
               outline_url: str, borough: str, centre: dict, zoom: float,
               map_style: str = "white-bg", height: int = 420) -> go.Figure:
    """A borough's wards in one light fill (click one to open it), the borough outlined.

    Geometry comes from the URLs (fetched once by the browser); ``customdata`` holds the codes.
    """
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=list(codes), z=[1] * len(codes), customdata=list(codes),
        text=list(names), colorscale=[[0, FINDER_FILL], [1, FINDER_FILL]], showscale=False,
        marker=dict(line=dict(width=1.2, color="#1d70b8"), opacity=0.85),
        hovertemplate="<b>%{text}</b><br>Click to open its profile<extra></extra>",
        name="Wards",
    ))
    fig.add_trace(go.Choroplethmap(
        geojson=outline_url, locations=[borough], z=[0],
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
        marker=dict(line=dict(width=2.5, color="#0b0c0c")), hoverinfo="skip", name="Borough",
    ))
    fig.update_layout(**base_layout(
        map=dict(style=map_style, center=centre, zoom=zoom), uirevision=borough,
        showlegend=False, height=height,
    ))
    return fig


# The locator map ----------------------------------------------------------------------------------
LOCATOR_FILL = "#1d70b8"


@dataclass(frozen=True)
class LocatorPoints:
    """The ward's charge devices of one speed class: positions and names."""

    speed: str
    label: str
    colour: str
    size: int
    lon: Sequence[float]
    lat: Sequence[float]
    names: Sequence[str]


def locator_points(devices, styles: dict) -> list[LocatorPoints]:
    """The devices (``name``, ``lon``, ``lat``, ``speed_class``) as one ``LocatorPoints`` per
    speed class present, in the order of ``styles`` (speed -> label, colour, size)."""
    out = []
    for speed, style in styles.items():
        rows = devices[devices["speed_class"] == speed]
        if len(rows):
            out.append(LocatorPoints(speed, style.label, style.colour, style.size,
                                     rows["lon"].astype(float).round(5).tolist(),
                                     rows["lat"].astype(float).round(5).tolist(),
                                     rows["name"].fillna("Charge device").astype(str).tolist()))
    return out


def locator_map(geojson_url: str, ward: str, wards: Sequence[str], *, outline_url: str,
                borough: str, centre: dict, zoom: float, points: Sequence[LocatorPoints] = (),
                map_style: str = "white-bg", height: int = 360) -> go.Figure:
    """The ward filled inside its borough, the borough's other wards outlined, the borough's
    edge drawn, and the ward's charge devices by speed (colour and size, named in the legend).

    Boundaries come from the layer URLs (fetched once by the browser and cached); only the
    ward's few devices travel with the figure. Nothing on it responds to a click.
    """
    fig = go.Figure()
    others = [c for c in wards if c != ward]
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=others, z=[0] * len(others),
        colorscale=[[0, "rgba(255,255,255,0)"], [1, "rgba(255,255,255,0)"]], showscale=False,
        marker=dict(line=dict(width=1, color="#6f777b")), hoverinfo="skip", name="Other wards",
        showlegend=False,
    ))
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=[ward], z=[1],
        colorscale=[[0, LOCATOR_FILL], [1, LOCATOR_FILL]], showscale=False,
        marker=dict(line=dict(width=2.5, color="#0b0c0c"), opacity=0.35), hoverinfo="skip",
        name="The ward", showlegend=False,
    ))
    fig.add_trace(go.Choroplethmap(
        geojson=outline_url, locations=[borough], z=[0],
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
        marker=dict(line=dict(width=2.5, color="#0b0c0c")), hoverinfo="skip", name="Borough",
        showlegend=False,
    ))
    for p in points:
        fig.add_trace(go.Scattermap(
            lon=list(p.lon), lat=list(p.lat), mode="markers", name=f"{p.label} ({len(p.lon)})",
            text=list(p.names), marker=dict(size=p.size + 2, color=p.colour, opacity=0.95),
            hovertemplate=f"<b>%{{text}}</b><br>{p.label}<extra></extra>",
        ))
    fig.update_layout(**base_layout(
        map=dict(style=map_style, center=centre, zoom=zoom), uirevision=ward,
        showlegend=bool(points), height=height,
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, font=dict(size=12)),
        margin=dict(l=0, r=0, t=0, b=0),
    ))
    return fig
