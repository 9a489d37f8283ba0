"""`huibao db backup` / `huibao db restore`, and files made readable by their owner only."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import make_url, text

from bot.cli import main
from models.base import Base
from models.db import create_engine, create_sessionmaker, transaction
from models.migrate import upgrade
from tests.status.test_export import _round

Rows = dict[str, list[tuple[object, ...]]]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fill(db_url: str) -> int:
    async def work() -> int:
        engine = create_engine(db_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return (await _round(session))["round"]  # a round with submissions
        finally:
            await engine.dispose()

    return asyncio.run(work())


def _export(round_id: int, out: Path) -> Rows:
    assert main(["export", "--round", str(round_id), "--out", str(out)]) == 0
    assert _mode(out) == 0o600
    book = openpyxl.load_workbook(out)
    return {
        name: [tuple(_undated(v) for v in r) for r in book[name].iter_rows(values_only=True)]
        for name in book.sheetnames
    }


def _undated(value: object) -> object:
    """The time the workbook was made is not part of the data (a minute may pass between)."""
    return _MADE_AT.sub("制表时间：…", value) if isinstance(value, str) else value


_MADE_AT = re.compile(r"制表时间：\d{4}-\d\d-\d\d \d\d:\d\d")


def _wipe(db_url: str) -> None:
    """Lose the database: the file on SQLite, every table on PostgreSQL."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return

    async def drop() -> None:
        engine = create_engine(db_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.drop_all)
                await connection.execute(text("DROP TABLE alembic_version"))
        finally:
            await engine.dispose()

    asyncio.run(drop())


def _needs_pg_dump(db_url: str) -> None:
    if db_url.startswith("postgresql") and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed here; the clear error is tested below")


def test_backup_wipe_restore_gives_the_same_export(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _needs_pg_dump(db_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    round_id = _fill(db_url)
    before = _export(round_id, tmp_path / "before.xlsx")
    assert len(before["明细"]) == 3 + 7  # heading, header + six schools, four submitted

    backup = tmp_path / "backups" / "huibao.backup"
    backup.parent.mkdir()
    assert main(["db", "backup", str(backup)]) == 0
    assert "backed up to" in capsys.readouterr().out
    assert _mode(backup) == 0o600
    assert not backup.with_name(backup.name + ".part").exists()

    _wipe(db_url)
    assert main(["export", "--round", str(round_id), "--out", "gone.xlsx"]) != 0
    capsys.readouterr()

    assert main(["db", "restore", str(backup)]) == 0
    assert "restored from" in capsys.readouterr().out
    after = _export(round_id, tmp_path / "after.xlsx")
    assert after == before
    if db_url.startswith("sqlite"):
        assert _mode(Path(str(make_url(db_url).database))) == 0o600
    # The restored database is at the newest revision: nothing to upgrade.
    assert upgrade(db_url)[0] == upgrade(db_url)[1]


def test_restore_refuses_a_file_that_is_not_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "huibao.db"
    monkeypatch.setenv("HUIBAO_DATABASE__URL", f"sqlite+aiosqlite:///{database}")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    assert main(["db", "restore", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "not a SQLite database" in err and len(err.strip().splitlines()) == 1
    assert main(["db", "restore", str(tmp_path / "missing.backup")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_without_pg_dump_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUIBAO_DATABASE__URL", "postgresql+asyncpg://u:pw@127.0.0.1:1/huibao")
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    target = tmp_path / "huibao.backup"
    for args in (["db", "backup", str(target)], ["db", "restore", str(target)]):
        target.write_bytes(b"PGDMP")
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "not found on PATH" in err and "postgresql-client" in err
    assert target.read_bytes() == b"PGDMP"  # a failed backup leaves nothing behind


def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    old = os.umask(0o022)
    try:
        upgrade(f"sqlite+aiosqlite:///{database}")
    finally:
        os.umask(old)
    for path in tmp_path.iterdir():
        if path.name.startswith("fresh.db"):
            assert _mode(path) == 0o600, path.name


def test_exports_and_invitations_are_private(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_TELEGRAM__BOT_USERNAME", "shifan_edu_bot")
    old = os.umask(0o022)
    try:
        round_id = _fill(db_url)
        stale = tmp_path / "staffing.csv"
        stale.write_text("old")
        stale.chmod(0o644)  # an existing file, overwritten, becomes private too
        written = {
            "workbook": (["export", "--round", str(round_id)], None),
            "dhis2": (["export", "--round", str(round_id), "--format", "dhis2",
                       "--out", str(stale)], stale),
            "roster": (["schools", "export", "roster.xlsx"], tmp_path / "roster.xlsx"),
            "invites": (["invites", "create", "--all", "--xlsx", "invites.xlsx"],
                        tmp_path / "invites.xlsx"),
        }
        for what, (args, path) in written.items():
            assert main(args) == 0, what
            if path is None:  # named after the form and period
                path = next(tmp_path.glob("*.xlsx"))
            assert _mode(path) == 0o600, what
    finally:
        os.umask(old)
    capsys.readouterr()


def test_sqlite_commits_are_durable(tmp_path: Path) -> None:
    """synchronous=FULL: a commit (and so a receipt shown after it) survives a power cut."""

    async def level() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'huibao.db'}")
        try:
            async with engine.connect() as connection:
                return int((await connection.execute(text("PRAGMA synchronous"))).scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(level()) == 2  # FULL (NORMAL is 1)
