"""Telegram unreachable for a while, answers that never come back, and staff sending again.

* An outage (every send answered 500) in the middle of a broadcast: the worker pauses as
  a whole and probes with one send at a time, with capped back-off, instead of using up
  every delivery's tries; when Telegram answers again everything goes out, nothing is
  lost or repeated. HUIBAO_TEST_OUTAGE_SECONDS sets the outage's length (default 8; the
  two-minute figures in the notes were measured with 120).
* A send that Telegram accepted but whose answer came too late is sent again (at least
  once), and every such case counts as "may have received it twice".
* `huibao notices retry ID` and the status screen's button put failed and blocked
  deliveries back in the queue, and nothing that was delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from telegram.ext import ExtBot

from bot.cli import main
from config.settings import DeliverySettings, TelegramSettings
from models.db import transaction
from models.outbox import Delivery
from scheduler.delivery import OUTAGE_AFTER, DeliveryWorker
from tests.double import BotApiDouble
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, make_staff, post_notice
from tests.notices.test_delivery import statuses, wait_until_done
from transport.http import AiohttpRequest
from transport.limiter import build_rate_limiter, outbox_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

OUTAGE = float(os.environ.get("HUIBAO_TEST_OUTAGE_SECONDS", "8"))
STAFF_ID = 900


def probes_within(seconds: float, settings: DeliverySettings) -> int:
    """The most probes the pauses leave room for in `seconds`: pause k lasts
    min(backoff_max, backoff * 2**(k-1)) and a probe follows each."""
    elapsed = 0.0
    for k in itertools.count(1):
        elapsed += min(settings.backoff_max_seconds, settings.backoff_seconds * 2 ** (k - 1))
        if elapsed > seconds:
            return k
    raise AssertionError("unreachable")


async def in_doubt_chats(sessionmaker: Sessions) -> set[int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Delivery.chat_id).where(Delivery.in_doubt > 0))
        return set(rows.scalars())


async def test_an_outage_pauses_the_worker_and_loses_nothing(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 200)
        await post_notice(session)
    # The back-off cap shortened from 300 s, so that the test sees the end of the outage.
    settings = DeliverySettings(
        messages_per_second=100, poll_seconds=0.05, backoff_seconds=0.2, backoff_max_seconds=2.0
    )
    async with BotApiDouble(auto_create_chats=True) as tg:
        telegram = TelegramSettings(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
        )
        bot = outbox_bot(telegram, rate_limiter=build_rate_limiter(settings))
        await bot.initialize()
        worker = DeliveryWorker(bot, sessionmaker, settings, report=False)
        try:
            await worker.start()
            await tg.wait_sent(30, timeout=60)
            loop = asyncio.get_running_loop()
            began = loop.time()
            tg.outage(OUTAGE, status=500)
            began_at = tg.send_log[-1][0] if tg.send_log else 0.0
            await wait_until_done(sessionmaker, timeout=OUTAGE + 120)
            took = loop.time() - began
        finally:
            await worker.stop()
            await bot.shutdown()
        log = list(tg.send_log)
        received = Counter(m.chat_id for m in tg.sent if m.method == "sendMessage")
    # Nobody's notice failed for an outage of a few seconds (it used to after 5 tries).
    assert (await statuses(sessionmaker)) == Counter({"sent": 200})
    refused = [t for t, _method, status, _after in log if status == 500]
    after = [t for t, _method, status, _after in log if status == 200 and t > refused[-1]]
    print(
        f"\noutage {OUTAGE:g} s: {len(refused)} sends refused, at "
        f"{[round(t - refused[0], 1) for t in refused]} s; sending resumed "
        f"{after[0] - refused[0]:.1f} s after the first refusal; all {len(roster.telegram_ids)} "
        f"delivered {took:.1f} s after the outage began; pauses {worker.stats.outage_pauses}, "
        f"in flight at most {worker.inflight.peak}"
    )
    assert began_at <= refused[0]
    assert set(received) == set(roster.telegram_ids)
    assert set(received.values()) == {1}
    # The outage used up no one's tries: a few sends before the pause, those in flight
    # then, and one probe per pause, not every delivery five times.
    bound = OUTAGE_AFTER - 1 + worker.inflight.peak + probes_within(OUTAGE + 1, settings)
    assert len(refused) <= bound


async def test_an_answer_that_comes_too_late_counts_as_in_doubt(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 30)
        await post_notice(session)
    settings = DeliverySettings(
        messages_per_second=100, poll_seconds=0.05, backoff_seconds=0.05, backoff_max_seconds=0.2
    )
    async with BotApiDouble(auto_create_chats=True) as tg:
        # Telegram takes the next three messages but answers after the bot stopped waiting.
        tg.answer_late(3, seconds=1.5)
        bot: ExtBot[Any] = ExtBot(
            tg.token,
            base_url=tg.base_url,
            base_file_url=tg.base_file_url,
            request=AiohttpRequest(read_timeout=0.5),
            rate_limiter=build_rate_limiter(settings),
        )
        await bot.initialize()
        worker = DeliveryWorker(bot, sessionmaker, settings, report=False)
        try:
            await worker.start()
            await wait_until_done(sessionmaker, timeout=60)
        finally:
            await worker.stop()
            await bot.shutdown()
        received = Counter(m.chat_id for m in tg.sent)
    repeated = {chat for chat, n in received.items() if n > 1}
    doubtful = await in_doubt_chats(sessionmaker)
    print(f"\nrepeated {len(repeated)}, counted in doubt {len(doubtful)}")
    assert set(received) == set(roster.telegram_ids)
    assert len(repeated) == 3
    # Every repeat is counted; none is counted that did not happen here.
    assert repeated == doubtful


async def test_staff_send_again_to_those_not_reached(
    bot: Any, sessionmaker: Sessions, db_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 6, districts=1)
        staff = await make_staff(session, STAFF_ID)
        notice = await post_notice(session, author=staff, language="en")
    notice_id = notice.notice.id
    chats = roster.telegram_ids
    blocked = chats[:2]

    unknown = chats[2:4]

    def prepare(tg: BotApiDouble) -> None:
        tg.user(STAFF_ID, "王科长", language_code="en")
        for tid in chats:
            if tid not in unknown:
                tg.user(tid)
        for tid in blocked:
            tg.block(tid)
        # Two refused for good ("chat not found" here; a retry budget used up in a long
        # outage ends the same way).

    async def states() -> Counter[str]:
        async with sessionmaker() as session:
            rows = await session.execute(
                select(Delivery.status).where(Delivery.purpose == f"notice:{notice_id}")
            )
            return Counter(rows.scalars())

    async def settled() -> Counter[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            counts = await states()
            if set(counts) <= {"sent", "failed", "blocked"}:
                return counts
            await asyncio.sleep(0.1)
        raise AssertionError(f"deliveries not finished: {await states()}")

    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    async with bot(prepare) as running:
        tg = running.tg
        staff_user = tg.user(STAFF_ID)
        running.services.outbox.wake()
        await staff_user.wait_for("finished", timeout=30, after=0)
        assert (await settled()) == Counter({"sent": 2, "failed": 2, "blocked": 2})

        # The command line: both kinds go back, nothing delivered is touched.
        tg.unblock(blocked[0])
        for tid in unknown:
            tg.user(tid)
        assert await asyncio.to_thread(main, ["notices", "retry", str(notice_id)]) == 0
        out = capsys.readouterr().out
        assert "4 deliveries queued again (2 failed, 2 to people who had blocked the bot" in out
        assert (await settled()) == Counter({"sent": 5, "blocked": 1})

        # The status screen's button: one still blocked, and it says so.
        await staff_user.send("/notices")
        listing = await staff_user.wait_for("Recent notices")
        await staff_user.press(listing, f"#{notice_id}")
        view = await staff_user.wait_for("Delivered: 5 of 6 · blocked the bot: 1")
        tg.unblock(blocked[1])
        await staff_user.press(view, "🔁 Send again to the 1 not reached")
        answer = (await staff_user.wait_for_answer()).text or ""
        assert "1 of them had blocked the bot" in answer
        assert (await settled()) == Counter({"sent": 6})
        received = Counter(m.chat_id for m in tg.sent if m.chat_id in chats)
    assert received == Counter({tid: 1 for tid in chats})


async def test_a_delivery_fails_when_its_retry_budget_is_used_up(
    sessionmaker: Sessions,
) -> None:
    """retry_for bounds the retries in time: past it a delivery counts as failed (and staff
    can send it again), however few tries that took."""
    async with transaction(sessionmaker) as session:
        await make_roster(session, 5)
        await post_notice(session)
    settings = DeliverySettings.model_validate(
        {"messages_per_second": 100, "poll_seconds": 0.05, "backoff_seconds": 0.2,
         "backoff_max_seconds": 0.5, "retry_for": "1s"}
    )
    async with BotApiDouble(auto_create_chats=True) as tg:
        tg.outage(600, status=502)
        telegram = TelegramSettings(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
        )
        bot = outbox_bot(telegram, rate_limiter=build_rate_limiter(settings))
        await bot.initialize()
        worker = DeliveryWorker(bot, sessionmaker, settings, report=False)
        try:
            await worker.start()
            await wait_until_done(sessionmaker, timeout=60)
        finally:
            await worker.stop()
            await bot.shutdown()
    async with sessionmaker() as session:
        rows = (await session.execute(select(Delivery.status, Delivery.last_error))).all()
    assert {status for status, _error in rows} == {"failed"}
    assert all("gave up after retrying for 1 s" in error for _status, error in rows)
