"""Every date a person reads in chat has one format per language (texts.when)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from texts.i18n import gettext_for, language_of_gettext
from texts.when import show, zone_name

BEIJING = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
# 2026-12-20 17:00 in Beijing, a Sunday.
DEADLINE = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
THIS_YEAR = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)
LAST_YEAR = datetime(2025, 12, 30, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("style", "language", "expected"),
    [
        ("full", "zh_CN", "12月20日（周日）17:00（北京时间）"),
        ("full", "en", "Sun 20 Dec 17:00 (Beijing time)"),
        ("short", "zh_CN", "12月20日 17:00"),
        ("short", "en", "20 Dec 17:00"),
        ("date", "zh_CN", "12月20日（周日）"),
        ("date", "en", "Sun 20 Dec"),
        ("clock", "zh_CN", "17:00"),
        ("iso", "en", "2026-12-20 17:00"),
        ("iso_day", "zh_CN", "2026-12-20"),
    ],
)
def test_one_format_per_language(style: str, language: str, expected: str) -> None:
    assert show(DEADLINE, BEIJING, style, language, THIS_YEAR) == expected  # type: ignore[arg-type]


def test_the_year_is_shown_when_it_is_not_this_year() -> None:
    zh = show(DEADLINE, BEIJING, "full", "zh_CN", LAST_YEAR)
    assert zh == "2026年12月20日（周日）17:00（北京时间）"
    assert show(DEADLINE, BEIJING, "full", "en", LAST_YEAR) == (
        "Sun 20 Dec 2026 17:00 (Beijing time)"
    )
    assert show(DEADLINE, BEIJING, "short", "zh_CN", LAST_YEAR) == "2026年12月20日 17:00"


def test_without_now_the_year_is_always_shown() -> None:
    assert show(DEADLINE, BEIJING, "date", "en") == "Sun 20 Dec 2026"


def test_the_year_is_the_bureaus_year() -> None:
    # 31 Dec 20:00 UTC is already 1 January in Beijing.
    new_year = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert show(new_year, BEIJING, "short", "zh_CN", new_year) == "1月1日 04:00"
    assert show(new_year, BEIJING, "short", "zh_CN", THIS_YEAR) == "2027年1月1日 04:00"


def test_beijing_time_is_named_only_for_a_bureau_that_keeps_it() -> None:
    assert show(DEADLINE, BERLIN, "full", "zh_CN", THIS_YEAR) == "12月20日（周日）10:00"
    assert show(DEADLINE, BERLIN, "full", "en", THIS_YEAR) == "Sun 20 Dec 10:00"


def test_a_builder_given_only_gettext_knows_its_language() -> None:
    assert language_of_gettext(gettext_for("en")) == "en"
    assert language_of_gettext(gettext_for("zh_CN")) == "zh_CN"


def test_the_zone_is_called_as_people_call_it() -> None:
    assert zone_name(BEIJING, "zh_CN") + "时间" == "北京时间"
    assert zone_name(BEIJING, "en") == "Beijing"
    assert zone_name(BERLIN, "en") == "Europe/Berlin"
