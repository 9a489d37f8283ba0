"""Walking the report: back, forward, skip and edit, as the forms engine decides them."""

from __future__ import annotations

from sqlalchemy import select

from models.base import utcnow
from models.rounds import Submission
from models.rounds.answers import save_answers
from models.rounds.submissions import get_or_create_submission
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing
from tests.report.test_conversation import start, working
from tests.report.test_round_service import GOOD

ALL_BUT_LAST = {k: v for k, v in GOOD.items() if k[0] != "shortage_subjects"}
"""Every question answered but the last (optional) one."""


async def seeded(county: County) -> int:
    """A round whose S001 draft already holds every answer but the last one."""
    round_ = await county.open_round()
    async with county.sessionmaker() as session, session.begin():
        school = county.roster.schools["S001"]
        sub = await get_or_create_submission(session, round_, school.id, now=utcnow())
        await save_answers(session, sub.id, staffing(), ALL_BUT_LAST, by=None, now=utcnow())
    return round_.id


async def back(user: FakeUser, message: SentMessage, expect: str) -> SentMessage:
    await user.press(message, "上一题")
    return await user.wait_for(expect)


def is_review(message: SentMessage) -> bool:
    return "✏️" in str(message.buttons()) and "提交" in str(message.buttons())


async def test_back_from_a_question_that_has_just_become_hidden(county: County) -> None:
    """The principal looks at "of whom: special-post teachers" when the draft's total of
    new hires becomes 0 beneath them (a colleague's figure): that question is no longer
    asked, and "back" goes to the visible question before it in the form's order (the
    total), not to a question somewhere else in the form."""
    round_id = await seeded(county)
    principal = county.user("principal:S001")
    shown = await start(county, principal, round_id, "紧缺学科")
    for label in (
        "本年交流轮岗", "代课教师数", "名师", "学科带头人", "骨干教师", "公费师范生", "特岗教师",
    ):
        shown = await back(principal, shown, label)
    async with county.sessionmaker() as session, session.begin():
        school_id = county.roster.schools["S001"].id
        query = select(Submission.id).where(Submission.school_id == school_id)
        sub_id = (await session.execute(query)).scalar_one()
        await save_answers(
            session, sub_id, staffing(), {("new_hires_total", 0): 0}, by=None, now=utcnow()
        )
    before = await back(principal, shown, "本年新招聘教师数")
    assert "当前答案：0人" in (before.plain or "")
    # Walking on from there goes through the answered questions that are still asked.
    await principal.press(before, "保留 0人")
    after = await principal.wait_for("骨干教师")
    assert "当前答案：8人" in (after.plain or "")
    assert (await working(county))[("new_hires_total", 0)] == 0


async def test_walk_back_then_forward_skip_and_edit_from_the_review(county: County) -> None:
    round_id = await seeded(county)
    principal = county.user("principal:S001")
    shown = await start(county, principal, round_id, "紧缺学科")
    shown = await back(principal, shown, "本年交流轮岗")
    shown = await back(principal, shown, "代课教师数")
    # Changing an answer while walking back shows the very next question, answered or not.
    await principal.send("5")
    shown = await principal.wait_for("本年交流轮岗")
    assert "当前答案：2人" in (shown.plain or "")
    await principal.send("3")
    shown = await principal.wait_for("紧缺学科")
    # The last question is optional: skipped, the review follows.
    await principal.press(shown, "跳过")
    review = await principal.wait_for(is_review)
    # Edit from the review: after the answer, back to the review (not the next question).
    await principal.press(review, "✏️ 15")  # the 15th question: famous teachers
    await principal.wait_for("名师")
    await principal.send("2")
    again = await principal.wait_for(lambda m: is_review(m) and m is not review)
    assert "名师" in (again.plain or "")
    answers = await working(county)
    assert answers[("substitute_teachers", 0)] == 5
    assert answers[("rural_exchange", 0)] == 3
    assert answers[("famous_teachers", 0)] == 2
    assert ("shortage_subjects", 0) not in answers
