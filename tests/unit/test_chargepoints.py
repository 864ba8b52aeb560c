"""Charge-device table: matching rules, spatial assignment, power bands, determinism."""
from __future__ import annotations

import hashlib
import math

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from dashboard.data import schema
from dashboard.pipeline import chargepoints as cp
from layers.spatial import NEAREST_M

METRES_PER_DEGREE_LAT = 111_250.0  # at London's latitude, to within a few parts per thousand


def places(*rows: tuple[str, float]) -> pd.DataFrame:
    """Places on a north-south line in central London: (name, metres north of the first)."""
    return pd.DataFrame({
        "name": [name for name, _ in rows],
        "lon": -0.14,
        "lat": [51.51 + north / METRES_PER_DEGREE_LAT for _, north in rows],
    })


# Matching rules (no data needed) ----------------------------------------------------------------
def test_same_name_three_metres_apart_match():
    matches = cp.match_places(places(("Albemarle Street", 0)), places(("Albemarle Street", 3)))
    assert len(matches) == 1
    assert matches["distance_m"].iloc[0] == pytest.approx(3, abs=0.1)


def test_different_names_three_metres_apart_do_not_match():
    matches = cp.match_places(places(("Albemarle Street", 0)), places(("Tesco Superstore", 3)))
    assert matches.empty


def test_agreeing_names_match_within_25_metres_only():
    """Names sharing a distinctive word are one place at 3 m, not at 40 m."""
    assert len(cp.match_places(places(("Albemarle Street", 0)), places(("Albemarle Way", 3)))) == 1
    assert cp.match_places(places(("Albemarle Street", 0)), places(("Albemarle Way", 40))).empty


def test_same_name_matches_to_fifty_metres_only():
    """A car park's entrances: the same name within 50 m is one place."""
    assert len(cp.match_places(places(("NCP Saffron Hill", 0)),
                               places(("NCP Saffron Hill", 40)))) == 1
    assert len(cp.match_places(places(("Blackheath Grove Car Park", 0)),
                               places(("Blackheath Grove", 40)))) == 1
    assert cp.match_places(places(("NCP Saffron Hill", 0)), places(("NCP Saffron Hill", 60))).empty


def test_numbers_that_differ_do_not_match():
    assert cp.match_places(places(("Temple Place 1", 0)), places(("Temple Place 2", 7))).empty
    assert len(cp.match_places(places(("Warwick Ave 36", 0)),
                               places(("36 Warwick Avenue", 7)))) == 1


def test_coincident_points_match_whatever_the_names():
    assert len(cp.match_places(places(("St John Street - site 2", 0)),
                               places(("Saint John Street 327", 0.5)))) == 1


def test_bare_id_name_matches_only_coincident_points():
    assert len(cp.match_places(places(("suby1100000315", 0)), places(("LC 28", 1)))) == 1
    assert cp.match_places(places(("suby1100000315", 0)), places(("Randolph Cres 37", 10))).empty


def test_matching_is_one_to_one_closest_first():
    left = places(("Bina Gardens", 0), ("Bina Gardens", 1))
    right = places(("Bina Gardens", 0.5), ("Bina Gardens", 10))
    matches = cp.match_places(left, right).sort_values("left")
    assert matches["left"].tolist() == [0, 1]
    assert matches["right"].nunique() == 2


def test_drop_duplicate_places():
    frame = places(("Q-Park Chinatown", 0), ("Q-Park Chinatown", 3), ("Gerrard Place", -3),
                   ("Q-Park Chinatown", 40))
    kept = cp.drop_duplicate_places(frame)
    assert kept["name"].tolist() == ["Q-Park Chinatown", "Gerrard Place", "Q-Park Chinatown"]
    assert kept.index.tolist() == [0, 2, 3]


def test_lamp_posts_on_one_street_stay_separate():
    frame = places(("47 Wells Street", 0), ("57 Wells Street", 15), ("Wells Street", 20))
    assert len(cp.drop_duplicate_places(frame)) == 3


@pytest.mark.parametrize("kw, expected", [
    (3.7, "slow"), (7.9, "slow"), (8, "fast"), (49.9, "fast"), (50, "rapid"), (149.9, "rapid"),
    (150, "ultra"), (350, "ultra"), (0, "unknown"), (None, "unknown"), (math.nan, "unknown"),
])
def test_speed_class_bands(kw, expected):
    assert schema.speed_class(kw) == expected


# The built table ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(raw_dir, data_dir, tmp_path_factory):
    if not (raw_dir / "ev").is_dir():
        pytest.skip("raw charge-point data not present beside the repository")
    missing = [layer for layer in schema.LAYERS if not schema.layer_path(data_dir, layer).exists()]
    if missing:
        pytest.skip(f"boundary layers not built yet: {missing}")
    out = tmp_path_factory.mktemp("chargepoints")
    summary = cp.build(raw_dir, out, layers_dir=data_dir)
    path = schema.chargepoints_path(out)
    return summary, pd.read_parquet(path), path


@pytest.fixture(scope="module")
def table(built):
    return built[1]


def test_columns_and_types(table):
    assert tuple(table.columns) == cp.OUTPUT_COLUMNS
    assert tuple(table.columns[:len(schema.CHARGEPOINT_COLUMNS)]) == schema.CHARGEPOINT_COLUMNS
    assert table["lat"].dtype == "float64" and table["lon"].dtype == "float64"
    assert table["max_kw"].dtype == "float64"
    assert str(table["connectors"].dtype) == "Int64"
    assert str(table["on_street"].dtype) == "boolean"
    assert table["installed"].dtype.kind == "M"
    assert (table["lat"] == table["lat"].round(6)).all()
    assert (table["operator"].str.len() > 0).all() and (table["name"].str.len() > 0).all()


def test_device_id_unique_and_sorted(table):
    assert table["device_id"].is_unique
    assert table["device_id"].is_monotonic_increasing


def test_one_borough_and_one_ward_of_each_vintage(table, data_dir):
    for column, layer in (("borough_code", "borough"), ("ward2022_code", "ward2022"),
                          ("ward2011_code", "ward2011")):
        areas = gpd.read_parquet(schema.layer_path(data_dir, layer))
        assert table[column].notna().all(), column
        assert table[column].isin(areas["code"]).all(), column
        if layer != "borough":
            borough_of_ward = areas.set_index("code")["borough_code"]
            assert (table[column].map(borough_of_ward) == table["borough_code"]).all(), column


def test_every_device_lies_in_its_borough(table, data_dir):
    boroughs = gpd.read_parquet(schema.layer_path(data_dir, "borough")).to_crs(27700)
    points = gpd.GeoSeries(gpd.points_from_xy(table["lon"], table["lat"]), crs=4326).to_crs(27700)
    shapes = boroughs.set_index("code").geometry.reindex(table["borough_code"]).to_numpy()
    distance = shapely.distance(points.to_numpy(), shapes)
    assert (distance <= NEAREST_M + 1).all()
    print(f"\n{(distance > 0).sum()} devices just outside their borough polygon "
          f"(Thames edge), at most {distance.max():.0f} m")


def test_every_device_lies_in_its_wards(table, data_dir):
    """Each device is inside the wards it is assigned to, except a few where the boundary
    vintages disagree by less than the 2022 file's 20 m generalisation (the borough comes from
    the 2011 wards, so a device there sits just inside a 2022 ward of the next borough)."""
    points = gpd.GeoSeries(gpd.points_from_xy(table["lon"], table["lat"]), crs=4326).to_crs(27700)
    for column, layer in (("ward2022_code", "ward2022"), ("ward2011_code", "ward2011")):
        wards = gpd.read_parquet(schema.layer_path(data_dir, layer)).to_crs(27700)
        shapes = wards.set_index("code").geometry.reindex(table[column]).to_numpy()
        distance = shapely.distance(points.to_numpy(), shapes)
        print(f"\n{layer}: {(distance > 0).sum()} devices outside their ward, at most "
              f"{distance.max():.1f} m")
        assert (distance <= 20).all(), layer
        assert (distance == 0).mean() >= 0.995, layer


def test_no_second_source_duplicates(table):
    """No added (Open Charge Map / Lewisham) device repeats another device: none lies within
    2 m of another device (with the same normalised name or any other). Registry devices may
    share a spot and a name: distinct ids are distinct posts (a car park lists each)."""
    rows = cp.keyed(table[["device_id", "name", "lon", "lat", "source"]])
    tree = shapely.STRtree(shapely.points(rows["x"], rows["y"]))
    left, right = tree.query(shapely.points(rows["x"], rows["y"]), predicate="dwithin", distance=2)
    pairs = [(i, j) for i, j in zip(left, right) if i < j]
    norm = rows["name"].str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    added = ~rows["source"].str.contains("ncr")
    duplicates = [(i, j) for i, j in pairs if norm[i] == norm[j] and (added[i] or added[j])]
    registry_pairs = sum(norm[i] == norm[j] for i, j in pairs)
    print(f"\nregistry devices within 2 m sharing a name (distinct ids): {registry_pairs} pairs")
    assert not duplicates, rows.loc[[i for pair in duplicates[:5] for i in pair], "name"]
    assert not any(added[i] or added[j] for i, j in pairs)


def test_speed_class_follows_max_kw(table):
    assert (table["speed_class"] == table["max_kw"].map(schema.speed_class)).all()
    assert ((table["speed_class"] == "unknown") == table["max_kw"].isna()).all()
    kw = table["max_kw"]
    by_class = table.groupby("speed_class")["max_kw"]
    if "slow" in by_class.groups:
        assert by_class.get_group("slow").lt(8).all()
    assert kw[table["speed_class"] == "fast"].between(8, 50, inclusive="left").all()
    assert kw[table["speed_class"] == "rapid"].between(50, 150, inclusive="left").all()
    assert kw[table["speed_class"] == "ultra"].ge(150).all()


@pytest.fixture(scope="module")
def raw2022(raw_dir):
    """The 2022 registry read straight from its per-borough files, one row per device."""
    files = sorted((raw_dir / cp.NCR2022_DIR).glob("*.geojson"))
    frame = pd.concat([gpd.read_file(f) for f in files], ignore_index=True)
    return frame.set_index("chargedeviceid")


def test_registry_devices_all_on_the_map_with_their_rated_power(table, raw2022):
    """Every 2022 registry device is on the map once, rated at its highest connector."""
    registry = table[table["source"].str.startswith("ncr2022")].set_index("device_id")
    assert sorted(registry.index) == sorted(raw2022.index)
    kw = raw2022.filter(regex=r"^connector\dratedoutputkw$").apply(pd.to_numeric,
                                                                    errors="coerce")
    expected = kw.max(axis=1).reindex(registry.index)
    assert (registry["max_kw"] - expected).abs().max() < 1e-9
    status = raw2022["chargedevicestatus"].str.lower().reindex(registry.index)
    assert (registry["status"] == status).all()
    assert (registry["location_type"] == raw2022["locationtype"].reindex(registry.index)).all()
    created = pd.to_datetime(raw2022["datecreated"]).reindex(registry.index)
    assert (registry["installed"] == created.dt.floor("ms")).all()


def test_older_snapshots_add_only_devices_still_registered(table, raw_dir, raw2022):
    """A device of the 2020 registry whose id and reference are absent in 2022 is not on the
    map; a device both list carries both tags."""
    ncr2020 = pd.read_csv(raw_dir / cp.NCR2020_FILE, dtype=str)
    ids_2022 = set(raw2022.index)
    refs_2022 = raw2022["reference"].dropna()
    unique_refs = set(refs_2022[~refs_2022.duplicated(keep=False)])
    still = ncr2020["chargeDeviceID"].isin(ids_2022) | ncr2020["reference"].isin(unique_refs)
    gone = set(ncr2020.loc[~still, "chargeDeviceID"])
    assert gone and not gone & set(table["device_id"])
    tagged = table[table["source"].str.contains("ncr2020")]
    assert tagged["source"].str.startswith("ncr2022").all()
    placed = pd.to_numeric(ncr2020["latitude"], errors="coerce").abs() > 1  # not 0, 0
    by_id = set(ncr2020.loc[placed, "chargeDeviceID"]) & ids_2022
    assert by_id <= set(tagged["device_id"])
    assert len(tagged) <= still.sum()


def test_licence_note_marks_cc_by_sa_fields(table):
    cc = table["source"].str.contains("ocm2025|lewisham2022")
    assert table.loc[~cc, "licence_note"].isna().all()
    added = table["device_id"].str.startswith(("ocm-", "lewisham-"))
    assert table.loc[added, "licence_note"].str.startswith("all fields from").all()
    noted = table["licence_note"].notna()
    assert table.loc[noted, "licence_note"].str.contains("CC BY-SA 4.0").all()


def test_counts_by_source_match_the_raw_files(built, raw_dir, raw2022):
    summary, table, path = built
    print("\n" + "\n".join(f"{k}: {v}" for k, v in summary.items()))
    assert summary["ncr2022_devices"] == len(raw2022) == raw2022.index.nunique()
    assert (table["source"].str.startswith("ncr2022")).sum() == \
        len(raw2022) - summary["ncr2022_first_outside_london_dropped"]
    ocm = pd.read_csv(raw_dir / cp.OCM_FILE, dtype={"Place_ID": str})
    added = table[table["device_id"].str.startswith("ocm-")]
    assert len(added) == summary["ocm2025_added"]
    assert set(added["device_id"].str[4:]) <= set(ocm["Place_ID"].str.strip())
    assert added["source"].eq("ocm2025").all()
    assert (table["device_id"].str.startswith("lewisham-")).sum() == summary["lewisham2022_added"]


def test_acceptance_counts(table):
    """The 2022 registry's coverage: most London devices, their power published."""
    assert len(table) >= 7_800
    assert table["speed_class"].isin(["rapid", "ultra"]).sum() >= 400
    assert (table["speed_class"] == "unknown").mean() <= 0.10
    assert table["borough_code"].nunique() == 33
    assert set(table["speed_class"]) <= set(schema.SPEED_CLASSES)


def test_table_file_stays_small(built):
    assert built[2].stat().st_size < 1_000_000


def test_build_is_deterministic(built, raw_dir, data_dir, tmp_path):
    _, _, first = built
    cp.build(raw_dir, tmp_path, layers_dir=data_dir)
    second = schema.chargepoints_path(tmp_path)
    assert hashlib.sha256(first.read_bytes()).hexdigest() == \
        hashlib.sha256(second.read_bytes()).hexdigest()


def test_dataset_rows(raw_dir):
    rows = cp.dataset_rows()
    assert len({r["dataset_id"] for r in rows}) == len(rows) == 6
    for row in rows:
        assert tuple(row) == schema.DATASET_COLUMNS
        assert all(isinstance(v, str) and v for v in row.values()), row["dataset_id"]
        assert (raw_dir / row["raw_folder"]).is_dir(), row["raw_folder"]
        assert row["official_url"].startswith("https://")
    licences = {r["dataset_id"]: r["licence"] for r in rows}
    assert licences["open-charge-map-central-london-2025"] == "CC BY-SA 4.0"
    assert all("OGL" in licence for k, licence in licences.items() if k.startswith("dft-"))
