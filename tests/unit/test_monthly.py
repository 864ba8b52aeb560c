"""The store's array path for whole months gives the same frames as its SQL, on the app's data.

``Store`` answers totals, monthly series and (above ward level, without an operator filter)
the weekday x hour heat-map from ``dashboard.data.monthly`` when a period is whole months; the SQL
stays the definition. Each case here is asked twice, once as the app does and
once with the array path turned off, and the frames must match: values, order, columns and
dtypes.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dashboard.core.config import Config
from dashboard.data.store import BY_DIMENSIONS, Store

LAMBETH, SOUTHWARK = "E09000022", "E09000028"
ST_MARTINS = "E05014109"          # St Martin's, Lambeth (2022 wards)
LAMBETH_2011 = "E05000427"        # a Lambeth ward of 2011 (22 devices)

CASES = [
    {},
    {"date_from": "2025-04", "date_to": "2026-03"},
    {"date_from": "2024-11", "date_to": "2024-11"},
    {"borough": LAMBETH},
    {"borough": LAMBETH, "ward": ST_MARTINS},
    {"ward": LAMBETH_2011, "ward_layer": "ward2011"},
    {"speeds": ["rapid", "ultra"]},
    {"borough": SOUTHWARK, "speeds": ["slow", "unknown"], "date_from": "2025-01"},
    {"operators": ["Shell Recharge Solutions", "Char.gy"]},
    {"borough": LAMBETH, "operators": ["no such operator"]},
    {"speeds": ["rapid"], "operators": ["Source London"]},  # 4 devices, each in its own ward
]


@pytest.fixture(scope="module")
def stores(data_dir):
    config = Config.from_env()
    fast, slow = Store(config), Store(config)
    slow.monthly = lambda: None  # every question goes to SQL
    yield fast, slow
    fast.close()
    slow.close()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=1e-9, atol=1e-6)


def test_the_arrays_hold_every_device_and_month(stores):
    fast, _ = stores
    monthly = fast.monthly()
    assert monthly is not None
    assert monthly.sums["n"].shape == (24, len(fast.devices()))
    assert monthly.sums["n"].sum() == fast.coverage()["rows"]
    assert monthly.heat["n"][:, :, -1].sum() == fast.coverage()["rows"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())
                         or "London")
def test_totals_and_series_match_the_sql(stores, case):
    fast, slow = stores
    _same(fast.usage_summary(case), slow.usage_summary(case))
    for dim in BY_DIMENSIONS:
        _same(fast.usage_by(case, dim), slow.usage_by(case, dim))
    _same(fast.usage_timeseries(case, "month"), slow.usage_timeseries(case, "month"))
    _same(fast.usage_heatmap(case), slow.usage_heatmap(case))


def test_device_history_matches_the_sql(stores):
    fast, slow = stores
    devices = fast.devices(borough=LAMBETH)
    for device_id in [*devices["device_id"].head(3), "no-such-device"]:
        _same(fast.device_history(device_id), slow.device_history(device_id))
    assert fast.device_history("no-such-device").empty


def test_a_partial_month_still_goes_to_sql(stores):
    fast, slow = stores
    case = {"borough": LAMBETH, "date_from": "2025-01-15", "date_to": "2025-03-10"}
    assert not fast.monthly().covers(dt.date(2025, 1, 15), dt.date(2025, 3, 10))
    assert fast.monthly().covers(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    _same(fast.usage_by(case, "ward2022_code"), slow.usage_by(case, "ward2022_code"))
