"""Recurring schedules open each period's round by themselves, once, and tell principals."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import create_engine, create_sessionmaker, transaction
from models.followup.reminders import RoundPolicy
from models.rounds import Round, RoundSchool
from models.rounds.schedules import Schedule, ScheduleOccurrence, add_schedule
from scheduler.tick import Ticker
from tests.schedule.conftest import ROOT, County, Outbox, local, open_round_at


async def weekly(sessionmaker: async_sessionmaker[AsyncSession], **extra: object) -> Schedule:
    values: dict[str, object] = {
        "form_code": "staffing",
        "kind": "weekly",
        "params": {"weekday": "monday"},
        "open_time": time(8, 0),
        "deadline_days": 4,
        "deadline_time": time(17, 0),
        "grace_minutes": 60,
        "lock_days": 2,
        "starts_on": date(2026, 11, 22),
    }
    values.update(extra)
    async with transaction(sessionmaker) as session:
        return await add_schedule(session, **values)  # type: ignore[arg-type]


async def occurrences(sessionmaker: async_sessionmaker[AsyncSession]) -> list[ScheduleOccurrence]:
    async with transaction(sessionmaker) as session:
        return list(
            (
                await session.execute(select(ScheduleOccurrence).order_by(ScheduleOccurrence.id))
            ).scalars()
        )


async def test_a_weekly_schedule_opens_each_week_once_and_principals_are_told(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    schedule = await weekly(sessionmaker, policy={"days_before": [2]}, stages=["primary", "junior"])
    # Sunday 2026-11-22: nothing is open yet... then Monday 07:59, still nothing.
    assert (await ticker.run(local("2026-11-22 20:00"))).opened == []
    assert (await ticker.run(local("2026-11-23 07:59"))).opened == []
    result = await ticker.run(local("2026-11-23 08:00"))
    assert len(result.opened) == 1 and "2026-W48" in result.opened[0]
    async with transaction(sessionmaker) as session:
        round_ = (await session.execute(select(Round))).scalar_one()
        expected = set(
            (
                await session.execute(
                    select(RoundSchool.school_id).where(RoundSchool.round_id == round_.id)
                )
            ).scalars()
        )
        policy = await session.get(RoundPolicy, round_.id)
    assert round_.period == "2026-W48"
    assert round_.deadline == local("2026-11-27 17:00")
    assert round_.grace_minutes == 60
    assert round_.lock_at == local("2026-11-29 17:00")
    # Only the primary and junior schools of the audience are expected.
    assert expected == {county.schools["S001"].id, county.schools["S002"].id}
    assert policy is not None and policy.schedule_id == schedule.id
    # The same tick told their principals (and S001's deputy), and staff that it opened
    # (tests/schedule/test_schedule_speaks.py).
    told = await outbox.new()
    assert {q.chat_id for q in told if q.purpose.startswith("reminder:")} == {5001, 5011, 5002}
    assert [q.chat_id for q in told if q.purpose == f"round:{round_.id}:opened"] == [7001]
    # Looking again opens nothing more, all week long.
    for at in ("2026-11-23 08:00", "2026-11-25 10:00", "2026-11-29 23:00"):
        again = await ticker.run(local(at))
        assert again.opened == []
    # The schedule's own reminder policy applies: 2 days before, not 3.
    reminded = [q.purpose for q in (await outbox.new()) if q.purpose.startswith("reminder:")]
    assert reminded and all(":before:2:" in p for p in reminded)
    # Next Monday, the next week's round.
    nxt = await ticker.run(local("2026-11-30 08:00"))
    assert len(nxt.opened) == 1 and "2026-W49" in nxt.opened[0]
    assert [(o.period, o.outcome) for o in await occurrences(sessionmaker)] == [
        ("2026-W48", "opened"),
        ("2026-W49", "opened"),
    ]


async def test_occurrence_missed_while_down_is_recorded_not_opened(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await weekly(sessionmaker)
    with caplog.at_level(logging.WARNING, logger="huibao.scheduler"):
        # Down from Sunday to Saturday: the week's deadline (Friday 17:00) has passed.
        result = await ticker.run(local("2026-11-28 09:00"))
    assert result.opened == [] and result.missed
    assert [(o.period, o.outcome) for o in await occurrences(sessionmaker)] == [
        ("2026-W48", "missed")
    ]
    assert any(r.getMessage() == "schedule occurrence missed" for r in caplog.records)


async def test_late_start_opens_the_current_period(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    await weekly(sessionmaker)
    result = await ticker.run(local("2026-11-25 10:00"))
    assert len(result.opened) == 1
    async with transaction(sessionmaker) as session:
        round_ = (await session.execute(select(Round))).scalar_one()
    assert round_.opened_at == local("2026-11-25 10:00")
    assert round_.deadline == local("2026-11-27 17:00")


async def test_a_period_opened_by_hand_is_left_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        by_hand = await open_round_at(
            session, "2026-11-22 15:00", "2026-11-26 17:00", period="2026-W48"
        )
    await weekly(sessionmaker)
    result = await ticker.run(local("2026-11-23 08:00"))
    assert result.opened == [] and result.failed == []
    assert [(o.period, o.outcome, o.round_id) for o in await occurrences(sessionmaker)] == [
        ("2026-W48", "exists", by_hand.id)
    ]


async def test_an_audience_without_schools_fails_once_and_is_shown(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    await weekly(sessionmaker, stages=["kindergarten"])
    first = await ticker.run(local("2026-11-23 08:00"))
    assert first.failed == ["staffing 2026-W48"]
    assert (await ticker.run(local("2026-11-23 08:01"))).failed == []
    [occurrence] = await occurrences(sessionmaker)
    assert occurrence.outcome == "failed"
    assert "no active school" in occurrence.detail


async def test_two_schedulers_open_one_round(
    db_url: str,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    outbox: Outbox,
) -> None:
    await weekly(sessionmaker)
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        tickers = [
            Ticker(settings, create_sessionmaker(e), forms_dir=ROOT / "forms") for e in engines
        ]
        now = local("2026-11-23 08:00")
        if db_url.startswith("postgresql"):
            results = await asyncio.gather(*(t.run(now) for t in tickers))
        else:
            results = [await t.run(now) for t in tickers]
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(len(r.opened) for r in results) == 1
    async with transaction(sessionmaker) as session:
        assert len((await session.execute(select(Round))).scalars().all()) == 1
    keys = [(q.purpose, q.chat_id) for q in (await outbox.all())]
    assert len(keys) == len(set(keys)) == 5  # four contacts, and the staff member once


async def test_a_term_opened_by_hand_under_another_spelling_is_left_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    # Chat once stored a term as its translated text; the schedule's label is 2026-autumn.
    async with transaction(sessionmaker) as session:
        by_hand = await open_round_at(
            session, "2026-09-01 10:00", "2026-09-30 17:00", period="2026-autumn", code="training"
        )
        by_hand.period = "2026 秋季学期"
    async with transaction(sessionmaker) as session:
        await add_schedule(
            session,
            form_code="training",
            kind="term",
            params={
                "terms": [{"term": "2026-autumn", "opens": "2026-09-07", "deadline": "2026-09-30"}]
            },
            open_time=time(8, 0),
            deadline_days=0,
            deadline_time=time(17, 0),
            starts_on=date(2026, 9, 1),
        )
    result = await ticker.run(local("2026-09-07 08:00"))
    assert result.opened == [] and result.failed == []
    assert [(o.period, o.outcome, o.round_id) for o in await occurrences(sessionmaker)] == [
        ("2026-autumn", "exists", by_hand.id)
    ]
