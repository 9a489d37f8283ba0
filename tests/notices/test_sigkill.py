"""SIGKILL the real `huibao run` three times while it broadcasts to 2,000 recipients.

The notice is made with the real `huibao notices send`; the bot runs as a child process
against the Bot API double served by this test, and is killed with SIGKILL at three random
moments of the broadcast, each time started again. From the double's log of what it
received: nobody is lost, and a recipient gets the notice twice only when the bot was
killed while that very message was on its way (the row was `sending`: its `in_doubt` is
set). That is the window the outbox cannot close, because Telegram has no idempotency key
(docs/reference/delivery.md, "What is guaranteed"); the test prints how many it
measured, which is normally 0.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from models.db import transaction
from models.outbox import Delivery
from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env, huibao_command
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster

RECIPIENTS = 2000
KILLS = 3
# delivery.concurrency: the most requests the worker has in flight (it keeps about rate x
# round trip, fewer when the machine is quick). What is in flight at a kill is the most a
# kill can repeat, however busy the machine: the bound below is derived from it.
IN_FLIGHT_CAP = 8


async def test_sigkill_three_times_loses_nothing(
    db_url: str, sessionmaker: Sessions, tmp_path: Path
) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, RECIPIENTS)
    text_file = tmp_path / "notice.txt"
    text_file.write_text("关于做好2026年冬季校园安全工作的通知\n请各校认真落实。", encoding="utf-8")
    rng = random.Random()
    async with BotApiDouble(auto_create_chats=True) as tg:
        env = child_env(
            settings_env(
                db_url,
                tg,
                # Quick enough for a test, slow enough that the kills land mid-broadcast.
                HUIBAO_DELIVERY__MESSAGES_PER_SECOND="150",
                HUIBAO_DELIVERY__ALLOW_PAID_BROADCAST="true",
                HUIBAO_DELIVERY__POLL_SECONDS="0.2",
                # A killed worker's rows are taken over when its lease ends.
                HUIBAO_DELIVERY__LEASE_SECONDS="3",
                HUIBAO_DELIVERY__CONCURRENCY=str(IN_FLIGHT_CAP),
                HUIBAO_LOGGING__LEVEL="INFO",
            )
        )
        sent = await asyncio.to_thread(
            subprocess.run,
            [*huibao_command(), "notices", "send", "--text-file", str(text_file)],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        assert f"{RECIPIENTS} recipients" in sent.stdout

        kills_at: list[int] = []
        for round_ in range(KILLS + 1):
            process = BotProcess(env, tmp_path)
            process.start()
            try:
                if round_ < KILLS:
                    # A random moment while this run is sending (its first messages are out).
                    start = len(tg.sent)
                    await tg.wait_sent(start + 20, timeout=60)
                    await asyncio.sleep(rng.uniform(0.05, 2.5))
                    assert len(tg.sent) < RECIPIENTS, "finished before the kill; slow it down"
                    await process.astop(signal.SIGKILL)
                    kills_at.append(len(tg.sent))
                else:
                    await tg.wait_sent(RECIPIENTS, timeout=120)
                    await wait_all_final(sessionmaker)
                    assert await process.astop(signal.SIGTERM) == 0
            finally:
                if process.process is not None and process.process.poll() is None:
                    await process.astop(signal.SIGKILL)
        received = Counter(m.chat_id for m in tg.sent if m.method == "sendMessage")

    expected = set(roster.telegram_ids)
    lost = expected - set(received)
    duplicated = {chat: n for chat, n in received.items() if n > 1}
    async with sessionmaker() as session:
        doubtful = set(
            (await session.execute(select(Delivery.chat_id).where(Delivery.in_doubt > 0)))
            .scalars()
            .all()
        )
        states = dict(
            (await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)))
            .all()
        )
    # Each repeat belongs to the kill that interrupted its first copy.
    first_copy = {}
    for index, message in enumerate(tg.sent):
        first_copy.setdefault(message.chat_id, index)
    per_kill = Counter(
        sum(1 for at in kills_at if first_copy[chat] >= at) for chat in duplicated
    )
    print(
        f"\nSIGKILL after {kills_at} messages: lost {len(lost)}, duplicated "
        f"{sum(n - 1 for n in duplicated.values())} (per kill "
        f"{[per_kill.get(k, 0) for k in range(KILLS)]}), in doubt after the kills "
        f"{len(doubtful)}"
    )
    assert lost == set()
    assert set(received) == expected
    assert states == {"sent": RECIPIENTS}
    # Every repeat was a message in flight at a kill (at most one per message, and never
    # more than the worker's requests in flight per kill).
    assert set(duplicated) <= doubtful
    assert all(n == 2 for n in duplicated.values())
    assert len(doubtful) <= KILLS * IN_FLIGHT_CAP


async def wait_all_final(sessions: Sessions, timeout: float = 60) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with sessions() as session:
            open_rows = (
                await session.execute(
                    select(func.count()).where(
                        Delivery.status.not_in(["sent", "failed", "blocked"])
                    )
                )
            ).scalar_one()
        if open_rows == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("deliveries still open")
