"""What analysts download: a table plus a header saying what it is, as CSV or Excel.

Both formats carry the same header block (title, the simulated-data warning when it applies,
filters, period, the link that reopens the view, sources, notes, row count, generation time) and
the same table, column order kept and the index left out.

Every text cell, in the table and in the header, is neutralised against spreadsheet formula
injection (OWASP "CSV injection", CWE-1236): text beginning with ``=``, ``+``, ``-``, ``@``, tab or
carriage return gets a leading single quote. Numbers are never altered, and text that is just a
plain number (``"-5.2"``) is left alone because a spreadsheet can only read it as a number.
"""
from __future__ import annotations

import csv
import io
import math
import numbers
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = [
    "ExportMeta", "NO_ROWS", "SIMULATED_WARNING", "filename", "neutralise", "to_csv_bytes",
    "to_xlsx_bytes",
]

SIMULATED_WARNING = (
    "Usage figures are SIMULATED from real Dundee and Perth charging sessions; "
    "they are not real London usage."
)
NO_ROWS = "No rows match these filters."
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL_CHARS = 32_767  # Excel's limit on the text in one cell
XLSX_MAX_ROWS = 1_048_576  # Excel's limit on the rows of one sheet
MAX_FILENAME_CHARS = 80
COLUMN_WIDTH = (8, 60)  # narrowest and widest Data column, in characters
WIDTH_SAMPLE_ROWS = 1000  # rows looked at to size a column
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

# Control characters that XML 1.0, and so the xlsx format, cannot hold (tab, LF and CR are fine).
_ILLEGAL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, kw_only=True)
class ExportMeta:
    """What a download is: shown in the CSV's header lines and on the workbook's About sheet.

    ``generated_at`` is passed in (not read from the clock here) so that exports are reproducible.
    ``simulated`` adds :data:`SIMULATED_WARNING` right below the title, and on the Data sheet.
    """

    title: str
    filters_text: str
    period_text: str
    link: str
    generated_at: datetime
    sources: Sequence[str] = ()
    simulated: bool = False
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "notes", tuple(self.notes))


# Cell values -------------------------------------------------------------------------------------

def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet could run as a formula (see the module docstring)."""
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _text(value: str) -> str:
    """Untrusted text made safe for a cell: illegal control characters removed, then neutralised."""
    return neutralise(_ILLEGAL_CHARS.sub("", value))


def _is_missing(value: object) -> bool:
    """True for None, NaN, ``pd.NA`` and ``pd.NaT``."""
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value)
    )


def _value(value: object) -> object:
    """One table value as a cell value: None, bool, int, float, Decimal, datetime, date or text.

    Infinities become empty cells (spreadsheets cannot hold them); lists become ``"a; b"`` text;
    anything else unknown becomes its text.
    """
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.timedelta64):  # NumPy counts it as an integer: show the duration
        return _text(str(pd.Timedelta(value)))
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        return None if value is pd.NaT else value.to_pydatetime(warn=False)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime(warn=False)
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return _text("; ".join(str(item) for item in value))
    return _text(str(value))


def _is_midnight(value: object) -> bool:
    """True for a timezone-naive datetime at exactly midnight."""
    return isinstance(value, datetime) and value.tzinfo is None and value.time() == time(0)


def _column(series: pd.Series) -> list[object]:
    """Cell values of one column. A column whose datetimes are all naive midnights holds dates."""
    values = [_value(v) for v in series.tolist()]
    stamps = [v for v in values if isinstance(v, datetime)]
    if stamps and all(_is_midnight(v) for v in stamps):
        values = [v.date() if isinstance(v, datetime) else v for v in values]
    return values


def _table(df: pd.DataFrame) -> tuple[list[str], list[list[object]], int]:
    """(column headings, columns of cell values, row count), in the frame's column order.

    A frame without columns has no rows to show, whatever its index holds.
    """
    headings = [_text(str(name)) for name in df.columns]
    columns = [_column(df.iloc[:, i]) for i in range(df.shape[1])]
    return headings, columns, len(df) if columns else 0


def _header(meta: ExportMeta, rows: int) -> list[tuple[str, str]]:
    """The header block as (label, value) pairs; each value one neutralised line of text."""
    items = [("Title", meta.title)]
    if meta.simulated:
        items.append(("Warning", SIMULATED_WARNING))
    items += [("Filters", meta.filters_text), ("Period", meta.period_text), ("Link", meta.link)]
    items += [("Source", source) for source in meta.sources]
    items += [("Note", note) for note in meta.notes]
    items += [("Rows", str(rows)), ("Generated", meta.generated_at.isoformat(timespec="seconds"))]
    return [(label, _LINE_BREAKS.sub(" ", _text(value))) for label, value in items if value]


# CSV ---------------------------------------------------------------------------------------------

def _csv_cell(value: object) -> str:
    """A cell value as CSV text: ISO dates and times, TRUE/FALSE, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def to_csv_bytes(df: pd.DataFrame, meta: ExportMeta) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark so that Excel reads accents and symbols.

    Layout: one ``# Label: value`` line per header item (each a single CSV field), a blank line,
    the column headings, then the rows. An empty table gets ``# No rows match these filters.``
    after its headings. To read the table alone, skip to the first blank line. Dates are
    ``YYYY-MM-DD`` and times ISO 8601 (with their UTC offset when they have one).
    """
    headings, columns, rows = _table(df)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([f"# {label}: {value}"] for label, value in _header(meta, rows))
    writer.writerow([])
    if headings:
        writer.writerow(headings)
    if rows == 0:
        writer.writerow([f"# {NO_ROWS}"])
    writer.writerows([_csv_cell(v) for v in row] for row in zip(*columns))
    return buffer.getvalue().encode("utf-8-sig")


# Excel -------------------------------------------------------------------------------------------

def _xlsx_value(value: object) -> object:
    """A cell value as openpyxl takes it: text within Excel's limit, datetimes without timezone.

    Excel has no timezones, so an aware datetime keeps its local clock time and drops the offset.
    """
    if isinstance(value, str):
        return value[:XLSX_MAX_CELL_CHARS]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _styled(sheet: WriteOnlyWorksheet, value: object, *, font: Font | None = None,
            number_format: str | None = None) -> WriteOnlyCell:
    """A write-only cell with an optional font and number format."""
    cell = WriteOnlyCell(sheet, value=_xlsx_value(value))
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _xlsx_row(sheet: WriteOnlyWorksheet, values: Iterable[object]) -> list[object]:
    """One Data row; dates and datetimes get a readable number format."""
    row: list[object] = []
    for value in values:
        if isinstance(value, datetime):
            row.append(_styled(sheet, value, number_format=DATETIME_FORMAT))
        elif isinstance(value, date):
            row.append(_styled(sheet, value, number_format=DATE_FORMAT))
        else:
            row.append(_xlsx_value(value))
    return row


def _width(heading: str, values: list[object]) -> float:
    """A column width that fits the heading and the first values, within ``COLUMN_WIDTH``."""
    longest = len(heading)
    for value in values[:WIDTH_SAMPLE_ROWS]:
        if isinstance(value, datetime):
            longest = max(longest, len(DATETIME_FORMAT))
        elif value is not None:
            longest = max(longest, len(_csv_cell(value)))
    low, high = COLUMN_WIDTH
    return float(min(max(longest + 2, low), high))


def _write_data(sheet: WriteOnlyWorksheet, headings: list[str], columns: list[list[object]],
                rows: int, simulated: bool) -> None:
    """The Data sheet: the warning first when simulated, then the bold, frozen heading row."""
    for i, (heading, values) in enumerate(zip(headings, columns), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _width(heading, values)
    heading_row = 3 if simulated else 1
    sheet.freeze_panes = f"A{heading_row + 1}"  # write-only sheets take this before any row
    if simulated:
        sheet.append([_styled(sheet, SIMULATED_WARNING, font=Font(bold=True, color="C00000"))])
        sheet.append([])
    if headings:
        sheet.append([_styled(sheet, h, font=Font(bold=True)) for h in headings])
    if rows == 0:
        sheet.append([_styled(sheet, NO_ROWS, font=Font(italic=True))])
    for row in zip(*columns):
        sheet.append(_xlsx_row(sheet, row))


def _write_about(sheet: WriteOnlyWorksheet, header: list[tuple[str, str]]) -> None:
    """The About sheet: the header block as label and value columns."""
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 100
    for label, value in header:
        sheet.append([_styled(sheet, label, font=Font(bold=True)), _xlsx_value(value)])


def to_xlsx_bytes(df: pd.DataFrame, meta: ExportMeta) -> bytes:
    """The table as an Excel workbook: sheet "Data" with the table, sheet "About" with the header.

    Numbers, booleans, dates and times are stored as such (not as text). When ``meta.simulated``,
    the Data sheet starts with the warning and a blank row, and the headings are on row 3.
    Raises ValueError for more rows than a sheet holds (``XLSX_MAX_ROWS``).
    """
    headings, columns, rows = _table(df)
    if rows + 3 > XLSX_MAX_ROWS:  # room for the warning, a blank row and the headings
        raise ValueError(f"{rows} rows are more than an Excel sheet holds; export CSV instead")
    workbook = Workbook(write_only=True)
    workbook.properties.title = _text(meta.title)[:255]
    workbook.properties.created = meta.generated_at.replace(tzinfo=None)
    _write_data(workbook.create_sheet("Data"), headings, columns, rows, meta.simulated)
    _write_about(workbook.create_sheet("About"), _header(meta, rows))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# File names --------------------------------------------------------------------------------------

def filename(title: str, ext: str, when: datetime) -> str:
    """A safe download name, e.g. ``ev-charge-points-lambeth-2026-01-15-0930.csv``.

    ASCII letters, digits and hyphens only (accents are dropped to their base letter), no path
    separators, and at most ``MAX_FILENAME_CHARS`` characters with the extension.
    """
    extension = re.sub(r"[^a-z0-9]", "", ext.lower())
    if not 1 <= len(extension) <= 10:
        raise ValueError(f"not a file extension: {ext!r}")
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-") or "export"
    suffix = f"-{when:%Y-%m-%d-%H%M}.{extension}"
    slug = slug[: MAX_FILENAME_CHARS - len(suffix)].rstrip("-") or "export"
    return f"{slug}{suffix}"
