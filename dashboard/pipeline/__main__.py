"""Rebuild every processed file under ``data/`` from the raw open data.

    python -m dashboard.pipeline [--raw DIR] [--out DIR]

The raw folder defaults to ``../shared/data/raw`` beside the repository; the official download
page of every source is listed in README.md and data/SOURCES.md so anyone can rebuild from the
publishers. Every step is deterministic: running twice gives byte-identical files.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from dashboard.core.config import DEFAULT_DATA_DIR, DEFAULT_RAW_DIR
from dashboard.pipeline import manifest

log = logging.getLogger("dashboard.pipeline")


def steps():
    """The pipeline steps in dependency order: (name, build function, dataset_rows function)."""
    from dashboard.data import usage
    from dashboard.pipeline import chargepoints, indicators, similar
    from layers import build as layers_build

    return [
        ("layers", layers_build.build, layers_build.dataset_rows),
        ("chargepoints", chargepoints.build, chargepoints.dataset_rows),
        ("indicators", indicators.build, indicators.dataset_rows),
        ("similar wards", similar.build, similar.dataset_rows),
        ("reference sessions", usage.write_reference, usage.dataset_rows),
    ]


def run(raw_dir: Path, out_dir: Path) -> dict:
    if not raw_dir.is_dir():
        raise SystemExit(f"raw data folder not found: {raw_dir} (pass --raw)")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, rows = {}, []
    for name, build, dataset_rows in steps():
        t0 = time.perf_counter()
        summary[name] = build(raw_dir, out_dir)
        rows.extend(dataset_rows())
        log.info("%s: %.1f s %s", name, time.perf_counter() - t0, summary[name])
    manifest.write(rows, out_dir)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW_DIR, help="raw open data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_DATA_DIR, help="processed data folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(args.raw, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
