"""The database a command works on: migrated first, then a session factory for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import create_engine, create_sessionmaker

T = TypeVar("T")


def with_database(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Migrate (so a fresh machine just works), then run `work` with a session factory."""
    from models.migrate import upgrade

    upgrade(settings.database.url)

    async def main() -> T:
        engine = create_engine(settings.database.url)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())
