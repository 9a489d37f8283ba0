"""The real Application in process against the Bot API double, with a small county.

`county` gives a running bot (handlers exactly as in production), the double, a
sessionmaker on the same database and the roster; its helpers open rounds and read the
database the way a test needs to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_application
from config.settings import Settings
from models.base import utcnow
from models.db import create_engine, create_sessionmaker
from models.forms import FormDef, load_forms
from models.rounds import Answer, Round, lifecycle
from tests.double import BotApiDouble, FakeUser
from tests.report.roster import FORMS, Roster, make_roster
from transport.context import HuibaoApp

TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def settings_for(db_url: str, tg: BotApiDouble, forms: Path = FORMS, **extra: Any) -> Settings:
    return Settings(
        telegram={"token": tg.token, "base_url": tg.base_url, "base_file_url": tg.base_file_url},
        database={"url": db_url},
        bureau={"name": "青山县教育局"},
        forms={"directory": str(forms)},
        **extra,
    )


@dataclass
class County:
    app: HuibaoApp
    tg: BotApiDouble
    sessionmaker: async_sessionmaker[AsyncSession]
    roster: Roster
    forms_dir: Path

    def user(self, key: str) -> FakeUser:
        person = self.roster.people[key]
        lang = "en" if person.language == "en" else "zh-hans"
        return self.tg.user(person.telegram_id, person.name, language_code=lang)

    async def open_round(
        self, code: str = "staffing", period: str = "2026", days: float = 10, **kw: Any
    ) -> Round:
        form: FormDef = load_forms(self.forms_dir).get(code)
        async with self.sessionmaker() as session, session.begin():
            round_ = await lifecycle.open_round(
                session,
                form=form,
                period=period,
                deadline=utcnow() + timedelta(days=days),
                created_by=self.roster.people["staff"].id,
                now=utcnow(),
                **kw,
            )
        return round_

    async def move_deadline(self, round_id: int, deadline: datetime) -> None:
        """Time passes: put the round's deadline (and so its lock) where the test wants."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Round).where(Round.id == round_id).values(deadline=deadline)
            )

    async def answers(self, revision: int | None = None) -> list[Answer]:
        async with self.sessionmaker() as session:
            query = select(Answer).order_by(Answer.submission_id, Answer.revision, Answer.id)
            if revision is not None:
                query = query.where(Answer.revision == revision)
            return list((await session.execute(query)).scalars())


async def start_app(settings: Settings) -> HuibaoApp:
    app = build_application(settings)
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    return app


async def stop_app(app: HuibaoApp) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    if app.post_shutdown:
        await app.post_shutdown(app)
    await app.shutdown()


@pytest.fixture
async def tg() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(token=TOKEN) as double:
        yield double


@pytest.fixture
def forms_dir() -> Path:
    return FORMS


@pytest.fixture
async def county(db_url: str, tg: BotApiDouble, forms_dir: Path) -> AsyncIterator[County]:
    engine = create_engine(db_url)
    maker = create_sessionmaker(engine)
    async with maker() as session, session.begin():
        roster = await make_roster(session)
    app = await start_app(settings_for(db_url, tg, forms_dir))
    county = County(app, tg, maker, roster, forms_dir)
    for key in roster.people:
        county.user(key)  # everyone has a chat the bot can write to
    try:
        yield county
    finally:
        await stop_app(app)
        await engine.dispose()
