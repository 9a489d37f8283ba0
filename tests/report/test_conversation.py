"""The report conversation's rules: where it stands, who may act, what wrong presses get."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models.base import utcnow
from models.rounds import WORKING, Conversation, Submission
from models.rounds.answers import load_answers, save_answers
from models.rounds.lifecycle import get_round_school
from models.rounds.revisions import submit
from models.rounds.submissions import get_or_create_submission, school_context
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing
from texts.when import show

BUREAU_TZ = ZoneInfo("Asia/Shanghai")


async def start(county: County, user: FakeUser, round_id: int, expect: str) -> SentMessage:
    await user.send("/report")
    await user.press(await user.wait_for(lambda m: "rp:o:" in str(m.buttons())), f"rp:o:{round_id}")
    return await user.wait_for(expect)


async def working(county: County, round_id: int | None = None) -> dict[tuple[str, int], object]:
    """The working answers of school S001's (only, or that round's) submission."""
    async with county.sessionmaker() as session:
        query = select(Submission).where(Submission.school_id == county.roster.schools["S001"].id)
        if round_id is not None:
            query = query.where(Submission.round_id == round_id)
        sub = (await session.execute(query)).scalar_one_or_none()
        if sub is None:
            return {}
        return dict(await load_answers(session, sub.id, WORKING, staffing()))


async def test_pause_and_the_deputy_continues_at_the_same_question(county: County) -> None:
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    await start(county, principal, round_.id, "核定编制数")
    await principal.send("60")
    await principal.wait_for("在编教职工数")
    await principal.send("57")
    question = await principal.wait_for("专任教师数")
    await principal.press(question, "暂停")
    await principal.wait_for("已保存")
    # Paused: plain text is no longer taken as an answer (the bot says so, and names the
    # report to continue: tests/report/test_silence.py).
    await principal.send("52")
    await principal.wait_for("这条消息未保存")
    assert await working(county) == {("authorized_posts", 0): 60, ("on_payroll", 0): 57}

    # Another person of the school, another phone, another language: same question.
    deputy = county.user("deputy:S001")
    resumed = await start(county, deputy, round_.id, "Full-time teachers")
    assert "Welcome back" in (resumed.plain or "") and "3/18" in (resumed.plain or "")
    await deputy.send("52")
    await deputy.wait_for("postgraduate")
    assert (await working(county))[("full_time_teachers", 0)] == 52


async def test_back_keep_skip_and_last_periods_value(county: County) -> None:
    form = staffing()
    last_year = await county.open_round(period="2025", days=1)
    school = county.roster.schools["S001"]
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(session, last_year, school.id, now=utcnow())
        from tests.report.test_round_service import GOOD

        await save_answers(session, sub.id, form, GOOD, by=None, now=utcnow())
        rsch = await get_round_school(session, last_year.id, school.id)
        await submit(
            session, sub, last_year, rsch, form, school_context(school), by=None, now=utcnow()
        )
    this_year = await county.open_round(period="2026")
    user = county.user("principal:S001")
    first = await start(county, user, this_year.id, "核定编制数")
    assert "上期数据：60人" in (first.plain or "")
    await user.press(first, "沿用上期：60人")
    await user.wait_for("在编教职工数")
    await user.send("58")
    third = await user.wait_for("专任教师数")
    # Back shows the stored answer with a one-tap keep; keeping goes to the next one.
    await user.press(third, "上一题")
    back = await user.wait_for("当前答案：58人")
    await user.press(back, "保留 58人")
    again = await user.wait_for("专任教师数")
    assert "3/18" in (again.plain or "")
    # A required question has no skip; a forged skip is refused.
    assert "跳过" not in str(again.buttons())
    _rp, _b, sub_id, token = again.buttons()[-1][0][1].split(":")  # the Back button
    await user.press_data(again, f"rp:s:{sub_id}:{token}")
    refused = await user.wait_for_answer()
    assert refused.show_alert and "不能跳过" in (refused.text or "")
    # A button of an earlier question is stale: refused, and the current one shown.
    await user.press_data(first, first.buttons()[0][0][1])
    stale = await user.wait_for_answer()
    assert stale.show_alert and "之前的问题" in (stale.text or "")
    assert (await working(county, this_year.id)) == {
        ("authorized_posts", 0): 60,
        ("on_payroll", 0): 58,
    }


async def test_forged_and_foreign_buttons_are_refused(county: County) -> None:
    round_ = await county.open_round(districts=["城关学区"])
    own = county.user("principal:S001")
    question = await start(county, own, round_.id, "核定编制数")
    await own.send("60")
    await own.wait_for("在编教职工数")
    # Malformed data.
    await own.press_data(question, "rp:zz")
    assert (await own.wait_for_answer()).show_alert
    await own.press_data(question, "rp:k:999:abc")
    assert (await own.wait_for_answer()).show_alert
    # A principal of another school pressing this school's buttons.
    other = county.user("principal:S002")
    sub_id = int(question.buttons()[-1][0][1].split(":")[2])
    mine = await start(county, other, round_.id, "核定编制数")
    await other.press_data(mine, f"rp:r:{sub_id}")
    refused = await other.wait_for_answer()
    assert refused.show_alert and "不属于您的学校" in (refused.text or "")
    # A school that is not expected in the round.
    outsider = county.user("principal:S003")
    await outsider.send("/report")
    await outsider.wait_for("目前没有需要贵校填写的报表")
    await outsider.press_data(await outsider.wait_for("报表"), f"rp:o:{round_.id}")
    assert "不属于您的学校" in ((await outsider.wait_for_answer()).text or "")
    # Staff are not school contacts (the menu's guard refuses, as for every command).
    staff = county.user("staff")
    await staff.send("/report")
    await staff.wait_for("仅供校长和副校长")
    # And principals cannot manage rounds.
    await own.send("/round")
    await own.wait_for("仅供教育局工作人员")
    assert await working(county) == {("authorized_posts", 0): 60}


async def test_a_redelivered_answer_is_not_stored_twice(county: County) -> None:
    """After a crash Telegram delivers the last update again; it must not answer the
    next question too."""
    round_ = await county.open_round()
    user = county.user("principal:S001")
    await start(county, user, round_.id, "核定编制数")
    await user.send("60")
    await user.wait_for("在编教职工数")
    sent = max(user._chat.user_messages)  # the raw message just sent
    county.tg.enqueue_update({"message": user._chat.user_messages[sent]})
    repeated = await user.wait_for("在编教职工数", after=user.mark())
    assert "2/18" in (repeated.plain or "")
    assert await working(county) == {("authorized_posts", 0): 60}


async def test_closing_early_refuses_and_extending_reopens(county: County) -> None:
    round_ = await county.open_round()
    user = county.user("principal:S001")
    question = await start(county, user, round_.id, "核定编制数")
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), f"rd:v:{round_.id}")
    view = await staff.wait_for("应报学校：4 所")
    assert "填报中：1" in (view.plain or "")
    await staff.press(view, "提前结束")
    await staff.press(await staff.wait_for("现在结束本轮填报"), "确认结束")
    closed = await staff.wait_for("已结束")
    await user.send("60")
    refusal = await user.wait_for("无法再在这里修改")
    assert "人事科王科长" in (refusal.plain or "")
    assert await working(county) == {}
    # Extending reopens it; the principal picks up where they were.
    await staff.press(closed, "返回本轮")
    await staff.press(await staff.wait_for("应报学校"), "延期 3 天")
    await staff.press(await staff.wait_for("修改截止时间？"), "确认")
    await staff.wait_for("进行中")
    await start(county, user, round_.id, "核定编制数")
    del question
    async with county.sessionmaker() as session:
        pointer = (await session.execute(select(Conversation))).scalars().all()
    assert [p.person_id for p in pointer] == [county.roster.people["principal:S001"].id]


async def test_round_set_up_by_typing_and_unlock_by_school_code(county: County) -> None:
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), "发起新一轮填报")
    await staff.press(await staff.wait_for("请选择报表"), "教师培训完成情况")
    await staff.wait_for("哪个时期")
    await staff.send("2026 秋季学期")
    await staff.wait_for("截止时间是")
    await staff.send("2020-01-01")
    await staff.wait_for("已经过去")
    when = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%d")
    await staff.send(when)
    audience = await staff.wait_for("哪些学校需要填报")
    await staff.press(audience, "高中")
    ticked = await staff.wait_for(lambda m: "✅ 高中" in str(m.buttons()))
    await staff.press(ticked, "下一步")
    confirm = await staff.wait_for("确认发起本轮填报")
    due = datetime.combine(date.fromisoformat(when), time(23, 59), tzinfo=BUREAU_TZ)
    assert f"截止时间：{show(due, BUREAU_TZ, 'full', 'zh_CN', utcnow())}" in (confirm.plain or "")
    assert "高中（1 所）" in (confirm.plain or "")
    await staff.press(confirm, "发起填报")
    await staff.wait_for("已送达：1 / 1")
    senior = county.user("principal:S004")
    await senior.wait_for("教师培训完成情况", after=0)
    # Unlock by typing a school code.
    await staff.send("/round")
    listing = await staff.wait_for("填报轮次")
    round_button = next(b[1] for row in listing.buttons() for b in row if b[1].startswith("rd:v:"))
    await staff.press(listing, round_button)
    await staff.press(await staff.wait_for("应报学校"), "为学校解锁")
    await staff.wait_for("允许哪所学校再提交一次")
    await staff.send("S999")
    await staff.wait_for("没有这个代码")
    await staff.send("S004")
    await staff.wait_for("河西高级中学可在")


async def test_a_sum_rule_speaks_after_the_last_of_its_figures(county: County) -> None:
    """名师、骨干教师年度考核: the four results must add up to the teachers assessed; the
    ❌ comes once all four are given, not after each of the first three."""
    round_ = await county.open_round("key_teacher_assessment", period="2026")
    user = county.user("principal:S001")
    await start(county, user, round_.id, "参加年度考核的名师、骨干教师人数")
    replies = []
    for answer, next_question in (
        ("10", "考核结果：优秀"),
        ("3", "考核结果：合格"),
        ("5", "考核结果：基本合格"),
        ("1", "考核结果：不合格"),
    ):
        await user.send(answer)
        replies.append(await user.wait_for(next_question))  # a reply to this answer
    assert not any("❌" in (r.plain or "") for r in replies)
    await user.send("0")
    wrong = await user.wait_for("❌")
    assert "四项之和应等于参加考核人数（10人）" in (wrong.plain or "")
    assert "脱离教学一线" in (wrong.plain or "")  # and the next question follows
