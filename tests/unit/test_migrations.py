"""Migrations: `huibao db upgrade` is idempotent and matches the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.cli import main
from models.base import Base
from models.db import create_engine
from models.migrate import current_revisions, head_revisions


def test_upgrade_twice_changes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    assert main(["db", "upgrade"]) == 0
    first = capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    second = capsys.readouterr().out
    assert "up to date" in first and "up to date" in second
    assert asyncio.run(current_revisions(db_url)) == head_revisions(db_url)


async def test_models_and_migrations_agree(db_url: str) -> None:
    engine = create_engine(db_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == [], "models changed without a migration: " + repr(differences)


def test_one_history_and_db_current_prints_one_revision(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(head_revisions(db_url)) == 1, "a migration must revise the newest one"
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"revision {min(head_revisions(db_url))} (up to date)"
