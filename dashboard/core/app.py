"""Create the Flask server and the Dash app: routes, headers, compression, errors, the shell."""
from __future__ import annotations

import html
import logging
import re
import time
import uuid
from pathlib import Path

import dash
import flask

from dashboard.core import boundary
from dashboard.data import schema
from dashboard.core.config import PLOTLY_BUNDLE, ROOT, Config
from dashboard.core.geo import GEO_ROUTE, GeoAssets
from dashboard.core.served import IMMUTABLE, REVALIDATE, Packed, fingerprinted

log = logging.getLogger("dashboard")

# Where dcc.Graph loads plotly.js from when it first draws a graph: Dash's renderer fixes this
# URL (window._dashPlotlyJSURL, served from the plotly package) unless plotly.js is already on
# the page. The app answers it with its partial bundle (config.PLOTLY_BUNDLE).
PLOTLY_JS_ROUTE = "/_dash-component-suites/plotly/package_data/plotly.min.js"
COMPRESS_MIMETYPES = [
    "text/html", "text/css", "text/plain", "text/csv", "application/javascript",
    "text/javascript", "application/json", "application/geo+json", "image/svg+xml",
]
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "X-Frame-Options": "SAMEORIGIN",
    # Dash renders with inline scripts and plotly.js needs eval and blob: workers for maps.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "worker-src 'self' blob:; child-src blob:; connect-src 'self' https:; "
        "font-src 'self' data: https:; frame-ancestors 'self'; base-uri 'self'; "
        "form-action 'self'"
    ),
}


# A client's X-Request-ID is kept only when it is short and plain, so that it can go into logs
# and headers as it is; anything else is replaced by an id of our own.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HSTS = "max-age=31536000; includeSubDomains"
# How often a worker checks that its cache files are still on disk (a few stat calls).
CACHE_CHECK_SECONDS = 5.0


def request_id(sent: str | None) -> str:
    """The id of this request: the client's X-Request-ID if short and plain, else a new one."""
    return sent if sent and _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex[:12]


def _configure_logging(config: Config) -> None:
    logging.basicConfig(level=config.log_level,
                        format="%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RequestIdFilter) for f in handler.filters):
            handler.addFilter(_RequestIdFilter())


class _RequestIdFilter(logging.Filter):
    """Adds the current request id (or '-') to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = "-"
        if flask.has_request_context():
            rid = getattr(flask.g, "request_id", "-")
        record.request_id = rid
        return True


def _server(config: Config, geo: GeoAssets) -> flask.Flask:
    server = flask.Flask("borough_dashboards")
    server.config["COMPRESS_MIMETYPES"] = COMPRESS_MIMETYPES
    server.config["COMPRESS_MIN_SIZE"] = 500
    server.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024

    last_cache_check = [time.monotonic()]

    @server.before_request
    def _start():
        flask.g.request_id = request_id(flask.request.headers.get("X-Request-ID"))
        flask.g.t0 = time.perf_counter()
        if flask.g.t0 - last_cache_check[0] > CACHE_CHECK_SECONDS:
            last_cache_check[0] = flask.g.t0
            from dashboard.core import runtime
            runtime.store().restore_cache()

    @server.after_request
    def _headers(response: flask.Response):
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if config.hsts:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        rid = getattr(flask.g, "request_id", None)
        if rid:
            response.headers["X-Request-ID"] = rid
        t0 = getattr(flask.g, "t0", None)
        if t0 is not None:
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.1f}"
        return response

    @server.route(GEO_ROUTE + "<name>")
    def _geo(name: str):
        found = geo.files.get(name)
        if found is None:
            flask.abort(404)
        return found.response("application/json", IMMUTABLE)

    if config.plotly_bundle:
        # The app's plotly.js partial bundle (only the trace types the pages draw: 3.1 MB
        # instead of 4.8 MB to compile, 0.93 MB instead of 1.47 MB gzipped), at Dash's own URL.
        # A rule without variables: Werkzeug matches it before Dash's own
        # /_dash-component-suites/<package_name>/<path> rule, whenever either is added.
        plotly_js = Packed(PLOTLY_BUNDLE.read_bytes())
        server.add_url_rule(PLOTLY_JS_ROUTE, "plotly_js",
                            lambda: plotly_js.response("text/javascript", REVALIDATE))

    @server.route("/healthz")
    def _health():
        from dashboard.core import runtime
        problem = runtime.health()
        if problem:
            return {"status": "not ready", "reason": problem}, 503
        return {"status": "ok"}

    @server.errorhandler(Exception)
    def _error(exc: Exception):
        if isinstance(exc, _http_exception()):
            return exc
        rid = getattr(flask.g, "request_id", "-")
        log.exception("unhandled error on %s", flask.request.path)
        body = (f"<!doctype html><html lang='en'><head><title>Something went wrong</title></head>"
                f"<body><main><h1>Sorry, something went wrong</h1><p>The problem has been logged. "
                f"Please try again, or go to the <a href='/'>overview</a>. If it keeps happening, "
                f"quote reference <strong>{html.escape(rid)}</strong>.</p></main></body></html>")
        return flask.Response(body, status=500, mimetype="text/html")

    return server


def _http_exception():
    from werkzeug.exceptions import HTTPException
    return HTTPException


def check_data_dir(data_dir: Path) -> None:
    """Stop start-up (exit status 1) with one log line when the data folder cannot serve the
    pages: better no server than one showing blank pages."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        problem = "does not exist"
    else:
        missing = schema.missing_files(data_dir)
        if not missing:
            return
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4
                                          else "")
        problem = f"is missing {shown}"
    log.critical("cannot start: the data folder %s (BD_DATA_DIR) %s; build it with "
                 "`python3 -m dashboard.pipeline --out %s`", data_dir, problem, data_dir)
    raise SystemExit(1)


def create_app(config: Config | None = None) -> dash.Dash:
    """Build the server and the Dash app; pages register themselves from ``pages/``."""
    config = config or Config.from_env()
    _configure_logging(config)
    check_data_dir(config.data_dir)
    from dashboard.core import runtime

    runtime.configure(config)
    runtime.limit_malloc_arenas(config.malloc_arenas)
    # Build (or reuse) the simulated-usage cache before any worker starts. The warm-up below
    # opens the database once; it is closed before gunicorn forks, and each worker opens its own.
    runtime.store().prepare()
    geo = GeoAssets(config.data_dir)
    runtime.set_geo(geo)
    server = _server(config, geo)
    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        title="Borough Dashboards",
        update_title=None,
        suppress_callback_exceptions=True,
        compress=True,
        serve_locally=True,
        meta_tags=[
            {"name": "viewport", "content": "width=device-width, initial-scale=1"},
            {"name": "description", "content": "London EV charge points, residents' needs "
                                               "and ward profiles from open data."},
        ],
    )
    app.config.suppress_callback_exceptions = True
    from dashboard.core import shell

    app.layout = shell.layout
    app.index_string = shell.INDEX_STRING
    shell.register_callbacks(app)
    from dashboard.views.ev import model as ev
    from dashboard.core import pdf
    from dashboard.core import ward_lists

    pdf.register(app)
    ev.register_routes(app.server)
    ward_lists.register_routes(app.server)
    _guard_routes(app)
    catalogue = boundary.Catalogue()
    _warm_up(app, catalogue)
    boundary.install(app, catalogue)
    return app


def _guard_routes(app: dash.Dash) -> None:
    """404 for what Dash's routes cannot serve: component files it does not have (Dash raises on
    some of them) and addresses that are no page (the app still shows its not-found view)."""
    from dash._pages import _path_to_page
    from werkzeug.exceptions import HTTPException

    server = app.server
    prefix = app.config.routes_pathname_prefix
    suites = prefix + "_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"
    serve_file = server.view_functions[suites]

    def component_file(package_name: str, fingerprinted_path: str):
        try:
            return serve_file(package_name, fingerprinted_path)
        except HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - a file it cannot serve is a file not found
            log.info("no component file at %s (%s)", flask.request.path[:200],
                     type(exc).__name__)
            flask.abort(404)

    server.view_functions[suites] = component_file

    catchall = prefix + "<path:path>"
    serve_page = server.view_functions[catchall]

    def page(*args, **kwargs):
        response = flask.make_response(serve_page(*args, **kwargs))
        found, _ = _path_to_page(app.strip_relative_path(flask.request.path) or "")
        if not found or found.get("path") == NOT_FOUND_PATH:
            response.status_code = 404
        return response

    server.view_functions[catchall] = page


NOT_FOUND_PATH = "/404"  # pages/not_found_404.py


def _warm_up(app: dash.Dash, catalogue: boundary.Catalogue) -> None:
    """Render the index once inside the parent process.

    Dash registers its component libraries lazily, on the first index request. A gunicorn
    worker forked before that first request can receive parallel script requests that race the
    registration and answer 500 ("dash is not a registered library"); rendering once here,
    before ``--preload`` forks, makes every worker start with the libraries registered.
    """
    response = app.server.test_client().get("/")
    if response.status_code != 200:
        log.warning("warm-up request answered %s", response.status_code)
    # Each page's default layout, once: the modules, plotly's trace classes, the tables and
    # per-process caches it fills are then loaded in the parent and shared copy-on-write by
    # every worker, instead of being built again in each (the store's database connection is
    # closed before the fork; see dashboard.data.store).
    # The same layouts tell the callback boundary what each component accepts; a page with a
    # path template names sample path values (``layout_samples``) to show its other layout.
    catalogue.learn(app.layout() if callable(app.layout) else app.layout)
    for page in dash.page_registry.values():
        if callable(page.get("layout")):
            samples = page.get("layout_samples")
            for kwargs in [{}, *(samples() if callable(samples) else samples or [])]:
                try:
                    catalogue.learn(page["layout"](**kwargs))
                except Exception:  # a page that cannot render yet still serves its own message
                    log.warning("warm-up of %s failed", page.get("path"), exc_info=True)
