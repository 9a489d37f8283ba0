"""What a bureau prints and forwards to invite people: the QR code with the school's name
under it (4-module quiet zone), and the invitation sheet (heading, one block per school,
the three steps on joining), in Chinese and English."""

from __future__ import annotations

import io
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.roster.invites import CreatedInvite, Invite
from models.roster.tables import District, Role, School
from outputs.charts import CJK_FAMILIES
from outputs.invite_qr import (
    QUIET_ZONE,
    captioned_qr_png,
    font_family,
    invite_png,
    invite_subtitle,
    qr_matrix,
)
from outputs.roster_files import BLOCK_POINTS, HEADING_POINTS, PAGE_POINTS, InviteLine
from outputs.roster_files import invites_workbook as write_sheet
from tests.onboarding.conftest import OTHER, make_person
from tests.onboarding.invitation_sheet import read_invitation_sheet

Sessions = async_sessionmaker[AsyncSession]
LINK = "https://t.me/shifan_edu_bot?start=DKDPE8K4AM70AP7T"
TZ = ZoneInfo("Asia/Shanghai")
ASCII_PUNCTUATION = re.compile(r"[,:;()!?]")


def _decoded(png: bytes, box: int) -> tuple[Image.Image, list[list[bool]]]:
    """The image, and the modules read back from it: dark where a module's centre is."""
    image = Image.open(io.BytesIO(png)).convert("L")
    size = len(qr_matrix(LINK))
    modules = [
        [image.getpixel((x * box + box // 2, y * box + box // 2)) == 0 for x in range(size)]
        for y in range(size)
    ]
    return image, modules


@pytest.mark.parametrize("box", [6, 8])
def test_the_qr_code_keeps_a_four_module_quiet_zone_and_reads_back(box: int) -> None:
    png = captioned_qr_png(LINK, "示范县第一中学", "加入身份：校长", box_size=box)
    image, modules = _decoded(png, box)
    size = len(modules)
    assert image.width == size * box and image.height > size * box  # the caption below
    # The outer 4 modules on every side of the code are white, including below it,
    # where the caption starts only after the margin.
    margin = QUIET_ZONE * box
    for x in range(image.width):
        for y in [*range(margin), *range(size * box - margin, size * box)]:
            assert image.getpixel((x, y)) == 255, (x, y)
    for y in range(size * box):
        for x in [*range(margin), *range(size * box - margin, size * box)]:
            assert image.getpixel((x, y)) == 255, (x, y)
    # Dark modules start right inside the margin (the top-left finder pattern) ...
    assert modules[QUIET_ZONE][QUIET_ZONE] and not modules[QUIET_ZONE - 1][QUIET_ZONE - 1]
    # ... and the modules are the code qrcode itself makes for the link: it decodes.
    own = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, mask_pattern=0)
    own.add_data(LINK)
    own.make(fit=True)
    assert modules == [[bool(m) for m in row] for row in own.get_matrix()]
    # Text was drawn under the code.
    caption = image.crop((0, size * box, image.width, image.height))
    assert caption.getextrema()[0] == 0


def test_the_caption_is_drawn_in_a_font_with_chinese() -> None:
    assert font_family() in CJK_FAMILIES
    # A missing glyph would be drawn as the same box for every character.
    first = captioned_qr_png(LINK, "青山县第一中学", "加入身份：校长")
    second = captioned_qr_png(LINK, "白沙乡中心小学", "加入身份：校长")
    assert first != second


def test_a_long_name_wraps_under_the_code_and_stays_whole() -> None:
    short = Image.open(io.BytesIO(captioned_qr_png(LINK, "一中", "加入身份：校长")))
    name = "示范县城关镇第一中心小学附属幼儿园东河村教学点"
    long = Image.open(io.BytesIO(captioned_qr_png(LINK, name, "加入身份：校长")))
    assert long.width == short.width and long.height > short.height
    # However long, the caption stops at three lines for the name, ending in "…".
    endless = Image.open(io.BytesIO(captioned_qr_png(LINK, name * 40, "加入身份：校长")))
    three = Image.open(io.BytesIO(captioned_qr_png(LINK, name * 3, "加入身份：校长")))
    assert endless.size == three.size


def _created(role: Role, *, school: bool = True, replaces: bool = False) -> CreatedInvite:
    district = District(name="西山乡")
    invite = Invite(role=role.value, replaces_principal=replaces)
    return CreatedInvite(
        invite=invite,
        code="DKDPE8K4AM70AP7T",
        school=School(name="西山九年一贯制学校", code=OTHER) if school else None,
        district=district if school or role is Role.DISTRICT_OFFICER else None,
    )


@pytest.mark.parametrize(
    ("language", "created", "title", "subtitle"),
    [
        ("zh_CN", _created(Role.PRINCIPAL), "西山九年一贯制学校", "加入身份：校长"),
        ("zh_CN", _created(Role.PRINCIPAL, replaces=True), "西山九年一贯制学校",
         "加入身份：校长（替换现任）"),
        ("zh_CN", _created(Role.DISTRICT_OFFICER, school=False), "西山乡", "加入身份：学区专干"),
        ("zh_CN", _created(Role.STAFF, school=False), "示范县教育局", "加入身份：教育局工作人员"),
        ("en", _created(Role.PRINCIPAL), "西山九年一贯制学校", "Joins as: principal"),
        ("en", _created(Role.DEPUTY), "西山九年一贯制学校", "Joins as: deputy / data clerk"),
    ],
)
def test_the_chat_image_names_the_place_and_the_role(
    language: str, created: CreatedInvite, title: str, subtitle: str
) -> None:
    assert invite_subtitle(
        created.invite.role, language, replaces=created.invite.replaces_principal
    ) == subtitle
    png = invite_png(LINK, created, bureau="示范县教育局", language=language)
    assert png == captioned_qr_png(LINK, title, subtitle, box_size=8)


def _lines(count: int, role: str = "principal") -> list[InviteLine]:
    return [
        InviteLine(
            code=f"DKDP-E8K4-AM70-{n:04d}",
            link=f"https://t.me/shifan_edu_bot?start=DKDPE8K4AM70{n:04d}",
            role=role,
            school_code=f"36112300{n:02d}",
            school_name=f"示范县第{n + 1}中学",
            district="城关学区" if n % 2 else "西山乡",
            expires_at=datetime(2026, 12, 19, 8, 11, tzinfo=UTC),
            replaces_principal=n == 1,
        )
        for n in range(count)
    ]


def _sheet(tmp_path: Path, language: str, lines: list[InviteLine]) -> Any:
    path = tmp_path / f"邀请函-{language}.xlsx"
    write_sheet(lines, language, TZ, path, bureau="示范县教育局",
                made_at=datetime(2026, 12, 5, 1, 30, tzinfo=UTC))
    return read_invitation_sheet(path)


ZH_STEPS = [
    "① 在手机应用商店或 telegram.org 下载安装 Telegram。",
    "② 用手机相机扫描左侧二维码，或打开上面的链接。",
    "③ 在 Telegram 中点击“开始”（Start），再点击“确认”。",
]
EN_STEPS = [
    "1. Install Telegram from your phone's app store or telegram.org.",
    "2. Scan the QR code with the phone's camera, or open the link.",
    "3. In Telegram, press Start, then Confirm.",
]


def test_the_chinese_sheet_has_the_heading_and_a_block_per_school(tmp_path: Path) -> None:
    lines = _lines(7)
    printed = _sheet(tmp_path, "zh_CN", lines)
    assert printed.heading == [
        "示范县教育局",
        "校长邀请码",
        "制表日期：2026-12-05",
        "每个邀请码只能使用一次，请在有效期内使用。",
    ]
    assert len(printed.blocks) == 7
    for block, line in zip(printed.blocks, lines, strict=True):
        assert block.name == line.school_name
        assert block.fields == {
            "学区": line.district,
            "学校代码": line.school_code,
            "加入身份": "校长（替换现任）" if line.replaces_principal else "校长",
            "邀请码": line.code,
            "链接": line.link,
            "有效期至": "2026-12-19 16:11",
        }
        assert block.steps == ZH_STEPS
        assert block.images == 1 and block.cut
    sheet = printed.sheet
    assert sheet.cell(row=printed.blocks[0].top + 5, column=3).hyperlink.target == lines[0].link
    # Chinese text in Chinese punctuation (the web address aside).
    for text in [*printed.heading, *ZH_STEPS]:
        assert not ASCII_PUNCTUATION.search(text), text


def test_the_english_sheet(tmp_path: Path) -> None:
    printed = _sheet(tmp_path, "en", _lines(2))
    assert printed.heading == [
        "示范县教育局", "Principal invitation codes", "Made on 2026-12-05",
        "Each code can be used once, until the date shown.",
    ]
    first, second = printed.blocks
    assert first.fields["Joins as"] == "Principal"
    assert second.fields["Joins as"] == "Principal (replaces the current one)"
    assert first.fields["Invitation code"] == "DKDP-E8K4-AM70-0000"
    assert first.fields["Valid until"] == "2026-12-19 16:11"
    assert first.steps == second.steps == EN_STEPS


def test_district_officer_and_mixed_sheets(tmp_path: Path) -> None:
    officers = _lines(1, role="district_officer")
    officers[0].school_name = officers[0].school_code = ""
    printed = _sheet(tmp_path, "zh_CN", officers)
    assert printed.heading[1] == "学区专干邀请码"
    assert printed.blocks[0].name == "西山乡"  # the place is the district
    mixed = _sheet(tmp_path, "zh_CN", [*_lines(1), *_lines(1, role="deputy")])
    assert mixed.heading[1] == "邀请码"


def test_the_sheet_prints_portrait_and_no_block_splits_across_pages(tmp_path: Path) -> None:
    printed = _sheet(tmp_path, "zh_CN", _lines(10))
    sheet = printed.sheet
    assert sheet.page_setup.orientation == "portrait"
    assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    breaks = [b.id for b in sheet.row_breaks.brk]
    assert breaks  # ten blocks do not fit one page
    # Every break falls after a block's last row, and every page holds what fits.
    ends = {block.top + len(BLOCK_POINTS) - 1 for block in printed.blocks}
    assert set(breaks) <= ends
    pages = [0, *breaks, sheet.max_row]
    for start, end in itertools.pairwise(pages):
        height = sum(sheet.row_dimensions[row].height for row in range(start + 1, end + 1))
        assert height <= PAGE_POINTS
    assert len(HEADING_POINTS) + 3 * len(BLOCK_POINTS) == breaks[0]  # three on page one


async def test_the_chat_sends_the_captioned_code(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, 2000, Role.STAFF, name="张晓燕")
    async with bot(HUIBAO_BUREAU__NAME="示范县教育局") as running:
        staff = running.tg.user(2000, "张晓燕")
        await staff.send("/invite district 西山乡")
        invitation = await staff.wait_for("https://t.me/")
        link = re.search(r"https://t\.me/\S+", invitation.plain)
        assert link is not None
        photo = await staff.wait_for(lambda m: m.photo is not None)
        expected = captioned_qr_png(link.group(0), "西山乡", "加入身份：学区专干")
        assert await staff.download(photo) == expected


async def test_the_chat_image_in_english(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, 2000, Role.STAFF, name="Zhang")
    async with bot(HUIBAO_BUREAU__DEFAULT_LANGUAGE="en") as running:
        staff = running.tg.user(2000, "Zhang")
        await staff.send("/invite district 西山乡")
        invitation = await staff.wait_for("https://t.me/")
        link = re.search(r"https://t\.me/\S+", invitation.plain)
        assert link is not None
        photo = await staff.wait_for(lambda m: m.photo is not None)
        expected = captioned_qr_png(link.group(0), "西山乡", "Joins as: district officer")
        assert await staff.download(photo) == expected
