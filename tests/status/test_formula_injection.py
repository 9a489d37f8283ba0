"""No workbook or CSV Huibao writes runs a formula that a principal or a Telegram display
name put into it (OWASP "CSV injection"): such text starts with an apostrophe, while
numbers stay numbers. Also: the DHIS2 CSV has no row without a value."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.cells import inert, typed
from models.forms import Answers
from models.roster.roster_file import RosterEntry, parse_roster, read_rows
from models.roster.tables import District, Person, Role, School
from outputs.dhis2 import write_dhis2_csv
from outputs.roster_files import InviteLine, invites_workbook, roster_workbook
from outputs.workbook import workbook_bytes
from outputs.xlsx import HEADING_ROWS
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers
from texts.i18n import gettext_for

NASTY = (
    '=HYPERLINK("http://x","click")',
    "=cmd|' /C calc'!A0",
    "+1",
    "@SUM(A1)",
    "\t=1",
    "-2+3",
)


def test_inert_marks_only_what_could_start_a_formula() -> None:
    assert [inert(t) for t in NASTY] == ["'" + t for t in NASTY]
    assert inert("\r=1") == "'\r=1"
    assert [typed(inert(t)) for t in NASTY] == list(NASTY)
    assert typed("'quoted") == "'quoted"
    for harmless in ("王校长", "a=b", "", " 2026", "'quoted"):
        assert inert(harmless) == harmless


def assert_inert(book: openpyxl.Workbook, expected: set[str]) -> None:
    """No cell is a formula, no dangerous text is written as it was typed, and each
    expected text is there, behind its apostrophe."""
    found = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                where = (sheet.title, cell.coordinate, cell.value)
                assert cell.data_type != "f", where
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t")), where
                    if cell.value[:1] == "'":
                        found.add(cell.value[1:])
    assert expected <= found, expected - found


async def _staffing_round(session: AsyncSession) -> int:
    """Schools whose principals call themselves by formulas: half submitted (their
    names are in the Revisions sheet), half missing (in the Missing sheet); one school is
    over-staffed, so its vacancies are a negative number."""
    f = Factory(session)
    form = real_form("staffing")
    east = await f.district("东城学区")
    schools = [await f.school(east, code=f"E{n:02d}") for n in range(len(NASTY))]
    people = [
        await f.person(Role.PRINCIPAL, name, school=school)
        for name, school in zip(NASTY, schools, strict=True)
    ]
    rnd = await f.round(form, schools, deadline=at(20, 10), period="2026")
    for school, person in list(zip(schools, people, strict=True))[::2]:
        await f.submit(rnd, school, form, staffing_answers(40, 45), at(15), by=person)
    return rnd.id


async def test_round_workbook_names_are_text_and_figures_numbers(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        round_id = await _staffing_round(session)
    async with sessionmaker() as session:
        data, _result = await workbook_bytes(session, round_id, "en", Settings(), now=at(22))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert_inert(book, set(NASTY))
    rows = table_rows(book, "Data")
    vacancies = rows[0].index("Vacant posts (people)")
    assert rows[1][vacancies] == -5  # a negative figure is still a number cell
    assert book["Data"].cell(row=HEADING_ROWS + 2, column=vacancies + 1).data_type == "n"


async def _remarks_round(session: AsyncSession) -> int:
    """Principals' free-text remarks that look like formulas."""
    f = Factory(session)
    form = real_form("key_teacher_assessment")
    east = await f.district("东城学区")
    remarks = (*NASTY, "\r=1")
    schools = [await f.school(east, code=f"K{n:02d}") for n in range(len(remarks))]
    rnd = await f.round(form, schools, deadline=at(20, 10), period="2026")
    for school, remark in zip(schools, remarks, strict=True):
        answers: Answers = {
            ("assessed", 0): 2,
            ("result_excellent", 0): 1,
            ("result_competent", 0): 1,
            ("result_basic", 0): 0,
            ("result_incompetent", 0): 0,
            ("off_front_line", 0): 0,
            ("remarks", 0): remark,
        }
        await f.submit(rnd, school, form, answers, at(15))
    return rnd.id


async def test_text_answers_are_text_in_the_workbook_and_the_dhis2_csv(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        round_id = await _remarks_round(session)
    async with sessionmaker() as session:
        data, _result = await workbook_bytes(session, round_id, "zh_CN", Settings(), now=at(22))
        out = io.StringIO()
        await write_dhis2_csv(session, round_id, out, Settings())
    assert_inert(openpyxl.load_workbook(io.BytesIO(data)), set(NASTY))
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    remarks = sorted(r[5] for r in rows[1:] if r[0] == "remarks")
    assert remarks == sorted("'" + t for t in (*NASTY, "\r=1"))
    assert all(r[5] == "1" for r in rows[1:] if r[0] == "result_excellent")  # numbers as such


def _people(*names: str) -> list[Person]:
    return [
        Person(name=name, role=(Role.PRINCIPAL if n == 0 else Role.DEPUTY).value, telegram_id=n)
        for n, name in enumerate(names)
    ]


def test_schools_export_and_invitations_hold_no_formulas(tmp_path: Path) -> None:
    _ = gettext_for("zh_CN")
    district = District(name="@SUM(A1)")
    school = School(code="+1", name='=HYPERLINK("http://x","click")', stage="primary")
    roster = tmp_path / "roster.xlsx"
    roster_workbook(
        [RosterEntry(school, district, _people("=cmd|' /C calc'!A0", "\t=1", "-2+3"))],
        _,
        roster,
    )
    # A name joined with its @username and other deputies is one cell: it starts with the
    # first name, so only a formula-like first name needs the apostrophe.
    book = openpyxl.load_workbook(roster)
    assert_inert(book, {"@SUM(A1)", "+1", '=HYPERLINK("http://x","click")', "=cmd|' /C calc'!A0"})
    sheet = book.active
    assert sheet is not None
    assert sheet["G2"].value == "'\t=1; -2+3"
    # The export is meant to be edited and imported again: the apostrophes go.
    parsed = parse_roster(read_rows(roster))
    assert [(r.code, r.name, r.district) for r in parsed.rows] == [
        ("+1", '=HYPERLINK("http://x","click")', "@SUM(A1)")
    ]

    invites = tmp_path / "invites.xlsx"
    line = InviteLine(
        code="ABCD-EFGH-JKMN-PQRS",
        link="https://t.me/huibao_bot?start=ABCDEFGHJKMNPQRS",
        role="principal",
        school_code="+1",
        school_name='=HYPERLINK("http://x","click")',
        district="@SUM(A1)",
        expires_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    invites_workbook(
        [line], "zh_CN", ZoneInfo("Asia/Shanghai"), invites, bureau="青山县教育局",
        made_at=datetime(2026, 11, 17, tzinfo=UTC),
    )
    assert_inert(
        openpyxl.load_workbook(invites), {"@SUM(A1)", "+1", '=HYPERLINK("http://x","click")'}
    )


async def test_dhis2_csv_leaves_out_questions_answered_none(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """紧缺学科 answered "无" is an empty choice list: DHIS2 refuses a row without a
    value (E7618), so there is no row; the school's other figures are exported."""
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        form = real_form("staffing")
        east = await f.district("东城学区")
        none, some = await f.school(east, code="E01"), await f.school(east, code="E02")
        rnd = await f.round(form, [none, some], deadline=at(20, 10), period="2026")
        answered_none: Answers = {**staffing_answers(), ("shortage_subjects", 0): []}
        await f.submit(rnd, none, form, answered_none, at(15))
        await f.submit(rnd, some, form, staffing_answers(), at(15))
        round_id = rnd.id
    out = io.StringIO()
    async with sessionmaker() as session:
        written = await write_dhis2_csv(session, round_id, out, Settings())
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert written == len(rows)
    assert all(r[5] != "" for r in rows)
    assert ("shortage_subjects", "E01") not in {(r[0], r[2]) for r in rows}
    assert [r[5] for r in rows if r[0] == "shortage_subjects"] == ["english,pe"]
    assert ("authorized_posts", "E01") in {(r[0], r[2]) for r in rows}
