"""Figures of the Residents' needs page, built from small hand-made tables: what a reader sees
(colours by need, the selection, reference lines, flags) and what a patch sends."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from dash import Patch
from dash._utils import to_json

from dashboard.views.needs import model as needs
from dashboard.figures import needs as figs

URL22, URL11, BOROUGH_URL = "/geo/ward2022.a.json", "/geo/ward2011.b.json", "/geo/borough.c.json"


def _indicator(polarity: int, **extra) -> needs.Indicator:
    fields = dict(id="test", title="Households deprived", theme="Deprivation",
                  unit="% of households", polarity=polarity, definition="d", source="s",
                  licence="OGL v3.0", period_label="2021", layer="ward2022", method="native",
                  kind="snapshot", default_period="2021", decimals=1)
    fields.update(extra)
    return needs.Indicator(**fields)


# Ten map wards; W9 and W10 report under one unit "C" (like the City of London).
CODES = [f"W{i}" for i in range(1, 11)]
STATS = CODES[:8] + ["C", "C"]
UNIT_VALUES = pd.Series([10.0, 20, 30, 40, 50, 60, 70, np.nan, 90.0],
                        index=CODES[:8] + ["C"])


def _classes(polarity: int, method: str = "quantile") -> figs.MapClasses:
    return figs.map_classes(CODES, STATS, UNIT_VALUES, _indicator(polarity), "2021", method)


def _colour_of(fig_trace, z: int) -> str:
    """The colour the stepped colorscale gives class ``z``."""
    return fig_trace.colorscale[2 * z][1]


def test_wards_of_one_unit_share_its_value_and_missing_values_are_grey():
    classes = _classes(-1)
    assert classes.values[8] == classes.values[9] == 90.0
    assert classes.z[8] == classes.z[9] == classes.z[-1]
    assert classes.missing == ["W8"]
    assert sum(classes.counts) == 8      # units with a value, the shared unit once


@pytest.mark.parametrize("polarity", [-1, +1])
def test_the_darkest_colour_always_marks_the_most_need(polarity):
    fig = figs.need_map(URL22, BOROUGH_URL, _classes(polarity))
    trace = fig.data[figs.VALUES]
    lowest_ward, highest_ward = 0, 8                       # values 10 and 90
    low = _colour_of(trace, _classes(polarity).z[lowest_ward])
    high = _colour_of(trace, _classes(polarity).z[highest_ward])
    darkest = needs.NEED_COLOURS[-1]
    if polarity < 0:      # higher is worse: the highest value is darkest
        assert high == darkest and low == needs.NEED_COLOURS[0]
    else:                 # higher is better: the lowest value is darkest
        assert low == darkest and high == needs.NEED_COLOURS[0]


def test_neutral_indicators_use_the_neutral_palette():
    trace = figs.need_map(URL22, BOROUGH_URL, _classes(0)).data[figs.VALUES]
    assert {c for _, c in trace.colorscale} <= set(needs.NEUTRAL_COLOURS)


def test_the_legend_states_unit_period_and_class_breaks():
    classes = _classes(-1, "equal")
    bar = figs.need_map(URL22, BOROUGH_URL, classes).data[figs.VALUES].colorbar
    assert "% of households" in bar.title.text and "2021" in bar.title.text
    assert list(bar.ticktext) == classes.labels
    assert classes.labels[0] == "10.0 to 26.0" and classes.labels[-1] == "74.0 to 90.0"


def test_the_map_takes_geometry_by_url_and_names_from_it():
    fig = figs.need_map(URL22, BOROUGH_URL, _classes(-1), selected=["W3"], outline=["B1"],
                        faded=["B2", "B3"])
    values = fig.data[figs.VALUES]
    assert values.geojson == URL22 and fig.data[figs.OUTLINE].geojson == BOROUGH_URL
    assert values.text is None and "%{properties.name}" in values.hovertemplate
    assert list(fig.data[figs.SELECTED].locations) == ["W3"]
    assert list(fig.data[figs.MISSING].locations) == ["W8"]
    veil = fig.data[figs.FADE]
    assert veil.geojson == BOROUGH_URL and list(veil.locations) == ["B2", "B3"]


def test_a_place_change_sends_a_few_borough_codes_and_the_view():
    ops, size = _operations(figs.patch_place(Patch(), faded=[f"E0900{i:04d}" for i in range(32)],
                                             outline=["E09000022"], centre={"lon": 0, "lat": 51},
                                             zoom=11.0, uirevision="E09000022"))
    assert ops[(figs.OUTLINE, "locations")] == ["E09000022"]
    assert len(ops[(figs.FADE, "locations")]) == 32
    assert size < 1_500


def _ward_classes(n: int) -> figs.MapClasses:
    codes = [f"E05{i:06d}" for i in range(n)]
    values = pd.Series(np.random.default_rng(1).uniform(0, 100, n), index=codes)
    return figs.map_classes(codes, codes, values, _indicator(-1), "2021", "quantile")


def _operations(patch: Patch) -> tuple[dict, int]:
    """{(trace, property): value} of the patch's assignments, and its size in bytes."""
    text = to_json(patch)
    ops = json.loads(text)["operations"]
    return {tuple(op["location"][1:]): op["params"]["value"] for op in ops}, len(text.encode())


def test_an_indicator_change_sends_values_only():
    ops, size = _operations(figs.patch_values(Patch(), _ward_classes(704)))
    assert not any(key[-1] == "geojson" for key in ops)
    assert (figs.VALUES, "locations") not in ops       # same wards: codes are not resent
    assert len(ops[(figs.VALUES, "z")]) == 704
    assert size < 20_000


def test_a_boundary_switch_sends_the_new_url_and_codes_within_20_kb():
    classes = _ward_classes(625)
    ops, size = _operations(figs.patch_values(Patch(), classes, geojson_url=URL11))
    assert ops[(figs.VALUES, "geojson")] == URL11 == ops[(figs.SELECTED, "geojson")]
    assert ops[(figs.VALUES, "locations")] == classes.codes
    assert size < 20_000


def _ranked(n: int = 60) -> needs.Ranked:
    rng = np.random.default_rng(2)
    table = pd.DataFrame({
        "code": [f"U{i:02d}" for i in range(n)], "name": [f"Area {i}" for i in range(n)],
        "borough_code": ["B1" if i < 10 else "B2" for i in range(n)],
        "borough_name": ["One" if i < 10 else "Two" for i in range(n)], "wards": 1,
        "value": rng.uniform(0, 100, n),
    })
    table["rank"] = needs.rank(table["value"], -1)
    table["tied"] = needs.ties(table["value"])
    table["percentile"] = needs.percentile(table["value"], -1)
    return needs.Ranked(_indicator(-1), "2021", table)


def test_ranking_highlights_the_selection_and_marks_the_gap():
    ranked = _ranked()
    middle = ranked.table.sort_values("rank")["code"].iloc[30]
    rows = needs.ranking_rows(ranked, None, middle)
    fig = figs.ranking_chart(rows, ranked.indicator, selected=middle, borough=None,
                             london=50.0, borough_value=None, borough_name=None)
    bars = fig.data[0]
    labels = list(bars.y)
    chosen = labels.index(next(label for label in labels if "▶" in label))
    assert bars.customdata[chosen] == middle
    assert bars.marker.color[chosen] == figs.INK
    assert sum(1 for c in bars.marker.color if c == figs.INK) == 1
    assert sum("not shown" in label for label in labels) == 2   # above and below the selection
    assert fig.layout.shapes[0].x0 == 50.0                      # the London line
    assert any(t.name == "London: 50.0%" for t in fig.data[1:])


def test_ranking_puts_the_most_need_at_the_top():
    ranked = _ranked()
    rows = needs.ranking_rows(ranked, "B1", None)
    fig = figs.ranking_chart(rows, ranked.indicator, selected=None, borough="B1", london=50.0,
                             borough_value=40.0, borough_name="One")
    assert fig.layout.yaxis.autorange == "reversed"
    assert list(fig.data[0].x) == sorted(fig.data[0].x, reverse=True)   # polarity -1
    assert [s.x0 for s in fig.layout.shapes] == [50.0, 40.0]


def test_strip_marks_the_borough_and_the_selected_area():
    ranked = _ranked()
    chosen = "U03"
    fig = figs.strip_chart(ranked.table, ranked.indicator, borough="B1", borough_name="One",
                           selected=chosen, london=50.0, borough_value=40.0)
    others, borough, selected = fig.data[:3]
    assert len(others.x) == 50 and len(borough.x) == 9 and len(selected.x) == 1
    assert selected.x[0] == pytest.approx(ranked.table.set_index("code").at[chosen, "value"])
    assert "more need →" in fig.layout.xaxis.title.text
    flipped = figs.strip_chart(ranked.table, _indicator(+1), borough=None, borough_name=None,
                               selected=None, london=None, borough_value=None)
    assert "← more need" in flipped.layout.xaxis.title.text


def _provision() -> needs.Provision:
    x = _ranked()
    y_table = x.table.copy()
    y_table["value"] = 100 - x.table["value"].to_numpy() * 0.5
    y = needs.Ranked(_indicator(+1, title="Devices per 100,000", unit="per 100,000 residents"),
                     "2024", y_table)
    table = x.table[["code", "name", "borough_code", "borough_name", "wards"]].copy()
    table["x"], table["y"] = x.table["value"], y_table["value"]
    flags = needs.flag(table["x"], -1, table["y"], +1, 80, 20)
    return needs.Provision(x, y, pd.concat([table, flags], axis=1))


def test_scatter_shows_every_flagged_ward_as_an_orange_diamond():
    prov = _provision()
    x_cut, y_cut = needs.thresholds(prov, 80, 20)
    fig = figs.scatter_chart(prov, borough="B1", borough_name="One", selected="U01",
                             x_cut=x_cut, y_cut=y_cut)
    wards = fig.data[figs.WARDS]
    diamonds = {c for c, s in zip(wards.customdata, wards.marker.symbol) if s == "diamond"}
    orange = {c for c, k in zip(wards.customdata, wards.marker.color) if k == 1}
    assert diamonds == orange == set(prov.table.loc[prov.table["flagged"], "code"])
    assert diamonds                                             # the example flags some wards
    blue = {c for c, k in zip(wards.customdata, wards.marker.color) if k == 2}
    assert blue == {f"U{i:02d}" for i in range(10)} - diamonds   # the borough's other wards
    assert {s.type for s in fig.layout.shapes} == {"line"} and len(fig.layout.shapes) == 2
    assert list(fig.data[figs.SELECTED_POINT].customdata) == ["U01"]
    assert [t.name for t in fig.data[1:4]] == ["Other wards", "High need, low provision",
                                               "One wards"]


def test_a_place_change_patches_the_scatter_markers_only():
    prov = _provision()
    ops, size = _operations(figs.patch_scatter_place(Patch(), prov, borough="B2",
                                                     borough_name="Two", selected="U20"))
    assert (figs.WARDS, "x") not in ops and (figs.WARDS, "text") not in ops
    colours = ops[(figs.WARDS, "marker", "color")]
    assert sum(c == 2 for c in colours) == 50 - int(prov.table["flagged"][10:].sum())
    assert ops[(figs.SELECTED_POINT, "customdata")] == ["U20"]
    assert size < 2_000


def test_flag_map_draws_flags_and_greys_missing_wards():
    fig = figs.flag_map(URL22, BOROUGH_URL, ["A", "B", "C"], [1, 0, None])
    assert list(fig.data[figs.VALUES].z) == [1, 0, None]
    assert list(fig.data[figs.MISSING].locations) == ["C"]
    patch = json.loads(to_json(figs.patch_flags(Patch(), ["A", "B", "C"], [0, 0, 1])))
    assert len(json.dumps(patch)) < 2_000


def test_series_lines_per_area_with_periods_in_words():
    frame = pd.DataFrame({"area": ["Ward"] * 2 + ["Borough"] * 2 + ["London"] * 2,
                          "code": "x", "period": ["2025-01", "2025-02"] * 3,
                          "value": [1.0, 2, 3, 4, 5, 6]})
    fig = figs.series_chart(frame, _indicator(-1), title="t")
    assert [t.name for t in fig.data] == ["Ward", "Borough", "London"]
    assert fig.data[2].line.dash == "dash"
    assert list(fig.data[0].customdata) == ["January 2025", "February 2025"]
    assert figs.period_date("2024Q2").isoformat() == "2024-04-01"
    assert figs.period_date("2019").isoformat() == "2019-01-01"
    empty = figs.series_chart(frame.iloc[0:0], _indicator(-1), title="t")
    assert "No data" in empty.layout.annotations[0].text
