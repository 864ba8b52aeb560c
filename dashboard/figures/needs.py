"""Figures of the Residents' needs page: the classed ward map and its patches, the ranking bars,
the distribution strip, need against provision (scatter and flag map) and the series lines.

Pure builders of data already read and ranked by ``dashboard.views.needs.model``; nothing here reads files.
Maps take their geometry by URL and read ward names from the GeoJSON properties
(``%{properties.name}``), so patches carry values only.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch

from dashboard.views.needs import model as needs
from dashboard.figures.maps import LONDON_CENTRE, LONDON_ZOOM, NO_DATA, base_layout

# Trace order of the needs map (patches rely on it).
VALUES, MISSING, FADE, OUTLINE, SELECTED_EDGE, SELECTED = range(6)
CLEAR = [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]]
FOCUS = "#ffdd00"
INK = "#0b0c0c"
GREY = "#b1b4b6"
BLUE = "#1d70b8"
FLAG = "#b35806"      # ColorBrewer PuOr dark orange: flagged wards on the scatter and flag map
NOT_FLAGGED = "#dee0e2"
FADE_FILL = "rgba(255,255,255,0.7)"  # veils the boroughs around the chosen one
MAP_DOMAIN = 0.78     # share of the map figure's width left of the colour key
EMPTY_SCALE = [[0, NO_DATA], [1, NO_DATA]]


def _layout(**extra) -> dict:
    """The shared layout without plotly's default template (about 7 KB on every response)."""
    return base_layout(template="none", **extra)


# The classed map --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapClasses:
    """An indicator classed for the map, aligned with the map's ward ``codes``."""
    codes: list[str]
    z: list[int | None]          # class index; None where there is no value
    values: list[float | None]   # the values themselves (hover)
    edges: list[float]
    colours: list[str]
    labels: list[str]
    counts: list[int]            # areas (statistical units) per class
    title: str                   # legend title: unit and period
    hover: str
    method: str

    @property
    def missing(self) -> list[str]:
        return [c for c, z in zip(self.codes, self.z) if z is None]


def _round(value: float, decimals: int) -> float | int | None:
    """A value as short as it can be sent: rounded, and an integer when it has no decimals."""
    if not np.isfinite(value):
        return None
    return int(round(float(value))) if decimals <= 0 else round(float(value), decimals)


def map_classes(codes: Sequence[str], stat_codes: Sequence[str], unit_values: pd.Series,
                ind: needs.Indicator, period: str | None, method: str) -> MapClasses:
    """Class every map ward by the value of its statistical unit.

    Breaks are computed over units (the City counts once), so a class holds about a fifth of the
    areas, not of the map's polygons. ``unit_values`` is ``{unit code: value}``.
    """
    edges = needs.breaks(unit_values.to_numpy(dtype=float), method)
    k = max(len(edges) - 1, 1)
    unit_class = needs.classify(unit_values.to_numpy(dtype=float), edges)
    counts = [int((unit_class == i).sum()) for i in range(k)]
    values = pd.Series(list(stat_codes)).map(unit_values).to_numpy(dtype=float)
    classes = needs.classify(values, edges)
    title = f"{'Number' if ind.unit in ('count', '') else ind.unit}, {needs.period_text(period)}"
    suffix = _unit_suffix(ind)
    hover = ("<b>%{properties.name}</b><br>%{properties.borough}<br>"
             f"{ind.title}: %{{customdata:,.{ind.decimals}f}}{suffix}<extra></extra>")
    return MapClasses(
        codes=list(codes),
        z=[int(c) if c >= 0 else None for c in classes],
        values=[_round(v, ind.decimals) for v in values],
        edges=edges, colours=needs.class_colours(k, ind.polarity),
        labels=needs.class_labels(edges, ind.decimals) if edges else ["no data"],
        counts=counts, title=title, hover=hover, method=method,
    )


def _stepped(colours: Sequence[str]) -> list:
    """A colorscale with one flat band per class, for z = class index in [-0.5, k - 0.5]."""
    k = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / k, colour], [(i + 1) / k, colour]]
    return scale


def _colorbar(classes: MapClasses) -> dict:
    unit, period = classes.title.rsplit(", ", 1)
    return dict(title=dict(text=f"{_wrap(unit)}<br>{period}", side="top"),
                tickvals=list(range(len(classes.labels))), ticktext=classes.labels,
                thickness=16, len=0.8, outlinewidth=0, ticks="", x=MAP_DOMAIN + 0.02,
                xanchor="left",
                tickfont=dict(size=13), title_font=dict(size=13))


def _wrap(text: str, width: int = 18) -> str:
    """Break a legend title over lines of about ``width`` characters."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def need_map(geojson_url: str, borough_url: str, classes: MapClasses, *,
             faded: Sequence[str] = (), outline: Sequence[str] = (),
             selected: Sequence[str] = (), centre: dict | None = None,
             zoom: float | None = None, map_style: str = "white-bg",
             uirevision: str = "needs") -> go.Figure:
    """The classed ward map. Traces: values, wards without data (grey), a white veil over the
    ``faded`` boroughs (all but the chosen one), the borough outline, the selected ward's dark
    edge and its yellow inner edge (visible on every class colour). Hover names come from the
    GeoJSON properties, so the figure carries no names."""
    k = len(classes.colours)
    missing = classes.missing
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=classes.codes, z=classes.z, customdata=classes.values,
        colorscale=_stepped(classes.colours), zmin=-0.5, zmax=k - 0.5, colorbar=_colorbar(classes),
        marker=dict(line=dict(width=0.5, color="white"), opacity=0.92),
        hovertemplate=classes.hover, name="Wards",
    ))
    return _finish_map(fig, geojson_url, borough_url, missing, faded=faded, outline=outline,
                       selected=selected, centre=centre, zoom=zoom, map_style=map_style,
                       uirevision=uirevision)


def _finish_map(fig: go.Figure, geojson_url: str, borough_url: str, missing: Sequence[str], *,
                faded: Sequence[str], outline: Sequence[str], selected: Sequence[str],
                centre: dict | None, zoom: float | None, map_style: str,
                uirevision: str) -> go.Figure:
    """The traces and layout both ward maps share, after their values trace: grey wards with no
    data, then the place traces (faded, borough outline, selected ward)."""
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=list(missing), z=[0] * len(missing),
        colorscale=EMPTY_SCALE, showscale=False,
        marker=dict(line=dict(width=0.5, color="white"), opacity=0.9),
        hovertemplate="<b>%{properties.name}</b><br>%{properties.borough}<br>No data"
                      "<extra></extra>", name="No data",
    ))
    _add_place_traces(fig, geojson_url, borough_url, faded, outline, selected)
    fig.update_layout(**_layout(
        map=dict(style=map_style, center=centre or LONDON_CENTRE, zoom=zoom or LONDON_ZOOM,
                 domain=dict(x=[0, MAP_DOMAIN], y=[0, 1])),
        uirevision=uirevision, showlegend=False, margin=dict(l=0, r=0, t=0, b=0),
    ))
    return fig


def _add_place_traces(fig: go.Figure, geojson_url: str, borough_url: str,
                      faded: Sequence[str], outline: Sequence[str],
                      selected: Sequence[str]) -> None:
    """The veil, borough outline and selection traces (``FADE`` to ``SELECTED``)."""
    fig.add_trace(go.Choroplethmap(
        geojson=borough_url, locations=list(faded), z=[0] * len(faded),
        colorscale=[[0, FADE_FILL], [1, FADE_FILL]], showscale=False,
        marker=dict(line=dict(width=0)), hoverinfo="skip", name="Other boroughs",
    ))
    fig.add_trace(_edge(borough_url, outline, 2.5, INK, "Borough boundary"))
    fig.add_trace(_edge(geojson_url, selected, 6, INK, "Selected ward"))
    fig.add_trace(_edge(geojson_url, selected, 2.5, FOCUS, "Selected ward"))


def _edge(url: str, codes: Sequence[str], width: float, colour: str, name: str
          ) -> go.Choroplethmap:
    return go.Choroplethmap(
        geojson=url, locations=list(codes), z=[0] * len(codes), colorscale=CLEAR,
        showscale=False, marker=dict(line=dict(width=width, color=colour)), hoverinfo="skip",
        name=name,
    )


def patch_values(patch: Patch, classes: MapClasses, *, geojson_url: str | None = None) -> Patch:
    """Put new values (and, when the layer changes, the new geometry URL and ward codes) in a
    patch of ``need_map``."""
    k = len(classes.colours)
    missing = classes.missing
    if geojson_url is not None:
        for trace in (VALUES, MISSING, SELECTED_EDGE, SELECTED):
            patch["data"][trace]["geojson"] = geojson_url
        patch["data"][VALUES]["locations"] = classes.codes
    patch["data"][VALUES]["z"] = classes.z
    patch["data"][VALUES]["customdata"] = classes.values
    patch["data"][VALUES]["colorscale"] = _stepped(classes.colours)
    patch["data"][VALUES]["zmax"] = k - 0.5
    patch["data"][VALUES]["colorbar"] = _colorbar(classes)
    patch["data"][VALUES]["hovertemplate"] = classes.hover
    patch["data"][MISSING]["locations"] = missing
    patch["data"][MISSING]["z"] = [0] * len(missing)
    return patch


def patch_place(patch: Patch, *, faded: Sequence[str], outline: Sequence[str],
                centre: dict | None, zoom: float | None, uirevision: str) -> Patch:
    """Zoom to a borough (or London), veil the boroughs around it and outline it."""
    patch["data"][FADE]["locations"] = list(faded)
    patch["data"][FADE]["z"] = [0] * len(faded)
    patch["data"][OUTLINE]["locations"] = list(outline)
    patch["data"][OUTLINE]["z"] = [0] * len(outline)
    patch["layout"]["map"]["center"] = centre or LONDON_CENTRE
    patch["layout"]["map"]["zoom"] = zoom or LONDON_ZOOM
    patch["layout"]["uirevision"] = uirevision
    return patch


def patch_selected(patch: Patch, selected: Sequence[str]) -> Patch:
    for trace in (SELECTED_EDGE, SELECTED):
        patch["data"][trace]["locations"] = list(selected)
        patch["data"][trace]["z"] = [0] * len(selected)
    return patch


# Ranking ----------------------------------------------------------------------------------------
def _fmt(ind: needs.Indicator) -> str:
    return f",.{ind.decimals}f"


def _unit_suffix(ind: needs.Indicator) -> str:
    unit = ind.short_unit
    return "%" if unit == "%" else (f" {unit}" if unit else "")


def _reference(fig: go.Figure, x: float | None, label: str, dash: str, colour: str) -> None:
    """A vertical reference line (London, the borough) named in the legend, not on the plot,
    so labels never collide with bars or dots."""
    if x is None:
        return
    fig.add_vline(x=x, line=dict(color=colour, width=2, dash=dash))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label, hoverinfo="skip",
                             line=dict(color=colour, width=2, dash=dash)))


def _references(fig: go.Figure, ind: needs.Indicator, london: float | None,
                borough_name: str | None, borough_value: float | None) -> None:
    _reference(fig, london, f"London: {needs.number_text(london, ind.unit, ind.decimals)}",
               "dash", INK)
    if borough_name and borough_value is not None:
        _reference(fig, borough_value, f"{borough_name}: "
                   f"{needs.number_text(borough_value, ind.unit, ind.decimals)}", "dot", BLUE)


LEGEND_TOP = dict(orientation="h", yanchor="bottom", y=1.0, x=0, xanchor="left",
                  font=dict(size=13))


def ranking_chart(rows: pd.DataFrame, ind: needs.Indicator, *, selected: str | None,
                  borough: str | None, london: float | None, borough_value: float | None,
                  borough_name: str | None) -> go.Figure:
    """Horizontal bars, most need at the top, labelled with the rank. Rows come from
    ``needs.ranking_rows``; a gap in ``pos`` becomes a labelled "not shown" row. The selected area
    is dark with a marker in its label; London (and the borough) are dashed lines."""
    labels, values, colours, codes, texts = [], [], [], [], []
    last = -1
    for row in rows.itertuples():
        if row.pos > last + 1:
            labels.append(f"… {row.pos - last - 1} areas not shown …")
            values.append(None)
            colours.append("white")
            codes.append(None)
            texts.append("")
        last = row.pos
        name = row.name if borough else f"{row.name} ({row.borough_name})"
        if row.wards > 1:
            name = row.name
        joint = "=" if row.tied else ""
        is_selected = selected is not None and row.code == selected
        label = f"{joint}{int(row.rank)}. {name}"
        labels.append(f"<b>▶ {label}</b>" if is_selected else label)
        values.append(row.value)
        colours.append(INK if is_selected else BLUE)
        codes.append(row.code)
        texts.append(needs.number_text(row.value, ind.unit, ind.decimals))
    fig = go.Figure(go.Bar(
        x=values, y=labels, orientation="h", marker=dict(color=colours), customdata=codes,
        text=texts, textposition="outside", cliponaxis=False, showlegend=False,
        hovertemplate="%{y}<br>%{x:" + _fmt(ind) + "}" + _unit_suffix(ind)
                      + "<extra></extra>",
    ))
    height = max(260, 24 * len(labels) + 110)
    fig.update_layout(**_layout(
        height=height, margin=dict(l=10, r=60, t=30, b=40), bargap=0.25, legend=LEGEND_TOP,
        yaxis=dict(autorange="reversed", automargin=True, tickfont=dict(size=13)),
        xaxis=dict(title=dict(text=_axis_title(ind), font=dict(size=13)),
                   tickformat=_fmt(ind), rangemode="tozero", automargin=True, gridcolor="#e6e6e6"),
    ))
    _references(fig, ind, london, borough_name if borough else None, borough_value)
    return fig


def _axis_title(ind: needs.Indicator, direction: bool = False) -> str:
    """The indicator's title with its unit (unless the title already says it), and with
    ``direction`` an arrow to the end of the axis that means more need."""
    title = ind.title
    if ind.unit not in ("count", "") and ind.unit.casefold() not in title.casefold():
        title += f" ({ind.unit})"
    if direction:
        more = "higher value" if ind.polarity == 0 else "more need"
        title += f"   ← {more}" if ind.polarity > 0 else f"   {more} →"
    return title


# Distribution strip -----------------------------------------------------------------------------
def _jitter(n: int) -> np.ndarray:
    """Deterministic vertical spread in [-1, 1] (golden-ratio sequence), so a redraw is stable."""
    return ((np.arange(n) * 0.6180339887) % 1.0) * 2 - 1


def strip_chart(table: pd.DataFrame, ind: needs.Indicator, *, borough: str | None,
                borough_name: str | None, selected: str | None, london: float | None,
                borough_value: float | None) -> go.Figure:
    """Every area as a dot along the value axis: London's areas grey, the borough's blue and
    named on hover, the selected area a large black diamond; London and borough values as lines.
    An arrow says which end means more need."""
    data = table[table["value"].notna()].reset_index(drop=True)
    y = _jitter(len(data))
    inside = (data["borough_code"] == borough).to_numpy() if borough else np.zeros(len(data), bool)
    is_sel = (data["code"] == selected).to_numpy() if selected else np.zeros(len(data), bool)
    fmt = _fmt(ind)
    suffix = _unit_suffix(ind)
    fig = go.Figure()
    out = ~inside & ~is_sel
    fig.add_trace(go.Scatter(
        x=data.loc[out, "value"].round(ind.decimals + 1).tolist(), y=np.round(y[out], 3).tolist(),
        mode="markers", name="London areas", marker=dict(size=6, color=GREY, opacity=0.7),
        showlegend=False,
        hovertemplate="%{x:" + fmt + "}" + suffix + "<extra>London area</extra>",
    ))
    if inside.any():
        sub = data[inside & ~is_sel]
        fig.add_trace(go.Scatter(
            x=sub["value"].tolist(), y=np.round(y[inside & ~is_sel], 3).tolist(), mode="markers",
            name=f"{borough_name} areas", text=sub["name"].tolist(), showlegend=False,
            marker=dict(size=10, color=BLUE, line=dict(width=1, color="white")),
            hovertemplate="%{text}<br>%{x:" + fmt + "}" + suffix + "<extra></extra>",
        ))
    if is_sel.any():
        row = data[is_sel].iloc[0]
        fig.add_trace(go.Scatter(
            x=[row["value"]], y=[0], mode="markers", name=str(row["name"]), showlegend=False,
            marker=dict(size=18, color=INK, symbol="diamond", line=dict(width=2, color=FOCUS)),
            hovertemplate=f"{row['name']}<br>%{{x:{fmt}}}{suffix}<extra></extra>",
        ))
        fig.add_annotation(x=row["value"], y=1.15, text=f"<b>{row['name']}</b>", showarrow=False,
                           yanchor="bottom", font=dict(size=13), bgcolor="rgba(255,255,255,0.8)")
    fig.update_layout(**_layout(
        height=250, margin=dict(l=10, r=20, t=30, b=50), legend=LEGEND_TOP,
        yaxis=dict(visible=False, range=[-1.4, 1.9], fixedrange=True),
        xaxis=dict(title=dict(text=_axis_title(ind, direction=True), font=dict(size=14)),
                   tickformat=fmt, gridcolor="#e6e6e6", zeroline=False),
    ))
    _references(fig, ind, london, borough_name if borough else None, borough_value)
    return fig


# Need against provision -------------------------------------------------------------------------
SCATTER_COLOURS = [[0, GREY], [1 / 3, GREY], [1 / 3, FLAG], [2 / 3, FLAG], [2 / 3, BLUE],
                   [1, BLUE]]   # colour codes 0 other, 1 flagged, 2 the borough's (not flagged)
WARDS, SELECTED_POINT = 0, 4      # scatter traces patched on a place change (1-3: legend keys)


def _plotted(prov: needs.Provision) -> pd.DataFrame:
    return prov.table[prov.table["x"].notna() & prov.table["y"].notna()]


def _scatter_marker(t: pd.DataFrame, borough: str | None) -> dict:
    """Per-ward colour code, size and edge: flagged wards orange (and diamonds, see
    ``scatter_chart``), the borough's wards larger, blue unless flagged, with a dark edge."""
    inside = (t["borough_code"] == borough).to_numpy() if borough else np.zeros(len(t), bool)
    flagged = t["flagged"].to_numpy()
    colour = np.where(flagged, 1, np.where(inside, 2, 0))
    size = np.where(inside, np.where(flagged, 13, 11), np.where(flagged, 9, 6))
    return {"color": colour.tolist(), "size": size.tolist(),
            "line": {"width": np.where(inside, 1.5, 0).tolist(), "color": INK}}


def _legend_key(name: str, marker: dict, visible: bool = True) -> go.Scatter:
    return go.Scatter(x=[None], y=[None], mode="markers", name=name, marker=marker,
                      hoverinfo="skip", showlegend=visible)


def scatter_chart(prov: needs.Provision, *, borough: str | None, borough_name: str | None,
                  selected: str | None, x_cut: needs.Cut | None, y_cut: needs.Cut | None
                  ) -> go.Figure:
    """Wards by need (x) and provision (y), one trace so a place change patches only marker
    arrays. Flagged wards are orange diamonds (shape as well as colour), the borough's wards
    larger and blue with a dark edge, the selected ward a black ring; the thresholds are dashed
    lines. ``customdata`` holds the unit code for clicks; traces 1-3 only key the legend."""
    t = _plotted(prov)
    xi, yi = prov.x.indicator, prov.y.indicator
    hover = ("<b>%{text}</b><br>" + f"{xi.title}: %{{x:{_fmt(xi)}}}"
             + _unit_suffix(xi) + "<br>" + f"{yi.title}: %{{y:{_fmt(yi)}}}"
             + _unit_suffix(yi) + "<extra></extra>")
    marker = _scatter_marker(t, borough)
    fig = go.Figure(go.Scatter(
        x=t["x"].tolist(), y=t["y"].tolist(), mode="markers", name="Wards", showlegend=False,
        text=t["name"].tolist(), customdata=t["code"].tolist(), hovertemplate=hover,
        marker=dict(**marker, colorscale=SCATTER_COLOURS, cmin=0, cmax=2, opacity=0.85,
                    symbol=np.where(t["flagged"], "diamond", "circle").tolist()),
    ))
    fig.add_trace(_legend_key("Other wards", dict(size=8, color=GREY)))
    fig.add_trace(_legend_key("High need, low provision",
                              dict(size=10, color=FLAG, symbol="diamond")))
    fig.add_trace(_legend_key(f"{borough_name} wards" if borough else "Borough wards",
                              dict(size=11, color=BLUE, line=dict(width=1.5, color=INK)),
                              visible=bool(borough)))
    fig.add_trace(_selected_point(t, selected))
    if x_cut is not None:
        fig.add_vline(x=x_cut.value, line=dict(color=FLAG, width=2, dash="dash"))
    if y_cut is not None:
        fig.add_hline(y=y_cut.value, line=dict(color=FLAG, width=2, dash="dash"))
    fig.update_layout(**_layout(
        height=480, margin=dict(l=10, r=20, t=20, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, font=dict(size=13)),
        xaxis=dict(title=dict(text=f"Need: {_axis_title(xi)}, "
                                   f"{needs.period_text(prov.x.period)}", font=dict(size=13)),
                   tickformat=_fmt(xi), gridcolor="#e6e6e6", automargin=True, zeroline=False),
        yaxis=dict(title=dict(text=f"Provision: {_axis_title(yi)}, "
                                   f"{needs.period_text(prov.y.period)}", font=dict(size=13)),
                   tickformat=_fmt(yi), gridcolor="#e6e6e6", automargin=True, zeroline=False),
    ))
    return fig


def _selected_point(t: pd.DataFrame, selected: str | None) -> go.Scatter:
    sel = t[t["code"] == selected] if selected else t.iloc[0:0]
    return go.Scatter(
        x=sel["x"].tolist(), y=sel["y"].tolist(), mode="markers+text", name="Selected ward",
        text=sel["name"].tolist(), textposition="top center", customdata=sel["code"].tolist(),
        marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(width=3, color=INK)),
        hoverinfo="skip", showlegend=bool(len(sel)), textfont=dict(size=14),
    )


def patch_scatter_place(patch: Patch, prov: needs.Provision, *, borough: str | None,
                        borough_name: str | None, selected: str | None) -> Patch:
    """Emphasise another borough's wards and mark another ward on a ``scatter_chart``."""
    t = _plotted(prov)
    marker = _scatter_marker(t, borough)
    patch["data"][WARDS]["marker"]["color"] = marker["color"]
    patch["data"][WARDS]["marker"]["size"] = marker["size"]
    patch["data"][WARDS]["marker"]["line"]["width"] = marker["line"]["width"]
    patch["data"][3]["name"] = f"{borough_name} wards" if borough else "Borough wards"
    patch["data"][3]["showlegend"] = bool(borough)
    point = _selected_point(t, selected)
    for key in ("x", "y", "text", "customdata", "showlegend"):
        patch["data"][SELECTED_POINT][key] = point[key]
    return patch


def patch_flags(patch: Patch, codes: Sequence[str], z: Sequence[int | None]) -> Patch:
    """New flags on a map made by ``flag_map``."""
    missing = [c for c, v in zip(codes, z) if v is None]
    patch["data"][VALUES]["z"] = list(z)
    patch["data"][MISSING]["locations"] = missing
    patch["data"][MISSING]["z"] = [0] * len(missing)
    return patch


def flag_map(geojson_url: str, borough_url: str, codes: Sequence[str], z: Sequence[int | None],
             *, faded: Sequence[str] = (), outline: Sequence[str] = (),
             selected: Sequence[str] = (),
             centre: dict | None = None, zoom: float | None = None,
             map_style: str = "white-bg", uirevision: str = "flags") -> go.Figure:
    """Wards flagged for high need and low provision (1) against the rest (0); wards missing
    either value are grey. Same trace order as ``need_map``, so the same place patches apply."""
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson=geojson_url, locations=list(codes), z=list(z),
        colorscale=[[0, NOT_FLAGGED], [0.5, NOT_FLAGGED], [0.5, FLAG], [1, FLAG]],
        zmin=-0.5, zmax=1.5,
        colorbar=dict(tickvals=[0, 1], ticktext=["Not flagged", "High need,<br>low provision"],
                      thickness=16, len=0.5, outlinewidth=0, ticks="", x=MAP_DOMAIN + 0.02,
                      xanchor="left", tickfont=dict(size=13)),
        marker=dict(line=dict(width=0.5, color="white"), opacity=0.92),
        hovertemplate="<b>%{properties.name}</b><br>%{properties.borough}<extra></extra>",
        name="Wards",
    ))
    missing = [c for c, v in zip(codes, z) if v is None]
    return _finish_map(fig, geojson_url, borough_url, missing, faded=faded, outline=outline,
                       selected=selected, centre=centre, zoom=zoom, map_style=map_style,
                       uirevision=uirevision)


# Series -----------------------------------------------------------------------------------------
SERIES_STYLES = (  # ward, borough, London: colour, dash, width
    (INK, "solid", 3), (BLUE, "solid", 3), ("#6f777b", "dash", 2.5),
)


def period_date(period: str) -> dt.date | None:
    """A period as the date it starts: months, quarters ("2024Q2" -> April 2024) and years."""
    text = str(period)
    try:
        if len(text) == 7 and text[4] == "-":
            return dt.date(int(text[:4]), int(text[5:]), 1)
        if len(text) == 6 and text[4] == "Q":
            return dt.date(int(text[:4]), 3 * int(text[5]) - 2, 1)
        if len(text) == 4:
            return dt.date(int(text), 1, 1)
    except ValueError:
        return None
    return None


def series_chart(frame: pd.DataFrame, ind: needs.Indicator, *, title: str, bars: bool = False,
                 height: int = 340) -> go.Figure:
    """One line per area (ward black, borough blue, London grey dashed), in ``frame`` order; with
    ``bars`` a single area is drawn as columns. Hover shows the period in words."""
    fig = go.Figure()
    areas = list(dict.fromkeys(frame["area"]))
    style_for = SERIES_STYLES[-len(areas):] if len(areas) > 1 else SERIES_STYLES[1:2]
    suffix = _unit_suffix(ind)
    for area, (colour, dash, width) in zip(areas, style_for):
        sub = frame[frame["area"] == area]
        x = [period_date(p) for p in sub["period"]]
        labels = [needs.period_text(p) for p in sub["period"]]
        hover = ("%{customdata}<br>" + f"{area}: " + "%{y:" + _fmt(ind) + "}" + suffix
                 + "<extra></extra>")
        if bars and len(areas) == 1:
            fig.add_trace(go.Bar(x=x, y=sub["value"].tolist(), name=area, customdata=labels,
                                 marker=dict(color=BLUE), hovertemplate=hover))
        else:
            fig.add_trace(go.Scatter(x=x, y=sub["value"].tolist(), name=area, mode="lines",
                                     customdata=labels, hovertemplate=hover,
                                     line=dict(color=colour, dash=dash, width=width)))
    fig.update_layout(**_layout(
        height=height, margin=dict(l=10, r=20, t=50, b=40),
        title=dict(text=title, font=dict(size=16), x=0, xanchor="left", y=0.98),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right",
                    font=dict(size=13)),
        xaxis=dict(gridcolor="#e6e6e6", automargin=True),
        yaxis=dict(title=dict(text=ind.unit, font=dict(size=13)), tickformat=_fmt(ind)
                   if ind.decimals else ",d", rangemode="tozero", gridcolor="#e6e6e6",
                   automargin=True),
        hovermode="x unified" if len(areas) > 1 else "closest",
    ))
    if frame.empty:
        fig.add_annotation(text="No data for this choice", x=0.5, y=0.5, xref="paper",
                           yref="paper", showarrow=False, font=dict(size=16, color="#484949"))
    return fig


def no_series(message: str, height: int = 200) -> go.Figure:
    """An empty chart that says why."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=16, color="#484949"))
    fig.update_layout(**_layout(height=height, xaxis=dict(visible=False),
                                    yaxis=dict(visible=False)))
    return fig
