"""Schools are listed the way people read them: by district, then by name with the
numbers in it compared as numbers (城关第7初中 before 城关第10幼儿园), in the workbook,
in /status's missing schools, on /schools and in the CLI's roster export, in zh_CN and en."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from config.settings import Settings
from models.db import create_engine, create_sessionmaker
from models.roster.order import natural_key, school_key
from models.roster.roster_file import schools_page
from models.roster.tables import Role
from outputs.workbook import workbook_bytes
from tests.double import BotApiDouble
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers

STAFF = 701
# The order a reader expects; the codes are deliberately in another order.
READING_ORDER = ["城关第2小学", "城关第7初中", "城关第10中学", "城关第10幼儿园"]


def test_numbers_in_names_compare_as_numbers() -> None:
    shuffled = ["城关第10中学", "城关第7初中", "城关第10幼儿园", "城关第2小学"]
    assert sorted(shuffled, key=natural_key) == READING_ORDER
    assert sorted(["School 10", "school 9", "School 9b"], key=natural_key) == [
        "school 9",
        "School 9b",
        "School 10",
    ]
    # District first: 第2学区's schools all come before 第10学区's.
    keys = [school_key("第10学区", "A小学"), school_key("第2学区", "Z小学")]
    assert sorted(keys) == [keys[1], keys[0]]


async def _world(session: AsyncSession) -> int:
    f = Factory(session)
    form = real_form("staffing")
    far = await f.district("第10学区")
    near = await f.district("第2学区")
    schools = [
        await f.school(near, "城关第10中学", "junior", code="A1"),
        await f.school(near, "城关第7初中", "junior", code="A2"),
        await f.school(near, "城关第10幼儿园", "kindergarten", code="A3"),
        await f.school(near, "城关第2小学", code="A4"),
        await f.school(far, "城郊小学", code="A0"),
    ]
    await f.person(Role.STAFF, "人事科李", telegram_id=STAFF)
    rnd = await f.round(form, schools, deadline=at(30, 10), period="2026")
    await f.submit(rnd, schools[-1], form, staffing_answers(), at(15))
    return rnd.id


@pytest.fixture
async def round_id(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session, session.begin():
        return await _world(session)


@pytest.mark.parametrize(("language", "sheet"), [("zh_CN", "明细"), ("en", "Data")])
async def test_workbook_rows_in_reading_order(
    sessionmaker: async_sessionmaker[AsyncSession], round_id: int, language: str, sheet: str
) -> None:
    async with sessionmaker() as session:
        data, _result = await workbook_bytes(session, round_id, language, Settings(), now=at(16))
    book = openpyxl.load_workbook(io.BytesIO(data))
    names = [row[1] for row in table_rows(book, sheet)[1:]]
    assert names == [*READING_ORDER, "城郊小学"]


@pytest.mark.parametrize(
    ("language", "heading"), [("zh_CN", "未报学校"), ("en", "Missing schools")]
)
async def test_status_lists_missing_schools_in_reading_order(
    status_bot: BotApiDouble, round_id: int, language: str, heading: str
) -> None:
    staff = status_bot.user(STAFF, language_code=language[:2])
    await staff.send("/status")
    listing = await staff.wait_for(lambda m: bool(m.buttons()))
    await staff.press(listing, listing.buttons()[0][0][0])
    by_district = await staff.wait_for(lambda m: m.edited and "第2学区" in str(m.buttons()))
    await staff.press(by_district, "第2学区")
    screen = await staff.wait_for(lambda m: heading in (m.plain or ""))
    text = screen.plain or ""
    positions = [text.index(name) for name in READING_ORDER]
    assert positions == sorted(positions), text


def test_cli_roster_export_in_reading_order(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed() -> None:
        engine = create_engine(db_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await _world(session)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    out = tmp_path / "roster.xlsx"
    assert main(["schools", "export", str(out)]) == 0
    book = openpyxl.load_workbook(out)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    names = [r[1] for r in rows if r and r[1] in {*READING_ORDER, "城郊小学"}]
    assert names == [*READING_ORDER, "城郊小学"]


async def test_schools_pages_follow_reading_order(
    sessionmaker: async_sessionmaker[AsyncSession], round_id: int
) -> None:
    """/schools reads its pages from schools_page: open schools by district, then name."""
    async with sessionmaker() as session:
        first, total = await schools_page(session, per_page=3)
        second, _total = await schools_page(session, per_page=3, page=1)
    assert total == 5
    assert [e.school.name for e in first + second] == [*READING_ORDER, "城郊小学"]
