"""The real Application, in process, polling the local Bot API double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import build_application
from config.settings import Settings
from tests.double import BotApiDouble


@pytest.fixture
async def status_bot(db_url: str) -> AsyncIterator[BotApiDouble]:
    """A running bot on this test's database; yields the double to talk to it."""
    async with BotApiDouble() as double:
        settings = Settings(
            telegram={
                "token": double.token,
                "base_url": double.base_url,
                "base_file_url": double.base_file_url,
                "poll_timeout": 1,
            },
            database={"url": db_url},
        )
        app: Any = build_application(settings, rate_limiter=False)
        async with app:
            # post_init runs inside run_polling/run_webhook only; here we call it.
            await app.post_init(app)
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield double
            finally:
                await app.updater.stop()
                await app.stop()
                await app.post_shutdown(app)
