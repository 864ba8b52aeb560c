"""Routes and faults through Flask's test client: 404s, headers, health, HEAD, links read as the
state rules say, damaged caches rebuilt and a data folder that cannot serve stopping start-up."""
from __future__ import annotations

import dataclasses
import logging
import re

import duckdb
import flask
import pytest

from dashboard.core import pdf
from dashboard.views.ward import model as profile
from dashboard.core import runtime
from dashboard.data import schema
from dashboard.core.app import _server, create_app
from dashboard.core.geo import GeoAssets
from dashboard.core.config import DEFAULT_DATA_DIR, Config
from dashboard.data.store import TABLES_NAME, ensure_tables

from tests.unit.test_boundary import body, post

WARD = "E05014096"


@pytest.mark.parametrize("path", ["/dash/%00", "/os/path.py", "/dash/deps/",
                                  "/dash/..%2f..%2fapp.py", "/dash/..%2fdash.py",
                                  "/no_such_package/x.js", "/sys/x.js"])
def test_component_suite_paths_it_cannot_serve_are_404(client, path):
    assert client.get("/_dash-component-suites" + path).status_code == 404


@pytest.mark.parametrize("path", ["/.git/config", "/app.py", "/evx", "/404"])
def test_unknown_paths_are_404_with_the_app_around_them(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "_dash-config" in r.get_data(as_text=True)  # the app, which shows its not-found view


@pytest.mark.parametrize("path", ["/", "/ev", "/needs", "/ward", f"/ward/{WARD}", "/sources"])
def test_pages_are_200(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("sent,kept", [("abc-123_XYZ", True), ("a" * 64, True),
                                       ("a" * 65, False), ("<img src=x onerror=alert(1)>", False),
                                       ("a b", False), ("id\u00e9", False)])
def test_a_request_id_is_kept_only_when_short_and_plain(client, sent, kept):
    r = client.get("/healthz", headers={"X-Request-ID": sent})
    echoed = r.headers["X-Request-ID"]
    assert (echoed == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", echoed)


def _bare_server(**config) -> flask.Flask:
    server = _server(Config(**config), GeoAssets(DEFAULT_DATA_DIR))

    @server.before_request
    def _hostile_id():  # as if an id had slipped through: the error page must still escape it
        flask.g.request_id = "<img src=x onerror=alert(1)>"

    @server.route("/boom")
    def _boom():
        raise RuntimeError("boom")

    return server


def test_the_error_page_escapes_the_request_id(caplog):
    with caplog.at_level(logging.CRITICAL):
        r = _bare_server().test_client().get("/boom")
    assert r.status_code == 500
    text = r.get_data(as_text=True)
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_hsts_is_sent_only_when_configured(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    r = _bare_server(hsts=True).test_client().get("/nothing")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert Config.from_env({"BD_HSTS": "1"}).hsts and not Config.from_env({}).hsts


def test_healthz_is_ok_when_the_data_and_store_answer(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_healthz_is_503_when_the_store_cannot_answer(client, dash_app, monkeypatch, caplog):
    def broken():
        raise duckdb.IOException("not a valid DuckDB database file")

    monkeypatch.setattr(runtime.store(), "_connection", broken)
    with caplog.at_level(logging.WARNING):
        r = client.get("/healthz")
    assert r.status_code == 503
    assert r.get_json() == {"status": "not ready", "reason": "the data store cannot answer a query"}
    assert "Traceback" not in caplog.text


def test_healthz_is_503_and_names_missing_data_files(client, monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "_config", dataclasses.replace(runtime.config(),
                                                                data_dir=tmp_path))
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.get_json()["reason"].startswith("data files missing: chargepoints.parquet")


def test_head_on_the_pdf_route_answers_without_making_the_pdf(client, monkeypatch):
    def no_browser(*_args, **_kwargs):
        raise AssertionError("HEAD must not render the PDF")

    monkeypatch.setattr(pdf, "render", no_browser)
    r = client.head(f"/ward/{WARD}/profile.pdf")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"]
    assert client.head("/ward/E05999999/profile.pdf").status_code == 404


def _page(dash_app, client, pathname: str, search: str = "") -> str:
    payload = body(dash_app, "_pages_content.children",
                   values={"_pages_location.pathname": pathname,
                           "_pages_location.search": search})
    r = post(client, payload)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_a_percent_encoded_ward_code_in_the_path_opens_the_profile(dash_app, client):
    encoded = _page(dash_app, client, "/ward/%45%30%35014096")
    assert "ward-not-found" not in encoded
    assert f'"code": "{WARD}"' in encoded or f'"code":"{WARD}"' in encoded
    assert profile.ward_info(runtime.tables().layers, "%45%30%35014096").code == WARD


def test_an_unknown_chart_interval_is_explained(dash_app, client):
    text = _page(dash_app, client, "/ev", "?freq=fortnight")
    assert "We couldn't find the chart interval 'fortnight'" in text
    assert "chart interval" not in _page(dash_app, client, "/ev", "?freq=week")


def test_a_doubled_ward_on_the_ward_page_uses_the_first_and_says_so(dash_app, client):
    other = next(w.code for w in profile.all_wards(runtime.tables().layers) if w.code != WARD)
    text = _page(dash_app, client, "/ward", f"?ward={WARD}&ward={other}")
    assert "The link gave more than one ward, so we used the first" in text
    assert "ward-not-found" not in text and WARD in text


# Faults ------------------------------------------------------------------------------------------
def _indicator_rows(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM indicators").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("damage", ["truncated", "not duckdb", "empty"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path, damage):
    path = ensure_tables(DEFAULT_DATA_DIR, tmp_path)
    rows = _indicator_rows(path)
    size = path.stat().st_size
    if damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "not duckdb":
        path.write_bytes(b"\0" * size)
    else:
        path.write_bytes(b"")
    with pytest.raises(duckdb.Error):
        _indicator_rows(path)
    assert ensure_tables(DEFAULT_DATA_DIR, tmp_path) == tmp_path / TABLES_NAME
    assert _indicator_rows(path) == rows


@pytest.mark.parametrize("make,what", [(lambda p: p / "missing", "does not exist"),
                                       (lambda p: p, "is missing chargepoints.parquet")])
def test_a_data_folder_that_cannot_serve_stops_start_up_with_one_line(tmp_path, caplog, make,
                                                                      what):
    folder = make(tmp_path)
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stop:
        create_app(Config(data_dir=folder, cache_dir=tmp_path / "cache"))
    assert stop.value.code == 1
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1
    assert str(folder) in lines[0].getMessage() and what in lines[0].getMessage()
    assert not (tmp_path / "cache").exists()


def test_every_required_data_file_is_in_the_committed_data():
    assert schema.missing_files(DEFAULT_DATA_DIR) == []


def test_a_link_over_gunicorns_limit_gets_a_plain_english_page():
    from gunicorn.http.errors import InvalidRequestLine, LimitRequestHeaders, LimitRequestLine

    from dashboard.core.worker import too_large_response

    response = too_large_response(LimitRequestLine(5019, 4094)).decode()
    assert response.startswith("HTTP/1.1 414 URI Too Long\r\n")
    head, page = response.split("\r\n\r\n", 1)
    assert f"Content-Length: {len(page.encode())}" in head
    assert "<h1>This link is too long</h1>" in page and 'href="/"' in page
    assert too_large_response(LimitRequestHeaders("too many")).startswith(b"HTTP/1.1 431 ")
    assert too_large_response(InvalidRequestLine("x")) is None


def test_cache_files_deleted_while_serving_are_rebuilt_and_pages_still_answer(dash_app, client):
    store = runtime.store()
    files = store._cache_files()
    assert client.get("/healthz").status_code == 200 and all(p.exists() for p in files)
    for path in files:
        path.unlink()
    assert store.restore_cache() is True
    store._restoring.join(timeout=120)
    assert all(p.exists() for p in files)
    assert store.restore_cache() is False
    assert client.get("/healthz").get_json() == {"status": "ok"}
    r = post(client, body(dash_app, "ev-heading.children", values={"ev-borough.value": "E09000022"}))
    assert r.status_code == 200 and "Lambeth" in r.get_data(as_text=True)


def test_a_cache_file_damaged_inside_is_rebuilt_when_the_store_reopens(dash_app, client, caplog):
    store = runtime.store()
    path = store._cache_files()[0]
    size = path.stat().st_size
    store.close()
    with open(path, "r+b") as f:  # same size and header, nothing readable after it
        f.seek(4096)
        f.write(b"\xff" * (size - 4096))
    with caplog.at_level(logging.WARNING):
        assert client.get("/healthz").get_json() == {"status": "ok"}
    assert "rebuilding it" in caplog.text and "Traceback" not in caplog.text
    assert _indicator_rows(path) > 0
