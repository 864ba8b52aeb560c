"""Every ward picker's options, sent to the browser once instead of with each borough change.

A ward picker lists the wards of the chosen borough, or every ward of London (704 for the 2022
boundaries, labelled "Ward (Borough)", about 43 KB of JSON). Rather than answer each borough
change with a new list, the server offers all of them, for every ward layer and borough, as one
fingerprinted file (``/ward-options/wards.<hash>.json``, kept by the browser for a year), and
``assets/ward-options.js`` picks the right list in the browser when the borough changes. The
lists are ``filters.ward_options``, so they read exactly as the server would have sent them.
"""
from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc

from dashboard.domain import filters
from dashboard.core.memo import derived
from dashboard.core.served import Packed, add_json_route, json_file
from dashboard.domain.state import Known

ROUTE = "/ward-options/"


def lists(known: Known) -> dict[str, dict[str, list[dict]]]:
    """Options per ward layer, per borough code ("" for all of London)."""
    return {layer: {"": filters.ward_options(known, layer, None),
                    **{code: filters.ward_options(known, layer, code)
                       for code in sorted(known.boroughs)}}
            for layer in sorted(known.wards)}


def _file(known: Known) -> tuple[str, Packed]:
    """(name, bytes) of the lists (``served.json_file``), made once per ``Known``."""
    return derived(known, "ward-lists", lambda k: json_file("wards", lists(k)))


def url(known: Known) -> str:
    return ROUTE + _file(known)[0]


def register_routes(server) -> None:
    """Add the ward-lists route to the Flask server (once)."""
    from dashboard.core import runtime

    add_json_route(server, ROUTE, "ward_lists", lambda: _file(runtime.known()))


def follow_borough(store_id: str, borough_id: str, pickers: dict[str, str]) -> None:
    """Refill ward pickers (``{ward layer: dropdown id}``) in the browser whenever the borough
    dropdown's value changes, from the lists at the URL held by the ``source`` store. Call once
    per page, at import."""
    layers = list(pickers)
    clientside_callback(
        ClientsideFunction(namespace="wardOptions", function_name="follow"),
        [Output(pickers[layer], "options") for layer in layers],
        Input(borough_id, "value"),
        State(store_id, "data"),
        prevent_initial_call=True,
    )


def source(store_id: str, known: Known, pickers: dict[str, str]) -> dcc.Store:
    """The store ``follow_borough`` reads: the lists' URL and the layers of ``pickers`` (the
    same mapping as given to ``follow_borough``), in its output order."""
    return dcc.Store(id=store_id, data={"url": url(known), "layers": list(pickers)})
