"""Refused and stale report buttons change nothing of the presser's own state (issue 9,
item 4): another school's pause, cancel, start, submit, back or choice button, an old
button of a report already submitted, or forged data, is answered with a polite alert,
and the presser's own conversation goes on: their next typed figure is stored at the
question they see and answered with the next one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.report_view import key_token
from models.base import utcnow
from models.rounds import WORKING, Submission
from models.rounds.answers import load_answers, save_answers
from models.rounds.lifecycle import get_round_school
from models.rounds.revisions import submit
from models.rounds.submissions import get_or_create_submission, school_context
from tests.report.conftest import County
from tests.report.roster import staffing
from tests.report.test_conversation import start
from tests.report.test_round_service import GOOD

NOT_YOURS = "不属于您的学校"
ORDER = list(GOOD)  # the staffing form's questions, in the order they are asked


async def school_working(county: County, school: str, round_id: int) -> dict[object, object]:
    async with county.sessionmaker() as session:
        sub = (
            await session.execute(
                select(Submission).where(
                    Submission.school_id == county.roster.schools[school].id,
                    Submission.round_id == round_id,
                )
            )
        ).scalar_one()
        return dict(await load_answers(session, sub.id, WORKING, staffing()))


def label(n: int) -> str:
    return staffing().field(ORDER[n][0]).label.get("zh_CN")


CASES = {
    # another school's buttons (S001 is in the middle of the same round's report)
    "pause": ("rp:x:{foreign}", NOT_YOURS),
    "cancel": ("rp:x:{foreign}", NOT_YOURS),  # the reason prompt's Cancel: the same data
    "start": ("rp:o:{river}", NOT_YOURS),  # a round for another district's schools
    "submit": ("rp:S:{foreign}", NOT_YOURS),
    "back": ("rp:b:{foreign}:{tok}", NOT_YOURS),
    "choice": ("rp:c:{foreign}:{choice}:0", NOT_YOURS),
    "tick": ("rp:t:{foreign}:{choice}:1", NOT_YOURS),
    "review": ("rp:r:{foreign}", NOT_YOURS),
    "revise": ("rp:v:{foreign}", NOT_YOURS),
    # the presser's own school's report of last year, already submitted
    "stale submit": ("rp:S:{old}", "已由校长S002于"),
    "stale review": ("rp:r:{old}", "已由校长S002于"),
    "stale keep": ("rp:k:{old}:{first}", "已由校长S002于"),
    "stale pause": ("rp:x:{old}", "此按钮已失效"),  # not the report the presser is in
    # forged data
    "a part too many": ("rp:S:{old}:2", "此按钮已失效"),
    "not a question token": ("rp:c:{foreign}:zz:0", "此按钮已失效"),
    "a sign": ("rp:x:-{foreign}", "此按钮已失效"),
    "an id no row can have": ("rp:S:99999999999", "此按钮已失效"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_refused_button_leaves_the_presser_s_conversation_going(
    county: County, case: str
) -> None:
    form = staffing()
    # Last year's staffing report of 城关中学 (S002), submitted by its principal.
    last_year = await county.open_round(period="2025", days=1)
    s002 = county.roster.schools["S002"]
    async with county.sessionmaker() as session, session.begin():
        old = await get_or_create_submission(session, last_year, s002.id, now=utcnow())
        await save_answers(session, old.id, form, GOOD, by=None, now=utcnow())
        await submit(
            session,
            old,
            last_year,
            await get_round_school(session, last_year.id, s002.id),
            form,
            school_context(s002),
            by=county.roster.people["principal:S002"].id,
            now=utcnow() - timedelta(minutes=5),
            confirmed_warnings=[
                {"rule": "qualification_below_target", "comment": "两人在读", "message": ""}
            ],
        )
        old_id = old.id
    this_year = await county.open_round(period="2026")
    river = await county.open_round("key_teacher_assessment", districts=["河西学区"])
    # Another school (S001) in the middle of its report.
    other = county.user("principal:S001")
    question = await start(county, other, this_year.id, "核定编制数")
    foreign = int(question.buttons()[-1][0][1].split(":")[2])

    presser = county.user("principal:S002")
    await start(county, presser, this_year.id, label(0))
    await presser.send("60")
    await presser.wait_for(label(1))
    template, says = CASES[case]
    data = template.format(
        foreign=foreign,
        river=river.id,
        old=old_id,
        tok=key_token(ORDER[1]),
        first=key_token(ORDER[0]),
        choice=key_token(("shortage_subjects", 0)),
    )
    await presser.press_data(presser.last(), data)
    refused = await presser.wait_for_answer()
    assert refused.show_alert and says in (refused.text or ""), refused.text
    # The conversation goes on: the next figure is stored and answered.
    await presser.send("57")
    await presser.wait_for(label(2))
    assert await school_working(county, "S002", this_year.id) == {ORDER[0]: 60, ORDER[1]: 57}
    # The other school's report was not touched either: it still waits at question 1.
    await other.send("61")
    await other.wait_for(label(1))
    assert await school_working(county, "S001", this_year.id) == {ORDER[0]: 61}


async def test_the_presser_pauses_only_their_own_current_report(county: County) -> None:
    """Their own pause button does pause (and nothing else does)."""
    round_ = await county.open_round()
    user = county.user("principal:S002")
    question = await start(county, user, round_.id, label(0))
    await user.press(question, "暂停")
    await user.wait_for("已保存")
    await user.send("60")
    await user.wait_for("这条消息未保存")  # paused: not an answer (the fallback says so)
