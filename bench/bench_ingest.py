"""Benchmark importing operator session files end to end through the command line.

    python bench/bench_ingest.py [--sizes 1000000,5000000] [--reps 3] [--json FILE]

For each size, builds a council-export CSV (``SDR ID, CP ID, Consum(kWh), Start, End``) and,
for sizes up to a million, an OCPI NDJSON file of real reference sessions moved to 2025 and tied
to London devices (``tests/unit/ingest_files``; building them is not timed). Then runs
``python -m dashboard.ingest FILE --json`` in a fresh process into an empty dataset store,
``--reps`` times, measuring wall time and the child's peak RSS (``wait4``): reading, checking,
device matching, writing the sessions and building the session index. The baseline, in the
same run, is the floor of any import: a fresh process that only reads the same file into Arrow
(``pyarrow.csv.read_csv`` / ``pyarrow.json.read_json``) and exits.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.core.config import DEFAULT_DATA_DIR  # noqa: E402
from tests.unit import ingest_files as F  # noqa: E402

CHUNK = 1_000_000


def build_csv(n: int, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("SDR ID,CP ID,Consum(kWh),Start,End\n")
        for i, start in enumerate(range(0, n, CHUNK)):
            frame = F.sessions(DEFAULT_DATA_DIR, min(CHUNK, n - start), seed=100 + i)
            pd.DataFrame({
                "SDR ID": frame["session_id"], "CP ID": frame["device_id"],
                "Consum(kWh)": frame["kwh"],
                "Start": frame["start_local"].dt.strftime("%d/%m/%Y %H:%M"),
                "End": frame["end_local"].dt.strftime("%d/%m/%Y %H:%M"),
            }).to_csv(fh, index=False, header=False)
    return path


def build_ndjson(n: int, path: Path) -> Path:
    """OCPI CDRs, one per line, written with vectorised string building."""
    frame = F.sessions(DEFAULT_DATA_DIR, n, seed=200)
    uid = F.evse_uid(frame)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    lines = ('{"country_code":"GB","party_id":"TST","id":"' + frame["session_id"]
             + '","start_date_time":"' + frame["start_utc"].dt.strftime(iso)
             + '","end_date_time":"' + frame["end_utc"].dt.strftime(iso)
             + '","cdr_location":{"id":"L1","evse_uid":"' + uid
             + '","coordinates":{"latitude":"' + frame["lat"].round(6).astype(str)
             + '","longitude":"' + frame["lon"].round(6).astype(str)
             + '"}},"total_energy":' + frame["kwh"].astype(str)
             + ',"total_time":' + frame["hours"].round(6).astype(str)
             + ',"total_parking_time":0}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# The child reports its own peak resident memory (VmHWM) as it exits. The rusage of a child
# cannot be used: Linux carries the forking parent's peak (this script holds the generated
# sessions) across exec into the child's ru_maxrss.
PEAK = ("import atexit, runpy, sys\n"
        "def peak():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            print('PEAK_KB', line.split()[1], file=sys.stderr)\n"
        "atexit.register(peak)\n")


def run(cmd: list[str], env: dict) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB) and exit status of one child process, and its last line."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peaks = [int(line.split()[1]) for line in proc.stderr.splitlines()
             if line.startswith("PEAK_KB ")]
    out = proc.stdout.strip()
    return (wall, (peaks[-1] / 1024) if peaks else float("nan"), proc.returncode,
            out.splitlines()[-1] if out else "")


BASELINE = {
    "csv": PEAK + "import pyarrow.csv as c; print(c.read_csv(sys.argv[1]).num_rows)",
    "ndjson": PEAK + "import pyarrow.json as j; print(j.read_json(sys.argv[1]).num_rows)",
}
IMPORT = PEAK + ("sys.argv = ['dashboard.ingest', *sys.argv[1:]]\n"
                 "runpy.run_module('dashboard.ingest', run_name='__main__')\n")


def stats(values: list[float]) -> dict:
    arr = np.asarray(values, float)
    return {"n": int(arr.size), "median": float(np.median(arr)),
            "p90": float(np.percentile(arr, 90)), "max": float(arr.max())}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="1000000,5000000")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--reps-large", type=int, default=1, help="repetitions above 1,000,000")
    p.add_argument("--formats", default="csv,ndjson")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    results = []
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            files = {"csv": build_csv(n, work / f"sessions-{n}.csv")}
            if n <= CHUNK and "ndjson" in args.formats:
                files["ndjson"] = build_ndjson(n, work / f"cdrs-{n}.ndjson")
            reps = args.reps if n <= CHUNK else args.reps_large
            for kind, path in files.items():
                row = {"sessions": n, "format": kind, "file_mb": round(path.stat().st_size / 1e6)}
                for label, cmd_for in (
                        ("baseline", lambda: [sys.executable, "-c", BASELINE[kind], str(path)]),
                        ("import", lambda: [sys.executable, "-c", IMPORT, str(path), "--json"])):
                    times, rss, last = [], [], ""
                    for _ in range(reps):
                        store = work / "store"
                        shutil.rmtree(store, ignore_errors=True)
                        env = dict(os.environ, BD_DATA_STORE=str(store),
                                   PYTHONPATH=str(ROOT))
                        wall, peak, code, last = run(cmd_for(), env)
                        if code != 0:
                            raise SystemExit(f"{label} {kind} {n} exited {code}: {last[:300]}")
                        times.append(wall)
                        rss.append(peak)
                    row[label] = {"seconds": stats(times), "peak_rss_mb": stats(rss)}
                    if label == "import":
                        got = json.loads(last)
                        row["sessions_kept"] = got["sessions_kept"]
                results.append(row)
                print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
