"""The database layer under concurrent writers: on SQLite they queue in order, none
fails, and a rolled-back or abandoned transaction does not hold up the next one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select, text

from models import db
from models.db import create_engine, create_sessionmaker, transaction
from models.roster.tables import District
from scheduler.leader import asyncpg_dsn
from tests.conftest import POSTGRES_ENV


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "huibao.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{path}"


async def test_concurrent_writers_are_committed_in_the_order_they_wrote(sqlite_url: str) -> None:
    """Principals' answers arriving every 30 ms, each transaction holding its write for
    50 ms: every one is stored, in the order they came. (SQLite's own busy handler lets
    waiting writers in by whichever of its growing sleeps ends first, out of order.)"""
    engine = create_engine(sqlite_url)
    sessions = create_sessionmaker(engine)
    started: list[int] = []

    async def write(n: int) -> None:
        async with transaction(sessions) as session:
            started.append(n)
            session.add(District(name=f"学区{n:02d}"))
            await session.flush()
            await asyncio.sleep(0.05)  # the rest of the step, with the write lock held

    try:
        async with sessions() as session:  # the engine's first connection sets it up
            await session.execute(text("SELECT 1"))
        tasks = []
        for n in range(12):
            tasks.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0.03)
        await asyncio.gather(*tasks)
        async with sessions() as session:
            names = (
                await session.execute(select(District.name).order_by(District.id))
            ).scalars().all()
    finally:
        await engine.dispose()
    assert names == [f"学区{n:02d}" for n in range(12)]


async def test_a_rolled_back_or_abandoned_writer_lets_the_next_one_in(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    sessions = create_sessionmaker(engine)
    try:
        with pytest.raises(RuntimeError):
            async with transaction(sessions) as session:
                session.add(District(name="回滚学区"))
                await session.flush()
                raise RuntimeError("the handler failed")
        # A session closed in the middle of its transaction, never committed.
        session = sessions()
        await session.execute(text("INSERT INTO districts (name, created_at) VALUES "
                                   "('放弃学区', CURRENT_TIMESTAMP)"))
        await session.close()
        async with asyncio.timeout(3):  # not the 10 s a leaked lock would cost
            async with transaction(sessions) as session:
                session.add(District(name="城关学区"))
        async with sessions() as session:
            names = (await session.execute(select(District.name))).scalars().all()
    finally:
        await engine.dispose()
    assert names == ["城关学区"]


async def test_a_connection_the_server_dropped_while_idle_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL restarted (or a firewall dropped the connection) while the bot was
    quiet: the next step still commits, on a fresh connection, instead of failing."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"needs PostgreSQL ({POSTGRES_ENV})")
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)
    engine = create_engine(url, pool_size=1)
    sessions = create_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            dropped = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", dropped)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
        async with transaction(sessions) as session:
            now = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert now != dropped
    finally:
        await engine.dispose()
