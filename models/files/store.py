"""Keeping the bytes of a file, and finding them again for an export.

The bytes are written before the database transaction that records them (no slow work
inside a transaction): a folder's file is named by its SHA-256, so writing the same bytes
twice (a retried transaction, two schools sending one template) is harmless."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from models.files.tables import StoredFile
from models.forms import FileAnswer
from models.roster.tables import School
from models.rounds.tables import Answer, Submission


@dataclass(frozen=True, slots=True)
class Upload:
    """A downloaded file, ready to be recorded as the answer to one question."""

    submission_id: int
    field: str
    item: int
    name: str
    mime: str
    data: bytes
    uploaded_by: int | None


@dataclass(frozen=True, slots=True)
class Kept:
    """Where store_bytes put the bytes: `path` under the folder, or None (the database)."""

    sha256: str
    path: str | None


def store_bytes(directory: Path | None, data: bytes) -> Kept:
    """Write the bytes to the folder (when there is one), named by their checksum."""
    sha = hashlib.sha256(data).hexdigest()
    if directory is None:
        return Kept(sha, None)
    relative = f"{sha[:2]}/{sha}"
    target = directory / relative
    if target.exists() and target.stat().st_size == len(data):
        return Kept(sha, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so a crash never leaves half a file under the final name.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return Kept(sha, relative)


async def save_file(
    session: AsyncSession, now: datetime, upload: Upload, kept: Kept
) -> FileAnswer:
    """Record the file (its bytes in the row unless the folder has them); the answer that
    names it is the caller's to store, in the same transaction."""
    row = StoredFile(
        submission_id=upload.submission_id,
        field=upload.field,
        item=upload.item,
        name=_fit(upload.name, 255),
        mime=_fit(upload.mime, 120),
        size=len(upload.data),
        sha256=kept.sha256,
        data=upload.data if kept.path is None else None,
        path=kept.path,
        uploaded_by=upload.uploaded_by,
        uploaded_at=now,
    )
    session.add(row)
    await session.flush()
    return FileAnswer(row.id, row.size, row.name)


def _fit(text: str, limit: int) -> str:
    """A name as long as its column takes, keeping its extension (the kind shows in it)."""
    if len(text) <= limit:
        return text
    stem, dot, suffix = text.rpartition(".")
    if dot and len(suffix) < 10:
        return stem[: limit - len(suffix) - 1] + "." + suffix
    return text[:limit]


async def read_bytes(session: AsyncSession, row: StoredFile, directory: Path | None) -> bytes:
    """The bytes of a stored file, wherever they are kept (read one file at a time, so an
    export of a whole county's scans never holds more than one in memory)."""
    if row.path is None:
        data = await session.scalar(select(StoredFile.data).where(StoredFile.id == row.id))
        if data is None:
            raise FileNotFoundError(f"file {row.id} has no bytes in the database")
        return bytes(data)
    if directory is None:
        raise FileNotFoundError(f"file {row.id} is kept in a folder, and none is set")
    return await asyncio.to_thread((directory / row.path).read_bytes)


@dataclass(frozen=True, slots=True)
class RoundFile:
    school_code: str
    school_name: str
    file: StoredFile


async def round_files(
    session: AsyncSession, round_id: int, fields: Sequence[str], district_id: int | None = None
) -> list[RoundFile]:
    """The files in a round's submitted figures (each school's current revision), by
    school code, then question order; of one district's schools when it is given."""
    if not fields:
        return []
    query = (
        select(School.code, School.name, Answer.field, Answer.item, Answer.value_text)
        .join(Submission, Submission.id == Answer.submission_id)
        .join(School, School.id == Submission.school_id)
        .where(
            Submission.round_id == round_id,
            Submission.current_revision > 0,
            Answer.revision == Submission.current_revision,
            Answer.field.in_(list(fields)),
        )
    )
    if district_id is not None:
        query = query.where(School.district_id == district_id)
    rows = await session.execute(query)
    order = {code: i for i, code in enumerate(fields)}
    wanted: list[tuple[str, str, int, int, int]] = []
    for code, name, field, item, value in rows:
        ref = FileAnswer.decode(value)
        if ref is not None:
            wanted.append((code, name, order[field], item, ref.file_id))
    wanted.sort()
    found = await session.execute(
        select(StoredFile)
        .options(defer(StoredFile.data))  # the bytes are read one file at a time
        .where(StoredFile.id.in_([w[4] for w in wanted] or [0]))
    )
    by_id = {f.id: f for f in found.scalars()}
    return [RoundFile(c, n, by_id[i]) for c, n, _o, _it, i in wanted if i in by_id]
