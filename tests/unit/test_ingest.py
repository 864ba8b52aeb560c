"""Importing operator session files: every format, the store's totals, devices, the command line.

Test files are built at test time (``ingest_files``) from the real reference sessions, moved to
April-June 2025 and tied to London devices; each test compares what was stored with totals it
computes from the frame it wrote.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.data import schema
from dashboard.core.config import Config
from dashboard.ingest import (DatasetStore, IngestError, NeedsMapping, Options, UnknownDataset,
                              parse_period, run_import, usage_label)
from dashboard.ingest.__main__ import main
from dashboard.data.store import Store
from tests.unit import ingest_files as F


@pytest.fixture(scope="module")
def frame(data_dir) -> pd.DataFrame:
    return F.sessions(data_dir, 300)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _store_totals(ds: DatasetStore, dataset_id: str, cache_dir: Path, data_dir: Path) -> dict:
    store = Store(Config(data_dir=data_dir, cache_dir=cache_dir),
                  sessions=ds.sessions_path(dataset_id),
                  chargepoints=ds.chargepoints_path(dataset_id))
    try:
        s = store.usage_summary(None).iloc[0]
        cov = store.coverage()
        return {"sessions": int(s["sessions"]), "kwh": float(s["kwh"]),
                "hours": float(s["plugged_hours"]), "coverage": cov,
                "available": float(s["available_device_hours"])}
    finally:
        store.close()


WRITERS = {
    "ocpi_array": lambda fr, d: [F.write_ocpi(fr, d / "cdrs.json")],
    "ocpi_envelope": lambda fr, d: [F.write_ocpi(fr, d / "cdrs.json", "envelope")],
    "ocpi_ndjson": lambda fr, d: [F.write_ocpi(fr, d / "cdrs.ndjson", "ndjson")],
    "evcus": lambda fr, d: list(F.write_evcus(fr, d)),
    "scotland_split": lambda fr, d: [F.write_scotland_split(fr, d / "dundee.csv")],
    "scotland_new": lambda fr, d: [F.write_scotland_new(fr, d / "cps.csv")],
    "chargepoint": lambda fr, d: [F.write_chargepoint(fr, d / "chargepoint.csv")],
    "xlsx": lambda fr, d: [F.write_xlsx(fr, d / "export.xlsx")],
    "zip": lambda fr, d: [F.write_zip([F.write_scotland_new(fr, d / "q.csv")], d / "q.zip")],
}
FORMAT_NAMES = {
    "ocpi_array": "OCPI 2.2.1 CDRs (JSON array)", "ocpi_envelope": "OCPI 2.2.1 CDRs (OCPI response)",
    "ocpi_ndjson": "OCPI 2.2.1 CDRs (NDJSON)", "evcus": "EV Charging Use Specification",
    "scotland_split": "separate date and time", "scotland_new": "date and time together",
    "chargepoint": "ChargePoint-style", "xlsx": "separate date and time",
    "zip": "date and time together",
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_every_format_imports_and_the_store_holds_the_files_totals(fmt, frame, tmp_path,
                                                                    cache_dir, data_dir):
    files = WRITERS[fmt](frame, tmp_path)
    ds = DatasetStore(tmp_path / "store")
    result = run_import(files, ds, data_dir, Options(now=pd.Timestamp("2025-07-15", tz="UTC")))
    expected = F.totals(frame)
    assert FORMAT_NAMES[fmt] in result["format"]
    assert result["errors"] == {}
    assert result["sessions_kept"] == expected["sessions"]
    assert result["kwh_kept"] == pytest.approx(expected["kwh"], abs=1e-6)
    assert result["devices_unmatched"] == 0 and result["devices_ambiguous"] == 0
    assert result["period"] == ["2025-04-01", "2025-06-30"]
    got = _store_totals(ds, result["dataset_id"], cache_dir, data_dir)
    assert got["sessions"] == expected["sessions"]
    assert got["kwh"] == pytest.approx(expected["kwh"], rel=1e-9)
    assert got["hours"] == pytest.approx(expected["hours"], rel=1e-9)
    assert got["coverage"]["start"].isoformat() == "2025-04-01"
    assert got["coverage"]["end"].isoformat() == "2025-06-30"
    assert got["coverage"]["simulated"] is False
    record = ds.record(result["dataset_id"])
    assert record["sessions_kept"] == expected["sessions"]
    assert len(record["sha256"][0]) == 64
    assert usage_label(record).startswith("Operator data: ")
    assert "April 2025 to June 2025, imported 2025-07-15" in usage_label(record)


def test_the_store_counts_days_and_hours_in_london_time(frame, tmp_path, cache_dir, data_dir):
    """Stored times are UTC; the monthly and hour-of-week rollups are London's."""
    ds = DatasetStore(tmp_path / "store")
    result = run_import([F.write_ocpi(frame, tmp_path / "c.json")], ds, data_dir, Options())
    store = Store(Config(data_dir=data_dir, cache_dir=cache_dir),
                  sessions=ds.sessions_path(result["dataset_id"]),
                  chargepoints=ds.chargepoints_path(result["dataset_id"]))
    heat = store.usage_heatmap(None)
    store.close()
    local = frame["start_local"]
    expected = (local.dt.day_of_week * 24 + local.dt.hour).value_counts().sort_index()
    got = heat.assign(how=heat["weekday"] * 24 + heat["hour"]).set_index("how")["sessions"]
    assert got[got > 0].sort_index().to_dict() == expected.to_dict()


def test_a_device_matched_by_position_is_then_known_by_its_operator_id(frame, tmp_path,
                                                                       data_dir):
    ds = DatasetStore(tmp_path / "store")
    first = run_import([F.write_ocpi(frame, tmp_path / "c.json")], ds, data_dir, Options())
    assert first["devices_matched"] == frame["device_id"].nunique()
    # The next quarter's file names the devices only by the operator's EVSE ids.
    later = frame.assign(device_id=F.evse_uid(frame))
    path = F.write_scotland_new(later, tmp_path / "next.csv")
    second = run_import([path], ds, data_dir, Options(dry_run=True))
    assert second["devices_matched"] == frame["device_id"].nunique()
    assert second["sessions_kept"] == len(frame)


def _pair_of_close_devices(data_dir: Path) -> pd.DataFrame:
    from pyproj import Transformer
    from scipy.spatial import cKDTree
    dev = pd.read_parquet(schema.chargepoints_path(data_dir)).dropna(subset=["lat"])
    xy = np.column_stack(Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
                         .transform(dev["lon"].to_numpy(), dev["lat"].to_numpy()))
    dist, idx = cKDTree(xy).query(xy, k=3)
    i = int(np.flatnonzero((dist[:, 1] > 15) & (dist[:, 1] < 30) & (dist[:, 2] > 60))[0])
    return dev.iloc[[i, idx[i, 1]]]


def test_a_position_between_two_devices_is_ambiguous_and_not_guessed(frame, tmp_path,
                                                                      data_dir):
    pair = _pair_of_close_devices(data_dir)
    mid = frame.head(5).assign(lat=pair["lat"].mean(), lon=pair["lon"].mean(), device_id="one")
    result = run_import([F.write_chargepoint(mid, tmp_path / "c.csv")],
                        DatasetStore(tmp_path / "s"), data_dir, Options(dry_run=True))
    assert result["devices_ambiguous"] == 1
    assert result["sessions_kept"] == 0
    assert result["errors"] == {"ambiguous_device": 5}


def test_unmatched_devices_are_added_in_london_and_counted_outside_it(frame, tmp_path,
                                                                      data_dir, cache_dir):
    # Hyde Park, far from any charge point; and Edinburgh.
    rows = pd.concat([frame.head(4).assign(lat=51.5073, lon=-0.1657),
                      frame.iloc[4:7].assign(lat=55.9533, lon=-3.1883)])
    uid = pd.Series(["GB*NEW*1"] * 4 + ["GB*SCO*1"] * 3, index=rows.index)
    path = F.write_chargepoint(rows, tmp_path / "c.csv")
    text = path.read_text().splitlines()
    # give the two sites their own EVSE ids
    head, body = text[0], text[1:]
    cols = head.split(",")
    i = cols.index("EVSE ID")
    body = [",".join(v if j != i else uid.iloc[k] for j, v in enumerate(line.split(",")))
            for k, line in enumerate(body)]
    path.write_text("\n".join([head, *body]) + "\n")
    ds = DatasetStore(tmp_path / "store")
    left = run_import([path], ds, data_dir, Options(dry_run=True))
    assert left["devices_unmatched"] == 1 and left["devices_outside_london"] == 1
    assert left["errors"] == {"no_device": 4, "outside_london": 3}
    added = run_import([path], ds, data_dir, Options(unmatched="add"))
    assert added["devices_added"] == 1 and added["sessions_kept"] == 4
    cp = pd.read_parquet(ds.chargepoints_path(added["dataset_id"]))
    new = cp[cp["source"].str.startswith("import:")]
    assert len(new) == 1 and new["borough_code"].iloc[0] == "E09000033"  # Westminster
    got = _store_totals(ds, added["dataset_id"], cache_dir, data_dir)
    assert got["sessions"] == 4


def test_ocpi_credits_cancel_their_cdr_and_a_repeated_id_is_one_session(frame, tmp_path,
                                                                        data_dir):
    cdrs = F.ocpi_cdrs(frame.head(10))
    credit = dict(cdrs[0], id="CREDIT-1", credit=True, credit_reference_id=cdrs[0]["id"],
                  total_energy=-cdrs[0]["total_energy"])
    cdrs = [*cdrs, credit, dict(cdrs[3])]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cdrs))
    result = run_import([path], DatasetStore(tmp_path / "s"), data_dir, Options(dry_run=True))
    assert result["rows_read"] == 12
    assert result["sessions_kept"] == 9
    assert result["errors"] == {"credited": 2, "duplicate": 1}
    kept_ids = {c["id"] for c in F.ocpi_cdrs(frame.head(10))[1:]}
    assert result["kwh_kept"] == pytest.approx(
        frame.head(10)[frame.head(10)["session_id"].isin(kept_ids)]["kwh"].sum(), abs=1e-6)


def test_na_means_unknown_in_ocpi(frame, tmp_path, data_dir):
    cdrs = F.ocpi_cdrs(frame.head(3))
    cdrs[0]["total_energy"] = "#NA"
    cdrs[0]["charging_periods"] = []
    cdrs[1]["total_parking_time"] = "#NA"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cdrs))
    result = run_import([path], DatasetStore(tmp_path / "s"), data_dir, Options(dry_run=True))
    assert result["errors"] == {"bad_number": 1}
    assert result["sessions_kept"] == 2


def test_sessions_across_both_clock_changes_have_their_real_length(tmp_path, data_dir):
    device = F.isolated_devices(data_dir).iloc[0]
    text = ("SDR ID,CP ID,Consum(kWh),Start,End\n"
            f"a,{device.device_id},5,30/03/2025 00:30,30/03/2025 03:30\n"    # spring: 2 h
            f"b,{device.device_id},5,26/10/2025 00:30,26/10/2025 02:30\n"    # autumn: 3 h
            f"c,{device.device_id},5,26/10/2025 01:40,26/10/2025 01:20\n")  # back in the hour
    path = tmp_path / "dst.csv"
    path.write_text(text)
    result = run_import([path], DatasetStore(tmp_path / "s"), data_dir,
                        Options(dry_run=True, now=pd.Timestamp("2025-11-30", tz="UTC")))
    assert result["errors"] == {}
    assert result["plugged_hours_kept"] == pytest.approx(2 + 3 + 40 / 60, abs=1e-3)


def test_a_declared_period_excludes_sessions_outside_it(frame, tmp_path, data_dir):
    result = run_import([F.write_scotland_new(frame, tmp_path / "q.csv")],
                        DatasetStore(tmp_path / "s"), data_dir,
                        Options(dry_run=True, period=parse_period("2025-05..2025-05")))
    in_may = frame["start_local"].dt.month.eq(5)
    assert result["sessions_kept"] == int(in_may.sum())
    assert result["errors"] == {"outside_period": int((~in_may).sum())}
    assert result["period"] == ["2025-05-01", "2025-05-31"]


def test_an_unknown_header_gets_a_suggested_mapping_saved_as_a_profile(frame, tmp_path,
                                                                       data_dir):
    path = F.write_generic(frame, tmp_path / "other.csv")
    ds = DatasetStore(tmp_path / "s")
    with pytest.raises(NeedsMapping) as err:
        run_import([path], ds, data_dir, Options(dry_run=True))
    assert err.value.suggestion["device_ref"] == "Charger"
    mapping = {"device_ref": "Charger", "start": "Began", "end": "Finished", "kwh": "Delivered"}
    ds.save_profile("Other operator", mapping)
    result = run_import([path], ds, data_dir, Options(dry_run=True,
                                                      mapping=ds.profile("Other operator")))
    assert result["format"].startswith("Column mapping")
    assert result["sessions_kept"] == len(frame)
    assert result["kwh_kept"] == pytest.approx(frame["kwh"].sum(), abs=1e-6)


def test_a_failed_import_leaves_nothing_and_delete_is_explicit_and_logged(frame, tmp_path,
                                                                          data_dir, caplog):
    ds = DatasetStore(tmp_path / "store")
    path = F.write_scotland_new(frame, tmp_path / "q.csv")

    def broken(*_):
        raise OSError("disk full")

    import dashboard.data.store
    original = dashboard.data.store.ensure_index
    dashboard.data.store.ensure_index = broken
    try:
        with pytest.raises(OSError):
            run_import([path], ds, data_dir, Options())
    finally:
        dashboard.data.store.ensure_index = original
    assert ds.datasets() == []
    assert [p.name for p in ds.root.iterdir() if not p.name.startswith("_")] == []
    result = run_import([path], ds, data_dir, Options())
    with caplog.at_level("WARNING"):
        ds.delete(result["dataset_id"], "officer")
    assert ds.datasets() == []
    assert "deleted dataset" in caplog.text
    audit = (ds.root / "_state" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(a)["event"] for a in audit] == ["import", "delete"]
    with pytest.raises(UnknownDataset):
        ds.record(result["dataset_id"])
    with pytest.raises(UnknownDataset):
        ds.record("../../etc")


def test_the_command_line_prints_json_and_exits_by_outcome(frame, tmp_path, data_dir,
                                                           monkeypatch, capsys):
    monkeypatch.setenv("BD_DATA_STORE", str(tmp_path / "store"))
    good = F.write_scotland_new(frame, tmp_path / "q.csv")
    assert main([str(good), "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("format", "rows_read", "sessions_kept", "kwh_kept", "errors", "warnings",
                "duplicates", "devices_matched", "devices_unmatched", "period"):
        assert key in out
    assert "dataset_id" not in out
    assert main([str(good), "--json", "--period", "2025-04..2025-06"]) == 0
    stored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert DatasetStore(tmp_path / "store").exists(stored["dataset_id"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main([str(empty), "--json"]) == 1
    assert "empty" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert main([str(good), "--period", "2025-6"]) == 2
    assert main([str(tmp_path / "missing.csv")]) == 2
    assert main([str(good), "--profile", "nobody"]) == 2
    with pytest.raises(SystemExit) as exit_:
        main([str(good), "--unmatched", "maybe"])
    assert exit_.value.code == 2
    generic = F.write_generic(frame, tmp_path / "g.csv")
    assert main([str(generic)]) == 1
    assert "--map device_ref=" in capsys.readouterr().err
    assert main([str(generic), "--profile", "Acme", "--map", "device_ref=Charger", "--map",
                 "start=Began", "--map", "end=Finished", "--map", "kwh=Delivered", "--dry-run"]
                ) == 0
    capsys.readouterr()
    assert main([str(generic), "--profile", "Acme", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sessions_kept"] == len(
        frame)


def test_a_usage_link_names_a_dataset_or_explains_why_it_shows_the_simulation(
        frame, tmp_path, data_dir, cache_dir, caplog):
    from dashboard.ingest.source import SIMULATED, StoreCache, choices, parse_usage
    ds = DatasetStore(tmp_path / "store")
    result = run_import([F.write_scotland_new(frame, tmp_path / "q.csv")], ds, data_dir,
                        Options(operator="Acme Charging",
                                now=pd.Timestamp("2025-07-15", tz="UTC")))
    source, message = parse_usage(result["dataset_id"], ds)
    assert message is None and not source.simulated
    assert source.label == ("Operator data: Acme Charging, April 2025 to June 2025, "
                            "imported 2025-07-15")
    assert source.months == ("2025-04", "2025-06")
    assert parse_usage("", ds) == (SIMULATED, None)
    assert parse_usage("simulation", ds) == (SIMULATED, None)
    with caplog.at_level("WARNING"):
        source, message = parse_usage("20990101-000000-deadbeef<script>", ds)
    assert source is SIMULATED and message.level == "warning"
    assert "showing simulated usage" in message.text and "<script>" not in message.text
    assert "usage dataset not found" in caplog.text
    assert [c["value"] for c in choices(ds)] == ["simulation", result["dataset_id"]]
    stores = StoreCache(Config(data_dir=data_dir, cache_dir=cache_dir), ds)
    summary = stores.get(result["dataset_id"]).usage_summary(
        {"date_from": "2025-04", "date_to": "2025-06"}).iloc[0]
    assert int(summary["sessions"]) == len(frame)
    assert float(summary["kwh"]) == pytest.approx(frame["kwh"].sum(), rel=1e-9)
    stores.forget(result["dataset_id"])


def test_importing_the_same_file_again_says_so(frame, tmp_path, data_dir):
    ds = DatasetStore(tmp_path / "store")
    path = F.write_scotland_new(frame.head(20), tmp_path / "q.csv")
    first = run_import([path], ds, data_dir, Options())
    again = run_import([path], ds, data_dir, Options(dry_run=True))
    assert any(first["dataset_id"] in n for n in again["notes"])
