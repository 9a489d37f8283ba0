"""Benchmark: one `huibao run` against two behind one address, on one PostgreSQL database.

The issue's measure (13, item 3): with several webhook processes behind a round-robin
proxy, how many answers a second do they take, what does each step cost in CPU, and does
every principal still get their questions in order? Each run starts the real `huibao run`
processes (webhook mode, JSON logs to a file, as deployed) on a fresh database with 200
schools, their principals and an open round of a 30-question form (bench/report_step.py's
form), the Bot API double in a process of its own (bench/remote_double.py) and the small
round-robin proxy of the tests (tests/e2e/proxy.py) in this process, so one principal's
consecutive answers go to alternate processes. Every principal opens the report (not
timed), then all answer at once with no pause, each answer after the reply to the one
before: the most answers a second the processes can take (capacity).

Printed for each run: answers per second, the bots' CPU per step (user + system time of
the `huibao run` processes, read from /proc, over the answers), latency, replies out of
order (a reply that is not the question after the one answered: the per-chat order
check), answers stored. Then the figures with their targets:

* scaling: two processes take at least 1.7 times the answers of one. It needs the cores:
  two bots, PostgreSQL, the double and the proxy each want one, so on fewer than 4 cores
  the ratio says what the machine has, not what the bot does; read CPU per step instead;
* CPU per step with two processes at most 1.25 times that with one (what sharing the
  work costs: the per-chat lock, the other process's deliveries and scheduler check);
* out-of-order replies: 0; answers stored: every one.

Usage (about four minutes on 2 cores; exit code 1 if the order or a stored answer is
wrong, or a met target is missed on a machine with the cores for it):

    .venv/bin/python -m bench.processes [--principals 200] [--questions 30]
        [--processes 1,2] [--max-connections 100]

PostgreSQL: a database of its own on HUIBAO_BENCH_POSTGRES_URL, else
HUIBAO_TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.notices_broadcast import database
from bench.remote_double import RemoteDouble
from bench.report_step import ANSWER, STAFF_ID, bench_form
from models.base import utcnow
from models.db import create_engine, create_sessionmaker, transaction
from models.forms import load_forms
from models.rounds import Answer
from models.rounds.lifecycle import open_round
from tests.conftest import settings_env
from tests.e2e.proc import BotProcess, child_env
from tests.e2e.proxy import RoundRobinProxy
from tests.e2e.test_foundation import free_port
from tests.notices.roster import make_roster, make_staff

SCALING_TARGET = 1.7
CPU_TARGET = 1.25
CORES_FOR_SCALING = 4
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    processes: int
    steps: int
    span: float
    cpu: float  # seconds, all bot processes
    latencies: list[float]
    out_of_order: int
    no_reply: int
    stored: int
    handled: list[int]  # updates each process handled

    @property
    def rate(self) -> float:
        return self.steps / self.span if self.span else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / max(1, self.steps)

    def p(self, q: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system time of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def seed(url: str, forms: Path, principals: int, questions: int) -> list[int]:
    (forms / "bench_staffing.toml").write_text(bench_form(questions), encoding="utf-8")
    form = load_forms(forms).get("bench_staffing")
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            roster = await make_roster(session, principals, districts=12)
            staff = await make_staff(session, STAFF_ID)
            await open_round(session, form=form, period="2026",
                             deadline=utcnow() + timedelta(days=10),
                             created_by=staff.id, now=utcnow())
    finally:
        await engine.dispose()
    return roster.telegram_ids


async def stored(url: str) -> int:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count()).where(Answer.value_int == int(ANSWER))
            )
    finally:
        await engine.dispose()
    return int(count or 0)


def bot_env(url: str, double: RemoteDouble, port: int, proxy: str, forms: Path,
            max_connections: int) -> dict[str, str]:
    env = child_env(settings_env(
        url, double,
        HUIBAO_TELEGRAM__MODE="webhook",
        HUIBAO_TELEGRAM__WEBHOOK__PORT=str(port),
        HUIBAO_TELEGRAM__WEBHOOK__URL=proxy,
        HUIBAO_TELEGRAM__WEBHOOK__MAX_CONNECTIONS=str(max_connections),
        HUIBAO_FORMS__DIRECTORY=str(forms),
        HUIBAO_BUREAU__NAME="示范县教育局",
        # The double does not impose Telegram's limit, and the limit is not measured.
        HUIBAO_DELIVERY__MESSAGES_PER_SECOND="1000",
    ))
    env.pop("HUIBAO_TX_GUARD", None)  # as deployed: the guard only logs
    return env


def out_of_order(replies: dict[str, list[str]], questions: int) -> int:
    """Replies that are not the question after the one just answered."""
    wrong = 0
    for got in replies.values():
        for index, plain in enumerate(got):
            if index + 1 < questions:
                wrong += f"· {index + 2}/{questions}" not in plain
            else:
                wrong += not ("请核对答案" in plain or "please check" in plain)
    return wrong


async def one_run(processes: int, principals: int, questions: int, max_connections: int) -> Run:
    with tempfile.TemporaryDirectory() as folder:
        forms = Path(folder) / "forms"
        forms.mkdir()
        async with database("postgres") as url:
            users = await seed(url, forms, principals, questions)
            with RemoteDouble() as double:
                ports = [free_port() for _ in range(processes)]
                async with RoundRobinProxy([f"http://127.0.0.1:{p}" for p in ports]) as proxy:
                    bots = [BotProcess(bot_env(url, double, port, proxy.url, forms,
                                               max_connections), Path(folder))
                            for port in ports]
                    for bot in bots:
                        bot.start()
                    try:
                        run = await _measure(double, bots, users, questions)
                    finally:
                        await asyncio.gather(*(bot.astop() for bot in bots))
                    run.handled = [bot.log.count('"update handled"') for bot in bots]
            run.stored = await stored(url)
    return run


async def _measure(double: RemoteDouble, bots: list[BotProcess], users: list[int],
                   questions: int) -> Run:
    await asyncio.gather(*(bot.wait_ready(180) for bot in bots))
    opened = await asyncio.to_thread(double.call, "open_reports", users, f"1/{questions}")
    if opened:
        raise SystemExit(f"opening the reports failed: {opened[:3]}")
    pids = [bot.process.pid for bot in bots if bot.process is not None]
    before = sum(cpu_seconds(pid) for pid in pids)
    outcome = await asyncio.to_thread(
        double.call, "converse", users, [ANSWER] * questions, think=[0.0, 0.0], timeout=60.0
    )
    cpu = sum(cpu_seconds(pid) for pid in pids) - before
    return Run(
        processes=len(bots),
        steps=len(outcome["latencies"]),
        span=float(outcome["span"]),
        cpu=cpu,
        latencies=[float(x) for x in outcome["latencies"]],
        out_of_order=out_of_order(outcome["replies"], questions),
        no_reply=len(outcome["failures"]),
        stored=0,
        handled=[],
    )


def show(run: Run, expected: int) -> bool:
    print(f"\n  {run.processes} process{'es' if run.processes > 1 else ''}:")
    print(f"    answers               {run.steps:>8} of {expected}")
    print(f"    answers per second    {run.rate:>8.1f}   (capacity)")
    print(f"    bot CPU per step      {run.cpu_ms:>8.2f} ms (all bot processes)")
    print(f"    latency p50/p95       {run.p(50):>8.1f} / {run.p(95):.1f} ms")
    print(f"    updates per process   {' / '.join(str(n) for n in run.handled):>8}")
    complete = run.steps == expected and run.no_reply == 0 and run.stored == expected
    print(f"    out-of-order replies  {run.out_of_order:>8}   (target 0: "
          f"{_met(run.out_of_order == 0)})")
    print(f"    no reply              {run.no_reply:>8}")
    print(f"    answers stored        {run.stored:>8}   (target {expected}: {_met(complete)})")
    return complete and run.out_of_order == 0


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


def compare(one: Run, two: Run, cores: int) -> bool:
    scaling = two.rate / one.rate if one.rate else 0.0
    cpu = two.cpu_ms / one.cpu_ms if one.cpu_ms else float("inf")
    enough = cores >= CORES_FOR_SCALING
    print(f"\n  scaling, 2 processes / 1  {scaling:>6.2f}x  (target {SCALING_TARGET}x with at "
          f"least {CORES_FOR_SCALING} cores: {_met(scaling >= SCALING_TARGET)}"
          + ("" if enough else f"; this machine has {cores}: read CPU per step") + ")")
    print(f"  CPU per step, 2 / 1       {cpu:>6.2f}x  (target at most {CPU_TARGET}x: "
          f"{_met(cpu <= CPU_TARGET)})")
    print(f"  so on {CORES_FOR_SCALING}+ cores two processes could take about "
          f"{2 / cpu if cpu else 0:.2f}x the answers of one, each core as busy as here")
    ok = cpu <= CPU_TARGET
    return ok and (scaling >= SCALING_TARGET or not enough)


async def async_main(args: argparse.Namespace) -> int:
    cores = len(os.sched_getaffinity(0))
    counts = [int(n) for n in args.processes.split(",")]
    n, q = args.principals, args.questions
    print(f"{n} principals, a {q}-question form ({n * q} answers a run), no pause between "
          f"answers; PostgreSQL; webhook max_connections {args.max_connections}; "
          f"{cores} cores used (os.sched_getaffinity); Python {sys.version.split()[0]}")
    ok = True
    runs: dict[int, Run] = {}
    for count in counts:
        started = time.monotonic()
        runs[count] = await one_run(count, n, q, args.max_connections)
        ok &= show(runs[count], n * q)
        print(f"    (run took {time.monotonic() - started:.0f} s)")
    if 1 in runs and 2 in runs:
        ok &= compare(runs[1], runs[2], cores)
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--principals", type=int, default=200)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts")
    parser.add_argument("--max-connections", type=int, default=40,
                        help="telegram.webhook.max_connections (Telegram allows 1-100)")
    raise SystemExit(asyncio.run(async_main(parser.parse_args())))


if __name__ == "__main__":
    main()
