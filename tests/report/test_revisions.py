"""Done when #3: revising before the deadline makes revision 2 with its reason; after the
deadline the principal is refused politely; a staff unlock lets them revise once more."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models.base import utcnow
from models.roster.tables import AuditLog
from models.rounds import Revision, Round
from models.rounds.answers import load_answers, save_answers
from models.rounds.submissions import get_or_create_submission
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing
from tests.report.test_round_service import GOOD


async def prefilled(county: County, school: str = "S001") -> Round:
    """A round whose school has answered everything but not submitted."""
    round_ = await county.open_round()
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(
            session, round_, county.roster.schools[school].id, now=utcnow()
        )
        await save_answers(session, sub.id, staffing(), GOOD, by=None, now=utcnow())
    return round_


async def open_from_list(user: FakeUser, round_id: int, expect: str) -> SentMessage:
    await user.send("/report")
    listing = await user.wait_for("贵校的报表")
    await user.press(listing, f"rp:o:{round_id}")
    return await user.wait_for(expect)


async def revise(user: FakeUser, round_id: int, reason: str) -> SentMessage:
    summary = await open_from_list(user, round_id, "已提交")
    await user.press(summary, "修改")
    await user.wait_for("请用一句话说明修改原因")
    await user.send(reason)
    return await user.wait_for("已记录修改原因")


async def test_revise_then_locked_then_unlocked_once(county: County) -> None:
    round_ = await prefilled(county)
    user = county.user("principal:S001")
    review = await open_from_list(user, round_.id, "请核对答案")
    await user.press(review, "✅ 提交")
    assert "第 1 版" in ((await user.wait_for("回执编号")).plain or "")

    # Revision 2, before the deadline, with its reason; one answer changed from the review.
    review = await revise(user, round_.id, "骨干教师少报一人")
    await user.press(review, "✏️ 13")
    question = await user.wait_for("骨干教师数")
    assert "当前答案：8人" in (question.plain or "")
    await user.send("9")
    review = await user.wait_for("请核对答案")  # back to the review, not the next question
    assert "13. 骨干教师数：9人" in (review.plain or "")
    await user.press(review, "✅ 提交修改")
    assert "第 2 版" in ((await user.wait_for("回执编号")).plain or "")
    async with county.sessionmaker() as session:
        revisions = list(
            (await session.execute(select(Revision).order_by(Revision.number))).scalars()
        )
        sub_id = revisions[0].submission_id
        first = await load_answers(session, sub_id, 1, staffing())
        second = await load_answers(session, sub_id, 2, staffing())
    assert [(r.number, r.reason) for r in revisions] == [(1, ""), (2, "骨干教师少报一人")]
    assert first[("key_teachers", 0)] == 8 and second[("key_teachers", 0)] == 9

    # The deadline passes: the principal is refused politely and told whom to ask.
    await county.move_deadline(round_.id, utcnow() - timedelta(hours=1))
    summary = await open_from_list(user, round_.id, "无法再在这里修改")
    text = summary.plain or ""
    assert "第 2 版" in text and "人事科王科长（@wang）" in text
    assert "修改" not in str(summary.buttons())
    # An old Revise button is refused too.
    old = [m for m in user.messages() if "rp:v:" in str(m.buttons())][-1]
    await user.press(old, "修改")
    await user.wait_for("已于")

    # Staff unlock the school (logged); the principal may submit once more, late.
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), f"rd:v:{round_.id}")
    await staff.press(await staff.wait_for("应报学校"), "为学校解锁")
    await staff.press(await staff.wait_for("允许哪所学校再提交一次"), "城关第一小学")
    await staff.wait_for("可在")
    review = await revise(user, round_.id, "补报名师一人")
    await user.press(review, "✏️ 15")
    await user.wait_for("名师数")
    await user.send("2")
    review = await user.wait_for("请核对答案")
    await user.press(review, "✅ 提交修改")
    receipt = await user.wait_for("回执编号")
    assert "第 3 版" in (receipt.plain or "") and "超过截止时间" in (receipt.plain or "")
    # Once: locked again afterwards.
    summary = await open_from_list(user, round_.id, "无法再在这里修改")
    assert "第 3 版" in (summary.plain or "") and "修改" not in str(summary.buttons())
    async with county.sessionmaker() as session:
        actions = list((await session.execute(select(AuditLog.action, AuditLog.actor_id))).all())
    assert ("round.unlock", county.roster.people["staff"].id) in actions


async def test_submitting_needs_every_warning_confirmed_with_a_comment(county: County) -> None:
    round_ = await county.open_round()
    answers = dict(GOOD)
    answers[("substitute_teachers", 0)] = 20  # more than 20 % of 52 teachers: a warning
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(
            session, round_, county.roster.schools["S001"].id, now=utcnow()
        )
        await save_answers(session, sub.id, staffing(), answers, by=None, now=utcnow())
    user = county.user("principal:S001")
    review = await open_from_list(user, round_.id, "请核对答案")
    assert "代课教师（20人）超过专任教师" in (review.plain or "")
    await user.press(review, "✅ 提交")
    ask = await user.wait_for("提交前请确认")
    assert "✏️ 代课教师数" in str(ask.buttons())
    await user.send("两名教师产假、一名病休，临时聘用代课")
    receipt = await user.wait_for("回执编号")
    assert "第 1 版" in (receipt.plain or "")
    async with county.sessionmaker() as session:
        revision = (await session.execute(select(Revision))).scalar_one()
    assert (
        "产假" in revision.confirmed_warnings and "substitute_share" in revision.confirmed_warnings
    )


async def test_errors_block_submission_naming_the_fields(county: County) -> None:
    round_ = await county.open_round()
    answers = dict(GOOD)
    answers[("degree_bachelor", 0)] = 31
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(
            session, round_, county.roster.schools["S001"].id, now=utcnow()
        )
        await save_answers(session, sub.id, staffing(), answers, by=None, now=utcnow())
    user = county.user("principal:S001")
    review = await open_from_list(user, round_.id, "请核对答案")
    text = review.plain or ""
    assert "提交前须更正" in text and "涉及：专任教师数、其中：研究生学历" in text
    assert "提交" not in str(
        [b for row in review.buttons() for b in row if b[1] == f"rp:S:{sub.id}"]
    )
    # A forged submit press is refused and nothing is submitted.
    await user.press_data(review, f"rp:S:{sub.id}")
    answer = await user.wait_for_answer()
    assert answer.show_alert and "尚未提交" in (answer.text or "")
    async with county.sessionmaker() as session:
        assert (await session.execute(select(Revision))).first() is None
