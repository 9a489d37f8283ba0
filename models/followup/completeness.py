"""Completeness of a round: who has reported, on time or late, who is still missing.

Every figure here is one SQL aggregation (GROUP BY district and status), never a loop
over ORM objects, so that /status answers at once for a province's 20,000 schools.

Statuses of an expected school, as at `now`:
  * on time: first submitted at or before deadline + grace (DHIS2's "timely");
  * late: first submitted after deadline + grace;
  * in progress: never submitted (by `now`), but working answers exist;
  * not started: no submission row, or no answers at all.
Reporting rate = submitted ÷ expected (DHIS2: actual ÷ expected); on-time rate =
on time ÷ expected.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, Index, and_, case, exists, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.followup.batches import Districts, in_districts
from models.roster.order import natural_key, school_key
from models.roster.phones import Phones, combine
from models.roster.tables import District, Person, Role, School
from models.rounds import WORKING, Answer, Round, RoundSchool, Submission
from models.rounds.lifecycle import recent_rounds
from models.rounds.tables import submission_of_expected

# Working answers (revision 0) of each submission: "in progress" asks whether any exist.
# Partial, so it holds the drafts only, not every submitted revision (migration 0006).
WORKING_ANSWERS = Index(
    "ix_answers_working",
    Answer.submission_id,
    postgresql_where=Answer.revision == WORKING,
    sqlite_where=Answer.revision == WORKING,
)


async def analytic(session: AsyncSession) -> None:
    """Prepare the transaction for a summary query.

    PostgreSQL's JIT compiler switches itself on for queries over a few hundred
    thousand rows and then spends more time compiling (0.6 s measured) than the query
    takes; these queries are short, so it is turned off for this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


class Status(enum.StrEnum):
    """Where an expected school stands in a round (not Submission.status: this one is
    derived, as at a given time, from the submission's timestamps and answers)."""

    ON_TIME = "on_time"
    LATE = "late"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"

    @property
    def submitted(self) -> bool:
        return self is Status.ON_TIME or self is Status.LATE


def percent(part: int, whole: int) -> Decimal | None:
    """part ÷ whole as a percentage with one decimal (half up); None when whole is 0."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Counts:
    """How many schools a round expects, and how many are in each status."""

    expected: int = 0
    on_time: int = 0
    late: int = 0
    in_progress: int = 0
    not_started: int = 0

    @property
    def submitted(self) -> int:
        return self.on_time + self.late

    @property
    def missing(self) -> int:
        return self.in_progress + self.not_started

    @property
    def reporting_rate(self) -> Decimal | None:
        """Submitted ÷ expected, in percent (one decimal); None with no expected school."""
        return percent(self.submitted, self.expected)

    @property
    def on_time_rate(self) -> Decimal | None:
        return percent(self.on_time, self.expected)

    def of(self, status: Status) -> int:
        count: int = getattr(self, status.value)
        return count

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.expected + other.expected,
            self.on_time + other.on_time,
            self.late + other.late,
            self.in_progress + other.in_progress,
            self.not_started + other.not_started,
        )


@dataclass(frozen=True, slots=True)
class DistrictCounts:
    district_id: int
    name: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class Completeness:
    """One round's completeness, in total and by district (districts by name)."""

    round_id: int
    as_of: datetime
    cutoff: datetime
    """deadline + grace: first submissions after it are late."""
    total: Counts
    districts: list[DistrictCounts] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        """True once the deadline (with grace) has passed: the missing are now late."""
        return self.as_of > self.cutoff


@dataclass(frozen=True, slots=True)
class Contact:
    person_id: int
    telegram_id: int
    name: str
    role: Role
    reachable: bool
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class SchoolStatus:
    school_id: int
    code: str
    name: str
    district_id: int
    district: str
    stage: str
    status: Status
    contacts: list[Contact] = field(default_factory=list)
    school_phone: str | None = None
    roster_principal_phone: str | None = None
    """The roster's (校长电话); `phones` prefers the principal's own (/phone)."""

    @property
    def principal_names(self) -> list[str]:
        return [c.name for c in self.contacts if c.role is Role.PRINCIPAL]

    def phones(self, contacts: Sequence[Contact] | None = None) -> Phones:
        """The school's number and its principal's (their own before the roster's);
        `contacts` when they were read apart (with_contacts=False)."""
        people = self.contacts if contacts is None else contacts
        own = (c.phone for c in people if c.role is Role.PRINCIPAL)
        return combine(self.school_phone, self.roster_principal_phone, own)


class RoundNotFound(LookupError):
    """No round with that id (a stale button or a typo on the command line)."""


def cutoff_of(rnd: Round) -> datetime:
    return rnd.deadline + timedelta(minutes=rnd.grace_minutes or 0)


def _status_code(cutoff: ColumnElement[datetime] | datetime, now: datetime) -> ColumnElement[int]:
    """0 on time, 1 late, 2 in progress, 3 not started; computed in SQL per school.

    Needs Submission outer-joined to the expected school."""
    first = Submission.first_submitted_at
    draft = (
        exists()
        .where(Answer.submission_id == Submission.id, Answer.revision == WORKING)
        .correlate(Submission)
    )
    return case(
        (and_(first.is_not(None), first <= now), case((first <= cutoff, 0), else_=1)),
        # Submitted after `now` (a summary as at an earlier time) was in progress then.
        (or_(first.is_not(None), draft), 2),
        else_=3,
    )


_ORDER = (Status.ON_TIME, Status.LATE, Status.IN_PROGRESS, Status.NOT_STARTED)


def _counts(by_status: dict[int, int]) -> Counts:
    values = [by_status.get(i, 0) for i in range(4)]
    return Counts(sum(values), *values)


async def get_round(session: AsyncSession, round_id: int) -> Round:
    rnd = await session.get(Round, round_id)
    if rnd is None:
        raise RoundNotFound(round_id)
    return rnd


async def round_completeness(
    session: AsyncSession,
    round_id: int,
    district_id: int | None = None,
    now: datetime | None = None,
) -> Completeness:
    """Counts of one round by district and in total, as at `now` (default: now).

    With district_id only that district's schools count (a district officer's view).
    """
    now = now or utcnow()
    rnd = await get_round(session, round_id)
    cutoff = cutoff_of(rnd)
    counts = await _tallied(session, rnd, district_id, now)
    if counts is None:
        counts = await aggregated_counts(session, rnd, district_id, now)
    names = await district_names(session, counts)
    districts = [DistrictCounts(d_id, names.get(d_id, str(d_id)), c) for d_id, c in counts.items()]
    districts.sort(key=lambda d: natural_key(d.name))
    total = sum((d.counts for d in districts), Counts())
    return Completeness(round_id, now, cutoff, total, districts)


async def _tallied(
    session: AsyncSession, rnd: Round, district_id: int | None, now: datetime
) -> dict[int, Counts] | None:
    # Imported here: the tallies' reader builds this module's Counts.
    from models.followup.tallied import counts_by_district

    return await counts_by_district(session, rnd, district_id, now)


async def aggregated_counts(
    session: AsyncSession, rnd: Round, district_id: int | None, now: datetime
) -> dict[int, Counts]:
    """Each district's counts added up from the submissions and answers (the tallies
    do not hold: see models/rounds/tallies.py)."""
    await analytic(session)
    code = _status_code(cutoff_of(rnd), now).label("code")
    query = (
        select(School.district_id, code, func.count().label("n"))
        .select_from(RoundSchool)
        .join(School, School.id == RoundSchool.school_id)
        .outerjoin(Submission, submission_of_expected())
        .where(RoundSchool.round_id == rnd.id)
        .group_by(School.district_id, code)
    )
    if district_id is not None:
        query = query.where(School.district_id == district_id)
    per_district: dict[int, dict[int, int]] = {}
    for d_id, status, n in (await session.execute(query)).all():
        per_district.setdefault(d_id, {})[status] = n
    return {d_id: _counts(by_status) for d_id, by_status in per_district.items()}


async def district_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(District.id, District.name).where(District.id.in_(wanted)))
    return {i: n for i, n in rows.all()}


@dataclass(frozen=True, slots=True)
class RoundOverview:
    """A line of the round list: the round and its completeness in the viewer's scope."""

    round: Round
    counts: Counts


async def rounds_overview(
    session: AsyncSession,
    district_id: int | None = None,
    now: datetime | None = None,
    limit: int = 10,
) -> list[RoundOverview]:
    """The most recent rounds, open ones first (soonest deadline first), then closed
    ones (latest first), each with its counts; one grouped query for all of them. A
    round past its lock counts as closed (models.rounds.lifecycle.recent_rounds)."""
    now = now or utcnow()
    rounds = await recent_rounds(session, now, limit)
    if not rounds:
        return []
    counts: dict[int, Counts] = {}
    for r in rounds:
        kept = await _tallied(session, r, district_id, now)
        if kept is not None:
            counts[r.id] = sum(kept.values(), Counts())
    rest = [r for r in rounds if r.id not in counts]
    if rest:
        await analytic(session)
        counts.update(await _counts_of_rounds(session, rest, district_id, now))
    return [RoundOverview(r, counts.get(r.id, Counts())) for r in rounds]


async def _counts_of_rounds(
    session: AsyncSession, rounds: Sequence[Round], district_id: int | None, now: datetime
) -> dict[int, Counts]:
    # Each round has its own cutoff: a CASE on the round id keeps it one query.
    cutoff = case(
        *(
            (
                RoundSchool.round_id == r.id,
                literal(cutoff_of(r), Submission.first_submitted_at.type),
            )
            for r in rounds
        )
    )
    code = _status_code(cutoff, now).label("code")
    query = (
        select(RoundSchool.round_id, code, func.count())
        .select_from(RoundSchool)
        .outerjoin(Submission, submission_of_expected())
        .where(RoundSchool.round_id.in_([r.id for r in rounds]))
        .group_by(RoundSchool.round_id, code)
    )
    if district_id is not None:
        query = query.join(School, School.id == RoundSchool.school_id).where(
            School.district_id == district_id
        )
    raw: dict[int, dict[int, int]] = {}
    for round_id, status, n in (await session.execute(query)).all():
        raw.setdefault(round_id, {})[status] = n
    return {rid: _counts(by_status) for rid, by_status in raw.items()}


async def school_statuses(
    session: AsyncSession, round_id: int, district_id: Districts = None,
    now: datetime | None = None, only_missing: bool = False, with_contacts: bool = True,
) -> list[SchoolStatus]:
    """Each expected school with its status (and its principal and deputies), by
    district then name in reading order (models.roster.order). only_missing: the
    schools that have not submitted. district_id may also be a batch of districts
    (models.followup.batches)."""
    now = now or utcnow()
    rnd = await get_round(session, round_id)
    await analytic(session)
    code = _status_code(cutoff_of(rnd), now).label("code")
    query = (
        select(
            School.id,
            School.code,
            School.name,
            School.district_id,
            District.name,
            School.stage,
            code,
            School.phone,
            School.principal_phone,
        )
        .select_from(RoundSchool)
        .join(School, School.id == RoundSchool.school_id)
        .join(District, District.id == School.district_id)
        .outerjoin(Submission, submission_of_expected())
        .where(RoundSchool.round_id == round_id)
        .order_by(District.name, School.code)
    )
    if district_id is not None:
        query = query.where(in_districts(district_id))
    if only_missing:
        query = query.where(code >= 2)
    schools = [
        SchoolStatus(sid, scode, sname, did, dname, stage, _ORDER[status], [], phone, principal)
        for sid, scode, sname, did, dname, stage, status, phone, principal
        in (await session.execute(query)).all()
    ]
    schools.sort(key=lambda s: school_key(s.district, s.name, s.code))
    if with_contacts and schools:
        contacts = await school_contacts(session, [s.school_id for s in schools])
        for s in schools:
            s.contacts.extend(contacts.get(s.school_id, []))
    return schools


async def school_contacts(
    session: AsyncSession, school_ids: Sequence[int]
) -> dict[int, list[Contact]]:
    """Principals first, then deputies, of each school."""
    out: dict[int, list[Contact]] = {}
    roles = (Role.PRINCIPAL.value, Role.DEPUTY.value)
    # Chunked: SQLite allows a limited number of bound parameters per statement.
    for start in range(0, len(school_ids), 500):
        chunk = school_ids[start : start + 500]
        rows = await session.execute(
            select(
                Person.school_id,
                Person.id,
                Person.telegram_id,
                Person.name,
                Person.role,
                Person.reachable,
                Person.phone,
            )
            .where(Person.school_id.in_(chunk), Person.role.in_(roles))
            .order_by(Person.school_id, Person.role.desc(), Person.name)
        )
        for school_id, pid, tg, name, role, reachable, phone in rows.all():
            assert school_id is not None
            out.setdefault(school_id, []).append(
                Contact(pid, tg, name, Role(role), reachable, phone)
            )
    return out
