"""Webhook mode with the default settings: a secret is made, given to Telegram, and
every request without it is refused before anything is handled (issue 9, item 1)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from models.db import create_engine, create_sessionmaker, transaction
from models.roster.tables import Person
from models.secrets import WEBHOOK_SECRET, StoredSecret
from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env
from tests.e2e.test_foundation import TOKEN, free_port

FORGER = 4242
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _start_update(update_id: int, user_id: int) -> dict[str, Any]:
    who = {"id": user_id, "is_bot": False, "first_name": "伪造", "language_code": "zh-hans"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "伪造"},
            "from": who,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def _stored(db_url: str) -> tuple[str | None, list[int]]:
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            secret = await session.scalar(
                select(StoredSecret.value).where(StoredSecret.name == WEBHOOK_SECRET)
            )
            people = list((await session.execute(select(Person.telegram_id))).scalars())
    finally:
        await engine.dispose()
    return secret, people


async def _set_webhook_secret(tg: BotApiDouble, count: int) -> str:
    deadline = time.monotonic() + 30
    while len(tg.requests_for("setWebhook")) < count:
        assert time.monotonic() < deadline, "setWebhook never called"
        await asyncio.sleep(0.05)
    secret = tg.requests_for("setWebhook")[count - 1].get("secret_token")
    assert isinstance(secret, str)
    return secret


def _webhook_env(db_url: str, tg: BotApiDouble, port: int) -> dict[str, str]:
    # Only what webhook mode needs: no secret_token and no listen address, the defaults.
    return child_env(
        settings_env(
            db_url,
            tg,
            HUIBAO_TELEGRAM__MODE="webhook",
            HUIBAO_TELEGRAM__WEBHOOK__PORT=str(port),
            HUIBAO_TELEGRAM__WEBHOOK__URL=f"http://127.0.0.1:{port}",
        )
    )


async def test_forged_webhook_posts_are_refused_with_the_default_settings(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with BotApiDouble(token=TOKEN) as tg:
        async with BotProcess(_webhook_env(db_url, tg, port), tmp_path) as bot:
            await bot.wait_ready()
            secret = await _set_webhook_secret(tg, 1)
            assert len(secret) >= 43  # secrets.token_urlsafe(32)
            assert (await _stored(db_url))[0] == secret
            hook = f"http://127.0.0.1:{port}/telegram"
            sent_before = len(tg.sent)
            async with aiohttp.ClientSession() as http:
                for number, headers in enumerate(({}, {HEADER: "wrong"}, {HEADER: ""})):
                    forged = await http.post(
                        hook, json=_start_update(900_000 + number, FORGER), headers=headers
                    )
                    assert forged.status == 403
                # Telegram's own deliveries carry the secret it was given and are answered.
                chen = tg.user(1005, "陈校长")
                await chen.send("/start")
                assert "您好" in (await chen.wait_for("汇报助手", timeout=30)).plain
                # So is a post with the right secret (as Telegram sends it).
                right = tg.user(4243, "周校长")
                answered = await http.post(
                    hook, json=_start_update(900_010, right.chat_id), headers={HEADER: secret}
                )
                assert answered.status == 200
                await right.wait_for("汇报助手", timeout=30)
            assert tg.messages_to(FORGER) == []
            assert all(r.get("chat_id") != FORGER for _m, r in tg.requests)
            assert len(tg.sent) == sent_before + 2
            assert FORGER not in (await _stored(db_url))[1]
            assert await bot.astop() == 0
        # A second process (or a restart) uses the same secret.
        async with BotProcess(_webhook_env(db_url, tg, free_port()), tmp_path) as again:
            await again.wait_ready()
            assert await _set_webhook_secret(tg, 2) == secret
            assert await again.astop() == 0
    for log in (bot.log, again.log):
        assert secret not in log
        assert "telegram.webhook.url is not https" in log
