"""EV measures, defined once: pure functions of summed components, no I/O.

Every ratio is recomputed from totals (for example ``usage_summary`` or ``usage_by`` rows from
``dashboard.data.store``), never averaged from averages. Shares and utilisations are fractions
(0.25 means 25%). Whenever a measure has nothing to measure (no devices, no sessions where
sessions are the denominator, zero hours, a missing input) the function returns ``None`` so the
interface can say "no data" instead of showing 0 or raising.

Usage figures in this app are SIMULATED (see ``dashboard.data.usage``).
"""
from __future__ import annotations

from typing import Mapping

from dashboard.domain.text import finite

RAPID_KW = 50.0  # "rapid" in the DfT sense: 50 kW and over (rapid and ultra-rapid)
HOURS_PER_DAY = 24.0

# id: (label, unit, plain-English definition). Units: "share" values are fractions of 1.
METRIC_DEFINITIONS: dict[str, tuple[str, str, str]] = {
    "sessions": (
        "Charging sessions", "sessions",
        "Number of times a vehicle was plugged in, counted on the day the session started."),
    "kwh": (
        "Energy delivered", "kWh",
        "Electricity delivered to vehicles in those sessions."),
    "plugged_hours": (
        "Plugged-in time", "hours",
        "Total time vehicles were plugged in, whether or not they were drawing power."),
    "sessions_per_device_day": (
        "Sessions per device per day", "sessions",
        "Sessions divided by the number of days devices were available (from installation)."),
    "kwh_per_device_day": (
        "Energy per device per day", "kWh",
        "Energy delivered divided by the number of days devices were available."),
    "time_utilisation": (
        "Time-based utilisation", "share",
        "Plugged-in hours divided by the hours devices were available (devices x hours in the "
        "period, from installation); can pass 100% where one device charges two vehicles."),
    "energy_utilisation": (
        "Energy-based utilisation", "share",
        "Energy delivered divided by what the devices could deliver running flat out (rated kW "
        "x available hours); only devices with a published power rating are counted."),
    "estimated_idle_share": (
        "Idle plugged-in time (estimate)", "share",
        "Estimated share of plugged-in time spent not charging: each session is assumed to "
        "charge at the device's full rated power, so the charging time is energy / rated kW "
        "(at most the plugged-in time). Vehicles often charge slower, so this is an upper "
        "estimate. Only devices with a published power rating are counted."),
    "devices_per_100k": (
        "Public charge devices per 100,000 residents", "devices per 100,000 residents",
        "Public charge devices divided by the resident population, times 100,000."),
    "rapid_devices_per_100k": (
        "Rapid charge devices per 100,000 residents", "devices per 100,000 residents",
        "Public devices rated 50 kW or more divided by the resident population, times 100,000."),
    "vehicles_per_device": (
        "Plug-in vehicles per public device", "vehicles per device",
        "Licensed plug-in vehicles divided by public charge devices."),
}


def ratio(numerator, denominator, multiplier: float = 1.0) -> float | None:
    """``numerator / denominator x multiplier``; None if either is missing or the denominator
    is not positive."""
    num, den = finite(numerator), finite(denominator)
    if num is None or den is None or den <= 0:
        return None
    return num / den * multiplier


def device_days(available_device_hours) -> float | None:
    """Available device-days: available device-hours / 24 (None if missing)."""
    hours = finite(available_device_hours)
    return None if hours is None else hours / HOURS_PER_DAY


def sessions_per_device_day(sessions, available_device_hours) -> float | None:
    """Sessions per available device-day."""
    return ratio(sessions, device_days(available_device_hours))


def kwh_per_device_day(kwh, available_device_hours) -> float | None:
    """kWh per available device-day."""
    return ratio(kwh, device_days(available_device_hours))


def time_utilisation(plugged_hours, available_device_hours) -> float | None:
    """Plugged-in hours / available device-hours (devices x hours, from installation)."""
    return ratio(plugged_hours, available_device_hours)


def energy_utilisation(kwh_rated, rated_kwh_capacity) -> float | None:
    """kWh delivered by devices with a known rating / (their rated kW x available hours).

    Pass only the energy of rated devices: devices without a published rating have no capacity
    and are excluded from both sides.
    """
    return ratio(kwh_rated, rated_kwh_capacity)


def estimated_charging_hours(kwh, rated_kw, plugged_hours) -> float | None:
    """One session's charging time if it charged at full rated power: min(plugged, kWh / kW).

    None when the rating is unknown (not positive) or an input is missing. The session index in
    ``dashboard.data.store`` computes the same quantity for every session.
    """
    energy, kw, hours = finite(kwh), finite(rated_kw), finite(plugged_hours)
    if energy is None or kw is None or hours is None or kw <= 0:
        return None
    return min(hours, max(energy, 0.0) / kw)


def estimated_idle_share(charging_hours_est, plugged_hours_rated) -> float | None:
    """ESTIMATE of the share of plugged-in time not spent charging:
    1 - min(1, sum of estimated charging hours / sum of plugged-in hours), both summed over
    the sessions at devices with a known rating (see ``estimated_charging_hours``).

    The reference data records only plug-in and plug-out, not when charging stopped, so this
    assumes full-power charging and is an upper estimate of idle time.
    """
    share = ratio(charging_hours_est, plugged_hours_rated)
    return None if share is None else 1.0 - min(1.0, max(share, 0.0))


def per_100k(count, residents) -> float | None:
    """``count`` per 100,000 residents."""
    return ratio(count, residents, 100_000.0)


def devices_per_100k(devices, residents) -> float | None:
    """Public charge devices per 100,000 residents."""
    return per_100k(devices, residents)


def rapid_devices_per_100k(rapid_devices, residents) -> float | None:
    """Rapid (50 kW and over, see ``is_rapid``) devices per 100,000 residents."""
    return per_100k(rapid_devices, residents)


def is_rapid(max_kw) -> bool:
    """True for a device rated ``RAPID_KW`` (50 kW) or more."""
    kw = finite(max_kw)
    return kw is not None and kw >= RAPID_KW


def count_rapid(ratings) -> int:
    """How many of ``ratings`` (kW; missing and non-numbers are not rapid) are ``is_rapid``,
    for thousands of devices at once."""
    import numpy as np
    import pandas as pd

    kw = np.asarray(ratings)
    if kw.dtype.kind not in "fiu":  # text, None or mixed: read what is a number
        kw = pd.to_numeric(pd.Series(ratings), errors="coerce").to_numpy(dtype="f8",
                                                                          na_value=np.nan)
    return int(np.count_nonzero(np.isfinite(kw) & (kw >= RAPID_KW)))


def vehicles_per_device(vehicles, devices) -> float | None:
    """Licensed plug-in vehicles per public charge device."""
    return ratio(vehicles, devices)


def usage_metrics(totals: Mapping) -> dict[str, float | None]:
    """Every usage measure from one row of totals (``dashboard.data.store.USAGE_COLUMNS``).

    ``sessions``, ``kwh`` and ``plugged_hours`` are None when the selection has no devices
    (nothing to count), else the totals themselves (0 when devices had no sessions).
    """
    has_devices = (finite(totals.get("devices")) or 0) > 0

    def total(name: str) -> float | None:
        return finite(totals.get(name)) if has_devices else None

    hours = totals.get("available_device_hours") if has_devices else None
    return {
        "sessions": total("sessions"),
        "kwh": total("kwh"),
        "plugged_hours": total("plugged_hours"),
        "sessions_per_device_day": sessions_per_device_day(totals.get("sessions"), hours),
        "kwh_per_device_day": kwh_per_device_day(totals.get("kwh"), hours),
        "time_utilisation": time_utilisation(totals.get("plugged_hours"), hours),
        "energy_utilisation": energy_utilisation(
            totals.get("kwh_rated"), totals.get("rated_kwh_capacity") if has_devices else None),
        "estimated_idle_share": estimated_idle_share(
            totals.get("charging_hours_est"), totals.get("plugged_hours_rated")),
    }


def usage_metrics_columns(totals: Mapping) -> dict:
    """``usage_metrics`` for many rows at once: ``totals`` maps each column of
    ``dashboard.data.store.USAGE_COLUMNS`` to an array (for example a DataFrame), and the result maps
    each measure to a float array, NaN wherever ``usage_metrics`` gives None. Same rules, for
    tables of thousands of devices or periods.
    """
    import numpy as np

    def column(name: str) -> "np.ndarray":
        return np.asarray(totals[name], dtype="float64")

    def divide(num, den, multiplier: float = 1.0):
        ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
        out = np.full(np.shape(num), np.nan)
        np.divide(num * multiplier, den, out=out, where=ok)
        return out

    devices = np.nan_to_num(column("devices"), nan=0.0)
    gate = np.where(devices > 0, 1.0, np.nan)  # NaN where there are no devices
    hours = column("available_device_hours") * gate
    days = hours / HOURS_PER_DAY
    share = divide(column("charging_hours_est"), column("plugged_hours_rated"))
    return {
        "sessions": column("sessions") * gate,
        "kwh": column("kwh") * gate,
        "plugged_hours": column("plugged_hours") * gate,
        "sessions_per_device_day": divide(column("sessions"), days),
        "kwh_per_device_day": divide(column("kwh"), days),
        "time_utilisation": divide(column("plugged_hours"), hours),
        "energy_utilisation": divide(column("kwh_rated"), column("rated_kwh_capacity") * gate),
        "estimated_idle_share": 1.0 - np.minimum(1.0, np.maximum(share, 0.0)),
    }
