"""Reading the printable invitation sheet back: its heading and one block per invitation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from outputs.roster_files import BLOCK_POINTS, HEADING_POINTS, STEPS


@dataclass
class Block:
    top: int  # the block's first row
    name: str
    fields: dict[str, str]  # label -> value, as printed beside the QR code
    steps: list[str]
    images: int = 0  # pictures anchored on the block's first row, column A
    cut: bool = False  # a dashed line under the block


@dataclass
class InvitationSheet:
    sheet: Worksheet
    heading: list[str]
    blocks: list[Block] = field(default_factory=list)


def _text(sheet: Worksheet, row: int, column: int) -> str:
    value = sheet.cell(row=row, column=column).value
    return "" if value is None else str(value)


def read_invitation_sheet(path: Path) -> InvitationSheet:
    sheet = load_workbook(path).active
    assert isinstance(sheet, Worksheet)
    rows = len(HEADING_POINTS)
    heading = [_text(sheet, row, 1) for row in range(1, rows + 1) if _text(sheet, row, 1)]
    read = InvitationSheet(sheet, heading)
    size, fields = len(BLOCK_POINTS), 6
    anchors = [image.anchor._from for image in sheet._images]  # zero-based row and column
    for top in range(rows + 1, sheet.max_row + 1, size):
        read.blocks.append(
            Block(
                top=top,
                name=_text(sheet, top, 2),
                fields={
                    _text(sheet, top + n, 2): _text(sheet, top + n, 3)
                    for n in range(1, fields + 1)
                },
                steps=[_text(sheet, top + fields + n, 2) for n in range(1, len(STEPS) + 1)],
                images=sum(1 for a in anchors if (a.row, a.col) == (top - 1, 0)),
                cut=sheet.cell(row=top + size - 1, column=1).border.bottom.style == "dashed",
            )
        )
    return read
