"""A small county, rounds at chosen times, and what the scheduler put in the outbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import transaction
from models.followup.reminders import set_round_policy
from models.forms import FormDef, load_forms
from models.outbox import Delivery
from models.roster.tables import District, Person, Role, School
from models.rounds import Round, Submission, SubmissionStatus
from models.rounds.lifecycle import open_round
from scheduler.tick import Ticker
from tests.double import BotApiDouble
from transport.context import HuibaoApp

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """A bureau-time moment ("2026-11-20 17:00") as the aware UTC time the code uses."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def form(code: str = "staffing") -> FormDef:
    return load_forms(ROOT / "forms").get(code)


@dataclass
class County:
    districts: dict[str, District] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    def chat(self, key: str) -> int:
        return self.people[key].telegram_id


SCHOOLS = [
    ("S001", "城关第一小学", "城关学区", "primary"),
    ("S002", "城关中学", "城关学区", "junior"),
    ("S003", "河西九年一贯制学校", "河西学区", "nine_year"),
    ("S004", "河西高级中学", "河西学区", "senior"),
]


async def make_county(session: AsyncSession) -> County:
    """Two districts of two schools. S001 has a principal and an English-speaking deputy,
    S002 and S003 a principal each, S004 nobody yet; 城关学区 has a district officer
    (河西学区 has none); one staff member."""
    county = County()
    for name in ("城关学区", "河西学区"):
        county.districts[name] = District(name=name)
        session.add(county.districts[name])
    await session.flush()
    for code, name, district, stage in SCHOOLS:
        county.schools[code] = School(
            code=code, name=name, district_id=county.districts[district].id, stage=stage
        )
        session.add(county.schools[code])
    await session.flush()
    people = [
        ("principal:S001", 5001, Role.PRINCIPAL, "S001", None, "zh_CN"),
        ("deputy:S001", 5011, Role.DEPUTY, "S001", None, "en"),
        ("principal:S002", 5002, Role.PRINCIPAL, "S002", None, "zh_CN"),
        ("principal:S003", 5003, Role.PRINCIPAL, "S003", None, None),
        ("officer:城关学区", 6001, Role.DISTRICT_OFFICER, None, "城关学区", "zh_CN"),
        ("staff", 7001, Role.STAFF, None, None, "zh_CN"),
    ]
    for key, telegram_id, role, school, district, language in people:
        county.people[key] = Person(
            telegram_id=telegram_id,
            name=key,
            role=role.value,
            school_id=county.schools[school].id if school else None,
            district_id=county.districts[district].id if district else None,
            language=language,
        )
        session.add(county.people[key])
    await session.flush()
    return county


async def open_round_at(
    session: AsyncSession,
    opened: str,
    deadline: str,
    *,
    grace_minutes: int = 0,
    period: str = "2026",
    code: str = "staffing",
) -> Round:
    """A round as a schedule opens it: the scheduler announces it and reminds."""
    round_ = await open_round(
        session,
        form=form(code),
        period=period,
        deadline=local(deadline),
        grace_minutes=grace_minutes,
        now=local(opened),
    )
    await set_round_policy(session, round_.id, {})
    return round_


async def submit(session: AsyncSession, round_: Round, school: School, at: str) -> None:
    session.add(
        Submission(
            round_id=round_.id,
            school_id=school.id,
            status=SubmissionStatus.SUBMITTED.value,
            current_revision=1,
            first_submitted_at=local(at),
            last_submitted_at=local(at),
        )
    )
    await session.flush()


async def start_draft(session: AsyncSession, round_: Round, school: School) -> None:
    session.add(
        Submission(
            round_id=round_.id,
            school_id=school.id,
            status=SubmissionStatus.DRAFT.value,
            current_revision=0,
        )
    )
    await session.flush()


@dataclass(frozen=True)
class Queued:
    purpose: str
    chat_id: int
    texts: tuple[str, ...]
    kinds: tuple[str, ...]
    buttons: tuple[tuple[str, str | None], ...]


class Outbox:
    """What the scheduler queued, in order (read from the outbox's delivery rows)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.seen = 0

    async def all(self) -> list[Queued]:
        async with transaction(self.sessionmaker) as session:
            rows = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars()
            return [
                Queued(
                    purpose=row.purpose,
                    chat_id=row.chat_id,
                    texts=tuple(m.text for m in row.messages),
                    kinds=tuple(m.kind for m in row.messages),
                    buttons=tuple(
                        (b.text, b.callback_data)
                        for m in row.messages
                        for line in m.keyboard
                        for b in line
                    ),
                )
                for row in rows
            ]

    async def new(self) -> list[Queued]:
        rows = await self.all()
        fresh = rows[self.seen :]
        self.seen = len(rows)
        return fresh


@pytest.fixture
def outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> Outbox:
    return Outbox(sessionmaker)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database={"url": db_url})  # type: ignore[arg-type]


@pytest.fixture
def ticker(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Ticker:
    return Ticker(settings, sessionmaker, forms_dir=ROOT / "forms")


@pytest.fixture
async def county(sessionmaker: async_sessionmaker[AsyncSession]) -> County:
    async with transaction(sessionmaker) as session:
        return await make_county(session)


class Clock:
    """A controlled clock: the bot's scheduler reads `services.clock`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = local(text)


@asynccontextmanager
async def running_bot(settings: Settings, clock: Clock | None = None) -> AsyncIterator[HuibaoApp]:
    """The real Application against the double, started the way `huibao run` starts it."""
    from bot.app import build_application

    async def use_clock(app: HuibaoApp) -> None:
        if clock is not None:
            app.bot_data["services"].clock = clock

    # The clock must be in place before the scheduler's first tick.
    app = build_application(settings, startup_hooks=[use_clock])
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


def bot_settings(db_url: str, double: BotApiDouble, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": db_url},
        # A lock of its own: other test runs may share the PostgreSQL server.
        "scheduler": {"leader_lock_id": int.from_bytes(os.urandom(4), "big")},
        "telegram": {
            "token": double.token,
            "base_url": double.base_url,
            "base_file_url": double.base_file_url,
            "poll_timeout": 1,
        },
    }
    for key, value in overrides.items():
        values.setdefault(key, {}).update(value)
    return Settings(**values)
