"""First load of each page in headless Chromium: bytes transferred by type and time to the map.

    python -m bench.bench_first_load [--reps 2] [--no-slow] [--pages /ev]

The app runs under gunicorn (2 workers, 4 threads, ``--preload``) on loopback and is warmed
first (every page loaded once), so "cold" means a cold browser, not a cold server. Each page
(/, /ev, /needs, /ward/<a Lambeth ward>) is loaded

- cold: a new browser context (empty cache), and
- warm: the same context reloaded,

on the loopback network as it is and, unless ``--no-slow``, with a slow network emulated through
CDP (``Network.emulateNetworkConditions``: 10 Mbit/s down, 5 Mbit/s up, 40 ms round trip).

Bytes are what Chromium received for each request (CDP ``Network.loadingFinished``
``encodedDataLength``: compressed body plus headers), grouped as js, css, json/geojson (Dash
layout and dependencies, the geometry), callbacks (``/_dash-update-component``) and other (HTML,
fonts, images). "Map drawn" is the time from navigation start until a MapLibre map of the page
(``gd._fullLayout.map._subplot.map``) reports ``loaded()`` and, on an ``idle`` event, has
rendered features in its choropleth fill layer; "-" when the page has no map. To see where
the time goes, each load also reports when the last script and the last callback response
arrived (ms from navigation start) and the renderer's main-thread and script time until the map
was drawn (CDP ``Performance.getMetrics`` TaskDuration and ScriptDuration). Chromium here draws
WebGL in software (SwiftShader), so map drawing costs CPU that a laptop's GPU would take.
"""
from __future__ import annotations

import argparse
import statistics
import time

from bench.common import (CHROMIUM, CHROMIUM_ARGS, fmt, kb, machine_facts, our_app, save,
                          table)

LAMBETH_WARD = "E05014098"  # Brixton Windrush, Lambeth
PAGES = ("/", "/ev", "/needs", f"/ward/{LAMBETH_WARD}")
SLOW = {"offline": False, "latency": 40, "downloadThroughput": 10_000_000 / 8,
        "uploadThroughput": 5_000_000 / 8}
TYPES = ("js", "css", "json/geojson", "callbacks", "other")
MAP_TIMEOUT_MS = 60_000

# Installed in every page before its scripts run: watches for MapLibre maps inside plotly graphs
# and records (ms since navigation start) when one first has its choropleth drawn.
WATCH_MAPS = """
(() => {
  const marks = {mapFound: null, mapLoaded: null, mapDrawn: null};
  window.__bench = marks;
  const hooked = new WeakSet();
  function drawn(map) {
    if (!map.loaded()) { return false; }
    const layers = (map.getStyle().layers || []).filter(l => l.type === 'fill').map(l => l.id);
    if (!layers.length) { return false; }
    return map.queryRenderedFeatures({layers: layers}).length > 0;
  }
  function check(map) {
    const now = performance.now();
    if (marks.mapLoaded === null && map.loaded()) { marks.mapLoaded = now; }
    if (marks.mapDrawn === null && drawn(map)) { marks.mapDrawn = now; }
  }
  function poll() {
    document.querySelectorAll('.js-plotly-plot').forEach(gd => {
      const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const map = sub && sub.map;
      if (!map || hooked.has(map)) { if (map) { check(map); } return; }
      hooked.add(map);
      if (marks.mapFound === null) { marks.mapFound = performance.now(); }
      map.on('idle', () => check(map));
      check(map);
    });
    if (marks.mapDrawn === null && performance.now() < %d) { requestAnimationFrame(poll); }
  }
  requestAnimationFrame(poll);
})();
""" % MAP_TIMEOUT_MS


def _kind(url: str, mime: str) -> str:
    if "/_dash-update-component" in url:
        return "callbacks"
    mime = (mime or "").lower()
    if "javascript" in mime or url.split("?")[0].endswith(".js"):
        return "js"
    if "css" in mime:
        return "css"
    if "json" in mime:
        return "json/geojson"
    return "other"


class Traffic:
    """Bytes per request type of one page load, from the page's CDP Network events."""

    def __init__(self, cdp):
        self.cdp = cdp
        self.mime: dict[str, tuple[str, str]] = {}
        self.bytes = {t: 0 for t in TYPES}
        self.requests = {t: 0 for t in TYPES}
        self.cached = 0
        self.started: float | None = None  # monotonic time the document was requested
        self.done = {t: None for t in TYPES}  # ms from then until the last of each type ended
        cdp.on("Network.requestWillBeSent", self._request)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.requestServedFromCache", self._from_cache)

    def reset(self) -> None:
        self.mime.clear()
        self.bytes = {t: 0 for t in TYPES}
        self.requests = {t: 0 for t in TYPES}
        self.cached = 0
        self.started = None
        self.done = {t: None for t in TYPES}

    def _request(self, event):
        if event.get("type") == "Document" and self.started is None:
            self.started = event["timestamp"]

    def _response(self, event):
        response = event["response"]
        self.mime[event["requestId"]] = (response["url"], response.get("mimeType", ""))

    def _from_cache(self, event):
        self.cached += 1

    def _finished(self, event):
        url, mime = self.mime.get(event["requestId"], ("", ""))
        if url.startswith(("data:", "blob:")):
            return
        kind = _kind(url, mime)
        self.bytes[kind] += int(event.get("encodedDataLength") or 0)
        self.requests[kind] += 1
        if self.started is not None:
            ms = (event["timestamp"] - self.started) * 1000
            self.done[kind] = max(self.done[kind] or 0, ms)


def _marks(page) -> dict:
    """Wait for the map to be drawn (when the page has one) and return the timings in ms."""
    page.wait_for_load_state("networkidle")
    has_map = page.evaluate("() => window.__bench && window.__bench.mapFound !== null")
    if not has_map:  # a map may still be on its way: give the renderer a moment
        page.wait_for_timeout(1000)
        has_map = page.evaluate("() => window.__bench && window.__bench.mapFound !== null")
    if has_map:
        page.wait_for_function("() => window.__bench.mapDrawn !== null", timeout=MAP_TIMEOUT_MS)
    marks = page.evaluate("() => window.__bench")
    nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
        return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }""")
    return {**marks, "dom_content_loaded": nav["dcl"], "load_event": nav["load"]}


def _cpu(cdp) -> dict:
    """The renderer's cumulative main-thread timings (seconds), from CDP Performance."""
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
            if m["name"] in ("TaskDuration", "ScriptDuration")}


def load(context, url: str, slow: bool, page=None, traffic=None) -> tuple[dict, object, object]:
    """Load ``url`` (reload when ``page`` is given); return (measurements, page, traffic)."""
    if page is None:
        page = context.new_page()
        page.set_default_timeout(120_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Performance.enable")
        if slow:
            cdp.send("Network.emulateNetworkConditions", SLOW)
        traffic = Traffic(cdp)
        t0 = time.perf_counter()
        response = page.goto(url, wait_until="load")
    else:
        traffic.reset()
        t0 = time.perf_counter()
        response = page.reload(wait_until="load")
    marks = _marks(page)
    cpu = _cpu(traffic.cdp)  # the counters start again at each navigation
    page.wait_for_load_state("networkidle")
    result = {"status": response.status if response else None,
              "wall_ms": (time.perf_counter() - t0) * 1000,
              "map_drawn_ms": marks["mapDrawn"], "map_loaded_ms": marks["mapLoaded"],
              "dom_content_loaded_ms": marks["dom_content_loaded"],
              "load_event_ms": marks["load_event"],
              "bytes": dict(traffic.bytes), "requests": dict(traffic.requests),
              "total_bytes": sum(traffic.bytes.values()), "served_from_cache": traffic.cached,
              "last_js_ms": traffic.done["js"], "last_callback_ms": traffic.done["callbacks"],
              # main-thread time of the renderer until the map was drawn
              "task_ms": cpu.get("TaskDuration", 0) * 1000,
              "script_ms": cpu.get("ScriptDuration", 0) * 1000}
    return result, page, traffic


def measure(browser, base: str, path: str, slow: bool, reps: int) -> dict:
    """Cold and warm loads of one page, ``reps`` times each; medians and every sample."""
    cold, warm = [], []
    for _ in range(reps):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
        context.add_init_script(WATCH_MAPS)
        result, page, traffic = load(context, base + path, slow)
        cold.append(result)
        result, _, _ = load(context, base + path, slow, page, traffic)
        warm.append(result)
        context.close()
    return {"path": path, "slow": slow, "cold": _median_of(cold), "warm": _median_of(warm),
            "samples": {"cold": cold, "warm": warm}}


def _median_of(samples: list[dict]) -> dict:
    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    return {
        "status": samples[-1]["status"],
        "map_drawn_ms": med([s["map_drawn_ms"] for s in samples]),
        "dom_content_loaded_ms": med([s["dom_content_loaded_ms"] for s in samples]),
        "last_js_ms": med([s["last_js_ms"] for s in samples]),
        "last_callback_ms": med([s["last_callback_ms"] for s in samples]),
        "task_ms": med([s["task_ms"] for s in samples]),
        "script_ms": med([s["script_ms"] for s in samples]),
        "total_bytes": med([s["total_bytes"] for s in samples]),
        "bytes": {t: med([s["bytes"][t] for s in samples]) for t in TYPES},
        "requests": sum(s["requests"][t] for s in samples[-1:] for t in TYPES),
    }


def run(reps: int = 2, slow: bool = True, workers: int = 2, pages=PAGES) -> dict:
    from playwright.sync_api import sync_playwright

    results = {"machine": machine_facts(), "settings": {"reps": reps, "slow_network": SLOW,
                                                        "workers": workers}, "loads": []}
    with our_app(workers=workers) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for path in PAGES:  # warm the server: every page once, per worker
                for _ in range(workers):
                    context = browser.new_context()
                    context.new_page().goto(server.url + path, wait_until="networkidle")
                    context.close()
            for network in ([False, True] if slow else [False]):
                for path in pages:
                    results["loads"].append(measure(browser, server.url, path, network, reps))
                    print(f"  {path} {'slow' if network else 'loopback'} done", flush=True)
        finally:
            browser.close()
    return results


def report(results: dict) -> str:
    rows = []
    for item in results["loads"]:
        for when in ("cold", "warm"):
            m = item[when]
            rows.append([item["path"], "10 Mbit/s, 40 ms" if item["slow"] else "loopback", when,
                         m["status"], fmt(m["map_drawn_ms"], 0),
                         fmt(m["dom_content_loaded_ms"], 0), fmt(m["last_js_ms"], 0),
                         fmt(m["last_callback_ms"], 0), fmt(m["task_ms"], 0),
                         fmt(m["script_ms"], 0), kb(m["total_bytes"]),
                         *[kb(m["bytes"][t]) for t in TYPES], m["requests"]])
    return table(["page", "network", "load", "status", "map drawn ms", "DCL ms", "last js ms",
                  "last callback ms", "main thread ms", "script ms", "total KB",
                  *[f"{t} KB" for t in TYPES], "requests"], rows)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="cold+warm loads per page")
    parser.add_argument("--no-slow", action="store_true", help="skip the slow network")
    parser.add_argument("--pages", nargs="+", default=list(PAGES),
                        help="measure only these pages (every page still warms the server)")
    args = parser.parse_args(argv)
    results = run(args.reps, not args.no_slow, pages=tuple(args.pages))
    path = save("first-load", results)
    print(report(results))
    print(f"\nresults: {path}")
    return results


if __name__ == "__main__":
    main()
