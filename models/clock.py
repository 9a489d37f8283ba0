"""Time as the bureau lives it: quiet hours, in which automatic messages wait until the
bureau's night is over."""

from __future__ import annotations

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
