"""Putting deliveries in the outbox: one row per recipient and purpose, at most once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import inserted, utcnow
from models.outbox.messages import Outgoing
from models.outbox.tables import PURPOSE_LENGTH, DeliveryBatch, Status, deliveries_table

ENQUEUE_CHUNK = 500
_QUEUED = "huibao_queued_deliveries"


def queued_in(session: AsyncSession) -> bool:
    """Did this session enqueue a delivery? A caller that wakes the delivery worker after
    its commit asks first: a wake costs the worker a claim query (two or three round
    trips), which every report step paid although hardly any step queues a message."""
    return bool(session.info.get(_QUEUED))


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def enqueue(
    session: AsyncSession,
    purpose: str,
    recipients_payloads: Iterable[Outgoing],
    *,
    batch_id: int | None = None,
    not_before: datetime | None = None,
) -> int:
    """Add a delivery per recipient; returns how many were new.

    Insert-or-ignore on (purpose, chat_id): enqueueing the same purpose again, after a crash
    or a double click, adds nothing for the recipients it already has.
    """
    if len(purpose) > PURPOSE_LENGTH:
        raise ValueError(f"purpose longer than {PURPOSE_LENGTH} characters: {purpose!r}")
    now = utcnow()
    rows = [
        {
            "purpose": purpose,
            "chat_id": item.chat_id,
            "person_id": item.person_id,
            "batch_id": batch_id,
            "payload": item.payload(),
            "status": Status.PENDING.value,
            "attempts": 0,
            "parts_sent": 0,
            "in_doubt": 0,
            "next_attempt_at": not_before or now,
            "last_error": "",
            "created_at": now,
        }
        for item in recipients_payloads
        if item.messages
    ]
    if not rows:
        return 0
    session.info[_QUEUED] = True
    table = deliveries_table()
    insert = sqlite_insert if dialect_of(session) == "sqlite" else pg_insert
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["purpose", "chat_id"])
        .returning(table.c.id)
    )
    added = 0
    for start in range(0, len(rows), ENQUEUE_CHUNK):
        result = await session.execute(statement, rows[start : start + ENQUEUE_CHUNK])
        added += len(result.all())
    return added


async def create_batch(
    session: AsyncSession,
    kind: str,
    *,
    ref_id: int | None = None,
    title: str = "",
    owner_id: int | None = None,
    language: str = "zh_CN",
    details_callback: str | None = None,
) -> DeliveryBatch:
    return await inserted(session, DeliveryBatch(
        kind=kind,
        ref_id=ref_id,
        title=title[:300],
        owner_id=owner_id,
        language=language,
        details_callback=details_callback,
    ))
