"""A round's tallies (models/rounds/tallies.py) say what adding up the answers says,
after each thing that changes a round: a submission on time and late, a revision, a
revision discarded, an unlocked school submitting after the lock, a deadline moved, a
school moved to another district; and a round from before the tallies gets them at its
next submission. Readers fall back to the answers when the tallies cannot say."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.followup import tallied
from models.followup.completeness import Counts, aggregated_counts, round_completeness
from models.followup.keytotals import key_totals, python_key_totals, round_form, sql_key_totals
from models.forms import Answers, FormDef
from models.roster.tables import District, School
from models.rounds import Round, RoundSchool
from models.rounds.answers import save_answers
from models.rounds.lifecycle import extend_round, open_round, unlock_school
from models.rounds.revisions import begin_revision, discard_revision, submit
from models.rounds.submissions import get_or_create_submission, school_context
from models.rounds.tallies import RoundTallyState, forget_moved
from tests.status.factories import Factory, at, real_form, staffing_answers


async def assert_tallies_hold(session: AsyncSession, round_id: int, now: datetime) -> Counts:
    """The tallies are read, and equal the figures added up from the answers: in total,
    per district and for one district alone. Returns the round's counts."""
    rnd = await session.get_one(Round, round_id)
    form = await round_form(session, rnd)
    districts = [None, *(await session.execute(select(District.id))).scalars()]
    for district in districts:
        kept = await tallied.counts_by_district(session, rnd, district, now)
        assert kept is not None, "the tallies should hold"
        assert kept == await aggregated_counts(session, rnd, district, now)
        totals = await tallied.key_totals(session, form, round_id, district)
        assert totals is not None
        ref = await sql_key_totals(session, form, round_id, district)
        assert totals.overall == ref.overall
        assert totals.by_district == ref.by_district
        by_engine = await python_key_totals(session, form, round_id, district)
        assert {k: v.value for k, v in totals.overall.items()} == {
            k: v.value for k, v in by_engine.overall.items()
        }
    return (await round_completeness(session, round_id, now=now)).total


async def _submit(
    session: AsyncSession, rnd: Round, form: FormDef, school: School, answers: Answers,
    when: datetime, reason: str = "",
) -> None:
    sub = await get_or_create_submission(session, rnd, school.id, now=when)
    rs = await session.get(RoundSchool, (rnd.id, school.id))
    if sub.current_revision:
        await begin_revision(session, sub, rnd, rs, reason=reason, by=None, now=when)
    await save_answers(session, sub.id, form, answers, by=None, now=when)
    await submit(
        session, sub, rnd, rs, form, school_context(school), by=None, now=when, reason=reason
    )


async def test_tallies_follow_each_change_of_a_round(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_form("staffing")
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        east, west = await f.district("东城学区"), await f.district("西城学区")
        schools = [await f.school(east, code=f"E{i}") for i in range(3)]
        schools += [await f.school(west, code=f"W{i}") for i in range(2)]
        rnd = await open_round(
            session, form=form, period="2026", deadline=at(20, 10), lock_at=at(25), now=at(1)
        )
        await _submit(session, rnd, form, schools[0], staffing_answers(48), at(15))
        big = staffing_answers(60, 58, (2, 50, 6, 0), new_hires=2)
        await _submit(session, rnd, form, schools[3], big, at(21))
        draft = await get_or_create_submission(session, rnd, schools[1].id, now=at(16))
        await save_answers(session, draft.id, form, {("authorized_posts", 0): 9}, by=None,
                           now=at(16))
        counts = await assert_tallies_hold(session, rnd.id, at(22))
        assert counts == Counts(expected=5, on_time=1, late=1, in_progress=1, not_started=2)
        totals = await key_totals(session, form, rnd.id)
        assert totals.overall["authorized_posts"].value == 48 + 60

        # A revision replaces the school's figures; it stays on time.
        await _submit(session, rnd, form, schools[0], staffing_answers(70), at(22, 13), "更正")
        await assert_tallies_hold(session, rnd.id, at(23))
        totals = await key_totals(session, form, rnd.id)
        assert totals.overall["authorized_posts"].value == 70 + 60

        # A revision begun, answered and discarded changes nothing.
        sub = await get_or_create_submission(session, rnd, schools[3].id, now=at(23))
        rs = await session.get(RoundSchool, (rnd.id, schools[3].id))
        await begin_revision(session, sub, rnd, rs, reason="笔误", by=None, now=at(23))
        await save_answers(session, sub.id, form, {("authorized_posts", 0): 99}, by=None,
                           now=at(23))
        await discard_revision(session, sub, by=None, now=at(23, 14))
        await assert_tallies_hold(session, rnd.id, at(24))
        assert (await key_totals(session, form, rnd.id)).overall[
            "authorized_posts"
        ].value == 130

        # Past the lock, an unlocked school submits (late).
        await unlock_school(session, rnd, schools[1].id, by=None, now=at(26))
        await _submit(session, rnd, form, schools[1], staffing_answers(30, 30), at(26, 13))
        counts = await assert_tallies_hold(session, rnd.id, at(27))
        assert counts == Counts(expected=5, on_time=1, late=2, in_progress=0, not_started=2)

        # The deadline moves past every submission: all of them are on time now.
        await extend_round(session, rnd, at(28, 10), lock_at=None, by=None, now=at(27))
        counts = await assert_tallies_hold(session, rnd.id, at(27, 13))
        assert counts == Counts(expected=5, on_time=3, late=0, in_progress=0, not_started=2)


async def test_a_count_as_at_an_earlier_time_adds_up_the_answers(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_form("staffing")
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        east = await f.district("东城学区")
        schools = [await f.school(east, code=f"E{i}") for i in range(2)]
        rnd = await open_round(
            session, form=form, period="2026", deadline=at(20, 10), lock_at=at(25), now=at(1)
        )
        await _submit(session, rnd, form, schools[0], staffing_answers(48), at(15))
        assert await tallied.counts_by_district(session, rnd, None, at(14)) is None
        before = await round_completeness(session, rnd.id, now=at(14))
        # At the 14th the school had not submitted: its answers were a draft then.
        assert before.total == Counts(expected=2, on_time=0, late=0, in_progress=1,
                                      not_started=1)


async def test_a_round_from_before_the_tallies_gets_them_at_its_next_submission(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_form("staffing")
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        east, west = await f.district("东城学区"), await f.district("西城学区")
        schools = [await f.school(d, code=f"S{i}") for i, d in enumerate((east, west) * 3)]
        # Rows as migration 0019 finds them: written with no tallies kept.
        rnd = await f.round(form, schools, deadline=at(23, 10))
        for school, teachers in zip(schools[:4], (40, 50, 60, 70), strict=True):
            await f.submit(rnd, school, form, staffing_answers(teachers), at(18))
        assert await session.get(RoundTallyState, rnd.id) is None
        assert await tallied.key_totals(session, form, rnd.id, None) is None
        assert (await key_totals(session, form, rnd.id)).overall[
            "authorized_posts"
        ].value == 220
        await _submit(session, rnd, form, schools[4], staffing_answers(80), at(21))
        counts = await assert_tallies_hold(session, rnd.id, at(22))
        assert counts == Counts(expected=6, on_time=5, late=0, in_progress=0, not_started=1)
        assert (await key_totals(session, form, rnd.id)).overall[
            "authorized_posts"
        ].value == 300

        # A school moves district (a roster import): the tallies are dropped, the
        # figures are added up from the answers, and the next submission rebuilds them.
        moved = schools[0]
        await forget_moved(session, {moved.id: east.id}, [{"id": moved.id,
                                                            "district_id": west.id}])
        moved.district_id = west.id
        await session.flush()
        assert await tallied.key_totals(session, form, rnd.id, None) is None
        c = await round_completeness(session, rnd.id, now=at(22))
        assert [d.counts.expected for d in c.districts] == [2, 4]
        await _submit(session, rnd, form, schools[5], staffing_answers(90), at(22))
        await assert_tallies_hold(session, rnd.id, at(23))
