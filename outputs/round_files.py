"""The files of a round (the answers to its forms' file questions) as people download
them: a zip beside the workbook in chat, or a folder from `huibao export --files DIR`.

Every file is checked against the SHA-256 recorded when it was received, so an export
holds exactly the bytes the school sent; SHA256SUMS.txt lists them for anyone to check
(`sha256sum -c SHA256SUMS.txt`)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
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
    """Where it goes in the zip or folder: 'S001-城关一小/staffing_scan-盖章扫描件.pdf'."""
    data: bytes
    sha256: str


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
) -> list[ExportedFile]:
    """Every file in the round's submitted figures, its bytes checked against its SHA-256."""
    fields = await file_field_codes(session, round_id)
    directory = files_directory(settings)
    out: list[ExportedFile] = []
    taken: set[str] = set()
    for found in await round_files(session, round_id, fields, district_id):
        row = found.file
        data = read_bytes(row, directory)
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise ChecksumMismatch(f"file {row.id} ({row.name}) does not match its SHA-256")
        item = f"-{row.item + 1}" if row.item else ""
        folder = _safe(f"{found.school_code}-{found.school_name}")
        path = f"{folder}/{_safe(f'{row.field}{item}-{row.name}')}"
        if path in taken:  # the same name twice in one school's folder: keep both
            path = f"{folder}/{row.id}-{_safe(row.name)}"
        taken.add(path)
        out.append(ExportedFile(path, data, row.sha256))
    return out


def sums_text(files: list[ExportedFile]) -> str:
    return "".join(f"{f.sha256}  {f.path}\n" for f in files)


def files_zip(files: list[ExportedFile]) -> bytes:
    """The files in one zip (stored, not compressed: scans and photos are compressed
    already), with SHA256SUMS.txt."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for f in files:
            archive.writestr(f.path, f.data)
        archive.writestr(SUMS, sums_text(files))
    return buffer.getvalue()


def write_files(folder: Path, files: list[ExportedFile]) -> list[Path]:
    """The files under `folder` (one subfolder per school) and SHA256SUMS.txt beside them."""
    written = []
    for f in files:
        path = folder / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_private(path) as fh:
            fh.write(f.data)
        written.append(path)
    with open_private(folder / SUMS, "w", encoding="utf-8") as fh:
        fh.write(sums_text(files))
    return written
