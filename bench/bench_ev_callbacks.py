"""Replay EV-page filter changes over HTTP and report server time, wall time and response size.

Starts the app under gunicorn (2 workers, --preload) on loopback, learns the EV page's map
callback (``update_map``) from ``/_dash-dependencies`` and the page's control values from the
pages router (the same ``/_dash-update-component`` request a browser makes to open
``/ev?...``), then sends a bounded number of borough, ward, period and speed changes, one at a
time, each from a realistic "before" view. A filter change is two requests, the map's and then
the panels'; this sends the first only (``python -m bench.bench_callbacks`` replays both).
Server time is our ``Server-Timing: app;dur=`` header; bytes are the JSON body (decompressed)
and what went over the wire (gzip).

    python bench/bench_ev_callbacks.py [--count 50] [--port 8191] [--url http://host:port]

Targets: a borough or ward change returns <= 30 KB with p95 server time <= 150 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
FILTER_OUTPUT = "ev-heading.children"  # identifies the page's filter callback
TARGET_BYTES, TARGET_P95_MS = 30 * 1024, 150.0
WARD_BOROUGHS = ("E09000022", "E09000028", "E09000030", "E09000033", "E09000012")
SPEEDS = (["rapid", "ultra"], ["slow"], ["fast"], ["unknown"], ["slow", "fast"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """gunicorn with 2 workers and --preload, quiet, on loopback; waits for /healthz."""
    env = {**os.environ, "BD_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:server", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--preload", "--timeout", "180"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited while starting")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not start in time")


def walk(node, found: dict) -> None:
    """Collect the props of every component with an id in a layout JSON tree."""
    if isinstance(node, list):
        for item in node:
            walk(item, found)
        return
    if not isinstance(node, dict):
        return
    props = node.get("props")
    if not isinstance(props, dict):  # a plain mapping, such as the response itself
        for value in node.values():
            walk(value, found)
        return
    cid = props.get("id")
    if cid is not None:
        found[json.dumps(cid, sort_keys=True, separators=(",", ":"))
              if isinstance(cid, dict) else cid] = props
    for value in props.values():
        walk(value, found)


class Page:
    """The EV page's filter callback and the control values of a view, learned over HTTP."""

    def __init__(self, base: str, session: requests.Session):
        self.base, self.session = base, session
        deps = session.get(f"{base}/_dash-dependencies", timeout=30).json()
        self.callback = next(d for d in deps if FILTER_OUTPUT in d["output"])
        self.router = next(d for d in deps if "_pages_content.children" in d["output"])
        self.views: dict[str, dict] = {}

    def _outputs(self, output: str) -> list[dict]:
        parts = [p for p in output.strip(".").split("...") if p]
        out = []
        for part in parts:
            cid, prop = part.rsplit(".", 1)
            out.append({"id": json.loads(cid) if cid.startswith("{") else cid, "property": prop})
        return out

    def view(self, search: str) -> dict:
        """The props by component id of ``/ev?search``, as the page router renders it."""
        if search not in self.views:
            body = {"output": self.router["output"],
                    "outputs": self._outputs(self.router["output"]),
                    "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/ev"},
                               {"id": "_pages_location", "property": "search",
                                "value": f"?{search}" if search else ""}],
                    "changedPropIds": ["_pages_location.pathname"], "state": []}
            resp = self.session.post(f"{self.base}/_dash-update-component", json=body,
                                     timeout=60)
            resp.raise_for_status()
            found: dict = {}
            walk(resp.json()["response"], found)
            self.views[search] = found
        return self.views[search]

    def body(self, search: str, changed: str, value) -> dict:
        """The request a browser sends when control ``changed`` takes ``value`` on a view."""
        props = self.view(search)

        def current(dep: dict):
            cid = dep["id"]
            if cid == changed and dep["property"] == "value":
                return value
            key = (json.dumps(json.loads(cid), sort_keys=True, separators=(",", ":"))
                   if cid.startswith("{") else cid)
            return props.get(key, {}).get(dep["property"])

        def item(dep: dict) -> dict:
            cid = json.loads(dep["id"]) if dep["id"].startswith("{") else dep["id"]
            return {"id": cid, "property": dep["property"], "value": current(dep)}

        return {"output": self.callback["output"],
                "outputs": self._outputs(self.callback["output"]),
                "inputs": [item(d) for d in self.callback["inputs"]],
                "changedPropIds": [f"{changed}.value"],
                "parsedChangedPropsIds": [f"{changed}.value"],
                "state": [item(d) for d in self.callback["state"]]}


def changes(page: Page, count: int) -> dict[str, list[tuple[str, str, object]]]:
    """``count`` (view, control, new value) changes of each kind."""
    boroughs = [o["value"] for o in page.view("")["ev-borough"]["options"]]
    months = [o["value"] for o in page.view("")["ev-from"]["options"]]
    wards = []
    for borough in WARD_BOROUGHS:
        options = page.view(f"borough={borough}")["ev-ward"]["options"]
        wards += [(f"borough={borough}", o["value"]) for o in options]
    kinds = {
        "borough": [("", "ev-borough", boroughs[i % len(boroughs)]) for i in range(count)],
        "ward": [(view, "ev-ward", ward) for view, ward in
                 (wards[(i * 7) % len(wards)] for i in range(count))],
        "period": [("borough=E09000022", "ev-from", months[i % (len(months) - 1)])
                   for i in range(count)],
        "speed": [("borough=E09000022", "ev-speed", SPEEDS[i % len(SPEEDS)])
                  for i in range(count)],
    }
    return kinds


SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


def run(page: Page, kinds: dict) -> dict[str, dict]:
    results = {}
    for kind, items in kinds.items():
        server, wall, raw, wire = [], [], [], []
        for view, control, value in items:
            body = page.body(view, control, value)
            t0 = time.perf_counter()
            resp = page.session.post(f"{page.base}/_dash-update-component", json=body,
                                     timeout=60, headers={"Accept-Encoding": "gzip"})
            wall.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
            match = SERVER_TIMING.search(resp.headers.get("Server-Timing", ""))
            server.append(float(match[1]) if match else float("nan"))
            raw.append(len(resp.content))
            wire.append(int(resp.headers.get("Content-Length") or len(resp.content)))
        results[kind] = {"server": server, "wall": wall, "raw": raw, "wire": wire}
    return results


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 \
        else values[0]


def report(results: dict, count: int) -> int:
    print(f"\nEV page filter changes, {count} of each, sequential; 2 gunicorn workers, --preload")
    print(f"{'change':<9}{'server median':>15}{'server p95':>12}{'wall median':>13}"
          f"{'wall p95':>10}{'JSON KB med':>13}{'JSON KB max':>13}{'gzip KB max':>13}")
    failed = 0
    for kind, r in results.items():
        line = (f"{kind:<9}{statistics.median(r['server']):>13.1f}ms{p95(r['server']):>10.1f}ms"
                f"{statistics.median(r['wall']):>11.1f}ms{p95(r['wall']):>8.1f}ms"
                f"{statistics.median(r['raw']) / 1024:>13.1f}{max(r['raw']) / 1024:>13.1f}"
                f"{max(r['wire']) / 1024:>13.1f}")
        print(line)
        if kind in ("borough", "ward"):
            if max(r["raw"]) > TARGET_BYTES or p95(r["server"]) > TARGET_P95_MS:
                failed += 1
    print(f"\nTargets for borough and ward changes: <= {TARGET_BYTES // 1024} KB, "
          f"p95 server time <= {TARGET_P95_MS:.0f} ms: {'MISSED' if failed else 'met'}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="changes of each kind (max 200)")
    parser.add_argument("--port", type=int, default=0, help="port for the server (0: any free)")
    parser.add_argument("--url", help="use a server already running at this base URL")
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args()
    count = max(1, min(args.count, 200))
    proc = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = args.port or free_port()
        proc = start_server(port)
        base = f"http://127.0.0.1:{port}"
    try:
        with requests.Session() as session:
            page = Page(base, session)
            kinds = changes(page, count)
            run(page, {k: v[:3] for k, v in kinds.items()})  # warm both workers' caches
            results = run(page, kinds)
        if args.json:
            args.json.write_text(json.dumps(results))
        return report(results, count)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
