"""Issue 12, item 2, end to end through the Bot API double: a round with district review;
a submission waits for the district officer, is returned with a comment, the school
resubmits, the officer approves, and the bureau's workbook shows it approved. A district
officer of another district can neither see nor act on it, forged buttons included."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from models.base import utcnow
from models.review import ReviewStatus, SubmissionReview
from models.review.rules import enable
from models.roster.tables import AuditLog, Person, Role
from models.rounds import Revision, Round, Submission, SubmissionStatus
from models.rounds.answers import save_answers
from models.rounds.submissions import get_or_create_submission
from outputs.workbook import workbook_bytes
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing
from tests.report.test_revisions import open_from_list, prefilled
from tests.report.test_round_service import GOOD
from tests.sheets import table_rows
from texts.callbacks import ApproveReview, OpenReview, ReturnReview

OFFICER_ID, OTHER_OFFICER_ID = 8001, 8002
STALE = "此按钮已失效。请发送 /menu 重新开始。"
COMMENT = "骨干教师数与花名册不符，请核实。"


async def add_officers(county: County, *districts: str) -> None:
    async with county.sessionmaker() as session, session.begin():
        for telegram_id, name in zip((OFFICER_ID, OTHER_OFFICER_ID), districts, strict=False):
            session.add(Person(telegram_id=telegram_id, name=f"{name}专干",
                               role=Role.DISTRICT_OFFICER.value,
                               district_id=county.roster.districts[name].id))


async def reviewed_round(county: County) -> Round:
    round_ = await prefilled(county)
    async with county.sessionmaker() as session, session.begin():
        await enable(session, round_.id, actor_id=None, now=round_.opened_at)
    return round_


async def submit(user: FakeUser, round_id: int, expect: str = "请核对答案") -> SentMessage:
    review = await open_from_list(user, round_id, expect)
    await user.press(review, "✅ 提交")
    return await user.wait_for("回执编号")


async def review_state(county: County) -> tuple[str, int, str]:
    async with county.sessionmaker() as session:
        review = (await session.execute(select(SubmissionReview))).scalar_one()
    return review.status, review.revision, review.comment


async def open_queue(officer: FakeUser, school: str) -> SentMessage:
    await officer.send("/review")
    queue = await officer.wait_for("待审核的报表")
    await officer.press(queue, f"🟡 {school}")
    return await officer.wait_for(lambda m: f"审核：{school}" in (m.plain or "") and m.edited)


async def test_returned_resubmitted_approved_and_shown_in_the_workbook(county: County) -> None:
    await add_officers(county, "城关学区", "河西学区")
    round_ = await reviewed_round(county)
    principal, deputy = county.user("principal:S001"), county.user("deputy:S001")
    officer = county.tg.user(OFFICER_ID, "城关学区专干", language_code="zh-hans")
    other = county.tg.user(OTHER_OFFICER_ID, "河西学区专干", language_code="zh-hans")

    await submit(principal, round_.id)
    told = await officer.wait_for("📝 城关第一小学（城关学区）提交了")
    assert "第 1 版" in (told.plain or "") and told.buttons()[0][0][0] == "打开"
    await other.expect_silence(0.5)
    assert await review_state(county) == (ReviewStatus.AWAITING.value, 1, "")

    case = await open_queue(officer, "城关第一小学")
    text = case.plain or ""
    assert "第 1 版，接收时间：" in text and "1. 核定编制数：60人" in text
    assert "没有提示。" in text
    await officer.press(case, "↩️ 退回")
    await officer.wait_for("请输入给城关第一小学的意见")
    await officer.send(COMMENT)
    await officer.wait_for("已将报表连同意见退回城关第一小学")
    assert await review_state(county) == (ReviewStatus.RETURNED.value, 1, COMMENT)

    returned = await principal.wait_for("↩️ 学区退回了贵校的报表")
    assert COMMENT in (returned.plain or "")
    english = await deputy.wait_for("↩️ The district returned your report")
    assert COMMENT in (english.plain or "")

    # The school finds the report open for revision, the comment at the top.
    review = await open_from_list(principal, round_.id, "学区退回意见：" + COMMENT)
    await principal.press(review, "✏️ 13")
    await principal.wait_for("骨干教师数")
    await principal.send("7")
    review = await principal.wait_for("请核对答案")
    await principal.press(review, "✅ 提交")
    assert "第 2 版" in ((await principal.wait_for("回执编号")).plain or "")
    await officer.wait_for("第 2 版")
    assert (await review_state(county))[:2] == (ReviewStatus.AWAITING.value, 2)

    case = await open_queue(officer, "城关第一小学")
    assert "上次退回的意见：" + COMMENT in (case.plain or "")
    assert "13. 骨干教师数：7人" in (case.plain or "")
    await officer.press(case, "✅ 通过")
    await officer.wait_for("✅ 已通过：城关第一小学。已通知学校。")
    await principal.wait_for("✅ 学区已审核通过贵校的报表")
    assert (await review_state(county))[:2] == (ReviewStatus.APPROVED.value, 2)

    async with county.sessionmaker() as session:
        submission = (await session.execute(select(Submission))).scalar_one()
        assert submission.status == SubmissionStatus.SUBMITTED.value
        reasons = list((await session.execute(
            select(Revision.reason).order_by(Revision.number))).scalars())
        actions = list((await session.execute(
            select(AuditLog.action).where(AuditLog.action.like("review.%"))
            .order_by(AuditLog.id))).scalars())
    assert reasons == ["", COMMENT]
    assert actions == ["review.arrived", "review.return", "review.arrived", "review.approve"]
    await officer_returns_s002_and_the_workbook_shows_both(county, round_, officer)


async def officer_returns_s002_and_the_workbook_shows_both(
    county: County, round_: Round, officer: FakeUser
) -> None:
    """The bureau's workbook: S001 approved, S002 returned with its comment, per school and
    per district."""
    s002 = county.user("principal:S002")
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(
            session, round_, county.roster.schools["S002"].id, now=utcnow())
        await save_answers(session, sub.id, staffing(), GOOD, by=None, now=utcnow())
    await submit(s002, round_.id)
    case = await open_queue(officer, "城关中学")
    await officer.press(case, "↩️ 退回")
    await officer.wait_for("请输入给城关中学的意见")
    await officer.send("请补充新招聘教师。")
    await officer.wait_for("已将报表连同意见退回城关中学")

    settings = county.app.bot_data["services"].settings
    async with county.sessionmaker() as session:
        data, _result = await workbook_bytes(session, round_.id, "zh_CN", settings)
    book = load_workbook(io.BytesIO(data))
    rows = table_rows(book, "学区审核")
    assert rows[0] == ("学校代码", "学校", "学区", "审核状态", "修订版本", "审核时间", "退回意见")
    by_code = {row[0]: row[3:] for row in rows[1:]}
    assert by_code["S001"][:2] == ("已通过", 2)
    assert by_code["S002"][0] == "已退回" and by_code["S002"][3] == "请补充新招聘教师。"
    assert by_code["S003"] == (None, None, None, None)
    assert table_rows(book, "各学区审核情况") == [
        ("学区", "待审核", "已通过", "已退回"), ("城关学区", 0, 1, 1), ("河西学区", 0, 0, 0)]


async def test_another_districts_officer_neither_sees_nor_acts(county: County) -> None:
    await add_officers(county, "城关学区", "河西学区")
    round_ = await reviewed_round(county)
    principal = county.user("principal:S001")
    other = county.tg.user(OTHER_OFFICER_ID, "河西学区专干", language_code="zh-hans")
    county.tg.user(OFFICER_ID, "城关学区专干", language_code="zh-hans")
    await submit(principal, round_.id)
    async with county.sessionmaker() as session:
        review_id = (await session.execute(select(SubmissionReview.id))).scalar_one()

    await other.send("/review")
    queue = await other.wait_for("待审核的报表")
    assert "没有待审核的报表。" in (queue.plain or "")
    assert "城关第一小学" not in str(queue.buttons())
    for forged in (OpenReview(review_id), ApproveReview(review_id, 1),
                   ReturnReview(review_id, 1)):
        await other.press_data(queue, forged.pack())
        refused = await other.wait_for_answer()
        assert refused.show_alert and refused.text == STALE
    await other.send("随便写点什么")
    assert await review_state(county) == (ReviewStatus.AWAITING.value, 1, "")


async def test_a_district_without_officer_is_reviewed_by_the_bureau(county: County) -> None:
    await add_officers(county, "河西学区")  # 城关学区 has none
    round_ = await reviewed_round(county)
    principal = county.user("principal:S001")
    staff = county.user("staff")
    officer = county.tg.user(OFFICER_ID, "河西学区专干", language_code="zh-hans")
    await submit(principal, round_.id)
    told = await staff.wait_for("城关学区没有学区专干，由教育局审核。")
    assert "📝 城关第一小学" in (told.plain or "")
    await officer.expect_silence(0.3)

    case = await open_queue(staff, "城关第一小学")
    await staff.press(case, "✅ 通过")
    await staff.wait_for("✅ 已通过：城关第一小学")
    await principal.wait_for("✅ 学区已审核通过贵校的报表")
    assert (await review_state(county))[0] == ReviewStatus.APPROVED.value
