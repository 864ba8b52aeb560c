"""Tie each imported session to a device of the app's device table.

A file names its devices its own way (an operator's CP ID, an OCPI ``evse_uid``/``evse_id`` or
location id, an EV Charging Use Specification ``port_id``). Each distinct reference is matched,
first rule that applies:

1. **by id**: the reference is a ``device_id`` of the table, or a reference an earlier import
   was matched under (the store keeps that mapping);
2. **by position**: the nearest device within ``MATCH_M`` metres, only when no other device is
   nearly as close (the second nearest is more than ``AMBIGUITY_M`` further away, or beyond
   ``MATCH_M``). On-street lamp-post chargers stand 20-50 m apart, so a position between two
   of them is reported as ambiguous, never guessed;
3. otherwise the reference is **unmatched**. With a position inside London it may be added
   (``unmatched="add"``): a new device assigned to its borough and wards by
   ``layers.spatial.assign_points``, marked as from that import; with ``"leave"`` (the
   default), or without a position, its sessions are left out. Positions outside London are
   left out and counted.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MATCH_M = 30.0
AMBIGUITY_M = 10.0


@dataclass
class Matching:
    """``refs``: one row per distinct reference (``key``, ``device_id``, ``status``, ``how``,
    ``lat``, ``lon``, ``distance_m``, ``sessions``); ``added``: devices to add (the device
    table's columns); ``learned``: reference -> device_id for the store's mapping."""
    refs: pd.DataFrame
    added: pd.DataFrame
    learned: dict


def _valid_position(lat: pd.Series, lon: pd.Series) -> pd.Series:
    return lat.between(-90, 90) & lon.between(-180, 180) & ~(lat.eq(0) & lon.eq(0))


def _bng(lon, lat) -> np.ndarray:
    # Imported here: files that name their devices by id never need a projection.
    from pyproj import Transformer
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.column_stack([x, y])


def reference_keys(frame: pd.DataFrame) -> pd.Series:
    """The reference each row is matched under: its device reference, else its site, else its
    position rounded to about a metre."""
    key = frame["device_ref"].astype(str)
    key = key.where(key.ne(""), frame["site_ref"].astype(str))
    blank = key.eq("") & _valid_position(frame["lat"], frame["lon"])
    if blank.any():
        sub = frame.loc[blank]
        key = key.copy()
        key.loc[blank] = ("@" + sub["lat"].round(5).astype(str) + ","
                          + sub["lon"].round(5).astype(str))
    return key


def summarise(frame: pd.DataFrame, codes: np.ndarray, keys) -> pd.DataFrame:
    """One row per distinct reference (``codes`` index ``keys``): sessions, median position,
    other id, site, rated kW and operator, as ``match`` takes them."""
    g = frame.assign(_k=codes).groupby("_k", sort=True)
    refs = pd.DataFrame({
        "sessions": g.size(), "lat": g["lat"].median(), "lon": g["lon"].median(),
        "alt_ref": g["alt_ref"].first(), "site_ref": g["site_ref"].first(),
        "rated_kw": g["rated_kw"].max(), "operator": g["operator"].first(),
    })
    refs.insert(0, "key", np.asarray(keys, dtype=object)[refs.index.to_numpy()])
    return refs


def match(refs: pd.DataFrame, devices: pd.DataFrame, known: dict[str, str],
          registrations: pd.DataFrame | None, data_dir: Path, unmatched: str = "leave",
          marker: str = "") -> Matching:
    """Match distinct references (``summarise``) to devices; ``refs`` keeps its index."""
    refs = refs.copy()
    if registrations is not None and not registrations.empty:
        reg = registrations.drop_duplicates("device_ref").set_index("device_ref")
        for col in ("lat", "lon", "rated_kw"):
            given = refs["key"].map(reg[col])
            refs[col] = refs[col].where(refs[col].notna(), given)
    refs["device_id"] = ""
    refs["status"] = "unmatched"
    refs["how"] = ""
    refs["distance_m"] = np.nan

    ids = set(devices["device_id"].to_numpy(dtype=object).tolist())
    # One lookup per distinct reference (a few thousand at most), not per session.
    keys = refs["key"].astype(str).tolist()
    alts = refs["alt_ref"].astype(str).tolist()
    found = [k if k in ids else known.get(k) or known.get(a) or "" for k, a in zip(keys, alts)]
    by_id = pd.Series(found, index=refs.index, dtype=object)
    hit = pd.Series([f in ids for f in found], index=refs.index)
    refs.loc[hit, "device_id"] = by_id[hit]
    refs.loc[hit, "status"] = "matched"
    refs.loc[hit, "how"] = "id"

    has_pos = _valid_position(refs["lat"], refs["lon"])
    todo = refs.index[~hit & has_pos]
    dev = devices[_valid_position(devices["lat"], devices["lon"])].reset_index(drop=True)
    if len(todo) and len(dev):
        from scipy.spatial import cKDTree
        tree = cKDTree(_bng(dev["lon"], dev["lat"]))
        k = 2 if len(dev) > 1 else 1
        dist, idx = tree.query(_bng(refs.loc[todo, "lon"], refs.loc[todo, "lat"]), k=k)
        dist, idx = dist.reshape(len(todo), k), idx.reshape(len(todo), k)
        nearest, second = dist[:, 0], (dist[:, 1] if k == 2 else np.full(len(todo), np.inf))
        close = nearest <= MATCH_M
        clear = (second > MATCH_M) | (second - nearest > AMBIGUITY_M)
        refs.loc[todo, "distance_m"] = nearest.round(1)
        ok = todo[close & clear]
        refs.loc[ok, "device_id"] = dev["device_id"].to_numpy()[idx[:, 0][close & clear]]
        refs.loc[ok, "status"] = "matched"
        refs.loc[ok, "how"] = "position"
        refs.loc[todo[close & ~clear], "status"] = "ambiguous"

    added = pd.DataFrame(columns=devices.columns)
    loose = refs.index[refs["status"].eq("unmatched") & has_pos]
    if len(loose):
        from layers.spatial import assign_points
        codes = assign_points(refs.loc[loose, "lon"].to_numpy(), refs.loc[loose, "lat"].to_numpy(),
                              data_dir)
        codes.index = loose
        outside = codes["borough_code"].isna()
        refs.loc[loose[outside.to_numpy()], "status"] = "outside_london"
        inside = loose[~outside.to_numpy()]
        if unmatched == "add" and len(inside):
            new_ids = ["import-" + hashlib.sha256(k.encode()).hexdigest()[:20]
                       for k in refs.loc[inside, "key"]]
            refs.loc[inside, "device_id"] = new_ids
            refs.loc[inside, "status"] = "added"
            refs.loc[inside, "how"] = "added"
            added = _new_devices(refs.loc[inside], codes.loc[inside], devices.columns, marker)
    learned = {}
    for _, r in refs[refs["status"].isin(["matched", "added"]) & refs["how"].ne("id")].iterrows():
        learned[r["key"]] = r["device_id"]
        if r["alt_ref"]:
            learned[r["alt_ref"]] = r["device_id"]
    return Matching(refs=refs, added=added, learned=learned)


def _new_devices(refs: pd.DataFrame, codes: pd.DataFrame, columns, marker: str) -> pd.DataFrame:
    from dashboard.data.schema import speed_class
    out = pd.DataFrame({
        "device_id": refs["device_id"].to_numpy(),
        "name": refs["site_ref"].where(refs["site_ref"].ne(""), refs["key"]).to_numpy(),
        "lat": refs["lat"].to_numpy(), "lon": refs["lon"].to_numpy(),
        "borough_code": codes["borough_code"].to_numpy(),
        "ward2022_code": codes["ward2022_code"].to_numpy(),
        "ward2011_code": codes["ward2011_code"].to_numpy(),
        "max_kw": refs["rated_kw"].to_numpy(dtype=float),
        "speed_class": [speed_class(k) for k in refs["rated_kw"]],
        "operator": refs["operator"].where(refs["operator"].ne(""), "Unknown").to_numpy(),
        "source": f"import:{marker}",
        "status": "in service",
    })
    for col in columns:
        if col not in out:
            out[col] = pd.NA
    return out[list(columns)]
