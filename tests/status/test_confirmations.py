"""Actions on a round that reach schools ask first and say exactly what will happen
(issue 11): moving the deadline (+N days or typed), closing early, "remind these now".
The confirmation carries what it showed, so a repeated or stale one changes nothing and
says so; pressing the first button again and again (a digit typed in the console) changes
nothing. And what a reminder or an escalation could not reach is said, apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.roster.tables import Role
from models.rounds import Round
from tests.double import BotApiDouble, FakeUser, SentMessage
from tests.status.factories import Factory, real_form
from texts.reminders import escalation_message
from texts.when import show

STAFF_ZH, STAFF_EN, PRINCIPAL_A, DEPUTY_A, PRINCIPAL_B, PRINCIPAL_W = 701, 702, 711, 712, 713, 714
TZ = ZoneInfo("Asia/Shanghai")  # the bureau's, as configured by default


def _t(message: SentMessage) -> str:
    return message.plain or ""


def _labels(message: SentMessage) -> list[str]:
    return [label for row in message.buttons() for label, _ in row]


async def _world(session: AsyncSession, deadline: datetime, grace: int = 0) -> dict[str, int]:
    """东城学区: A (principal and deputy), B (principal), C (nobody connected); 西城学区:
    W (principal). Nobody has submitted."""
    f = Factory(session)
    east, west = await f.district("东城学区"), await f.district("西城学区")
    a = await f.school(east, "实验小学", code="E01")
    b = await f.school(east, "第一中学", "junior", code="E02")
    c = await f.school(east, "河口教学点", "teaching_point", code="E03")
    w = await f.school(west, "光明小学", code="W01")
    await f.person(Role.STAFF, "人事科李", telegram_id=STAFF_ZH)
    await f.person(Role.STAFF, "Clerk Wang", telegram_id=STAFF_EN, language="en")
    await f.person(Role.PRINCIPAL, "王校长", school=a, telegram_id=PRINCIPAL_A)
    await f.person(Role.DEPUTY, "刘副校长", school=a, telegram_id=DEPUTY_A)
    await f.person(Role.PRINCIPAL, "赵校长", school=b, telegram_id=PRINCIPAL_B)
    await f.person(Role.PRINCIPAL, "钱校长", school=w, telegram_id=PRINCIPAL_W)
    rnd = await f.round(
        real_form("staffing"), [a, b, c, w], deadline=deadline, grace_minutes=grace
    )
    return {"round": rnd.id, "east": east.id, "west": west.id}


@pytest.fixture
async def future(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    deadline = (utcnow() + timedelta(days=10)).replace(second=0, microsecond=0)
    async with sessionmaker() as session, session.begin():
        return await _world(session, deadline)


async def _deadline(sessionmaker: async_sessionmaker[AsyncSession], round_id: int) -> datetime:
    async with sessionmaker() as session:
        return (await session.get_one(Round, round_id)).deadline


async def _round_view(user: FakeUser, round_id: int) -> SentMessage:
    await user.send("/round")
    listing = await user.wait_for(lambda m: bool(m.buttons()))
    await user.press_data(listing, f"rd:v:{round_id}")
    return await user.wait_for(lambda m: f"rd:e:{round_id}:1" in str(m.buttons()))


async def test_extending_asks_first_and_a_second_confirm_changes_nothing_zh(
    status_bot: BotApiDouble,
    future: dict[str, int],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rid = future["round"]
    staff = status_bot.user(STAFF_ZH)
    principal = status_bot.user(PRINCIPAL_A)
    old = await _deadline(sessionmaker, rid)
    view = await _round_view(staff, rid)
    await staff.press(view, "延期 3 天")
    question = await staff.wait_for("修改截止时间？")
    text = _t(question)
    new = old + timedelta(days=3)
    assert f"截止时间将从 {show(old, TZ)} 改为 {show(new, TZ)}。" in text
    # E01 (2 people), E02 and W01 (1 each) are told; E03 has nobody connected.
    assert "将通知尚未提交的 3 所学校（4 人）。" in text
    assert "另有 1 所学校尚无人接入，收不到通知。" in text
    assert _labels(question) == ["取消", "确认"]
    assert await _deadline(sessionmaker, rid) == old
    await principal.expect_silence(within=0.3, after=0)

    await staff.press(question, "确认")
    done = await staff.wait_for("正在通知尚未提交的 3 所学校（共 4 人）。")
    assert _labels(done) == ["⬅ 返回本轮"]  # nothing there for a stray digit to change
    assert await _deadline(sessionmaker, rid) == new
    await principal.wait_for("调整了", after=0, timeout=10)
    seen = principal.mark()

    # The same confirmation again (a double tap, an old message): nothing moves.
    confirm = f"rd:eY:{rid}:{int(old.timestamp() // 60)}:{int(new.timestamp() // 60)}"
    await staff.press_data(question, confirm)
    again = await staff.wait_for("本次未作更改")
    assert f"截止时间在此之后已经改过（现为 {show(new, TZ)}）" in _t(again)
    assert await _deadline(sessionmaker, rid) == new
    await principal.expect_silence(within=1.0, after=seen)


async def test_digits_typed_in_a_row_change_nothing(
    status_bot: BotApiDouble,
    future: dict[str, int],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The console presses button N of the latest message with buttons: "1" typed again
    and again asks, cancels, asks, cancels, and never moves the deadline."""
    rid = future["round"]
    staff = status_bot.user(STAFF_ZH)
    old = await _deadline(sessionmaker, rid)
    await _round_view(staff, rid)
    for _ in range(4):
        latest = next(m for m in reversed(staff.messages()) if m.buttons())
        [(_label, data), *_rest] = [b for row in latest.buttons() for b in row]
        await staff.press_data(latest, data or "")
        await staff.wait_for_answer()
        shown = latest.message_id
        await staff.wait_for(lambda m, shown=shown: m.message_id == shown and m.edited)
    assert await _deadline(sessionmaker, rid) == old


async def test_a_typed_deadline_and_closing_early_ask_first_en(
    status_bot: BotApiDouble,
    future: dict[str, int],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rid = future["round"]
    staff = status_bot.user(STAFF_EN, language_code="en")
    old = await _deadline(sessionmaker, rid)
    view = await _round_view(staff, rid)
    await staff.press(view, "Type a new deadline")
    await staff.wait_for("Type the new deadline")
    typed = old.astimezone(TZ) + timedelta(days=20)
    await staff.send(typed.strftime("%Y-%m-%d %H:%M"))
    question = await staff.wait_for("Change the deadline?")
    assert f"The deadline will move from {show(old, TZ)} to {show(typed, TZ)}." in _t(question)
    assert "The 3 schools that have not submitted will be told (4 people)." in _t(question)
    assert "1 more school has nobody connected and will not hear of it." in _t(question)
    await staff.press(question, "Cancel")
    back = await staff.wait_for(lambda m: m.edited and "Schools expected" in _t(m))
    assert await _deadline(sessionmaker, rid) == old

    await staff.press(back, "Close early")
    close = await staff.wait_for("Close this round now?")
    assert "The 3 schools that have not submitted will be told (4 people)." in _t(close)
    assert _labels(close) == ["Cancel", "⏹ Yes, close it now"]
    await staff.press(close, "Yes, close it now")
    await staff.wait_for("Telling the 3 schools that have not submitted (4 people).")
    await staff.press_data(close, f"rd:C:{rid}")  # again
    assert "already closed" in ((await staff.wait_for_answer()).text or "")


async def test_remind_says_who_cannot_be_reached_and_that_schools_are_overdue_zh(
    status_bot: BotApiDouble, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session, session.begin():
        # The deadline passed two hours ago; the grace keeps entry open for three days.
        ids = await _world(session, utcnow() - timedelta(hours=2), grace=3 * 24 * 60)
    staff = status_bot.user(STAFF_ZH)
    await staff.send("/status")
    listing = await staff.wait_for(lambda m: bool(m.buttons()))
    await staff.press_data(listing, f"st:m:{ids['round']}:{ids['west']}")
    question = await staff.wait_for("发送催报通知？")
    assert "截止时间已过。向西城学区逾期未报的 1 所学校（1 人）发送催报通知？" in _t(question)
    assert _labels(question) == ["取消", "确认"]
    await staff.press(question, "确认")
    done = await staff.wait_for("已向 1 所逾期未报的学校发送催报通知（1 人）：")
    assert "• 光明小学" in _t(done)
    # The school hears the overdue reminder's own words (texts.reminders).
    await status_bot.user(PRINCIPAL_W).wait_for("截止时间已过", timeout=10)

    # 东城学区: E03 has nobody connected; its first press must not say "reminded a
    # moment ago", but name it as the school to phone.
    await staff.press_data(listing, f"st:m:{ids['round']}:{ids['east']}")
    question = await staff.wait_for("逾期未报的 3 所学校（3 人）")
    assert "以下 1 所学校无人接入（或已屏蔽机器人），无法提醒，请电话联系：" in _t(question)
    assert "• 河口教学点" in _t(question)
    await staff.press(question, "确认")
    done = await staff.wait_for("已向 2 所逾期未报的学校发送催报通知（3 人）：")
    assert "• 河口教学点" in _t(done).split("请电话联系：")[1]
    assert "分钟内已提醒过" not in _t(done)


@pytest.mark.parametrize(
    ("language", "reached", "phone"),
    [
        ("zh_CN", "已向以上学校的校长或副校长发送逾期通知。",
         "以下 1 所学校无人接入（或已屏蔽机器人），未能收到逾期通知，请电话联系："),
        ("en", "Their principals or deputies have been sent an overdue notice.",
         "At 1 school nobody is connected to the bot (or they blocked it), so nobody there "
         "was told. Please phone it:"),
    ],
)
def test_escalation_lists_apart_the_schools_nobody_could_tell(
    language: str, reached: str, phone: str
) -> None:
    message = escalation_message(
        language=language,
        district="城关学区",
        titles={"zh": "编制与师资配备", "en": "Staffing"},
        period="2026",
        deadline=datetime(2026, 11, 20, 9, tzinfo=UTC),
        schools=["城关第一小学", "城关第二小学"],
        unreached=["河口教学点"],
        tz=TZ,
    )
    text = message.text or ""
    head, tail = text.split(phone)
    assert ("Schools (3):" if language == "en" else "共 3 所") in head
    assert "城关第一小学" in head and "城关第二小学" in head and reached in head
    assert tail.strip() == "• 河口教学点"


async def test_remind_where_nobody_can_be_reached_offers_nothing_to_confirm_en(
    status_bot: BotApiDouble, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The first press used to answer "reminded a moment ago" when nobody was reachable."""
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        north = await f.district("北山学区")
        school = await f.school(north, "北山教学点", "teaching_point", code="N01")
        await f.person(Role.PRINCIPAL, "孙校长", school=school, reachable=False)
        await f.person(Role.STAFF, "Clerk Wang", telegram_id=STAFF_EN, language="en")
        deadline = utcnow() + timedelta(days=5)
        rnd = await f.round(real_form("staffing"), [school], deadline=deadline)
    staff = status_bot.user(STAFF_EN, language_code="en")
    await staff.send("/status")
    listing = await staff.wait_for(lambda m: bool(m.buttons()))
    await staff.press_data(listing, f"st:m:{rnd.id}:{north.id}")
    answer = await staff.wait_for("Nobody at these schools can be reminded.")
    assert "1 school cannot be reminded" in _t(answer) and "Please phone it:" in _t(answer)
    assert "• 北山教学点" in _t(answer)
    assert "moment ago" not in _t(answer) and "minutes ago" not in _t(answer)
    assert _labels(answer) == ["« Back"]
