"""Fixtures for onboarding: a seeded demo county, people with roles, invite codes, and the
real Application running in this process against the Bot API double."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_application
from bot.demo import demo_rows
from config.settings import Settings, load_settings
from models.db import transaction
from models.roster.invites import create_invites, resolve_targets
from models.roster.people import set_role
from models.roster.roster_file import district_by_name, import_roster, school_by_code
from models.roster.tables import Person, Role, School
from tests.conftest import settings_env
from tests.double import BotApiDouble
from transport.context import HuibaoApp

Sessions = async_sessionmaker[AsyncSession]

# Two demo schools used throughout: a principal's own and someone else's.
OWN = "3611230001"  # 示范县第一中学, 城关学区
OTHER = "3611230015"  # 西山九年一贯制学校, 西山乡


async def seed_county(sessions: Sessions) -> dict[str, School]:
    async with transaction(sessions) as session:
        await import_roster(session, demo_rows())
    async with transaction(sessions) as session:
        schools = {}
        for row in demo_rows():
            school = await school_by_code(session, row.code)
            assert school is not None
            schools[row.code] = school
        return schools


async def make_person(
    sessions: Sessions,
    telegram_id: int,
    role: Role = Role.NONE,
    *,
    name: str = "",
    school: str | None = None,
    district: str | None = None,
) -> Person:
    async with transaction(sessions) as session:
        person = Person(telegram_id=telegram_id, name=name or f"用户{telegram_id}")
        session.add(person)
        await session.flush()
        school_id = district_id = None
        if school is not None:
            found = await school_by_code(session, school)
            assert found is not None
            school_id = found.id
        if district is not None:
            found_district = await district_by_name(session, district)
            assert found_district is not None
            district_id = found_district.id
        await set_role(session, person, role, school_id=school_id, district_id=district_id)
        return person


async def make_invite(
    sessions: Sessions,
    role: Role = Role.PRINCIPAL,
    *,
    school: str | None = None,
    district: str | None = None,
    expires_in: timedelta = timedelta(days=14),
    replace: bool = False,
    now: datetime | None = None,
) -> str:
    async with transaction(sessions) as session:
        targets = await resolve_targets(
            session, role, school_code=school, district_name=district, replace=replace
        )
        created = await create_invites(
            session, role, targets, expires_in=expires_in, replace=replace, now=now
        )
        return created[0].code


@dataclass
class Running:
    tg: BotApiDouble
    app: HuibaoApp
    settings: Settings
    sessions: Sessions


@asynccontextmanager
async def running_bot(
    db_url: str,
    sessions: Sessions,
    customize: Callable[[HuibaoApp], None] | None = None,
    **env: str,
) -> AsyncIterator[Running]:
    """The Application of `huibao run`, in process, polling the double over HTTP."""
    async with BotApiDouble() as tg:
        settings = load_settings(environ=settings_env(db_url, tg, **env))
        app = build_application(settings)
        if customize is not None:
            customize(app)
        async with app:
            # `async with app` initializes but, unlike run_polling, does not call post_init.
            assert app.post_init is not None
            await app.post_init(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield Running(tg, app, settings, sessions)
            finally:
                await app.updater.stop()
                await app.stop()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)




@pytest.fixture
async def county(sessionmaker: Sessions) -> dict[str, School]:
    return await seed_county(sessionmaker)


@pytest.fixture
def bot(db_url: str, sessionmaker: Sessions) -> Callable[..., Any]:
    """`async with bot() as running:` starts the bot against a fresh double."""

    def start(customize: Callable[[HuibaoApp], None] | None = None, **env: str) -> Any:
        return running_bot(db_url, sessionmaker, customize, **env)

    return start


