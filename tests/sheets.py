"""Reading back a workbook Huibao wrote: the table of a sheet, under its heading."""

from __future__ import annotations

from typing import Any

from outputs.xlsx import HEADING_ROWS


def table_rows(book: Any, name: str) -> list[tuple[Any, ...]]:
    """The sheet's table: its header row first, then the rows under it (the title,
    reporting unit and time lines above it left out)."""
    rows = [tuple(r) for r in book[name].iter_rows(values_only=True)]
    return rows[HEADING_ROWS:]
