""" "Remind these now": staff chase the missing schools of a district with one tap.

The reminders are bulk messages, so they go through the outbox (principle 3): one
delivery row per recipient under a purpose key naming the round, the district and the
moment of the tap. Nobody is reminded twice within ten minutes, counted from their last
"remind now" of that round (a window on the clock let taps at 09:59 and 10:01 both send):
a double tap, or two officers tapping at once, queues each reminder once; a tap an hour
later reminds again. Taps of one round are taken one after the other (the round's row
is written first), so two at the same moment cannot both find nobody reminded.

The caller commits, then wakes the delivery worker (Services.wake_outbox), which
sends the rows through the rate limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import audit
from models.followup.completeness import SchoolStatus
from models.outbox import Delivery, Outgoing, OutMessage, enqueue
from models.roster.phones import Callee
from models.roster.tables import Person
from models.rounds import Round

PRESS_WINDOW_MINUTES = 10


@dataclass(frozen=True)
class RemindResult:
    schools: int
    recipients: int
    """People a reminder was queued for now (0 when an earlier tap already did)."""
    unreachable: int
    """Contacts skipped because Telegram says they blocked the bot."""
    purpose: str
    reminded: tuple[str, ...] = ()
    """The schools (names) where at least one person was reminded by this tap."""
    already: tuple[str, ...] = ()
    """The schools whose reachable people were all reminded minutes ago: not again."""
    nobody: tuple[Callee, ...] = ()
    """The schools where nobody can be reminded (nobody connected, or all blocked the
    bot), with their numbers: the ones staff must phone."""


@dataclass(frozen=True)
class RemindPlan:
    """What a tap would do, shown before staff confirm it."""

    schools: int
    people: int
    """Reachable principals and deputies of those schools."""
    nobody: tuple[Callee, ...]
    """The schools where nobody can be reminded, with their numbers."""


def _reachable(school: SchoolStatus) -> list[int]:
    return [c.person_id for c in school.contacts if c.reachable]


def plan_of(schools: Sequence[SchoolStatus]) -> RemindPlan:
    """Who a tap on these schools would reach (before the ten-minute window is applied:
    the confirmation says what staff ask for, the result what was done)."""
    return RemindPlan(
        schools=len(schools),
        people=sum(len(_reachable(s)) for s in schools),
        nobody=tuple(Callee(s.name, s.phones()) for s in schools if not _reachable(s)),
    )


PREFIX = "remind-now"
_STAMP = "%Y%m%dT%H%M%S"
# Keys written before the window was measured from the last reminder ended in minutes.
_OLD_STAMP = "%Y%m%dT%H%M"


def purpose_key(round_id: int, district_id: int | None, now: datetime) -> str:
    where = "all" if district_id is None else str(district_id)
    return f"{PREFIX}:{round_id}:{where}:{now.astimezone(UTC):{_STAMP}}"


def _stamp(purpose: str) -> datetime | None:
    """When the tap that queued under this key was made (UTC)."""
    text = purpose.rsplit(":", 1)[-1]
    for layout in (_STAMP, _OLD_STAMP):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


async def recently_reminded(session: AsyncSession, round_id: int, now: datetime) -> set[int]:
    """The chats that got a "remind now" of this round less than PRESS_WINDOW_MINUTES
    before `now`, whichever district it was pressed for."""
    since = now - timedelta(minutes=PRESS_WINDOW_MINUTES)
    purposes = await session.scalars(
        select(Delivery.purpose)
        .where(Delivery.purpose.like(f"{PREFIX}:{round_id}:%"))
        .distinct()
    )
    recent = [p for p in purposes if (t := _stamp(p)) is not None and t > since]
    if not recent:
        return set()
    chats = await session.scalars(select(Delivery.chat_id).where(Delivery.purpose.in_(recent)))
    return set(chats)


async def remind_now(
    session: AsyncSession,
    rnd: Round,
    district_id: int | None,
    schools: Sequence[SchoolStatus],
    requested_by: Person,
    now: datetime,
    message_for: Callable[[Person], OutMessage],
) -> RemindResult:
    """Queue a reminder for every reachable principal and deputy of these schools, each
    as `message_for` words it for them (their language, their school's report)."""
    purpose = purpose_key(rnd.id, district_id, now)
    # One tap of this round at a time: the no-op write takes the round's row lock on
    # PostgreSQL and the writer's turn on SQLite before the look-up below.
    await session.execute(
        update(Round)
        .where(Round.id == rnd.id)
        .values(status=Round.status)
        .execution_options(synchronize_session=False)
    )
    reminded = await recently_reminded(session, rnd.id, now)
    reachable = [c.person_id for s in schools for c in s.contacts if c.reachable]
    unreachable = sum(1 for s in schools for c in s.contacts if not c.reachable)
    people = (
        list(await session.scalars(select(Person).where(Person.id.in_(reachable))))
        if reachable
        else []
    )
    recipients = [(p, message_for(p)) for p in people if p.telegram_id not in reminded]
    queued = await _enqueue(session, purpose, recipients)
    now_told = {p.id for p, _message in recipients}
    audit.record(
        session,
        "remind_now",
        actor_id=requested_by.id,
        target_type="round",
        target_id=rnd.id,
        district_id=district_id,
        schools=len(schools),
        queued=queued,
    )
    return RemindResult(
        len(schools),
        queued,
        unreachable,
        purpose,
        reminded=tuple(s.name for s in schools if now_told & set(_reachable(s))),
        already=tuple(
            s.name for s in schools if _reachable(s) and not now_told & set(_reachable(s))
        ),
        nobody=plan_of(schools).nobody,
    )


async def _enqueue(
    session: AsyncSession, purpose: str, recipients: Sequence[tuple[Person, OutMessage]]
) -> int:
    """One delivery per person under `purpose`; returns how many were new."""
    items = [
        Outgoing(chat_id=person.telegram_id, person_id=person.id, messages=(message,))
        for person, message in recipients
    ]
    return await enqueue(session, purpose, items)
