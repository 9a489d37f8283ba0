"""Where a file's bytes are kept: in the database on SQLite (always) and on PostgreSQL
without `[files] dir`; in that folder, named by their SHA-256, on PostgreSQL with it. The
export reads them back from either and refuses bytes that no longer match their SHA-256."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings, files_directory
from models.base import utcnow
from models.files import StoredFile, Upload, save_file, store_bytes
from models.forms import load_forms
from models.rounds import lifecycle
from models.rounds.answers import save_answers
from models.rounds.revisions import submit
from models.rounds.submissions import get_or_create_submission
from outputs.round_files import ChecksumMismatch, files_zip, round_file_exports
from tests.files.conftest import FIXTURES
from tests.report.roster import make_roster

PDF = b"%PDF-1.4\n" + os.urandom(64 * 1024)


async def submitted_scan(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> tuple[int, StoredFile]:
    form = load_forms(FIXTURES).get("staffing_scan")
    now = utcnow()
    kept = store_bytes(files_directory(settings), PDF)  # before the transaction, as the bot does
    async with maker() as session, session.begin():
        roster = await make_roster(session)
        school = roster.schools["S001"]
        round_ = await lifecycle.open_round(
            session, form=form, period="2026", deadline=now + timedelta(days=3),
            created_by=None, now=now,
        )
        sub = await get_or_create_submission(session, round_, school.id, now=now)
        upload = Upload(sub.id, "stamped_scan", 0, "盖章扫描件.pdf", "application/pdf", PDF, None)
        ref = await save_file(session, now, upload, kept)
        answers = {("authorized_posts", 0): 48, ("stamped_scan", 0): ref.encode()}
        await save_answers(session, sub.id, form, answers, by=None, now=now)
        await submit(session, sub, round_, None, form, {"stage": school.stage}, by=None, now=now)
        row = await session.get(StoredFile, ref.file_id)
        assert row is not None
        return round_.id, row


async def test_files_are_kept_where_the_database_says_and_exported_unchanged(
    db_url: str, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    settings = Settings(database={"url": db_url}, files={"dir": str(folder)})
    round_id, row = await submitted_scan(sessionmaker, settings)
    sha = hashlib.sha256(PDF).hexdigest()
    assert (row.sha256, row.size, row.name) == (sha, len(PDF), "盖章扫描件.pdf")
    if db_url.startswith("sqlite"):
        assert row.data == PDF and row.path is None
        assert not folder.exists()  # SQLite keeps them in its one file
    else:
        assert row.data is None and row.path == f"{sha[:2]}/{sha}"
        assert (folder / sha[:2] / sha).read_bytes() == PDF
    async with sessionmaker() as session:
        [exported] = [f async for f in round_file_exports(session, round_id, settings)]
    assert exported.data == PDF and exported.sha256 == sha
    assert exported.path == "S001-城关第一小学/stamped_scan-盖章扫描件.pdf"

    # Damaged bytes (a folder edited by hand, a database restored badly) are refused.
    if db_url.startswith("sqlite"):
        async with sessionmaker() as session, session.begin():
            await session.execute(update(StoredFile).values(data=PDF[:-1] + b"!"))
    else:
        (folder / sha[:2] / sha).write_bytes(PDF[:-1] + b"!")
    async with sessionmaker() as session:
        with pytest.raises(ChecksumMismatch):
            await files_zip(session, round_id, settings)


async def test_without_a_folder_postgresql_keeps_the_bytes_in_the_database(
    db_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(database={"url": db_url})
    assert files_directory(settings) is None
    _round_id, row = await submitted_scan(sessionmaker, settings)
    async with sessionmaker() as session:
        stored = (await session.execute(select(StoredFile.data))).scalar_one()
    assert stored == PDF and row.path is None
