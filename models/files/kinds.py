"""Which kinds of file a question accepts, told from the type Telegram reports, the
file's name and, once downloaded, its first bytes.

Telegram tells the size and the type of a file before the bot downloads it, so a file
too large or of a wrong kind is refused before a byte is fetched; the bytes are checked
afterwards, since a name and a type are only what the sender's phone claims."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from models.forms import FieldDef, FileKind

MB = 1024 * 1024

_MIME_KINDS: dict[str, FileKind] = {
    "application/pdf": "pdf",
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "image/heic": "image",
    "image/heif": "image",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_SUFFIX_KINDS: dict[str, FileKind] = {
    ".pdf": "pdf",
    ".jpg": "image",
    ".jpeg": "image",
    ".png": "image",
    ".webp": "image",
    ".heic": "image",
    ".heif": "image",
    ".xlsx": "xlsx",
}
_SIGNATURES: dict[FileKind, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "image": (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF", b"\x00\x00\x00"),
    "xlsx": (b"PK\x03\x04",),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a file is not taken: "too_large" (with the limit in MB) or "wrong_kind"."""

    reason: str
    max_mb: int = 0


def kind_of(name: str | None, mime: str | None) -> FileKind | None:
    """The kind of a file from its type and name; None when unknown, or when the two
    disagree (a "scan.pdf" that says it is a picture)."""
    by_mime = _MIME_KINDS.get((mime or "").lower())
    by_name = _SUFFIX_KINDS.get(PurePath(name).suffix.lower()) if name else None
    if by_mime and by_name and by_mime != by_name:
        return None
    return by_mime or by_name


def limit_mb(field: FieldDef, default_mb: int) -> int:
    return field.max_mb if field.max_mb is not None else default_mb


def check_upload(
    field: FieldDef, default_mb: int, name: str | None, mime: str | None, size: int | None
) -> Refusal | None:
    """Whether a file may be downloaded for this question, from what Telegram tells of it."""
    mb = limit_mb(field, default_mb)
    if size is None or size > mb * MB:
        # Telegram always tells a file's size; an unknown one is not fetched blind.
        return Refusal("too_large", mb)
    if kind_of(name, mime) not in field.kinds:
        return Refusal("wrong_kind")
    return None


def check_bytes(field: FieldDef, default_mb: int, data: bytes, kind: FileKind) -> Refusal | None:
    """The downloaded bytes: no larger than the limit, and starting as their kind does."""
    if len(data) > limit_mb(field, default_mb) * MB:
        return Refusal("too_large", limit_mb(field, default_mb))
    if not data.startswith(_SIGNATURES[kind]):
        return Refusal("wrong_kind")
    return None
