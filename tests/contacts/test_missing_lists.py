"""The lists of schools that have not reported show each school's phone and its
principal's (their own before the roster's), to bureau staff and to the district's
officers: /status, "remind now"'s list of schools nobody can be told, /schools, the
workbook's Missing sheet, and the scheduler's escalation. A principal sees none."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.roster.tables import Person, Role, School
from tests.double import BotApiDouble, SentMessage
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers

STAFF, OFFICER, EAST_OFFICER, PRINCIPAL, ZHAO = 801, 802, 803, 804, 805


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        form = real_form("staffing")
        east = await f.district("东城学区")
        west = await f.district("西城学区")
        a = await f.school(east, "实验小学", code="E01")
        c = await f.school(west, "光明小学", code="W01")
        d = await f.school(west, "教学点", "teaching_point", code="W02")
        a.phone, a.principal_phone = "0797-8000001", "13700000001"
        c.phone, c.principal_phone = "0797-8000003", "13700000003"
        d.phone, d.principal_phone = "0797-8000004", "13700000004"
        await f.person(Role.STAFF, "人事科李", telegram_id=STAFF, language="en")
        await f.person(Role.DISTRICT_OFFICER, "西城张", district=west, telegram_id=OFFICER)
        await f.person(Role.DISTRICT_OFFICER, "东城刘", district=east, telegram_id=EAST_OFFICER)
        await f.person(Role.PRINCIPAL, "王校长", school=a, telegram_id=PRINCIPAL)
        zhao = await f.person(Role.PRINCIPAL, "赵校长", school=c, telegram_id=ZHAO)
        zhao.phone = "13698765432"  # given with /phone: shown before the roster's
        await f.person(Role.PRINCIPAL, "钱校长", school=d, reachable=False)
        deadline = max(at(30, 10), utcnow() + timedelta(days=30))
        rnd = await f.round(form, [a, c, d], deadline=deadline, period="2026")
        await f.submit(rnd, a, form, staffing_answers(), at(15))
        return {"round": rnd.id, "east": east.id, "west": west.id}


def _t(message: SentMessage) -> str:
    return message.plain or ""


async def test_staff_and_the_districts_officer_see_the_phones_of_missing_schools(
    status_bot: BotApiDouble, world: dict[str, int]
) -> None:
    staff = status_bot.user(STAFF, language_code="en")
    await staff.send("/status")
    listing = await staff.wait_for("Rounds")
    await staff.press(listing, "Staffing")
    view = await staff.wait_for(lambda m: m.edited and "Reporting rate" in _t(m))
    await staff.press(view, "西城学区")
    missing = await staff.wait_for(lambda m: "Missing schools" in _t(m))
    lines = {line.split(" (")[0]: line for line in _t(missing).splitlines()}
    assert "☎ school 0797-8000003 · ☎ principal 13698765432" in lines["• 光明小学"]
    assert "☎ school 0797-8000004 · ☎ principal 13700000004" in lines["• 教学点"]
    # The district's officer, in Chinese, sees the same numbers for their own schools.
    officer = status_bot.user(OFFICER)
    await officer.send("/status")
    mine = await officer.wait_for("上报率")
    await officer.press(mine, "编制与师资配备")
    theirs = await officer.wait_for(lambda m: "未报学校" in _t(m))
    assert "☎ 学校 0797-8000003 · ☎ 校长 13698765432" in _t(theirs)
    assert "0797-8000001" not in _t(theirs)  # another district's school is not listed


async def test_remind_now_lists_the_schools_to_phone_with_their_numbers(
    status_bot: BotApiDouble, world: dict[str, int]
) -> None:
    staff = status_bot.user(STAFF, language_code="en")
    await staff.send("/status")
    listing = await staff.wait_for("Rounds")
    await staff.press_data(listing, f"st:m:{world['round']}:{world['west']}")
    question = await staff.wait_for(lambda m: m.edited and "cannot be reminded" in _t(m))
    assert "• 教学点 ☎ school 0797-8000004 · ☎ principal 13700000004" in _t(question)
    await staff.press(question, "Confirm")
    done = await staff.wait_for(lambda m: "Reminder sent" in _t(m))
    assert "• 教学点 ☎ school 0797-8000004" in _t(done)


async def test_the_workbooks_missing_sheet_has_the_phones(
    status_bot: BotApiDouble, world: dict[str, int]
) -> None:
    staff = status_bot.user(STAFF, language_code="en")
    await staff.send("/export")
    choose = await staff.wait_for("export")
    await staff.press(choose, "Staffing")
    document = await staff.wait_for(lambda m: m.kind == "document")
    book = openpyxl.load_workbook(io.BytesIO(await staff.download(document)))
    header, *rows = table_rows(book, "Missing")
    assert list(header[-2:]) == ["School phone", "Principal's phone"]
    by_code = {row[0]: list(row[-2:]) for row in rows}
    assert by_code == {
        "W01": ["0797-8000003", "13698765432"],
        "W02": ["0797-8000004", "13700000004"],
    }


async def test_schools_screen_shows_phones_to_staff(
    status_bot: BotApiDouble, world: dict[str, int]
) -> None:
    staff = status_bot.user(STAFF, language_code="en")
    await staff.send("/schools 光明")
    found = await staff.wait_for("光明小学")
    assert "☎ school 0797-8000003 · ☎ principal 13698765432" in _t(found)


async def test_a_principal_never_sees_another_schools_phone(
    status_bot: BotApiDouble, world: dict[str, int],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    principal = status_bot.user(PRINCIPAL)
    for command in ("/status", "/export", "/schools 光明", "/phone"):
        await principal.send(command)
        await principal.wait_for(lambda m: not m.edited)
    r, w = world["round"], world["west"]
    last = principal.messages()[-1]
    for data in (f"st:d:{r}:{w}", f"st:m:{r}:{w}", f"ex:{r}"):
        await principal.press_data(last, data)
        answer = await principal.wait_for_answer()
        assert answer.show_alert and "0797" not in (answer.text or "")
    seen = "\n".join(_t(m) for m in principal.messages())
    for number in ("0797-8000003", "13698765432", "0797-8000004", "13700000004"):
        assert number not in seen
    # Nor does an officer of another district, even once a school there gives a number.
    async with sessionmaker() as session, session.begin():
        await session.execute(update(School).where(School.code == "W01").values(phone=None))
        await session.execute(
            update(Person).where(Person.telegram_id == ZHAO).values(phone="13999999999")
        )
    east = status_bot.user(EAST_OFFICER)
    await east.send("/status")
    mine = await east.wait_for("上报率")
    await east.press_data(mine, f"st:d:{r}:{w}")
    assert "自己学区" in ((await east.wait_for_answer()).text or "")
    assert all("13999999999" not in _t(m) for m in east.messages())
