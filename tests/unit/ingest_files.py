"""Test files in every format the import reads, built at test time from the real reference sessions.

``sessions(data_dir, n)`` takes real Dundee and Perth sessions (``reference_sessions.parquet``),
moves each to the same weekday and time of day in April to June 2025 (London wall-clock time)
and ties it to one of a few London devices that stand well apart from any other device (so
that matching by position is unambiguous). The writers put those sessions into files the way
each format writes them; tests import a file and compare what the store holds with totals they
compute from the frame that was written.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.spatial import cKDTree

from dashboard.data import schema

PERIOD_START = pd.Timestamp("2025-04-07")  # a Monday
WEEKS = 12
ZONE = "Europe/London"


def isolated_devices(data_dir: Path, count: int = 8, apart_m: float = 80.0) -> pd.DataFrame:
    """London devices with no other device within ``apart_m`` metres, by device id."""
    dev = pd.read_parquet(schema.chargepoints_path(data_dir))
    dev = dev[dev["lat"].notna() & dev["borough_code"].notna()].sort_values("device_id")
    xy = np.column_stack(Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
                         .transform(dev["lon"].to_numpy(), dev["lat"].to_numpy()))
    dist, _ = cKDTree(xy).query(xy, k=2)
    lonely = dev[(dist[:, 1] > apart_m) & (dev["max_kw"] > 0)]
    return lonely.head(count).reset_index(drop=True)


def sessions(data_dir: Path, n: int = 400, seed: int = 7, devices: pd.DataFrame | None = None
             ) -> pd.DataFrame:
    """``n`` real reference sessions moved to April-June 2025 and tied to London devices.

    Columns: device_id, lat, lon, max_kw, operator, start_local, end_local (naive London time,
    whole minutes as the reference has them), start_utc, end_utc, kwh, hours.
    """
    rng = np.random.default_rng(seed)
    ref = pd.read_parquet(schema.reference_sessions_path(data_dir),
                          columns=["start", "end", "kwh"])
    ref = ref.iloc[np.sort(rng.choice(len(ref), n, replace=n > len(ref)))].reset_index(drop=True)
    devices = isolated_devices(data_dir) if devices is None else devices
    week_start = ref["start"].dt.normalize() - pd.to_timedelta(ref["start"].dt.day_of_week, unit="D")
    offset = ref["start"] - week_start
    start = PERIOD_START + pd.to_timedelta(rng.integers(0, WEEKS, n) * 7, unit="D") + offset
    end = start + (ref["end"] - ref["start"])
    pick = devices.iloc[rng.integers(0, len(devices), n)].reset_index(drop=True)
    out = pd.DataFrame({
        "session_id": pd.Series(np.arange(n)).astype(str).radd(f"S{seed}-"),
        "device_id": pick["device_id"], "lat": pick["lat"], "lon": pick["lon"],
        "max_kw": pick["max_kw"], "operator": pick["operator"],
        "start_local": start.astype("datetime64[us]"), "end_local": end.astype("datetime64[us]"),
        "kwh": ref["kwh"].round(3),
    })
    out["start_utc"] = utc(out["start_local"])
    out["end_utc"] = utc(out["end_local"])
    out["hours"] = (out["end_utc"] - out["start_utc"]).dt.total_seconds() / 3600.0
    return out


def utc(local: pd.Series) -> pd.Series:
    return (local.dt.tz_localize(ZONE, ambiguous=True, nonexistent="shift_forward")
            .dt.tz_convert(None).astype("datetime64[us]"))


def totals(frame: pd.DataFrame) -> dict:
    return {"sessions": len(frame), "kwh": float(frame["kwh"].sum()),
            "hours": float(frame["hours"].sum())}


def _hms(hours: pd.Series) -> pd.Series:
    secs = (hours * 3600).round().astype("int64")
    return (secs // 3600).astype(str).str.zfill(2) + ":" + ((secs % 3600) // 60).astype(
        str).str.zfill(2) + ":" + (secs % 60).astype(str).str.zfill(2)


def evse_uid(frame: pd.DataFrame) -> pd.Series:
    """An operator's own EVSE ids (not the app's device ids): matching goes by position."""
    codes = {d: f"GB*TST*E{i:05d}" for i, d in enumerate(sorted(frame["device_id"].unique()))}
    return frame["device_id"].map(codes)


def ocpi_cdrs(frame: pd.DataFrame) -> list[dict]:
    frame = frame.reset_index(drop=True)
    uid = evse_uid(frame)
    out = []
    for i, r in enumerate(frame.itertuples()):
        iso = "%Y-%m-%dT%H:%M:%SZ"
        parking = round(r.hours * 0.25, 6)
        out.append({
            "country_code": "GB", "party_id": "TST", "id": r.session_id,
            "start_date_time": r.start_utc.strftime(iso), "end_date_time": r.end_utc.strftime(iso),
            "cdr_location": {"id": f"LOC{uid[i][-5:]}", "evse_uid": uid[i],
                             "evse_id": uid[i].replace("*", ""), "connector_id": "1",
                             "coordinates": {"latitude": f"{r.lat:.6f}",
                                             "longitude": f"{r.lon:.6f}"}},
            "currency": "GBP", "total_cost": {"excl_vat": 0},
            "total_energy": r.kwh, "total_time": round(r.hours, 6),
            "total_parking_time": parking,
            "charging_periods": [{"start_date_time": r.start_utc.strftime(iso), "dimensions": [
                {"type": "ENERGY", "volume": r.kwh}, {"type": "TIME",
                                                      "volume": round(r.hours - parking, 6)}]}],
            "last_updated": r.end_utc.strftime(iso),
        })
    return out


def write_ocpi(frame: pd.DataFrame, path: Path, kind: str = "array") -> Path:
    cdrs = ocpi_cdrs(frame)
    if kind == "ndjson":
        path.write_text("\n".join(json.dumps(c) for c in cdrs) + "\n", encoding="utf-8")
    elif kind == "envelope":
        path.write_text(json.dumps({"data": cdrs, "status_code": 1000, "status_message": "OK",
                                    "timestamp": "2025-07-01T00:00:00Z"}), encoding="utf-8")
    else:
        path.write_text(json.dumps(cdrs), encoding="utf-8")
    return path


def scotland_split_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Charging event": np.arange(7_000_000, 7_000_000 + len(frame)),
        "CP ID": frame["device_id"], "Connector": 1,
        "Start Date": frame["start_local"].dt.strftime("%d/%m/%Y"),
        "Start Time": frame["start_local"].dt.strftime("%H:%M"),
        "End Date": frame["end_local"].dt.strftime("%d/%m/%Y"),
        "End Time": frame["end_local"].dt.strftime("%H:%M"),
        "Total kWh": frame["kwh"], "Cost": 0, "Site": "Test site", "Model": "APT 7kW Dual Outlet",
    })


def write_scotland_split(frame: pd.DataFrame, path: Path, **kw) -> Path:
    scotland_split_frame(frame).to_csv(path, index=False, **kw)
    return path


def write_scotland_new(frame: pd.DataFrame, path: Path) -> Path:
    pd.DataFrame({
        "SDR ID": frame["session_id"], "CP ID": frame["device_id"],
        "Consum(kWh)": frame["kwh"],
        "Start": frame["start_local"].dt.strftime("%d/%m/%Y %H:%M"),
        "End": frame["end_local"].dt.strftime("%d/%m/%Y %H:%M"),
    }).to_csv(path, index=False)
    return path


def write_chargepoint(frame: pd.DataFrame, path: Path) -> Path:
    pd.DataFrame({
        "Station Name": "TEST / Station", "Start Date": frame["start_local"].dt.strftime(
            "%d/%m/%Y %H:%M"),
        "End Date": frame["end_local"].dt.strftime("%d/%m/%Y %H:%M"),
        "Total Duration (hh:mm:ss)": _hms(frame["hours"]),
        "Charging Time (hh:mm:ss)": _hms(frame["hours"] * 0.6),
        "Energy (kWh)": frame["kwh"], "EVSE ID": evse_uid(frame).str.replace("*", "", regex=False),
        "Latitude": frame["lat"].round(6), "Longitude": frame["lon"].round(6), "Port Type": "Level 2",
    }).to_csv(path, index=False)
    return path


def write_evcus(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    ports = evse_uid(frame).str.replace("GB*TST*E", "P", regex=False)
    sessions_path = folder / "sessions.csv"
    pd.DataFrame({
        "session_id": frame["session_id"], "port_id": ports,
        "plug_start_datetime": frame["start_local"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "plug_end_datetime": frame["end_local"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "charge_start_datetime": frame["start_local"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "charge_end_datetime": (frame["start_local"] + (frame["end_local"] - frame["start_local"])
                                * 0.5).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "energy_kwh": frame["kwh"], "peak_kw": frame["max_kw"],
    }).to_csv(sessions_path, index=False)
    reg = pd.DataFrame({"port_id": ports, "latitude": frame["lat"], "longitude": frame["lon"],
                        "nameplate_power_kw": frame["max_kw"]}).drop_duplicates("port_id")
    reg_path = folder / "ports.csv"
    reg.to_csv(reg_path, index=False)
    return sessions_path, reg_path


def write_generic(frame: pd.DataFrame, path: Path) -> Path:
    """A table whose header no shape knows (it needs a column mapping)."""
    pd.DataFrame({
        "Charger": frame["device_id"],
        "Began": frame["start_local"].dt.strftime("%Y-%m-%d %H:%M"),
        "Finished": frame["end_local"].dt.strftime("%Y-%m-%d %H:%M"),
        "Delivered": frame["kwh"],
    }).to_csv(path, index=False)
    return path


def write_xlsx(frame: pd.DataFrame, path: Path) -> Path:
    table = scotland_split_frame(frame)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        table.to_excel(xl, index=False)
    return path


def write_zip(paths: list[Path], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in paths:
            zf.write(p, p.name)
    return path
