"""How long `huibao schools import` takes for a 2,000- and a 20,000-school XLSX.

Run: .venv/bin/python bench/roster_import.py [counts...]  (SQLite in a temp dir; set
HUIBAO_BENCH_POSTGRES_URL=postgresql+asyncpg://... to time PostgreSQL too).
Prints seconds for the first import (all added) and the second (all unchanged), each
including reading the file, as the command does; then the whole `huibao schools import`
command (process start, migrations check, file, database) on a fresh SQLite database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy.engine import make_url

from bot.demo import synthetic_roster
from models.db import create_engine, create_sessionmaker, transaction
from models.migrate import upgrade
from models.roster.roster_file import import_roster, read_roster


def write_xlsx(path: Path, count: int) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学校")
    sheet.append(["序号", "学校代码", "学校名称", "乡镇", "学段"])
    for n, row in enumerate(synthetic_roster(count), start=1):
        sheet.append([n, *row])
    book.save(path)


async def timed_import(url: str, path: Path) -> tuple[float, str]:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        parsed = read_roster(path)
        assert not parsed.problems, parsed.problems[:3]
        async with transaction(create_sessionmaker(engine)) as session:
            result = await import_roster(session, parsed.rows)
        seconds = time.perf_counter() - started
        return seconds, (
            f"added {len(result.added)}, updated {len(result.updated)}, "
            f"unchanged {result.unchanged}"
        )
    finally:
        await engine.dispose()


async def postgres_admin(url: str, sql: str) -> None:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def fresh_postgres(base: str, name: str) -> str:
    """A database of the benchmark's own, so it never touches anyone else's data."""
    asyncio.run(postgres_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(postgres_admin(base, f'CREATE DATABASE "{name}"'))
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def timed_command(folder: str, path: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUIBAO_")}
    env["HUIBAO_DATABASE__URL"] = f"sqlite+aiosqlite:///{folder}/bench-cli.db"
    script = Path(sys.executable).parent / "huibao"
    started = time.perf_counter()
    done = subprocess.run(
        [str(script), "schools", "import", str(path)],
        env=env, capture_output=True, text=True, check=True,
    )
    summary = next(line for line in done.stdout.splitlines() if line.startswith("added"))
    return time.perf_counter() - started, summary


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [2_000, 20_000]
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            path = Path(folder) / f"roster-{count}.xlsx"
            started = time.perf_counter()
            write_xlsx(path, count)
            print(f"{count} schools: wrote {path.name} ({path.stat().st_size // 1024} KiB) "
                  f"in {time.perf_counter() - started:.2f} s")
            urls = [("sqlite", f"sqlite+aiosqlite:///{folder}/bench-{count}.db")]
            base = os.environ.get("HUIBAO_BENCH_POSTGRES_URL")
            if base:
                urls.append(("postgresql", fresh_postgres(base, f"huibao_bench_{os.getpid()}")))
            for engine_name, url in urls:
                upgrade(url)
                for attempt in ("first import", "second import"):
                    seconds, summary = asyncio.run(timed_import(url, path))
                    print(f"  {engine_name:10} {attempt}: {seconds:6.2f} s  ({summary})")
                if engine_name == "sqlite":
                    for attempt in ("first", "second"):
                        seconds, summary = timed_command(folder, path)
                        print(f"  huibao schools import, {attempt} run: {seconds:6.2f} s  "
                              f"({summary})")
                if engine_name == "postgresql" and base:
                    name = make_url(url).database
                    asyncio.run(postgres_admin(base, f'DROP DATABASE "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
