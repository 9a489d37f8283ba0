"""Several processes starting together on one database: admins, the webhook secret and
migrations are made once, and no process dies on a unique constraint."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import create_engine, create_sessionmaker, transaction
from models.migrate import current_revisions, head_revisions
from models.roster.people import ensure_admins
from models.roster.tables import Person, Role
from models.secrets import StoredSecret, shared_secret
from tests.conftest import POSTGRES_ENV, _asyncpg_dsn, settings_env
from tests.e2e.proc import child_env, huibao_command

ADMINS = [7001, 7002]


async def _race(
    db_url: str, table: str, work: Callable[[AsyncSession], Awaitable[Any]]
) -> tuple[Any, Any]:
    """Run `work` in two transactions on two engines (two processes, as far as the
    database can tell), the second reaching its first write to `table` while the first
    has written but not committed. That is the moment two starting processes meet."""
    first_engine, second_engine = create_engine(db_url), create_engine(db_url)
    second_writes = asyncio.Event()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()}"):
            second_writes.set()

    event.listen(second_engine.sync_engine, "before_cursor_execute", before)

    async def second(maker: async_sessionmaker[AsyncSession]) -> Any:
        async with transaction(maker) as session:
            return await work(session)

    try:
        async with transaction(create_sessionmaker(first_engine)) as session:
            first_result = await work(session)
            racing = asyncio.create_task(second(create_sessionmaker(second_engine)))
            waiting = asyncio.create_task(second_writes.wait())
            await asyncio.wait({racing, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
        # The first transaction has committed; the second goes on from its write.
        second_result = await asyncio.wait_for(racing, 60)
    finally:
        await first_engine.dispose()
        await second_engine.dispose()
    return first_result, second_result


async def test_two_processes_make_the_settings_admins_once(db_url: str) -> None:
    first, second = await _race(db_url, "people", lambda s: ensure_admins(s, ADMINS))
    assert first == ADMINS
    assert second == []  # the other process found them made and changed nothing
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            rows = (
                await session.execute(
                    select(Person.telegram_id, Person.role).order_by(Person.telegram_id)
                )
            ).all()
            changes = await session.scalar(
                text("SELECT count(*) FROM audit_log WHERE action = 'role.change'")
            )
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [(t, Role.ADMIN.value) for t in ADMINS]
    assert changes == len(ADMINS)


async def test_two_processes_share_one_webhook_secret(db_url: str) -> None:
    first, second = await _race(
        db_url, "stored_secrets", lambda s: shared_secret(s, "webhook_secret_token")
    )
    assert first == second and len(first) >= 43
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            assert await session.scalar(select(func.count()).select_from(StoredSecret)) == 1
            # Made once: later starts read the same one.
            assert await shared_secret(session, "webhook_secret_token") == first
    finally:
        await engine.dispose()


@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} not set")
async def test_two_processes_migrate_a_fresh_postgres_database_together() -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    base = os.environ[POSTGRES_ENV]
    name = f"huibao_race_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        # Two processes, as two `huibao run` (Alembic is not thread-safe within one).
        env = child_env(settings_env(url))
        runs = [
            await asyncio.create_subprocess_exec(
                *huibao_command(), "db", "upgrade", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        outputs = [(await run.communicate())[0].decode() for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert await current_revisions(url) == head_revisions(url)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
