"""The one place that touches XlsxWriter's internals, and the public-API fallback.

A table row written through XlsxWriter's public API costs about 7 µs a cell on the
project's machine: 17 s for the benchmark's 20,000 schools × 50 columns, against a 5 s
target. So in constant-memory mode the rows are encoded here as XlsxWriter itself
encodes them and appended to the worksheet's row file. That leans on these internals of
XlsxWriter 3.3 (pinned `>=3.3,<3.4`):

- `Worksheet.fh` and `Worksheet.constant_memory`: the open row file of a
  constant-memory sheet;
- `Worksheet.previous_row` and `Worksheet._write_single_row`, to flush the row XlsxWriter
  itself holds before ours is appended;
- `Worksheet._check_dimensions`, so the sheet's extent (and the filter) covers our rows;
- `Format._get_xf_index`, a format's style number;
- `xlsxwriter.workbook.ZipFile`, replaced to compress at zlib level 1.

`missing_internals()` names any that is gone; when one is, rows are written with the
public API (`write_string`, `write_number`, …): slower, never wrong.
`tests/status/test_xlsx_fast.py` fails with a message naming what changed, so an
upgrade of XlsxWriter is noticed in the test run rather than in the benchmark.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol
from xml.sax.saxutils import escape

import xlsxwriter.format
import xlsxwriter.workbook
import xlsxwriter.worksheet

# What a row's cells hold once `outputs.xlsx` has made them cell-ready: text already
# passed through `xlsx.text`, dates already turned into Excel serials by the caller's
# style choice (see `Cell` there).
Value = str | int | float | Decimal | datetime | date | bool | None

_WORKSHEET_INTERNALS = (
    "fh",
    "constant_memory",
    "previous_row",
    "_write_single_row",
    "_check_dimensions",
)
_EPOCH = datetime(1899, 12, 30)


def missing_internals() -> list[str]:
    """The XlsxWriter internals this module uses that this XlsxWriter lacks."""
    missing = [
        f"Worksheet.{name}"
        for name in _WORKSHEET_INTERNALS
        if not hasattr(xlsxwriter.worksheet.Worksheet, name) and not _instance_has(name)
    ]
    if not callable(getattr(xlsxwriter.format.Format, "_get_xf_index", None)):
        missing.append("Format._get_xf_index")
    if not isinstance(getattr(xlsxwriter.workbook, "ZipFile", None), type):
        missing.append("xlsxwriter.workbook.ZipFile")
    return missing


@lru_cache(maxsize=1)
def _instance_attributes() -> frozenset[str]:
    """The attributes a fresh worksheet sets in its constructor (`previous_row` is one)."""
    return frozenset(vars(xlsxwriter.worksheet.Worksheet()))


def _instance_has(name: str) -> bool:
    return name in _instance_attributes()


FAST = not missing_internals()
"""True when rows are encoded here; False when they go through the public API."""


class _FastZip(zipfile.ZipFile):
    """XlsxWriter's package at zlib level 1 rather than 6: the benchmark's 33 MB of sheet
    XML took 0.14 s instead of 0.8 s, for a file of 4.8 MB instead of 3.6 MB. XlsxWriter
    has no option for it, so its ZipFile is this one (every workbook this process writes
    with XlsxWriter is Huibao's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("compresslevel", 1)
        super().__init__(*args, **kwargs)


if FAST:
    xlsxwriter.workbook.ZipFile = _FastZip


def excel_serial(value: datetime | date) -> float:
    """Excel's day number; a datetime must already be in the time zone to show."""
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - _EPOCH
        return delta.days + delta.seconds / 86_400 + delta.microseconds / 86_400_000_000
    return float((value - _EPOCH.date()).days)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass(frozen=True)
class Styles:
    """The formats of a sheet, by style index, and which of them a date or a datetime
    takes when its row is written in the plain style."""

    formats: Sequence[Any]
    plain: int
    datetime: int
    date: int
    clean: Callable[[str], str]
    """What a text goes through before it is a cell's (see `outputs.xlsx.text`)."""


class RowWriter(Protocol):
    def write(
        self, r: int, values: Sequence[Value], styles: Sequence[int] | int, height: float
    ) -> None:
        """Write row `r` (0-based): one style for every cell, or one per cell."""


def _date_style(styles: Styles, v: datetime | date, style: int, plain: bool) -> int:
    if plain and style == styles.plain:
        return styles.datetime if isinstance(v, datetime) else styles.date
    return style


class PublicRows:
    """Rows through XlsxWriter's public API: what the fast path must match."""

    def __init__(self, ws: Any, styles: Styles) -> None:
        self.ws = ws
        self.styles = styles

    def write(
        self, r: int, values: Sequence[Value], styles: Sequence[int] | int, height: float
    ) -> None:
        ws, st = self.ws, self.styles
        if height:
            ws.set_row(r, height)
        plain = not isinstance(styles, int) or styles == st.plain
        for col, v in enumerate(values):
            s = styles if isinstance(styles, int) else styles[col]
            if isinstance(v, datetime | date):
                s = _date_style(st, v, s, plain)
            fmt = st.formats[s]
            if v is None:
                ws.write_blank(r, col, None, fmt)
            elif isinstance(v, bool):
                ws.write_boolean(r, col, v, fmt)
            elif isinstance(v, int | float | Decimal):
                ws.write_number(r, col, v, fmt)
            elif isinstance(v, datetime | date):
                ws.write_number(r, col, excel_serial(v), fmt)
            else:
                ws.write_string(r, col, st.clean(str(v)), fmt)


class FastRows:
    """Rows encoded as XlsxWriter's constant-memory mode encodes them (inline strings),
    appended to the worksheet's row file."""

    def __init__(self, ws: Any, styles: Styles) -> None:
        self.ws = ws
        self.st = styles
        self._styles = [f' s="{f._get_xf_index()}"' for f in styles.formats]
        self._letters = [f'<c r="{column_letter(i)}' for i in range(64)]
        """Each column's cell opening, up to the row number."""
        clean = styles.clean

        @lru_cache(maxsize=8192)
        def inline(value: str) -> str:
            value = escape(clean(value))
            if value[:1].isspace() or value[-1:].isspace():
                return f'<is><t xml:space="preserve">{value}</t></is>'
            return f"<is><t>{value}</t></is>"

        self._inline = inline

    def write(
        self, r: int, values: Sequence[Value], styles: Sequence[int] | int, height: float
    ) -> None:
        ws = self.ws
        if ws.previous_row < r:
            ws._write_single_row(r)  # XlsxWriter's own pending row goes first
        n = r + 1
        # Wrapped header text needs a set height: spreadsheets do not fit rows on opening.
        parts = [f'<row r="{n}" ht="{height:g}" customHeight="1">' if height else f'<row r="{n}">']
        append = parts.append
        while len(values) > len(self._letters):
            self._letters.append(f'<c r="{column_letter(len(self._letters))}')
        letters, all_styles, inline = self._letters, self._styles, self._inline
        per_cell = None if isinstance(styles, int) else [all_styles[s] for s in styles]
        style = all_styles[styles] if isinstance(styles, int) else ""
        plain = not isinstance(styles, int) or styles == self.st.plain
        for col, v in enumerate(values):
            if per_cell is not None:
                style = per_cell[col]
            t = type(v)
            if v is None:
                append(f'{letters[col]}{n}"{style}/>')
            elif t is int or t is float:
                append(f'{letters[col]}{n}"{style}><v>{v!r}</v></c>')
            elif t is str:
                append(f'{letters[col]}{n}"{style} t="inlineStr">{inline(v)}</c>')
            elif t is Decimal:
                append(f'{letters[col]}{n}"{style}><v>{format(v, "f")}</v></c>')
            elif t is bool:
                append(f'{letters[col]}{n}"{style} t="b"><v>{int(v)}</v></c>')  # type: ignore[arg-type]
            elif isinstance(v, datetime | date):
                own = style
                if plain and style == all_styles[self.st.plain]:
                    own = all_styles[self.st.datetime if isinstance(v, datetime) else self.st.date]
                append(f'{letters[col]}{n}"{own}><v>{excel_serial(v)!r}</v></c>')
            else:
                append(f'{letters[col]}{n}"{style} t="inlineStr">{inline(str(v))}</c>')
        append("</row>")
        ws.fh.write("".join(parts))
        ws._check_dimensions(r, 0)
        ws._check_dimensions(r, max(len(values) - 1, 0))


def row_writer(ws: Any, styles: Styles, *, fast: bool | None = None) -> RowWriter:
    """The fast writer when the internals are there (and the sheet is a constant-memory
    one, whose row file it appends to); the public API otherwise."""
    use_fast = FAST if fast is None else fast
    if use_fast and getattr(ws, "constant_memory", False) and getattr(ws, "fh", None):
        return FastRows(ws, styles)
    return PublicRows(ws, styles)
