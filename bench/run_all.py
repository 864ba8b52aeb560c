"""Run the whole performance suite and check the figures against the targets.

    python -m bench.run_all [--quick] [--only callbacks first_load scale]

Runs, in turn, the callback benchmark (the EV page against the plain baseline), the first-load
benchmark and the scale benchmark, each bounded in time (the whole suite takes under 15 minutes
on a 2-core machine; ``--quick`` uses small counts to check that everything works). Writes every
result as JSON under bench/results/ (git-ignored), the tables and the target check to
bench/results/summary.md, and prints them. A benchmark that fails is reported and the others
still run; the exit status is 1 when any benchmark failed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from bench import bench_callbacks, bench_first_load, bench_scale
from bench.common import RESULTS, fmt, machine_facts, save, table

# Targets on this 2-core machine, loopback.
MAP_P95_MS, MAP_KB = 30.0, 10.0
CHART_P95_MS = 150.0
THROUGHPUT_RATIO = 50.0
FIRST_LOAD_MB, MAP_DRAWN_S = 2.0, 2.0
SCALE_P95_MS, PSS_MB = 300.0, 250.0


def _run(clients: dict) -> dict:
    """Run ``{"name": (module, kwargs)}``; results by name, failures as ``{"error": text}``."""
    out = {}
    for name, (module, kwargs) in clients.items():
        print(f"\n== {name} ==", flush=True)
        t0, load_before = time.perf_counter(), os.getloadavg()
        try:
            out[name] = module.run(**kwargs)
            print(module.report(out[name]), flush=True)
        except Exception:
            out[name] = {"error": traceback.format_exc()}
            print(out[name]["error"], flush=True)
        out[name]["seconds"] = time.perf_counter() - t0
        out[name]["load_average"] = {"before": [round(x, 2) for x in load_before],
                                     "after": [round(x, 2) for x in os.getloadavg()]}
        save(name.replace("_", "-"), out[name])
    return out


# Our app is measured twice in the same run: with its per-worker result cache off, so that every
# request is computed as for a state never seen before, and as deployed, with the cache on, where
# the replay's repeated states are answered from it. Targets are checked against both.
OUR_RUNS = (("ours-nocache", "cache off: every request computed"),
            ("ours", "cache on: replayed states"))


def _kinds(results: dict, app: str, clients: int, kinds: tuple[str, ...]) -> list[dict]:
    runs = results["apps"].get(app, {}).get("runs", [])
    run = next((r for r in runs if r["clients"] == clients), None)
    return [] if run is None else [run["kinds"][k] for k in kinds if k in run["kinds"]]


def check(results: dict) -> list[list]:
    """(target, figure, met) rows for every target whose benchmark ran."""
    rows = []
    cb = results.get("callbacks", {})
    for app, how in OUR_RUNS if "apps" in cb else ():
        for label, kinds in (("map-only updates", ("map",)),
                             ("every response that updates the map", ("map", "map + charts"))):
            found = _kinds(cb, app, 4, kinds)
            if found:
                p95 = max(k["p95_ms"] for k in found)
                size = max(k["wire_max"] for k in found) / 1024
                json_size = max(k["json_max"] for k in found) / 1024
                rows.append([f"{label}: p95 <= {MAP_P95_MS:g} ms at 4 clients ({how})",
                             f"{fmt(p95)} ms", p95 <= MAP_P95_MS])
                rows.append([f"{label}: response <= {MAP_KB:g} KB ({how})",
                             f"{fmt(size)} KB on the wire (max), {fmt(json_size)} KB JSON",
                             size <= MAP_KB])
        found = _kinds(cb, app, 4, ("charts", "map + charts"))
        if found:
            p95 = max(k["p95_ms"] for k in found)
            rows.append([f"aggregate chart responses: p95 <= {CHART_P95_MS:g} ms at 4 clients "
                         f"({how})", f"{fmt(p95)} ms", p95 <= CHART_P95_MS])
        ratio = next((r for r in cb.get("ratios", [])
                      if r["clients"] == 16 and r.get("app", "ours") == app), None)
        if ratio and ratio["changes_per_s_ratio"] is not None:
            rows.append([f"throughput at 16 clients >= {THROUGHPUT_RATIO:g}x baseline "
                         f"(filter changes/s; {how})", f"{fmt(ratio['changes_per_s_ratio'])}x "
                         f"(requests/s: {fmt(ratio['req_per_s_ratio'])}x)",
                         ratio["changes_per_s_ratio"] >= THROUGHPUT_RATIO])
    fl = results.get("first_load", {})
    for item in fl.get("loads", []):
        if item["path"] == "/ev" and not item["slow"]:
            cold = item["cold"]
            mb = cold["total_bytes"] / 1024 ** 2
            rows.append([f"EV page cold first load <= {FIRST_LOAD_MB:g} MB", f"{fmt(mb, 2)} MB",
                         mb <= FIRST_LOAD_MB])
            drawn = cold["map_drawn_ms"]
            rows.append([f"EV page map drawn <= {MAP_DRAWN_S:g} s (cold, loopback)",
                         "-" if drawn is None else f"{fmt(drawn / 1000, 2)} s",
                         drawn is not None and drawn <= MAP_DRAWN_S * 1000])
    sc = results.get("scale", {})
    scaled = [q for q in sc.get("queries", []) if q["scale"] != 1.0]
    if scaled:
        worst = max(scaled, key=lambda q: q["p95_ms"])
        rows.append([f"x{worst['scale']:g} aggregate queries p95 <= {SCALE_P95_MS:g} ms",
                     f"worst {fmt(worst['p95_ms'])} ms ({worst['query']}, {worst['place']}, "
                     f"{worst['filter']})", worst["p95_ms"] <= SCALE_P95_MS])
    from dashboard.core.config import DEFAULT_DUCKDB_MEMORY
    for mem in sc.get("memory", []):
        if mem["scale"] == 1.0:
            continue
        pss = [w["pss_mb"] for w in mem["workers"] if w["pss_mb"] is not None]
        limit = mem.get("duckdb_memory", DEFAULT_DUCKDB_MEMORY)
        how = ("default" if limit == DEFAULT_DUCKDB_MEMORY else "set")
        if pss:
            rows.append([f"x{mem['scale']:g} PSS <= {PSS_MB:g} MB per worker (DuckDB limit "
                         f"{limit}, {how})", ", ".join(f"{fmt(p, 0)} MB" for p in pss),
                         max(pss) <= PSS_MB])
    return rows


def summary(results: dict, machine: dict) -> str:
    m = machine
    lines = [f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM, "
             f"load average {m['load_average']}; Python {m['python']}, duckdb {m['duckdb']}, "
             f"dash {m['dash']}, plotly {m['plotly']}, pandas {m['pandas']}; {m['when']}."]
    for name, module in (("callbacks", bench_callbacks), ("first_load", bench_first_load),
                         ("scale", bench_scale)):
        result = results.get(name)
        if result is None:
            continue
        load = result["load_average"]
        lines.append(f"\n## {name} ({fmt(result['seconds'], 0)} s; load average (1, 5, 15 min) "
                     f"before {load['before']}, after {load['after']})\n")
        lines.append(f"```\n{result['error']}```" if "error" in result else module.report(result))
    rows = check(results)
    lines.append("\n## Targets\n")
    lines.append(table(["target", "figure", "met"],
                       [[t, f, "yes" if ok else "NO"] for t, f, ok in rows]))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to try the suite")
    parser.add_argument("--only", nargs="+", choices=["callbacks", "first_load", "scale"],
                        default=["callbacks", "first_load", "scale"])
    args = parser.parse_args(argv)
    machine = machine_facts()
    plan = {
        "callbacks": (bench_callbacks, dict(clients=(1, 4, 16), max_requests=8 if args.quick
                                            else 40, duration=10 if args.quick else 40)),
        "first_load": (bench_first_load, dict(reps=1 if args.quick else 2)),
        "scale": (bench_scale, dict(reps=3 if args.quick else 12)),
    }
    t0 = time.perf_counter()
    results = _run({k: v for k, v in plan.items() if k in args.only})
    text = summary(results, machine) + f"\n\nSuite time: {fmt(time.perf_counter() - t0, 0)} s"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(text + "\n", encoding="utf-8")
    print("\n" + text)
    print(f"\nresults: {RESULTS}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
