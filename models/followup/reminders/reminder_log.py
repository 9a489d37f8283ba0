"""When to remind whom: the once-only records of reminder slots, and who is told.

A round's reminder policy (slots.py) gives a list of slots, each a moment in the
bureau's time zone:

- ``open``: when the round opens, principals are told;
- ``weekly:<date>``: on the weekly day and time while the report is not submitted;
- ``before:<N>:<date>``: N days before the deadline;
- ``deadline-day:<date>``: on the deadline day;
- ``overdue:<time>``: when the grace after the deadline ends, to each late school;
- ``escalation:<time>``: at the same moment, to each district officer, their late schools;
- ``summary:<date>`` and ``summary-deadline:<time>``: the deadline summary to staff and
  district officers, daily in the last days before the deadline and at the deadline.

Keys carry their bureau-local date (or time), so when staff extend a deadline the slots
of the new deadline are new slots and go out again, while those already sent stay sent.

Quiet hours move a slot to their end. A slot is handled once: `round_slots` holds one row
per (round, slot) and `reminder_log` one row per (round, school, slot), both unique and
written in the same transaction as the outbox rows, so a tick that runs twice, a restart
or a second process never sends twice. A slot found more than the misfire grace after it
was due is recorded as missed and never sent.

No Telegram and no settings here: the scheduler passes policy, time zone and `now`.
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow
from models.followup.reminders.slots import (
    Policy,
    QuietHours,
    Slot,
    SlotKind,
    SlotOutcome,
    grace_end,
    slots_for,
)
from models.roster.tables import Person, Role, School
from models.rounds import FormVersion, Round, RoundSchool, RoundStatus, Submission
from models.rounds.inserts import claim_row, insert_for
from models.rounds.tables import submission_of_expected

# Rounds whose deadline is older than this are not looked at any more: their last slot
# (the overdue notice, at most a grace and a night of quiet hours after the deadline)
# is long handled or missed.
LOOKBACK = timedelta(days=45)


class SchoolOutcome(enum.StrEnum):
    QUEUED = "queued"  # delivery rows written for the school's contacts
    NO_CONTACT = "no_contact"  # nobody of that school (or district) uses the bot yet


# --- tables ----------------------------------------------------------------------------


class RoundPolicy(Base):
    """A round's reminder policy overrides (from its schedule, or set by staff)."""

    __tablename__ = "round_policies"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    policy: Mapped[str] = mapped_column(Text, default="{}")
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"), nullable=True)


class RoundSlot(Base):
    """One slot of one round, handled (or missed): recorded once, never reconsidered."""

    __tablename__ = "round_slots"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    slot: Mapped[str] = mapped_column(String(40), primary_key=True)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReminderLog(Base):
    """A school reminded (or escalated) once in a round's slot, and to whom."""

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("round_id", "school_id", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    slot: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(12), default=SchoolOutcome.QUEUED.value)
    # The people the reminder went to (JSON list of person ids).
    people: Mapped[str] = mapped_column(Text, default="[]")
    # The delivery purpose of the message that carried it.
    purpose: Mapped[str | None] = mapped_column(String(120), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- claiming due slots ----------------------------------------------------------------


@dataclass
class ClaimedSlot:
    """A slot this transaction owns: the schools it concerns were not reminded before."""

    round: Round
    slot: Slot
    # school id -> its reminder_log row id
    log_ids: dict[int, int]

    @property
    def school_ids(self) -> list[int]:
        return sorted(self.log_ids)


@dataclass
class TickPlan:
    claimed: list[ClaimedSlot]
    missed: list[tuple[Round, Slot]]


async def load_policies(
    session: AsyncSession, round_ids: Sequence[int], defaults: Policy
) -> dict[int, Policy]:
    rows = (
        await session.execute(
            select(RoundPolicy.round_id, RoundPolicy.policy).where(
                RoundPolicy.round_id.in_(round_ids)
            )
        )
    ).all()
    stored = {round_id: json.loads(text or "{}") for round_id, text in rows}
    # A round opened by hand (in chat or on the command line) was announced by whoever
    # opened it, so the scheduler only tells schools of the rounds it opened itself, and
    # of rounds given a policy of their own.
    by_hand = replace(defaults, on_open=False)
    out: dict[int, Policy] = {}
    for round_id in round_ids:
        if round_id not in stored:
            out[round_id] = by_hand
            continue
        try:
            out[round_id] = Policy.from_mapping(stored[round_id], defaults)
        except ValueError:
            # A policy stored by an older version that no longer parses: the bureau's
            # defaults are a safe reading of it.
            out[round_id] = defaults
    return out


async def set_round_policy(
    session: AsyncSession,
    round_id: int,
    overrides: Mapping[str, Any],
    *,
    schedule_id: int | None = None,
) -> None:
    Policy.from_mapping(overrides)  # refuse what would not parse later
    existing = await session.get(RoundPolicy, round_id)
    text = json.dumps(dict(overrides), ensure_ascii=False, sort_keys=True)
    if existing is None:
        session.add(RoundPolicy(round_id=round_id, policy=text, schedule_id=schedule_id))
    else:
        existing.policy = text
    await session.flush()


async def live_rounds(session: AsyncSession, now: datetime) -> list[Round]:
    """Open rounds that may still have slots to handle."""
    return list(
        (
            await session.execute(
                select(Round)
                .where(Round.status == RoundStatus.OPEN.value, Round.deadline > now - LOOKBACK)
                .order_by(Round.id)
            )
        ).scalars()
    )


async def handled_slots(session: AsyncSession, round_ids: Sequence[int]) -> set[tuple[int, str]]:
    rows = (
        await session.execute(
            select(RoundSlot.round_id, RoundSlot.slot).where(RoundSlot.round_id.in_(round_ids))
        )
    ).all()
    return {(r, s) for r, s in rows}


async def unsubmitted_school_ids(session: AsyncSession, round_id: int) -> list[int]:
    """Active expected schools of a round that have never submitted it."""
    query = (
        select(RoundSchool.school_id)
        .join(School, School.id == RoundSchool.school_id)
        .outerjoin(Submission, submission_of_expected())
        .where(
            RoundSchool.round_id == round_id,
            School.active.is_(True),
            or_(Submission.id.is_(None), Submission.current_revision == 0),
        )
        .order_by(RoundSchool.school_id)
    )
    return list((await session.execute(query)).scalars())


async def _live_slots(
    session: AsyncSession, now: datetime, tz: tzinfo, quiet: QuietHours | None, defaults: Policy
) -> list[tuple[Round, Slot]]:
    """Every slot of the live rounds, past or future, handled or not, in round order."""
    rounds = await live_rounds(session, now)
    if not rounds:
        return []
    policies = await load_policies(session, [r.id for r in rounds], defaults)
    return [
        (round_, slot)
        for round_ in rounds
        for slot in slots_for(round_, policies[round_.id], tz, quiet)
    ]


async def due_slots(
    session: AsyncSession,
    *,
    now: datetime,
    tz: tzinfo,
    quiet: QuietHours | None,
    defaults: Policy,
) -> list[tuple[Round, Slot]]:
    """Slots whose time has come and that no one has handled yet (read only)."""
    past = [(r, s) for r, s in await _live_slots(session, now, tz, quiet, defaults)
            if s.send_at <= now]
    if not past:
        return []
    done = await handled_slots(session, sorted({r.id for r, _ in past}))
    return [(r, s) for r, s in past if (r.id, s.key) not in done]


async def upcoming_slots(
    session: AsyncSession,
    *,
    now: datetime,
    until: datetime,
    tz: tzinfo,
    quiet: QuietHours | None,
    defaults: Policy,
) -> list[tuple[Round, Slot]]:
    """Slots not yet due that fall before `until` (for exact-time jobs)."""
    return [(r, s) for r, s in await _live_slots(session, now, tz, quiet, defaults)
            if now < s.send_at <= until]


async def claim_slots(
    session: AsyncSession,
    due: Sequence[tuple[Round, Slot]],
    *,
    now: datetime,
    misfire_grace: timedelta,
) -> TickPlan:
    """Take ownership of due slots in this transaction.

    The (round, slot) row is inserted first with ON CONFLICT DO NOTHING: on PostgreSQL a
    second process inserting the same row waits for the first to commit and then gets
    nothing back, so exactly one transaction owns each slot. School rows are claimed the
    same way. The caller writes the outbox rows in the same transaction.
    """
    plan = TickPlan(claimed=[], missed=[])
    for round_, slot in due:
        missed = now - slot.send_at > misfire_grace
        outcome = SlotOutcome.MISSED if missed else SlotOutcome.DONE
        owned = await claim_row(
            session,
            RoundSlot,
            {
                "round_id": round_.id,
                "slot": slot.key,
                "send_at": slot.send_at,
                "outcome": outcome.value,
                "recorded_at": now,
            },
            ["round_id", "slot"],
            RoundSlot.slot,
        )
        if owned is None:
            continue
        if missed:
            plan.missed.append((round_, slot))
            continue
        log_ids: dict[int, int] = {}
        if slot.kind is not SlotKind.SUMMARY:
            pending = await unsubmitted_school_ids(session, round_.id)
            log_ids = await _claim_schools(session, round_.id, slot.key, pending, now)
            if not log_ids:
                await mark_slot(session, round_.id, slot.key, SlotOutcome.NOTHING)
                continue
        plan.claimed.append(ClaimedSlot(round_, slot, log_ids))
    return plan


CLAIM_CHUNK = 500


async def _claim_schools(
    session: AsyncSession, round_id: int, slot_key: str, school_ids: Sequence[int], now: datetime
) -> dict[int, int]:
    insert = insert_for(session.get_bind().dialect.name)
    claimed: dict[int, int] = {}
    for start in range(0, len(school_ids), CLAIM_CHUNK):
        rows = [
            {
                "round_id": round_id,
                "school_id": school_id,
                "slot": slot_key,
                "outcome": SchoolOutcome.QUEUED.value,
                "people": "[]",
                "recorded_at": now,
            }
            for school_id in school_ids[start : start + CLAIM_CHUNK]
        ]
        result = await session.execute(
            insert(ReminderLog)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["round_id", "school_id", "slot"])
            .returning(ReminderLog.school_id, ReminderLog.id)
        )
        claimed.update({school_id: log_id for school_id, log_id in result.all()})
    return claimed


async def mark_slot(
    session: AsyncSession, round_id: int, slot_key: str, outcome: SlotOutcome
) -> None:
    found = await session.get(RoundSlot, (round_id, slot_key))
    if found is not None:
        found.outcome = outcome.value


@dataclass(frozen=True)
class Recipients:
    """Who got one school's reminder in one slot (nobody: no contact uses the bot)."""

    log_id: int
    people: Sequence[int]
    purpose: str | None


async def record_recipients(session: AsyncSession, entries: Sequence[Recipients]) -> None:
    if not entries:
        return
    await session.execute(
        update(ReminderLog),
        [
            {
                "id": e.log_id,
                "people": json.dumps(sorted(set(e.people))),
                "purpose": e.purpose if e.people else None,
                "outcome": (SchoolOutcome.QUEUED if e.people else SchoolOutcome.NO_CONTACT).value,
            }
            for e in entries
        ],
    )


# --- who is told, and about what -------------------------------------------------------


async def _people_by(
    session: AsyncSession,
    key: InstrumentedAttribute[int | None],
    ids: Sequence[int],
    roles: Sequence[str],
    *order: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> dict[int, list[Person]]:
    """People with one of `roles`, grouped by their school or district (`key`)."""
    rows = await session.execute(
        select(key, Person).where(key.in_(ids), Person.role.in_(roles)).order_by(*order)
    )
    out: dict[int, list[Person]] = {}
    for owner, person in rows:
        assert owner is not None
        out.setdefault(owner, []).append(person)
    return out


async def school_contacts(
    session: AsyncSession, school_ids: Sequence[int]
) -> dict[int, list[Person]]:
    """Principals and deputies of each school (reachable or not: the outbox records
    the ones who blocked the bot)."""
    roles = [Role.PRINCIPAL.value, Role.DEPUTY.value]
    return await _people_by(
        session, Person.school_id, school_ids, roles, Person.role.desc(), Person.id
    )


async def district_officers(
    session: AsyncSession, district_ids: Sequence[int]
) -> dict[int, list[Person]]:
    roles = [Role.DISTRICT_OFFICER.value]
    return await _people_by(session, Person.district_id, district_ids, roles, Person.id)


async def staff_members(session: AsyncSession) -> list[Person]:
    return list(
        (
            await session.execute(
                select(Person)
                .where(Person.role.in_([Role.STAFF.value, Role.ADMIN.value]))
                .order_by(Person.id)
            )
        ).scalars()
    )


async def round_district_ids(session: AsyncSession, round_id: int) -> list[int]:
    return list(
        (
            await session.execute(
                select(School.district_id)
                .join(RoundSchool, RoundSchool.school_id == School.id)
                .where(RoundSchool.round_id == round_id)
                .distinct()
                .order_by(School.district_id)
            )
        ).scalars()
    )


@dataclass(frozen=True)
class PendingReport:
    """A report a school still owes, as a reminder lists it."""

    round: Round
    school_id: int
    started: bool  # answers exist (a draft)
    open_for_entry: bool  # not past the lock (or unlocked by staff)


def entry_open(round_: Round, round_school: RoundSchool, now: datetime) -> bool:
    lock = round_.lock_at if round_.lock_at is not None else grace_end(round_)
    if round_.status == RoundStatus.OPEN.value and now < lock:
        return True
    return round_school.unlocked_until is not None and now < round_school.unlocked_until


async def pending_reports(
    session: AsyncSession, school_ids: Sequence[int], now: datetime
) -> dict[int, list[PendingReport]]:
    """Every open round each school has not submitted, by deadline."""
    rows = (
        await session.execute(
            select(Round, RoundSchool, Submission)
            .join(RoundSchool, RoundSchool.round_id == Round.id)
            .outerjoin(Submission, submission_of_expected())
            .where(
                RoundSchool.school_id.in_(school_ids),
                Round.status == RoundStatus.OPEN.value,
                or_(Submission.id.is_(None), Submission.current_revision == 0),
            )
            .order_by(Round.deadline, Round.id)
        )
    ).all()
    out: dict[int, list[PendingReport]] = {}
    for round_, rs, submission in rows:
        out.setdefault(rs.school_id, []).append(
            PendingReport(
                round=round_,
                school_id=rs.school_id,
                started=submission is not None,
                open_for_entry=entry_open(round_, rs, now),
            )
        )
    return out


_titles: dict[tuple[str, int], dict[str, str]] = {}


def _title_of(source: str, code: str) -> dict[str, str]:
    try:
        raw = tomllib.loads(source).get("title", {})
    except tomllib.TOMLDecodeError:
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    return {
        "zh": str(raw.get("zh") or code),
        "en": str(raw.get("en") or raw.get("zh") or code),
    }


async def form_titles(session: AsyncSession, rounds: Iterable[Round]) -> dict[int, dict[str, str]]:
    """Each round's form title as {"zh": ..., "en": ...} (the form code if unreadable)."""
    out: dict[int, dict[str, str]] = {}
    for round_ in rounds:
        key = (round_.form_code, round_.form_version)
        if key not in _titles:
            source = (
                await session.execute(
                    select(FormVersion.source).where(
                        FormVersion.code == round_.form_code,
                        FormVersion.version == round_.form_version,
                    )
                )
            ).scalar_one_or_none()
            if source is None:
                out[round_.id] = {"zh": round_.form_code, "en": round_.form_code}
                continue
            # A stored form version never changes, so its title can be kept.
            _titles[key] = _title_of(source, round_.form_code)
        out[round_.id] = _titles[key]
    return out
