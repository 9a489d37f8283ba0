"""Acknowledgements, and what staff and principals see of a notice's progress."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.notices.tables import Notice, NoticeRecipient
from models.outbox import Delivery, Status
from models.roster.tables import District, Person, School


class AckOutcome(enum.Enum):
    RECORDED = "recorded"
    ALREADY = "already"
    NOT_RECIPIENT = "not_recipient"
    NOT_REQUIRED = "not_required"


async def acknowledge(
    session: AsyncSession, notice_id: int, person_id: int, now: datetime
) -> tuple[AckOutcome, NoticeRecipient | None, Notice | None]:
    """The first press records the time; later presses change nothing."""
    notice = await session.get(Notice, notice_id)
    recipient = await session.get(NoticeRecipient, (notice_id, person_id))
    if notice is None or recipient is None:
        return AckOutcome.NOT_RECIPIENT, None, notice
    if not notice.requires_ack:
        return AckOutcome.NOT_REQUIRED, recipient, notice
    if recipient.acknowledged_at is not None:
        return AckOutcome.ALREADY, recipient, notice
    # Conditional, so two presses racing each other still record only the first time.
    result = await session.execute(
        update(NoticeRecipient)
        .where(
            NoticeRecipient.notice_id == notice_id,
            NoticeRecipient.person_id == person_id,
            NoticeRecipient.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=now)
    )
    await session.refresh(recipient)
    if not getattr(result, "rowcount", 0):
        return AckOutcome.ALREADY, recipient, notice
    return AckOutcome.RECORDED, recipient, notice


# --- what staff and principals see -------------------------------------------------------


@dataclass(frozen=True)
class RecipientState:
    person: Person
    school: School | None
    district: District | None
    delivery_status: str | None
    message_id: int | None
    acknowledged_at: datetime | None


async def recipient_states(session: AsyncSession, notice: Notice) -> list[RecipientState]:
    rows = (
        await session.execute(
            select(NoticeRecipient, Person, School, District, Delivery.status,
                   Delivery.telegram_message_id)
            .join(Person, Person.id == NoticeRecipient.person_id)
            .outerjoin(School, School.id == NoticeRecipient.school_id)
            .outerjoin(District, District.id == NoticeRecipient.district_id)
            .outerjoin(
                Delivery,
                and_(
                    Delivery.purpose == notice.purpose,
                    Delivery.person_id == NoticeRecipient.person_id,
                ),
            )
            .where(NoticeRecipient.notice_id == notice.id)
            .order_by(District.name, School.code, Person.name)
        )
    ).all()
    return [
        RecipientState(person, school, district, status, message_id, rec.acknowledged_at)
        for rec, person, school, district, status, message_id in rows
    ]


@dataclass
class DistrictCount:
    name: str
    acknowledged: int = 0
    total: int = 0


@dataclass
class NoticeStats:
    # The recipients, and who of them acknowledged...
    total: int = 0
    acknowledged: int = 0
    by_district: list[DistrictCount] = field(default_factory=list)
    not_acknowledged: list[RecipientState] = field(default_factory=list)
    # ...and where their deliveries stand.
    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    waiting: int = 0
    # Recipients whose message may have arrived twice (models/outbox/, Delivery.in_doubt).
    in_doubt: int = 0


async def notice_stats(session: AsyncSession, notice: Notice) -> NoticeStats:
    stats = NoticeStats()
    districts_seen: dict[str, DistrictCount] = {}
    for state in await recipient_states(session, notice):
        stats.total += 1
        if state.delivery_status == Status.SENT.value:
            stats.delivered += 1
        elif state.delivery_status == Status.BLOCKED.value:
            stats.blocked += 1
        elif state.delivery_status == Status.FAILED.value:
            stats.failed += 1
        else:
            stats.waiting += 1
        name = state.district.name if state.district else "—"
        count = districts_seen.setdefault(name, DistrictCount(name))
        count.total += 1
        if state.acknowledged_at is not None:
            stats.acknowledged += 1
            count.acknowledged += 1
        else:
            stats.not_acknowledged.append(state)
    stats.by_district = list(districts_seen.values())
    stats.in_doubt = (
        await session.execute(
            select(func.count()).where(
                Delivery.purpose == notice.purpose, Delivery.in_doubt > 0
            )
        )
    ).scalar_one()
    return stats


async def reminder_targets(session: AsyncSession, notice: Notice) -> list[RecipientState]:
    """Recipients who got the notice and have not acknowledged it."""
    return [
        s
        for s in await recipient_states(session, notice)
        if s.acknowledged_at is None and s.delivery_status == Status.SENT.value
    ]


async def recent_notices(session: AsyncSession, limit: int = 10) -> list[Notice]:
    return list(
        (
            await session.execute(select(Notice).order_by(Notice.id.desc()).limit(limit))
        ).scalars()
    )


async def ack_counts(
    session: AsyncSession, notice_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """notice id -> (acknowledged, recipients)."""
    if not notice_ids:
        return {}
    rows = (
        await session.execute(
            select(
                NoticeRecipient.notice_id,
                func.count(NoticeRecipient.acknowledged_at),
                func.count(),
            )
            .where(NoticeRecipient.notice_id.in_(notice_ids))
            .group_by(NoticeRecipient.notice_id)
        )
    ).all()
    return {notice_id: (int(acked), int(total)) for notice_id, acked, total in rows}


async def notices_for(
    session: AsyncSession, person_id: int, now: datetime, limit: int = 10
) -> list[tuple[Notice, NoticeRecipient]]:
    """A principal's recent notices that have gone out (not those still scheduled)."""
    rows = (
        await session.execute(
            select(Notice, NoticeRecipient)
            .join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
            .where(NoticeRecipient.person_id == person_id, Notice.sent_at <= now)
            .order_by(Notice.sent_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    ).all()
    return [(notice, recipient) for notice, recipient in rows]


async def pending_auto_reminders(session: AsyncSession) -> list[Notice]:
    return list(
        (
            await session.execute(
                select(Notice)
                .where(
                    Notice.requires_ack.is_(True),
                    Notice.auto_reminder_due.is_not(None),
                    Notice.auto_reminded_at.is_(None),
                )
                .order_by(Notice.id)
            )
        ).scalars()
    )
