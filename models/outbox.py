"""The outbox: every outgoing bulk message is a delivery row before anything is sent.

Notices, reminders and summaries (DESIGN principle 3) enqueue one row per recipient and
purpose; the delivery worker (scheduler/delivery.py) claims due rows, sends them through the
bot's rate limiter and records each outcome here. Nothing in this module knows Telegram: a
payload is plain JSON (texts already rendered in the recipient's language, buttons as data,
files as a Telegram file_id or an uploaded file kept in `outbox_files`).

A delivery moves through these states::

    pending --claim--> claimed --before the HTTP call--> sending --> sent | failed | blocked
       ^                  |                                  |
       +---- retry -------+----------------------------------+   (transient error, RetryAfter)

* `claimed` rows were taken by a worker but never handed to Telegram: if the worker dies
  they are simply taken again when the lease expires.
* `sending` is committed immediately before each HTTP call (after the rate limiter let it
  through), and the result right after it; the worker also notes Telegram's answer in its
  journal (scheduler/journal.py) the moment it arrives, and a restarted worker replays that
  first. A row still `sending` when its lease expires was on its way when the worker died:
  it is taken again and sent again, because a lost notice is worse than a repeated one.
  Such rows count in `in_doubt`, and so does a send that timed out or lost its connection
  after the request went out (Telegram may have taken it; it is sent again). Those are the
  only ways a recipient can get a message twice: delivery is at least once, and a crash
  repeats at most the messages in flight then (the worker keeps about rate x round trip in
  flight, at most delivery.concurrency). README, "Delivery: the outbox, speed and
  guarantees".
* Temporary errors are retried with capped back-off for delivery.retry_for after the
  row's first failure (`failing_since`); then it is `failed`, and staff may requeue it
  (requeue_failed: `huibao notices retry ID`, the notice's status screen; `huibao rounds
  retry ID`, the round's screen).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow
from models.people import Person, School


class Status(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


FINAL = frozenset({Status.SENT, Status.FAILED, Status.BLOCKED})
HELD = (Status.CLAIMED.value, Status.SENDING.value)

# Purposes are namespaced strings: "notice:42", "notice:42:remind:1",
# "reminder:round:7:school:12:slot:d-3", "batch:9:report".
PURPOSE_LENGTH = 160
ERROR_LENGTH = 500


class DeliveryBatch(Base):
    """The deliveries one action created (one notice, one reminder run): what progress and
    the final report count, and where the sender's live progress message is."""

    __tablename__ = "delivery_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What created it ("notice", "reminder", ...) and that object's id.
    kind: Mapped[str] = mapped_column(String(40))
    ref_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Shown in progress and report messages, already in the owner's language.
    title: Mapped[str] = mapped_column(String(300), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    language: Mapped[str] = mapped_column(String(10), default="zh_CN")
    # The owner's message that is edited as the batch goes out (None: nobody watches).
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_text: Mapped[str] = mapped_column(Text, default="")
    # Callback data of a "details" button on the final report, e.g. "nv:42".
    details_callback: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutboxFile(Base):
    """A file uploaded from the command line: sent from here once, then by Telegram file_id."""

    __tablename__ = "outbox_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    telegram_file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # The idempotency key: enqueueing the same purpose for the same chat twice adds nothing.
        UniqueConstraint("purpose", "chat_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id"), nullable=True, index=True
    )
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_batches.id"), nullable=True, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=Status.PENDING.value)
    # Failed tries (RetryAfter does not count); they set the back-off.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The first failure since the row was made or requeued by staff: temporary errors are
    # retried until delivery.retry_for after it (migration 0009).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Parts of a multi-message payload already sent (e.g. a file, then a long text).
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Times the message may have reached Telegram without the bot learning it (the row was
    # found `sending` after its worker died, or the request timed out or its connection
    # broke after it was sent) and was sent again: it may have arrived twice.
    in_doubt: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_error: Mapped[str] = mapped_column(String(ERROR_LENGTH), default="")
    # The id of the last message sent for this row (the one carrying the buttons).
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # Set by claim() on rows found `sending` after their worker died (not stored).
    resumed_in_doubt = False

    @property
    def messages(self) -> list[OutMessage]:
        return [OutMessage.from_json(m) for m in self.payload.get("messages", [])]


# --- payloads ----------------------------------------------------------------------------

Kind = Literal["text", "document", "photo"]


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class OutMessage:
    """One Telegram message, as plain data. `text` is the caption for documents and photos."""

    kind: Kind = "text"
    text: str = ""
    parse_mode: str | None = "HTML"
    keyboard: tuple[tuple[Button, ...], ...] = ()
    file_id: str | None = None
    file_blob_id: int | None = None
    file_name: str | None = None
    reply_to_message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.parse_mode:
            data["parse_mode"] = self.parse_mode
        if self.keyboard:
            data["keyboard"] = [
                [
                    {k: v for k, v in (("text", b.text), ("callback_data", b.callback_data),
                                        ("url", b.url)) if v is not None}
                    for b in row
                ]
                for row in self.keyboard
            ]
        for key in ("file_id", "file_blob_id", "file_name", "reply_to_message_id"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutMessage:
        keyboard = tuple(
            tuple(
                Button(b["text"], b.get("callback_data"), b.get("url")) for b in row
            )
            for row in data.get("keyboard", [])
        )
        return cls(
            kind=data.get("kind", "text"),
            text=data.get("text", ""),
            parse_mode=data.get("parse_mode"),
            keyboard=keyboard,
            file_id=data.get("file_id"),
            file_blob_id=data.get("file_blob_id"),
            file_name=data.get("file_name"),
            reply_to_message_id=data.get("reply_to_message_id"),
        )


@dataclass(frozen=True)
class Outgoing:
    """What one recipient gets for one purpose: one or more messages, sent in order."""

    chat_id: int
    person_id: int | None
    messages: tuple[OutMessage, ...]

    def payload(self) -> dict[str, Any]:
        return {"messages": [m.to_json() for m in self.messages]}


# --- enqueue -----------------------------------------------------------------------------

ENQUEUE_CHUNK = 500


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
    table = _table()
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
    batch = DeliveryBatch(
        kind=kind,
        ref_id=ref_id,
        title=title[:300],
        owner_id=owner_id,
        language=language,
        details_callback=details_callback,
    )
    session.add(batch)
    await session.flush()
    return batch


# --- the worker's side -------------------------------------------------------------------


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

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then UPDATE ... RETURNING, so concurrent
    workers never take the same row and never wait for each other. SQLite (one writer at a
    time): the same SELECT, then an UPDATE ... RETURNING that re-checks each row is still
    due, which is atomic. Rows found `sending` after their lease expired were in flight when
    a worker died; they count in `in_doubt`, are flagged `resumed_in_doubt`, and are sent
    again.
    """
    order = (Delivery.next_attempt_at, Delivery.id)
    candidates = (
        select(Delivery.id, Delivery.status).where(_due(now)).order_by(*order).limit(limit)
    )
    if dialect_of(session) == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
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
        .values(
            status=Status.CLAIMED.value,
            claim_token=token,
            lease_until=now + timedelta(seconds=lease_seconds),
            in_doubt=Delivery.in_doubt
            + case((Delivery.status == Status.SENDING.value, 1), else_=0),
        )
        .returning(Delivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list((await session.execute(statement)).scalars().all())
    for row in rows:
        row.resumed_in_doubt = row.id in doubtful
    rows.sort(key=lambda row: (row.next_attempt_at, row.id))
    return rows


def _table() -> Table:
    table = Delivery.__table__
    assert isinstance(table, Table)
    return table


def _held_by(delivery_id: int, token: str) -> Any:
    return and_(Delivery.id == delivery_id, Delivery.claim_token == token)


async def mark_sending(session: AsyncSession, delivery_id: int, token: str) -> bool:
    """Record that the next part is about to be handed to Telegram; False if no longer ours."""
    return delivery_id in await mark_sending_many(session, [(delivery_id, token)])


async def mark_sending_many(session: AsyncSession, held: Sequence[tuple[int, str]]) -> set[int]:
    """mark_sending for several rows in one statement; returns the ids still ours."""
    if not held:
        return set()
    table = _table()
    result = await session.execute(
        table.update()
        .where(
            # id IN (...) as well: SQLite scans the whole table for a row-value IN alone.
            table.c.id.in_([delivery_id for delivery_id, _token in held]),
            tuple_(table.c.id, table.c.claim_token).in_(list(held)),
            table.c.status.in_(HELD),
        )
        .values(status=Status.SENDING.value)
        .returning(table.c.id)
    )
    return {row[0] for row in result.all()}


async def mark_part_sent(
    session: AsyncSession, delivery_id: int, token: str, parts_sent: int, message_id: int
) -> bool:
    """One part of a multi-message payload went out; the rest follow."""
    result = await session.execute(
        update(Delivery)
        .where(_held_by(delivery_id, token))
        .values(
            status=Status.CLAIMED.value, parts_sent=parts_sent, telegram_message_id=message_id
        )
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
    table = _table()
    result = await session.execute(
        table.update()
        .where(
            table.c.id.in_([item.delivery_id for item in items]),  # see mark_sending_many
            tuple_(table.c.id, table.c.claim_token).in_(
                [(item.delivery_id, item.token) for item in items]
            ),
        )
        .values(
            status=Status.SENT.value,
            parts_sent=case(
                {item.delivery_id: item.parts_sent for item in items}, value=table.c.id
            ),
            telegram_message_id=case(
                {item.delivery_id: item.message_id for item in items}, value=table.c.id
            ),
            sent_at=now,
            lease_until=None,
            claim_token=None,
        )
        .returning(table.c.id)
    )
    return {row[0] for row in result.all()}


async def reschedule(
    session: AsyncSession,
    delivery_id: int,
    token: str,
    *,
    at: datetime,
    error: str,
    count_attempt: bool = True,
    in_doubt: bool = False,
    failing_since: datetime | None = None,
) -> bool:
    """A transient error (or RetryAfter, which does not count): try again at `at`.

    `in_doubt`: the request may have reached Telegram (it timed out after being sent), so
    the next try may repeat it. `failing_since`: when this failure happened, kept only if
    it is the row's first (the start of its retry budget).
    """
    failing = {} if failing_since is None else {
        "failing_since": func.coalesce(
            Delivery.failing_since, literal(failing_since, UTCDateTime())
        )
    }
    result = await session.execute(
        update(Delivery)
        .where(_held_by(delivery_id, token))
        .values(
            status=Status.PENDING.value,
            attempts=Delivery.attempts + (1 if count_attempt else 0),
            in_doubt=Delivery.in_doubt + (1 if in_doubt else 0),
            **failing,
            next_attempt_at=at,
            last_error=error[:ERROR_LENGTH],
            lease_until=None,
            claim_token=None,
        )
    )
    return _rowcount(result) == 1


async def mark_failed(
    session: AsyncSession,
    delivery_id: int,
    token: str,
    *,
    error: str,
    blocked: bool = False,
    count_attempt: bool = True,
    in_doubt: bool = False,
) -> bool:
    """A permanent failure. `blocked`: the person blocked the bot; they become unreachable.
    `in_doubt`: the last try may have reached Telegram all the same (see reschedule)."""
    result = await session.execute(
        update(Delivery)
        .where(_held_by(delivery_id, token))
        .values(
            status=(Status.BLOCKED if blocked else Status.FAILED).value,
            attempts=Delivery.attempts + (1 if count_attempt else 0),
            in_doubt=Delivery.in_doubt + (1 if in_doubt else 0),
            last_error=error[:ERROR_LENGTH],
            lease_until=None,
            claim_token=None,
        )
        .returning(Delivery.person_id)
    )
    person_ids = [row[0] for row in result.all()]
    if blocked and person_ids and person_ids[0] is not None:
        await session.execute(
            update(Person).where(Person.id == person_ids[0]).values(reachable=False)
        )
    return bool(person_ids)


@dataclass(frozen=True)
class Requeued:
    failed: int = 0
    blocked: int = 0

    @property
    def total(self) -> int:
        return self.failed + self.blocked


def purpose_of_notice(notice_id: int) -> Any:
    """The deliveries of one notice: the notice itself and its reminders."""
    return or_(
        Delivery.purpose == f"notice:{notice_id}",
        Delivery.purpose.like(f"notice:{notice_id}:%"),
    )


# What is sent about a collection round, by purpose prefix: its announcement, extensions,
# closing and scheduled opening slots ("round:7:announce"), the reminders, escalations and
# summaries of the reminder schedule (scheduler/tick.py) and staff's "remind now" taps
# (models/remind_now.py). Each is followed by ":{round id}:", so round 1 never matches 12.
ROUND_PURPOSES = ("round", "reminder", "escalation", "summary", "remind-now")


def purpose_of_round(round_id: int) -> Any:
    """The deliveries about one collection round, whatever sent them."""
    return or_(
        *(
            or_(Delivery.purpose == f"{kind}:{round_id}",
                Delivery.purpose.like(f"{kind}:{round_id}:%"))
            for kind in ROUND_PURPOSES
        )
    )


async def count_unreached(session: AsyncSession, which: Any) -> Requeued:
    """How many deliveries matching `which` failed for good, and how many of those were
    refused because the person blocked the bot: what requeue_failed would put back."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(case((Delivery.status == Status.BLOCKED.value, 1), else_=0)), 0
                ),
            ).where(which, Delivery.status.in_([Status.FAILED.value, Status.BLOCKED.value]))
        )
    ).one()
    total, blocked = int(row[0]), int(row[1])
    return Requeued(failed=total - blocked, blocked=blocked)


async def requeue_failed(session: AsyncSession, which: Any, now: datetime) -> Requeued:
    """Staff ask to try again the deliveries matching `which` that failed for good.

    Failed rows (retry budget used up, or refused) and blocked ones both go back to
    pending with a fresh retry budget: a person who blocked the bot may have unblocked it
    since; if not, Telegram refuses again at once and the row is blocked again. Rows
    still pending, sending or sent are not touched, so nothing delivered is repeated.
    """
    result = await session.execute(
        update(Delivery)
        .where(which, Delivery.status.in_([Status.FAILED.value, Status.BLOCKED.value]))
        .values(
            status=Status.PENDING.value,
            attempts=0,
            failing_since=None,
            next_attempt_at=now,
            lease_until=None,
            claim_token=None,
        )
        .returning(Delivery.last_error)
        .execution_options(synchronize_session=False)
    )
    errors = [row[0] for row in result.all()]
    blocked = sum(1 for error in errors if error.startswith("Forbidden"))
    return Requeued(failed=len(errors) - blocked, blocked=blocked)


async def renew(
    session: AsyncSession, held: Sequence[tuple[int, str]], until: datetime
) -> int:
    """Extend the lease of rows this worker still holds (so nobody takes them over)."""
    if not held:
        return 0
    ids = [delivery_id for delivery_id, _token in held]
    tokens = sorted({token for _id, token in held})
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.claim_token.in_(tokens),
            Delivery.status.in_(HELD),
        )
        .values(lease_until=until)
    )
    return _rowcount(result)


async def release(session: AsyncSession, held: Sequence[tuple[int, str]]) -> int:
    """Give back rows claimed but never handed to Telegram (graceful stop)."""
    if not held:
        return 0
    ids = [delivery_id for delivery_id, _token in held]
    tokens = sorted({token for _id, token in held})
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.claim_token.in_(tokens),
            Delivery.status == Status.CLAIMED.value,
        )
        .values(status=Status.PENDING.value, lease_until=None, claim_token=None)
    )
    return _rowcount(result)


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest not-yet-due delivery (or expiring lease) becomes claimable."""
    pending = (
        await session.execute(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.status == Status.PENDING.value
            )
        )
    ).scalar_one_or_none()
    leased = (
        await session.execute(
            select(func.min(Delivery.lease_until)).where(Delivery.status.in_(HELD))
        )
    ).scalar_one_or_none()
    times = [t for t in (pending, leased) if t is not None]
    return min(times) if times else None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# --- progress and reports ----------------------------------------------------------------


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
