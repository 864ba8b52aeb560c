"""Similar wards and "what stands out", checked against numbers computed here from the files.

The neighbours in ``data/similar_wards.csv`` are recomputed in this file with plain numpy from
``data/indicators.parquet`` and the ward layer (z-scores, equal weights, Euclidean distance), so a
change to the pipeline's method or a stale committed file fails here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.views.ward import model as profile
from dashboard.data import schema
from dashboard.core.config import Config
from dashboard.pipeline import similar as pipeline_similar
from dashboard.data.store import Store

BRIXTON = "E05014098"          # Brixton Windrush, Lambeth (2022)
ALDERSGATE = "E05009288"       # a City of London ward (2022): the City's figures
COLDHARBOUR_2011 = "E05000420"  # Coldharbour, Lambeth (2011)
CROYDON_2022 = "E05011462"      # a ward in another borough, for a second check


@pytest.fixture(scope="module")
def store(data_dir):
    s = Store(Config(data_dir=data_dir))
    yield s
    s.close()


@pytest.fixture(scope="module")
def layers(store):
    return {layer: store.layer_table(layer) for layer in schema.LAYERS}


@pytest.fixture(scope="module")
def committed(data_dir):
    return pd.read_csv(schema.similar_wards_path(data_dir), dtype={"code": str, "neighbour": str})


def features_by_hand(data_dir, layer: str) -> pd.DataFrame:
    """The feature table, built here without the pipeline's helper."""
    ind = pd.read_parquet(schema.indicators_path(data_dir))
    cat = pd.read_csv(schema.catalogue_path(data_dir), dtype=str).set_index("indicator_id")
    ind = ind[ind["layer"] == layer]
    cols = {}
    for f in pipeline_similar.FEATURES[layer]:
        if f.indicator_id == pipeline_similar.DENSITY:
            continue
        rows = ind[(ind["indicator_id"] == f.indicator_id)
                   & (ind["period"] == cat.at[f.indicator_id, "default_period"])]
        cols[f.indicator_id] = rows.set_index("code")["value"]
    table = pd.DataFrame(cols)
    if layer == "ward2022":
        wards = pd.read_parquet(schema.layer_path(data_dir, layer))
        area = wards.groupby("stat_code")["area_km2"].sum()
        people = ind[ind["indicator_id"] == "usual_residents"].set_index("code")["value"]
        table["density"] = np.log10(people / area.reindex(people.index))
    else:
        table["density"] = np.log10(ind[ind["indicator_id"] == "wp_density"]
                                    .set_index("code")["value"])
    return table


@pytest.mark.parametrize("layer,code", [("ward2022", BRIXTON), ("ward2022", CROYDON_2022),
                                        ("ward2022", schema.CITY_CODE),
                                        ("ward2011", COLDHARBOUR_2011)])
def test_neighbours_are_the_nearest_on_standardised_indicators(data_dir, committed, layer, code):
    table = features_by_hand(data_dir, layer)
    z = ((table - table.mean()) / table.std(ddof=0)).fillna(0.0)
    distance = np.sqrt(((z - z.loc[code]) ** 2).sum(axis=1)).drop(code)
    expected = distance.sort_values(kind="stable").head(10)
    got = committed[(committed["layer"] == layer) & (committed["code"] == code)]
    assert list(got["rank"]) == list(range(1, 11))
    assert list(got["neighbour"]) == list(expected.index)
    assert np.allclose(got["distance"], expected.to_numpy(), atol=1e-4)
    close = (np.abs(z.loc[list(expected.index)] - z.loc[code]) < 0.5).sum(axis=1)
    assert list(got["close"]) == list(close)
    assert (got["features"] == table.shape[1]).all()


def test_every_ward_unit_has_ten_neighbours_of_its_own_vintage(committed, layers):
    for layer in ("ward2022", "ward2011"):
        units = set(layers[layer]["stat_code"])
        rows = committed[committed["layer"] == layer]
        assert set(rows["code"]) == units
        assert rows.groupby("code").size().eq(10).all()
        assert set(rows["neighbour"]) <= units
        assert not (rows["code"] == rows["neighbour"]).any()


def test_profile_lists_similar_wards_with_links_and_how_alike(store, layers, committed):
    ward = profile.ward_info(layers, BRIXTON)
    found = profile.similar_wards(store, layers, ward)
    expected = committed[(committed["layer"] == "ward2022") & (committed["code"] == BRIXTON)]
    assert [s.code for s in found] == list(expected["neighbour"])
    first = found[0]
    info = profile.ward_info(layers, first.code)
    assert (first.name, first.borough_name) == (info.name, info.borough_name)
    assert first.path == f"/ward/{first.code}"
    assert first.alike_text == f"close on {expected['close'].iloc[0]} of 11 measures"


def test_city_wards_share_the_city_neighbours_and_the_city_appears_once(store, layers, committed):
    aldersgate = profile.ward_info(layers, ALDERSGATE)
    other_city = profile.ward_info(layers, "E05009289")
    a = profile.similar_wards(store, layers, aldersgate)
    b = profile.similar_wards(store, layers, other_city)
    assert [s.code for s in a] == [s.code for s in b]
    assert all(s.borough_name != "City of London" for s in a)
    # A ward whose neighbours include the City lists it once, as the City.
    has_city = committed[(committed["layer"] == "ward2022")
                         & (committed["neighbour"] == schema.CITY_CODE)]["code"].iloc[0]
    listed = profile.similar_wards(store, layers, profile.ward_info(layers, has_city)) \
        if profile.ward_info(layers, has_city) else []
    city = [s for s in listed if s.stat_code == schema.CITY_CODE]
    assert len(city) == 1 and "City of London" in city[0].name
    assert profile.ward_info(layers, city[0].code).borough_code == schema.CITY_CODE


def test_compare_picker_offers_similar_wards_first(store, layers):
    ward = profile.ward_info(layers, BRIXTON)
    found = profile.similar_wards(store, layers, ward)
    options = profile.compare_options(layers, ward, found)
    assert [o["value"] for o in options[:10]] == [s.code for s in found]
    assert options[0]["label"].startswith("Similar: ")
    values = [o["value"] for o in options]
    assert len(values) == len(set(values)) and BRIXTON not in values


def test_spine_median_of_similar_wards(store, layers, data_dir, committed):
    ward = profile.ward_info(layers, BRIXTON)
    prof = profile.build_profile(store, layers, ward, date_from="2025-04", date_to="2026-03")
    codes = list(committed[(committed["layer"] == "ward2022")
                           & (committed["code"] == BRIXTON)]["neighbour"])
    ind = pd.read_parquet(schema.indicators_path(data_dir))
    rows = ind[(ind["layer"] == "ward2022") & (ind["indicator_id"] == "no_car_households_pct")
               & ind["code"].isin(codes)]
    row = next(r for r in prof.rows if r.indicator_id == "no_car_households_pct")
    assert row.similar == pytest.approx(float(rows["value"].median()))


# What stands out ------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [BRIXTON, ALDERSGATE, COLDHARBOUR_2011, CROYDON_2022])
def test_standouts_are_the_furthest_from_london_with_true_ranks(store, layers, data_dir, code):
    ward = profile.ward_info(layers, code)
    prof = profile.build_profile(store, layers, ward, date_from="2025-04", date_to="2026-03")
    found = prof.standouts
    assert 3 <= len(found) <= 5
    assert len({s.row.theme for s in found}) == len(found)
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)
    ind = pd.read_parquet(schema.indicators_path(data_dir))
    for s in found:
        r = s.row
        assert not r.is_count
        values = ind[(ind["layer"] == ward.layer) & (ind["indicator_id"] == r.indicator_id)
                     & (ind["period"] == r.period)]["value"].dropna()
        assert s.score == pytest.approx(abs(r.ward - r.london) / values.std(ddof=0))
        higher, lower = int((values > r.ward).sum()) + 1, int((values < r.ward).sum()) + 1
        if higher <= lower:
            place = "" if higher == 1 else f"{profile.ordinal(higher)} "
            assert f"the {place}highest of {len(values):,} London wards" in s.text
        else:
            place = "" if lower == 1 else f"{profile.ordinal(lower)} "
            assert f"the {place}lowest of {len(values):,} London wards" in s.text
        # Better or worse only where the catalogue gives a direction; never significance.
        says_verdict = " is better" in s.text or " is worse" in s.text
        assert says_verdict == (r.polarity != 0)
        assert "significan" not in s.text.lower()
        assert r.fmt(r.ward) in s.text and r.fmt(r.london) in s.text
    # Nothing left out is further from London than the last one shown, in a theme not shown.
    shown = {s.row.theme for s in found}
    for r in prof.rows:
        if r.theme in shown or r.is_count or r.ward is None or r.london is None:
            continue
        values = ind[(ind["layer"] == ward.layer) & (ind["indicator_id"] == r.indicator_id)
                     & (ind["period"] == r.period)]["value"].dropna()
        if r.unit.startswith("rank") or not values.min() <= r.london <= values.max():
            continue
        if len(found) == 5:
            assert abs(r.ward - r.london) / values.std(ddof=0) <= found[-1].score + 1e-9
