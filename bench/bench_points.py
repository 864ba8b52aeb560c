"""Is the EV map still smooth with 10,000 charge points (and 20,000)?

Opens ``/ev`` in headless Chromium against the app under gunicorn, then, in the page, fills the
map's device traces through the page's own clientside function (``dash_clientside.ev.drawPoints``,
the code a filter change runs) with N devices, redraws the map with ``Plotly.react`` and pans
it. N is London's real device table (the baseline of the ratios) and that table resampled with
a few hundred metres of jitter to 10,000 and 20,000 devices. Each step is timed until MapLibre
reports ``idle`` (everything drawn). Reports medians and p95 over ``--reps`` repetitions.

    python -m bench.bench_points [--reps 7] [--sizes 10000 20000]

Chromium here draws WebGL in software (SwiftShader), so a laptop's GPU does better.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from bench.common import machine_facts, our_app, save, summarise, table
from dashboard.data import schema
from dashboard.core.config import CHROMIUM, DEFAULT_DATA_DIR
from dashboard.figures import ev as figs

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--use-gl=swiftshader", "--enable-unsafe-swiftshader"]

# Runs in the page: draw N points through the page's own function, then pan; times in ms.
PROBE = """
async ([points, selection, reps]) => {
    // A copy of the page's map in a plot of its own, so that no Dash callback redraws it.
    const page = document.querySelector('#ev-map .js-plotly-plot');
    const base = JSON.parse(JSON.stringify({data: page.data, layout: page.layout}));
    const gd = document.createElement('div');
    gd.style.cssText = 'width:' + page.offsetWidth + 'px;height:' + page.offsetHeight + 'px';
    document.body.prepend(gd);
    const map = () => gd._fullLayout.map._subplot.map;
    const idle = () => new Promise(resolve => { map().once('idle', resolve);
                                                map().triggerRepaint(); });
    const out = {build: [], draw: [], pan: [], drawn: 0};
    for (let r = 0; r < reps; r++) {
        await Plotly.newPlot(gd, base.data, base.layout);   // an empty map each time
        await idle();
        let t0 = performance.now();
        const fig = window.dash_clientside.ev.drawPoints(selection, points, base);
        let t1 = performance.now();
        await Plotly.react(gd, fig.data, fig.layout);
        await idle();
        let t2 = performance.now();
        out.build.push(t1 - t0); out.draw.push(t2 - t1);
        const c = map().getCenter();
        t0 = performance.now();
        await Plotly.relayout(gd, {'map.center': {lon: c.lng + 0.02, lat: c.lat + 0.01}});
        await idle();
        out.pan.push(performance.now() - t0);
        out.drawn = points.traces.reduce((n, t) => n + (gd.data[t].lon || []).length, 0);
    }
    Plotly.purge(gd); gd.remove();
    return out;
}
"""


def devices(n: int | None, seed: int = 7) -> pd.DataFrame:
    """The real device table, or ``n`` devices resampled from it with about 300 m of jitter."""
    real = pd.read_parquet(schema.chargepoints_path(DEFAULT_DATA_DIR),
                           columns=["lon", "lat", "speed_class"])
    if n is None:
        return real
    rng = np.random.default_rng(seed)
    picked = real.iloc[rng.integers(0, len(real), n)].reset_index(drop=True)
    picked["lon"] += rng.normal(0, 0.004, n)
    picked["lat"] += rng.normal(0, 0.0027, n)
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 20_000])
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    cases = ([("real device table", None), ("no devices (map only)", 0)]
             + [(f"{n:,} resampled", n) for n in args.sizes])
    results = {"machine": machine_facts(), "reps": args.reps, "cases": []}
    with our_app() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url + "/ev", wait_until="networkidle")
        page.wait_for_function("() => { const gd = document.querySelector('#ev-map "
                               ".js-plotly-plot'); return gd && gd._fullLayout && "
                               "gd._fullLayout.map && gd._fullLayout.map._subplot; }",
                               timeout=60_000)
        for label, n in cases:
            frame = devices(n or None)   # 0: the real table, none of it selected
            points = figs.device_points(frame)
            shown = np.arange(len(frame) if n != 0 else 0)
            selection = figs.selection(shown, len(frame))
            times = page.evaluate(PROBE, [points, selection, args.reps])
            row = {"case": label, "devices": len(shown), "drawn": times["drawn"],
                   "payload_kb": len(json.dumps(points)) / 1024,
                   **{k: summarise(times[k]) for k in ("build", "draw", "pan")}}
            results["cases"].append(row)
        browser.close()

    base = results["cases"][0]
    rows = []
    for c in results["cases"]:
        rows.append([c["case"], f"{c['devices']:,}", f"{c['drawn']:,}", f"{c['payload_kb']:.0f}",
                     f"{c['build']['median_ms']:.1f}",
                     f"{c['draw']['median_ms']:.0f}", f"{c['draw']['p95_ms']:.0f}",
                     f"{c['draw']['median_ms'] / base['draw']['median_ms']:.2f}",
                     f"{c['pan']['median_ms']:.0f}", f"{c['pan']['p95_ms']:.0f}",
                     f"{c['pan']['median_ms'] / base['pan']['median_ms']:.2f}"])
    print(f"Machine: {results['machine']}")
    print(table(["points", "devices", "drawn", "positions KB", "fill ms med",
                 "draw ms med", "draw ms p95", "draw x real", "pan ms med", "pan ms p95",
                 "pan x real"], rows))
    print(f"{args.reps} repetitions each; times until MapLibre reports idle.")
    save("points", results)


if __name__ == "__main__":
    main()
