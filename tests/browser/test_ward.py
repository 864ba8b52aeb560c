"""The ward profiler in a real browser: open, search, not found, accessibility, print and PDF."""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest
import requests

from dashboard import schema
from dashboard.config import DEFAULT_DATA_DIR
from dashboard.shell import NAV

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
    missing = requests.get(f"{app_url}/ward/E05099999/profile.pdf", timeout=30)
    assert missing.status_code == 404 and "couldn't make the PDF" in missing.text


@pytest.mark.parametrize("path", ["/ward/E05009288", "/ward/E05000420"])
def test_city_and_2011_wards_render(probe, app_url, path):
    page = _open_profile(probe, app_url, path)
    assert page.locator(".profile-table").count() >= 5
    assert page.locator(".vintage a").count() >= 1
    assert not probe.console_errors, probe.console_errors
