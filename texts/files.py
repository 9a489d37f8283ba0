"""What people are told about files in a form: what a file question accepts, why a file
was refused, that it was received, and the round's files under its workbook. The
catalogue is files.po."""

from __future__ import annotations

from collections.abc import Sequence

from models.forms import FileKind, size_text
from texts.callbacks import ExportFiles
from texts.i18n import Gettext, paren

Rows = list[list[tuple[str, str]]]


def kind_names(_: Gettext, kinds: Sequence[FileKind]) -> str:
    names = {
        "pdf": _("PDF"),
        "image": _("photo or picture (JPG, PNG)"),
        "xlsx": _("Excel workbook (.xlsx)"),
    }
    return _(", ").join(names[k] for k in kinds)


def accepted(_: Gettext, kinds: Sequence[FileKind], max_mb: int) -> str:
    """Under a file question: "Accepted: PDF; at most 10 MB"."""
    return _("Accepted: {kinds}; at most {mb} MB").format(kinds=kind_names(_, kinds), mb=max_mb)


def send_hint(_: Gettext) -> str:
    return _("Send the file here, as a file or a photo.")


def needs_file(_: Gettext, label: str) -> str:
    return _("“{label}” needs a file: send it here as a file or a photo.").format(label=label)


def too_large(_: Gettext, label: str, size: int | None, max_mb: int) -> str:
    what = paren(_, _("This file is too large"), size_text(size)) if size else _(
        "This file is too large"
    )
    return "❌ " + _(
        "{what}: “{label}” accepts at most {mb} MB. Nothing was saved; please send a "
        "smaller file (a scan at a lower resolution, or a photo)."
    ).format(what=what, label=label, mb=max_mb)


def wrong_kind(_: Gettext, label: str, kinds: Sequence[FileKind]) -> str:
    return "❌ " + _(
        "“{label}” accepts only: {kinds}. This file is not one of them, so nothing was "
        "saved; please send it again in one of these kinds."
    ).format(label=label, kinds=kind_names(_, kinds))


def not_fetched(_: Gettext) -> str:
    return "❌ " + _(
        "The file could not be fetched from Telegram, so nothing was saved. Please send it again."
    )


def not_a_file_question(_: Gettext) -> str:
    return "ℹ️ " + _(
        "This question takes a typed answer, not a file, so the file was not saved."
    )


def not_now(_: Gettext) -> str:
    return "ℹ️ " + _("A file is not expected here, so it was not saved.")


def received(_: Gettext, shown: str) -> str:
    return "✅ " + _("File received: {file}").format(file=shown)


def receipt_lines(_: Gettext, shown: Sequence[str]) -> list[str]:
    """The receipt's list of the files submitted with the figures."""
    if not shown:
        return []
    return [_("Files submitted:"), *shown]


def files_button(_: Gettext, round_id: int) -> tuple[str, str]:
    """Under a round's workbook, when its form asks for files."""
    return (_("📎 Files (zip)"), ExportFiles(round_id).pack())


def preparing_files(_: Gettext) -> str:
    return _("Collecting the files…")


def files_caption(_: Gettext, count: int) -> str:
    return _("Files the schools sent: {count} (SHA256SUMS.txt lists their checksums).").format(
        count=count
    )


def no_files(_: Gettext) -> str:
    return _("No school has submitted a file in this round yet.")


def zip_too_large(_: Gettext, mb: int) -> str:
    return _(
        "The files come to {mb} MB, more than Telegram lets a bot send at once (50 MB). "
        "Please export them with huibao export --files DIR on the server."
    ).format(mb=mb)


def files_damaged(_: Gettext) -> str:
    return "❌ " + _(
        "A file of this round no longer matches what the school sent (its checksum differs "
        "or it is missing), so the files were not sent. Please tell the bureau's "
        "administrator: huibao export --files DIR on the server names the file."
    )
