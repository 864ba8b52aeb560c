"""Per-device monthly usage held as arrays: the store's answer for periods of whole months.

Every period a user can pick on the app's pages is a run of whole months, and the questions the
EV page asks most (totals per device, ward, speed or operator; a monthly series) then need only
the monthly rollup: one row per device and month. Held here as dense arrays (devices x months,
about 5 MB for 6,438 devices over 24 months whatever the number of sessions), a selection is a
boolean mask and a total is a column sum, which costs a tenth of planning and running the same
SQL and converting its result. The SQL in ``dashboard.data.store`` stays the definition: these
functions return the same frames (tests/unit/test_monthly.py compares them on many filters),
and the store uses SQL whenever a period has a partial month.

``MonthlyUsage.load`` reads the arrays from the store's DuckDB connection once per process;
built before gunicorn forks, the workers share them copy-on-write.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

# Usage summed per device and month (``sim.device_months``); charging hours are NULL, here 0,
# for devices with no rated kW.
SUMS = ("n", "kwh", "hours", "charging_hours")
# The weekday x hour heat-map is kept per borough and speed class (``HEAT_KEYS``) and month:
# sessions and kWh by hour of the week (168).
HEAT_KEYS = ("borough_code", "speed_class")
# The chargepoint columns a filter selects on.
TEXT_COLUMNS = ("device_id", "borough_code", "ward2022_code", "ward2011_code", "speed_class",
                "operator", "status_id", "street", "location_type", "install_year")
HOUR = np.timedelta64(3600, "s")


def _seconds(day: dt.date) -> np.datetime64:
    return np.datetime64(dt.datetime.combine(day, dt.time()), "s")


@dataclass(frozen=True)
class MonthlyUsage:
    """Devices in ``chargepoints`` order (by ``device_id``) and their usage per month.

    ``labels`` holds each selection column's values (sorted text) and ``codes`` each device's
    position in them (``len(labels)`` where the value is missing), ``max_kw`` the
    rated kW (NaN if unknown), ``avail_from`` the start of availability (NaT: throughout),
    ``months`` the first day of each month covered, ``sums`` one (months x devices) float
    array per name in ``SUMS`` and ``running`` the same summed over the months before each
    row (one row more: a period's totals are two rows' difference), ``hours`` each device's
    hours of availability in each month (months x devices) and ``live`` whether it was
    available at all in that month (both depend only on the month, since every period
    starts at a month's start), and ``heat`` sessions ("n") and "kwh" by borough x speed
    class x month x hour of the week, summed over the months before each (one month more, as
    ``running``), codes as in ``codes`` (missing last).
    """

    labels: dict
    codes: dict
    max_kw: np.ndarray
    avail_from: np.ndarray
    months: np.ndarray
    sums: dict
    running: dict
    hours: np.ndarray
    live: np.ndarray
    heat: dict

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date
             ) -> "MonthlyUsage":
        """Read the device table and ``sim.device_months`` for the months from ``first`` to
        ``last`` (the sessions' coverage)."""
        cols = ", ".join(f'"{c}"' for c in TEXT_COLUMNS)
        devices = con.execute(
            f"SELECT {cols}, max_kw, avail_from, k FROM chargepoints ORDER BY device_id").df()
        months = np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1)
        rows = con.execute(
            "SELECT k, month, n::DOUBLE AS n, kwh, hours, coalesce(charging_hours, 0) AS "
            "charging_hours FROM sim.device_months").df()
        indexed = devices["k"].notna().to_numpy()  # NULL: a device the session index lacks
        row_of = pd.Series(np.flatnonzero(indexed),
                           index=devices.loc[indexed, "k"].astype("int64").to_numpy())
        row = rows["k"].astype("int64").map(row_of)
        col = (rows["month"].to_numpy().astype("datetime64[M]") - months[0]).astype(int)
        keep = row.notna().to_numpy() & (col >= 0) & (col < len(months))
        row, col = row.to_numpy()[keep].astype(int), col[keep]
        sums, running = {}, {}
        for name in SUMS:
            grid = np.zeros((len(months), len(devices)))
            np.add.at(grid, (col, row), rows[name].to_numpy(dtype="f8")[keep])
            sums[name] = grid
            running[name] = np.concatenate([np.zeros((1, len(devices))), grid.cumsum(axis=0)])
        labels = {c: np.unique(devices[c].dropna().astype(str).to_numpy()).astype(object)
                  for c in TEXT_COLUMNS}
        codes = {c: _positions(labels[c], devices[c]) for c in TEXT_COLUMNS}
        avail = devices["avail_from"].to_numpy().astype("datetime64[s]")
        # Availability per month: from the later of the month's start and the device's, to the
        # month's end (a period's first month starts at the period's start, so no period moves
        # these).
        starts = months.astype("datetime64[s]")[:, None]
        ends = (months + 1).astype("datetime64[s]")[:, None]
        since = np.where(np.isnat(avail), starts, np.maximum(avail[None, :], starts))
        hours = np.maximum(0.0, (ends - since) / HOUR)
        live = hours > 0  # available at some time in the month
        return cls(labels, codes, devices["max_kw"].to_numpy(dtype="f8", na_value=np.nan),
                   avail, months.astype("datetime64[D]"), sums, running, hours, live,
                   _heat(con, labels, months))

    def heatmap(self, boroughs: list | None, speeds: list | None, first: dt.date,
                last: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """Sessions and kWh by hour of the week (168 each) for whole months, for devices in
        ``boroughs`` and of ``speeds`` (None: any)."""
        span = self._span(first, last)
        picks = [(axis, self._known(key, values))
                 for axis, (key, values) in enumerate(zip(HEAT_KEYS, (boroughs, speeds)))
                 if values is not None]
        out = []
        for name in ("n", "kwh"):
            running = self.heat[name]
            cells = running[:, :, span.stop] - running[:, :, span.start]  # borough x speed x 168
            for axis, codes in picks:
                cells = np.take(cells, codes, axis=axis)
            out.append(cells.sum(axis=(0, 1)))
        return tuple(out)

    # Selection -----------------------------------------------------------------------------------
    def mask(self, equal: dict, among: dict) -> np.ndarray:
        """Devices whose column equals each value of ``equal`` and lies in each set of
        ``among`` (missing values never match)."""
        keep = np.ones(len(self.max_kw), dtype=bool)
        for column, values in [*((c, [v]) for c, v in equal.items()), *among.items()]:
            keep &= np.isin(self.codes[column], self._known(column, values))
        return keep

    def _known(self, column: str, values) -> np.ndarray:
        """The codes of those ``values`` that ``column`` holds (unknown ones left out)."""
        at = _positions(self.labels[column], values)
        return at[at < len(self.labels[column])]

    def covers(self, first: dt.date, last: dt.date) -> bool:
        """True when ``first``..``last`` are whole months inside the months held."""
        next_day = last + dt.timedelta(days=1)
        return (first.day == 1 and next_day.day == 1 and len(self.months) > 0
                and np.datetime64(first, "D") >= self.months[0]
                and np.datetime64(last, "M") <= self.months[-1].astype("datetime64[M]"))

    def _span(self, first: dt.date, last: dt.date) -> slice:
        start = self.months[0].astype("datetime64[M]")
        return slice(int(np.datetime64(first, "M") - start),
                     int(np.datetime64(last, "M") - start) + 1)

    def _start(self, keep: np.ndarray, t0: np.datetime64) -> np.ndarray:
        """Where each selected device's availability in the period starts."""
        avail = self.avail_from[keep]
        return np.where(np.isnat(avail) | (avail < t0), t0, avail)

    # Questions -----------------------------------------------------------------------------------
    def per_device(self, keep: np.ndarray, first: dt.date, last: dt.date) -> dict:
        """Usage totals (``USAGE_COLUMNS`` as float arrays) of each selected device, in device
        order, for whole months ``first`` to ``last``."""
        span = self._span(first, last)
        t0, t1 = _seconds(first), _seconds(last + dt.timedelta(days=1))
        start = self._start(keep, t0)
        avail_hours = np.maximum(0.0, (t1 - start) / HOUR)
        kw = self.max_kw[keep]
        rated = kw > 0
        per = {name: (self.running[name][span.stop] - self.running[name][span.start])[keep]
               for name in SUMS}
        return {
            "devices": (avail_hours > 0).astype("f8"),
            "devices_rated": ((avail_hours > 0) & rated).astype("f8"),
            "sessions": per["n"],
            "kwh": per["kwh"],
            "plugged_hours": per["hours"],
            "kwh_rated": np.where(rated, per["kwh"], 0.0),
            "plugged_hours_rated": np.where(rated, per["hours"], 0.0),
            "charging_hours_est": per["charging_hours"],
            "available_device_hours": avail_hours,
            "rated_kwh_capacity": np.where(rated, kw * avail_hours, 0.0),
        }

    def totals(self, keep: np.ndarray, first: dt.date, last: dt.date,
               key: str | None) -> pd.DataFrame:
        """``Store._usage_by`` for whole months: the totals of the selected devices, one row,
        or one row per value of ``key`` (sorted, missing last)."""
        columns = self.per_device(keep, first, last)
        counts = ("devices", "devices_rated", "sessions")  # whole numbers, as int64
        if key is None:
            sums = {c: np.array([v.sum()]) for c, v in columns.items()}
            keys = None
        else:
            labels, codes = self.labels[key], self.codes[key][keep]
            groups = np.flatnonzero(np.bincount(codes, minlength=len(labels) + 1))
            if len(groups) == len(codes):  # one device per group (as by device id): no sums
                order = np.argsort(codes, kind="stable")
                sums = {c: v[order] for c, v in columns.items()}
            else:
                index = np.searchsorted(groups, codes)  # group of each selected device
                sums = {c: np.bincount(index, weights=v, minlength=len(groups))
                        for c, v in columns.items()}
            keys = labels[np.minimum(groups, len(labels) - 1)] if len(labels) else labels
            keys = np.where(groups < len(labels), keys, None)
        out = {c: (v.round().astype("i8") if c in counts else v.astype("f8", copy=False))
               for c, v in sums.items()}
        if keys is not None:
            # Text as DuckDB hands it over (an empty result's column is plain object).
            out = {"key": (pd.array(keys, dtype=pd.StringDtype(na_value=np.nan)) if len(keys)
                           else np.array([], dtype=object)), **out}
        return pd.DataFrame(out)

    def series(self, keep: np.ndarray, first: dt.date, last: dt.date) -> pd.DataFrame:
        """``Store._timeseries`` by month for whole months: one row per month of the period."""
        return pd.DataFrame(self.series_columns(keep, first, last))

    def series_columns(self, keep: np.ndarray, first: dt.date, last: dt.date) -> dict:
        """``series`` as arrays by column name."""
        span = self._span(first, last)
        rated = self.max_kw > 0
        weights = keep.astype("f8")
        weights_rated = weights * rated
        sums = {name: self.sums[name][span] for name in SUMS}
        live, hours = self.live[span], self.hours[span]
        return {
            "period": self.months[span].astype("datetime64[us]"),
            "devices": live.sum(axis=1, where=keep[None, :]).astype("i8"),
            "devices_rated": live.sum(axis=1, where=(keep & rated)[None, :]).astype("i8"),
            "sessions": (sums["n"] @ weights).round().astype("i8"),
            "kwh": sums["kwh"] @ weights,
            "plugged_hours": sums["hours"] @ weights,
            "kwh_rated": sums["kwh"] @ weights_rated,
            "plugged_hours_rated": sums["hours"] @ weights_rated,
            "charging_hours_est": sums["charging_hours"] @ weights,
            "available_device_hours": hours @ weights,
            "rated_kwh_capacity": hours @ (weights_rated * np.nan_to_num(self.max_kw)),
        }


def _positions(labels: np.ndarray, values) -> np.ndarray:
    """Each value's position in the sorted text ``labels``, or ``len(labels)`` for a missing
    or unknown value (the code every array here keeps last for "none of these")."""
    values = np.asarray(values, dtype=object)
    present = ~pd.isna(values)
    text = np.array([str(v) for v in values[present]], dtype=object)
    out = np.full(len(values), len(labels), dtype=np.int64)
    if len(labels) and len(text):
        at = np.minimum(np.searchsorted(labels, text), len(labels) - 1)
        out[present] = np.where(labels[at] == text, at, len(labels))
    return out


def _heat(con: duckdb.DuckDBPyConnection, labels: dict, months: np.ndarray) -> dict:
    """``sim.device_month_hours`` summed per borough, speed class, month and hour of the week,
    as dense arrays of running totals over the months (see ``MonthlyUsage.heat``)."""
    rows = con.execute(f"""
        SELECT {", ".join(f"c.{k}" for k in HEAT_KEYS)}, h.month, h.how,
               sum(h.n)::DOUBLE AS n, sum(h.kwh)::DOUBLE AS kwh
        FROM sim.device_month_hours AS h JOIN chargepoints AS c USING (k)
        GROUP BY ALL""").df()
    index = [_positions(labels[key], rows[key]) for key in HEAT_KEYS]
    month = (rows["month"].to_numpy().astype("datetime64[M]") - months[0]).astype(int)
    inside = (month >= 0) & (month < len(months))
    shape = (*(len(labels[k]) + 1 for k in HEAT_KEYS), len(months), 168)
    out = {}
    for name in ("n", "kwh"):
        grid = np.zeros(shape)
        np.add.at(grid, (index[0][inside], index[1][inside], month[inside],
                         rows["how"].to_numpy()[inside].astype(int)),
                  rows[name].to_numpy(dtype="f8")[inside])
        out[name] = np.concatenate([np.zeros((*shape[:2], 1, 168)), grid.cumsum(axis=2)], axis=2)
    return out
