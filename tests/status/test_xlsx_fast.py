"""outputs/xlsx_fast.py: the XlsxWriter internals the workbook's speed rests on are
there, the rows they write read back exactly as the public API's, and without them the
workbook is still written (through the public API)."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
import xlsxwriter
import xlsxwriter.worksheet

from outputs import xlsx, xlsx_fast
from outputs.xlsx import DATETIME, HEADER, ONE_DECIMAL, PLAIN, Heading, Workbook
from tests.sheets import table_rows

ROWS: list[tuple[list[Any], Any]] = [
    (["学校", "Number", "When", "Day", "Yes", "Empty"], HEADER),
    (["城关第7初中", 48, datetime(2026, 12, 20, 17, 0), date(2026, 12, 5), True, None], PLAIN),
    ([" 前后有空格 ", 1.5, datetime(2026, 1, 1, 8, 30), date(2026, 1, 2), False, None], PLAIN),
    (["=1+1", Decimal("12.50"), "a < b & c", -3, None, "x"], [PLAIN, ONE_DECIMAL] + [PLAIN] * 4),
    (["<dt>", 0, datetime(2026, 3, 4, 5, 6), None, None, None], DATETIME),
]


def test_the_xlsxwriter_internals_are_there() -> None:
    missing = xlsx_fast.missing_internals()
    assert not missing, (
        f"XlsxWriter {xlsxwriter.__version__} no longer has {', '.join(missing)}, which "
        "outputs/xlsx_fast.py uses to write table rows fast. Workbooks are now written "
        "through the public API (correct but about 4x slower: run bench/export). Update "
        "outputs/xlsx_fast.py for this version, or keep the pin in pyproject.toml."
    )
    assert xlsx_fast.FAST


def test_a_missing_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(xlsxwriter.worksheet.Worksheet, "_check_dimensions")
    assert xlsx_fast.missing_internals() == ["Worksheet._check_dimensions"]


def _book(fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(xlsx_fast, "FAST", fast)
    out = io.BytesIO()
    with Workbook(out, "zh_CN", Heading("县教育局 · 测试", ["填报单位：县教育局"])) as book:
        with book.sheet("数据", widths=[20] * 6) as sheet:
            assert isinstance(sheet._rows, xlsx_fast.FastRows if fast else xlsx_fast.PublicRows)
            header, *rows = ROWS
            sheet.table(header[0])
            for values, styles in rows:
                sheet.row(values, styles)
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))


def _cells(book: Any) -> list[tuple[Any, ...]]:
    ws = book["数据"]
    return [
        tuple((c.value, c.number_format, c.font.b, c.border.left.style) for c in row)
        for row in ws.iter_rows()
    ]


def test_fast_rows_read_back_as_the_public_apis(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, public = _book(True, monkeypatch), _book(False, monkeypatch)
    assert _cells(fast) == _cells(public)
    assert fast["数据"].dimensions == public["数据"].dimensions
    rows = table_rows(public, "数据")
    assert rows[1][:2] == ("城关第7初中", 48)
    assert rows[1][2] == datetime(2026, 12, 20, 17, 0)
    assert rows[2][0] == " 前后有空格 "
    # A text a spreadsheet could run stays text, either way.
    assert rows[3][0] == "'=1+1"
    assert rows[3][2] == "a < b & c"


def test_without_the_internals_the_workbook_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(xlsx_fast, "FAST", False)
    book = _book(False, monkeypatch)
    ws = book["数据"]
    assert ws["A1"].value == "县教育局 · 测试 · 数据"
    assert ws.auto_filter.ref == "A4:F8"
    assert table_rows(book, "数据")[0] == ("学校", "Number", "When", "Day", "Yes", "Empty")
    assert xlsx.text("=1+1") == "'=1+1"
