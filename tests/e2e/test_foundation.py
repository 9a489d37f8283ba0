"""The real `huibao run` process against the Bot API double: start, language, logs, stop."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from pathlib import Path

from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env

TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_start_answers_in_each_persons_language(db_url: str, tmp_path: Path) -> None:
    async with BotApiDouble(token=TOKEN) as tg:
        env = child_env(settings_env(db_url, tg, HUIBAO_BUREAU__NAME="青山县教育局"))
        async with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            wang = tg.user(1001, "王校长", language_code="zh-hans")
            started = time.monotonic()
            await wang.send("/start")
            reply = await wang.wait_for("青山县教育局")
            elapsed = time.monotonic() - started
            assert "王校长，您好" in reply.plain
            print(f"/start answered in {elapsed * 1000:.0f} ms")

            smith = tg.user(1002, "Alice", language_code="en-GB")
            await smith.send("/start")
            english = await smith.wait_for("reporting assistant")
            assert "Hello, Alice!" in english.plain

            # /language switches the stored choice; later answers follow it.
            await wang.send("/language")
            chooser = await wang.wait_for("请选择语言")
            await wang.press(chooser, "English")
            await wang.wait_for("Language set to English")
            await wang.send("/help")
            assert "What you can do" in (await wang.wait_for("/menu")).plain

            # Command menus were published in both languages (two-letter codes).
            assert tg.commands_for(language_code="zh")
            assert tg.commands_for(language_code="en")

            assert await bot.astop(signal.SIGTERM) == 0
        log = bot.log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    handled = [e for e in events if e["event"] == "update handled"]
    assert {"update_id", "user_id", "handler", "ms"} <= set(handled[0])
    assert any(e["handler"].endswith("start") for e in handled)


async def test_answers_survive_a_restart_and_the_database_is_reused(
    db_url: str, tmp_path: Path
) -> None:
    async with BotApiDouble(token=TOKEN) as tg:
        env = child_env(settings_env(db_url, tg))
        li = tg.user(1003, "李老师", language_code="zh-hans")
        async with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            await li.send("/language")
            await li.press(await li.wait_for("请选择语言"), "English")
            await li.wait_for("Language set to English")
            bot.kill()
        async with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            await li.send("/start")
            # Telegram says zh-hans, but the stored choice wins after the restart.
            assert "Hello" in (await li.wait_for("reporting assistant")).plain


async def test_a_failing_handler_apologises_and_logs(db_url: str, tmp_path: Path) -> None:
    async with BotApiDouble(token=TOKEN) as tg:
        env = child_env(settings_env(db_url, tg))
        async with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            zhao = tg.user(1004, "赵校长")
            # The first reply fails at Telegram; the bot logs it and apologises.
            tg.fail_next(1, status=400)
            await zhao.send("/help")
            apology = await zhao.wait_for("抱歉")
            assert "已保存" in apology.plain
        assert '"handler failed"' in bot.log


async def test_webhook_mode_checks_the_secret(db_url: str, tmp_path: Path) -> None:
    import aiohttp

    port = free_port()
    async with BotApiDouble(token=TOKEN) as tg:
        env = child_env(
            settings_env(
                db_url,
                tg,
                HUIBAO_TELEGRAM__MODE="webhook",
                HUIBAO_TELEGRAM__WEBHOOK__LISTEN="127.0.0.1",
                HUIBAO_TELEGRAM__WEBHOOK__PORT=str(port),
                HUIBAO_TELEGRAM__WEBHOOK__URL=f"http://127.0.0.1:{port}",
                HUIBAO_TELEGRAM__WEBHOOK__SECRET_TOKEN="s3cret-value",
            )
        )
        async with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            deadline = time.monotonic() + 10
            while not tg.requests_for("setWebhook") and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            chen = tg.user(1005, "陈校长")
            await chen.send("/start")
            assert "您好" in (await chen.wait_for("汇报助手", timeout=10)).plain
            async with aiohttp.ClientSession() as http:
                forged = await http.post(
                    f"http://127.0.0.1:{port}/telegram",
                    json={"update_id": 1},
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                )
                assert forged.status == 403
            assert await bot.astop() == 0
