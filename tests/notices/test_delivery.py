"""The delivery worker against the Bot API double: faults, blocked chats, permanent errors,
progress, the sender's report, and a stop in the middle."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from config.settings import DeliverySettings, TelegramSettings
from models.base import utcnow
from models.db import transaction
from models.outbox import Delivery, DeliveryBatch, OutboxFile
from models.roster.tables import Person
from scheduler.delivery import DeliveryWorker
from tests.double import BotApiDouble
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, make_staff, post_notice
from transport.limiter import build_rate_limiter, outbox_bot

STAFF_ID = 900
# PTB itself warns inside RetryAfter (its retry_after turns into a timedelta one day).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def statuses(sessions: Sessions) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return Counter({status: int(n) for status, n in rows.all()})


async def wait_until_done(sessions: Sessions, timeout: float = 60) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        counts = await statuses(sessions)
        if counts and all(s in ("sent", "failed", "blocked") for s in counts):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"deliveries not finished: {await statuses(sessions)}")


async def test_faults_and_blocked_chats(bot: Any, sessionmaker: Sessions) -> None:
    """5 % of sends answered 429 or 5xx and 2 % of chats blocked: every reachable recipient
    gets the notice exactly once; the blocked ones are reported and marked unreachable."""
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 300, deputies_every=10)
        staff = await make_staff(session, STAFF_ID)
        batch = (await post_notice(session, author=staff, language="en")).batch
    chats = roster.telegram_ids
    rng = random.Random(7)
    blocked = set(rng.sample(chats, len(chats) * 2 // 100))
    async def prepare(tg: BotApiDouble) -> None:
        tg.user(STAFF_ID, "王科长", language_code="en")
        for chat_id in chats:
            tg.user(chat_id)
        for chat_id in blocked:
            tg.block(chat_id)
        # The sender's progress message, as the composer leaves it.
        progress = tg.message_from_bot(STAFF_ID, "Sending…")
        async with transaction(sessionmaker) as session:
            await session.execute(
                update(DeliveryBatch)
                .where(DeliveryBatch.id == batch.id)
                .values(progress_chat_id=STAFF_ID, progress_message_id=progress.message_id)
            )
        tg.set_fault_rates(p429=0.025, p5xx=0.025, seed=11, retry_after=1)

    async with bot(prepare) as running:
        tg = running.tg
        staff_user = tg.user(STAFF_ID)
        running.services.outbox.wake()
        report = await staff_user.wait_for("finished", timeout=90, after=0)
        faults = Counter(status for _method, status in tg.injected_faults)

    received = Counter(m.chat_id for m in tg.sent if m.method == "sendMessage")
    reachable = set(chats) - blocked
    assert {chat for chat, n in received.items() if n != 1} - {STAFF_ID} == set()
    assert set(received) - {STAFF_ID} == reachable
    assert faults[429] > 0 and faults[500] + faults[502] > 0, faults

    counts = await statuses(sessionmaker)
    assert counts["blocked"] == len(blocked)
    assert counts["sent"] == len(reachable) + 1  # and the report to the sender
    async with sessionmaker() as session:
        unreachable = (
            await session.execute(select(Person).where(Person.reachable.is_(False)))
        ).scalars().all()
    assert {p.telegram_id for p in unreachable} == blocked
    plain = report.plain or ""
    assert f"Delivered: {len(reachable)} of {len(chats)}" in plain
    assert f"Blocked the bot ({len(blocked)})" in plain
    for person in unreachable:
        assert person.name in plain
    # The progress message was edited now and then, not once per message.
    edits = [p for p in tg.requests_for("editMessageText") if p.get("chat_id") == STAFF_ID]
    assert 1 <= len(edits) < len(chats) // 10
    assert "Finished" in (staff_user.messages()[0].plain or "")


async def test_permanent_errors_are_not_retried(bot: Any, sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 3, districts=1)
        staff = await make_staff(session, STAFF_ID)
        await post_notice(session, author=staff, language="en")
    def prepare(tg: BotApiDouble) -> None:
        tg.user(STAFF_ID, "王科长", language_code="en")
        # The second principal never opened the bot: Telegram answers "chat not found".
        for chat_id in (roster.telegram_ids[0], roster.telegram_ids[2]):
            tg.user(chat_id)

    async with bot(prepare) as running:
        tg = running.tg
        staff_user = tg.user(STAFF_ID)
        running.services.outbox.wake()
        report = await staff_user.wait_for("finished", timeout=20, after=0)
        attempts = [p for p in tg.requests_for("sendMessage")
                    if p.get("chat_id") == roster.telegram_ids[1]]
    assert len(attempts) == 1
    # What happened and what to do, in the sender's words; Telegram's own text stays in the log.
    assert "Not found on Telegram (1)" in (report.plain or "")
    assert "Send them a new invitation" in (report.plain or "")
    assert "chat not found" not in (report.plain or "").lower()
    async with sessionmaker() as session:
        failed = (
            await session.execute(select(Delivery).where(Delivery.status == "failed"))
        ).scalar_one()
    assert failed.chat_id == roster.telegram_ids[1] and failed.attempts == 1


async def test_a_stopped_worker_gives_back_and_the_next_one_finishes(
    sessionmaker: Sessions, db_url: str
) -> None:
    """Stopping in the middle finishes what is in flight, returns the rest, sends nothing
    twice; a new worker (a restart) sends the rest."""
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 120)
        await post_notice(session)
    settings = DeliverySettings(messages_per_second=200, concurrency=4, poll_seconds=0.05)
    async with BotApiDouble(auto_create_chats=True) as tg:
        telegram = TelegramSettings(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
        )
        for _round in range(2):
            limiter = build_rate_limiter(settings)
            bot = outbox_bot(telegram, rate_limiter=limiter)
            await bot.initialize()
            worker = DeliveryWorker(bot, sessionmaker, settings, report=False)
            await worker.start()
            if _round == 0:
                await tg.wait_sent(40, timeout=20)
                await worker.stop()
                counts = await statuses(sessionmaker)
                # Nothing is left held by the stopped worker.
                assert set(counts) <= {"pending", "sent"}, counts
                assert 40 <= counts["sent"] < 120
                assert counts["sent"] == len(tg.sent)
            else:
                await wait_until_done(sessionmaker)
                await worker.stop()
            await bot.shutdown()
        received = Counter(m.chat_id for m in tg.sent)
    assert set(received) == set(roster.telegram_ids)
    assert set(received.values()) == {1}


async def test_a_file_from_the_command_line_is_uploaded_once_and_a_long_text_follows_it(
    bot: Any, sessionmaker: Sessions
) -> None:
    content = b"%PDF-1.4 " + bytes(range(256)) * 40
    long_text = "关于开展2026年教师培训的通知\n" + "请各校认真组织，按时报送。" * 120
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 6)
        blob = OutboxFile(name="培训方案.pdf", content=content, mime_type="application/pdf")
        session.add(blob)
        await session.flush()
        await post_notice(session, long_text, blob_id=blob.id, attachment_name="培训方案.pdf")
    async with bot(lambda tg: [tg.user(tid) for tid in roster.telegram_ids]) as running:
        tg = running.tg
        users = [tg.user(tid) for tid in roster.telegram_ids]
        running.services.outbox.wake()
        for user in users:
            text = await user.wait_for(lambda m: m.text is not None, after=0, timeout=20)
            file, body = user.messages()
            # The file first (its caption says the notice follows), then the whole text
            # with the button, which is too long for a caption (1,024 characters).
            assert file.document is not None and "下面这条通知的附件" in (file.plain or "")
            assert await user.download(file) == content
            assert body is text and "请各校认真组织" in (body.plain or "")
            assert body.buttons()[0][0][0] == "✅ 确认已阅"
        uploads = len(tg.files)
    assert uploads == 1  # one upload; every other send reused Telegram's file_id
    async with sessionmaker() as session:
        stored = await session.get(OutboxFile, blob.id)
        assert stored is not None and stored.telegram_file_id
        parts = (await session.execute(select(Delivery.parts_sent))).scalars().all()
    assert set(parts) == {2}


async def test_a_scheduled_notice_waits_for_its_time(bot: Any, sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 2)
        at = utcnow() + timedelta(seconds=2)
        await post_notice(session, scheduled_at=at)
    async with bot() as running:
        users = [running.tg.user(tid) for tid in roster.telegram_ids]
        running.services.outbox.wake()
        await users[0].expect_silence(1.0, after=0)
        # Not listed for the principal before it went out.
        await users[0].send("/notices")
        assert "您还没有通知" in ((await users[0].wait_for(lambda m: True)).plain or "")
        for user in users:
            received = await user.wait_for("冬季校园安全", after=0, timeout=20)
            assert received.date >= int(at.timestamp()) - 1


async def test_paid_broadcast_is_asked_for_when_configured(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 5)
        await post_notice(session)
    settings = DeliverySettings(
        allow_paid_broadcast=True, messages_per_second=500, poll_seconds=0.05
    )
    async with BotApiDouble(auto_create_chats=True) as tg:
        telegram = TelegramSettings(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
        )
        bot = outbox_bot(telegram, rate_limiter=build_rate_limiter(settings))
        await bot.initialize()
        worker = DeliveryWorker(bot, sessionmaker, settings, report=False)
        await worker.start()
        try:
            await wait_until_done(sessionmaker)
        finally:
            await worker.stop()
            await bot.shutdown()
        sends = tg.requests_for("sendMessage")
    assert {p["chat_id"] for p in sends} == set(roster.telegram_ids)
    # (The double keeps form values it does not know as strings.)
    assert all(str(p.get("allow_paid_broadcast")).lower() == "true" for p in sends)
