"""Residents' needs logic: ranks, percentiles, classes and colours, checked by hand on small cases
and against values recomputed here with pandas straight from the processed data."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dashboard.views.needs import model as needs
from dashboard.data import schema
from dashboard.core.config import Config
from dashboard.domain.state import Known
from dashboard.data.store import Store

LAMBETH = "E09000022"
CLAPHAM_EAST = "E05014100"        # a Lambeth ward (2022 boundaries)
STREATHAM_WELLS = "E05014116"
CITY = schema.CITY_CODE
NAN = float("nan")


# Ranks and percentiles on hand-made values ------------------------------------------------------
def test_rank_puts_most_need_first_and_ties_share_the_best_rank():
    values = [3.0, 1.0, 3.0, 2.0, NAN]
    # higher is worse: 3 and 3 share 1st, then 2 is 3rd (2nd is skipped), 1 is 4th
    assert needs.rank(values, -1).tolist()[:4] == [1, 4, 1, 3]
    # higher is better: the lowest value has the most need
    assert needs.rank(values, +1).tolist()[:4] == [3, 1, 3, 2]
    # neutral: ranked from the highest value, like -1
    assert needs.rank(values, 0).tolist()[:4] == [1, 4, 1, 3]
    assert math.isnan(needs.rank(values, -1)[4])


def test_ties_count_the_other_areas_sharing_a_value():
    assert needs.ties([3.0, 1.0, 3.0, 2.0, NAN]).tolist() == [1, 0, 1, 0, 0]


def test_percentile_is_the_share_of_other_areas_with_strictly_less_need():
    values = [10.0, 20.0, 20.0, 30.0, NAN]
    worse = needs.percentile(values, -1)
    assert worse[:4] == pytest.approx([0, 100 / 3, 100 / 3, 100])
    better = needs.percentile(values, +1)
    assert better[:4] == pytest.approx([100, 100 / 3, 100 / 3, 0])
    assert math.isnan(worse[4])
    assert np.isnan(needs.percentile([5.0], -1)).all()  # one area: nothing to compare with


def test_need_and_provision_scores_point_the_right_way():
    assert needs.need_score([1, 2], +1).tolist() == [-1, -2]
    assert needs.need_score([1, 2], -1).tolist() == [1, 2]
    assert needs.provision_score([1, 2], -1).tolist() == [-1, -2]   # vehicles per device
    assert needs.provision_score([1, 2], +1).tolist() == [1, 2]     # devices per 100k


# Classes ----------------------------------------------------------------------------------------
def test_quantile_breaks_ignore_missing_values_and_match_numpy():
    values = [5.0, NAN, 1.0, 9.0, 3.0, 7.0, NAN, 2.0, 8.0, 4.0, 6.0, 10.0]
    finite = [v for v in values if not math.isnan(v)]
    expected = np.quantile(finite, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert needs.quantile_breaks(values) == pytest.approx(expected.tolist())


def test_quantile_breaks_merge_when_many_areas_share_a_value():
    values = [0.0] * 6 + [1.0, 2.0, 3.0, 4.0]   # the 20% and 40% quantiles are both 0
    edges = needs.quantile_breaks(values)
    assert edges[0] == 0 and edges[-1] == 4
    assert len(edges) < 6 and edges == sorted(set(edges))


def test_equal_breaks_split_the_range_evenly():
    assert needs.equal_breaks([0.0, NAN, 10.0, 3.0]) == pytest.approx([0, 2, 4, 6, 8, 10])
    assert needs.equal_breaks([4.0, 4.0]) == [4.0, 4.0]
    assert needs.equal_breaks([NAN]) == []
    assert needs.quantile_breaks([]) == []


def test_classify_puts_limits_in_the_class_above_and_the_maximum_in_the_last():
    edges = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    got = needs.classify([0.0, 1.99, 2.0, 9.0, 10.0, NAN], edges).tolist()
    assert got == [0, 0, 1, 4, 4, -1]
    assert needs.classify([1.0], []).tolist() == [-1]


def test_polarity_flips_the_colour_direction():
    worse = needs.class_colours(5, -1)     # higher is worse: darkest for the highest class
    better = needs.class_colours(5, +1)    # higher is better: darkest for the lowest class
    assert better == worse[::-1]
    darkest = needs.NEED_COLOURS[-1]
    assert worse[-1] == darkest and better[0] == darkest
    neutral = needs.class_colours(5, 0)
    assert not set(neutral) & set(needs.NEED_COLOURS)   # a different, neutral palette
    assert len(needs.class_colours(3, -1)) == 3


def test_class_labels_use_the_indicator_decimals():
    assert needs.class_labels([0.0, 2.25, 10.0], 1) == ["0.0 to 2.3", "2.3 to 10.0"]


# Words ------------------------------------------------------------------------------------------
def test_rank_and_percentile_phrases():
    assert needs.rank_text(48, 680, -1) == "48th of 680 areas"
    assert needs.rank_text(48, 680, 0) == "48th highest of 680 areas"
    assert needs.rank_text(3, 33, 1, tied=1, noun="boroughs") == "joint 3rd of 33 boroughs"
    assert needs.rank_text(None, 680, -1) == "not ranked (no data)"
    assert needs.percentile_text(93.14, -1) == "More need than 93% of the other areas"
    assert needs.percentile_text(50, 0, "boroughs") == (
        "A higher value than 50% of the other boroughs")


def test_period_and_value_text():
    assert needs.period_text("2026-03") == "March 2026"
    assert needs.period_text("2024Q2") == "2024 Q2"
    assert needs.period_text("2025-04 to 2026-03") == "April 2025 to March 2026"
    assert needs.period_text("2009-13") == "2009-13"
    assert needs.value_text(53.14, "% of households", 1) == "53.1%"
    assert needs.value_text(150.84, "per 100,000 residents", 1) == "150.8 per 100,000 residents"
    assert needs.value_text(1234, "count", 0) == "1,234"
    assert needs.number_text(None, "%", 1) == "no data"


# Need against provision -------------------------------------------------------------------------
def test_flag_needs_high_need_and_low_provision():
    x = [10.0, 20.0, 30.0, 40.0, 50.0, NAN]      # need, higher is worse
    y = [5.0, 4.0, 3.0, 2.0, 1.0, NAN]           # provision, higher is better
    out = needs.flag(x, -1, y, +1, need_pct=75, provision_pct=25)
    # need percentiles 0, 25, 50, 75, 100; provision percentiles 100, 75, 50, 25, 0
    assert out["flagged"].tolist() == [False, False, False, True, True, False]
    # with x where higher is better, low x is high need
    flipped = needs.flag([-v for v in x], +1, y, +1, need_pct=75, provision_pct=25)
    assert flipped["flagged"].tolist() == out["flagged"].tolist()


# The page's URL parameters ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def catalogue(data_dir) -> dict:
    return needs.indicators(pd.read_csv(schema.catalogue_path(data_dir), dtype=str))


def test_view_parameters_round_trip(catalogue):
    crimes = needs.crime_categories(catalogue)
    view = needs.View(classes="equal", x="imd_england_20pct_pct", y="ev_devices_per_100k",
                      need=90, prov=10, crime="burglary")
    query = needs.view_query(view)
    parsed, notes = needs.parse_view(dict(p.split("=") for p in query.split("&")), catalogue,
                                     crimes)
    assert parsed == view and notes == []
    assert needs.view_query(needs.View()) == ""
    assert parsed.preset == "fairness"


def test_bad_view_parameters_fall_back_with_a_message(catalogue):
    crimes = needs.crime_categories(catalogue)
    view, notes = needs.parse_view({"classes": "jenks", "x": "wp_crime_rate", "need": "500",
                                    "crime": "<script>"}, catalogue, crimes)
    assert view == needs.View()
    assert len(notes) == 4 and all(n.level == "warning" for n in notes)
    assert all("<script>" not in n.text for n in notes)


def test_crime_categories_start_with_all_crime(catalogue):
    crimes = needs.crime_categories(catalogue)
    assert next(iter(crimes)) == "all" and crimes["burglary"] == "Burglary"


def test_picker_labels_name_the_theme_and_the_2011_vintage(catalogue):
    options = needs.picker_options(catalogue)
    labels = {o["value"]: o["label"] for o in options}
    assert labels["deprived_1plus_pct"].startswith("Deprivation — ")
    assert labels["wp_crime_rate"].endswith("(2011 wards)")
    assert len(options) == len(catalogue)
    values = [o["value"] for o in options]
    assert values.index("crime_burglary_12m") < values.index("crime_burglary_monthly")
    on_2022 = {o["value"] for o in needs.picker_options(catalogue, "ward2022")}
    assert on_2022 == {i for i, ind in catalogue.items() if ind.layer == "ward2022"}


# Against the processed data ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(data_dir, tmp_path_factory):
    """The real processed data, without simulated sessions (not needed here)."""
    empty = tmp_path_factory.mktemp("no-sessions")
    s = Store(Config(data_dir=data_dir, cache_dir=empty), sessions=empty)
    yield s
    s.close()


@pytest.fixture(scope="module")
def data(store):
    return needs.NeedsData(store)


@pytest.fixture(scope="module")
def raw(data_dir):
    """The indicators table and 2022 ward layer, read with pandas only."""
    indicators = pd.read_parquet(schema.indicators_path(data_dir))
    wards = pd.read_parquet(schema.layer_path(data_dir, "ward2022"),
                            columns=["code", "name", "borough_code", "stat_code"])
    return indicators, wards


def _expected(raw, indicator_id, period, polarity, code):
    """Rank and percentile of one unit recomputed directly: rank = 1 + areas with more need,
    percentile = areas with less need / (other areas with data)."""
    indicators, wards = raw
    rows = indicators[(indicators["indicator_id"] == indicator_id)
                      & (indicators["layer"] == "ward2022") & (indicators["period"] == period)]
    units = set(wards["stat_code"])
    values = rows[rows["code"].isin(units)].set_index("code")["value"].dropna()
    v = values[code]
    if polarity > 0:
        more, less = (values < v).sum(), (values > v).sum()
    else:
        more, less = (values > v).sum(), (values < v).sum()
    return v, 1 + more, 100 * less / (len(values) - 1), len(values)


@pytest.mark.parametrize("indicator_id, polarity", [
    ("deprived_1plus_pct", -1), ("ev_devices_per_100k", +1), ("no_car_households_pct", 0),
])
@pytest.mark.parametrize("ward", [CLAPHAM_EAST, STREATHAM_WELLS])
def test_ward_rank_and_percentile_match_the_data(data, raw, indicator_id, polarity, ward):
    ranked = data.ranked(indicator_id)
    assert ranked.indicator.polarity == polarity
    value, rank, pct, n = _expected(raw, indicator_id, ranked.period, polarity, ward)
    row = ranked.table.set_index("code").loc[ward]
    assert row["value"] == pytest.approx(value)
    assert row["rank"] == rank
    assert row["percentile"] == pytest.approx(pct)
    assert ranked.ranked_count == n == 680   # the City's 25 wards count once


def _known(store) -> Known:
    layers = {layer: store.layer_table(layer) for layer in schema.LAYERS}
    return Known.from_layers(layers, ("2024-04", "2026-03"))


@pytest.mark.parametrize("indicator_id", ["deprived_1plus_pct", "ev_devices_per_100k"])
def test_lambeth_against_london_matches_the_data(store, data, raw, indicator_id):
    indicators, _ = raw
    ranked = data.ranked(indicator_id)
    known = _known(store)
    state = known.defaults().replace(borough=LAMBETH, ward=CLAPHAM_EAST)
    ward, borough, london = needs.context(data, ranked, state, known)
    rows = indicators[(indicators["indicator_id"] == indicator_id)
                      & (indicators["period"] == ranked.period)]
    boroughs = rows[rows["layer"] == "borough"].set_index("code")["value"]
    london_value = rows.loc[rows["layer"] == "london", "value"].iloc[0]
    assert (ward.role, borough.role, london.role) == ("ward", "borough", "london")
    assert borough.value == pytest.approx(boroughs[LAMBETH])
    assert london.value == pytest.approx(london_value)
    lambeth = boroughs[LAMBETH]
    polarity = ranked.indicator.polarity
    more = (boroughs < lambeth).sum() if polarity > 0 else (boroughs > lambeth).sum()
    assert borough.rank == 1 + more and borough.total == len(boroughs) == 33
    assert "Clapham East" in ward.place


def test_city_wards_share_the_city_value_and_count_once(data, raw):
    indicators, wards = raw
    ranked = data.ranked("deprived_1plus_pct")
    city = ranked.table[ranked.table["code"] == CITY]
    assert len(city) == 1 and int(city["wards"].iloc[0]) == 25
    assert city["name"].iloc[0] == "City of London"
    assert data.wards_of_unit("ward2022", CITY) == sorted(
        wards.loc[wards["borough_code"] == CITY, "code"])
    assert data.unit_of("ward2022", "E05009288") == CITY     # Aldersgate reports as the City


def test_crime_has_no_city_value_and_ranks_679_areas(data):
    ranked = data.ranked("crime_all_12m")
    assert ranked.ranked_count == 679
    assert math.isnan(ranked.table.set_index("code").at[CITY, "rank"])


def test_2011_indicators_rank_625_wards(data):
    ranked = data.ranked("wp_crime_rate")
    assert ranked.indicator.layer == "ward2011"
    assert len(ranked.table) == 625 and ranked.period == "2014/15"


def test_series_indicators_rank_the_default_period(data):
    assert data.ranked("ev_plugin_vehicles").period == "2024Q2"
    assert data.ranked("crime_burglary_monthly").period == "2026-03"


def test_unknown_indicator_falls_back_to_the_default(data):
    assert data.indicator("no_such_thing").id == needs.DEFAULT_INDICATOR


def test_switching_to_a_2011_indicator_moves_the_map_and_clears_the_ward(store, data):
    known = _known(store)
    state = known.defaults().replace(borough=LAMBETH, ward=CLAPHAM_EAST)
    moved, notes = needs.align_layer(state, known, data.indicator("wp_crime_rate"))
    assert moved.ward_layer == "ward2011" and moved.ward is None and moved.borough == LAMBETH
    assert len(notes) == 1 and "Clapham East" in notes[0].text
    same, none = needs.align_layer(state, known, data.indicator("deprived_1plus_pct"))
    assert same == state and none == []


def test_ranking_rows_show_top_and_bottom_20_and_the_selection(data):
    ranked = data.ranked("deprived_1plus_pct")
    middle = ranked.table.sort_values("rank").iloc[300]["code"]
    rows = needs.ranking_rows(ranked, None, middle)
    assert len(rows) == 41 and middle in set(rows["code"])
    assert rows["pos"].iloc[0] == 0 and rows["pos"].iloc[-1] == 679
    lambeth = needs.ranking_rows(ranked, LAMBETH, None)
    assert len(lambeth) == 25 and lambeth["rank"].is_monotonic_increasing


def test_table_rows_sort_by_any_column_with_missing_values_last(data):
    ranked = data.ranked("crime_all_12m")
    rows = needs.table_rows(ranked, None, "value", descending=True)
    assert rows["value"].iloc[:-1].is_monotonic_decreasing
    assert rows["code"].iloc[-1] == CITY          # no Met Police data for the City
    by_name = needs.table_rows(ranked, LAMBETH, "name")
    assert by_name["name"].tolist() == sorted(by_name["name"].tolist())


def test_export_frame_has_one_row_per_area_and_states_the_rank_direction(data):
    ranked = data.ranked("ev_devices_per_100k")
    frame = needs.export_frame(ranked, LAMBETH)
    assert len(frame) == 25
    assert "Rank (1 = most need)" in frame.columns
    assert frame["Period"].unique().tolist() == ["2024"]
    neutral = needs.export_frame(data.ranked("usual_residents"), None)
    assert "Rank (1 = highest)" in neutral.columns and len(neutral) == 680


def test_provision_flags_and_thresholds_agree(data):
    prov = needs.provision(data, "imd_england_20pct_pct", "ev_devices_per_100k", 80, 20)
    t = prov.table
    assert len(t) == 680
    flagged = t[t["flagged"]]
    assert (flagged["need_pct"] >= 80).all() and (flagged["provision_pct"] <= 20).all()
    x_cut, y_cut = needs.thresholds(prov, 80, 20)
    assert x_cut.above and (flagged["x"] >= x_cut.value).all()
    assert not y_cut.above and (flagged["y"] <= y_cut.value).all()


def test_series_follow_the_period_and_list_ward_borough_london(store, data):
    known = _known(store)
    state = known.defaults().replace(borough=LAMBETH, ward=CLAPHAM_EAST)
    areas = needs.series_areas(data, state, known, "ward2022")
    assert [a[1] for a in areas] == [CLAPHAM_EAST, LAMBETH, schema.LONDON_CODE]
    frame = needs.series_frame(data, "crime_all_monthly", areas, "2025-01", "2025-06")
    assert sorted(frame["period"].unique()) == [f"2025-0{m}" for m in range(1, 7)]
    assert frame.groupby("code").size().tolist() == [6, 6, 6]
