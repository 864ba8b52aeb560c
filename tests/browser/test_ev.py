"""The EV charging page in a real browser against the real app: narrowing from London to a
borough, a ward and a device, links that reopen the view, exports, and an empty selection.

Expected numbers come from the store, in this process, from the same processed data.
"""
from __future__ import annotations

import re

import pytest

import pandas as pd

from dashboard.views.ev import model as ev
from dashboard.domain import filters
from dashboard.core import runtime
from dashboard.data import schema
from dashboard.core.config import DEFAULT_DATA_DIR
from dashboard.figures import ev as figs
from dashboard.domain.text import fmt_number

from tests.browser.conftest import TIMEOUT_MS, axe_serious, describe, points_over_areas

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

LAMBETH, BEXLEY = "E09000022", "E09000004"


def _borough_without_ultra() -> str:
    """A borough (not the City, whose wards are tiny) with no ultra-rapid device, from the data."""
    table = pd.read_parquet(schema.chargepoints_path(DEFAULT_DATA_DIR),
                            columns=["borough_code", "speed_class"])
    ultra = set(table.loc[table["speed_class"] == "ultra", "borough_code"])
    return sorted(set(table["borough_code"]) - ultra - {schema.CITY_CODE})[0]


NO_ULTRA = _borough_without_ultra()
MAX_CHANGE_BYTES = 30 * 1024
expect.set_options(timeout=TIMEOUT_MS)  # callbacks on a busy two-core machine


@pytest.fixture(scope="module")
def data():
    """The store, what links may name, and the default (London) state."""
    known = runtime.known()
    return runtime.store(), known, filters.default_state(known)


def _choose(page, dropdown: str, value: str) -> None:
    """Pick an option of a Dash dropdown by its value."""
    page.click(f"#{dropdown}")
    page.click(f"label.dash-dropdown-option:has(input[value='{value}'])")


def _kpi(page, list_id: str, label: str) -> str:
    card = page.locator(f"#{list_id} li").filter(
        has=page.locator(".kpi__label", has_text=re.compile(f"^{re.escape(label)}$")))
    return card.locator(".kpi__value").inner_text()


def _graph(page, graph_id: str, expression: str):
    """Evaluate ``expression`` on the plotly div of a dcc.Graph (bound to ``gd``)."""
    page.wait_for_selector(f"#{graph_id} .js-plotly-plot", state="attached")
    return page.evaluate(
        f"id => {{ const gd = document.getElementById(id).querySelector('.js-plotly-plot');"
        f" return {expression}; }}", graph_id)


def _points(page) -> int:
    traces = list(figs.POINT_TRACES.values())
    return _graph(page, "ev-map", f"{traces}.reduce((n, t) => n + gd.data[t].lon.length, 0)")


def _device_counts(text_labels: list[str]) -> int:
    return sum(int(re.search(r"\((\d[\d,]*) devices?\)", t)[1].replace(",", ""))
               for t in text_labels)


def _expected(store, state) -> dict:
    f = filters.usage_filter(state)
    summary = store.usage_summary(f).iloc[0]
    per = store.usage_by(f, "device_id").sort_values(["sessions", "device_id"],
                                                     ascending=[False, True])
    return {"devices": len(store.devices(borough=state.borough, ward=state.ward)),
            "sessions": fmt_number(summary["sessions"]), "busiest": per.iloc[0]}


def _wait_for_change(probe, before: int) -> list[dict]:
    probe.wait_idle()
    return probe.callbacks[before:]


def test_borough_ward_and_device_narrow_everything_and_the_link_reopens_it(app_url, probe, data):
    store, known, london = data
    page = probe.page
    probe.goto(f"{app_url}/ev", ready="#ev-heading")
    expect(page.locator("#ev-heading")).to_have_text("EV charging in London")
    probe.wait_idle()

    # A borough: one small response narrows the map, KPIs, charts and table.
    lambeth = london.replace(borough=LAMBETH)
    want = _expected(store, lambeth)
    before = len(probe.callbacks)
    _choose(page, "ev-borough", LAMBETH)
    expect(page.locator("#ev-heading")).to_have_text("EV charging in Lambeth")
    change = _wait_for_change(probe, before)
    assert change and all(c["status"] == 200 for c in change)
    assert sum(c["bytes"] for c in change) <= MAX_CHANGE_BYTES, [c["bytes"] for c in change]
    assert "borough=E09000022" in page.url
    assert _kpi(page, "ev-supply", "Charge devices on the map") == fmt_number(want["devices"])
    assert _kpi(page, "ev-usage", "Charging sessions") == want["sessions"]
    expect(page.locator("#ev-table-status")).to_contain_text(f"of {want['devices']}")
    rows = page.locator("#ev-table tbody tr")
    expect(rows).to_have_count(ev.PAGE_SIZE)
    lambeth_wards = {w.name for w in known.wards["ward2022"].values() if w.borough == LAMBETH}
    wards_shown = set(page.locator("#ev-table tbody tr td:nth-child(2)").all_inner_texts())
    assert wards_shown <= lambeth_wards
    assert _points(page) == want["devices"]
    assert _graph(page, "ev-map", "gd.data[0].locations.length") == len(lambeth_wards)
    for chart in ("ev-trend", "ev-heatmap", "ev-by-speed", "ev-by-operator"):
        assert "Lambeth" in _graph(page, chart, "gd.layout.title.text"), chart
    assert _device_counts(_graph(page, "ev-by-speed", "gd.data[0].text")) == want["devices"]

    # A ward: the busiest of Lambeth (most devices on the map).
    frame = ev.all_devices(store).frame
    counts = frame[frame["borough_code"] == LAMBETH].groupby("ward2022_code").size()
    ward = sorted(counts[counts == counts.max()].index)[0]
    ward_name = known.ward("ward2022", ward).name
    in_ward = lambeth.replace(ward=ward)
    want = _expected(store, in_ward)
    before = len(probe.callbacks)
    _choose(page, "ev-ward", ward)
    expect(page.locator("#ev-heading")).to_have_text(f"EV charging in {ward_name}, Lambeth")
    change = _wait_for_change(probe, before)
    assert sum(c["bytes"] for c in change) <= MAX_CHANGE_BYTES
    assert f"ward={ward}" in page.url
    assert _kpi(page, "ev-supply", "Charge devices on the map") == fmt_number(want["devices"])
    assert _kpi(page, "ev-usage", "Charging sessions") == want["sessions"]
    expect(page.locator("#ev-table-status")).to_contain_text(f"of {want['devices']}")
    assert set(page.locator("#ev-table tbody tr td:nth-child(2)").all_inner_texts()) == {
        ward_name}
    assert _points(page) == want["devices"]
    assert _graph(page, "ev-map", "gd.data[2].locations") == [ward]  # outlined on the map

    # A device: the busiest in the ward, first in the table.
    busiest = want["busiest"]
    device = ev.device_by_id(ev.all_devices(store), busiest["device_id"])
    page.locator("#ev-table tbody tr").first.locator("button").click()
    expect(page.locator("#ev-device-name")).to_have_text(str(device["name"]))
    probe.wait_idle()
    assert f"device={device['device_id']}" in page.url
    assert _kpi(page, "ev-device-kpis", "Sessions") == fmt_number(busiest["sessions"])
    assert _graph(page, "ev-device-history", "gd.data[0].x.length") == 24
    assert _graph(page, "ev-map", f"gd.data[{figs.DEVICE_TRACE}].lon.length") == 1
    expect(page.locator("#ev-table tbody tr.is-selected")).to_have_count(1)

    # The link reopens the same view.
    page.reload(wait_until="networkidle")
    expect(page.locator("#ev-heading")).to_have_text(f"EV charging in {ward_name}, Lambeth")
    expect(page.locator("#ev-device-name")).to_have_text(str(device["name"]))
    expect(page.locator("#ev-ward")).to_contain_text(ward_name)
    assert _kpi(page, "ev-usage", "Charging sessions") == want["sessions"]
    probe.wait_idle()
    assert _points(page) == want["devices"]

    assert probe.console_errors == []
    violations = axe_serious(page)
    assert violations == [], describe(violations)


def test_dft_charts_follow_the_area_and_are_not_resent_for_other_filters(app_url, probe, data):
    """The DfT series depend on the area only: a speed or period change leaves them as they
    are (nothing of them in the response); a borough change redraws them for the borough."""
    store, known, london = data
    page = probe.page
    probe.goto(f"{app_url}/ev?borough={LAMBETH}", ready="#ev-heading")
    expect(page.locator("#ev-heading")).to_have_text("EV charging in Lambeth")
    probe.wait_idle()
    assert _graph(page, "ev-dft-devices", "gd.data[0].name") == "Lambeth"
    drawn = _graph(page, "ev-dft-devices", "JSON.stringify(gd.data[0].y)")
    assert len(drawn) > 40  # the series itself, not an empty array

    before = len(probe.callbacks)
    page.locator("#ev-speed input[value='rapid']").check()
    expect(page).to_have_url(re.compile(r"speed=rapid"))
    change = _wait_for_change(probe, before)
    assert change and all(b"ev-dft" not in c["body"] for c in change)
    assert _graph(page, "ev-dft-devices", "gd.data[0].name") == "Lambeth"
    assert _graph(page, "ev-dft-devices", "JSON.stringify(gd.data[0].y)") == drawn

    before = len(probe.callbacks)
    _choose(page, "ev-borough", BEXLEY)
    expect(page.locator("#ev-heading")).to_have_text("EV charging in Bexley")
    change = _wait_for_change(probe, before)
    assert any(b"ev-dft-devices" in c["body"] for c in change)
    expect(page.locator("#ev-dft-devices .legend")).to_contain_text("Bexley")
    assert _graph(page, "ev-dft-devices", "gd.data[0].name") == "Bexley"
    assert _graph(page, "ev-dft-devices", "JSON.stringify(gd.data[0].y)") != drawn
    assert probe.console_errors == []


def test_map_clicks_select_a_ward_and_open_a_device(app_url, probe, data):
    store, known, london = data
    page = probe.page
    probe.goto(f"{app_url}/ev?borough={LAMBETH}", ready="#ev-heading")
    probe.wait_idle()
    frame = ev.all_devices(store).frame
    device = frame[frame["borough_code"] == LAMBETH].iloc[0]
    page.wait_for_selector("#ev-map .js-plotly-plot", state="attached")
    page.evaluate(
        """([code]) => document.getElementById('ev-map').querySelector('.js-plotly-plot')
               .emit('plotly_click', {points: [{curveNumber: 0, pointNumber: 0,
                                                location: code}]})""",
        [device["ward2022_code"]])
    ward_name = known.ward("ward2022", device["ward2022_code"]).name
    expect(page.locator("#ev-heading")).to_have_text(f"EV charging in {ward_name}, Lambeth")
    probe.wait_idle()
    trace = figs.POINT_TRACES[device["speed_class"]]
    page.evaluate(
        """([trace, row]) => document.getElementById('ev-map').querySelector('.js-plotly-plot')
               .emit('plotly_click', {points: [{curveNumber: trace, pointNumber: 0,
                                                customdata: row}]})""",
        [trace, int(device["i"])])
    expect(page.locator("#ev-device-name")).to_have_text(str(device["name"]))
    page.click("#ev-device-close")
    expect(page.locator("#ev-device-name")).to_have_count(0)
    probe.wait_idle()
    assert "device=" not in page.url
    assert probe.console_errors == []


def _hover_labels(page, graph_id: str) -> list[str]:
    """Move the mouse over a few wards the map has drawn and collect the hover labels shown."""
    selector = f"#{graph_id} .js-plotly-plot"
    label = page.locator(f"#{graph_id} .hoverlayer .hovertext")
    seen = []
    for x, y in points_over_areas(page, selector):
        page.mouse.move(x, y)
        expect(label).to_have_count(1)
        if seen:  # another ward: wait for its own label, not the last one's
            expect(label.first).not_to_have_text(seen[-1].replace("\n", ""))
        # SVG: one tspan per line of the label
        seen.append(label.first.evaluate(
            "el => Array.from(el.querySelectorAll('tspan.line'))"
            ".map(t => t.textContent).join('\\n') || el.textContent"))
    return seen


def test_ward_hover_labels_name_the_ward_from_the_geometry(app_url, probe, data):
    """Ward names are not sent with the values: the hover label takes them from the GeoJSON.
    (``NO_ULTRA`` has no ultra-rapid devices, so no device point covers a ward under the mouse.)"""
    store, known, london = data
    page = probe.page
    probe.goto(f"{app_url}/ev?borough={NO_ULTRA}&speed=ultra", ready="#ev-heading")
    probe.wait_idle()
    assert _points(page) == 0
    names = {w.name for w in known.wards["ward2022"].values() if w.borough == NO_ULTRA}
    labels = _hover_labels(page, "ev-map")
    assert labels, "no hover label appeared over the map"
    assert not any("%{" in label for label in labels), labels
    wards = [label for label in labels if label.split("\n")[0] in names]
    assert wards, labels
    assert filters.EV_MEASURES[ev.DEFAULT_MEASURE] in wards[0], wards[0]
    assert probe.console_errors == []


def test_downloads_carry_filters_link_and_simulated_label(app_url, probe, data):
    store, _, london = data
    page = probe.page
    probe.goto(f"{app_url}/ev?borough={LAMBETH}&speed=slow", ready="#ev-heading")
    probe.wait_idle()
    with page.expect_download() as download:
        page.click("#ev-devices-csv")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    header, _, table = text.partition("\n\n")
    assert "# Warning: Usage figures are SIMULATED" in header
    assert f"# Link: {app_url}/ev?borough={LAMBETH}&speed=slow" in header
    assert "Area: Lambeth; Speeds: Slow (under 8 kW)" in header
    slow = store.devices(borough=LAMBETH, speeds=("slow",))
    assert len(table.strip().splitlines()) == 1 + len(slow)
    assert download.value.suggested_filename.endswith(".csv")
    with page.expect_download() as download:
        page.click("#ev-trend-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    with page.expect_download() as download:
        page.click("#ev-trend ~ .image-buttons button:has-text('Download SVG')")
    assert download.value.suggested_filename.endswith(".svg")
    svg = open(download.value.path(), encoding="utf-8").read()
    assert svg.startswith("<svg") and "simulated usage" in svg
    # The image says where, what, that usage is simulated, the sources and the link
    # (SVG text escapes the "&" of the link).
    assert "EV charging in Lambeth: Sessions, energy and utilisation" in svg
    assert "Simulated usage: resampled from real Dundee and Perth" in svg
    assert "Sources: charge devices from the DfT National Chargepoint Registry" in svg
    assert f"Borough Dashboards: {app_url}/ev?borough={LAMBETH}&amp;speed=slow" in svg
    with page.expect_download() as download:
        page.click("#ev-heatmap ~ .image-buttons button:has-text('Download PNG')")
    assert download.value.suggested_filename.endswith(".png")
    assert open(download.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert probe.console_errors == []


def test_an_empty_selection_says_so(app_url, probe, data):
    page = probe.page
    probe.goto(f"{app_url}/ev?borough={NO_ULTRA}&speed=ultra", ready="#ev-heading")
    probe.wait_idle()
    expect(page.locator("#ev-summary")).to_contain_text("No charge devices match these filters")
    assert _kpi(page, "ev-usage", "Charging sessions") == "no data"
    assert _kpi(page, "ev-utilisation", "Time-based utilisation") == "no data"
    expect(page.locator("#ev-table")).to_contain_text("No charge devices match these filters")
    assert "No charge devices match" in _graph(page, "ev-trend",
                                               "gd.layout.annotations[0].text")
    assert _points(page) == 0
    assert probe.console_errors == []


def test_a_device_link_that_cannot_be_used_is_explained(app_url, probe):
    page = probe.page
    probe.goto(f"{app_url}/ev?borough={LAMBETH}&device=not-a-device", ready="#ev-heading")
    expect(page.locator("#ev-messages")).to_contain_text("couldn't find the charge device")
    expect(page.locator("#ev-heading")).to_have_text("EV charging in Lambeth")
    expect(page.locator("#ev-device-name")).to_have_count(0)
    assert probe.console_errors == []


def test_narrow_screen_has_no_sideways_scrolling(app_url, probe):
    page = probe.page
    page.set_viewport_size({"width": 375, "height": 800})
    probe.goto(f"{app_url}/ev?borough={LAMBETH}", ready="#ev-heading")
    probe.wait_idle()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert probe.console_errors == []


def test_back_to_london_sends_no_ward_list_and_the_picker_lists_every_ward(app_url, probe, data):
    """Ward pickers follow the borough in the browser, from one cached file: clearing the
    borough sends values, not the 704 wards' options and names."""
    import requests

    store, known, london = data
    page = probe.page
    lists = []
    page.on("response", lambda r: lists.append(r) if "/ward-options/" in r.url else None)
    probe.goto(f"{app_url}/ev?borough={LAMBETH}", ready="#ev-heading")
    probe.wait_idle()
    bexley_ward = next(w.name for w in known.wards["ward2022"].values() if w.borough == BEXLEY)
    before = len(probe.callbacks)
    page.click("#ev-borough .dash-dropdown-clear")
    expect(page.locator("#ev-heading")).to_have_text("EV charging in London")
    change = _wait_for_change(probe, before)
    assert change and all(c["status"] == 200 for c in change)
    # No ward list or ward names: the map's response is the wards' codes and values (it was
    # 25 KB with the names, plus 43 KB of picker options).
    assert not any(bexley_ward.encode() in c["body"] or b'"options"' in c["body"]
                   for c in change)
    assert sum(c["bytes"] for c in change) <= 32 * 1024, [c["bytes"] for c in change]
    assert min(c["bytes"] for c in change) <= 16 * 1024, [c["bytes"] for c in change]
    assert _graph(page, "ev-map", "gd.data[0].locations.length") == len(known.wards["ward2022"])
    # The ward picker now offers every ward of London, labelled with its borough.
    page.click("#ev-ward")
    page.keyboard.type(bexley_ward)
    expect(page.locator(".dash-dropdown-option", has_text=f"{bexley_ward} (Bexley)")).to_be_visible()
    page.keyboard.press("Escape")
    assert len(lists) == 1 and lists[0].status == 200
    response = requests.get(lists[0].url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    assert requests.get(lists[0].url.replace("wards.", "wards.0"), timeout=30).status_code == 404
    # Choosing a borough again reuses the file.
    _choose(page, "ev-borough", BEXLEY)
    expect(page.locator("#ev-heading")).to_have_text("EV charging in Bexley")
    probe.wait_idle()
    assert len(lists) == 1
    assert probe.console_errors == []


def test_device_positions_come_once_from_a_cacheable_url(app_url, probe, data):
    import requests

    store = data[0]
    page = probe.page
    fetched = []
    page.on("response", lambda r: fetched.append(r) if "/ev-points/" in r.url else None)
    probe.goto(f"{app_url}/ev", ready="#ev-heading")
    probe.wait_idle()
    assert len(fetched) == 1 and fetched[0].status == 200
    url = fetched[0].url
    assert _points(page) == len(ev.all_devices(store))
    response = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    assert requests.get(url.replace("points.", "points.0"), timeout=30).status_code == 404
    # a filter change reuses the positions already fetched
    _choose(page, "ev-borough", LAMBETH)
    expect(page.locator("#ev-heading")).to_have_text("EV charging in Lambeth")
    probe.wait_idle()
    assert len(fetched) == 1
    assert probe.console_errors == []


def test_device_filters_narrow_the_page_and_reopen_from_the_link(app_url, probe, data):
    """Status, street, location type and install year: from a link, then changed on the page;
    the summary and the device table follow, and the link reopens the same view."""
    store, _, _ = data
    page = probe.page
    link = f"{app_url}/ev?borough={LAMBETH}&status=in-service&year=2021"
    probe.goto(link, ready="#ev-heading")
    probe.wait_idle()
    want = store.devices(borough=LAMBETH, statuses=("in-service",), years=("2021",))
    expect(page.locator("#ev-summary")).to_contain_text(
        f"Lambeth: {fmt_number(len(want))} charge devices on the map match these filters")
    expect(page.locator("#ev-status input[value='in-service']")).to_be_checked()
    page.locator("#ev-street input[value='off-street']").check()
    expect(page).to_have_url(re.compile(r"street=off-street"))
    fewer = store.devices(borough=LAMBETH, statuses=("in-service",), years=("2021",),
                          streets=("off-street",))
    assert len(fewer) < len(want)
    expect(page.locator("#ev-summary")).to_contain_text(
        f"Lambeth: {fmt_number(len(fewer))} charge device")
    with page.expect_download() as download:
        page.click("#ev-devices-csv")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    header, _, table = text.partition("\n\n")
    assert "Status: In service; On or off street: Off-street; Installed in: 2021" in header
    assert len(table.strip().splitlines()) == 1 + len(fewer)
    probe.goto(page.url, ready="#ev-heading")
    probe.wait_idle()
    expect(page.locator("#ev-summary")).to_contain_text(
        f"Lambeth: {fmt_number(len(fewer))} charge device")
    expect(page.locator("#ev-street input[value='off-street']")).to_be_checked()
    assert probe.console_errors == []
