"""How a batch of deliveries is going, and whom it did not reach."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Undelivered:
    """A recipient a batch did not reach, for the sender's final report."""

    person_id: int | None
    name: str
    school: str | None
    status: str
    error: str


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
