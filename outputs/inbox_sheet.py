"""The inbox as a workbook: every message of every question, thread by thread, with the
school, the person and the time, for the bureau's records (`huibao inbox export`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path

import xlsxwriter

from models.cells import inert
from models.inbox.threads import ExportRow
from outputs.private_files import open_private
from texts.i18n import Gettext
from texts.when import show

WIDTHS = (8, 14, 16, 24, 10, 17, 14, 10, 60, 20)


def inbox_workbook(
    rows: Sequence[ExportRow], path: Path, _: Gettext, *, bureau: str, tz: tzinfo
) -> None:
    with open_private(path) as handle:
        book = xlsxwriter.Workbook(handle, {"in_memory": True})
        sheet = book.add_worksheet(_("Questions from schools")[:31])
        bold = book.add_format({"bold": True, "border": 1, "bg_color": "#DDEBF7"})
        cell = book.add_format({"border": 1, "text_wrap": True, "valign": "top"})
        title = book.add_format({"bold": True, "font_size": 14})
        sheet.write(0, 0, _("{bureau}: questions from schools").format(bureau=bureau), title)
        headers = (_("Question"), _("District"), _("School code"), _("School"), _("Status"),
                   _("Time"), _("Written by"), _("Side"), _("Message"), _("Attachment"))
        sheet.write_row(2, 0, headers, bold)
        for index, width in enumerate(WIDTHS):
            sheet.set_column(index, index, width)
        for number, row in enumerate(rows, start=3):
            side = _("School") if row.from_school else _("Bureau")
            values = (row.question_id, row.district, row.school_code, row.school,
                      _status(_, row.status), show(row.at, tz, "iso"), row.author, side, row.text,
                      row.attachment)
            sheet.write_row(number, 0, [inert(v) if isinstance(v, str) else v for v in values],
                            cell)
        sheet.autofilter(2, 0, 2 + len(rows), len(headers) - 1)
        sheet.freeze_panes(3, 0)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(2)
        book.close()


def _status(_: Gettext, status: str) -> str:
    return {"open": _("waiting for the bureau"), "answered": _("answered"),
            "done": _("done")}.get(status, status)
