"""Shared page components: messages, KPI cards, the simulated label, the filter bar, exports.

Pure layout builders: they take data and return Dash components; they never read files.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from dash import dcc, html

SIMULATED_TEXT = "Simulated usage"
SIMULATED_TITLE = ("Usage figures are simulated from real Dundee and Perth charging sessions; "
                   "London charge-point usage is not published.")


def simulated_label(text: str = SIMULATED_TEXT) -> html.Span:
    """The visible label on every usage figure, chart, table and export."""
    return html.Span(text, className="sim-label", title=SIMULATED_TITLE,
                     **{"data-simulated": "true"})


def messages(items: Sequence) -> list:
    """Render parse messages (objects with ``level`` and ``text``) as one accessible notice."""
    if not items:
        return []
    warning = any(getattr(m, "level", "info") == "warning" for m in items)
    return [html.Div(
        className="message message--warning" if warning else "message",
        role="alert" if warning else "status",
        children=[
            html.P("We could not use part of this link" if warning else "Please note",
                   className="message__title"),
            html.Ul([html.Li(m.text) for m in items]),
        ],
    )]


def kpi(label: str, value: str, note: str | None = None, *, simulated: bool = False,
        kpi_id: str | None = None) -> html.Li:
    """One headline figure: label, big value, a short note (period, source, comparison)."""
    children = [html.P(label, className="kpi__label"),
                html.P(value, className="kpi__value", id=kpi_id) if kpi_id
                else html.P(value, className="kpi__value")]
    if note:
        children.append(html.P(note, className="kpi__note"))
    if simulated:
        children.append(simulated_label())
    return html.Li(children, className="kpi kpi--sim" if simulated else "kpi")


def kpi_list(cards: Iterable[html.Li], list_id: str | None = None) -> html.Ul:
    props = {"id": list_id} if list_id else {}
    return html.Ul(list(cards), className="kpis", **props)


def field(label: str, control, control_id: str, hint: str | None = None,
          narrow: bool = False) -> html.Div:
    parts = [html.Label(label, htmlFor=control_id)]
    if hint:
        parts.append(html.Span(hint, className="hint"))
    parts.append(control)
    return html.Div(parts, className="field field--narrow" if narrow else "field")


def dropdown(control_id: str, options: list[dict], value, *, placeholder: str,
             multi: bool = False, clearable: bool = True, searchable: bool = True) -> dcc.Dropdown:
    return dcc.Dropdown(id=control_id, options=options, value=value, placeholder=placeholder,
                        multi=multi, clearable=clearable, searchable=searchable)


def filter_bar(prefix: str, *, boroughs: list[dict], wards: list[dict], months: list[dict],
               state, extra: Sequence = ()) -> html.Section:
    """Borough, ward and period controls that every page reuses (ids prefixed by the page)."""
    return html.Section(
        className="filter-bar",
        **{"aria-label": "Filters"},
        children=[
            field("Borough", dropdown(f"{prefix}-borough", boroughs, state.borough,
                                      placeholder="All of London"), f"{prefix}-borough"),
            field("Ward", dropdown(f"{prefix}-ward", wards, state.ward,
                                   placeholder="All wards"), f"{prefix}-ward"),
            field("From", dropdown(f"{prefix}-from", months, state.date_from,
                                   placeholder="Start", clearable=False), f"{prefix}-from",
                  narrow=True),
            field("To", dropdown(f"{prefix}-to", months, state.date_to, placeholder="End",
                                 clearable=False), f"{prefix}-to", narrow=True),
            *extra,
        ],
    )


def export_bar(prefix: str, what: str) -> html.Div:
    """CSV and XLSX download buttons plus the Download component they feed."""
    return html.Div(className="export-bar", children=[
        html.Button(f"Download {what} (CSV)", id=f"{prefix}-csv", className="button button--secondary",
                    n_clicks=0),
        html.Button(f"Download {what} (Excel)", id=f"{prefix}-xlsx",
                    className="button button--secondary", n_clicks=0),
        dcc.Download(id=f"{prefix}-download"),
    ])


def source_note(text: str) -> html.P:
    return html.P(text, className="caption")
