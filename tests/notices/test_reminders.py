"""Reminders to those who have not acknowledged: the staff button (once per press), the
automatic one (once, after the delay, never in quiet hours, rebuilt after a restart)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config.settings import load_settings
from handlers.notices import reminder_due
from models.base import utcnow
from models.clock import after_quiet_hours, in_quiet_hours
from models.db import transaction
from models.notices import Notice
from models.outbox import Delivery
from tests.double import BotApiDouble, FakeUser, SentMessage
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, make_staff, post_notice

STAFF_ID = 900
SHANGHAI = ZoneInfo("Asia/Shanghai")


def reminder(message: SentMessage) -> bool:
    return "提醒" in (message.plain or "")


async def deliver(bot_running: Any, users: list[FakeUser]) -> list[SentMessage]:
    bot_running.services.outbox.wake()
    return [await u.wait_for(lambda m: "通知" in (m.plain or ""), after=0) for u in users]


async def test_staff_remind_those_who_have_not_acknowledged(
    bot: Any, sessionmaker: Sessions
) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 3, districts=1)
        staff = await make_staff(session, STAFF_ID)
        await post_notice(session, author=staff, language="en")
    def prepare(tg: BotApiDouble) -> None:
        tg.user(STAFF_ID, "王科长", language_code="en")
        for tid in roster.telegram_ids:
            tg.user(tid)

    async with bot(prepare) as running:
        tg = running.tg
        staff_user = tg.user(STAFF_ID)
        users = [tg.user(tid) for tid in roster.telegram_ids]
        notices = await deliver(running, users)
        await users[0].press(notices[0], "已阅")
        await users[0].wait_for_answer()
        await staff_user.wait_for("finished", after=0)

        await staff_user.send("/notices")
        listing = await staff_user.wait_for("Recent notices")
        assert "acknowledged 1 of 3" in (listing.plain or "")
        await staff_user.press(listing, "#1")
        view = await staff_user.wait_for("Acknowledged: 1 of 3")
        await staff_user.press(view, "Remind those who have not (2)")
        assert "2 people" in ((await staff_user.wait_for_answer()).text or "")
        for user, original in zip(users[1:], notices[1:], strict=True):
            sent = await user.wait_for(reminder)
            # It points at the notice itself and carries the button again.
            assert sent.reply_to_message and sent.reply_to_message["message_id"] == (
                original.message_id
            )
            assert sent.buttons()[0][0][1] == "nack:1"
        assert not any(reminder(m) for m in users[0].messages())
        # The same button again (two staff looking at the same screen): sent once only.
        update_id = await staff_user.press_data(view, "nr:1:1")
        assert "already" in ((await tg.wait_for_callback_answer(update_id)).text or "")
        await users[1].press(await users[1].wait_for(reminder, after=0), "已阅")
        await users[1].wait_for_answer()
    for user in users[1:]:
        assert sum(1 for m in tg.messages_to(user.id) if reminder(m)) == 1
    async with sessionmaker() as session:
        notice = (await session.execute(select(Notice))).scalar_one()
        assert notice.reminders_sent == 1


async def test_the_automatic_reminder_goes_once_and_survives_a_restart(
    bot: Any, sessionmaker: Sessions
) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 2, districts=1)
        await post_notice(session, reminder_due=utcnow() + timedelta(seconds=2))
    # The reminder goes on the scheduler's tick: tick often enough for the wait below.
    env = {"HUIBAO_QUIET_HOURS__ENABLED": "false", "HUIBAO_SCHEDULER__TICK_SECONDS": "5"}
    async with bot(lambda tg: [tg.user(tid) for tid in roster.telegram_ids], **env) as running:
        users = [running.tg.user(tid) for tid in roster.telegram_ids]
        notices = await deliver(running, users)
        await users[0].press(notices[0], "已阅")
        await users[0].wait_for_answer()
        sent = await users[1].wait_for(reminder, timeout=10)
        assert "请阅读" in (sent.plain or "")
        await users[0].expect_silence(0.5, after=users[0].mark())
    # A restart rebuilds the jobs from the database: the reminder that went does not repeat.
    async with bot(**env) as running:
        await running.tg.user(roster.telegram_ids[1]).expect_silence(2.0, after=0)
    async with sessionmaker() as session:
        notice = (await session.execute(select(Notice))).scalar_one()
        assert notice.auto_reminded_at is not None
        count = len(
            (await session.execute(select(Delivery).where(Delivery.purpose == "notice:1:auto")))
            .scalars()
            .all()
        )
    assert count == 1


async def test_a_reminder_due_in_quiet_hours_waits_for_their_end(
    bot: Any, sessionmaker: Sessions
) -> None:
    """The job is rebuilt at start with a due time that has passed; it is night now (quiet
    hours set around the current time), so it moves to the end of the quiet hours."""
    local = datetime.now(SHANGHAI)
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 1, districts=1)
        await post_notice(session, reminder_due=utcnow() - timedelta(minutes=5))
    env = {
        "HUIBAO_QUIET_HOURS__START": start.isoformat(),
        "HUIBAO_QUIET_HOURS__END": end.isoformat(),
    }
    async with bot(lambda tg: tg.user(roster.telegram_ids[0]), **env) as running:
        user = running.tg.user(roster.telegram_ids[0])
        await deliver(running, [user])
        await user.expect_silence(2.5, after=user.mark())
    async with sessionmaker() as session:
        notice = (await session.execute(select(Notice))).scalar_one()
    assert notice.auto_reminded_at is None
    assert notice.auto_reminder_due is not None
    due_local = notice.auto_reminder_due.astimezone(SHANGHAI)
    assert due_local.time().replace(second=0, microsecond=0) == end
    assert due_local > local


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-25 14:00", "2026-11-25 14:00"),  # daytime: as it is
        ("2026-11-25 21:30", "2026-11-26 08:00"),  # evening: next morning
        ("2026-11-26 02:00", "2026-11-26 08:00"),  # after midnight: this morning
        ("2026-11-26 08:00", "2026-11-26 08:00"),  # the end itself is allowed
    ],
)
def test_after_quiet_hours(local: str, expected: str) -> None:
    at = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    moved = after_quiet_hours(at, SHANGHAI, time(21), time(8))
    assert moved.tzinfo is UTC
    assert moved.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == expected


def test_quiet_hours_within_one_day_and_switched_off() -> None:
    assert in_quiet_hours(time(13), time(12), time(14))
    assert not in_quiet_hours(time(15), time(12), time(14))
    assert not in_quiet_hours(time(3), time(8), time(8))
    at = datetime(2026, 11, 25, 22, tzinfo=SHANGHAI)
    assert after_quiet_hours(at, SHANGHAI, time(21), time(8), enabled=False) == at


def test_reminder_due_counts_the_delay_and_respects_quiet_hours() -> None:
    settings = load_settings(environ={"HUIBAO_NOTICES__ACK_REMINDER_DELAY_HOURS": "24"})
    sent = datetime(2026, 11, 24, 22, 30, tzinfo=SHANGHAI)  # sent late in the evening
    due = reminder_due(sent, settings)
    assert due is not None
    assert due.astimezone(SHANGHAI) == datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)
    off = load_settings(environ={"HUIBAO_NOTICES__ACK_REMINDER_DELAY_HOURS": "0"})
    assert reminder_due(sent, off) is None
