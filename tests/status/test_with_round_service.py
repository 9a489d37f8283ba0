"""Completeness, key totals and the workbook over rows written by the round service
itself (open_round, save_answers, submit), not by the test factory."""

from __future__ import annotations

import io

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.followup.completeness import Counts, round_completeness
from models.followup.keytotals import python_key_totals, round_form, sql_key_totals
from models.rounds import Round, RoundSchool
from models.rounds.answers import save_answers
from models.rounds.lifecycle import open_round
from models.rounds.revisions import submit
from models.rounds.submissions import get_or_create_submission, school_context
from outputs.workbook import workbook_bytes
from tests.sheets import table_rows
from tests.status.factories import Factory, at, real_form, staffing_answers


async def test_rows_from_the_round_service(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_form("staffing")
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        east = await f.district("东城学区")
        schools = [await f.school(east, code=f"E{i}") for i in range(4)]
        rnd = await open_round(
            session, form=form, period="2026", deadline=at(20, 10), lock_at=at(25), now=at(1)
        )
        figures = [staffing_answers(48), staffing_answers(60, 58, (2, 50, 6, 0), new_hires=2)]
        for school, answers, when in zip(schools[:2], figures, (at(15), at(21)), strict=True):
            sub = await get_or_create_submission(session, rnd, school.id, now=when)
            await save_answers(session, sub.id, form, answers, by=None, now=when)
            rs_row = await session.get(RoundSchool, (rnd.id, school.id))
            await submit(
                session, sub, rnd, rs_row, form, school_context(school), by=None, now=when
            )
        draft = await get_or_create_submission(session, rnd, schools[2].id, now=at(16))
        await save_answers(
            session, draft.id, form, {("authorized_posts", 0): 9}, by=None, now=at(16)
        )
        round_id = rnd.id
    async with sessionmaker() as session:
        c = await round_completeness(session, round_id, now=at(22))
        assert c.total == Counts(expected=4, on_time=1, late=1, in_progress=1, not_started=1)
        stored = await round_form(session, await session.get_one(Round, round_id))
        sql = await sql_key_totals(session, stored, round_id)
        ref = await python_key_totals(session, stored, round_id)
        assert sql.overall == ref.overall
        assert sql.overall["authorized_posts"].value == 48 + 60
        assert sql.overall["new_hires_total"].value == 2
        data, _result = await workbook_bytes(session, round_id, "en", Settings(), now=at(22))
    rows = table_rows(openpyxl.load_workbook(io.BytesIO(data)), "Data")
    col = rows[0].index("Authorized posts (people)")
    assert sum(r[col] or 0 for r in rows[1:]) == 108
