"""Assign points (charge points) to exactly one borough and one ward of each vintage.

Rule, chosen so that a device's ward always lies in its borough:
1. the borough is the borough polygon containing the point; a point outside every borough (on the
   Thames foreshore, a bridge, or just across a generalised edge) takes the nearest borough within
   ``NEAREST_M`` metres; beyond that it is outside London and gets no codes;
2. each ward is the ward *of that borough* containing the point, or else the nearest ward of that
   borough. The 2022 layer is generalised to 20 m and the borough layer comes from the 2011
   wards, so within a few metres of a borough edge the nearest rule decides; the 2011 layer nests
   exactly in the borough layer.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboard.data import schema

BNG = "EPSG:27700"
NEAREST_M = 150.0
WARD_LAYERS = ("ward2022", "ward2011")


def read_layer(data_dir: Path, layer: str) -> gpd.GeoDataFrame:
    """The processed GeoParquet of a layer (EPSG:4326)."""
    return gpd.read_parquet(schema.layer_path(data_dir, layer))


def _points(lon: np.ndarray, lat: np.ndarray) -> gpd.GeoDataFrame:
    pts = gpd.GeoDataFrame(
        {"_i": np.arange(len(lon))},
        geometry=gpd.points_from_xy(np.asarray(lon, float), np.asarray(lat, float)),
        crs="EPSG:4326",
    )
    return pts.to_crs(BNG)


def _containing_or_nearest(pts: gpd.GeoDataFrame, polys: gpd.GeoDataFrame,
                           max_distance: float | None) -> pd.Series:
    """Code of the polygon containing each point, else of the nearest one (ties: lowest code)."""
    polys = polys[["code", "geometry"]].sort_values("code")
    inside = gpd.sjoin(pts, polys, how="left", predicate="within")
    inside = inside.sort_values(["_i", "code"]).drop_duplicates("_i").set_index("_i")["code"]
    missing = inside[inside.isna()].index
    if len(missing):
        near = gpd.sjoin_nearest(pts[pts["_i"].isin(missing)], polys, how="left",
                                 max_distance=max_distance)
        near = near.sort_values(["_i", "code"]).drop_duplicates("_i").set_index("_i")["code"]
        inside.loc[near.index] = near
    return inside.reindex(pts["_i"])


def assign_points(lon: np.ndarray, lat: np.ndarray, data_dir: Path) -> pd.DataFrame:
    """Borough and ward codes for each point; None in every column for points outside London."""
    pts = _points(lon, lat)
    borough = read_layer(data_dir, "borough").to_crs(BNG)
    out = pd.DataFrame({"borough_code": _containing_or_nearest(pts, borough, NEAREST_M).values})
    for layer in WARD_LAYERS:
        wards = read_layer(data_dir, layer).to_crs(BNG)
        codes = pd.Series([None] * len(pts), dtype=object)
        for b, idx in out.groupby("borough_code").groups.items():
            sub = pts.iloc[list(idx)]
            got = _containing_or_nearest(sub, wards[wards["borough_code"] == b], None)
            codes.iloc[list(idx)] = got.values
        out[f"{layer}_code"] = codes.values
    return out.astype(object).where(out.notna(), None)
