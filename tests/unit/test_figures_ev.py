"""Figure builders of the EV page (dashboard.figures.ev): pure functions, no server."""
from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
from plotly.utils import PlotlyJSONEncoder
import pytest
from dash import Patch

from dashboard.figures import MapValues
from dashboard.figures import ev as figs

URL = "/geo/ward2022.abc.json"


def _decode(spec: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))


def _ops(patch: Patch) -> dict:
    """Patch operations keyed by their location."""
    return {tuple(op["location"]): op["params"].get("value")
            for op in patch.to_plotly_json()["operations"]}


def _size(obj) -> int:
    """Bytes of JSON sent to the browser."""
    if isinstance(obj, Patch):
        obj = obj.to_plotly_json()
    return len(json.dumps(obj, cls=PlotlyJSONEncoder))


def _values(n: int = 25) -> MapValues:
    return MapValues(codes=[f"E05{i:06d}" for i in range(n)], values=list(np.arange(n) * 1.0),
                     label="Sessions (simulated)", unit="sessions")


def _series(months: int = 12, devices: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "period": pd.date_range("2025-04-01", periods=months, freq="MS").date,
        "devices": devices, "sessions": np.arange(months) * 10.0,
        "kwh": np.arange(months) * 70.0, "time_utilisation": [0.25] * months,
        "energy_utilisation": [None] * months,
    })


# Typed arrays and device selections ---------------------------------------------------------------
def test_typed_arrays_round_trip_little_endian():
    spec = figs.typed([1.5, -0.25, 51.5], "f4")
    assert spec["dtype"] == "f4"
    assert list(_decode(spec)) == [1.5, -0.25, 51.5]
    assert list(_decode(figs.typed([1, 32000], "i2"))) == [1, 32000]


@pytest.mark.parametrize("rows", [[3, 1, 700], list(range(0, 6000, 2))])
def test_selection_round_trips_as_rows_or_bits(rows):
    sel = figs.selection(rows, 6438, names=[f"n{r}" for r in rows])
    assert ("rows" in sel) == (len(rows) * 16 < 6438)
    assert list(figs.selected_rows(sel, 6438)) == sorted(rows)
    assert sel["count"] == len(rows)
    if len(rows) <= figs.NAMES_LIMIT:  # names follow row order, for hover labels
        assert sel["names"] == [f"n{r}" for r in sorted(rows)]
    else:
        assert "names" not in sel


def test_big_selections_stay_small():
    """Measured as Dash writes a response (its JSON escapes "/" as six characters)."""
    from plotly.io.json import to_json_plotly

    everything = figs.selection(range(6438), 6438)
    assert len(to_json_plotly(everything)) < 1200  # one bit per device
    westminster = figs.selection(range(0, 6438, 5), 6438)
    assert len(to_json_plotly(westminster)) < 1200


def test_device_points_hold_every_device_once():
    devices = pd.DataFrame({"lon": [-0.1, 0.05, -0.3], "lat": [51.5, 51.4, 51.6],
                            "speed_class": ["ultra", "slow", None]})
    points = figs.device_points(devices)
    lon = np.frombuffer(base64.urlsafe_b64decode(points["lon"]), dtype="<f4")
    speed = np.frombuffer(base64.urlsafe_b64decode(points["speed"]), dtype="u1")
    assert lon == pytest.approx([-0.1, 0.05, -0.3])
    assert [figs.SPEEDS[k] for k in speed] == ["ultra", "slow", "unknown"]
    assert points["traces"] == [figs.POINT_TRACES[s] for s in figs.SPEEDS]
    rings = dict(zip(figs.SPEEDS, points["ringSizes"]))
    assert rings["slow"] == 0 and rings["ultra"] == figs.SPEED_STYLES["ultra"].size + figs.RING


# The map -----------------------------------------------------------------------------------------
def test_device_map_takes_geometry_by_url_and_has_fixed_traces():
    fig = figs.device_map(URL, _values(), map_style="white-bg",
                          outline_url="/geo/borough.json", outline_codes=["E09000022"],
                          selected=[], centre=None, zoom=None, uirevision="x",
                          device={"lon": -0.1, "lat": 51.5})
    assert fig.data[0].geojson == URL
    # Ward names come with the geometry (each feature's "name"), not with the values.
    assert fig.data[0].text is None and "%{properties.name}" in fig.data[0].hovertemplate
    assert fig.layout.map.style == "white-bg"
    assert fig.data[figs.DEVICE_TRACE].name == "Selected device"
    assert list(fig.data[figs.DEVICE_TRACE].lon) == [-0.1]
    assert fig.data[figs.RING_TRACE].name.startswith("Black ring")
    for speed, trace in figs.POINT_TRACES.items():
        assert fig.data[trace].name == figs.SPEED_STYLES[speed].label
        assert fig.data[trace].type == "scattermap"
    # Size, not only colour, tells speeds apart.
    sizes = [figs.SPEED_STYLES[s].size for s in ("slow", "fast", "rapid", "ultra")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


def test_map_patch_sends_values_never_geometry():
    patch = figs.patch_device_map(_values(), selected=["E05000003"], codes=True,
                                  outline_codes=["E09000022"], centre={"lon": 0, "lat": 51},
                                  zoom=11, uirevision="b", device=None)
    ops = _ops(patch)
    assert ("data", 0, "z") in ops and ("data", 2, "locations") in ops
    assert not any("geojson" in key for key in ops)
    assert ops[("data", figs.DEVICE_TRACE, "lon")] == []
    assert _size(patch) < 3000


def test_map_patch_after_a_filter_change_sends_float32_values_only():
    """The same borough, new period: values as float32, no ward codes or names, no view."""
    patch = figs.patch_device_map(_values(700), device=None)
    ops = _ops(patch)
    assert ("data", 0, "locations") not in ops and ("data", 0, "text") not in ops
    assert not any(key[0] == "layout" for key in ops)
    z = ops[("data", 0, "z")]
    assert z["dtype"] == "f4" and list(_decode(z)) == list(range(700))
    assert _size(patch) < 4500  # 700 wards: ~3.7 KB of values
    new_place = _ops(figs.patch_device_map(_values(), codes=True, device=None))
    assert new_place[("data", 0, "locations")] == list(_values().codes)
    assert ("data", 0, "text") not in new_place


def test_map_values_stay_exact_to_their_decimals():
    big = MapValues(codes=["a", "b"], values=[123_456_789.0, float("nan")], label="kWh")
    z = figs.ward_values(big)
    assert z["dtype"] == "f8" and _decode(z)[0] == 123_456_789.0
    small = figs.ward_values(MapValues(codes=["a", "b"], values=[12.3, float("nan")], label="x",
                                       decimals=1))
    assert small["dtype"] == "f4" and np.isnan(_decode(small)[1])


def test_measure_patch_restyles_without_moving_the_map():
    ops = _ops(figs.patch_measure(_values()))
    assert ("data", 0, "colorscale") in ops and ("data", 0, "hovertemplate") in ops
    assert ("data", 0, "locations") not in ops and ("layout", "map", "center") not in ops


def test_colour_range_ignores_a_few_extreme_wards():
    values = MapValues(codes=[str(i) for i in range(100)], values=[1.0] * 98 + [500.0, 900.0],
                       label="x")
    low, high = figs.colour_range(values)
    assert low == 1.0 and high < 500
    # A long right tail (as devices per resident across London): the range stops at the upper
    # fence, Q3 + 1.5 IQR, well below the 98th percentile.
    tail = [float(v) for v in range(1, 81)] + [1000.0 + 50 * i for i in range(20)]
    low, high = figs.colour_range(MapValues(codes=[str(i) for i in range(100)], values=tail,
                                            label="x"))
    q1, q3 = np.percentile(tail, [25, 75])
    assert high == pytest.approx(q3 + 1.5 * (q3 - q1)) and high < np.percentile(tail, 98)
    # The colour bar says that its end colour covers everything above the range ...
    skewed = MapValues(codes=[str(i) for i in range(100)], values=tail, label="Devices")
    assert figs.colour_title(skewed, high) == (f"Devices<br>(end colour: {high:,.0f} and over, "
                                               "up to 1,950)")
    # ... and is just the measure when nothing lies beyond it.
    assert figs.colour_title(skewed, 1950.0) == "Devices"
    assert figs.colour_range(MapValues(codes=["a"], values=[float("nan")], label="x")) == (0, 1)
    assert figs.colour_range(MapValues(codes=["a", "b"], values=[3.0, 3.0], label="x")) == (3, 4)


# Charts ------------------------------------------------------------------------------------------
def test_usage_trend_stacks_three_measures_and_says_simulated():
    fig = figs.usage_trend(_series(), "month", "Lambeth", "April 2025 to March 2026")
    assert [t["type"] for t in fig["data"]] == ["bar", "bar", "scatter", "scatter"]
    assert "simulated usage" in fig["layout"]["title"]["text"]
    assert "Lambeth, April 2025 to March 2026" in fig["layout"]["title"]["text"]
    assert fig["layout"]["template"] == "none"
    assert fig["data"][0]["x"][0] == "2025-04-01"
    assert list(_decode(fig["data"][2]["y"])) == [25.0] * 12  # per cent
    assert np.isnan(_decode(fig["data"][3]["y"])).all()  # no rated devices: gaps, not zeros
    week = figs.usage_trend(_series(), "week", "Lambeth", "x")
    assert "per week" in week["layout"]["title"]["text"]


def test_trend_of_an_empty_selection_is_a_sentence():
    fig = figs.usage_trend(_series(devices=0), "month", "Bexley", "x")
    assert fig["data"] == []
    assert fig["layout"]["annotations"][0]["text"].startswith("No charge devices match")


def test_heatmap_has_every_hour_of_the_week_monday_first():
    cells = pd.DataFrame({"weekday": np.repeat(range(7), 24), "hour": np.tile(range(24), 7),
                          "sessions": np.arange(168), "kwh": 0.0})
    fig = figs.heatmap(cells, "Lambeth", "x")
    trace = fig["data"][0]
    z = _decode(trace["z"]).reshape(7, 24)
    assert trace["z"]["shape"] == "7, 24" and z[1, 5] == 29
    assert trace["y"][0] == "Mon" and fig["layout"]["yaxis"]["autorange"] == "reversed"
    assert "simulated usage" in fig["layout"]["title"]["text"]
    empty = figs.heatmap(cells.assign(sessions=0), "Lambeth", "x")
    assert empty["data"] == [] and "No charging sessions" in empty["layout"]["annotations"][0][
        "text"]


def test_dft_trend_against_london_on_londons_periods():
    ldn = pd.DataFrame({"period": ["2022", "2023", "2024"], "value": [10.0, 20.0, 30.0]})
    area = pd.DataFrame({"period": ["2023", "2024"], "value": [5.0, 8.0]})
    fig = figs.dft_trend(area, ldn, what="Public charge devices", area_name="Lambeth",
                         period_label="DfT")
    first, second = fig["data"]
    assert first["name"] == "Lambeth" and second["name"] == "London" and second["visible"]
    assert first["x"] == [2022, 2023, 2024]  # years on a time scale
    assert np.isnan(_decode(first["y"])[0]) and list(_decode(first["y"])[1:]) == [5.0, 8.0]
    assert "simulated" not in fig["layout"]["title"]["text"]  # real DfT figures
    alone = figs.dft_trend(ldn, None, what="x", area_name="London", period_label="DfT")
    assert [t["visible"] for t in alone["data"]] == [True, False]
    quarters = pd.DataFrame({"period": ["2024Q1", "2024Q2"], "value": [1.0, 2.0]})
    assert figs.dft_trend(quarters, None, what="x", area_name="London",
                          period_label="")["data"][0]["x"] == ["2024 Q1", "2024 Q2"]


def test_breakdown_bars_largest_first_with_device_counts():
    frame = pd.DataFrame({"label": ["Slow", "Rapid", "Fast", "Unrated"],
                          "value": [0.2, 0.5, 0.3, np.nan], "devices": [40, 1, 7, 2]})
    fig = figs.breakdown(frame, what="Time-based utilisation by speed", value_label="%",
                         place="Lambeth", when="x", percent=True, decimals=1, more=3)
    bar = fig["data"][0]
    assert bar["y"] == ["Rapid", "Fast", "Slow"]  # no value: left out, not drawn as zero
    assert bar["text"] == ["50.0% (1 device)", "30.0% (7 devices)", "20.0% (40 devices)"]
    assert "the 3 largest of 6" in fig["layout"]["title"]["text"]
    empty = figs.breakdown(frame.iloc[0:0], what="x", value_label="x", place="p", when="w")
    assert empty["data"] == []


def test_device_history_shades_the_selected_period():
    fig = figs.device_history(_series(24), "Kennington Park Road", ("2025-06", "2025-08"))
    assert len(fig["data"]) == 2
    shade = fig["layout"]["shapes"][0]
    assert shade["x0"] < "2025-06-01" < "2025-08-01" < shade["x1"]
    assert "simulated usage" in fig["layout"]["title"]["text"]
    assert figs.device_history(_series(devices=0), "x", ("2025-06", "2025-08"))["data"] == []


# Patching charts ---------------------------------------------------------------------------------
def test_refresh_patches_data_only_when_the_structure_is_the_same():
    old = figs.usage_trend(_series(), "month", "Lambeth", "x")
    new = figs.usage_trend(_series(), "month", "Brent", "x")
    whole, signature = figs.refresh(new, None)
    assert whole is new and signature == figs.signature(old)
    patch, _ = figs.refresh(new, figs.signature(old))
    ops = _ops(patch)
    assert set(key[-1] for key in ops) == {"x", "y", "text"}
    assert "Brent" in ops[("layout", "title", "text")]
    assert _size(patch) < _size(new) / 2
    # A different structure (an empty selection, weeks instead of months) is sent whole.
    empty = figs.usage_trend(_series(devices=0), "month", "x", "x")
    assert figs.refresh(empty, signature)[0] is empty
    week = figs.usage_trend(_series(), "week", "x", "x")
    assert figs.refresh(week, signature)[0] is week


def test_charts_are_small():
    fig = figs.usage_trend(_series(), "month", "Lambeth", "April 2025 to March 2026")
    assert _size(fig) < 5000  # no default template (~7 KB) in any chart
