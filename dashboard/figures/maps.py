"""Map builders and the shared figure toolkit (fonts, layout, modebar, empty states).

Nothing here reads files or runs queries, so every builder is testable without a server.
Maps draw boundary geometry from a URL (fetched once by the browser); updates patch values only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from dash import Patch

from dashboard.core.memo import derived

FONT = dict(family="Arial, 'Liberation Sans', Helvetica, sans-serif", size=15, color="#0b0c0c")
# ColorBrewer YlGnBu: sequential and colour-blind safe. Dark always means "more need" once the
# polarity has been applied (see need_scale).
SEQUENTIAL = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"]
NEUTRAL = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"]
NO_DATA = "#d9d9d9"
SELECT_LINE = "#0b0c0c"
LONDON_CENTRE = {"lon": -0.1, "lat": 51.49}
LONDON_ZOOM = 8.7
TILE_PX = 512


def base_layout(**extra) -> dict:
    layout = dict(font=FONT, margin=dict(l=10, r=10, t=10, b=10), paper_bgcolor="white",
                  plot_bgcolor="white", hoverlabel=dict(font=dict(size=15)))
    layout.update(extra)
    return layout


def graph_config(filename: str) -> dict:
    """Modebar set-up for dcc.Graph: image export named after the view, no plotly logo."""
    return {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    }


def zoom_for_extent(west: float, south: float, east: float, north: float,
                    width_px: int = 620, height_px: int = 540) -> tuple[dict, float]:
    """Centre and zoom that fit a lon/lat box in a map of the given size (Web Mercator).

    MapLibre's zoom 0 shows the world in one 512-pixel tile.
    """
    def merc_y(lat: float) -> float:
        rad = math.radians(lat)
        return math.log(math.tan(math.pi / 4 + rad / 2))

    lon_span = max(east - west, 1e-4)
    y_span = max(merc_y(north) - merc_y(south), 1e-6)
    zoom_x = math.log2(width_px * 360 / (TILE_PX * lon_span))
    zoom_y = math.log2(height_px * 2 * math.pi / (TILE_PX * y_span))
    centre_y = (merc_y(north) + merc_y(south)) / 2
    centre = {"lon": round((west + east) / 2, 5),
              "lat": round(math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2), 5)}
    return centre, round(min(zoom_x, zoom_y, 15.0) - 0.1, 2)


def fit_extent(extents, layer: str, code: str | None = None, width_px: int = 620,
               height_px: int = 540) -> tuple[dict | None, float | None]:
    """Centre and zoom that fit area ``code`` of ``layer`` (or, without a code, every area of
    the layer) from the extents table (``layer``, ``code``, ``west``, ``south``, ``east``,
    ``north``); (None, None) when the area is not in it."""
    box = _boxes(extents).get((layer, code))
    if box is None:
        return None, None
    return zoom_for_extent(*box, width_px, height_px)


def _boxes(extents) -> dict:
    """The extents table as {(layer, code): (west, south, east, north)}, with (layer, None) the
    box around the whole layer; made once per table (a lookup instead of two frame filters)."""
    return derived(extents, "extent boxes", _make_boxes)


def _make_boxes(extents) -> dict:
    west, south, east, north = (extents[c].astype(float).tolist()
                                for c in ("west", "south", "east", "north"))
    boxes: dict = {}
    for layer, code, *box in zip(extents["layer"], extents["code"], west, south, east, north):
        for key in ((layer, code), (layer, None)):
            had = boxes.get(key)
            boxes[key] = box if had is None else [min(had[0], box[0]), min(had[1], box[1]),
                                                  max(had[2], box[2]), max(had[3], box[3])]
    return boxes


@dataclass(frozen=True)
class MapValues:
    """Values to colour areas by, aligned with ``codes``; NaN where there is no value."""
    codes: Sequence[str]
    values: Sequence[float]
    label: str          # e.g. "Charge devices per 100,000 residents"
    unit: str = ""
    decimals: int = 0
    reverse: bool = False  # True when low values mean more need (polarity +1)
    neutral: bool = False


def _colorscale(values: MapValues) -> list:
    colours = NEUTRAL if values.neutral else SEQUENTIAL
    if values.reverse:
        colours = colours[::-1]
    n = len(colours) - 1
    return [[i / n, c] for i, c in enumerate(colours)]


def colour_range(values: MapValues) -> tuple[float, float]:
    """The colour scale's range. Once there are 20 values or more it runs from the 2nd
    percentile to the 98th or the upper outlier fence (3rd quartile + 1.5 x interquartile
    range), whichever is lower, so that a few extreme areas (the City, the West End, where
    devices per resident run ten times the median) do not wash out the rest; areas beyond the
    range take its end colour (``colour_title`` says so) and keep their true value in the hover
    and the tables."""
    z = np.asarray(values.values, dtype=float)
    z = z[np.isfinite(z)]
    if z.size == 0:
        return 0.0, 1.0
    if z.size >= 20:
        lo, hi, q1, q3 = np.percentile(z, [2, 98, 25, 75])
        fence = q3 + 1.5 * (q3 - q1)
        hi = fence if lo < fence < hi else hi
    else:
        lo, hi = z.min(), z.max()
    return float(lo), float(hi if hi > lo else lo + 1.0)


def colour_title(values: MapValues, zmax: float, sep: str = "<br>") -> str:
    """The colour bar's title: the measure, and when the range stops short of the largest
    value, that the end colour covers everything above it."""
    z = np.asarray(values.values, dtype=float)
    z = z[np.isfinite(z)]
    if z.size and float(z.max()) > zmax:
        return (f"{values.label}{sep}(end colour: {zmax:,.{values.decimals}f} and over, "
                f"up to {float(z.max()):,.{values.decimals}f})")
    return values.label


# The area's name in a hover label: from the trace's ``text``, or (``NAME_FROM_GEOJSON``) from the
# GeoJSON feature's ``name`` property, so that the names need not be sent with the values.
NAME_FROM_TEXT, NAME_FROM_GEOJSON = "%{text}", "%{properties.name}"


def _hover(values: MapValues, name: str = NAME_FROM_TEXT) -> str:
    unit = f" {values.unit}" if values.unit and not values.unit.startswith("%") else values.unit
    return (f"<b>{name}</b><br>" + values.label + ": %{z:,." + str(values.decimals) + "f}"
            + unit.replace("%", "%%") + "<extra></extra>")


def choropleth_map(geojson_url: str, names: Sequence[str] | None, values: MapValues, *,
                   map_style: str = "white-bg", outline_url: str | None = None,
                   outline_codes: Sequence[str] = (), selected: Sequence[str] = (),
                   centre: dict | None = None, zoom: float | None = None,
                   uirevision: str = "map") -> go.Figure:
    """A choropleth on MapLibre with the geometry by URL; ``names`` label the areas on hover
    (None: the GeoJSON features' ``name`` property does).

    Traces, in order (patches rely on it): 0 the values, 1 the outline layer (e.g. boroughs),
    2 the selected areas drawn with a heavy edge.
    """
    z = np.asarray(values.values, dtype=float)
    zmin, zmax = colour_range(values)
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=list(values.codes), z=z,
        text=None if names is None else list(names),
        colorscale=_colorscale(values), zmin=zmin, zmax=zmax,
        marker=dict(line=dict(width=0.6, color="white"), opacity=0.92),
        colorbar=dict(title=dict(text=colour_title(values, zmax), side="right"), thickness=14,
                      len=0.8,
                      tickformat=f",.{values.decimals}f", outlinewidth=0),
        hovertemplate=_hover(values, NAME_FROM_TEXT if names is not None else NAME_FROM_GEOJSON),
        name=values.label,
    ))
    fig.add_trace(go.Choroplethmap(
        geojson=outline_url or geojson_url, locations=list(outline_codes),
        z=np.zeros(len(outline_codes)), colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        showscale=False, marker=dict(line=dict(width=1.6, color="#0b0c0c")),
        hoverinfo="skip", name="Borough boundaries",
    ))
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=list(selected), z=np.zeros(len(selected)),
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
        marker=dict(line=dict(width=4, color=SELECT_LINE)), hoverinfo="skip", name="Selected",
    ))
    fig.update_layout(**base_layout(
        map=dict(style=map_style, center=centre or LONDON_CENTRE, zoom=zoom or LONDON_ZOOM),
        uirevision=uirevision, showlegend=False,
    ))
    return fig


def patch_choropleth(values: MapValues, *, selected: Sequence[str] | None = None,
                     centre: dict | None = None, zoom: float | None = None,
                     uirevision: str | None = None, geojson_url: str | None = None,
                     names: Sequence[str] | None = None,
                     outline_codes: Sequence[str] | None = None) -> Patch:
    """Update a map made by ``choropleth_map``: values, colours, selection and view only.

    Switching to another boundary layer sends only its URL: the browser fetches each layer once.
    """
    z = np.asarray(values.values, dtype=float)
    zmin, zmax = colour_range(values)
    patch = Patch()
    if geojson_url is not None:
        patch["data"][0]["geojson"] = geojson_url
        patch["data"][2]["geojson"] = geojson_url
    if names is not None:
        patch["data"][0]["text"] = list(names)
    if outline_codes is not None:
        patch["data"][1]["locations"] = list(outline_codes)
        patch["data"][1]["z"] = [0] * len(outline_codes)
    patch["data"][0]["locations"] = list(values.codes)
    patch["data"][0]["z"] = z
    patch["data"][0]["zmin"] = zmin
    patch["data"][0]["zmax"] = zmax
    patch["data"][0]["colorscale"] = _colorscale(values)
    patch["data"][0]["hovertemplate"] = _hover(values)
    patch["data"][0]["colorbar"]["title"]["text"] = colour_title(values, zmax)
    patch["data"][0]["colorbar"]["tickformat"] = f",.{values.decimals}f"
    if selected is not None:
        patch["data"][2]["locations"] = list(selected)
        patch["data"][2]["z"] = [0] * len(selected)
    if centre is not None:
        patch["layout"]["map"]["center"] = centre
    if zoom is not None:
        patch["layout"]["map"]["zoom"] = zoom
    if uirevision is not None:
        patch["layout"]["uirevision"] = uirevision
    return patch


def empty_figure(message: str) -> go.Figure:
    """A figure that says why there is nothing to draw, instead of empty axes."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font=dict(size=18, color="#484949"))
    fig.update_layout(**base_layout(xaxis=dict(visible=False), yaxis=dict(visible=False),
                                    height=260))
    return fig
