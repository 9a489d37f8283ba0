"""Two `huibao run` processes side by side on PostgreSQL: each reminder goes out exactly
once, and when the scheduler's holder is killed the other process takes over."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from models.base import utcnow
from models.db import create_engine, create_sessionmaker, transaction
from models.followup.reminders import set_round_policy
from models.forms import load_forms
from models.rounds.lifecycle import open_round
from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env
from tests.schedule.conftest import ROOT, make_county

TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
PRINCIPALS = (5001, 5011, 5002, 5003)
LOCK_POLL = 2
TICK = 5


def acquired_at(bot: BotProcess) -> float | None:
    """When (wall clock) the process logged taking the scheduler lock, if it did."""
    for line in bot.log.splitlines():
        if line.startswith("{") and '"scheduler lock acquired"' in line:
            event = json.loads(line)
            from datetime import datetime

            return datetime.fromisoformat(event["ts"]).timestamp()
    return None


async def open_scheduled_round(db_url: str, period: str) -> int:
    """A round as a schedule opens it now: its opening notice is due at once."""
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            round_ = await open_round(
                session,
                form=load_forms(ROOT / "forms").get("staffing"),
                period=period,
                deadline=utcnow() + timedelta(days=3),
                now=utcnow(),
            )
            await set_round_policy(session, round_.id, {})
            return round_.id
    finally:
        await engine.dispose()


async def until(condition: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within} s: {what}")


async def test_two_processes_remind_once_and_hand_over_the_scheduler(
    db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several bot processes need PostgreSQL; SQLite runs one")
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await make_county(session)
    finally:
        await engine.dispose()
    async with BotApiDouble(token=TOKEN) as tg:
        users = {chat: tg.user(chat, f"校长{chat}", language_code="zh-hans") for chat in PRINCIPALS}
        env = child_env(
            settings_env(
                db_url,
                tg,
                HUIBAO_QUIET_HOURS__ENABLED="false",
                HUIBAO_FORMS__DIRECTORY=str(ROOT / "forms"),
                HUIBAO_SCHEDULER__TICK_SECONDS=str(TICK),
                HUIBAO_SCHEDULER__LOCK_POLL_SECONDS=str(LOCK_POLL),
                HUIBAO_SCHEDULER__LEADER_LOCK_ID=str(int.from_bytes(os.urandom(4), "big")),
            )
        )
        first, second = BotProcess(env, tmp_path), BotProcess(env, tmp_path)
        async with first, second:
            await asyncio.gather(first.wait_ready(), second.wait_ready())
            await until(lambda: acquired_at(first) or acquired_at(second), 10, "a scheduler holder")
            holders = [p for p in (first, second) if acquired_at(p) is not None]
            assert len(holders) == 1
            holder, other = (first, second) if holders[0] is first else (second, first)

            await open_scheduled_round(db_url, "2026-A")
            await until(
                lambda: all(len(u.messages()) >= 1 for u in users.values()),
                TICK + 10,
                "every principal told",
            )
            # Several ticks later, still exactly one message each.
            await asyncio.sleep(TICK * 2 + 1)
            assert {chat: len(u.messages()) for chat, u in users.items()} == dict.fromkeys(
                PRINCIPALS, 1
            )

            killed = time.time()
            holder.kill()
            await until(lambda: acquired_at(other) is not None, 30, "the other process took over")
            handover = acquired_at(other) - killed  # type: ignore[operator]
            print(f"scheduler handover after kill -9: {handover:.2f} s (poll {LOCK_POLL} s)")
            assert handover < 30

            # The new holder sends the next round's notice, once.
            await open_scheduled_round(db_url, "2026-B")
            await until(
                lambda: all(len(u.messages()) >= 2 for u in users.values()),
                TICK + 10,
                "every principal told of the second round",
            )
            await asyncio.sleep(TICK + 1)
            assert {chat: len(u.messages()) for chat, u in users.items()} == dict.fromkeys(
                PRINCIPALS, 2
            )
            # Each notice is that round's announcement (texts.rounds.announcement).
            first_notice, second_notice = users[5001].messages()[:2]
            assert "2026-A" in (first_notice.plain or "")
            assert "2026-B" in (second_notice.plain or "")
