""" "Remind these now": nobody is reminded twice within ten minutes of their last
reminder of a round, however the taps fall on the clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.followup.completeness import school_statuses
from models.followup.remind_now import RemindResult, remind_now
from models.outbox import Button, Delivery, OutMessage
from models.roster.tables import Person, Role
from models.rounds import Round
from tests.status.factories import Factory, at, real_form

REMINDER = OutMessage(
    text="⏰ 请尽快填报", keyboard=((Button("立即填报", callback_data="rp:o:1"),),)
)


async def _world(session: AsyncSession) -> dict[str, int]:
    """Two districts, each with a school that has not submitted and a principal."""
    f = Factory(session)
    east, west = await f.district("东城学区"), await f.district("西城学区")
    a = await f.school(east, code="E01")
    b = await f.school(west, code="W01")
    await f.person(Role.PRINCIPAL, "王校长", school=a)
    await f.person(Role.PRINCIPAL, "赵校长", school=b)
    staff = await f.person(Role.STAFF, "人事科李")
    rnd = await f.round(real_form("staffing"), [a, b], deadline=at(30, 10), period="2026")
    return {"round": rnd.id, "east": east.id, "west": west.id, "staff": staff.id}


async def _tap(
    sessionmaker: async_sessionmaker[AsyncSession],
    ids: dict[str, int],
    now: datetime,
    district: str | None = "east",
) -> RemindResult:
    """A staff member taps "remind now" at `now` (a controlled clock)."""
    district_id = None if district is None else ids[district]
    async with sessionmaker() as session, session.begin():
        rnd = await session.get_one(Round, ids["round"])
        staff = await session.get_one(Person, ids["staff"])
        missing = await school_statuses(session, rnd.id, district_id, now, only_missing=True)
        return await remind_now(
            session, rnd, district_id, missing, staff, now, lambda _p: REMINDER
        )


async def _queued(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)


def _clock(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 18, hour, minute, second, tzinfo=UTC)


async def test_ten_minutes_count_from_the_last_reminder_not_the_clock(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _world(session)
    # 09:59 and 10:01 fell into two ten-minute windows of the clock: both sent.
    assert (await _tap(sessionmaker, ids, _clock(9, 59, 30))).recipients == 1
    assert (await _tap(sessionmaker, ids, _clock(10, 1, 10))).recipients == 0
    # Still within ten minutes of the reminder at 09:59:30 (the refused tap moves nothing).
    assert (await _tap(sessionmaker, ids, _clock(10, 9, 0))).recipients == 0
    assert await _queued(sessionmaker) == 1
    # Ten minutes after the last reminder: remind again.
    assert (await _tap(sessionmaker, ids, _clock(10, 10, 0))).recipients == 1
    assert await _queued(sessionmaker) == 2


async def test_those_schools_not_others(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """A district's reminder holds back only its own schools; "all districts" right
    after it reminds the other district's principal, and not the first one again."""
    async with sessionmaker() as session, session.begin():
        ids = await _world(session)
    assert (await _tap(sessionmaker, ids, _clock(9, 59), "east")).recipients == 1
    assert (await _tap(sessionmaker, ids, _clock(10, 0), "west")).recipients == 1
    assert (await _tap(sessionmaker, ids, _clock(10, 2), None)).recipients == 0
    assert (await _tap(sessionmaker, ids, _clock(10, 9, 30), None)).recipients == 1  # east
    assert await _queued(sessionmaker) == 3


async def test_two_officers_at_the_same_moment_remind_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        ids = await _world(session)
    results = await asyncio.gather(
        _tap(sessionmaker, ids, _clock(9, 59, 59)), _tap(sessionmaker, ids, _clock(10, 0, 1))
    )
    assert sorted(r.recipients for r in results) == [0, 1]
    assert await _queued(sessionmaker) == 1
