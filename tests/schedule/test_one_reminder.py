"""A school is chased in one voice: the scheduled reminder and the "remind these now" of
/status are written by one builder (texts.reminders), so for the same round and school
they say the same thing; after the deadline both say the report is overdue. In zh_CN
(S001's principal, S002, S003) and en (S001's deputy)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from handlers.status import reminder_for
from models.db import transaction
from models.followup.completeness import school_statuses
from models.followup.remind_now import remind_now
from models.followup.reminders import set_round_policy
from models.roster.tables import Person
from models.rounds import Round
from models.rounds.lifecycle import open_round
from scheduler.tick import Ticker
from tests.schedule.conftest import County, Outbox, Queued, form, local, start_draft

ZH, EN = 5001, 5011  # S001's principal and its English-speaking deputy


async def _open(
    sessionmaker: async_sessionmaker[AsyncSession], county: County, *, lock_days: int = 0
) -> int:
    async with transaction(sessionmaker) as session:
        deadline = local("2026-11-20 17:00")
        round_ = await open_round(
            session,
            form=form(),
            period="2026",
            deadline=deadline,
            grace_minutes=0,
            lock_at=deadline + timedelta(days=lock_days) if lock_days else None,
            now=local("2026-11-02 10:00"),
        )
        await set_round_policy(session, round_.id, {})
        # S001 has begun (a draft), the others have not: each is told where it stands.
        await start_draft(session, round_, county.schools["S001"])
        return round_.id


async def _tap_remind_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    county: County,
    round_id: int,
    now: datetime,
) -> None:
    """What the "remind these now" button does, for every district at once."""
    async with transaction(sessionmaker) as session:
        rnd = await session.get_one(Round, round_id)
        staff = await session.get_one(Person, county.people["staff"].id)
        missing = await school_statuses(session, rnd.id, None, now, only_missing=True)
        message_for = await reminder_for(session, rnd, missing, now, settings)
        await remind_now(session, rnd, None, missing, staff, now, message_for)


def _by_chat(queued: list[Queued], prefix: str) -> dict[int, tuple[tuple[str, ...], object]]:
    return {q.chat_id: (q.texts, q.buttons) for q in queued if q.purpose.startswith(prefix)}


async def _both(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    county: County,
    ticker: Ticker,
    outbox: Outbox,
    at: str,
    *,
    lock_days: int = 0,
) -> tuple[int, dict[int, tuple[tuple[str, ...], object]]]:
    """The scheduler's reminder at `at`, then a tap on "remind now" at the same moment:
    the same message to the same people. Returns the round and the messages by chat."""
    round_id = await _open(sessionmaker, county, lock_days=lock_days)
    await ticker.run(local("2026-11-02 12:00"))  # the opening slot, out of the way
    await outbox.new()
    await ticker.run(local(at))
    scheduled = _by_chat(await outbox.new(), "reminder:")
    await _tap_remind_now(sessionmaker, settings, county, round_id, local(at))
    tapped = _by_chat(await outbox.new(), "remind-now:")
    assert set(scheduled) == {ZH, EN, 5002, 5003}
    assert tapped == scheduled
    return round_id, tapped


async def test_scheduled_and_remind_now_say_the_same_before_the_deadline(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    # 3 days before the deadline: the scheduler's "before" slot.
    round_id, sent = await _both(
        sessionmaker, settings, county, ticker, outbox, "2026-11-17 09:00"
    )
    [zh], zh_buttons = sent[ZH]
    [en], en_buttons = sent[EN]
    assert "提醒" in zh and "已开始填写，尚未提交" in zh and "11月20日（周五）17:00" in zh
    assert "Reminder" in en and "started, not yet submitted" in en
    assert "尚未开始" in sent[5002][0][0]  # S002 has not begun
    assert zh_buttons == (("填报：编制与师资配备", f"rp:o:{round_id}"),)
    assert en_buttons == (("Fill in: Staffing and teachers", f"rp:o:{round_id}"),)
    assert "overdue" not in en and "逾期" not in zh


async def test_after_the_deadline_both_say_the_report_is_overdue(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    # Entry stays open three days past the deadline, so both still carry the button.
    _round_id, sent = await _both(
        sessionmaker, settings, county, ticker, outbox, "2026-11-20 17:05", lock_days=3
    )
    [zh], zh_buttons = sent[ZH]
    [en], en_buttons = sent[EN]
    assert "截止时间已过" in zh and "已逾期，请尽快上报" in zh
    assert "The deadline has passed" in en and "overdue, please submit now" in en
    assert zh_buttons and en_buttons
