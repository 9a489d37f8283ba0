"""Done when #4: a new form added as a TOML file alone works end to end.

The form lives only in tests/report/fixtures and reaches the bot through the
forms.directory setting: no line of code knows its fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from models.rounds import Answer, Revision
from tests.report.conftest import County
from tests.report.roster import FIXTURE_FORMS


@pytest.fixture
def forms_dir() -> Path:
    return FIXTURE_FORMS


async def test_a_form_that_exists_only_as_a_file(county: County) -> None:
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), "发起新一轮填报")
    await staff.press(await staff.wait_for("请选择报表"), "职称评审申报情况")
    await staff.wait_for("哪个时期")
    await staff.send("2026年度")
    await staff.wait_for("截止时间是")
    await staff.send("2026-13-40")
    await staff.wait_for("无法识别这个时间")
    await staff.send("2026-12-20 17:00")
    await staff.press(await staff.wait_for("哪些学校需要填报"), "城关学区")
    ticked = await staff.wait_for(lambda m: "✅ 城关学区" in str(m.buttons()))
    await staff.press(ticked, "下一步")
    confirm = await staff.wait_for("确认发起本轮填报")
    assert "12月20日（周日）17:00（北京时间）" in (confirm.plain or "")
    await staff.press(confirm, "发起填报")
    await staff.wait_for("已送达")

    # The school's deputy reads English.
    deputy = county.user("deputy:S001")
    note = await deputy.wait_for("asks for a report", after=0)
    assert "Professional title applications" in (note.plain or "")
    await deputy.press(note, "Start the report")
    await deputy.wait_for("Applicants")
    await deputy.send("3")
    await deputy.wait_for("Date the papers were sent")
    await deputy.send("2026/13/01")
    await deputy.wait_for("not a date I can read")
    await deputy.send("2025-12-01")
    await deputy.wait_for("outside the allowed dates")
    await deputy.send("2026年11月20日")
    choice = await deputy.wait_for("How the school reviewed them")
    await deputy.press(choice, "District review")
    await deputy.wait_for("average years of teaching")
    await deputy.send("12.34")
    await deputy.wait_for("takes at most 1 decimal place.")
    await deputy.send("12.5 years")
    remarks = await deputy.wait_for("Remarks")
    assert "(optional)" in (remarks.plain or "")
    await deputy.press(remarks, "Skip")
    # The group comes last (it names no field to follow).
    # Before the first item the bot asks whether there is one, never "another".
    add = await deputy.wait_for("Is there any senior title applicant to report?")
    assert "another" not in (add.plain or "")
    assert [b[0] for b in add.buttons()[0]] == ["Yes, fill one in", "None to report"]
    await deputy.press(add, "Yes, fill one in")
    first = await deputy.wait_for("Senior title applicant 1 · question 1 of 2")
    assert "\nName\n" in (first.plain or "")
    await deputy.send("张敏")
    await deputy.wait_for("Subjects taught")
    await deputy.send("1,4")
    await deputy.wait_for("not one of the options of “Senior title applicant 1 · Subjects taught”")
    await deputy.send("1,2")
    await deputy.wait_for("another applicant for a senior title")
    await deputy.send("no")
    review = await deputy.wait_for("please check your answers")
    text = review.plain or ""
    assert "Share applying for a senior title: 33.3%" in text
    assert "Subjects taught: Chinese, Mathematics" in text
    assert "2026-11-20" in text and "12.5 years" in text
    await deputy.press(review, "Submit")
    receipt = await deputy.wait_for("Reference number")
    assert "Revision 1" in (receipt.plain or "")

    async with county.sessionmaker() as session:
        rows = {
            (a.field, a.item): a
            for a in (await session.execute(select(Answer).where(Answer.revision == 1))).scalars()
        }
        revision = (await session.execute(select(Revision))).scalar_one()
    assert revision.submitted_by == county.roster.people["deputy:S001"].id
    assert rows[("applicants", 0)].value_int == 3
    assert rows[("materials_sent", 0)].value_date == date(2026, 11, 20)
    assert rows[("average_years", 0)].value_dec == Decimal("12.5")
    assert rows[("review_mode", 0)].value_text == "district"
    assert rows[("teacher_name", 0)].value_text == "张敏"
    assert rows[("subjects", 0)].value_text == '["chinese", "maths"]'
    assert ("remarks", 0) not in rows
