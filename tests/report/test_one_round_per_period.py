"""One round per form and period, also when two officers open it at the same moment,
and the migration that makes the database say so on a database that already has rounds."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from models.base import utcnow
from models.db import create_engine, create_sessionmaker
from models.migrate import alembic_config, upgrade
from models.roster.tables import Person, Role
from models.rounds import FormVersion, Round, lifecycle
from models.rounds.errors import DuplicateRound
from tests.conftest import POSTGRES_ENV, _engines, postgres_admin
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import FORMS, make_roster, staffing
from tests.report.test_rounds import start_set_up

DEADLINE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)

Lookup = Callable[[AsyncSession, str, str], Awaitable[Round | None]]


def both_look_first(
    monkeypatch: pytest.MonkeyPatch, wait: Callable[[], Awaitable[None]], held: int = 2
) -> None:
    """Make the race certain: each of the two opens checks for a duplicate, and neither
    goes on to write until both have checked (the first `held` look-ups wait in pairs;
    later ones pass straight through)."""
    original: Lookup = lifecycle.existing_round
    calls = 0

    async def looked(session: AsyncSession, form_code: str, period: str) -> Round | None:
        nonlocal calls
        found = await original(session, form_code, period)
        calls += 1
        if calls <= held:
            await wait()
        return found

    # open_round looks it up in its own module (models.rounds.lifecycle); the chat's
    # confirm step looks first through whatever module it imported it from: patch every
    # module holding the function, so that both look-ups are paired wherever they live.
    monkeypatch.setattr(lifecycle, "existing_round", looked)
    for module in list(sys.modules.values()):
        if getattr(module, "existing_round", None) is original:
            monkeypatch.setattr(module, "existing_round", looked)


async def _open(
    sessionmaker: async_sessionmaker[AsyncSession], period: str
) -> Round | DuplicateRound:
    async with sessionmaker() as session, session.begin():
        try:
            return await lifecycle.open_round(
                session, form=staffing(), period=period, deadline=DEADLINE, now=NOW
            )
        except DuplicateRound as refused:
            return refused


@pytest.mark.parametrize("form_used_before", [False, True])
async def test_two_opens_at_the_same_moment_make_one_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    form_used_before: bool,
) -> None:
    async with sessionmaker() as session, session.begin():
        await make_roster(session)
        if form_used_before:  # else both also store the form version for the first time
            await lifecycle.open_round(
                session, form=staffing(), period="2025", deadline=DEADLINE, now=NOW
            )
    barrier = asyncio.Barrier(2)

    async def wait() -> None:
        async with asyncio.timeout(30):
            await barrier.wait()

    both_look_first(monkeypatch, wait)
    # The same term, spelled as the schedule stores it and as staff type it.
    first, second = await asyncio.gather(
        _open(sessionmaker, "2026-autumn"), _open(sessionmaker, "2026 秋季学期")
    )
    opened = [r for r in (first, second) if isinstance(r, Round)]
    refused = [r for r in (first, second) if isinstance(r, DuplicateRound)]
    assert len(opened) == 1 and len(refused) == 1, (first, second)
    assert refused[0].round_id == opened[0].id
    assert str(refused[0]) == (
        f"round {opened[0].id} already collects staffing for 2026-autumn; "
        "extend or reopen it instead"
    )
    async with sessionmaker() as session:
        periods = (await session.execute(select(Round.period).order_by(Round.id))).scalars()
        assert [p for p in periods if p != "2025"] == ["2026-autumn"]
        versions = (await session.execute(select(FormVersion.code))).scalars().all()
        assert versions == ["staffing"]


async def test_two_command_lines_at_once_refuse_the_second_in_one_line(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two `huibao rounds open` (each its own engine, as two processes would have)."""
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await make_roster(session)
    finally:
        await engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_FORMS__DIRECTORY", str(FORMS))
    barrier = threading.Barrier(2, timeout=30)

    async def wait() -> None:
        barrier.wait()  # each command line runs its own event loop in its own thread

    both_look_first(monkeypatch, wait)
    deadline = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%d %H:%M")
    args = ["rounds", "open", "--form", "staffing", "--period", "2026", "--deadline", deadline]
    codes = await asyncio.gather(*(asyncio.to_thread(main, [*args]) for _ in range(2)))
    assert sorted(codes) == [0, 2], codes
    out, err = capsys.readouterr()
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            (round_id,) = (await session.execute(select(Round.id))).scalars().all()
    finally:
        await engine.dispose()
    assert f"round {round_id} opened" in out
    assert err.strip() == (
        f"huibao: round {round_id} already collects staffing for 2026; extend or reopen it instead"
    )


# --- the migration ---------------------------------------------------------------------


@pytest.fixture(params=_engines())
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    from sqlalchemy.engine import make_url

    base = os.environ[POSTGRES_ENV]
    name = f"huibao_mig_{uuid.uuid4().hex[:10]}"
    await postgres_admin(f'CREATE DATABASE "{name}"')
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    await postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


OLD_ROUNDS = [
    # (form_code, period as stored before) -> what the period becomes
    ("staffing", "2025", "2025"),
    ("staffing", "2026 秋季学期", "2026-autumn"),  # an older spelling
    ("training", "2026-autumn", "2026-autumn"),  # another form, same period: fine
    ("staffing", "2026-autumn", "2026-autumn #4"),  # the race's duplicate: kept, renamed
    ("staffing", "2026-2027学年下学期", "2027-spring"),
]


async def test_the_migration_upgrades_a_database_with_rounds(empty_db_url: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(empty_db_url), "0004")
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as connection:
            for code, period, _after in OLD_ROUNDS:  # ids 1, 2, 3... in this order
                await connection.execute(
                    text(
                        "INSERT INTO rounds (form_code, form_version, period, opened_at, "
                        "deadline, grace_minutes, status, audience) VALUES (:code, 1, "
                        ":period, :at, :at, 0, 'open', '{}')"
                    ),
                    {"code": code, "period": period, "at": NOW},
                )
        await asyncio.to_thread(upgrade, empty_db_url)
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            rows = (await session.execute(select(Round.period).order_by(Round.id))).scalars()
            assert list(rows) == [after for _code, _period, after in OLD_ROUNDS]
        # From now on the database itself refuses a second round for a period.
        with pytest.raises(IntegrityError, match=r"uq_rounds_form_code_period|rounds\.form_code"):
            async with sessions() as session, session.begin():
                session.add(_round_like(code="staffing", period="2025"))
        async with sessions() as session, session.begin():
            session.add(_round_like(code="staffing", period="2026-spring"))
    finally:
        await engine.dispose()


def _round_like(**values: Any) -> Round:
    return Round(
        form_code=values["code"],
        form_version=1,
        period=values["period"],
        opened_at=NOW,
        deadline=DEADLINE,
        grace_minutes=0,
        status="open",
        audience="{}",
    )


# --- in chat ---------------------------------------------------------------------------


async def _to_confirm(staff: FakeUser) -> SentMessage:
    await start_set_up(staff, "编制与师资配备")
    await staff.send("2026 秋季学期")
    await staff.press(await staff.wait_for("截止时间是"), "rd:d:7")
    await staff.press(await staff.wait_for("哪些学校需要填报"), "下一步")
    return await staff.wait_for("确认发起本轮填报")


async def test_two_officers_confirming_at_once_open_one_round(
    county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with county.sessionmaker() as session, session.begin():
        session.add(
            Person(telegram_id=7002, name="人事科赵", username="zhao", role=Role.STAFF.value)
        )
    first = county.user("staff")
    second = county.tg.user(7002, "人事科赵", language_code="zh-hans")
    confirms = [await _to_confirm(first), await _to_confirm(second)]
    barrier = asyncio.Barrier(2)

    async def wait() -> None:
        async with asyncio.timeout(30):
            await barrier.wait()

    # Each ✅ checks twice (the confirm step, then open_round) before writing: pair them.
    both_look_first(monkeypatch, wait, held=4)
    await asyncio.gather(
        first.press(confirms[0], "发起填报"), second.press(confirms[1], "发起填报")
    )
    screens = []
    for staff in (first, second):
        screens.append(
            await staff.wait_for(
                lambda m: "应报学校" in (m.plain or "") or "已在第" in (m.plain or "")
            )
        )
    refused = [s for s in screens if "已在第" in (s.plain or "")]
    assert len(refused) == 1, [s.plain for s in screens]
    assert "2026年秋季学期" in (refused[0].plain or "")
    assert any("打开第" in label for row in refused[0].buttons() for label, _ in row)
    async with county.sessionmaker() as session:
        periods = (await session.execute(select(Round.period))).scalars().all()
    assert periods == ["2026-autumn"]
