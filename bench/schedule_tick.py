"""Benchmark: the scheduler's tick on a county of N schools (SQLite or PostgreSQL).

Seeds N schools in 10 districts with one principal each, opens a round as a schedule
would, then times:

* the tick that tells every principal (N delivery rows and N reminder_log rows written in
  one transaction);
* a tick with nothing due (what every process pays every scheduler.tick_seconds);
* the tick of a reminder slot three days before the deadline, with half the schools
  submitted.

Usage:

    .venv/bin/python -m bench.schedule_tick [--schools 2000] [--db sqlite|postgres]

PostgreSQL: a database of its own is made (and dropped) on the server named by
HUIBAO_BENCH_POSTGRES_URL, else HUIBAO_TEST_POSTGRES_URL, else
postgresql+asyncpg://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from config.settings import Settings
from models.db import create_engine, create_sessionmaker, transaction
from models.followup.reminders import set_round_policy
from models.forms import load_forms
from models.migrate import upgrade_async
from models.outbox import Delivery
from models.roster.tables import District, Person, Role, School
from models.rounds import Submission, SubmissionStatus
from models.rounds.lifecycle import open_round
from scheduler.tick import Ticker

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await upgrade_async(url)
            yield url
        return
    base = os.environ.get(
        "HUIBAO_BENCH_POSTGRES_URL",
        os.environ.get(
            "HUIBAO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    name = f"huibao_bench_{uuid.uuid4().hex[:8]}"
    dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        await upgrade_async(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(schools: int, kind: str) -> None:
    async with database(kind) as url:
        engine = create_engine(url)
        maker = create_sessionmaker(engine)
        async with transaction(maker) as session:
            districts = [District(name=f"第{n + 1}学区") for n in range(10)]
            session.add_all(districts)
            await session.flush()
            await session.execute(
                insert(School),
                [
                    {
                        "code": f"S{n:05d}",
                        "name": f"学校{n}",
                        "district_id": districts[n % 10].id,
                        "stage": "primary",
                        "active": True,
                    }
                    for n in range(schools)
                ],
            )
            ids = list((await session.execute(select(School.id).order_by(School.id))).scalars())
            await session.execute(
                insert(Person),
                [
                    {
                        "telegram_id": 10_000_000 + n,
                        "name": f"校长{n}",
                        "role": Role.PRINCIPAL.value,
                        "school_id": school_id,
                        "language": "zh_CN",
                    }
                    for n, school_id in enumerate(ids)
                ],
            )
            round_ = await open_round(
                session,
                form=load_forms(ROOT / "forms").get("staffing"),
                period="2026",
                deadline=local("2026-11-20 17:00"),
                now=local("2026-11-04 10:00"),
            )
            await set_round_policy(session, round_.id, {})
            round_id = round_.id
        ticker = Ticker(Settings(database={"url": url}), maker)  # type: ignore[arg-type]

        async def timed(at: str) -> tuple[float, int]:
            started = time.perf_counter()
            result = await ticker.run(local(at))
            return time.perf_counter() - started, result.reminders

        seconds, sent = await timed("2026-11-04 10:00")
        print(f"{kind}, {schools} schools: opening notice to {sent} principals in {seconds:.2f} s")
        async with transaction(maker) as session:
            await session.execute(
                insert(Submission),
                [
                    {
                        "round_id": round_id,
                        "school_id": school_id,
                        "status": SubmissionStatus.SUBMITTED.value,
                        "current_revision": 1,
                    }
                    for school_id in ids[: schools // 2]
                ],
            )
        idle = [(await timed("2026-11-05 12:00"))[0] for _ in range(5)]
        print(f"{kind}: a tick with nothing due: {min(idle) * 1000:.1f} ms (best of 5)")
        seconds, sent = await timed("2026-11-17 09:00")
        print(f"{kind}: reminder 3 days before, {sent} late schools: {seconds:.2f} s")
        async with transaction(maker) as session:
            rows = await session.scalar(select(func.count()).select_from(Delivery))
        print(f"{kind}: {rows} delivery rows in the outbox")
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(main(args.schools, args.db))
