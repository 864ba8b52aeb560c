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

from dashboard.config import CHROMIUM

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
        self.page.wait_for_selector(ready, timeout=30_000)
        return self

    def wait_idle(self, ms: int = 400):
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(ms)


@pytest.fixture
def probe(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield PageProbe(page)
    context.close()


def axe_serious(page) -> list[dict]:
    """axe-core violations of serious or critical impact on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in SERIOUS]


def describe(violations: list[dict]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -> "
                     f"{[n['target'] for n in v['nodes'][:3]]}" for v in violations)
