"""How a batch of deliveries is going, and whom it did not reach."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox.tables import Delivery, DeliveryBatch, Status
from models.roster.tables import Person, School


@dataclass
class Progress:
    counts: dict[str, int] = field(default_factory=dict)
    in_doubt: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        return self.counts.get(Status.SENT.value, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(Status.FAILED.value, 0)

    @property
    def blocked(self) -> int:
        return self.counts.get(Status.BLOCKED.value, 0)

    @property
    def left(self) -> int:
        return self.total - self.sent - self.failed - self.blocked

    @property
    def done(self) -> bool:
        return self.total > 0 and self.left == 0


async def progress(session: AsyncSession, batch_id: int) -> Progress:
    rows = (
        await session.execute(
            select(
                Delivery.status,
                func.count(),
                func.sum(case((Delivery.in_doubt > 0, 1), else_=0)),
            )
            .where(Delivery.batch_id == batch_id)
            .group_by(Delivery.status)
        )
    ).all()
    result = Progress()
    for status, count, doubtful in rows:
        result.counts[status] = int(count)
        result.in_doubt += int(doubtful or 0)
    return result


class Cause(enum.StrEnum):
    """Why a delivery did not arrive, in terms of what staff can do about it."""

    BLOCKED = "blocked"  # they blocked the bot: they must open it and press Start again
    NO_CHAT = "no_chat"  # Telegram knows no such chat (account gone, never started): re-invite
    NETWORK = "network"  # Telegram unreachable or failing until the bot gave up: send again
    REFUSED = "refused"  # Telegram refused the message itself: the log has the details


# Telegram's words (in the stored error, after the exception's name) for a chat it cannot
# deliver to at all, whatever the exception.
_NO_CHAT_WORDS = ("chat not found", "user not found", "peer_id_invalid", "deactivated",
                  "can't initiate conversation", "bot can't send messages to the user")
# The error names of a try that never got Telegram's answer, or got a 5xx
# (scheduler/delivery_send.py stores "<name>: <message>").
_NETWORK_NAMES = ("NetworkError", "TimedOut", "RetryAfter", "ClientError", "TimeoutError",
                  "OSError", "ConnectionError")


def cause_of(status: str, error: str) -> Cause:
    """The cause of a failed or blocked delivery, read from its status and stored error."""
    lowered = error.lower()
    if any(words in lowered for words in _NO_CHAT_WORDS):
        return Cause.NO_CHAT
    if status == Status.BLOCKED.value:
        return Cause.BLOCKED
    # Only temporary errors are retried until the bot gives up (scheduler/delivery.py).
    if "(gave up after" in error or error.split(":", 1)[0].strip() in _NETWORK_NAMES:
        return Cause.NETWORK
    return Cause.REFUSED


@dataclass(frozen=True)
class Undelivered:
    """A recipient a batch did not reach, for the sender's final report."""

    person_id: int | None
    name: str
    school: str | None
    status: str
    # Telegram's own words: for the log and `--verbose`, never shown in chat.
    error: str
    attempts: int = 0

    @property
    def cause(self) -> Cause:
        return cause_of(self.status, self.error)


async def undelivered(session: AsyncSession, batch_id: int) -> list[Undelivered]:
    rows = (
        await session.execute(
            select(Delivery, Person, School)
            .outerjoin(Person, Person.id == Delivery.person_id)
            .outerjoin(School, School.id == Person.school_id)
            .where(
                Delivery.batch_id == batch_id,
                Delivery.status.in_([Status.FAILED.value, Status.BLOCKED.value]),
            )
            .order_by(School.code, Person.name, Delivery.id)
        )
    ).all()
    return [
        Undelivered(
            person_id=delivery.person_id,
            name=person.name if person is not None else str(delivery.chat_id),
            school=school.name if school is not None else None,
            status=delivery.status,
            error=delivery.last_error,
            attempts=delivery.attempts,
        )
        for delivery, person, school in rows
    ]


async def open_batches(session: AsyncSession) -> list[DeliveryBatch]:
    return list(
        (
            await session.execute(
                select(DeliveryBatch)
                .where(DeliveryBatch.completed_at.is_(None))
                .order_by(DeliveryBatch.id)
            )
        ).scalars().all()
    )


async def backlog(session: AsyncSession, now: datetime) -> tuple[int, float]:
    """How many deliveries wait to be sent, and how long the oldest has waited (seconds):
    for `huibao doctor` and /metrics."""
    waiting = (Status.PENDING.value, Status.CLAIMED.value, Status.SENDING.value)
    count, oldest = (await session.execute(
        select(func.count(Delivery.id), func.min(Delivery.created_at))
        .where(Delivery.status.in_(waiting))
    )).one()
    if not count or oldest is None:
        return 0, 0.0
    oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
    return int(count), max(0.0, (now - oldest_at).total_seconds())
