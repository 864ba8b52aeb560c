"""Build the boundary layers from the raw boundary files.

Each layer is written twice:
- ``data/layers/<name>.parquet``: GeoParquet in EPSG:4326 with the columns of
  ``dashboard.data.schema.LAYER_COLUMNS``, used for spatial joins and attribute look-ups;
- ``data/web/<name>.json``: a compact GeoJSON FeatureCollection for the browser, feature ``id`` =
  GSS code, coordinates rounded to 5 decimal places (about 1 m).

Neighbouring polygons are simplified together (``simplify_coverage``) so shared edges stay shared:
no gaps or slivers open between wards. Areas are measured on the unsimplified shapes in British
National Grid metres.
"""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from dashboard.data import schema
from layers.registry import LAYER_SPECS

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
GRID = 1e-5  # 5 decimal places of a degree

GLA_DIR = "boundaries/gla-statistical-gis-2011"
WARD2022_DIR = "boundaries/ons-wards-2022-bgc"
WARD2022_FILE = f"{WARD2022_DIR}/london_wards_2022_bgc.geojson"
# The BGC file names no borough: the names come from the same ONS vintage's BSC file (same codes).
WARD2022_NAMES_FILE = "boundaries/ons-wards-2022-bsc/london_wards_dec2022_bsc.geojson"
# Polygon parts smaller than this are fragments of the file's conversion (one of about 1 m2 in
# Farringdon Without overlaps Castle Baynard), not land.
MIN_PART_M2 = 2.0
SNAP_M = 0.01  # moves a vertex onto a neighbour's edge it already touches, to the centimetre


def _gla_wards_2011(raw_dir: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(Path(raw_dir) / GLA_DIR / "London_Ward_CityMerged.shp")
    # The .prj carries no EPSG authority although it is British National Grid.
    gdf = gdf.set_crs(BNG, allow_override=True)
    return gpd.GeoDataFrame(
        {
            "code": gdf["GSS_CODE"].astype(str),
            "name": gdf["NAME"].astype(str),
            "borough_code": gdf["LB_GSS_CD"].astype(str),
            "borough_name": gdf["BOROUGH"].astype(str),
        },
        geometry=gdf.geometry.values,
        crs=BNG,
    )


def _ward2011(raw_dir: Path) -> gpd.GeoDataFrame:
    return _gla_wards_2011(raw_dir)


def _borough(raw_dir: Path) -> gpd.GeoDataFrame:
    wards = _gla_wards_2011(raw_dir)
    dissolved = wards.dissolve(by=["borough_code", "borough_name"], as_index=False)
    return gpd.GeoDataFrame(
        {
            "code": dissolved["borough_code"],
            "name": dissolved["borough_name"],
            "borough_code": dissolved["borough_code"],
            "borough_name": dissolved["borough_name"],
        },
        geometry=dissolved.geometry.values,
        crs=BNG,
    )


def _without_fragments(geom):
    """``geom`` without polygon parts smaller than ``MIN_PART_M2`` (British National Grid)."""
    parts = [p for p in getattr(geom, "geoms", [geom]) if p.area >= MIN_PART_M2]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _ward2022(raw_dir: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(Path(raw_dir) / WARD2022_FILE)
    gdf = gdf[gdf["LAD22CD"].astype(str).str.startswith("E09")]
    names = gpd.read_file(Path(raw_dir) / WARD2022_NAMES_FILE, ignore_geometry=True)
    borough_names = names.drop_duplicates("LAD22CD").set_index("LAD22CD")["LAD22NM"].str.strip()
    borough = gdf["LAD22CD"].astype(str).str.strip()
    out = gpd.GeoDataFrame(
        {
            "code": gdf["WD22CD"].astype(str).str.strip(),
            "name": gdf["WD22NM"].astype(str).str.strip(),
            "borough_code": borough,
            "borough_name": borough.map(borough_names),
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    ).to_crs(BNG)
    out = out.sort_values("code").reset_index(drop=True)
    out["geometry"] = repair_coverage([_without_fragments(g) for g in out.geometry])
    return out


def repair_coverage(geoms: list) -> list:
    """Polygons (metres) made into a coverage, so that simplifying them together opens no gap.

    Where two overlap, the later one loses the overlap (a sliver of about 1 m2 in the City);
    the wards it touched are then snapped to their neighbours so that shared edges have the same
    vertices on both sides.
    """
    geoms = list(geoms)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="overlaps")
    touched = set()
    for i, j in sorted(zip(left.tolist(), right.tolist())):
        if i < j and geoms[i].intersection(geoms[j]).area > 0:
            geoms[j] = _without_fragments(shapely.make_valid(geoms[j].difference(geoms[i])))
            touched |= {i, j}
    for i in sorted(touched):
        parts = [p for j in tree.query(geoms[i]) if j != i
                 for p in getattr(geoms[j], "geoms", [geoms[j]])]
        geoms[i] = shapely.make_valid(shapely.snap(geoms[i], shapely.MultiPolygon(parts), SNAP_M))
    return geoms


LOADERS = {"borough": _borough, "ward2022": _ward2022, "ward2011": _ward2011}


def stat_codes(layer: str, frame: pd.DataFrame) -> pd.Series:
    """The unit each area's statistics are reported under.

    Sources report the City of London as one unit, so on the 2022 ward layer its 25 wards take the
    City's code; every other area reports under its own code.
    """
    if layer == "ward2022":
        is_city = frame["borough_code"] == schema.CITY_CODE
        return frame["code"].where(~is_city, schema.CITY_CODE)
    return frame["code"].copy()


def prepare(layer: str, raw_dir: Path) -> gpd.GeoDataFrame:
    """Load, measure, simplify (coverage-preserving) and reproject one layer."""
    spec = LAYER_SPECS[layer]
    gdf = LOADERS[layer](raw_dir)
    gdf = gdf.sort_values("code").reset_index(drop=True)
    gdf["area_km2"] = (gdf.geometry.area / 1e6).round(4)
    geoms = gdf.geometry
    if spec.tolerance_m > 0:
        geoms = geoms.simplify_coverage(spec.tolerance_m)
    geoms = geoms.to_crs(WGS84)
    # Snap to a 1e-5 degree grid; set_precision keeps polygons valid, and neighbours that share a
    # vertex before rounding still share it after.
    geoms = gpd.GeoSeries(shapely.set_precision(geoms.values, GRID), crs=WGS84)
    geoms = gpd.GeoSeries(shapely.make_valid(geoms.values), crs=WGS84)
    gdf = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=geoms.values, crs=WGS84)
    gdf["stat_code"] = stat_codes(layer, gdf)
    return gdf[list(schema.LAYER_COLUMNS)]


def _round_ring(coords) -> list:
    return [[round(x, 5), round(y, 5)] for x, y in coords]


def _geometry_json(geom) -> dict:
    polys = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    rings = [
        [_round_ring(p.exterior.coords)] + [_round_ring(r.coords) for r in p.interiors]
        for p in polys
    ]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def web_geojson(gdf: gpd.GeoDataFrame) -> str:
    """A compact FeatureCollection: id = code, only the name and borough as properties."""
    features = [
        {
            "type": "Feature",
            "id": row.code,
            "properties": {"name": row.name, "borough": row.borough_name},
            "geometry": _geometry_json(row.geometry),
        }
        for row in gdf.itertuples(index=False)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":"), ensure_ascii=False)


def write_layer(gdf: gpd.GeoDataFrame, layer: str, out_dir: Path) -> dict:
    path = schema.layer_path(out_dir, layer)
    web = schema.web_layer_path(out_dir, layer)
    path.parent.mkdir(parents=True, exist_ok=True)
    web.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_parquet(path, compression="zstd", index=False, write_covering_bbox=False)
    web.write_text(web_geojson(gdf), encoding="utf-8")
    return {
        "features": len(gdf),
        "parquet_kb": round(path.stat().st_size / 1024, 1),
        "web_kb": round(web.stat().st_size / 1024, 1),
        "vertices": int(shapely.get_num_coordinates(gdf.geometry.values).sum()),
    }


def extents(gdf: gpd.GeoDataFrame, layer: str) -> pd.DataFrame:
    """Bounding box and a point inside each area: for zooming to and labelling an area."""
    b = gdf.geometry.bounds.round(5)
    inner = gdf.to_crs(BNG).geometry.representative_point().to_crs(WGS84)
    return pd.DataFrame({
        "layer": layer, "code": gdf["code"].values,
        "west": b["minx"].values, "south": b["miny"].values,
        "east": b["maxx"].values, "north": b["maxy"].values,
        "lon": inner.x.round(5).values, "lat": inner.y.round(5).values,
    })


def build(raw_dir: Path, out_dir: Path) -> dict:
    """Build every registered layer and the extents table; returns a summary per layer."""
    summary, boxes = {}, []
    for layer in LAYER_SPECS:
        gdf = prepare(layer, raw_dir)
        summary[layer] = write_layer(gdf, layer, out_dir)
        boxes.append(extents(gdf, layer))
    pd.concat(boxes, ignore_index=True).to_csv(schema.extents_path(out_dir), index=False,
                                               lineterminator="\n")
    from layers import overlap

    overlap.write_overlaps(out_dir)
    return summary


def dataset_rows() -> list[dict]:
    """Source-manifest rows for the boundary files this module reads."""
    ons = ("Source: Office for National Statistics licensed under the Open Government Licence "
           "v.3.0. Contains OS data © Crown copyright and database right 2022.")
    # The BGC file draws the 2022 wards and the BSC file names their boroughs: one release.
    wards_2022 = {
        "publisher": "Office for National Statistics (Open Geography Portal)",
        "licence": "OGL v3.0",
        "attribution": ons,
        "period": "December 2022",
        "geography": "704 London wards (679 borough wards, 25 City of London wards)",
        "official_url": "https://geoportal.statistics.gov.uk/search?q=BDY_WD%20DEC_2022",
    }
    return [
        {
            "dataset_id": "gla-statistical-gis-2011",
            "title": "Statistical GIS Boundary Files for London (2011 wards, City merged)",
            "publisher": "Greater London Authority (London Datastore)",
            "licence": "OGL v3.0",
            "attribution": ("Contains National Statistics data © Crown copyright and database "
                            "right 2012. Contains Ordnance Survey data © Crown copyright and "
                            "database right 2012."),
            "period": "2011",
            "geography": "625 wards (City of London as one), 33 boroughs",
            "official_url": "https://data.london.gov.uk/dataset/statistical-gis-boundary-files-london",
            "raw_folder": GLA_DIR,
            "used_for": "2011 ward layer; borough layer (wards dissolved by borough)",
            "method_notes": ("Reprojected from British National Grid to WGS84; simplified as a "
                             "coverage (25 m boroughs, 20 m wards) so neighbours share edges; "
                             "rounded to 5 decimal places."),
        },
        {
            **wards_2022,
            "dataset_id": "ons-wards-2022-bgc",
            "title": "Wards (December 2022) Boundaries UK BGC",
            "raw_folder": WARD2022_DIR,
            "used_for": "2022 ward layer (the default: current councillors sit in these wards), "
                        "and the ward each charge device is assigned to",
            "method_notes": (
                "Generalised to 20 m by ONS and clipped to the coastline (BGC), London subset, as "
                "converted to GeoJSON (zero-area ring parts dropped, a few rings repaired); "
                f"fragments under {MIN_PART_M2:g} m2 dropped; simplified as a coverage at "
                f"{LAYER_SPECS['ward2022'].tolerance_m:g} m so neighbours keep shared edges; "
                "rounded to 5 decimal places. Areas measured before simplifying."),
        },
        {
            **wards_2022,
            "dataset_id": "ons-wards-2022-bsc",
            "title": "Wards (December 2022) Boundaries UK BSC",
            "raw_folder": "boundaries/ons-wards-2022-bsc",
            "used_for": "Borough names of the 2022 ward layer (the BGC file carries codes only)",
            "method_notes": ("Attributes only (its 200 m shapes are not drawn); same ward and "
                             "borough codes as the BGC file."),
        },
    ]
