"""Strangers who wrote to the bot but never joined are forgotten after 30 days; nobody
that anything refers to is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.audit import record
from models.base import utcnow
from models.db import transaction
from models.roster.invites import Invite, InviteAttempt, InviteOffer, make_offer
from models.roster.people import get_person, set_role, touch_person
from models.roster.strangers import prune_strangers
from models.roster.tables import Person, Role, School
from scheduler.tick import PRUNE_BATCH, Ticker
from tests.onboarding.conftest import OWN, make_invite, make_person

Sessions = async_sessionmaker[AsyncSession]
NOW = utcnow()
ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def seen(sessions: Sessions, telegram_id: int, days_ago: float) -> None:
    """Set when the person was last seen (people.updated_at)."""
    async with transaction(sessions) as session:
        person = await get_person(session, telegram_id)
        assert person is not None
        person.updated_at = NOW - timedelta(days=days_ago)


async def telegram_ids(sessions: Sessions) -> set[int]:
    async with transaction(sessions) as session:
        return set((await session.execute(select(Person.telegram_id))).scalars())


async def test_strangers_are_pruned_after_30_days_and_nobody_else(
    sessionmaker: Sessions, county: dict[str, School]
) -> None:
    code = await make_invite(sessionmaker, school=OWN)
    people = {
        "stranger, 31 days": (101, Role.NONE, {}),
        "stranger with a stale offer, 31 days": (102, Role.NONE, {}),
        "stranger, 29 days": (103, Role.NONE, {}),
        "principal, 100 days": (104, Role.PRINCIPAL, {"school": OWN}),
        "replaced principal, 31 days": (105, Role.PRINCIPAL, {"school": "3611230002"}),
        "actor of an audit entry, 31 days": (106, Role.NONE, {}),
        "typed a wrong code, 31 days": (107, Role.NONE, {}),
        "made an invitation, 31 days": (108, Role.NONE, {}),
    }
    for telegram_id, role, binding in people.values():
        await make_person(sessionmaker, telegram_id, role, **binding)
    async with transaction(sessionmaker) as session:
        replaced = await get_person(session, 105)
        actor = await get_person(session, 106)
        offered = await get_person(session, 102)
        assert replaced is not None and actor is not None and offered is not None
        # Back to no role: the audit log's role.change names them (target, not a key).
        await set_role(session, replaced, Role.NONE, reason="replaced")
        record(session, "roster.import", actor_id=actor.id, target_type="roster")
        session.add(InviteAttempt(telegram_id=107, at=NOW - timedelta(days=31)))
        invite = (await session.execute(select(Invite))).scalar_one()
        await make_offer(session, offered, invite, now=NOW - timedelta(days=31))
        maker = await get_person(session, 108)
        assert maker is not None
        invite.created_by = maker.id
    assert code
    days = {101: 31, 102: 31, 103: 29, 104: 100, 105: 31, 106: 31, 107: 31, 108: 31}
    for telegram_id, days_ago in days.items():
        await seen(sessionmaker, telegram_id, days_ago)

    async with transaction(sessionmaker) as session:
        assert await prune_strangers(session, NOW) == 2
    assert await telegram_ids(sessionmaker) == set(days) - {101, 102}
    async with transaction(sessionmaker) as session:
        assert (await session.execute(select(InviteOffer))).first() is None
        assert await prune_strangers(session, NOW) == 0  # again: nothing more
    # The 29-day stranger goes two days later, unless they wrote in between.
    async with transaction(sessionmaker) as session:
        assert await prune_strangers(session, NOW + timedelta(days=2)) == 1
    assert 103 not in await telegram_ids(sessionmaker)


async def test_writing_again_keeps_a_stranger(
    sessionmaker: Sessions, county: dict[str, School]
) -> None:
    await make_person(sessionmaker, 201)
    await seen(sessionmaker, 201, 31)
    async with transaction(sessionmaker) as session:
        # Same name, username and language: only the last-seen time changes.
        person = await get_person(session, 201)
        assert person is not None
        await touch_person(
            session, 201, name=person.name, username=None, telegram_language=None, now=NOW
        )
    async with transaction(sessionmaker) as session:
        assert await prune_strangers(session, NOW) == 0
    assert 201 in await telegram_ids(sessionmaker)


async def test_the_scheduler_prunes_at_night_once_a_day_in_batches(
    db_url: str, sessionmaker: Sessions, county: dict[str, School]
) -> None:
    settings = Settings(database={"url": db_url})  # type: ignore[arg-type]
    ticker = Ticker(settings, sessionmaker, forms_dir=ROOT / "forms")
    night = datetime(2026, 12, 4, 3, 0, tzinfo=SHANGHAI).astimezone(UTC)
    many = list(range(400, 400 + PRUNE_BATCH * 2 + 5))  # three batches
    for telegram_id in [*many, 301]:
        await make_person(sessionmaker, telegram_id)
    async with transaction(sessionmaker) as session:
        await session.execute(update(Person).values(updated_at=night - timedelta(days=31)))
    await ticker.run(night - timedelta(minutes=1))  # 02:59: not yet
    assert 301 in await telegram_ids(sessionmaker)
    await ticker.run(night)
    assert not {301, *many} & await telegram_ids(sessionmaker)
    await make_person(sessionmaker, 302)
    async with transaction(sessionmaker) as session:
        await session.execute(update(Person).values(updated_at=night - timedelta(days=31)))
    await ticker.run(night + timedelta(hours=12))  # pruned already today
    assert 302 in await telegram_ids(sessionmaker)
    await ticker.run(night + timedelta(days=1))
    assert 302 not in await telegram_ids(sessionmaker)
