"""Overview (/): London, a borough or a ward at a glance, with a map that sets the filter."""
from __future__ import annotations

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard.ui import components as ui
from dashboard.domain import coverage
from dashboard.domain import filters
from dashboard.views.overview import model as overview
from dashboard.core import runtime
from dashboard.core import ward_lists
from dashboard.figures import (LONDON_CENTRE, LONDON_ZOOM, choropleth_map, graph_config,
                               patch_choropleth)
from dashboard.domain.state import narrow, parse, to_query

dash.register_page(__name__, path="/", title="Overview - Borough Dashboards", order=0)

P = "ov"
IDS = {k: f"{P}-{k}" for k in ("borough", "ward", "measure", "map", "kpis", "heading",
                                "messages", "rapid", "ward-lists", "coverage")}
QUERY = {"type": "query", "page": P}
WARD_PICKERS = {"ward2022": IDS["ward"]}  # ward layer -> its picker (see ward_lists)


def _context():
    store = runtime.store()
    known = runtime.known()
    return store, known, runtime.tables()


def _cards(store, state, known, tables) -> list:
    items = overview.headlines(store, state, known, tables.layers, tables.catalogue)
    cards = [ui.kpi(h.label, h.value, h.note) for h in items]
    cards.insert(3, ui.kpi("Rapid and ultra-rapid devices (50 kW and over)",
                           f"{overview.rapid_devices(store, state):,}",
                           "Devices on the map with a published rating of 50 kW or more"))
    return cards


def _heading(state, known) -> str:
    return f"{filters.place_name(state, known)} at a glance"


def layout(**query):
    store, known, tables = _context()
    defaults = filters.default_state(known)
    state, notes = parse(query, known, defaults)
    measure = state.measure if state.measure in overview.MEASURES else overview.DEFAULT_MEASURE
    view = overview.map_view(store, state, known, tables.layers, tables.catalogue,
                             tables.extents, measure)
    geo = runtime.geo()
    fig = choropleth_map(
        geo.url(view.layer), view.names, view.values, map_style=runtime.config().map_style,
        outline_url=geo.url("borough"), outline_codes=view.outline, selected=view.selected,
        centre=view.centre, zoom=view.zoom, uirevision=state.borough or "london",
    )
    return html.Div([
        dcc.Store(id=QUERY, data=to_query(state, defaults)),
        ward_lists.source(IDS["ward-lists"], known, WARD_PICKERS),
        html.Div(ui.messages(notes), id=IDS["messages"], className="messages"),
        html.H1(_heading(state, known), id=IDS["heading"]),
        html.P("Residents, public charge points, plug-in vehicles and residents' needs for "
               "London, a borough or a ward. Choose an area, or click one on the map.",
               className="lede"),
        html.Section(className="filter-bar", **{"aria-label": "Filters"}, children=[
            ui.field("Borough", ui.dropdown(IDS["borough"], filters.borough_options(known),
                                            state.borough, placeholder="All of London"),
                     IDS["borough"]),
            ui.field("Ward (2022 boundaries)",
                     ui.dropdown(IDS["ward"],
                                 filters.ward_options(known, "ward2022", state.borough),
                                 state.ward if state.ward_layer == "ward2022" else None,
                                 placeholder="All wards"), IDS["ward"]),
        ]),
        html.H2("Headline figures"),
        ui.kpi_list(_cards(store, state, known, tables), list_id=IDS["kpis"]),
        html.P(coverage.for_state(store, state, known, tables.layers), id=IDS["coverage"],
               className="hint"),
        html.H2("Map"),
        html.Div(className="grid-2", children=[
            html.Div([
                dcc.Graph(id=IDS["map"], figure=fig, className="map-graph",
                          config=graph_config("borough-dashboards-overview-map"),
                          style={"height": "560px"}),
            ]),
            html.Div(className="panel", children=[
                html.Fieldset([
                    html.Legend("Colour the map by", id=f"{P}-measure-legend",
                                className="field__label"),
                    dcc.RadioItems(id=IDS["measure"], value=measure,
                                   options=[{"label": v, "value": k}
                                            for k, v in overview.MEASURES.items()],
                                   labelStyle={"display": "block", "margin": "6px 0"}),
                ]),
                html.P("Darker areas have more of the measure; for measures where more is better "
                       "(devices per resident) the scale is reversed so that dark always points "
                       "to where provision is thinnest or need is greatest. Grey: no data.",
                       className="hint"),
                html.P(["Click a borough to zoom to its wards; click a ward to select it. The same "
                        "figures are in the ", dcc.Link("residents' needs table", href="/needs"),
                        "."], className="hint"),
            ]),
        ]),
        ui.source_note("Sources: ONS Census 2021; DfT/OZEV charge devices and DfT vehicle "
                       "licensing statistics via LSOA (best fit to 2022 wards); charge points "
                       "from the DfT National Chargepoint Registry (to February 2022), Open "
                       "Charge Map (central London, 2025) and LB Lewisham (2022)."),
    ])


ward_lists.follow_borough(IDS["ward-lists"], IDS["borough"], WARD_PICKERS)


@callback(
    Output(IDS["borough"], "value"),
    Output(IDS["ward"], "value"),
    Output(IDS["kpis"], "children"),
    Output(IDS["coverage"], "children"),
    Output(IDS["map"], "figure"),
    Output(IDS["heading"], "children"),
    Output(QUERY, "data"),
    Input(IDS["borough"], "value"),
    Input(IDS["ward"], "value"),
    Input(IDS["measure"], "value"),
    Input(IDS["map"], "clickData"),
    State(QUERY, "data"),
    prevent_initial_call=True,
)
def update(borough, ward, measure, click, query):
    store, known, tables = _context()
    defaults = filters.default_state(known)
    state, _ = parse(query or "", known, defaults)
    trigger = ctx.triggered_id
    if trigger == IDS["borough"]:
        state = narrow(state, known, borough=borough)
    elif trigger == IDS["ward"]:
        state = narrow(state.replace(ward_layer="ward2022"), known, ward=ward)
    elif trigger == IDS["map"]:
        code = ((click or {}).get("points") or [{}])[0].get("location")
        if not code:
            return (no_update,) * 7
        if state.borough is None:
            state = narrow(state, known, borough=code)
        else:
            state = narrow(state.replace(ward_layer="ward2022"), known, ward=code)
    elif trigger == IDS["measure"]:
        state = state.replace(measure=measure if measure != overview.DEFAULT_MEASURE else None)
    view = overview.map_view(store, state, known, tables.layers, tables.catalogue,
                             tables.extents, measure)
    geo = runtime.geo()
    patch = patch_choropleth(
        view.values, selected=view.selected, geojson_url=geo.url(view.layer), names=view.names,
        outline_codes=view.outline, centre=view.centre or LONDON_CENTRE,
        zoom=view.zoom or LONDON_ZOOM, uirevision=state.borough or "london",
    )
    ward_value = state.ward if state.ward_layer == "ward2022" else None
    return (state.borough, ward_value, _cards(store, state, known, tables),
            coverage.for_state(store, state, known, tables.layers), patch,
            _heading(state, known), to_query(state, defaults))

