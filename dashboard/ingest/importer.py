"""One import, end to end: read, check, match devices, and store a dataset (unless a dry run).

``run_import`` returns a plain dict (the command line prints it as JSON; a page can show it):
the recognised format, counts, errors and warnings by rule with example rows, the device step,
the period and, when stored, the ``dataset_id``. A file that cannot be read at all raises
``IngestError`` before anything is written.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard.data import schema
from dashboard.ingest import devices as dev
from dashboard.ingest import validate
from dashboard.ingest.datastore import DatasetStore
from dashboard.ingest.readers import PARSED_COLUMNS, IngestError, read_file
from dashboard.domain.text import fmt_period
from dashboard.data.usage import file_sha256

log = logging.getLogger(__name__)

UNMATCHED_SHOWN = 50  # unmatched device references listed in a result


@dataclass
class Options:
    period: tuple[dt.date, dt.date] | None = None   # declared reporting period (inclusive)
    mapping: dict[str, str] | None = None           # column mapping for an unrecognised table
    unmatched: str = "leave"                        # "add" or "leave"
    dry_run: bool = False
    operator: str | None = None                     # name for the label; else from the file
    imported_by: str = ""
    now: dt.datetime | None = None
    names: list[str] = field(default_factory=list)  # display names for the files (uploads)


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """"YYYY-MM..YYYY-MM" as (first day, last day); ValueError otherwise."""
    try:
        first, last = text.split("..")
        a = dt.date(int(first[:4]), int(first[5:7]), 1)
        b = dt.date(int(last[:4]), int(last[5:7]), 1)
        if len(first) != 7 or len(last) != 7 or first[4] != "-" or last[4] != "-":
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"a period is YYYY-MM..YYYY-MM, not {text!r}") from None
    if b < a:
        raise ValueError(f"the period ends before it starts: {text!r}")
    return a, (b.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def usage_label(record: dict | None) -> str:
    """Where usage numbers come from, as every label on screen and in exports says it."""
    if not record:
        return "Simulated usage"
    first, last = record["period"]
    return (f"Operator data: {record['operator']}, {fmt_period(first[:7], last[:7])}, "
            f"imported {record['imported_at'][:10]}")


def _devices(data_dir: Path, store: DatasetStore) -> pd.DataFrame:
    table = pd.read_parquet(schema.chargepoints_path(data_dir))
    added = store.added_devices()
    if added is not None and len(added):
        table = pd.concat([table, added[~added["device_id"].isin(table["device_id"])]],
                          ignore_index=True)
    return table


def _unreadable_rows(display: str, lines: list[int]) -> pd.DataFrame:
    rows = pd.DataFrame({c: pd.Series(dtype=object) for c in PARSED_COLUMNS})
    if not lines:
        return rows
    n = len(lines)
    return pd.DataFrame({
        "file": display, "row": np.asarray(lines, "int64"), "ref": "", "device_ref": "",
        "site_ref": "", "lat": np.nan, "lon": np.nan,
        "start": pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]"),
        "end": pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]"),
        "kwh": np.nan, "plugged_hours": np.nan, "charging_hours": np.nan, "rated_kw": np.nan,
        "operator": "", "start_text": "", "end_text": "", "kwh_text": "", "alt_ref": "",
        "unreadable": True,
    })


def _duplicates(frame: pd.DataFrame) -> pd.Series:
    """Rows repeating an earlier row's session: the same id, or without an id the same device,
    start, end and energy (compared by 64-bit hashes of those columns)."""
    natural = pd.util.hash_pandas_object(frame[["device_ref", "start", "end", "kwh_text"]],
                                         index=False)
    by_id = pd.util.hash_pandas_object(frame["ref"], index=False)
    has_id = frame["ref"].ne("")
    key = pd.Series(np.where(has_id, by_id, natural), index=frame.index)
    # an id and a natural key live in different spaces: compare within each
    dup = (key.where(has_id).duplicated(keep="first") & has_id) | (
        key.where(~has_id).duplicated(keep="first") & ~has_id)
    return dup & ~frame["unreadable"]


def _operator_name(options: Options, kept: pd.DataFrame, devices: pd.DataFrame) -> str:
    if options.operator:
        return options.operator
    named = kept["operator"][kept["operator"].ne("")]
    if not named.empty:
        return ", ".join(named.value_counts().index[:3])
    ops = kept["device_id"].map(devices.set_index("device_id")["operator"])
    ops = ops[ops.notna() & ops.ne("Unknown")]
    return ", ".join(ops.value_counts().index[:3]) if not ops.empty else "operator not named"


def _whole_months(local_start: pd.Series) -> tuple[dt.date, dt.date]:
    first = local_start.min().date().replace(day=1)
    last = local_start.max().date()
    last = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return first, last


def run_import(paths: list[Path], store: DatasetStore, data_dir: Path,
               options: Options | None = None) -> dict:
    options = options or Options()
    if options.unmatched not in ("add", "leave"):
        raise ValueError("unmatched is 'add' or 'leave'")
    now = options.now or dt.datetime.now(dt.timezone.utc)
    paths = [Path(p) for p in paths]
    names = options.names or [p.name for p in paths]
    digests = [file_sha256(p) if p.is_file() else "" for p in paths]

    parsed = []
    with tempfile.TemporaryDirectory(prefix="bd-ingest-") as work:
        for path, name in zip(paths, names):
            parsed.extend(read_file(path, Path(work), options.mapping, display=name))
    frames, registrations, formats, notes = [], [], [], []
    credited = duplicates = 0
    for p in parsed:
        formats.append(p.format)
        notes.extend(f"{p.frame['file'].iloc[0] if len(p.frame) else ''}: {n}".lstrip(": ")
                     for n in p.notes)
        credited += p.credited
        duplicates += p.duplicates
        if p.registrations is not None:
            registrations.append(p.registrations)
        if len(p.frame):
            frames.append(p.frame.assign(unreadable=False))
        bad = getattr(p, "bad_lines", [])
        if bad:
            frames.append(_unreadable_rows(p.frame["file"].iloc[0] if len(p.frame) else "", bad))
    for record in store.datasets():
        if record.get("sha256") == digests:
            notes.append(f"the same file(s) were imported before as dataset "
                         f"{record['dataset_id']} on {record['imported_at'][:10]}")
    if not frames:
        raise IngestError("No sessions were found in " + ", ".join(names)
                          + (" (only a registration table)." if registrations else "."))
    frame = pd.concat(frames, ignore_index=True)
    frame["unreadable"] = frame["unreadable"].astype(bool)
    rows_read = len(frame) + credited + duplicates

    dup = _duplicates(frame)
    duplicates += int(dup.sum())
    codes_k, keys = pd.factorize(dev.reference_keys(frame))
    devices = _devices(Path(data_dir), store)
    regs = pd.concat(registrations, ignore_index=True) if registrations else None
    marker = f"{now:%Y-%m-%d} {', '.join(names)}"[:120]
    usable = (~frame["unreadable"] & ~dup).to_numpy()
    refs = dev.summarise(frame[usable], codes_k[usable], keys)
    refs = refs[refs["key"].ne("")]
    matching = dev.match(refs, devices, store.known_ids(), regs, Path(data_dir),
                         options.unmatched, marker)
    # Per distinct reference (by factorised code), then spread to the rows by position.
    n_keys = len(keys)
    status_by = np.full(n_keys, "unmatched", dtype=object)
    device_by = np.full(n_keys, "", dtype=object)
    status_by[matching.refs.index.to_numpy()] = matching.refs["status"].to_numpy()
    device_by[matching.refs.index.to_numpy()] = matching.refs["device_id"].to_numpy()
    all_devices = pd.concat([devices, matching.added], ignore_index=True) if len(
        matching.added) else devices
    kw_of = all_devices.drop_duplicates("device_id").set_index("device_id")["max_kw"].astype(float)
    rated_by = pd.Series(device_by).map(kw_of).to_numpy(dtype=float)
    given = matching.refs["rated_kw"].astype(float)
    fill = np.full(n_keys, np.nan)
    fill[matching.refs.index.to_numpy()] = given.to_numpy()
    rated_by = np.where(np.isnan(rated_by), fill, rated_by)
    safe = np.where(codes_k < 0, 0, codes_k)
    status = pd.Series(np.where(codes_k < 0, "unmatched", status_by[safe]), index=frame.index)
    rated = pd.Series(np.where(codes_k < 0, np.nan, rated_by[safe]), index=frame.index)
    frame_codes = codes_k

    masks = validate.error_masks(frame, options.period, pd.Timestamp(now.replace(tzinfo=None))
                                 + pd.Timedelta(days=1))
    masks["unreadable_row"] = frame["unreadable"]
    masks["duplicate"] = dup
    masks["no_device"] = status.eq("unmatched")
    masks["ambiguous_device"] = status.eq("ambiguous")
    masks["outside_london"] = status.eq("outside_london")
    codes = validate.first_error(masks, len(frame))
    kept_mask = codes == 0
    warn = {k: np.zeros(len(frame), bool) for k in validate.WARNINGS}
    if kept_mask.any():
        on_kept = validate.warning_masks(frame[kept_mask], rated[kept_mask])
        for k, m in on_kept.items():
            warn[k][kept_mask] = m
    flags = validate.warning_flags(warn, len(frame))
    errors, warnings, examples = validate.report(frame, codes, warn)
    if credited:
        errors = {"credited": credited, **errors}
    ocpi_dups = duplicates - int(dup.sum())
    if ocpi_dups:
        errors["duplicate"] = errors.get("duplicate", 0) + ocpi_dups

    frame["flags"] = flags
    kept = frame.loc[kept_mask, ["file", "row", "ref", "start", "end", "kwh", "charging_hours",
                                 "flags", "operator"]]
    kept_codes = frame_codes[kept_mask]
    kept_device = pd.Series(device_by[kept_codes], index=kept.index)
    refs_used = matching.refs
    result = {
        "format": "; ".join(dict.fromkeys(formats)),
        "files": names,
        "sha256": digests,
        "rows_read": int(rows_read),
        "sessions_kept": int(len(kept)),
        "rows_excluded": int(rows_read - len(kept)),
        "rows_flagged": int((kept["flags"] != 0).sum()),
        "kwh_kept": round(float(kept["kwh"].sum()), 3),
        "plugged_hours_kept": round(float((kept["end"] - kept["start"]).dt.total_seconds().sum()
                                          / 3600.0), 3),
        "errors": errors,
        "warnings": warnings,
        "duplicates": int(duplicates),
        "credited": int(credited),
        "devices_matched": int(refs_used["status"].eq("matched").sum()),
        "devices_added": int(refs_used["status"].eq("added").sum()),
        "devices_unmatched": int(refs_used["status"].eq("unmatched").sum()),
        "devices_ambiguous": int(refs_used["status"].eq("ambiguous").sum()),
        "devices_outside_london": int(refs_used["status"].eq("outside_london").sum()),
        "unmatched": _unmatched_list(refs_used),
        "examples": examples.to_dict("records"),
        "notes": notes,
        "period": None,
        "dry_run": bool(options.dry_run),
    }
    report_bytes = validate.report_csv(errors, warnings, examples)
    result["report_csv"] = report_bytes.decode("utf-8")
    if kept.empty:
        result["message"] = "Nothing could be imported: every row was excluded (see errors)."
        return result
    local = validate.local_start(kept["start"])
    period = options.period or _whole_months(local)
    result["period"] = [period[0].isoformat(), period[1].isoformat()]
    operator = _operator_name(options, kept.assign(device_id=kept_device), all_devices)
    result["operator"] = operator
    if options.dry_run:
        return result

    record = {
        "dataset_id": store.new_dataset_id(hashlib.sha256("".join(digests).encode())
                                           .hexdigest(), now),
        "operator": operator,
        "period": result["period"],
        "files": names,
        "sha256": digests,
        "format": result["format"],
        "rows_read": result["rows_read"],
        "sessions_kept": result["sessions_kept"],
        "rows_excluded": result["rows_excluded"],
        "rows_flagged": result["rows_flagged"],
        "kwh_kept": result["kwh_kept"],
        "plugged_hours_kept": result["plugged_hours_kept"],
        "errors": errors, "warnings": warnings,
        "devices": int(len(np.unique(kept_codes))),
        "devices_added": result["devices_added"],
        "unmatched_policy": options.unmatched,
        "imported_by": options.imported_by,
        "imported_at": now.isoformat(timespec="seconds"),
    }
    result["dataset_id"] = record["dataset_id"]
    result["label"] = usage_label(record)
    from dashboard.data.store import ensure_index
    store.create(record["dataset_id"],
                 sessions=_sessions_table(kept, kept_codes, device_by), record=record,
                 report_csv=report_bytes, devices_csv=_devices_csv(refs_used),
                 chargepoints=all_devices, added=matching.added, learned=matching.learned,
                 build_index=ensure_index)
    return result


def _sessions_table(kept: pd.DataFrame, codes: np.ndarray, device_by: np.ndarray) -> pa.Table:
    """The kept sessions in start order, in the session schema (device ids dictionary-encoded,
    times UTC) plus the reported charging hours, the warning flags and the source row."""
    start = kept["start"].to_numpy("datetime64[us]")
    order = np.argsort(start, kind="stable")
    ids = kept["ref"].astype(str)
    usable = ids.ne("") & ~ids.duplicated(keep=False)
    if not usable.all():
        fallback = kept["file"].astype(str) + ":" + kept["row"].astype(str)
        ids = ids.where(usable, fallback)
    used, local = np.unique(codes, return_inverse=True)
    utc = pa.timestamp("us", tz="UTC")
    return pa.table({
        "session_id": pa.array(ids, from_pandas=True).take(pa.array(order)).cast(pa.string()),
        "device_id": pa.DictionaryArray.from_arrays(
            pa.array(local[order].astype("int32")),
            pa.array(device_by[used].astype(str), pa.string())),
        "start": pa.array(start[order], pa.timestamp("us")).cast(utc),
        "end": pa.array(kept["end"].to_numpy("datetime64[us]")[order], pa.timestamp("us"))
        .cast(utc),
        "kwh": pa.array(kept["kwh"].to_numpy("float64")[order]),
        "simulated": pa.array(np.zeros(len(kept), bool)),
        "charging_hours": pa.array(kept["charging_hours"].to_numpy("float64")[order],
                                   from_pandas=True),
        "flags": pa.array(kept["flags"].to_numpy("int16")[order]),
        "source_row": pa.array(kept["row"].to_numpy("int64")[order]),
    })


def _unmatched_list(refs: pd.DataFrame) -> list[dict]:
    left = refs[~refs["status"].isin(["matched"])].sort_values("sessions", ascending=False)
    return [{"ref": r.key, "status": r.status, "sessions": int(r.sessions),
             "lat": None if pd.isna(r.lat) else round(float(r.lat), 6),
             "lon": None if pd.isna(r.lon) else round(float(r.lon), 6),
             "nearest_m": None if pd.isna(r.distance_m) else float(r.distance_m)}
            for r in left.head(UNMATCHED_SHOWN).itertuples()]


def _devices_csv(refs: pd.DataFrame) -> bytes:
    from dashboard.domain.export import neutralise
    out = refs[["key", "status", "how", "device_id", "lat", "lon", "distance_m", "sessions"]].copy()
    out["key"] = out["key"].astype(str).map(neutralise)
    buf = io.StringIO()
    out.rename(columns={"key": "reference"}).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")
