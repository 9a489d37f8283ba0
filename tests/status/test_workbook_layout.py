"""The round workbook as a 人事科 clerk forwards it: every sheet headed by the bureau,
the round, the reporting unit and the time it was made; totals that say how many
schools they cover; bordered, filtered tables printed landscape, one page wide, with
the header on every page; a Chinese font and Chinese punctuation."""

from __future__ import annotations

import io
import json
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.followup.completeness import Counts
from models.roster.tables import Role
from outputs.revisions_sheet import confirmed_warnings_text
from outputs.workbook import total_label, workbook_bytes
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers

CMD = "=cmd|' /C calc'!A0"


async def _round(session: AsyncSession) -> int:
    """Four schools, two of which reported; one school names itself a formula; one
    deputy has blocked the bot."""
    f = Factory(session)
    form = real_form("staffing")
    east = await f.district("东城学区")
    a = await f.school(east, "实验小学", "primary", code="E01")
    b = await f.school(east, CMD, "junior", code="E02")
    c = await f.school(east, "幼儿园", "kindergarten", code="E03")
    d = await f.school(east, "光明小学", "primary", code="E04")
    await f.person(Role.DEPUTY, "李老师", school=d, reachable=False)
    rnd = await f.round(form, [a, b, c, d], deadline=at(20, 10), period="2026")
    await f.submit(rnd, a, form, staffing_answers(authorized=48), at(15))
    await f.submit(rnd, b, form, staffing_answers(60, 58, (2, 50, 6, 0)), at(18))
    return rnd.id


async def _book(sessionmaker: async_sessionmaker[AsyncSession], language: str) -> openpyxl.Workbook:
    async with sessionmaker() as session, session.begin():
        round_id = await _round(session)
    settings = Settings.model_validate({"bureau": {"name": "城关县教育局"}})
    async with sessionmaker() as session:
        data, _result = await workbook_bytes(session, round_id, language, settings, now=at(22))
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_every_sheet_is_headed_by_the_bureau_the_round_the_unit_and_the_time(
    sessionmaker: async_sessionmaker[AsyncSession], language: str
) -> None:
    book = await _book(sessionmaker, language)
    en = language == "en"
    assert len(book.sheetnames) == 5
    for ws in book.worksheets:
        title, unit, made = (ws.cell(row=r, column=1).value for r in (1, 2, 3))
        form = "Staffing and teachers" if en else "编制与师资配备"
        assert title == f"城关县教育局 · {form} · 2026 · {ws.title}"
        # The title is one merged cell over the table's width.
        width = len(table_rows(book, ws.title)[0])
        assert f"A1:{get_column_letter(width)}1" in {str(r) for r in ws.merged_cells.ranges}
        assert ws["A1"].font.b and ws["A1"].font.sz >= 14
        if en:
            assert unit == "Reporting unit: 城关县教育局"
            assert made == "Made at: 2026-11-22 20:00    Deadline: 2026-11-20 18:00"
        else:
            assert unit == "填报单位：城关县教育局"
            assert made == "制表时间：2026-11-22 20:00　　截止时间：2026-11-20 18:00"


@pytest.mark.parametrize(
    ("language", "total"),
    [("zh_CN", "合计（已上报 2/4 所）"), ("en", "Total (2 of 4 schools reported)")],
)
async def test_the_total_says_how_many_schools_it_covers(
    sessionmaker: async_sessionmaker[AsyncSession], language: str, total: str
) -> None:
    book = await _book(sessionmaker, language)
    summary = table_rows(book, book.sheetnames[0])
    head = summary[0]
    [row] = [r for r in summary if r[0] == total]
    posts = head.index("Authorized posts (people)" if language == "en" else "核定编制数（人）")
    assert row[posts] == 48 + 60  # the two schools that reported
    # And under the table, in words.
    note = (
        "The figures add up the schools that reported only."
        if language == "en"
        else ("注：各项合计只含已上报学校的数据。")
    )
    assert summary[summary.index(row) + 1][0] == note


def test_the_total_label_counts_schools_with_plurals() -> None:
    one = Counts(expected=1, on_time=1)
    assert total_label("en", one) == "Total (1 of 1 school reported)"
    assert total_label("en", Counts(expected=29, on_time=3, late=1)) == (
        "Total (4 of 29 schools reported)"
    )
    assert total_label("zh_CN", Counts(expected=29, on_time=3, late=1)) == "合计（已上报 4/29 所）"


async def test_tables_are_bordered_filtered_and_print_on_pages_one_wide(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    book = await _book(sessionmaker, "zh_CN")
    for ws in book.worksheets:
        rows = table_rows(book, ws.title)
        width = len(rows[0])
        last = 3 + len(rows) if ws.title != "汇总" else 4 + 1 + 1  # district, total
        assert ws.auto_filter.ref == f"A4:{get_column_letter(width)}{last}", ws.title
        assert ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        # One page wide (1 is the default, left out of the file), as tall as it takes.
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.print_title_rows == "$4:$4"  # the header on every printed page
        assert ws["A4"].font.b and ws["A4"].border.bottom.style == "thin"
    data = book["明细"]
    assert data.freeze_panes == "C5"
    # Every cell of the table is bordered, the empty ones too (a school not reported).
    e03 = next(r for r in data.iter_rows(min_row=5) if r[0].value == "E03")
    assert all(c.border.left.style == "thin" for c in e03)
    assert any(c.value is None for c in e03)


@pytest.mark.parametrize(("language", "font"), [("zh_CN", "等线"), ("en", "Calibri")])
async def test_a_font_for_the_readers_language_and_chinese_punctuation(
    sessionmaker: async_sessionmaker[AsyncSession], language: str, font: str
) -> None:
    book = await _book(sessionmaker, language)
    data = book.worksheets[1]
    assert {data.cell(row=r, column=2).font.name for r in range(1, 8)} == {font}
    missing = table_rows(book, book.sheetnames[2])
    deputies = {r[0]: r[7] for r in missing[1:]}
    blocked = "李老师（已屏蔽机器人）" if language == "zh_CN" else "李老师 (blocked the bot)"
    assert deputies["E04"] == blocked
    if language == "zh_CN":
        for ws in book.worksheets:
            header = table_rows(book, ws.title)[0]
            assert not any("(" in str(h) or ":" in str(h) for h in header if h), ws.title


async def test_a_school_named_like_a_formula_stays_text(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    book = await _book(sessionmaker, "zh_CN")
    cells: list[Any] = [
        c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    ]
    assert not any(c.data_type == "f" for c in cells)
    named = [c for c in cells if isinstance(c.value, str) and CMD in c.value]
    assert {c.parent.title for c in named} >= {"明细", "修订记录"}
    assert all(c.value == "'" + CMD and c.data_type == "s" for c in named)


def test_confirmed_warnings_have_no_doubled_punctuation() -> None:
    raw = json.dumps(
        [
            {"message": "代课教师超过专任教师的 20%，请核实。", "comment": "产假。"},
            {"message": "新进人员多于上年。", "comment": "产假。"},
        ]
    )
    assert confirmed_warnings_text(raw, "zh_CN") == (
        "代课教师超过专任教师的 20%，请核实；新进人员多于上年——说明：产假。"
    )
    assert "。；" not in (confirmed_warnings_text(raw, "zh_CN") or "")
