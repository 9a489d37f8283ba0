"""Shared fixtures: databases on SQLite and PostgreSQL, settings, a running bot.

Database tests take the `db_url` fixture and so run once per engine: on SQLite always,
and on PostgreSQL too when HUIBAO_TEST_POSTGRES_URL is set. Each test gets a migrated
database of its own (SQLite: a copy of a migrated file; PostgreSQL: a database made for
this test run, emptied after every test).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import all as _all_models  # noqa: F401
from models import txguard
from models.base import Base
from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade

POSTGRES_ENV = "HUIBAO_TEST_POSTGRES_URL"

# A Bot API call inside an open database transaction fails the test (models/txguard.py).
os.environ.setdefault(txguard.ENV, "raise")


@pytest.fixture(autouse=True)
def no_bot_api_call_in_a_transaction() -> Iterator[None]:
    txguard.violations.clear()
    yield
    found = [str(v) for v in txguard.violations]
    txguard.violations.clear()
    assert not found, f"Bot API calls inside an open database transaction: {found}"


def _engines() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "huibao.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def postgres_admin(sql: str) -> None:
    """Run one statement on the PostgreSQL server's test database (CREATE/DROP DATABASE)."""
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(os.environ[POSTGRES_ENV]))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test run's own, so concurrent runs never meet."""
    base = os.environ[POSTGRES_ENV]
    name = f"huibao_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=_engines())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "huibao.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    asyncio.run(_empty_postgres(url))


@pytest.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


def settings_env(db_url: str, double: Any | None = None, **extra: str) -> dict[str, str]:
    """Environment for a `huibao` subprocess pointed at the double and a test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")}
    env[txguard.ENV] = os.environ.get(txguard.ENV, "raise")  # the child refuses such calls too
    env.update(
        {
            "HUIBAO_DATABASE__URL": db_url,
            "HUIBAO_LOGGING__FORMAT": "json",
            "HUIBAO_TELEGRAM__POLL_TIMEOUT": "1",
        }
    )
    if double is not None:
        env.update(
            {
                "HUIBAO_TELEGRAM__TOKEN": double.token,
                "HUIBAO_TELEGRAM__BASE_URL": double.base_url,
                "HUIBAO_TELEGRAM__BASE_FILE_URL": double.base_file_url,
            }
        )
    env.update(extra)
    return env
