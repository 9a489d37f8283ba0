"""Benchmark: the report step (a principal's answer in, the next question out) against
python-telegram-bot's bare echo bot, with 200 principals answering at once.

Both bots are PTB Applications polling the Bot API double, which runs in a process of its
own (bench/remote_double.py) and plays every principal: each sends an answer, waits for
the bot's reply (a new message, as a phone shows it), and sends the next. The echo bot is
PTB's own echobot.py example, the floor of what any PTB bot costs per message (getUpdates,
an Update object, one handler, sendMessage). Two runs of each:

* **200 principals at a phone's pace**: each pauses 1-3 s before every answer (a fast
  typist; together they offer about 100 answers a second, three times what Telegram lets
  a bot send). Printed: answers per second, Huibao ÷ echo (target: at least 0.8), and
  p50 / p95 / p99 of the time from an answer to the next question (targets: p95 at most
  1.5 times the echo bot's p95 in the same run, issue 13; and under 100 ms).
* **capacity**: every principal answers the moment the reply comes (no pause), which
  saturates the bot: the most answers per second one process can take, and the ratio of
  that to the echo bot's, i.e. what Huibao's own work per step (a database transaction
  that checks and commits the answer and moves the draft on, the next question rendered
  in the person's language, a log line) costs next to PTB's. Targets (issue 13): at
  least 0.8 of the echo bot's on PostgreSQL, 0.7 on SQLite.

Each run also prints the bot's CPU per step and its database round trips per step (every
statement, BEGIN, COMMIT and ROLLBACK the bot's engines send, counted by a SQLAlchemy
event listener; the delivery worker's and scheduler's are included, they are few).

Huibao runs as `huibao run` builds it (build_application: its handlers, rate limiter,
aiohttp transport, JSON logs, here to a file) against a fresh database: 200 schools with
their principals and an open round of a 30-question form shaped like the staffing form's
figures (integer fields with unit, bounds and hint, a warning rule, a computed field).
Each principal opens the report first (/report, then its button; not timed). The delivery
rate is raised to 1000/s because the double does not impose Telegram's limit and the
limit is not what is measured. Every run checks that every reply was the right next
question and that every answer is in the database; a run that loses one fails.

Usage (about six minutes for the default run; exit code 1 if a target is not met):

    .venv/bin/python -m bench.report_step [--db sqlite|postgres|both] [--principals 200]
        [--questions 30] [--think 1-3] [--no-capacity]

PostgreSQL: a database of its own on HUIBAO_BENCH_POSTGRES_URL, else
HUIBAO_TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test.
BENCH_PROFILE=FILE writes a cProfile of the bot per run to FILE.<run name>.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from telegram import Update
from telegram.ext import (
    Application,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.notices_broadcast import database
from bench.remote_double import RemoteDouble
from bot.app import build_application
from config.logs import setup_logging
from config.settings import Settings
from models.base import utcnow
from models.db import create_engine, create_sessionmaker, transaction
from models.forms import load_forms
from models.rounds import Answer
from models.rounds.lifecycle import open_round
from tests.notices.roster import make_roster, make_staff

ANSWER = "57"
STAFF_ID = 900


def bench_form(questions: int) -> str:
    """A form shaped like the staffing form's figures, `questions` integer fields long."""
    parts = [
        'code = "bench_staffing"',
        "version = 1",
        'period_type = "year"',
        'title.zh = "编制与师资配备（压测）"',
        'title.en = "Staffing and teachers (benchmark)"',
    ]
    for i in range(1, questions + 1):
        parts += [
            "",
            "[[fields]]",
            f'code = "f{i:02d}"',
            'type = "integer"',
            f'label.zh = "第{i}项：在编教职工数"',
            f'label.en = "Item {i}: staff on payroll"',
            'unit.zh = "人"',
            'unit.en = "people"',
            "min = 0",
            "max = 5000",
            'hint.zh = "占用本校编制的在职教职工人数（不含代课、临聘人员）。"',
            'hint.en = "Staff in established posts of the school."',
        ]
    parts += [
        "",
        "[[rules]]",
        'code = "second_within_first"',
        'expr = "f02 <= f01"',
        'severity = "warning"',
        'message.zh = "第2项（{f02}）超过第1项（{f01}），请确认。"',
        'message.en = "Item 2 ({f02}) is more than item 1 ({f01}); please confirm."',
        "",
        "[[computed]]",
        'code = "difference"',
        'label.zh = "差额"',
        'label.en = "Difference"',
        'expr = "f01 - f02"',
    ]
    return "\n".join(parts) + "\n"


@dataclass
class Result:
    name: str
    steps: int
    span: float
    latencies: list[float]
    cpu: float
    failures: list[str]
    wrong: int
    trips: int = 0
    stored: int | None = None

    @property
    def rate(self) -> float:
        return self.steps / self.span if self.span else 0.0

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]


Check = Callable[[int, str], bool]


class RoundTrips:
    """Every trip the process's engines make to the database: statements, and BEGIN,
    COMMIT and ROLLBACK (on SQLite, BEGIN travels with the first statement)."""

    count = 0

    @classmethod
    def listen(cls) -> None:
        def one(*_args: Any) -> None:
            cls.count += 1

        def begin(conn: Any) -> None:
            if conn.dialect.name != "sqlite":
                cls.count += 1

        event.listen(Engine, "before_cursor_execute", one)
        event.listen(Engine, "commit", one)
        event.listen(Engine, "rollback", one)
        event.listen(Engine, "begin", begin)


async def drive(
    double: RemoteDouble,
    app: Application[Any, Any, Any, Any, Any, Any],
    users: list[int],
    texts: list[str],
    think: tuple[float, float],
    check: Check,
    name: str,
) -> Result:
    """Start polling, let the double's principals converse, stop; the bot's CPU is counted
    while they do."""
    assert app.updater is not None
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        trips = RoundTrips.count
        cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        # The double's process answers over a pipe; a thread keeps this loop serving.
        outcome: dict[str, Any] = await asyncio.to_thread(
            double.call, "converse", users, texts, think=list(think)
        )
        cpu = time.process_time() - cpu
        trips = RoundTrips.count - trips
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}.{name.replace(' ', '_')}")
    finally:
        await app.updater.stop()
        await app.stop()
    wrong = sum(
        1
        for replies in outcome["replies"].values()
        for index, plain in enumerate(replies)
        if not check(index, plain)
    )
    return Result(
        name=name,
        steps=len(outcome["latencies"]),
        span=float(outcome["span"]),
        latencies=[float(x) for x in outcome["latencies"]],
        cpu=cpu,
        failures=list(outcome["failures"]),
        wrong=wrong,
        trips=trips,
    )


async def echo_run(principals: int, texts: list[str], think: tuple[float, float]) -> Result:
    """python-telegram-bot's own echobot.py example, pointed at the double."""

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    with RemoteDouble() as double:
        app = (
            Application.builder()
            .token(double.token)
            .base_url(double.base_url)
            .base_file_url(double.base_file_url)
            .build()
        )
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
        users = list(range(5_000_000, 5_000_000 + principals))
        async with app:
            return await drive(
                double, app, users, texts, think, lambda _i, plain: plain == ANSWER, "echo bot"
            )


@asynccontextmanager
async def huibao_app(
    url: str, double: RemoteDouble, forms: Path, log_file: Path
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    settings = Settings(
        telegram={
            "token": double.token,
            "base_url": double.base_url,
            "base_file_url": double.base_file_url,
        },
        database={"url": url},
        bureau={"name": "示范县教育局"},
        forms={"directory": str(forms)},
        delivery={"messages_per_second": 1000},
        logging={"format": "json"},
    )
    # `huibao run` logs one JSON line per update; here to a file, not the terminal.
    log_stream = log_file.open("a", encoding="utf-8")
    setup_logging(settings.logging.level, "json", [double.token], log_stream)
    app = build_application(settings)
    async with app:
        assert app.post_init is not None
        await app.post_init(app)
        try:
            yield app
        finally:
            if app.post_stop is not None:
                await app.post_stop(app)
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
            logging.getLogger().handlers.clear()
            log_stream.close()


async def huibao_run(
    db: str, principals: int, questions: int, think: tuple[float, float], name: str
) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        forms = Path(folder) / "forms"
        forms.mkdir()
        (forms / "bench_staffing.toml").write_text(bench_form(questions), encoding="utf-8")
        form = load_forms(forms).get("bench_staffing")
        async with database(db) as url:
            engine = create_engine(url)
            sessions = create_sessionmaker(engine)
            async with transaction(sessions) as session:
                roster = await make_roster(session, principals, districts=12)
                staff = await make_staff(session, STAFF_ID)
                await open_round(
                    session,
                    form=form,
                    period="2026",
                    deadline=utcnow() + timedelta(days=10),
                    created_by=staff.id,
                    now=utcnow(),
                )
            users = roster.telegram_ids
            with RemoteDouble() as double:
                async with huibao_app(url, double, forms, Path(folder) / "bot.log") as app:
                    # Untimed: each principal opens the report (/report, then its button).
                    opened = await opening(double, app, users, questions)
                    if opened:
                        raise SystemExit(f"opening the reports failed: {opened[:3]}")

                    def check(index: int, plain: str) -> bool:
                        if index + 1 < questions:
                            return f"· {index + 2}/{questions}" in plain
                        return "请核对答案" in plain or "please check" in plain

                    result = await drive(
                        double, app, users, [ANSWER] * questions, think, check, name
                    )
            async with sessions() as session:
                result.stored = (
                    await session.execute(
                        select(func.count()).where(Answer.value_int == int(ANSWER))
                    )
                ).scalar_one()
            await engine.dispose()
    return result


async def opening(
    double: RemoteDouble,
    app: Application[Any, Any, Any, Any, Any, Any],
    users: list[int],
    questions: int,
) -> list[str]:
    """Every principal sends /report and presses the round's button; returns failures."""
    assert app.updater is not None
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        failures: list[str] = await asyncio.to_thread(
            double.call, "open_reports", users, f"1/{questions}"
        )
    finally:
        await app.updater.stop()
        await app.stop()
    return failures


def show(result: Result) -> None:
    ms = 1000
    print(f"  {result.name}:")
    print(f"    steps                 {result.steps:>8}")
    print(f"    steps per second      {result.rate:>8.1f}")
    print(
        f"    latency p50/p95/p99   {result.quantile(50) * ms:>6.1f} / "
        f"{result.quantile(95) * ms:.1f} / {result.quantile(99) * ms:.1f} ms"
    )
    print(f"    bot CPU per step      {result.cpu * ms / max(1, result.steps):>8.2f} ms")
    if result.trips:
        print(f"    DB round trips/step   {result.trips / max(1, result.steps):>8.2f}")
    print(f"    wrong replies         {result.wrong:>8}")
    print(f"    no reply              {len(result.failures):>8}")
    if result.stored is not None:
        print(f"    answers stored        {result.stored:>8}")


CAPACITY_TARGET = {"postgres": 0.8, "sqlite": 0.7}
"""Huibao's capacity as a share of the echo bot's, by database (issue 13)."""
PACE_TARGET = 0.8
P95_TIMES_ECHO = 1.5
P95_MS = 100.0


class Targets:
    """Every target checked, printed as it is, and gathered for the summary."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ok = True

    def check(self, what: str, figure: str, target: str, met: bool) -> None:
        self.ok &= met
        line = f"{what}: {figure} (target {target}: {_met(met)})"
        self.lines.append(line)
        print(f"    {line}")

    def complete(self, name: str, result: Result, expected: int) -> None:
        done = _complete(result, expected)
        self.check(f"{name}, every answer stored and every reply right",
                   "yes" if done else "NO", "yes", done)


async def async_main(args: argparse.Namespace) -> int:
    lo, _, hi = args.think.partition("-")
    think = (float(lo), float(hi or lo))
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    n, q = args.principals, args.questions
    texts = [ANSWER] * q
    targets = Targets()
    RoundTrips.listen()
    print(f"{n} principals, a {q}-question form ({n * q} answers a run); "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")

    print(f"\n{n} principals at a phone's pace: {think[0]:g}-{think[1]:g} s before each answer")
    echo = await echo_run(n, texts, think)
    show(echo)
    echo_p95 = echo.quantile(95) * 1000
    summary = [f"echo bot: {echo.rate:.1f} answers/s, p95 {echo_p95:.1f} ms"]
    for db in dbs:
        result = await huibao_run(db, n, q, think, f"Huibao on {db}")
        show(result)
        ratio, p95 = result.rate / echo.rate, result.quantile(95) * 1000
        name = f"phone's pace, {db}"
        targets.check(f"{name}, answers/s ÷ echo", f"{ratio:.2f}", f">= {PACE_TARGET}",
                      ratio >= PACE_TARGET)
        targets.check(
            f"{name}, p95 ÷ echo's p95",
            f"{p95:.1f} / {echo_p95:.1f} ms = {p95 / echo_p95:.2f}",
            f"<= {P95_TIMES_ECHO}",
            p95 <= P95_TIMES_ECHO * echo_p95,
        )
        targets.check(f"{name}, p95", f"{p95:.1f} ms", f"< {P95_MS:g} ms", p95 < P95_MS)
        targets.complete(name, result, n * q)
        summary.append(
            f"Huibao on {db}: {result.rate:.1f} answers/s, p95 {p95:.1f} ms, "
            f"CPU/step {result.cpu * 1000 / max(1, result.steps):.2f} ms"
        )

    if args.capacity:
        print("\nCapacity: no pause between answers")
        echo = await echo_run(n, texts, (0.0, 0.0))
        show(echo)
        summary.append(f"capacity: echo bot {echo.rate:.1f} answers/s")
        for db in dbs:
            result = await huibao_run(db, n, q, (0.0, 0.0), f"Huibao on {db}")
            show(result)
            ratio = result.rate / echo.rate
            goal = CAPACITY_TARGET[db]
            name = f"capacity, {db}"
            targets.check(f"{name}, answers/s ÷ echo",
                          f"{result.rate:.1f} / {echo.rate:.1f} = {ratio:.2f}",
                          f">= {goal}", ratio >= goal)
            targets.complete(name, result, n * q)
            summary.append(
                f"capacity: Huibao on {db} {result.rate:.1f} answers/s ({ratio:.2f} of echo), "
                f"CPU/step {result.cpu * 1000 / max(1, result.steps):.2f} ms, "
                f"{result.trips / max(1, result.steps):.2f} DB round trips/step"
            )
    print("\nSummary")
    for line in summary:
        print("  " + line)
    print("Targets")
    for line in targets.lines:
        print("  " + line)
    print(f"All targets met: {'yes' if targets.ok else 'NO'}")
    return 0 if targets.ok else 1


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


def _complete(result: Result, expected: int) -> bool:
    return (
        result.steps == expected
        and not result.failures
        and result.wrong == 0
        and result.stored == expected
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--principals", type=int, default=200)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--think", default="1-3", help="pause before each answer, seconds")
    parser.add_argument(
        "--no-capacity", dest="capacity", action="store_false", help="skip the no-pause runs"
    )
    raise SystemExit(asyncio.run(async_main(parser.parse_args())))


if __name__ == "__main__":
    main()
