"""Reminder slots: a round's reminder policy, and the moments (slots) it gives.

A round's reminder policy (bureau defaults from the settings, overridden per schedule or
round) gives a list of slots, each a moment in the bureau's time zone (the slot keys are
described in reminder_log.py, which records them once handled). Quiet hours move a slot
to their end. Pure computation: no database, no settings, no Telegram.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from models.rounds import Round

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SlotKind(enum.StrEnum):
    OPEN = "open"
    WEEKLY = "weekly"
    BEFORE = "before"
    DEADLINE_DAY = "deadline-day"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    SUMMARY = "summary"


class SlotOutcome(enum.StrEnum):
    DONE = "done"
    MISSED = "missed"  # found later than the misfire grace: skipped and logged
    NOTHING = "nothing"  # every school had submitted, or nobody was there to tell



@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    enabled: bool = True


@dataclass(frozen=True)
class Policy:
    """When a round's reminders and summaries go out (bureau time)."""

    on_open: bool = True
    weekly_day: str = "monday"  # or "off"
    weekly_time: time = time(9, 0)
    days_before: tuple[int, ...] = (3, 1)
    days_before_time: time = time(9, 0)
    deadline_day: bool = True
    deadline_day_time: time = time(9, 0)
    overdue: bool = True
    escalate_to_district: bool = True
    summary_days_before: int = 3
    summary_time: time = time(17, 0)
    summary_at_deadline: bool = True

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: Policy | None = None) -> Policy:
        """`base` (or the built-in defaults) with the known keys of `values` applied;
        unknown keys (such as the settings' misfire grace) are ignored. ValueError on a
        wrong value."""
        policy = base or cls()
        known = {f.name for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                continue
            changes[key] = _coerce(key, value)
        return replace(policy, **changes)

    def overrides(self, base: Policy) -> dict[str, Any]:
        """What differs from `base`, as JSON-ready values (stored on schedules, rounds)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(base, f.name)
            if mine != theirs:
                out[f.name] = _jsonable(mine)
        return out


def _coerce_time(key: str, value: Any) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a time like 09:00") from None


def _coerce_weekly_day(key: str, value: Any) -> str:
    day = str(value).lower()
    if day not in (*WEEKDAYS, "off"):
        raise ValueError(f"weekly_day: {value!r} is not a weekday or off")
    return day


def _coerce_days_before(key: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(" ", "").split(",") if part]
    try:
        days = sorted({int(v) for v in value}, reverse=True)
    except (TypeError, ValueError):
        raise ValueError(f"days_before: {value!r} is not a list of numbers") from None
    if any(d < 1 or d > 60 for d in days):
        raise ValueError("days_before: each entry must be from 1 to 60")
    return tuple(days)


def _coerce_summary_days(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 14:
        raise ValueError("summary_days_before: must be a number from 0 to 14")
    return value


def _coerce_flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key}: must be true or false")
    return value


# How each policy key is read; keys not named here are on/off flags (or times, by name).
_COERCE: dict[str, Callable[[str, Any], Any]] = {
    "weekly_day": _coerce_weekly_day,
    "days_before": _coerce_days_before,
    "summary_days_before": _coerce_summary_days,
}


def _coerce(key: str, value: Any) -> Any:
    if key.endswith("_time"):
        return _coerce_time(key, value)
    coerce: Callable[[str, Any], Any] = _COERCE.get(key, _coerce_flag)
    return coerce(key, value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class Slot:
    key: str
    kind: SlotKind
    due_at: datetime  # when the policy puts it (UTC)
    send_at: datetime  # due_at moved out of quiet hours (UTC)


# --- pure computation ------------------------------------------------------------------


def defer_for_quiet_hours(moment: datetime, quiet: QuietHours | None, tz: tzinfo) -> datetime:
    """`moment` if it is outside quiet hours (bureau time), else the end of them."""
    if quiet is None or not quiet.enabled or quiet.start == quiet.end:
        return moment
    local = moment.astimezone(tz)
    at = local.timetz().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= at < quiet.end
        end_day = local.date()
    else:  # over midnight, e.g. 21:00-08:00
        inside = at >= quiet.start or at < quiet.end
        end_day = local.date() + timedelta(days=1) if at >= quiet.start else local.date()
    if not inside:
        return moment
    return datetime.combine(end_day, quiet.end, tzinfo=tz).astimezone(UTC)


def grace_end(round_: Round) -> datetime:
    return round_.deadline + timedelta(minutes=round_.grace_minutes)


DEADLINE_SUMMARY = "summary-deadline"


def _minute(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def is_deadline_summary(slot: Slot) -> bool:
    return slot.key.startswith(DEADLINE_SUMMARY + ":")


@dataclass
class _Calendar:
    """The slots of one round being laid out, and the days that already have a reminder."""

    round: Round
    tz: tzinfo
    slots: list[tuple[str, SlotKind, datetime]] = field(default_factory=list)
    busy_days: set[date] = field(default_factory=set)

    @property
    def deadline_day(self) -> date:
        return self.round.deadline.astimezone(self.tz).date()

    @property
    def open_day(self) -> date:
        return self.round.opened_at.astimezone(self.tz).date()

    def at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.tz).astimezone(UTC)

    def before_deadline(self, moment: datetime) -> bool:
        return self.round.opened_at < moment < self.round.deadline

    def add(self, key: str, kind: SlotKind, moment: datetime) -> None:
        self.slots.append((key, kind, moment))

    def add_reminder(self, key: str, kind: SlotKind, day: date, moment: time) -> None:
        """A reminder before the deadline, unless its day already has one."""
        when = self.at(day, moment)
        if self.before_deadline(when) and day not in self.busy_days:
            self.add(key, kind, when)
            self.busy_days.add(day)


def _reminders(cal: _Calendar, policy: Policy) -> None:
    # The opening day has its message already: the scheduler's opening notice, or the
    # announcement of whoever opened the round by hand (or, without either, a deliberate
    # silence), so no reminder follows it on that day.
    cal.busy_days.add(cal.open_day)
    if policy.on_open:
        cal.add(SlotKind.OPEN.value, SlotKind.OPEN, cal.round.opened_at)
    for days in policy.days_before:
        day = cal.deadline_day - timedelta(days=days)
        cal.add_reminder(
            f"before:{days}:{day.isoformat()}", SlotKind.BEFORE, day, policy.days_before_time
        )
    if policy.deadline_day:
        day = cal.deadline_day
        cal.add_reminder(
            f"deadline-day:{day.isoformat()}", SlotKind.DEADLINE_DAY, day,
            policy.deadline_day_time,
        )
    if policy.weekly_day != "off":
        _weekly(cal, policy)


def _weekly(cal: _Calendar, policy: Policy) -> None:
    weekday = WEEKDAYS.index(policy.weekly_day)
    day = cal.open_day + timedelta(days=(weekday - cal.open_day.weekday()) % 7)
    while day <= cal.deadline_day:
        moment = cal.at(day, policy.weekly_time)
        if cal.before_deadline(moment) and day not in cal.busy_days:
            cal.add(f"weekly:{day.isoformat()}", SlotKind.WEEKLY, moment)
        day += timedelta(days=7)


def _after_deadline(cal: _Calendar, policy: Policy) -> None:
    late = grace_end(cal.round)
    late_key = _minute(late, cal.tz)
    if policy.overdue:
        cal.add(f"overdue:{late_key}", SlotKind.OVERDUE, late)
    if policy.escalate_to_district:
        cal.add(f"escalation:{late_key}", SlotKind.ESCALATION, late)


def _summaries(cal: _Calendar, policy: Policy) -> None:
    for days in range(policy.summary_days_before, 0, -1):
        day = cal.deadline_day - timedelta(days=days)
        moment = cal.at(day, policy.summary_time)
        if cal.before_deadline(moment):
            cal.add(f"summary:{day.isoformat()}", SlotKind.SUMMARY, moment)
    if policy.summary_at_deadline:
        deadline = cal.round.deadline
        cal.add(f"{DEADLINE_SUMMARY}:{_minute(deadline, cal.tz)}", SlotKind.SUMMARY, deadline)


def slots_for(
    round_: Round, policy: Policy, tz: tzinfo, quiet: QuietHours | None = None
) -> list[Slot]:
    """Every slot of a round under a policy, in time order. Reminders before the
    deadline fall strictly between the opening and the deadline, and at most one of them
    on any day: a weekly reminder on a day that already has one is dropped, and nothing
    goes on the opening day but the opening notice."""
    cal = _Calendar(round_, tz)
    _reminders(cal, policy)
    _after_deadline(cal, policy)
    _summaries(cal, policy)
    out = [
        Slot(key, kind, due, defer_for_quiet_hours(due, quiet, tz)) for key, kind, due in cal.slots
    ]
    return sorted(out, key=lambda s: (s.send_at, s.key))
