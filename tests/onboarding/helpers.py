"""Small helpers for synchronous (CLI) tests: files to import and a way to look inside."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import create_engine, create_sessionmaker, transaction
from models.roster.tables import School

T = TypeVar("T")


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def write_csv(path: Path, rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def look(db_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run a read (or a seeding write) against the database from synchronous code."""

    async def main() -> T:
        engine = create_engine(db_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def school_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(School.id)))).scalar_one())


async def schools(session: AsyncSession) -> dict[str, tuple[str, str, bool]]:
    rows = await session.execute(select(School.code, School.name, School.stage, School.active))
    return {code: (name, stage, active) for code, name, stage, active in rows}
