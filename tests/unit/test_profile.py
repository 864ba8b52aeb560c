"""Ward profiles against the committed data, recomputed independently here with pandas.

The profile's sentences, table values, ranks and spine positions are checked against values read
straight from ``data/indicators.parquet`` and ``data/catalogue.csv``, for an ordinary Lambeth
ward, a City of London ward (statistics for the whole City, no police-recorded crime) and
Stratford Olympic Park (no Index of Multiple Deprivation value).
"""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from dashboard.domain import export
from dashboard.views.ward import model as profile
from dashboard.data import schema
from dashboard.core.config import Config
from dashboard.figures.ward import (CENTRE, Line, SpineRow, spine_cell, spine_position,
                                    spine_positions, trend_chart)
from dashboard.data.store import Store
from dashboard.domain.text import fmt_number, fmt_pct

BRIXTON = "E05014098"        # Brixton Windrush, Lambeth
LAMBETH = "E09000022"
ALDERSGATE = "E05009288"     # a City of London ward: reports under E09000001
OLYMPIC_PARK = "E05013925"   # Stratford Olympic Park, Newham: no IMD 2019 value
COLDHARBOUR_2011 = "E05000420"


# Fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw(data_dir):
    """The indicator table and catalogue as files, read without the app's code."""
    indicators = pd.read_parquet(schema.indicators_path(data_dir))
    catalogue = pd.read_csv(schema.catalogue_path(data_dir), dtype=str).set_index("indicator_id")
    return indicators, catalogue


@pytest.fixture(scope="module")
def store(data_dir, tmp_path_factory):
    """The real processed data, with two made-up sessions instead of the simulation cache."""
    devices = pd.read_parquet(schema.chargepoints_path(data_dir))
    device = devices.loc[devices["ward2022_code"] == BRIXTON, "device_id"].iloc[0]
    folder = tmp_path_factory.mktemp("sessions")
    sessions = pd.DataFrame({
        "session_id": ["s1", "s2"], "device_id": [device, device],
        "start": pd.to_datetime(["2025-05-01 08:00", "2025-06-01 09:00"]),
        "end": pd.to_datetime(["2025-05-01 10:00", "2025-06-01 12:00"]),
        "kwh": [10.0, 15.0], "simulated": [True, True],
    })
    path = folder / "sessions.parquet"
    sessions.to_parquet(path)
    s = Store(Config(data_dir=data_dir, cache_dir=folder), sessions=path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def layers(store):
    return {layer: store.layer_table(layer) for layer in schema.LAYERS}


def build(store, layers, data_dir, code, compare=None):
    ward = profile.ward_info(layers, code)
    other = profile.ward_info(layers, compare) if compare else None
    return profile.build_profile(store, layers, ward, compare=other, date_from="2025-04",
                                 date_to="2026-03", data_dir=data_dir,
                                 datasets=store.datasets())


@pytest.fixture(scope="module")
def brixton(store, layers, data_dir):
    return build(store, layers, data_dir, BRIXTON)


def value(raw, indicator_id, layer, code):
    """The value at the catalogue's default period, or None, straight from the parquet file."""
    indicators, catalogue = raw
    period = catalogue.at[indicator_id, "default_period"]
    hit = indicators[(indicators["indicator_id"] == indicator_id) & (indicators["layer"] == layer)
                     & (indicators["code"] == code) & (indicators["period"] == period)]
    return None if hit.empty or pd.isna(hit["value"].iloc[0]) else float(hit["value"].iloc[0])


def ward_values(raw, indicator_id, layer="ward2022") -> pd.Series:
    indicators, catalogue = raw
    period = catalogue.at[indicator_id, "default_period"]
    rows = indicators[(indicators["indicator_id"] == indicator_id) & (indicators["layer"] == layer)
                      & (indicators["period"] == period)]
    return rows.set_index("code")["value"].dropna()


def row(prof, indicator_id):
    return next(r for r in prof.rows if r.indicator_id == indicator_id)


# Key facts ----------------------------------------------------------------------------------------
def test_no_car_sentence_matches_the_data(brixton, raw):
    ward = value(raw, "no_car_households_pct", "ward2022", BRIXTON)
    borough = value(raw, "no_car_households_pct", "borough", LAMBETH)
    london = value(raw, "no_car_households_pct", "london", schema.LONDON_CODE)
    expected = (f"{fmt_pct(ward, 0)} of households have no car or van, against "
                f"{fmt_pct(borough, 0)} in Lambeth and {fmt_pct(london, 0)} in London "
                f"(Census 2021).")
    assert expected in brixton.facts


def test_every_fact_names_a_source_and_a_period(brixton):
    assert len(brixton.facts) >= 8
    for fact in brixton.facts:
        assert fact.endswith(").") and "(" in fact, fact
        assert any(year in fact for year in ("2019", "2021", "2024", "2026")), fact
        assert "nan" not in fact and "None" not in fact


def test_residents_sentence_and_crime_sentence(brixton, raw):
    residents = value(raw, "usual_residents", "ward2022", BRIXTON)
    households = value(raw, "households", "ward2022", BRIXTON)
    assert brixton.facts[0] == (f"Brixton Windrush has {fmt_number(residents)} residents in "
                                f"{fmt_number(households)} households (usual residents, "
                                f"Census 2021).")
    crime = value(raw, "crime_all_12m", "ward2022", BRIXTON)
    sentence = next(f for f in brixton.facts if "crimes per 1,000" in f)
    assert sentence.startswith(f"{fmt_number(crime, 1)} crimes per 1,000 residents")
    assert "Metropolitan Police" in sentence and "April 2025 to March 2026" in sentence


def test_missing_imd_gives_no_sentence_and_no_data_rows(store, layers, data_dir, raw):
    assert value(raw, "imd_mean_decile", "ward2022", OLYMPIC_PARK) is None
    prof = build(store, layers, data_dir, OLYMPIC_PARK)
    assert not any("most deprived" in f for f in prof.facts)
    for ind in ("imd_mean_decile", "imd_london_20pct_pct", "imd_england_20pct_pct"):
        r = row(prof, ind)
        assert r.ward is None and r.rank is None
        assert r.fmt(r.ward) == "no data" and r.comparison_text == "no data"
        assert r.borough == pytest.approx(value(raw, ind, "borough", "E09000025"))
    cell = spine_cell(SpineRow(ward=None, borough=1.0, benchmark=2.0, low=0.0, q1=1.0, q3=3.0,
                               high=4.0), "none", "no data for this ward")
    assert cell.children == "no data"
    # other indicators still come from the data
    no_car = value(raw, "no_car_households_pct", "ward2022", OLYMPIC_PARK)
    assert row(prof, "no_car_households_pct").ward == pytest.approx(no_car)


def test_city_ward_uses_the_whole_city_and_has_no_crime(store, layers, data_dir, raw):
    prof = build(store, layers, data_dir, ALDERSGATE)
    assert prof.ward.shares_city_figures and prof.ward.stat_code == schema.CITY_CODE
    city = value(raw, "no_car_households_pct", "ward2022", schema.CITY_CODE)
    assert row(prof, "no_car_households_pct").ward == pytest.approx(city)
    crime = row(prof, "crime_all_12m")
    assert crime.ward is None and crime.comparison_text == "no data"
    assert not any("crimes per 1,000" in f for f in prof.facts)
    assert prof.facts[0].startswith("The City of London as a whole has ")
    # no "against X in City of London" (the same number as the ward's)
    assert not any(" in City of London" in f for f in prof.facts)


# Table values, ranks and the benchmark ------------------------------------------------------------
@pytest.mark.parametrize("indicator_id", ["no_car_households_pct", "crime_all_12m",
                                          "imd_mean_decile", "ev_devices_per_100k"])
def test_row_values_and_rank(brixton, raw, indicator_id):
    r = row(brixton, indicator_id)
    units = ward_values(raw, indicator_id)
    assert r.ward == pytest.approx(units[BRIXTON])
    assert r.borough == pytest.approx(value(raw, indicator_id, "borough", LAMBETH))
    assert r.london == pytest.approx(value(raw, indicator_id, "london", schema.LONDON_CODE))
    assert r.rank == int((units > units[BRIXTON]).sum()) + 1
    assert r.dist.count == len(units)
    assert r.rank_text.endswith(f" of {len(units):,}")


def test_directions_follow_polarity(brixton):
    crime = row(brixton, "crime_all_12m")       # polarity -1, ward far above London
    assert (crime.direction, crime.verdict) == ("higher", "worse")
    assert crime.comparison_text == "higher than London (worse)"
    devices = row(brixton, "ev_devices_per_100k")  # polarity +1, ward below London
    assert (devices.direction, devices.verdict) == ("lower", "worse")
    no_car = row(brixton, "no_car_households_pct")  # polarity 0
    assert no_car.verdict == "neutral" and no_car.comparison_text == "higher than London"


def test_counts_compare_with_the_median_ward(brixton, raw):
    r = row(brixton, "usual_residents")
    units = ward_values(raw, "usual_residents")
    assert r.benchmark == pytest.approx(float(units.median()))
    assert r.benchmark_name == "the median London ward"
    assert r.comparison_text == "lower than the median London ward"


# The spine ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("code,indicator_id", [
    (BRIXTON, "no_car_households_pct"), (BRIXTON, "crime_all_12m"),
    (BRIXTON, "ev_devices_per_100k"), (OLYMPIC_PARK, "bad_health_pct"),
    (ALDERSGATE, "deprived_1plus_pct"),
])
def test_spine_positions_match_an_independent_computation(store, layers, data_dir, raw, code,
                                                          indicator_id):
    prof = build(store, layers, data_dir, code)
    r = row(prof, indicator_id)
    units = ward_values(raw, indicator_id)
    stat = prof.ward.stat_code
    london = value(raw, indicator_id, "london", schema.LONDON_CODE)
    polarity = int(raw[1].at[indicator_id, "polarity"])
    half = max(units.max() - london, london - units.min())
    sign = -1 if polarity < 0 else 1

    def expected(x):
        return 0.5 + sign * (x - london) / (2 * half)

    pos = spine_positions(SpineRow(ward=r.ward, borough=r.borough, benchmark=r.benchmark,
                                   low=r.dist.low, q1=r.dist.q1, q3=r.dist.q3, high=r.dist.high,
                                   polarity=r.polarity))
    assert pos.ward == pytest.approx(expected(units[stat]))
    assert pos.borough == pytest.approx(expected(value(raw, indicator_id, "borough",
                                                       prof.ward.borough_code)))
    ends = sorted([expected(units.min()), expected(units.max())])
    band = sorted([expected(units.quantile(0.25)), expected(units.quantile(0.75))])
    assert (pos.range_left, pos.range_right) == pytest.approx(ends)
    assert (pos.band_left, pos.band_right) == pytest.approx(band)
    assert min(ends) >= 0 and max(ends) <= 1 and (0.0 in ends or 1.0 in ends)
    assert pos.mirrored == (polarity < 0)


def test_spine_puts_better_on_the_right():
    worse_high = SpineRow(ward=8, borough=None, benchmark=5, low=0, q1=4, q3=6, high=10,
                          polarity=-1)
    better_high = SpineRow(ward=8, borough=None, benchmark=5, low=0, q1=4, q3=6, high=10,
                           polarity=1)
    assert spine_position(8, worse_high) == pytest.approx(0.5 - 3 / 10)
    assert spine_position(8, better_high) == pytest.approx(0.5 + 3 / 10)
    assert spine_position(5, worse_high) == CENTRE
    flat = SpineRow(ward=2, borough=2, benchmark=2, low=2, q1=2, q3=2, high=2)
    assert spine_positions(flat).ward == CENTRE


def test_spine_cell_draws_every_marker_and_describes_itself():
    cell = spine_cell(SpineRow(ward=8, borough=6, benchmark=5, low=0, q1=4, q3=6, high=10,
                               polarity=1, compare=3), "better", "Ward 8, London 5")
    classes = [c.className for c in cell.children]
    assert classes == ["spine__range", "spine__band", "spine__centre", "spine__borough",
                       "spine__compare", "spine__ward spine__ward--better"]
    assert cell.role == "img" and getattr(cell, "aria-label") == "Ward 8, London 5"
    assert cell.children[-1].style["left"] == "80.00%"
    with pytest.raises(ValueError):
        spine_cell(SpineRow(1, 1, 1, 0, 0, 2, 2), "green", "x")


# Finding wards -----------------------------------------------------------------------------------
def test_ward_lookup_and_labels(layers):
    ward = profile.ward_info(layers, " e05014098 ")
    assert ward.label == "Brixton Windrush — Lambeth (2022 wards)"
    assert ward.area_km2 == pytest.approx(float(
        layers["ward2022"].set_index("code").at[BRIXTON, "area_km2"]))
    assert profile.ward_info(layers, COLDHARBOUR_2011).layer == "ward2011"
    assert profile.ward_info(layers, "E05099999") is None
    assert profile.ward_info(layers, None) is None
    options = profile.search_options(layers)
    assert len(options) == len(layers["ward2022"]) + len(layers["ward2011"])
    first_2011 = next(i for i, o in enumerate(options) if o["label"].endswith("(2011 wards)"))
    assert all(o["label"].endswith("(2022 wards)") for o in options[:first_2011])


def test_suggestions_for_unknown_codes_and_names(layers):
    near = profile.suggestions("E05014099X", layers)
    assert near and near[0].code == "E05014099"
    by_name = [w.name for w in profile.suggestions("brixton windrsh", layers)]
    assert "Brixton Windrush" in by_name
    assert profile.suggestions("", layers) == []
    assert len(profile.suggestions("E0501", layers)) <= profile.MAX_SUGGESTIONS


def test_overlapping_2011_wards(brixton, store, layers, data_dir):
    shares = {o.ward.code: o.share_of_this for o in brixton.overlaps}
    assert all(o.ward.layer == "ward2011" for o in brixton.overlaps)
    assert max(shares, key=shares.get) == COLDHARBOUR_2011
    assert 0.85 <= sum(shares.values()) <= 1.0001
    back = build(store, layers, data_dir, COLDHARBOUR_2011)
    assert BRIXTON in {o.ward.code for o in back.overlaps}
    assert all(r.indicator_id.startswith("wp_") for r in back.rows)
    assert all(o.ward.layer == "ward2022" for o in back.overlaps)


def test_2011_profile_uses_gla_2015_periods(store, layers, data_dir, raw):
    prof = build(store, layers, data_dir, COLDHARBOUR_2011)
    income = row(prof, "wp_median_household_income")
    assert income.ward == pytest.approx(value(raw, "wp_median_household_income", "ward2011",
                                              COLDHARBOUR_2011))
    assert income.period == "2012/13" and income.fmt(income.ward).startswith("£")
    sentence = next(f for f in prof.facts if "median household income" in f)
    assert "GLA ward profiles 2015: Financial year 2012/13" in sentence
    assert prof.trends == [] and prof.ev.per_100k is None


# EV, exports and small helpers ----------------------------------------------------------------------
def test_ev_summary(brixton, data_dir, raw):
    devices = pd.read_parquet(schema.chargepoints_path(data_dir))
    mine = devices[devices["ward2022_code"] == BRIXTON]
    assert brixton.ev.devices_total == len(mine)
    assert brixton.ev.devices_by_speed == {s: int((mine["speed_class"] == s).sum())
                                           for s in schema.SPEED_CLASSES}
    assert brixton.ev.usage["sessions"] == 2 and brixton.ev.usage["kwh"] == pytest.approx(25.0)
    assert brixton.ev.ev_link == f"/ev?borough={LAMBETH}&ward={BRIXTON}"


def test_trends_against_borough_london_and_similar_wards(brixton, raw, data_dir):
    trends = {t.spec.indicator_id: t.frame for t in brixton.trends}
    assert set(trends) == {"ev_public_devices", "ev_plugin_vehicles", "crime_all_monthly"}
    indicators = raw[0]
    vehicles = trends["ev_plugin_vehicles"]
    latest = vehicles[(vehicles["area"] == "ward") & (vehicles["period"] == "2024Q2")]
    expected = indicators[(indicators["indicator_id"] == "ev_plugin_vehicles")
                          & (indicators["code"] == BRIXTON) & (indicators["period"] == "2024Q2")]
    residents = value(raw, "usual_residents", "ward2022", BRIXTON)
    assert latest["value"].iloc[0] == pytest.approx(expected["value"].iloc[0] / residents * 1000)
    assert set(vehicles["area"]) == {"ward", "borough", "london", "similar"}
    # The similar wards' line is the median of their own rates, period by period.
    similar = pd.read_csv(schema.similar_wards_path(data_dir), dtype=str)
    codes = list(similar[(similar["layer"] == "ward2022") & (similar["code"] == BRIXTON)]
                 ["neighbour"])
    crime = indicators[(indicators["indicator_id"] == "crime_all_monthly")
                       & (indicators["layer"] == "ward2022") & indicators["code"].isin(codes)]
    month = crime["period"].max()
    got = trends["crime_all_monthly"]
    got = got[(got["area"] == "similar") & (got["period"] == month)]["value"].iloc[0]
    assert got == pytest.approx(crime[crime["period"] == month]["value"].median())


def test_compare_ward_column_and_export(store, layers, data_dir, raw):
    prof = build(store, layers, data_dir, BRIXTON, compare="E05014095")
    r = row(prof, "no_car_households_pct")
    assert r.compare == pytest.approx(value(raw, "no_car_households_pct", "ward2022",
                                            "E05014095"))
    frame = profile.export_frame(prof)
    assert "Comparison ward: Brixton Acre Lane" in frame.columns
    assert len(frame) == len(prof.rows)
    link = "https://example.org/ward/E05014098?compare=E05014095"
    meta = profile.export_meta(prof, link, dt.datetime(2026, 1, 1, 9, 30))
    text = export.to_csv_bytes(frame, meta).decode("utf-8-sig")
    assert f"# Link: {link}" in text and "# Source: " in text
    table = pd.read_csv(io.StringIO(text.split("\r\n\r\n", 1)[1]))
    got = table.set_index("Indicator id").at["no_car_households_pct", "Ward: Brixton Windrush"]
    assert got == pytest.approx(value(raw, "no_car_households_pct", "ward2022", BRIXTON))
    # a comparison ward from the other vintage is ignored
    other = build(store, layers, data_dir, BRIXTON, compare=COLDHARBOUR_2011)
    assert other.compare is None


def test_indicator_snapshots_agree_with_indicator_values(store):
    ids = ["no_car_households_pct", "crime_all_12m", "ev_plugin_vehicles", "wp_population"]
    for layer in ("ward2022", "borough", "london"):
        table = store.indicator_snapshots(ids, layer)
        for ind in ids:
            one = store.indicator_values(ind, layer)
            mine = table[table["indicator_id"] == ind][["code", "period", "value"]]
            pd.testing.assert_frame_equal(mine.reset_index(drop=True),
                                          one.reset_index(drop=True), check_dtype=False)
    assert store.indicator_snapshots(["no_such_indicator"], "ward2022").empty
    with pytest.raises(ValueError):
        store.indicator_snapshots(ids, "county")


def test_short_periods_and_recent_list():
    assert profile.short_period("2025-04 to 2026-03") == "Apr 2025 to Mar 2026"
    assert profile.short_period("2024Q2") == "2024 Q2"
    assert profile.short_period("2011/12 to 2013/14") == "2011/12 to 2013/14"
    assert profile.remember(["A", "B", "C"], "B") == ["B", "A", "C"]
    assert profile.remember(list("ABCDE"), "F") == list("FABCD")
    assert profile.remember(None, "A") == ["A"]


def test_trend_chart_reads_without_colour():
    lines = [Line("ward", "Ward", ["2023Q4", "2024Q2"], [1.0, 2.0]),
             Line("borough", "Borough", ["2023Q4", "2024Q2"], [3.0, None])]
    fig = trend_chart(lines, unit="per 1,000 residents")
    dashes = {t.line.dash for t in fig.data}
    assert len(dashes) == 2
    assert [a.text for a in fig.layout.annotations] == ["Ward", "Borough"]
    assert list(fig.data[0].x) == ["2023-10-01", "2024-04-01"]
    assert fig.layout.width and not fig.layout.autosize


def test_pdf_is_offered_only_where_the_server_can_print(monkeypatch):
    from dashboard.core import pdf

    monkeypatch.setattr(pdf, "CHROMIUM", "/nonexistent/chromium")
    assert pdf.available() is False
    with pytest.raises(pdf.PdfError, match="no browser"):
        pdf.render("http://127.0.0.1:1/ward/E05014109", "E05014109", "http://127.0.0.1:1")
