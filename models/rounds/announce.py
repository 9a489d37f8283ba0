"""Who is told about a collection round, queued in the outbox in the caller's transaction:
the announcement of a round just opened, a new deadline, an early close.

Bulk messages go through the outbox (DESIGN principle 3): the caller's transaction (the
one that opens, extends or closes the round) writes one delivery row per recipient and
the delivery worker sends them through the rate limiter after the commit. The purposes
below are the idempotency keys: the same announcement is never queued twice for a chat.

The words are not chosen here: the caller passes the builder of each person's message
(texts/rounds.py), so the chat, the scheduler and the CLI tell people the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.reminders import school_contacts, unsubmitted_school_ids
from models.forms import FormDef
from models.outbox import DeliveryBatch, Outgoing, OutMessage, create_batch, enqueue
from models.roster.order import by_name
from models.roster.tables import Person, Role, School
from models.rounds import Round
from models.rounds.lifecycle import expected_school_ids
from models.rounds.versions import round_form

MessageFor = Callable[[FormDef, Round, School, Person], OutMessage]
"""One person's message about a round (of this form, to this school), in their language."""


def announce_purpose(round_id: int) -> str:
    return f"round:{round_id}:announce"


def opened_purpose(round_id: int) -> str:
    return f"round:{round_id}:opened"


def extend_purpose(round_: Round) -> str:
    return f"round:{round_.id}:extend:{round_.deadline.astimezone(UTC):%Y%m%dT%H%M}"


def close_purpose(round_: Round, now: datetime) -> str:
    closed = round_.closed_at or now
    return f"round:{round_.id}:close:{closed.astimezone(UTC):%Y%m%dT%H%M%S}"


@dataclass
class Told:
    """Who a message about a round was queued for."""

    people: int = 0
    """Recipients (principals and deputies) with a delivery row."""
    schools: int = 0
    """Schools with at least one of them."""
    unconnected: list[School] = field(default_factory=list)
    """Schools it was meant for where nobody uses the bot yet."""
    batch: DeliveryBatch | None = None


@dataclass(frozen=True)
class BatchOwner:
    """Staff who opened a round in chat: the announcement's deliveries form a batch whose
    progress and final report go to them."""

    person_id: int
    language: str
    title: Callable[[FormDef, Round], str]
    """The batch's title in their language (texts/rounds.batch_title)."""
    details_callback: Callable[[int], str]
    """The data of the final report's button that shows the round (by its id)."""


async def _queue(
    session: AsyncSession,
    round_: Round,
    school_ids: Sequence[int],
    purpose: str,
    message_for: MessageFor,
    *,
    batch_id: int | None = None,
) -> Told:
    """One delivery per principal and deputy of these schools, each in their language."""
    told = Told()
    if not school_ids:
        return told
    form = await round_form(session, round_)
    found = await session.execute(select(School).where(School.id.in_(school_ids)))
    schools = sorted(found.scalars().all(), key=by_name)
    contacts = await school_contacts(session, list(school_ids))
    items = []
    for school in schools:
        people = contacts.get(school.id, [])
        if not people:
            told.unconnected.append(school)
            continue
        told.schools += 1
        items += [
            Outgoing(person.telegram_id, person.id, (message_for(form, round_, school, person),))
            for person in people
        ]
    told.people = len(items)
    await enqueue(session, purpose, items, batch_id=batch_id)
    return told


async def announce_round(
    session: AsyncSession,
    round_: Round,
    message_for: MessageFor,
    *,
    owner: BatchOwner | None = None,
) -> Told:
    """Queue the announcement of a round just opened (in the opening transaction): every
    principal and deputy of the expected schools, in their own language. With an owner
    (staff in chat), the deliveries form a batch (`told.batch`) whose progress and final
    report go to them; the caller sets its progress message."""
    school_ids = await expected_school_ids(session, round_.id)
    contacts = await school_contacts(session, school_ids)
    batch = None
    if owner is not None and contacts:
        form = await round_form(session, round_)
        batch = await create_batch(
            session,
            "round",
            ref_id=round_.id,
            title=owner.title(form, round_),
            owner_id=owner.person_id,
            language=owner.language,
            details_callback=owner.details_callback(round_.id),
        )
    purpose = announce_purpose(round_.id)
    batch_id = batch.id if batch is not None else None
    told = await _queue(session, round_, school_ids, purpose, message_for, batch_id=batch_id)
    told.batch = batch
    return told


async def tell_extension(session: AsyncSession, round_: Round, message_for: MessageFor) -> Told:
    """After extend_round, in its transaction: the schools that have not submitted learn
    the new deadline (once per new deadline)."""
    pending = await unsubmitted_school_ids(session, round_.id)
    return await _queue(session, round_, pending, extend_purpose(round_), message_for)


async def tell_closing(
    session: AsyncSession, round_: Round, message_for: MessageFor, now: datetime
) -> Told:
    """After close_round, in its transaction: the schools that have not submitted learn
    that they no longer can."""
    pending = await unsubmitted_school_ids(session, round_.id)
    return await _queue(session, round_, pending, close_purpose(round_, now), message_for)


@dataclass(frozen=True)
class Opened:
    """What staff are told when a schedule opened a round: how many schools it expects,
    how many will get the announcement (and how many people at them), how many have
    nobody connected to the bot; `announced` is False when the schedule sends none."""

    expected: int
    schools: int
    people: int
    unconnected: int
    announced: bool


StaffMessageFor = Callable[[FormDef, Round, Opened, Person], OutMessage]
"""One staff member's message that a schedule opened a round, in their language."""


async def schedule_watchers(session: AsyncSession, created_by: int | None) -> list[Person]:
    """Who hears that a schedule opened a round: the staff member who made the schedule,
    while they are staff; otherwise (made on the command line, or they have left) every
    staff member and admin, so that an opening never goes unseen."""
    staff = [Role.STAFF.value, Role.ADMIN.value]
    if created_by is not None:
        creator = await session.get(Person, created_by)
        if creator is not None and creator.role in staff:
            return [creator]
    query = select(Person).where(Person.role.in_(staff)).order_by(Person.id)
    return list((await session.execute(query)).scalars())


async def tell_staff_opened(
    session: AsyncSession,
    round_: Round,
    created_by: int | None,
    announced: bool,
    message_for: StaffMessageFor,
) -> Opened:
    """In the transaction in which a schedule opened `round_`: queue, once, the message
    to its watchers (schedule_watchers) saying so and who will be told."""
    school_ids = await expected_school_ids(session, round_.id)
    contacts = await school_contacts(session, school_ids)
    reached = [sid for sid in school_ids if contacts.get(sid)]
    opened = Opened(
        expected=len(school_ids),
        schools=len(reached),
        people=sum(len(contacts[sid]) for sid in reached),
        unconnected=len(school_ids) - len(reached),
        announced=announced,
    )
    form = await round_form(session, round_)
    items = [
        Outgoing(person.telegram_id, person.id, (message_for(form, round_, opened, person),))
        for person in await schedule_watchers(session, created_by)
    ]
    await enqueue(session, opened_purpose(round_.id), items)
    return opened
