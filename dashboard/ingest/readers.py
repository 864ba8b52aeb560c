"""Readers: operator and council session files, recognised from their shape and header.

Every reader returns the same frame (``PARSED_COLUMNS``), one row per session read, in file
order, with the times already in UTC (naive ``datetime64[us]``; NaT where a time could not be
read) and the raw text of the fields a validation message quotes. Nothing here decides whether
a row is kept: ``dashboard.ingest.validate`` does.

Recognised, in this order:

- ZIP archives (of any of the below), refused when a member expands more than ``MAX_RATIO``
  times or the whole archive past ``MAX_UNZIPPED`` bytes (a ZIP bomb);
- XLSX workbooks (the first sheet, read as a table like a CSV);
- OCPI 2.2.1 CDRs: a JSON array, the OCPI response envelope ``{"data": [...], "status_code":
  1000}``, or NDJSON (one CDR per line);
- delimited text (comma, semicolon, tab or pipe; UTF-8, UTF-8 with BOM, UTF-16 with BOM, or
  Windows-1252/latin-1) whose header matches one of ``SHAPES``, or any other header through a
  column mapping (``Mapping``; ``suggest_mapping`` proposes one from the header names).

Times without a zone are Europe/London wall-clock times: ``to_utc`` converts them DST-aware
(a time in the hour skipped in March moves forward; a time in the hour repeated in October is
read as the first, summer-time, occurrence unless that would put an end before its start).
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

LOCAL_ZONE = "Europe/London"
MAX_RATIO = 100            # uncompressed / compressed size of any ZIP member
MAX_UNZIPPED = 4 << 30     # bytes, all members of one ZIP together
MAX_MEMBERS = 200
HEAD_BYTES = 1 << 16
MAX_HEADER_BYTES = 1 << 16  # a header line longer than this is not a table header
MISSING_TEXT = ("", "#NA", "#N/A", "NA", "N/A", "NULL", "null", "None", "-")

PARSED_COLUMNS = (
    "file", "row", "ref", "device_ref", "site_ref", "lat", "lon", "start", "end", "kwh",
    "plugged_hours", "charging_hours", "rated_kw", "operator",
    "start_text", "end_text", "kwh_text",
)


class IngestError(ValueError):
    """A file that cannot be imported at all; the message is written for the person importing."""


@dataclass
class Parsed:
    """What one file held: its recognised format, its sessions and any device registrations."""
    format: str
    frame: pd.DataFrame
    registrations: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    credited: int = 0
    duplicates: int = 0


# Text helpers ------------------------------------------------------------------------------------
# Columns stay Arrow-backed text throughout: every step below is an Arrow compute kernel, so a
# million rows cost a fraction of a second per step, not a Python call per value.
_MISSING = pa.array(MISSING_TEXT)
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_HMS = r"^(?P<h>\d+):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}(?:\.\d+)?))?$"


def norm(name: str) -> str:
    """A header name reduced to lower-case letters and digits ("Total kWh" -> "totalkwh")."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _arrow(series) -> pa.Array:
    if isinstance(series, (pa.Array, pa.ChunkedArray)):
        arr = series
    else:
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array(pd.Series(series).astype(str), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    return arr


def _text_array(series) -> pa.Array:
    arr = pc.utf8_trim_whitespace(_arrow(series).fill_null(""))
    return pc.if_else(pc.is_in(arr, value_set=_MISSING), "", arr)


def _series(arr: pa.Array, index) -> pd.Series:
    return pd.Series(arr.to_pandas(), index=index)


def _clean(series: pd.Series) -> pd.Series:
    """Text trimmed, with the usual spellings of "unknown" (``MISSING_TEXT``) as ""."""
    return _series(_text_array(series), series.index)


def _number_array(arr: pa.Array) -> pa.Array:
    text = pc.replace_substring(arr, ",", "")
    ok = pc.match_substring_regex(text, _NUMBER)
    return pc.cast(pc.if_else(ok, text, None), pa.float64())


def _number(series: pd.Series) -> pd.Series:
    """Numbers from text ("1,234.5" allowed); NaN where unreadable or missing."""
    out = _number_array(_text_array(series)).to_numpy(zero_copy_only=False)
    return pd.Series(out, index=series.index, dtype="float64")


def duration_hours(series: pd.Series) -> pd.Series:
    """Hours from "hh:mm:ss", "h:mm", or a number of hours; NaN when unreadable or missing."""
    text = _text_array(series)
    parts = pc.extract_regex(text, _HMS)
    h = pc.cast(pc.struct_field(parts, "h"), pa.float64())
    m = pc.cast(pc.struct_field(parts, "m"), pa.float64())
    sec = pc.cast(pc.if_else(pc.equal(pc.struct_field(parts, "s"), ""), "0",
                             pc.struct_field(parts, "s")), pa.float64())
    hms = pc.add(pc.add(h, pc.divide(m, 60.0)), pc.divide(sec, 3600.0))
    plain = _number_array(text)
    out = pc.if_else(pc.is_valid(hms), hms, plain).to_numpy(zero_copy_only=False)
    return pd.Series(out, index=series.index, dtype="float64")


# Times -------------------------------------------------------------------------------------------
_LOCAL_FORMATS = (
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S",
    "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%d/%m/%Y %I:%M %p", "%m/%d/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p", "%d/%m/%y %H:%M", "%d %b %Y %H:%M",
    "%d %b %Y %H:%M:%S", "%d/%m/%Y",
)
_ZONED = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_ZONED_ISO = r"^\d{4}-\d{2}-\d{2}.*(Z|[+-]\d{2}:?\d{2})$"
_ISO = r"^\d{4}-\d{2}-\d{2}"
_SERIAL = r"^\d{4,5}(\.\d+)?$"
EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "us")


def _strptime(arr: pa.Array, fmt: str) -> pa.Array:
    return pc.strptime(arr, format=fmt, unit="us", error_is_null=True)


def _strict(arr: pa.Array, fmt: str) -> np.ndarray:
    """``arr`` read with ``fmt``, refusing dates that do not exist ("31/02/2025"), which Arrow
    rolls over: a value that does not print back the same is re-read by pandas, strictly."""
    got = _strptime(arr, fmt)
    same = pc.equal(pc.strftime(got, format=fmt), arr).fill_null(False)
    out = np.array(got.to_numpy(zero_copy_only=False))
    check = ~same.to_numpy(zero_copy_only=False) & ~np.isnat(out)
    if check.any():
        strict = pd.to_datetime(pd.Series(arr.filter(pa.array(check)).to_pandas()), format=fmt,
                                errors="coerce")
        out[check] = strict.to_numpy().astype("datetime64[us]")
    return out


def _best_format(sample: pa.Array) -> str | None:
    """The candidate format that reads most of ``sample`` (day-first wins ties: UK files)."""
    best, best_n = None, 0
    for fmt in _LOCAL_FORMATS:
        n = len(sample) - _strptime(sample, fmt).null_count
        if n > best_n:
            best, best_n = fmt, n
    return best


def _iso(values: pd.Series, utc: bool) -> np.ndarray:
    got = pd.to_datetime(values, format="ISO8601", utc=utc, errors="coerce")
    if utc:
        got = got.dt.tz_convert(None)
    return got.to_numpy().astype("datetime64[us]")


def parse_times(text: pd.Series, assume_utc: bool = False) -> pd.Series:
    """Timestamps from text as naive UTC ``datetime64[us]`` (NaT where unreadable).

    ISO 8601 with a zone is converted; without one it is UTC when ``assume_utc`` (OCPI) and
    otherwise Europe/London wall-clock time, as are the day-first/month-first formats and Excel
    serial day numbers (days since 1899-12-30, as a spreadsheet saved as CSV writes dates).
    """
    arr = _text_array(text)
    n = len(arr)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    local = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    present = pc.not_equal(arr, "").to_numpy(zero_copy_only=False)
    if not present.any():
        return pd.Series(out, index=text.index)
    zoned = pc.match_substring_regex(arr, _ZONED_ISO).to_numpy(zero_copy_only=False)
    iso = pc.match_substring_regex(arr, _ISO).to_numpy(zero_copy_only=False) & ~zoned
    serial = pc.match_substring_regex(arr, _SERIAL).to_numpy(zero_copy_only=False)
    other = present & ~zoned & ~iso & ~serial
    if zoned.any():
        out[zoned] = _iso(pd.Series(arr.filter(pa.array(zoned)).to_pandas()), utc=True)
    if iso.any():
        local[iso] = _iso(pd.Series(arr.filter(pa.array(iso)).to_pandas()), utc=False)
    if serial.any():
        days = _number_array(arr.filter(pa.array(serial))).to_numpy(zero_copy_only=False)
        days = np.where((days > 20000) & (days < 80000), days, np.nan)
        micros = np.round(days * 86_400_000_000)
        val = EXCEL_EPOCH + np.nan_to_num(micros).astype("int64").astype("timedelta64[us]")
        local[serial] = np.where(np.isnan(days), np.datetime64("NaT"), val)
    if other.any():
        rest = arr.filter(pa.array(other))
        fmt = _best_format(rest.slice(0, 2000))
        if fmt is not None:
            local[other] = _strict(rest, fmt)
    has_local = ~np.isnat(local)
    if has_local.any():
        out[has_local] = local[has_local] if assume_utc else to_utc(local[has_local])
    return pd.Series(out, index=text.index)


def to_utc(local: np.ndarray, summer: bool = True) -> np.ndarray:
    """Europe/London wall-clock times to naive UTC. Times in the skipped spring hour move
    forward; times in the repeated autumn hour are read as summer time when ``summer``."""
    aware = pc.assume_timezone(pa.array(local, pa.timestamp("us")), timezone=LOCAL_ZONE,
                               ambiguous="earliest" if summer else "latest",
                               nonexistent="latest")
    return aware.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)


# Files: kind, encoding, archive ------------------------------------------------------------------
def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and len(head) == HEAD_BYTES:
            return "utf-8"  # a character cut by the end of the sample
        return "cp1252"


def _transcode(path: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of a text file in another encoding, converted in blocks."""
    out = workdir / (path.name + ".utf8")
    errors = "replace" if encoding in ("cp1252", "latin-1") else "strict"
    try:
        with open(path, "r", encoding=encoding, errors=errors, newline="") as src, \
                open(out, "w", encoding="utf-8", newline="") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except UnicodeError as exc:
        raise IngestError(f"{path.name}: the text could not be read as {encoding} ({exc.reason})."
                          ) from None
    return out


def _is_binary(head: bytes, encoding: str) -> bool:
    return encoding != "utf-16" and b"\x00" in head


def unpack_zip(path: Path, workdir: Path) -> list[Path]:
    """Extract a ZIP's files into ``workdir``, refusing bombs before extracting anything."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()
                       and not m.filename.startswith("__MACOSX/")]
            if not members:
                raise IngestError(f"{path.name}: the ZIP archive holds no files.")
            if len(members) > MAX_MEMBERS:
                raise IngestError(f"{path.name}: the ZIP archive holds {len(members)} files; "
                                  f"at most {MAX_MEMBERS} are accepted.")
            total = sum(m.file_size for m in members)
            for m in members:
                ratio = m.file_size / max(m.compress_size, 1)
                if ratio > MAX_RATIO:
                    raise IngestError(
                        f"{path.name}: refused: {m.filename} would expand {ratio:,.0f} times "
                        f"(more than {MAX_RATIO} times is treated as a ZIP bomb).")
            if total > MAX_UNZIPPED:
                raise IngestError(f"{path.name}: refused: the archive would expand to "
                                  f"{total / 1e9:.1f} GB.")
            out = []
            for i, m in enumerate(members):
                name = Path(m.filename).name or f"member{i}"
                target = workdir / f"{i:03d}-{name}"
                with zf.open(m) as src, open(target, "wb") as dst:
                    written = 0
                    for block in iter(lambda: src.read(1 << 20), b""):
                        written += len(block)
                        if written > m.file_size:  # a member lying about its size
                            raise IngestError(f"{path.name}: refused: {m.filename} is larger "
                                              "than the archive declares.")
                        dst.write(block)
                out.append(target)
            return out
    except zipfile.BadZipFile:
        raise IngestError(f"{path.name}: the file starts like a ZIP archive but is damaged."
                          ) from None
    except RuntimeError as exc:  # encrypted members
        raise IngestError(f"{path.name}: the ZIP archive cannot be opened ({exc}).") from None


def _is_xlsx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "[Content_Types].xml" in zf.namelist() and any(
                n.startswith("xl/") for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


# Tables (CSV, XLSX) ------------------------------------------------------------------------------
def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name.strip() or f"column{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_csv_table(path: Path, display: str) -> tuple[pd.DataFrame, list[int]]:
    """A delimited UTF-8 file as text columns, and the line numbers of rows it could not read.

    The returned frame has a ``_line`` column: the file line each row came from.
    """
    with open(path, "rb") as fh:
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if len(first) > MAX_HEADER_BYTES:
        raise IngestError(f"{display}: the first line is over {MAX_HEADER_BYTES // 1024} KB "
                          "long: this is not a table with a header row.")
    header_text = first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    if not header_text.strip():
        raise IngestError(f"{display}: the first line is empty: a header row is needed.")
    delimiter = _delimiter(header_text)
    names = _unique(next(csv.reader([header_text], delimiter=delimiter)))
    bad: list[int] = []

    def invalid(row) -> str:
        bad.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1,
                                           block_size=32 << 20),
            # No newlines inside quoted values: the exports have none, and without them each
            # unreadable row keeps its line number for the report.
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=invalid,
                                             newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "UTF8" in message or "utf8" in message:
            raise UnicodeDecodeError("utf-8", b"", 0, 1, message) from None
        raise IngestError(f"{display}: the table could not be read ({message[:200]}).") from None
    frame = table.to_pandas()
    lines = np.arange(len(frame), dtype="int64") + 2
    if bad:
        bad = _line_numbers(path, bad)
        # pyarrow numbers skipped rows by line; later rows sit one line further on per skip
        bad_sorted = np.sort(np.asarray(bad, dtype="int64"))
        for b in bad_sorted:
            lines[lines >= b] += 1
    frame["_line"] = lines
    return frame, bad


def _line_numbers(path: Path, texts: list[str]) -> list[int]:
    """The file lines holding rows Arrow could not read (it reports their text, not their line):
    one pass over the file, made only when there are such rows."""
    wanted = {}
    for t in texts:
        wanted[t] = wanted.get(t, 0) + 1
    found = []
    with open(path, "r", encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.rstrip("\r\n")
            if number > 1 and wanted.get(text):
                wanted[text] -= 1
                found.append(number)
    return found or [0] * len(texts)


def read_xlsx_table(path: Path, display: str) -> tuple[pd.DataFrame, list[int]]:
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False,
                              engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise IngestError(f"{display}: the workbook could not be read ({type(exc).__name__})."
                          ) from None
    frame.columns = _unique([str(c) for c in frame.columns])
    # Dates a workbook holds as dates come back as "2024-05-01 10:00:00": ISO, read as local.
    frame["_line"] = np.arange(len(frame), dtype="int64") + 2
    return frame, []


# Shapes of known tables --------------------------------------------------------------------------
# Canonical fields a table can map to. Each known shape says which normalised header names fill
# which field; a generic table gets a Mapping (field -> column name) instead.
FIELDS = {
    "ref": "session or event id",
    "device_ref": "charge point / EVSE / port id",
    "site_ref": "site or location id",
    "connector": "connector number",
    "start": "start date and time",
    "start_date": "start date",
    "start_time": "start time",
    "end": "end date and time",
    "end_date": "end date",
    "end_time": "end time",
    "kwh": "energy (kWh)",
    "duration": "plugged-in time (hh:mm:ss or hours)",
    "charging_duration": "charging time (hh:mm:ss or hours)",
    "charge_start": "charging start date and time",
    "charge_end": "charging end date and time",
    "lat": "latitude",
    "lon": "longitude",
    "rated_kw": "rated power (kW)",
    "operator": "operator",
}

# Names (normalised) that suggest a field, most specific first.
ALIASES = {
    "ref": ("sessionid", "chargingevent", "sdrid", "eventid", "transactionid", "cdrid", "id",
            "session", "reference"),
    "device_ref": ("cpid", "chargepointid", "evseid", "portid", "stationid", "deviceid",
                   "chargerid", "chargepoint", "charger", "socketid", "evseuid", "cpref"),
    "site_ref": ("siteid", "locationid", "site", "location"),
    "connector": ("connector", "connectorid", "socket", "outlet"),
    "start": ("plugstartdatetime", "startdatetime", "sessionstart", "start", "startedat",
              "startdate", "begin", "plugin", "connected", "starttimestamp"),
    "start_date": ("startdate",),
    "start_time": ("starttime",),
    "end": ("plugenddatetime", "enddatetime", "sessionend", "end", "endedat", "enddate",
            "finish", "plugout", "disconnected", "endtimestamp", "stop", "stopdatetime"),
    "end_date": ("enddate",),
    "end_time": ("endtime",),
    "kwh": ("energykwh", "totalkwh", "consumkwh", "consumptionkwh", "kwh", "energy",
            "kwhdelivered", "energydelivered", "energydeliveredkwh", "meterkwh"),
    "duration": ("totaldurationhhmmss", "totalduration", "duration", "pluggedintime",
                 "connectedtime", "durationhhmmss"),
    "charging_duration": ("chargingtimehhmmss", "chargingtime", "chargingduration"),
    "charge_start": ("chargestartdatetime",),
    "charge_end": ("chargeenddatetime",),
    "lat": ("latitude", "lat"),
    "lon": ("longitude", "lon", "lng", "long"),
    "rated_kw": ("peakkw", "ratedkw", "powerkw", "maxkw", "nameplatepowerkw", "ratedpower"),
    "operator": ("operator", "cpo", "network", "provider"),
}


@dataclass(frozen=True)
class Shape:
    name: str
    label: str
    required: tuple[tuple[str, ...], ...]  # every group needs at least one name present
    fields: dict  # field -> normalised header names (first present wins)


SHAPES = (
    Shape("evcus", "EV Charging Use Specification session table",
          (("sessionid",), ("portid",), ("plugstartdatetime",), ("plugenddatetime",),
           ("energykwh",)),
          {"ref": ("sessionid",), "device_ref": ("portid",), "start": ("plugstartdatetime",),
           "end": ("plugenddatetime",), "charge_start": ("chargestartdatetime",),
           "charge_end": ("chargeenddatetime",), "kwh": ("energykwh",),
           "operator": ("operator", "network")}),
    Shape("chargepoint", "ChargePoint-style session export",
          (("startdate",), ("enddate",), ("energykwh",), ("evseid",),
           ("totaldurationhhmmss", "totalduration")),
          {"ref": ("sessionid", "id"), "device_ref": ("evseid",), "start": ("startdate",),
           "end": ("enddate",), "kwh": ("energykwh",),
           "duration": ("totaldurationhhmmss", "totalduration"),
           "charging_duration": ("chargingtimehhmmss", "chargingtime"),
           "lat": ("latitude",), "lon": ("longitude",), "site_ref": ("stationname",),
           "operator": ("operator",)}),
    Shape("scotland_split", "Council / ChargePlace Scotland export (separate date and time)",
          (("cpid", "chargepointid"), ("startdate",), ("starttime",), ("enddate",),
           ("endtime",), ("totalkwh", "consumkwh", "consumptionkwh", "energykwh", "kwh")),
          {"ref": ("chargingevent", "sdrid", "eventid"), "device_ref": ("cpid", "chargepointid"),
           "connector": ("connector",), "start_date": ("startdate",),
           "start_time": ("starttime",), "end_date": ("enddate",), "end_time": ("endtime",),
           "kwh": ("totalkwh", "consumkwh", "consumptionkwh", "energykwh", "kwh"),
           "site_ref": ("site",)}),
    Shape("scotland", "Council / ChargePlace Scotland export (date and time together)",
          (("cpid", "chargepointid"), ("start", "startdate", "startdatetime"),
           ("end", "enddate", "enddatetime"),
           ("consumkwh", "totalkwh", "consumptionkwh", "energykwh", "kwh")),
          {"ref": ("sdrid", "chargingevent", "eventid"), "device_ref": ("cpid", "chargepointid"),
           "connector": ("connector",), "start": ("start", "startdatetime", "startdate"),
           "end": ("end", "enddatetime", "enddate"),
           "kwh": ("consumkwh", "totalkwh", "consumptionkwh", "energykwh", "kwh"),
           "site_ref": ("site",)}),
)
REGISTRATION = Shape(
    "evcus_ports", "EV Charging Use Specification registration table",
    (("portid",), ("latitude", "lat"), ("longitude", "lon", "lng")),
    {"device_ref": ("portid",), "lat": ("latitude", "lat"), "lon": ("longitude", "lon", "lng"),
     "rated_kw": ("nameplatepowerkw", "powerkw", "maxpowerkw", "ratedkw", "portpowerkw",
                  "peakkw"),
     "operator": ("operator", "network")},
)


def _matches(shape: Shape, names: set[str]) -> bool:
    return all(any(n in names for n in group) for group in shape.required)


def _columns_for(shape: Shape, columns: list[str]) -> dict[str, str]:
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(norm(c), c)
    out = {}
    for fld, candidates in shape.fields.items():
        for cand in candidates:
            if cand in by_norm and by_norm[cand] not in out.values():
                out[fld] = by_norm[cand]
                break
    return out


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """A proposed field -> column mapping for an unknown header, from ``ALIASES``."""
    by_norm: dict[str, str] = {}
    for c in columns:
        if not c.startswith("_"):
            by_norm.setdefault(norm(c), c)
    out: dict[str, str] = {}
    for fld, names in ALIASES.items():
        for name in names:
            col = by_norm.get(name)
            if col is not None and col not in out.values():
                out[fld] = col
                break
    # A table with a start date and start time column uses those rather than one "start".
    if "start_date" in out and "start_time" in out:
        out.pop("start", None)
    if "end_date" in out and "end_time" in out:
        out.pop("end", None)
    if out.get("start") in (out.get("start_date"),):
        out.pop("start_date", None)
    if out.get("end") in (out.get("end_date"),):
        out.pop("end_date", None)
    return out


def mapping_problems(mapping: dict[str, str], columns: list[str]) -> list[str]:
    """What a mapping lacks to read sessions (empty when it is usable)."""
    problems = []
    unknown = set(mapping) - set(FIELDS)
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}; fields are {sorted(FIELDS)}")
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        problems.append(f"columns not in the file: {missing}")
    if not ("start" in mapping or {"start_date", "start_time"} <= set(mapping)):
        problems.append("no start time (map 'start', or 'start_date' and 'start_time')")
    if not ("end" in mapping or {"end_date", "end_time"} <= set(mapping) or "duration" in mapping):
        problems.append("no end time or duration (map 'end', 'end_date' and 'end_time', or "
                        "'duration')")
    if "kwh" not in mapping:
        problems.append("no energy column (map 'kwh')")
    if "device_ref" not in mapping and not {"lat", "lon"} <= set(mapping):
        problems.append("no device id or position (map 'device_ref', or 'lat' and 'lon')")
    return problems


class NeedsMapping(IngestError):
    """A table with an unrecognised header: ``suggestion`` is the proposed mapping."""

    def __init__(self, message: str, columns: list[str], suggestion: dict[str, str]):
        super().__init__(message)
        self.columns = columns
        self.suggestion = suggestion


def _text_col(frame: pd.DataFrame, mapping: dict[str, str], fld: str) -> pd.Series:
    col = mapping.get(fld)
    if col is None:
        return pd.Series("", index=frame.index, dtype=object)
    return _clean(frame[col])


def table_to_parsed(frame: pd.DataFrame, mapping: dict[str, str], display: str) -> pd.DataFrame:
    """A text table and its field mapping as the parsed session frame (``PARSED_COLUMNS``)."""
    def text(fld):
        return _text_col(frame, mapping, fld)

    if "start" in mapping:
        start_text = text("start")
    else:
        start_text = (text("start_date") + " " + text("start_time")).str.strip()
    if "end" in mapping:
        end_text = text("end")
    elif "end_date" in mapping:
        end_text = (text("end_date") + " " + text("end_time")).str.strip()
    else:
        end_text = pd.Series("", index=frame.index, dtype=object)
    start = parse_times(start_text)
    end = parse_times(end_text)
    # A time zone given in the text has been applied; local ones were converted one by one, so
    # re-read the pair to put an end in the repeated October hour after its start.
    start, end = _fix_autumn(start_text, end_text, start, end)
    plugged = (end - start).dt.total_seconds() / 3600.0
    if "duration" in mapping:
        given = duration_hours(frame[mapping["duration"]])
        if "end" not in mapping and "end_date" not in mapping:
            end = start + pd.to_timedelta(given, unit="h")
            end_text = text("duration")
        plugged = given.where(given.notna(), plugged)
    charging = pd.Series(np.nan, index=frame.index)
    if "charging_duration" in mapping:
        charging = duration_hours(frame[mapping["charging_duration"]])
    elif "charge_start" in mapping and "charge_end" in mapping:
        cs, ce = parse_times(text("charge_start")), parse_times(text("charge_end"))
        charging = (ce - cs).dt.total_seconds() / 3600.0
    device_ref = text("device_ref")
    if "connector" in mapping and "device_ref" not in mapping:
        device_ref = text("connector")
    kwh_text = text("kwh")
    return pd.DataFrame({
        "file": display,
        "row": frame["_line"].to_numpy() if "_line" in frame else np.arange(len(frame)) + 2,
        "ref": text("ref"),
        "device_ref": device_ref,
        "site_ref": text("site_ref"),
        "lat": _number(frame[mapping["lat"]]) if "lat" in mapping else np.nan,
        "lon": _number(frame[mapping["lon"]]) if "lon" in mapping else np.nan,
        "start": start,
        "end": end,
        "kwh": _number(kwh_text),
        "plugged_hours": plugged.astype("float64"),
        "charging_hours": charging.astype("float64"),
        "rated_kw": _number(frame[mapping["rated_kw"]]) if "rated_kw" in mapping else np.nan,
        "operator": text("operator"),
        "start_text": start_text,
        "end_text": end_text,
        "kwh_text": kwh_text,
    })[list(PARSED_COLUMNS)]


def _fix_autumn(start_text, end_text, start, end):
    """Ends read as summer time in the repeated October hour that fall before their start are
    moved one hour on (the winter-time reading of the same wall-clock time)."""
    later = end + pd.Timedelta(hours=1)
    fix = end.lt(start) & later.ge(start)
    if fix.any():
        idx = fix[fix].index
        local_end = end.loc[idx].dt.tz_localize("UTC").dt.tz_convert(LOCAL_ZONE)
        repeated = (local_end.dt.month.eq(10) & local_end.dt.hour.eq(1)
                    & ~end_text.loc[idx].astype(str).str.contains(_ZONED))
        idx = repeated[repeated].index
        end = end.copy()
        end.loc[idx] = later.loc[idx]
    return start, end


# OCPI ------------------------------------------------------------------------------------------
_OCPI_FIELDS = """
    json ->> '$.id' AS id,
    json ->> '$.start_date_time' AS start_text,
    json ->> '$.end_date_time' AS end_text,
    json ->> '$.total_energy' AS kwh_text,
    json ->> '$.total_time' AS total_time,
    json ->> '$.total_parking_time' AS parking_time,
    json ->> '$.cdr_location.id' AS location_id,
    json ->> '$.cdr_location.evse_uid' AS evse_uid,
    json ->> '$.cdr_location.evse_id' AS evse_id,
    json ->> '$.cdr_location.coordinates.latitude' AS lat,
    json ->> '$.cdr_location.coordinates.longitude' AS lon,
    json ->> '$.party_id' AS party_id,
    json ->> '$.credit' AS credit,
    json ->> '$.credit_reference_id' AS credit_ref,
    list_sum(list_transform(list_filter(
        json_extract(json, '$.charging_periods[*].dimensions[*]'),
        lambda x: (x ->> '$.type') = 'ENERGY'), lambda x: TRY_CAST(x ->> '$.volume' AS DOUBLE)))
        AS period_energy,
    list_sum(list_transform(list_filter(
        json_extract(json, '$.charging_periods[*].dimensions[*]'),
        lambda x: (x ->> '$.type') = 'TIME'), lambda x: TRY_CAST(x ->> '$.volume' AS DOUBLE)))
        AS period_time,
    json_type(json) AS kind
"""


def _json_kind(head: bytes) -> str:
    """"ndjson", "array" or "object" from the start of a JSON text."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "array"
    first, _, rest = text.partition("\n")
    rest = rest.lstrip()
    if first.strip().endswith("}") and rest.startswith("{"):
        return "ndjson"
    return "object"


def read_ocpi(path: Path, display: str, kind: str) -> Parsed:
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    con.execute("SET threads = 2")
    src = {"path": str(path)}
    size = max(16 << 20, path.stat().st_size + 1024)
    try:
        if kind == "object":
            envelope = con.execute(
                "SELECT json_type(json) AS t, json ->> '$.status_code' AS code, "
                "json ->> '$.status_message' AS msg, json_type(json, '$.data') AS dt, "
                "json ->> '$.id' AS id FROM read_json_objects($path, format = 'unstructured', "
                f"maximum_object_size = {size})", src).fetchall()
            if not envelope:
                raise IngestError(f"{display}: the JSON file holds nothing.")
            t, code, msg, data_type, single_id = envelope[0]
            if data_type == "ARRAY":
                if code not in (None, "1000"):
                    raise IngestError(f"{display}: the OCPI response reports status {code}"
                                      f"{': ' + msg if msg else ''}; it holds no CDRs to import.")
                source = ("(SELECT unnest(json_extract(json, '$.data[*]')) AS json "
                          "FROM read_json_objects($path, format = 'unstructured', "
                          f"maximum_object_size = {size}))")
            elif single_id is not None:
                source = (f"read_json_objects($path, format = 'unstructured', "
                          f"maximum_object_size = {size})")
            else:
                raise IngestError(f"{display}: a JSON object that is neither an OCPI response "
                                  "({\"data\": [...]}) nor a CDR.")
        elif kind == "array":
            source = (f"(SELECT unnest(json_extract(json, '$[*]')) AS json FROM "
                      f"read_json_objects($path, format = 'unstructured', "
                      f"maximum_object_size = {size}))")
        else:
            source = ("read_json_objects($path, format = 'newline_delimited', "
                      "maximum_object_size = 16777216)")
        frame = con.execute(f"SELECT {_OCPI_FIELDS} FROM {source}", src).df()
    except duckdb.Error as exc:
        text = str(exc).splitlines()[0][:200]
        raise IngestError(f"{display}: not valid JSON (truncated or damaged?): {text}") from None
    finally:
        con.close()
    if frame.empty:
        raise IngestError(f"{display}: the JSON holds no CDRs.")
    objects = frame["kind"].eq("OBJECT")
    if not objects.any() or frame["start_text"].isna().all():
        raise IngestError(f"{display}: JSON, but not OCPI CDRs (no start_date_time field).")
    frame = frame[objects].reset_index(drop=True)
    frame["row"] = np.arange(len(frame), dtype="int64") + 1

    # Credits cancel the CDR they credit (and themselves); a CDR id seen twice is one session.
    credit = frame["credit"].fillna("").str.lower().eq("true")
    credited_ids = set(frame.loc[credit, "credit_ref"].dropna())
    cancelled = credit | frame["id"].isin(credited_ids)
    ids = frame["id"].fillna("")
    dup = ids.ne("") & ids.duplicated(keep="first")
    duplicates = int((dup & ~cancelled).sum())
    keep = ~cancelled & ~dup
    credited = int(cancelled.sum())
    frame = frame[keep].reset_index(drop=True)

    total = _number(frame["total_time"])
    parking = _number(frame["parking_time"])
    charging = (total - parking.fillna(0)).where(total.notna())
    charging = charging.where(charging.notna() | frame["period_time"].isna(),
                              frame["period_time"])
    kwh = _number(frame["kwh_text"])
    kwh = kwh.where(kwh.notna(), frame["period_energy"])
    evse_uid, evse_id = _clean(frame["evse_uid"]), _clean(frame["evse_id"])
    start = parse_times(frame["start_text"], assume_utc=True)
    end = parse_times(frame["end_text"], assume_utc=True)
    plugged = (end - start).dt.total_seconds() / 3600.0
    plugged = total.where(total.notna(), plugged)
    out = pd.DataFrame({
        "file": display,
        "row": frame["row"],
        "ref": _clean(frame["id"]),
        "device_ref": evse_uid.where(evse_uid.ne(""), evse_id),
        "site_ref": _clean(frame["location_id"]),
        "lat": _number(frame["lat"]),
        "lon": _number(frame["lon"]),
        "start": start,
        "end": end,
        "kwh": kwh.astype("float64"),
        "plugged_hours": plugged.astype("float64"),
        "charging_hours": charging.astype("float64"),
        "rated_kw": np.nan,
        "operator": _clean(frame["party_id"]),
        "start_text": _clean(frame["start_text"]),
        "end_text": _clean(frame["end_text"]),
        "kwh_text": _clean(frame["kwh_text"]).where(frame["kwh_text"].notna(), ""),
    })
    # Other ids of the same EVSE, so that a mapping kept under either finds it next time.
    out["alt_ref"] = evse_id.where(evse_uid.ne(""), "")
    fmt = {"array": "OCPI 2.2.1 CDRs (JSON array)", "object": "OCPI 2.2.1 CDRs (OCPI response)",
           "ndjson": "OCPI 2.2.1 CDRs (NDJSON)"}[kind]
    return Parsed(format=fmt, frame=out, credited=credited, duplicates=duplicates)


# Entry point -------------------------------------------------------------------------------------
def read_file(path: Path, workdir: Path, mapping: dict[str, str] | None = None,
              display: str | None = None) -> list[Parsed]:
    """Read one file (a ZIP gives one ``Parsed`` per member). Raises ``IngestError`` with a
    message for the person importing when the file cannot be read at all."""
    path = Path(path)
    display = display or path.name
    if not path.is_file():
        raise IngestError(f"{display}: no such file.")
    if path.stat().st_size == 0:
        raise IngestError(f"{display}: the file is empty.")
    head = _head(path)
    if head.startswith(b"PK\x03\x04"):
        if _is_xlsx(path):
            frame, bad = read_xlsx_table(path, display)
            return [_table(frame, bad, display, mapping, "workbook")]
        members = unpack_zip(path, workdir)
        out = []
        for member in members:
            out.extend(read_file(member, workdir, mapping,
                                 display=f"{display}:{member.name[4:]}"))
        return out
    if head.startswith((b"PK", b"\xd0\xcf\x11\xe0")):
        raise IngestError(f"{display}: an old-style Excel or damaged archive; save it as XLSX "
                          "or CSV.")
    encoding = _encoding(head)
    if _is_binary(head, encoding):
        raise IngestError(f"{display}: not a text file (it holds binary data); expected CSV, "
                          "XLSX, JSON, NDJSON or ZIP.")
    if encoding not in ("utf-8", "utf-8-sig"):
        path = _transcode(path, encoding, workdir)
        head = _head(path)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        raise IngestError(f"{display}: the file holds only blank space.")
    if text[0] in "[{":
        return [read_ocpi(path, display, _json_kind(head))]
    try:
        frame, bad = read_csv_table(path, display)
    except UnicodeDecodeError:
        path = _transcode(path, "cp1252", workdir)
        frame, bad = read_csv_table(path, display)
    return [_table(frame, bad, display, mapping, "table")]


def _table(frame: pd.DataFrame, bad: list[int], display: str, mapping: dict[str, str] | None,
           what: str) -> Parsed:
    columns = [c for c in frame.columns if c != "_line"]
    names = {norm(c) for c in columns}
    notes = []
    if bad:
        notes.append(f"{len(bad)} line(s) with the wrong number of fields could not be read")
    if mapping:
        problems = mapping_problems(mapping, columns)
        if problems:
            raise IngestError(f"{display}: the column mapping does not fit this file: "
                              + "; ".join(problems) + ".")
        parsed = Parsed("Column mapping (" + what + ")", table_to_parsed(frame, mapping, display),
                        notes=notes)
    elif _matches(REGISTRATION, names) and not any(_matches(s, names) for s in SHAPES):
        reg = table_to_registrations(frame, _columns_for(REGISTRATION, columns))
        return Parsed(REGISTRATION.label, pd.DataFrame(columns=list(PARSED_COLUMNS)),
                      registrations=reg, notes=notes)
    else:
        for shape in SHAPES:
            if _matches(shape, names):
                cols = _columns_for(shape, columns)
                parsed = Parsed(shape.label, table_to_parsed(frame, cols, display), notes=notes)
                break
        else:
            suggestion = suggest_mapping(columns)
            shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
            raise NeedsMapping(
                f"{display}: the header ({shown}) is not a format this app recognises; a column "
                "mapping is needed (suggested: " + json.dumps(suggestion) + ").",
                columns, suggestion)
    parsed.frame["alt_ref"] = ""
    parsed.bad_lines = bad
    if parsed.frame.empty and not bad:
        raise IngestError(f"{display}: the header is there but there are no rows.")
    return parsed


def table_to_registrations(frame: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    """Ports of an EV Charging Use Specification registration table: id, position, power."""
    return pd.DataFrame({
        "device_ref": _text_col(frame, cols, "device_ref"),
        "lat": _number(frame[cols["lat"]]),
        "lon": _number(frame[cols["lon"]]),
        "rated_kw": _number(frame[cols["rated_kw"]]) if "rated_kw" in cols else np.nan,
        "operator": _text_col(frame, cols, "operator"),
    })
