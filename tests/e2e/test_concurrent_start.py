"""Two `huibao run` started together on a fresh database agree (issue 9, item 13):
migrations once, the settings' admins once, one webhook secret. On PostgreSQL both
start and serve (several processes, issue 13); on SQLite, one process per file by
design, the second is refused with exit code 2 and a message saying why, and the first
serves on."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from models.db import create_engine, create_sessionmaker, is_sqlite, transaction
from models.migrate import current_revisions, head_revisions
from models.roster.tables import Person, Role
from models.secrets import StoredSecret
from tests.conftest import POSTGRES_ENV, _asyncpg_dsn, _engines, settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env
from tests.e2e.test_foundation import TOKEN, free_port
from tests.e2e.test_webhook_secret import _set_webhook_secret

ADMINS = [8101, 8102, 8103]


@pytest.fixture(params=_engines())
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: no tables, no migrations."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    base = os.environ[POSTGRES_ENV]
    name = f"huibao_fresh_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_two_bots_start_together_on_a_fresh_database(
    fresh_url: str, tmp_path: Path
) -> None:
    await _start_two_together(fresh_url, tmp_path)


async def test_two_bots_start_together_on_a_migrated_empty_database(
    db_url: str, tmp_path: Path
) -> None:
    # Migrations already done (`huibao db upgrade`): the admins are what the two race for.
    await _start_two_together(db_url, tmp_path)


async def _start_two_together(fresh_url: str, tmp_path: Path) -> None:
    async with BotApiDouble(token=TOKEN) as tg:
        bots = []
        for _ in range(2):
            port = free_port()
            env = child_env(
                settings_env(
                    fresh_url,
                    tg,
                    HUIBAO_BUREAU__ADMINS=str(ADMINS),
                    HUIBAO_TELEGRAM__MODE="webhook",
                    HUIBAO_TELEGRAM__WEBHOOK__PORT=str(port),
                    HUIBAO_TELEGRAM__WEBHOOK__URL=f"http://127.0.0.1:{port}",
                )
            )
            bots.append(BotProcess(env, tmp_path))
        for bot in bots:
            bot.start()  # together: neither waits for the other
        try:
            if is_sqlite(fresh_url):
                bots = await _one_refused(bots)
                await _set_webhook_secret(tg, 1)
            else:
                await asyncio.gather(*(bot.wait_ready(120) for bot in bots))
                # Each process gave Telegram a secret, and it is the same one.
                assert await _set_webhook_secret(tg, 1) == await _set_webhook_secret(tg, 2)
        finally:
            codes = await asyncio.gather(*(bot.astop() for bot in bots))
        assert codes == [0] * len(bots), [bot.log[-2000:] for bot in bots]
    for bot in bots:
        assert "IntegrityError" not in bot.log and "already exists" not in bot.log

    assert await current_revisions(fresh_url) == head_revisions(fresh_url)
    engine = create_engine(fresh_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            people = (
                await session.execute(
                    select(Person.telegram_id, Person.role).order_by(Person.telegram_id)
                )
            ).all()
            secrets = await session.scalar(select(func.count()).select_from(StoredSecret))
    finally:
        await engine.dispose()
    assert [tuple(p) for p in people] == [(t, Role.ADMIN.value) for t in ADMINS]
    assert secrets == 1


async def _one_refused(bots: list[BotProcess]) -> list[BotProcess]:
    """SQLite: exactly one of the two exits, with code 2 and why; the other serves.
    Returns the one serving."""
    deadline = time.monotonic() + 120
    while not (ended := [bot for bot in bots if bot.process and bot.process.poll() is not None]):
        assert time.monotonic() < deadline, "neither process was refused"
        await asyncio.sleep(0.05)
    [refused] = ended
    assert refused.process is not None and refused.process.returncode == 2, refused.log
    assert "another huibao run is already serving this SQLite database" in refused.log
    assert "several processes need PostgreSQL" in refused.log
    [serving] = [bot for bot in bots if bot is not refused]
    await serving.wait_ready(120)
    return [serving]
