"""The house style of Huibao's workbooks, on XlsxWriter: what every sheet looks like
(a merged title naming the bureau, the round and the sheet; the reporting unit and
when it was made; a bordered table under a frozen, filtered header row; landscape,
one page wide, the header repeated on every printed page) and how a Python value
becomes a cell.

XlsxWriter runs in constant-memory mode: each row goes to disk once the next one
starts, so a 20,000-school Data sheet holds one row in memory. Rows must therefore be
written in order, and every cell carries its format as it is written (a table's blank
cells too, or the borders would have holes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import IO, Any

import xlsxwriter

from models.cells import inert
from outputs.xlsx_fast import Styles, column_letter, excel_serial, row_writer

__all__ = ["Cell", "Heading", "Sheet", "Workbook", "column_letter", "excel_serial", "text"]

Cell = str | int | float | Decimal | datetime | date | bool | None

# Styles of the table's cells (indexes into Workbook._formats).
PLAIN = 0
HEADER = 1
ONE_DECIMAL = 2
DATETIME = 3
DATE = 4
TOTAL = 5
TOTAL_ONE_DECIMAL = 6
# Styles outside the table.
TITLE = 7
META = 8
NOTE = 9

HEADER_HEIGHT = 48  # points: three lines of wrapped labels
TITLE_HEIGHT = 28
HEADING_ROWS = 3
"""Rows above every sheet's table: the title, the reporting unit, the time made."""

# The fonts spreadsheets in a Chinese office have: 等线 is Office's default for Chinese
# since 2016 (WPS maps it too); an English workbook keeps Calibri, and Excel falls back to
# a CJK font for the Chinese names in it.
_FONTS = {"zh": ("等线", 134), "en": ("Calibri", 0)}
_BORDER = {"border": 1, "border_color": "#808080"}
# Characters XML 1.0 cannot carry at all; a principal's text never needs them.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BAD_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
MAX_CELL_TEXT = 32_767


@dataclass(frozen=True)
class Heading:
    """What stands above every sheet's table: `title` (the bureau, the round; the
    sheet's name is added), then `lines` (the reporting unit, the time made)."""

    title: str
    lines: Sequence[str]


@lru_cache(maxsize=8192)
def text(value: str) -> str:
    """A text as a cell holds it. Cached: districts, stages and statuses repeat on every
    row. Text that a spreadsheet could run gets the leading apostrophe of `inert`: the
    workbook is written with formulas off, but a cell someone edits is read again."""
    value = inert(value)
    if len(value) > MAX_CELL_TEXT:
        value = value[:MAX_CELL_TEXT]
    if not value.isprintable():
        value = _BAD_XML.sub("", value)
    return value


class Sheet:
    """Rows of one worksheet, written in order from the row under the heading.

    The table's rows are the bulk of a workbook (a million cells for 20,000 schools);
    they go through `outputs.xlsx_fast`, the one module that knows XlsxWriter's
    internals (and falls back to its public API without them)."""

    def __init__(self, ws: Any, formats: Sequence[Any], row: int) -> None:
        self.ws = ws
        self._formats = formats
        self._rows = row_writer(ws, Styles(formats, PLAIN, DATETIME, DATE, text))
        self.row_index = row
        """The next row to write (0-based)."""
        self.table_start: int | None = None
        self.table_end: int | None = None
        """The first table's rows (autofilter and print titles are for it)."""
        self.table_width = 0

    def row(
        self, values: Sequence[Cell], styles: Sequence[int] | int = PLAIN, height: float = 0
    ) -> None:
        """Append a row of the table; styles is one style for all cells or one per cell.

        A datetime or date gets the date format unless a style is given; None is an
        empty (bordered) cell; height (points) fixes the row's height."""
        self._rows.write(self.row_index, values, styles, height)
        self.row_index += 1

    def line(self, value: str, style: int = NOTE) -> None:
        """A line of text outside the table (a note under it)."""
        self.end_table()
        self.ws.write_string(self.row_index, 0, text(value), self._formats[style])
        self.row_index += 1

    def rows(self, count: int) -> None:
        """Skip `count` rows (empty lines between blocks)."""
        self.end_table()
        self.row_index += count

    def end_table(self) -> None:
        """The first table ends at the last row written so far (called on the first row
        that is not part of it)."""
        if self.table_start is not None and self.table_end is None:
            self.table_end = max(self.row_index - 1, self.table_start)

    def table(self, header: Sequence[str], height: float = HEADER_HEIGHT) -> None:
        """The table's header row; the table runs to the last row written after it
        (autofilter and the header printed on every page: of the first table only, as a
        sheet has one filter)."""
        self.end_table()
        if self.table_start is None:
            self.table_start = self.row_index
            self.table_width = len(header)
        self.row(header, HEADER, height)


class Workbook:
    """Write sheets one after another into `target` (a path or a binary file)."""

    def __init__(self, target: str | IO[bytes], language: str, heading: Heading) -> None:
        font, charset = _FONTS["zh" if language.startswith("zh") else "en"]
        self._book = xlsxwriter.Workbook(
            target,
            {
                "constant_memory": True,
                # Text is text: never a formula, a number or a link (see `text`).
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "default_format_properties": {
                    "font_name": font,
                    "font_size": 11,
                    "font_charset": charset,
                },
            },
        )
        self._heading = heading
        self._names: list[str] = []
        add = self._book.add_format
        self._formats = [
            add({**_BORDER, "valign": "vcenter"}),
            add({**_BORDER, "bold": True, "bg_color": "#DDEBF7", "text_wrap": True,
                 "valign": "vcenter", "align": "center"}),
            add({**_BORDER, "num_format": "0.0"}),
            add({**_BORDER, "num_format": "yyyy-mm-dd hh:mm"}),
            add({**_BORDER, "num_format": "yyyy-mm-dd"}),
            add({**_BORDER, "bold": True, "bg_color": "#F2F2F2"}),
            add({**_BORDER, "bold": True, "bg_color": "#F2F2F2", "num_format": "0.0"}),
            add({"bold": True, "font_size": 16, "valign": "vcenter"}),
            add({"font_size": 10}),
            add({"font_size": 10, "italic": True}),
        ]  # fmt: skip
        self._centred_title = add({"bold": True, "font_size": 16, "valign": "vcenter",
                                   "align": "center"})  # fmt: skip

    @contextmanager
    def sheet(
        self, name: str, widths: Sequence[float] = (), freeze_cols: int = 0
    ) -> Iterator[Sheet]:
        """A sheet with the heading above its table; the caller writes the table's
        header (`Sheet.table`) and rows. The header row is frozen, filtered and printed
        on every page."""
        name = self._unique(name)
        self._names.append(name)
        ws = self._book.add_worksheet(name)
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        sheet = Sheet(ws, self._formats, 0)
        self._write_heading(sheet, name, max(len(widths), 1))
        ws.freeze_panes(HEADING_ROWS + 1, freeze_cols)
        yield sheet
        self._print_setup(sheet)

    def _write_heading(self, sheet: Sheet, name: str, columns: int) -> None:
        ws, h = sheet.ws, self._heading
        ws.set_row(0, TITLE_HEIGHT)
        title = text(f"{h.title} · {name}")
        # A wide sheet's title stays on the first screen: centred over 30 columns it
        # would sit off to the right.
        fmt = self._centred_title if columns <= 12 else self._formats[TITLE]
        if columns > 1:
            ws.merge_range(0, 0, 0, columns - 1, title, fmt)
        else:
            ws.write_string(0, 0, title, fmt)
        sheet.row_index = 1
        for line in list(h.lines)[: HEADING_ROWS - 1]:
            sheet.line(line, META)
        sheet.row_index = HEADING_ROWS

    @staticmethod
    def _print_setup(sheet: Sheet) -> None:
        ws = sheet.ws
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as it takes
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.set_footer("&C&P / &N")
        sheet.end_table()
        if sheet.table_start is not None and sheet.table_end is not None:
            ws.repeat_rows(sheet.table_start)
            last_col = max(sheet.table_width - 1, 0)
            ws.autofilter(sheet.table_start, 0, sheet.table_end, last_col)

    def _unique(self, name: str) -> str:
        base = _BAD_SHEET_NAME.sub(" ", name).strip("'")[:31] or "Sheet"
        candidate, n = base, 2
        taken = {s.lower() for s in self._names}
        while candidate.lower() in taken:
            suffix = f" ({n})"
            candidate = base[: 31 - len(suffix)] + suffix
            n += 1
        return candidate

    def close(self) -> None:
        self._book.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
