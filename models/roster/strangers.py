"""Forgetting strangers: people rows of those who wrote to the bot but never joined.

Anyone who writes to the bot gets a `people` row on first contact (`touch_person`), so a
bot that is public on Telegram collects names and usernames of passers-by. A row is
pruned once it is certainly nobody's business: no role, no school or district, not seen
for `STRANGER_DAYS`, and referenced by nothing. "Referenced" is read from the schema
itself (every foreign key to people.id, so a table added later protects its people
without editing this file) plus the two references that are not foreign keys: the audit
log's `target_type = 'person'` entries (a principal replaced and so back to no role) and
wrong-code attempts, which are kept by Telegram id as a record of who tried codes. An
invitation offer (invite_offers) is the one reference that does not protect: an offer is
good for a day, so a stranger's offer is long stale and goes with them.

Deleting keeps ids safe to reuse: SQLite may hand a deleted row's id to the next new
person, which is harmless exactly because nothing refers to a pruned id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, and_, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

import models.all  # noqa: F401  every table, so that no foreign key to people is missed
from models.base import Base
from models.roster.invites import InviteAttempt, InviteOffer
from models.roster.tables import AuditLog, Person, Role

STRANGER_DAYS = 30


def _references(ids: Sequence[int]) -> list[Select[Any]]:
    """Which of these people something refers to: one query per kind of reference.

    One query per foreign key column that points at people.id (invite offers excepted),
    read from the schema; then the audit log's person targets and wrong-code attempts.
    """
    people: Table = Person.__table__  # type: ignore[assignment]
    offers: Table = InviteOffer.__table__  # type: ignore[assignment]
    queries: list[Select[Any]] = []
    for table in Base.metadata.sorted_tables:
        if table is offers:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is people and fk.parent.table is not people:
                queries.append(select(fk.parent).where(fk.parent.in_(ids)).distinct())
    queries.append(
        select(AuditLog.target_id)
        .where(AuditLog.target_type == "person", AuditLog.target_id.in_(ids))
        .distinct()
    )
    queries.append(
        select(Person.id).where(
            Person.id.in_(ids), exists().where(InviteAttempt.telegram_id == Person.telegram_id)
        )
    )
    return queries


async def prune_strangers(
    session: AsyncSession,
    now: datetime,
    *,
    days: int = STRANGER_DAYS,
    limit: int | None = None,
) -> int:
    """Delete strangers last seen more than `days` ago that nothing refers to (at most
    `limit` of them, oldest ids first); how many were deleted.

    Never commits. Last seen is `people.updated_at`, which touch_person keeps within a
    day of a stranger's last message (models.roster.people.SEEN_RESOLUTION). Everything is
    read first and the deletes go by id: on SQLite reads take no write lock, so
    principals' answers do not wait while the references are looked up. The deletes
    themselves are not free: the database checks every table that refers to people,
    and answers.answered_by has no index, so each deleted row costs a scan of the
    answers (about 0.1 s per million answers); callers delete in small batches.
    """
    cutoff = now - timedelta(days=days)
    still_a_stranger = and_(
        Person.role == Role.NONE.value,
        Person.school_id.is_(None),
        Person.district_id.is_(None),
        Person.updated_at < cutoff,
    )
    doomed = set((await session.execute(select(Person.id).where(still_a_stranger))).scalars())
    for chunk in _chunks(sorted(doomed)):
        for query in _references(chunk):
            doomed -= set((await session.execute(query)).scalars())
    removed = 0
    for chunk in _chunks(sorted(doomed)[:limit]):
        # Their offers first (a foreign key); an offer lasts a day, so these are stale.
        await session.execute(delete(InviteOffer).where(InviteOffer.person_id.in_(chunk)))
        # Checked again, so that someone who wrote in the meantime stays.
        result = await session.execute(
            delete(Person)
            .where(Person.id.in_(chunk), still_a_stranger)
            .execution_options(synchronize_session=False)
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
