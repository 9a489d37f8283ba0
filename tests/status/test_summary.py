"""The deadline summary's content: text, charts and workbook, in each language."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.followup.completeness import RoundNotFound
from outputs.summary import build_summary
from tests.status.factories import at
from tests.status.test_export import _round


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_summary_content(
    sessionmaker: async_sessionmaker[AsyncSession], language: str
) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _round(session)
    async with sessionmaker() as session:
        summary = await build_summary(session, ids["round"], language, now=at(22))
    text = summary.text_html
    en = language == "en"
    assert ("Reporting rate 66.7%" if en else "上报率 66.7%") in text
    assert "东城学区" in text and "西城学区" in text
    assert ("Authorized posts" if en else "核定编制数") in text
    assert "245" in text  # 50 + 60 + 15 + 120 authorized posts
    # The degree standard rate by stage, against the targets of DOMAIN.md.
    assert ("target 98%" if en else "目标 98%") in text
    assert ("实验小学" in text) and "20 → 50" in text  # the flagged figure
    assert len(text) < 4096
    assert len(summary.chart_pngs) == 2
    assert all(png.startswith(b"\x89PNG") for png in summary.chart_pngs)
    book = openpyxl.load_workbook(io.BytesIO(summary.workbook))
    assert len(book.sheetnames) == 5
    assert summary.filename.endswith(".xlsx")


async def test_district_summary(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _round(session)
    async with sessionmaker() as session:
        summary = await build_summary(
            session, ids["round"], "zh_CN", district_id=ids["west"], now=at(22)
        )
    assert "西城学区" in summary.text_html
    assert "东城学区" not in summary.text_html
    assert "实验小学" not in summary.text_html  # an east school's flag stays east


async def test_unknown_round(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        with pytest.raises(RoundNotFound):
            await build_summary(session, 999, "en", settings=Settings())
