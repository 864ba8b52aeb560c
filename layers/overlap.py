"""Which wards of one boundary vintage overlap a ward of the other, and by how much.

Computed from the processed layers (``data/layers/ward2022.parquet`` and ``ward2011.parquet``) in
British National Grid, so areas are in square metres. The 2022 layer is generalised (20 m)
while the 2011 layer is not, so edges never coincide exactly: overlaps smaller than
``MIN_SHARE`` of both wards are slivers of generalisation and are dropped.

The pipeline computes the table once (``write_overlaps``, with the layers) into
``data/layers/ward_overlaps.csv``; the app reads that file once per process and data version
(its size and time) and keeps it in memory: about 1,400 rows.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

from dashboard.data import schema

BNG = "EPSG:27700"
MIN_SHARE = 0.05
VINTAGES = ("ward2022", "ward2011")
COLUMNS = ("ward2022_code", "ward2011_code", "area_km2", "share_of_2022", "share_of_2011")

_lock = threading.Lock()


def _signature(data_dir: Path) -> tuple:
    """Size and modification time of the overlaps file (changes when the pipeline reruns)."""
    stat = schema.overlaps_path(data_dir).stat()
    return stat.st_size, stat.st_mtime_ns


def _read(data_dir: Path, layer: str) -> gpd.GeoDataFrame:
    frame = gpd.read_parquet(schema.layer_path(data_dir, layer), columns=["code", "geometry"])
    frame = frame.to_crs(BNG)
    frame["geometry"] = frame.geometry.make_valid()
    return frame


def compute_overlaps(data_dir: Path, min_share: float = MIN_SHARE) -> pd.DataFrame:
    """Every (2022 ward, 2011 ward) pair whose intersection is at least ``min_share`` of either.

    Columns ``COLUMNS``: the two codes, the intersection's area in km², and the intersection as a
    share (0 to 1) of the 2022 ward's area and of the 2011 ward's area. Sorted by 2022 code, then
    largest share first.
    """
    new = _read(Path(data_dir), "ward2022").rename(columns={"code": "ward2022_code"})
    old = _read(Path(data_dir), "ward2011").rename(columns={"code": "ward2011_code"})
    new["area_new"] = new.geometry.area
    old["area_old"] = old.geometry.area
    pieces = gpd.overlay(new, old, how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.geometry.area
    pairs = pieces.groupby(["ward2022_code", "ward2011_code"], as_index=False).agg(
        area=("area", "sum"), area_new=("area_new", "first"), area_old=("area_old", "first"))
    out = pd.DataFrame({
        "ward2022_code": pairs["ward2022_code"].astype(str),
        "ward2011_code": pairs["ward2011_code"].astype(str),
        "area_km2": pairs["area"] / 1e6,
        "share_of_2022": pairs["area"] / pairs["area_new"],
        "share_of_2011": pairs["area"] / pairs["area_old"],
    })
    keep = (out["share_of_2022"] >= min_share) | (out["share_of_2011"] >= min_share)
    out = out[keep].sort_values(["ward2022_code", "share_of_2022"], ascending=[True, False])
    return out.reset_index(drop=True)


def write_overlaps(out_dir: Path) -> Path:
    """``compute_overlaps`` of the layers in ``out_dir``, written beside them (6 decimals, so
    that reruns give the same bytes)."""
    path = schema.overlaps_path(out_dir)
    compute_overlaps(Path(out_dir)).to_csv(path, index=False, float_format="%.6f",
                                           lineterminator="\n")
    return path


@lru_cache(maxsize=4)
def _cached(data_dir: str, signature: tuple) -> pd.DataFrame:
    return pd.read_csv(schema.overlaps_path(Path(data_dir)),
                       dtype={"ward2022_code": str, "ward2011_code": str})


def ward_overlaps(data_dir: Path) -> pd.DataFrame:
    """The overlaps table the pipeline wrote, read once per process and version."""
    data_dir = Path(data_dir)
    with _lock:
        return _cached(str(data_dir), _signature(data_dir)).copy()


def overlapping(data_dir: Path, code: str, layer: str) -> pd.DataFrame:
    """The wards of the other vintage overlapping ward ``code`` of ``layer``.

    Columns ``code`` (the other vintage's ward), ``share_of_this`` (share of ``code``'s area
    lying in it) and ``share_of_that`` (share of its area lying in ``code``), largest
    ``share_of_this`` first. Empty for an unknown code.
    """
    if layer not in VINTAGES:
        raise ValueError(f"layer must be one of {VINTAGES}, not {layer!r}")
    table = ward_overlaps(data_dir)
    this, that = ("2022", "2011") if layer == "ward2022" else ("2011", "2022")
    rows = table[table[f"ward{this}_code"] == code]
    out = pd.DataFrame({
        "code": rows[f"ward{that}_code"].to_numpy(),
        "share_of_this": rows[f"share_of_{this}"].to_numpy(),
        "share_of_that": rows[f"share_of_{that}"].to_numpy(),
    })
    return out.sort_values("share_of_this", ascending=False).reset_index(drop=True)
