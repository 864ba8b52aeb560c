"""What the ward profile's new parts cost on the server: similar wards, what stands out, trends.

    python3 -m bench.bench_profile [--wards 40]

For a fixed sample of wards of both vintages (evenly spaced by code, so both vintages in
proportion), after
one warm-up build: the whole ``profile.build_profile`` and, timed separately in the same run, the
three parts added to it (``similar_wards``, ``standouts``, ``trends``). The baseline is the build
minus those parts. Reported as median and 95th percentile in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import time

from bench.common import summarise
from dashboard.views.ward import model as profile
from dashboard.data import schema
from dashboard.core.config import Config
from dashboard.data.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wards", type=int, default=40)
    args = parser.parse_args()
    store = Store(Config())
    layers = {layer: store.layer_table(layer) for layer in schema.LAYERS}
    every = sorted(profile.all_wards(layers), key=lambda w: w.code)
    wards = every[::max(1, len(every) // args.wards)][:args.wards]
    profile.build_profile(store, layers, wards[0], date_from="2025-04", date_to="2026-03")
    whole, similar, standouts, trends, baseline = [], [], [], [], []
    for ward in wards:
        t0 = time.perf_counter()
        prof = profile.build_profile(store, layers, ward, date_from="2025-04",
                                     date_to="2026-03")
        whole.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        found = profile.similar_wards(store, layers, ward)
        similar.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        profile.standouts(prof.rows, profile.layer_data(store, ward.layer), ward)
        standouts.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        profile.trends(store, ward, found)
        trends.append((time.perf_counter() - t0) * 1000)
        baseline.append(whole[-1] - similar[-1] - standouts[-1] - trends[-1])
    out = {name: summarise(values) for name, values in (
        ("build_profile", whole), ("baseline_without_new_parts", baseline),
        ("similar_wards", similar), ("standouts", standouts), ("trends", trends))}
    out["wards"] = len(wards)
    print(json.dumps(out, indent=2))
    store.close()


if __name__ == "__main__":
    main()
