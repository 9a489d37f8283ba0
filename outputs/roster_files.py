"""Files people take away: the roster workbook, the printable invitations with QR codes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from models.cells import inert
from models.roster.roster_file import RosterEntry
from models.roster.tables import Person
from outputs.invite_qr import (
    SHEET_PIXELS_PER_MODULE,
    captioned_qr_png,
    invite_role,
    invite_subtitle,
    invite_title,
)
from outputs.private_files import open_private
from texts.i18n import N_, Gettext, gettext_for
from texts.labels import role_label, stage_label
from texts.when import show


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
            # The roster's numbers (not a principal's own), so that importing gives them back.
            _("School phone"), _("Principal's phone"),
        ],
        [16, 34, 16, 18, 8, 28, 36, 16, 16],
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
                entry.school.phone or "",
                entry.school.principal_phone or "",
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


# The invitation sheet: A4 portrait, a heading, then one block per invitation that a clerk
# cuts out and hands over. Three columns: the QR code, labels, values.
SHEET_WIDTHS = (25, 13, 54)  # characters; about 494 pt, within A4's 523 pt between margins
QR_DISPLAY_PIXELS = 170  # the code's width on the sheet, inside column A
MARGIN_INCHES = {"left": 0.5, "right": 0.5, "top": 0.6, "bottom": 0.6}
# A4 is 842 pt high; what is left between the margins, less a little for rounding in
# whatever program prints it.
PAGE_POINTS = 842 - (MARGIN_INCHES["top"] + MARGIN_INCHES["bottom"]) * 72 - 10
HEADING_POINTS = (28, 22, 16, 16, 8)  # bureau, title, date, "each code once", space
# name, district, school code, joins as, code, link, valid until, 3 steps, cut line
BLOCK_POINTS = (24, 18, 18, 18, 22, 18, 18, 18, 18, 18, 12)
STEPS = (  # the steps on joining, printed in every block
    N_("1. Install Telegram from your phone's app store or telegram.org."),
    N_("2. Scan the QR code with the phone's camera, or open the link."),
    N_("3. In Telegram, press Start, then Confirm."),
)
CUT = Border(bottom=Side(style="dashed", color="808080"))
LEFT = Alignment(vertical="center")
CENTRED = Alignment(horizontal="center", vertical="center")
# One face with Chinese glyphs for every cell: Excel's default Latin face would leave the
# names to a fallback and print a patchwork. 微软雅黑 is on every Chinese Windows.
SHEET_FONT = "Microsoft YaHei"
TEXT_FONT = Font(name=SHEET_FONT, size=10)
NAME_FONT = Font(name=SHEET_FONT, bold=True, size=14)
LABEL_FONT = Font(name=SHEET_FONT, size=10, color="606060")
CODE_FONT = Font(name="Consolas", size=13, bold=True)
LINK_FONT = Font(name=SHEET_FONT, size=10, color="1F4E79", underline="single")


def _capital(text: str) -> str:
    """English role labels are lower case ("principal"); a title or a cell starts upper."""
    return text[:1].upper() + text[1:]


def _title(lines: Sequence[InviteLine], _: Gettext) -> str:
    """"校长邀请码" when the sheet invites one role, "邀请码" for a mix."""
    roles = {line.role for line in lines}
    if len(roles) == 1:
        return _capital(_("{role} invitation codes").format(role=role_label(roles.pop(), _)))
    return _("Invitation codes")


def _heading(sheet: Worksheet, title: str, made: str, *, bureau: str, _: Gettext) -> int:
    """The bureau's heading over the first block; returns its last row."""
    texts = (
        (bureau, Font(name=SHEET_FONT, bold=True, size=16)),
        (title, Font(name=SHEET_FONT, bold=True, size=14)),
        (_("Made on {date}").format(date=made), TEXT_FONT),
        (_("Each code can be used once, until the date shown."), TEXT_FONT),
        ("", TEXT_FONT),
    )
    for row, ((text, font), height) in enumerate(zip(texts, HEADING_POINTS, strict=True), 1):
        cell = sheet.cell(row=row, column=1, value=inert(text) if text else None)
        cell.font, cell.alignment = font, CENTRED
        sheet.merge_cells(start_row=row, end_row=row, start_column=1, end_column=3)
        sheet.row_dimensions[row].height = height
    return len(texts)


def _block(
    sheet: Worksheet, top: int, line: InviteLine, _: Gettext, tz: ZoneInfo, *, bureau: str,
    language: str,
) -> None:
    """One invitation from row `top` on: the QR code with the place under it on the
    left, what is printed beside it on the right, the three steps, a dashed cut line."""
    place = invite_title(line.school_name, line.district, bureau)
    joins = invite_subtitle(line.role, language, replaces=line.replaces_principal)
    fields = (
        (_("District"), line.district),
        (_("School code"), line.school_code),
        (_("Joins as"), _capital(
            invite_role(line.role, language, replaces=line.replaces_principal)
        )),
        (_("Invitation code"), line.code),
        (_("Link"), line.link),
        (_("Valid until"), show(line.expires_at, tz, "iso", language)),
    )
    name = sheet.cell(row=top, column=2, value=inert(place))
    name.font, name.alignment = NAME_FONT, LEFT
    for offset, (label, value) in enumerate(fields, start=1):
        sheet.cell(row=top + offset, column=2, value=inert(label)).font = LABEL_FONT
        cell = sheet.cell(row=top + offset, column=3, value=inert(value) if value else None)
        cell.font, cell.alignment = TEXT_FONT, LEFT
    code = sheet.cell(row=top + 4, column=3)
    code.font = CODE_FONT
    link = sheet.cell(row=top + 5, column=3)
    link.hyperlink = line.link
    link.font = LINK_FONT
    # The name and the steps run on over the empty column C: merging the cells instead
    # costs openpyxl time quadratic in the number of merges (a minute for 2,000 schools).
    for offset, step in enumerate(STEPS, start=len(fields) + 1):
        cell = sheet.cell(row=top + offset, column=2, value=_(step))
        cell.font, cell.alignment = TEXT_FONT, LEFT
    cut = top + len(BLOCK_POINTS) - 1
    for column in range(1, 4):
        sheet.cell(row=cut, column=column).border = CUT
    for offset, height in enumerate(BLOCK_POINTS):
        sheet.row_dimensions[top + offset].height = height
    image = SheetImage(io.BytesIO(
        captioned_qr_png(line.link, place, joins, box_size=SHEET_PIXELS_PER_MODULE)
    ))
    scale = QR_DISPLAY_PIXELS / image.width
    image.width, image.height = QR_DISPLAY_PIXELS, round(image.height * scale)
    sheet.add_image(image, f"A{top}")


def _page_setup(sheet: Worksheet, blocks: int, heading_rows: int) -> None:
    """Portrait A4, fit to the page's width, and a page break between blocks so that no
    invitation is cut in two: as many blocks per page as fit whole."""
    setup = sheet.page_setup
    setup.orientation = "portrait"
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    for side, inches in MARGIN_INCHES.items():
        setattr(sheet.page_margins, side, inches)
    sheet.page_margins.header = sheet.page_margins.footer = 0.3
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = "&P / &N"
    block = sum(BLOCK_POINTS)
    room = PAGE_POINTS - sum(HEADING_POINTS)  # the first page carries the heading
    last_row = heading_rows
    for _block_index in range(blocks):
        if room < block:
            sheet.row_breaks.append(Break(id=last_row))  # a break after this row
            room = PAGE_POINTS
        room -= block
        last_row += len(BLOCK_POINTS)


def invites_workbook(
    lines: Sequence[InviteLine],
    language: str,
    tz: ZoneInfo,
    path: Path,
    *,
    bureau: str,
    made_at: datetime,
) -> None:
    """The printable invitations: the bureau's heading, then per invitation a block with
    the school, its district, the code, the link, the QR code with the school's name
    under it and three lines on joining, laid out to print on A4 and cut apart."""
    _ = gettext_for(language)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Invitations")[:31]
    for index, width in enumerate(SHEET_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    made = show(made_at, tz, "iso_day", language)
    heading_rows = _heading(sheet, _title(lines, _), made, bureau=bureau, _=_)
    for index, line in enumerate(lines):
        top = heading_rows + 1 + index * len(BLOCK_POINTS)
        _block(sheet, top, line, _, tz, bureau=bureau, language=language)
    _page_setup(sheet, len(lines), heading_rows)
    sheet.sheet_view.showGridLines = False
    with open_private(path) as fh:
        book.save(fh)
