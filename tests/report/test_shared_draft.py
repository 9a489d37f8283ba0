"""Principal and deputy share one draft (issue 9, items 3 and 14).

A typed answer applies to the question its writer was shown; if a colleague has moved
the draft on since, nothing is stored and the writer is shown where it stands now. Two
writers at the same moment never lose or misfile an answer, in chat or in the core, and
of two people submitting at once the second is told who submitted it and when.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.db import create_engine, create_sessionmaker
from models.forms import AnswerKey, Step, Value, load_forms, steps
from models.rounds import WORKING, Answer, Revision, Submission
from models.rounds.answers import load_answers
from models.rounds.errors import DraftMoved
from models.rounds.lifecycle import open_round
from models.rounds.submissions import get_or_create_submission, save_step
from tests.report.conftest import County
from tests.report.roster import FORMS, make_roster, staffing
from tests.report.test_conversation import start, working
from tests.report.test_revisions import prefilled
from texts.when import show

COLLEAGUE_ZH = "这一题同事已经回答了，您刚才的答案没有保存。"
COLLEAGUE_EN = "A colleague has already answered that question, so your answer was not saved."


async def test_an_answer_typed_at_a_question_a_colleague_answered_is_not_misfiled(
    county: County,
) -> None:
    """The audit's reproduction: both see question 2; the principal answers it; the
    deputy's figure, meant for question 2, used to land under question 3 (专任教师数)."""
    round_ = await county.open_round()
    principal = county.user("principal:S001")  # zh_CN
    deputy = county.user("deputy:S001")  # en
    await start(county, principal, round_.id, "核定编制数")
    await principal.send("60")
    await principal.wait_for("在编教职工数")
    await start(county, deputy, round_.id, "Staff on payroll")

    await principal.send("57")
    await principal.wait_for("专任教师数")
    await deputy.send("58")  # meant for "Staff on payroll", which the principal answered
    told = await deputy.wait_for(COLLEAGUE_EN)
    assert "Full-time teachers" in (told.plain or "")  # and the question that is current
    assert await working(county) == {("authorized_posts", 0): 60, ("on_payroll", 0): 57}

    # The deputy now sees question 3: their next figure is stored there.
    await deputy.send("52")
    await deputy.wait_for("postgraduate")
    # The principal still sees question 3 and is told, in Chinese, that it was answered.
    await principal.send("50")
    told_zh = await principal.wait_for(COLLEAGUE_ZH)
    assert "其中：研究生学历" in (told_zh.plain or "")
    assert await working(county) == {
        ("authorized_posts", 0): 60,
        ("on_payroll", 0): 57,
        ("full_time_teachers", 0): 52,
    }
    # And goes on from there.
    await principal.send("1")
    await principal.wait_for("其中：本科学历")
    assert (await working(county))[("degree_postgraduate", 0)] == 1


async def test_two_people_typing_at_the_same_moment_keep_one_answer_in_its_place(
    county: County,
) -> None:
    """Both send a figure for the same question at once (their chats run concurrently):
    one is stored under that question, the other person is told; nothing moves on to
    the next question by mistake. Repeated to give the race a few chances."""
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    deputy = county.user("deputy:S001")
    await start(county, principal, round_.id, "核定编制数")
    await start(county, deputy, round_.id, "Authorized posts")
    expected: dict[AnswerKey, Value] = {}
    questions = [("authorized_posts", "在编教职工数"), ("on_payroll", "专任教师数")]
    for n, (code, _next) in enumerate(questions):
        p_mark, d_mark = principal.mark(), deputy.mark()
        mine, theirs = 100 + n, 200 + n
        await asyncio.gather(principal.send(str(mine)), deputy.send(str(theirs)))
        p_reply = await principal.wait_for(lambda m: True, after=p_mark, timeout=15)
        d_reply = await deputy.wait_for(lambda m: True, after=d_mark, timeout=15)
        told = [COLLEAGUE_ZH in (p_reply.plain or ""), COLLEAGUE_EN in (d_reply.plain or "")]
        assert told.count(True) == 1, (p_reply.plain, d_reply.plain)
        expected[(code, 0)] = theirs if told[0] else mine
        assert await working(county) == expected
        # Both now see the same, current question, so the race can run again.
        assert _next in (p_reply.plain or "")


@pytest.mark.parametrize("processes", [1, 2])
async def test_two_sessions_writing_one_draft_never_lose_or_misfile_an_answer(
    db_url: str, processes: int
) -> None:
    """Core level: two units of work read the draft at the same version and both answer
    the question it stands at. The first commits; the second is refused (DraftMoved)
    and writes nothing, whichever way the database ordered them. Done again from what
    is there now, its answer goes to the next question: both kept, none misfiled.
    With `processes=2` the two sessions come from two engines, as two bot processes
    would (on SQLite: no shared asyncio write lock, only SQLite's own locking)."""
    engine = create_engine(db_url)
    other = create_engine(db_url) if processes == 2 else engine
    maker = create_sessionmaker(engine)
    form = staffing()
    try:
        async with maker() as session, session.begin():
            roster = await make_roster(session)
            round_ = await open_round(
                session,
                form=load_forms(FORMS).get("staffing"),
                period="2026",
                deadline=utcnow() + timedelta(days=3),
                now=utcnow(),
            )
            sub = await get_or_create_submission(
                session, round_, roster.schools["S001"].id, now=utcnow()
            )
            sid = sub.id
        principal = roster.people["principal:S001"].id
        deputy = roster.people["deputy:S001"].id
        first, second = ("authorized_posts", 0), ("on_payroll", 0)

        async def read(session: AsyncSession) -> tuple[int, str | None]:
            row = (
                await session.execute(
                    select(Submission.version, Submission.position).where(Submission.id == sid)
                )
            ).one()
            return int(row[0]), row[1]

        a, b = maker(), create_sessionmaker(other)()
        await a.begin()
        await b.begin()
        version_a, _pos = await read(a)
        version_b, _pos = await read(b)
        assert version_a == version_b
        await save_step(
            a, sid, form, {first: 60}, version=version_a, by=principal, now=utcnow(),
            position="on_payroll:0",
        )  # fmt: skip
        # The second writer's UPDATE waits for the first (PostgreSQL's row lock, or
        # SQLite's one writer) and then finds the version moved.
        late = asyncio.create_task(
            save_step(
                b,
                sid,
                form,
                {first: 61},
                version=version_b,
                by=deputy,
                now=utcnow(),
                position="on_payroll:0",
            )
        )
        await a.commit()
        with pytest.raises(DraftMoved):
            await asyncio.wait_for(late, 30)
        await b.rollback()
        await a.close()
        await b.close()

        # Done again: it reads where the draft stands now and answers that question.
        async with maker() as session, session.begin():
            version, position = await read(session)
            assert position == "on_payroll:0"
            await save_step(
                session, sid, form, {second: 61}, version=version, by=deputy, now=utcnow(),
                position="full_time_teachers:0",
            )  # fmt: skip
        async with maker() as session:
            rows = (
                await session.execute(
                    select(Answer.field, Answer.value_int, Answer.answered_by).where(
                        Answer.submission_id == sid, Answer.revision == WORKING
                    )
                )
            ).all()
            version, position = await read(session)
        assert sorted(rows) == [("authorized_posts", 60, principal), ("on_payroll", 61, deputy)]
        assert (version, position) == (2, "full_time_teachers:0")
    finally:
        await engine.dispose()
        await other.dispose()


async def test_many_concurrent_writers_each_answer_lands_where_its_writer_saw_it(
    db_url: str,
) -> None:
    """Core level, under contention: four writers each answer whatever question the
    draft stands at, three times, all at once, doing a step again when DraftMoved.
    Every answer stored is the one its writer meant for that question; none is lost."""
    engine = create_engine(db_url, pool_size=8)
    maker = create_sessionmaker(engine)
    form = staffing()
    order = [s.key for s in form_steps()]
    try:
        async with maker() as session, session.begin():
            roster = await make_roster(session)
            round_ = await open_round(
                session,
                form=load_forms(FORMS).get("staffing"),
                period="2026",
                deadline=utcnow() + timedelta(days=3),
                now=utcnow(),
            )
            sid = (
                await get_or_create_submission(
                    session, round_, roster.schools["S001"].id, now=utcnow()
                )
            ).id
        meant: dict[AnswerKey, int] = {}

        async def one_answer(value: int) -> None:
            while True:
                try:
                    async with maker() as session, session.begin():
                        row = (
                            await session.execute(
                                select(Submission.version, Submission.position).where(
                                    Submission.id == sid
                                )
                            )
                        ).one()
                        here = order[0] if row[1] is None else _key(row[1])
                        nxt = order[order.index(here) + 1]
                        await save_step(
                            session, sid, form, {here: value}, version=row[0], by=None,
                            now=utcnow(), position=f"{nxt[0]}:{nxt[1]}",
                        )  # fmt: skip
                    meant[here] = value
                    return
                except DraftMoved:
                    await asyncio.sleep(0)

        async def writer(n: int) -> None:
            for i in range(3):
                await one_answer(10 * n + i)

        await asyncio.wait_for(asyncio.gather(*(writer(n) for n in range(1, 5))), 60)
        async with maker() as session:
            stored = await load_answers(session, sid, WORKING, form)
        assert len(meant) == 12
        assert dict(stored) == meant
        assert set(meant) == set(order[:12])
    finally:
        await engine.dispose()


def form_steps() -> list[Step]:
    return [s for s in steps(staffing(), {}, {"stage": "primary", "district": None})
            if s.kind == "field"]  # fmt: skip


def _key(text: str) -> AnswerKey:
    code, _sep, item = text.rpartition(":")
    return code, int(item)


async def test_two_people_submitting_at_once_the_second_is_told_who_and_when(
    county: County,
) -> None:
    round_ = await prefilled(county)
    principal = county.user("principal:S001")  # zh_CN
    deputy = county.user("deputy:S001")  # en
    p_review = await start(county, principal, round_.id, "请核对答案")
    d_review = await start(county, deputy, round_.id, "please check your answers")
    p_press, d_press = await asyncio.gather(
        principal.press(p_review, "✅ 提交"), deputy.press(d_review, "✅ Submit")
    )
    p_answer = await principal.wait_for_answer(p_press, timeout=15)
    d_answer = await deputy.wait_for_answer(d_press, timeout=15)
    async with county.sessionmaker() as session:
        revisions = list((await session.execute(select(Revision))).scalars())
    assert len(revisions) == 1
    [revision] = revisions
    tz = county.app.bot_data["services"].settings.bureau.tz
    shown = {
        lang: show(revision.submitted_at, tz, "full", lang, utcnow()) for lang in ("zh_CN", "en")
    }
    if revision.submitted_by == county.roster.people["principal:S001"].id:
        await principal.wait_for("回执编号", after=0)
        assert d_answer.show_alert
        assert d_answer.text == (
            f"This report was already submitted by 校长S001 on {shown['en']} (revision 1)."
        )
    else:
        await deputy.wait_for("Reference number", after=0)
        assert p_answer.show_alert
        assert p_answer.text == f"此报表已由副校长S001于{shown['zh_CN']}提交（第 1 版）。"
    # Neither saw the generic error.
    for user in (principal, deputy):
        assert not any("系统出了点问题" in (m.plain or "") for m in user.messages())
        assert not any("Something went wrong" in (m.plain or "") for m in user.messages())
