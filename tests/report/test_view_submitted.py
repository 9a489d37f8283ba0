"""Issue 11, item 7: a principal sees what the school submitted without beginning a
revision, and can give up a revision they began ("放弃修改", confirmed once): the
submitted report stays exactly as it was, for everyone at the school."""

from __future__ import annotations

from sqlalchemy import select

from models.roster.tables import AuditLog
from models.rounds import Conversation, Revision, Submission, SubmissionStatus
from models.rounds.answers import load_answers
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing
from tests.report.test_conversation import working
from tests.report.test_revisions import open_from_list, prefilled, revise
from tests.report.test_round_service import GOOD


async def submitted(county: County, user: FakeUser) -> tuple[int, int]:
    """A round whose school S001 submitted GOOD; (round id, submission id)."""
    round_ = await prefilled(county)
    review = await open_from_list(user, round_.id, "请核对答案")
    await user.press(review, "✅ 提交")
    await user.wait_for("回执编号")
    return round_.id, await submission_id(county)


async def submission_id(county: County) -> int:
    async with county.sessionmaker() as session:
        return (await session.execute(select(Submission.id))).scalar_one()


async def stored(county: County) -> tuple[object, ...]:
    """What the bureau has: the submission's state and times, its revisions' answers."""
    async with county.sessionmaker() as session:
        sub = (await session.execute(select(Submission))).scalar_one()
        revisions = list((await session.execute(select(Revision.number, Revision.reference))).all())
        answers = [
            await load_answers(session, sub.id, number, staffing()) for number, _r in revisions
        ]
    times = (sub.first_submitted_at, sub.last_submitted_at)
    return sub.status, sub.current_revision, times, revisions, answers


async def conversations(county: County) -> list[int]:
    async with county.sessionmaker() as session:
        return list((await session.execute(select(Conversation.person_id))).scalars())


def lines(message: SentMessage) -> list[str]:
    return (message.plain or "").split("\n")


async def test_the_submitted_report_is_shown_read_only(county: County) -> None:
    principal = county.user("principal:S001")
    round_id, sub = await submitted(county, principal)
    before = await stored(county)
    async with county.sessionmaker() as session:
        version = (await session.execute(select(Submission.version))).scalar_one()

    await principal.send("/report")
    listing = await principal.wait_for("贵校的报表")
    [[(label, opens)], view_row] = listing.buttons()
    assert label.startswith("✅ 编制与师资配备") and opens == f"rp:o:{round_id}"
    assert view_row == [("👁 查看已提交的报表", f"rp:w:{sub}")]
    await principal.press(listing, "👁 查看已提交的报表")
    shown = await principal.wait_for("已提交的报表：")
    text = lines(shown)
    assert text[0] == "📄 已提交的报表：编制与师资配备（2026）"
    assert text[1].startswith("第 1 版，接收时间：") and text[2].startswith("回执编号：HB-")
    assert "1. 核定编制数：60人" in text and "13. 骨干教师数：8人" in text
    assert "自动计算" in text
    assert shown.buttons() == [[("✏️ 修改", f"rp:v:{sub}")], [("⬅ 返回我的报表", "rp:l")]]
    # Nothing began: no revision, no conversation, the draft not even touched.
    assert await stored(county) == before and await conversations(county) == []
    async with county.sessionmaker() as session:
        assert (await session.execute(select(Submission.version))).scalar_one() == version

    # The submitted report's own screen offers it too; "back" is the list.
    summary = await open_from_list(principal, round_id, "已提交")
    assert summary.buttons() == [
        [("👁 查看已提交的报表", f"rp:w:{sub}")],
        [("✏️ 修改", f"rp:v:{sub}")],
    ]
    await principal.press(shown, "⬅ 返回我的报表")
    await principal.wait_for("贵校的报表")


async def test_the_deputy_reads_it_in_english(county: County) -> None:
    _round_id, sub = await submitted(county, county.user("principal:S001"))
    deputy = county.user("deputy:S001")
    await deputy.send("/report")
    listing = await deputy.wait_for("Your school's reports")
    await deputy.press(listing, "👁 View the submitted report")
    shown = await deputy.wait_for("Submitted report:")
    text = lines(shown)
    assert text[0] == "📄 Submitted report: Staffing and teachers (2026)"
    assert text[1].startswith("Revision 1, received ")
    assert any(line.startswith("1. Authorized posts: 60") for line in text)
    assert shown.buttons() == [[("✏️ Revise", f"rp:v:{sub}")], [("⬅ Back to my reports", "rp:l")]]


async def test_discarding_a_revision_leaves_the_submitted_report_as_it_was(
    county: County,
) -> None:
    principal = county.user("principal:S001")
    round_id, sub = await submitted(county, principal)
    before = await stored(county)

    review = await revise(principal, round_id, "骨干教师少报一人")
    await principal.press(review, "✏️ 13")
    await principal.wait_for("骨干教师数")
    await principal.send("9")
    review = await principal.wait_for("请核对答案")
    assert review.buttons()[-1] == [("🗑 放弃修改", f"rp:q:{sub}")]
    # The deputy opens the revision on another phone: it offers both, below the question.
    deputy = county.user("deputy:S001")
    await deputy.send("/report")
    await deputy.press(await deputy.wait_for("Your school's reports"), f"rp:o:{round_id}")
    opened = await deputy.wait_for("Welcome back")
    assert opened.buttons()[-1] == [
        ("👁 View the submitted report", f"rp:w:{sub}"),
        ("🗑 Discard changes", f"rp:q:{sub}"),
    ]
    # What the bureau has is still revision 1, and the view says a revision is under way.
    await deputy.press(opened, "👁 View the submitted report")
    shown = await deputy.wait_for("Submitted report:")
    assert "A revision is under way" in (shown.plain or "")
    assert any(line.startswith("13. Key teachers: 8") for line in lines(shown))
    assert shown.buttons() == [
        [("▶️ Continue the revision", f"rp:o:{round_id}")],
        [("🗑 Discard changes", f"rp:q:{sub}")],
        [("⬅ Back to my reports", "rp:l")],
    ]

    await principal.press(review, "🗑 放弃修改")
    ask = await principal.wait_for("确定放弃本次修改吗")
    reference = before[3][0][1]  # type: ignore[index]
    assert (ask.plain or "") == (
        f"确定放弃本次修改吗？已提交的第 1 版（回执编号 {reference}）原样保留，教育局收到的"
        "内容不变；点「✏️ 修改」之后所做的改动将被删除。"
    )
    assert ask.buttons() == [
        [("🗑 确认放弃修改", f"rp:Q:{sub}:1")],
        [("⬅ 不放弃，继续修改", f"rp:r:{sub}")],
    ]
    assert (await stored(county))[0] == SubmissionStatus.REVISING.value  # asking changed nothing
    await principal.press(ask, "🗑 确认放弃修改")
    done = await principal.wait_for("已放弃修改")
    assert (done.plain or "") == f"↩️ 已放弃修改。已提交的第 1 版（回执编号 {reference}）保持不变。"
    assert done.buttons() == [[("👁 查看已提交的报表", f"rp:w:{sub}")], [("📋 我的报表", "rp:l")]]

    # The submitted report exactly as before; the revision's draft and conversations gone.
    assert await stored(county) == before
    assert await working(county) == GOOD
    assert await conversations(county) == []
    async with county.sessionmaker() as session:
        audit = list((await session.execute(select(AuditLog.action, AuditLog.details))).all())
    discards = [details for action, details in audit if action == "submission.discard_revision"]
    assert len(discards) == 1 and "骨干教师少报一人" in discards[0]

    # Everyone at the school sees the same: the deputy's typed figure is no answer, the
    # list shows ✅, the old question's buttons are refused, the confirmation is spent.
    await deputy.send("9")
    await deputy.wait_for("was not waiting for a message")
    await deputy.send("/report")
    listing = await deputy.wait_for("Your school's reports")
    assert listing.buttons()[0][0][0].startswith("✅")
    await principal.press(ask, "🗑 确认放弃修改")
    refused = await principal.wait_for_answer()
    assert refused.show_alert and "当前没有进行中的修改" in (refused.text or "")
    assert await stored(county) == before
