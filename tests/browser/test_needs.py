"""Residents' needs page in a real browser: choosing an indicator, a borough and a ward with the
keyboard, every section following (checked against the store), the link, accessibility and the
size of what an indicator change sends."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.views.needs import model as needs
from dashboard.data import schema
from dashboard.core.config import DEFAULT_DATA_DIR, Config
from dashboard.data.store import Store
from dashboard.domain.text import fmt_number, ordinal
from tests.browser.conftest import axe_serious, describe, pick_with_keys, settle

LAMBETH = "E09000022"
CLAPHAM_EAST = "E05014100"
MAP = "#needs-map .js-plotly-plot"
MAX_INDICATOR_RESPONSE = 20_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The processed data through the app's own store (no simulated sessions needed)."""
    empty = tmp_path_factory.mktemp("no-sessions")
    store = Store(Config(data_dir=DEFAULT_DATA_DIR, cache_dir=empty), sessions=empty)
    yield needs.NeedsData(store)
    store.close()


# Helpers ----------------------------------------------------------------------------------------
def _query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _choose(page, control: str, text: str, param: str, value: str) -> None:
    """With the keyboard: focus a dropdown, type to search, press Enter on the match; then wait
    until the URL carries the choice and the page has settled."""
    page.focus(f"#{control}")
    pick_with_keys(page, text, f"() => new URLSearchParams(location.search).get('{param}') === "
                               f"'{value}'")
    settle(page)


def _pick_with_keys(page, text: str, query: str) -> None:
    """In the focused dropdown, with keys only: pick ``text`` and wait for ``query`` in the URL."""
    pick_with_keys(page, text, f"() => location.search.includes('{query}')")


def _settle(page) -> None:
    settle(page)


def _wait_for_response(probe, since: int, marker: bytes) -> list:
    """The callback responses recorded after ``since`` whose body contains ``marker``, once the
    page has run every callback the change set off."""
    settle(probe.page)
    return [r for r in probe.callbacks[since:] if marker in r["body"]]


def _figure(page, graph: str) -> dict:
    """The data and layout plotly is drawing in a dcc.Graph (after any patches), once plotly.js
    has plotted it (a chart below the fold may wait for the map's first draw)."""
    page.wait_for_selector(f"#{graph} .js-plotly-plot", state="attached")
    return page.evaluate(
        """(id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');
            return JSON.parse(JSON.stringify({data: gd.data, layout: gd.layout})); }""", graph)


# The main journey -------------------------------------------------------------------------------
def test_indicator_borough_and_ward_drive_every_section(app_url, probe, data):
    page = probe.page
    probe.goto(app_url + "/needs", ready=MAP)
    _settle(page)

    _choose(page, "needs-indicator", "Public charge devices per 100,000", "indicator",
            "ev_devices_per_100k")
    _choose(page, "needs-borough", "Lambeth", "borough", LAMBETH)
    _choose(page, "needs-ward2022", "Clapham East", "ward", CLAPHAM_EAST)

    ranked = data.ranked("ev_devices_per_100k")
    row = ranked.table.set_index("code").loc[CLAPHAM_EAST]
    value = needs.number_text(row["value"], ranked.indicator.unit, 1)
    rank = f"{ordinal(int(row['rank']))} of 680 areas"
    london = data.area_values("ev_devices_per_100k", "london", ranked.period)[schema.LONDON_CODE]
    lambeth = data.area_values("ev_devices_per_100k", "borough", ranked.period)[LAMBETH]

    # Context: ward, borough and London with rank and percentile.
    context = page.inner_text("#needs-context")
    assert "Ward: Clapham East, Lambeth" in context
    assert value in context and rank in context
    assert f"More need than {fmt_number(row['percentile'], 0)}% of the other areas" in context
    assert fmt_number(lambeth, 1) in context and fmt_number(london, 1) in context
    assert page.inner_text("#needs-context-heading") == "How Clapham East, Lambeth compares"

    # Map: values patched in, the ward outlined, the view on Lambeth.
    fig = _figure(page, "needs-map")
    values = fig["data"][0]
    at = values["locations"].index(CLAPHAM_EAST)
    assert values["customdata"][at] == pytest.approx(row["value"], abs=0.05)
    assert fig["data"][5]["locations"] == [CLAPHAM_EAST]
    assert fig["data"][3]["locations"] == [LAMBETH]
    assert 51.40 < fig["layout"]["map"]["center"]["lat"] < 51.52
    colours = [c for _, c in values["colorscale"]]
    assert colours[0] == needs.NEED_COLOURS[-1]       # higher is better: low values darkest

    # Ranking: Lambeth's 25 wards, the ward highlighted.
    ranking = _figure(page, "needs-ranking")["data"][0]
    assert len(ranking["y"]) == 25
    chosen = [label for label in ranking["y"] if "▶" in label]
    assert chosen == [f"<b>▶ {int(row['rank'])}. Clapham East</b>"]

    # Scatter: the ward ringed, Lambeth's wards emphasised.
    scatter = _figure(page, "needs-scatter")["data"]
    assert scatter[4]["customdata"] == [CLAPHAM_EAST]
    assert scatter[3]["name"] == "Lambeth wards" and scatter[3]["showlegend"] is True

    # Table: every Lambeth ward, the chosen one marked, value and rank as in the store.
    body = page.locator("#needs-table-body tr")
    assert body.count() == 25
    selected = page.locator("#needs-table-body tr.is-selected")
    assert selected.count() == 1
    cells = selected.locator("td, th").all_inner_texts()
    assert cells[0] == str(int(row["rank"])) and "Clapham East" in cells[1]
    assert cells[3] == value
    assert "Showing areas 1 to 25 of 25" in page.inner_text("#needs-table-status")

    # The link reopens the same view.
    assert _query(page) == {"borough": LAMBETH, "ward": CLAPHAM_EAST,
                            "indicator": "ev_devices_per_100k"}
    page.reload(wait_until="networkidle")
    page.wait_for_selector(MAP)
    assert "Ward: Clapham East, Lambeth" in page.inner_text("#needs-context")
    assert page.locator("#needs-table-body tr.is-selected").count() == 1
    assert _figure(page, "needs-map")["data"][5]["locations"] == [CLAPHAM_EAST]
    assert probe.console_errors == []


def test_indicator_changes_send_values_only(app_url, probe):
    """Each response to an indicator change stays under 20 KB, including a switch of boundaries
    (which sends the new geometry's URL, never the geometry)."""
    page = probe.page
    probe.goto(f"{app_url}/needs?borough={LAMBETH}", ready=MAP)
    _settle(page)
    sizes = {}
    for text, ind in (("Public charge devices per 100,000", "ev_devices_per_100k"),
                      ("Median house price", "wp_median_house_price"),
                      ("Burglary: rate per 1,000 residents (12", "crime_burglary_12m")):
        before = len(probe.callbacks)
        _choose(page, "needs-indicator", text, "indicator", ind)
        map_patch = _wait_for_response(probe, before, b'"needs-map"')
        responses = probe.callbacks[before:]
        assert all(r["status"] == 200 for r in responses)
        assert len(map_patch) == 1
        body = map_patch[0]["body"]
        assert b"FeatureCollection" not in body and b"coordinates" not in body
        sizes[ind] = {"map": map_patch[0]["bytes"], "largest": max(r["bytes"] for r in responses)}
        assert sizes[ind]["largest"] <= MAX_INDICATOR_RESPONSE, (ind, [r["bytes"]
                                                                       for r in responses])
        geometry = {tuple(op["location"][1:]): op["params"]["value"]
                    for op in json.loads(body)["response"]["needs-map"]["figure"]["operations"]
                    if op["location"][-1] == "geojson"}
        if ind == "ev_devices_per_100k":
            assert geometry == {}             # same boundaries: values only
        if ind == "wp_median_house_price":
            assert re.fullmatch(r"/geo/ward2011\.[0-9a-f]+\.json", geometry[(0, "geojson")])
            assert "2011 ward boundaries" in page.inner_text("#needs-layer-note")
            assert _query(page).get("layer") == "ward2011"
            assert page.is_visible("#needs-ward2011") and not page.is_visible("#needs-ward2022")
            assert len(_figure(page, "needs-map")["data"][0]["locations"]) == 625
        if ind == "crime_burglary_12m":
            assert re.fullmatch(r"/geo/ward2022\.[0-9a-f]+\.json", geometry[(0, "geojson")])
            assert page.inner_text("#needs-layer-note") == ""
    print("indicator change responses (bytes):", json.dumps(sizes))
    assert probe.console_errors == []


def test_keyboard_alone_picks_an_indicator_and_reaches_the_table(app_url, probe):
    page = probe.page
    probe.goto(app_url + "/needs", ready=MAP)
    _settle(page)
    page.locator("body").focus()
    for _ in range(30):   # Tab from the top of the page to the indicator picker
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "needs-indicator":
            break
    else:
        pytest.fail("the indicator picker cannot be reached with Tab")
    assert page.evaluate("document.activeElement.id") == "needs-indicator"
    _pick_with_keys(page, "no car", "indicator=no_car_households_pct")
    _settle(page)
    assert "Households with no car or van" in page.inner_text("#needs-info")
    # Tab on to the borough filter and choose Lambeth.
    page.keyboard.press("Tab")
    page.wait_for_function("() => document.activeElement.id === 'needs-borough'")
    _settle(page)   # the indicator change re-renders parts of the page: type once it is done
    assert page.evaluate("document.activeElement.id") == "needs-borough"
    _pick_with_keys(page, "Lambeth", f"borough={LAMBETH}")
    _settle(page)
    # Tab on into the table: its sort buttons are reachable and work with Enter.
    for _ in range(150):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "needs-sort-rank":
            break
    else:
        pytest.fail("the table's sort buttons cannot be reached with Tab")
    page.keyboard.press("Tab")   # to "Area"
    assert page.evaluate("document.activeElement.id") == "needs-sort-name"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('needs-th-name').getAttribute('aria-sort') === "
        "'ascending'")
    names = page.locator("#needs-table-body th").all_inner_texts()
    assert names == sorted(names) and len(names) == 25
    assert page.evaluate("document.activeElement.id") == "needs-sort-name"   # focus kept
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('needs-th-name').getAttribute('aria-sort') === "
        "'descending'")
    assert page.locator("#needs-table-body th").all_inner_texts() == sorted(names, reverse=True)
    assert probe.console_errors == []


def test_london_table_pages_through_all_680_areas(app_url, probe, data):
    page = probe.page
    probe.goto(app_url + "/needs", ready=MAP)
    status = page.inner_text("#needs-table-status")
    assert "Showing areas 1 to 25 of 680" in status
    ranked = data.ranked(needs.DEFAULT_INDICATOR)
    top = ranked.table.sort_values(["rank", "name"]).iloc[0]
    first = page.locator("#needs-table-body tr").first.locator("td, th").all_inner_texts()
    assert first[:2] == ["1", top["name"]]
    page.click("#needs-next")
    page.wait_for_function("() => document.getElementById('needs-table-status')"
                           ".textContent.includes('26 to 50')")
    assert page.is_enabled("#needs-prev")
    assert probe.console_errors == []


def test_need_against_provision_flags_and_thresholds(app_url, probe, data):
    page = probe.page
    probe.goto(f"{app_url}/needs?x=imd_england_20pct_pct&y=ev_devices_per_100k&need=80&prov=20",
               ready=MAP)
    prov = needs.provision(data, "imd_england_20pct_pct", "ev_devices_per_100k", 80, 20)
    flagged = int(prov.table["flagged"].sum())
    assert page.inner_text("#needs-flag-count") == (
        f"{flagged} London areas have high need and low provision.")
    assert page.is_checked("#needs-preset input[value='fairness']")
    # Move the need threshold with the keyboard: the count, URL and table follow.
    page.focus("#needs-need [role=slider]")
    page.keyboard.press("ArrowRight")   # 80 -> 85
    page.wait_for_function("() => location.search.includes('need=85')")
    _settle(page)
    fewer = int(needs.provision(data, "imd_england_20pct_pct", "ev_devices_per_100k", 85, 20)
                .table["flagged"].sum())
    assert page.inner_text("#needs-flag-count").startswith(f"{fewer} London areas")
    rows = page.locator("#needs-flag-table tbody tr")
    assert rows.count() == min(fewer, 60) + (1 if fewer > 60 else 0)
    assert probe.console_errors == []


def test_crime_series_follow_the_period_filter(app_url, probe):
    page = probe.page
    probe.goto(f"{app_url}/needs?borough={LAMBETH}&crime=burglary&from=2025-01&to=2025-06",
               ready=MAP)
    fig = _figure(page, "needs-crime-chart")
    assert [t["name"] for t in fig["data"]] == ["Lambeth", "London"]
    assert [len(t["x"]) for t in fig["data"]] == [6, 6]
    assert "Burglary" in fig["layout"]["title"]["text"]
    _choose(page, "needs-to", "March 2025", "to", "2025-03")
    fig = _figure(page, "needs-crime-chart")
    assert [len(t["x"]) for t in fig["data"]] == [3, 3]
    assert probe.console_errors == []


def test_exports_carry_a_header_and_the_rows_in_view(app_url, probe):
    page = probe.page
    probe.goto(f"{app_url}/needs?borough={LAMBETH}&indicator=ev_devices_per_100k", ready=MAP)
    with page.expect_download() as info:
        page.click("#needs-table-csv")
    text = open(info.value.path(), encoding="utf-8-sig", newline="").read()
    header, table = text.split("\r\n\r\n", 1)
    assert "# Title: Residents' needs - Public charge devices per 100,000 residents" in header
    assert "# Link: " in header and f"borough={LAMBETH}" in header
    assert "Definition: " in header and "# Source: " in header
    assert len(table.strip().splitlines()) == 1 + 25
    with page.expect_download() as info:
        page.click("#needs-series-xlsx")
    assert info.value.suggested_filename.endswith(".xlsx")
    with page.expect_download() as info:
        page.click("#needs-flags-csv")
    flags = open(info.value.path(), encoding="utf-8-sig", newline="").read()
    assert "# Period: 2024 Q2 and 2024" in flags
    assert "Need percentile" in flags.split("\r\n\r\n", 1)[1]
    assert probe.console_errors == []


def test_no_serious_accessibility_problems(app_url, probe):
    page = probe.page
    for query in (f"?borough={LAMBETH}&ward={CLAPHAM_EAST}&indicator=ev_devices_per_100k",
                  f"?borough={LAMBETH}&indicator=wp_crime_rate"):
        probe.goto(f"{app_url}/needs{query}", ready=MAP)
        _settle(page)
        serious = axe_serious(page)
        assert serious == [], describe(serious)
    assert probe.console_errors == []


def test_bad_link_explains_and_falls_back(app_url, probe):
    probe.goto(f"{app_url}/needs?indicator=nonsense&classes=%3Cb%3E&need=900&borough=Lambeth",
               ready=MAP)
    page = probe.page
    notes = page.inner_text("#needs-messages")
    assert "indicator" in notes and "map classes" in notes and "need threshold" in notes
    assert "<b>" not in notes
    assert "Deprivation — Households deprived" in page.inner_text("#needs-indicator")
    assert page.inner_text("#needs-context-heading") == "How Lambeth compares"
    assert probe.console_errors == []


def test_image_download_buttons_save_the_chart_as_png_and_svg(app_url, probe):
    page = probe.page
    probe.goto(f"{app_url}/needs?borough={LAMBETH}", ready=MAP)
    for chart, fmt in (("ranking", "svg"), ("ranking", "png"), ("map", "png")):
        with page.expect_download() as info:
            page.click(f"button[id*='\"chart\":\"{chart}\",\"format\":\"{fmt}\"']")
        assert info.value.suggested_filename == f"borough-dashboards-needs-{chart}.{fmt}"
        head = open(info.value.path(), "rb").read()
        if fmt == "svg":
            assert re.search(rb"<svg", head[:500])
            # The image says what it shows, where it comes from and how to reopen the view.
            svg = head.decode("utf-8")
            assert "Ranking: Lambeth" in svg and "Source: Census 2021" in svg
            assert f"Borough Dashboards: {app_url}/needs?borough={LAMBETH}" in svg
            assert "Click" not in svg
        else:
            assert head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) > 5000
    assert probe.console_errors == []
