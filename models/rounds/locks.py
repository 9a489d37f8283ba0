"""When entry to a round closes, and whether a school may still change its report.

A round takes answers until its lock: round.lock_at if set, else the deadline plus the
grace (submissions within the grace count as on time); a round staff closed before that
locked when they closed it. Past its lock a round is "entry closed" by itself; staff may
unlock one school for a while (RoundSchool.unlocked_until), which lasts until its next
submission.

    lock_time(round) -> datetime
    accepting(round, now) -> bool; entry_state(round, now) -> EntryState
        Open for entry (not closed by staff, lock not reached): what "open" (🟢) means
        in every list.
    is_locked(round, round_school, now) -> bool
        True once the round is closed or past its lock time, unless staff unlocked
        the school and the unlock is still valid.
    revisable_until(round, unlock, now) / unlocked_end(round, unlock, now)
        Until when the school may still submit or revise, and whether that is thanks
        to a staff unlock.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Protocol

from models.rounds.tables import RoundStatus

# How long after its lock a round stays in the schools' /report lists (🔒), while staff
# might still unlock a school; a round staff closed leaves them at once.
LOCKED_LISTED = timedelta(days=7)


class RoundTimes(Protocol):
    """What the lock rules read of a round (a Round, or a row of a lean query)."""

    @property
    def deadline(self) -> datetime: ...
    @property
    def grace_minutes(self) -> int: ...
    @property
    def lock_at(self) -> datetime | None: ...
    @property
    def status(self) -> str: ...


class Unlock(Protocol):
    @property
    def unlocked_until(self) -> datetime | None: ...


class EntryState(enum.StrEnum):
    OPEN = "open"  # accepting submissions
    ENTRY_CLOSED = "entry_closed"  # the lock time passed (staff may still unlock a school)
    CLOSED = "closed"  # closed by staff


def grace_end(round_: RoundTimes) -> datetime:
    """Submissions up to this time are on time."""
    return round_.deadline + timedelta(minutes=round_.grace_minutes)


def lock_time(round_: RoundTimes) -> datetime:
    """When entry closes: the lock time (or the end of the grace); for a round staff
    closed before that, when they closed it."""
    planned = round_.lock_at if round_.lock_at is not None else grace_end(round_)
    closed_at: datetime | None = getattr(round_, "closed_at", None)
    if round_.status == RoundStatus.CLOSED.value and closed_at is not None:
        return min(planned, closed_at)
    return planned


def accepting(round_: RoundTimes, now: datetime) -> bool:
    """Entry is open for every expected school: not closed by staff, lock not reached.
    This is what "open" means wherever a round is listed (🟢)."""
    return round_.status == RoundStatus.OPEN.value and now < lock_time(round_)


def entry_state(round_: RoundTimes, now: datetime) -> EntryState:
    if round_.status == RoundStatus.CLOSED.value:
        return EntryState.CLOSED
    return EntryState.OPEN if now < lock_time(round_) else EntryState.ENTRY_CLOSED


def is_unlocked(round_school: Unlock | None, now: datetime) -> bool:
    return (
        round_school is not None
        and round_school.unlocked_until is not None
        and now < round_school.unlocked_until
    )


def is_locked(round_: RoundTimes, round_school: Unlock | None, now: datetime) -> bool:
    closed = round_.status == RoundStatus.CLOSED.value or now >= lock_time(round_)
    return closed and not is_unlocked(round_school, now)


def revisable_until(
    round_: RoundTimes, unlock: Unlock | None, now: datetime
) -> datetime | None:
    """Until when the school may still submit or revise: the round's lock while the round
    is open and the lock is ahead, or the end of a staff unlock, whichever is later;
    None when neither holds (the report is closed to the school)."""
    ends: list[datetime] = []
    lock = lock_time(round_)
    if round_.status == RoundStatus.OPEN.value and now < lock:
        ends.append(lock)
    if unlock is not None and unlock.unlocked_until is not None and is_unlocked(unlock, now):
        ends.append(unlock.unlocked_until)
    return max(ends) if ends else None


def unlocked_end(round_: RoundTimes, unlock: Unlock | None, now: datetime) -> datetime | None:
    """The end of a staff unlock that is what lets the school answer now (None if the
    school is not unlocked, or the round's own lock is later anyway)."""
    until = revisable_until(round_, unlock, now)
    if until is None or unlock is None or until != unlock.unlocked_until:
        return None
    return until
