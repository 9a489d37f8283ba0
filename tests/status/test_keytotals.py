"""Key totals in SQL agree with the forms engine, and with plain SQL sums."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.followup.keytotals import key_totals, python_key_totals, round_form, sql_key_totals
from models.forms import FormDef, load_form
from models.rounds import Answer, Round, Submission
from tests.status.factories import Factory, at, random_answers, real_form

STAGES = ["primary", "junior", "senior", "kindergarten", "vocational", "nine_year"]
FIXTURES = Path(__file__).resolve().parents[1] / "forms" / "fixtures"


async def _round_with_returns(
    session: AsyncSession, form: FormDef, schools: int, seed: int
) -> tuple[int, list[int]]:
    rng = random.Random(seed)
    f = Factory(session)
    districts = [await f.district(f"学区{i}") for i in range(3)]
    school_rows = [
        await f.school(districts[i % 3], stage=STAGES[rng.randrange(len(STAGES))])
        for i in range(schools)
    ]
    rnd = await f.round(form, school_rows, deadline=at(20, 18))
    for i, s in enumerate(school_rows):
        if i % 7 == 3:
            continue  # not started
        answers = random_answers(form, rng, s.stage)
        if i % 7 == 5:
            await f.draft(rnd, s, form, answers, at(19))
            continue
        await f.submit(rnd, s, form, answers, at(18))
        if i % 5 == 0:  # a revision: the later figures are the ones that count
            await f.submit(rnd, s, form, random_answers(form, rng, s.stage), at(21), "更正")
    return rnd.id, [d.id for d in districts]


@pytest.mark.parametrize(
    "form_code", ["staffing", "training", "key_teacher_assessment", "fitness_test"]
)
async def test_sql_matches_the_forms_engine(
    sessionmaker: async_sessionmaker[AsyncSession], form_code: str
) -> None:
    form = (
        load_form(FIXTURES / "fitness_test.toml")
        if form_code == "fitness_test"
        else real_form(form_code)
    )
    async with sessionmaker() as session, session.begin():
        round_id, district_ids = await _round_with_returns(session, form, 40, seed=7)
    async with sessionmaker() as session:
        sql = await sql_key_totals(session, form, round_id)
        ref = await python_key_totals(session, form, round_id)
        assert sql.in_sql and not ref.in_sql
        assert sql.overall == ref.overall
        assert sql.by_district == ref.by_district
        one = await sql_key_totals(session, form, round_id, district_id=district_ids[1])
        ref_one = await python_key_totals(session, form, round_id, district_id=district_ids[1])
        assert one.overall == ref_one.overall
        assert set(one.by_district) == {district_ids[1]}
    # The check above must be able to fail: the results carry real figures.
    assert any(r.value not in (None, 0) for r in sql.overall.values())


async def test_staffing_totals_equal_plain_sql_sums(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_form("staffing")
    async with sessionmaker() as session, session.begin():
        round_id, _ = await _round_with_returns(session, form, 30, seed=3)
    async with sessionmaker() as session:
        rnd_form = await round_form(session, await session.get_one(Round, round_id))
        totals = await key_totals(session, rnd_form, round_id)

        async def plain_sum(code: str) -> int:
            return int(
                await session.scalar(
                    select(func.coalesce(func.sum(Answer.value_int), 0))
                    .join(Submission, Submission.id == Answer.submission_id)
                    .where(
                        Submission.round_id == round_id,
                        Answer.revision == Submission.current_revision,
                        Submission.current_revision > 0,
                        Answer.field == code,
                    )
                )
                or 0
            )

        for code in ("authorized_posts", "on_payroll", "full_time_teachers"):
            assert totals.overall[code].value == await plain_sum(code)
        submitted = await session.scalar(
            select(func.count()).where(
                Submission.round_id == round_id, Submission.current_revision > 0
            )
        )
    assert totals.overall["authorized_posts"].schools == submitted
    assert totals.in_sql
    rate = totals.overall["qualification_rate"]
    assert rate.by and set(rate.by) <= set(STAGES)
