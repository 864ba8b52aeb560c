"""Files the server sends from memory: compressed once, answered gzipped or plain, with an ETag.

Used for the web boundary layers (``/geo/<layer>.<hash>.json``), every charge device's position
(``/ev-points/points.<hash>.json``), every ward picker's options
(``/ward-options/wards.<hash>.json``) and the app's plotly.js bundle. Fingerprinted URLs are kept
by browsers for a year; the plotly.js URL is Dash's own and carries no fingerprint, so it is
revalidated (a matching ``If-None-Match`` is answered 304).
"""
from __future__ import annotations

import gzip
import hashlib
import json
from typing import Callable

import flask

YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
REVALIDATE = "no-cache"


class Packed:
    """``raw`` bytes and their gzip, made once; ``etag`` defaults to a hash of the content."""

    def __init__(self, raw: bytes, etag: str | None = None):
        self.raw = raw
        self.packed = gzip.compress(raw, compresslevel=9, mtime=0)
        self.digest = hashlib.sha256(raw).hexdigest()
        self.etag = etag or self.digest[:16]

    def response(self, mimetype: str, cache_control: str) -> flask.Response:
        """The response to the current request (gzipped when the client accepts it)."""
        request = flask.request
        if self.etag in request.if_none_match:
            response = flask.Response(status=304)
        elif "gzip" in request.headers.get("Accept-Encoding", ""):
            response = flask.Response(self.packed, mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = flask.Response(self.raw, mimetype=mimetype)
        response.direct_passthrough = True  # already compressed: flask-compress leaves it alone
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = cache_control
        response.headers["ETag"] = f'"{self.etag}"'
        return response


def fingerprinted(stem: str, raw: bytes) -> tuple[str, Packed]:
    """(name, bytes) of a JSON file named ``<stem>.<hash of the content>.json``, so that the
    browser may keep it for a year (the name is its ETag)."""
    name = f"{stem}.{hashlib.sha256(raw).hexdigest()[:12]}.json"
    return name, Packed(raw, etag=name)


def json_file(stem: str, value) -> tuple[str, Packed]:
    """``fingerprinted`` of ``value`` as compact JSON."""
    return fingerprinted(stem, json.dumps(value, separators=(",", ":"),
                                          ensure_ascii=False).encode())


def add_json_route(server, route: str, endpoint: str,
                   current: Callable[[], tuple[str, Packed]]) -> None:
    """Serve the file ``current()`` names (a ``json_file``) at ``route + name``, immutable; any
    other name is 404. Added once per server."""
    def serve(name: str):
        found, packed = current()
        if name != found:
            flask.abort(404)
        return packed.response("application/json", IMMUTABLE)

    if endpoint not in server.view_functions:
        server.add_url_rule(route + "<name>", endpoint, serve)
