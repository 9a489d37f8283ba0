"""The workbook is written a batch of districts at a time (models/followup/batches.py):
whatever the batch size, every sheet holds the same rows in the same order, districts
whose names sort alike (第2学区, 第02学区) stay in one batch, and an export limited to
one district reads that district only."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.followup import batches
from models.followup.batches import district_batches
from outputs.workbook import workbook_bytes
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers

# Districts in an order that is neither their ids' nor their names' as text.
DISTRICTS = ["第10学区", "第2学区", "第02学区", "第1学区"]
SHEETS = ["明细", "未报学校", "修订记录"]


async def _world(session: AsyncSession) -> tuple[int, dict[str, int]]:
    f = Factory(session)
    form = real_form("staffing")
    ids: dict[str, int] = {}
    schools = []
    for n, name in enumerate(DISTRICTS):
        district = await f.district(name)
        ids[name] = district.id
        # Names that interleave across 第2学区 and 第02学区 when sorted together.
        for k in (3, 1, 2):
            schools.append(await f.school(district, f"第{k}{n}小学", code=f"C{n}{k}"))
    rnd = await f.round(form, schools, deadline=at(30, 10), period="2026")
    for i, school in enumerate(schools):
        if i % 3:
            await f.submit(rnd, school, form, staffing_answers(), at(15))
        if i % 4 == 1:
            await f.submit(rnd, school, form, staffing_answers(), at(16), reason="更正")
    return rnd.id, ids


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, dict[str, int]]:
    async with sessionmaker() as session, session.begin():
        return await _world(session)


async def _sheets(
    sessionmaker: async_sessionmaker[AsyncSession], round_id: int, district_id: int | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    async with sessionmaker() as session:
        data, result = await workbook_bytes(
            session, round_id, "zh_CN", Settings(), district_id=district_id, now=at(17)
        )
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert result.schools == len(table_rows(book, "明细")) - 1
    return {name: table_rows(book, name) for name in SHEETS}


async def test_batches_keep_districts_that_sort_alike_together(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[int, dict[str, int]]
) -> None:
    _round_id, ids = world
    async with sessionmaker() as session:
        runs = await district_batches(session, None, size=1)
        one = await district_batches(session, ids["第10学区"])
    assert runs == [[ids["第1学区"]], sorted([ids["第2学区"], ids["第02学区"]]), [ids["第10学区"]]]
    assert one == [[ids["第10学区"]]]


async def test_the_same_workbook_whatever_the_batch_size(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: tuple[int, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    round_id, ids = world
    whole = await _sheets(sessionmaker, round_id)
    monkeypatch.setattr(batches, "BATCH_SCHOOLS", 1)
    assert await _sheets(sessionmaker, round_id) == whole
    data = whole["明细"][1:]
    assert [r[2] for r in data] == ["第1学区"] * 3 + ["第2学区", "第02学区"] * 3 + ["第10学区"] * 3
    assert len(whole["修订记录"]) > 1 and len(whole["未报学校"]) > 1
    district = await _sheets(sessionmaker, round_id, ids["第2学区"])
    assert {r[2] for name in SHEETS for r in district[name][1:]} == {"第2学区"}
