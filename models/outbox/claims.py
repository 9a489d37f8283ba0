"""The delivery worker's side of the outbox: claim due rows, record each outcome."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    TextClause,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import UTCDateTime
from models.outbox.enqueue import dialect_of
from models.outbox.tables import ERROR_LENGTH, HELD, Delivery, Status
from models.roster.tables import Person


def _due(now: datetime) -> Any:
    return or_(
        and_(Delivery.status == Status.PENDING.value, Delivery.next_attempt_at <= now),
        # A worker that died (or lost its database) leaves its rows held: take them over.
        and_(Delivery.status.in_(HELD), Delivery.lease_until < now),
    )


async def claim(
    session: AsyncSession,
    limit: int,
    now: datetime,
    *,
    token: str,
    lease_seconds: float,
) -> list[Delivery]:
    """Take up to `limit` due deliveries for this worker, oldest due first.

    PostgreSQL: one UPDATE ... RETURNING over a SELECT ... FOR UPDATE SKIP LOCKED (one
    round trip), so concurrent workers never take the same row and never wait for each
    other. SQLite (one writer at a
    time): the same SELECT, then an UPDATE ... RETURNING that re-checks each row is still
    due, which is atomic. Rows found `sending` after their lease expired were in flight when
    a worker died; they count in `in_doubt`, are flagged `resumed_in_doubt`, and are sent
    again.
    """
    order = (Delivery.next_attempt_at, Delivery.id)
    if dialect_of(session) == "postgresql":
        return await _claim_postgresql(
            session, limit, now, token=token, lease_seconds=lease_seconds
        )
    candidates = select(Delivery.id, Delivery.status).where(_due(now)).order_by(*order).limit(limit)
    found = (await session.execute(candidates)).all()
    if not found:
        # Nothing due: no UPDATE, so an idle worker takes no write lock on SQLite.
        return []
    doubtful = {row_id for row_id, status in found if status == Status.SENDING.value}
    # On SQLite the rows are not locked between the SELECT and the UPDATE, so the UPDATE
    # checks again that each is still due: a row another process took meanwhile is skipped.
    chosen = and_(Delivery.id.in_([row_id for row_id, _status in found]), _due(now))
    statement = (
        update(Delivery)
        .where(chosen)
        .values(**_claimed(now, token, lease_seconds))
        .returning(Delivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list((await session.execute(statement)).scalars().all())
    for row in rows:
        row.resumed_in_doubt = row.id in doubtful
    rows.sort(key=lambda row: (row.next_attempt_at, row.id))
    return rows


def _claimed(now: datetime, token: str, lease_seconds: float) -> dict[str, Any]:
    return {
        "status": Status.CLAIMED.value,
        "claim_token": token,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "in_doubt": Delivery.in_doubt
        + case((Delivery.status == Status.SENDING.value, 1), else_=0),
    }


async def _claim_postgresql(
    session: AsyncSession, limit: int, now: datetime, *, token: str, lease_seconds: float
) -> list[Delivery]:
    """One statement, one round trip: the due rows locked with SKIP LOCKED in a CTE, updated
    from it, returned with the status each had before (`sending`: resumed in doubt)."""
    order = (Delivery.next_attempt_at, Delivery.id)
    due = (
        select(Delivery.id, Delivery.status)
        .where(_due(now))
        .order_by(*order)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(Delivery)
        .where(Delivery.id == due.c.id)
        .values(**_claimed(now, token, lease_seconds))
        .returning(Delivery, due.c.status)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows: list[Delivery] = []
    for row, before in (await session.execute(statement)).all():
        row.resumed_in_doubt = before == Status.SENDING.value
        rows.append(row)
    rows.sort(key=lambda row: (row.next_attempt_at, row.id))
    return rows


def _held_by(delivery_id: int, token: str) -> Any:
    return and_(Delivery.id == delivery_id, Delivery.claim_token == token)


async def mark_sending(session: AsyncSession, delivery_id: int, token: str) -> bool:
    """Record that the next part is about to be handed to Telegram; False if no longer ours."""
    return delivery_id in await mark_sending_many(session, [(delivery_id, token)])


async def mark_sending_many(session: AsyncSession, held: Sequence[tuple[int, str]]) -> set[int]:
    """mark_sending for several rows in one statement; returns the ids still ours."""
    if not held:
        return set()
    rows = [(delivery_id, token, 0, 0) for delivery_id, token in held]
    return await _update_each(session, rows, _SENDING, None)


async def _update_each(
    session: AsyncSession,
    rows: Sequence[tuple[int, str, int, int]],
    change: tuple[str, str],
    now: datetime | None,
) -> set[int]:
    """Run an UPDATE (`change`: what it sets, and what else each row must be) on every
    (id, token, parts, message id) row still held with its token; returns the ids updated.

    The rows go as one parameter (a JSON array on SQLite, arrays on PostgreSQL) into a
    statement whose text never changes: built from SQLAlchemy elements, a bind parameter
    per row and a statement compiled afresh for each group of writes were the biggest
    share of the delivery writer's CPU at 1,000 sends a second."""
    if dialect_of(session) == "postgresql":
        params: dict[str, Any] = {
            "ids": [r[0] for r in rows], "tokens": [r[1] for r in rows],
            "parts": [r[2] for r in rows], "messages": [r[3] for r in rows],
        }
        source = _ROWS_POSTGRESQL
    else:
        params = {"rows": json.dumps(rows)}
        source = _ROWS_SQLITE
    if now is not None:
        params["sent_at"] = now
    result = await session.execute(_statement(change, source), params)
    return {row[0] for row in result.all()}


# Each row given, as v(i: id, t: claim token, p: parts sent, m: message id).
_ROWS_SQLITE = (
    "(SELECT json_extract(value, '$[0]') AS i, json_extract(value, '$[1]') AS t,"
    " json_extract(value, '$[2]') AS p, json_extract(value, '$[3]') AS m"
    " FROM json_each(:rows)) AS v"
)
_ROWS_POSTGRESQL = (
    "unnest(CAST(:ids AS BIGINT[]), CAST(:tokens AS VARCHAR[]), CAST(:parts AS INTEGER[]),"
    " CAST(:messages AS BIGINT[])) AS v(i, t, p, m)"
)
_HELD_SQL = ", ".join(f"'{status}'" for status in HELD)
# (what is set, what else the row must be)
_SENDING = (f"status = '{Status.SENDING.value}'", f"deliveries.status IN ({_HELD_SQL})")
_SENT = (
    f"status = '{Status.SENT.value}', parts_sent = v.p, telegram_message_id = v.m,"
    " sent_at = :sent_at, lease_until = NULL, claim_token = NULL",
    "TRUE",
)


@functools.cache
def _statement(change: tuple[str, str], source: str) -> TextClause:
    assignments, condition = change
    statement = text(
        f"UPDATE deliveries SET {assignments} FROM {source}"
        f" WHERE deliveries.id = v.i AND deliveries.claim_token = v.t AND {condition}"
        " RETURNING deliveries.id"
    )
    if ":sent_at" in assignments:
        statement = statement.bindparams(bindparam("sent_at", type_=UTCDateTime()))
    return statement


async def mark_part_sent(
    session: AsyncSession, delivery_id: int, token: str, parts_sent: int, message_id: int
) -> bool:
    """One part of a multi-message payload went out; the rest follow."""
    result = await session.execute(
        update(Delivery)
        .where(_held_by(delivery_id, token))
        .values(status=Status.CLAIMED.value, parts_sent=parts_sent, telegram_message_id=message_id)
    )
    return _rowcount(result) == 1


async def mark_sent(
    session: AsyncSession,
    delivery_id: int,
    token: str,
    *,
    parts_sent: int,
    message_id: int,
    now: datetime,
) -> bool:
    done = SentItem(delivery_id, token, parts_sent, message_id)
    return delivery_id in await mark_sent_many(session, [done], now)


@dataclass(frozen=True)
class SentItem:
    delivery_id: int
    token: str
    parts_sent: int
    message_id: int


async def mark_sent_many(
    session: AsyncSession, items: Sequence[SentItem], now: datetime
) -> set[int]:
    """mark_sent for several rows in one statement; returns the ids recorded."""
    if not items:
        return set()
    rows = [(i.delivery_id, i.token, i.parts_sent, i.message_id) for i in items]
    return await _update_each(session, rows, _SENT, now)


def _try_ended(error: str, *, count_attempt: bool, in_doubt: bool) -> dict[str, Any]:
    """The columns of a try that did not get through: counted (unless a RetryAfter), in
    doubt if the request may have reached Telegram, its error kept, the claim let go."""
    return {
        "attempts": Delivery.attempts + (1 if count_attempt else 0),
        "in_doubt": Delivery.in_doubt + (1 if in_doubt else 0),
        "last_error": error[:ERROR_LENGTH],
        "lease_until": None,
        "claim_token": None,
    }


async def reschedule(
    session: AsyncSession, delivery_id: int, token: str, *, at: datetime, error: str,
    count_attempt: bool = True, in_doubt: bool = False, failing_since: datetime | None = None,
) -> bool:
    """A transient error (or RetryAfter, which does not count): try again at `at`.

    `in_doubt`: the request may have reached Telegram (it timed out after being sent), so
    the next try may repeat it. `failing_since`: when this failure happened, kept only if
    it is the row's first (the start of its retry budget).
    """
    failing = (
        {}
        if failing_since is None
        else {
            "failing_since": func.coalesce(
                Delivery.failing_since, literal(failing_since, UTCDateTime())
            )
        }
    )
    result = await session.execute(
        update(Delivery)
        .where(_held_by(delivery_id, token))
        .values(
            status=Status.PENDING.value,
            next_attempt_at=at,
            **failing,
            **_try_ended(error, count_attempt=count_attempt, in_doubt=in_doubt),
        )
    )
    return _rowcount(result) == 1


async def mark_failed(
    session: AsyncSession, delivery_id: int, token: str, *, error: str, blocked: bool = False,
    count_attempt: bool = True, in_doubt: bool = False,
) -> bool:
    """A permanent failure. `blocked`: the person blocked the bot; they become unreachable.
    `in_doubt`: the last try may have reached Telegram all the same (see reschedule)."""
    result = await session.execute(
        update(Delivery)
        .where(_held_by(delivery_id, token))
        .values(
            status=(Status.BLOCKED if blocked else Status.FAILED).value,
            **_try_ended(error, count_attempt=count_attempt, in_doubt=in_doubt),
        )
        .returning(Delivery.person_id)
    )
    person_ids = [row[0] for row in result.all()]
    if blocked and person_ids and person_ids[0] is not None:
        await session.execute(
            update(Person).where(Person.id == person_ids[0]).values(reachable=False)
        )
    return bool(person_ids)


def _still_held(held: Sequence[tuple[int, str]]) -> tuple[ColumnElement[bool], ...]:
    """The rows named by (delivery id, claim token) pairs, if their claim is still ours."""
    ids = [delivery_id for delivery_id, _token in held]
    tokens = sorted({token for _id, token in held})
    return Delivery.id.in_(ids), Delivery.claim_token.in_(tokens)


async def renew(session: AsyncSession, held: Sequence[tuple[int, str]], until: datetime) -> int:
    """Extend the lease of rows this worker still holds (so nobody takes them over)."""
    if not held:
        return 0
    result = await session.execute(
        update(Delivery)
        .where(
            *_still_held(held),
            Delivery.status.in_(HELD),
        )
        .values(lease_until=until)
    )
    return _rowcount(result)


async def release(session: AsyncSession, held: Sequence[tuple[int, str]]) -> int:
    """Give back rows claimed but never handed to Telegram (graceful stop)."""
    if not held:
        return 0
    result = await session.execute(
        update(Delivery)
        .where(
            *_still_held(held),
            Delivery.status == Status.CLAIMED.value,
        )
        .values(status=Status.PENDING.value, lease_until=None, claim_token=None)
    )
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
