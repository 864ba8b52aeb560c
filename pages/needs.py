"""Residents' needs (/needs): where needs are greatest, and whether provision is where the need is.

Every control writes the page's query string (the URL); small stores then say which part of the
view changed (indicator, place, provision, series), so each section redraws only when its own
inputs change, and the map gets values-only patches.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qsl

import dash
import flask
import pandas as pd
from dash import (MATCH, Input, Output, Patch, State, callback, clientside_callback, ctx,
                  dcc, html, no_update)

from dashboard.ui import components as ui
from dashboard.domain import export
from dashboard.domain import filters
from dashboard.views.needs import model as needs
from dashboard.core import runtime
from dashboard.data import schema
from dashboard.core import ward_lists
from dashboard.figures import fit_extent, graph_config
from dashboard.figures import needs as figs
from dashboard.domain.state import Message, chosen_month, narrow, parse, to_query
from dashboard.domain.text import fmt_number, fmt_period, join_and

dash.register_page(__name__, path="/needs", title="Residents' needs - Borough Dashboards", order=2)

P = "needs"
IDS = {k: f"{P}-{k}" for k in (
    "indicator", "borough", "ward2022", "ward2011", "field2022", "field2011", "from", "to",
    "classes", "messages", "map", "map-layer", "legend", "info", "context", "context-heading",
    "layer-note", "ranking", "ranking-caption", "strip", "strip-caption", "table-body",
    "table-status", "table-caption", "table-state", "prev", "next", "table", "preset", "x", "y",
    "need", "prov", "scatter", "flagmap", "flag-body", "flag-count", "flag-caption", "crime",
    "crime-chart", "ev-devices", "ev-vehicles", "ward-lists",
    "s-ind", "s-place", "s-area", "s-prov", "s-series",
)}
QUERY = {"type": "query", "page": P}
# ward layer -> its picker (see ward_lists)
WARD_PICKERS = {"ward2022": IDS["ward2022"], "ward2011": IDS["ward2011"]}
STORES = ("s-ind", "s-place", "s-area", "s-prov", "s-series")
SORTS = {"rank": "Rank", "name": "Area", "borough_name": "Borough", "value": "Value",
         "percentile": "Percentile"}
PAGE_SIZE = 25
# Plot-area sizes (px) of the two maps at 1280 px wide, for fitting a borough or London in view.
MAP_SIZE = (int(734 * figs.MAP_DOMAIN), 480)
FLAG_MAP_SIZE = (int(612 * figs.MAP_DOMAIN), 480)


# State ------------------------------------------------------------------------------------------
def _data():
    return needs.data_for(runtime.store())


def _defaults(known):
    """All of London, the whole period of the monthly crime series, the default indicator."""
    return filters.default_state(known).replace(date_from=known.months[0],
                                                date_to=known.months[1],
                                                indicator=needs.DEFAULT_INDICATOR)


def _read(query, known, data):
    """(state, view, messages) from a query string or the layout's query mapping."""
    if query is None or isinstance(query, str):
        query = dict(parse_qsl(query or "", keep_blank_values=True))
    state, notes = parse(query, known, _defaults(known))
    inds = data.indicators()
    view, view_notes = needs.parse_view(query, inds, needs.crime_categories(inds))
    state, layer_notes = needs.align_layer(state, known, data.indicator(state.indicator))
    return state, view, [*notes, *view_notes, *layer_notes]


def _query(state, view, known) -> str:
    return needs.page_query(to_query(state, _defaults(known)), view)


def _signatures(state, view) -> dict:
    """What each section depends on; a store is written only when its part changes."""
    return {
        "s-ind": {"indicator": state.indicator, "classes": view.classes},
        "s-place": {"borough": state.borough, "ward": state.ward, "layer": state.ward_layer},
        # the sections drawn on 2022 wards only (provision, series) follow this instead
        "s-area": {"borough": state.borough,
                   "ward": state.ward if state.ward_layer == "ward2022" else None},
        "s-prov": {"x": view.x, "y": view.y, "need": view.need, "prov": view.prov},
        "s-series": {"crime": view.crime, "from": state.date_from, "to": state.date_to},
    }


def _selected_unit(data, state) -> str | None:
    return data.unit_of(state.ward_layer, state.ward) if state.ward else None


def _zoom(state, size=MAP_SIZE):
    """Centre and zoom that fit the borough (or all of London) in a map of ``size``."""
    return fit_extent(runtime.tables().extents, "borough", state.borough, *size)


# Layout pieces ----------------------------------------------------------------------------------
def _graph(key: str, figure, filename: str, height: str | None = None, label: str = ""):
    extra = {"style": {"height": height}} if height else {}
    if key in ("map", "flagmap"):
        extra["className"] = "map-graph"
    labelled = {"role": "figure", "aria-label": label} if label else {}
    return html.Div(className="chart-block", **labelled, children=[
        dcc.Graph(id=IDS[key], figure=figure, config=graph_config(f"borough-dashboards-{filename}"),
                  **extra),
        html.Div(className="image-buttons", children=[
            child
            for fmt in ("png", "svg")
            for child in (
                html.Button(f"Download chart ({fmt.upper()})",
                            id={"type": f"{P}-img", "chart": key, "format": fmt},
                            className="button button--secondary button--small", n_clicks=0),
                html.Span(id={"type": f"{P}-img-done", "chart": key, "format": fmt},
                          hidden=True),
            )
        ]),
    ])


def _range_field(key: str, label: str, value: int, low: int, high: int) -> html.Div:
    """A threshold slider (arrow keys move it by 5) with its value shown in the label. The
    slider's handle is named by the label in the browser (see the clientside callback below)."""
    return html.Div(className="field field--range", children=[
        html.Label([label, ": ", html.Strong(f"{value}th", id=f"{IDS[key]}-value")],
                   htmlFor=IDS[key], id=f"{IDS[key]}-label"),
        dcc.Slider(id=IDS[key], min=low, max=high, step=5, value=value,
                   marks={v: str(v) for v in range(low, high + 1, 5 if high - low <= 45 else 10)},
                   allow_direct_input=False, updatemode="mouseup"),
    ])


def _class_map(data, ranked, view):
    """The classes of the indicator's map wards."""
    layer = ranked.indicator.layer
    table = data.layer_table(layer)
    stat = table["stat_code"] if "stat_code" in table else table["code"]
    return figs.map_classes(table["code"].tolist(), stat.tolist(),
                            ranked.table.set_index("code")["value"], ranked.indicator,
                            ranked.period, view.classes)


def _place_codes(data, state, layer, known):
    """(boroughs to veil, borough outline, selected map wards) for the place in view."""
    faded = [c for c in known.boroughs if c != state.borough] if state.borough else []
    outline = [state.borough] if state.borough else []
    selected = data.wards_of_unit(layer, _selected_unit(data, state))
    return faded, outline, selected


def _map_figure(data, ranked, state, view, known):
    geo = runtime.geo()
    classes = _class_map(data, ranked, view)
    faded, outline, selected = _place_codes(data, state, ranked.indicator.layer, known)
    centre, zoom = _zoom(state)
    return figs.need_map(geo.url(ranked.indicator.layer), geo.url("borough"), classes,
                         faded=faded, outline=outline, selected=selected, centre=centre,
                         zoom=zoom, map_style=runtime.config().map_style,
                         uirevision=state.borough or "london"), classes


def _legend_note(classes, ind) -> list:
    """The map's legend in words: classes with counts, direction, missing data."""
    items = [html.Li([html.Span(className="swatch", style={"background": c}),
                      f"{label} ({n} areas)"])
             for c, label, n in zip(classes.colours, classes.labels, classes.counts)]
    method = needs.CLASS_METHODS[classes.method]
    notes = [html.P([html.Strong(classes.title), f". {method}."], className="hint"),
             html.Ul(items, className="legend-list")]
    missing = " Grey: no data." if classes.missing else ""
    notes.append(html.P(f"{needs.POLARITY_TEXT[ind.polarity]}{missing} Each class includes its "
                        "lower limit. With a borough chosen, wards outside it are faded.",
                        className="hint"))
    return notes


def _info(data, ranked) -> list:
    """Definition, unit, period, source, licence and method of the indicator."""
    ind = ranked.indicator
    dataset = data.dataset(ind.source)
    shown = needs.period_text(ranked.period)
    period = ind.period_label + (f". The map shows {shown}." if ind.kind == "series" else "")
    rows = [
        ("Definition", ind.definition),
        ("Unit", ind.unit),
        ("Period", period),
        ("Source", dcc.Link(dataset.get("title") or ind.source,
                            href=f"/sources#dataset-{ind.source}")),
        ("Licence", ind.licence or dataset.get("licence", "")),
        ("Method", needs.METHOD_TEXT.get(ind.method, ind.method)),
        ("Direction", needs.POLARITY_TEXT[ind.polarity]),
        ("Areas", "2011 wards (625, City as one)" if ind.layer == "ward2011" else
         "2022 wards (680 areas: the City of London's 25 wards count as one)"),
    ]
    if ind.crime_category:
        rows.append(("Note", "Rates are per resident (Census 2021), so central areas with many "
                             "visitors and workers but few residents have very high rates. The "
                             "City of London has its own police force and no Met figures."))
    body = []
    for label, value in rows:
        body += [html.Dt(label), html.Dd(value)]
    return [html.H3(ind.title, className="info__title"), html.Dl(body, className="dataset")]


def _layer_note(ind) -> list:
    if ind.layer != "ward2011":
        return []
    return [html.Div(className="message", role="status", children=[
        html.P("Shown on 2011 ward boundaries", className="message__title"),
        html.P("This indicator comes from the GLA ward profiles (2015 edition), published for the "
               "625 wards of 2011, so the map, ranks and table use those wards. Values are never "
               "moved between boundary vintages."),
    ])]


def _context_cards(data, ranked, state, known) -> list:
    ind = ranked.indicator
    figures = needs.context(data, ranked, state, known)
    london = figures[-1].value
    unit = "" if ind.unit.startswith("%") or ind.unit in ("count", "£") else ind.unit
    cards = []
    for f in figures:
        noun = "boroughs" if f.role == "borough" else "areas"
        if f.role == "london":
            label, lines = "London", [f"All of London, {needs.period_text(ranked.period)}"]
        else:
            label = ("Ward: " if f.role == "ward" else "Borough: ") + f.place
            lines = [needs.rank_text(f.rank, f.total, ind.polarity, f.tied, noun),
                     needs.percentile_text(f.percentile, ind.polarity, noun)]
            if f.value is not None and london is not None:
                lines.append(_versus(f.value, london, ind))
        value = needs.number_text(f.value, ind.unit, ind.decimals)
        cards.append(html.Li([
            html.P(label, className="kpi__label"),
            html.P([value, html.Span(f" {unit}", className="kpi__unit") if unit and f.value
                    is not None else None], className="kpi__value", **{"data-role": f.role}),
            *[html.P(line, className="kpi__note") for line in lines if line],
        ], className=f"kpi kpi--{f.role}"))
    return cards


def _versus(value: float, london: float, ind) -> str:
    """"above London" / "below London" / "the same as London", in the indicator's unit."""
    diff = round(value - london, ind.decimals)
    if diff == 0:
        return "The same as London"
    unit = "percentage points" if ind.unit.startswith("%") else ind.short_unit
    amount = f"{fmt_number(abs(diff), ind.decimals)}{' ' + unit if unit else ''}"
    return f"{amount} {'above' if diff > 0 else 'below'} London"


def _context_heading(state, known) -> str:
    return f"How {filters.place_name(state, known)} compares"


def _ranking(data, ranked, state, known):
    ind = ranked.indicator
    selected = _selected_unit(data, state)
    rows = needs.ranking_rows(ranked, state.borough, selected)
    total = int(needs.in_view(ranked.table, state.borough)["value"].notna().sum())
    fig = figs.ranking_chart(
        rows, ind, selected=selected, borough=state.borough,
        london=needs.london_value(data, ranked),
        borough_value=needs.borough_value(data, ranked, state.borough),
        borough_name=known.borough_name(state.borough) if state.borough else None)
    where = (f"all {total} areas of {known.borough_name(state.borough)}" if state.borough else
             f"the 20 areas with the most need and the 20 with the least, of {total} London areas")
    if ind.polarity == 0:
        where = where.replace("most need", "highest values").replace("the least",
                                                                     "the lowest")
    caption = (f"{ind.title}, {needs.period_text(ranked.period)}: {where}. 1st = "
               f"{'highest value' if ind.polarity == 0 else 'most need'}; '=' marks a joint "
               "rank. Click a bar to choose that area.")
    return fig, caption


def _strip(data, ranked, state, known):
    ind = ranked.indicator
    fig = figs.strip_chart(
        ranked.table, ind, borough=state.borough,
        borough_name=known.borough_name(state.borough) if state.borough else None,
        selected=_selected_unit(data, state), london=needs.london_value(data, ranked),
        borough_value=needs.borough_value(data, ranked, state.borough))
    n = ranked.ranked_count
    who = (f" {known.borough_name(state.borough)}'s areas are blue" if state.borough else "")
    sel = " The chosen area is the black diamond." if state.ward else ""
    caption = (f"Each dot is one of {n} London areas (grey).{who}.{sel}" if who else
               f"Each dot is one of {n} London areas.{sel}")
    return fig, caption


# The table --------------------------------------------------------------------------------------
def _table_page(data, ranked, state, sort: str, descending: bool, page: int):
    """(tbody rows, status text, page actually shown, pages)."""
    ind = ranked.indicator
    rows = needs.table_rows(ranked, state.borough, sort, descending)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    chunk = rows.iloc[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    selected = _selected_unit(data, state)
    body = []
    for r in chunk.itertuples():
        rank = "" if pd.isna(r.rank) else ("=" if r.tied else "") + str(int(r.rank))
        name = r.name + (" (selected)" if r.code == selected else "")
        if r.wards > 1:
            name += f" ({r.wards} wards as one)"
        body.append(html.Tr([
            html.Td(rank, className="num"),
            html.Th(name, scope="row"),
            html.Td(r.borough_name),
            html.Td(needs.number_text(r.value, ind.unit, ind.decimals), className="num"),
            html.Td("" if pd.isna(r.percentile) else fmt_number(r.percentile, 0), className="num"),
        ], className="is-selected" if r.code == selected else None))
    first, last = page * PAGE_SIZE + 1, page * PAGE_SIZE + len(chunk)
    status = (f"Showing areas {first} to {last} of {len(rows)}, sorted by "
              f"{SORTS[sort].lower()} ({'descending' if descending else 'ascending'}).")
    return body, status, page, pages


def _table_caption(ranked, state, known) -> str:
    ind = ranked.indicator
    where = known.borough_name(state.borough) if state.borough else "London"
    unit = "" if ind.unit == "count" or ind.unit.casefold() in ind.title.casefold() else (
        f" ({ind.unit})")
    return (f"{ind.title}{unit}, {needs.period_text(ranked.period)}: every area of "
            f"{where}. Rank 1 = {'highest value' if ind.polarity == 0 else 'most need'}.")


def _aria_sort(key: str, sort: str, descending: bool) -> str:
    return ("descending" if descending else "ascending") if key == sort else "none"


def _sort_header(key: str, label: str, sort: str, descending: bool):
    aria = _aria_sort(key, sort, descending)
    arrow = (" ▼" if descending else " ▲") if key == sort else ""
    return html.Th(html.Button([label, html.Span(arrow, **{"aria-hidden": "true"})],
                               id=f"{P}-sort-{key}", n_clicks=0, className="sort-button",
                               title=f"Sort by {label.lower()}"),
                   scope="col", id=f"{P}-th-{key}", className="num" if key in (
                       "rank", "value", "percentile") else None, **{"aria-sort": aria})


# Need against provision -------------------------------------------------------------------------
def _provision(data, view):
    return needs.provision(data, view.x, view.y, view.need, view.prov)


def _flag_z(data, prov):
    table = data.layer_table("ward2022")
    flags = prov.table.set_index("code")
    ok = flags["need_pct"].notna() & flags["provision_pct"].notna()
    z = table["stat_code"].map(flags["flagged"].astype(int).where(ok))
    return table["code"].tolist(), [None if pd.isna(v) else int(v) for v in z]


def _scatter(data, prov, state, known, view):
    x_cut, y_cut = needs.thresholds(prov, view.need, view.prov)
    selected = _selected_unit(data, state) if state.ward_layer == "ward2022" else None
    return figs.scatter_chart(
        prov, borough=state.borough,
        borough_name=known.borough_name(state.borough) if state.borough else None,
        selected=selected, x_cut=x_cut, y_cut=y_cut)


def _flag_map(data, prov, state, known):
    geo = runtime.geo()
    codes, z = _flag_z(data, prov)
    faded, outline, selected = _place_codes(data, state, "ward2022", known)
    if state.ward_layer != "ward2022":
        selected = []
    centre, zoom = _zoom(state, FLAG_MAP_SIZE)
    return figs.flag_map(geo.url("ward2022"), geo.url("borough"), codes, z, faded=faded,
                         outline=outline, selected=selected, centre=centre, zoom=zoom,
                         map_style=runtime.config().map_style,
                         uirevision=f"flags-{state.borough or 'london'}")


def _flag_rows(prov, state):
    t = prov.table[prov.table["flagged"]]
    if state.borough:
        t = t[t["borough_code"] == state.borough]
    return t.sort_values(["need_pct", "provision_pct"], ascending=[False, True])


def _flag_table(prov, state, known):
    xi, yi = prov.x.indicator, prov.y.indicator
    rows = _flag_rows(prov, state)
    total = int(prov.table["flagged"].sum())
    where = known.borough_name(state.borough) if state.borough else "London"
    if state.borough:
        count = (f"{len(rows)} of {known.borough_name(state.borough)}'s areas "
                 f"({total} across London) have high need and low provision.")
    else:
        count = f"{total} London areas have high need and low provision."
    body = [html.Tr([
        html.Th(r.name, scope="row"), html.Td(r.borough_name),
        html.Td(needs.number_text(r.x, xi.unit, xi.decimals), className="num"),
        html.Td(fmt_number(r.need_pct, 0), className="num"),
        html.Td(needs.number_text(r.y, yi.unit, yi.decimals), className="num"),
        html.Td(fmt_number(r.provision_pct, 0), className="num"),
    ]) for r in rows.head(60).itertuples()]
    if not body:
        body = [html.Tr(html.Td(f"No area of {where} passes both thresholds.", colSpan=6))]
    elif len(rows) > 60:
        body.append(html.Tr(html.Td(f"… and {len(rows) - 60} more: download the table for all "
                                    "of them.", colSpan=6)))
    return body, count


def _flag_head(prov):
    xi, yi = prov.x.indicator, prov.y.indicator
    return html.Thead(html.Tr([
        html.Th("Area", scope="col"), html.Th("Borough", scope="col"),
        html.Th(f"Need: {xi.title}", scope="col", className="num"),
        html.Th("Need percentile", scope="col", className="num"),
        html.Th(f"Provision: {yi.title}", scope="col", className="num"),
        html.Th("Provision percentile", scope="col", className="num"),
    ]))


def _provision_caption(prov, view):
    xi, yi = prov.x.indicator, prov.y.indicator
    return (f"Flagged: need ({xi.title}) at or above the {view.need}th percentile of London "
            f"areas and provision ({yi.title}) at or below the {view.prov}th percentile. "
            + needs.PERCENTILE_HINT)


# Series -----------------------------------------------------------------------------------------
def _crime_chart(data, state, view, known):
    inds = data.indicators()
    ind = inds.get(f"crime_{view.crime}_monthly")
    if ind is None:
        return figs.no_series("No monthly crime series in the data")
    areas = needs.series_areas(data, state, known, "ward2022")
    frame = needs.series_frame(data, ind.id, areas, state.date_from, state.date_to)
    label = needs.crime_categories(inds).get(view.crime, view.crime)
    title = (f"{label}: crimes per 1,000 residents each month, "
             f"{fmt_period(state.date_from, state.date_to)}")
    fig = figs.series_chart(frame, ind, title=title)
    if schema.CITY_CODE in (state.borough, _selected_unit(data, state)):
        fig.add_annotation(text="The City of London has its own police force: no Met data",
                           x=0.5, y=0.9, xref="paper", yref="paper", showarrow=False)
    return fig


def _ev_areas(data, state, known):
    """The one area the EV series show: the ward (2022 wards), else the borough, else London."""
    areas = needs.series_areas(data, state, known, "ward2022")
    return areas[:1]


def _ev_charts(data, state, known):
    inds = data.indicators()
    area = _ev_areas(data, state, known)
    out = []
    for ind_id in needs.EV_SERIES:   # devices each year as columns, vehicles each quarter
        bars = ind_id == "ev_public_devices"
        ind = inds[ind_id]
        frame = needs.series_frame(data, ind_id, area)
        title = f"{ind.title}, {area[0][2]}"
        out.append(figs.series_chart(frame, ind, title=title, bars=bars, height=300))
    return out


# Page layout ------------------------------------------------------------------------------------
def layout(**query):
    known, data = runtime.known(), _data()
    state, view, notes = _read(query, known, data)
    inds = data.indicators()
    ranked = data.ranked(state.indicator)
    ind = ranked.indicator
    fig, classes = _map_figure(data, ranked, state, view, known)
    ranking_fig, ranking_caption = _ranking(data, ranked, state, known)
    strip_fig, strip_caption = _strip(data, ranked, state, known)
    body, status, _, pages = _table_page(data, ranked, state, "rank", False, 0)
    prov = _provision(data, view)
    flag_body, flag_count = _flag_table(prov, state, known)
    ev_devices, ev_vehicles = _ev_charts(data, state, known)
    months = filters.month_options(known)
    signatures = _signatures(state, view)
    ward_field = {layer: ui.field(
        f"Ward ({'2022' if layer == 'ward2022' else '2011'} boundaries)",
        ui.dropdown(IDS[layer], filters.ward_options(known, layer, state.borough),
                    state.ward if state.ward_layer == layer else None, placeholder="All wards"),
        IDS[layer]) for layer in ("ward2022", "ward2011")}
    return html.Div(className="needs", children=[
        dcc.Store(id=QUERY, data=_query(state, view, known)),
        *[dcc.Store(id=IDS[k], data=v) for k, v in signatures.items()],
        dcc.Store(id=IDS["map-layer"], data=_drawn(state, ind.layer)),
        dcc.Store(id=IDS["table-state"], data={"sort": "rank", "desc": False, "page": 0}),
        ward_lists.source(IDS["ward-lists"], known, WARD_PICKERS),
        html.Div(ui.messages(notes), id=IDS["messages"], className="messages"),
        html.H1("Residents' needs"),
        html.P("Where are needs greatest, and is provision where the need is?",
               className="lede"),
        html.Section(className="filter-bar", **{"aria-label": "Filters"}, children=[
            html.Div(className="field field--wide", children=[
                html.Label("Indicator (type to search)", htmlFor=IDS["indicator"]),
                dcc.Dropdown(id=IDS["indicator"], options=needs.picker_options(inds),
                             value=ind.id, clearable=False, searchable=True,
                             placeholder="Choose an indicator", maxHeight=360,
                             search_order="original"),
            ]),
            ui.field("Borough", ui.dropdown(IDS["borough"], filters.borough_options(known),
                                            state.borough, placeholder="All of London"),
                     IDS["borough"]),
            html.Div(ward_field["ward2022"], id=IDS["field2022"],
                     hidden=state.ward_layer != "ward2022", className="field-wrap"),
            html.Div(ward_field["ward2011"], id=IDS["field2011"],
                     hidden=state.ward_layer != "ward2011", className="field-wrap"),
            ui.field("Crime from", ui.dropdown(IDS["from"], months, state.date_from,
                                               placeholder="Start", clearable=False),
                     IDS["from"], narrow=True),
            ui.field("Crime to", ui.dropdown(IDS["to"], months, state.date_to,
                                             placeholder="End", clearable=False), IDS["to"],
                     narrow=True),
        ]),
        html.Div(_layer_note(ind), id=IDS["layer-note"]),
        html.Div(className="grid-2", children=[
            html.Div(children=[
                html.H2("Map", className="visually-hidden"),
                _graph("map", fig, "needs-map", height="480px",
                       label="Ward map of the chosen indicator"),
                html.Div(className="map-controls", children=[
                    html.Fieldset([
                        html.Legend("Map classes", className="field__label"),
                        dcc.RadioItems(id=IDS["classes"], value=view.classes,
                                       options=[{"label": v.split(":")[0], "value": k}
                                                for k, v in needs.CLASS_METHODS.items()],
                                       inline=True, className="radios"),
                    ]),
                    html.Div(_legend_note(classes, ind), id=IDS["legend"], className="legend"),
                ]),
                html.P("Click a ward to choose it. The table below has every value.",
                       className="hint"),
            ]),
            html.Div(children=[
                html.H2(_context_heading(state, known), id=IDS["context-heading"]),
                ui.kpi_list(_context_cards(data, ranked, state, known), list_id=IDS["context"]),
                html.P(needs.RANK_HINT, className="hint"),
                html.Section(_info(data, ranked), id=IDS["info"], className="panel info",
                             **{"aria-label": "About this indicator"}),
            ]),
        ]),
        html.H2("Where the areas sit"),
        html.P(strip_caption, id=IDS["strip-caption"], className="caption"),
        _graph("strip", strip_fig, "needs-distribution"),
        html.Div(className="grid-2-even", children=[
            html.Div([
                html.H2("Ranking"),
                html.P(ranking_caption, id=IDS["ranking-caption"], className="caption"),
                _graph("ranking", ranking_fig, "needs-ranking"),
            ]),
            html.Div([
                html.H2("All areas in view", id=f"{P}-table-heading"),
                html.Div(className="table-scroll", children=html.Table(className="data", id=IDS[
                    "table"], children=[
                    html.Caption(_table_caption(ranked, state, known), id=IDS["table-caption"],
                                 className="caption"),
                    html.Thead(html.Tr([_sort_header(k, v, "rank", False)
                                        for k, v in SORTS.items()])),
                    html.Tbody(body, id=IDS["table-body"]),
                ])),
                html.P(status, id=IDS["table-status"], className="hint", role="status"),
                html.Div(className="pager", children=[
                    html.Button("Previous page", id=IDS["prev"], n_clicks=0,
                                className="button button--secondary", disabled=True),
                    html.Button("Next page", id=IDS["next"], n_clicks=0,
                                className="button button--secondary", disabled=pages <= 1),
                ]),
                ui.export_bar(f"{P}-table", "the table"),
            ]),
        ]),
        html.H2("Need against provision"),
        html.P("Is provision where the need is? Each dot is a 2022 ward (the City counts once). "
               "Wards with high need and low provision are flagged on the chart, the map and the "
               "table.", className="hint"),
        html.Div(className="filter-bar provision-controls", children=[
            html.Fieldset(className="field field--full", children=[
                html.Legend("Comparison", className="field__label"),
                dcc.RadioItems(id=IDS["preset"], value=view.preset,
                               options=[{"label": v, "value": k}
                                        for k, v in needs.PRESET_LABELS.items()],
                               className="radios"),
            ]),
            ui.field("Need (across)", dcc.Dropdown(
                id=IDS["x"], options=needs.picker_options(inds, "ward2022"), value=view.x,
                clearable=False, maxHeight=320), IDS["x"]),
            ui.field("Provision (up)", dcc.Dropdown(
                id=IDS["y"], options=needs.picker_options(inds, "ward2022"), value=view.y,
                clearable=False, maxHeight=320), IDS["y"]),
            _range_field("need", "Flag need at or above percentile", view.need, 50, 95),
            _range_field("prov", "and provision at or below percentile", view.prov, 5, 50),
        ]),
        html.P(_provision_caption(prov, view), id=IDS["flag-caption"], className="caption"),
        html.Div(className="grid-2-even", children=[
            _graph("scatter", _scatter(data, prov, state, known, view), "needs-provision"),
            _graph("flagmap", _flag_map(data, prov, state, known), "needs-provision-map",
                   height="480px", label="Map of wards with high need and low provision"),
        ]),
        html.P(flag_count, id=IDS["flag-count"], className="lede lede--small", role="status"),
        html.Div(className="table-scroll", children=html.Table(className="data", children=[
            html.Caption("Areas with high need and low provision", className="visually-hidden"),
            _flag_head(prov),
            html.Tbody(flag_body, id=IDS["flag-body"]),
        ]), id=f"{P}-flag-table"),
        ui.export_bar(f"{P}-flags", "flagged areas"),
        html.H2("Over time"),
        html.H3("Crime each month"),
        html.Div(className="filter-bar", children=[
            ui.field("Crime type", ui.dropdown(
                IDS["crime"], [{"label": v, "value": k}
                               for k, v in needs.crime_categories(inds).items()],
                view.crime, placeholder="All crime", clearable=False), IDS["crime"]),
        ]),
        _graph("crime-chart", _crime_chart(data, state, view, known), "needs-crime-series"),
        html.P("Offences recorded by the Metropolitan Police each month per 1,000 residents "
               "(Census 2021). The 'Crime from' and 'Crime to' months at the top of the page set "
               "the period.", className="caption"),
        html.H3("Charge devices and plug-in vehicles"),
        html.Div(className="grid-2-even", children=[
            _graph("ev-devices", ev_devices, "needs-ev-devices"),
            _graph("ev-vehicles", ev_vehicles, "needs-ev-vehicles"),
        ]),
        html.P("Public charge devices (each year) and licensed plug-in vehicles (each quarter) "
               "from DfT / OZEV statistics by LSOA, built up to 2022 wards by best fit.",
               className="caption"),
        ui.export_bar(f"{P}-series", "the series"),
        ui.source_note("Sources: see each indicator's details above and the Data and sources "
                       "page. Ranks and percentiles are computed here from the published values."),
    ])


# Callbacks: controls -> URL and section stores --------------------------------------------------
def _clicked_code(click) -> str | None:
    point = ((click or {}).get("points") or [{}])[0]
    code = point.get("location") or point.get("customdata")
    return code if isinstance(code, str) else None


def _choose_area(state, known, code: str | None):
    """A ward (or the City as a whole) chosen on a chart or map."""
    if not code:
        return state
    if code in known.boroughs:
        return narrow(state, known, borough=code)
    ward = known.ward(state.ward_layer, code)
    if ward is None:  # a 2022 ward chosen on the provision view while a 2011 indicator is shown
        ward = known.ward("ward2022", code)
        return narrow(state, known, borough=ward.borough) if ward else state
    return narrow(state, known, ward=code)


ward_lists.follow_borough(IDS["ward-lists"], IDS["borough"], WARD_PICKERS)


@callback(
    Output(QUERY, "data"),
    Output(IDS["borough"], "value"),
    Output(IDS["ward2022"], "value"),
    Output(IDS["ward2011"], "value"),
    Output(IDS["field2022"], "hidden"),
    Output(IDS["field2011"], "hidden"),
    Output(IDS["from"], "value"),
    Output(IDS["to"], "value"),
    Output(IDS["x"], "value"),
    Output(IDS["y"], "value"),
    Output(IDS["preset"], "value"),
    Output(IDS["messages"], "children"),
    Output(IDS["s-ind"], "data"),
    Output(IDS["s-place"], "data"),
    Output(IDS["s-area"], "data"),
    Output(IDS["s-prov"], "data"),
    Output(IDS["s-series"], "data"),
    Input(IDS["indicator"], "value"),
    Input(IDS["borough"], "value"),
    Input(IDS["ward2022"], "value"),
    Input(IDS["ward2011"], "value"),
    Input(IDS["from"], "value"),
    Input(IDS["to"], "value"),
    Input(IDS["classes"], "value"),
    Input(IDS["map"], "clickData"),
    Input(IDS["ranking"], "clickData"),
    Input(IDS["scatter"], "clickData"),
    Input(IDS["flagmap"], "clickData"),
    Input(IDS["preset"], "value"),
    Input(IDS["x"], "value"),
    Input(IDS["y"], "value"),
    Input(IDS["need"], "value"),
    Input(IDS["prov"], "value"),
    Input(IDS["crime"], "value"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update_controls(indicator, borough, ward22, ward11, month_from, month_to, classes, map_click,
                    rank_click, scatter_click, flag_click, preset, x, y, need, prov, crime,
                    query):
    """Apply the control that changed to the state, then write the URL and the stores of the
    sections whose inputs changed."""
    known, data = runtime.known(), _data()
    old_state, old_view, _ = _read(query, known, data)
    state, view = old_state, old_view
    trigger = ctx.triggered_id
    notes: list[Message] = []
    if trigger == IDS["indicator"] and indicator:
        state = state.replace(indicator=data.indicator(indicator).id)
        state, notes = needs.align_layer(state, known, data.indicator(state.indicator))
    elif trigger == IDS["borough"]:
        state = narrow(state, known, borough=borough)
    elif trigger in (IDS["ward2022"], IDS["ward2011"]):
        state = narrow(state, known, ward=ward22 if trigger == IDS["ward2022"] else ward11)
    elif trigger in (IDS["from"], IDS["to"]):
        first, last = sorted([chosen_month(month_from) or state.date_from,
                              chosen_month(month_to) or state.date_to])
        state = state.replace(date_from=first, date_to=last)
    elif trigger == IDS["classes"] and classes in needs.CLASS_METHODS:
        view = dataclasses.replace(view, classes=classes)
    elif trigger in (IDS["map"], IDS["ranking"], IDS["scatter"], IDS["flagmap"]):
        click = {IDS["map"]: map_click, IDS["ranking"]: rank_click, IDS["scatter"]: scatter_click,
                 IDS["flagmap"]: flag_click}[trigger]
        state = _choose_area(state, known, _clicked_code(click))
    elif trigger == IDS["preset"] and preset in needs.PRESETS:
        view = dataclasses.replace(view, x=needs.PRESETS[preset][0], y=needs.PRESETS[preset][1])
    elif trigger in (IDS["x"], IDS["y"]) and x and y:
        view = dataclasses.replace(view, x=x, y=y)
    elif trigger in (IDS["need"], IDS["prov"]) and need is not None and prov is not None:
        view = dataclasses.replace(view, need=int(need), prov=int(prov))
    elif trigger == IDS["crime"] and crime:
        view = dataclasses.replace(view, crime=crime)
    old_sig, sig = _signatures(old_state, old_view), _signatures(state, view)
    stores = [sig[k] if sig[k] != old_sig[k] else no_update for k in STORES]
    return (
        _query(state, view, known),
        state.borough,
        state.ward if state.ward_layer == "ward2022" else None,
        state.ward if state.ward_layer == "ward2011" else None,
        state.ward_layer != "ward2022",
        state.ward_layer != "ward2011",
        state.date_from, state.date_to,
        view.x, view.y, view.preset,
        ui.messages(notes),
        *stores,
    )


# Callbacks: sections ----------------------------------------------------------------------------
@callback(
    Output(IDS["map"], "figure"),
    Output(IDS["map-layer"], "data"),
    Input(IDS["s-ind"], "data"),
    Input(IDS["s-place"], "data"),
    State(QUERY, "data"),
    State(IDS["map-layer"], "data"),
    prevent_initial_call=True,
)
def update_map(_ind, _place, query, drawn):
    """Values-only patches: new classes when the indicator or classes change (with the geometry
    URL and ward codes when the boundaries change); the view when the borough changes; the
    selection when the ward changes. ``drawn`` is what the map shows now."""
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    ranked = data.ranked(state.indicator)
    layer = ranked.indicator.layer
    drawn = drawn or {}
    switched = layer != drawn.get("layer")
    patch = Patch()
    if IDS["s-ind"] in {t["prop_id"].split(".")[0] for t in ctx.triggered} or switched:
        figs.patch_values(patch, _class_map(data, ranked, view),
                          geojson_url=runtime.geo().url(layer) if switched else None)
    if state.borough != drawn.get("borough"):
        faded, outline, _ = _place_codes(data, state, layer, known)
        centre, zoom = _zoom(state)
        figs.patch_place(patch, faded=faded, outline=outline, centre=centre, zoom=zoom,
                         uirevision=state.borough or "london")
    if switched or state.ward != drawn.get("ward"):
        figs.patch_selected(patch, data.wards_of_unit(layer, _selected_unit(data, state)))
    return patch, _drawn(state, layer)


def _drawn(state, layer) -> dict:
    return {"layer": layer, "borough": state.borough, "ward": state.ward}


@callback(
    Output(IDS["info"], "children"),
    Output(IDS["layer-note"], "children"),
    Output(IDS["legend"], "children"),
    Output(IDS["context"], "children"),
    Output(IDS["context-heading"], "children"),
    Input(IDS["s-ind"], "data"),
    Input(IDS["s-place"], "data"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update_context(_ind, _place, query):
    """The indicator's details and legend (when it changes) and the place's figures."""
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    ranked = data.ranked(state.indicator)
    about = [no_update] * 3
    if IDS["s-ind"] in {t["prop_id"].split(".")[0] for t in ctx.triggered}:
        about = [_info(data, ranked), _layer_note(ranked.indicator),
                 _legend_note(_class_map(data, ranked, view), ranked.indicator)]
    return (*about, _context_cards(data, ranked, state, known), _context_heading(state, known))


@callback(
    Output(IDS["ranking"], "figure"),
    Output(IDS["ranking-caption"], "children"),
    Output(IDS["strip"], "figure"),
    Output(IDS["strip-caption"], "children"),
    Input(IDS["s-ind"], "data"),
    Input(IDS["s-place"], "data"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update_ranking(_ind, _place, query):
    known, data = runtime.known(), _data()
    state, _, _ = _read(query, known, data)
    ranked = data.ranked(state.indicator)
    ranking_fig, ranking_caption = _ranking(data, ranked, state, known)
    strip_fig, strip_caption = _strip(data, ranked, state, known)
    return ranking_fig, ranking_caption, strip_fig, strip_caption


@callback(
    Output(IDS["table-body"], "children"),
    Output(IDS["table-status"], "children"),
    Output(IDS["table-caption"], "children"),
    Output(IDS["table-state"], "data"),
    Output(IDS["prev"], "disabled"),
    Output(IDS["next"], "disabled"),
    *[Output(f"{P}-th-{k}", "aria-sort") for k in SORTS],
    *[Output(f"{P}-sort-{k}", "children") for k in SORTS],
    Input(IDS["s-ind"], "data"),
    Input(IDS["s-place"], "data"),
    *[Input(f"{P}-sort-{k}", "n_clicks") for k in SORTS],
    Input(IDS["prev"], "n_clicks"),
    Input(IDS["next"], "n_clicks"),
    State(QUERY, "data"),
    State(IDS["table-state"], "data"),
    prevent_initial_call=True,
)
def update_table(_ind, _place, *args):
    """Sort (a header button; again to reverse) and page through the areas in view."""
    query, table_state = args[-2], args[-1] or {}
    known, data = runtime.known(), _data()
    state, _, _ = _read(query, known, data)
    ranked = data.ranked(state.indicator)
    sort, desc, page = (table_state.get("sort", "rank"), bool(table_state.get("desc")),
                        int(table_state.get("page", 0)))
    trigger = ctx.triggered_id
    if isinstance(trigger, str) and trigger.startswith(f"{P}-sort-"):
        key = trigger.removeprefix(f"{P}-sort-")
        desc = (not desc) if key == sort else key in ("value", "percentile")   # highest first
        sort, page = key, 0
    elif trigger == IDS["prev"]:
        page -= 1
    elif trigger == IDS["next"]:
        page += 1
    else:
        page = 0
    body, status, page, pages = _table_page(data, ranked, state, sort, desc, page)
    headers = [_sort_header(k, v, sort, desc) for k, v in SORTS.items()]
    return (body, status, _table_caption(ranked, state, known),
            {"sort": sort, "desc": desc, "page": page}, page <= 0, page >= pages - 1,
            *[_aria_sort(k, sort, desc) for k in SORTS],
            *[h.children.children for h in headers])


@callback(
    Output(IDS["scatter"], "figure"),
    Output(IDS["flagmap"], "figure"),
    Output(IDS["flag-count"], "children"),
    Output(IDS["flag-caption"], "children"),
    Output(f"{P}-flag-table", "children"),
    Input(IDS["s-prov"], "data"),
    Input(IDS["s-area"], "data"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update_provision(_prov, _place, query):
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    prov = _provision(data, view)
    triggered = {t["prop_id"].split(".")[0] for t in ctx.triggered}
    patch = Patch()
    if IDS["s-prov"] in triggered:
        codes, z = _flag_z(data, prov)
        figs.patch_flags(patch, codes, z)
    if IDS["s-area"] in triggered:
        faded, outline, selected = _place_codes(data, state, "ward2022", known)
        centre, zoom = _zoom(state, FLAG_MAP_SIZE)
        figs.patch_place(patch, faded=faded, outline=outline, centre=centre, zoom=zoom,
                         uirevision=f"flags-{state.borough or 'london'}")
        figs.patch_selected(patch, selected if state.ward_layer == "ward2022" else [])
    if IDS["s-prov"] in triggered:
        scatter = _scatter(data, prov, state, known, view)
    else:
        scatter = figs.patch_scatter_place(
            Patch(), prov, borough=state.borough,
            borough_name=known.borough_name(state.borough) if state.borough else None,
            selected=_selected_unit(data, state) if state.ward_layer == "ward2022" else None)
    body, count = _flag_table(prov, state, known)
    table = [html.Caption("Areas with high need and low provision", className="visually-hidden"),
             _flag_head(prov), html.Tbody(body, id=IDS["flag-body"])]
    return scatter, patch, count, _provision_caption(prov, view), table


@callback(
    Output(IDS["crime-chart"], "figure"),
    Input(IDS["s-series"], "data"),
    Input(IDS["s-area"], "data"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update_crime(_series, _place, query):
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    return _crime_chart(data, state, view, known)


@callback(
    Output(IDS["ev-devices"], "figure"),
    Output(IDS["ev-vehicles"], "figure"),
    Input(IDS["s-area"], "data"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update_ev(_place, query):
    known, data = runtime.known(), _data()
    state, _, _ = _read(query, known, data)
    return tuple(_ev_charts(data, state, known))


# Exports ----------------------------------------------------------------------------------------
def _meta(title: str, state, view, known, ranked=None, notes=(), sources=(),
          period_text: str | None = None) -> export.ExportMeta:
    """The export header: title, place, period, the link that reopens the view, sources."""
    base = runtime.config().base_url or (flask.request.host_url if flask.has_request_context()
                                         else "")
    query = _query(state, view, known)
    link = f"{base.rstrip('/')}/needs" + (f"?{query}" if query else "")
    if period_text is None:
        period_text = (needs.period_text(ranked.period) if ranked else
                       fmt_period(state.date_from, state.date_to))
    return export.ExportMeta(
        title=title, filters_text=f"Area: {filters.place_name(state, known)}",
        period_text=period_text, link=link, generated_at=dt.datetime.now().replace(microsecond=0),
        sources=tuple(sources), notes=tuple(notes),
    )


def _ind_source(data, ind) -> str:
    dataset = data.dataset(ind.source)
    licence = ind.licence or dataset.get("licence", "")
    return f"{ind.title}: {dataset.get('title') or ind.source} ({licence})"


def _download(frame, meta, fmt: str):
    name = export.filename(meta.title, fmt, meta.generated_at)
    content = export.to_csv_bytes(frame, meta) if fmt == "csv" else export.to_xlsx_bytes(frame,
                                                                                         meta)
    return dcc.send_bytes(content, name)


def _format(trigger: str) -> str:
    return "xlsx" if trigger.endswith("-xlsx") else "csv"


@callback(
    Output(f"{P}-table-download", "data"),
    Input(f"{P}-table-csv", "n_clicks"),
    Input(f"{P}-table-xlsx", "n_clicks"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def download_table(_csv, _xlsx, query):
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    ranked = data.ranked(state.indicator)
    ind = ranked.indicator
    meta = _meta(f"Residents' needs - {ind.title} - {filters.place_name(state, known)}", state,
                 view, known, ranked, sources=[_ind_source(data, ind)],
                 notes=[f"Definition: {ind.definition}", f"Unit: {ind.unit}",
                        f"Method: {needs.METHOD_TEXT.get(ind.method, ind.method)}",
                        needs.RANK_HINT])
    return _download(needs.export_frame(ranked, state.borough), meta, _format(ctx.triggered_id))


@callback(
    Output(f"{P}-flags-download", "data"),
    Input(f"{P}-flags-csv", "n_clicks"),
    Input(f"{P}-flags-xlsx", "n_clicks"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def download_flags(_csv, _xlsx, query):
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    prov = _provision(data, view)
    xi, yi = prov.x.indicator, prov.y.indicator
    rows = _flag_rows(prov, state)
    frame = pd.DataFrame({
        "Area code": rows["code"], "Area": rows["name"], "Borough": rows["borough_name"],
        f"Need: {xi.title} ({xi.unit}), {needs.period_text(prov.x.period)}": rows["x"],
        "Need percentile": rows["need_pct"].round(1),
        f"Provision: {yi.title} ({yi.unit}), {needs.period_text(prov.y.period)}": rows["y"],
        "Provision percentile": rows["provision_pct"].round(1),
    })
    meta = _meta(f"Residents' needs - high need, low provision - "
                 f"{filters.place_name(state, known)}", state, view, known,
                 sources=[_ind_source(data, xi), _ind_source(data, yi)],
                 notes=[_provision_caption(prov, view)],
                 period_text=join_and([needs.period_text(prov.x.period),
                                       needs.period_text(prov.y.period)]))
    return _download(frame, meta, _format(ctx.triggered_id))


@callback(
    Output(f"{P}-series-download", "data"),
    Input(f"{P}-series-csv", "n_clicks"),
    Input(f"{P}-series-xlsx", "n_clicks"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def download_series(_csv, _xlsx, query):
    known, data = runtime.known(), _data()
    state, view, _ = _read(query, known, data)
    inds = data.indicators()
    frames = []
    crime = inds.get(f"crime_{view.crime}_monthly")
    if crime:
        areas = needs.series_areas(data, state, known, "ward2022")
        frames.append(needs.series_frame(data, crime.id, areas, state.date_from, state.date_to)
                      .assign(indicator=crime.title, unit=crime.unit))
    for ind_id in needs.EV_SERIES:
        ind = inds[ind_id]
        frames.append(needs.series_frame(data, ind_id, _ev_areas(data, state, known))
                      .assign(indicator=ind.title, unit=ind.unit))
    frame = pd.concat(frames, ignore_index=True)
    frame["period"] = frame["period"].map(needs.period_text)
    frame = frame.rename(columns={"indicator": "Indicator", "area": "Area", "code": "Area code",
                                  "period": "Period", "value": "Value", "unit": "Unit"})
    frame = frame[["Indicator", "Area", "Area code", "Period", "Value", "Unit"]]
    sources = [_ind_source(data, i) for i in ([crime] if crime else [])
               + [inds[i] for i in needs.EV_SERIES]]
    meta = _meta(f"Residents' needs - series - {filters.place_name(state, known)}", state, view,
                 known, sources=sources,
                 notes=[f"Crime: {crime.definition}" if crime else "",
                        "Crime months follow the page's 'Crime from' and 'Crime to' months; EV "
                        "series are shown in full."])
    return _download(frame, meta, _format(ctx.triggered_id))


clientside_callback(
    """
    function(n, id) {
        if (!n) { return window.dash_clientside.no_update; }
        const holder = document.getElementById("needs-" + id.chart);
        const gd = holder && (holder.classList.contains("js-plotly-plot") ? holder
                              : holder.querySelector(".js-plotly-plot"));
        if (!gd || !window.Plotly) { return String(n); }
        const text = el => (el ? el.textContent.replace(/\\s+/g, " ").trim() : "");
        // What the image shows, stated on the image: the section heading, the chart's caption,
        // the indicator with its period and source, and the link that reopens this view.
        let heading = "", caption = "", note = "";
        const block = holder.closest(".chart-block");
        for (let node = block; node && !heading; node = node.parentElement) {
            for (let prev = node.previousElementSibling; prev; prev = prev.previousElementSibling) {
                if (!caption && prev.matches(".caption")) {
                    caption = text(prev).replace(/\\s*Click [^.]*\\./g, "");  // not on paper
                }
                if (prev.matches("h2, h3")) { heading = text(prev); break; }
            }
        }
        for (let node = block; node && !note && !node.classList.contains("needs");
             node = node.parentElement) {
            for (let next = node.nextElementSibling; next; next = next.nextElementSibling) {
                if (next.matches(".caption")) { note = text(next); break; }
                if (next.matches("h2, h3")) { break; }
            }
        }
        const place = text(document.getElementById("needs-context-heading"))
            .replace(/^How (.*) compares$/, "$1");
        const lines = [heading + (place ? ": " + place : ""), caption];
        if (["map", "strip", "ranking"].indexOf(id.chart) >= 0) {
            const info = {};
            document.querySelectorAll("#needs-info dt").forEach(function(dt) {
                info[text(dt)] = text(dt.nextElementSibling);
            });
            const indicator = text(document.querySelector("#needs-info .info__title"));
            if (indicator && !caption.startsWith(indicator)) {
                lines.push(indicator + (info.Period ? " (" + info.Period + ")" : ""));
            }
            if (info.Source) {
                lines.push("Source: " + info.Source + (info.Licence ? ", " + info.Licence : "")
                           + ". Definitions: /sources");
            }
        } else {
            lines.push(note || "Sources and definitions: /sources");
        }
        lines.push("Borough Dashboards: " + window.location.href);
        window.boroughDashboards.downloadChart(gd, {
            format: id.format, lines: lines,
            filename: "borough-dashboards-needs-" + id.chart});
        return String(n);
    }
    """,
    Output({"type": f"{P}-img-done", "chart": MATCH, "format": MATCH}, "children"),
    Input({"type": f"{P}-img", "chart": MATCH, "format": MATCH}, "n_clicks"),
    State({"type": f"{P}-img", "chart": MATCH, "format": MATCH}, "id"),
    prevent_initial_call=True,
)

# Show each threshold in its label, and name the slider handle by that label (the slider
# component gives its handle no accessible name of its own).
for _key in ("need", "prov"):
    clientside_callback(
        """
        function(value, id) {
            function name(tries) {
                const handles = document.querySelectorAll("#" + id + ' [role="slider"]');
                handles.forEach(function(h) { h.setAttribute("aria-labelledby", id + "-label"); });
                if (!handles.length && tries > 0) {
                    setTimeout(function() { name(tries - 1); }, 200);
                }
            }
            name(25);
            return (value === null || value === undefined) ? "" : value + "th";
        }
        """,
        Output(f"{IDS[_key]}-value", "children"),
        Input(IDS[_key], "value"),
        State(IDS[_key], "id"),
    )
