"""Benchmark: what synchronous=FULL costs SQLite against NORMAL, per committed write.

    .venv/bin/python -m bench.sqlite_sync [--commits 1000] [--rounds 3] [--dir DIR]

Each commit writes one row in its own transaction through Huibao's engine (WAL, the
in-process writer queue), as a principal's answer does. FULL fsyncs the WAL at every
commit, so a receipt shown after the commit survives a power cut; NORMAL fsyncs only at
checkpoints, so the last commits before a power cut can be lost (never corrupted).
Prints commits per second and the mean and p95 time of one commit for each setting.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from models.db import create_engine, create_sessionmaker, transaction


async def _run(path: Path, synchronous: str, commits: int) -> list[float]:
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)

    def pragma(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    event.listen(engine.sync_engine, "connect", pragma)  # after Huibao's own pragmas
    sessions = create_sessionmaker(engine)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, v TEXT)")
            )
        times: list[float] = []
        for number in range(commits):
            started = time.perf_counter()
            async with transaction(sessions) as session:
                await session.execute(
                    text("INSERT INTO bench (v) VALUES (:v)"), {"v": f"answer {number}"}
                )
            times.append(time.perf_counter() - started)
        return times
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where the test file goes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for round_number in range(1, args.rounds + 1):
            for synchronous in ("NORMAL", "FULL"):
                path = Path(folder) / f"{synchronous}-{round_number}.db"
                times = asyncio.run(_run(path, synchronous, args.commits))
                total = sum(times)
                p95 = statistics.quantiles(times, n=20)[18]
                print(
                    f"round {round_number} synchronous={synchronous:6} "
                    f"{args.commits} commits in {total:.2f} s: {args.commits / total:7.0f}/s, "
                    f"mean {total / args.commits * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"
                )


if __name__ == "__main__":
    main()
