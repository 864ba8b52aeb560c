"""EV measures: hand-computed cases, empty selections and unknown ratings."""
from __future__ import annotations

import pytest

from dashboard.domain import metrics

# Two devices over a 10-day period:
#   A: rated 7 kW, available all 10 days            -> 240 device-hours, capacity 7 x 240 = 1680 kWh
#   B: rating unknown, installed on day 6 (5 days)  -> 120 device-hours, no capacity
# Three sessions:
#   A1: 3 h plugged, 14 kWh -> charging at 7 kW takes 14 / 7 = 2 h  (min(3, 2) = 2)
#   A2: 5 h plugged,  7 kWh -> 7 / 7 = 1 h                             (min(5, 1) = 1)
#   B1: 4 h plugged, 10 kWh -> no rating, no charging estimate
TOTALS = {
    "devices": 2,
    "devices_rated": 1,
    "sessions": 3,
    "kwh": 14 + 7 + 10,                 # 31
    "plugged_hours": 3 + 5 + 4,         # 12
    "kwh_rated": 14 + 7,                # 21: only device A has a rating
    "plugged_hours_rated": 3 + 5,       # 8
    "charging_hours_est": 2 + 1,        # 3
    "available_device_hours": 240 + 120,  # 360 = 15 device-days
    "rated_kwh_capacity": 7 * 240,      # 1680
}


def test_hand_computed_usage_measures():
    m = metrics.usage_metrics(TOTALS)
    assert m["sessions"] == 3
    assert m["kwh"] == 31
    assert m["plugged_hours"] == 12
    assert m["sessions_per_device_day"] == pytest.approx(3 / 15)          # 0.2
    assert m["kwh_per_device_day"] == pytest.approx(31 / 15)              # 2.0667
    assert m["time_utilisation"] == pytest.approx(12 / 360)               # 0.0333
    assert m["energy_utilisation"] == pytest.approx(21 / 1680)            # 0.0125
    assert m["estimated_idle_share"] == pytest.approx(1 - 3 / 8)          # 0.625


def test_per_session_charging_estimate():
    assert metrics.estimated_charging_hours(14, 7, 3) == pytest.approx(2.0)
    assert metrics.estimated_charging_hours(7, 7, 5) == pytest.approx(1.0)
    # Energy above what the rating allows in the plug-in time: capped at the plug-in time.
    assert metrics.estimated_charging_hours(50, 7, 3) == pytest.approx(3.0)
    assert metrics.estimated_charging_hours(10, None, 4) is None
    assert metrics.estimated_charging_hours(10, float("nan"), 4) is None
    assert metrics.estimated_charging_hours(10, 0, 4) is None


def test_unknown_ratings_are_excluded_from_energy_utilisation():
    # Using all energy (31 kWh) against the rated capacity would overstate it: 31 / 1680.
    assert metrics.energy_utilisation(TOTALS["kwh_rated"], TOTALS["rated_kwh_capacity"]) \
        == pytest.approx(0.0125)
    # A selection of only unrated devices has no capacity: no energy utilisation at all.
    unrated = dict(TOTALS, devices_rated=0, kwh_rated=0, plugged_hours_rated=0,
                   charging_hours_est=0, rated_kwh_capacity=0)
    m = metrics.usage_metrics(unrated)
    assert m["energy_utilisation"] is None
    assert m["estimated_idle_share"] is None
    assert m["time_utilisation"] == pytest.approx(12 / 360)


def test_ratios_are_recomputed_from_sums_not_averaged():
    # A: 1 session in 1 available day (1.0/day); B: 1 session in 9 days (0.111/day).
    # Pooled: 2 sessions / 10 device-days = 0.2, not the mean of the two rates (0.556).
    a = {"sessions": 1, "available_device_hours": 24}
    b = {"sessions": 1, "available_device_hours": 9 * 24}
    pooled = metrics.sessions_per_device_day(a["sessions"] + b["sessions"],
                                             a["available_device_hours"]
                                             + b["available_device_hours"])
    assert pooled == pytest.approx(2 / 10)  # not the mean of 1.0 and 0.111
    assert pooled != pytest.approx((1.0 + 1 / 9) / 2)


def test_empty_selection_returns_none_everywhere():
    empty = {c: 0 for c in TOTALS}
    m = metrics.usage_metrics(empty)
    assert set(m) <= set(metrics.METRIC_DEFINITIONS)
    assert all(v is None for v in m.values()), m
    assert metrics.usage_metrics({}) == {k: None for k in m}


def test_devices_without_sessions_give_zero_usage_not_none():
    idle = dict({c: 0 for c in TOTALS}, devices=2, devices_rated=1,
                available_device_hours=360, rated_kwh_capacity=1680)
    m = metrics.usage_metrics(idle)
    assert m["sessions"] == 0 and m["kwh"] == 0
    assert m["sessions_per_device_day"] == 0.0
    assert m["time_utilisation"] == 0.0
    assert m["energy_utilisation"] == 0.0
    assert m["estimated_idle_share"] is None  # no plugged-in time to split


@pytest.mark.parametrize("bad", [None, 0, 0.0, -5, float("nan"), float("inf"), "x"])
def test_ratio_denominators_that_cannot_divide(bad):
    assert metrics.ratio(1, bad) is None
    assert metrics.time_utilisation(5, bad) is None
    assert metrics.sessions_per_device_day(5, bad) is None
    assert metrics.devices_per_100k(5, bad) is None
    assert metrics.vehicles_per_device(5, bad) is None


def test_missing_numerators():
    assert metrics.ratio(None, 10) is None
    assert metrics.ratio(float("nan"), 10) is None
    assert metrics.estimated_idle_share(None, 8) is None


def test_population_and_fleet_measures():
    # 12 devices, 3 of them rapid (50 kW+), 15,000 residents, 240 plug-in vehicles.
    assert metrics.devices_per_100k(12, 15_000) == pytest.approx(80.0)
    assert metrics.rapid_devices_per_100k(3, 15_000) == pytest.approx(20.0)
    assert metrics.vehicles_per_device(240, 12) == pytest.approx(20.0)
    assert metrics.devices_per_100k(0, 15_000) == 0.0
    assert metrics.devices_per_100k(12, 0) is None
    assert metrics.vehicles_per_device(240, 0) is None


def test_rapid_threshold():
    assert metrics.is_rapid(50) and metrics.is_rapid(150)
    assert not metrics.is_rapid(49.9)
    assert not metrics.is_rapid(None) and not metrics.is_rapid(float("nan"))
    ratings = [50, 150, 49.9, None, float("nan"), "350", "n/a", 7]
    assert metrics.count_rapid(ratings) == sum(metrics.is_rapid(kw) for kw in ratings) == 3


def test_idle_share_bounds():
    assert metrics.estimated_idle_share(0, 8) == 1.0
    assert metrics.estimated_idle_share(8, 8) == 0.0
    assert metrics.estimated_idle_share(9, 8) == 0.0  # never negative


def test_every_definition_is_complete():
    for metric_id, entry in metrics.METRIC_DEFINITIONS.items():
        label, unit, definition = entry
        assert label and unit and definition, metric_id
        assert "\n" not in definition
