"""One way to show a moment to a person: always in the bureau's time zone, one format per
language, so a deadline reads the same in an announcement, a reminder, a screen and a list.

- `full` (the default), in messages: 12月20日（周日）17:00（北京时间） / Sun 20 Dec 17:00
  (Beijing time); the zone is named only where the bureau keeps Beijing time, since a
  bureau elsewhere reads its own time without being told;
- `short`, where a row has little room (buttons, list rows): 12月20日 17:00 / 20 Dec 17:00;
- `date`: 12月20日（周日） / Sun 20 Dec; `clock`: 17:00.

These carry the year only when it is not the year of `now` (always, when the caller does
not say when now is, so that a date is never ambiguous).

- `iso` / `iso_day`: 2026-12-20 17:00 / 2026-12-20, for what is not read as a sentence:
  command-line output, spreadsheet cells, and examples of what to type.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Literal

Style = Literal["full", "short", "date", "clock", "iso", "iso_day"]

ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MACHINE = {"iso": "%Y-%m-%d %H:%M", "iso_day": "%Y-%m-%d", "clock": "%H:%M"}
BEIJING_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"})


def show(
    moment: datetime,
    tz: tzinfo,
    style: Style = "full",
    language: str = "zh_CN",
    now: datetime | None = None,
) -> str:
    """`moment` (aware) as the bureau reads it, in `language`."""
    local = moment.astimezone(tz)
    if style in _MACHINE:
        return local.strftime(_MACHINE[style])
    with_year = now is None or now.astimezone(tz).year != local.year
    zh = language.startswith("zh")
    day = _zh_day(local, with_year) if zh else _en_day(local, with_year)
    clock = local.strftime("%H:%M")
    if style == "short":
        return f"{day} {clock}"
    weekday = f"（周{ZH_WEEKDAYS[local.weekday()]}）" if zh else EN_WEEKDAYS[local.weekday()]
    dated = f"{day}{weekday}" if zh else f"{weekday} {day}"
    if style == "date":
        return dated
    joined = f"{dated}{clock}" if zh else f"{dated} {clock}"
    return joined + zone_note(tz, language)


def zone_note(tz: tzinfo, language: str) -> str:
    """「（北京时间）」 after a time, where the bureau keeps Beijing time."""
    if str(tz) not in BEIJING_ZONES:
        return ""
    return "（北京时间）" if language.startswith("zh") else " (Beijing time)"


def zone_name(tz: tzinfo, language: str) -> str:
    """The bureau's zone as people call it: 北京 / Beijing, else its tz name."""
    if str(tz) in BEIJING_ZONES:
        return "北京" if language.startswith("zh") else "Beijing"
    return str(tz)


def _zh_day(local: datetime, with_year: bool) -> str:
    year = f"{local.year}年" if with_year else ""
    return f"{year}{local.month}月{local.day}日"


def _en_day(local: datetime, with_year: bool) -> str:
    year = f" {local.year}" if with_year else ""
    return f"{local.day} {EN_MONTHS[local.month - 1]}{year}"
