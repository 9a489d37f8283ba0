"""Staffing version 3 in the deadline summary and its workbook: the legal 学历达标率 and
the 高一层次学历比例 each by stage against their own targets, and 空编/超编 apart."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.followup.keytotals import python_key_totals, sql_key_totals
from models.forms import load_form
from outputs.summary import build_summary
from tests.status.factories import FORMS, Factory, at, staffing_answers


async def _round(session: AsyncSession) -> int:
    f = Factory(session)
    form = load_form(FORMS / "staffing_v3.toml")
    east = await f.district("东城学区")
    a = await f.school(east, "实验小学", "primary", code="E01")
    b = await f.school(east, "第一中学", "junior", code="E02")
    d = await f.school(east, "第二中学", "senior", code="E03")
    rnd = await f.round(form, [a, b, d], deadline=at(20, 10), period="2026")
    # 42 teachers, 2 below college, 1 of them without a secondary normal diploma: 41/42
    # legal (target 100 %), 40/42 college and above (target 68 %); 5 over the posts.
    primary = staffing_answers(40, 45) | {("degree_below_secondary", 0): 1}
    await f.submit(rnd, a, form, primary, at(15))
    # 58 teachers: all 专科 and above (target 95 %), 52 本科 and above (target 35 %).
    await f.submit(rnd, b, form, staffing_answers(60, 58, (2, 50, 6, 0)), at(18))
    # 110 teachers: all 本科 and above (target 75 %), 10 postgraduate (target 10 %).
    await f.submit(rnd, d, form, staffing_answers(120, 118, (10, 100, 0, 0)), at(19))
    return rnd.id


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_the_summary_keeps_the_legal_and_the_higher_tier_rates_apart(
    sessionmaker: async_sessionmaker[AsyncSession], language: str
) -> None:
    async with sessionmaker() as session, session.begin():
        round_id = await _round(session)
    async with sessionmaker() as session:
        summary = await build_summary(session, round_id, language, now=at(22))
    text = summary.text_html
    if language == "en":
        assert "Vacant posts: <b>4" in text and "Staff over the authorized posts: <b>5" in text
        assert "Degree compliance rate: <b>99.5%</b>" in text  # 209 / 210
        assert "97.6% (target 100%: below)" in text
        assert "Higher-tier degree rate: <b>48.6%</b>" in text  # (40 + 52 + 10) / 210
        assert "89.7% (target 35%: met)" in text
        assert "9.1% (target 10%: below)" in text
    else:
        assert "空编数：<b>4" in text and "超编数：<b>5" in text
        assert "学历达标率：<b>99.5%</b>" in text
        assert "小学 97.6%（目标 100%：未达到）" in text
        assert "初中 100.0%（目标 95%：已达到）" in text
        assert "高一层次学历比例：<b>48.6%</b>" in text
        assert "初中 89.7%（目标 35%：已达到）" in text
        assert "高中 9.1%（目标 10%：未达到）" in text
        assert "达标）" not in text
    book = openpyxl.load_workbook(io.BytesIO(summary.workbook))
    cells = [str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row if c]
    if language == "zh_CN":
        assert any(c.startswith("高一层次学历比例（%） · 初中") for c in cells), cells
        assert any(c.startswith("学历达标率（%） · 高中") for c in cells), cells


async def test_the_database_adds_up_version_3_as_the_forms_engine_does(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """No fallback to Python for 20,000 schools: if(), stage in [...], sum() and two
    fields compared all translate to SQL, with the same results."""
    async with sessionmaker() as session, session.begin():
        round_id = await _round(session)
    form = load_form(FORMS / "staffing_v3.toml")
    async with sessionmaker() as session:
        sql = await sql_key_totals(session, form, round_id)
        ref = await python_key_totals(session, form, round_id)
    assert sql.in_sql and sql.overall == ref.overall
    assert sql.overall["over_staffed"].value == 5 and sql.overall["vacant_posts"].value == 4
