"""Applying Alembic migrations from code (`huibao db upgrade`, `huibao run`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from models.db import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' must be doubled for configparser; passwords in URLs may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revisions(url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


async def current_revisions(url: str) -> set[str]:
    engine = create_engine(url)

    def _current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def upgrade(url: str) -> tuple[set[str], set[str]]:
    """Bring the database to the newest revision; returns (before, after).

    Safe to run again: with nothing pending Alembic does nothing. Runs its own event
    loop, so call it from a thread when a loop is already running.
    """
    before = asyncio.run(current_revisions(url))
    if before != head_revisions(url):
        command.upgrade(alembic_config(url), "heads")
    after = asyncio.run(current_revisions(url))
    return before, after


async def upgrade_async(url: str) -> tuple[set[str], set[str]]:
    return await asyncio.to_thread(upgrade, url)
