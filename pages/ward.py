"""Ward profiler (/ward, /ward/<code>, /ward?ward=<code>): find a ward, then read its profile."""
from __future__ import annotations

import datetime as dt
import logging

import dash
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard.ui import components as ui
from dashboard.domain import export
from dashboard.domain import filters
from dashboard.core import pdf
from dashboard.views.ward import model as profile
from dashboard.core import runtime
from dashboard.data import schema
from dashboard.figures import fit_extent, graph_config
from dashboard.figures.ev import SPEED_STYLES
from dashboard.figures.ward import (Line, SpineRow, VERDICT_SYMBOLS, finder_map, locator_map,
                                    locator_points, spine_cell, spine_legend, trend_chart)
from dashboard.domain.state import excerpt, parse, read_single, to_query
from dashboard.domain.text import fmt_month, fmt_number, fmt_pct, fmt_rate, join_and


def _samples() -> list[dict]:
    """A profile of each boundary vintage: the layouts the callback boundary learns from."""
    firsts = {}
    for ward in profile.all_wards(runtime.tables().layers):
        firsts.setdefault(ward.layer, ward.code)
    return [{"code": code} for code in firsts.values()]


dash.register_page(__name__, path="/ward", path_template="/ward/<code>",
                   title="Ward profiler - Borough Dashboards", order=3, layout_samples=_samples)

log = logging.getLogger(__name__)

P = "ward"
IDS = {k: f"{P}-{k}" for k in (
    "nav", "search", "borough", "map", "recent", "recent-list", "current", "context", "compare",
    "present", "print", "wrapper", "body", "csv", "xlsx", "download", "link", "pdf")}
QUERY = {"type": "query", "page": P}
RECENT_KEY = IDS["recent"]
DEFAULT_BOROUGH = "E09000022"  # Lambeth, where the finder map opens


# Helpers ------------------------------------------------------------------------------------------
def _context():
    return runtime.store(), runtime.known(), runtime.tables()


def _ward_state(known, ward: profile.WardInfo, compare: str | None):
    """The filter state of a profile: the ward, its borough and layer, an optional second ward."""
    defaults = filters.default_state(known)
    return defaults, defaults.replace(ward=ward.code, borough=ward.borough_code,
                                      ward_layer=ward.layer, compare=compare)


def _query(known, ward: profile.WardInfo, compare: str | None, path_form: bool) -> str:
    """The canonical query string: the comparison ward (and the ward itself when the link
    named it as ``?ward=``, not in the path)."""
    defaults, state = _ward_state(known, ward, compare)
    base = _ward_state(known, ward, None)[1] if path_form else defaults
    return to_query(state, base)


def _build(ward: profile.WardInfo, compare: profile.WardInfo | None) -> profile.Profile:
    store, known, tables = _context()
    period = filters.default_state(known)
    return profile.build_profile(store, tables.layers, ward, compare=compare,
                                 date_from=period.date_from, date_to=period.date_to,
                                 data_dir=runtime.config().data_dir, datasets=store.datasets())


def _pdf_href(ward: profile.WardInfo, compare: str | None) -> str:
    return pdf.pdf_path(ward.code) + (f"?compare={compare}" if compare else "")


# The finder ---------------------------------------------------------------------------------------
def _search(label: str = "Find a ward") -> html.Div:
    tables = runtime.tables()
    return ui.field(
        label,
        dcc.Dropdown(id=IDS["search"], options=profile.search_options(tables.layers), value=None,
                     placeholder="Start typing a ward or borough name", searchable=True,
                     clearable=True, optionHeight=44),
        IDS["search"],
        hint="Current (2022) wards are listed first; 2011 wards give the GLA ward profiles 2015.",
    )


def _finder_figure(borough: str):
    tables = runtime.tables()
    wards = tables.layers["ward2022"]
    wards = wards[wards["borough_code"] == borough]
    centre, zoom = fit_extent(tables.extents, "borough", borough, width_px=520, height_px=360)
    geo = runtime.geo()
    return finder_map(geo.url("ward2022"), list(wards["code"]), list(wards["name"]),
                      outline_url=geo.url("borough"), borough=borough, centre=centre, zoom=zoom,
                      map_style=runtime.config().map_style)


def _recent_block() -> html.Section:
    return html.Section(className="ward-recent no-print", **{"aria-labelledby": "ward-recent-h"},
                        children=[html.H2("Recently viewed", id="ward-recent-h"),
                                  html.Div(id=IDS["recent-list"])])


def finder_layout(messages: list) -> html.Div:
    known = runtime.known()
    return html.Div(className="ward-finder", children=[
        html.Div(messages, className="messages"),
        html.H1("Ward profiler"),
        html.P("One page per ward: who lives there, health, deprivation, housing, transport and "
               "EV charging, crime and the environment, against the borough and London. Ready to "
               "print for a meeting.", className="lede"),
        html.Div(className="grid-2", children=[
            html.Div([
                html.Section(className="filter-bar", **{"aria-label": "Find a ward"},
                             children=[_search()]),
                html.H2("Or pick a ward on the map"),
                ui.field("Borough", ui.dropdown(IDS["borough"], filters.borough_options(known),
                                                DEFAULT_BOROUGH, placeholder="Choose a borough",
                                                clearable=False), IDS["borough"]),
                html.P("Click a ward to open its profile (2022 boundaries).", className="hint"),
                dcc.Graph(id=IDS["map"], figure=_finder_figure(DEFAULT_BOROUGH),
                          className="ward-finder__map", config=graph_config("ward-finder-map"),
                          style={"height": "420px"}),
            ]),
            _recent_block(),
        ]),
    ])


def not_found_layout(text: str, messages: list) -> html.Div:
    tables = runtime.tables()
    shown = excerpt(text) or "(a code we can't display)"
    found = profile.suggestions(text, tables.layers)
    log.warning("Ward profile asked for an unknown ward %r", shown)
    items = [html.Li(dcc.Link(w.label, href=w.path)) for w in found]
    return html.Div(className="ward-finder", children=[
        html.Div(messages, className="messages"),
        html.Div(className="message message--warning", role="alert", id="ward-not-found",
                 children=[
                     html.H1(f"We couldn't find a ward with the code {shown}",
                             className="ward-not-found__title"),
                     html.P("Ward codes start with E05 and have nine characters, such as "
                            "E05014098 (Brixton Windrush)."),
                     *([html.P("Did you mean:"), html.Ul(items, className="ward-suggestions")]
                       if items else [html.P("No ward has a similar code or name.")]),
                 ]),
        html.Section(className="filter-bar", **{"aria-label": "Find a ward"},
                     children=[_search("Search for the ward instead")]),
        html.P(dcc.Link("Browse wards on a map", href="/ward")),
    ])


# The profile --------------------------------------------------------------------------------------
def _unit_note(row: profile.IndicatorRow) -> str:
    if row.unit.startswith("%") or row.unit == "£":
        return row.unit.lstrip("% ").strip() or ""
    return "" if row.unit == "count" else row.unit


def _spine_description(row: profile.IndicatorRow, ward: profile.WardInfo) -> str:
    if row.ward is None:
        return f"{row.label}: no data for this ward."
    similar = f"; similar wards' median {row.fmt(row.similar)}" if row.similar is not None else ""
    return (f"{row.label}: {ward.name} {row.fmt(row.ward)}, {row.comparison_text}; "
            f"{ward.borough_name} {row.fmt(row.borough)}; London {row.fmt(row.london)}{similar}; "
            f"London wards range from {row.fmt(row.dist.low)} to {row.fmt(row.dist.high)}.")


def _meta(row: profile.IndicatorRow, short: bool) -> str:
    """The unit (where the value's symbol does not say it) and the period of a row."""
    return " · ".join(p for p in (_unit_note(row), row.period_short if short else row.period_label)
                      if p)


def _indicator_row(row: profile.IndicatorRow, prof: profile.Profile, shared_meta: bool) -> html.Tr:
    hide_borough = prof.ward.shares_city_figures or row.is_count  # a total, not a ward value
    spine = SpineRow(ward=row.ward, borough=None if hide_borough else row.borough,
                     benchmark=row.benchmark, low=row.dist.low, q1=row.dist.q1, q3=row.dist.q3,
                     high=row.dist.high, polarity=row.polarity,
                     compare=row.compare if prof.compare else None, similar=row.similar)
    name = [html.Span(row.label, className="ind__name")]
    if not shared_meta:
        name += [html.Span(_meta(row, False), className="ind__meta screen-only"),
                 html.Span(_meta(row, True), className="ind__meta print-inline")]
    cells = [
        html.Th(name, scope="row", className="ind"),
        html.Td(row.fmt(row.ward), className="num num--ward"),
        html.Td(row.fmt(row.borough), className="num"),
        html.Td(row.fmt(row.london), className="num"),
    ]
    if prof.compare:
        cells.append(html.Td(row.fmt(row.compare), className="num num--compare"))
    symbol = VERDICT_SYMBOLS.get(row.verdict, "")
    cells += [
        html.Td(row.rank_text, className="num rank"),
        html.Td([html.Span(symbol, className=f"verdict verdict--{row.verdict}",
                           **{"aria-hidden": "true"}), " ",
                 html.Span(row.comparison_text, className="screen-only"),
                 html.Span(row.comparison_short, className="print-inline")],
                className="versus"),
        html.Td(spine_cell(spine, row.verdict if row.ward is not None else "none",
                           _spine_description(row, prof.ward)), className="spine-col"),
    ]
    return html.Tr(cells, className="no-data" if row.ward is None else None)


def _theme_table(theme: str, rows: list, prof: profile.Profile, index: int) -> html.Section:
    ward = prof.ward
    borough = "City of London" if ward.shares_city_figures else ward.borough_name
    polar = [r.polarity != 0 for r in rows]
    direction = ("worse ← → better" if all(polar) else
                 "worse or lower ← → better or higher" if any(polar) else "lower ← → higher")

    def head(screen, paper: str, class_name: str | None = None) -> html.Th:
        """A column heading, shortened on paper where the columns are narrow."""
        return html.Th([html.Span(screen, className="screen-only"),
                        html.Span(paper, className="print-inline")], scope="col",
                       className=class_name)

    heads = [html.Th("Indicator", scope="col"), head(ward.name, "Ward", "num"),
             head(borough, "Borough", "num"), html.Th("London", scope="col", className="num")]
    if prof.compare:
        heads.append(head(prof.compare.name, "Second ward", "num num--compare"))
    heads += [head("Rank (1st = highest)", "Rank", "num rank"),
              head("Compared with London", "Against London", "versus"),
              head(["Among London wards", html.Br(), html.Span(direction, className="spine-head")],
                   direction, "spine-col")]
    sources = join_and(sorted({profile.SOURCE_NAMES.get(r.source, r.source) for r in rows}))
    metas = {_meta(r, False) for r in rows}
    shared = len(rows) > 1 and len(metas) == 1
    heading_id = f"ward-theme-{index}"
    return html.Section(className="theme", **{"aria-labelledby": heading_id}, children=[
        html.H3(theme, id=heading_id),
        html.Div(className="table-scroll", tabIndex="0", role="region",
                 **{"aria-label": f"{theme}: table of indicators"},
                 children=html.Table(className="data profile-table",
                 children=[html.Thead(html.Tr(heads)),
                           html.Tbody([_indicator_row(r, prof, shared) for r in rows])])),
        html.P([(f"All figures: {metas.pop()}. " if shared else "") + f"Source: {sources}.",
                html.Span(f" Bars: {direction}.", className="print-inline")],
               className="caption"),
    ])


def _header(prof: profile.Profile) -> list:
    ward = prof.ward
    residents = prof.residents
    facts = [f"Ward in {ward.borough_name}", f"{profile.LAYER_LABELS[ward.layer][:-1]} boundaries",
             f"ward code {ward.code}"]
    if residents is not None and residents.ward is not None:
        where = " in the whole City" if ward.shares_city_figures else ""
        facts.append(f"{fmt_number(residents.ward)} residents{where} ({residents.cite})")
    if ward.area_km2 is not None:
        facts.append(f"area {fmt_number(ward.area_km2, 2)} km²")
    out = [html.H1(ward.name, id="ward-title"),
           html.P(" · ".join(facts), className="lede ward-lede")]
    if ward.shares_city_figures:
        out.append(html.P("The City of London publishes its statistics for the City as a whole, "
                          f"so the figures below are the whole City's, not {ward.name}'s alone. "
                          "Charge points are counted in the ward itself.",
                          className="message ward-city-note"))
    return out


def _toolbar(prof: profile.Profile) -> html.Div:
    ward, compare = prof.ward, prof.compare
    tables = runtime.tables()
    return html.Div(className="ward-toolbar no-print", children=[
        ui.field(f"Compare with another ward ({profile.LAYER_LABELS[ward.layer]})",
                 ui.dropdown(IDS["compare"], profile.compare_options(tables.layers, ward,
                                                                   prof.similar),
                             compare.code if compare else None,
                             placeholder="Borough and London only"), IDS["compare"]),
        html.Div(className="ward-toolbar__buttons", children=[
            html.Button("Present", id=IDS["present"], n_clicks=0, className="button "
                        "button--secondary", **{"aria-pressed": "false"},
                        title="Large type for a projector"),
            html.Button("Print or save as PDF", id=IDS["print"], n_clicks=0,
                        className="button button--secondary"),
            html.A("Download PDF (A4)", id=IDS["pdf"], href=_pdf_href(ward, compare and compare.code),
                   className="button button--secondary", rel="nofollow",
                   hidden=not pdf.available()),
            html.Button("Download data (CSV)", id=IDS["csv"], n_clicks=0,
                        className="button button--secondary"),
            html.Button("Download data (Excel)", id=IDS["xlsx"], n_clicks=0,
                        className="button button--secondary"),
            dcc.Download(id=IDS["download"]),
        ]),
    ])


def _standouts(prof: profile.Profile) -> html.Section | None:
    if not prof.standouts:
        return None
    return html.Section(className="standouts", **{"aria-labelledby": "ward-standouts-h"},
                        children=[
        html.H2("What stands out", id="ward-standouts-h"),
        html.P("The indicators where this ward is furthest from London, measured in London "
               "standard deviations, one per theme. Differences by direction only, not "
               "statistical significance.", className="hint"),
        html.Ul([html.Li(s.text) for s in prof.standouts]),
    ])


def _similar_section(prof: profile.Profile) -> html.Section:
    ward = prof.ward
    items = [html.Li([dcc.Link(s.name, href=s.path, className="similar__name"),
                      html.Span(f", {s.borough_name}" if s.name != s.borough_name and
                                s.borough_name not in s.name else "", className="similar__borough"),
                      html.Span(f": {s.alike_text}", className="similar__alike")])
             for s in prof.similar]
    intro = ("The City of London's wards share one set of figures, so these are the wards most "
             "like the City as a whole. " if ward.shares_city_figures else "")
    return html.Section(className="similar", **{"aria-labelledby": "ward-similar-h"}, children=[
        html.H2("Similar wards", id="ward-similar-h"),
        html.P(intro + "Wards elsewhere in London with the most similar people and places, "
               "for a fair comparison.", className="hint"),
        html.Ol(items, className="similar__list") if items else
        html.P("Similar wards are not available for this ward."),
        html.P([html.Strong("How they are chosen. "), profile.similar_method(ward.layer)],
               className="caption method-note screen-only"),
        html.P(profile.similar_method_short(ward.layer), className="caption method-note print-only"),
    ])


def _key_facts(prof: profile.Profile) -> html.Section:
    return html.Section(className="key-facts", **{"aria-labelledby": "ward-facts-h"}, children=[
        html.H2("Key facts", id="ward-facts-h"),
        html.Ul([html.Li(f) for f in prof.facts]),
    ])


def _speed_table(ev: profile.EvSummary) -> html.Table:
    rows = [html.Tr([html.Th(schema.SPEED_LABELS[s], scope="row"),
                     html.Td(fmt_number(ev.devices_by_speed[s]), className="num")])
            for s in schema.SPEED_CLASSES]
    rows.append(html.Tr([html.Th("All devices on the map", scope="row"),
                         html.Td(fmt_number(ev.devices_total), className="num")],
                        className="total"))
    return html.Table(className="data speed-table", children=[
        html.Caption("Charge devices on the map, by speed"),
        html.Thead(html.Tr([html.Th("Speed", scope="col"),
                            html.Th("Devices", scope="col", className="num")])),
        html.Tbody(rows)])


def _locator_figure(prof: profile.Profile):
    ward = prof.ward
    tables, geo = runtime.tables(), runtime.geo()
    layer = tables.layers[ward.layer]
    wards = list(layer.loc[layer["borough_code"] == ward.borough_code, "code"])
    centre, zoom = fit_extent(tables.extents, "borough", ward.borough_code, width_px=600,
                              height_px=400)
    return locator_map(geo.url(ward.layer), ward.code, wards, outline_url=geo.url("borough"),
                       borough=ward.borough_code, centre=centre, zoom=zoom,
                       points=locator_points(prof.ev.devices, SPEED_STYLES),
                       map_style=runtime.config().map_style)


def _map_summary(prof: profile.Profile) -> str:
    """What the locator map shows, in words (for those who cannot see it)."""
    ward, ev = prof.ward, prof.ev
    counts = [f"{ev.devices_by_speed[s]} {schema.SPEED_LABELS[s].split(' (')[0].lower()}"
              for s in schema.SPEED_CLASSES if ev.devices_by_speed[s]]
    devices = (f"{fmt_number(ev.devices_total)} charge devices are on our map in the ward: "
               f"{join_and(counts)}" if ev.devices_total else "No charge devices are on our map "
               "in the ward")
    return (f"Map of {ward.name} (filled) inside {ward.borough_name} (thick outline), with the "
            f"borough's other wards outlined. {devices}.")


def _map_section(prof: profile.Profile) -> html.Section:
    summary = _map_summary(prof)
    return html.Section(className="locator", **{"aria-labelledby": "ward-map-h"}, children=[
        html.H2("Where the ward is", id="ward-map-h"),
        html.Div(className="locator-grid", children=[
            html.Figure(className="locator__figure", children=[
                html.Div(dcc.Graph(id="ward-locator", figure=_locator_figure(prof),
                                   config={**graph_config("ward-locator-map"),
                                           "displayModeBar": False, "scrollZoom": False},
                                   className="locator__map", style={"height": "360px"}),
                         role="img", **{"aria-label": summary}),
                html.Img(id="ward-locator-print", className="print-only locator__print", alt=summary),
                html.Figcaption(summary, className="caption"),
            ]),
            html.Div(_speed_table(prof.ev)),
        ]),
    ])


def _trend_figure(trend: profile.Trend):
    lines = [Line(role, str(g["name"].iloc[0]), list(g["period"]), list(g["value"]))
             for role, g in trend.frame.groupby("area", sort=False)]
    monthly = "-" in str(trend.frame["period"].iloc[0])
    return trend_chart(lines, unit=trend.spec.unit, decimals=trend.spec.decimals, width=420,
                       height=240, font_size=13, dtick="M6" if monthly else "M24",
                       tickformat="%b %Y" if monthly else "%Y")


def _trend_summary(trend: profile.Trend) -> str:
    """The latest value of each line, in words (the chart's text alternative)."""
    frame = trend.frame.dropna(subset=["value"])
    latest = frame["period"].max()
    at = frame[frame["period"] == latest]
    parts = [f"{r.name} {fmt_number(r.value, trend.spec.decimals)}" for r in at.itertuples()]
    when = fmt_month(str(latest)) if len(str(latest)) == 7 and "-" in str(latest) else \
        profile.short_period(str(latest))
    return (f"Latest ({when}), {trend.spec.unit}: "
            f"{join_and(parts)}.")


def _trends_section(prof: profile.Profile) -> html.Section | None:
    if not prof.trends:
        return None
    blocks = []
    for i, trend in enumerate(prof.trends):
        summary = _trend_summary(trend)
        blocks.append(html.Figure(className="trend", children=[
            html.H3(trend.spec.title),
            html.P(trend.spec.caption, className="caption"),
            html.Div(className="chart-scroll", tabIndex="0", role="region",
                     **{"aria-label": f"Chart: {trend.spec.title}. {summary}"},
                     children=dcc.Graph(
                         id=f"ward-trend-{i}", figure=_trend_figure(trend),
                         config={**graph_config(f"ward-trend-{trend.spec.indicator_id}"),
                                 "responsive": False, "displayModeBar": False})),
            html.Figcaption(summary, className="caption trend__latest"),
        ]))
    return html.Section(className="trends", **{"aria-labelledby": "ward-trends-h"}, children=[
        html.H2("Trends", id="ward-trends-h"),
        html.P("The ward against its borough, London and the median of its similar wards.",
               className="hint"),
        html.Div(blocks, className="trend-grid"),
    ])


def _ev_section(prof: profile.Profile) -> html.Section:
    ward, ev = prof.ward, prof.ev
    usage = ev.usage
    period = ""
    if usage.get("period_start") and usage.get("period_end"):
        period = (f"{fmt_month(usage['period_start'].strftime('%Y-%m'))} to "
                  f"{fmt_month(usage['period_end'].strftime('%Y-%m'))}")
    cards = []
    if ev.per_100k is not None:
        r = ev.per_100k
        cards.append(ui.kpi("Public charge devices per 100,000 residents", r.fmt(r.ward),
                            f"DfT/OZEV, {r.period}. {ward.borough_name}: {r.fmt(r.borough)}; "
                            f"London: {r.fmt(r.london)}"))
    if ev.dft_devices is not None:
        cards.append(ui.kpi("Public charge devices (DfT count)", fmt_number(ev.dft_devices),
                             f"DfT/OZEV, {ev.dft_devices_period}"))
    cards.append(ui.kpi("Charge devices on our map", fmt_number(ev.devices_total),
                        "DfT registry to February 2022, Open Charge Map central London 2025, "
                        "Lewisham 2022: not a complete count"))
    usage_cards = [
        ui.kpi("Charging sessions", fmt_number(usage["sessions"]), period, simulated=True),
        ui.kpi("Energy delivered", fmt_rate(usage["kwh"], "kWh", 0), period, simulated=True),
        ui.kpi("Time-based utilisation", fmt_pct(usage["time_utilisation"], 1, fraction=True),
               "Plugged-in hours / device hours available", simulated=True),
    ]
    if ward.layer == "ward2022":
        vehicles = [html.P("Devices and plug-in vehicles over time are under Trends.",
                           className="hint screen-only")]
    else:
        vehicles = [html.P("DfT device and vehicle figures are published for 2022 wards: see "
                           "the overlapping 2022 wards below.", className="hint")]
    return html.Section(className="ev-section", **{"aria-labelledby": "ward-ev-h"}, children=[
        html.H2("Electric vehicles and charge points", id="ward-ev-h"),
        ui.kpi_list(cards),
        *vehicles,
        html.Div(className="ev-usage-head", children=[
            html.H3("Usage over the last 12 months (simulated)"),
            ui.simulated_label(),
            html.P("Sessions, energy and utilisation are simulated from real Dundee and Perth "
                   "charging sessions for the devices on our map; London usage is not published.",
                   className="caption"),
        ]),
        ui.kpi_list(usage_cards),
        html.P(dcc.Link("See these charge points on the EV charging page", href=ev.ev_link),
               className="no-print"),
    ])


def _vintage_section(prof: profile.Profile) -> html.Section:
    ward = prof.ward
    if ward.layer == "ward2022":
        heading = "Older figures: GLA ward profiles 2015 (2011 boundaries)"
        intro = ("The GLA ward profiles 2015 use the 2011 ward boundaries, which differ from "
                 "this ward's. Open the 2011 ward that covers each part of it; the two sets of "
                 "figures are never combined.")
        share_text = "of this ward's area"
    else:
        heading = "Current wards (2022 boundaries)"
        intro = ("These are the 2022 wards covering this 2011 ward, with Census 2021, deprivation, "
                 "crime, air quality and EV figures.")
        share_text = "of this 2011 ward's area"
    items = [html.Li([dcc.Link(o.ward.label, href=o.ward.path),
                      f": {fmt_pct(o.share_of_this * 100, 0)} {share_text}"])
             for o in prof.overlaps]
    return html.Section(className="vintage no-print-break", **{"aria-labelledby": "ward-vintage-h"},
                        children=[html.H2(heading, id="ward-vintage-h"), html.P(intro),
                                  html.Ul(items) if items else html.P("No overlapping wards found.")])


def profile_body(prof: profile.Profile) -> list:
    """Everything below the toolbar; rebuilt when the comparison ward changes."""
    themes = prof.themes()
    return [
        *([_standouts(prof)] if prof.standouts else []),
        _key_facts(prof),
        html.Div(className="place-and-peers", children=[_map_section(prof),
                                                         _similar_section(prof)]),
        html.Section(className="compare-section", **{"aria-labelledby": "ward-themes-h"},
                     children=[
            html.H2("How the ward compares", id="ward-themes-h"),
            html.P(["Each indicator's own period is under its name. ",
                    html.Strong("Better or worse is compared by direction only, not statistical "
                                "significance"),
                    ": we have no confidence intervals. Counts (residents, households, devices) "
                    "are compared with the median London ward. Rank 1st is the highest value. "
                    "On each bar better is to the right; where neither is better, higher is."],
                   className="hint"),
            spine_legend(similar=bool(prof.similar)),
            *[_theme_table(theme, rows, prof, i) for i, (theme, rows) in enumerate(themes)],
        ]),
        _ev_section(prof),
        *([_trends_section(prof)] if prof.trends else []),
        _vintage_section(prof),
        html.Section(className="sources", **{"aria-labelledby": "ward-sources-h"}, children=[
            html.H2("Sources", id="ward-sources-h"),
            html.Ul([html.Li([s.name, html.Span(f". {s.attribution}", className="screen-only")])
                     for s in prof.sources]),
            html.P(profile.VINTAGE_NOTES[prof.ward.layer], className="caption screen-only"),
        ]),
    ]


def profile_layout(prof: profile.Profile, messages: list, path_form: bool):
    ward = prof.ward
    return html.Div(id=IDS["wrapper"], className="ward-profile", **{"data-code": ward.code},
                    children=[
        dcc.Store(id=IDS["context"], data={"code": ward.code, "path_form": path_form}),
        dcc.Store(id=IDS["current"], data=ward.code),
        html.Div(messages, className="messages"),
        html.Div(className="ward-find no-print", children=[
            html.Section(className="filter-bar", **{"aria-label": "Find another ward"},
                         children=[_search("Find another ward")]),
        ]),
        html.Div(className="print-only print-head", children=[
            html.P("Borough Dashboards — ward profile", className="print-head__brand"),
            html.P(["Link to this profile: ", html.Span(id=IDS["link"], className="print-link")]),
            html.P(f"Printed {dt.date.today():%-d %B %Y}", className="print-head__date"),
        ]),
        *_header(prof),
        _toolbar(prof),
        html.Div(id=IDS["body"], children=profile_body(prof)),
        html.Div(className="no-print", children=_recent_block()),
    ])


# Page ---------------------------------------------------------------------------------------------
def layout(code: str | None = None, **query):
    store, known, tables = _context()
    defaults = filters.default_state(known)
    path_form = code is not None
    wanted, doubled = (code, []) if path_form else read_single(query, "ward", "ward")
    common = [dcc.Location(id=IDS["nav"], refresh="callback-nav"),
              dcc.Store(id=IDS["recent"], storage_type="local", data=[])]  # ward codes
    if not wanted or not wanted.strip():
        _, notes = parse({k: v for k, v in query.items() if k != "ward"}, known, defaults)
        return html.Div([*common, dcc.Store(id=QUERY, data=""),
                         dcc.Store(id=IDS["current"], data=None),
                         finder_layout(ui.messages(notes))])
    ward = profile.ward_info(tables.layers, wanted)
    if ward is None:
        return html.Div([*common, dcc.Store(id=QUERY, data=None),
                         dcc.Store(id=IDS["current"], data=None),
                         not_found_layout(wanted, [])])
    state, notes = parse({**query, "ward": ward.code, "layer": ward.layer}, known, defaults)
    notes = [*doubled, *notes]
    compare = profile.ward_info(tables.layers, state.compare) if state.compare else None
    prof = _build(ward, compare)
    return html.Div([*common,
                     dcc.Store(id=QUERY, data=_query(known, ward, state.compare, path_form)),
                     profile_layout(prof, ui.messages(notes), path_form)])


# Callbacks ----------------------------------------------------------------------------------------
@callback(Output(IDS["nav"], "href"), Input(IDS["search"], "value"), prevent_initial_call=True)
def open_from_search(code):
    ward = profile.ward_info(runtime.tables().layers, code)
    return ward.path if ward else no_update


@callback(Output(IDS["nav"], "href", allow_duplicate=True), Input(IDS["map"], "clickData"),
          prevent_initial_call=True)
def open_from_map(click):
    point = ((click or {}).get("points") or [{}])[0]
    ward = profile.ward_info(runtime.tables().layers, point.get("location"))
    return ward.path if ward else no_update


@callback(Output(IDS["map"], "figure"), Input(IDS["borough"], "value"), prevent_initial_call=True)
def show_borough(borough):
    if borough not in runtime.known().boroughs:
        return no_update
    return _finder_figure(borough)


@callback(Output(IDS["body"], "children"), Output(QUERY, "data", allow_duplicate=True),
          Output(IDS["pdf"], "href"),
          Input(IDS["compare"], "value"), State(IDS["context"], "data"),
          prevent_initial_call=True)
def change_compare(compare_code, context):
    tables, known = runtime.tables(), runtime.known()
    ward = profile.ward_info(tables.layers, (context or {}).get("code"))
    if ward is None:
        return no_update, no_update, no_update
    compare = profile.ward_info(tables.layers, compare_code)
    if compare is not None and (compare.layer != ward.layer or compare.code == ward.code):
        compare = None
    prof = _build(ward, compare)
    code = compare.code if compare else None
    return (profile_body(prof), _query(known, ward, code, bool(context.get("path_form"))),
            _pdf_href(ward, code))


@callback(Output(IDS["download"], "data"), Input(IDS["csv"], "n_clicks"),
          Input(IDS["xlsx"], "n_clicks"), State(IDS["context"], "data"),
          State(IDS["compare"], "value"), State(IDS["link"], "children"),
          prevent_initial_call=True)
def download(_csv, _xlsx, context, compare_code, link):
    tables = runtime.tables()
    ward = profile.ward_info(tables.layers, (context or {}).get("code"))
    if ward is None:
        return no_update
    prof = _build(ward, profile.ward_info(tables.layers, compare_code))
    now = dt.datetime.now().replace(microsecond=0)
    meta = profile.export_meta(prof, link if isinstance(link, str) and link else ward.path, now)
    frame = profile.export_frame(prof)
    title = f"ward profile {ward.name} {ward.borough_name} {ward.layer}"
    if ctx.triggered_id == IDS["xlsx"]:
        return dcc.send_bytes(export.to_xlsx_bytes(frame, meta), export.filename(title, "xlsx", now))
    return dcc.send_bytes(export.to_csv_bytes(frame, meta), export.filename(title, "csv", now))


@callback(Output(IDS["recent-list"], "children"), Input(IDS["recent"], "data"),
          State(IDS["current"], "data"))
def show_recent(codes, current):
    layers = runtime.tables().layers
    wards = [w for w in (profile.ward_info(layers, c) for c in (codes or [])[:profile.MAX_RECENT]
                         if isinstance(c, str)) if w and w.code != current]
    if not wards:
        return html.P("Wards you open are listed here, on this device only.", className="hint")
    return html.Ul([html.Li(dcc.Link(w.label, href=w.path)) for w in wards])


# Remember the ward in the browser (last five), reading what is saved first so that a page that
# opens before the store has loaded cannot overwrite the history.
clientside_callback(
    """
    function(current, _ts, data) {
        var saved = data;
        try {
            var raw = window.localStorage.getItem("%s");
            if (raw) { saved = JSON.parse(raw); }
        } catch (e) { saved = data; }
        saved = Array.isArray(saved) ? saved.filter(function(c) {
            return typeof c === "string" && /^[A-Z][0-9]{8}$/.test(c); }) : [];
        if (!current) {
            return JSON.stringify(saved) === JSON.stringify(data) ? window.dash_clientside.no_update : saved;
        }
        var next = [current].concat(saved.filter(function(c) { return c !== current; })).slice(0, %d);
        return JSON.stringify(next) === JSON.stringify(data) ? window.dash_clientside.no_update : next;
    }
    """ % (RECENT_KEY, profile.MAX_RECENT),
    Output(IDS["recent"], "data"),
    Input(IDS["current"], "data"),
    Input(IDS["recent"], "modified_timestamp"),
    State(IDS["recent"], "data"),
)

# The link printed on paper: this page's full address.
clientside_callback(
    """
    function(query) {
        var origin = window.__profileOrigin || window.location.origin;
        var q = query ? "?" + String(query).replace(/^\\?/, "") : "";
        return origin + window.location.pathname + q;
    }
    """,
    Output(IDS["link"], "children"),
    Input(QUERY, "data"),
)

clientside_callback(
    """
    function(n) {
        var on = (n || 0) % 2 === 1;
        return [on ? "ward-profile ward-profile--present" : "ward-profile", on ? "true" : "false",
                on ? "Leave present mode" : "Present"];
    }
    """,
    Output(IDS["wrapper"], "className"),
    Output(IDS["present"], "aria-pressed"),
    Output(IDS["present"], "children"),
    Input(IDS["present"], "n_clicks"),
    prevent_initial_call=True,
)

# Paper cannot print the map's WebGL canvas: once the map has drawn, a PNG of it is put in the
# print-only image beside it (the server's PDF waits for it).
clientside_callback(
    """
    function(figure) {
        var nothing = window.dash_clientside.no_update;
        return new Promise(function(resolve) {
            var tries = 0;
            function attempt() {
                var gd = document.querySelector("#ward-locator .js-plotly-plot");
                var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
                var map = sub && sub.map;
                if (map && map.loaded() && map.areTilesLoaded()) {
                    var size = gd._fullLayout;
                    window.Plotly.toImage(gd, {format: "png", width: size.width,
                                               height: size.height, scale: 2})
                        .then(resolve, function() { resolve(nothing); });
                } else if (tries++ < 200) {
                    window.setTimeout(attempt, 150);
                } else {
                    resolve(nothing);
                }
            }
            attempt();
        });
    }
    """,
    Output("ward-locator-print", "src"),
    Input("ward-locator", "figure"),
)

clientside_callback(
    """
    function(n) { if (n) { window.print(); } return window.dash_clientside.no_update; }
    """,
    Output(IDS["print"], "title"),
    Input(IDS["print"], "n_clicks"),
    prevent_initial_call=True,
)
