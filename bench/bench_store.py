"""Benchmark the store's queries over the simulated sessions against a naive pandas baseline.

    python bench/bench_store.py [--reps 30] [--baseline-reps 10] [--json FILE]

Uses the configuration from the environment (``Config.from_env``: BD_DATA_DIR, BD_CACHE_DIR,
BD_SIM_SEED, BD_SIM_SCALE). Makes sure the simulation cache and its index exist (timing them if
they are built), then runs every query once to warm up and ``--reps`` times to measure, and
prints median and 95th percentile per query. The baseline does the two headline aggregates
(summary plus monthly series, for one borough over 12 months and for London with every speed)
the naive way: every session read into pandas once, then filtered and grouped on each call.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402

from dashboard.data import schema  # noqa: E402
from dashboard.data import usage  # noqa: E402
from dashboard.core.config import Config  # noqa: E402
from dashboard.data.store import Store, UsageFilter  # noqa: E402

PERIOD = ("2024-07", "2025-06")  # 12 months inside the simulated period


def timed(fn, reps: int) -> dict:
    fn()  # warm
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"median_ms": statistics.median(samples),
            "p95_ms": float(np.percentile(samples, 95)), "reps": reps}


def machine_facts(folder: Path, rows: int) -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return {
        "nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024**2, 1), "load_average": os.getloadavg(),
        "python": platform.python_version(), "duckdb": duckdb.__version__,
        "pandas": pd.__version__, "pyarrow": pyarrow.__version__, "numpy": np.__version__,
        "sessions": rows, "cache_mb": round(size / 1024**2, 1),
    }


class NaiveBaseline:
    """Every session in one pandas frame; each call filters and groups from scratch."""

    def __init__(self, folder: Path, devices: pd.DataFrame):
        files = sorted(str(p) for p in folder.glob("*.parquet"))
        self.sessions = ds.dataset(files).to_table(
            columns=["device_id", "start", "end", "kwh"]).to_pandas()
        self.devices = devices

    def summary_and_months(self, f: UsageFilter) -> tuple[dict, pd.DataFrame]:
        dev = self.devices
        if f.borough:
            dev = dev[dev["borough_code"] == f.borough]
        if f.speeds:
            dev = dev[dev["speed_class"].isin(f.speeds)]
        s = self.sessions
        keep = s["device_id"].isin(dev["device_id"])
        if f.date_from:
            keep &= s["start"] >= pd.Timestamp(f.date_from)
        if f.date_to:
            keep &= s["start"] < pd.Timestamp(f.date_to) + pd.Timedelta(days=1)
        s = s[keep]
        hours = (s["end"] - s["start"]).dt.total_seconds() / 3600
        summary = {"sessions": len(s), "kwh": s["kwh"].sum(), "plugged_hours": hours.sum()}
        months = (s.assign(hours=hours).groupby(s["start"].dt.to_period("M"))
                  .agg(sessions=("kwh", "size"), kwh=("kwh", "sum"), hours=("hours", "sum")))
        return summary, months


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--baseline-reps", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    config = Config.from_env()

    t0 = time.perf_counter()
    folder = usage.ensure_sessions(config)
    t_sim = time.perf_counter() - t0
    store = Store(config)
    t0 = time.perf_counter()
    store.prepare()
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    coverage = store.coverage()
    t_open = time.perf_counter() - t0
    manifest = usage.read_manifest(folder)
    facts = machine_facts(folder, coverage["rows"])
    print("Machine:", ", ".join(f"{k}={v}" for k, v in facts.items()))
    print(f"Simulation cache {folder.name}: {coverage['rows']:,} sessions, "
          f"{coverage['start']} to {coverage['end']}; ensure_sessions {t_sim:.1f} s "
          f"(generation recorded in manifest: {manifest.get('generated_seconds')} s), "
          f"index {t_index:.1f} s, store open {t_open * 1000:.0f} ms")

    devices = store.devices()
    borough = devices["borough_code"].value_counts().index[0]
    busiest = store.usage_by(None, "device_id").sort_values("sessions").iloc[-1]["device_id"]
    borough_12m = UsageFilter(borough=borough, date_from=PERIOD[0], date_to=PERIOD[1])
    london_all = UsageFilter(speeds=schema.SPEED_CLASSES)
    print(f"Borough: {borough} ({(devices['borough_code'] == borough).sum()} devices), "
          f"period {PERIOD[0]}..{PERIOD[1]}; London: every speed class, whole period")

    queries = {
        "summary, borough 12 months": lambda: store.usage_summary(borough_12m),
        "timeseries month, borough 12 months": lambda: store.usage_timeseries(borough_12m),
        "summary + month series, borough 12m": lambda: (
            store.usage_summary(borough_12m), store.usage_timeseries(borough_12m)),
        "summary, London all speeds": lambda: store.usage_summary(london_all),
        "timeseries month, London all speeds": lambda: store.usage_timeseries(london_all),
        "summary + month series, London": lambda: (
            store.usage_summary(london_all), store.usage_timeseries(london_all)),
        "summary, London (no filter)": lambda: store.usage_summary(None),
        "timeseries week, London": lambda: store.usage_timeseries(london_all, "week"),
        "timeseries day, borough 12 months": lambda: store.usage_timeseries(borough_12m, "day"),
        "usage_by ward2022, London (choropleth)": lambda: store.usage_by(None, "ward2022_code"),
        "usage_by device_id, borough (table)": lambda: store.usage_by(borough_12m, "device_id"),
        "usage_by speed_class, London": lambda: store.usage_by(london_all, "speed_class"),
        "heatmap, borough 12 months": lambda: store.usage_heatmap(borough_12m),
        "heatmap, London": lambda: store.usage_heatmap(london_all),
        "device_history, busiest device": lambda: store.device_history(busiest),
        "devices, borough": lambda: store.devices(borough=borough),
        "indicator_values, ward2022": lambda: store.indicator_values(
            usage.DEMAND_INDICATOR, "ward2022"),
    }
    results = {name: timed(fn, args.reps) for name, fn in queries.items()}

    t0 = time.perf_counter()
    naive = NaiveBaseline(folder, devices)
    t_load = time.perf_counter() - t0
    baseline = {
        "summary + month series, borough 12m": timed(
            lambda: naive.summary_and_months(borough_12m), args.baseline_reps),
        "summary + month series, London": timed(
            lambda: naive.summary_and_months(london_all), args.baseline_reps),
    }
    print(f"Naive pandas baseline: whole sessions frame loaded once in {t_load:.1f} s, "
          f"{naive.sessions.memory_usage(deep=True).sum() / 1024**2:,.0f} MB in memory")

    print(f"\n{'query':42s} {'median ms':>10s} {'p95 ms':>9s} {'baseline ms':>12s} "
          f"{'speed-up':>9s}")
    for name, r in results.items():
        base = baseline.get(name)
        extra = (f"{base['median_ms']:12.1f} {base['median_ms'] / r['median_ms']:8.0f}x"
                 if base else "")
        print(f"{name:42s} {r['median_ms']:10.1f} {r['p95_ms']:9.1f} {extra}")
    print(f"\nStore: {args.reps} warm repetitions per query; baseline: {args.baseline_reps}.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "machine": facts, "store": results, "baseline": baseline,
            "simulation_seconds": t_sim, "index_seconds": t_index,
        }, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
