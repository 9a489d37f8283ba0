"""Benchmark: completeness plus key totals of one round, at 2,000 / 20,000 / 200,000
schools, on SQLite and PostgreSQL. Prints milliseconds and the cost per school
relative to the smallest size (1.0 = perfectly linear; below 1 = better than linear),
then each figure beside its target with "met" or "NOT met".

    .venv/bin/python -m bench.completeness [--sizes 2000,20000,200000]
        [--engines sqlite,postgres] [--repeat 5] [--from-answers]

PostgreSQL: HUIBAO_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test)
names the server; the benchmark makes a database of its own there and drops it.

The seed is written row by row, as by a migration from before the round tallies
(models/rounds/tallies.py); the benchmark then builds them, as a round's next
submission would (printed: "tallies built"), and times the readers, which read them.
--from-answers also times the readers with the tallies dropped, adding up the answers
as before migration 0019 did.

Targets: both (completeness and key totals) of 200,000 schools under 500 ms on
PostgreSQL (issue 13; SQLite held to the same), of 20,000 within 300 ms on PostgreSQL
and 1 s on SQLite (issue 5); the /status views of 20,000 schools under 100 ms (issue
13), of 2,000 under a second (issue 5), of 200,000 no target.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.seed import (
    Data,
    create_postgres,
    drop_postgres,
    postgres_base_url,
    seed_postgres,
    seed_sqlite,
)
from bench.targets import verdict
from models.base import utcnow
from models.db import create_engine, create_sessionmaker
from models.followup.completeness import round_completeness, rounds_overview, school_statuses
from models.followup.keytotals import key_totals, round_form
from models.rounds import Round
from models.rounds.tallies import RoundTallyState, rebuild


async def _timed(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    await fn()  # warm the caches: a bot process answers many /status a day
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def build_tallies(url: str, round_id: int) -> float:
    """The round's tallies from its answers (a round's first submission after migration
    0019 does this); returns the seconds it took."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            rnd = await session.get_one(Round, round_id)
            form = await round_form(session, rnd)
            t0 = time.perf_counter()
            await rebuild(session, rnd, form, utcnow())
            return time.perf_counter() - t0
    finally:
        await engine.dispose()


async def measure(url: str, round_id: int, repeat: int, tallied: bool = True) -> dict[str, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            rnd = await session.get_one(Round, round_id)
            form = await round_form(session, rnd)

            async def completeness() -> object:
                return await round_completeness(session, round_id)

            async def totals() -> object:
                result = await key_totals(session, form, round_id)
                assert result.in_sql
                return result

            async def both() -> object:
                await completeness()
                return await totals()

            async def status_views() -> object:
                # What /status runs: the round list, one round by district, then
                # the missing schools (with principals) of one district.
                await rounds_overview(session)
                c = await round_completeness(session, round_id)
                return await school_statuses(
                    session, round_id, district_id=c.districts[0].district_id, only_missing=True
                )

            kept = await session.get(RoundTallyState, round_id)
            assert (kept is not None) == tallied, "the tallies are read only when built"
            return {
                "completeness": await _timed(completeness, repeat),
                "key totals": await _timed(totals, repeat),
                "both": await _timed(both, repeat),
                "/status views": await _timed(status_views, repeat),
            }
    finally:
        await engine.dispose()


def targets(engine: str, n: int) -> dict[str, float | None]:
    """The target of each figure, in milliseconds (see the module's docstring)."""
    if n >= 200_000:
        both: float | None = 500
    elif n >= 20_000:
        both = 300 if engine == "postgres" else 1000
    else:
        both = None
    status = {2_000: 1000.0, 20_000: 100.0}.get(n)
    return {"completeness": None, "key totals": None, "both": both, "/status views": status}


def print_verdicts(engine: str, n: int, r: dict[str, float], label: str = "") -> None:
    for name, target in targets(engine, n).items():
        print(verdict(f"{engine} {n:,} {name}{label}", r[name], target, "ms"), flush=True)


def _seed(engine: str, data: Data, tmp: str) -> tuple[str, int, str | None]:
    """(url, round id, PostgreSQL database name to drop) of a freshly seeded database."""
    if engine == "sqlite":
        path = Path(tmp) / f"bench-{data.n}.db"
        return f"sqlite+aiosqlite:///{path}", seed_sqlite(path, data), None
    name = f"huibao_bench_{uuid.uuid4().hex[:8]}"
    url = create_postgres(postgres_base_url(), name)
    return url, seed_postgres(url, data), name


def run_one(engine: str, data: Data, tmp: str, args: argparse.Namespace) -> dict[str, float]:
    t0 = time.perf_counter()
    url, round_id, name = _seed(engine, data, tmp)
    print(f"          {engine}: seeded in {time.perf_counter() - t0:.1f} s", flush=True)
    try:
        if args.from_answers:
            old = asyncio.run(measure(url, round_id, args.repeat, tallied=False))
            print("          from the answers: "
                  + ", ".join(f"{k} {v:.1f} ms" for k, v in old.items()), flush=True)
            print_verdicts(engine, data.n, old, " (from the answers)")
        seconds = asyncio.run(build_tallies(url, round_id))
        print(f"          {engine}: tallies built in {seconds:.1f} s", flush=True)
        r = asyncio.run(measure(url, round_id, args.repeat))
    finally:
        if name:
            drop_postgres(postgres_base_url(), name)
        elif engine == "sqlite":
            (Path(tmp) / f"bench-{data.n}.db").unlink(missing_ok=True)
    print("          " + ", ".join(f"{k} {v:.1f} ms" for k, v in r.items()), flush=True)
    print_verdicts(engine, data.n, r)
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000,200000")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--from-answers", action="store_true",
        help="also time the readers with the tallies dropped (as before migration 0019)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    results: dict[str, dict[int, dict[str, float]]] = {e: {} for e in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            t0 = time.perf_counter()
            data = Data(n)
            print(
                f"{n:>7} schools: {len(data.answers):,} answer rows generated "
                f"in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            for engine in engines:
                results[engine][n] = run_one(engine, data, tmp, args)
    print()
    print(
        "engine    schools  completeness  key totals  both (ms)  /status views  "
        "per-school cost vs smallest"
    )
    for engine in engines:
        base = None
        for n in sizes:
            r = results[engine][n]
            per_school = r["both"] / n
            base = base or per_school
            print(
                f"{engine:<9}{n:>8}  {r['completeness']:>12.1f}  {r['key totals']:>10.1f}  "
                f"{r['both']:>9.1f}  {r['/status views']:>13.1f}  {per_school / base:>6.2f}"
            )
    print()
    for engine in engines:
        for n in sizes:
            print_verdicts(engine, n, results[engine][n])


if __name__ == "__main__":
    main()
