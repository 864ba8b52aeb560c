"""Filter changes on the EV page against the plain baseline, under concurrent clients.

    python -m bench.bench_callbacks [--clients 1 4 16] [--requests 40] [--duration 40]

Headless Chromium opens each app once and makes the same filter changes through its controls
(period and speed for all of London, a borough, a ward, another borough, speeds back to all,
back to all of London; our page also changes the map measure); every
``/_dash-update-component`` POST the browser sends is recorded as a template, and each template
is checked against the app's ``/_dash-dependencies``. The templates are then replayed by 1, 4
and 16 concurrent clients (threads, one session each); each client sends at most
``--requests`` requests or stops after ``--duration`` seconds.

Both apps run under gunicorn (2 workers, 4 threads, ``--preload``) on loopback ports, by
default without keep-alive (``--keep-alive 0``: each request on a new connection, as behind a
reverse proxy that opens one per request, nginx's default). With keep-alive the 16 clients'
long-lived connections, all opened at the same instant, are split between the two workers by
whichever is awake first, and that split, fixed for the whole run, decides the throughput more
than either app does (one worker was measured doing 85% of the work while the other idled);
``--keep-alive SECONDS`` measures that way instead. The CPU each worker used is reported for
every level, so an uneven split shows.

Each response is classified by which figures it updates: "map" (the map only), "charts" (other
figures only), "map + charts" (both in one response) or "other" (no figure, e.g. the device
table or ward options; 204 = nothing to update). Reported per app, concurrency and class: median
and 95th percentile latency, requests per second, bytes on the wire (compressed) and JSON bytes
(decompressed); and per app and concurrency, filter changes per second (every request a change
makes, replayed in the browser's order) with the ratio ours / baseline from the same run.
"""
from __future__ import annotations

import argparse
import gzip
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import requests

from bench.common import (CHROMIUM, CHROMIUM_ARGS, baseline_app, fmt, kb, machine_facts,
                          our_app, save, summarise, table)

LAMBETH, SOUTHWARK = "Lambeth", "Southwark"
LAMBETH_WARD = "Brixton Windrush"
ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends


@dataclass(frozen=True)
class AppSpec:
    """How to drive one app in the browser: its page, control ids, map id and month labels."""
    name: str
    path: str
    prefix: str          # component id prefix ("ev-" for ours, "" for the baseline)
    map_id: str
    month_label: str     # label of the month chosen as the new period start
    measure: bool        # has a map measure control


OURS = AppSpec("ours", "/ev", "ev-", "ev-map", "January 2025", True)
BASELINE = AppSpec("baseline", "/", "", "map", "2025-01", False)


def _choose(page, selector: str, text: str) -> None:
    """Pick an option of a dcc.Dropdown by its label: open it, search when it has a search box,
    and click the first option showing ``text``."""
    page.click(selector)
    page.wait_for_timeout(150)
    if page.evaluate("() => document.activeElement.type === 'search'"):
        page.keyboard.type(text)
        page.wait_for_timeout(250)
    page.locator(".dash-dropdown-option", has_text=text).first.click()


def steps(spec: AppSpec) -> list[tuple[str, Callable]]:
    """The filter changes, in order, as (name, browser action)."""
    p = spec.prefix
    out = [
        ("period, London", lambda page: _choose(page, f"#{p}from", spec.month_label)),
        ("speed rapid, London", lambda page: page.click(f"#{p}speed input[value=rapid]")),
        ("borough", lambda page: _choose(page, f"#{p}borough", LAMBETH)),
        ("ward", lambda page: _choose(page, f"#{p}ward", LAMBETH_WARD)),
    ]
    if spec.measure:
        out.append(("map measure", lambda page: page.click(f"#{p}measure input[value=sessions]")))
    out += [
        ("other borough", lambda page: _choose(page, f"#{p}borough", SOUTHWARK)),
        ("all speeds, borough", lambda page: page.click(f"#{p}speed input[value=rapid]")),
        ("back to London", lambda page: page.click(f"#{p}borough .dash-dropdown-clear")),
    ]
    return out


def _classify(body: bytes, status: int, map_id: str) -> str:
    """Which figures a callback response updates (see the module docstring)."""
    if status == 204 or not body:
        return "other"
    try:
        updated = json.loads(body).get("response", {})
    except ValueError:
        return "other"
    figures = {cid for cid, props in updated.items() if "figure" in props}
    has_map = map_id in figures
    charts = figures - {map_id}
    if has_map and charts:
        return "map + charts"
    if has_map:
        return "map"
    if charts:
        return "charts"
    return "other"


class _Traffic:
    """Counts a page's callback requests in flight, to know when a change has settled."""

    def __init__(self, page, map_id: str):
        self.map_id = map_id
        self.in_flight = 0
        self.last_event = time.perf_counter()
        self.seen: list[dict] = []
        page.on("request", self._request)
        page.on("requestfailed", self._done)
        page.on("response", self._response)

    @staticmethod
    def _is_callback(url: str) -> bool:
        return "/_dash-update-component" in url

    def _request(self, request):
        if self._is_callback(request.url):
            self.in_flight += 1
            self.last_event = time.perf_counter()

    def _done(self, request):
        if self._is_callback(request.url):
            self.in_flight -= 1
            self.last_event = time.perf_counter()

    def _response(self, response):
        if not self._is_callback(response.url):
            return
        try:
            body = response.body()
        except Exception:  # the page navigated away before the body arrived
            body = b""
        self.seen.append({"body": response.request.post_data, "status": response.status,
                          "kind": _classify(body, response.status, self.map_id)})
        self.in_flight -= 1
        self.last_event = time.perf_counter()

    def settle(self, page, quiet_s: float = 1.0, timeout_s: float = 180.0) -> None:
        """Wait until callbacks were sent, none is in flight and none started for ``quiet_s``."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            page.wait_for_timeout(100)
            quiet = time.perf_counter() - self.last_event
            if self.seen and self.in_flight <= 0 and quiet >= quiet_s:
                return
            if not self.seen and self.in_flight <= 0 and quiet >= 10:
                return  # nothing was sent
        raise RuntimeError("callbacks did not settle in time")


def record(spec: AppSpec, url: str, browser) -> list[dict]:
    """Make the filter changes in a browser; return each change's callback requests in order."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(120_000)
    traffic = _Traffic(page, spec.map_id)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + spec.path, wait_until="networkidle")
    try:
        page.wait_for_selector(f"#{spec.map_id} .js-plotly-plot")
    except Exception as exc:
        raise RuntimeError(f"{spec.name}: no map on {spec.path}; browser errors: {errors[:5]} "
                           "(server logs: bench/results/server-*.log)") from exc
    traffic.settle(page)
    recorded = []
    for name, action in steps(spec):
        traffic.seen = []
        traffic.last_event = time.perf_counter()
        action(page)
        traffic.settle(page)
        if not traffic.seen:
            raise RuntimeError(f"{spec.name}: the change {name!r} sent no callback")
        recorded.append({"step": name, "requests": list(traffic.seen)})
    context.close()
    return recorded


def check_templates(url: str, recorded: list[dict]) -> None:
    """Every recorded request must name a callback of the running app."""
    deps = requests.get(url + "/_dash-dependencies", timeout=30).json()
    outputs = {d["output"] for d in deps}
    for step in recorded:
        for req in step["requests"]:
            out = json.loads(req["body"])["output"]
            if out not in outputs:
                raise RuntimeError(f"recorded callback {out[:80]} is not in /_dash-dependencies")


def _decoded_size(raw: bytes, encoding: str) -> int:
    """Size of a response body once its Content-Encoding (gzip, br, zstd) is undone."""
    if encoding == "gzip":
        return len(gzip.decompress(raw))
    if encoding == "br":
        import brotli
        return len(brotli.decompress(raw))
    if encoding == "zstd":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            from backports import zstd
        return len(zstd.decompress(raw))
    return len(raw)


def _client(url: str, plan: list[tuple[int, dict]], offset: int, max_requests: int,
            deadline: float, out: list, changes: list) -> None:
    """Replay the plan from ``offset`` in order, cycling, until the budget is used up."""
    session = requests.Session()
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "Accept-Encoding": ACCEPT_ENCODING}
    sent, i = 0, offset
    step_start, step_ok = None, True
    while sent < max_requests and time.perf_counter() < deadline:
        step_index, req = plan[i % len(plan)]
        first_of_step = i % len(plan) == 0 or plan[(i - 1) % len(plan)][0] != step_index
        last_of_step = plan[(i + 1) % len(plan)][0] != step_index or len(plan) == 1
        if first_of_step:
            step_start, step_ok = time.perf_counter(), True
        t0 = time.perf_counter()
        try:
            resp = session.post(url + "/_dash-update-component", data=req["body"],
                                headers=headers, stream=True, timeout=120)
            raw = resp.raw.read(decode_content=False)
            ms = (time.perf_counter() - t0) * 1000
            status = resp.status_code
            encoding = resp.headers.get("Content-Encoding", "")
            timing = resp.headers.get("Server-Timing", "")
        except requests.RequestException:
            ms, raw, status, encoding, timing = (time.perf_counter() - t0) * 1000, b"", 0, "", ""
        ok = status in (200, 204)
        step_ok &= ok
        server_ms = None
        if timing.startswith("app;dur="):
            server_ms = float(timing.split("=", 1)[1])
        out.append({"kind": req["kind"], "step": step_index, "ms": ms, "wire": len(raw),
                    "json": _decoded_size(raw, encoding) if raw else 0, "ok": ok,
                    "server_ms": server_ms})
        if last_of_step and step_start is not None:
            changes.append(((time.perf_counter() - step_start) * 1000, step_ok))
            step_start = None
        sent += 1
        i += 1
    session.close()


def replay(url: str, recorded: list[dict], clients: int, max_requests: int,
           duration: float) -> dict:
    """Run ``clients`` concurrent clients over the recorded plan; return per-class results."""
    plan = [(s, req) for s, step in enumerate(recorded) for req in step["requests"]]
    starts = [0] + [sum(len(recorded[k]["requests"]) for k in range(s)) for s in
                    range(1, len(recorded))]
    samples: list[dict] = []
    changes: list[tuple[float, bool]] = []
    deadline = time.perf_counter() + duration
    threads = [threading.Thread(target=_client, args=(url, plan, starts[c % len(starts)],
                                                      max_requests, deadline, samples, changes))
               for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    by_kind = defaultdict(list)
    for s in samples:
        by_kind[s["kind"]].append(s)
    by_kind["all"] = samples
    result = {"clients": clients, "wall_s": wall, "requests": len(samples),
              "errors": sum(not s["ok"] for s in samples),
              "req_per_s": len(samples) / wall if wall else None,
              "changes": len(changes), "changes_per_s": len(changes) / wall if wall else None,
              "change_latency": summarise([ms for ms, _ in changes]), "kinds": {}}
    for kind, rows in by_kind.items():
        stats = summarise([r["ms"] for r in rows])
        server = [r["server_ms"] for r in rows if r["server_ms"] is not None]
        stats.update(req_per_s=len(rows) / wall if wall else None,
                     wire_median=_median([r["wire"] for r in rows]),
                     wire_max=max(r["wire"] for r in rows),
                     json_median=_median([r["json"] for r in rows]),
                     json_max=max(r["json"] for r in rows),
                     server_median_ms=_median(server) if server else None)
        result["kinds"][kind] = stats
    return result


def _median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


def warm(url: str, recorded: list[dict]) -> None:
    """Send every recorded request twice from two clients so that both workers are warm."""
    plan_len = sum(len(s["requests"]) for s in recorded)
    replay(url, recorded, clients=2, max_requests=plan_len * 2, duration=120)


APPS = ("ours", "ours-nocache", "baseline")


def _servers(workers: int, apps, keepalive: int) -> dict:
    """Our app as deployed (per-worker result cache on), our app with the cache off (every
    request computed: what a new state costs), and the baseline."""
    made = {"ours": lambda: our_app(workers=workers, keepalive=keepalive),
            "ours-nocache": lambda: our_app(workers=workers, keepalive=keepalive,
                                            env={"BD_EV_CACHE": "0"}, label="nocache"),
            "baseline": lambda: baseline_app(workers=workers, keepalive=keepalive)}
    return {name: made[name]() for name in APPS if name in apps}


def _measured(server, recorded: list[dict], clients: int, max_requests: int,
              duration: float) -> dict:
    """``replay``, with the CPU seconds each worker used meanwhile."""
    before = server.worker_cpu()
    result = replay(server.url, recorded, clients, max_requests, duration)
    after = server.worker_cpu()
    result["worker_cpu_s"] = [after[p] - before[p] for p in sorted(after) if p in before]
    return result


def run(clients=(1, 4, 16), max_requests: int = 40, duration: float = 40.0,
        workers: int = 2, apps=APPS, keepalive: int = 0) -> dict:
    from playwright.sync_api import sync_playwright

    results = {"machine": machine_facts(), "settings": {
        "clients": list(clients), "max_requests_per_client": max_requests,
        "max_seconds": duration, "workers": workers, "threads": 4,
        "keepalive_s": keepalive}, "apps": {}}
    servers = _servers(workers, apps, keepalive)
    specs = {"ours": OURS, "ours-nocache": OURS, "baseline": BASELINE}
    try:
        for server in servers.values():
            server.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            recorded = {}
            for name in servers:
                twin = "ours" if name == "ours-nocache" and "ours" in recorded else None
                # the same app with another setting sends the same requests
                recorded[name] = (recorded[twin] if twin else
                                  record(specs[name], servers[name].url, browser))
            browser.close()
        for name, server in servers.items():
            check_templates(server.url, recorded[name])
        save("callback-templates", recorded)
        for name, server in servers.items():
            warm(server.url, recorded[name])
            runs = []
            for c in clients:
                runs.append(_measured(server, recorded[name], c, max_requests, duration))
                print(f"  {name}: {c} clients done", flush=True)
            results["apps"][name] = {
                "steps": [{"step": s["step"], "requests": [r["kind"] for r in s["requests"]]}
                          for s in recorded[name]],
                "runs": runs, "memory": server.memory()}
    finally:
        for server in servers.values():
            server.stop()
    results["ratios"] = ratios(results)
    return results


def ratios(results: dict) -> list[dict]:
    """Each of our runs / the baseline at each concurrency: throughput (changes and requests
    per second) and the change latency's p95."""
    out = []
    if "baseline" not in results["apps"]:
        return out
    base = {r["clients"]: r for r in results["apps"]["baseline"]["runs"]}
    for app in (a for a in results["apps"] if a != "baseline"):
        ours = {r["clients"]: r for r in results["apps"][app]["runs"]}
        for c in sorted(ours):
            if c not in base:
                continue
            o, b = ours[c], base[c]
            out.append({
                "app": app, "clients": c,
                "changes_per_s_ratio": _div(o["changes_per_s"], b["changes_per_s"]),
                "req_per_s_ratio": _div(o["req_per_s"], b["req_per_s"]),
                "change_p95_ratio": _div(o["change_latency"]["p95_ms"],
                                         b["change_latency"]["p95_ms"]),
            })
    return out


def _div(a, b):
    return None if a is None or not b else a / b


def _split(run: dict) -> str:
    """Each worker's CPU seconds in a run, and the busiest one's share."""
    cpu = run.get("worker_cpu_s") or []
    if not cpu or not sum(cpu):
        return "-"
    return f"{' + '.join(fmt(c, 2) for c in cpu)} ({max(cpu) / sum(cpu):.0%})"


def report(results: dict) -> str:
    keepalive = results.get("settings", {}).get("keepalive_s")
    lines = []
    if keepalive is not None:
        lines.append("Connections: " + ("a new one per request (gunicorn --keep-alive 0)."
                                        if keepalive == 0 else
                                        f"kept alive (gunicorn --keep-alive {keepalive})."))
    for name, app in results["apps"].items():
        lines.append(f"\n{name}: filter changes replayed (steps: "
                     + "; ".join(f"{s['step']} = {', '.join(s['requests'])}"
                                 for s in app["steps"]) + ")")
        rows = []
        for run in app["runs"]:
            for kind, k in run["kinds"].items():
                rows.append([run["clients"], kind, k["n"], fmt(k["median_ms"]), fmt(k["p95_ms"]),
                             fmt(k["req_per_s"]), kb(k["wire_median"]), kb(k["wire_max"]),
                             kb(k["json_median"]), kb(k["json_max"]),
                             fmt(k["server_median_ms"])])
        lines.append(table(["clients", "response", "n", "median ms", "p95 ms", "req/s",
                            "wire KB med", "wire KB max", "JSON KB med", "JSON KB max",
                            "server ms med"], rows))
        rows = [[r["clients"], r["changes"], fmt(r["change_latency"]["median_ms"]),
                 fmt(r["change_latency"]["p95_ms"]), fmt(r["changes_per_s"], 2),
                 fmt(r["req_per_s"]), r["errors"], fmt(r["wall_s"]), _split(r)]
                for r in app["runs"]]
        lines.append("\n" + table(["clients", "changes", "change median ms", "change p95 ms",
                                   "changes/s", "req/s", "errors", "wall s",
                                   "worker CPU s (busiest share)"], rows))
        mem = app.get("memory") or {}
        if mem.get("workers"):
            lines.append("worker PSS after the run: " + ", ".join(
                f"{fmt(w['pss_mb'], 0)} MB" for w in mem["workers"]))
    lines.append("\nours / baseline, same run")
    lines.append(table(["app", "clients", "changes/s ratio", "req/s ratio", "change p95 ratio"],
                       [[r["app"], r["clients"], fmt(r["changes_per_s_ratio"]),
                         fmt(r["req_per_s_ratio"]), fmt(r["change_p95_ratio"], 3)]
                        for r in results["ratios"]]))
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds per level")
    parser.add_argument("--apps", nargs="+", choices=list(APPS), default=list(APPS),
                        help="e.g. ours alone, quicker to iterate")
    parser.add_argument("--keep-alive", type=int, default=0, metavar="SECONDS",
                        help="gunicorn keep-alive for both apps (default 0: a connection per "
                             "request)")
    args = parser.parse_args(argv)
    results = run(tuple(args.clients), args.requests, args.duration, apps=tuple(args.apps),
                  keepalive=args.keep_alive)
    path = save("callbacks", results)
    print(report(results))
    print(f"\nresults: {path}")
    return results


if __name__ == "__main__":
    main()
