"""Notices (通知) from the bureau to schools: audiences, recipients, acknowledgements, drafts.

A notice is sent to the principals and deputies of the active schools in its audience (all
schools, some districts, some stages, or chosen school codes). Each recipient gets one
delivery through the outbox (purpose "notice:<id>"); whether it arrived is read from that
delivery, whether it was acknowledged from `notice_recipients`. Reminders to those who have
not acknowledged are outbox deliveries too ("notice:<id>:remind:<k>", "notice:<id>:auto"), so
pressing a reminder button twice, or a job firing twice, sends once.

Nothing here renders text: the caller passes a function that turns a recipient into the
messages they get (handlers/notices_render.py), so this module stays free of Telegram and
of languages.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow
from models.outbox import Delivery, DeliveryBatch, Outgoing, Status, create_batch, enqueue
from models.people import District, Person, Role, School, Stage

CONTACT_ROLES = (Role.PRINCIPAL.value, Role.DEPUTY.value)


class AudienceKind(enum.StrEnum):
    ALL = "all"
    DISTRICTS = "districts"
    STAGES = "stages"
    SCHOOLS = "schools"


@dataclass(frozen=True)
class Audience:
    """Who a notice is for; `values` are district ids, stage codes or school codes."""

    kind: AudienceKind
    values: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience | None:
        if not data:
            return None
        try:
            kind = AudienceKind(str(data.get("kind")))
        except ValueError:
            return None
        return cls(kind, tuple(data.get("values") or ()))


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None when sent from the command line.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # Telegram HTML, as the author wrote it (their bold and links kept).
    text: Mapped[str] = mapped_column(Text)
    attachment_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    attachment_file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachment_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # A file uploaded from the command line, kept until Telegram gives it a file_id.
    attachment_blob_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_files.id"), nullable=True
    )
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=True)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Codes of schools in the audience left out because nobody there is connected.
    excluded_schools: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When delivery starts: the moment it was confirmed, or the scheduled time.
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_batches.id"), nullable=True
    )
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # The one automatic reminder: when it is due, and when it went (None: not yet).
    auto_reminder_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    auto_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def purpose(self) -> str:
        return notice_purpose(self.id)


def notice_purpose(notice_id: int) -> str:
    return f"notice:{notice_id}"


class NoticeRecipient(Base):
    __tablename__ = "notice_recipients"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id"), primary_key=True, index=True
    )
    # Where the person was when the notice went out, for counts by school and district.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), nullable=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NoticeDraft(Base):
    """A notice being composed in chat, one per staff member, saved after every step."""

    __tablename__ = "notice_drafts"

    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    step: Mapped[str] = mapped_column(String(20), default="text")
    # Bumped on every change, and carried by preview buttons, so a stale preview cannot send.
    version: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # None: not asked yet; "none": asked, no attachment; else "document" or "photo".
    attachment_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    attachment_file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachment_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Districts or stages ticked so far while choosing an audience.
    selection: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requires_ack: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # None: not asked yet; "now" or "at" (then scheduled_at).
    send_mode: Mapped[str | None] = mapped_column(String(5), nullable=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# --- audiences ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    person: Person
    school: School


@dataclass
class Resolved:
    recipients: list[Recipient] = field(default_factory=list)
    # Active schools in the audience with no connected principal or deputy.
    excluded: list[School] = field(default_factory=list)
    # Chosen school codes that do not exist, and chosen schools that are closed.
    unknown_codes: list[str] = field(default_factory=list)
    inactive: list[School] = field(default_factory=list)

    @property
    def school_count(self) -> int:
        return len({r.school.id for r in self.recipients})


def parse_codes(text: str) -> list[str]:
    """School codes typed by staff: separated by spaces, commas or 、; order kept, no repeats."""
    for separator in ",，、;；\n\t":
        text = text.replace(separator, " ")
    seen: dict[str, None] = {}
    for code in text.split():
        seen.setdefault(code.strip(), None)
    return [code for code in seen if code]


async def resolve_audience(session: AsyncSession, audience: Audience) -> Resolved:
    result = Resolved()
    query = select(School).where(School.active.is_(True))
    if audience.kind is AudienceKind.DISTRICTS:
        query = query.where(School.district_id.in_([int(v) for v in audience.values]))
    elif audience.kind is AudienceKind.STAGES:
        query = query.where(School.stage.in_([str(v) for v in audience.values]))
    elif audience.kind is AudienceKind.SCHOOLS:
        codes = [str(v) for v in audience.values]
        found = {
            s.code: s
            for s in (
                await session.execute(select(School).where(School.code.in_(codes)))
            ).scalars()
        }
        result.unknown_codes = [c for c in codes if c not in found]
        result.inactive = [found[c] for c in codes if c in found and not found[c].active]
        query = query.where(School.code.in_(codes))
    schools = list((await session.execute(query.order_by(School.code))).scalars().all())
    if not schools:
        return result
    people = (
        await session.execute(
            select(Person)
            .where(
                Person.school_id.in_([s.id for s in schools]),
                Person.role.in_(CONTACT_ROLES),
            )
            .order_by(Person.role.desc(), Person.id)  # principals before deputies
        )
    ).scalars().all()
    by_school: dict[int, list[Person]] = {}
    for person in people:
        assert person.school_id is not None
        by_school.setdefault(person.school_id, []).append(person)
    for school in schools:
        contacts = by_school.get(school.id)
        if not contacts:
            result.excluded.append(school)
            continue
        result.recipients.extend(Recipient(person, school) for person in contacts)
    return result


async def districts(session: AsyncSession) -> list[District]:
    return list((await session.execute(select(District).order_by(District.name))).scalars())


def stage_codes() -> list[str]:
    return [stage.value for stage in Stage]


# --- sending -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewNotice:
    text: str
    audience: Audience
    requires_ack: bool
    author_id: int | None = None
    attachment_kind: str | None = None
    attachment_file_id: str | None = None
    attachment_name: str | None = None
    attachment_blob_id: int | None = None
    scheduled_at: datetime | None = None


Render = Callable[[Notice, Person], Outgoing]


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
) -> Created:
    """Store the notice, its recipients and one delivery each, in the caller's transaction.

    The caller commits once: either everything exists (and the worker will send it) or
    nothing does.
    """
    now = utcnow()
    resolved = await resolve_audience(session, new.audience)
    sent_at = new.scheduled_at if new.scheduled_at and new.scheduled_at > now else now
    notice = Notice(
        author_id=new.author_id,
        text=new.text,
        attachment_kind=new.attachment_kind,
        attachment_file_id=new.attachment_file_id,
        attachment_name=new.attachment_name,
        attachment_blob_id=new.attachment_blob_id,
        requires_ack=new.requires_ack,
        audience=new.audience.to_json(),
        excluded_schools=[s.code for s in resolved.excluded],
        scheduled_at=new.scheduled_at,
        created_at=now,
        sent_at=sent_at,
        reminders_sent=0,
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
        details_callback=f"nv:{notice.id}",
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


# --- acknowledgements --------------------------------------------------------------------


class AckOutcome(enum.Enum):
    RECORDED = "recorded"
    ALREADY = "already"
    NOT_RECIPIENT = "not_recipient"
    NOT_REQUIRED = "not_required"


async def acknowledge(
    session: AsyncSession, notice_id: int, person_id: int, now: datetime | None = None
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
        .values(acknowledged_at=now or utcnow())
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
    total: int = 0
    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    waiting: int = 0
    acknowledged: int = 0
    # Recipients whose message may have arrived twice (models/outbox.py, Delivery.in_doubt).
    in_doubt: int = 0
    by_district: list[DistrictCount] = field(default_factory=list)
    not_acknowledged: list[RecipientState] = field(default_factory=list)


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
