"""Real-browser fixtures: the real app under gunicorn on loopback, driven by headless Chromium.

Chromium is Debian's (/usr/bin/chromium), launched through Playwright; Playwright's own browser
download is never used. When CI=true a missing browser fails the run instead of skipping it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from dashboard.core.config import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
]
SERIOUS = {"serious", "critical"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Start the production server (gunicorn, one worker, two threads) and yield its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "gunicorn.log"
    env = {**os.environ, "BD_LOG_LEVEL": "WARNING"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "app:server", "-b", f"127.0.0.1:{port}",
             "-w", "1", "--threads", "4", "--timeout", "180"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 240
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited early:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(url + "/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            proc.terminate()
            pytest.fail("server did not start in time")
        yield url
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: CI must install it")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageProbe:
    """A browser tab that records console errors, failed requests and Dash callback responses."""

    def __init__(self, page):
        self.page = page
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        self.callbacks: list[dict] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda req: self.failed.append(f"{req.method} {req.url}"))
        page.on("response", self._response)

    def _console(self, msg):
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def _response(self, response):
        if "/_dash-update-component" in response.url:
            try:
                body = response.body()
            except Exception:  # the page navigated away before the body arrived
                return
            self.callbacks.append({"url": response.url, "status": response.status,
                                   "bytes": len(body), "body": body,
                                   "request": response.request.post_data or ""})

    def goto(self, url: str, ready: str = "#main"):
        self.page.goto(url, wait_until="networkidle")
        self.page.wait_for_selector(ready)
        return self

    def wait_idle(self):
        """Wait until Dash has finished every callback the last action set off."""
        settle(self.page)


# Dash's renderer keeps its callbacks in a Redux store (window.store): a callback waiting for its
# inputs, queued, in flight or with its response not yet applied is in one of the lists below
# (only "stored" and "completed" hold finished ones). A chained callback is queued in the same
# step that applies the response it depends on, so when every list is empty and no component
# is marked as loading, nothing more is coming until the user acts again.
_DASH_IDLE = """() => {
    const store = window.store;
    if (!store || document.readyState !== "complete") { return false; }
    const state = store.getState();
    const lists = state.callbacks || {};
    const busy = Object.keys(lists).some(
        k => k !== "stored" && k !== "completed" && Array.isArray(lists[k]) && lists[k].length);
    return !busy && !state.isLoading
        && !document.querySelector('[data-dash-is-loading="true"]');
}"""
# The same test two animation frames later: React renders a response's props (and dcc.Graph
# hands figures to plotly.js) in the frames after the store changes.
_DASH_IDLE_AFTER_FRAMES = f"""() => new Promise(resolve => requestAnimationFrame(
    () => requestAnimationFrame(() => resolve(({_DASH_IDLE})()))))"""


def settle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page's Dash callbacks have all run and their results are drawn: idle
    now and still idle two frames later (a chained callback may be queued in between)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        page.wait_for_function(_DASH_IDLE, timeout=max(1, deadline - time.monotonic()) * 1000)
        if page.evaluate(_DASH_IDLE_AFTER_FRAMES):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("Dash callbacks did not settle")


@pytest.fixture
def probe(browser):
    context = new_context(browser)
    yield PageProbe(context.new_page())
    context.close()


# How long any one wait may take before a test fails. Generous: a test waits for a condition,
# and on a busy 2-core machine (a benchmark or another suite beside it) a page load or a chain
# of callbacks can take many times its idle time; an idle run never comes near these bounds.
TIMEOUT_MS = 60_000
NAVIGATION_TIMEOUT_MS = 90_000


def new_context(browser, width: int = 1280, height: int = 800):
    """A fresh browser context (no cookies or storage) with the suite's viewport and timeouts."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context


# Dash 4's searchable dropdown picks the first option shown when Enter is released in its search
# box: the typed text must be in the box and the first option must match it before Enter.
_FIRST_OPTION_MATCHES = """(text) => {
    const box = document.querySelector(".dash-dropdown-content input.dash-dropdown-search");
    const first = document.querySelector(".dash-dropdown-content .dash-dropdown-option");
    return !!box && box.value === text && !!first
        && first.textContent.toLowerCase().includes(text.toLowerCase());
}"""


_SEARCH_FOCUSED = ("() => !!document.activeElement"
                   " && document.activeElement.matches('input.dash-dropdown-search')")


def pick_with_keys(page, text: str, done: str, attempts: int = 3) -> None:
    """In the focused dropdown, with keys only: pick the option ``text`` finds, then wait for
    ``done`` (a JavaScript condition, such as the URL carrying the choice).

    The first key typed on a closed dropdown opens it and moves focus to its search box a frame
    later; keys typed in between can be lost. So: type the first letter, wait until the search
    box has focus, clear it (Ctrl+A, Backspace) and type the whole text there, wait until its
    option is the first one offered, press Enter. When a busy browser drops keys anyway the
    search is cleared and typed again, as a keyboard user would."""
    for attempt in range(attempts):
        try:
            if not page.evaluate(_SEARCH_FOCUSED):
                page.keyboard.type(text[0])
                page.wait_for_function(_SEARCH_FOCUSED, timeout=20_000)
            page.keyboard.press("Control+A")
            page.keyboard.press("Backspace")
            page.keyboard.type(text, delay=40)
            page.wait_for_function(_FIRST_OPTION_MATCHES, arg=text, timeout=20_000)
            page.keyboard.press("Enter")
            page.wait_for_function(done, timeout=30_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise


_MAP = """(selector) => {
    const gd = document.querySelector(selector);
    const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return sub && sub.map;
}"""
# The areas MapLibre has drawn in a choropleth's fill layer (distinct features, by the centroid
# plotly stores in each feature), once the map has loaded everything and stopped moving.
_RENDERED_AREAS = f"""(selector) => {{
    const map = ({_MAP})(selector);
    if (!map || !map.loaded() || map.isMoving()) {{ return -1; }}
    const fill = (map.getStyle().layers || []).find(l => l.id.endsWith("-fill"));
    if (!fill) {{ return -1; }}
    const feats = map.queryRenderedFeatures({{layers: [fill.id]}});
    return new Set(feats.map(f => JSON.stringify(f.properties.ct))).size;
}}"""


def rendered_areas(page, selector: str, expected: int | None = None,
                   timeout_ms: int = 30_000) -> int:
    """How many areas a map draws. With ``expected``, wait (up to the timeout) until it draws
    that many, then return what it draws: the caller asserts the number."""
    page.locator(selector).scroll_into_view_if_needed()
    want = "n > 0" if expected is None else f"n === {int(expected)}"
    try:
        page.wait_for_function(f"(s) => {{ const n = ({_RENDERED_AREAS})(s); return {want}; }}",
                               arg=selector, timeout=timeout_ms)
    except Exception:  # the assertion that follows reports what is drawn instead
        pass
    return page.evaluate(_RENDERED_AREAS, selector)


def points_over_areas(page, selector: str, most: int = 4) -> list[tuple[float, float]]:
    """Page coordinates of up to ``most`` pixels, each over a different drawn area of a map's
    fill layer and over no point (so a hover there shows the area's own label)."""
    rendered_areas(page, selector)
    return page.evaluate(f"""([selector, most]) => {{
        const map = ({_MAP})(selector);
        const fill = map.getStyle().layers.find(l => l.id.endsWith("-fill")).id;
        const canvas = map.getCanvas().getBoundingClientRect();
        const seen = new Set(), found = [];
        for (let fy = 0.3; fy <= 0.7 && found.length < most; fy += 0.05) {{
            for (let fx = 0.3; fx <= 0.7 && found.length < most; fx += 0.05) {{
                const x = canvas.width * fx, y = canvas.height * fy;
                const hits = map.queryRenderedFeatures([x, y]);
                const area = hits.find(h => h.layer.id === fill);
                if (!area || hits.some(h => h.layer.type === "circle" || h.layer.type === "symbol"))
                    {{ continue; }}
                const key = JSON.stringify(area.properties.ct);
                if (seen.has(key)) {{ continue; }}
                seen.add(key);
                found.push([canvas.left + x, canvas.top + y]);
            }}
        }}
        return found;
    }}""", [selector, most])


def axe_serious(page) -> list[dict]:
    """axe-core violations of serious or critical impact on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in SERIOUS]


def describe(violations: list[dict]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -> "
                     f"{[n['target'] for n in v['nodes'][:3]]}" for v in violations)
