"""Overview page and the app shell in a real browser: map, filters in the URL, bad links, a11y."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboard.data import schema
from dashboard.core.config import DEFAULT_DATA_DIR
from tests.browser.conftest import (axe_serious, describe, new_context, pick_with_keys,
                                    rendered_areas)

LAMBETH = "E09000022"
MAP = "#ov-map .js-plotly-plot"


def _indicator(indicator_id: str, layer: str, code: str) -> float:
    ind = pd.read_parquet(schema.indicators_path(DEFAULT_DATA_DIR))
    cat = pd.read_csv(schema.catalogue_path(DEFAULT_DATA_DIR)).set_index("indicator_id")
    period = str(cat.at[indicator_id, "default_period"])
    hit = ind[(ind.indicator_id == indicator_id) & (ind.layer == layer) & (ind.code == code)
              & (ind.period == period)]
    return float(hit["value"].iloc[0])


def _map_areas(page, expected: int) -> int:
    """Distinct areas MapLibre actually rendered in the values trace (by their centroids)."""
    return rendered_areas(page, MAP, expected)


def _click_map_at(page, lon: float, lat: float) -> None:
    rendered_areas(page, MAP)  # loaded and still: a pixel then stays on the same place
    x, y = page.evaluate("""([lon, lat]) => {
        const gd = document.querySelector('#ov-map .js-plotly-plot');
        const map = gd._fullLayout.map._subplot.map;
        const p = map.project([lon, lat]);
        const r = map.getCanvas().getBoundingClientRect();
        return [p.x + r.left, p.y + r.top];
    }""", [lon, lat])
    page.mouse.click(x, y)


def test_overview_map_draws_all_33_boroughs(app_url, probe):
    probe.goto(app_url + "/", ready=MAP)
    assert probe.page.inner_text("h1") == "London at a glance"
    assert _map_areas(probe.page, 33) == 33
    assert probe.console_errors == []


def test_borough_link_shows_lambeths_figures(app_url, probe):
    probe.goto(f"{app_url}/?borough={LAMBETH}", ready=MAP)
    page = probe.page
    assert page.inner_text("h1") == "Lambeth at a glance"
    residents = _indicator("usual_residents", "borough", LAMBETH)
    devices = _indicator("ev_public_devices", "borough", LAMBETH)
    kpis = page.inner_text("#ov-kpis")
    assert f"{residents:,.0f}" in kpis
    assert f"{devices:,.0f}" in kpis
    assert "London: 8,799,492" in kpis
    # Lambeth's 2022 wards are drawn, not the London boroughs.
    wards = pd.read_parquet(schema.layer_path(DEFAULT_DATA_DIR, "ward2022"),
                            columns=["borough_code"])
    lambeth_wards = int((wards.borough_code == LAMBETH).sum())
    assert _map_areas(page, lambeth_wards) == lambeth_wards
    assert probe.console_errors == []


def test_bad_link_explains_and_falls_back(app_url, probe):
    bad = ("/?borough=E09999999&ward=%3Cscript%3Ealert(1)%3C%2Fscript%3E&from=2026-13"
           "&to=yesterday&speed=warp")
    probe.goto(app_url + bad, ready=MAP)
    page = probe.page
    alert = page.locator("[role=alert]")
    assert alert.is_visible()
    text = alert.inner_text()
    assert "We could not use part of this link" in text
    assert "<script>" not in text and "alert(1)" not in page.content().split("</h1>")[0][-2000:]
    assert page.inner_text("h1") == "London at a glance"
    assert _map_areas(page, 33) == 33
    assert probe.console_errors == []


def test_filter_change_sends_values_not_geometry_and_writes_the_url(app_url, probe):
    probe.goto(app_url + "/", ready=MAP)
    page = probe.page
    probe.callbacks.clear()
    page.focus("#ov-borough")
    pick_with_keys(page, "Lambeth", f"() => location.search === '?borough={LAMBETH}'")
    page.wait_for_function("() => document.querySelector('h1').innerText.startsWith('Lambeth')")
    probe.wait_idle()
    updates = [c for c in probe.callbacks if "ov-map" in c["request"]]
    assert updates, "no map update was sent"
    biggest = max(c["bytes"] for c in updates)
    assert biggest < 20_000, f"map update was {biggest} bytes"
    assert all(b'"coordinates"' not in c["body"] for c in updates)
    # A reload reopens the same view from the address bar.
    page.reload(wait_until="networkidle")
    page.wait_for_selector(MAP)
    assert page.inner_text("h1") == "Lambeth at a glance"


def test_clicking_the_map_selects_a_borough_then_back_returns(app_url, probe):
    probe.goto(app_url + "/", ready=MAP)
    page = probe.page
    _click_map_at(page, -0.115, 51.46)  # inside Lambeth
    page.wait_for_function("() => document.querySelector('h1').innerText.startsWith('Lambeth')")
    page.wait_for_function(f"() => location.search === '?borough={LAMBETH}'")
    page.click("text=Data & sources")
    page.wait_for_selector("h1:has-text('Data and sources')")
    page.go_back()
    page.wait_for_function("() => document.querySelector('h1').innerText.startsWith('Lambeth')")
    assert probe.console_errors == []


@pytest.mark.parametrize("path", ["/", "/sources", "/no-such-page"])
def test_pages_have_no_serious_accessibility_violations(app_url, probe, path):
    probe.goto(app_url + path)
    probe.wait_idle()
    violations = axe_serious(probe.page)
    assert not violations, describe(violations)
    errors = probe.console_errors
    if path == "/no-such-page":
        # The address is answered with a 404 status (and the app's not-found view), which
        # Chromium reports once; nothing else may fail.
        assert errors[:1] == ["Failed to load resource: the server responded with a status of "
                              "404 (NOT FOUND)"]
        errors = errors[1:]
    assert errors == []


def test_unknown_page_says_not_found(app_url, probe):
    probe.goto(app_url + "/no-such-page")
    assert probe.page.inner_text("h1") == "Page not found"


def test_sources_catalogue_search_narrows_the_table(app_url, probe):
    probe.goto(app_url + "/sources")
    page = probe.page
    total = len(pd.read_csv(schema.catalogue_path(DEFAULT_DATA_DIR)))
    assert page.inner_text("#src-count") == f"Showing {total} of {total} indicators."
    page.fill("#src-search", "nitrogen")
    page.wait_for_function("() => !document.querySelector('#src-count').innerText"
                           f".startsWith('Showing {total} ')")
    rows = page.locator("#src-table tbody tr")
    assert rows.count() >= 1
    assert all("nitrogen" in rows.nth(i).inner_text().lower() for i in range(rows.count()))
    assert "Simulated" in page.inner_text("main")


@pytest.mark.parametrize("path", ["/", "/sources"])
def test_fits_a_phone_screen(browser, app_url, path):
    context = new_context(browser, width=375, height=740)
    page = context.new_page()
    page.goto(app_url + path, wait_until="networkidle")
    page.wait_for_selector("h1")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    context.close()
    assert overflow <= 375, f"{path} is {overflow}px wide on a 375px screen"


def _coverage_cases():
    """London, Lambeth and Lambeth's ward with most devices: (query, place, devices, DfT)."""
    devices = pd.read_parquet(schema.chargepoints_path(DEFAULT_DATA_DIR),
                              columns=["borough_code", "ward2022_code"])
    wards = pd.read_parquet(schema.layer_path(DEFAULT_DATA_DIR, "ward2022"),
                            columns=["code", "name"]).set_index("code")["name"]
    lambeth = devices[devices.borough_code == LAMBETH]
    ward = lambeth["ward2022_code"].value_counts().index[0]
    return [
        ("", "London", len(devices), _indicator("ev_public_devices", "london",
                                                schema.LONDON_CODE)),
        (f"?borough={LAMBETH}", "Lambeth", len(lambeth),
         _indicator("ev_public_devices", "borough", LAMBETH)),
        (f"?borough={LAMBETH}&ward={ward}", f"{wards[ward]}, Lambeth",
         int((lambeth.ward2022_code == ward).sum()), _indicator("ev_public_devices", "ward2022",
                                                                 ward)),
    ]


@pytest.mark.parametrize("area", range(3), ids=["london", "borough", "ward"])
def test_devices_on_the_map_beside_dfts_count(app_url, probe, area):
    """The overview and the EV page both say how many devices the map has in the area, from
    which sources, beside DfT's count for the same area."""
    query, place, on_map, dft = _coverage_cases()[area]
    expected = [f"{on_map:,} devices on the map in {place}",
                "the registry to February 2022, Open Charge Map central London 2025, Lewisham 2022",
                f"DfT counted {dft:,.0f} public devices in {place} in 2024"]
    probe.goto(f"{app_url}/{query}", ready=MAP)
    text = probe.page.inner_text("#ov-coverage")
    assert all(part in text for part in expected), text
    probe.goto(f"{app_url}/ev{query}", ready="#ev-map .js-plotly-plot")
    text = probe.page.inner_text("#ev-coverage")
    assert all(part in text for part in expected), text
    assert probe.console_errors == []
