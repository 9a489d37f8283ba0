"""The Excel workbook and the DHIS2 CSV of a round with known submissions."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.roster.tables import Role
from models.rounds import Answer, RoundStatus, Submission
from outputs.dhis2 import dhis2_period, write_dhis2_csv
from outputs.workbook import workbook_bytes
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers


async def _round(session: AsyncSession) -> dict[str, int]:
    """Two districts, six schools: 3 on time (one revised), 1 late, 1 draft, 1 nothing;
    and a previous year's round so that one figure is flagged."""
    f = Factory(session)
    form = real_form("staffing")
    east = await f.district("东城学区")
    west = await f.district("西城学区")
    a = await f.school(east, "实验小学", "primary", code="E01")
    b = await f.school(east, "第一中学", "junior", code="E02")
    c = await f.school(east, "幼儿园", "kindergarten", code="E03")
    d = await f.school(west, "第二中学", "senior", code="W01")
    e = await f.school(west, "光明小学", "primary", code="W02")
    g = await f.school(west, "教学点", "teaching_point", code="W03")
    principal = await f.person(Role.PRINCIPAL, "王校长", school=a)
    await f.person(Role.PRINCIPAL, "赵校长", school=e, reachable=False)
    last_year = await f.round(
        form, [a], at(20) - timedelta(days=365), period="2025", status=RoundStatus.CLOSED
    )
    await f.submit(last_year, a, form, staffing_answers(authorized=20), at(1) - timedelta(days=365))
    rnd = await f.round(form, [a, b, c, d, e, g], deadline=at(20, 10), period="2026")
    await f.submit(rnd, a, form, staffing_answers(authorized=48), at(15), by=principal)
    await f.submit(
        rnd, a, form, staffing_answers(authorized=50), at(16), reason="编制数填错", by=principal
    )
    await f.submit(rnd, b, form, staffing_answers(60, 58, (2, 50, 6, 0), new_hires=3), at(18))
    await f.submit(rnd, c, form, staffing_answers(15, 14, (0, 3, 9, 1)), at(19))
    await f.submit(rnd, d, form, staffing_answers(120, 118, (10, 100, 0, 0)), at(21))
    await f.draft(rnd, e, form, {("authorized_posts", 0): 30}, at(19))
    return {"round": rnd.id, "west": west.id}


def _sheet_rows(book: openpyxl.Workbook, name: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in book[name].iter_rows(values_only=True)]


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_workbook_totals_match_the_database(
    sessionmaker: async_sessionmaker[AsyncSession], language: str
) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _round(session)
    settings = Settings()
    async with sessionmaker() as session:
        data, result = await workbook_bytes(session, ids["round"], language, settings, now=at(22))
        sums = {
            code: int(
                await session.scalar(
                    select(func.sum(Answer.value_int))
                    .join(Submission, Submission.id == Answer.submission_id)
                    .where(
                        Submission.round_id == ids["round"],
                        Submission.current_revision > 0,
                        Answer.revision == Submission.current_revision,
                        Answer.field == code,
                    )
                )
                or 0
            )
            for code in ("authorized_posts", "on_payroll", "full_time_teachers")
        }
    assert result.schools == 6 and result.submitted == 4
    assert result.filename.endswith(".xlsx") and "2026" in result.filename
    book = openpyxl.load_workbook(io.BytesIO(data))
    en = language == "en"
    names = book.sheetnames
    assert names[:3] == (["Summary", "Data", "Missing"] if en else ["汇总", "明细", "未报学校"])
    assert len(names) == 5

    summary = _sheet_rows(book, names[0])
    header = summary[3]
    # The total says how many schools its figures cover.
    total_name = "Total (4 of 6 schools reported)" if en else "合计（已上报 4/6 所）"
    total = next(r for r in summary if r[0] == total_name)
    col = {h: i for i, h in enumerate(header)}
    posts = "Authorized posts (people)" if en else "核定编制数（人）"
    payroll = "Staff on payroll (people)" if en else "在编教职工数（人）"
    assert total[col[posts]] == sums["authorized_posts"] == 50 + 60 + 15 + 120
    assert total[col[payroll]] == sums["on_payroll"]
    assert total[1:6] == (6, 3, 1, 1, 1)  # expected, on time, late, in progress, not started
    assert total[6] == pytest.approx(66.7)
    districts = [r for r in summary[4:] if r[0] in ("东城学区", "西城学区")]
    assert sum(r[col[posts]] for r in districts) == total[col[posts]]
    assert book[names[0]].freeze_panes == "B5"

    rows = table_rows(book, names[1])
    assert book[names[1]].freeze_panes == "C5"  # under the heading and the header row
    head = rows[0]
    assert len(rows) == 7  # header + one row per expected school
    by_code = {r[0]: r for r in rows[1:]}
    a = by_code["E01"]
    assert a[head.index(posts)] == 50  # the revised figure, as a number
    assert a[head.index("Revision" if en else "修订版本")] == 2
    assert a[head.index("Status" if en else "状态")] == ("On time" if en else "按时")
    assert a[6] is not None and a[6].year == 2026  # a real date-time cell
    assert by_code["E02"][head.index("Subjects short of teachers" if en else "紧缺学科")] == (
        "English, Physical education" if en else "英语、体育"
    )
    assert by_code["W02"][head.index(posts)] is None  # a draft is not reported

    missing = table_rows(book, names[2])
    assert [(r[0], r[5]) for r in missing[1:]] == [("W02", "赵校长"), ("W03", None)]
    assert missing[1][6] == ("no (blocked the bot)" if en else "否（已屏蔽机器人）")

    revisions = table_rows(book, names[3])
    a_revs = [r for r in revisions[1:] if r[0] == "E01"]
    assert [r[3] for r in a_revs] == [1, 2]
    assert a_revs[1][6] == "王校长" and a_revs[1][7] == "编制数填错"
    assert a_revs[1][9] == ("Authorized posts" if en else "核定编制数")

    flagged = table_rows(book, names[4])
    assert [(r[0], r[4], r[5]) for r in flagged[1:]] == [("E01", 20, 50)]


async def test_district_workbook_holds_only_that_district(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _round(session)
    async with sessionmaker() as session:
        data, result = await workbook_bytes(
            session, ids["round"], "zh_CN", Settings(), district_id=ids["west"], now=at(22)
        )
    book = openpyxl.load_workbook(io.BytesIO(data))
    codes = [r[0] for r in table_rows(book, "明细")[1:]]
    assert set(codes) == {"W01", "W02", "W03"}  # the order: tests/status/test_export_order.py
    assert "西城学区" in result.filename
    summary = _sheet_rows(book, "汇总")
    assert not any(r[0] == "东城学区" for r in summary)


async def test_dhis2_csv(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _round(session)
    out = io.StringIO()
    async with sessionmaker() as session:
        n = await write_dhis2_csv(session, ids["round"], out, Settings())
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:6] == [
        "dataelement",
        "period",
        "orgunit",
        "categoryoptioncombo",
        "attributeoptioncombo",
        "value",
    ]
    assert len(rows) - 1 == n
    values = {(r[0], r[2]): r for r in rows[1:]}
    assert values[("authorized_posts", "E01")][1] == "2026"
    assert values[("authorized_posts", "E01")][5] == "50"
    assert values[("shortage_subjects", "E02")][5] == "english,pe"
    assert values[("new_hires_open_exam", "E02")][5] == "3"
    assert ("new_hires_open_exam", "E01") not in values  # hidden: no hires
    assert not any(r[2] == "W02" for r in rows[1:])  # drafts are not exported
    assert values[("authorized_posts", "E01")][7].startswith("2026-11-16T12:00:00")


@pytest.mark.parametrize(
    ("label", "period"),
    [
        ("2026-W48", "2026W48"),
        ("2026W05", "2026W5"),
        ("2026-11", "202611"),
        ("2026-3", "202603"),
        ("2026", "2026"),
        ("2026Q4", "2026Q4"),
        ("2026 autumn term", "2026S2"),
        ("2026秋季学期", "2026S2"),
        ("2026-2027学年上学期", "2026S2"),
        ("2026-2027学年下学期", "2027S1"),
        ("2027 spring term", "2027S1"),
    ],
)
def test_dhis2_periods(label: str, period: str) -> None:
    assert dhis2_period(label) == period


def test_dhis2_period_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="DHIS2"):
        dhis2_period("next week")
    with pytest.raises(ValueError):
        dhis2_period("2026-13")
