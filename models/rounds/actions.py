"""What staff do to a collection round, from the chat (/round) or the shell (`huibao
rounds`): open, extend, close, unlock one school, send again what did not arrive.

Each action runs in the caller's transaction and returns what it did, or a `Refused`
saying why not (texts/rounds.py words it for the chat and for the shell). Who is told is
decided by models/rounds/announce.py; the words come in as a message builder.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.forms import FormDef
from models.outbox import Requeued, purpose_of_round, requeue_failed
from models.review import rules as review_rules
from models.roster.tables import School
from models.rounds import Round, RoundStatus, lifecycle
from models.rounds.announce import (
    BatchOwner,
    MessageFor,
    Told,
    announce_round,
    tell_closing,
    tell_extension,
)
from models.rounds.errors import DuplicateRound, RoundError
from models.rounds.lifecycle import close_round, expected_school_ids, extend_round, unlock_school
from models.rounds.locks import accepting


class Refusal(enum.Enum):
    NO_ROUND = "no_round"
    NO_SCHOOL = "no_school"
    ALREADY_CLOSED = "already_closed"
    NOT_EXPECTED = "not_expected"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    """Any other reason of the core (models.rounds.errors.RoundError), in `detail`."""


@dataclass(frozen=True)
class Refused:
    why: Refusal
    detail: str = ""
    """The core's own words (English, for the shell and the logs)."""
    round_id: int | None = None
    """NO_ROUND: the round asked for; DUPLICATE: the round that collects it already."""
    school: str = ""
    """NO_SCHOOL: what was typed; NOT_EXPECTED: the school's name."""


def _refused(err: RoundError) -> Refused:
    if isinstance(err, DuplicateRound):
        return Refused(Refusal.DUPLICATE, str(err), round_id=err.round_id)
    return Refused(Refusal.INVALID, str(err))


async def find_round(session: AsyncSession, round_id: int) -> Round | Refused:
    round_ = await session.get(Round, round_id)
    return Refused(Refusal.NO_ROUND, round_id=round_id) if round_ is None else round_


async def find_school(session: AsyncSession, text: str, *, by_name: bool) -> School | Refused:
    """The school with this code (or, typed in chat, this name)."""
    which = School.code == text
    if by_name:
        which = which | (School.name == text)
    school = (await session.execute(select(School).where(which))).scalars().first()
    return Refused(Refusal.NO_SCHOOL, school=text) if school is None else school


# --- open ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRequest:
    form: FormDef
    period: str
    deadline: datetime
    grace_minutes: int
    lock_at: datetime | None = None
    districts: Collection[int | str] | None = None
    stages: Collection[str] | None = None
    school_codes: Collection[str] | None = None
    created_by: int | None = None
    review: bool = False
    """District review: each submission waits for the district officers (models/review)."""

    def round_arguments(self) -> dict[str, Any]:
        """lifecycle.open_round's keyword arguments: every field but `review`, which is the
        review's business, not the round's."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "review"}


@dataclass(frozen=True)
class Opened:
    round_: Round
    schools: int
    """Expected schools."""
    told: Told | None
    """None when nobody was to be told (`--no-announce`)."""


async def open_round(
    session: AsyncSession,
    request: OpenRequest,
    announcement: MessageFor | None,
    *,
    now: datetime,
    owner: BatchOwner | None = None,
) -> Opened | Refused:
    """Open the round and, with an announcement, queue it for every principal and deputy
    of the expected schools in the same transaction (the running bot sends it)."""
    try:
        round_ = await lifecycle.open_round(session, **request.round_arguments(), now=now)
    except RoundError as err:
        return _refused(err)
    if request.review:
        await review_rules.enable(session, round_.id, actor_id=request.created_by, now=now)
    schools = len(await expected_school_ids(session, round_.id))
    if announcement is None:
        return Opened(round_, schools, None)
    told = await announce_round(session, round_, announcement, owner=owner)
    return Opened(round_, schools, told)


# --- extend, close -------------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """A round extended or closed, and who of the schools that have not submitted is told
    (None: nobody learns anything new)."""

    round_: Round
    told: Told | None


async def extend(
    session: AsyncSession,
    round_id: int,
    deadline: datetime,
    notice: MessageFor,
    *,
    now: datetime,
    lock_at: datetime | None = None,
    by: int | None = None,
) -> Changed | Refused:
    round_ = await find_round(session, round_id)
    if isinstance(round_, Refused):
        return round_
    try:
        await extend_round(session, round_, deadline, lock_at=lock_at, by=by, now=now)
    except RoundError as err:
        return _refused(err)
    return Changed(round_, await tell_extension(session, round_, notice))


async def extend_by_days(
    session: AsyncSession, round_id: int, days: int, notice: MessageFor, *, now: datetime,
    by: int | None,
) -> Changed | Refused:
    """The deadline moves `days` later (counted from now if it has passed)."""
    round_ = await find_round(session, round_id)
    if isinstance(round_, Refused):
        return round_
    deadline = max(round_.deadline, now) + timedelta(days=days)
    return await extend(session, round_id, deadline, notice, now=now, by=by)


async def close(
    session: AsyncSession, round_id: int, notice: MessageFor, *, now: datetime, by: int | None
) -> Changed | Refused:
    round_ = await find_round(session, round_id)
    if isinstance(round_, Refused):
        return round_
    if round_.status == RoundStatus.CLOSED.value:
        return Refused(Refusal.ALREADY_CLOSED, f"round {round_.id} is already closed")
    early = accepting(round_, now)
    await close_round(session, round_, by=by, now=now)
    if not early:
        # Entry had closed at the lock already: nobody learns anything new.
        return Changed(round_, None)
    return Changed(round_, await tell_closing(session, round_, notice, now))


# --- unlock, send again ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unlocked:
    round_: Round
    school: School
    until: datetime


async def unlock(
    session: AsyncSession,
    round_: Round,
    school: School,
    *,
    now: datetime,
    hours: int,
    by: int | None,
) -> Unlocked | Refused:
    """The school may submit once more for `hours`, even after the lock."""
    try:
        row = await unlock_school(session, round_, school.id, by=by, now=now, hours=hours)
    except RoundError as err:
        return Refused(Refusal.NOT_EXPECTED, str(err), school=school.name)
    assert row.unlocked_until is not None
    return Unlocked(round_, school, row.unlocked_until)


@dataclass(frozen=True)
class Retried:
    round_: Round
    again: Requeued


async def retry(
    session: AsyncSession, round_id: int, *, now: datetime, by: int | None
) -> Retried | Refused:
    """Queue again every message about the round that did not reach its recipient (failed
    for good, or refused because they blocked the bot)."""
    round_ = await find_round(session, round_id)
    if isinstance(round_, Refused):
        return round_
    again = await requeue_failed(session, purpose_of_round(round_.id), now)
    if again.total:
        record(session, "round.retry", round_.id, actor_id=by,
               failed=again.failed, blocked=again.blocked)
    return Retried(round_, again)
