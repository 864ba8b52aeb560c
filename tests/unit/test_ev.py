"""The EV page's numbers (dashboard.views.ev.model) on the processed data, checked against the store's own
totals and hand-computed cases, including empty selections."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dashboard.views.ev import model as ev
from dashboard.domain import filters
from dashboard.domain import metrics
from dashboard.core import runtime
from dashboard.data import schema
from dashboard.data.store import USAGE_COLUMNS, UsageFilter

LAMBETH, BEXLEY, CITY, SOUTHWARK = "E09000022", "E09000004", "E09000001", "E09000028"


@pytest.fixture(scope="module")
def store():
    return runtime.store()


@pytest.fixture(scope="module")
def known():
    return runtime.known()


@pytest.fixture(scope="module")
def tables():
    return runtime.tables()


@pytest.fixture(scope="module")
def london(known):
    return filters.default_state(known)


@pytest.fixture(scope="module")
def devices(store):
    return ev.all_devices(store)


def _busiest_ward(devices, borough: str) -> str:
    frame = devices.frame
    return frame.loc[frame["borough_code"] == borough, "ward2022_code"].value_counts().index[0]


# Devices and selections --------------------------------------------------------------------------
def test_all_devices_rows_are_keys_and_ids_are_sorted(devices, store):
    frame = devices.frame
    assert len(frame) == len(store.devices())
    assert (frame["i"].to_numpy() == np.arange(len(frame))).all()
    assert frame["device_id"].is_monotonic_increasing
    row = ev.device_by_index(devices, 100)
    assert ev.device_by_id(devices, row["device_id"])["i"] == 100
    assert ev.device_by_id(devices, "no-such-device") is None
    assert ev.device_by_index(devices, len(frame)) is None
    assert ev.device_by_index(devices, "x") is None


def test_select_narrows_by_place_speed_and_operator(devices, london):
    frame = devices.frame
    state = london.replace(borough=LAMBETH, speeds=("slow", "rapid"),
                           operators=("Shell Recharge Solutions",))
    picked = frame[ev.selected(devices, state)]
    expected = frame[(frame["borough_code"] == LAMBETH)
                     & frame["speed_class"].isin(["slow", "rapid"])
                     & (frame["operator"] == "Shell Recharge Solutions")]
    assert list(picked["device_id"]) == list(expected["device_id"])
    assert len(picked) > 0


@pytest.mark.parametrize("place", [{}, {"borough": LAMBETH}, {"ward": "E05014118"},
                                   {"borough": LAMBETH, "speeds": ("slow",)}])
def test_view_totals_are_the_stores_summary(store, known, london, place):
    state = london.replace(**place)
    if state.ward:
        state = state.replace(borough=LAMBETH)
    view = ev.build_view(store, state, known)
    summary = store.usage_summary(filters.usage_filter(state)).iloc[0]
    for column in USAGE_COLUMNS:
        assert view.totals[column] == pytest.approx(float(summary[column]), rel=1e-9), column
    expected = metrics.usage_metrics(summary.to_dict())
    for key, value in expected.items():
        assert view.measures[key] == pytest.approx(value), key
    # Per-device measures are the metrics of each device's own totals.
    row = view.devices.iloc[0]
    assert row["time_utilisation"] == pytest.approx(
        metrics.time_utilisation(row["plugged_hours"], row["available_device_hours"]))


def test_load_runs_the_same_queries_as_one_by_one(store, known, london):
    state = london.replace(borough=LAMBETH)
    loaded = ev.load(store, state, known, "week")
    alone = ev.build_view(store, state, known)
    assert loaded.view.totals == pytest.approx(alone.totals)
    series = store.usage_timeseries(filters.usage_filter(state), "week")
    assert list(loaded.series["sessions"]) == list(series["sessions"])
    assert loaded.heat["sessions"].sum() == alone.totals["sessions"]


# Empty selections ---------------------------------------------------------------------------------
def no_ultra_borough(devices):
    """A borough with no ultra-rapid device, found from the device table."""
    frame = devices.frame
    with_ultra = set(frame.loc[frame["speed_class"] == "ultra", "borough_code"])
    return sorted(set(frame["borough_code"]) - with_ultra)[0]


@pytest.fixture(scope="module")
def empty_view(store, known, london, devices):
    """Ultra-rapid devices in a borough that has none."""
    borough = no_ultra_borough(devices)
    return ev.build_view(store, london.replace(borough=borough, speeds=("ultra",)), known)


def test_empty_selection_says_so_in_words(empty_view, known):
    assert empty_view.empty and not empty_view.in_service
    text = ev.summary_text(empty_view, known)
    assert text.startswith("No charge devices match these filters")
    assert known.borough_name(empty_view.state.borough) in text and "Ultra-rapid" in text


def test_empty_selection_kpis_show_no_data(empty_view):
    values = {k.label: k.value for k in ev.usage_kpis(empty_view) + ev.utilisation_kpis(empty_view)}
    assert set(values.values()) == {"no data"}
    assert all(k.simulated for k in ev.usage_kpis(empty_view))


def test_empty_selection_everywhere_else(empty_view, store, tables):
    assert ev.table_data(empty_view, "sessions", True, 0, "all")["message"].startswith(
        "No charge devices match these filters")
    assert ev.table_summary(empty_view) == ""
    frame, more = ev.breakdown_frame(empty_view, "operator", "sessions")
    assert frame.empty and more == 0
    wards = ev.map_wards(tables.layers, empty_view.state.borough)
    assert len(wards.codes) > 10
    state = empty_view.state
    assert ev.ward_values(store, state, wards, "devices") == [0.0] * len(wards.codes)
    assert all(math.isnan(v) for v in ev.ward_values(store, state, wards, "time_utilisation"))
    supply = {k.label: k.value for k in ev.supply_kpis(empty_view, store, runtime.known(),
                                                       tables.layers)}
    assert supply["Charge devices on the map"] == "0"
    assert supply["Rapid devices per 100,000 residents"] == "0.0"
    assert supply["Public charge devices (DfT)"] != "no data"  # the DfT count is the area's


# Aggregates ---------------------------------------------------------------------------------------
def test_group_totals_match_hand_sums():
    frame = pd.DataFrame({"speed_k": [0, 2, 0, 2, 2], **{c: [1.0, 2.0, 3.0, 4.0, 5.0]
                                                          for c in USAGE_COLUMNS}})
    out = ev.group_totals(frame, "speed_class", 5)
    assert list(out["n"]) == [2, 0, 3, 0, 0]
    assert list(out["sessions"][[0, 2]]) == [4.0, 11.0]
    # Ratios come from the summed parts: 11 plugged hours over 11 available hours.
    assert out["time_utilisation"][2] == pytest.approx(1.0)
    # A group without devices has nothing to measure, not zero.
    assert math.isnan(out["sessions"][1]) and math.isnan(out["time_utilisation"][1])


def test_breakdown_by_speed_covers_every_device_largest_first(store, known, london):
    view = ev.build_view(store, london.replace(borough=LAMBETH), known)
    frame, more = ev.breakdown_frame(view, "speed_class", "sessions")
    assert more == 0
    assert frame["devices"].sum() == len(view.devices)
    assert list(frame["value"]) == sorted(frame["value"], reverse=True)
    assert frame["value"].sum() == pytest.approx(view.totals["sessions"])
    assert set(frame["label"]) <= set(schema.SPEED_LABELS.values())


def test_breakdown_by_operator_keeps_the_largest_twelve(store, known, london):
    view = ev.build_view(store, london, known)
    frame, more = ev.breakdown_frame(view, "operator", "devices")
    operators = view.devices["operator"].nunique()
    assert len(frame) == ev.TOP_OPERATORS and more == operators - ev.TOP_OPERATORS
    counts = view.devices["operator"].value_counts()
    assert list(frame["devices"]) == list(counts.iloc[:ev.TOP_OPERATORS])


def test_ward_values_count_devices_and_rate_usage(store, known, london, tables):
    state = london.replace(borough=LAMBETH)
    view = ev.build_view(store, state, known)
    wards = ev.map_wards(tables.layers, LAMBETH)
    table = tables.layers["ward2022"]
    assert wards.codes == table.loc[table["borough_code"] == LAMBETH, "code"].tolist()
    counts = ev.ward_values(store, state, wards, "devices")
    assert sum(counts) == len(view.devices)
    ward = _busiest_ward(ev.all_devices(store), LAMBETH)
    mine = view.devices[view.devices["ward2022_code"] == ward]
    position = wards.codes.index(ward)
    util = ev.ward_values(store, state, wards, "time_utilisation")[position]
    assert util == pytest.approx(100 * mine["plugged_hours"].sum()
                                 / mine["available_device_hours"].sum())
    dft = ev.ward_values(store, state, wards, "devices_per_100k")[position]
    published = store.indicator_values("ev_devices_per_100k", "ward2022", "2024")
    assert dft == pytest.approx(published.set_index("code").at[ward, "value"])


@pytest.mark.parametrize("measure", ["sessions", "kwh", "time_utilisation",
                                     "energy_utilisation"])
def test_ward_values_are_the_per_device_usage_summed_by_ward(store, known, london, tables,
                                                             measure):
    """The map's one per-ward query gives what summing the page's per-device usage gives."""
    state = london.replace(speeds=("rapid", "ultra"))
    view = ev.build_view(store, state, known)
    wards = ev.map_wards(tables.layers, None)
    per_ward = ev.group_totals(view.devices, "ward2022_code",
                               len(view.keys["ward2022_code"]))
    scale = 100.0 if measure.endswith("utilisation") else 1.0
    expected = dict(zip(view.keys["ward2022_code"],
                        np.where(per_ward["n"] > 0, per_ward[measure] * scale, np.nan)))
    got = ev.ward_values(store, state, wards, measure)
    want = [expected.get(code, math.nan) for code in wards.codes]
    np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True)
    assert any(math.isnan(v) for v in got) and any(v > 0 for v in got)


def test_map_view_zooms_to_the_borough_then_the_ward(store, known, london, tables):
    state = london.replace(borough=LAMBETH)
    mv = ev.map_view(store, state, tables.layers, tables.extents, "sessions")
    lambeth = tables.layers["ward2022"].query("borough_code == @LAMBETH")
    assert mv.codes == list(lambeth["code"]) and mv.outline == [LAMBETH] and mv.selected == []
    box = tables.extents.query("layer == 'borough' and code == @LAMBETH").iloc[0]
    assert box.west < mv.centre["lon"] < box.east and box.south < mv.centre["lat"] < box.north
    ward = _busiest_ward(ev.all_devices(store), LAMBETH)
    ward_state = state.replace(ward=ward)
    wv = ev.map_view(store, ward_state, tables.layers, tables.extents, "sessions")
    assert wv.selected == [ward] and wv.zoom > mv.zoom
    london_view = ev.map_view(store, london, tables.layers, tables.extents, "devices")
    assert len(london_view.codes) == len(tables.layers["ward2022"])


# KPIs and DfT series ------------------------------------------------------------------------------
def test_supply_kpis_use_the_dft_series_and_census(store, known, london, tables):
    view = ev.build_view(store, london.replace(borough=LAMBETH), known)
    kpis = {k.label: k for k in ev.supply_kpis(view, store, known, tables.layers)}
    devices = store.indicator_values("ev_public_devices", "borough", "2024").set_index("code")
    residents = store.indicator_values("usual_residents", "borough").set_index("code")
    public = devices.at[LAMBETH, "value"]
    rate = public / residents.at[LAMBETH, "value"] * 100_000
    assert kpis["Public charge devices (DfT)"].value == f"{public:,.0f}"
    assert kpis["Public devices per 100,000 residents (DfT)"].value == f"{rate:,.1f}"
    assert "London:" in kpis["Public charge devices (DfT)"].note
    assert "Census 2021" in kpis["Public devices per 100,000 residents (DfT)"].source
    assert kpis["Charge devices on the map"].value == str(len(view.devices))
    rapid = int((view.devices["max_kw"] >= 50).sum())
    assert kpis["Rapid and ultra-rapid devices on the map"].value == str(rapid)


def test_area_key_for_city_wards_and_2011_wards(known, london, tables):
    city_ward = tables.layers["ward2022"].query("borough_code == @CITY")["code"].iloc[0]
    layer, code, name = ev.area_key(london.replace(borough=CITY, ward=city_ward), known,
                                    tables.layers)
    assert (layer, code) == ("ward2022", CITY) and "City of London" in name
    ward2011 = next(iter(known.wards["ward2011"]))
    borough = known.ward("ward2011", ward2011).borough
    state = london.replace(borough=borough, ward=ward2011, ward_layer="ward2011")
    assert ev.area_key(state, known, tables.layers)[:2] == ("borough", borough)
    assert ev.area_key(london, known, tables.layers)[:2] == ("london", schema.LONDON_CODE)


def test_dft_series_are_per_100k_residents(store, known, london, tables):
    area, ldn, name = ev.dft_series(store, london.replace(borough=LAMBETH), known, tables.layers,
                                    "ev_plugin_vehicles")
    residents = store.indicator_values("usual_residents", "borough").set_index("code")
    assert name == "Lambeth" and ldn is not None
    last = area.iloc[-1]
    assert last["period"] == "2024Q2"
    assert last["value"] == pytest.approx(last["count"] / residents.at[LAMBETH, "value"] * 1e5)
    assert ev.dft_series(store, london, known, tables.layers, "ev_plugin_vehicles")[1] is None


# The device table --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lambeth(store, known, london):
    return ev.build_view(store, london.replace(borough=LAMBETH), known)


def test_table_pages_sort_busiest_first_by_default(lambeth):
    data = ev.table_data(lambeth, "sessions", True, 0, "all")
    assert len(data["rows"]) == ev.PAGE_SIZE
    top = lambeth.devices.sort_values(["sessions", "device_id"], ascending=[False, True])
    assert [r[2] for r in data["rows"]] == list(top["device_id"].iloc[:ev.PAGE_SIZE])
    assert data["pages"] == math.ceil(len(lambeth.devices) / ev.PAGE_SIZE)
    assert f"of {len(lambeth.devices)}" in data["status"] and "highest first" in data["status"]


def test_table_least_used_last_page_and_names(lambeth):
    least = ev.table_data(lambeth, "sessions", False, 0, "all")["rows"][0]
    assert least[6] == f"{lambeth.devices['sessions'].min():,.0f}"
    last = ev.table_data(lambeth, "sessions", True, 999, "all")
    assert last["page"] == last["pages"] - 1 and 0 < len(last["rows"]) <= ev.PAGE_SIZE
    by_name = ev.table_data(lambeth, "name", False, 0, "all")
    names = [r[1].casefold() for r in by_name["rows"]]
    assert names == sorted(names) and "A to Z" in by_name["status"]


def _reference_order(d: pd.DataFrame, sort: str, descending: bool) -> list[str]:
    """The device table's order by the frame: text ignoring case (a missing name as empty),
    speeds slow to ultra-rapid, missing values last, ties by device id."""
    if sort in ("name", "ward", "operator"):
        column = {"name": "name", "ward": "ward_name", "operator": "operator"}[sort]
        key = d[column].fillna("").astype(str).str.casefold()
    elif sort == "speed":
        key = d["speed_class"].map({s: i for i, s in enumerate(schema.SPEED_CLASSES)})
    else:
        key = d[sort].astype(float)
    order = pd.DataFrame({"k": key.to_numpy(), "id": d["device_id"].to_numpy()})
    order = order.sort_values(["k", "id"], ascending=[not descending, True], na_position="last")
    return order["id"].tolist()


@pytest.mark.parametrize("sort", list(ev.TABLE_COLUMNS))
def test_table_sorts_every_column_both_ways_with_ties_by_device_id(store, known, london, sort):
    view = ev.build_view(store, london.replace(borough=SOUTHWARK), known)
    for descending in (False, True):
        want = _reference_order(view.devices, sort, descending)
        pages = ev.table_data(view, sort, descending, 0, "all")["pages"]
        got = [row[2] for page in range(pages)
               for row in ev.table_data(view, sort, descending, page, "all")["rows"]]
        assert got == want, (sort, descending)


def test_table_unused_devices(lambeth):
    unused = ev.table_data(lambeth, "sessions", True, 0, "unused")
    if (lambeth.devices["sessions"] == 0).any():
        assert all(r[6] == "0" for r in unused["rows"])
    else:
        assert unused["message"].startswith("Every device matching these filters had")


def test_table_summary_names_busiest_and_least_used(lambeth):
    text = ev.table_summary(lambeth)
    d = lambeth.devices
    busiest = d.sort_values(["sessions", "device_id"], ascending=[False, True]).iloc[0]
    assert text.startswith(f"Busiest: {busiest['name']} ({busiest['sessions']:,.0f} sessions)")
    assert text.endswith("April 2025 to March 2026.")
    unused = int((d["sessions"] == 0).sum())
    assert ("Every device had at least one session" in text) == (unused == 0)


# One device --------------------------------------------------------------------------------------
def test_device_detail_sums_its_months_in_the_period(store, known, london, lambeth):
    device = ev.device_by_id(ev.all_devices(store), lambeth.devices.iloc[0]["device_id"])
    detail = ev.device_detail(store, device, london, known)
    assert ("Device ID", device["device_id"]) in detail.facts
    assert len(detail.history) == 24  # every month of the simulation
    row = lambeth.devices.iloc[0]  # the same device in the same period, from usage_by
    assert detail.measures["sessions"] == pytest.approx(row["sessions"])
    assert detail.measures["time_utilisation"] == pytest.approx(row["time_utilisation"])


# Links and exports -------------------------------------------------------------------------------
def test_page_query_round_trip():
    query = ev.page_query("borough=E09000022", "abc123", "week")
    assert query == "borough=E09000022&device=abc123&freq=week"
    assert ev.query_extras(query) == ("abc123", "week")
    assert ev.query_extras({"device": "abc123", "freq": "fortnight"}) == ("abc123", "month")
    assert ev.page_query("", None, "month") == ""
    assert ev.query_extras("") == (None, "month")


def test_measure_of_defaults(london):
    assert ev.measure_of(london) == ev.DEFAULT_MEASURE
    assert ev.measure_of(london.replace(measure="kwh")) == "kwh"


def test_exports_carry_the_simulated_usage(lambeth, known, store):
    frame = ev.device_export(lambeth, known)
    assert len(frame) == len(lambeth.devices)
    assert {"sessions_simulated", "time_utilisation_simulated", "device_id"} <= set(frame)
    assert frame["sessions_simulated"].is_monotonic_decreasing
    trend = ev.trend_export(ev.usage_series(store, lambeth.state, "month"), "month")
    assert len(trend) == 12 and trend["sessions_simulated"].sum() == lambeth.totals["sessions"]
    meta = ev.export_meta(lambeth, known, "EV charge devices", "http://x/ev?borough=E09000022",
                          pd.Timestamp("2026-01-01").to_pydatetime())
    assert meta.simulated and meta.link.endswith("borough=E09000022")
    assert "Lambeth" in meta.filters_text and "(simulated)" in meta.period_text
    assert any("SIMULATED" in s for s in meta.sources)


# Metrics added for the page ---------------------------------------------------------------------
def test_usage_metrics_columns_match_usage_metrics():
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(300):
        row = {c: float(rng.uniform(0, 500)) for c in USAGE_COLUMNS}
        for c in rng.choice(list(USAGE_COLUMNS), size=3, replace=False):
            row[c] = float(rng.choice([0.0, np.nan]))
        rows.append(row)
    columns = metrics.usage_metrics_columns(pd.DataFrame(rows))
    for i, row in enumerate(rows):
        for key, value in metrics.usage_metrics(row).items():
            got = columns[key][i]
            assert (value is None) == bool(np.isnan(got)), (key, row)
            if value is not None:
                assert got == pytest.approx(value), (key, row)


def test_usage_filter_of_the_state_matches(london):
    f = filters.usage_filter(london.replace(borough=LAMBETH, speeds=("rapid",)))
    assert f == UsageFilter(borough=LAMBETH, date_from=london.date_from, date_to=london.date_to,
                            speeds=("rapid",))


# Results kept per worker --------------------------------------------------------------------------
def test_results_keep_the_most_recent_states_only():
    cache = ev.Results(2)
    made = []

    def make(value):
        return lambda: made.append(value) or value

    assert cache.get("a", make(1)) == 1 and cache.get("b", make(2)) == 2
    assert cache.get("a", make(9)) == 1  # a hit: not made again, and now the most recent
    assert cache.get("c", make(3)) == 3  # "b" is the least recently used: it goes
    assert len(cache) == 2 and cache.get("b", make(4)) == 4
    assert made == [1, 2, 3, 4] and (cache.hits, cache.misses) == (1, 4)


def test_result_cache_size_is_configured():
    from dashboard.core.config import Config
    assert Config.from_env({}).ev_cache == 32
    assert Config.from_env({"BD_EV_CACHE": "0"}).ev_cache == 0
    assert Config.from_env({"BD_EV_CACHE": "many"}).ev_cache == 32


def test_results_of_size_zero_keep_nothing():
    cache = ev.Results(0)
    calls = []
    for _ in range(3):
        cache.get("a", lambda: calls.append(1))
    assert len(calls) == 3 and len(cache) == 0


def test_kept_ward_values_are_the_computed_ones(store, known, london, tables):
    state = london.replace(borough=LAMBETH, speeds=("fast",))
    wards = ev.map_wards(tables.layers, LAMBETH)
    ev.results("ward-usage", ev.cache_size(store)).clear()
    first = ev.ward_values(store, state, wards, "kwh")
    again = ev.ward_values(store, state, wards, "kwh")
    assert ev.results("ward-usage", ev.cache_size(store)).hits == 1
    np.testing.assert_array_equal(first, again)


def test_panels_work_waits_while_a_map_request_runs_and_no_longer():
    import threading
    import time

    maps = ev.MapsFirst(timeout=2.0)
    start = time.perf_counter()
    maps.wait()  # no map request: no wait
    assert time.perf_counter() - start < 0.05

    running, waited = threading.Event(), {}

    def map_request():
        with maps.map_request():
            running.set()
            time.sleep(0.2)

    thread = threading.Thread(target=map_request)
    thread.start()
    running.wait()
    start = time.perf_counter()
    maps.wait()  # returns when the map request ends, well before the timeout
    waited["s"] = time.perf_counter() - start
    thread.join()
    assert 0.1 < waited["s"] < 1.5

    stuck = ev.MapsFirst(timeout=0.1)
    with stuck.map_request():  # a map request that outlasts the timeout does not hold panels
        start = time.perf_counter()
        stuck.wait()
        assert 0.05 < time.perf_counter() - start < 1.0



@pytest.mark.parametrize("choice", [
    {"statuses": ("out-of-service",)},
    {"streets": ("off-street",), "years": ("2021", "2022")},
    {"location_types": ("Public car park", "Retail car park")},
])
def test_device_filters_narrow_devices_cards_and_usage(store, known, london, choice, data_dir):
    """Each device filter selects exactly the devices the table says, and the usage totals
    (from the monthly arrays) are those devices' own, as SQL computes them."""
    table = pd.read_parquet(schema.chargepoints_path(data_dir))
    expect = pd.Series(True, index=table.index)
    if "statuses" in choice:
        expect &= table["status"].str.replace(" ", "-").isin(choice["statuses"])
    if "streets" in choice:
        street = table["on_street"].map({True: "on-street", False: "off-street"})
        expect &= street.isin(choice["streets"])
    if "years" in choice:
        expect &= table["installed"].dt.year.astype("Int64").astype(str).isin(choice["years"])
    if "location_types" in choice:
        expect &= table["location_type"].isin(choice["location_types"])
    state = london.replace(**choice)
    view = ev.build_view(store, state, known)
    assert 0 < view.size == int(expect.sum()) < len(table)
    assert set(store.devices(**choice)["device_id"]) == set(table.loc[expect, "device_id"])
    f = filters.usage_filter(state)
    arrays = store.usage_summary(f)
    assert int(arrays["devices"].iloc[0]) == int(expect.sum())
    everyone = store.usage_summary(filters.usage_filter(london))
    assert 0 < arrays["sessions"].iloc[0] < everyone["sessions"].iloc[0]
    described = filters.describe(state, known)
    assert all(f"{filters.CHOICE_HEADINGS[field]}: " in described for field in choice)
