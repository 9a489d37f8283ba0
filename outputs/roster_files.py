"""Files people take away: the roster workbook, the printable invitations with QR codes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from qrcode.constants import ERROR_CORRECT_M

from models.cells import inert
from models.roster.roster_file import RosterEntry
from models.roster.tables import Person
from outputs.private_files import open_private
from texts.i18n import Gettext
from texts.labels import role_label, stage_label

QR_PIXELS_PER_MODULE = 4


def qr_png(text: str, *, box_size: int = QR_PIXELS_PER_MODULE) -> bytes:
    """A QR code as PNG bytes; medium error correction survives a smudged printout."""
    # A fixed mask saves trying all eight, which makes a 2,000-school sheet 2-3x faster;
    # any mask scans equally well.
    code = qrcode.QRCode(
        version=None, error_correction=ERROR_CORRECT_M, box_size=box_size, border=2,
        mask_pattern=0,
    )
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def _person_text(person: Person) -> str:
    name = person.name or "?"
    return f"{name} (@{person.username})" if person.username else name


def _cells(values: Sequence[str]) -> list[str]:
    """A row as text cells openpyxl will not store as formulas (it takes any text
    starting with "=" for one): names come from Telegram and the roster file."""
    return [inert(v) for v in values]


def _header(sheet: Worksheet, titles: Sequence[str], widths: Sequence[int]) -> None:
    sheet.append(_cells(titles))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = Font(bold=True)
    sheet.freeze_panes = "A2"


def roster_workbook(entries: Sequence[RosterEntry], _: Gettext, path: Path) -> None:
    """The roster as staff keep it, with who is bound to each school.

    The first columns use headers that `huibao schools import` reads, so the file can be
    edited and imported back.
    """
    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Schools")[:31]
    _header(
        sheet,
        [
            _("School code"), _("School name"), _("District"), _("Stage"), _("Active"),
            _("Principal"), _("Deputies / data clerks"),
        ],
        [16, 34, 16, 18, 8, 28, 36],
    )
    yes, no = _("yes"), _("no")
    for entry in entries:
        principal = entry.principal
        sheet.append(
            _cells([
                entry.school.code,
                entry.school.name,
                entry.district.name,
                stage_label(entry.school.stage, _),
                yes if entry.school.active else no,
                _person_text(principal) if principal else "",
                "; ".join(_person_text(p) for p in entry.deputies),
            ])
        )
    sheet.auto_filter.ref = sheet.dimensions
    with open_private(path) as fh:
        book.save(fh)


@dataclass
class InviteLine:
    code: str  # as printed: ABCD-EFGH-JKMN-PQRS
    link: str
    role: str
    school_code: str
    school_name: str
    district: str
    expires_at: datetime
    replaces_principal: bool = False


def invites_workbook(
    lines: Sequence[InviteLine], _: Gettext, tz: ZoneInfo, path: Path, *, bureau: str
) -> None:
    """One row per invitation with its link and a QR code, laid out to print and cut."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Invitations")[:31]
    _header(
        sheet,
        [
            _("District"), _("School code"), _("School name"), _("Joins as"),
            _("Invitation code"), _("Scan with the phone camera or open the link"),
            _("Link"), _("Valid until"),
        ],
        [14, 14, 30, 16, 24, 22, 52, 18],
    )
    wrap = Alignment(vertical="center", wrap_text=True)
    for row, line in enumerate(lines, start=2):
        role = role_label(line.role, _)
        if line.replaces_principal:
            role = _("{role} (replaces the current one)").format(role=role)
        sheet.append(
            _cells([
                line.district, line.school_code, line.school_name, role, line.code, "",
                line.link, line.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            ])
        )
        sheet.cell(row=row, column=5).font = Font(name="Consolas", size=13, bold=True)
        for column in range(1, 9):
            sheet.cell(row=row, column=column).alignment = wrap
        image = SheetImage(io.BytesIO(qr_png(line.link)))
        image.width = image.height = 120
        sheet.add_image(image, f"F{row}")
        sheet.row_dimensions[row].height = 96  # points; the 120-pixel code fits
    setup = sheet.page_setup
    setup.orientation = "landscape"
    setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.oddHeader.center.text = bureau
    with open_private(path) as fh:
        book.save(fh)
