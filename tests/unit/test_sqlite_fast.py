"""The one-trip SQLite cursor reaches into private internals of SQLAlchemy and aiosqlite
(models/sqlite_fast.py): this test fails loudly, naming them and the installed versions,
when a release changes them; and with one missing, the patch stays out (slower, correct)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection

from models import sqlite_fast
from models.db import create_engine


def test_the_private_internals_the_cursor_needs_are_all_there() -> None:
    missing = sqlite_fast.missing_internals()
    assert not missing, (
        f"{sqlite_fast.versions()} no longer have {', '.join(missing)}: models/sqlite_fast.py "
        "stays out (answers on SQLite get slower); update it or drop it"
    )


def test_with_an_internal_gone_the_patch_stays_out(monkeypatch: pytest.MonkeyPatch) -> None:
    original = AsyncAdapt_aiosqlite_connection._cursor_cls
    monkeypatch.setattr(AsyncAdapt_aiosqlite_connection, "_cursor_cls", original)
    monkeypatch.setattr(sqlite_fast, "INTERNALS",
                        (*sqlite_fast.INTERNALS, (AsyncAdapt_aiosqlite_connection, "_gone")))
    assert sqlite_fast.missing_internals() == ["AsyncAdapt_aiosqlite_connection._gone"]
    assert sqlite_fast.install() is False
    assert AsyncAdapt_aiosqlite_connection._cursor_cls is original


async def test_queries_run_through_the_one_trip_cursor() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        assert AsyncAdapt_aiosqlite_connection._cursor_cls is sqlite_fast.OneTripCursor
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT 1, 'a' UNION ALL SELECT 2, 'b'"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    finally:
        await engine.dispose()
