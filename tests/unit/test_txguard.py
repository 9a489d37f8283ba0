"""The guard behind "no Bot API call inside an open database transaction": a call made
while the calling task has a transaction open is refused (in tests) and named; a call after
the commit, or from another task while someone else's transaction is open, goes out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import NetworkError

from models import txguard
from models.db import transaction
from tests.double import BotApiDouble
from transport.http import AiohttpRequest


@pytest.fixture
async def tg_bot() -> AsyncIterator[tuple[BotApiDouble, Bot]]:
    async with BotApiDouble() as tg:
        tg.user(1001)
        bot = Bot(
            tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url,
            request=AiohttpRequest(),
        )
        async with bot:
            yield tg, bot


@pytest.fixture(autouse=True)
def refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(txguard.ENV, "raise")


def take_violations() -> list[str]:
    found = [v.method for v in txguard.violations]
    txguard.violations.clear()
    return found


async def test_a_call_inside_a_transaction_is_refused_and_named(
    sessionmaker: async_sessionmaker[AsyncSession], tg_bot: tuple[BotApiDouble, Bot]
) -> None:
    tg, bot = tg_bot
    # PTB wraps the guard's error as a NetworkError; the request never leaves.
    with pytest.raises(NetworkError, match=r"TransactionOpenError.*sendMessage"):
        async with transaction(sessionmaker) as session:
            await session.execute(text("SELECT 1"))
            await bot.send_message(1001, "inside")
    assert take_violations() == ["sendMessage"]
    assert tg.messages_to(1001) == []


async def test_a_session_that_wrote_without_committing_counts_too(
    sessionmaker: async_sessionmaker[AsyncSession], tg_bot: tuple[BotApiDouble, Bot]
) -> None:
    _, bot = tg_bot
    async with sessionmaker() as session:
        await session.execute(text("UPDATE districts SET name = name WHERE id = -1"))
        with pytest.raises(NetworkError, match="TransactionOpenError"):
            await bot.send_message(1001, "inside")
        await session.commit()
        await bot.send_message(1001, "after the commit")
    assert len(take_violations()) == 1


async def test_after_commit_and_from_other_tasks_calls_go_out(
    sessionmaker: async_sessionmaker[AsyncSession], tg_bot: tuple[BotApiDouble, Bot]
) -> None:
    tg, bot = tg_bot
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with transaction(sessionmaker) as session:
            await session.execute(text("SELECT 1"))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    await bot.send_message(1001, "from another task")  # someone else's transaction
    release.set()
    await holder

    async with transaction(sessionmaker) as session:
        await session.execute(text("SELECT 1"))
        # A task started inside the transaction is not inside it.
        await asyncio.create_task(bot.send_message(1001, "from a child task"))
    await bot.send_message(1001, "after the commit")

    with pytest.raises(RuntimeError):
        async with transaction(sessionmaker) as session:
            await session.execute(text("SELECT 1"))
            raise RuntimeError("rolled back")
    await bot.send_message(1001, "after the rollback")
    assert [m.text for m in tg.messages_to(1001)] == [
        "from another task", "from a child task", "after the commit", "after the rollback",
    ]
    assert take_violations() == []


async def test_in_production_a_violation_is_logged_with_its_method_and_origin(
    sessionmaker: async_sessionmaker[AsyncSession],
    tg_bot: tuple[BotApiDouble, Bot],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg, bot = tg_bot
    monkeypatch.delenv(txguard.ENV)
    caplog.set_level(logging.ERROR, logger="huibao.txguard")
    async with transaction(sessionmaker) as session:
        await session.execute(text("SELECT 1"))
        await bot.send_message(1001, "inside, but not refused")
    assert [m.text for m in tg.messages_to(1001)] == ["inside, but not refused"]
    [logged] = caplog.records
    assert logged.getMessage() == "Bot API call inside an open database transaction"
    assert logged.method == "sendMessage"  # type: ignore[attr-defined]
    assert take_violations() == []
