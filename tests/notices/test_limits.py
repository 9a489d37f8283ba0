"""Telegram's limits, counted where Telegram counts them: at the Bot API double.

Every sendMessage/sendDocument/sendPhoto that reaches the double is logged with its time
(`BotApiDouble.send_log`), answered or refused. No one-second window may hold more sends
than delivery.messages_per_second, replies sent directly by handlers included, and after a
429 "retry after N" nothing more arrives for N seconds but the sends that were already on
their way when the 429 was answered (at most the worker's requests in flight).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import Counter

import pytest

from config.settings import DeliverySettings, TelegramSettings
from models.db import transaction
from scheduler.delivery import DeliveryWorker
from tests.double import BotApiDouble
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, post_notice
from tests.notices.test_delivery import statuses, wait_until_done
from transport.limiter import build_rate_limiter, outbox_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

RATE = 30
RECIPIENTS = 150
DIRECT = 20


def busiest_second(times: list[float]) -> int:
    """The most sends in any window [t, t + 1 s), t running over every send."""
    ordered = sorted(times)
    return max(
        (bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0
    )


def throughput(times: list[float]) -> float:
    return (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 else 0.0


async def broadcast(
    sessionmaker: Sessions, tg: BotApiDouble, *, retry_after_at: int | None = None
) -> tuple[DeliveryWorker, list[int]]:
    """Send a notice to RECIPIENTS schools at RATE/s, with DIRECT replies sent straight
    through the same bot meanwhile (as handlers do); optionally a 429 after some sends."""
    settings = DeliverySettings(messages_per_second=RATE, poll_seconds=0.05)
    telegram = TelegramSettings(
        token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
    )
    bot = outbox_bot(telegram, rate_limiter=build_rate_limiter(settings))
    await bot.initialize()
    worker = DeliveryWorker(bot, sessionmaker, settings, report=False)
    direct_chats = [7_000_000 + i for i in range(DIRECT)]
    try:
        await worker.start()
        await tg.wait_sent(20, timeout=60)
        if retry_after_at is not None:
            await tg.wait_sent(retry_after_at, timeout=60)
            tg.fail_next(1, status=429, retry_after=2)
        # Replies to users go through the same limiter (PTB retries their 429s itself).
        await asyncio.gather(*(bot.send_message(chat, "收到") for chat in direct_chats))
        await wait_until_done(sessionmaker, timeout=120)
    finally:
        await worker.stop()
        await bot.shutdown()
    return worker, direct_chats


async def test_no_second_holds_more_than_the_rate(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, RECIPIENTS)
        await post_notice(session)
    async with BotApiDouble(auto_create_chats=True) as tg:
        _worker, direct = await broadcast(sessionmaker, tg)
        times = [t for t, _method, _status, _after in tg.send_log]
        received = Counter(m.chat_id for m in tg.sent)
    print(f"\n{len(times)} sends, busiest second {busiest_second(times)}, "
          f"{throughput(times):.2f}/s ({throughput(times) / RATE:.1%} of {RATE}/s)")
    assert set(received) == set(roster.telegram_ids) | set(direct)
    assert set(received.values()) == {1}
    # Not 60 in the first second (an idle bucket of 30 plus the steady 30), not one more
    # than the rate in any second.
    assert busiest_second(times) <= RATE


async def test_a_429_stops_every_send_until_its_retry_after(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, RECIPIENTS)
        await post_notice(session)
    async with BotApiDouble(auto_create_chats=True) as tg:
        worker, direct = await broadcast(sessionmaker, tg, retry_after_at=40)
        log = list(tg.send_log)
        received = Counter(m.chat_id for m in tg.sent)
    times = [t for t, _method, _status, _after in log]
    refusals = [(t, after) for t, _method, status, after in log if status == 429]
    assert refusals, "the injected 429 was never met"
    # Sends that reached Telegram while it had asked the bot to wait: only those already on
    # their way when the 429 came back (in flight beside the refused one).
    during = [
        sum(1 for t in times if start < t < start + after) for start, after in refusals
    ]
    print(f"\n429s at {[round(t - times[0], 2) for t, _a in refusals]} s; sends during "
          f"their retry_after: {during}; busiest second {busiest_second(times)}; "
          f"in flight at most {worker.inflight.peak}")
    assert all(n <= worker.inflight.peak - 1 for n in during)
    assert busiest_second(times) <= RATE
    assert set(received) == set(roster.telegram_ids) | set(direct)
    assert set(received.values()) == {1}
    assert (await statuses(sessionmaker)) == Counter({"sent": RECIPIENTS})
