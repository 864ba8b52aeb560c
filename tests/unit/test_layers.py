"""Boundary layers: counts, validity, no gaps or overlaps, web assets, spatial assignment."""
from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from dashboard.data import schema
from layers import build
from layers.spatial import assign_points

EXPECTED = {"borough": 33, "ward2022": 704, "ward2011": 625}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def layer(request, data_dir):
    return request.param, gpd.read_parquet(schema.layer_path(data_dir, request.param))


def test_counts_columns_and_crs(layer):
    name, gdf = layer
    assert len(gdf) == EXPECTED[name]
    assert tuple(gdf.columns) == schema.LAYER_COLUMNS
    assert gdf.crs.to_epsg() == 4326
    assert gdf["code"].is_unique
    assert gdf["borough_code"].str.match(r"^E09000\d{3}$").all()
    assert gdf["borough_code"].nunique() == 33


def _pieces_and_holes(geoms) -> tuple[int, int]:
    """Pieces of the union (metres) and its holes of 1 m2 or more."""
    union = shapely.union_all(geoms)
    parts = [union] if union.geom_type == "Polygon" else list(union.geoms)
    holes = [r for p in parts for r in p.interiors if shapely.Polygon(r).area >= 1]
    return len(parts), len(holes)


@pytest.fixture(scope="module")
def raw_ward2022(raw_dir):
    """The 2022 ward file as published (BGC, converted to GeoJSON), in metres."""
    return gpd.read_file(raw_dir / build.WARD2022_FILE).to_crs(27700)


def test_geometry_valid_gap_free_and_overlap_free(layer, request):
    name, gdf = layer
    assert gdf.is_valid.all(), f"{name}: invalid geometry"
    assert shapely.coverage_is_valid(gdf.geometry.values), f"{name}: neighbours do not share edges"
    bng = gdf.to_crs(27700)
    union = shapely.coverage_union_all(bng.geometry.values)
    pieces, holes = _pieces_and_holes(bng.geometry.values)
    # The 2022 file is clipped to the coastline: Thames islands are pieces of their own and
    # three bodies of water are holes (its two specks of gap under 1 m2 close when the shapes
    # are repaired). Simplifying may add neither pieces nor gaps.
    expected = ((1, 0) if name != "ward2022"
                else _pieces_and_holes(request.getfixturevalue("raw_ward2022").geometry.values))
    assert (pieces, holes) == expected, f"{name}: {pieces} pieces, {holes} holes"
    # Overlaps would make the areas add up to more than their union.
    assert bng.area.sum() == pytest.approx(union.area, rel=1e-9)


def test_london_area_is_about_1572_km2(layer):
    _, gdf = layer
    # ONS: Greater London is 1,572 km2 (to mean high water); boundaries that include the Thames
    # measure a little more.
    assert 1560 < gdf["area_km2"].sum() < 1600


def test_ward2022_layer_has_the_raw_files_codes_and_area(data_dir, raw_ward2022):
    """Every ward of the BGC file, none added, each its area as published (measured before
    simplifying), and the simplified shapes within 0.1% of it in total."""
    layer = gpd.read_parquet(schema.layer_path(data_dir, "ward2022")).set_index("code")
    raw = raw_ward2022.set_index("WD22CD")
    assert sorted(layer.index) == sorted(raw.index) and len(layer) == 704
    assert (layer["borough_code"] == raw["LAD22CD"].reindex(layer.index)).all()
    raw_km2 = raw.area / 1e6
    assert layer["area_km2"].sum() == pytest.approx(raw_km2.sum(), abs=0.01)
    assert (layer["area_km2"] - raw_km2.reindex(layer.index)).abs().max() < 0.001
    drawn_km2 = layer.to_crs(27700).area / 1e6
    assert drawn_km2.sum() == pytest.approx(raw_km2.sum(), rel=1e-3)
    assert (drawn_km2 / raw_km2.reindex(layer.index) - 1).abs().max() < 0.05


def test_web_asset_small_rounded_and_keyed_by_code(layer, data_dir):
    name, gdf = layer
    path = schema.web_layer_path(data_dir, name)
    assert path.stat().st_size <= 1_000_000
    fc = json.loads(path.read_text(encoding="utf-8"))
    ids = [f["id"] for f in fc["features"]]
    assert ids == list(gdf["code"])
    first = fc["features"][0]["geometry"]["coordinates"]
    while isinstance(first[0], list):
        first = first[0]
    lon, lat = first
    assert round(lon, 5) == lon and round(lat, 5) == lat


def test_city_of_london_reports_as_one_unit(data_dir):
    wards = gpd.read_parquet(schema.layer_path(data_dir, "ward2022"))
    city = wards[wards["borough_code"] == schema.CITY_CODE]
    assert len(city) == 25
    assert (city["stat_code"] == schema.CITY_CODE).all()
    others = wards[wards["borough_code"] != schema.CITY_CODE]
    assert (others["stat_code"] == others["code"]).all()
    w2011 = gpd.read_parquet(schema.layer_path(data_dir, "ward2011"))
    assert (w2011.loc[w2011["borough_code"] == schema.CITY_CODE, "code"] == schema.CITY_CODE).all()


def test_wards_nest_in_their_borough(data_dir):
    borough = gpd.read_parquet(schema.layer_path(data_dir, "borough")).to_crs(27700)
    for name in ("ward2022", "ward2011"):
        wards = gpd.read_parquet(schema.layer_path(data_dir, name)).to_crs(27700)
        pts = wards.geometry.representative_point()
        got = gpd.sjoin(gpd.GeoDataFrame(wards[["borough_code"]], geometry=pts),
                        borough[["code", "geometry"]], predicate="within")
        agree = (got["borough_code"] == got["code"]).mean()
        # The 2022 wards are generalised to 20 m, the boroughs come from 2011 wards: a ward
        # whose inside point sits on a shared edge may fall across.
        assert agree > 0.97, f"{name}: only {agree:.1%} of wards sit in their borough"


def test_assign_points_known_places(data_dir):
    places = {
        # lon, lat: borough expected
        "Brixton tube station": (-0.1146, 51.4627, "E09000022"),
        "Houses of Parliament": (-0.1246, 51.4995, "E09000033"),
        "Guildhall": (-0.0919, 51.5157, "E09000001"),
        "Heathrow central bus station": (-0.4543, 51.4713, "E09000017"),
        "Brighton (not London)": (-0.1372, 50.8225, None),
    }
    lon = np.array([p[0] for p in places.values()])
    lat = np.array([p[1] for p in places.values()])
    got = assign_points(lon, lat, data_dir)
    assert list(got["borough_code"]) == [p[2] for p in places.values()]
    inside = got[got["borough_code"].notna()]
    assert inside[["ward2022_code", "ward2011_code"]].notna().all().all()
    assert got.iloc[-1].isna().all()
    wards = gpd.read_parquet(schema.layer_path(data_dir, "ward2022")).set_index("code")
    assert (wards.loc[inside["ward2022_code"], "borough_code"].values
            == inside["borough_code"].values).all()


def test_build_is_deterministic(raw_dir, tmp_path):
    digests = []
    for run in ("a", "b"):
        out = tmp_path / run
        build.build(raw_dir, out)
        digests.append({p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(out.rglob("*")) if p.is_file()})
    assert digests[0] == digests[1]
    assert len(digests[0]) == 8
    assert "layers/ward_overlaps.csv" in digests[0]   # written with the layers, once
