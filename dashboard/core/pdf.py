"""A4 PDF of a ward profile, printed server-side by headless Chromium from the app's own page.

``GET /ward/<code>/profile.pdf[?compare=<code>]`` opens the profile in Chromium (Playwright, the
system browser at ``BD_CHROMIUM`` or /usr/bin/chromium) on this server's own address, switches to
print media and saves A4, so the file is exactly what "Print" gives. Guard rails:

- the codes are checked against the ward layers before anything starts;
- Chromium may only load this server's own address (every other request is aborted), and the
  PDF is returned only if the page it printed is the profile asked for;
- one PDF at a time per process, and every step has a time limit (``TIMEOUT_S`` in all);
- any failure returns a plain page saying what happened and offering the browser's own print,
  never a traceback.
"""
from __future__ import annotations

import datetime as dt
import html
import importlib.util
import json
import logging
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import flask

from dashboard.core.config import CHROMIUM

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"]
_CODE = re.compile(r"^[A-Z][0-9]{8}$")
_busy = threading.Semaphore(1)


class PdfError(Exception):
    """Why a PDF could not be made, in words fit to show the person who asked for it."""


def pdf_path(code: str) -> str:
    return f"/ward/{code}/profile.pdf"


def _local_origin(environ: dict) -> str:
    """This server's own address as seen from this machine (never the request's Host header)."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    host, port = None, None
    if sock is not None:
        try:
            host, port = sock.getsockname()[:2]
        except OSError:
            host = None
    if port is None:
        port = int(environ.get("SERVER_PORT") or 80)
    if not host or host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def available() -> bool:
    """True when this server can print PDFs: a Chromium binary and Playwright are installed."""
    return Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None


def render(url: str, code: str, public_origin: str, timeout_s: float = TIMEOUT_S) -> bytes:
    """Print ``url`` (a profile on this server) to A4 PDF bytes, or raise ``PdfError``."""
    if not Path(CHROMIUM).exists():
        raise PdfError("the server has no browser to print with")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfError("the server has no browser automation installed") from None
    deadline = time.monotonic() + timeout_s
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))

    def left_ms() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PdfError("making the PDF took too long")
        return remaining * 1000

    def only_this_server(route):
        target = route.request.url
        if target.startswith(origin + "/") or target.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS, timeout=left_ms())
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
                page.route("**/*", only_this_server)
                page.add_init_script(f"window.__profileOrigin = {json.dumps(public_origin)};")
                page.goto(url, wait_until="networkidle", timeout=left_ms())
                page.wait_for_selector(f".ward-profile[data-code='{code}'] .profile-table",
                                       timeout=left_ms())
                page.wait_for_function(
                    "() => { const e = document.querySelector('.print-link');"
                    " return e && e.textContent.length > 0; }", timeout=left_ms())
                page.wait_for_function(
                    "() => !document.querySelector('#ward-locator') ||"
                    " !!document.querySelector('#ward-locator-print[src]')", timeout=left_ms())
                page.emulate_media(media="print")
                page.wait_for_timeout(200)
                left_ms()
                return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        log.warning("PDF of %s failed: %s", code, str(exc).splitlines()[0][:200])
        raise PdfError("the browser could not open or print the profile in time") from None


def _failure(code: str, reason: str, status: int) -> flask.Response:
    back = html.escape(f"/ward/{code}" if _CODE.match(code) else "/ward")
    body = (
        "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'><title>PDF not available"
        "</title></head><body style='font-family:Arial,sans-serif;max-width:40em;margin:2em auto;"
        "font-size:1.1875rem;line-height:1.4'><main><h1>Sorry, we couldn't make the PDF</h1>"
        f"<p>The reason: {html.escape(reason)}.</p><p>You can still save the profile as a PDF "
        "from your browser: open the profile, choose <strong>Print or save as PDF</strong> and "
        "pick &ldquo;Save as PDF&rdquo; as the printer. The page is already laid out for A4.</p>"
        f"<p><a href='{back}'>Back to the profile</a></p></main></body></html>")
    response = flask.Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app) -> None:
    """Add the PDF route to a Dash app's Flask server (once)."""
    server = app.server
    if "ward_profile_pdf" in server.view_functions:
        return

    @server.route("/ward/<code>/profile.pdf", endpoint="ward_profile_pdf")
    def ward_profile_pdf(code: str):
        from dashboard.views.ward import model as profile
        from dashboard.core import runtime

        code = code.strip().upper()
        layers = runtime.tables().layers
        ward = profile.ward_info(layers, code) if _CODE.match(code) else None
        if ward is None:
            return _failure(code, "there is no ward with that code", 404)
        compare = (flask.request.args.get("compare") or "").strip().upper()
        other = profile.ward_info(layers, compare) if _CODE.match(compare) else None
        query = f"?compare={other.code}" if other and other.layer == ward.layer else ""
        if flask.request.method == "HEAD":
            # A link checker or a download manager asking what is there: answer from the ward
            # alone, without starting a browser to make the file.
            response = _pdf_response(b"", ward)
            del response.headers["Content-Length"]  # unknown until the file is made
            return response
        if not _busy.acquire(blocking=False):
            return _failure(code, "another PDF is being made; please try again in a minute", 503)
        try:
            started = time.monotonic()
            url = f"{_local_origin(flask.request.environ)}{ward.path}{query}"
            public = flask.request.host_url.rstrip("/")
            data = render(url, ward.code, public)
            log.info("PDF of %s made in %.1f s", ward.code, time.monotonic() - started)
        except PdfError as exc:
            return _failure(code, str(exc), 503)
        finally:
            _busy.release()
        return _pdf_response(data, ward)


def _pdf_response(data: bytes, ward) -> flask.Response:
    from dashboard.domain import export

    name = export.filename(f"ward profile {ward.name} {ward.borough_name}", "pdf", dt.datetime.now())
    response = flask.Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
