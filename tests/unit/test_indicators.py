"""Tests of the indicators step, on a fresh build and on the committed ``data/`` output.

Figures are checked against values recomputed here straight from the raw files, independently of
the pipeline's code.
"""
from __future__ import annotations

import json

import pandas as pd
import pyogrio
import pytest

from dashboard.data import schema
from dashboard.core.config import DEFAULT_DATA_DIR, DEFAULT_RAW_DIR
from dashboard.pipeline import indicators

RAW = DEFAULT_RAW_DIR
ONS_LONDON_RESIDENTS = 8_799_800  # Census 2021, as published by ONS (rounded to the hundred)
LAMBETH = "E09000022"

requires_raw = pytest.mark.skipif(not RAW.is_dir(), reason=f"raw open data not found at {RAW}")
OUTPUTS = ["built"]
if schema.indicators_path(DEFAULT_DATA_DIR).exists():
    OUTPUTS.append("committed")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build of the step into a temporary folder, shared by the module."""
    if not RAW.is_dir():
        pytest.skip(f"raw open data not found at {RAW}")
    out = tmp_path_factory.mktemp("indicators")
    indicators.build(RAW, out)
    return out


@pytest.fixture(scope="module", params=OUTPUTS)
def out_dir(request):
    """The folder under test: a fresh build, then the committed data/ folder if present."""
    return request.getfixturevalue("built") if request.param == "built" else DEFAULT_DATA_DIR


@pytest.fixture(scope="module")
def rows(out_dir):
    return pd.read_parquet(schema.indicators_path(out_dir))


@pytest.fixture(scope="module")
def cat(out_dir):
    return pd.read_csv(schema.catalogue_path(out_dir), dtype={"default_period": str})


@pytest.fixture(scope="module")
def ward_borough():
    """2022 ward (and the City as one unit) -> borough, from the ONS lookup."""
    lookup = pd.read_csv(RAW / indicators.WARD_LAD_FILE, encoding="utf-8-sig")
    london = lookup[lookup["LAD23CD"].str.startswith("E09")]
    mapping = dict(zip(london["WD23CD"], london["LAD23CD"]))
    mapping[schema.CITY_CODE] = schema.CITY_CODE
    return mapping


@pytest.fixture(scope="module")
def oa_ward():
    table = pd.read_csv(RAW / indicators.BESTFIT_FILE.format(area="oa21"))
    return dict(zip(table["oa21cd"], table["ward22cd"]))


def value(rows, indicator_id, layer, code, period=None):
    match = rows[(rows["indicator_id"] == indicator_id) & (rows["layer"] == layer)
                 & (rows["code"] == code)]
    if period is not None:
        match = match[match["period"] == period]
    assert len(match) == 1, (indicator_id, layer, code, period)
    return float(match["value"].iloc[0])


# The long table ----------------------------------------------------------------------------------
def test_table_shape(rows):
    assert tuple(rows.columns) == schema.INDICATOR_COLUMNS
    assert rows["value"].dtype == "float64"
    assert set(rows["layer"]) == {"ward2022", "ward2011", "borough", "london"}
    assert not rows.duplicated(["layer", "code", "indicator_id", "period"]).any()
    keys = ["layer", "indicator_id", "period", "code"]
    assert rows[keys].equals(rows.sort_values(keys, ignore_index=True)[keys])
    codes = rows.groupby("layer")["code"].nunique()
    assert codes.to_dict() == {"ward2022": 680, "ward2011": 625, "borough": 33, "london": 1}
    assert set(rows.loc[rows["layer"] == "london", "code"]) == {schema.LONDON_CODE}


@requires_raw
def test_ward2011_units_are_the_gla_wards(rows):
    wards = pyogrio.read_dataframe(RAW / indicators.WARD2011_FILE, read_geometry=False)
    assert set(rows.loc[rows["layer"] == "ward2011", "code"]) == set(wards["GSS_CODE"])
    assert schema.CITY_CODE in set(wards["GSS_CODE"])


# Population --------------------------------------------------------------------------------------
def test_london_residents_match_ons(rows):
    london = value(rows, "usual_residents", "london", schema.LONDON_CODE)
    assert 8_799_000 <= london < 8_800_000
    assert abs(london - ONS_LONDON_RESIDENTS) / ONS_LONDON_RESIDENTS < 0.001


@requires_raw
def test_borough_residents_are_sums_of_their_wards(rows, ward_borough):
    residents = rows[rows["indicator_id"] == "usual_residents"]
    wards = residents[residents["layer"] == "ward2022"]
    assert len(wards) == 680
    summed = wards.groupby(wards["code"].map(ward_borough))["value"].sum()
    boroughs = residents[residents["layer"] == "borough"].set_index("code")["value"]
    assert len(boroughs) == 33
    pd.testing.assert_series_equal(summed.sort_index(), boroughs.sort_index(),
                                   check_names=False, check_exact=True)
    assert boroughs.sum() == value(rows, "usual_residents", "london", schema.LONDON_CODE)


# Rates recomputed from counts --------------------------------------------------------------------
@requires_raw
def test_borough_rate_is_recomputed_from_counts(rows, ward_borough, oa_ward):
    cars = pd.read_csv(RAW / indicators.OA_DIR / "ts045_oa21_london.csv")
    in_lambeth = cars["OA21CD"].map(oa_ward).map(ward_borough) == LAMBETH
    lambeth = cars[in_lambeth]
    expected = (100 * lambeth["Number of cars or vans: No cars or vans in household"].sum()
                / lambeth["Number of cars or vans: Total: All households"].sum())
    assert value(rows, "no_car_households_pct", "borough", LAMBETH) == pytest.approx(expected,
                                                                                      rel=1e-12)
    ward_rates = rows[(rows["indicator_id"] == "no_car_households_pct")
                      & (rows["layer"] == "ward2022")]
    lambeth_wards = ward_rates[ward_rates["code"].map(ward_borough) == LAMBETH]
    assert value(rows, "no_car_households_pct", "borough", LAMBETH) != pytest.approx(
        lambeth_wards["value"].mean(), rel=1e-9)


@requires_raw
@pytest.mark.parametrize("ward, month", [("E05014112", "202506"), ("E05013570", "202603")])
def test_crime_rate_is_count_over_residents(rows, oa_ward, ward, month):
    crime = pd.read_csv(RAW / indicators.CRIME_FILE)
    offences = crime.loc[crime["WardCode"] == ward, month].sum()
    burglaries = crime.loc[(crime["WardCode"] == ward) & (crime["MajorText"] == "BURGLARY"),
                           month].sum()
    census = pd.read_csv(RAW / indicators.OA_DIR / "ts001_oa21_london.csv")
    residents = census.loc[census["OA21CD"].map(oa_ward) == ward, "Residence type: Total"].sum()
    period = f"{month[:4]}-{month[4:]}"
    assert value(rows, "crime_all_monthly", "ward2022", ward, period) == pytest.approx(
        1000 * offences / residents, rel=1e-12)
    assert value(rows, "crime_burglary_monthly", "ward2022", ward, period) == pytest.approx(
        1000 * burglaries / residents, rel=1e-12)


def test_city_has_no_police_figures(rows):
    crime = rows[rows["indicator_id"].str.startswith("crime_")]
    assert schema.CITY_CODE not in set(crime["code"])
    assert crime.loc[crime["layer"] == "ward2022", "code"].nunique() == 679


def test_incomplete_crime_month_left_out(rows):
    periods = set(rows.loc[rows["indicator_id"] == "crime_all_monthly", "period"])
    assert "2024-03" not in periods
    assert len(periods) == 24


# Catalogue and sources ---------------------------------------------------------------------------
def test_catalogue_rows(rows, cat):
    assert tuple(cat.columns) == schema.CATALOGUE_COLUMNS
    assert cat["indicator_id"].is_unique
    assert set(cat["indicator_id"]) == set(rows["indicator_id"])
    for column in ("title", "definition", "source", "licence", "period_label", "unit"):
        assert cat[column].notna().all() and (cat[column].str.strip() != "").all(), column
    assert set(cat["polarity"]) <= {-1, 0, 1}
    assert set(cat["theme"]) <= set(schema.THEMES)
    assert set(cat["layer"]) == {"ward2022", "ward2011"}
    assert set(cat["method"]) == {"native", "apportioned"}
    assert set(cat["kind"]) == {"snapshot", "series"}
    assert (cat["decimals"] >= 0).all()


def test_catalogue_layer_and_default_period_match_data(rows, cat):
    at_ward = rows[rows["layer"].isin(["ward2022", "ward2011"])]
    layers = at_ward.groupby("indicator_id")["layer"].unique()
    periods = rows.groupby("indicator_id")["period"].unique()
    for entry in cat.itertuples():
        assert list(layers[entry.indicator_id]) == [entry.layer], entry.indicator_id
        assert entry.default_period in periods[entry.indicator_id], entry.indicator_id
        if entry.kind == "snapshot":
            assert len(periods[entry.indicator_id]) == 1, entry.indicator_id


def test_catalogue_sources_are_declared(cat):
    declared = {row["dataset_id"]: row for row in indicators.dataset_rows()}
    assert set(cat["source"]) <= set(declared)
    for row in declared.values():
        assert tuple(row) == schema.DATASET_COLUMNS
        assert all(str(row[c]).strip() for c in schema.DATASET_COLUMNS if c != "official_url")
        assert row["official_url"].startswith("https://")
    for entry in cat.itertuples():
        assert entry.licence == declared[entry.source]["licence"]


# Geography ---------------------------------------------------------------------------------------
@requires_raw
def test_ward_lookup_2023_matches_2022_boundaries(ward_borough):
    path = RAW / "boundaries/ons-wards-2022-bsc/london_wards_dec2022_bsc.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    boundaries = {f["properties"]["WD22CD"]: f["properties"]["LAD22CD"] for f in features}
    assert len(boundaries) == 704
    assert boundaries == {k: v for k, v in ward_borough.items() if k != schema.CITY_CODE}


# Reproducibility ---------------------------------------------------------------------------------
@requires_raw
def test_build_is_byte_identical(built, tmp_path):
    indicators.build(RAW, tmp_path)
    for path in (schema.indicators_path, schema.catalogue_path):
        assert path(tmp_path).read_bytes() == path(built).read_bytes()
