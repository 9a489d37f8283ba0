"""Recurring rounds: a schedule per form that opens each period's round by itself.

A schedule says when a form is collected: weekly on a weekday, monthly on a day, per
term on given dates, or yearly on a date (the key-teacher assessment every July). Each
occurrence has a period label (2026-W48, 2026-11, 2026-autumn, 2026), an opening time, a
deadline, a grace and a lock time, all computed here from the schedule in the bureau's
time zone. Opening an occurrence is recorded in `schedule_occurrences`, unique per
(schedule, period), so a tick that runs twice, or in two processes, opens one round.

No Telegram and no settings here: callers pass the time zone and `now`.
"""

from __future__ import annotations

import calendar
import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, inserted, utcnow
from models.rounds.inserts import claim_row
from models.rounds.periods import TERM_CODE, month_period, week_period, year_period


class ScheduleKind(enum.StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    TERM = "term"
    YEARLY = "yearly"


# The form's period type each kind of schedule naturally matches.
KIND_PERIOD_TYPE = {
    ScheduleKind.WEEKLY: "week",
    ScheduleKind.MONTHLY: "month",
    ScheduleKind.TERM: "term",
    ScheduleKind.YEARLY: "year",
}

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class OccurrenceOutcome(enum.StrEnum):
    OPENED = "opened"  # the schedule opened the round
    EXISTS = "exists"  # a round for that form and period was already open (opened by hand)
    MISSED = "missed"  # the deadline had passed before the bot could open it
    FAILED = "failed"  # open_round refused (e.g. no active school matches the audience)


class ScheduleError(ValueError):
    """A schedule cannot be made as asked; the message says why, in one line."""


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_code: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    # weekly {"weekday": 0..6}, monthly {"day": 1..31}, yearly {"month": 7, "day": 1},
    # term {"terms": [{"term": "2026-autumn", "opens": "2026-09-07", "deadline": "2026-09-30"}]}
    params: Mapped[str] = mapped_column(Text, default="{}")
    open_time: Mapped[time] = mapped_column(Time(), default=time(8, 0))
    # Days from the opening day to the deadline day (term schedules give dates instead).
    deadline_days: Mapped[int] = mapped_column(Integer, default=0)
    deadline_time: Mapped[time] = mapped_column(Time(), default=time(17, 0))
    grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # Entry closes this many days after the deadline; None: when the grace ends.
    lock_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {"districts": [ids], "stages": [codes]}; empty means every active school.
    audience: Mapped[str] = mapped_column(Text, default="{}")
    # Reminder policy overrides for the rounds it opens (see models.followup.reminders.Policy).
    policy: Mapped[str] = mapped_column(Text, default="{}")
    # No occurrence opening before this day is opened.
    starts_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)

    @property
    def parameters(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.params or "{}")
        return loaded

    @property
    def audience_filter(self) -> dict[str, list[Any]]:
        loaded: dict[str, list[Any]] = json.loads(self.audience or "{}")
        return loaded

    @property
    def policy_overrides(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.policy or "{}")
        return loaded


class ScheduleOccurrence(Base):
    """One period of a schedule, recorded once whatever became of it."""

    __tablename__ = "schedule_occurrences"
    __table_args__ = (UniqueConstraint("schedule_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"), index=True)
    period: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(10))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True)
class Occurrence:
    """One period of a schedule: when its round opens, its deadline and lock (UTC)."""

    period: str
    opens_at: datetime
    deadline: datetime
    grace_minutes: int
    lock_at: datetime | None


# --- validating parameters -------------------------------------------------------------


def _parse_date(value: object, what: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ScheduleError(f"{what} {value!r} is not a date like 2026-09-07") from None


def check_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a schedule kind, checked and normalized; ScheduleError if wrong."""
    try:
        kind_ = ScheduleKind(kind)
    except ValueError:
        raise ScheduleError(
            f"unknown schedule kind {kind!r}; use weekly, monthly, term or yearly"
        ) from None
    return _PARAM_CHECKS[kind_](params)


def _weekly_params(params: Mapping[str, Any]) -> dict[str, Any]:
    weekday = params.get("weekday")
    if isinstance(weekday, str) and weekday.lower() in WEEKDAY_NAMES:
        weekday = WEEKDAY_NAMES.index(weekday.lower())
    if not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ScheduleError("a weekly schedule needs a weekday (monday ... sunday)")
    return {"weekday": weekday}


def _monthly_params(params: Mapping[str, Any]) -> dict[str, Any]:
    day = params.get("day")
    if not isinstance(day, int) or not 1 <= day <= 31:
        raise ScheduleError("a monthly schedule needs a day of the month from 1 to 31")
    return {"day": day}


def _yearly_params(params: Mapping[str, Any]) -> dict[str, Any]:
    month, day = params.get("month"), params.get("day")
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise ScheduleError("a yearly schedule needs a month from 1 to 12")
    if not isinstance(day, int) or not 1 <= day <= calendar.monthrange(2024, month)[1]:
        raise ScheduleError(f"month {month} has no day {day}")
    return {"month": month, "day": day}


def _term_params(params: Mapping[str, Any]) -> dict[str, Any]:
    terms = params.get("terms")
    if not isinstance(terms, Sequence) or not terms:
        raise ScheduleError("a term schedule needs at least one term")
    checked = [_checked_term(entry) for entry in terms]
    codes = [t["term"] for t in checked]
    if len(set(codes)) != len(codes):
        raise ScheduleError("a term is listed twice")
    return {"terms": sorted(checked, key=lambda t: t["opens"])}


def _checked_term(entry: object) -> dict[str, str]:
    if not isinstance(entry, Mapping):
        raise ScheduleError("each term needs a code, an opening date and a deadline date")
    code = str(entry.get("term", ""))
    if not TERM_CODE.match(code):
        raise ScheduleError(f"term {code!r} must look like 2026-autumn or 2027-spring")
    opens = _parse_date(entry.get("opens"), f"term {code}: opening date")
    deadline = _parse_date(entry.get("deadline"), f"term {code}: deadline")
    if deadline < opens:
        raise ScheduleError(f"term {code}: the deadline is before the opening date")
    return {"term": code, "opens": opens.isoformat(), "deadline": deadline.isoformat()}


_PARAM_CHECKS: dict[ScheduleKind, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    ScheduleKind.WEEKLY: _weekly_params,
    ScheduleKind.MONTHLY: _monthly_params,
    ScheduleKind.YEARLY: _yearly_params,
    ScheduleKind.TERM: _term_params,
}


# --- occurrences -----------------------------------------------------------------------


def _at(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _opening_days_back(kind: ScheduleKind, params: Mapping[str, Any], today: date) -> list[date]:
    """The latest two opening days on or before `today` (newest first)."""
    if kind is ScheduleKind.WEEKLY:
        back = (today.weekday() - int(params["weekday"])) % 7
        latest = today - timedelta(days=back)
        return [latest, latest - timedelta(days=7)]
    if kind is ScheduleKind.MONTHLY:
        day = int(params["day"])
        this = _clamped(today.year, today.month, day)
        prev_month = today.replace(day=1) - timedelta(days=1)
        before = _clamped(prev_month.year, prev_month.month, day)
        if this <= today:
            return [this, before]
        earlier = before.replace(day=1) - timedelta(days=1)
        return [before, _clamped(earlier.year, earlier.month, day)]
    if kind is ScheduleKind.YEARLY:
        month, day = int(params["month"]), int(params["day"])
        this = _clamped(today.year, month, day)
        if this <= today:
            return [this, _clamped(today.year - 1, month, day)]
        return [_clamped(today.year - 1, month, day), _clamped(today.year - 2, month, day)]
    raise AssertionError(kind)


def occurrence_for(schedule: Schedule, opening_day: date, tz: tzinfo) -> Occurrence:
    """The occurrence opening on `opening_day` (weekly, monthly and yearly schedules)."""
    kind = ScheduleKind(schedule.kind)
    if kind is ScheduleKind.WEEKLY:
        period = week_period(opening_day)
    elif kind is ScheduleKind.MONTHLY:
        period = month_period(opening_day)
    elif kind is ScheduleKind.YEARLY:
        period = year_period(opening_day)
    else:
        raise ValueError("term occurrences come from their dates; use occurrences_between")
    deadline_day = opening_day + timedelta(days=schedule.deadline_days)
    return _occurrence(schedule, period, opening_day, deadline_day, tz)


def _occurrence(
    schedule: Schedule, period: str, opening_day: date, deadline_day: date, tz: tzinfo
) -> Occurrence:
    opens_at = _at(opening_day, schedule.open_time, tz)
    deadline = _at(deadline_day, schedule.deadline_time, tz)
    lock_at = None
    if schedule.lock_days is not None:
        lock_at = max(
            deadline + timedelta(days=schedule.lock_days),
            deadline + timedelta(minutes=schedule.grace_minutes),
        )
    return Occurrence(
        period=period,
        opens_at=_utc(opens_at),
        deadline=_utc(deadline),
        grace_minutes=schedule.grace_minutes,
        lock_at=_utc(lock_at) if lock_at else None,
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _term_occurrences(schedule: Schedule, tz: tzinfo) -> list[Occurrence]:
    """A term schedule's occurrences, from its dates (those from its first day on)."""
    return [
        _occurrence(
            schedule,
            t["term"],
            date.fromisoformat(t["opens"]),
            date.fromisoformat(t["deadline"]),
            tz,
        )
        for t in schedule.parameters["terms"]
        if date.fromisoformat(t["opens"]) >= schedule.starts_on
    ]


def latest_occurrence(schedule: Schedule, now: datetime, tz: tzinfo) -> Occurrence | None:
    """The newest occurrence that has opened by `now` (on or after the schedule's first
    day), or None if none has yet."""
    kind = ScheduleKind(schedule.kind)
    params = schedule.parameters
    if kind is ScheduleKind.TERM:
        opened = [o for o in _term_occurrences(schedule, tz) if o.opens_at <= now]
        return max(opened, key=lambda o: o.opens_at) if opened else None
    today = now.astimezone(tz).date()
    for day in _opening_days_back(kind, params, today):
        if day < schedule.starts_on:
            return None
        occurrence = occurrence_for(schedule, day, tz)
        if occurrence.opens_at <= now:
            return occurrence
    return None


def next_opening(schedule: Schedule, now: datetime, tz: tzinfo) -> datetime | None:
    """When the schedule next opens a round after `now` (for listings and exact jobs)."""
    kind = ScheduleKind(schedule.kind)
    params = schedule.parameters
    if kind is ScheduleKind.TERM:
        later = [o.opens_at for o in _term_occurrences(schedule, tz) if o.opens_at > now]
        return min(later) if later else None
    day = max(now.astimezone(tz).date(), schedule.starts_on)
    # Walk forward until an opening day comes (at most a year and a day).
    for _ in range(370):
        if _opens_on(kind, params, day):
            at = occurrence_for(schedule, day, tz).opens_at
            if at > now:
                return at
        day += timedelta(days=1)
    return None


def _opens_on(kind: ScheduleKind, params: Mapping[str, Any], day: date) -> bool:
    if kind is ScheduleKind.WEEKLY:
        return day.weekday() == int(params["weekday"])
    if kind is ScheduleKind.MONTHLY:
        return day == _clamped(day.year, day.month, int(params["day"]))
    return day == _clamped(day.year, int(params["month"]), int(params["day"]))


def describe(schedule: Schedule) -> str:
    """One line for listings (English; the CLI's language)."""
    params = schedule.parameters
    kind = ScheduleKind(schedule.kind)
    at = schedule.open_time.strftime("%H:%M")
    if kind is ScheduleKind.WEEKLY:
        when = f"every {WEEKDAY_NAMES[params['weekday']]} at {at}"
    elif kind is ScheduleKind.MONTHLY:
        when = f"monthly on day {params['day']} at {at}"
    elif kind is ScheduleKind.YEARLY:
        when = f"yearly on {params['month']:02d}-{params['day']:02d} at {at}"
    else:
        when = "per term: " + ", ".join(
            f"{t['term']} {t['opens']}→{t['deadline']}" for t in params["terms"]
        )
    deadline = schedule.deadline_time.strftime("%H:%M")
    if kind is not ScheduleKind.TERM:
        deadline = f"+{schedule.deadline_days} d {deadline}"
    return f"{when}; deadline {deadline}"


# --- storing schedules and their occurrences -------------------------------------------

# The deadline must come before the next opening, or two rounds of one form would overlap.
_MAX_DEADLINE_DAYS = {
    ScheduleKind.WEEKLY: 6,
    ScheduleKind.MONTHLY: 27,
    ScheduleKind.YEARLY: 364,
    ScheduleKind.TERM: 0,
}


async def add_schedule(
    session: AsyncSession,
    *,
    form_code: str,
    kind: str,
    params: Mapping[str, Any],
    open_time: time,
    deadline_days: int,
    deadline_time: time,
    grace_minutes: int = 0,
    lock_days: int | None = None,
    districts: Sequence[int] = (),
    stages: Sequence[str] = (),
    policy: Mapping[str, Any] | None = None,
    starts_on: date,
    created_by: int | None = None,
) -> Schedule:
    """Store a schedule after checking it; ScheduleError (one line) if it cannot work."""
    checked = check_params(kind, params)
    kind_ = ScheduleKind(kind)
    deadline_days = _checked_deadline_days(kind_, deadline_days, open_time, deadline_time)
    if grace_minutes < 0:
        raise ScheduleError("the grace cannot be negative")
    if lock_days is not None and lock_days < 0:
        raise ScheduleError("the lock cannot come before the deadline")
    audience = {k: v for k, v in (("districts", list(districts)), ("stages", list(stages))) if v}
    return await inserted(session, Schedule(
        form_code=form_code,
        kind=kind_.value,
        params=json.dumps(checked, sort_keys=True),
        open_time=open_time.replace(second=0, microsecond=0),
        deadline_days=deadline_days,
        deadline_time=deadline_time.replace(second=0, microsecond=0),
        grace_minutes=grace_minutes,
        lock_days=lock_days,
        audience=json.dumps(audience, ensure_ascii=False, sort_keys=True),
        policy=json.dumps(dict(policy or {}), ensure_ascii=False, sort_keys=True),
        starts_on=starts_on,
        active=True,
        created_by=created_by,
    ))


def _checked_deadline_days(
    kind: ScheduleKind, deadline_days: int, open_time: time, deadline_time: time
) -> int:
    """The days from opening to deadline to store (0 for terms, which give dates)."""
    if kind is ScheduleKind.TERM:
        return 0
    if not 0 <= deadline_days <= _MAX_DEADLINE_DAYS[kind]:
        raise ScheduleError(
            f"a {kind.value} schedule's deadline must be 0 to {_MAX_DEADLINE_DAYS[kind]} "
            f"days after it opens, before the next round opens"
        )
    if deadline_days == 0 and deadline_time <= open_time:
        raise ScheduleError("the deadline must come after the opening time")
    return deadline_days


async def active_schedules(session: AsyncSession) -> list[Schedule]:
    return list(
        (
            await session.execute(
                select(Schedule).where(Schedule.active.is_(True)).order_by(Schedule.id)
            )
        ).scalars()
    )


async def all_schedules(session: AsyncSession) -> list[Schedule]:
    return list((await session.execute(select(Schedule).order_by(Schedule.id))).scalars())


async def last_occurrences(
    session: AsyncSession, schedule_ids: Sequence[int]
) -> dict[int, ScheduleOccurrence]:
    rows = (
        await session.execute(
            select(ScheduleOccurrence)
            .where(ScheduleOccurrence.schedule_id.in_(schedule_ids))
            .order_by(ScheduleOccurrence.opens_at, ScheduleOccurrence.id)
        )
    ).scalars()
    return {row.schedule_id: row for row in rows}


async def occurrence_recorded(session: AsyncSession, schedule_id: int, period: str) -> bool:
    found = (
        await session.execute(
            select(ScheduleOccurrence.id).where(
                ScheduleOccurrence.schedule_id == schedule_id,
                ScheduleOccurrence.period == period,
            )
        )
    ).first()
    return found is not None


async def claim_occurrence(
    session: AsyncSession, schedule: Schedule, occurrence: Occurrence, now: datetime
) -> ScheduleOccurrence | None:
    """Record the occurrence as this transaction's to open; None if another has it.

    The unique (schedule, period) row is inserted first, so two ticks, in one process or
    two, never open the same period twice; the caller fills in what became of it.
    """
    found = await claim_row(
        session,
        ScheduleOccurrence,
        {
            "schedule_id": schedule.id,
            "period": occurrence.period,
            "outcome": OccurrenceOutcome.OPENED.value,
            "detail": "",
            "opens_at": occurrence.opens_at,
            "recorded_at": now,
        },
        ["schedule_id", "period"],
        ScheduleOccurrence.id,
    )
    if found is None:
        return None
    return await session.get(ScheduleOccurrence, found)
