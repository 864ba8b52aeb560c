"""What the callback boundary costs: a filter change on /ev dispatched with and without it.

    python -m bench.bench_boundary [--reps 200]

Runs in one process on the app of ``create_app()`` (the default data and cache) through Flask's
test client. Each round sends the same borough change (alternating between two boroughs, so the
map callback computes a fresh patch, not a no-op) once through the boundary and once straight to
Dash's dispatch view, in alternating order; it also times the check alone (parsing excluded).
Reports median, p90 and p95 in milliseconds.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import time

import numpy as np


def _stats(samples: list[float]) -> str:
    a = np.asarray(samples)
    return (f"n={a.size} median={np.median(a):.3f} p90={np.percentile(a, 90):.3f} "
            f"p95={np.percentile(a, 95):.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()

    from dashboard.core import boundary
    from dashboard.core.app import create_app
    from tests.unit.test_boundary import body

    app = create_app()
    logging.getLogger().setLevel(logging.WARNING)
    server = app.server
    endpoint = app.config.routes_pathname_prefix + boundary.DISPATCH_ENDPOINT
    guarded = server.view_functions[endpoint]
    bare = guarded.__wrapped__
    client = server.test_client()
    bodies = [json.dumps(body(app, "ev-heading.children", values={"ev-borough.value": code}))
              for code in ("E09000022", "E09000028")]

    def send(i: int) -> float:
        t0 = time.perf_counter()
        r = client.post("/_dash-update-component", data=bodies[i % 2],
                        content_type="application/json")
        elapsed = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, r.status_code
        return elapsed

    with_b, without_b = [], []
    for i in range(4):  # warm both paths
        send(i)
    for i in range(args.reps):
        order = ((guarded, with_b), (bare, without_b)) if i % 2 else \
            ((bare, without_b), (guarded, with_b))
        for view, samples in order:
            server.view_functions[endpoint] = view
            samples.append(send(i))
    server.view_functions[endpoint] = guarded

    parsed = [json.loads(b) for b in bodies]
    catalogue = None
    for cell in guarded.__closure__ or ():
        if isinstance(cell.cell_contents, boundary.Catalogue):
            catalogue = cell.cell_contents
    checks = []
    for i in range(args.reps * 5):
        b = copy.deepcopy(parsed[i % 2])
        t0 = time.perf_counter()
        boundary.check(b, app.callback_map, catalogue)
        checks.append((time.perf_counter() - t0) * 1000)

    print(f"filter change, with the boundary:    {_stats(with_b)}")
    print(f"filter change, without the boundary: {_stats(without_b)}")
    print(f"the check alone:                     {_stats(checks)}")


if __name__ == "__main__":
    main()
