"""HTTP behaviour of the production server: headers, compression, caching, errors."""
from __future__ import annotations

import json
import re

import requests

from dashboard.core.app import PLOTLY_JS_ROUTE
from dashboard.core.geo import GeoAssets
from dashboard.core.config import DEFAULT_DATA_DIR


def test_security_headers_on_pages_and_callbacks(app_url):
    for path in ("/", "/_dash-layout"):
        r = requests.get(app_url + path, timeout=30)
        assert r.status_code == 200
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in r.headers["Permissions-Policy"]
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers.get("X-Request-ID")


def test_dev_tools_are_off(app_url):
    html = requests.get(app_url + "/", timeout=30).text
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)'
                                  r"</script>", html).group(1))
    assert config["ui"] is False
    assert config["props_check"] is False
    assert '"hot_reload"' not in html


def test_geometry_is_compressed_and_cached_for_a_year(app_url):
    urls = GeoAssets(DEFAULT_DATA_DIR).urls.values()
    assert len(urls) == 3
    for url in urls:
        r = requests.get(app_url + url, headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert r.status_code == 200
        assert r.headers["Content-Encoding"] == "gzip"
        assert "immutable" in r.headers["Cache-Control"]
        assert "max-age=31536000" in r.headers["Cache-Control"]
        assert r.json()["type"] == "FeatureCollection"
    assert requests.get(app_url + "/geo/borough.000000000000.json", timeout=30).status_code == 404


def test_graphs_get_the_partial_plotly_bundle_compressed_and_revalidated(app_url):
    url = app_url + PLOTLY_JS_ROUTE
    r = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert "partial bundle: scatter, bar" in r.text[:300]
    assert r.headers["Cache-Control"] == "no-cache"
    again = requests.get(url, headers={"If-None-Match": r.headers["ETag"]}, timeout=30)
    assert again.status_code == 304


def test_json_responses_are_compressed(app_url):
    r = requests.get(app_url + "/_dash-layout", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert r.headers.get("Content-Encoding") in {"gzip", "br"}


def test_oversized_upload_is_refused(app_url):
    r = requests.post(app_url + "/_dash-update-component", data=b"x" * (6 * 1024 * 1024),
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
