"""The store against pandas on a tiny hand-made dataset, plus injection and empty selections."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import threading
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard.domain import metrics
from dashboard.data import schema
from dashboard.core.config import Config
from dashboard.data.store import BY_DIMENSIONS, USAGE_COLUMNS, Store, UsageFilter, ensure_tables

B1, B2 = "E09000001", "E09000002"
W1, W2, W3 = "E05000001", "E05000002", "E05000003"
X1, X2, X3 = "E05100001", "E05100002", "E05100003"
START, END_EXCLUSIVE = pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01")

DEVICES = pd.DataFrame({
    "device_id": ["d1", "d2", "d3", "d4", "d5"],
    "name": ["One", "Two", "Three", "Four", "Five"],
    "lat": 51.5, "lon": -0.1,
    "borough_code": [B1, B1, B1, B2, B2],
    "ward2022_code": [W1, W1, W2, W3, W3],
    "ward2011_code": [X1, X1, X2, X3, X3],
    "max_kw": [7.0, np.nan, 50.0, 22.0, 150.0],
    "speed_class": ["slow", "unknown", "rapid", "fast", "ultra"],
    "connectors": [2, 1, 3, 2, 2],
    "operator": ["Op A", "Op B", "Op A", "Op C", "Op'B; --"],
    "on_street": [True, True, False, False, False],
    # d2 mid-day: available from 11 May; d3 at midnight: from 1 April; d5 after the period.
    "installed": pd.to_datetime([None, "2024-05-10 10:00", "2024-04-01 00:00", None,
                                "2024-08-01 00:00"]),
    "source": "test",
})


def _sessions(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for dev in DEVICES.itertuples():
        first = max(START, dev.installed.ceil("D")) if pd.notna(dev.installed) else START
        if first >= END_EXCLUSIVE:
            continue
        n = 120
        offset = rng.integers(0, int((END_EXCLUSIVE - first).total_seconds()) // 60, n)
        start = first + pd.to_timedelta(np.sort(offset), unit="min")
        minutes = rng.integers(5, 900, n)
        kw = dev.max_kw if dev.max_kw == dev.max_kw else 7.0
        kwh = np.round(rng.uniform(0, 1, n) * kw * minutes / 60, 3)
        rows.append(pd.DataFrame({"device_id": dev.device_id, "start": start,
                                  "end": start + pd.to_timedelta(minutes, unit="min"),
                                  "kwh": kwh}))
    out = pd.concat(rows, ignore_index=True).sort_values("start", kind="stable")
    out.insert(0, "session_id", np.arange(1, len(out) + 1))
    out["simulated"] = True
    out["start"] = out["start"].astype("datetime64[us]")
    out["end"] = out["end"].astype("datetime64[us]")
    return out.reset_index(drop=True)


SESSIONS = _sessions()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    data, folder = root / "data", root / "sessions"
    (data / "layers").mkdir(parents=True)
    folder.mkdir()
    DEVICES.to_parquet(schema.chargepoints_path(data), index=False)
    for month, part in SESSIONS.groupby(SESSIONS["start"].dt.strftime("%Y-%m")):
        part.to_parquet(folder / f"{month}.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({
        "start": "2024-04-01", "end_exclusive": "2024-07-01", "rows": len(SESSIONS),
        "simulated": True}))
    pd.DataFrame({
        "layer": ["ward2022"] * 6 + ["london", "borough"],
        "code": [W1, W2, W3, W1, W2, W3, schema.LONDON_CODE, B1],
        "indicator_id": ["ind_a"] * 6 + ["ind_a", "ind_b"],
        "period": ["2023"] * 3 + ["2024"] * 3 + ["2024", "2021"],
        "value": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 15.0, 7.5],
    }).to_parquet(schema.indicators_path(data), index=False)
    catalogue = pd.DataFrame([{c: "" for c in schema.CATALOGUE_COLUMNS} for _ in range(2)])
    catalogue["indicator_id"] = ["ind_a", "ind_b"]
    catalogue["default_period"] = ["2023", ""]
    catalogue.to_csv(schema.catalogue_path(data), index=False)
    pd.DataFrame({"code": [B1, B2], "name": ["City", "Two"], "borough_code": [B1, B2],
                  "borough_name": ["City", "Two"], "area_km2": [3.1, 4.2],
                  "stat_code": [B1, B2], "geometry": [b"\x01", b"\x02"]}
                 ).to_parquet(schema.layer_path(data, "borough"), index=False)
    store = Store(Config(data_dir=data, cache_dir=root / "cache"), sessions=folder)
    yield store
    store.close()


# What the store should return, computed with pandas ----------------------------------------------
def _avail_from(installed: pd.Series) -> pd.Series:
    return installed.dt.ceil("D")


def _selected(f: UsageFilter) -> pd.DataFrame:
    d = DEVICES
    if f.borough:
        d = d[d["borough_code"] == f.borough]
    if f.ward:
        d = d[d[f"{f.ward_layer}_code"] == f.ward]
    if f.speeds:
        d = d[d["speed_class"].isin(f.speeds)]
    if f.operators:
        d = d[d["operator"].isin(f.operators)]
    return d


def _period(f: UsageFilter) -> tuple[pd.Timestamp, pd.Timestamp]:
    first = max(pd.Timestamp(f.date_from) if f.date_from else START, START)
    last = min(pd.Timestamp(f.date_to) if f.date_to else END_EXCLUSIVE - pd.Timedelta(days=1),
               END_EXCLUSIVE - pd.Timedelta(days=1))
    return first, last


def _totals(devices: pd.DataFrame, sessions: pd.DataFrame, t0, t1) -> dict:
    """USAGE_COLUMNS for devices over [t0, t1) and the sessions starting in it."""
    start = _avail_from(devices["installed"]).fillna(t0).clip(lower=t0)
    avail = ((t1 - start).dt.total_seconds() / 3600).clip(lower=0)
    s = sessions.merge(devices[["device_id", "max_kw"]], on="device_id")
    s = s[(s["start"] >= t0) & (s["start"] < t1)]
    hours = (s["end"] - s["start"]).dt.total_seconds() / 3600
    rated = s["max_kw"] > 0
    charging = np.minimum(hours, s["kwh"] / s["max_kw"])
    dev_rated = devices["max_kw"] > 0
    return {
        "devices": int((avail > 0).sum()),
        "devices_rated": int(((avail > 0) & dev_rated).sum()),
        "sessions": len(s),
        "kwh": s["kwh"].sum(),
        "plugged_hours": hours.sum(),
        "kwh_rated": s.loc[rated, "kwh"].sum(),
        "plugged_hours_rated": hours[rated].sum(),
        "charging_hours_est": charging[rated].sum(),
        "available_device_hours": avail.sum(),
        "rated_kwh_capacity": (devices["max_kw"] * avail)[dev_rated].sum(),
    }


def _expected_summary(f: UsageFilter) -> dict:
    first, last = _period(f)
    return _totals(_selected(f), SESSIONS, first, last + pd.Timedelta(days=1))


def _expected_series(f: UsageFilter, freq: str) -> pd.DataFrame:
    first, last = _period(f)
    end = last + pd.Timedelta(days=1)
    alias = {"day": "D", "week": "W-MON", "month": "MS"}[freq]
    bucket = first.to_period({"day": "D", "week": "W-SUN", "month": "M"}[freq]).start_time
    rows = []
    while bucket < end:
        nxt = bucket + pd.tseries.frequencies.to_offset(alias)
        if freq == "week":
            nxt = bucket + pd.Timedelta(days=7)
        t0, t1 = max(bucket, first), min(nxt, end)
        rows.append({"period": bucket.date(), **_totals(_selected(f), SESSIONS, t0, t1)})
        bucket = nxt
    return pd.DataFrame(rows)


def _assert_totals(actual: dict | pd.Series, expected: dict) -> None:
    for column in USAGE_COLUMNS:
        assert float(actual[column]) == pytest.approx(expected[column], rel=1e-5, abs=1e-6), column


FILTERS = [
    UsageFilter(),
    UsageFilter(borough=B1, date_from="2024-04-15", date_to="2024-05-20"),
    UsageFilter(ward=W1),
    UsageFilter(ward=X3, ward_layer="ward2011"),
    UsageFilter(speeds=("slow", "unknown")),
    UsageFilter(operators=("Op A",), date_from="2024-05", date_to="2024-05"),
    UsageFilter(date_from="2024-05-03", date_to="2024-05-09"),
    UsageFilter(borough=B2, speeds=("ultra",)),
]


# Usage -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("f", FILTERS, ids=str)
def test_usage_summary_matches_pandas(store, f):
    row = store.usage_summary(f).iloc[0]
    _assert_totals(row, _expected_summary(f))
    first, last = _period(f)
    assert row["days"] == (last - first).days + 1
    assert row["period_start"] == first.date() and row["period_end"] == last.date()


@pytest.mark.parametrize("freq", ["day", "week", "month"])
@pytest.mark.parametrize("f", FILTERS[:3] + FILTERS[5:7], ids=str)
def test_usage_timeseries_matches_pandas(store, f, freq):
    actual = store.usage_timeseries(f, freq)
    expected = _expected_series(f, freq)
    assert [pd.Timestamp(p).date() for p in actual["period"]] == list(expected["period"])
    for (_, a), (_, e) in zip(actual.iterrows(), expected.iterrows()):
        _assert_totals(a, e.to_dict())


@pytest.mark.parametrize("dim", BY_DIMENSIONS)
def test_usage_by_matches_pandas(store, dim):
    f = UsageFilter(date_from="2024-04-20", date_to="2024-06")
    actual = store.usage_by(f, dim)
    groups = sorted(DEVICES[dim].unique())
    assert list(actual[dim]) == groups
    first, last = _period(f)
    for value, row in zip(groups, actual.itertuples(index=False)):
        devices = DEVICES[DEVICES[dim] == value]
        _assert_totals(row._asdict(), _totals(devices, SESSIONS, first,
                                              last + pd.Timedelta(days=1)))


def test_usage_by_totals_add_up_to_summary(store):
    f = UsageFilter(borough=B1)
    total = store.usage_summary(f).iloc[0]
    by = store.usage_by(f, "ward2022_code")
    for column in USAGE_COLUMNS:
        assert by[column].sum() == pytest.approx(total[column], rel=1e-9)


@pytest.mark.parametrize("f", [UsageFilter(borough=B1, date_from="2024-05"),
                               UsageFilter(date_to="2024-05-20")], ids=str)
def test_usage_heatmap_matches_pandas(store, f):
    heat = store.usage_heatmap(f)
    assert len(heat) == 168 and heat[["weekday", "hour"]].drop_duplicates().shape[0] == 168
    first, last = _period(f)
    end = last + pd.Timedelta(days=1)
    s = SESSIONS[SESSIONS["device_id"].isin(_selected(f)["device_id"])
                 & (SESSIONS["start"] >= first) & (SESSIONS["start"] < end)]
    expected = s.groupby([s["start"].dt.day_of_week, s["start"].dt.hour]).size()
    got = heat.set_index(["weekday", "hour"])["sessions"]
    assert got.sum() == len(s)
    for (weekday, hour), n in expected.items():
        assert got[(weekday, hour)] == n
    assert heat["kwh"].sum() == pytest.approx(s["kwh"].sum(), rel=1e-6)


HEAT_FILTERS = [
    UsageFilter(borough=B1),                                             # whole months only
    UsageFilter(borough=B1, date_from="2024-04-15", date_to="2024-06-10"),  # edges and a month
    UsageFilter(ward=W1, date_from="2024-05-03", date_to="2024-05-09"),  # inside one month
    UsageFilter(speeds=("slow", "fast", "rapid"), date_from="2024-04-30"),
    UsageFilter(operators=("Op A", "Op C"), date_to="2024-05-01"),
]


@pytest.mark.parametrize("f", HEAT_FILTERS, ids=str)
def test_usage_heatmap_rollup_gives_the_scan_of_sessions(store, f):
    """A selection's heat-map reads the per device, month and hour rollup for whole months and
    session rows only at the period's edges: the same cells as scanning every session."""
    d, params, _ = store._selection(f)
    scan = store._df(f"""
        WITH {d}
        SELECT how, count(*) AS sessions, sum(kwh)::DOUBLE AS kwh FROM sim.sessions
        WHERE day BETWEEN $first AND $last AND k IN (SELECT k FROM d)
        GROUP BY how""", params).set_index("how").sort_index()
    heat = store.usage_heatmap(f)
    got = heat.assign(how=heat["weekday"] * 24 + heat["hour"]).set_index("how")
    assert scan["sessions"].sum() > 0
    assert got["sessions"].sum() == scan["sessions"].sum()
    for how, row in scan.iterrows():
        assert got.at[how, "sessions"] == row["sessions"]
        assert got.at[how, "kwh"] == pytest.approx(row["kwh"], rel=1e-9)
    assert (got.drop(index=scan.index)["sessions"] == 0).all()


def test_device_history(store):
    history = store.device_history("d2", "month")
    assert len(history) == 3
    expected = _expected_series(UsageFilter(), "month")  # all devices: compare d2 alone below
    assert list(history["period"].map(lambda p: pd.Timestamp(p).date())) == list(expected["period"])
    d2 = SESSIONS[SESSIONS["device_id"] == "d2"]
    assert history["sessions"].sum() == len(d2)
    assert history.loc[0, "available_device_hours"] == 0  # installed in May
    # From 11 May (mid-day installation on the 10th): 21 days in May, 30 in June.
    assert list(history["available_device_hours"][1:]) == [21 * 24, 30 * 24]
    assert store.device_history("no-such-device").empty


def test_devices_and_operators(store):
    assert list(store.devices()["device_id"]) == list(DEVICES["device_id"])
    assert list(store.devices(borough=B2)["device_id"]) == ["d4", "d5"]
    assert list(store.devices(ward=X1, ward_layer="ward2011")["device_id"]) == ["d1", "d2"]
    assert list(store.devices(speeds=["rapid", "fast"])["device_id"]) == ["d3", "d4"]
    assert list(store.devices(operators=["Op'B; --"])["device_id"]) == ["d5"]
    assert list(store.devices().columns) == list(schema.CHARGEPOINT_COLUMNS)
    assert store.operators() == sorted(set(DEVICES["operator"]))


def test_coverage(store):
    cov = store.coverage()
    assert cov["start"] == dt.date(2024, 4, 1) and cov["end"] == dt.date(2024, 6, 30)
    assert cov["simulated"] is True and cov["rows"] == len(SESSIONS)


# Indicators and layers ---------------------------------------------------------------------------
def test_indicator_values(store):
    default = store.indicator_values("ind_a", "ward2022")  # catalogue default period 2023
    assert list(default["period"].unique()) == ["2023"]
    assert list(default["value"]) == [1.0, 2.0, 3.0]
    latest = store.indicator_values("ind_b", "borough")  # no default: the latest
    assert list(latest["code"]) == [B1] and latest["period"].iloc[0] == "2021"
    chosen = store.indicator_values("ind_a", "ward2022", period="2024")
    assert list(chosen["value"]) == [10.0, 20.0, 30.0]
    assert store.indicator_values("ind_a", "london")["value"].tolist() == [15.0]
    assert store.indicator_values("missing", "ward2022").empty


def test_indicator_series(store):
    series = store.indicator_series("ind_a", [W3, W1], "ward2022")
    assert list(zip(series["code"], series["period"])) == [
        (W1, "2023"), (W1, "2024"), (W3, "2023"), (W3, "2024")]
    assert store.indicator_series("ind_a", [], "ward2022").empty


def test_catalogue_and_layer_table(store):
    assert list(store.catalogue()["indicator_id"]) == ["ind_a", "ind_b"]
    table = store.layer_table("borough")
    assert "geometry" not in table.columns and list(table["code"]) == [B1, B2]
    assert list(store.layer_table("ward2022").columns) == [
        c for c in schema.LAYER_COLUMNS if c != "geometry"]  # layer file absent: empty


# Hostile and empty input -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    {"borough": "E09000001' OR '1'='1"},
    {"ward": "E05000001; DROP TABLE chargepoints; --"},
    {"ward_layer": "ward2022_code = ward2022_code OR true --"},
    {"speeds": ("slow') OR true --",)},
    {"date_from": "2024-01-01' OR '1'='1"},
    {"date_from": "2024-06", "date_to": "2024-05"},
])
def test_invalid_filters_raise_value_error(store, bad):
    with pytest.raises(ValueError):
        store.usage_summary(bad)


def test_injection_in_free_text_is_just_text(store):
    hostile = ["Op A' OR '1'='1", "x'); DROP TABLE chargepoints; --"]
    row = store.usage_summary({"operators": hostile}).iloc[0]
    assert row["devices"] == 0 and row["sessions"] == 0
    assert store.devices(operators=hostile).empty
    assert store.indicator_values("x' OR '1'='1", "ward2022").empty
    assert store.indicator_values("ind_a'; DROP TABLE indicators; --", "ward2022").empty
    assert store.indicator_series("ind_a", ["' OR '1'='1"], "ward2022").empty
    assert store.device_history("d1' OR '1'='1").empty
    # Nothing was executed: every table is intact.
    assert len(store.devices()) == len(DEVICES)
    assert len(store.indicator_values("ind_a", "ward2022")) == 3


@pytest.mark.parametrize("call", [
    lambda s: s.usage_by(None, "speed_class; DROP TABLE chargepoints"),
    lambda s: s.usage_timeseries(None, "month'); --"),
    lambda s: s.device_history("d1", "hour"),
    lambda s: s.layer_table("borough; --"),
    lambda s: s.indicator_values("ind_a", "ward2022' OR '1'='1"),
])
def test_fragments_come_from_fixed_lists(store, call):
    with pytest.raises(ValueError):
        call(store)


def test_empty_selection(store):
    f = UsageFilter(ward="E05999999")
    row = store.usage_summary(f).iloc[0]
    assert all(row[c] == 0 for c in USAGE_COLUMNS)
    assert all(v is None for v in metrics.usage_metrics(row.to_dict()).values())
    assert store.usage_by(f, "operator").empty
    series = store.usage_timeseries(f)
    assert len(series) == 3 and (series[list(USAGE_COLUMNS)] == 0).all().all()
    assert store.usage_heatmap(f)["sessions"].sum() == 0


def test_period_outside_the_simulation(store):
    f = UsageFilter(date_from="2023-01", date_to="2023-12")
    row = store.usage_summary(f).iloc[0]
    assert row["days"] == 0 and row["sessions"] == 0 and row["available_device_hours"] == 0
    assert store.usage_timeseries(f).empty
    assert store.usage_by(f, "borough_code").empty
    assert store.usage_heatmap(f)["sessions"].sum() == 0


def test_filter_normalises_its_values():
    f = UsageFilter.from_mapping({"borough": B1, "speeds": ["rapid", "slow", "rapid"],
                                  "date_from": "2024-02", "date_to": "2024-02", "other": 1})
    assert f.speeds == ("rapid", "slow")
    assert f.date_from == dt.date(2024, 2, 1) and f.date_to == dt.date(2024, 2, 29)
    assert hash(f) == hash(UsageFilter(borough=B1, speeds=("slow", "rapid"),
                                       date_from=dt.date(2024, 2, 1), date_to="2024-02-29"))


# Concurrency -------------------------------------------------------------------------------------
def test_duckdb_memory_limit_is_configured(store):
    assert Config.from_env({}).duckdb_memory == "128MB"
    assert Config.from_env({"BD_DUCKDB_MEMORY": " 1GiB "}).duckdb_memory == "1GiB"
    for bad in ("lots", "64", "64MB; SET x = 1", "-1MB"):
        assert Config.from_env({"BD_DUCKDB_MEMORY": bad}).duckdb_memory == "128MB", bad
    assert store._df("SELECT current_setting('memory_limit') AS m")["m"][0] == "122.0 MiB"
    spill = store._df("SELECT current_setting('temp_directory') AS t")["t"][0]
    assert Path(spill).parent == Path(store.config.cache_dir)


def test_indicators_are_read_from_a_shared_file_not_copied_per_worker(store, tmp_path):
    kinds = store._df("SELECT table_name, table_type FROM information_schema.tables "
                      "WHERE table_name IN ('indicators', 'catalogue') "
                      "AND table_catalog = current_database() ORDER BY 1")
    assert list(kinds["table_type"]) == ["VIEW", "VIEW"]
    # The file follows the data: a changed indicators file rebuilds it.
    data = Path(store.config.data_dir)
    frame = pd.read_parquet(schema.indicators_path(data))
    copy = tmp_path / "data"
    copy.mkdir()
    frame.to_parquet(schema.indicators_path(copy), index=False)
    path = ensure_tables(copy, tmp_path / "cache")
    assert ensure_tables(copy, tmp_path / "cache") == path
    frame.assign(value=frame["value"] * 2).to_parquet(schema.indicators_path(copy), index=False)
    ensure_tables(copy, tmp_path / "cache")
    con = duckdb.connect(str(path), read_only=True)
    try:
        total = con.execute("SELECT sum(value) FROM indicators").fetchone()[0]
    finally:
        con.close()
    assert total == pytest.approx(2 * frame["value"].sum())


def test_threads_share_one_store(store):
    expected = store.usage_summary(FILTERS[1]).iloc[0]["sessions"]
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(store.usage_summary(FILTERS[1]).iloc[0]["sessions"])
                store.usage_timeseries(FILTERS[2], "week")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [expected] * 20


def _child_query(store: Store, queue) -> None:
    queue.put(int(store.usage_summary(None).iloc[0]["sessions"]))


def test_forked_worker_opens_its_own_connection(store):
    expected = int(store.usage_summary(None).iloc[0]["sessions"])  # parent connection open
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_query, args=(store, queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and queue.get(timeout=5) == expected
