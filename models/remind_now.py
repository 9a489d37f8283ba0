""" "Remind these now": staff chase the missing schools of a district with one tap.

The reminders are bulk messages, so they go through the outbox (principle 3): one
delivery row per recipient under a purpose key. The key names the round, the district
and a ten-minute press window, so a double tap, or two officers tapping at once,
queues each reminder once; a tap an hour later reminds again.

The caller commits, then wakes the delivery worker (handlers.delivery.wake), which
sends the rows through the rate limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import audit
from models.completeness import SchoolStatus
from models.outbox import Button, Outgoing, OutMessage, enqueue
from models.people import Person
from models.rounds import Round

PRESS_WINDOW_MINUTES = 10


@dataclass(frozen=True)
class Reminder:
    """The reminder in one language: its text (Telegram HTML) and the button that
    opens the report (callback data `start_callback`)."""

    text: str
    button: str
    start_callback: str


@dataclass(frozen=True)
class RemindResult:
    schools: int
    recipients: int
    """People a reminder was queued for now (0 when an earlier tap already did)."""
    unreachable: int
    """Contacts skipped because Telegram says they blocked the bot."""
    purpose: str


def purpose_key(round_id: int, district_id: int | None, now: datetime) -> str:
    window = now.replace(second=0, microsecond=0)
    window = window.replace(minute=window.minute - window.minute % PRESS_WINDOW_MINUTES)
    where = "all" if district_id is None else str(district_id)
    return f"remind-now:{round_id}:{where}:{window:%Y%m%dT%H%M}"


async def remind_now(
    session: AsyncSession,
    rnd: Round,
    district_id: int | None,
    schools: Sequence[SchoolStatus],
    requested_by: Person,
    now: datetime,
    reminders: Mapping[str, Reminder],
    language_of: Callable[[Person], str],
) -> RemindResult:
    """Queue a reminder for every reachable principal and deputy of these schools, each
    in their own language (reminders: language → Reminder)."""
    purpose = purpose_key(rnd.id, district_id, now)
    reachable = [c.person_id for s in schools for c in s.contacts if c.reachable]
    unreachable = sum(1 for s in schools for c in s.contacts if not c.reachable)
    people = (
        list(await session.scalars(select(Person).where(Person.id.in_(reachable))))
        if reachable
        else []
    )
    fallback = next(iter(reminders.values()))
    recipients = [(p, reminders.get(language_of(p), fallback)) for p in people]
    queued = await _enqueue(session, purpose, recipients)
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
    return RemindResult(len(schools), queued, unreachable, purpose)


async def _enqueue(
    session: AsyncSession, purpose: str, recipients: Sequence[tuple[Person, Reminder]]
) -> int:
    """One delivery per person under `purpose`; returns how many were new."""
    items = [
        Outgoing(
            chat_id=person.telegram_id,
            person_id=person.id,
            messages=(
                OutMessage(
                    text=r.text,
                    keyboard=((Button(r.button, callback_data=r.start_callback),),),
                ),
            ),
        )
        for person, r in recipients
    ]
    return await enqueue(session, purpose, items)
