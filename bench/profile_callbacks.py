"""Where a filter change's CPU goes, in one process: our code against Dash, Flask and JSON.

    python -m bench.profile_callbacks [--reps 20] [--cache]

Replays the EV page's filter changes that ``python -m bench.bench_callbacks`` recorded from
Chromium (``bench/results/callback-templates.json``, written by that benchmark) through the
Flask test client of an app built in this process: no network, no gunicorn, no other clients,
so the figures are the CPU a request costs the server on its own. The result cache is off
unless ``--cache``. Reports, per kind of response (map, charts): the median time of a request,
how much of it was spent in the page's callback (our code: ``pages/`` and what it calls in
``dashboard/``), and the rest (Dash's request handling, output checks, JSON encoding, gzip,
Flask); then the CPU time of a whole filter change (every request the browser sent for it).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "bench" / "results" / "callback-templates.json"
CALLBACKS = {"update_map": "map", "update_panels": "charts"}
HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "gzip, deflate, br, zstd"}


def _requests(app_key: str = "ours-nocache") -> list[list[dict]]:
    if not TEMPLATES.exists():
        raise SystemExit(f"{TEMPLATES.relative_to(ROOT)} is missing: run "
                         "`python -m bench.bench_callbacks` first (it records the requests)")
    recorded = json.loads(TEMPLATES.read_text())
    steps = recorded.get(app_key) or recorded.get("ours")
    return [step["requests"] for step in steps]


def _callback_seconds(profile: cProfile.Profile) -> dict[str, float]:
    """Cumulative seconds inside each page callback of ``CALLBACKS``."""
    stats = pstats.Stats(profile)
    out = {kind: 0.0 for kind in CALLBACKS.values()}
    for (path, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        if name in CALLBACKS and path.endswith(os.path.join("pages", "ev.py")):
            out[CALLBACKS[name]] += cumulative
    return out


def run(reps: int, cache: bool) -> dict:
    os.environ["BD_EV_CACHE"] = "32" if cache else "0"
    os.environ.setdefault("BD_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    from dashboard.core.app import create_app

    client = create_app().server.test_client()
    steps = _requests()

    def send(request: dict) -> None:
        response = client.post("/_dash-update-component", data=request["body"],
                               headers=HEADERS)
        if response.status_code not in (200, 204):
            raise SystemExit(f"{request['kind']} request answered {response.status_code}")

    for step in steps:  # warm up: imports, first queries
        for request in step:
            send(request)
    wall: dict[str, list[float]] = {}
    change_cpu = []
    for _ in range(reps):
        for step in steps:
            cpu = time.process_time()
            for request in step:
                start = time.perf_counter()
                send(request)
                wall.setdefault(request["kind"], []).append(time.perf_counter() - start)
            change_cpu.append(time.process_time() - cpu)
    profile = cProfile.Profile()
    counts: dict[str, int] = {}
    profile.enable()
    for _ in range(max(1, reps // 4)):
        for step in steps:
            for request in step:
                send(request)
                counts[request["kind"]] = counts.get(request["kind"], 0) + 1
    profile.disable()
    inside = _callback_seconds(profile)
    overall = sum(cumulative for (path, _, name), (_, _, _, cumulative, _)
                  in pstats.Stats(profile).stats.items()
                  if name == "post" and path.endswith(os.path.join("werkzeug", "test.py")))
    framework = overall - sum(inside.values())
    return {
        "cache": cache, "reps": reps,
        "kinds": {kind: {
            "n": len(values), "median_ms": statistics.median(values) * 1000,
            "callback_ms": inside.get(kind, 0.0) / counts[kind] * 1000,
        } for kind, values in wall.items()},
        "framework_ms_per_request": framework / sum(counts.values()) * 1000,
        "change_cpu_ms": {"median": statistics.median(change_cpu) * 1000,
                          "mean": statistics.fmean(change_cpu) * 1000},
    }


def report(result: dict) -> str:
    lines = [f"In-process replay of the recorded EV filter changes, result cache "
             f"{'on' if result['cache'] else 'off'}, {result['reps']} reps "
             "(callback and framework times from a cProfile pass, so inflated alike):",
             "", "| response | n | median ms | in the page callback ms (profiled) |",
             "|---|---|---|---|"]
    for kind, k in result["kinds"].items():
        lines.append(f"| {kind} | {k['n']} | {k['median_ms']:.2f} | {k['callback_ms']:.2f} |")
    lines += ["", f"Dash, Flask, JSON and gzip around the callbacks (profiled): "
              f"{result['framework_ms_per_request']:.2f} ms a request.",
              f"CPU per filter change (all its requests, unprofiled): median "
              f"{result['change_cpu_ms']['median']:.1f} ms, mean "
              f"{result['change_cpu_ms']['mean']:.1f} ms."]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--cache", action="store_true", help="keep the per-worker result cache")
    args = parser.parse_args(argv)
    result = run(args.reps, args.cache)
    print(report(result))
    return result


if __name__ == "__main__":
    main()
