"""Every string a person can see has a Chinese translation; language choice rules."""

from __future__ import annotations

import re

import pytest

from texts.i18n import Stated, catalog_messages, gettext_for, language_of, untranslated

PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def test_every_message_has_a_chinese_translation() -> None:
    missing = untranslated("zh_CN")
    assert not missing, "untranslated (run `python -m texts.i18n` for stubs):\n" + "\n".join(
        f"{where[0]}: {msgid}" for msgid, where in missing.items()
    )


def test_translations_keep_every_placeholder() -> None:
    for msgid, msgstr in catalog_messages("zh_CN").items():
        if msgstr:
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid


@pytest.mark.parametrize(
    ("stored", "telegram", "default", "expected"),
    [
        ("en", "zh-hans", "zh_CN", "en"),
        (None, "zh-hans", "en", "zh_CN"),
        (None, "en-GB", "zh_CN", "en"),
        (None, "fr", "zh_CN", "zh_CN"),
        (None, None, "en", "en"),
    ],
)
def test_language_choice(
    stored: str | None, telegram: str | None, default: str, expected: str
) -> None:
    assert language_of(Stated(stored), default, telegram) == expected
    # Telegram's code as last seen counts when the update brings none.
    assert language_of(Stated(stored, telegram), default) == expected


def test_language_of_nobody_is_telegrams_then_the_default() -> None:
    assert language_of(None, "en", "zh-hans") == "zh_CN"
    assert language_of(None, "fr") == "zh_CN"


def test_catalogs_translate() -> None:
    assert gettext_for("zh_CN")("Choose your language:") == "请选择语言："
    assert gettext_for("en")("Choose your language:") == "Choose your language:"
