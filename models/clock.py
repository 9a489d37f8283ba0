"""Time as the bureau lives it: what staff type as a date and time, and quiet hours, in
which automatic messages wait until the bureau's night is over."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    # The usual case: the quiet period spans midnight (21:00 to 08:00).
    return local >= start or local < end


def after_quiet_hours(
    at: datetime, tz: ZoneInfo, start: time, end: time, *, enabled: bool = True
) -> datetime:
    """`at` itself, or the end of the quiet period it falls into (aware UTC either way)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    local = at.astimezone(tz)
    if not enabled or not in_quiet_hours(local.time(), start, end):
        return at.astimezone(UTC)
    candidate = datetime.combine(local.date(), end, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return candidate.astimezone(UTC)


# --- what staff type ----------------------------------------------------------------------
# One grammar for every date and time staff type, in the chat and on the command line:
# 2026-12-20 17:00, 2026/12/20 17:00:00, 12-20, 12月20日 17点, full-width digits too.

_WHEN_RE = re.compile(
    r"(?:(?P<y>\d{4})\s*[-/.年]\s*)?(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?"
    r"(?:\s*[T ]?\s*(?P<H>\d{1,2})\s*[:：点时]\s*(?P<M>\d{2})?(?:[:：]\d{2})?\s*分?)?"
)


_FULL_WIDTH = {0xFF10 + i: str(i) for i in range(10)} | {
    ord("－"): "-",
    ord("／"): "/",
    ord("．"): ".",
    ord("\u3000"): " ",
}


def parse_when(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """A date and time typed by staff, read in the bureau's time zone (aware UTC out)."""
    normal = text.strip().translate(_FULL_WIDTH)
    m = _WHEN_RE.fullmatch(normal)
    if m is None:
        return None
    local_now = now.astimezone(tz)
    year = int(m["y"]) if m["y"] else local_now.year
    hour = int(m["H"]) if m["H"] is not None else 23
    minute = int(m["M"]) if m["M"] is not None else (0 if m["H"] is not None else 59)
    try:
        when = datetime(year, int(m["m"]), int(m["d"]), hour, minute, tzinfo=tz)
    except ValueError:
        return None
    if not m["y"] and when < local_now:
        # "12-01" typed in December means next year's.
        try:
            when = when.replace(year=year + 1)
        except ValueError:
            return None
    return when.astimezone(UTC)
