"""How the workbook's sheets put things in cells: values, labels, local times, and a
table of columns (header and width together, so the two cannot drift apart)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from models.followup.completeness import SchoolStatus
from models.forms import ComputedDef, FieldDef, Value, show_file
from outputs.xlsx import HEADER_HEIGHT, Cell, Sheet, Workbook
from texts.i18n import short

__all__ = ["HEADER_HEIGHT"]

Column = tuple[str, float]
"""A column of a sheet: its header and its width (in characters)."""


@dataclass(frozen=True)
class Batch:
    """A run of districts (models.followup.batches) and their expected schools with
    their status, in reading order: what the per-school sheets write at one time."""

    districts: list[int]
    statuses: list[SchoolStatus]


def school_columns(_: Callable[[str], str]) -> list[Column]:
    """The columns every per-school sheet starts with."""
    return [(_("School code"), 10.0), (_("School"), 24), (_("District"), 14)]


def write_table(
    book: Workbook,
    name: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    freeze_cols: int = 0,
) -> None:
    """A sheet of the heading, one header row (frozen, filtered) and the rows under it."""
    with ExitStack() as stack:
        sheet = open_table(stack, book, name, columns, freeze_cols)
        for row in rows:
            sheet.row(row)


def open_table(
    stack: ExitStack, book: Workbook, name: str, columns: Sequence[Column], freeze_cols: int = 0
) -> Sheet:
    """A sheet of the heading and one header row, whose rows the caller appends; it is
    finished (print set-up, filter) when `stack` closes. Several sheets may be open at
    once: the workbook's per-school sheets are written a batch of schools at a time."""
    sheet = stack.enter_context(book.sheet(name, [w for _h, w in columns], freeze_cols))
    sheet.table([h for h, _w in columns])
    return sheet


def local(t: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A naive local time for Excel (which has no time zones)."""
    return None if t is None else t.astimezone(tz).replace(tzinfo=None)


def number(value: Value | None) -> Cell:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return value
    return None


def cell(f: FieldDef | ComputedDef, value: Value | None, language: str) -> Cell:
    """A value as an Excel cell: numbers and dates as such, choices as their labels."""
    if value is None or isinstance(value, bool | datetime):
        return value
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and isinstance(f, ComputedDef):
            places = 2 if f.decimals is None else f.decimals
            return value.quantize(Decimal(1).scaleb(-places))
        return value
    if not isinstance(value, str | list):
        return value  # a date
    lang = short(language)
    if isinstance(f, FieldDef) and f.type == "file":
        return show_file(value, lang == "zh")  # the name and size; the bytes are in the zip
    choices = {c.code: c.label.get(lang) for c in f.choices} if isinstance(f, FieldDef) else {}
    if isinstance(value, list):
        return list_separator(language).join(choices.get(v, v) for v in value)
    return choices.get(value, value)


def list_separator(language: str) -> str:
    return "、" if short(language) == "zh" else ", "


def label(text: Any, language: str, unit: Any = None) -> str:
    """A field's (or key total's) label, with its unit in brackets when it has one
    (full-width brackets in Chinese: 核定编制数（人）)."""
    lang = short(language)
    name: str = text.get(lang)
    if unit is not None:
        u: str = unit.get(lang)
        if u:
            name = f"{name}（{u}）" if lang == "zh" else f"{name} ({u})"
    return name
