"""Hostile links, malformed callback bodies and path probes against the app in-process.

The fast part of ``python -m bench.reliability``: the same generated cases (``bench.hostile``),
sent through Flask's test client of ``create_app()`` instead of gunicorn, a bounded number of
examples each. Hypothesis is derandomised, so each run tries the same cases.
"""
from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import hostile

UPDATE = "/_dash-update-component"
PAGE_PATHS = ("/", "/ev", "/needs", "/ward/E05014098", "/sources", "/ward")
FAST = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


class Errors(logging.Handler):
    """Keeps every log record at ERROR or above, and every record carrying a traceback."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def take(self) -> list[str]:
        found = [f"{r.levelname} {r.name}: {r.getMessage()[:200]}"
                 + (f" ({r.exc_info[0].__name__})" if r.exc_info and r.exc_info[0] else "")
                 for r in self.records]
        self.records.clear()
        return found


@pytest.fixture(scope="module")
def app():
    from dashboard.core.app import create_app
    return create_app()


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def errors():
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.fixture(scope="module")
def deps(client):
    return client.get("/_dash-dependencies").get_json()


@pytest.fixture(scope="module")
def router(deps):
    return next(d for d in deps if "_pages_content.children" in d["output"])


def route(client, router, pathname: str, search: str):
    """The request the browser's page router sends to render the page at an address."""
    body = hostile.base_body(router, {})
    body["inputs"] = [{"id": "_pages_location", "property": "pathname", "value": pathname},
                      {"id": "_pages_location", "property": "search", "value": search}]
    body["changedPropIds"] = ["_pages_location.pathname"]
    return client.post(UPDATE, json=body)


@pytest.fixture(scope="module")
def valid(client, router, deps):
    """A valid body for every server callback, filled from the pages' default layouts."""
    props = {"_pages_location": {"pathname": "/ev", "search": ""}}
    for path in PAGE_PATHS:
        hostile.walk(route(client, router, path, "").get_json(), props)
    return hostile.bases([d for d in deps if not d.get("clientside_function")], props)


@settings(FAST, max_examples=20)
@given(link=hostile.links())
def test_hostile_links_keep_the_page_and_never_echo_markup(client, router, errors, link):
    errors.take()
    page = client.get(link.url)
    problems = hostile.check_html(link, page.status_code, page.get_data(as_text=True))
    layout = route(client, router, link.path, "?" + link.query if link.query else "")
    problems += hostile.check_layout(link, layout.status_code, layout.get_json(silent=True))
    assert not problems, link.url
    assert errors.take() == [], link.url


def test_every_callback_answers_a_valid_body(client, valid, errors):
    errors.take()
    statuses = {b["output"][:60]: client.post(UPDATE, json=b).status_code for b in valid}
    assert len(valid) >= 20
    assert {k: v for k, v in statuses.items() if v not in (200, 204)} == {}
    assert errors.take() == []


@settings(FAST, max_examples=60)
@given(data=st.data())
def test_malformed_callback_bodies_are_refused_without_a_traceback(client, valid, errors, data):
    body = data.draw(hostile.bodies(valid))
    errors.take()
    resp = client.post(UPDATE, data=hostile.encode_body(body.text),
                       content_type="application/json")
    assert resp.status_code < 500, (body.label, body.output)
    if body.label in hostile.RAW_BODIES:   # not a dispatch body at all
        assert resp.status_code == 400, body.label
        assert resp.is_json
    assert errors.take() == [], (body.label, body.output)


WRONG_TYPES = ("list", "dict", "bool", "1e308", "NaN", "month 2025-13")


def test_callback_inputs_of_the_wrong_type_get_no_500(client, valid, errors):
    # Every kind of wrong value once in the first input of every callback (the generated test
    # above samples every kind; this covers each pair for the commonest).
    errors.take()
    failing = []
    for body in valid:
        for kind in WRONG_TYPES:
            text = hostile._with_value(body, "inputs", 0, hostile.BAD_VALUES[kind]())
            status = client.post(UPDATE, data=text.encode(),
                                 content_type="application/json").status_code
            if status >= 500:
                failing.append((body["output"][:50], kind, status))
    assert failing == []
    assert errors.take() == []


def test_path_probes_get_no_500_and_unknown_pages_a_404(client, errors):
    errors.take()
    wrong = []
    for probe in hostile.probes():
        status = client.open(probe.path, method=probe.method).status_code
        if status >= 500 or (probe.expect_404 and status != 404):
            wrong.append(f"{probe.method} {probe.path[:80]} -> {status}")
    assert wrong == []
    assert errors.take() == []
