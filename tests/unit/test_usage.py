"""Reference sessions, the simulation and its cache."""
from __future__ import annotations

import logging
import multiprocessing
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dashboard.data import schema
from dashboard.data import usage
from dashboard.core.config import DEFAULT_RAW_DIR, Config

RAW = DEFAULT_RAW_DIR
needs_raw = pytest.mark.skipif(
    not (RAW / usage.REFERENCE_SOURCES["dundee"]).is_dir(),
    reason=f"raw open data not found under {RAW}")

CLASS_KW = {"slow": 7.0, "fast": 22.0, "rapid": 50.0}


def synthetic_reference(seed: int = 7, devices: int = 6, days: int = 70) -> pd.DataFrame:
    """A small reference in the shape ``load_reference_sessions`` returns, for fast tests."""
    rng = np.random.default_rng(seed)
    rows = []
    for cls, kw in CLASS_KW.items():
        per_day = {"slow": 2, "fast": 2, "rapid": 6}[cls]
        for d in range(devices):
            n = rng.poisson(per_day, size=days)
            day = np.repeat(np.arange(days), n)
            start = (pd.Timestamp("2018-01-01")
                     + pd.to_timedelta(day, unit="D")
                     + pd.to_timedelta(rng.integers(6 * 60, 22 * 60, day.size), unit="min"))
            minutes = rng.integers(15, 600 if cls != "rapid" else 90, day.size)
            kwh = np.round(rng.uniform(0.1, 1.0, day.size) * kw * minutes / 60, 3)
            rows.append(pd.DataFrame({
                "device_id": f"ref-{cls}-{d}", "start": start,
                "end": start + pd.to_timedelta(minutes, unit="min"), "kwh": kwh,
                "max_kw": kw, "speed_class": cls, "source": "test",
            }))
    ref = pd.concat(rows, ignore_index=True)
    ref["session_id"] = [f"test-{i}" for i in range(len(ref))]
    ref["simulated"] = False
    return ref


def make_devices(n_per_class: int = 10, installed=None, ward: str = "E05000001"
                 ) -> pd.DataFrame:
    rows = []
    kinds = [("slow", 7.0), ("slow", 3.7), ("fast", 22.0), ("rapid", 50.0), ("ultra", 150.0),
             ("unknown", np.nan)]
    for cls, kw in kinds:
        for i in range(n_per_class):
            rows.append({"device_id": f"dev-{cls}-{kw}-{i:03d}", "max_kw": kw, "speed_class": cls,
                         "ward2022_code": ward, "installed": installed})
    columns = ["device_id", "max_kw", "speed_class", "ward2022_code", "installed"]
    out = pd.DataFrame(rows, columns=columns)
    out["installed"] = pd.to_datetime(out["installed"])
    return out


@pytest.fixture(scope="module")
def reference_and_report():
    if not (RAW / usage.REFERENCE_SOURCES["dundee"]).is_dir():
        pytest.skip(f"raw open data not found under {RAW}")
    return usage.load_reference_sessions(RAW)


# Reference sessions ------------------------------------------------------------------------------
@pytest.mark.parametrize("model, kw, cls", [
    ("APT 22kW Dual Outlet", 22, "fast"),
    ("APT 7kW Dual Outlet", 7, "slow"),
    ("Siemens 7 kW Dual Outlet", 7, "slow"),
    ("APT 50kW Raption", 50, "rapid"),
    ("APT 22kW Raption", 22, "fast"),
    ("APT Triple Rapid Charger", 50, "rapid"),
    ("APT Dual Rapid Charger", 50, "rapid"),
    ("Siemens Semi-Rapid", 22, "fast"),
])
def test_model_rules(model, kw, cls):
    assert usage.model_max_kw(model) == kw
    assert schema.speed_class(usage.model_max_kw(model)) == cls


def test_model_without_rule_is_unknown():
    assert np.isnan(usage.model_max_kw("Mystery Charger"))
    assert schema.speed_class(usage.model_max_kw(None)) == "unknown"


@needs_raw
def test_report_adds_up(reference_and_report):
    sessions, report = reference_and_report
    dropped = report[[f"dropped_{r}" for r in usage.DROP_REASONS]].sum(axis=1)
    assert (report["rows_read"] == report["rows_kept"] + dropped).all()
    files = report[~report["file"].str.startswith("(")]
    assert set(files["source"]) == {"dundee", "perth"}
    assert len(files) == 7  # four Dundee files (not cp-locations.csv), three Perth files
    total = report[report["source"] == "(all sources)"].iloc[0]
    assert total["rows_read"] == files["rows_read"].sum() == 67_112 + 66_664
    assert total["rows_kept"] == len(sessions)
    for source, part in files.groupby("source"):
        per_source = report[(report["source"] == source) & (report["file"] == "(all files)")]
        assert per_source["rows_kept"].iloc[0] == part["rows_kept"].sum()
        assert (sessions["source"] == source).sum() == part["rows_kept"].sum()


@needs_raw
def test_reference_sessions_are_clean(reference_and_report):
    s, _ = reference_and_report
    assert list(s.columns) == list(usage.REFERENCE_COLUMNS)
    hours = (s["end"] - s["start"]).dt.total_seconds() / 3600
    assert (hours > 0).all() and (hours <= usage.MAX_DURATION_HOURS).all()
    assert (s["kwh"] >= 0).all() and (s["kwh"] <= usage.MAX_SESSION_KWH).all()
    rated = s["max_kw"].notna()
    assert (s.loc[rated, "kwh"]
            <= s.loc[rated, "max_kw"] * hours[rated] * usage.POWER_TOLERANCE + 1e-9).all()
    assert s["session_id"].is_unique
    assert not s["simulated"].any()
    assert s["device_id"].str.match(r"^(dundee|perth)-\d+$").all()
    assert set(s["speed_class"]) == {"slow", "fast", "rapid"}
    assert s.loc[s["model"] == "APT 22kW Dual Outlet", "speed_class"].eq("fast").all()


@needs_raw
def test_write_reference_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    summary = usage.write_reference(RAW, a)
    usage.write_reference(RAW, b)
    path_a, path_b = schema.reference_sessions_path(a), schema.reference_sessions_path(b)
    assert path_a.read_bytes() == path_b.read_bytes()
    assert usage.report_path(a).read_bytes() == usage.report_path(b).read_bytes()
    table = pq.read_table(path_a)
    assert table.num_rows == summary["rows_kept"]
    assert set(schema.SESSION_COLUMNS) <= set(table.column_names)


def test_dataset_rows_have_the_manifest_columns():
    rows = usage.dataset_rows()
    assert [r["dataset_id"] for r in rows] == ["sessions-dundee", "sessions-perth"]
    for row in rows:
        assert set(row) == set(schema.DATASET_COLUMNS)
        assert row["licence"].startswith("OGL")
        assert row["official_url"].startswith("https://")
        assert row["raw_folder"] in usage.REFERENCE_SOURCES.values()


# Demand factor -----------------------------------------------------------------------------------
def test_demand_factor_normalised_to_london_and_clipped():
    ind = pd.DataFrame({
        "layer": ["ward2022"] * 5 + ["london", "ward2022"],
        "code": ["W1", "W2", "W3", "W4", "W5", "E12000007", "W1"],
        "indicator_id": usage.DEMAND_INDICATOR,
        "period": ["2024"] * 6 + ["2023"],
        "value": [10.0, 20.0, 1.0, 100.0, np.inf, 10.0, 99.0],
    })
    f = usage.demand_factor(ind)
    assert f.to_dict() == {"W1": 1.0, "W2": 2.0, "W3": 0.25, "W4": 4.0}  # W5 has no devices


def test_missing_demand_indicator_means_factor_one(caplog):
    with caplog.at_level(logging.WARNING, logger="dashboard.data.usage"):
        f = usage.demand_factor(pd.DataFrame(columns=list(schema.INDICATOR_COLUMNS)))
    assert f.empty
    assert "demand factor is 1" in caplog.text


# Simulation --------------------------------------------------------------------------------------
def test_simulation_is_deterministic():
    ref = synthetic_reference()
    dev = make_devices(4)
    a = usage.simulate(dev, ref, start="2024-04-01", months=2, seed=11)
    b = usage.simulate(dev.sample(frac=1, random_state=3), ref, start="2024-04-01", months=2,
                       seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = usage.simulate(dev, ref, start="2024-04-01", months=2, seed=12)
    assert len(a) > 100
    assert not (len(a) == len(c) and a["start"].equals(c["start"]) and a["kwh"].equals(c["kwh"]))


def test_simulation_schema_and_order():
    out = usage.simulate(make_devices(2), synthetic_reference(), months=1, seed=1)
    assert list(out.columns) == list(schema.SESSION_COLUMNS)
    assert out["simulated"].all()
    assert out["start"].is_monotonic_increasing
    assert (out["session_id"] == np.arange(1, len(out) + 1)).all()
    assert (out["end"] > out["start"]).all()
    assert out["start"].min() >= pd.Timestamp("2024-04-01")
    assert out["start"].max() < pd.Timestamp("2024-05-01")


def test_no_session_before_installation():
    dev = make_devices(3)
    dev.loc[::3, "installed"] = pd.Timestamp("2024-05-10 14:30")  # mid-day: from the 11th
    dev.loc[1::3, "installed"] = pd.Timestamp("2024-05-20")       # midnight: from the 20th
    dev.loc[2::3, "installed"] = pd.Timestamp("2030-01-01")       # after the period: none
    out = usage.simulate(dev, synthetic_reference(), start="2024-04-01", months=3, seed=5)
    merged = out.merge(dev[["device_id", "installed"]], on="device_id")
    assert (merged["start"] >= merged["installed"]).all()
    assert merged.loc[merged["installed"] == pd.Timestamp("2024-05-10 14:30"), "start"].min() \
        >= pd.Timestamp("2024-05-11")
    assert not merged["installed"].eq(pd.Timestamp("2030-01-01")).any()
    assert len(out) > 0


def test_kwh_never_exceeds_rating_times_duration():
    out = usage.simulate(make_devices(5), synthetic_reference(), months=2, seed=9)
    merged = out.merge(make_devices(5)[["device_id", "max_kw"]], on="device_id")
    hours = (merged["end"] - merged["start"]).dt.total_seconds() / 3600
    rated = merged["max_kw"].notna()
    assert (merged.loc[rated, "kwh"] <= merged.loc[rated, "max_kw"] * hours[rated] + 1e-9).all()
    # the 3.7 kW devices resample 7 kW sessions, so some energy must have been capped
    low = merged["max_kw"] == 3.7
    assert np.isclose(merged.loc[low, "kwh"], 3.7 * hours[low]).any()


def test_ultra_and_unknown_fall_back():
    models = usage.fit_reference(synthetic_reference())
    assert set(models) == {"slow", "fast", "rapid"}
    mapping = usage.class_mapping(models)
    assert mapping["ultra"] == "rapid" and mapping["unknown"] == "slow"
    only_slow = usage.fit_reference(synthetic_reference().query("speed_class == 'slow'"))
    assert set(usage.class_mapping(only_slow).values()) == {"slow"}
    out = usage.simulate(make_devices(3), synthetic_reference(), months=1, seed=2)
    assert out["device_id"].str.startswith("dev-ultra").any()
    assert out["device_id"].str.startswith("dev-unknown").any()


def test_demand_and_scale_change_volume():
    ref = synthetic_reference()
    low = make_devices(20, ward="LOW")
    high = make_devices(20, ward="HIGH")
    high["device_id"] = high["device_id"] + "-h"
    dev = pd.concat([low, high], ignore_index=True)
    demand = pd.Series({"LOW": 0.25, "HIGH": 4.0})
    out = usage.simulate(dev, ref, demand=demand, months=2, seed=4)
    per_ward = out["device_id"].str.endswith("-h").value_counts()
    assert per_ward[True] > 3 * per_ward[False]
    base = len(usage.simulate(low, ref, months=2, seed=4))
    tripled = len(usage.simulate(low, ref, months=2, seed=4, scale=3))
    assert tripled == pytest.approx(3 * base, rel=0.1)


def test_empty_inputs():
    out = usage.simulate(make_devices(0), synthetic_reference(), months=1)
    assert out.empty and list(out.columns) == list(schema.SESSION_COLUMNS)
    out = usage.simulate(make_devices(2), synthetic_reference(), months=0)
    assert out.empty and list(out.columns) == list(schema.SESSION_COLUMNS)


def _shape(frame: pd.DataFrame) -> dict:
    hours = (frame["end"] - frame["start"]).dt.total_seconds() / 3600
    hour = frame["start"].dt.hour
    days = frame.groupby("device_id")["start"].agg(["min", "max", "size"])
    window = (days["max"].dt.normalize() - days["min"].dt.normalize()).dt.days + 1
    return {
        "sessions": len(frame),
        "sessions_per_device_day": (days["size"] / window).mean(),
        "dur_median_h": hours.median(),
        "dur_p90_h": hours.quantile(0.9),
        "kwh_median": frame["kwh"].median(),
        "share_07_10": hour.between(7, 9).mean(),
        "share_17_20": hour.between(17, 19).mean(),
        "weekday_share": (frame["start"].dt.day_of_week < 5).mean(),
    }


@needs_raw
def test_simulation_matches_reference_distribution(reference_and_report):
    """Per power class, the simulated sessions look like the real ones they resample."""
    ref, _ = reference_and_report
    rows = []
    for cls, kw in CLASS_KW.items():
        rows += [{"device_id": f"{cls}-{i:03d}", "max_kw": kw, "speed_class": cls,
                  "ward2022_code": "E05000001", "installed": pd.NaT} for i in range(100)]
    dev = pd.DataFrame(rows)
    sim = usage.simulate(dev, ref, start="2024-04-01", months=6, seed=2024)
    sim = sim.merge(dev[["device_id", "speed_class"]], on="device_id")
    table = []
    for cls in CLASS_KW:
        real = _shape(ref[ref["speed_class"] == cls])
        simulated = _shape(sim[sim["speed_class"] == cls])
        for measure in real:
            table.append({"class": cls, "measure": measure, "reference": real[measure],
                          "simulated": simulated[measure]})
    table = pd.DataFrame(table)
    print("\nReference (Dundee + Perth) vs simulated sessions, per power class "
          "(sessions: sample sizes, 100 simulated devices per class over 6 months)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    for row in table.itertuples():
        if row.measure == "sessions":
            continue
        if row.measure.startswith(("share", "weekday")):
            assert abs(row.simulated - row.reference) <= 0.03, row
        elif row.measure == "sessions_per_device_day":  # device busyness is drawn per device
            assert row.simulated == pytest.approx(row.reference, rel=0.15), row
        else:
            assert row.simulated == pytest.approx(row.reference, rel=0.10), row


# The cache ---------------------------------------------------------------------------------------
def _cache_config(tmp_path, seed: int = 1) -> Config:
    data = tmp_path / "data"
    if not data.exists():
        data.mkdir()
        dev = make_devices(3)
        for col in schema.CHARGEPOINT_COLUMNS:
            if col not in dev:
                dev[col] = None
        dev.to_parquet(schema.chargepoints_path(data), index=False)
        synthetic_reference().to_parquet(schema.reference_sessions_path(data), index=False)
    return Config(data_dir=data, cache_dir=tmp_path / "cache", sim_seed=seed)


def test_ensure_sessions_writes_then_reuses(tmp_path):
    config = _cache_config(tmp_path)
    folder = usage.ensure_sessions(config)
    assert folder == usage.sessions_dir(config)
    manifest = usage.read_manifest(folder)
    files = sorted(folder.glob("*.parquet"))
    assert len(files) == usage.SIM_MONTHS
    assert manifest["rows"] == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    first = pq.read_table(files[0]).to_pandas()
    assert first["start"].is_monotonic_increasing
    assert list(first.columns) == list(schema.SESSION_COLUMNS)
    stamp = (folder / usage.MANIFEST).stat().st_mtime_ns
    assert usage.ensure_sessions(config) == folder
    assert (folder / usage.MANIFEST).stat().st_mtime_ns == stamp  # reused, not regenerated
    assert not [p for p in config.cache_dir.iterdir() if p.name.startswith(".")]


def test_ensure_sessions_follows_its_inputs(tmp_path):
    config = _cache_config(tmp_path)
    folder = usage.ensure_sessions(config)
    before = usage.read_manifest(folder)["fingerprint"]
    other = usage.ensure_sessions(_cache_config(tmp_path, seed=2))
    assert other != folder and other.name == "sessions-seed2-x1"
    dev = pd.read_parquet(schema.chargepoints_path(config.data_dir))
    dev.iloc[:-1].to_parquet(schema.chargepoints_path(config.data_dir), index=False)
    assert usage.ensure_sessions(config) == folder
    assert usage.read_manifest(folder)["fingerprint"] != before


def test_ensure_sessions_requires_its_inputs(tmp_path):
    config = Config(data_dir=tmp_path, cache_dir=tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="dashboard.pipeline"):
        usage.ensure_sessions(config)


def _ensure_in_child(config: Config, log_path: str) -> None:
    real = usage._generate

    def counted(*args, **kwargs):
        with open(log_path, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    usage._generate = counted
    usage.ensure_sessions(config)


def test_concurrent_starts_generate_once(tmp_path):
    config = _cache_config(tmp_path)
    log_path = tmp_path / "generations.log"
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_ensure_in_child, args=(config, str(log_path)))
               for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    assert len(log_path.read_text().splitlines()) == 1
    assert usage.read_manifest(usage.sessions_dir(config))["rows"] > 0


def test_simulation_follows_the_device_table(data_dir):
    """The committed device table drives the simulation: every device that has power published
    is capped at its registry rating, none is used before its creation date, and a device
    created inside the period starts then."""
    devices = pd.read_parquet(schema.chargepoints_path(data_dir))
    assert devices["max_kw"].notna().mean() >= 0.9  # the 2022 registry rates every device
    sample = devices.sort_values("device_id").iloc[::20].copy()
    # Move some creation dates into the simulated month, as a newer registry would.
    later = sample.index[::4]
    sample.loc[later, "installed"] = pd.Timestamp("2024-04-15")
    out = usage.simulate(sample, synthetic_reference(), months=1, seed=3)
    merged = out.merge(sample[["device_id", "max_kw", "installed"]], on="device_id")
    hours = (merged["end"] - merged["start"]).dt.total_seconds() / 3600
    assert (merged["kwh"] <= merged["max_kw"] * hours + 1e-9).all()
    known = merged["installed"].notna()
    assert (merged.loc[known, "start"] >= merged.loc[known, "installed"]).all()
    moved = merged["device_id"].isin(sample.loc[later, "device_id"])
    assert moved.any() and merged.loc[moved, "start"].min() >= pd.Timestamp("2024-04-15")
    assert merged.loc[~moved, "start"].min() < pd.Timestamp("2024-04-15")
