"""The EV page's aggregate queries and the workers' memory at ten times the simulated usage.

    python -m bench.bench_scale [--scale 10] [--cache-dir DIR] [--fresh] [--reps 12]

1. Generation: the simulated sessions at ``--scale`` (tens of millions of rows at x10) go into
   their own cache folder (``--cache-dir``, default ``$TMPDIR/bd-bench-cache``; x1 uses the
   app's own cache), then the store's session index is built. Generation time, index time, rows
   and disk size are reported. A folder already generated for the same inputs is reused (its
   recorded times are reported); ``--fresh`` deletes it first to time generation again.
2. Queries: the store calls the EV page makes (``usage_summary``, ``usage_timeseries`` by month
   and week, ``usage_by`` ward, speed, operator and device, ``usage_heatmap``) for all of London,
   a borough and a ward, each with a 12-month period and with the period plus a speed filter,
   at x1 and at ``--scale``: median and 95th percentile over ``--reps`` runs after one warm-up.
3. Memory: the app under gunicorn (2 workers, ``--preload``) at x1 and at ``--scale`` with the
   default DuckDB memory limit, and at ``--scale`` with 64MB; after warming each with page
   loads and the callback benchmark's filter changes, the proportional set size (PSS,
   /proc/<pid>/smaps_rollup) of every worker.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import (CHROMIUM, CHROMIUM_ARGS, RESULTS, Server, fmt, machine_facts, save,
                          table, timed)
from dashboard.data import usage
from dashboard.core.config import Config
from dashboard.data.store import Store, UsageFilter, index_path

LAMBETH, BRIXTON_WINDRUSH = "E09000022", "E05014098"
PERIOD = ("2025-04", "2026-03")
FAST = ("rapid", "ultra")
PLACES = {"London": {}, "borough": {"borough": LAMBETH},
          "ward": {"borough": LAMBETH, "ward": BRIXTON_WINDRUSH}}
FILTERS = {"12 months": {}, "12 months, rapid+ultra": {"speeds": FAST}}
QUERIES = {
    "usage_summary": lambda s, f: s.usage_summary(f),
    "timeseries month": lambda s, f: s.usage_timeseries(f, "month"),
    "timeseries week": lambda s, f: s.usage_timeseries(f, "week"),
    "usage_by ward": lambda s, f: s.usage_by(f, "ward2022_code"),
    "usage_by speed": lambda s, f: s.usage_by(f, "speed_class"),
    "usage_by operator": lambda s, f: s.usage_by(f, "operator"),
    "usage_by device": lambda s, f: s.usage_by(f, "device_id"),
    "usage_heatmap": lambda s, f: s.usage_heatmap(f),
}


def _size_mb(folder: Path) -> dict:
    parquet = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    index = index_path(folder)
    return {"parquet_mb": parquet / 1024 ** 2,
            "index_mb": index.stat().st_size / 1024 ** 2 if index.exists() else None}


def generate(config: Config, fresh: bool) -> dict:
    """Make sure the simulation and its index exist for ``config``; time what had to be built."""
    folder = usage.sessions_dir(config)
    if fresh and folder.exists():
        shutil.rmtree(folder)
    timings_path = RESULTS / f"timings-{Path(config.cache_dir).name}-{folder.name}.json"
    before = (usage.read_manifest(folder) or {}).get("fingerprint")
    t0 = time.perf_counter()
    folder = usage.ensure_sessions(config)
    generated_s = time.perf_counter() - t0
    manifest = usage.read_manifest(folder)
    regenerated = manifest.get("fingerprint") != before
    meta = index_path(folder).with_suffix(".json")
    signature = meta.read_text() if meta.exists() else None
    t0 = time.perf_counter()
    Store(config).prepare()
    index_s = time.perf_counter() - t0
    index_built = meta.read_text() != signature
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    if regenerated:
        timings["generate_s"] = generated_s
    if index_built:
        timings["index_s"] = index_s
    RESULTS.mkdir(parents=True, exist_ok=True)
    timings_path.write_text(json.dumps(timings))
    return {"scale": config.sim_scale, "folder": str(folder), "rows": manifest["rows"],
            "reused": not regenerated,
            "generate_s": timings.get("generate_s", manifest.get("generated_seconds")),
            "index_s": timings.get("index_s"), **_size_mb(folder)}


def run_queries(config: Config, reps: int) -> list[dict]:
    """Every query of ``QUERIES`` for every place and filter: median and p95 in ms."""
    store = Store(config)
    out = []
    try:
        for place, where in PLACES.items():
            for label, extra in FILTERS.items():
                f = UsageFilter(date_from=PERIOD[0], date_to=PERIOD[1], **where, **extra)
                for name, query in QUERIES.items():
                    stats = timed(lambda: query(store, f), reps, warm=1, budget_s=10)
                    out.append({"scale": config.sim_scale, "place": place, "filter": label,
                                "query": name, **stats})
    finally:
        store.close()
    return out


LOW_MEMORY = "64MB"  # also measured at x10: the DuckDB limit that keeps workers smallest


def worker_memory(config: Config, workers: int = 2) -> dict:
    """PSS of each gunicorn worker after page loads and the EV page's filter changes (DuckDB's
    memory limit as in ``config``)."""
    from playwright.sync_api import sync_playwright

    from bench import bench_callbacks, bench_first_load

    env = {"BD_CACHE_DIR": str(config.cache_dir), "BD_SIM_SCALE": f"{config.sim_scale:g}",
           "BD_DUCKDB_MEMORY": config.duckdb_memory}
    problem = None
    with Server("app:server", workers=workers, env=env, ready_path="/healthz") as server:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            for path in bench_first_load.PAGES:
                for _ in range(workers):
                    context = browser.new_context()
                    context.new_page().goto(server.url + path, wait_until="networkidle")
                    context.close()
            try:
                recorded = bench_callbacks.record(bench_callbacks.OURS, server.url, browser)
            except Exception as exc:  # the page is broken: report memory after page loads
                problem, recorded = f"filter changes not replayed: {exc}", []
            browser.close()
        requests_sent, errors = 0, 0
        if recorded:
            plan = sum(len(s["requests"]) for s in recorded)
            replay = bench_callbacks.replay(server.url, recorded, clients=4,
                                            max_requests=plan * 2, duration=60)
            requests_sent, errors = replay["requests"] + plan, replay["errors"]
        memory = server.memory()
    return {"scale": config.sim_scale, "duckdb_memory": config.duckdb_memory,
            "warm_requests": requests_sent, "errors": errors, "problem": problem, **memory}


def run(scale: float = 10.0, cache_dir: Path | None = None, fresh: bool = False,
        reps: int = 12, memory: bool = True) -> dict:
    base = Config.from_env()
    cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "bd-bench-cache")
    cache_dir.mkdir(parents=True, exist_ok=True)
    configs = [dataclasses.replace(base, sim_scale=1.0),
               dataclasses.replace(base, cache_dir=cache_dir, sim_scale=scale)]
    results = {"machine": machine_facts(), "settings": {"scale": scale, "reps": reps,
                                                        "period": PERIOD, "speeds": FAST},
               "generation": [], "queries": [], "memory": []}
    for config in configs:
        results["generation"].append(generate(config, fresh and config.sim_scale != 1.0))
        print(f"  x{config.sim_scale:g} data ready", flush=True)
    for config in configs:
        results["queries"] += run_queries(config, reps)
        print(f"  x{config.sim_scale:g} queries done", flush=True)
    if memory:
        low = dataclasses.replace(configs[-1], duckdb_memory=LOW_MEMORY)
        for config in [*configs, *([low] if low != configs[-1] else [])]:
            results["memory"].append(worker_memory(config))
            print(f"  x{config.sim_scale:g} memory done", flush=True)
    return results


def report(results: dict) -> str:
    lines = [table(["scale", "rows", "generate s", "index s", "parquet MB", "index MB", "reused"],
                   [[f"x{g['scale']:g}", fmt(g["rows"]), fmt(g["generate_s"]),
                     fmt(g["index_s"]), fmt(g["parquet_mb"]), fmt(g["index_mb"]),
                     "yes" if g["reused"] else "no"] for g in results["generation"]])]
    scales = sorted({q["scale"] for q in results["queries"]})
    by_key = {(q["place"], q["filter"], q["query"], q["scale"]): q for q in results["queries"]}
    keys = list(dict.fromkeys((q["place"], q["filter"], q["query"]) for q in results["queries"]))
    rows = []
    for place, label, name in keys:
        row = [place, label, name]
        for s in scales:
            q = by_key.get((place, label, name, s), {})
            row += [fmt(q.get("median_ms")), fmt(q.get("p95_ms"))]
        rows.append(row)
    heads = ["place", "filter", "query"]
    for s in scales:
        heads += [f"x{s:g} median ms", f"x{s:g} p95 ms"]
    lines += ["", table(heads, rows)]
    if results["memory"]:
        rows = [[f"x{m['scale']:g}", m.get("duckdb_memory", "-"), m["warm_requests"],
                 m["errors"],
                 fmt(m["master_pss_mb"], 0),
                 ", ".join(fmt(w["pss_mb"], 0) for w in m["workers"]),
                 ", ".join(fmt(w["rss_mb"], 0) for w in m["workers"])]
                for m in results["memory"]]
        lines += ["", table(["scale", "DuckDB limit", "warm-up requests", "errors",
                             "master PSS MB", "worker PSS MB", "worker RSS MB"], rows)]
        lines += [f"x{m['scale']:g}: {m['problem']}" for m in results["memory"] if m["problem"]]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--fresh", action="store_true", help="regenerate the scaled usage")
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--no-memory", action="store_true", help="skip the gunicorn memory run")
    args = parser.parse_args(argv)
    results = run(args.scale, args.cache_dir, args.fresh, args.reps, not args.no_memory)
    path = save("scale", results)
    print(report(results))
    print(f"\nresults: {path}")
    return results


if __name__ == "__main__":
    main()
