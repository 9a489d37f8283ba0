"""Sending a notice, reminding those who have not acknowledged it, sending it again to those
it did not reach: the rules, shared by the chat (handlers/notices/), the command line
(bot/cli/notices.py) and the scheduler (scheduler/notice_reminders.py).

Each function works in the caller's transaction and never commits; what cannot be done is
returned as a `Refusal` (or `Refused`, with its numbers), which texts/notices.py words.
Nothing here renders text: the caller passes the functions that do (texts/notices.py).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.base import utcnow
from models.notices.acks import RecipientState, reminder_targets
from models.notices.audiences import Audience, Resolved, resolve_audience
from models.notices.tables import Notice, NoticeRecipient
from models.notices.titles import TITLE_MAX, derived_title
from models.outbox import (
    DeliveryBatch,
    Outgoing,
    Requeued,
    create_batch,
    enqueue,
    purpose_of_notice,
    requeue_failed,
)
from models.roster.tables import Person


@dataclass(frozen=True)
class Attachment:
    """The file sent with a notice: its four `attachment_*` columns, which go together."""

    kind: str  # "document" or "photo"
    name: str | None = None
    # A file Telegram already has (sent in the chat)...
    file_id: str | None = None
    # ...or one uploaded from the command line, kept until Telegram gives it a file_id.
    blob_id: int | None = None

    def columns(self) -> dict[str, object]:
        """The Notice columns it fills: each field under its `attachment_` name."""
        return {f"attachment_{key}": value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class NewNotice:
    text: str
    audience: Audience
    requires_ack: bool = True  # as a Notice's column
    # Empty: the first line of the text, cut at a boundary (models/notices/titles.py).
    title: str = ""
    author_id: int | None = None
    attachment: Attachment | None = None
    scheduled_at: datetime | None = None


class Render(Protocol):
    """What recipients get (texts/notices.py renderer): their messages, and the data of the
    "Details" button under the sender's progress message."""

    def __call__(self, notice: Notice, person: Person) -> Outgoing: ...

    def details(self, notice_id: int) -> str: ...


# The reminder one recipient gets, pointing at their copy of the notice.
RenderReminder = Callable[[Notice, RecipientState], Outgoing]


@dataclass
class Created:
    notice: Notice
    batch: DeliveryBatch
    resolved: Resolved
    enqueued: int


async def create_notice(
    session: AsyncSession,
    new: NewNotice,
    render: Render,
    *,
    title: Callable[[Notice], str],
    owner_language: str = "zh_CN",
    reminder_due: Callable[[datetime], datetime | None] = lambda _sent: None,
    now: datetime | None = None,
) -> Created:
    """Store the notice, its recipients and one delivery each, in the caller's transaction.

    The caller commits once: either everything exists (and the worker will send it) or
    nothing does.
    """
    now = now or utcnow()
    resolved = await resolve_audience(session, new.audience)
    sent_at = new.scheduled_at if new.scheduled_at and new.scheduled_at > now else now
    notice = Notice(
        author_id=new.author_id,
        title=new.title or derived_title(new.text),
        text=new.text,
        requires_ack=new.requires_ack,
        audience=new.audience.to_json(),
        excluded_schools=[s.code for s in resolved.excluded],
        scheduled_at=new.scheduled_at,
        created_at=now,
        sent_at=sent_at,
        reminders_sent=0,
        **(new.attachment.columns() if new.attachment else {}),
    )
    session.add(notice)
    await session.flush()
    if new.requires_ack:
        notice.auto_reminder_due = reminder_due(sent_at)
    batch = await create_batch(
        session,
        "notice",
        ref_id=notice.id,
        title=title(notice),
        owner_id=new.author_id,
        language=owner_language,
        details_callback=render.details(notice.id),
    )
    notice.batch_id = batch.id
    session.add_all(
        NoticeRecipient(
            notice_id=notice.id,
            person_id=r.person.id,
            school_id=r.school.id,
            district_id=r.school.district_id,
        )
        for r in resolved.recipients
    )
    await session.flush()
    enqueued = await enqueue(
        session,
        notice.purpose,
        (render(notice, r.person) for r in resolved.recipients),
        batch_id=batch.id,
        not_before=sent_at,
    )
    return Created(notice, batch, resolved, enqueued)



# --- the rules around it -------------------------------------------------------------------


class Refusal(enum.Enum):
    NO_NOTICE = "no_notice"  # no such notice (or the draft is incomplete)
    TOO_LONG = "too_long"
    TIME_PASSED = "time_passed"
    NOBODY = "nobody"
    ALREADY_REMINDED = "already_reminded"
    TITLE_TOO_LONG = "title_too_long"


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    # For TOO_LONG (TITLE_TOO_LONG): the text's (title's) length and the room it has.
    length: int = 0
    limit: int = 0


@dataclass(frozen=True)
class Sender:
    """Who sends, and how their notice is rendered and followed."""

    render: Render
    title: Callable[[Notice], str]
    owner_language: str
    reminder_due: Callable[[datetime], datetime | None]
    # The text's length as Telegram counts it, and the room it has (by requires_ack).
    measure: Callable[[str], int]
    room: Callable[[bool], int]
    author_id: int | None = None
    source: str | None = None  # "cli" in the audit record of the command line


def check(new: NewNotice, sender: Sender, now: datetime) -> Refused | None:
    """What is wrong with sending `new` now, before the database is asked."""
    if len(new.title) > TITLE_MAX:
        return Refused(Refusal.TITLE_TOO_LONG, len(new.title), TITLE_MAX)
    length, limit = sender.measure(new.text), sender.room(new.requires_ack)
    if length > limit:
        return Refused(Refusal.TOO_LONG, length, limit)
    if new.scheduled_at is not None and new.scheduled_at <= now:
        return Refused(Refusal.TIME_PASSED)
    return None


async def send_notice(
    session: AsyncSession, new: NewNotice, sender: Sender, now: datetime
) -> Created | Refused:
    """Send now or at `new.scheduled_at`: the notice, its recipients and their deliveries,
    and the audit record, in the caller's transaction (so all or nothing)."""
    refused = check(new, sender, now)
    if refused is not None:
        return refused
    if not (await resolve_audience(session, new.audience)).recipients:
        return Refused(Refusal.NOBODY)
    created = await create_notice(
        session, new, sender.render, title=sender.title, owner_language=sender.owner_language,
        reminder_due=sender.reminder_due, now=now,
    )
    resolved = created.resolved
    extra: dict[str, object] = (
        {"source": sender.source} if sender.source else
        {"excluded": [s.code for s in resolved.excluded], "scheduled_at": new.scheduled_at}
    )
    record(
        session, "notice.send", actor_id=sender.author_id, target_type="notice",
        target_id=created.notice.id, recipients=len(resolved.recipients), **extra,
    )
    return created


async def enqueue_reminders(
    session: AsyncSession, notice: Notice, purpose: str, render: RenderReminder
) -> int:
    """One reminder to each recipient who got the notice and has not acknowledged it; the
    purpose is the once-only record (a second call with it enqueues nothing new)."""
    items = [render(notice, state) for state in await reminder_targets(session, notice)]
    await enqueue(session, purpose, items)
    return len(items)


async def remind(
    session: AsyncSession,
    notice_id: int,
    k: int,
    render: RenderReminder,
    actor_id: int | None,
) -> tuple[Notice, int] | Refused:
    """The k-th reminder staff send: k must be the next one, so the same press twice (two
    staff on the same screen) sends once."""
    notice = await session.get(Notice, notice_id)
    if notice is None or k < 1 or not notice.requires_ack:
        return Refused(Refusal.NO_NOTICE)
    if k <= notice.reminders_sent:
        return Refused(Refusal.ALREADY_REMINDED)
    if k != notice.reminders_sent + 1:
        return Refused(Refusal.NO_NOTICE)
    count = await enqueue_reminders(session, notice, f"{notice.purpose}:remind:{k}", render)
    notice.reminders_sent = k
    record(session, "notice.remind", actor_id=actor_id, target_type="notice",
           target_id=notice.id, reminder=k, recipients=count)
    return notice, count


async def retry(
    session: AsyncSession, notice_id: int, now: datetime, actor_id: int | None
) -> tuple[Notice, Requeued] | Refused:
    """Put back in the queue the deliveries of the notice (and its reminders) that failed
    for good or met a blocked bot. Staff's retries are audited; the command line's never
    were (actor_id None)."""
    notice = await session.get(Notice, notice_id)
    if notice is None:
        return Refused(Refusal.NO_NOTICE)
    again = await requeue_failed(session, purpose_of_notice(notice.id), now)
    if again.total and actor_id is not None:
        record(session, "notice.retry", actor_id=actor_id, target_type="notice",
               target_id=notice.id, failed=again.failed, blocked=again.blocked)
    return notice, again


async def is_recipient(
    session: AsyncSession, notice_id: int, person_id: int, now: datetime
) -> tuple[Notice, NoticeRecipient] | None:
    """A notice that went out to this person, with their row (None: not theirs, or not yet)."""
    notice = await session.get(Notice, notice_id)
    recipient = (
        await session.get(NoticeRecipient, (notice_id, person_id)) if notice is not None else None
    )
    if notice is None or recipient is None or notice.sent_at > now:
        return None
    return notice, recipient
