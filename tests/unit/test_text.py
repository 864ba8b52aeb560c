"""Tests of plain-English number, rank and month formatting."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from dashboard.domain.text import (NO_DATA, fmt_month, fmt_number, fmt_pct, fmt_period, fmt_rate,
    join_and, ordinal, rank_phrase)


@pytest.mark.parametrize("n, expected", [
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
    (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (48, "48th"), (101, "101st"),
    (111, "111th"), (112, "112th"), (113, "113th"), (704, "704th"), (1001, "1001st"), (0, "0th"),
    (-1, "-1st"), (-11, "-11th"), (np.int64(2), "2nd"),
])
def test_ordinal(n, expected):
    assert ordinal(n) == expected


@pytest.mark.parametrize("rank, total, expected", [
    (48, 704, "48th of 704"), (1, 33, "1st of 33"), (12, 1250, "12th of 1,250"),
    (None, 704, "not ranked"),
])
def test_rank_phrase(rank, total, expected):
    assert rank_phrase(rank, total) == expected


@pytest.mark.parametrize("value, decimals, expected", [
    (0, 0, "0"), (1234, 0, "1,234"), (1234567.891, 2, "1,234,567.89"), (-1234.5, 0, "-1,235"),
    (2.5, 0, "3"), (0.125, 2, "0.13"), (2.675, 2, "2.68"), (-0.04, 1, "0.0"), (7, 2, "7.00"),
    (np.float64(9876.54), 1, "9,876.5"), (np.int64(1000000), 0, "1,000,000"),
    (Decimal("12.345"), 2, "12.35"), (1e15, 0, "1,000,000,000,000,000"),
])
def test_fmt_number(value, decimals, expected):
    assert fmt_number(value, decimals) == expected


@pytest.mark.parametrize("value", [
    None, float("nan"), np.nan, pd.NA, pd.NaT, float("inf"), -float("inf"), "abc", True,
])
def test_missing_values_read_no_data(value):
    assert fmt_number(value) == NO_DATA
    assert fmt_pct(value) == NO_DATA
    assert fmt_rate(value, "kWh") == NO_DATA


def test_fmt_number_refuses_negative_decimals():
    with pytest.raises(ValueError):
        fmt_number(1.5, -1)


@pytest.mark.parametrize("value, kwargs, expected", [
    (12.34, {}, "12.3%"), (12.35, {}, "12.4%"), (0.1234, {"fraction": True}, "12.3%"),
    (1, {"fraction": True, "decimals": 0}, "100%"), (1234.5, {"decimals": 0}, "1,235%"),
])
def test_fmt_pct(value, kwargs, expected):
    assert fmt_pct(value, **kwargs) == expected


@pytest.mark.parametrize("value, unit, decimals, expected", [
    (3.25, "kWh", 1, "3.3 kWh"),
    (41.2, "per 100,000 residents", 1, "41.2 per 100,000 residents"),
    (12.5, "%", 1, "12.5%"),
    (12.5, "£", 2, "£12.50"),
    (-3.5, "£", 2, "-£3.50"),
    (1500, " kW ", 0, "1,500 kW"),
    (7, "", 0, "7"),
])
def test_fmt_rate(value, unit, decimals, expected):
    assert fmt_rate(value, unit, decimals) == expected


@pytest.mark.parametrize("month, expected", [
    ("2024-04", "April 2024"), ("2026-03", "March 2026"), ("2025-12", "December 2025"),
])
def test_fmt_month(month, expected):
    assert fmt_month(month) == expected


def test_fmt_period():
    assert fmt_period("2024-04", "2026-03") == "April 2024 to March 2026"
    assert fmt_period("2025-01", "2025-01") == "January 2025"


@pytest.mark.parametrize("items, expected", [
    ([], ""), (["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c"),
])
def test_join_and(items, expected):
    assert join_and(items) == expected


def test_coverage_sentence_names_both_counts_and_their_sources():
    from dashboard.domain import coverage

    text = coverage.sentence(1234, "Lambeth", 2345.0, "Lambeth")
    assert text == ("1,234 devices on the map in Lambeth (the registry to February 2022, Open "
                    "Charge Map central London 2025, Lewisham 2022); DfT counted 2,345 public "
                    "devices in Lambeth in 2024.")
    assert coverage.sentence(1, "Bank", None, "City of London (all wards)").endswith(
        "DfT publishes no count of public devices for City of London (all wards).")
    assert coverage.sentence(1, "Bank", 3, "x").startswith("1 device on the map")
