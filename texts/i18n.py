"""Translations: gettext catalogs (zh_CN, en) read through Babel, chosen per person.

Each capability keeps its own catalog file (`texts/locales/<lang>/LC_MESSAGES/<domain>.po`)
so that work on one capability never conflicts with another; all domains of a language
are merged at load. Message ids are English, so the en catalog only overrides wording.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
LOCALES = Path(__file__).parent / "locales"

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it where it is shown."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    merged: NullTranslations | None = None
    folder = LOCALES / language / "LC_MESSAGES"
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = Translations(fp=buffer)
        if merged is None:
            merged = loaded
        else:
            assert isinstance(merged, Translations)
            merged.merge(loaded)
    return merged if merged is not None else NullTranslations()


def gettext_for(language: str) -> Gettext:
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    return translations(language).gettext


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    return translations(language).ngettext


def language_of_gettext(_: Gettext) -> str:
    """The language of a gettext made by `gettext_for`, for builders handed only `_` that
    must also show a date in that language."""
    for language in LANGUAGES:
        if getattr(_, "__self__", None) is translations(language):
            return language
    return DEFAULT_LANGUAGE


def plural_for(_: Gettext) -> Callable[[str, str, int], str]:
    """The ngettext of the language `_` speaks, for builders handed only `_`."""
    return ngettext_for(language_of_gettext(_))


def people(_: Gettext, count: int) -> str:
    """「9 人」 / "9 people", "1 person": a count of people inside a sentence."""
    ngettext = plural_for(_)
    return ngettext("{count} person", "{count} people", count).format(count=count)


def schools(_: Gettext, count: int) -> str:
    """「3 所学校」 / "3 schools", "1 school"."""
    ngettext = plural_for(_)
    return ngettext("{count} school", "{count} schools", count).format(count=count)


def recipients(_: Gettext, count: int) -> str:
    """「5 位收件人」 / "5 recipients", "1 recipient"."""
    ngettext = plural_for(_)
    return ngettext("{count} recipient", "{count} recipients", count).format(count=count)


def paren(_: Gettext, text: str, detail: str) -> str:
    """`text (detail)` built in code, with the brackets of the reader's language: Chinese
    text takes full-width ones （）."""
    return _("{text} ({detail})").format(text=text, detail=detail)


def colon(_: Gettext, label: str, value: str) -> str:
    """`label: value` built in code, with the reader's colon (Chinese: ：)."""
    return _("{label}: {value}").format(label=label, value=value)


def from_telegram(language_code: str | None) -> str | None:
    """Map Telegram's IETF code (zh-hans, zh-CN, en-GB, ...) to a catalog, if we have one."""
    if not language_code:
        return None
    code = language_code.lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh_CN"
    if code.startswith("en"):
        return "en"
    return None


class Speaker(Protocol):
    """Whom a message is for, as far as its language goes: a Person row, or the same two
    columns read by a joined query (Stated)."""

    @property
    def language(self) -> str | None: ...

    @property
    def telegram_language(self) -> str | None: ...


@dataclass(frozen=True)
class Stated:
    """A person's two language columns, for callers holding them without the row."""

    language: str | None
    telegram_language: str | None = None


def language_of(person: Speaker | None, default: str, telegram_code: str | None = None) -> str:
    """The one rule for the language a person is spoken to in: their choice (/language),
    else their Telegram app's language (from this update, or as last seen), else the
    bureau's default. Chat, scheduler and CLI all call this one."""
    stored = person.language if person is not None else None
    if stored is not None and stored in LANGUAGES:
        return stored
    seen = telegram_code or (person.telegram_language if person is not None else None)
    return from_telegram(seen) or (default if default in LANGUAGES else DEFAULT_LANGUAGE)


def short(language: str) -> str:
    """The key used by form definitions, which label things as zh / en."""
    return "zh" if language.startswith("zh") else "en"


SOURCE_DIRS = ("bot", "handlers", "scheduler", "models", "texts", "outputs", "transport", "config")


def source_messages(root: Path | None = None) -> dict[str, list[str]]:
    """Every message id marked in the code, with where it is used."""
    from babel.messages.extract import extract_from_dir

    root = root or Path(__file__).parent.parent
    found: dict[str, list[str]] = {}
    for folder in SOURCE_DIRS:
        if not (root / folder).is_dir():
            continue
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(root / folder), method_map=[("**.py", "python")]
        ):
            ids = message if isinstance(message, tuple) else (message,)
            for msgid in ids:
                if msgid:
                    found.setdefault(msgid, []).append(f"{folder}/{filename}:{lineno}")
    return found


def catalog_messages(language: str) -> dict[str, str]:
    folder = LOCALES / language / "LC_MESSAGES"
    messages: dict[str, str] = {}
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id:
                    # A plural message answers for its singular and its plural id.
                    keys = (message.id,) if isinstance(message.id, str) else message.id
                    value = message.string if isinstance(message.string, str) else (
                        message.string[0] if message.string else ""
                    )
                    for key in keys:
                        messages[key] = value
    return messages


def untranslated(language: str = "zh_CN") -> dict[str, list[str]]:
    known = catalog_messages(language)
    return {m: where for m, where in source_messages().items() if not known.get(m)}


def _print_missing() -> None:
    """`python -m texts.i18n`: print .po stubs for every message without a zh_CN string."""
    for msgid, where in sorted(untranslated().items()):
        print(f"#: {' '.join(where)}")
        escaped = msgid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        print(f'msgid "{escaped}"\nmsgstr ""\n')


if __name__ == "__main__":
    _print_missing()
