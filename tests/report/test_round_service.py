"""The round service: opening rounds, expected schools, answers, submitting, locking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.forms import Answers
from models.roster.tables import AuditLog
from models.rounds import WORKING, Answer, FormVersion, SubmissionStatus
from models.rounds.answers import load_answers, previous_answers, save_answer, save_answers
from models.rounds.errors import RoundError, SubmitRefused
from models.rounds.lifecycle import (
    close_round,
    expected_school_ids,
    extend_round,
    get_round_school,
    open_round,
    unlock_school,
)
from models.rounds.locks import is_locked, lock_time
from models.rounds.revisions import begin_revision, check_submission, revisions_of, submit
from models.rounds.submissions import (
    ReportStatus,
    get_or_create_submission,
    pending_for_person,
    school_context,
    submission_statuses,
)
from models.rounds.versions import round_form
from tests.report.roster import Roster, make_roster, real_forms, staffing

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
DEADLINE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

GOOD: Answers = {
    ("authorized_posts", 0): 60,
    ("on_payroll", 0): 57,
    ("full_time_teachers", 0): 52,
    ("degree_postgraduate", 0): 2,
    ("degree_bachelor", 0): 30,
    ("degree_college", 0): 18,
    ("degree_below_college", 0): 2,
    ("degree_below_secondary", 0): 0,  # asked from staffing version 3 on
    ("new_hires_total", 0): 3,
    ("new_hires_open_exam", 0): 2,
    ("new_hires_special_post", 0): 1,
    ("new_hires_free_normal", 0): 0,
    ("key_teachers", 0): 8,
    ("subject_leaders", 0): 3,
    ("famous_teachers", 0): 1,
    ("substitute_teachers", 0): 4,
    ("rural_exchange", 0): 2,
    ("shortage_subjects", 0): ["english", "pe"],
}


async def setup(session: AsyncSession) -> Roster:
    return await make_roster(session)


async def test_open_round_fixes_expected_schools_by_audience(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        everyone = await open_round(
            session, form=staffing(), period="2026", deadline=DEADLINE, now=NOW
        )
        west = await open_round(
            session,
            form=real_forms().get("training"),
            period="2026 秋季学期",
            deadline=DEADLINE,
            districts=["河西学区"],
            stages=["senior"],
            now=NOW,
        )
        all_ids = await expected_school_ids(session, everyone.id)
        west_ids = await expected_school_ids(session, west.id)
    assert len(all_ids) == 4
    assert west_ids == [roster.schools["S004"].id]
    assert json.loads(west.audience) == {"districts": ["河西学区"], "stages": ["senior"]}


async def test_open_round_refuses_bad_requests(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        await setup(session)
        form = staffing()
        with pytest.raises(RoundError, match="already passed"):
            await open_round(session, form=form, period="2026", deadline=NOW, now=NOW)
        with pytest.raises(RoundError, match="unknown district"):
            await open_round(
                session, form=form, period="2026", deadline=DEADLINE, districts=["东山"], now=NOW
            )
        with pytest.raises(RoundError, match="unknown stage"):
            await open_round(
                session, form=form, period="2026", deadline=DEADLINE, stages=["college"], now=NOW
            )
        with pytest.raises(RoundError, match="no active school"):
            await open_round(
                session,
                form=form,
                period="2026",
                deadline=DEADLINE,
                districts=["城关学区"],
                stages=["senior"],
                now=NOW,
            )
        await open_round(session, form=form, period="2026", deadline=DEADLINE, now=NOW)
        with pytest.raises(RoundError, match="already collects"):
            await open_round(session, form=form, period="2026", deadline=DEADLINE, now=NOW)


async def test_form_version_is_kept_and_a_changed_file_needs_a_new_version(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = staffing()
    async with sessionmaker() as session, session.begin():
        await setup(session)
        await open_round(session, form=form, period="2025", deadline=DEADLINE, now=NOW)
        stored = (await session.execute(select(FormVersion))).scalar_one()
        assert "degree_split_adds_up" in stored.source
        changed = stored.source.replace("max = 5000", "max = 6000")
        with pytest.raises(RoundError, match="new version"):
            await open_round(
                session, form=form, period="2026", deadline=DEADLINE, now=NOW, source=changed
            )


async def test_answers_are_typed_and_submitted_as_immutable_revisions(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = staffing()
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        school = roster.schools["S001"]
        principal = roster.people["principal:S001"]
        round_ = await open_round(session, form=form, period="2026", deadline=DEADLINE, now=NOW)
        sub = await get_or_create_submission(session, round_, school.id, now=NOW)
        await save_answers(session, sub.id, form, GOOD, by=principal.id, now=NOW)
        assert await load_answers(session, sub.id, WORKING, form) == GOOD
        rsch = await get_round_school(session, round_.id, school.id)
        ctx = school_context(school)
        rev = await submit(session, sub, round_, rsch, form, ctx, by=principal.id, now=NOW)
        assert (rev.number, rev.on_time) == (1, True)
        assert rev.reference.startswith("HB-") and len(rev.reference) == 12
        # SQL can add the figures up: typed columns, one per value.
        total = (
            await session.execute(
                select(Answer.value_int).where(
                    Answer.field == "full_time_teachers", Answer.revision == 1
                )
            )
        ).scalar_one()
        assert total == 52
        # Editing the draft afterwards does not change revision 1.
        await save_answer(
            session, sub.id, form, ("key_teachers", 0), 9, by=principal.id, now=NOW
        )
        assert (await load_answers(session, sub.id, 1, form))[("key_teachers", 0)] == 8
        # A revision needs a reason.
        later = NOW + timedelta(days=1)
        await begin_revision(
            session, sub, round_, rsch, reason="骨干教师少报一人", by=principal.id, now=later
        )
        assert sub.status == SubmissionStatus.REVISING.value
        with pytest.raises(SubmitRefused) as refused:
            await submit(session, sub, round_, rsch, form, ctx, by=principal.id, now=later)
        assert refused.value.reason_needed
        rev2 = await submit(
            session,
            sub,
            round_,
            rsch,
            form,
            ctx,
            by=principal.id,
            now=later,
            reason="骨干教师少报一人",
        )
        assert (rev2.number, rev2.reason) == (2, "骨干教师少报一人")
        assert (await load_answers(session, sub.id, 2, form))[("key_teachers", 0)] == 9
        assert [r.number for r in await revisions_of(session, sub.id)] == [1, 2]


async def test_submit_refuses_missing_errors_and_unconfirmed_warnings(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = staffing()
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        school = roster.schools["S001"]
        round_ = await open_round(session, form=form, period="2026", deadline=DEADLINE, now=NOW)
        sub = await get_or_create_submission(session, round_, school.id, now=NOW)
        ctx = school_context(school)
        bad = dict(GOOD)
        bad[("degree_bachelor", 0)] = 31  # the split no longer adds up
        bad[("substitute_teachers", 0)] = 20  # over 20 % of teachers: a warning
        del bad[("rural_exchange", 0)]
        await save_answers(session, sub.id, form, bad, by=None, now=NOW)
        with pytest.raises(SubmitRefused) as refused:
            await submit(session, sub, round_, None, form, ctx, by=None, now=NOW)
        assert refused.value.missing == (("rural_exchange", 0),)
        assert [r.rule for r in refused.value.errors] == ["degree_split_adds_up"]
        assert [r.rule for r in refused.value.unconfirmed] == ["substitute_share"]
        await save_answers(
            session,
            sub.id,
            form,
            {("degree_bachelor", 0): 30, ("rural_exchange", 0): 0},
            by=None,
            now=NOW,
        )
        warning = [{"rule": "substitute_share", "comment": "两名教师产假", "message": "..."}]
        rev = await submit(
            session, sub, round_, None, form, ctx, by=None, now=NOW, confirmed_warnings=warning
        )
        assert json.loads(rev.confirmed_warnings)[0]["comment"] == "两名教师产假"


async def test_lock_grace_unlock_and_status(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = staffing()
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        staff = roster.people["staff"]
        round_ = await open_round(
            session, form=form, period="2026", deadline=DEADLINE, grace_minutes=60, now=NOW
        )
        a, b, c = (roster.schools[k] for k in ("S001", "S002", "S003"))
        rs_a = await get_round_school(session, round_.id, a.id)
        assert lock_time(round_) == DEADLINE + timedelta(minutes=60)
        assert not is_locked(round_, rs_a, DEADLINE + timedelta(minutes=59))
        after = DEADLINE + timedelta(minutes=61)
        assert is_locked(round_, rs_a, after)

        # On time within the grace; late only through an unlock; never started is
        # not started.
        sub_a = await get_or_create_submission(session, round_, a.id, now=NOW)
        await save_answers(session, sub_a.id, form, GOOD, by=None, now=NOW)
        await submit(
            session,
            sub_a,
            round_,
            rs_a,
            form,
            school_context(a),
            by=None,
            now=DEADLINE + timedelta(minutes=30),
        )
        sub_b = await get_or_create_submission(session, round_, b.id, now=NOW)
        rs_b = await get_round_school(session, round_.id, b.id)
        answers_b = dict(GOOD)
        answers_b[("degree_college", 0)] = 0
        answers_b[("degree_bachelor", 0)] = 48
        await save_answers(session, sub_b.id, form, answers_b, by=None, now=NOW)
        with pytest.raises(SubmitRefused) as refused:
            await submit(
                session, sub_b, round_, rs_b, form, school_context(b), by=None, now=after
            )
        assert refused.value.locked
        await unlock_school(session, round_, b.id, by=staff.id, now=after, hours=24)
        assert not is_locked(round_, rs_b, after)
        rev = await submit(
            session, sub_b, round_, rs_b, form, school_context(b), by=None, now=after
        )
        assert not rev.on_time
        # The unlock was for one submission.
        assert is_locked(round_, rs_b, after)
        statuses = await submission_statuses(session, round_, after)
        assert statuses[a.id] is ReportStatus.ON_TIME
        assert statuses[b.id] is ReportStatus.LATE
        assert statuses[c.id] is ReportStatus.NOT_STARTED
        audit = (await session.execute(select(AuditLog.action))).scalars().all()
        assert "round.unlock" in audit


async def test_close_extend_and_pending_reports(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = staffing()
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        principal = roster.people["principal:S002"]
        round_ = await open_round(session, form=form, period="2026", deadline=DEADLINE, now=NOW)
        training = await open_round(
            session,
            form=real_forms().get("training"),
            period="2026 秋季学期",
            deadline=DEADLINE + timedelta(days=3),
            now=NOW,
        )
        pending = await pending_for_person(session, principal, NOW)
        assert [r.round.id for r in pending] == [round_.id, training.id]
        await close_round(session, round_, now=NOW)
        pending = await pending_for_person(session, principal, NOW)
        assert [r.round.id for r in pending] == [training.id]
        with pytest.raises(RoundError):
            await close_round(session, round_, now=NOW)
        await extend_round(session, round_, DEADLINE + timedelta(days=7), now=NOW)
        assert round_.status == "open"
        assert not is_locked(round_, None, DEADLINE + timedelta(days=1))
        assert await pending_for_person(session, roster.people["staff"], NOW) == []


async def test_previous_answers_come_from_the_latest_earlier_submission(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = staffing()
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        school = roster.schools["S001"]
        last_year = await open_round(
            session, form=form, period="2025", deadline=DEADLINE, now=NOW
        )
        sub = await get_or_create_submission(session, last_year, school.id, now=NOW)
        await save_answers(session, sub.id, form, GOOD, by=None, now=NOW)
        await submit(
            session, sub, last_year, None, form, school_context(school), by=None, now=NOW
        )
        this_year = await open_round(
            session, form=form, period="2026", deadline=DEADLINE, now=NOW + timedelta(hours=1)
        )
        prev = await previous_answers(session, school.id, form, this_year)
        assert prev[("full_time_teachers", 0)] == 52
        assert prev[("shortage_subjects", 0)] == ["english", "pe"]
        other = roster.schools["S002"]
        assert await previous_answers(session, other.id, form, this_year) == {}


async def test_decimal_and_date_answers_round_trip(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = real_forms().get("training")
    decimal_field = next(f for f in form.fields if f.type == "decimal")
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        round_ = await open_round(
            session, form=form, period="2026 秋季学期", deadline=DEADLINE, now=NOW
        )
        sub = await get_or_create_submission(session, round_, roster.schools["S001"].id, now=NOW)
        key = (decimal_field.code, 0)
        await save_answer(session, sub.id, form, key, Decimal("12.5"), by=None, now=NOW)
        loaded = await load_answers(session, sub.id, WORKING, form)
        assert loaded[key] == Decimal("12.5")


async def test_a_round_of_staffing_version_1_keeps_it_when_version_2_arrives(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """forms/ holds staffing v1 (staffing.toml) and v2 (staffing_v2.toml, one more
    warning). A round already opened on v1 and its submissions keep v1; new rounds ask v2."""
    v1, v2 = real_forms().get("staffing", 1), real_forms().get("staffing", 2)
    assert (v1.version, v2.version) == (1, 2)
    older = {k: v for k, v in GOOD.items() if v1.has_field(k[0])}  # no v3-only field
    more_teachers = older | {("on_payroll", 0): 50}  # 52 full-time teachers
    async with sessionmaker() as session, session.begin():
        roster = await setup(session)
        school = roster.schools["S001"]
        old = await open_round(session, form=v1, period="2025", deadline=DEADLINE, now=NOW)
        new = await open_round(session, form=v2, period="2026", deadline=DEADLINE, now=NOW)
        assert (old.form_version, new.form_version) == (1, 2)
        context = school_context(school)
        place = await get_round_school(session, old.id, school.id)
        sub = await get_or_create_submission(session, old, school.id, now=NOW)
        await save_answers(session, sub.id, v1, more_teachers, by=None, now=NOW)
        # The old round's form is read back as stored: version 1, without the new rule.
        stored = await round_form(session, old)
        assert stored.version == 1
        assert "teachers_within_payroll" not in {r.code for r in stored.rules}
        revision = await submit(session, sub, old, place, stored, context, by=None, now=NOW)
        assert revision.number == 1
        # The same figures in the new round meet the new warning.
        later = await round_form(session, new)
        _missing, _errors, warnings = check_submission(later, more_teachers, context)
        assert [w.rule for w in warnings] == ["teachers_within_payroll"]
        versions = (await session.execute(select(FormVersion.version))).scalars().all()
        assert sorted(versions) == [1, 2]
