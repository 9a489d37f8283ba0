"""Text cells that a spreadsheet will not run: the one rule for every workbook and CSV
Huibao writes (the round workbook, the DHIS2 CSV, the roster and invitation workbooks);
in models because the roster import reads the marking back (`typed`).

A Telegram display name or a principal's text answer is chosen by whoever typed it. A
cell that starts with =, +, -, @, a tab or a carriage return is read as a formula by
Excel, WPS and LibreOffice (in a CSV at once; in a workbook as soon as someone edits the
cell), and `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` then runs on a bureau officer's PC.
Such text gets a leading apostrophe (OWASP's "CSV injection" advice), so it is shown as
the text it is. Only text is touched: numbers are written as numbers by the writers,
and a negative figure stays a number cell.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """The text as a cell no spreadsheet evaluates: a leading ' when it could start a
    formula, else unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def typed(text: str) -> str:
    """The text as it was before `inert`, for reading back a file Huibao wrote (the
    roster export is meant to be edited and imported again)."""
    return text[1:] if text[:1] == "'" and text[1:].startswith(FORMULA_STARTS) else text
