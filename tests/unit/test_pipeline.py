"""The whole pipeline: the committed processed data is exactly what the code builds from raw."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pandas as pd
import pytest

from dashboard.data import schema
from dashboard.core.config import ROOT


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rebuilt(raw_dir, tmp_path_factory):
    """The pipeline run as a maintainer runs it: in a fresh interpreter. In this process, other
    tests' geometry work leaves pyproj state behind that changes how a CRS is written into
    GeoParquet metadata (same data, other bytes)."""
    out = tmp_path_factory.mktemp("data")
    summary_file = out.parent / f"{out.name}-summary.json"
    code = ("import json, sys; from pathlib import Path; "
            "from dashboard.pipeline import __main__ as p; "
            "s = p.run(Path(sys.argv[1]), Path(sys.argv[2])); "
            "Path(sys.argv[3]).write_text(json.dumps(s, default=str))")
    subprocess.run([sys.executable, "-c", code, str(raw_dir), str(out), str(summary_file)],
                   cwd=ROOT, check=True, timeout=600)
    return out, json.loads(summary_file.read_text())


def test_committed_data_equals_a_fresh_build(rebuilt, data_dir):
    out, _ = rebuilt
    fresh, committed = _digests(out), _digests(data_dir)
    assert set(fresh) == set(committed), "the pipeline writes a different set of files"
    changed = sorted(k for k in fresh if fresh[k] != committed[k])
    assert not changed, f"committed files differ from a fresh build: {changed}"


def test_manifest_credits_every_source_the_catalogue_names(rebuilt):
    out, _ = rebuilt
    datasets = pd.read_csv(schema.datasets_path(out))
    catalogue = pd.read_csv(schema.catalogue_path(out))
    assert set(catalogue["source"]) <= set(datasets["dataset_id"])
    assert datasets["licence"].str.len().gt(0).all()
    assert datasets["attribution"].str.len().gt(0).all()
    sources_md = (out / "SOURCES.md").read_text(encoding="utf-8")
    for title in datasets["title"]:
        assert title in sources_md
    assert "CC BY-SA 4.0" in sources_md and "simulated" in sources_md.lower()


def test_summary_counts(rebuilt):
    _, summary = rebuilt
    assert {k: v["features"] for k, v in summary["layers"].items()} == {
        "borough": 33, "ward2022": 704, "ward2011": 625}
    assert summary["chargepoints"]["devices"] > 4000
    assert summary["reference sessions"]["rows_kept"] > 100_000
