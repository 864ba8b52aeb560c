"""Validation of parsed sessions: errors exclude a row, warnings keep it and flag it.

Each row is counted under its FIRST failed error rule (in ``ERRORS`` order); a kept row carries
every warning it triggers. The warning thresholds are those of the EV Charging Use
Specification. Everything is computed on whole columns.
"""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd

from dashboard.domain.export import neutralise

ERRORS = {
    "credited": "an OCPI CDR cancelled by a credit CDR (both left out)",
    "unreadable_row": "the line has the wrong number of fields",
    "bad_time": "a start or end time that cannot be read",
    "bad_number": "an energy value that cannot be read",
    "negative_energy": "negative energy",
    "implausible_date": "a start before 2010 or in the future",
    "end_before_start": "end before start",
    "zero_session": "zero duration with zero energy",
    "duplicate": "the same session as an earlier row",
    "outside_period": "outside the declared reporting period",
    "no_device": "no device in the app's device table (unmatched, left out)",
    "ambiguous_device": "more than one device as close: not guessed",
    "outside_london": "the device is outside London",
}
WARNINGS = {
    "short_session": "plugged-in or charging time under 1 minute",
    "long_plug": "plugged in over 48 hours",
    "long_charge": "charging over 24 hours",
    "low_energy": "under 0.5 kWh",
    "high_energy": "over 250 kWh",
    "charge_over_plug": "charging time longer than plugged-in time",
    "over_power": "average power over 110% of the device's rated power",
}
RULE_FIELDS = {
    "bad_time": "start/end", "bad_number": "kwh", "negative_energy": "kwh",
    "implausible_date": "start", "end_before_start": "end", "zero_session": "end/kwh",
    "duplicate": "ref", "outside_period": "start", "no_device": "device",
    "ambiguous_device": "device", "outside_london": "device", "unreadable_row": "line",
    "short_session": "end", "long_plug": "end", "long_charge": "charging time",
    "low_energy": "kwh", "high_energy": "kwh", "charge_over_plug": "charging time",
    "over_power": "kwh",
}
EARLIEST = pd.Timestamp("2010-01-01")
EXAMPLES_PER_RULE = 5


def error_masks(frame: pd.DataFrame, period: tuple[dt.date, dt.date] | None,
                now: pd.Timestamp) -> dict[str, pd.Series]:
    """The error rules that can be decided from the rows alone (devices come later)."""
    start, end, kwh = frame["start"], frame["end"], frame["kwh"]
    hours = frame["plugged_hours"]
    masks = {
        "bad_time": start.isna() | end.isna(),
        "bad_number": kwh.isna(),
        "negative_energy": kwh < 0,
        "implausible_date": (start < EARLIEST) | (start > now),
        "end_before_start": end < start,
        "zero_session": hours.fillna(0).eq(0) & kwh.fillna(0).eq(0),
    }
    if period is not None:
        first = pd.Timestamp(period[0])
        after = pd.Timestamp(period[1]) + pd.Timedelta(days=1)
        local = local_start(start)
        masks["outside_period"] = (local < first) | (local >= after)
    return masks


def local_start(start: pd.Series) -> pd.Series:
    return (start.dt.tz_localize("UTC").dt.tz_convert("Europe/London")
            .dt.tz_localize(None))


ERROR_NAMES = ("", *ERRORS)       # code 0: no error
WARNING_BITS = {name: 1 << i for i, name in enumerate(WARNINGS)}  # the stored ``flags``


def _bool(mask, n: int) -> np.ndarray:
    if mask is None:
        return np.zeros(n, bool)
    values = mask.to_numpy(dtype=bool, na_value=False) if hasattr(mask, "to_numpy") else mask
    return np.asarray(values, dtype=bool)


def first_error(masks: dict, n: int) -> np.ndarray:
    """The code (index in ``ERROR_NAMES``) of the first failed rule per row; 0 when none."""
    names = [r for r in ERRORS if r in masks]
    if not names:
        return np.zeros(n, "int8")
    return np.select([_bool(masks[r], n) for r in names],
                     [ERROR_NAMES.index(r) for r in names], 0).astype("int8")


def warning_masks(frame: pd.DataFrame, rated_kw: pd.Series) -> dict[str, np.ndarray]:
    hours = frame["plugged_hours"]
    charging = frame["charging_hours"]
    kwh = frame["kwh"]
    busy = charging.where(charging > 0, hours)
    masks = {
        "short_session": (hours < 1 / 60) | (charging < 1 / 60),
        "long_plug": hours > 48,
        "long_charge": charging > 24,
        "low_energy": kwh < 0.5,
        "high_energy": kwh > 250,
        "charge_over_plug": charging > hours + 1 / 60,
        "over_power": (rated_kw > 0) & (kwh / busy > rated_kw * 1.1),
    }
    return {k: _bool(v, len(frame)) for k, v in masks.items()}


def warning_flags(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    flags = np.zeros(n, "int16")
    for name, mask in masks.items():
        flags |= np.where(mask, WARNING_BITS[name], 0).astype("int16")
    return flags


def _value(frame: pd.DataFrame, rule: str) -> pd.Series:
    if rule in ("bad_time", "end_before_start", "short_session", "long_plug",
                "implausible_date", "outside_period"):
        return frame["start_text"].astype(str) + " -> " + frame["end_text"].astype(str)
    if rule in ("bad_number", "negative_energy", "low_energy", "high_energy", "over_power",
                "zero_session"):
        return frame["kwh_text"].astype(str)
    if rule in ("long_charge", "charge_over_plug"):
        return frame["charging_hours"].round(3).astype(str) + " h"
    if rule == "duplicate":
        return frame["ref"].astype(str)
    return frame["device_ref"].astype(str)


def report(frame: pd.DataFrame, codes: np.ndarray, warnings: dict[str, np.ndarray]
           ) -> tuple[dict, dict, pd.DataFrame]:
    """Counts by error rule (``codes``) and warning rule (``warnings``: masks over the kept
    rows' positions in ``frame``), and up to ``EXAMPLES_PER_RULE`` example rows per rule
    (file, row, field, value, rule, kind)."""
    counts = np.bincount(codes.astype("int64"), minlength=len(ERROR_NAMES))
    errors = {name: int(counts[i]) for i, name in enumerate(ERROR_NAMES) if i and counts[i]}
    warn = {name: int(m.sum()) for name, m in warnings.items() if m.any()}
    parts = []
    for rule in errors:
        where = np.flatnonzero(codes == ERROR_NAMES.index(rule))[:EXAMPLES_PER_RULE]
        parts.append(_examples(frame.iloc[where], rule, "error"))
    for rule in warn:
        where = np.flatnonzero(warnings[rule])[:EXAMPLES_PER_RULE]
        parts.append(_examples(frame.iloc[where], rule, "warning"))
    examples = (pd.concat(parts, ignore_index=True) if parts else
                pd.DataFrame(columns=["file", "row", "field", "value", "rule", "kind"]))
    return errors, warn, examples


def _examples(rows: pd.DataFrame, rule: str, kind: str) -> pd.DataFrame:
    return pd.DataFrame({
        "file": rows["file"].astype(str), "row": rows["row"].astype("int64"),
        "field": RULE_FIELDS.get(rule, ""), "value": _value(rows, rule).str.slice(0, 120),
        "rule": rule, "kind": kind,
    })


def report_csv(errors: dict, warnings: dict, examples: pd.DataFrame, extra: list[dict] = ()
               ) -> bytes:
    """The validation report as CSV: counts by rule, then the example rows. Text from the file is
    neutralised so that a spreadsheet cannot run it as a formula."""
    out = io.StringIO()
    out.write("section,kind,rule,meaning,count\n")
    for kind, counts, meanings in (("error", errors, ERRORS), ("warning", warnings, WARNINGS)):
        for rule, n in counts.items():
            out.write(f"counts,{kind},{rule},\"{meanings[rule]}\",{n}\n")
    for row in extra:
        out.write(f"counts,{row['kind']},{row['rule']},\"{row['meaning']}\",{row['count']}\n")
    out.write("\nsection,file,row,field,value,rule,kind\n")
    safe = examples.copy()
    for col in ("file", "value"):
        safe[col] = safe[col].astype(str).map(neutralise)
    safe.insert(0, "section", "example")
    safe.to_csv(out, index=False, header=False, lineterminator="\n")
    return out.getvalue().encode("utf-8")
