"""Benchmark: one notice to N recipients through the outbox, against the Bot API double.

The real delivery worker sends through a real python-telegram-bot ExtBot over HTTP to
tests/double/, which runs in a process of its own (bench/remote_double.py) so
that the double's work is not counted against the bot's. Printed, for each phase:

* limiter on: messages per second with HuibaoRateLimiter at delivery.messages_per_second
  (target: at least 95 % of the cap, 28.5/s at 30/s);
* limiter off: how fast the outbox itself drives sends (target: at least 500/s, so the
  database is never the bottleneck);
* lost and duplicated, from the double's log of sent messages against the recipients, and
  the delivery rows' final states;
* the busiest second: the most sends the double received in any one-second window (never
  above the cap with the limiter on);
* with --paid (delivery.allow_paid_broadcast = true; issue 13): the limiter on at --rate
  (up to 1000) has the same target, 95 % of the cap, and the limiter off must reach 1,200
  a second (head-room on a loaded machine);
* --phase double: the double alone, sendMessage fired at it by a bare aiohttp client with
  --concurrency requests in flight, no bot and no database: the ceiling of this machine.

Usage (10,000 recipients with the limiter on at 30/s take about six minutes):

    .venv/bin/python -m bench.notices_broadcast [--count 10000] [--db sqlite|postgres]
        [--phase on|off|both|double] [--rate 30] [--off-count 10000] [--paid]
        [--concurrency 32]

Paid broadcasts, as in docs/operations/paid-broadcasts.md:

    .venv/bin/python -m bench.notices_broadcast --paid --rate 1000 --count 20000 --db postgres

PostgreSQL: a database of its own is made (and dropped) on the server named by
HUIBAO_BENCH_POSTGRES_URL, else HUIBAO_TEST_POSTGRES_URL, else
postgresql+asyncpg://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from bisect import bisect_left
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.remote_double import RemoteDouble
from config.settings import DeliverySettings, TelegramSettings
from models.db import create_engine, create_sessionmaker, transaction
from models.migrate import upgrade
from models.notices import Audience, AudienceKind, NewNotice, create_notice
from models.outbox import Delivery
from scheduler.delivery import DeliveryWorker
from scheduler.journal import Journal
from tests.notices.roster import make_roster
from texts.notices.messages import renderer
from transport.limiter import build_rate_limiter, outbox_bot

TEXT = (
    "关于开展2026年秋季学期教师培训完成情况统计的通知\n\n"
    "各学校：请于11月30日前通过本机器人填报本校教师培训完成情况（国培、省培、县培、校本研修），"
    "并确认已阅本通知。"
)


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    import asyncpg

    base = (
        os.environ.get("HUIBAO_BENCH_POSTGRES_URL")
        or os.environ.get("HUIBAO_TEST_POSTGRES_URL")
        or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    name = f"huibao_bench_{uuid.uuid4().hex[:8]}"
    dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def phase(db: str, count: int, limiter: bool, settings: DeliverySettings) -> dict[str, float]:
    async with database(db) as url:
        engine = create_engine(url, pool_size=20)
        sessionmaker = create_sessionmaker(engine)
        async with transaction(sessionmaker) as session:
            roster = await make_roster(session, count)
        started = time.perf_counter()
        async with transaction(sessionmaker) as session:
            created = await create_notice(
                session,
                NewNotice(text=TEXT, audience=Audience(AudienceKind.ALL), requires_ack=True),
                renderer("某县教育局", "zh_CN"),
                title=lambda notice: f"Notice #{notice.id}",
            )
        enqueue_seconds = time.perf_counter() - started
        with RemoteDouble() as double:
            telegram = TelegramSettings(
                token=double.token, base_url=double.base_url, base_file_url=double.base_file_url
            )
            rate_limiter = build_rate_limiter(settings) if limiter else None
            pacer = None
            if rate_limiter is not None:
                # Every send's departure as the limiter let it go, beside the double's clock.
                pacer = rate_limiter.paid or rate_limiter.pacer
                pacer.departures = []
            bot = outbox_bot(telegram, rate_limiter=rate_limiter)
            await bot.initialize()
            journal_dir = tempfile.TemporaryDirectory()
            journal = Journal.open(Path(journal_dir.name) / "bench.outbox-journal")
            worker = DeliveryWorker(bot, sessionmaker, settings, report=False, journal=journal)
            profiler = None
            if os.environ.get("BENCH_PROFILE"):
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            cpu_started = time.process_time()
            await worker.start()
            deadline = time.monotonic() + count / 5 + 60
            while time.monotonic() < deadline:
                async with sessionmaker() as session:
                    left = (
                        await session.execute(
                            select(func.count()).where(
                                Delivery.batch_id == created.batch.id,
                                Delivery.status.not_in(["sent", "failed", "blocked"]),
                            )
                        )
                    ).scalar_one()
                if left == 0:
                    break
                await asyncio.sleep(0.5)
            await worker.stop()
            cpu = time.process_time() - cpu_started
            if journal is not None:
                journal.close()
            journal_dir.cleanup()
            stats = worker.stats
            print(
                f"  writer: {stats.commits} transactions, "
                f"{stats.committed_ops / max(1, stats.commits):.1f} writes each, "
                f"{1000 * stats.commit_seconds / max(1, stats.commits):.2f} ms each"
            )
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(os.environ["BENCH_PROFILE"])
            await bot.shutdown()
            sends = [m for m in double.sent() if m.method == "sendMessage"]
            async with sessionmaker() as session:
                states = dict(
                    (
                        await session.execute(
                            select(Delivery.status, func.count()).group_by(Delivery.status)
                        )
                    ).all()
                )
        await engine.dispose()
    if os.environ.get("BENCH_DUMP"):
        # The double's clock and the limiter's, to look at a busy second closely.
        Path(os.environ["BENCH_DUMP"]).write_text(  # noqa: ASYNC240 - after the run
            json.dumps({"double": [m.timestamp for m in sends],
                        "limiter": pacer.departures if pacer else []})
        )
    received = Counter(m.chat_id for m in sends)
    expected = set(roster.telegram_ids)
    lost = len(expected - set(received))
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    if len(sends) > 1:
        span = sends[-1].timestamp - sends[0].timestamp
        rate = (len(sends) - 1) / span if span > 0 else float("inf")
    else:
        rate = 0.0
    return {
        "recipients": len(expected),
        "cpu_ms": 1000 * cpu / max(1, len(sends)),
        "enqueue_s": enqueue_seconds,
        "rate": rate,
        "lost": lost,
        "duplicated": duplicated,
        "unexpected": len(set(received) - expected),
        "busiest": busiest_second([m.timestamp for m in sends]),
        "busiest_bot": busiest_second(pacer.departures or []) if pacer else 0,
        "rows_sent": states.get("sent", 0),
        "rows_other": sum(v for k, v in states.items() if k != "sent"),
    }


def busiest_second(times: list[float]) -> int:
    """The most sends in any window [t, t + 1 s), t running over every send."""
    ordered = sorted(times)
    return max((bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


async def double_alone(count: int, concurrency: int) -> dict[str, float]:
    """sendMessage straight at the double: how fast it answers with nothing else running."""
    import aiohttp

    with RemoteDouble() as double:
        url = f"{double.base_url}{double.token}/sendMessage"
        chats = iter(range(1, count + 1))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

            async def one_sender() -> None:
                for chat in chats:
                    async with http.post(url, data={"chat_id": chat, "text": TEXT}) as answer:
                        await answer.read()

            started = time.perf_counter()
            await asyncio.gather(*(one_sender() for _ in range(concurrency)))
            span = time.perf_counter() - started
        sends = [m for m in double.sent() if m.method == "sendMessage"]
    return {"rate": len(sends) / span, "busiest": busiest_second([m.timestamp for m in sends])}


def report(name: str, result: dict[str, float], target: float, cap: float | None) -> None:
    ratio = result["rate"] / target if target else 0
    print(f"{name}:")
    print(f"  recipients            {int(result['recipients']):>8}")
    print(f"  enqueue (1 transaction){result['enqueue_s']:>8.2f} s")
    print(f"  messages per second   {result['rate']:>8.1f}")
    print(f"  bot CPU per message   {result['cpu_ms']:>8.2f} ms")
    if cap:
        print(f"  of the cap ({cap:g}/s)     {result['rate'] / cap:>8.1%}")
    print(f"  busiest second        {int(result['busiest']):>8}", end="")
    if cap:
        kept = result["busiest"] <= cap
        print(f"  (cap {cap:g}: {'kept' if kept else 'NOT kept'})", end="")
    print()
    if cap:
        print(f"  busiest second, as the limiter let sends go {int(result['busiest_bot']):>4}")
    print(f"  target {target:g}/s, ratio {ratio:.2f} ({'met' if ratio >= 1 else 'NOT met'})")
    print(f"  lost                  {int(result['lost']):>8}")
    print(f"  duplicated            {int(result['duplicated']):>8}")
    print(f"  unexpected chats      {int(result['unexpected']):>8}")
    print(f"  rows sent / other     {int(result['rows_sent']):>8} / {int(result['rows_other'])}")
    sys.stdout.flush()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="recipients, limiter on")
    parser.add_argument("--off-count", type=int, default=None, help="recipients, limiter off")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--phase", choices=["on", "off", "both", "double"], default="both")
    parser.add_argument("--rate", type=float, default=30.0, help="messages_per_second")
    parser.add_argument(
        "--concurrency", type=int, default=DeliverySettings().concurrency,
        help="requests in flight (delivery.concurrency)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=DeliverySettings().batch_size,
        help="deliveries claimed at a time (delivery.batch_size)",
    )
    parser.add_argument(
        "--paid", action="store_true", help="delivery.allow_paid_broadcast = true"
    )
    args = parser.parse_args(argv)
    settings = DeliverySettings(
        messages_per_second=args.rate, concurrency=args.concurrency,
        allow_paid_broadcast=args.paid, batch_size=args.batch_size,
    )
    print(f"database: {args.db}; delivery settings: {settings.model_dump()}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if args.phase == "double":
        alone = await double_alone(args.count, args.concurrency)
        print("the double alone (bare aiohttp, no bot, no database):")
        print(f"  messages per second   {alone['rate']:>8.1f}")
        print(f"  busiest second        {int(alone['busiest']):>8}")
        return
    if args.phase in ("off", "both"):
        result = await phase(args.db, args.off_count or args.count, False, settings)
        # Paid broadcasts need head-room above the 1,000 a second they may use.
        report("rate limiter off (the outbox's own speed)", result, 1200 if args.paid else 500,
               None)
    if args.phase in ("on", "both"):
        result = await phase(args.db, args.count, True, settings)
        report(
            f"rate limiter on ({args.rate:g}/s)", result, 0.95 * args.rate, args.rate
        )


if __name__ == "__main__":
    asyncio.run(main())
