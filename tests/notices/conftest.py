"""Fixtures for notices: the real Application in this process against the Bot API double,
with the outbox worker tuned to be quick (no pacing, short polls and backoff)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_application
from config.settings import Settings, load_settings
from tests.conftest import settings_env
from tests.double import BotApiDouble
from transport.context import HuibaoApp, Services

Sessions = async_sessionmaker[AsyncSession]
# Sets up the double before the bot starts; may be a coroutine function.
Prepare = Callable[[BotApiDouble], object]

FAST = {
    # Above Telegram's free 30 a second only with paid broadcasts (load_settings refuses it).
    "HUIBAO_DELIVERY__ALLOW_PAID_BROADCAST": "true",
    "HUIBAO_DELIVERY__MESSAGES_PER_SECOND": "1000",
    "HUIBAO_DELIVERY__POLL_SECONDS": "0.1",
    "HUIBAO_DELIVERY__PROGRESS_SECONDS": "0.2",
    "HUIBAO_DELIVERY__BACKOFF_SECONDS": "0.05",
    "HUIBAO_DELIVERY__BACKOFF_MAX_SECONDS": "0.5",
    "HUIBAO_BUREAU__NAME": "青山县教育局",
}


@dataclass
class Running:
    tg: BotApiDouble
    app: HuibaoApp
    settings: Settings
    sessions: Sessions

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data["services"]
        return services


@asynccontextmanager
async def running_bot(
    db_url: str,
    sessions: Sessions,
    prepare: Prepare | None = None,
    **env: str,
) -> AsyncIterator[Running]:
    """The Application of `huibao run`, in process, polling the double over HTTP, with the
    same start and stop hooks as run_polling (post_init, post_stop, post_shutdown).

    `prepare` sets up the double (users, blocked chats, faults) before the bot starts:
    the delivery worker sends pending deliveries at once, so a user created afterwards
    may already have been answered "chat not found"."""
    async with BotApiDouble() as tg:
        if prepare is not None and inspect.isawaitable(ready := prepare(tg)):
            await ready
        settings = load_settings(environ=settings_env(db_url, tg, **{**FAST, **env}))
        app = build_application(settings)
        async with app:
            assert app.post_init is not None
            await app.post_init(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield Running(tg, app, settings, sessions)
            finally:
                await app.updater.stop()
                await app.stop()
                if app.post_stop is not None:
                    await app.post_stop(app)
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)


@pytest.fixture
def bot(db_url: str, sessionmaker: Sessions) -> Callable[..., Any]:
    """`async with bot() as running:` starts the bot against a fresh double."""

    def start(prepare: Prepare | None = None, **env: str) -> Any:
        return running_bot(db_url, sessionmaker, prepare, **env)

    return start
