"""EV charging (/ev): where charge devices are, how much they are used, and where supply is thin.

The numbers come from ``dashboard.views.ev.model`` and the charts from ``dashboard.figures.ev``. A filter
change is two requests (see "Callbacks"): first the map gets a ``Patch`` of ward values (never
geometry) and the selected devices (rows or a bit set) that ``assets/ev.js`` turns into points,
from every device's position fetched once from a fingerprinted, cacheable URL
(``dashboard.views.ev.model.POINTS_ROUTE``); then the headline cards get a ``Patch`` of their texts, and each chart a
``Patch`` of its data when the browser already shows a chart of the same structure
(``figs.refresh``). The device table travels as compact rows that ``assets/ev.js`` draws.
"""
from __future__ import annotations

from datetime import datetime

import dash
import flask
import pandas as pd
from dash import (ALL, ClientsideFunction, Input, Output, Patch, State, callback,
                  clientside_callback, ctx, dcc, html, no_update)
from dash.exceptions import PreventUpdate

from dashboard.ui import components as ui
from dashboard.domain import coverage
from dashboard.views.ev import model as ev
from dashboard.domain import filters
from dashboard.core import runtime
from dashboard.data import schema
from dashboard.core import ward_lists
from dashboard.domain import export as exports
from dashboard.figures import ev as figs
from dashboard.figures import graph_config
from dashboard.domain.state import (FilterState, Message, chosen_month, narrow, parse,
    read_choice, to_query)
from dashboard.domain.text import fmt_number, fmt_pct, fmt_period

dash.register_page(__name__, path="/ev", title="EV charging - Borough Dashboards", order=1)

P = "ev"
IDS = {k: f"{P}-{k}" for k in (
    "borough", "ward", "from", "to", "speed", "operator", "measure", "freq", "breakdown", "map",
    "heading", "summary", "messages", "supply", "usage", "utilisation", "trend", "dft-devices",
    "ward-lists",
    "dft-vehicles", "heatmap", "by-speed", "by-operator", "table", "table-status",
    "table-summary", "table-state", "table-data", "prev", "next", "show", "device",
    "device-close", "device-section", "measure-hint", "download", "image-sink", "shapes",
    "picked", "sort-pick", "points", "selection", "state", "coverage", "status", "street",
    "type", "year")}
# The device filter controls: FilterState field -> control id (see schema.DEVICE_FILTERS).
CHOICE_IDS = {"statuses": "status", "streets": "street", "location_types": "type",
              "years": "year"}
QUERY = {"type": "query", "page": P}
WARD_PICKERS = {"ward2022": IDS["ward"]}  # ward layer -> its picker (see ward_lists)
SORT = "ev-sort"            # pattern-matching ids of the table's sort buttons ...
DEVICE_BUTTON = "ev-device"  # ... its device buttons (drawn by assets/ev.js)
IMAGE = "ev-image"          # ... and the PNG / SVG buttons under every chart
CHARTS = ("trend", "dft-devices", "dft-vehicles", "heatmap", "by-speed", "by-operator")
KPI_LISTS = ("supply", "usage", "utilisation")
DFT_PLACE = "dft-place"  # in the shapes store: the area the DfT charts were drawn for
EXPORTS = {  # button id -> (what, format, label)
    f"{P}-devices-csv": ("devices", "csv", "Device table (CSV)"),
    f"{P}-devices-xlsx": ("devices", "xlsx", "Device table (Excel)"),
    f"{P}-trend-csv": ("trend", "csv", "Usage trend (CSV)"),
    f"{P}-trend-xlsx": ("trend", "xlsx", "Usage trend (Excel)"),
    f"{P}-dft-csv": ("dft", "csv", "DfT series (CSV)"),
    f"{P}-dft-xlsx": ("dft", "xlsx", "DfT series (Excel)"),
}
UNKNOWN_DEVICE = Message("warning", "We couldn't find the charge device in the link, so no "
                                   "device is selected.")
DEVICE_OUTSIDE = Message("info", "The charge device in the link doesn't match these filters, so "
                                 "no device is selected.")
DFT_CHARTS = (
    ("dft-devices", "ev_public_devices", "Public charge devices",
     "Each year, 2012 to 2024 (no 2014 or 2016); DfT / OZEV; residents Census 2021"),
    ("dft-vehicles", "ev_plugin_vehicles", "Licensed plug-in vehicles",
     "Each quarter, 2011 Q4 to 2024 Q2; DfT; residents Census 2021"),
)


# Context and state -------------------------------------------------------------------------------
def _context():
    return runtime.store(), runtime.known(), runtime.tables()


def _state_from(query: str | None, known) -> tuple[FilterState, FilterState]:
    defaults = filters.default_state(known)
    state, _ = parse(query or "", known, defaults)
    return state, defaults


def _selected_device(store, state: FilterState, device_id: str | None):
    """The device in the URL if it is among the selected devices (None otherwise)."""
    devices = ev.all_devices(store)
    device = ev.device_by_id(devices, device_id)
    if device is None:
        return None
    return device if ev.selected(devices, state)[int(device["i"])] else None


def _point(device) -> dict | None:
    return None if device is None else {"lon": float(device["lon"]), "lat": float(device["lat"])}


# Components --------------------------------------------------------------------------------------
def _card(k: ev.Kpi) -> html.Li:
    """A headline card: label, value, note (changes with the selection), source, and the
    simulated label on usage figures. Value and note keep their places for ``_kpi_patch``."""
    children = [html.P(k.label, className="kpi__label"), html.P(k.value, className="kpi__value"),
                html.P(k.note, className="kpi__note")]
    if k.source:
        children.append(html.P(k.source, className="kpi__note kpi__source"))
    if k.simulated:
        children.append(ui.simulated_label())
    return html.Li(children, className="kpi kpi--sim" if k.simulated else "kpi")


def _kpis(items: list[ev.Kpi], list_id: str, extra_class: str = "") -> html.Ul:
    return html.Ul([_card(k) for k in items], id=list_id, className=f"kpis {extra_class}".strip())


def _kpi_patch(items: list[ev.Kpi]) -> Patch:
    """New values and notes for a list made by ``_kpis`` (same cards, same order)."""
    patch = Patch()
    for i, item in enumerate(items):
        patch[i]["props"]["children"][1]["props"]["children"] = item.value
        patch[i]["props"]["children"][2]["props"]["children"] = item.note
    return patch


def _kpi_items(view, store, known, tables) -> dict[str, list[ev.Kpi]]:
    return {"supply": ev.supply_kpis(view, store, known, tables.layers),
            "usage": ev.usage_kpis(view), "utilisation": ev.utilisation_kpis(view)}


def _image_buttons(graph_id: str, what: str) -> html.Div:
    """PNG and SVG downloads of a chart (the modebar offers PNG only, and only on hover)."""
    return html.Div(className="image-buttons", children=[
        html.Button([f"Download {fmt} ", html.Span(f"of the {what} chart",
                                                   className="visually-hidden")],
                    id={"type": IMAGE, "graph": graph_id, "format": fmt.lower()},
                    className="button button--secondary button--small", n_clicks=0)
        for fmt in ("PNG", "SVG")
    ])


def _chart(key: str, figure, heading: str, *, simulated: bool, caption: str, what: str
           ) -> html.Section:
    """A chart with its heading, the simulated label for usage, a caption and downloads."""
    graph_id = IDS[key]
    head = [html.H3(heading)]
    if simulated:
        head.append(ui.simulated_label())
    return html.Section(className="chart-block", **{"aria-label": heading}, children=[
        *head,
        html.P(caption, className="caption"),
        dcc.Graph(id=graph_id, figure=figure, className="chart",
                  config=graph_config(f"borough-dashboards-{graph_id}")),
        _image_buttons(graph_id, what),
    ])


def _filter_bar(state: FilterState, known) -> html.Section:
    ward_state = state if state.ward_layer == "ward2022" else state.replace(ward=None)
    speed = html.Fieldset(className="field field--speeds", children=[
        html.Legend("Charger speed", className="field__label"),
        html.Span("None ticked: all speeds", className="hint"),
        dcc.Checklist(id=IDS["speed"], value=list(state.speeds), className="checks",
                      options=[{"label": schema.SPEED_LABELS[s], "value": s}
                               for s in schema.SPEED_CLASSES], inline=True),
    ])
    operator = ui.field("Operator", ui.dropdown(
        IDS["operator"], [{"label": o, "value": o} for o in known.operators],
        list(state.operators), placeholder="All operators", multi=True), IDS["operator"])
    checks = [
        html.Fieldset(className="field", children=[
            html.Legend(filters.CHOICE_HEADINGS[field], className="field__label"),
            html.Span("None ticked: all", className="hint"),
            dcc.Checklist(id=IDS[CHOICE_IDS[field]], value=list(getattr(state, field)),
                          className="checks", options=filters.choice_options(known, field),
                          inline=True),
        ])
        for field in ("statuses", "streets")
    ]
    pickers = [
        ui.field(filters.CHOICE_HEADINGS[field], ui.dropdown(
            IDS[CHOICE_IDS[field]], filters.choice_options(known, field),
            list(getattr(state, field)), placeholder=placeholder, multi=True),
            IDS[CHOICE_IDS[field]])
        for field, placeholder in (("location_types", "All location types"),
                                   ("years", "Any year"))
    ]
    return ui.filter_bar(P, boroughs=filters.borough_options(known),
                         wards=filters.ward_options(known, "ward2022", state.borough),
                         months=filters.month_options(known), state=ward_state,
                         extra=[operator, speed, *checks, *pickers])


def _legend() -> html.Div:
    items = []
    for style in figs.SPEED_STYLES.values():
        dot = html.Span(className="swatch" + (" swatch--ring" if style.ring else ""),
                        style={"width": f"{style.size}px", "height": f"{style.size}px",
                               "background": style.colour})
        items.append(html.Li([html.Span(dot, className="swatch-box", **{"aria-hidden": "true"}),
                              style.label]))
    return html.Div(className="map-legend", children=[
        html.P("Charge devices", className="field__label"),
        html.Ul(items),
        html.P("Bigger dots are faster chargers; 50 kW and over have a black ring.",
               className="hint"),
    ])


def _heading_text(state: FilterState, known) -> str:
    return f"EV charging in {filters.place_name(state, known)}"


def _summary(view: ev.View, known) -> html.P:
    return html.P(ev.summary_text(view, known),
                  className="message message--empty" if view.empty else "summary")


def _device_panel(detail: ev.DeviceDetail | None, state: FilterState) -> list:
    if detail is None:
        return [html.P("Click a device on the map, or a device name in the table, to see its "
                       "details and its monthly use here.", className="hint"),
                html.Button("Close device details", id=IDS["device-close"], n_clicks=0,
                            hidden=True)]
    d, m = detail.device, detail.measures
    name = str(d["name"] or d["device_id"])
    when = ev.fmt_period(state.date_from, state.date_to)
    cards = [
        ev.Kpi("Sessions", fmt_number(m["sessions"]), when, simulated=True),
        ev.Kpi("Energy delivered", ev.fmt_rate_kwh(m["kwh"]), when, simulated=True),
        ev.Kpi("Time-based utilisation", fmt_pct(m["time_utilisation"], 1, fraction=True), when,
               "Plugged-in share of the hours available.", True),
        ev.Kpi("Energy-based utilisation", fmt_pct(m["energy_utilisation"], 1, fraction=True),
               when, "Energy against rated power; needs a published rating.", True),
    ]
    graph_id = f"{P}-device-history"
    return [
        html.Div(className="device-head", children=[
            html.H3(name, id=f"{P}-device-name"),
            html.Button("Close device details", id=IDS["device-close"], n_clicks=0,
                        className="button button--secondary button--small"),
        ]),
        html.Div(className="grid-2-even", children=[
            html.Div([
                html.Dl([part for label, value in detail.facts
                         for part in (html.Dt(label), html.Dd(value))], className="dataset"),
                _kpis(cards, f"{P}-device-kpis", "kpis--compact"),
            ]),
            html.Div([
                ui.simulated_label(),
                dcc.Graph(id=graph_id, className="chart",
                          figure=figs.device_history(detail.history, name,
                                                     (state.date_from, state.date_to)),
                          config=graph_config(f"borough-dashboards-device-{d['device_id']}")),
                _image_buttons(graph_id, "device history"),
            ]),
        ]),
    ]


def _device_children(store, known, tables, state, device) -> list:
    detail = None if device is None else ev.device_detail(store, device, state, known)
    return _device_panel(detail, state)


# Figures for a view ------------------------------------------------------------------------------
def _map_figure(store, state, tables, measure, device):
    mv = ev.map_view(store, state, tables.layers, tables.extents, measure)
    geo = runtime.geo()
    return figs.device_map(
        geo.url("ward2022"), mv.values, map_style=runtime.config().map_style,
        outline_url=geo.url("borough"), outline_codes=mv.outline, selected=mv.selected,
        centre=mv.centre, zoom=mv.zoom, uirevision=mv.uirevision, device=_point(device))


def _map_patch(store, state, tables, measure, device, before: FilterState) -> Patch:
    """The map after a filter change from ``before``: ward values always; the wards' codes
    only when the borough changed; the outline, selection and view when the place did."""
    mv = ev.map_view(store, state, tables.layers, tables.extents, measure)
    borough_changed = state.borough != before.borough
    place_changed = borough_changed or (state.ward, state.ward_layer) != (before.ward,
                                                                          before.ward_layer)
    view = dict(selected=mv.selected, outline_codes=mv.outline, centre=mv.centre, zoom=mv.zoom,
                uirevision=mv.uirevision) if place_changed else {}
    return figs.patch_device_map(mv.values, codes=borough_changed,
                                 device=_point(device), **view)


def _selection(store, state) -> dict:
    """Which devices the map shows (see ``figs.selection``)."""
    devices = ev.all_devices(store)
    rows = ev.selected_rows(devices, state)
    return figs.selection(rows, len(devices), devices.arrays["name"][rows])


def _filters_key(state: FilterState, defaults: FilterState) -> str:
    """What the panels below the map depend on: the state's query without the map measure."""
    return to_query(state.replace(measure=defaults.measure), defaults)


def _dft_place(state, known, tables) -> str:
    """The area the DfT charts show: all they depend on (not the period, speeds or operators)."""
    layer, code, _ = ev.area_key(state, known, tables.layers)
    return f"{layer}:{code}"


def _dft_figures(store, state, known, tables) -> dict:
    out = {}
    for key, indicator, what, label in DFT_CHARTS:
        area, london, name = ev.dft_series(store, state, known, tables.layers, indicator)
        out[key] = figs.dft_trend(area, london, what=what, area_name=name, period_label=label)
    return out


def _breakdown_figures(view, metric) -> dict:
    label, axis, percent, decimals, simulated = ev.BREAKDOWN_METRICS[metric]
    out = {}
    for key, dim, what in (("by-speed", "speed_class", "by speed"),
                           ("by-operator", "operator", "by operator")):
        frame, more = ev.breakdown_frame(view, dim, metric)
        out[key] = figs.breakdown(frame, what=f"{label} {what}", value_label=axis,
                                  place=view.place, when=view.period, percent=percent,
                                  decimals=decimals, simulated=simulated, more=more)
    return out


def _heat_figure(view, cells):
    if view.empty or cells is None:
        return figs.empty("No charge devices match these filters.")
    return figs.heatmap(cells, view.place, view.period)


def _all_figures(store, loaded: ev.Loaded, known, tables, freq, breakdown) -> dict:
    view = loaded.view
    return {"trend": figs.usage_trend(loaded.series, freq, view.place, view.period),
            "heatmap": _heat_figure(view, loaded.heat),
            **_breakdown_figures(view, breakdown)}


def _refresh(figures: dict, shapes: dict | None) -> tuple[dict, dict]:
    """Patches (or whole figures) for the charts, and the signatures the browser will hold."""
    shapes = dict(shapes or {})
    out = {}
    for key, fig in figures.items():
        out[key], shapes[key] = figs.refresh(fig, shapes.get(key))
    return out, shapes


# The device table --------------------------------------------------------------------------------
def _table_state(data: dict | None) -> dict:
    data = dict(data or {})
    sort, desc = ev.DEFAULT_SORT
    return {"sort": data.get("sort") if data.get("sort") in ev.TABLE_COLUMNS else sort,
            "desc": bool(data.get("desc", desc)), "page": max(0, int(data.get("page") or 0)),
            "show": data.get("show") if data.get("show") in ev.SHOW else "all",
            "filters": data.get("filters")}


def _table_data(view: ev.View, table: dict) -> tuple[dict, dict]:
    """(rows for the browser, table state with the page clamped)."""
    data = ev.table_data(view, table["sort"], table["desc"], table["page"], table["show"])
    return data, dict(table, page=data["page"])


# Layout ------------------------------------------------------------------------------------------
def layout(**query):
    store, known, tables = _context()
    defaults = filters.default_state(known)
    state, notes = parse(query, known, defaults)
    device_id, freq = ev.query_extras(query)
    notes = [*notes, *read_choice(query, "freq", "chart interval", ev.FREQS, ev.DEFAULT_FREQ)[1]]
    device = _selected_device(store, state, device_id)
    if device_id and device is None:
        known_device = ev.device_by_id(ev.all_devices(store), device_id) is not None
        notes = [*notes, DEVICE_OUTSIDE if known_device else UNKNOWN_DEVICE]
    measure = ev.measure_of(state)
    panels = _kept_panels(store, known, tables, state, defaults, freq, ev.DEFAULT_BREAKDOWN,
                          dict(_table_state(None), filters=to_query(state, defaults)))
    figures = {**panels["figures"], **_dft_figures(store, state, known, tables)}
    kpis, table_data, table = panels["kpis"], panels["table-data"], panels["table-state"]
    query_text = ev.page_query(to_query(state, defaults),
                               None if device is None else device["device_id"], freq)
    return html.Div(className="ev-page", children=[
        dcc.Store(id=QUERY, data=query_text),
        dcc.Store(id=IDS["table-state"], data=table),
        dcc.Store(id=IDS["table-data"], data=table_data),
        dcc.Store(id=IDS["shapes"], data={**{k: figs.signature(f) for k, f in figures.items()},
                                          DFT_PLACE: _dft_place(state, known, tables)}),
        dcc.Store(id=IDS["points"], data={"url": ev.points_url(store)}),
        ward_lists.source(IDS["ward-lists"], known, WARD_PICKERS),
        dcc.Store(id=IDS["selection"], data=_selection(store, state)),
        dcc.Store(id=IDS["state"], data=_filters_key(state, defaults)),
        # Filled by assets/ev.js with an object ({index} / {col}); {} until then.
        dcc.Store(id=IDS["picked"], data={}),
        dcc.Store(id=IDS["sort-pick"], data={}),
        html.Div(id=IDS["image-sink"], hidden=True),
        html.Div(ui.messages(notes), id=IDS["messages"], className="messages"),
        html.H1(_heading_text(state, known), id=IDS["heading"]),
        html.P("Where public charge devices are, how much they are used and where supply is "
               "thin, by borough and ward. Choose an area and filters, or click the map.",
               className="lede"),
        _filter_bar(state, known),
        html.Div(panels["summary"], id=IDS["summary"], role="status",
                 **{"aria-live": "polite"}),

        html.H2("Map"),
        html.Div(className="grid-2 ev-map-grid", children=[
            dcc.Graph(id=IDS["map"], figure=_map_figure(store, state, tables, measure, device),
                      className="map-graph", style={"height": "620px"},
                      config=graph_config("borough-dashboards-ev-map")),
            html.Div(className="panel", children=[
                html.Fieldset([
                    html.Legend("Colour the wards by", className="field__label"),
                    dcc.RadioItems(id=IDS["measure"], value=measure,
                                   options=[{"label": v, "value": k}
                                            for k, v in filters.EV_MEASURES.items()],
                                   labelStyle={"display": "flex", "margin": "4px 0"}),
                ]),
                html.P(ev.measure_hint(measure), id=IDS["measure-hint"], className="hint"),
                _legend(),
                html.P("Click a ward to select it; click a device for its details. Device "
                       "positions are from the device table (DfT registry to February 2022, "
                       "Open Charge Map central London 2025, Lewisham 2022).", className="hint"),
            ]),
        ]),
        html.Section(id=IDS["device-section"], className="device-section", tabIndex="-1",
                     **{"aria-labelledby": f"{P}-device-title"}, children=[
            html.H2("Selected device", id=f"{P}-device-title"),
            html.Div(_device_children(store, known, tables, state, device), id=IDS["device"],
                     className="panel device-panel"),
        ]),

        html.H2("Headline figures"),
        html.H3("Charge devices and plug-in vehicles"),
        _kpis(kpis["supply"], IDS["supply"], "kpis--three"),
        html.P(panels["coverage"], id=IDS["coverage"], className="hint"),
        html.H3("Use of the devices"),
        _kpis(kpis["usage"], IDS["usage"]),
        html.H3("Utilisation: two ways to measure it"),
        _kpis(kpis["utilisation"], IDS["utilisation"], "kpis--pair"),

        html.H2("Trends over time"),
        html.Fieldset(className="inline-choice", children=[
            html.Legend("Show usage per", className="field__label"),
            dcc.RadioItems(id=IDS["freq"], value=freq, inline=True,
                           options=[{"label": v, "value": k} for k, v in ev.FREQS.items()]),
        ]),
        _chart("trend", figures["trend"], "Sessions, energy and utilisation", simulated=True,
               what="usage trend",
               caption="Time-based utilisation: plugged-in hours / available device-hours. "
                       "Energy-based: kWh / (rated kW x hours), rated devices only."),
        html.Div(className="grid-2-even", children=[
            _chart("dft-devices", figures["dft-devices"], "Public charge devices, against London",
                   simulated=False, what="public devices",
                   caption="Real DfT figures per 100,000 residents (Census 2021 residents for "
                           "every year), so that areas of different size compare."),
            _chart("dft-vehicles", figures["dft-vehicles"], "Plug-in vehicles, against London",
                   simulated=False, what="plug-in vehicles",
                   caption="Real DfT licensing statistics per 100,000 residents (Census 2021)."),
        ]),
        _chart("heatmap", figures["heatmap"], "When devices are used", simulated=True,
               what="hour-of-day heat-map",
               caption="Sessions started in each hour of each weekday, over the selected period."),

        html.H2("Breakdowns"),
        html.Fieldset(className="inline-choice", children=[
            html.Legend("Bars show", className="field__label"),
            dcc.RadioItems(id=IDS["breakdown"], value=ev.DEFAULT_BREAKDOWN, inline=True,
                           options=[{"label": v[0], "value": k}
                                    for k, v in ev.BREAKDOWN_METRICS.items()]),
        ]),
        html.Div(className="grid-2-even", children=[
            _chart("by-speed", figures["by-speed"], "By charger speed", simulated=True,
                   what="speed breakdown",
                   caption="Largest first; labels give the number of devices in each group."),
            _chart("by-operator", figures["by-operator"], "By operator", simulated=True,
                   what="operator breakdown", caption="Largest first, up to 12 operators."),
        ]),

        html.H2("Devices"),
        ui.simulated_label(),
        html.P(panels["table-summary"], id=IDS["table-summary"]),
        html.Fieldset(className="inline-choice", children=[
            html.Legend("Show", className="field__label"),
            dcc.RadioItems(id=IDS["show"], value=table["show"], inline=True,
                           options=[{"label": v, "value": k} for k, v in ev.SHOW.items()]),
        ]),
        html.Div(id=IDS["table"], className="table-scroll"),
        html.Div(className="pager", children=[
            html.Button("Previous page", id=IDS["prev"], n_clicks=0,
                        className="button button--secondary"),
            html.Button("Next page", id=IDS["next"], n_clicks=0,
                        className="button button--secondary"),
            html.P(id=IDS["table-status"], role="status", **{"aria-live": "polite"},
                   className="pager__status"),
        ]),

        html.H2("Downloads"),
        html.P(["Each download starts with the filters, the period, the sources and a link "
                "back to this view. ", ui.simulated_label()]),
        html.Div(className="export-bar", children=[
            *[html.Button(label, id=button, n_clicks=0, className="button button--secondary")
              for button, (_, _, label) in EXPORTS.items()],
            dcc.Download(id=IDS["download"]),
        ]),
        ui.source_note("Sources: charge devices from the DfT National Chargepoint Registry (to "
                       "February 2022), Open Charge Map (central London, 2025) and LB Lewisham "
                       "(2022); public device counts (2012-2024) and plug-in "
                       "vehicles (2011-2024) from DfT / OZEV; residents from the ONS Census 2021. "
                       "Usage is simulated from real Dundee and Perth charging sessions."),
    ])


# Callbacks ---------------------------------------------------------------------------------------
# A filter change is two requests. ``update_map`` answers first and cheaply (the filters, the
# heading, the map's ward values, which devices to draw, the link); when the filters changed it
# writes them to the ``state`` store, which makes the browser ask ``update_panels`` for
# everything below the map (summary, headline figures, charts, device table). The map never
# waits for the charts.
FILTER_INPUTS = ("borough", "ward", "from", "to", "speed", "operator", *CHOICE_IDS.values())
FILTER_VALUES = ("borough", "ward", "from", "to")  # the controls a change may correct
MAP_OUTPUTS = {
    **{k: Output(IDS[k], "value") for k in FILTER_VALUES},
    "heading": Output(IDS["heading"], "children"),
    "map": Output(IDS["map"], "figure"),
    "selection": Output(IDS["selection"], "data"),
    "measure-hint": Output(IDS["measure-hint"], "children"),
    "device": Output(IDS["device"], "children"),
    "state": Output(IDS["state"], "data"),
    "query": Output(QUERY, "data"),
}
PANEL_OUTPUTS = {
    "summary": Output(IDS["summary"], "children"),
    "coverage": Output(IDS["coverage"], "children"),
    **{k: Output(IDS[k], "children") for k in KPI_LISTS},
    **{k: Output(IDS[k], "figure") for k in CHARTS},
    "shapes": Output(IDS["shapes"], "data"),
    "table-summary": Output(IDS["table-summary"], "children"),
    "table-data": Output(IDS["table-data"], "data"),
    "table-state": Output(IDS["table-state"], "data"),
    "query": Output(QUERY, "data", allow_duplicate=True),
}


def _apply(state: FilterState, known, trigger: str, values: dict, click) -> FilterState | None:
    """The state after a filter change or a ward click (None: nothing to do)."""
    if trigger == IDS["borough"]:
        return narrow(state, known, borough=values["borough"])
    if trigger == IDS["ward"]:
        return narrow(state.replace(ward_layer="ward2022"), known, ward=values["ward"])
    if trigger in (IDS["from"], IDS["to"]):
        first = chosen_month(values["from"]) or state.date_from
        last = chosen_month(values["to"]) or state.date_to
        if first > last:  # keep the month just chosen and move the other one to meet it
            first, last = (first, first) if trigger == IDS["from"] else (last, last)
        return state.replace(date_from=first, date_to=last)
    if trigger == IDS["speed"]:
        return state.replace(speeds=[s for s in values["speed"] or ()
                                     if s in schema.SPEED_CLASSES])
    if trigger == IDS["operator"]:
        known_ops = set(known.operators)
        return state.replace(operators=[o for o in values["operator"] or () if o in known_ops])
    for field, control in CHOICE_IDS.items():
        if trigger == IDS[control]:
            allowed = set(known.choices(field))
            return state.replace(**{field: [v for v in values[control] or () if v in allowed]})
    if trigger == IDS["map"]:
        point = ((click or {}).get("points") or [{}])[0]
        code = point.get("location")
        if not code or point.get("curveNumber") != 0:
            return None
        return narrow(state.replace(ward_layer="ward2022"), known, ward=code)
    return state


@callback(
    output=MAP_OUTPUTS,
    inputs={**{k: Input(IDS[k], "value") for k in FILTER_INPUTS},
            "measure": Input(IDS["measure"], "value"),
            "click": Input(IDS["map"], "clickData")},
    state={"query": State(QUERY, "data")},
    prevent_initial_call=True,
)
def update_map(measure, click, query, **values):
    """Filters, ward clicks and the map measure: the map and the link, at once."""
    with ev.MAPS_FIRST.map_request():
        return _update_map(measure, click, query, values)


def _update_map(measure, click, query, values):
    store, known, tables = _context()
    before, defaults = _state_from(query, known)
    device_id, freq = ev.query_extras(query)
    trigger = ctx.triggered_id
    out = {k: no_update for k in MAP_OUTPUTS}
    measure = measure if measure in filters.EV_MEASURES else ev.DEFAULT_MEASURE

    if trigger == IDS["measure"]:
        state = before.replace(measure=None if measure == ev.DEFAULT_MEASURE else measure)
        mv = ev.map_view(store, state, tables.layers, tables.extents, measure)
        out.update({"map": figs.patch_measure(mv.values),
                    "measure-hint": ev.measure_hint(measure),
                    "query": ev.page_query(to_query(state, defaults), device_id, freq)})
        return out

    state = _apply(before, known, trigger, values, click)
    if state is None:
        raise PreventUpdate
    device = _selected_device(store, state, device_id)
    shown = {"borough": state.borough,
             "ward": state.ward if state.ward_layer == "ward2022" else None,
             "from": state.date_from, "to": state.date_to}
    out.update({k: v for k, v in shown.items() if v != values[k]})
    key = _filters_key(state, defaults)
    out.update({
        "heading": _heading_text(state, known),
        "map": _map_patch(store, state, tables, measure, device, before),
        "selection": _selection(store, state),
        "device": (no_update if device is None and not device_id
                   else _device_children(store, known, tables, state, device)),
        "state": key if key != _filters_key(before, defaults) else no_update,
        "query": ev.page_query(to_query(state, defaults),
                               None if device is None else device["device_id"], freq),
    })
    return out


def _panels(store, known, tables, state, freq, breakdown, table) -> dict:
    """What ``update_panels`` shows for a filter state: figures, summary, headline figures and
    the device table's first page. Kept per worker by state (``ev.results``): nothing in it
    depends on what the browser shows now."""
    ev.MAPS_FIRST.wait()
    loaded = ev.load(store, state, known, freq)
    view = loaded.view
    ev.MAPS_FIRST.wait()
    table_rows, table_state = _table_data(view, table)
    figures = _all_figures(store, loaded, known, tables, freq, breakdown)
    ev.MAPS_FIRST.wait()
    return {"figures": figures,
            "summary": _summary(view, known), "kpis": _kpi_items(view, store, known, tables),
            "coverage": coverage.for_state(store, state, known, tables.layers),
            "table-summary": ev.table_summary(view), "table-data": table_rows,
            "table-state": table_state}


def _kept_panels(store, known, tables, state, defaults, freq, breakdown, table) -> dict:
    """``_panels`` through this worker's results (the page layout and ``update_panels`` share
    them)."""
    key = (store, _filters_key(state, defaults), freq, breakdown, table["sort"], table["desc"],
           table["show"])
    return ev.results("panels", ev.cache_size(store)).get(
        key, lambda: _panels(store, known, tables, state, freq, breakdown, table))


@callback(
    output=PANEL_OUTPUTS,
    inputs={"key": Input(IDS["state"], "data"), "freq": Input(IDS["freq"], "value"),
            "breakdown": Input(IDS["breakdown"], "value")},
    state={"query": State(QUERY, "data"), "shapes": State(IDS["shapes"], "data"),
           "table": State(IDS["table-state"], "data")},
    prevent_initial_call=True,
)
def update_panels(key, freq, breakdown, query, shapes, table):
    """Everything below the map, for the filters ``update_map`` wrote (``key``), the trend
    frequency and the breakdown measure."""
    store, known, tables = _context()
    state, defaults = _state_from(key, known)
    trigger = ctx.triggered_id
    out = {k: no_update for k in PANEL_OUTPUTS}
    freq = freq if freq in ev.FREQS else ev.DEFAULT_FREQ
    breakdown = breakdown if breakdown in ev.BREAKDOWN_METRICS else ev.DEFAULT_BREAKDOWN

    key = _filters_key(state, defaults)  # canonical, whatever the browser sent
    cache = ev.results("panels", ev.cache_size(store))
    if trigger == IDS["freq"]:
        figures = cache.get((store, key, "trend", freq), lambda: {"trend": figs.usage_trend(
            ev.usage_series(store, state, freq), freq, filters.place_name(state, known),
            fmt_period(state.date_from, state.date_to))})
        shown, _ = _state_from(query, known)  # with the map measure
        device_id, _ = ev.query_extras(query)
        out["query"] = ev.page_query(to_query(shown, defaults), device_id, freq)
    elif trigger == IDS["breakdown"]:
        figures = cache.get((store, key, "breakdown", breakdown), lambda: _breakdown_figures(
            ev.build_view(store, state, known), breakdown))
    else:
        table = dict(_table_state(table), page=0, filters=to_query(state, defaults))
        panels = _kept_panels(store, known, tables, state, defaults, freq, breakdown, table)
        figures = dict(panels["figures"])
        # The DfT charts follow the area only: a change of period, speed or operator leaves them.
        place = _dft_place(state, known, tables)
        if (shapes or {}).get(DFT_PLACE) != place:
            figures.update(cache.get((store, "dft", place),
                                     lambda: _dft_figures(store, state, known, tables)))
            shapes = {**(shapes or {}), DFT_PLACE: place}
        out.update({
            "summary": panels["summary"], "coverage": panels["coverage"],
            **{k: _kpi_patch(panels["kpis"][k]) for k in KPI_LISTS},
            "table-summary": panels["table-summary"],
            "table-data": panels["table-data"], "table-state": panels["table-state"],
        })
    updates, out["shapes"] = _refresh(figures, shapes)
    out.update(updates)
    return out


@callback(
    Output(IDS["device"], "children", allow_duplicate=True),
    Output(IDS["map"], "figure", allow_duplicate=True),
    Output(QUERY, "data", allow_duplicate=True),
    Input(IDS["map"], "clickData"),
    Input(IDS["picked"], "data"),
    Input(IDS["device-close"], "n_clicks"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def select_device(click, picked, close, query):
    """Open a device's details from the map or the table; close them."""
    store, known, tables = _context()
    trigger = ctx.triggered_id
    devices = ev.all_devices(store)
    if trigger == IDS["device-close"]:
        if not close:
            raise PreventUpdate
        device = None
    elif trigger == IDS["picked"]:
        device = ev.device_by_index(devices, (picked or {}).get("index"))
    else:
        point = ((click or {}).get("points") or [{}])[0]
        is_device = point.get("curveNumber") in figs.POINT_TRACES.values()
        device = ev.device_by_index(devices, point.get("customdata")) if is_device else None
    if device is None and trigger != IDS["device-close"]:
        raise PreventUpdate
    state, defaults = _state_from(query, known)
    _, freq = ev.query_extras(query)
    query_text = ev.page_query(to_query(state, defaults),
                               None if device is None else device["device_id"], freq)
    return (_device_children(store, known, tables, state, device),
            figs.mark_device(Patch(), _point(device)), query_text)


@callback(
    Output(IDS["table-data"], "data", allow_duplicate=True),
    Output(IDS["table-state"], "data", allow_duplicate=True),
    Input(IDS["sort-pick"], "data"),
    Input(IDS["prev"], "n_clicks"),
    Input(IDS["next"], "n_clicks"),
    Input(IDS["show"], "value"),
    State(QUERY, "data"),
    State(IDS["table-state"], "data"),
    prevent_initial_call=True,
)
def update_table(sort_pick, _prev, _next, show, query, table):
    """Sort, page and filter the device table."""
    table = _table_state(table)
    trigger = ctx.triggered_id
    if trigger == IDS["sort-pick"]:
        col = (sort_pick or {}).get("col")
        if col not in ev.TABLE_COLUMNS:
            raise PreventUpdate
        numeric = ev.TABLE_COLUMNS[col][1]
        desc = (not table["desc"]) if col == table["sort"] else numeric
        table.update(sort=col, desc=desc, page=0)
    elif trigger == IDS["prev"]:
        table["page"] = max(0, table["page"] - 1)
    elif trigger == IDS["next"]:
        table["page"] += 1
    elif trigger == IDS["show"]:
        table.update(show=show, page=0)
    store, known, tables = _context()
    state, _ = _state_from(query, known)
    return _table_data(ev.build_view(store, state, known), table)


def _dft_export(store, view, known, tables) -> pd.DataFrame:
    frames = []
    for _, indicator, _, _ in DFT_CHARTS:
        area, london, name = ev.dft_series(store, view.state, known, tables.layers, indicator)
        for frame, place in ((area, name), (london, "London")):
            if frame is not None:
                frames.append(frame.assign(indicator=indicator, area=place))
    data = pd.concat(frames, ignore_index=True)[["indicator", "area", "period", "count", "value"]]
    return data.rename(columns={"count": "value_dft",
                                "value": "per_100k_residents_census2021"})


@callback(
    Output(IDS["download"], "data"),
    *[Input(button, "n_clicks") for button in EXPORTS],
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def download(*args):
    """The device table, the usage trend or the DfT series as CSV or Excel, with a header."""
    query = args[-1]
    trigger = ctx.triggered_id
    if trigger not in EXPORTS or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    what, fmt, _ = EXPORTS[trigger]
    store, known, tables = _context()
    state, _ = _state_from(query, known)
    _, freq = ev.query_extras(query)
    view = ev.build_view(store, state, known)
    notes: tuple[str, ...] = ()
    if what == "devices":
        frame, title = ev.device_export(view, known), "EV charge devices"
    elif what == "trend":
        frame = ev.trend_export(ev.usage_series(store, state, freq), freq)
        title = f"EV charging usage per {freq}"
    else:
        frame, title = _dft_export(store, view, known, tables), "EV devices and vehicles (DfT)"
        notes = ("The DfT series are real published figures, not simulated; rates per 100,000 "
                 "residents use Census 2021 residents for every year.",)
    base = (runtime.config().base_url or flask.request.host_url).rstrip("/")
    link = f"{base}/ev" + (f"?{query}" if query else "")
    now = datetime.now().replace(microsecond=0)
    notes = (*notes, coverage.for_state(store, state, known, tables.layers))
    meta = ev.export_meta(view, known, title, link, now, notes)
    body = (exports.to_csv_bytes(frame, meta) if fmt == "csv"
            else exports.to_xlsx_bytes(frame, meta))
    return dcc.send_bytes(body, exports.filename(f"{title} {view.place}", fmt, now))


ward_lists.follow_borough(IDS["ward-lists"], IDS["borough"], WARD_PICKERS)
clientside_callback(
    ClientsideFunction(namespace="ev", function_name="drawPoints"),
    Output(IDS["map"], "figure", allow_duplicate=True),
    Input(IDS["selection"], "data"),
    State(IDS["points"], "data"),
    State(IDS["map"], "figure"),
    prevent_initial_call="initial_duplicate",
)
clientside_callback(
    ClientsideFunction(namespace="ev", function_name="renderTable"),
    Output(IDS["table"], "children"),
    Output(IDS["table-status"], "children"),
    Output(IDS["prev"], "disabled"),
    Output(IDS["next"], "disabled"),
    Input(IDS["table-data"], "data"),
    Input(QUERY, "data"),
)
clientside_callback(
    ClientsideFunction(namespace="ev", function_name="pickDevice"),
    Output(IDS["picked"], "data"),
    Input({"type": DEVICE_BUTTON, "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
clientside_callback(
    ClientsideFunction(namespace="ev", function_name="pickSort"),
    Output(IDS["sort-pick"], "data"),
    Input({"type": SORT, "col": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
clientside_callback(
    ClientsideFunction(namespace="ev", function_name="downloadImage"),
    Output(IDS["image-sink"], "children"),
    Input({"type": IMAGE, "graph": ALL, "format": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
