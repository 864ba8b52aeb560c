"""Create the Flask server and the Dash app: routes, headers, compression, errors, the shell."""
from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import dash
import flask

from dashboard import schema
from dashboard.config import PLOTLY_BUNDLE, ROOT, Config
from dashboard.served import IMMUTABLE, REVALIDATE, Packed, fingerprinted

log = logging.getLogger("dashboard")

GEO_ROUTE = "/geo/"
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


class GeoAssets:
    """Web GeoJSON layers served under content-hashed URLs, cacheable for a year.

    The browser fetches each layer once; a new pipeline run changes the hash and so the URL.
    """

    def __init__(self, data_dir: Path):
        self.files: dict[str, Packed] = {}  # name -> the layer's bytes
        self.urls: dict[str, str] = {}
        for layer in schema.LAYERS:
            path = schema.web_layer_path(data_dir, layer)
            if path.exists():
                name, packed = fingerprinted(layer, path.read_bytes())
                self.files[name] = packed
                self.urls[layer] = GEO_ROUTE + name

    def url(self, layer: str) -> str:
        return self.urls[layer]


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

    @server.before_request
    def _start():
        flask.g.request_id = flask.request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex[:12]
        flask.g.t0 = time.perf_counter()

    @server.after_request
    def _headers(response: flask.Response):
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
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
                f"quote reference <strong>{rid}</strong>.</p></main></body></html>")
        return flask.Response(body, status=500, mimetype="text/html")

    return server


def _http_exception():
    from werkzeug.exceptions import HTTPException
    return HTTPException


def create_app(config: Config | None = None) -> dash.Dash:
    """Build the server and the Dash app; pages register themselves from ``pages/``."""
    config = config or Config.from_env()
    _configure_logging(config)
    from dashboard import runtime

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
    from dashboard import shell

    app.layout = shell.layout
    app.index_string = shell.INDEX_STRING
    shell.register_callbacks(app)
    from dashboard import ev, pdf, ward_lists

    pdf.register(app)
    ev.register_routes(app.server)
    ward_lists.register_routes(app.server)
    _warm_up(app)
    return app


def _warm_up(app: dash.Dash) -> None:
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
    # closed before the fork; see dashboard.store).
    for page in dash.page_registry.values():
        if callable(page.get("layout")):
            try:
                page["layout"]()
            except Exception:  # a page that cannot render yet still serves its own message
                log.warning("warm-up of %s failed", page.get("path"), exc_info=True)
