"""A small streaming .xlsx writer: rows go straight into the zip, memory stays flat.

Why not openpyxl or xlsxwriter: both spend 5-7 µs a cell in Python, so 20,000 schools
× 35 columns took 3.5-7 s on the project's machine; this writes the same
SpreadsheetML in under a second. It writes what xlsxwriter writes in its
constant-memory mode (inline strings, a fixed style sheet, frozen header panes,
column widths), a subset Excel, WPS and LibreOffice all open; openpyxl reads it back
in the tests.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import IO, Any
from xml.sax.saxutils import escape

from models.cells import inert

Cell = str | int | float | Decimal | datetime | date | bool | None

# Style ids (indexes into cellXfs below).
PLAIN = 0
HEADER = 1
ONE_DECIMAL = 2
DATETIME = 3
DATE = 4
TITLE = 5

_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="0.0"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/>'
    '<numFmt numFmtId="166" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>'
    "</patternFill></fill></fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" '
    'applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '<dxfs count="0"/><tableStyles count="0"/></styleSheet>'
)

_NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_EPOCH = datetime(1899, 12, 30)
# Characters XML 1.0 cannot carry at all; a principal's text never needs them.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BAD_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
MAX_CELL_TEXT = 32_767


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@lru_cache(maxsize=8192)
def _text(value: str) -> str:
    # Cached: district names, stages and statuses repeat on every row.
    value = inert(value)  # every text cell: names and answers are typed by anyone
    if len(value) > MAX_CELL_TEXT:
        value = value[:MAX_CELL_TEXT]
    if not value.isprintable():
        value = _BAD_XML.sub("", value)
    if "&" in value or "<" in value or ">" in value:
        value = escape(value)
    if value[:1].isspace() or value[-1:].isspace():
        return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


def excel_serial(value: datetime | date) -> float:
    """Excel's day number; a datetime must already be in the time zone to show."""
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - _EPOCH
        return delta.days + delta.seconds / 86_400 + delta.microseconds / 86_400_000_000
    return float((value - _EPOCH.date()).days)


class Sheet:
    """Rows of one worksheet, written in order."""

    def __init__(self, out: IO[bytes], columns: int) -> None:
        self._out = out
        self._row = 0
        self._letters = [column_letter(i) for i in range(max(columns, 1))]

    def _letter(self, col: int) -> str:
        while col >= len(self._letters):
            self._letters.append(column_letter(len(self._letters)))
        return self._letters[col]

    def row(
        self, values: Sequence[Cell], styles: Sequence[int] | int = PLAIN, height: float = 0
    ) -> None:
        """Append a row; styles is one style for all cells or one per cell.

        A datetime gets the date-time format unless a style is given; None is an
        empty cell; height (points) fixes the row's height."""
        self._row += 1
        r = self._row
        # Wrapped header text needs a set height: spreadsheets do not fit rows on opening.
        parts = [f'<row r="{r}" ht="{height:g}" customHeight="1">' if height else f'<row r="{r}">']
        append = parts.append
        letters = self._letters
        if len(values) > len(letters):
            self._letter(len(values))
        per_cell = None if isinstance(styles, int) else styles
        s = styles if isinstance(styles, int) else 0
        style = f' s="{s}"' if s else ""
        for col, v in enumerate(values):
            if v is None:
                continue
            if per_cell is not None:
                s = per_cell[col]
                style = f' s="{s}"' if s else ""
            ref = f"{letters[col]}{r}"
            t = type(v)
            if t is int or t is float:
                append(f'<c r="{ref}"{style}><v>{v!r}</v></c>')
            elif t is str:
                append(f'<c r="{ref}"{style} t="inlineStr">{_text(str(v))}</c>')
            elif t is bool:
                append(f'<c r="{ref}"{style} t="b"><v>{int(v)}</v></c>')  # type: ignore[arg-type]
            elif t is Decimal:
                append(f'<c r="{ref}"{style}><v>{format(v, "f")}</v></c>')
            elif isinstance(v, datetime):
                st = s or DATETIME
                append(f'<c r="{ref}" s="{st}"><v>{excel_serial(v)!r}</v></c>')
            elif isinstance(v, date):
                st = s or DATE
                append(f'<c r="{ref}" s="{st}"><v>{excel_serial(v)!r}</v></c>')
            elif isinstance(v, int | float):
                append(f'<c r="{ref}"{style}><v>{v!r}</v></c>')
            else:
                append(f'<c r="{ref}"{style} t="inlineStr">{_text(str(v))}</c>')
        append("</row>")
        self._out.write("".join(parts).encode("utf-8"))

    def rows(self, count: int) -> None:
        """Skip `count` rows (empty lines between blocks)."""
        self._row += count


class Workbook:
    """Write sheets one after another into `target` (a path or a binary file)."""

    def __init__(self, target: str | IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets: list[str] = []

    @contextmanager
    def sheet(
        self,
        name: str,
        widths: Sequence[float] = (),
        freeze_rows: int = 1,
        freeze_cols: int = 0,
    ) -> Iterator[Sheet]:
        name = self._unique(name)
        self._sheets.append(name)
        path = f"xl/worksheets/sheet{len(self._sheets)}.xml"
        with self._zip.open(path, "w", force_zip64=True) as out:
            out.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    f"<worksheet {_NS}>{self._views(freeze_rows, freeze_cols)}"
                    '<sheetFormatPr defaultRowHeight="15"/>'
                    f"{self._cols(widths)}<sheetData>"
                ).encode()
            )
            yield Sheet(out, len(widths))
            out.write(
                b'</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
                b'header="0.3" footer="0.3"/></worksheet>'
            )

    def _unique(self, name: str) -> str:
        base = _BAD_SHEET_NAME.sub(" ", name).strip("'")[:31] or "Sheet"
        candidate, n = base, 2
        taken = {s.lower() for s in self._sheets}
        while candidate.lower() in taken:
            suffix = f" ({n})"
            candidate = base[: 31 - len(suffix)] + suffix
            n += 1
        return candidate

    def _views(self, rows: int, cols: int) -> str:
        selected = ' tabSelected="1"' if not self._sheets[:-1] else ""
        if not rows and not cols:
            return f'<sheetViews><sheetView{selected} workbookViewId="0"/></sheetViews>'
        top_left = f"{column_letter(cols)}{rows + 1}"
        split = (f' xSplit="{cols}"' if cols else "") + (f' ySplit="{rows}"' if rows else "")
        pane = "bottomRight" if rows and cols else ("bottomLeft" if rows else "topRight")
        return (
            f'<sheetViews><sheetView{selected} workbookViewId="0">'
            f'<pane{split} topLeftCell="{top_left}" activePane="{pane}" state="frozen"/>'
            f'<selection pane="{pane}"/></sheetView></sheetViews>'
        )

    @staticmethod
    def _cols(widths: Sequence[float]) -> str:
        if not widths:
            return ""
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:.2f}" customWidth="1"/>'
            for i, w in enumerate(widths, 1)
        )
        return f"<cols>{cols}</cols>"

    def close(self) -> None:
        z, count = self._zip, len(self._sheets)
        z.writestr("xl/workbook.xml", _workbook_xml(self._sheets))
        z.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(count))
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr("[Content_Types].xml", _content_types(count))
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _workbook_xml(names: Sequence[str]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(n, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
        for i, n in enumerate(names, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook {_NS}><bookViews><workbookView xWindow="240" yWindow="15" '
        'windowWidth="16095" windowHeight="9660"/></bookViews>'
        f'<sheets>{sheets}</sheets><calcPr calcId="124519"/></workbook>'
    )


def _workbook_rels(count: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, count + 1)
    )
    styles_id = count + 1
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{rels}<Relationship Id="rId{styles_id}" Type="{_REL}/styles" '
        'Target="styles.xml"/></Relationships>'
    )


def _content_types(count: int) -> str:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT_SHEET}"/>'
        for i in range(1, count + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
