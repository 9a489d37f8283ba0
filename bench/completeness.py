"""Benchmark: completeness plus key totals of one round, at 2,000 / 20,000 / 200,000
schools, on SQLite and PostgreSQL. Prints milliseconds and the cost per school
relative to the smallest size (1.0 = perfectly linear; below 1 = better than linear).

    .venv/bin/python -m bench.completeness [--sizes 2000,20000,200000]
        [--engines sqlite,postgres] [--repeat 5]

PostgreSQL: HUIBAO_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test)
names the server; the benchmark makes a database of its own there and drops it.
Targets (issue 5): 20,000 schools within 300 ms on PostgreSQL and 1 s on SQLite;
/status on 2,000 schools under a second.
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
from models.db import create_engine, create_sessionmaker
from models.followup.completeness import round_completeness, rounds_overview, school_statuses
from models.followup.keytotals import key_totals, round_form
from models.rounds import Round


async def _timed(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    await fn()  # warm the caches: a bot process answers many /status a day
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def measure(url: str, round_id: int, repeat: int) -> dict[str, float]:
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

            return {
                "completeness": await _timed(completeness, repeat),
                "key totals": await _timed(totals, repeat),
                "both": await _timed(both, repeat),
                "/status views": await _timed(status_views, repeat),
            }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000,200000")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
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
                t0 = time.perf_counter()
                if engine == "sqlite":
                    path = Path(tmp) / f"bench-{n}.db"
                    round_id = seed_sqlite(path, data)
                    url = f"sqlite+aiosqlite:///{path}"
                    name = None
                else:
                    name = f"huibao_bench_{uuid.uuid4().hex[:8]}"
                    url = create_postgres(postgres_base_url(), name)
                    round_id = seed_postgres(url, data)
                print(f"          {engine}: seeded in {time.perf_counter() - t0:.1f} s", flush=True)
                try:
                    results[engine][n] = asyncio.run(measure(url, round_id, args.repeat))
                finally:
                    if name:
                        drop_postgres(postgres_base_url(), name)
                    elif engine == "sqlite":
                        path.unlink(missing_ok=True)
                r = results[engine][n]
                print("          " + ", ".join(f"{k} {v:.1f} ms" for k, v in r.items()), flush=True)
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


if __name__ == "__main__":
    main()
