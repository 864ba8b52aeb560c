"""Tests of CSV and Excel downloads, read back with the csv module and openpyxl."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timezone
from decimal import Decimal

import numpy as np
import openpyxl
import pandas as pd
import pytest

from dashboard.domain import export
from dashboard.domain.export import (MAX_FILENAME_CHARS, NO_ROWS, SIMULATED_WARNING,
    XLSX_MAX_CELL_CHARS, ExportMeta, filename, neutralise, to_csv_bytes, to_xlsx_bytes)

GENERATED = datetime(2026, 1, 15, 9, 30)
DANGEROUS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"]


def make_meta(**changes) -> ExportMeta:
    values = dict(
        title="EV charge points in Lambeth",
        filters_text="Lambeth; rapid and ultra-rapid chargers",
        period_text="April 2024 to March 2026",
        link="https://dashboards.example/ev?borough=E09000022&speed=rapid,ultra",
        generated_at=GENERATED,
        sources=["Contains OS data © Crown copyright", "National Chargepoint Registry (OGL v3)"],
        simulated=False,
        notes=["Devices per 100,000 residents use Census 2021 populations."],
    )
    return ExportMeta(**(values | changes))


def make_frame() -> pd.DataFrame:
    """Columns deliberately out of alphabetical order."""
    return pd.DataFrame({
        "ward": ["Brixton Acre Lane", "Saint-Étienne Green", "Bankside"],
        "value": [-5.2, 3.25, np.nan],
        "devices": pd.array([12, None, -3], dtype="Int64"),
        "air": ["12 µg/m³", "8 µg/m³", None],
        "active": [True, False, None],
        "installed": pd.to_datetime(["2024-04-01", None, "2025-01-31"]),
    })


def read_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    """(header lines, table rows) of a CSV export."""
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    blank = rows.index([])
    header = [row[0] for row in rows[:blank]]
    assert all(len(row) == 1 and row[0].startswith("# ") for row in rows[:blank])
    return header, rows[blank + 1:]


def header_value(header: list[str], label: str) -> str:
    prefix = f"# {label}: "
    return next(line[len(prefix):] for line in header if line.startswith(prefix))


def read_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def about(workbook: openpyxl.Workbook) -> list[tuple[str, object]]:
    return [(row[0].value, row[1].value) for row in workbook["About"].iter_rows()]


def data_rows(workbook: openpyxl.Workbook, simulated: bool = False) -> list[list[object]]:
    """Heading row and data rows of the Data sheet."""
    rows = [[cell.value for cell in row] for row in workbook["Data"].iter_rows()]
    return rows[2:] if simulated else rows


# CSV ---------------------------------------------------------------------------------------------

def test_csv_header_block_in_order():
    header, _ = read_csv(to_csv_bytes(make_frame(), make_meta()))
    assert header == [
        "# Title: EV charge points in Lambeth",
        "# Filters: Lambeth; rapid and ultra-rapid chargers",
        "# Period: April 2024 to March 2026",
        "# Link: https://dashboards.example/ev?borough=E09000022&speed=rapid,ultra",
        "# Source: Contains OS data © Crown copyright",
        "# Source: National Chargepoint Registry (OGL v3)",
        "# Note: Devices per 100,000 residents use Census 2021 populations.",
        "# Rows: 3",
        "# Generated: 2026-01-15T09:30:00",
    ]


@pytest.mark.parametrize("simulated", [True, False])
def test_csv_simulated_warning_iff_simulated(simulated):
    data = to_csv_bytes(make_frame(), make_meta(simulated=simulated))
    header, _ = read_csv(data)
    assert (f"# Warning: {SIMULATED_WARNING}" in header) is simulated
    assert (b"SIMULATED" in data) is simulated
    if simulated:
        assert header[1] == f"# Warning: {SIMULATED_WARNING}"  # straight under the title


def test_csv_table_keeps_column_order_and_types():
    _, rows = read_csv(to_csv_bytes(make_frame(), make_meta()))
    assert rows == [
        ["ward", "value", "devices", "air", "active", "installed"],
        ["Brixton Acre Lane", "-5.2", "12", "12 µg/m³", "TRUE", "2024-04-01"],
        ["Saint-Étienne Green", "3.25", "", "8 µg/m³", "FALSE", ""],
        ["Bankside", "", "-3", "", "", "2025-01-31"],
    ]


def test_csv_negative_numbers_stay_plain_numbers():
    text = to_csv_bytes(pd.DataFrame({"a": [-5.2], "b": [-7]}), make_meta()).decode("utf-8-sig")
    assert text.endswith("a,b\r\n-5.2,-7\r\n")


@pytest.mark.parametrize("value", DANGEROUS)
def test_csv_neutralises_formulas_in_data_and_headings(value):
    frame = pd.DataFrame({value: [value, "ok"]})
    _, rows = read_csv(to_csv_bytes(frame, make_meta()))
    assert rows[0] == ["'" + value]
    assert rows[1] == ["'" + value]
    assert rows[2] == ["ok"]


@pytest.mark.parametrize("value", DANGEROUS)
@pytest.mark.parametrize("field", ["title", "filters_text", "period_text", "link"])
def test_csv_neutralises_formulas_in_the_header(field, value):
    header, _ = read_csv(to_csv_bytes(make_frame(), make_meta(**{field: value})))
    label = {"title": "Title", "filters_text": "Filters", "period_text": "Period", "link": "Link"}
    assert header_value(header, label[field]).startswith("'")


@pytest.mark.parametrize("value", DANGEROUS)
def test_csv_neutralises_formulas_in_sources_and_notes(value):
    header, _ = read_csv(to_csv_bytes(make_frame(), make_meta(sources=[value], notes=[value])))
    assert header_value(header, "Source").startswith("'")
    assert header_value(header, "Note").startswith("'")


def test_csv_header_values_stay_on_one_line():
    header, rows = read_csv(to_csv_bytes(make_frame(), make_meta(title="Two\r\nlines\nhere")))
    assert header[0] == "# Title: Two lines here"
    assert rows[0][0] == "ward"


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"ward": pd.Series([], dtype="str"), "value": pd.Series([], dtype="float")}),
    pd.DataFrame(),
])
def test_csv_empty_table_says_so(frame):
    header, rows = read_csv(to_csv_bytes(frame, make_meta()))
    assert "# Rows: 0" in header
    assert rows[-1] == [f"# {NO_ROWS}"]
    assert rows[:-1] == ([list(frame.columns)] if len(frame.columns) else [])


def test_csv_timestamps_are_iso():
    frame = pd.DataFrame({
        "start": pd.to_datetime(["2024-04-01 10:15:00", "2024-04-02 00:00:00"]),
        "aware": pd.to_datetime(["2024-07-01 10:00", "2024-12-01 10:00"]).tz_localize(
            "Europe/London"
        ),
        "day": [date(2024, 4, 1), None],
    })
    _, rows = read_csv(to_csv_bytes(frame, make_meta()))
    assert rows[1:] == [
        ["2024-04-01T10:15:00", "2024-07-01T10:00:00+01:00", "2024-04-01"],
        ["2024-04-02T00:00:00", "2024-12-01T10:00:00+00:00", ""],
    ]


def test_csv_odd_values():
    frame = pd.DataFrame({"x": [
        np.inf, Decimal("1.50"), [1, 2], "bell\x07", np.float32(0.5), np.timedelta64(90, "m"),
    ]})
    _, rows = read_csv(to_csv_bytes(frame, make_meta()))
    assert [r[0] for r in rows[1:]] == ["", "1.50", "1; 2", "bell", "0.5", "0 days 01:30:00"]


def test_csv_text_that_is_a_plain_number_is_left_alone():
    _, rows = read_csv(to_csv_bytes(pd.DataFrame({"t": ["-5.2", "+3", "-1e5"]}), make_meta()))
    assert [r[0] for r in rows[1:]] == ["-5.2", "+3", "-1e5"]


# Excel -------------------------------------------------------------------------------------------

def test_xlsx_sheets_and_about_block():
    workbook = read_xlsx(to_xlsx_bytes(make_frame(), make_meta()))
    assert workbook.sheetnames == ["Data", "About"]
    assert about(workbook) == [
        ("Title", "EV charge points in Lambeth"),
        ("Filters", "Lambeth; rapid and ultra-rapid chargers"),
        ("Period", "April 2024 to March 2026"),
        ("Link", "https://dashboards.example/ev?borough=E09000022&speed=rapid,ultra"),
        ("Source", "Contains OS data © Crown copyright"),
        ("Source", "National Chargepoint Registry (OGL v3)"),
        ("Note", "Devices per 100,000 residents use Census 2021 populations."),
        ("Rows", "3"),
        ("Generated", "2026-01-15T09:30:00"),
    ]


def test_xlsx_data_sheet_values_are_typed():
    workbook = read_xlsx(to_xlsx_bytes(make_frame(), make_meta()))
    sheet = workbook["Data"]
    assert data_rows(workbook) == [
        ["ward", "value", "devices", "air", "active", "installed"],
        ["Brixton Acre Lane", -5.2, 12, "12 µg/m³", True, datetime(2024, 4, 1)],
        ["Saint-Étienne Green", 3.25, None, "8 µg/m³", False, None],
        ["Bankside", None, -3, None, None, datetime(2025, 1, 31)],
    ]
    assert sheet["B2"].data_type == "n" and sheet["B2"].value == -5.2
    assert sheet["E2"].data_type == "b"
    assert sheet["F2"].is_date and sheet["F2"].number_format == "yyyy-mm-dd"


def test_xlsx_heading_row_is_bold_and_frozen_and_columns_are_sized():
    sheet = read_xlsx(to_xlsx_bytes(make_frame(), make_meta()))["Data"]
    assert all(cell.font.b for cell in sheet[1])
    assert not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2"
    widths = [sheet.column_dimensions[c].width for c in "ABCDEF"]
    assert all(8 <= w <= 60 for w in widths)
    assert widths[0] >= len("Saint-Étienne Green")


@pytest.mark.parametrize("simulated", [True, False])
def test_xlsx_simulated_warning_iff_simulated(simulated):
    workbook = read_xlsx(to_xlsx_bytes(make_frame(), make_meta(simulated=simulated)))
    sheet = workbook["Data"]
    assert (("Warning", SIMULATED_WARNING) in about(workbook)) is simulated
    assert (sheet["A1"].value == SIMULATED_WARNING) is simulated
    assert sheet.freeze_panes == ("A4" if simulated else "A2")
    assert data_rows(workbook, simulated)[0][0] == "ward"
    assert all(cell.font.b for cell in sheet[3 if simulated else 1])


@pytest.mark.parametrize("value", DANGEROUS)
def test_xlsx_neutralises_formulas_everywhere(value):
    frame = pd.DataFrame({value: [value]})
    meta = make_meta(title=value, filters_text=value, sources=[value], notes=[value])
    workbook = read_xlsx(to_xlsx_bytes(frame, meta))
    sheet = workbook["Data"]
    expected = ("'" + value).replace("\r", "\n")  # XML reads a stored CR back as LF
    for cell in (sheet["A1"], sheet["A2"]):
        assert cell.data_type == "s" and cell.value == expected
    for label, text in about(workbook):
        if label in ("Title", "Filters", "Source", "Note"):
            assert text.startswith("'"), label


def test_xlsx_negative_numbers_stay_numbers():
    frame = pd.DataFrame({"a": [-5.2], "b": [-7], "c": np.array([-1.5], dtype="float32")})
    sheet = read_xlsx(to_xlsx_bytes(frame, make_meta()))["Data"]
    assert [(c.value, c.data_type) for c in sheet[2]] == [(-5.2, "n"), (-7, "n"), (-1.5, "n")]


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"ward": pd.Series([], dtype="str")}),
    pd.DataFrame(),
])
def test_xlsx_empty_table_says_so(frame):
    workbook = read_xlsx(to_xlsx_bytes(frame, make_meta(simulated=True)))
    rows = data_rows(workbook, simulated=True)
    assert rows[-1] == [NO_ROWS]
    assert ("Rows", "0") in about(workbook)


def test_xlsx_datetimes_are_real_dates_without_timezone():
    frame = pd.DataFrame({
        "start": pd.to_datetime(["2024-04-01 10:15:00"]),
        "aware": pd.to_datetime(["2024-07-01 10:00"]).tz_localize("Europe/London"),
    })
    sheet = read_xlsx(to_xlsx_bytes(frame, make_meta()))["Data"]
    assert [c.value for c in sheet[2]] == [datetime(2024, 4, 1, 10, 15), datetime(2024, 7, 1, 10)]
    assert all(c.is_date and c.number_format == "yyyy-mm-dd hh:mm:ss" for c in sheet[2])


def test_xlsx_survives_control_characters_and_huge_text():
    frame = pd.DataFrame({"t": ["a\x00b\x1bc", "x" * (XLSX_MAX_CELL_CHARS + 10)]})
    sheet = read_xlsx(to_xlsx_bytes(frame, make_meta(title="T\x0bitle")))["Data"]
    assert sheet["A2"].value == "abc"
    assert len(sheet["A3"].value) == XLSX_MAX_CELL_CHARS


def test_xlsx_refuses_more_rows_than_a_sheet_holds(monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 5)
    to_xlsx_bytes(pd.DataFrame({"a": [1, 2]}), make_meta())
    with pytest.raises(ValueError, match="export CSV instead"):
        to_xlsx_bytes(pd.DataFrame({"a": [1, 2, 3]}), make_meta())


def test_aware_generation_time_is_kept_in_the_header():
    meta = make_meta(generated_at=datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc))
    header, _ = read_csv(to_csv_bytes(make_frame(), meta))
    assert header_value(header, "Generated") == "2026-01-15T09:30:00+00:00"
    workbook = read_xlsx(to_xlsx_bytes(make_frame(), meta))
    assert ("Generated", "2026-01-15T09:30:00+00:00") in about(workbook)


@pytest.mark.parametrize("to_bytes", [to_csv_bytes, to_xlsx_bytes])
def test_unicode_survives(to_bytes):
    frame = pd.DataFrame({"Ward – name": ["Château Ward", "Ōtautahi", "NO₂ 40 µg/m³"]})
    meta = make_meta(title="Air quality – µg/m³ by ward")
    data = to_bytes(frame, meta)
    if to_bytes is to_csv_bytes:
        header, rows = read_csv(data)
        values, title = [r[0] for r in rows], header_value(header, "Title")
    else:
        workbook = read_xlsx(data)
        values, title = [r[0] for r in data_rows(workbook)], about(workbook)[0][1]
    assert values == ["Ward – name", "Château Ward", "Ōtautahi", "NO₂ 40 µg/m³"]
    assert title == "Air quality – µg/m³ by ward"


# Helpers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\t=x", "'\t=x"), ("\r=x", "'\r=x"), ("-5.2", "-5.2"), ("+44", "+44"), ("-", "'-"),
    ("Lambeth", "Lambeth"), ("a=b", "a=b"), ("", ""), ("'=x", "'=x"),
])
def test_neutralise(text, expected):
    assert neutralise(text) == expected


@pytest.mark.parametrize("title, ext, expected", [
    ("EV charge points – Lambeth", "csv", "ev-charge-points-lambeth-2026-01-15-0930.csv"),
    ("Château / Ward: µg/m³", ".XLSX", "chateau-ward-g-m3-2026-01-15-0930.xlsx"),
    ("../../etc/passwd", "csv", "etc-passwd-2026-01-15-0930.csv"),
    ("", "csv", "export-2026-01-15-0930.csv"),
    ("🚗⚡", "csv", "export-2026-01-15-0930.csv"),
])
def test_filename_examples(title, ext, expected):
    assert filename(title, ext, GENERATED) == expected


@pytest.mark.parametrize("title", ["x" * 500, "word " * 100, "C:\\Users\\x\\file.csv"])
def test_filenames_are_short_and_safe(title):
    name = filename(title, "xlsx", GENERATED)
    assert len(name) <= MAX_FILENAME_CHARS
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-2026-01-15-0930\.xlsx", name)


@pytest.mark.parametrize("ext", ["", ".", "/", "x" * 11])
def test_filename_refuses_bad_extensions(ext):
    with pytest.raises(ValueError):
        filename("Title", ext, GENERATED)
