"""Where the renderer's main thread spends a cold first load, until the map is drawn.

    python -m bench.profile_first_load [--page /ev] [--reps 3] [--keep-trace]

Same server and browser as ``bench.bench_first_load`` (gunicorn, 2 workers, ``--preload``, warmed
first; headless Chromium with software WebGL), but each cold load is recorded with Chromium's
trace (CDP Tracing: the DevTools timeline events and the V8 CPU profiler's samples) and
``Plotly`` is wrapped so that each ``Plotly.newPlot`` / ``Plotly.react`` call is timed with the
graph it draws. Tracing slows the page, so these times are longer than the benchmark's; use them
for shares, and the benchmark for the figures.

The main thread's time from navigation start until "map drawn" (the benchmark's definition) is
split into

- script evaluation per script (``EvaluateScript``: compiling and running its top level),
- each graph's synchronous ``Plotly.newPlot`` / ``react`` call,
- the rest of the script time (callbacks, React rendering, promise continuations such as
  MapLibre loading its style and sources, drawing frames), from the CPU samples by script,
- garbage collection, style and layout, paint and compositing, HTML parsing and the rest,

and the GeoJSON layers' fetch times are listed. ``--keep-trace`` writes each trace under
bench/results/ for Chromium's or Perfetto's trace viewer.
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from urllib.parse import urlparse

from bench.bench_first_load import PAGES, WATCH_MAPS, _marks
from bench.common import CHROMIUM, CHROMIUM_ARGS, RESULTS, fmt, our_app, save, table

CATEGORIES = [
    "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "v8",
    "disabled-by-default-v8.cpu_profiler", "blink.user_timing",
]

# Wraps Plotly's drawing calls as soon as plotly.js sets window.Plotly; every call is logged with
# the id of the dcc.Graph it draws in and the time (ms from navigation start) it took.
WATCH_PLOTLY = """
(() => {
  const calls = window.__plotlyCalls = [];
  function graphId(gd) {
    const host = gd && gd.closest && gd.closest('[id]');
    return host ? host.id : '?';
  }
  const wrapped = new WeakSet();  // window.Plotly may be set more than once to the same object
  function wrap(P) {
    if (wrapped.has(P)) { return; }
    wrapped.add(P);
    ['newPlot', 'react'].forEach(name => {
      const f = P[name];
      if (typeof f !== 'function' || f.__timed) { return; }
      const timed = function (gd) {
        const call = {what: name, graph: graphId(gd), start: performance.now()};
        calls.push(call);
        try { return f.apply(this, arguments); }
        finally { call.end = performance.now(); }
      };
      timed.__timed = true;
      P[name] = timed;
    });
  }
  let plotly;
  Object.defineProperty(window, 'Plotly', {
    configurable: true, enumerable: true,
    get() { return plotly; },
    set(value) { plotly = value; if (value) { wrap(value); } }
  });
})();
"""

GC = {"MinorGC", "MajorGC", "V8.GC_MC_INCREMENTAL", "BlinkGC.AtomicPhase", "V8.GCScavenger",
      "V8.GCCompactor", "V8.GCFinalizeMC", "V8.GC_MC_BACKGROUND_MARKING", "GCEvent",
      "BlinkGC.CompleteSweep", "BlinkGC.LazySweepInIdle", "CppGC.IncrementalSweep"}
STYLE_LAYOUT = {"UpdateLayoutTree", "Layout", "RecalcStyle", "ScheduleStyleRecalculation",
                "InvalidateLayout", "HitTest", "IntersectionObserverController::computeIntersections"}
PAINT = {"Paint", "PrePaint", "Layerize", "Commit", "UpdateLayer", "CompositeLayers",
         "RasterTask", "Decode Image", "PaintImage", "UpdateLayerTree", "ScrollLayer"}
PARSE = {"ParseHTML", "ParseAuthorStyleSheet"}
SCRIPT = {"EvaluateScript", "v8.compile", "v8.compileModule", "FunctionCall", "TimerFire",
          "FireAnimationFrame", "EventDispatch", "XHRReadyStateChange", "XHRLoad",
          "RunMicrotasks", "v8.callFunction", "v8.run", "V8.Execute", "FireIdleCallback",
          "v8.evaluateModule", "ParseScriptOnBackground", "v8.produceCache",
          "v8.produceModuleCache", "MessagePort::Receive", "WebSocketReceive",
          "ResizeObserver::BroadcastObservations"}


def _script_name(url: str) -> str:
    path = urlparse(url).path if url else ""
    if not path:
        return "(inline or eval)"
    name = path.rsplit("/", 1)[-1]
    for long, short in (("plotly.min.js", "plotly.min.js"), ("dash_renderer", "dash-renderer"),
                        ("dash_core_components-shared", "dcc shared"),
                        ("dash_core_components", "dcc"), ("dash_html_components", "html"),
                        ("react-dom", "react-dom"), ("react@", "react"),
                        ("polyfill", "polyfill"), ("prop-types", "prop-types"),
                        ("bundle", "dash_table"), ("async-graph", "dcc async-graph"),
                        ("async-dropdown", "dcc async-dropdown")):
        if long in name:
            return short
    return name


class Trace:
    """The page's renderer main thread in a Chromium trace, with its CPU profile samples."""

    def __init__(self, events: list[dict], url_part: str):
        starts = [e for e in events if e.get("name") == "navigationStart"
                  and url_part in e.get("args", {}).get("data", {}).get("documentLoaderURL", "")]
        if not starts:
            raise RuntimeError("no navigationStart for the page in the trace")
        nav = starts[-1]
        self.pid, self.tid, self.t0 = nav["pid"], nav["tid"], nav["ts"]
        self.events = [e for e in events if e.get("pid") == self.pid and e.get("tid") == self.tid
                       and e.get("ph") == "X" and "dur" in e]
        self.samples = self._samples(events)

    def ms(self, ts: float) -> float:
        return (ts - self.t0) / 1000

    def _samples(self, events: list[dict]) -> list[tuple[float, str, str]]:
        """(ms from navigation start, script of the leaf frame, leaf function) per sample."""
        profile_ids = {e["id"] for e in events if e.get("name") == "Profile"
                       and e.get("pid") == self.pid and e.get("tid") == self.tid}
        nodes: dict[int, dict] = {}
        out, ts = [], None
        for e in events:
            if e.get("name") == "Profile" and e.get("id") in profile_ids:
                ts = e["args"]["data"]["startTime"]
        for e in events:
            if e.get("name") != "ProfileChunk" or e.get("id") not in profile_ids:
                continue
            data = e["args"]["data"]
            cpu = data.get("cpuProfile", {})
            for node in cpu.get("nodes", []):
                frame = node.get("callFrame", {})
                nodes[node["id"]] = {"url": frame.get("url", ""),
                                     "fn": frame.get("functionName", "")}
            for node_id, delta in zip(cpu.get("samples", []), data.get("timeDeltas", [])):
                ts += delta
                node = nodes.get(node_id, {"url": "", "fn": "?"})
                out.append((self.ms(ts), node["url"], node["fn"]))
        return out

    def tasks(self, end_ms: float) -> list[dict]:
        return [e for e in self.events if e["name"] == "RunTask" and self.ms(e["ts"]) < end_ms]

    def self_times(self, end_ms: float) -> dict[str, float]:
        """Self time (ms) per event name on the main thread, clipped to [0, end_ms]."""
        out: dict[str, float] = defaultdict(float)
        evs = sorted((e for e in self.events if self.ms(e["ts"]) < end_ms),
                     key=lambda e: (e["ts"], -e["dur"]))
        stack: list[list] = []  # [event, end ts, child time]

        def close(item):
            event, end, children = item
            start = max(event["ts"], self.t0)
            stop = min(end, self.t0 + end_ms * 1000)
            if stop > start:
                out[event["name"]] += max(0.0, (stop - start) - children) / 1000
            if stack:
                stack[-1][2] += max(0.0, stop - start)

        for e in evs:
            while stack and stack[-1][1] <= e["ts"]:
                close(stack.pop())
            stack.append([e, e["ts"] + e["dur"], 0.0])
        while stack:
            close(stack.pop())
        return out


RENDERER = {"dash-renderer", "react-dom", "react", "dcc", "html", "polyfill", "prop-types",
            "dcc shared", "dash_table"}


def _phase_of_task(trace: Trace, task: dict, samples: list[tuple[float, str, str]],
                   kids: list[dict]) -> str:
    """What a main-thread task was mostly doing, from its events and its CPU samples."""
    for e in kids:
        if e["name"] == "EvaluateScript":
            url = e.get("args", {}).get("data", {}).get("url", "")
            if _script_name(url) == "plotly.min.js":
                return "plotly.js: compile and evaluate"
    by_script = defaultdict(int)
    for _, url, fn in samples:
        if url:
            by_script[_script_name(url)] += 1
    commit = sum(e["dur"] for e in kids if e["name"] == "Commit")
    if commit > task["dur"] / 2:
        return "frame commit (waits for WebGL drawing)"
    if any(e["name"] == "EvaluateScript" for e in kids) and not by_script.get("dash-renderer"):
        return "other scripts: compile and evaluate"
    if by_script:
        top = max(by_script, key=by_script.get)
        if top == "plotly.min.js":
            return "plotly.js / MapLibre outside Plotly calls"
        if top in RENDERER:
            return "Dash renderer and React"
        if top == "dcc async-dropdown":
            return "dropdowns"
        return f"script: {top}"
    names = defaultdict(float)
    for e in kids:
        names[e["name"]] += e["dur"]
    if names.get("ParseHTML"):
        return "HTML parsing and scripts"
    if any(n in names for n in ("Layout", "UpdateLayoutTree", "Paint", "PrePaint")):
        return "style, layout and paint"
    return "other"


def _breakdown(trace: Trace, marks: dict, calls: list[dict], end_ms: float) -> dict:
    tasks = [t for t in trace.tasks(end_ms) if trace.ms(t["ts"] + t["dur"]) > 0]
    busy = sum(min(trace.ms(t["ts"] + t["dur"]), end_ms) - max(trace.ms(t["ts"]), 0.0)
               for t in tasks)
    selfs = trace.self_times(end_ms)
    evaluate = defaultdict(float)
    for e in trace.events:
        if e["name"] == "EvaluateScript" and 0 <= trace.ms(e["ts"]) < end_ms:
            url = e.get("args", {}).get("data", {}).get("url", "")
            evaluate[_script_name(url)] += e["dur"] / 1000
    windows = [(c["start"], min(c["end"], end_ms), f"Plotly.{c['what']} {c['graph']}")
               for c in calls if c.get("end") is not None and c["start"] < end_ms]
    plots = defaultdict(float)
    for a, b, name in windows:
        plots[name] += b - a

    # Each task's time: the Plotly calls inside it by graph, the rest by what it was doing
    events = sorted(trace.events, key=lambda e: e["ts"])
    samples = sorted(s for s in trace.samples if 0 <= s[0] < end_ms)
    phases: dict[str, float] = defaultdict(float)
    for task in tasks:
        a, b = max(trace.ms(task["ts"]), 0.0), min(trace.ms(task["ts"] + task["dur"]), end_ms)
        inside = 0.0
        for wa, wb, name in windows:
            overlap = min(b, wb) - max(a, wa)
            if overlap > 0:
                phases[name] += overlap
                inside += overlap
        rest = (b - a) - inside
        if rest <= 0:
            continue
        kids = [e for e in events if task["ts"] <= e["ts"] < task["ts"] + task["dur"]
                and e is not task]
        own = [s for s in samples if a <= s[0] < b
               and not any(wa <= s[0] < wb for wa, wb, _ in windows)]
        phases[_phase_of_task(trace, task, own, kids)] += rest

    # CPU samples outside script evaluation and the timed Plotly calls, by the leaf's script
    evals = [(trace.ms(e["ts"]), trace.ms(e["ts"] + e["dur"])) for e in trace.events
             if e["name"] == "EvaluateScript" and 0 <= trace.ms(e["ts"]) < end_ms]
    interval = (statistics.median(b[0] - a[0] for a, b in zip(samples, samples[1:]))
                if len(samples) > 1 else 0.0)
    other_js = defaultdict(float)
    for t, url, fn in samples:
        if fn in ("(idle)", "(program)", "(garbage collector)", "(root)"):
            continue
        if any(a <= t < b for a, b in evals) or any(a <= t < b for a, b, _ in windows):
            continue
        other_js[_script_name(url) if url else f"({fn or 'native'})"] += interval

    def total(names):
        return sum(v for k, v in selfs.items() if k in names)

    groups = {
        "script (all)": total(SCRIPT) + total({"V8.BytecodeBudgetInterrupt",
                                               "V8.HandleInterrupts", "V8.StackGuard",
                                               "V8.DeoptimizeCode"}),
        "garbage collection": total(GC) + sum(v for k, v in selfs.items()
                                              if "GC" in k and k not in GC),
        "style and layout": total(STYLE_LAYOUT),
        "paint and compositing (incl. commit)": total(PAINT),
        "HTML and CSS parsing": total(PARSE),
    }
    groups["other"] = max(0.0, busy - sum(groups.values()))
    return {"map_drawn_ms": end_ms, "busy_ms": busy, "groups": groups, "phases": dict(phases),
            "evaluate": dict(evaluate), "plots": dict(plots), "other_script": dict(other_js),
            "sample_interval_ms": interval,
            "top_self": dict(sorted(selfs.items(), key=lambda kv: -kv[1])[:25]),
            "marks": marks}


def _geo_timings(page) -> list[dict]:
    return page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(r => /\\/geo\\/|ev-points|_dash-layout|_dash-dependencies/.test(r.name))
        .map(r => ({name: r.name.replace(location.origin, ''), start: r.startTime,
                    end: r.responseEnd, bytes: r.encodedBodySize}))""")


def _json_parse_ms(page, urls: list[str]) -> dict:
    """Fetching each GeoJSON layer again (from the cache) and timing JSON.parse of its text."""
    return page.evaluate("""async urls => { const out = {};
        for (const u of urls) { const text = await (await fetch(u)).text();
            const t = performance.now(); JSON.parse(text);
            out[u] = performance.now() - t; }
        return out; }""", urls)


def profile(reps: int, path: str, keep: bool) -> dict:
    from playwright.sync_api import sync_playwright

    runs = []
    with our_app(workers=2) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for warm in PAGES:
                for _ in range(2):
                    context = browser.new_context()
                    context.new_page().goto(server.url + warm, wait_until="networkidle")
                    context.close()
            for rep in range(reps):
                context = browser.new_context(viewport={"width": 1280, "height": 800},
                                              locale="en-GB")
                context.add_init_script(WATCH_MAPS)
                context.add_init_script(WATCH_PLOTLY)
                page = context.new_page()
                page.set_default_timeout(120_000)
                browser.start_tracing(page=page, categories=CATEGORIES)
                page.goto(server.url + path, wait_until="load")
                marks = _marks(page)
                page.wait_for_load_state("networkidle")
                raw = browser.stop_tracing()
                calls = page.evaluate("() => window.__plotlyCalls || []")
                geo = _geo_timings(page)
                parse = _json_parse_ms(page, [g["name"] for g in geo if "/geo/" in g["name"]])
                context.close()
                if keep:
                    RESULTS.mkdir(parents=True, exist_ok=True)
                    (RESULTS / f"trace-{path.strip('/').replace('/', '-') or 'overview'}"
                               f"-{rep}.json").write_bytes(raw)
                events = json.loads(raw)
                events = events["traceEvents"] if isinstance(events, dict) else events
                trace = Trace(events, path)
                end = marks["mapDrawn"] or trace.ms(max(e["ts"] + e["dur"]
                                                        for e in trace.events))
                result = _breakdown(trace, marks, calls, end)
                result.update(calls=calls, resources=geo, json_parse_ms=parse)
                runs.append(result)
                print(f"  {path} rep {rep + 1}: map drawn {fmt(end, 0)} ms (traced)", flush=True)
        finally:
            browser.close()
    return {"path": path, "runs": runs}


def _median(runs: list[dict], get) -> float:
    values = [get(r) for r in runs]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else 0.0


def report(results: dict) -> str:
    runs = results["runs"]
    rows = [["map drawn (traced)", fmt(_median(runs, lambda r: r["map_drawn_ms"]), 0)],
            ["main thread busy", fmt(_median(runs, lambda r: r["busy_ms"]), 0)]]
    for group in runs[0]["groups"]:
        rows.append([f"  {group}", fmt(_median(runs, lambda r: r["groups"].get(group)), 0)])
    keys = sorted({k for r in runs for k in r["phases"]},
                  key=lambda k: -_median(runs, lambda r: r["phases"].get(k, 0.0)))
    rows.append(["main thread busy, by what each task was doing", ""])
    rows += [[f"  {k}", fmt(_median(runs, lambda r: r["phases"].get(k, 0.0)), 0)] for k in keys
             if _median(runs, lambda r: r["phases"].get(k, 0.0)) >= 1]
    keys = sorted({k for r in runs for k in r["evaluate"]},
                  key=lambda k: -_median(runs, lambda r: r["evaluate"].get(k, 0.0)))
    rows.append(["script evaluation (compile + top level), by script", ""])
    rows += [[f"  {k}", fmt(_median(runs, lambda r: r["evaluate"].get(k, 0.0)), 0)]
             for k in keys if _median(runs, lambda r: r["evaluate"].get(k, 0.0)) >= 1]
    keys = sorted({k for r in runs for k in r["other_script"]},
                  key=lambda k: -_median(runs, lambda r: r["other_script"].get(k, 0.0)))
    rows.append(["other script time (CPU samples outside the above), by script", ""])
    rows += [[f"  {k}", fmt(_median(runs, lambda r: r["other_script"].get(k, 0.0)), 0)]
             for k in keys if _median(runs, lambda r: r["other_script"].get(k, 0.0)) >= 5]
    out = [table(["until the map is drawn", "median ms"], rows)]
    res = [[r["name"], fmt(r["start"], 0), fmt(r["end"], 0), fmt(r["bytes"], 0)]
           for r in runs[-1]["resources"]]
    out.append(table(["request (last run)", "start ms", "end ms", "body bytes"], res))
    parse = [[u, fmt(ms, 1)] for u, ms in runs[-1]["json_parse_ms"].items()]
    if parse:
        out.append(table(["GeoJSON layer", "JSON.parse ms"], parse))
    calls = [[c["what"], c["graph"], fmt(c["start"], 0), fmt(c.get("end"), 0)]
             for c in runs[-1]["calls"]]
    out.append(table(["Plotly call (last run)", "graph", "start ms", "end ms"], calls))
    return "\n\n".join(out)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default="/ev")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--keep-trace", action="store_true")
    args = parser.parse_args(argv)
    results = profile(args.reps, args.page, args.keep_trace)
    path = save(f"profile-{args.page.strip('/').replace('/', '-') or 'overview'}", results)
    print(report(results))
    print(f"\nresults: {path}")
    return results


if __name__ == "__main__":
    main()
