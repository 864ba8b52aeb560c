"""Plain-English formatting of numbers, ranks and months for page text, cards and messages.

Every function here returns text for people to read, never for machines: missing values come out as
"no data" rather than raising, and rounding is half-up (2.5 -> 3), as people round by hand.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

__all__ = [
    "NO_DATA", "fmt_month", "fmt_number", "fmt_pct", "fmt_period", "fmt_rate", "join_and",
    "ordinal", "rank_phrase",
]

NO_DATA = "no data"
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Units written before the number ("£12.50") rather than after it ("12.5 kWh").
PREFIX_UNITS = frozenset({"£", "$", "€"})


def finite(value: object) -> float | None:
    """``value`` as a float, or None when it is missing or not a finite number.

    Accepts Python and NumPy numbers, ``Decimal`` and numeric strings; ``None``, NaN, infinities,
    ``pandas.NA`` and anything that does not convert to a number count as missing.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _round_half_up(number: float, decimals: int) -> Decimal:
    """Round as people do, halves away from zero, from the float's shortest decimal form."""
    step = Decimal(1).scaleb(-decimals)
    rounded = Decimal(repr(number)).quantize(step, rounding=ROUND_HALF_UP)
    return rounded if rounded != 0 else abs(rounded)  # never show "-0" or "-0.0"


def fmt_number(value: object, decimals: int = 0) -> str:
    """A number with thousands separators and a fixed number of decimals: ``1234.56 -> "1,235"``.

    Missing or non-finite values give ``"no data"``.
    """
    number = finite(value)
    if number is None:
        return NO_DATA
    if decimals < 0:
        raise ValueError("decimals must be zero or more")
    return f"{_round_half_up(number, decimals):,.{decimals}f}"


def fmt_pct(value: object, decimals: int = 1, *, fraction: bool = False) -> str:
    """A percentage: ``fmt_pct(12.34) -> "12.3%"``.

    ``value`` is already a percentage unless ``fraction`` is True, when it is a share of one
    (``fmt_pct(0.1234, fraction=True) -> "12.3%"``), as utilisation and idle share are.
    """
    number = finite(value)
    if number is None:
        return NO_DATA
    return f"{fmt_number(number * 100 if fraction else number, decimals)}%"


def fmt_rate(value: object, unit: str, decimals: int = 1) -> str:
    """A value with its unit: ``fmt_rate(3.25, "kWh") -> "3.3 kWh"``.

    ``"%"`` attaches without a space and currency symbols go in front (``"£12.50"``); any other
    unit follows after a space, so ``fmt_rate(41.2, "per 100,000 residents")`` reads
    ``"41.2 per 100,000 residents"``. An empty unit gives the bare number.
    """
    number = fmt_number(value, decimals)
    unit = unit.strip()
    if number == NO_DATA or not unit:
        return number
    if unit == "%":
        return f"{number}%"
    if unit in PREFIX_UNITS:
        sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
        return f"{sign}{unit}{digits}"
    return f"{number} {unit}"


def ordinal(n: int) -> str:
    """English ordinal of an integer: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 101st, 111th."""
    n = int(n)
    magnitude = abs(n)
    if magnitude % 100 in (11, 12, 13):
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(magnitude % 10, "th")
    return f"{n}{suffix}"


def rank_phrase(rank: int | None, total: int) -> str:
    """A rank out of a total: ``rank_phrase(48, 704) -> "48th of 704"``; "not ranked" if None."""
    if rank is None:
        return "not ranked"
    return f"{ordinal(rank)} of {fmt_number(total)}"


def fmt_month(month: str) -> str:
    """A ``YYYY-MM`` month in words: ``"2024-04" -> "April 2024"``."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


def fmt_period(first: str, last: str) -> str:
    """A span of ``YYYY-MM`` months in words: ``"April 2024 to March 2026"``, or one month alone."""
    if first == last:
        return fmt_month(first)
    return f"{fmt_month(first)} to {fmt_month(last)}"


def join_and(items: Iterable[str]) -> str:
    """Join phrases as a sentence lists them: ``"a"``, ``"a and b"``, ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
