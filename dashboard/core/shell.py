"""The frame every page sits in: skip link, header, navigation, main landmark, footer."""
from __future__ import annotations

import dash
from dash import ALL, Input, Output, clientside_callback, dcc, html

NAV = (
    ("/", "Overview"),
    ("/ev", "EV charging"),
    ("/needs", "Residents' needs"),
    ("/ward", "Ward profiler"),
    ("/sources", "Data & sources"),
)
NAV_IDS = [f"nav-{i}" for i in range(len(NAV))]

# plotly.js (0.93 MB compressed: the partial bundle dashboard.core.app serves) and the chunks that
# draw graphs and dropdowns are otherwise only requested once the page's layout has arrived and
# been rendered; preloading them lets their download overlap the other scripts and the layout
# request. The URLs are the ones dcc.Graph and dcc.Dropdown ask for (the app is served at the
# root).
INDEX_STRING = """<!DOCTYPE html>
<html lang="en-GB">
<head>
{%metas%}
<title>{%title%}</title>
{%favicon%}
<link rel="preload" as="script" href="/_dash-component-suites/plotly/package_data/plotly.min.js">
<link rel="preload" as="script" href="/_dash-component-suites/dash/dcc/async-graph.js">
<link rel="preload" as="script" href="/_dash-component-suites/dash/dcc/async-dropdown.js">
{%css%}
</head>
<body>
<a href="#main" class="skip-link">Skip to main content</a>
{%app_entry%}
{%config%}
{%scripts%}
{%renderer%}
</body>
</html>"""


def header() -> html.Header:
    return html.Header(
        className="site-header",
        children=[
            html.Div(className="site-header__inner", children=[
                dcc.Link("Borough Dashboards", href="/", className="site-header__name"),
                html.Span("London charge points, residents' needs and ward profiles, from open "
                          "data", className="site-header__tagline"),
            ]),
            html.Nav(
                **{"aria-label": "Main"},
                className="site-nav",
                children=html.Ul([
                    html.Li(dcc.Link(label, href=href, id=nav_id, className="site-nav__link"))
                    for (href, label), nav_id in zip(NAV, NAV_IDS)
                ]),
            ),
        ],
    )


def footer() -> html.Footer:
    return html.Footer(
        className="site-footer",
        children=[
            html.P([
                "Built from open data: Office for National Statistics, Greater London Authority, "
                "Department for Transport / OZEV, MHCLG, Metropolitan Police, Transport for London "
                "and local councils, under the Open Government Licence v3.0; Open Charge Map "
                "(CC BY-SA 4.0). Contains OS data © Crown copyright and database right. ",
                dcc.Link("All sources, licences and methods", href="/sources"),
                ".",
            ]),
            html.P(
                "Charge-point usage (sessions, energy, utilisation) is simulated from real Dundee "
                "and Perth charging sessions: London usage data is not published.",
                className="site-footer__sim",
            ),
        ],
    )


def layout() -> html.Div:
    return html.Div([
        dcc.Location(id="shell-url", refresh=False),
        html.Div(id="shell-query-sink", hidden=True),
        header(),
        html.Main(id="main", tabIndex="-1", className="site-main", children=dash.page_container),
        footer(),
    ])


def register_callbacks(app: dash.Dash) -> None:
    clientside_callback(
        """
        function(pathname) {
            const paths = %s;
            return paths.map(function(p) {
                const on = p === "/" ? pathname === "/" : (pathname || "").startsWith(p);
                return on ? "site-nav__link site-nav__link--current" : "site-nav__link";
            });
        }
        """ % [href for href, _ in NAV],
        [Output(i, "className") for i in NAV_IDS],
        Input("shell-url", "pathname"),
    )
    # Each page keeps its canonical query string in a store with id {"type": "query", "page": ...};
    # this puts it in the address bar with history.replaceState, which (unlike dcc.Location)
    # does not make the page router re-render the page. Reload and back reopen the view because
    # the page layout is built from the query string.
    clientside_callback(
        """
        function(queries) {
            const query = (queries || []).find(function(q) { return q !== null && q !== undefined; });
            if (query === undefined) { return window.dash_clientside.no_update; }
            const wanted = query ? "?" + query.replace(/^\\?/, "") : "";
            if (window.location.search !== wanted) {
                window.history.replaceState(window.history.state, "",
                                            window.location.pathname + wanted);
            }
            return window.dash_clientside.no_update;
        }
        """,
        Output("shell-query-sink", "children"),
        Input({"type": "query", "page": ALL}, "data"),
    )
