"""The scheduler's tick with a controlled clock: who is reminded, when, and only once."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import create_engine, create_sessionmaker, transaction
from models.followup.reminders import ReminderLog, RoundSlot, set_round_policy
from models.rounds import Round
from models.rounds.lifecycle import open_round
from scheduler.tick import Ticker
from tests.schedule.conftest import (
    ROOT,
    County,
    Outbox,
    form,
    local,
    open_round_at,
    start_draft,
    submit,
)

MINUTE = timedelta(minutes=1)


def slot_of(purpose: str) -> str:
    """The slot of a reminder's purpose, reminder:<round>:<slot>."""
    return purpose.split(":", 2)[2]


async def test_each_slot_fires_once_at_its_bureau_time(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        round_ = await open_round_at(
            session, "2026-11-04 10:00", "2026-11-20 17:00", grace_minutes=120
        )
        await start_draft(session, round_, county.schools["S003"])

    principals = {5001, 5011, 5002, 5003}  # S004 has nobody to tell
    expected = [
        ("2026-11-04 10:00", "open", principals),
        ("2026-11-09 09:00", "weekly:2026-11-09", principals),
        ("2026-11-16 09:00", "weekly:2026-11-16", {5001, 5011, 5003}),
        ("2026-11-17 09:00", "before:3:2026-11-17", {5001, 5011, 5003}),
        ("2026-11-17 17:00", "summary:2026-11-17", {7001, 6001}),
        ("2026-11-18 17:00", "summary:2026-11-18", {7001, 6001}),
        ("2026-11-19 09:00", "before:1:2026-11-19", {5001, 5011, 5003}),
        ("2026-11-19 17:00", "summary:2026-11-19", {7001, 6001}),
        ("2026-11-20 09:00", "deadline-day:2026-11-20", {5001, 5011, 5003}),
        ("2026-11-20 17:00", "summary-deadline:2026-11-20T17:00", {7001, 6001}),
        # The grace ends at 19:00: overdue notices, and the district officer's list.
        ("2026-11-20 19:00", "overdue:2026-11-20T19:00", {5001, 5011, 5003}),
    ]
    for at, slot, chats in expected:
        if at == "2026-11-16 09:00":
            # S002 submitted last week: it is not reminded any more.
            async with transaction(sessionmaker) as session:
                await submit(session, round_, county.schools["S002"], "2026-11-10 15:00")
        assert (await ticker.run(local(at) - MINUTE)).sent_anything is False, (at, slot)
        await ticker.run(local(at))
        fresh = await outbox.new()
        mine = [q for q in fresh if q.purpose.endswith(slot) or q.purpose.endswith(f":{slot}")]
        assert {q.chat_id for q in mine} == chats, (at, slot, fresh)
        if slot.startswith("overdue"):
            escalations = [q for q in fresh if q.purpose.startswith("escalation:")]
            assert [q.chat_id for q in escalations] == [6001]
            # The officer of 城关学区 hears of their own late school only.
            assert "城关第一小学" in escalations[0].texts[0]
            assert "河西" not in escalations[0].texts[0]
            assert len(fresh) == len(mine) + 1
        else:
            assert fresh == mine
        # A second look at the same moment, or a minute later, sends nothing more.
        assert (await ticker.run(local(at))).sent_anything is False
        assert (await ticker.run(local(at) + MINUTE)).sent_anything is False
    assert (await ticker.run(local("2026-11-28 10:00"))).sent_anything is False

    async with transaction(sessionmaker) as session:
        logs = (await session.execute(select(ReminderLog))).scalars().all()
    s004 = county.schools["S004"].id
    s001 = county.schools["S001"].id
    nobody = {(log.slot, log.outcome) for log in logs if log.school_id == s004}
    assert nobody == {
        (slot, "no_contact")
        for slot in (
            "open",
            "weekly:2026-11-09",
            "weekly:2026-11-16",
            "before:3:2026-11-17",
            "before:1:2026-11-19",
            "deadline-day:2026-11-20",
            "overdue:2026-11-20T19:00",
            "escalation:2026-11-20T19:00",  # 河西学区 has no district officer
        )
    }
    s001_open = next(log for log in logs if log.school_id == s001 and log.slot == "open")
    assert json.loads(s001_open.people) == sorted(
        [county.people["principal:S001"].id, county.people["deputy:S001"].id]
    )


async def test_reminder_lists_every_pending_report_in_the_persons_language(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        staffing = await open_round_at(session, "2026-11-02 10:00", "2026-11-27 17:00")
        training = await open_round_at(
            session,
            "2026-11-02 11:00",
            "2026-11-20 17:00",
            code="training",
            period="2026-autumn",
        )
        await submit(session, training, county.schools["S002"], "2026-11-03 09:00")
    await ticker.run(local("2026-11-02 12:00"))
    (await outbox.new())
    # 3 days before the training deadline: one message per person, both reports in it.
    await ticker.run(local("2026-11-17 09:00"))
    fresh = {q.chat_id: q for q in (await outbox.new())}
    assert set(fresh) == {5001, 5011, 5003}  # S002 owes only staffing, whose slot it is not
    chinese, english = fresh[5001], fresh[5011]
    assert [data for _, data in chinese.buttons] == [
        f"rp:o:{training.id}",
        f"rp:o:{staffing.id}",
    ]
    assert "2026年秋季学期" in chinese.texts[0] and "编制与师资配备" in chinese.texts[0]
    assert "2026 autumn term" in english.texts[0] and "Staffing and teachers" in english.texts[0]
    assert "Reminder" in english.texts[0]
    assert "11月20日（周五）17:00" in chinese.texts[0]


async def test_quiet_hours_defer_a_reminder_to_their_end(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        # Opened at 22:00: principals are told at 08:00 the next morning, not at night.
        await open_round_at(session, "2026-11-02 22:00", "2026-11-13 23:00")
    assert (await ticker.run(local("2026-11-02 22:00"))).reminders == 0
    assert (await ticker.run(local("2026-11-03 07:59"))).reminders == 0
    assert (await ticker.run(local("2026-11-03 08:00"))).reminders == 4
    (await outbox.new())
    # Deadline 23:00: the overdue notice waits for 08:00 too.
    await ticker.run(local("2026-11-13 23:00"))
    assert not [q for q in (await outbox.new()) if ":overdue:" in q.purpose]
    await ticker.run(local("2026-11-14 08:00"))
    overdue = [q for q in (await outbox.new()) if ":overdue:" in q.purpose]
    assert {q.chat_id for q in overdue} == {5001, 5011, 5002, 5003}
    assert "deadline has passed" in next(q for q in overdue if q.chat_id == 5011).texts[0]


async def test_a_missed_slot_within_the_grace_is_sent_at_start(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00")
    await ticker.run(local("2026-11-04 10:00"))
    (await outbox.new())
    # The bot was down from Sunday until Monday 14:55: the 09:00 reminder is 5 h 55 late.
    result = await ticker.run(local("2026-11-09 14:55"))
    assert result.missed == []
    assert {slot_of(q.purpose) for q in (await outbox.new())} == {"weekly:2026-11-09"}
    assert result.reminders == 4


async def test_a_missed_slot_beyond_the_grace_is_skipped_and_logged(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with transaction(sessionmaker) as session:
        round_ = await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00")
    await ticker.run(local("2026-11-04 10:00"))
    (await outbox.new())
    with caplog.at_level(logging.WARNING, logger="huibao.scheduler"):
        result = await ticker.run(local("2026-11-09 15:01"))
    assert result.reminders == 0 and (await outbox.new()) == []
    assert result.missed == [f"round {round_.id} weekly:2026-11-09"]
    assert any(r.getMessage() == "slot missed: skipped" for r in caplog.records)
    async with transaction(sessionmaker) as session:
        slot = await session.get(RoundSlot, (round_.id, "weekly:2026-11-09"))
    assert slot is not None and slot.outcome == "missed"
    # Never reconsidered: the next tick neither sends it nor logs it again.
    again = await ticker.run(local("2026-11-09 15:02"))
    assert again.missed == [] and again.reminders == 0


async def test_two_scheduler_starts_send_once(
    db_url: str,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00", grace_minutes=60)
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        first, second = (
            Ticker(settings, create_sessionmaker(e), forms_dir=ROOT / "forms") for e in engines
        )
        moments = ["2026-11-04 10:00", "2026-11-17 09:00", "2026-11-20 17:00", "2026-11-20 18:00"]
        for at in moments:
            if db_url.startswith("postgresql"):
                # Two processes' ticks at the same moment, truly concurrent.
                await asyncio.gather(first.run(local(at)), second.run(local(at)))
            else:
                # SQLite is one process; a restart runs the tick again.
                await first.run(local(at))
                await second.run(local(at))
    finally:
        for engine in engines:
            await engine.dispose()
    rows = await outbox.all()
    keys = [(q.purpose, q.chat_id) for q in rows]
    assert len(keys) == len(set(keys))
    per_slot: dict[str, set[int]] = {}
    for q in rows:
        if q.purpose.startswith("reminder:"):
            per_slot.setdefault(slot_of(q.purpose), set()).add(q.chat_id)
    assert per_slot["open"] == {5001, 5011, 5002, 5003}
    assert per_slot["before:3:2026-11-17"] == {5001, 5011, 5002, 5003}
    assert per_slot["overdue:2026-11-20T18:00"] == {5001, 5011, 5002, 5003}
    async with transaction(sessionmaker) as session:
        logs = (await session.execute(select(ReminderLog.slot, ReminderLog.school_id))).all()
    assert len(logs) == len(set(logs))


async def test_round_policy_overrides_the_settings(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        round_ = await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00")
        await set_round_policy(
            session, round_.id, {"on_open": False, "weekly_day": "off", "days_before": [2]}
        )
    assert (await ticker.run(local("2026-11-17 09:00"))).reminders == 0
    assert (await ticker.run(local("2026-11-18 09:00"))).reminders == 4
    assert {slot_of(q.purpose) for q in (await outbox.new())} == {"before:2:2026-11-18"}


async def test_an_extended_deadline_brings_its_own_reminders(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        round_ = await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00")
    await ticker.run(local("2026-11-04 10:00"))
    await ticker.run(local("2026-11-19 09:00"))
    assert {
        slot_of(q.purpose) for q in (await outbox.new()) if q.purpose.startswith("reminder:")
    } == {
        "open",
        "before:1:2026-11-19",
    }
    # Staff move the deadline a week on: its "1 day before" goes out again, once.
    async with transaction(sessionmaker) as session:
        stored = await session.get(Round, round_.id)
        assert stored is not None
        stored.deadline = local("2026-11-27 17:00")
    assert (await ticker.run(local("2026-11-20 19:00"))).reminders == 0  # no overdue now
    await ticker.run(local("2026-11-26 09:00"))
    await ticker.run(local("2026-11-26 09:01"))
    assert {slot_of(q.purpose) for q in (await outbox.new())} == {"before:1:2026-11-26"}


async def test_a_round_opened_by_hand_is_not_announced_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    # Staff opened it in chat (or with `huibao rounds open`), which announced it already.
    async with transaction(sessionmaker) as session:
        await open_round(
            session,
            form=form("staffing"),
            period="2026",
            deadline=local("2026-11-20 17:00"),
            now=local("2026-11-04 10:00"),
        )
    assert (await ticker.run(local("2026-11-04 10:00"))).reminders == 0
    # Its reminders still come.
    assert (await ticker.run(local("2026-11-09 09:00"))).reminders == 4
    assert {slot_of(q.purpose) for q in (await outbox.new())} == {"weekly:2026-11-09"}
