"""Every ward picker's options, sent to the browser once instead of with each borough change.

A ward picker lists the wards of the chosen borough, or every ward of London (704 for the 2022
boundaries, labelled "Ward (Borough)", about 43 KB of JSON). Rather than answer each borough
change with a new list, the server offers all of them, for every ward layer and borough, as one
fingerprinted file (``/ward-options/wards.<hash>.json``, kept by the browser for a year), and
``assets/ward-options.js`` picks the right list in the browser when the borough changes. The
lists are ``filters.ward_options``, so they read exactly as the server would have sent them.
"""
from __future__ import annotations

import hashlib
import json

import flask
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc

from dashboard import filters
from dashboard.memo import derived
from dashboard.served import IMMUTABLE, Packed
from dashboard.state import Known

ROUTE = "/ward-options/"


def lists(known: Known) -> dict[str, dict[str, list[dict]]]:
    """Options per ward layer, per borough code ("" for all of London)."""
    return {layer: {"": filters.ward_options(known, layer, None),
                    **{code: filters.ward_options(known, layer, code)
                       for code in sorted(known.boroughs)}}
            for layer in sorted(known.wards)}


def _pack(known: Known) -> tuple[str, Packed]:
    raw = json.dumps(lists(known), separators=(",", ":"), ensure_ascii=False).encode()
    name = f"wards.{hashlib.sha256(raw).hexdigest()[:12]}.json"
    return name, Packed(raw, etag=name)


def _file(known: Known) -> tuple[str, Packed]:
    """(name, bytes) of the lists, made once per ``Known``."""
    return derived(known, "ward-lists", _pack)


def url(known: Known) -> str:
    return ROUTE + _file(known)[0]


def _serve(name: str):
    from dashboard import runtime

    found, packed = _file(runtime.known())
    if name != found:
        flask.abort(404)
    return packed.response("application/json", IMMUTABLE)


def register_routes(server) -> None:
    """Add the ward-lists route to the Flask server (once)."""
    if "ward_lists" not in server.view_functions:
        server.add_url_rule(ROUTE + "<name>", "ward_lists", _serve)


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


def source(store_id: str, known: Known, layers: list[str]) -> dcc.Store:
    """The store ``follow_borough`` reads: the lists' URL and the layers, in output order."""
    return dcc.Store(id=store_id, data={"url": url(known), "layers": layers})
