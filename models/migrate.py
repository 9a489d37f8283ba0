"""Applying Alembic migrations from code (`huibao db upgrade`, `huibao run`)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url
from sqlalchemy.engine import Connection

from models.db import create_engine, create_private_sqlite_file, is_sqlite

# Alembic's folder sits beside the packages, as Alembic lays it out: migrations are frozen
# history that must not share code with the models they once described.
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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
    with _sqlite_migration_lock(url):
        before = asyncio.run(current_revisions(url))
        if before != head_revisions(url):
            command.upgrade(alembic_config(url), "heads")
        after = asyncio.run(current_revisions(url))
    return before, after


@contextlib.contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """One migrating process at a time on a SQLite file (PostgreSQL: env.py's advisory lock).

    Two `huibao run` started together would otherwise both create the same tables. flock
    on the database file itself: on Linux it does not meet the fcntl locks SQLite uses.
    """
    path = make_url(url).database if is_sqlite(url) else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    create_private_sqlite_file(url)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


async def upgrade_async(url: str) -> tuple[set[str], set[str]]:
    return await asyncio.to_thread(upgrade, url)
