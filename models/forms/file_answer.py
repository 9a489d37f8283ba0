"""The answer to a `file` question: which stored file, how big, and its name.

The answer is kept as one string ("12|482113|盖章扫描件.pdf") in the answers' text column,
so that the review, the receipt and the workbook can name the file from the answers alone,
without a query for the file itself (the report's hot path reads one row per step)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from models.forms.definition import Value


@dataclass(frozen=True, slots=True)
class FileAnswer:
    # Between the three parts; the name comes last, so that it may hold one too.
    SEPARATOR: ClassVar[str] = "|"

    file_id: int
    size: int
    name: str

    def encode(self) -> str:
        return self.SEPARATOR.join((str(self.file_id), str(self.size), self.name))

    @classmethod
    def decode(cls, value: Value | None) -> FileAnswer | None:
        """The file an answer names; None when the value is not a file's answer."""
        if not isinstance(value, str):
            return None
        parts = value.split(cls.SEPARATOR, 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return cls(int(parts[0]), int(parts[1]), parts[2])


def size_text(size: int) -> str:
    """A file's size as people read it: 820 KB, 3.4 MB (1 MB = 1,048,576 bytes)."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def show_file(value: Value | None, zh: bool) -> str:
    """"盖章扫描件.pdf（3.4 MB）" for a review, a receipt or a workbook cell."""
    ref = FileAnswer.decode(value)
    if ref is None:
        return "—" if value is None else str(value)
    size = size_text(ref.size)
    return f"📎 {ref.name}（{size}）" if zh else f"📎 {ref.name} ({size})"
