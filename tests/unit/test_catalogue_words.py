"""The Chinese catalogues keep the glossary's words and Chinese punctuation
(texts/locales/GLOSSARY.md)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from models.forms import load_forms
from models.forms.parsing import format_value
from texts.i18n import LOCALES, colon, gettext_for, paren, people, recipients, schools

GLOSSARY = LOCALES / "GLOSSARY.md"
ZH = LOCALES / "zh_CN" / "LC_MESSAGES"

# What may hold ASCII punctuation inside Chinese text: placeholders, links, HTML tags and
# entities, `code`, /commands and --options, times and numbers (17:00, 4,096, 1,3).
ALLOWED = re.compile(
    r"https?://\S+|<[^>]+>|&\w+;|`[^`]*`|(?<![\w/])/[a-z_]+|--[a-z-]+|\d[:.,]\d"
)
# A placeholder stands for what it will hold: text, so "{district}: {count}" is caught.
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
ASCII_PUNCTUATION = re.compile(r"[,:;?!()]")


@cache
def zh_strings() -> list[tuple[str, str, str]]:
    """(file, msgid, msgstr) of every Chinese translation, plural forms included."""
    found = []
    for po in sorted(ZH.glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale="zh_CN"):
                if not message.id:
                    continue
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                strings = message.string if isinstance(message.string, tuple) else (
                    message.string,
                )
                found += [(po.name, msgid, s) for s in strings if s]
    return found


def ascii_punctuation(text: str) -> list[str]:
    return ASCII_PUNCTUATION.findall(ALLOWED.sub("", PLACEHOLDER.sub("甲", text)))


def deprecated_words() -> list[str]:
    """The words in the last column of the glossary's table."""
    words = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("concept", "---"):
            words += re.findall(r"`([^`]+)`", cells[3])
    return words


def test_the_check_sees_what_it_must() -> None:
    assert ascii_punctuation("东河镇: 6") == [":"]
    assert ascii_punctuation("第 1 轮 (进行中)") == ["(", ")"]
    assert ascii_punctuation("截止时间：12月20日（周日）17:00（北京时间）") == []
    assert ascii_punctuation("请运行 `huibao forms check`，或打开 https://t.me/x?start=a,b") == []
    assert ascii_punctuation("如 1,3；{name}：{count}") == []
    assert ascii_punctuation("{district}: {count}") == [":"]
    assert "绑定" in deprecated_words() and "表单" in deprecated_words()


def test_chinese_uses_full_width_punctuation() -> None:
    wrong = [(f, i, s) for f, i, s in zh_strings() if ascii_punctuation(s)]
    assert wrong == []


@pytest.mark.parametrize("word", deprecated_words())
def test_no_deprecated_word(word: str) -> None:
    assert [(f, s) for f, _i, s in zh_strings() if word in s] == []


def test_one_msgid_has_one_chinese_string() -> None:
    """All catalogues are merged at load: a msgid translated twice shows one of the two
    in both places (the school card once said 进行中 for a school in use)."""
    seen: dict[str, str] = {}
    clashes = []
    for _f, msgid, text in zh_strings():
        if seen.setdefault(msgid, text) != text:
            clashes.append((msgid, seen[msgid], text))
    assert clashes == []


def test_brackets_and_colons_built_in_code_follow_the_language() -> None:
    zh, en = gettext_for("zh_CN"), gettext_for("en")
    assert paren(zh, "城关一小", "逾期") == "城关一小（逾期）"
    assert paren(en, "Chengguan No. 1", "late") == "Chengguan No. 1 (late)"
    assert colon(zh, "东河镇", "6") == "东河镇：6"
    assert colon(en, "Donghe", "6") == "Donghe: 6"


def test_the_glossary_is_beside_the_catalogues() -> None:
    assert Path(GLOSSARY).is_file()


def test_counts_agree_with_their_number_in_english() -> None:
    zh, en = gettext_for("zh_CN"), gettext_for("en")
    assert (people(en, 1), people(en, 4)) == ("1 person", "4 people")
    assert (schools(en, 1), schools(en, 8)) == ("1 school", "8 schools")
    assert (recipients(en, 1), recipients(en, 2)) == ("1 recipient", "2 recipients")
    assert (people(zh, 1), schools(zh, 8), recipients(zh, 2)) == ("1 人", "8 所学校", "2 位收件人")


def test_a_counted_unit_is_not_repeated_after_the_number_in_english() -> None:
    form = load_forms(Path(__file__).parents[2] / "forms").get("staffing")
    [vacancies] = [c for c in form.computed if c.code == "vacant_posts"]
    assert format_value(vacancies, 5, "en") == "5"  # "Vacant posts: 5", never "1 people"
    assert format_value(vacancies, 5, "zh_CN") == "5人"
