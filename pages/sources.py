"""Data & sources (/sources): every dataset with its licence and method, and the catalogue."""
from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from dashboard.domain import coverage
from dashboard.domain import filters
from dashboard.views.ward import model as profile
from dashboard.core import runtime
from dashboard.views.sources import model as sources

dash.register_page(__name__, path="/sources", title="Data and sources - Borough Dashboards",
                   order=4)

P = "src"
SEARCH, TABLE, COUNT, THEME = f"{P}-search", f"{P}-table", f"{P}-count", f"{P}-theme"


def _dataset(row: dict) -> html.Section:
    items = [
        ("Publisher", row["publisher"]), ("Licence", row["licence"]),
        ("Attribution", row["attribution"]), ("Period", row["period"]),
        ("Geography", row["geography"]), ("Used for", row["used_for"]),
        ("Method", row["method_notes"]),
    ]
    body = []
    for label, value in items:
        if value:
            body += [html.Dt(label), html.Dd(value)]
    children = [html.H3(row["title"], id=f"dataset-{row['dataset_id']}"), html.Dl(body, className="dataset")]
    if row.get("official_url"):
        children.append(html.P(["Official download page: ",
                                html.A(row["official_url"], href=row["official_url"],
                                       rel="noopener noreferrer")]))
    if row["dataset_id"] == "simulated-usage":
        children.insert(1, html.Span("Simulated data", className="sim-label"))
    return html.Section(children, className="panel dataset-card")


def _table(rows) -> html.Table:
    head = html.Thead(html.Tr([html.Th(c, scope="col") for c in sources.CATALOGUE_HEADINGS]))
    body = html.Tbody([html.Tr([html.Td(r[k]) for k in sources.CATALOGUE_FIELDS]) for r in rows])
    return html.Table([html.Caption("Indicator catalogue", className="visually-hidden"), head, body],
                      className="data")


def _coverage() -> str:
    known = runtime.known()
    return coverage.for_state(runtime.store(), filters.default_state(known), known,
                              runtime.tables().layers)


def layout(**_query):
    datasets = sources.datasets(runtime.store())
    catalogue = sources.catalogue_rows(runtime.tables().catalogue)
    themes = sources.themes(catalogue)
    return html.Div([
        html.H1("Data and sources"),
        html.P("Every figure in Borough Dashboards comes from the open datasets below. Each "
               "indicator names its source, licence, period and method in the catalogue at the "
               "foot of this page.", className="lede"),
        html.Div(className="message", role="note", children=[
            html.P("Charge-point usage is simulated", className="message__title"),
            html.P("Sessions, energy, utilisation and idle time for London charge points are not "
                   "published by operators or boroughs. The usage shown in this app is simulated "
                   "from real charging sessions recorded by Dundee City Council and Perth & "
                   "Kinross Council, matched to each London device by charger power, and is "
                   "labelled 'Simulated usage' wherever it appears."),
        ]),
        html.H2("What the charge-device map covers"),
        html.P(_coverage(), id=f"{P}-coverage"),
        html.P("The DfT statistics count every public device registered by 2024 and are the "
               "measure of supply over time; the map shows the devices whose place, power and "
               "operator are published, newer ones only where Open Charge Map or Lewisham list "
               "them."),
        html.H2("How areas are matched"),
        html.Ul([html.Li(t) for t in sources.METHOD_NOTES]),
        html.H2("Similar wards", id="similar-wards"),
        html.P("Each ward profile lists the ten wards most like it, within its own boundary "
               "vintage, for a fair comparison beside the borough and London. They are computed "
               "when the data is rebuilt and kept with it."),
        html.Ul([html.Li([html.Strong(f"{label}: "), profile.similar_method(layer, "each ward")])
                 for layer, label in (("ward2022", "2022 wards"), ("ward2011", "2011 wards"))]),
        html.H2(f"Datasets ({len(datasets)})"),
        html.Div([_dataset(r) for r in datasets], className="datasets"),
        html.H2("Indicator catalogue", id="catalogue"),
        html.Div(className="filter-bar", children=[
            html.Div(className="field", children=[
                html.Label("Search indicators", htmlFor=SEARCH),
                html.Span("Words in the title, definition or source", className="hint"),
                dcc.Input(id=SEARCH, type="search", debounce=0.3, value="",
                          className="text-input", autoComplete="off"),
            ]),
            html.Div(className="field", children=[
                html.Label("Theme", htmlFor=THEME),
                dcc.Dropdown(id=THEME, options=[{"label": t, "value": t} for t in themes],
                             placeholder="All themes", clearable=True),
            ]),
        ]),
        html.P(id=COUNT, role="status", **{"aria-live": "polite"}),
        html.Div(_table(catalogue), id=TABLE, className="table-scroll"),
    ])


@callback(Output(TABLE, "children"), Output(COUNT, "children"),
          Input(SEARCH, "value"), Input(THEME, "value"))
def search(text, theme):
    rows = sources.search(sources.catalogue_rows(runtime.tables().catalogue), text, theme)
    total = len(runtime.tables().catalogue)
    return _table(rows), f"Showing {len(rows)} of {total} indicators."
