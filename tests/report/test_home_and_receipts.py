"""What principals and staff see around a report: the /menu home screen (pending reports,
recent notices, open rounds with their reporting rate), the /report list, and receipts
that promise only what the school can still do (lock, staff unlock, closed round)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy import select

from models.base import utcnow
from models.notices import Notice, NoticeRecipient
from models.rounds import Round, Submission, SubmissionStatus
from models.rounds.answers import save_answers
from models.rounds.lifecycle import close_round, unlock_school
from models.rounds.locks import lock_time
from models.rounds.submissions import get_or_create_submission
from outputs.workbook import workbook_bytes
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing
from tests.report.test_revisions import open_from_list, prefilled
from tests.report.test_round_service import GOOD
from tests.sheets import table_rows
from texts.when import show

TZ = ZoneInfo("Asia/Shanghai")


def shown(at: datetime, language: str = "zh_CN") -> str:
    """A time as the bot shows it in a list row: 12月5日 04:37 (bureau time)."""
    return show(at, TZ, "short", language, utcnow())


def full(at: datetime, language: str = "zh_CN") -> str:
    """A time as the bot shows it in a sentence: 12月5日（周六）04:37（北京时间）."""
    return show(at, TZ, "full", language, utcnow())


def labels(message: SentMessage, prefix: str = "") -> list[str]:
    return [
        str(b["text"])
        for row in message.inline_keyboard
        for b in row
        if str(b.get("callback_data", "")).startswith(prefix)
    ]


async def stored_round(county: County, round_id: int) -> Round:
    async with county.sessionmaker() as session:
        found = await session.get(Round, round_id)
        assert found is not None
        return found


async def unlock(county: County, round_id: int, school: str = "S001", hours: int = 2) -> datetime:
    async with county.sessionmaker() as session, session.begin():
        round_ = await session.get(Round, round_id)
        assert round_ is not None
        place = await unlock_school(
            session, round_, county.roster.schools[school].id, by=None, now=utcnow(), hours=hours
        )
        assert place.unlocked_until is not None
        return place.unlocked_until


async def submit_from_review(user: FakeUser, review: SentMessage) -> str:
    await user.press(review, "✅ 提交")
    return (await user.wait_for("回执编号")).plain or ""


async def test_the_principals_home_lists_pending_reports_and_recent_notices(
    county: County,
) -> None:
    round_ = await county.open_round()
    principal = county.roster.people["principal:S001"]
    async with county.sessionmaker() as session, session.begin():
        notice = Notice(
            text="<b>关于开展2026年教师资格认定工作的通知</b>\n请各校做好准备。",
            requires_ack=True,
            audience={"kind": "all", "values": []},
            excluded_schools=[],
            sent_at=utcnow() - timedelta(minutes=5),
        )
        session.add(notice)
        await session.flush()
        session.add(
            NoticeRecipient(
                notice_id=notice.id,
                person_id=principal.id,
                school_id=county.roster.schools["S001"].id,
            )
        )
    user = county.user("principal:S001")
    await user.send("/menu")
    home = await user.wait_for("主页")
    text = home.plain or ""
    assert "报表：贵校有 1 份报表待填写" in text
    # The line says everything; the button is the form alone, short by design.
    assert f"📝 编制与师资配备 · 2026 · 截止时间：{full(round_.deadline)}" in text
    [button] = labels(home, "rp:o:")
    assert button == "📝 编制与师资配备"
    # The latest notices follow, each with whether it waits for an acknowledgement.
    assert "关于开展2026年教师资格认定工作的通知 · ⏳ 请确认" in text
    assert text.index("报表") < text.index("教师资格认定")

    # The button opens the report, as the /report list does.
    await user.press(home, button)
    first = await user.wait_for("核定编制数")
    assert f"截止时间：{full(round_.deadline)}" in (first.plain or "")

    # Once submitted, nothing waits any more.
    async with county.sessionmaker() as session, session.begin():
        sub = (await session.execute(select(Submission))).scalar_one()
        await save_answers(session, sub.id, staffing(), GOOD, by=None, now=utcnow())
    question = await open_from_list(user, round_.id, "欢迎回来")
    await user.press(question, "核对")
    await submit_from_review(user, await user.wait_for("请核对答案"))
    await user.send("/menu")
    home = await user.wait_for("主页")
    assert "报表：目前没有需要填写的报表。" in (home.plain or "")
    assert not labels(home, "rp:o:")


async def test_the_staff_home_shows_open_rounds_with_their_reporting_rate(
    county: County,
) -> None:
    round_ = await prefilled(county)  # every active school expected: 4
    user = county.user("principal:S001")
    review = await open_from_list(user, round_.id, "请核对答案")
    await submit_from_review(user, review)

    staff = county.user("staff")
    await staff.send("/menu")
    home = await staff.wait_for("主页")
    text = home.plain or ""
    assert "进行中的填报（上报率）" in text
    assert (
        f"🟢 编制与师资配备 · 2026：上报率 25.0%（1 / 4），截止 {shown(round_.deadline)}" in text
    )
    assert "您是青山县教育局的工作人员。" in text
    [button] = labels(home, "st:r:")
    assert button == "🟢 编制与师资配备 · 2026 · 25.0%"
    assert "📋 填报轮次" in labels(home, "rd:")
    await staff.press(home, button)
    status = await staff.wait_for("上报率 25.0%")
    assert "城关学区" in str(status.buttons())


async def test_a_receipt_promises_the_lock_while_the_round_is_open(county: County) -> None:
    round_ = await prefilled(county)
    user = county.user("principal:S001")
    receipt = await submit_from_review(user, await open_from_list(user, round_.id, "请核对答案"))
    stored = await stored_round(county, round_.id)
    assert f"在{full(lock_time(stored))}之前可修改：发送 /report。" in receipt


async def test_after_a_staff_unlock_the_receipt_promises_nothing_already_past(
    county: County,
) -> None:
    round_ = await prefilled(county)
    await county.move_deadline(round_.id, utcnow() - timedelta(hours=1))  # locked now
    until = await unlock(county, round_.id, hours=2)
    user = county.user("principal:S001")

    # The list and the report itself show the unlock's end, not the past deadline.
    await user.send("/report")
    listing = await user.wait_for("贵校的报表")
    assert f"编制与师资配备 · 2026 · 🔓 解锁至 {full(until)}" in (listing.plain or "")
    [button] = labels(listing, "rp:o:")
    assert button == "📝 编制与师资配备"
    await user.press(listing, button)
    review = await user.wait_for("请核对答案")
    assert f"已为贵校解锁至{full(until)}，在此之前可再提交一次。" in (review.plain or "")

    receipt = await submit_from_review(user, review)
    assert "本次提交已超过截止时间" in receipt
    # The unlock was for one submission and the lock has passed: no promise at all.
    assert "之前可修改" not in receipt
    assert "本报表现已停止填报。如仍需修改，请联系青山县教育局的人事科王科长（@wang）" in receipt
    await user.send("/report")
    again = await user.wait_for("贵校的报表")
    assert labels(again, "rp:o:")[0].startswith("✅")  # submitted, no unlock left


async def test_a_round_closed_early_and_unlocked_promises_no_future_deadline(
    county: County,
) -> None:
    round_ = await prefilled(county)
    async with county.sessionmaker() as session, session.begin():
        stored = await session.get(Round, round_.id)
        assert stored is not None
        await close_round(session, stored, now=utcnow())
    user = county.user("principal:S001")
    # Closed: gone from the list, and the report says when it closed (now, not the
    # deadline still ahead).
    await user.send("/report")
    empty = await user.wait_for("目前没有需要贵校填写的报表")
    await user.press_data(empty, f"rp:o:{round_.id}")  # e.g. the announcement's button
    refused = (await user.wait_for("无法再在这里修改")).plain or ""
    closed_at = (await stored_round(county, round_.id)).closed_at
    assert closed_at is not None
    assert f"已于{full(closed_at)}截止" in refused and full(round_.deadline) not in refused
    until = await unlock(county, round_.id, hours=3)
    review = await open_from_list(user, round_.id, "请核对答案")
    assert f"已为贵校解锁至{full(until)}" in (review.plain or "")
    receipt = await submit_from_review(user, review)
    assert "之前可修改" not in receipt and full(round_.deadline) not in receipt
    assert "本报表现已停止填报" in receipt
    # The unlock is used up and the round is closed: it leaves the list again.
    await user.send("/report")
    await user.wait_for("目前没有需要贵校填写的报表")


async def test_cancelling_the_reason_prompt_says_nothing_changed(county: County) -> None:
    round_ = await prefilled(county)
    user = county.user("principal:S001")
    await submit_from_review(user, await open_from_list(user, round_.id, "请核对答案"))

    summary = await open_from_list(user, round_.id, "已提交")
    await user.press(summary, "修改")
    prompt = await user.wait_for("请用一句话说明修改原因")
    await user.press(prompt, "✖ 取消")
    answer = await user.wait_for("未作任何修改")
    assert "已保存" not in (answer.plain or "")

    summary = await open_from_list(user, round_.id, "已提交")
    await user.press(summary, "修改")
    await user.wait_for("请用一句话说明修改原因")
    await user.send("/cancel")
    answer = await user.wait_for("未作任何修改")
    assert (answer.plain or "") == "未作任何修改：已提交的报表保持不变。"
    async with county.sessionmaker() as session:
        sub = (await session.execute(select(Submission))).scalar_one()
    assert sub.status == SubmissionStatus.SUBMITTED.value and sub.current_revision == 1


async def test_english_report_buttons_are_not_cut(county: County) -> None:
    round_ = await county.open_round("key_teacher_assessment", period="2026")
    deputy = county.user("deputy:S001")  # English
    await deputy.send("/report")
    listing = await deputy.wait_for("Your school's reports")
    [button] = labels(listing, "rp:o:")
    assert button == "📝 Annual assessment of famous and key teachers"
    deadline = full(round_.deadline, "en")
    assert f"Annual assessment of famous and key teachers · 2026 · deadline {deadline}" in (
        listing.plain or ""
    )
    assert deadline.endswith(" (Beijing time)")


async def test_the_workbook_shows_the_confirmed_warnings_and_the_comment(
    county: County,
) -> None:
    round_ = await county.open_round()
    answers = dict(GOOD)
    answers[("substitute_teachers", 0)] = 20  # more than 20 % of 52 teachers: a warning
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(
            session, round_, county.roster.schools["S001"].id, now=utcnow()
        )
        await save_answers(session, sub.id, staffing(), answers, by=None, now=utcnow())
    user = county.user("principal:S001")
    await user.press(await open_from_list(user, round_.id, "请核对答案"), "✅ 提交")
    ask = await user.wait_for("提交前请确认")
    assert "将随报表一并报送教育局" in (ask.plain or "")
    await user.send("两名教师产假、一名病休，临时聘用代课")
    await user.wait_for("回执编号")

    settings = county.app.bot_data["services"].settings
    async with county.sessionmaker() as session:
        data, _result = await workbook_bytes(session, round_.id, "zh_CN", settings)
    book = openpyxl.load_workbook(io.BytesIO(data))
    revisions = table_rows(book, "修订记录")
    head = revisions[0]
    column = head.index("已确认的提示 / 说明")
    [row] = [r for r in revisions[1:] if r[0] == "S001"]
    cell = str(row[column])
    assert "代课教师（20人）超过专任教师（52人）的 20%" in cell
    assert cell.endswith("——说明：两名教师产假、一名病休，临时聘用代课")
    # The Data sheet says the same beside the figures it concerns.
    data_rows = table_rows(book, "明细")
    data_column = data_rows[0].index("已确认的提示 / 说明")
    by_code = {r[0]: r for r in data_rows[1:]}
    assert by_code["S001"][data_column] == row[column]
    assert by_code["S002"][data_column] is None
