"""The scheduler's list for a district officer, once the deadline has passed: the late
schools of their district with the numbers to call (the principal's own before the
roster's), the schools nobody could be told listed apart."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import transaction
from models.roster.tables import Person, School
from scheduler.tick import Ticker
from tests.schedule.conftest import County, Outbox, local, open_round_at


async def test_the_officers_list_of_late_schools_has_their_phones(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        s001 = await session.get(School, county.schools["S001"].id)
        s002 = await session.get(School, county.schools["S002"].id)
        principal = await session.get(Person, county.people["principal:S001"].id)
        assert s001 and s002 and principal
        s001.phone, s001.principal_phone = "0797-8000001", "13700000001"
        principal.phone = "13698765432"
        s002.phone = "0797-8000002"
        await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00", grace_minutes=120)
    await ticker.run(local("2026-11-04 10:00"))
    await outbox.new()
    await ticker.run(local("2026-11-20 19:00"))
    [escalation] = [q for q in await outbox.new() if q.purpose.startswith("escalation:")]
    assert escalation.chat_id == county.people["officer:城关学区"].telegram_id
    text = escalation.texts[0]
    assert "• 城关第一小学 ☎ 学校 0797-8000001 · ☎ 校长 13698765432" in text
    assert "• 城关中学 ☎ 学校 0797-8000002" in text
    assert "13700000001" not in text  # the principal's own number replaces the roster's
    assert "河西" not in text  # another district's schools are not theirs to call


async def test_no_numbers_no_phone_sign(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00")
    await ticker.run(local("2026-11-04 10:00"))
    await ticker.run(local("2026-11-20 17:00") + timedelta(minutes=1))
    [escalation] = [q for q in await outbox.new() if q.purpose.startswith("escalation:")]
    assert "☎" not in escalation.texts[0] and "• 城关第一小学" in escalation.texts[0]
