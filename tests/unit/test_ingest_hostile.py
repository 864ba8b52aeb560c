"""Malformed and hostile files: each gets a clear message (or its rows a clear rule), nothing
half-written, and the dataset imported before them unchanged."""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from dashboard.core.config import DEFAULT_DATA_DIR
from dashboard.ingest import DatasetStore, IngestError, Options, run_import
from tests.unit import ingest_files as F

NOW = pd.Timestamp("2025-07-15", tz="UTC")
NEW_HEADER = "SDR ID,CP ID,Consum(kWh),Start,End"
SPLIT_HEADER = "Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh"
CP_HEADER = ("Start Date,End Date,Total Duration (hh:mm:ss),Charging Time (hh:mm:ss),"
             "Energy (kWh),EVSE ID,Latitude,Longitude,Port Type")


@pytest.fixture(scope="module")
def device(data_dir):
    return F.isolated_devices(data_dir).iloc[0]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory, data_dir):
    """A store holding one good dataset, and a fingerprint of every file in it."""
    root = tmp_path_factory.mktemp("hostile")
    ds = DatasetStore(root / "store")
    frame = F.sessions(data_dir, 50)
    result = run_import([F.write_scotland_new(frame, root / "good.csv")], ds, data_dir,
                        Options(now=NOW))
    return ds, result["dataset_id"], _fingerprint(ds.root / result["dataset_id"])


def _fingerprint(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".lock"}


def _row(dev, sid="s1", kwh="5.5", start="02/05/2025 10:00", end="02/05/2025 12:00"):
    return f"{sid},{dev},{kwh},{start},{end}"


def _cp_row(lat, lon, start="02/05/2025 10:00", end="02/05/2025 12:00", dur="02:00:00",
            chg="01:00:00", kwh="7.5", evse="GBTSTE1"):
    return f"{start},{end},{dur},{chg},{kwh},{evse},{lat},{lon},Level 2"


def _cdr(dev, **over):
    cdr = {"id": "c1", "party_id": "TST", "start_date_time": "2025-05-02T09:00:00Z",
           "end_date_time": "2025-05-02T11:00:00Z", "total_energy": 5.5, "total_time": 2.0,
           "total_parking_time": 0.5,
           "cdr_location": {"id": "L1", "evse_uid": "E1",
                            "coordinates": {"latitude": f"{dev.lat:.6f}",
                                            "longitude": f"{dev.lon:.6f}"}}}
    cdr.update(over)
    return cdr


def cases(device) -> list[tuple[str, str, object, dict]]:
    """(name, file name, content as bytes or text, expectation). An expectation is
    {"refused": fragment of the message} or {"errors": {rule: n}, "kept": n} (and optionally
    {"warnings": {...}})."""
    d = device.device_id
    good = _row(d)
    out = [
        ("empty", "q.csv", b"", {"refused": "empty"}),
        ("empty json", "q.json", b"", {"refused": "empty"}),
        ("blank space", "q.csv", b"  \n\n \r\n", {"refused": "blank"}),
        ("header only new", "q.csv", NEW_HEADER + "\n", {"refused": "no rows"}),
        ("header only split", "q.csv", SPLIT_HEADER + "\n", {"refused": "no rows"}),
        ("header only chargepoint", "q.csv", CP_HEADER + "\n", {"refused": "no rows"}),
        ("header and blank lines", "q.csv", NEW_HEADER + "\n\n\n", {"refused": "no rows"}),
        ("binary renamed", "q.csv", bytes(range(256)) * 40, {"refused": "binary"}),
        ("png renamed", "q.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 100,
         {"refused": "binary"}),
        ("old excel", "q.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
         {"refused": "old-style Excel"}),
        ("damaged zip", "q.zip", b"PK\x03\x04" + b"junk" * 50, {"refused": "damaged"}),
        ("one megabyte line", "q.csv", "x" * (1 << 20), {"refused": "first line"}),
        ("one megabyte line of commas", "q.csv", "a," * (1 << 19), {"refused": "first line"}),
        ("json not ocpi", "q.json", json.dumps({"hello": "world"}), {"refused": "neither"}),
        ("json numbers", "q.json", json.dumps([1, 2, 3]), {"refused": "not OCPI"}),
        ("json empty array", "q.json", "[]", {"refused": "no CDRs"}),
        ("ocpi empty envelope", "q.json", json.dumps({"data": [], "status_code": 1000}),
         {"refused": "no CDRs"}),
        ("ocpi error status", "q.json",
         json.dumps({"data": [], "status_code": 2001, "status_message": "Invalid"}),
         {"refused": "status 2001"}),
        ("unknown header", "q.csv", "a,b,c\n1,2,3\n", {"refused": "not a format"}),
        ("utf16 without bom", "q.csv", (NEW_HEADER + "\n" + good + "\n").encode("utf-16-le"),
         {"refused": "binary"}),
        ("ndjson broken line", "q.ndjson",
         json.dumps(_cdr(device)) + "\n{\"id\": \"c2\", \"start_date_time\"\n",
         {"refused": "not valid JSON"}),
        ("registration only", "ports.csv", "port_id,latitude,longitude\nP1,51.5,-0.1\n",
         {"refused": "No sessions"}),
    ]
    full = json.dumps([_cdr(device, id=f"c{i}") for i in range(5)])
    for cut in (1, 5, 17, 40, 80, 120, 200, 300, len(full) // 2, len(full) - 2):
        out.append((f"truncated json at {cut}", "q.json", full[:cut],
                    {"refused": "not valid JSON" if cut > 1 else "JSON"}))
    env = json.dumps({"data": [_cdr(device)], "status_code": 1000})
    out.append(("truncated envelope", "q.json", env[:-5], {"refused": "not valid JSON"}))

    bad_rows = {
        "end before start": (_row(d, end="02/05/2025 09:00"), "end_before_start"),
        "zero duration zero energy": (_row(d, kwh="0", end="02/05/2025 10:00"), "zero_session"),
        "unreadable start": (_row(d, start="yesterday"), "bad_time"),
        "unreadable end": (_row(d, end="31/02/2025 10:00"), "bad_time"),
        "unreadable energy": (_row(d, kwh="lots"), "bad_number"),
        "missing energy": (_row(d, kwh=""), "bad_number"),
        "na energy": (_row(d, kwh="#NA"), "bad_number"),
        "negative energy": (_row(d, kwh="-4"), "negative_energy"),
        "year 1970": (_row(d, start="01/01/1970 00:00", end="01/01/1970 01:00"),
                      "implausible_date"),
        "year 2099": (_row(d, start="01/01/2099 10:00", end="01/01/2099 11:00"),
                      "implausible_date"),
        "unknown device": (_row("NOPE-1"), "no_device"),
        "no device": (_row(""), "no_device"),
        "formula device": (_row('"=HYPERLINK(""http://x"")"'), "no_device"),
        "formula energy": (_row(d, kwh="=1+1"), "bad_number"),
        "at sign energy": (_row(d, kwh="@SUM(A1)"), "bad_number"),
        "excel error value": (_row(d, kwh="#VALUE!"), "bad_number"),
    }
    for name, (row, rule) in bad_rows.items():
        out.append((f"new: {name}", "q.csv", NEW_HEADER + "\n" + row + "\n",
                    {"errors": {rule: 1}, "kept": 0}))
        out.append((f"new with a good row: {name}", "q.csv",
                    NEW_HEADER + "\n" + row.replace("s1,", "s0,", 1) + "\n" + good + "\n",
                    {"errors": {rule: 1}, "kept": 1}))
    lat, lon = f"{device.lat:.6f}", f"{device.lon:.6f}"
    cp_bad = {
        "end before start": (_cp_row(lat, lon, end="02/05/2025 09:00"), "end_before_start"),
        "negative energy": (_cp_row(lat, lon, kwh="-1"), "negative_energy"),
        "no position": (_cp_row("", "", evse=""), "no_device"),
        "outside london": (_cp_row("55.953300", "-3.188300", evse="GBSCO1"), "outside_london"),
        "position 0 0": (_cp_row("0", "0", evse="GBNUL1"), "no_device"),
        "year 2099": (_cp_row(lat, lon, start="01/01/2099 10:00", end="01/01/2099 11:00"),
                      "implausible_date"),
    }
    for name, (row, rule) in cp_bad.items():
        out.append((f"chargepoint: {name}", "q.csv", CP_HEADER + "\n" + row + "\n",
                    {"errors": {rule: 1}, "kept": 0}))
    ocpi_bad = {
        "end before start": (_cdr(device, end_date_time="2025-05-02T08:00:00Z"),
                             "end_before_start"),
        "unreadable time": (_cdr(device, start_date_time="soon"), "bad_time"),
        "na energy": (_cdr(device, total_energy="#NA"), "bad_number"),
        "negative energy": (_cdr(device, total_energy=-3), "negative_energy"),
        "year 1970": (_cdr(device, start_date_time="1970-01-01T00:00:00Z",
                           end_date_time="1970-01-01T01:00:00Z"), "implausible_date"),
        "no location": (_cdr(device, cdr_location={}), "no_device"),
    }
    for name, (cdr, rule) in ocpi_bad.items():
        out.append((f"ocpi: {name}", "q.ndjson", json.dumps(cdr) + "\n" +
                    json.dumps(_cdr(device, id="c2")) + "\n", {"errors": {rule: 1}, "kept": 1}))

    two = NEW_HEADER + "\n" + good + "\n" + _row(d, sid="s2", start="03/05/2025 10:00",
                                                 end="03/05/2025 11:00") + "\n"
    fine = {
        "utf-8 bom": ("\ufeff" + two).encode("utf-8"),
        "utf-16 bom": two.encode("utf-16"),
        "latin-1": (two.replace("SDR ID", "SDR ID").rstrip("\n") + "\n").encode("latin-1"),
        "windows-1252 with a pound sign": ("SDR ID,CP ID,Consum(kWh),Start,End,Cost £\n"
                                            + good + ",£1\n").encode("cp1252"),
        "crlf": two.replace("\n", "\r\n").encode(),
        "semicolons": two.replace(",", ";").encode(),
        "tabs": two.replace(",", "\t").encode(),
        "pipes": two.replace(",", "|").encode(),
        "quoted fields": (NEW_HEADER + "\n" + '"s1","' + d + '","5.5","02/05/2025 10:00",'
                          '"02/05/2025 12:00"\n').encode(),
        "excel serial dates": (NEW_HEADER + "\n" + f"s1,{d},5.5,45779.416666667,45779.5\n"
                               ).encode(),
        "iso times": (NEW_HEADER + "\n" + f"s1,{d},5.5,2025-05-02 10:00:00,2025-05-02 12:00:00\n"
                      ).encode(),
        "zoned iso times": (NEW_HEADER + "\n" + f"s1,{d},5.5,2025-05-02T09:00:00Z,"
                            "2025-05-02T11:00:00+00:00\n").encode(),
        "extra columns": (NEW_HEADER + ",Notes,,\n" + good + ",hello,,\n").encode(),
        "header in other case": (NEW_HEADER.upper() + "\n" + good + "\n").encode(),
        "header spelt differently": ("SDR Id,Cp Id,Consum (kWh),start,end\n" + good + "\n"
                                     ).encode(),
        "energy with thousands separator": (NEW_HEADER + "\n" + f's1,{d},"1,2",02/05/2025 '
                                            "10:00,02/05/2025 12:00\n").encode(),
    }
    for name, content in fine.items():
        kept = 1 if name in ("windows-1252 with a pound sign", "quoted fields",
                             "excel serial dates", "iso times", "zoned iso times",
                             "extra columns", "header in other case",
                             "header spelt differently", "energy with thousands separator"
                             ) else 2
        out.append((f"readable: {name}", "q.csv", content, {"errors": {}, "kept": kept}))
    out.append(("short row", "q.csv", NEW_HEADER + "\n" + good + "\ns3,only,two\n",
                {"errors": {"unreadable_row": 1}, "kept": 1}))
    out.append(("long row", "q.csv", NEW_HEADER + "\n" + good + "\n" + good.replace("s1", "s9")
                + ",x,y,z\n", {"errors": {"unreadable_row": 1}, "kept": 1}))
    out.append(("duplicated rows", "q.csv", NEW_HEADER + "\n" + good + "\n" + good + "\n",
                {"errors": {"duplicate": 1}, "kept": 1}))
    no_id = "Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh\n"
    row = f",{d},1,02/05/2025,10:00,02/05/2025,12:00,5.5\n"
    out.append(("duplicated rows without ids", "q.csv", no_id + row * 3,
                {"errors": {"duplicate": 2}, "kept": 1}))
    warn = {
        "plugged in over 48 hours": (_row(d, end="05/05/2025 12:00"), "long_plug"),
        "under half a kWh": (_row(d, kwh="0.2"), "low_energy"),
        "over 250 kWh": (_row(d, kwh="300"), "high_energy"),
        "under a minute": (_row(d, end="02/05/2025 10:00", kwh="0.8"), "short_session"),
    }
    for name, (row, rule) in warn.items():
        out.append((f"warning: {name}", "q.csv", NEW_HEADER + "\n" + row + "\n",
                    {"errors": {}, "kept": 1, "warnings": rule}))
    return out


CASES = cases(F.isolated_devices(DEFAULT_DATA_DIR).iloc[0])


def test_there_are_at_least_a_hundred_hostile_files():
    assert len(CASES) >= 100


@pytest.mark.parametrize("name, filename, content, expect", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_file_gets_a_clear_answer_and_earlier_datasets_are_unchanged(
        name, filename, content, expect, earlier, tmp_path, data_dir):
    path = tmp_path / filename
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    ds, dataset_id, before = earlier
    listed = [r["dataset_id"] for r in ds.datasets()]
    if "refused" in expect:
        with pytest.raises(IngestError) as err:
            run_import([path], ds, data_dir, Options(now=NOW))
        assert expect["refused"].lower() in str(err.value).lower()
        assert filename in str(err.value) or "No sessions" in str(err.value)
    else:
        result = run_import([path], ds, data_dir, Options(now=NOW, dry_run=True))
        assert result["errors"] == expect["errors"]
        assert result["sessions_kept"] == expect["kept"]
        if "warnings" in expect:
            assert expect["warnings"] in result["warnings"]
        for example in result["examples"]:
            assert example["row"] >= 1 and example["rule"]
    assert [r["dataset_id"] for r in ds.datasets()] == listed
    assert _fingerprint(ds.root / dataset_id) == before
    assert not [p for p in ds.root.iterdir() if p.name.startswith(".tmp")]


def test_a_zip_bomb_is_refused_by_its_size_ratio(tmp_path, earlier, data_dir):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sessions.csv", NEW_HEADER + "\n" + "0" * (20 << 20))
    assert path.stat().st_size < 200_000
    ds, dataset_id, before = earlier
    with pytest.raises(IngestError, match="ZIP bomb"):
        run_import([path], ds, data_dir, Options(now=NOW))
    assert _fingerprint(ds.root / dataset_id) == before


def test_a_zip_of_good_files_imports_all_of_them(tmp_path, data_dir):
    frame = F.sessions(data_dir, 40)
    a = F.write_scotland_new(frame.iloc[:20], tmp_path / "a.csv")
    b = F.write_ocpi(frame.iloc[20:], tmp_path / "b.ndjson", "ndjson")
    result = run_import([F.write_zip([a, b], tmp_path / "q.zip")], DatasetStore(tmp_path / "s"),
                        data_dir, Options(now=NOW, dry_run=True))
    assert result["sessions_kept"] == 40
    assert result["kwh_kept"] == pytest.approx(frame["kwh"].sum(), abs=1e-6)


def test_the_report_csv_neutralises_formula_text(tmp_path, device, data_dir):
    path = tmp_path / "q.csv"
    path.write_text(NEW_HEADER + "\n" + _row("=cmd|' /C calc'!A0") + "\n")
    result = run_import([path], DatasetStore(tmp_path / "s"), data_dir,
                        Options(now=NOW, dry_run=True))
    report = result["report_csv"]
    assert "no_device" in report
    assert ",'=cmd" in report and ",=cmd" not in report
