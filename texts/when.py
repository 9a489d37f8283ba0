"""One way to show a moment: always in the bureau's time zone, in one of a few styles.

- `full`: 2026-12-20 17:00, in lists, screens, workbooks and the command line;
- `short`: 12-20 17:00, where a row has little room (buttons, compact lists);
- `day`: 2026-12-20; `clock`: 17:00;
- `spoken` (the language matters): 12月20日（周五）17:00 / Fri 20 Dec 17:00, in messages that
  ask a person to do something by then (reminders, announcements).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Literal

Style = Literal["full", "short", "day", "clock", "spoken"]

ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FORMATS = {"full": "%Y-%m-%d %H:%M", "short": "%m-%d %H:%M", "day": "%Y-%m-%d", "clock": "%H:%M"}


def show(moment: datetime, tz: tzinfo, style: Style = "full", language: str = "zh_CN") -> str:
    """`moment` (aware) as the bureau reads it."""
    local = moment.astimezone(tz)
    if style != "spoken":
        return local.strftime(_FORMATS[style])
    clock = local.strftime("%H:%M")
    if language.startswith("zh"):
        return f"{local.month}月{local.day}日（周{ZH_WEEKDAYS[local.weekday()]}）{clock}"
    return f"{EN_WEEKDAYS[local.weekday()]} {local.day} {EN_MONTHS[local.month - 1]} {clock}"
