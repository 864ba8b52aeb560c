"""The ward profiler in a real browser: open, search, not found, accessibility, print and PDF."""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest
import requests

from dashboard.data import schema
from dashboard.core.config import DEFAULT_DATA_DIR
from dashboard.core.shell import NAV

from tests.browser.conftest import axe_serious, describe

NAV_LABELS = [label for _, label in NAV if label != "Overview"]


def _lambeth_ward() -> tuple[str, str]:
    """A Lambeth 2022 ward (code, name), read from the layer file."""
    table = pd.read_parquet(schema.layer_path(DEFAULT_DATA_DIR, "ward2022"),
                            columns=["code", "name", "borough_name"])
    row = table[table["borough_name"] == "Lambeth"].sort_values("code").iloc[3]
    return str(row["code"]), str(row["name"])


CODE, NAME = _lambeth_ward()


def _open_profile(probe, app_url, path):
    probe.goto(app_url + path, ready=".profile-table")
    probe.wait_idle()
    return probe.page


def test_open_a_ward_directly(probe, app_url):
    page = _open_profile(probe, app_url, f"/ward/{CODE}")
    assert page.inner_text("h1") == NAME
    assert "Lambeth" in page.inner_text(".ward-lede")
    facts = page.locator(".key-facts li").all_inner_texts()
    assert len(facts) >= 8 and any("(Census 2021)." in f for f in facts)
    assert page.locator(".theme h3").count() >= 7
    assert page.locator(".spine__ward").count() >= 30
    assert "not statistical significance" in page.inner_text(".compare-section")
    assert page.locator(".ev-section .sim-label").count() >= 1
    ev_link = page.locator(f"a[href='/ev?borough=E09000022&ward={CODE}']")
    assert ev_link.count() == 1
    assert not probe.console_errors, probe.console_errors
    violations = axe_serious(page)
    assert not violations, describe(violations)


def test_query_parameter_opens_the_same_ward(probe, app_url):
    page = _open_profile(probe, app_url, f"/ward?ward={CODE.lower()}")
    assert page.inner_text("h1") == NAME
    assert not probe.console_errors, probe.console_errors


def test_search_for_a_ward_by_name_and_open_it(probe, app_url):
    probe.goto(app_url + "/ward", ready="#ward-search")
    probe.wait_idle()
    page = probe.page
    page.click("#ward-search")
    page.keyboard.type(NAME[:9])
    option = page.get_by_role("option", name=f"{NAME} — Lambeth (2022 wards)")
    option.click()
    page.wait_for_url(re.compile(rf"/ward/{CODE}$"))
    page.wait_for_selector(".profile-table")
    assert page.inner_text("h1") == NAME
    assert not probe.console_errors, probe.console_errors


def test_finder_remembers_recent_wards(probe, app_url):
    _open_profile(probe, app_url, f"/ward/{CODE}")
    _open_profile(probe, app_url, "/ward/E05013925")
    probe.goto(app_url + "/ward", ready="#ward-search")
    probe.wait_idle()
    links = probe.page.locator("#ward-recent-list a")
    assert links.all_inner_texts()[:2] == ["Stratford Olympic Park — Newham (2022 wards)",
                                           f"{NAME} — Lambeth (2022 wards)"]
    violations = axe_serious(probe.page)
    assert not violations, describe(violations)
    assert not probe.console_errors, probe.console_errors


def test_unknown_code_shows_a_clear_message_with_suggestions(probe, app_url):
    wrong = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    probe.goto(app_url + f"/ward/{wrong}X", ready="#ward-not-found")
    probe.wait_idle()
    page = probe.page
    message = page.inner_text("#ward-not-found")
    assert f"We couldn't find a ward with the code {wrong}X" in message
    suggestions = page.locator(".ward-suggestions a")
    assert suggestions.count() >= 1
    assert "Sorry, something went wrong" not in page.content()
    assert not probe.console_errors, probe.console_errors
    violations = axe_serious(page)
    assert not violations, describe(violations)


def test_compare_with_a_second_ward(probe, app_url):
    page = _open_profile(probe, app_url, "/ward/E05014098?compare=E05014095")
    assert page.locator("th.num--compare").first.inner_text() == "Brixton Acre Lane"
    assert page.locator(".spine__compare").count() >= 30
    assert "compare=E05014095" in page.url
    assert page.get_attribute("#ward-pdf", "href").endswith("?compare=E05014095")
    with page.expect_download() as download:
        page.click("#ward-csv")
    text = download.value.path().read_text(encoding="utf-8-sig")
    assert text.startswith('"# Title: Ward profile: Brixton Windrush, Lambeth (2022 wards)"')
    assert "Comparison ward: Brixton Acre Lane" in text
    assert f"# Link: {app_url}/ward/E05014098?compare=E05014095" in text


def test_present_mode_enlarges_the_profile(probe, app_url):
    page = _open_profile(probe, app_url, f"/ward/{CODE}")
    before = page.evaluate("getComputedStyle(document.querySelector('.key-facts li')).fontSize")
    page.click("#ward-present")
    page.wait_for_selector(".ward-profile--present")
    after = page.evaluate("getComputedStyle(document.querySelector('.key-facts li')).fontSize")
    assert float(after[:-2]) >= 1.3 * float(before[:-2])
    assert page.get_attribute("#ward-present", "aria-pressed") == "true"
    assert not page.locator(".site-header").is_visible()


def _pages(pdf: bytes) -> tuple[int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def test_print_is_at_most_two_a4_pages_without_navigation(probe, app_url, tmp_path):
    page = _open_profile(probe, app_url, f"/ward/{CODE}")
    page.emulate_media(media="print")
    assert not page.locator(".site-nav").is_visible()
    assert page.locator(".print-link").is_visible()
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    count, text = _pages(pdf)
    assert 1 <= count <= 2, f"{count} pages"
    assert NAME in text and "Key facts" in text
    for label in NAV_LABELS:
        assert label not in text, f"navigation text {label!r} printed"
    assert f"/ward/{CODE}" in text  # the link to the view, printed as text
    assert "Page 1 of" in text or count == 1
    (tmp_path / "profile.pdf").write_bytes(pdf)


def test_download_pdf_made_on_the_server(app_url):
    response = requests.get(f"{app_url}/ward/{CODE}/profile.pdf", timeout=120)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"] == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    count, text = _pages(response.content)
    assert count <= 2 and NAME in text
    old = requests.get(f"{app_url}/ward/E05000420/profile.pdf", timeout=120)
    assert old.status_code == 200, old.text[:500]
    count, text = _pages(old.content)
    assert count <= 2 and "Coldharbour" in text and "Similar wards" in text
    missing = requests.get(f"{app_url}/ward/E05099999/profile.pdf", timeout=30)
    assert missing.status_code == 404 and "couldn't make the PDF" in missing.text


@pytest.mark.parametrize("path", ["/ward/E05009288", "/ward/E05000420"])
def test_city_and_2011_wards_render(probe, app_url, path):
    page = _open_profile(probe, app_url, path)
    assert page.locator(".profile-table").count() >= 5
    assert page.locator(".vintage a").count() >= 1
    assert not probe.console_errors, probe.console_errors


# Similar wards, what stands out and the locator map -----------------------------------------------
def _similar(layer: str, stat_code: str) -> list[str]:
    table = pd.read_csv(schema.similar_wards_path(DEFAULT_DATA_DIR), dtype=str)
    rows = table[(table["layer"] == layer) & (table["code"] == stat_code)]
    return list(rows.sort_values("rank", key=lambda r: r.astype(int))["neighbour"])


def _devices_by_speed(layer: str, code: str) -> dict:
    devices = pd.read_parquet(schema.chargepoints_path(DEFAULT_DATA_DIR),
                              columns=[f"{layer}_code", "speed_class"])
    counts = devices.loc[devices[f"{layer}_code"] == code, "speed_class"].value_counts()
    return {s: int(counts.get(s, 0)) for s in schema.SPEED_CLASSES}


MAP_TRACES = """() => {
    const gd = document.querySelector('#ward-locator .js-plotly-plot');
    return gd.data.map(t => ({type: t.type, locations: t.locations || null,
                              points: t.lon ? t.lon.length : 0, name: t.name}));
}"""


@pytest.mark.parametrize("code,layer,borough", [
    ("E05014098", "ward2022", "Lambeth"),        # Brixton Windrush
    ("E05011462", "ward2022", "Croydon"),        # Addiscombe East
    ("E05000420", "ward2011", "Lambeth"),        # Coldharbour (2011 wards)
])
def test_similar_wards_standouts_and_map(probe, app_url, code, layer, borough):
    page = _open_profile(probe, app_url, f"/ward/{code}")
    # Similar wards: the ten of the committed file, nearest first, each a link to its profile.
    expected = _similar(layer, code)
    links = page.locator(".similar__list li a")
    assert links.count() == 10
    assert [h.split("/")[-1] for h in
            links.evaluate_all("els => els.map(e => e.getAttribute('href'))")] == expected
    alike = page.locator(".similar__alike").all_inner_texts()
    assert all(re.fullmatch(r": close on \d+ of 1[12] measures", t) for t in alike)
    assert "standardised" in page.inner_text(".similar .method-note")
    # What stands out: three to five sentences with a London rank, at the top of the profile.
    standouts = page.locator(".standouts li").all_inner_texts()
    assert 3 <= len(standouts) <= 5
    assert all(re.search(r"the (\d+(st|nd|rd|th) )?(highest|lowest) of [\d,]+ London wards", s)
               for s in standouts)
    top = page.evaluate("[...document.querySelectorAll('#ward-body > *')].map(e => e.className)")
    assert top[0] == "standouts"
    # Trends where the data has them: 2022 wards only, each line named, latest values in words.
    trends = page.locator(".trends .trend")
    assert trends.count() == (3 if layer == "ward2022" else 0)
    if layer == "ward2022":
        latest = page.locator(".trend__latest").all_inner_texts()
        assert all("Similar wards (median)" in t and "London" in t for t in latest)
    # The map: the ward filled, its borough's other wards outlined, its devices by speed.
    page.wait_for_function("() => { const gd = document.querySelector("
                           "'#ward-locator .js-plotly-plot'); return gd && gd.data; }")
    traces = page.evaluate(MAP_TRACES)
    wards = pd.read_parquet(schema.layer_path(DEFAULT_DATA_DIR, layer),
                            columns=["code", "borough_name"])
    others = set(wards.loc[wards["borough_name"] == borough, "code"]) - {code}
    assert set(traces[0]["locations"]) == others
    assert traces[1]["locations"] == [code]
    counts = _devices_by_speed(layer, code)
    assert sum(t["points"] for t in traces if t["type"] == "scattermap") == sum(counts.values())
    table = dict(zip(page.locator(".speed-table tbody th").all_inner_texts(),
                     page.locator(".speed-table tbody td").all_inner_texts()))
    assert int(table["All devices on the map"].replace(",", "")) == sum(counts.values())
    summary = page.get_attribute(".locator__figure [role=img]", "aria-label")
    assert f"{sum(counts.values())} charge devices" in summary or \
        (sum(counts.values()) == 0 and "No charge devices" in summary)
    # The printable copy of the map is made once the map has drawn.
    page.wait_for_function("() => (document.querySelector('#ward-locator-print') || {}).src"
                           "?.startsWith('data:image/png')")
    # The compare picker offers the similar wards first.
    page.click("#ward-compare")
    options = page.locator(".dash-dropdown-content .dash-dropdown-option")
    options.first.wait_for()
    values = options.evaluate_all(
        "els => els.slice(0, 10).map(e => (e.querySelector('input') || {}).value)")
    # The list is virtualised: the options drawn are the first few, all similar wards.
    assert len(values) >= 3 and values == expected[:len(values)]
    expect_first = page.locator(".similar__list li a").first.inner_text()
    assert options.first.inner_text().startswith(f"Similar: {expect_first}")
    page.keyboard.press("Escape")
    assert not probe.console_errors, probe.console_errors
    violations = axe_serious(page)
    assert not violations, describe(violations)


def test_city_ward_lists_the_citys_similar_wards(probe, app_url):
    page = _open_profile(probe, app_url, "/ward/E05009288")
    hrefs = page.locator(".similar__list li a").evaluate_all(
        "els => els.map(e => e.getAttribute('href').split('/').pop())")
    assert hrefs == _similar("ward2022", schema.CITY_CODE)
    assert "share one set of figures" in page.inner_text(".similar .hint")
    violations = axe_serious(page)
    assert not violations, describe(violations)


def test_present_mode_shows_the_map_and_similar_wards(probe, app_url):
    page = _open_profile(probe, app_url, f"/ward/{CODE}")
    page.click("#ward-present")
    page.wait_for_selector(".ward-profile--present")
    assert page.locator("#ward-locator").is_visible()
    assert page.locator(".similar__list").is_visible()
    assert page.locator(".standouts").is_visible()
    size = page.evaluate("getComputedStyle(document.querySelector('.standouts li')).fontSize")
    assert float(size[:-2]) >= 22


def test_2011_profile_prints_on_two_pages_with_the_map(probe, app_url):
    page = _open_profile(probe, app_url, "/ward/E05000420")
    page.wait_for_function("() => (document.querySelector('#ward-locator-print') || {}).src"
                           "?.startsWith('data:image/png')")
    page.emulate_media(media="print")
    assert page.locator("img.locator__print").is_visible()
    assert not page.locator(".locator__map").is_visible()
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    count, text = _pages(pdf)
    assert count <= 2, f"{count} pages"
    assert "Coldharbour" in text and "Similar wards" in text and "What stands out" in text
