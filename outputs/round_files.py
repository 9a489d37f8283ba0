"""The files of a round (the answers to its forms' file questions) as people download
them: a zip beside the workbook in chat, or a folder from `huibao export --files DIR`.

Every file is checked against the SHA-256 recorded when it was received, so an export
holds exactly the bytes the school sent; SHA256SUMS.txt lists them for anyone to check
(`sha256sum -c SHA256SUMS.txt`). Files are read and written one at a time: a county's
scans may come to gigabytes, and an export holds one of them in memory at most."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings, files_directory
from models.files import read_bytes, round_files
from models.followup.completeness import get_round
from models.rounds import versions
from outputs.private_files import open_private

SUMS = "SHA256SUMS.txt"


class ChecksumMismatch(Exception):
    """A stored file's bytes are no longer those received (a damaged folder or database)."""


@dataclass(frozen=True, slots=True)
class ExportedFile:
    path: str
    """Where it goes in the zip or folder: 'S001-城关一小/stamped_scan-盖章扫描件.pdf'."""
    data: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class Zipped:
    data: bytes | None
    """The zip; None when it would be larger than the limit asked for."""
    count: int
    size: int
    """Bytes of the files (a zip too large is not finished: what it would have held)."""


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _safe(name: str) -> str:
    """A name every file system and zip reader takes: no folders, no control characters."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned[:120] or "file"


async def file_field_codes(session: AsyncSession, round_id: int) -> list[str]:
    """The codes of the round's form's file questions, in form order (none: no files)."""
    rnd = await get_round(session, round_id)
    form = await versions.form_version(session, rnd.form_code, rnd.form_version)
    return [f.code for f in form.fields if f.type == "file"]


async def round_file_exports(
    session: AsyncSession, round_id: int, settings: Settings, district_id: int | None = None
) -> AsyncIterator[ExportedFile]:
    """Every file in the round's submitted figures, one at a time, each checked against
    its SHA-256 (ChecksumMismatch when one no longer matches)."""
    fields = await file_field_codes(session, round_id)
    directory = files_directory(settings)
    taken: set[str] = set()
    for found in await round_files(session, round_id, fields, district_id):
        row = found.file
        data = await read_bytes(session, row, directory)
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise ChecksumMismatch(f"file {row.id} ({row.name}) does not match its SHA-256")
        item = f"-{row.item + 1}" if row.item else ""
        folder = _safe(f"{found.school_code}-{found.school_name}")
        path = f"{folder}/{_safe(f'{row.field}{item}-{row.name}')}"
        if path in taken:  # the same name twice in one school's folder: keep both
            path = f"{folder}/{row.id}-{_safe(row.name)}"
        taken.add(path)
        yield ExportedFile(path, data, row.sha256)


def _sum_line(f: ExportedFile) -> str:
    return f"{f.sha256}  {f.path}\n"


async def files_zip(
    session: AsyncSession,
    round_id: int,
    settings: Settings,
    district_id: int | None = None,
    limit: int | None = None,
) -> Zipped:
    """The files in one zip (stored, not compressed: scans and photos are compressed
    already) with SHA256SUMS.txt; given up once the files pass `limit` bytes."""
    buffer = io.BytesIO()
    sums: list[str] = []
    size = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        async for f in round_file_exports(session, round_id, settings, district_id):
            size += len(f.data)
            sums.append(_sum_line(f))
            if limit is not None and size > limit:
                continue  # counted, not kept: the zip is not sent anyway
            archive.writestr(f.path, f.data)
        archive.writestr(SUMS, "".join(sums))
    too_large = limit is not None and size > limit
    return Zipped(None if too_large else buffer.getvalue(), len(sums), size)


async def write_files(
    session: AsyncSession,
    round_id: int,
    settings: Settings,
    folder: Path,
    district_id: int | None = None,
) -> int:
    """The files under `folder` (one subfolder per school) and SHA256SUMS.txt beside them."""
    sums: list[str] = []
    async for f in round_file_exports(session, round_id, settings, district_id):
        path = folder / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_private(path) as fh:
            fh.write(f.data)
        sums.append(_sum_line(f))
    with open_private(folder / SUMS, "w", encoding="utf-8") as fh:
        fh.write("".join(sums))
    return len(sums)
