"""The reliability suite: hostile input, load and faults against the real app, with a report.

    python -m bench.reliability [--links 300] [--bodies 300] [--clients 32] [--duration 60]
                                [--out RELIABILITY.md] [--quick]

Starts the app under gunicorn (2 workers, 4 threads, ``--preload``, as production; without
``gunicorn.conf.py``'s planned restarts after ``max_requests``, so that any worker restart is
one the input caused) on a loopback port, with its own temporary cache folder, and sends only
loopback traffic, every loop bounded in count and time:

1. hostile links (``bench.hostile.links``) for every parameter of every page: the index page
   and the page's layout (the router callback a browser sends for the address);
2. malformed ``/_dash-update-component`` bodies made from the app's own ``/_dash-dependencies``;
3. path probes under every served prefix, the PDF route and unknown pages;
4. load: ``--clients`` clients for ``--duration`` seconds replaying EV filter changes (the
   requests ``bench.bench_ev_callbacks`` builds from the page's layout) mixed with page loads;
5. faults under load: a worker killed with ``kill -9``; the cache folder deleted while serving;
   a restart after that; a restart with the cache's DuckDB file truncated; ``BD_DATA_DIR``
   pointing at an empty folder and at a missing one.

Each phase counts responses by status, connection failures, and tracebacks and errors in the
server's log, and watches the worker pids. Pages are "correct" when a fixed set of layouts and
filter changes answers exactly what it answered before any fault (same JSON). The Markdown
report is written to ``--out`` and printed; the raw results go to bench/results/.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from bench import hostile
from bench.bench_ev_callbacks import Page, changes
from bench.common import ROOT, Server, fmt, machine_facts, save, table

UPDATE = "/_dash-update-component"
ROUTER_OUTPUT = "_pages_content.children"
PAGE_PATHS = ("/", "/ev", "/needs", "/ward/E05014098", "/sources", "/ward")
# Views whose answers must not change across faults: layouts and EV filter changes.
REFERENCE_VIEWS = ("/ev", "/ev?borough=E09000022&speed=rapid,ultra", "/needs?borough=E09000028",
                   "/?borough=E09000030", "/ward/E05014098", "/sources")
LOAD_VIEWS = ("/", "/ev", "/ev?borough=E09000022", "/needs", "/needs?borough=E09000012",
              "/ward/E05014098", "/ward/E05000416", "/?borough=E09000028", "/sources")
SLOW_S = 10.0
TRACEBACK = re.compile(r"^Traceback \(most recent call last\)", re.MULTILINE)
ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ", re.MULTILINE)


# HTTP --------------------------------------------------------------------------------------------
def _without_run_folder(text: str) -> str:
    """A log line with the run's own temporary folder named as such: the report describes the
    app, not the machine it ran on."""
    return re.sub(r"/\S*bd-reliability-[A-Za-z0-9_]+", "<run folder>", text)


def send(session: requests.Session, method: str, url: str, *, data: bytes | None = None,
         headers: dict | None = None, timeout: float = 60.0) -> requests.Response:
    """A request whose URL is sent exactly as written (requests would re-quote it)."""
    prepared = requests.Request(method, url, data=data, headers=headers).prepare()
    prepared.url = url
    return session.send(prepared, timeout=timeout, allow_redirects=False)


def post_json(session, base: str, text: str | bytes, timeout: float = 60.0):
    data = text if isinstance(text, bytes) else hostile.encode_body(text)
    return send(session, "POST", base + UPDATE, data=data, timeout=timeout,
                headers={"Content-Type": "application/json"})


def router_body(router: dict, pathname: str, search: str) -> dict:
    body = hostile.base_body(router, {})
    body["inputs"] = [{"id": "_pages_location", "property": "pathname", "value": pathname},
                      {"id": "_pages_location", "property": "search", "value": search}]
    body["changedPropIds"] = ["_pages_location.pathname"]
    return body


def split_view(view: str) -> tuple[str, str]:
    path, _, query = view.partition("?")
    return path, "?" + query if query else ""


def digest(resp: requests.Response) -> str:
    return hashlib.sha256(resp.content).hexdigest()[:16]


# The server's log and workers --------------------------------------------------------------------
class Watch:
    """What the server logged and which workers it ran during one phase."""

    def __init__(self, server: Server):
        self.server = server
        self.offset = server.log_path.stat().st_size
        self.pids = set(server.worker_pids())

    def result(self) -> dict:
        text = self.server.log_path.read_bytes()[self.offset:].decode("utf-8", "replace")
        now = set(self.server.worker_pids())
        errors = [line for line in text.splitlines() if ERROR_LINE.match(line)]
        return {"tracebacks": len(TRACEBACK.findall(text)), "error_lines": len(errors),
                "first_errors": errors[:3], "workers_replaced": len(self.pids - now),
                "log_excerpt": _exceptions(text)}


def _exceptions(text: str) -> list[str]:
    """The distinct exception lines after each traceback (at most five)."""
    found = Counter()
    for block in text.split("Traceback (most recent call last)")[1:]:
        lines = [ln for ln in block.splitlines() if re.match(r"^[A-Za-z_.]+(Error|Exception)", ln)]
        if lines:
            found[lines[-1][:160]] += 1
    return [f"{n} x {line}" for line, n in found.most_common(5)]


# 1. Hostile links --------------------------------------------------------------------------------
def run_links(base: str, router: dict, count: int, threads: int = 4) -> dict:
    cases = hostile.draw(hostile.links(), count)
    statuses, problems = Counter(), []

    def one(link: hostile.Link):
        with requests.Session() as s:
            found = []
            try:
                r = send(s, "GET", base + link.url)
                statuses[f"GET {r.status_code}"] += 1
                found += hostile.check_html(link, r.status_code, r.text)
                path, search = link.path, "?" + link.query if link.query else ""
                r = post_json(s, base, json.dumps(router_body(router, path, search)))
                statuses[f"layout {r.status_code}"] += 1
                body = r.json() if r.status_code == 200 else None
                found += hostile.check_layout(link, r.status_code, body)
            except requests.RequestException as exc:
                found.append(f"request failed: {type(exc).__name__}")
            if found:
                problems.append({"url": link.url[:160], "problems": found})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, cases))
    by_page = Counter(c.page for c in cases)
    return {"cases": len(cases), "requests": sum(statuses.values()), "statuses": dict(statuses),
            "by_page": dict(by_page), "problems": problems,
            "5xx": sum(n for k, n in statuses.items() if k.split()[1].startswith("5"))}


# 2. Malformed callback bodies --------------------------------------------------------------------
def layout_props(session, base: str, router: dict) -> dict:
    props = {"_pages_location": {"pathname": "/ev", "search": ""},
             "shell-url": {"pathname": "/ev", "search": ""}}
    for path in PAGE_PATHS:
        r = post_json(session, base, json.dumps(router_body(router, path, "")))
        r.raise_for_status()
        hostile.walk(r.json(), props)
    return props


def server_callbacks(deps: list[dict]) -> list[dict]:
    return [d for d in deps if not d.get("clientside_function")]


def run_bodies(base: str, deps: list[dict], props: dict, count: int, threads: int = 4) -> dict:
    valid = hostile.bases(server_callbacks(deps), props)
    cases = [hostile.Body("valid", b["output"], json.dumps(b)) for b in valid]
    cases += hostile.draw(hostile.bodies(valid), count)
    by_label: dict[str, Counter] = {}
    lock = threading.Lock()

    def one(body: hostile.Body):
        with requests.Session() as s:
            try:
                status = str(post_json(s, base, body.text).status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
        with lock:
            by_label.setdefault(body.label, Counter())[status] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, cases))
    total = Counter()
    for c in by_label.values():
        total.update(c)
    failing = {label: dict(c) for label, c in by_label.items()
               if any(k.startswith("5") or not k.isdigit() for k in c)}
    return {"cases": len(cases), "callbacks": len(valid), "statuses": dict(total),
            "5xx": sum(n for k, n in total.items() if k.startswith("5")),
            "failed": sum(n for k, n in total.items() if not k.isdigit()),
            "failing_kinds": failing, "kinds": len(by_label)}


# 3. Path probes ----------------------------------------------------------------------------------
SERVED = re.compile(r"^/(geo|ev-points|ward-options)/[^/?#]+$")


def run_probes(base: str, props: dict) -> dict:
    served = sorted({s for s in hostile.strings(props) if SERVED.match(s)})
    cases = hostile.probes([s.rsplit("/", 1)[1] for s in served if s.startswith("/geo/")],
                           ["E05014098"])
    cases += [hostile.Probe("GET", s) for s in served]
    statuses, wrong = Counter(), []
    with requests.Session() as s:
        for probe in cases:
            try:
                r = send(s, probe.method, base + probe.path, timeout=60)
                code = r.status_code
            except requests.RequestException as exc:
                code = type(exc).__name__
            statuses[str(code)] += 1
            if (probe.expect_404 and code != 404) or not isinstance(code, int) or code >= 500:
                wrong.append(f"{probe.method} {probe.path[:80]} -> {code}")
    return {"cases": len(cases), "statuses": dict(statuses),
            "5xx": sum(n for k, n in statuses.items() if k.startswith("5")),
            "unknown_pages": sum(p.expect_404 for p in cases),
            "unknown_pages_not_404": sum(1 for w in wrong if any(
                w.startswith(f"GET {p[:80]} ->") for p in hostile.UNKNOWN_PAGES)),
            "wrong": wrong}


# 4 and 5. Load -----------------------------------------------------------------------------------
@dataclass
class Traffic:
    """What the load clients send: EV filter changes (as JSON bodies) and page views."""

    filters: list[str]
    views: list[tuple[str, str]]     # (address, router body JSON)
    expected: dict[str, str] = field(default_factory=dict)   # body -> digest first seen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key: str, value: str) -> bool:
        """Whether an answer agrees with the first answer to the same request."""
        with self.lock:
            return self.expected.setdefault(key, value) == value


def traffic(base: str, router: dict, per_kind: int = 25) -> Traffic:
    with requests.Session() as s:
        page = Page(base, s)
        kinds = changes(page, per_kind)
        filters = [json.dumps(page.body(*c)) for items in kinds.values() for c in items]
    views = [(v, json.dumps(router_body(router, *split_view(v)))) for v in LOAD_VIEWS]
    return Traffic(filters, views)


@dataclass
class Sample:
    t: float          # start, seconds since the run began
    ms: float
    kind: str
    status: str
    consistent: bool = True


def load(base: str, work: Traffic, clients: int, duration: float, seed: int = 1,
         during=None) -> tuple[list[Sample], float]:
    """``clients`` threads for ``duration`` seconds: 3 in 4 requests a filter change, the rest a
    page view (the index page then its layout). ``during(t0)`` runs beside them (a fault)."""
    samples: list[Sample] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    stop = t0 + duration

    def client(n: int):
        rng = random.Random(seed * 1000 + n)
        s = requests.Session()
        while time.perf_counter() < stop:
            if rng.random() < 0.75:
                body = rng.choice(work.filters)
                reqs = [("filter", "POST", UPDATE, body)]
            else:
                view, body = rng.choice(work.views)
                reqs = [("page", "GET", view, None), ("layout", "POST", UPDATE, body)]
            for kind, method, path, body in reqs:
                start = time.perf_counter()
                ok = True
                try:
                    r = send(s, method, base + path, timeout=30,
                             data=body.encode() if body else None,
                             headers={"Content-Type": "application/json"} if body else None)
                    status = str(r.status_code)
                    if r.status_code == 200 and kind != "page":
                        ok = work.check(body, digest(r))
                except requests.RequestException as exc:
                    status = type(exc).__name__
                    s.close()
                    s = requests.Session()
                done = time.perf_counter()
                with lock:
                    samples.append(Sample(start - t0, (done - start) * 1000, kind, status, ok))
                if not status.isdigit():
                    break
        s.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    extra = during(t0) if during else None
    for t in threads:
        t.join(timeout=duration + 60)
    return samples, extra


def summary(samples: list[Sample], duration: float) -> dict:
    ms = [x.ms for x in samples if x.status.isdigit()]
    statuses = Counter(x.status for x in samples)
    out = {"requests": len(samples), "per_second": len(samples) / duration,
           "statuses": dict(statuses),
           "5xx": sum(n for k, n in statuses.items() if k.startswith("5")),
           "connection_failures": sum(n for k, n in statuses.items() if not k.isdigit()),
           "over_10s": sum(1 for x in samples if x.ms > SLOW_S * 1000),
           "inconsistent": sum(1 for x in samples if not x.consistent)}
    for name, arr in (("all", ms),) + tuple(
            (k, [x.ms for x in samples if x.kind == k and x.status.isdigit()])
            for k in ("filter", "page", "layout")):
        if arr:
            out[name] = {"n": len(arr), "p50_ms": float(np.median(arr)),
                         "p90_ms": float(np.percentile(arr, 90)),
                         "p95_ms": float(np.percentile(arr, 95)), "max_ms": float(max(arr))}
    return out


def reference(base: str, router: dict, work: Traffic) -> dict[str, tuple[int, bytes]]:
    """The answers (status, body) to the reference layouts and every tenth filter change."""
    out = {}
    with requests.Session() as s:
        for view in REFERENCE_VIEWS:
            r = post_json(s, base, json.dumps(router_body(router, *split_view(view))))
            out[view] = (r.status_code, r.content)
        for i, body in enumerate(work.filters[::10]):
            r = post_json(s, base, body)
            out[f"filter change {i + 1}"] = (r.status_code, r.content)
    return out


def _round(node):
    """A JSON value with every float rounded to 9 significant digits."""
    if isinstance(node, float):
        return float(f"{node:.9g}")
    if isinstance(node, list):
        return [_round(x) for x in node]
    if isinstance(node, dict):
        return {k: _round(v) for k, v in node.items()}
    return node


def first_difference(a, b, path: str = "") -> str | None:
    """Where two JSON values first differ, as "path: a | b"; None when they are equal."""
    if type(a) is not type(b):
        return f"{path}: {str(a)[:60]} | {str(b)[:60]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            d = first_difference(a.get(k), b.get(k), f"{path}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items | {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {str(a)[:60]} | {str(b)[:60]}"


def compare(before: dict, after: dict) -> dict[str, str]:
    """The answers that differ from before, and how: an answer is the same when its JSON is,
    floats compared to 9 significant digits (DuckDB's parallel sums of doubles may differ in
    the last bits from one run to the next)."""
    out = {}
    for key, (status, body) in before.items():
        status2, body2 = after.get(key, (None, b""))
        if status2 != status:
            out[key] = f"status {status} then {status2}"
        elif body2 != body:
            try:
                a, b = _round(json.loads(body)), _round(json.loads(body2))
            except ValueError:
                out[key] = "body changed"
                continue
            diff = first_difference(a, b)
            if diff:
                out[key] = diff
    return out


def health(base: str) -> str:
    try:
        r = requests.get(base + "/healthz", timeout=10)
        return f"{r.status_code} {r.text.strip()[:80]}"
    except requests.RequestException as exc:
        return type(exc).__name__


def fault_kill(server: Server, base: str, work: Traffic, clients: int, duration: float) -> dict:
    """``kill -9`` one worker a third of the way in; poll /healthz (a new connection each time)
    to time how long the app does not answer, and the worker pids for its replacement."""
    info: dict = {}

    def during(t0):
        time.sleep(duration / 3)   # a fault at a fixed moment of the load, not a wait in a test
        pids = server.worker_pids()
        victim = pids[0]
        killed = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        answered = replaced = None
        while time.perf_counter() - killed < 30:
            now = set(server.worker_pids())
            if replaced is None and len(now) >= server.workers and victim not in now:
                replaced = time.perf_counter() - killed
            if answered is None:
                try:
                    with requests.Session() as s:
                        if s.get(base + "/healthz", timeout=5).status_code < 500:
                            answered = time.perf_counter() - killed
                except requests.RequestException:
                    pass
            if answered is not None and replaced is not None:
                break
            time.sleep(0.05)
        info.update(victim=victim, killed_at_s=killed - t0, answered_after_s=answered,
                    replaced_after_s=replaced)
        return info

    samples, _ = load(base, work, clients, duration, seed=2, during=during)
    after = [x for x in samples if x.t >= info["killed_at_s"]]
    failed = [x for x in samples if not x.status.isdigit() or x.status.startswith("5")]
    # The longest stretch after the kill with no request answered by any worker.
    ends = sorted(x.t + x.ms / 1000 for x in after if x.status.isdigit())
    gaps = np.diff([info["killed_at_s"], *ends]) if ends else [duration]
    info.update(summary(samples, duration), failed=len(failed),
                longest_silence_s=float(max(gaps)) if len(gaps) else 0.0)
    return info


def fault_delete_cache(base: str, cache: Path, work: Traffic, clients: int,
                       duration: float) -> dict:
    info: dict = {}

    def during(t0):
        time.sleep(duration / 3)
        info["deleted_at_s"] = time.perf_counter() - t0
        shutil.rmtree(cache, ignore_errors=True)

    samples, _ = load(base, work, clients, duration, seed=3, during=during)
    info.update(summary(samples, duration), cache_exists_after=cache.exists())
    return info


def restart(server: Server) -> tuple[float | None, str]:
    server.stop()
    server.proc = None
    t = time.perf_counter()
    try:
        server.start()
    except RuntimeError as exc:
        return None, str(exc).splitlines()[0][:200]
    return time.perf_counter() - t, ""


def truncate_cache(cache: Path) -> list[str]:
    """Cut every DuckDB file in the cache to its first 4 KiB (as a full disk or a crash leaves
    it)."""
    cut = []
    for path in sorted(cache.rglob("*.duckdb")):
        with open(path, "r+b") as fh:
            fh.truncate(min(4096, path.stat().st_size))
        cut.append(str(path.relative_to(cache)))
    return cut


def bad_data_dir(folder: Path, cache: Path, timeout: float = 120.0) -> dict:
    """Start gunicorn with ``BD_DATA_DIR=folder``: does start-up stop, and with what line?"""
    server = Server("app:server", workers=2, threads=4, ready_path="/healthz",
                    label=f"data-{folder.name}", start_timeout=timeout,
                    env={"BD_DATA_DIR": str(folder), "BD_CACHE_DIR": str(cache)})
    t = time.perf_counter()
    try:
        server.start()
    except RuntimeError:
        elapsed = time.perf_counter() - t
        if server.proc.returncode is None or server.proc.returncode < 0:
            return {"stopped": False, "seconds": elapsed, "statuses": {"start-up": "hung"}}
        log = server.log_path.read_text(errors="replace")
        lines = [ln.strip() for ln in log.splitlines() if str(folder) in ln or "BD_DATA_DIR" in ln]
        return {"stopped": True, "seconds": elapsed, "exit_code": server.proc.returncode,
                "line": (lines or [ln for ln in log.splitlines() if ln.strip()][-1:] or [""])[-1],
                "tracebacks": len(TRACEBACK.findall(log))}
    try:
        statuses = {}
        with requests.Session() as s:
            for path in ("/healthz", "/ev"):
                statuses[path] = send(s, "GET", server.url + path).status_code
        return {"stopped": False, "seconds": time.perf_counter() - t, "statuses": statuses}
    finally:
        server.stop()


# Report ------------------------------------------------------------------------------------------
def ms(d: dict | None, key: str) -> str:
    return "-" if not d else fmt(d.get(key), 0)


def report(r: dict, command: str) -> str:
    m = r["machine"]
    L, B, P, W = r["links"], r["bodies"], r["probes"], r["load"]
    out = [
        "# Reliability",
        "",
        f"Generated by `{command}` on {m['when']}: {m['usable_cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gb']} GB, load average {' / '.join(map(str, m['load_start']))} at the start "
        f"and {' / '.join(map(str, m['load_average']))} at the end (the machine is shared); "
        f"Python {m['python']}, Dash {m['dash']}, DuckDB {m['duckdb']}. The app ran under "
        "gunicorn (2 workers, 4 threads, `--preload`) on loopback with its own temporary cache "
        f"folder; the whole run took {r['seconds']:.0f} s. Re-run the command to regenerate this "
        "file; raw results are in `bench/results/reliability.json`.",
        "",
        "## Hostile input",
        "",
        table(["Phase", "Cases", "Requests", "5xx", "Tracebacks logged", "Error lines logged",
               "Workers replaced", "Other problems"], [
            ["Hostile links", L["cases"], L["requests"], L["5xx"], L["log"]["tracebacks"],
             L["log"]["error_lines"], L["log"]["workers_replaced"], len(L["problems"])],
            ["Malformed callback bodies", B["cases"], B["cases"], B["5xx"],
             B["log"]["tracebacks"], B["log"]["error_lines"], B["log"]["workers_replaced"],
             B["failed"]],
            ["Path probes", P["cases"], P["cases"], P["5xx"], P["log"]["tracebacks"],
             P["log"]["error_lines"], P["log"]["workers_replaced"], len(P["wrong"])],
        ]),
        "",
        f"- **Links**: {L['cases']} generated with hypothesis (derandomised, so every run sends "
        "the same ones) over every parameter each page reads "
        f"({', '.join(f'{k} {v}' for k, v in sorted(L['by_page'].items()))}): unknown codes, "
        "script and markup payloads, control characters, impossible and reversed months, "
        "doubled parameters, huge values and odd percent-encodings. Each was loaded as the index "
        "page and as the page layout the browser asks for; checked: no 5xx, a heading, no "
        "rejected value written back as markup. Statuses: "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(L['statuses'].items()))}.",
    ]
    for p in L["problems"][:8]:
        out.append(f"  - `{p['url'][:90]}`: {'; '.join(p['problems'])}")
    out += [
        f"- **Callback bodies**: {B['cases']} sent to `/_dash-update-component`: a valid body "
        f"for each of the {B['callbacks']} server callbacks in `/_dash-dependencies`, then "
        f"{B['cases'] - B['callbacks']} broken ones in {B['kinds'] - 1} ways (invalid JSON, "
        "wrong top-level shape, lists, dicts, booleans, 1e308, NaN, a 1 MB string, a 1,000-deep "
        "list, a 100,000-item list, months like 2025-13 in an input or state; unknown or mangled "
        "outputs; missing inputs or state). Statuses: "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(B['statuses'].items()))}.",
    ]
    if B["failing_kinds"]:
        out.append("  - answered 5xx (or failed): " + "; ".join(
            f"{k} ({', '.join(f'{s}: {n}' for s, n in c.items())})"
            for k, c in sorted(B["failing_kinds"].items())))
    out += [
        f"- **Path probes**: {P['cases']} under `/_dash-component-suites/`, `/assets/`, "
        "`/geo/`, `/ev-points/`, `/ward-options/`, `/ward/` and the PDF route (traversal, "
        "encoded and doubled dots, NUL bytes, overlong paths, HEAD and other methods), and "
        f"{P['unknown_pages']} unknown pages, which should answer 404 (not 404: "
        f"{P['unknown_pages_not_404']}). Statuses: "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(P['statuses'].items()))}.",
    ]
    for w in P["wrong"][:10]:
        out.append(f"  - `{w}`")
    for phase in (L, B, P):
        for e in phase["log"]["log_excerpt"]:
            out.append(f"  - logged: `{e}`")
    out += [
        "",
        "## Load",
        "",
        f"{r['clients']} clients for {r['duration']:.0f} s, each request on its own thread: "
        "three in four an EV filter change (borough, ward, period and speed changes built from "
        "the page's layout, as `bench/bench_ev_callbacks.py` does), the rest a page view (the "
        "index page, then its layout). Latency is from the client (same machine).",
        "",
        table(["Requests", "Requests/s", "5xx", "Connection failures", "Over 10 s",
               "Answers that changed", "p50 ms", "p90 ms", "p95 ms", "max ms"], [
            [W["requests"], fmt(W["per_second"]), W["5xx"], W["connection_failures"],
             W["over_10s"], W["inconsistent"], ms(W.get("all"), "p50_ms"),
             ms(W.get("all"), "p90_ms"), ms(W.get("all"), "p95_ms"),
             ms(W.get("all"), "max_ms")]]),
        "",
        table(["Request", "n", "p50 ms", "p90 ms", "p95 ms", "max ms"], [
            [k, W[k]["n"], ms(W[k], "p50_ms"), ms(W[k], "p90_ms"), ms(W[k], "p95_ms"),
             ms(W[k], "max_ms")] for k in ("filter", "page", "layout") if k in W]),
        "",
        "## Faults",
        "",
    ]
    K, D, R, T = r["kill"], r["delete"], r["restart_deleted"], r["restart_truncated"]
    out += [
        table(["Fault", "Requests", "Failed requests", "5xx", "Time to answer again",
               "Pages correct afterwards", "Tracebacks", "Data lost"], [
            [f"`kill -9` of a worker under {r['fault_clients']} clients",
             K["requests"], K["failed"], K["5xx"],
             _s(K["answered_after_s"]) + f" (replaced in {_s(K['replaced_after_s'])}, longest "
             f"silence {_s(K['longest_silence_s'])})",
             _yes(K["correct_after"]), K["log"]["tracebacks"], "none" if not K["inconsistent"]
             else f"{K['inconsistent']} answers changed"],
            [f"cache folder deleted under {r['fault_clients']} clients", D["requests"],
             D["connection_failures"] + D["5xx"], D["5xx"], "-", _yes(D["correct_after"]),
             D["log"]["tracebacks"], "none" if not D["inconsistent"]
             else f"{D['inconsistent']} answers changed"],
            ["restart after the cache was deleted", "-", "-", R.get("5xx", "-"),
             _s(R["start_s"]) + " to start (rebuild)" if R["start_s"] else R["error"],
             _yes(R.get("correct_after")), R["log"]["tracebacks"], "-"],
            ["restart with the cache's DuckDB files truncated", "-", "-", T.get("5xx", "-"),
             _s(T["start_s"]) + " to start" if T["start_s"] else T["error"],
             _yes(T.get("correct_after")), T["log"]["tracebacks"], "-"],
        ]),
        "",
        f"- Killed worker: pid {K['victim']} at {K['killed_at_s']:.1f} s; "
        f"`/healthz` answered again after {_s(K['answered_after_s'])} and gunicorn had a "
        f"replacement after {_s(K['replaced_after_s'])}; {K['failed']} requests "
        "failed (the ones that worker was serving when it died, as connection errors). "
        f"Statuses: {', '.join(f'{k}: {v}' for k, v in sorted(K['statuses'].items()))}.",
        f"- Cache deleted at {D['deleted_at_s']:.1f} s; the folder existed again afterwards: "
        f"{'yes' if D['cache_exists_after'] else 'no'}; `/healthz` then answered "
        f"`{D['health_after']}`. Statuses: "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(D['statuses'].items()))}.",
        f"- Truncated: {', '.join(T['truncated']) or 'no DuckDB file found'}; `/healthz` then "
        f"answered `{T.get('health_after', '-')}`.",
    ]
    for label, e in (("the kill", K), ("the cache deletion", D), ("the restart after deletion", R),
                     ("the truncated restart", T)):
        diffs = e.get("differing") or {}
        if diffs:
            out.append(f"- Answers that differ from before, after {label} ({len(diffs)} of "
                       f"{len(r['reference_keys'])}"
                       "): " + "; ".join(f"`{k}`: `{v[:120]}`" for k, v in list(diffs.items())[:3]))
    for label, key in (("an empty folder", "empty_data"), ("a missing folder", "missing_data")):
        e = r[key]
        if e["stopped"]:
            out.append(f"- `BD_DATA_DIR` pointing at {label}: start-up stopped after "
                       f"{e['seconds']:.1f} s (exit code {e['exit_code']}, {e['tracebacks']} "
                       f"tracebacks) with: `{_without_run_folder(e['line'])[:300]}`")
        else:
            out.append(f"- `BD_DATA_DIR` pointing at {label}: **the app started anyway** "
                       f"({', '.join(f'{k} {v}' for k, v in e['statuses'].items())}).")
    for label, key in (("kill", "kill"), ("cache deletion", "delete"),
                       ("restart after deletion", "restart_deleted"),
                       ("truncated restart", "restart_truncated")):
        for e in r[key]["log"]["log_excerpt"]:
            out.append(f"  - logged during the {label}: `{e}`")
    out += ["", "## Verdict", ""]
    out += [f"- {'met' if ok else '**not met**'}: {what}" for what, ok in verdict(r)]
    return "\n".join(out) + "\n"


def verdict(r: dict) -> list[tuple[str, bool]]:
    L, B, P, W, K = r["links"], r["bodies"], r["probes"], r["load"], r["kill"]
    hostile_ok = all(x["5xx"] == 0 and x["log"]["tracebacks"] == 0 for x in (L, B, P))
    return [
        (f"0 5xx and 0 tracebacks across {L['cases']} links, {B['cases']} bodies and "
         f"{P['cases']} probes", hostile_ok),
        ("links keep their heading and never repeat a payload as markup", not L["problems"]),
        ("unknown pages answer 404", P["unknown_pages_not_404"] == 0),
        ("workers never restart because of input",
         all(x["log"]["workers_replaced"] == 0 for x in (L, B, P))),
        (f"{r['clients']} clients for {r['duration']:.0f} s: 0 5xx, 0 over 10 s, no failures",
         W["5xx"] == 0 and W["over_10s"] == 0 and W["connection_failures"] == 0),
        ("a killed worker: the app answers again within 5 s, no answer wrong",
         K["answered_after_s"] is not None and K["answered_after_s"] <= 5
         and not K["inconsistent"] and K["correct_after"]),
        ("cache deleted while serving: pages correct afterwards",
         r["delete"]["correct_after"] and r["delete"]["5xx"] == 0),
        ("restart after deletion rebuilds the cache, pages correct",
         bool(r["restart_deleted"].get("correct_after"))),
        ("restart with a truncated cache rebuilds it, pages correct",
         bool(r["restart_truncated"].get("correct_after"))
         and r["restart_truncated"]["log"]["tracebacks"] == 0),
        ("an empty or missing BD_DATA_DIR stops start-up with a clear line",
         r["empty_data"]["stopped"] and r["missing_data"]["stopped"]),
    ]


def _s(x) -> str:
    return "-" if x is None else f"{x:.1f} s"


def _yes(x) -> str:
    return "-" if x is None else ("yes" if x else "**no**")


# Main --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=300)
    parser.add_argument("--bodies", type=int, default=300)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--fault-clients", type=int, default=8)
    parser.add_argument("--fault-duration", type=float, default=18.0)
    parser.add_argument("--out", type=Path, default=ROOT / "RELIABILITY.md")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 40 links, 40 bodies, 8 clients for 10 s")
    parser.add_argument("--report-only", action="store_true",
                        help="write the report again from bench/results/reliability.json")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads((ROOT / "bench" / "results" / "reliability.json").read_text())
        text = report(results, results.get("command", "python -m bench.reliability"))
        args.out.write_text(text, encoding="utf-8")
        print(text)
        return 0 if all(ok for _, ok in verdict(results)) else 1
    if args.quick:
        args.links, args.bodies, args.clients, args.duration = 40, 40, 8, 10.0
        args.fault_duration = 9.0
    command = "python -m bench.reliability" + ("" if argv is None and len(sys.argv) == 1
                                               else " " + " ".join((argv or sys.argv[1:])))
    started = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    tmp = Path(tempfile.mkdtemp(prefix="bd-reliability-"))
    cache = tmp / "cache"
    results: dict = {"clients": args.clients, "duration": args.duration,
                     "fault_clients": args.fault_clients}
    server = Server("app:server", workers=2, threads=4, ready_path="/healthz",
                    label="reliability", start_timeout=400, env={"BD_CACHE_DIR": str(cache)})
    try:
        step("starting the app (builds the cache)")
        server.start()
        base = server.url
        with requests.Session() as s:
            deps = s.get(base + "/_dash-dependencies", timeout=60).json()
            router = next(d for d in deps if ROUTER_OUTPUT in d["output"])
            props = layout_props(s, base, router)
        for name, fn in (("links", lambda: run_links(base, router, args.links)),
                         ("bodies", lambda: run_bodies(base, deps, props, args.bodies)),
                         ("probes", lambda: run_probes(base, props))):
            step(name)
            watch = Watch(server)
            results[name] = fn()
            results[name]["log"] = watch.result()
        step("load")
        work = traffic(base, router)
        before = reference(base, router, work)
        results["reference_keys"] = list(before)
        watch = Watch(server)
        samples, _ = load(base, work, args.clients, args.duration)
        results["load"] = summary(samples, args.duration)
        results["load"]["log"] = watch.result()

        step("fault: kill -9 a worker")
        watch = Watch(server)
        results["kill"] = fault_kill(server, base, work, args.fault_clients, args.fault_duration)
        results["kill"]["log"] = watch.result()
        after = reference(base, router, work)
        results["kill"].update(correct_after=not compare(before, after),
                               differing=compare(before, after))

        step("fault: delete the cache folder")
        watch = Watch(server)
        results["delete"] = fault_delete_cache(base, cache, work, args.fault_clients,
                                               args.fault_duration)
        after = reference(base, router, work)
        results["delete"].update(correct_after=not compare(before, after),
                                 differing=compare(before, after), health_after=health(base),
                                 log=watch.result())

        for key, prepare in (("restart_deleted", lambda: []),
                             ("restart_truncated", lambda: truncate_cache(cache))):
            step(f"fault: {key.replace('_', ' ')}")
            server.stop()
            cut = prepare()
            start_s, error = restart(server)   # the log starts afresh with the server
            entry = {"start_s": start_s, "error": error, "truncated": cut}
            if start_s is not None:
                after = reference(server.url, router, work)
                entry.update(correct_after=not compare(before, after),
                             differing=compare(before, after), health_after=health(server.url))
            text = server.log_path.read_text(errors="replace") if server.log_path.exists() \
                else ""
            entry["log"] = {"tracebacks": len(TRACEBACK.findall(text)),
                            "log_excerpt": _exceptions(text)}
            entry["5xx"] = sum(1 for v in (after.values() if start_s else []) if v[0] >= 500)
            results[key] = entry
        server.stop()

        step("BD_DATA_DIR: an empty folder, a missing folder")
        (tmp / "empty").mkdir()
        results["empty_data"] = bad_data_dir(tmp / "empty", tmp / "cache-empty")
        results["missing_data"] = bad_data_dir(tmp / "no-such-folder", tmp / "cache-missing")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    results["machine"] = {**machine_facts(), "load_start": load_start}
    results["command"] = command
    save("reliability", results)
    text = report(results, command)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0 if all(ok for _, ok in verdict(results)) else 1


def step(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
