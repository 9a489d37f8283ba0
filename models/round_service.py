"""Collection rounds and schools' submissions: the rules, with no Telegram in them.

Every function takes the caller's AsyncSession and never commits: the caller's unit of
work (one update, one CLI command, one job) commits or rolls back as a whole. Times are
aware datetimes; `now` is a parameter wherever the answer depends on it, so that tests
and jobs can say when "now" is.

Forms of rounds
    store_form_version(session, form, source=None) -> FormVersion
        Keep the exact TOML of a form version. The same code and version with a
        different text is refused (RoundError): a changed form needs a new version.
    round_form(session, round) -> FormDef
        The form a round asks, parsed from its stored source (cached per database by
        code and version, since a stored version never changes).

Rounds
    open_round(session, *, form, period, deadline, grace_minutes=0, lock_at=None,
               districts=None, stages=None, school_codes=None, created_by=None, now)
        -> Round. Stores the form version and fixes the expected schools: the active
        schools matching every filter given (districts by id or name, stage codes,
        school codes). The period is stored as canonical_period gives it (a term as
        2026-autumn, as schedules label it). One round per form code and period: a
        second is refused (DuplicateRound, naming the first), also when both are opened
        at the same moment (the unique index uq_rounds_form_code_period decides).
    existing_round(session, form_code, period) -> Round | None
    close_round(session, round, *, by=None, now) -> None      (ends entry for all)
    extend_round(session, round, deadline, *, lock_at=None, by=None, now) -> None
        A new deadline (reopens a closed round); lock_at is replaced by the argument.
    lock_time(round) -> datetime
        When entry closes: round.lock_at if set, else deadline + grace; for a round
        staff closed before that, when they closed it.
    accepting(round, now) -> bool; entry_state(round, now) -> EntryState
        Open for entry (not closed by staff, lock not reached): what "open" (🟢) means
        in every list. Past its lock a round is "entry closed" by itself.
    recent_rounds(session, now, limit) -> list[Round]     (open ones first)
    is_locked(round, round_school, now) -> bool
        True once the round is closed or past its lock time, unless staff unlocked
        the school and the unlock is still valid.
    unlock_school(session, round, school_id, *, by, now, hours=72) -> RoundSchool
        Let one school submit once more (the unlock ends at its next submission or
        after `hours`); audit-logged.
    expected_school_ids(session, round_id) -> list[int]

A school's reports
    reports_for_school(session, school_id, now, *, include_closed=False) -> list[Report]
        Open rounds, rounds locked less than LOCKED_LISTED (7 days) ago, unlocked ones.
    pending_for_person(session, person, now) -> list[Report]
        The reports a principal or deputy still has to submit and may still enter.
    get_or_create_submission(session, round, school_id, *, now) -> Submission
    load_answers(session, submission_id, revision, form) -> Answers
        revision WORKING (0) = the answers being entered; n = submitted revision n.
    save_answers(session, submission_id, form, changes, *, by, now) -> None
    save_answer(session, submission_id, form, key, value, *, by, now) -> None
        Commit answers as given (principle 1); a None value deletes the answer.
    save_step(session, submission_id, form, changes, *, version, by, now, **columns)
        -> int. The guided report's write: the draft's position/state and its answers,
        only if the draft is still at the version read (compare-and-set on
        submissions.version; DraftMoved otherwise, nothing written). Returns the new
        version. touch_submission (columns only) and claim_draft (lock only) likewise.
    previous_answers(session, school_id, form, before) -> Answers
        The school's latest submitted answers to the same form code in an earlier
        round (field codes are stable across versions), top-level fields only.
    begin_revision(session, submission, round, round_school, *, reason, by, now)
        A submitted report is opened for revision (reason kept for the revision).
    submit(session, submission, round, round_school, form, context, *, by, now,
           reason="", confirmed_warnings=()) -> Revision
        Check (complete, no error rules, every warning confirmed), then copy the
        working answers into the next immutable revision with a receipt reference.
        SubmitRefused says why not.
    submission_status(round, submission, now) -> ReportStatus
        on_time (first submitted by deadline + grace), late, in_progress, not_started.
    school_context(school) -> Context       ({"stage": ..., "district": ...})

Input
    parse_when(text, tz, now) -> datetime | None
        A deadline as staff type it, in the bureau's time zone: 2026-12-01 17:00,
        2026/12/01 17:00, 2026年12月1日17:00, 12-01 17:00; a date alone means 23:59.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import secrets
import tomllib
import weakref
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.base import utcnow
from models.forms import (
    ITEM_COUNT,
    ITEM_DONE,
    AnswerKey,
    Answers,
    Context,
    FieldDef,
    FormDef,
    FormError,
    RuleResult,
    Value,
    clean,
    from_rows,
    load_value,
    missing_required,
    validate,
)
from models.forms.loader import _build
from models.people import District, Person, Role, School, Stage
from models.rounds import (
    WORKING,
    Answer,
    FormVersion,
    Revision,
    Round,
    RoundSchool,
    RoundStatus,
    Submission,
    SubmissionStatus,
)
from models.schedules import canonical_period

DEFAULT_UNLOCK_HOURS = 72
MAX_PERIOD_LENGTH = 40
# How long after its lock a round stays in the schools' /report lists (🔒), while staff
# might still unlock a school; a round staff closed leaves them at once.
LOCKED_LISTED = timedelta(days=7)


class RoundError(Exception):
    """A round cannot be opened or changed as asked; the message says why (English,
    for the CLI and logs; handlers word the common cases themselves)."""


class DuplicateRound(RoundError):
    """A round for this form and period exists already (`round_id`)."""

    def __init__(self, message: str, round_id: int) -> None:
        super().__init__(message)
        self.round_id = round_id


class ReportStatus(enum.StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


class DraftMoved(Exception):
    """Another write to the shared draft came first (its version moved since it was
    read): nothing was written; roll back, read again and decide again."""

    def __init__(self, submission_id: int) -> None:
        super().__init__(f"submission {submission_id} changed meanwhile")
        self.submission_id = submission_id


@dataclasses.dataclass
class SubmitRefused(Exception):
    """Why a submission cannot be made yet: what is missing, the error rules failing,
    the warnings not confirmed, or the lock."""

    locked: bool = False
    missing: tuple[AnswerKey, ...] = ()
    errors: tuple[RuleResult, ...] = ()
    unconfirmed: tuple[RuleResult, ...] = ()
    reason_needed: bool = False

    def __str__(self) -> str:
        parts = []
        if self.locked:
            parts.append("locked")
        if self.missing:
            parts.append(f"missing {[k for k, _ in self.missing]}")
        if self.errors:
            parts.append(f"errors {[r.rule for r in self.errors]}")
        if self.unconfirmed:
            parts.append(f"unconfirmed warnings {[r.rule for r in self.unconfirmed]}")
        if self.reason_needed:
            parts.append("a revision needs a reason")
        return "cannot submit: " + ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class Report:
    """One round a school is expected to answer, as a principal's list shows it."""

    round: Round
    round_school: RoundSchool
    submission: Submission | None
    locked: bool

    @property
    def status(self) -> str:
        return self.submission.status if self.submission else SubmissionStatus.NOT_STARTED.value

    @property
    def submitted(self) -> bool:
        return self.submission is not None and self.submission.current_revision > 0

    @property
    def pending(self) -> bool:
        """Still to be submitted (never submitted, or a revision under way)."""
        return self.status != SubmissionStatus.SUBMITTED.value


class RoundTimes(Protocol):
    """What the lock rules read of a round (a Round, or a row of a lean query)."""

    @property
    def deadline(self) -> datetime: ...
    @property
    def grace_minutes(self) -> int: ...
    @property
    def lock_at(self) -> datetime | None: ...
    @property
    def status(self) -> str: ...


class Unlock(Protocol):
    @property
    def unlocked_until(self) -> datetime | None: ...


# --- forms of rounds -------------------------------------------------------------------


def parse_form_source(source: str, name: str) -> FormDef:
    """A form from its TOML text; FormError listing the problems if it is not valid."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as err:
        raise FormError(f"{name}: not valid TOML: {err}") from None
    form, problems = _build(data, name)
    if form is None:
        raise FormError(f"{name}: " + "; ".join(str(p) for p in problems), problems)
    return form


_round_forms: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], FormDef]] = (
    weakref.WeakKeyDictionary()
)


def _cache(session: AsyncSession) -> dict[tuple[str, int], FormDef]:
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    found = _round_forms.get(bind)
    if found is None:
        found = _round_forms[bind] = {}
    return found


async def store_form_version(
    session: AsyncSession, form: FormDef, source: str | None = None
) -> FormVersion:
    if source is None:
        try:
            # A small local file, read once when a round opens.
            source = Path(form.source).read_text(encoding="utf-8")  # noqa: ASYNC240
        except OSError as err:
            raise RoundError(f"cannot read the form file {form.source}: {err}") from None
    parsed = parse_form_source(source, form.source or f"{form.code} v{form.version}")
    if (parsed.code, parsed.version) != (form.code, form.version):
        raise RoundError(
            f"{form.source} now holds {parsed.code} version {parsed.version}, "
            f"not {form.code} version {form.version}; reload the forms"
        )
    existing = (
        await session.execute(
            select(FormVersion).where(
                FormVersion.code == form.code, FormVersion.version == form.version
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.source != source:
            raise RoundError(
                f"form {form.code} version {form.version} was changed after it was first "
                f"used; give the changed form a new version number"
            )
        return existing
    # Insert-or-ignore, then read back: two rounds opened at once with a form version
    # never used before both get here, and the second must not fail on the first's row.
    connection = await session.connection()
    await connection.execute(
        insert_for(connection.dialect.name)(cast(Table, FormVersion.__table__))
        .values(code=form.code, version=form.version, source=source, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["code", "version"])
    )
    stored = (
        await session.execute(
            select(FormVersion).where(
                FormVersion.code == form.code, FormVersion.version == form.version
            )
        )
    ).scalar_one()
    if stored.source != source:
        raise RoundError(
            f"form {form.code} version {form.version} was just stored with another text; "
            f"give the changed form a new version number"
        )
    _cache(session)[(form.code, form.version)] = parsed
    return stored


async def form_version(session: AsyncSession, code: str, version: int) -> FormDef:
    """The stored form version (cached); KeyError if it was never stored."""
    cache = _cache(session)
    found = cache.get((code, version))
    if found is not None:
        return found
    source = (
        await session.execute(
            select(FormVersion.source).where(
                FormVersion.code == code, FormVersion.version == version
            )
        )
    ).scalar_one_or_none()
    if source is None:
        raise KeyError((code, version))
    form = parse_form_source(source, f"{code} v{version}")
    cache[(code, version)] = form
    return form


async def round_form(session: AsyncSession, round_: Round) -> FormDef:
    return await form_version(session, round_.form_code, round_.form_version)


# --- rounds ----------------------------------------------------------------------------


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise RoundError(f"{name} must carry a time zone")


async def _district_ids(session: AsyncSession, districts: Collection[int | str]) -> list[int]:
    ids: list[int] = []
    rows = (await session.execute(select(District.id, District.name))).all()
    by_name = {name: id_ for id_, name in rows}
    known = set(by_name.values())
    for d in districts:
        if isinstance(d, int) and d in known:
            ids.append(d)
        elif isinstance(d, str) and d in by_name:
            ids.append(by_name[d])
        elif isinstance(d, str) and d.isdigit() and int(d) in known:
            ids.append(int(d))
        else:
            raise RoundError(f"unknown district {d!r}")
    return ids


async def existing_round(session: AsyncSession, form_code: str, period: str) -> Round | None:
    """The round that already collects this form for this period, if any. Periods are
    compared by their stored label (canonical_period), so "2026 秋季学期" typed in chat
    finds the schedule's "2026-autumn"; rounds stored under an older spelling of the
    same term are found too."""
    wanted = canonical_period(period)
    rounds = (
        await session.execute(
            select(Round).where(Round.form_code == form_code).order_by(Round.id)
        )
    ).scalars()
    for round_ in rounds:
        if canonical_period(round_.period) == wanted:
            return round_
    return None


async def open_round(
    session: AsyncSession,
    *,
    form: FormDef,
    period: str,
    deadline: datetime,
    grace_minutes: int = 0,
    lock_at: datetime | None = None,
    districts: Collection[int | str] | None = None,
    stages: Collection[str] | None = None,
    school_codes: Collection[str] | None = None,
    created_by: int | None = None,
    now: datetime,
    source: str | None = None,
) -> Round:
    period = canonical_period(period)
    if not period:
        raise RoundError("the period is empty")
    if len(period) > MAX_PERIOD_LENGTH:
        raise RoundError(f"the period is longer than {MAX_PERIOD_LENGTH} characters")
    _aware(deadline, "the deadline")
    if deadline <= now:
        raise RoundError("the deadline has already passed")
    if grace_minutes < 0:
        raise RoundError("the grace cannot be negative")
    if lock_at is not None:
        _aware(lock_at, "the lock time")
        if lock_at < deadline + timedelta(minutes=grace_minutes):
            raise RoundError("the lock time is before the deadline and its grace")
    duplicate = await existing_round(session, form.code, period)
    if duplicate is not None:
        raise _duplicate(duplicate)
    unknown = [s for s in stages or () if s not in {m.value for m in Stage}]
    if unknown:
        raise RoundError(f"unknown stage {unknown[0]!r}")

    query = select(School.id).where(School.active.is_(True))
    audience: dict[str, list[Any]] = {}
    if districts:
        ids = await _district_ids(session, districts)
        query = query.where(School.district_id.in_(ids))
        names = (await session.execute(select(District.name).where(District.id.in_(ids)))).scalars()
        audience["districts"] = sorted(names)
    if stages:
        query = query.where(School.stage.in_(list(stages)))
        audience["stages"] = sorted(stages)
    if school_codes:
        codes = list(school_codes)
        found = set(
            (await session.execute(select(School.code).where(School.code.in_(codes)))).scalars()
        )
        missing = [c for c in codes if c not in found]
        if missing:
            raise RoundError(f"unknown school {missing[0]!r}")
        query = query.where(School.code.in_(codes))
        audience["schools"] = sorted(codes)
    school_ids = list((await session.execute(query.order_by(School.id))).scalars())
    if not school_ids:
        raise RoundError("no active school matches the audience")

    await store_form_version(session, form, source)
    round_ = await _insert_round(
        session,
        form_code=form.code,
        form_version=form.version,
        period=period,
        opened_at=now,
        deadline=deadline,
        grace_minutes=grace_minutes,
        lock_at=lock_at,
        status=RoundStatus.OPEN.value,
        closed_at=None,
        audience=json.dumps(audience, ensure_ascii=False, sort_keys=True),
        created_by=created_by,
    )
    session.add_all(RoundSchool(round_id=round_.id, school_id=sid) for sid in school_ids)
    record(
        session,
        "round.open",
        actor_id=created_by,
        target_type="round",
        target_id=round_.id,
        form=form.code,
        version=form.version,
        period=period,
        deadline=deadline.isoformat(),
        schools=len(school_ids),
        # The audience's own "schools" (the codes given) must not clash with the count.
        **{("school_codes" if key == "schools" else key): value for key, value in audience.items()},
    )
    await session.flush()
    return round_


def _duplicate(found: Round) -> DuplicateRound:
    return DuplicateRound(
        f"round {found.id} already collects {found.form_code} for {found.period}; "
        f"extend or reopen it instead",
        found.id,
    )


async def _insert_round(session: AsyncSession, **values: Any) -> Round:
    """Insert the round unless one for its form code and period exists (the unique
    index uq_rounds_form_code_period): then DuplicateRound, as the check above says it.

    The check alone lets two opens at the same moment both through (both look before
    either writes). Insert-or-ignore rather than catching an IntegrityError, because on
    PostgreSQL an error aborts the caller's whole transaction, and the refusal needs to
    read the round that won; on PostgreSQL the insert waits for the other transaction
    and sees its round once it commits."""
    connection = await session.connection()
    statement = (
        insert_for(connection.dialect.name)(cast(Table, Round.__table__))
        .values(**values)
        .on_conflict_do_nothing(index_elements=["form_code", "period"])
        .returning(cast(Table, Round.__table__).c.id)
    )
    new_id = (await connection.execute(statement)).scalar_one_or_none()
    if new_id is None:
        found = await existing_round(session, values["form_code"], values["period"])
        if found is None:  # pragma: no cover - the winner's round is committed by now
            raise RoundError(f"a round for {values['form_code']} was opened at the same moment")
        raise _duplicate(found)
    return await session.get_one(Round, new_id)


async def close_round(
    session: AsyncSession, round_: Round, *, by: int | None = None, now: datetime
) -> None:
    if round_.status == RoundStatus.CLOSED.value:
        raise RoundError(f"round {round_.id} is already closed")
    round_.status = RoundStatus.CLOSED.value
    round_.closed_at = now
    record(session, "round.close", actor_id=by, target_type="round", target_id=round_.id)


async def extend_round(
    session: AsyncSession,
    round_: Round,
    deadline: datetime,
    *,
    lock_at: datetime | None = None,
    by: int | None = None,
    now: datetime,
) -> None:
    _aware(deadline, "the deadline")
    if deadline <= now:
        raise RoundError("the new deadline has already passed")
    if lock_at is not None:
        _aware(lock_at, "the lock time")
        if lock_at < deadline + timedelta(minutes=round_.grace_minutes):
            raise RoundError("the lock time is before the deadline and its grace")
    old = round_.deadline
    round_.deadline = deadline
    round_.lock_at = lock_at
    reopened = round_.status == RoundStatus.CLOSED.value
    round_.status = RoundStatus.OPEN.value
    round_.closed_at = None
    record(
        session,
        "round.extend",
        actor_id=by,
        target_type="round",
        target_id=round_.id,
        old=old.isoformat(),
        new=deadline.isoformat(),
        reopened=reopened,
    )


def grace_end(round_: RoundTimes) -> datetime:
    """Submissions up to this time are on time."""
    return round_.deadline + timedelta(minutes=round_.grace_minutes)


def lock_time(round_: RoundTimes) -> datetime:
    """When entry closes: the lock time (or the end of the grace); for a round staff
    closed before that, when they closed it."""
    planned = round_.lock_at if round_.lock_at is not None else grace_end(round_)
    closed_at: datetime | None = getattr(round_, "closed_at", None)
    if round_.status == RoundStatus.CLOSED.value and closed_at is not None:
        return min(planned, closed_at)
    return planned


def accepting(round_: RoundTimes, now: datetime) -> bool:
    """Entry is open for every expected school: not closed by staff, lock not reached.
    This is what "open" means wherever a round is listed (🟢)."""
    return round_.status == RoundStatus.OPEN.value and now < lock_time(round_)


class EntryState(enum.StrEnum):
    OPEN = "open"  # accepting submissions
    ENTRY_CLOSED = "entry_closed"  # the lock time passed (staff may still unlock a school)
    CLOSED = "closed"  # closed by staff


def entry_state(round_: RoundTimes, now: datetime) -> EntryState:
    if round_.status == RoundStatus.CLOSED.value:
        return EntryState.CLOSED
    return EntryState.OPEN if now < lock_time(round_) else EntryState.ENTRY_CLOSED


def is_unlocked(round_school: Unlock | None, now: datetime) -> bool:
    return (
        round_school is not None
        and round_school.unlocked_until is not None
        and now < round_school.unlocked_until
    )


def is_locked(round_: RoundTimes, round_school: Unlock | None, now: datetime) -> bool:
    closed = round_.status == RoundStatus.CLOSED.value or now >= lock_time(round_)
    return closed and not is_unlocked(round_school, now)


async def recent_rounds(session: AsyncSession, now: datetime, limit: int) -> list[Round]:
    """Up to `limit` rounds for a list: those open for entry first (soonest deadline
    first), then the others (latest deadline first). Past its lock a round counts as
    closed, whether or not staff closed it."""
    # A round without lock_at closes when its grace ends; the longest grace of such rounds
    # bounds how long ago a deadline can be for a round still open, so the database can
    # narrow the candidates and Python decides exactly (the grace is per round).
    longest = (
        await session.execute(
            select(func.max(Round.grace_minutes)).where(
                Round.status == RoundStatus.OPEN.value, Round.lock_at.is_(None)
            )
        )
    ).scalar_one_or_none() or 0
    maybe_open = and_(
        Round.status == RoundStatus.OPEN.value,
        # Written so that no part is NULL, so that its negation is exact too.
        or_(
            and_(Round.lock_at.is_not(None), Round.lock_at > now),
            and_(Round.lock_at.is_(None), Round.deadline > now - timedelta(minutes=longest)),
        ),
    )
    query = select(Round).where(maybe_open).order_by(Round.deadline, Round.id)
    candidates = list((await session.execute(query)).scalars())
    opened = [r for r in candidates if accepting(r, now)][:limit]
    ended = [r for r in candidates if not accepting(r, now)]
    if len(opened) < limit:
        ended += (
            await session.execute(
                select(Round)
                .where(~maybe_open)
                .order_by(Round.deadline.desc(), Round.id.desc())
                .limit(limit - len(opened))
            )
        ).scalars()
        ended.sort(key=lambda r: (r.deadline, r.id), reverse=True)
        return opened + ended[: limit - len(opened)]
    return opened


async def get_round_school(
    session: AsyncSession, round_id: int, school_id: int
) -> RoundSchool | None:
    return await session.get(RoundSchool, (round_id, school_id))


async def unlock_school(
    session: AsyncSession,
    round_: Round,
    school_id: int,
    *,
    by: int | None,
    now: datetime,
    hours: int = DEFAULT_UNLOCK_HOURS,
) -> RoundSchool:
    rs = await get_round_school(session, round_.id, school_id)
    if rs is None:
        school = await session.get(School, school_id)
        name = f"{school.code} {school.name}" if school is not None else f"#{school_id}"
        raise RoundError(f"school {name} is not expected in round {round_.id}")
    rs.unlocked_until = now + timedelta(hours=hours)
    record(
        session,
        "round.unlock",
        actor_id=by,
        target_type="round",
        target_id=round_.id,
        school_id=school_id,
        until=rs.unlocked_until.isoformat(),
    )
    return rs


async def expected_school_ids(session: AsyncSession, round_id: int) -> list[int]:
    return list(
        (
            await session.execute(
                select(RoundSchool.school_id)
                .where(RoundSchool.round_id == round_id)
                .order_by(RoundSchool.school_id)
            )
        ).scalars()
    )


# --- a school's reports ----------------------------------------------------------------


async def reports_for_school(
    session: AsyncSession, school_id: int, now: datetime, *, include_closed: bool = False
) -> list[Report]:
    """The rounds expecting the school, by deadline: those open for entry, those whose
    lock passed less than LOCKED_LISTED ago (🔒: staff may still unlock the school), and
    those where staff unlocked it. Rounds staff closed, and rounds locked longer ago,
    are left out unless include_closed."""
    query = (
        select(Round, RoundSchool, Submission)
        .join(RoundSchool, RoundSchool.round_id == Round.id)
        .outerjoin(
            Submission,
            and_(Submission.round_id == Round.id, Submission.school_id == RoundSchool.school_id),
        )
        .where(RoundSchool.school_id == school_id)
        .order_by(Round.deadline, Round.id)
    )
    if not include_closed:
        query = query.where(
            or_(Round.status == RoundStatus.OPEN.value, RoundSchool.unlocked_until > now)
        )
    out = []
    for round_, rs, submission in (await session.execute(query)).all():
        if (
            not include_closed
            and not is_unlocked(rs, now)
            and now >= lock_time(round_) + LOCKED_LISTED
        ):
            continue
        out.append(Report(round_, rs, submission, is_locked(round_, rs, now)))
    return out


async def pending_for_person(session: AsyncSession, person: Person, now: datetime) -> list[Report]:
    if not Role(person.role).is_school_contact or person.school_id is None:
        return []
    reports = await reports_for_school(session, person.school_id, now)
    return [r for r in reports if r.pending and not r.locked]


async def get_or_create_submission(
    session: AsyncSession, round_: Round, school_id: int, *, now: datetime
) -> Submission:
    found = (
        await session.execute(
            select(Submission).where(
                Submission.round_id == round_.id, Submission.school_id == school_id
            )
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    # The principal and the deputy may open it at the same moment: insert unless the
    # other did, then read whichever row is there (no unique-constraint error).
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_for(dialect)(Submission)
        .values(
            round_id=round_.id,
            school_id=school_id,
            status=SubmissionStatus.DRAFT.value,
            current_revision=0,
            skipped="[]",
            state="{}",
            version=0,
            started_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["round_id", "school_id"])
    )
    created = (
        await session.execute(
            select(Submission).where(
                Submission.round_id == round_.id, Submission.school_id == school_id
            )
        )
    ).scalar_one()
    return created


def school_context(school: School) -> Context:
    return {"stage": school.stage, "district": school.district_id}


# --- answers ---------------------------------------------------------------------------

_VALUE_COLUMNS = ("value_int", "value_dec", "value_text", "value_date")


def typed_columns(form: FormDef, key: AnswerKey, value: Value) -> dict[str, Any]:
    """The typed column values of one answer (every value column, all but one None)."""
    cols: dict[str, Any] = dict.fromkeys(_VALUE_COLUMNS)
    code, item = key
    if item in (ITEM_COUNT, ITEM_DONE) and form.has_group(code):
        cols["value_int"] = int(value)  # type: ignore[arg-type]
        return cols
    f = form.field(code)
    if f.type == "integer":
        assert isinstance(value, int) and not isinstance(value, bool)
        cols["value_int"] = value
    elif f.type == "decimal":
        assert isinstance(value, int | Decimal)
        cols["value_dec"] = Decimal(value)
    elif f.type == "date":
        assert isinstance(value, date)
        cols["value_date"] = value
    elif f.type == "multi_choice":
        assert isinstance(value, list)
        cols["value_text"] = json.dumps(value, ensure_ascii=False)
    else:
        assert isinstance(value, str)
        cols["value_text"] = value
    return cols


def raw_value(row: Sequence[Any]) -> Any:
    """The one set value among (value_int, value_dec, value_text, value_date)."""
    for v in row:
        if v is not None:
            return v
    return None


def _answers_select() -> Any:
    a = Answer.__table__.c  # Core columns: plain rows, no ORM bookkeeping on a hot path
    return select(
        a.field, a.item, a.value_int, a.value_dec, a.value_text, a.value_date
    ).where(a.submission_id == bindparam("sid"), a.revision == bindparam("rev"))


_ANSWERS = _answers_select()


async def answer_rows(
    session: AsyncSession, submission_id: int, revision: int
) -> Sequence[Any]:
    """(field, item, value_int, value_dec, value_text, value_date) of one revision."""
    found = await session.execute(_ANSWERS, {"sid": submission_id, "rev": revision})
    return found.all()


def answers_from_rows(form: FormDef, rows: Iterable[Sequence[Any]]) -> Answers:
    return from_rows(form, ((r[0], r[1], raw_value(r[2:])) for r in rows))


async def load_answers(
    session: AsyncSession, submission_id: int, revision: int, form: FormDef
) -> Answers:
    rows = await answer_rows(session, submission_id, revision)
    return answers_from_rows(form, rows)


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which has on_conflict_do_update (PostgreSQL or SQLite)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def save_answers(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    changes: Mapping[AnswerKey, Value | None],
    *,
    by: int | None,
    now: datetime,
    revision: int = WORKING,
) -> None:
    """Write answers (upsert); a None value removes the answer."""
    gone = [k for k, v in changes.items() if v is None]
    rows = [
        {
            "submission_id": submission_id,
            "revision": revision,
            "field": code,
            "item": item,
            "answered_at": now,
            "answered_by": by,
            **typed_columns(form, (code, item), v),
        }
        for (code, item), v in changes.items()
        if v is not None
    ]
    for code, item in gone:
        await session.execute(
            delete(Answer).where(
                Answer.submission_id == submission_id,
                Answer.revision == revision,
                Answer.field == code,
                Answer.item == item,
            )
        )
    if rows:
        # One prepared statement with the rows as parameters: SQLAlchemy compiles it once
        # per process (a multi-row VALUES clause would be compiled on every answer).
        connection = await session.connection()
        await connection.execute(_answer_upsert(connection.dialect.name), rows)


_UPSERTS: dict[str, Any] = {}


def _answer_upsert(dialect: str) -> Any:
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        base = insert_for(dialect)(cast(Table, Answer.__table__))
        stmt = _UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=["submission_id", "revision", "field", "item"],
            set_={
                name: getattr(base.excluded, name)
                for name in (*_VALUE_COLUMNS, "answered_at", "answered_by")
            },
        )
    return stmt


async def save_answer(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    key: AnswerKey,
    value: Value | None,
    *,
    by: int | None,
    now: datetime,
) -> None:
    await save_answers(session, submission_id, form, {key: value}, by=by, now=now)


async def replace_working_answers(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    answers: Mapping[AnswerKey, Value],
    *,
    by: int | None,
    now: datetime,
) -> None:
    """Replace every working answer (removing a group item renumbers the rest)."""
    await session.execute(
        delete(Answer).where(Answer.submission_id == submission_id, Answer.revision == WORKING)
    )
    await save_answers(session, submission_id, form, dict(answers), by=by, now=now)


def _decode(f: FieldDef, raw: Any) -> Value | None:
    try:
        return load_value(f, raw)
    except FormError:
        return None


async def previous_answers(
    session: AsyncSession, school_id: int, form: FormDef, before: Round
) -> Answers:
    found = (
        await session.execute(
            select(Submission.id, Submission.current_revision)
            .join(Round, Round.id == Submission.round_id)
            .where(
                Submission.school_id == school_id,
                Submission.current_revision > 0,
                Round.form_code == before.form_code,
                Round.id != before.id,
                Round.opened_at <= before.opened_at,
            )
            .order_by(Round.deadline.desc(), Round.id.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return {}
    rows = await answer_rows(session, found[0], found[1])
    out: Answers = {}
    for code, item, *values in rows:
        if item != 0 or not form.has_field(code):
            continue
        f = form.field(code)
        if f.group is not None:
            continue
        v = _decode(f, raw_value(values))
        if v is not None:
            out[(code, 0)] = v
    return out


# --- submitting ------------------------------------------------------------------------

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


def new_reference() -> str:
    """A short receipt number like HB-7K3M-Q9XD (40 random bits)."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"HB-{chars[:4]}-{chars[4:]}"


async def begin_revision(
    session: AsyncSession,
    submission: Submission,
    round_: Round,
    round_school: RoundSchool | None,
    *,
    reason: str,
    by: int | None,
    now: datetime,
) -> None:
    if submission.current_revision == 0:
        raise RoundError("the report has not been submitted yet")
    if is_locked(round_, round_school, now):
        raise SubmitRefused(locked=True)
    state = json.loads(submission.state or "{}")
    state["reason"] = reason.strip()
    submission.state = json.dumps(state, ensure_ascii=False)
    submission.status = SubmissionStatus.REVISING.value
    submission.position = None
    submission.skipped = "[]"
    submission.updated_at = now
    record(
        session,
        "submission.revise",
        actor_id=by,
        target_type="submission",
        target_id=submission.id,
        reason=reason.strip(),
    )


def check_submission(
    form: FormDef,
    answers: Mapping[AnswerKey, Value],
    context: Context,
    confirmed: Iterable[str] = (),
) -> tuple[list[AnswerKey], list[RuleResult], list[RuleResult]]:
    """(missing required keys, failing error rules, warnings not in `confirmed`)."""
    missing = [s.key for s in missing_required(form, answers, context)]
    results = validate(form, answers, context)
    errors = [r for r in results if r.severity == "error"]
    done = set(confirmed)
    unconfirmed = [r for r in results if r.severity == "warning" and r.rule not in done]
    return missing, errors, unconfirmed


async def submit(
    session: AsyncSession,
    submission: Submission,
    round_: Round,
    round_school: RoundSchool | None,
    form: FormDef,
    context: Context,
    *,
    by: int | None,
    now: datetime,
    reason: str = "",
    confirmed_warnings: Sequence[Mapping[str, str]] = (),
    answers: Mapping[AnswerKey, Value] | None = None,
) -> Revision:
    """confirmed_warnings: [{"rule": code, "comment": text, "message": text}, ...]."""
    if is_locked(round_, round_school, now):
        raise SubmitRefused(locked=True)
    if answers is None:
        answers = await load_answers(session, submission.id, WORKING, form)
    missing, errors, unconfirmed = check_submission(
        form, answers, context, (w["rule"] for w in confirmed_warnings)
    )
    number = submission.current_revision + 1
    reason = reason.strip()
    if missing or errors or unconfirmed or (number > 1 and not reason):
        raise SubmitRefused(
            missing=tuple(missing),
            errors=tuple(errors),
            unconfirmed=tuple(unconfirmed),
            reason_needed=number > 1 and not reason,
        )
    on_time = now <= grace_end(round_)
    revision = Revision(
        submission_id=submission.id,
        number=number,
        submitted_at=now,
        submitted_by=by,
        on_time=on_time,
        reason=reason,
        confirmed_warnings=json.dumps(list(map(dict, confirmed_warnings)), ensure_ascii=False),
        reference=new_reference(),
    )
    session.add(revision)
    await save_answers(
        session,
        submission.id,
        form,
        clean(form, answers, context),
        by=by,
        now=now,
        revision=number,
    )
    submission.current_revision = number
    submission.status = SubmissionStatus.SUBMITTED.value
    if submission.first_submitted_at is None:
        submission.first_submitted_at = now
    submission.last_submitted_at = now
    submission.position = None
    submission.skipped = "[]"
    submission.state = "{}"
    submission.updated_at = now
    if round_school is not None and round_school.unlocked_until is not None:
        # An unlock allows one more submission, not an open door.
        round_school.unlocked_until = None
    await session.flush()
    return revision


def submission_status(round_: Round, submission: Submission | None, now: datetime) -> ReportStatus:
    if submission is None:
        return ReportStatus.NOT_STARTED
    if submission.first_submitted_at is not None:
        if submission.first_submitted_at <= grace_end(round_):
            return ReportStatus.ON_TIME
        return ReportStatus.LATE
    if submission.status == SubmissionStatus.NOT_STARTED.value:
        return ReportStatus.NOT_STARTED
    return ReportStatus.IN_PROGRESS


async def submission_statuses(
    session: AsyncSession, round_: Round, now: datetime
) -> dict[int, ReportStatus]:
    """Every expected school's status in the round, by school id."""
    rows = (
        await session.execute(
            select(RoundSchool.school_id, Submission)
            .outerjoin(
                Submission,
                and_(
                    Submission.round_id == RoundSchool.round_id,
                    Submission.school_id == RoundSchool.school_id,
                ),
            )
            .where(RoundSchool.round_id == round_.id)
        )
    ).all()
    return {sid: submission_status(round_, sub, now) for sid, sub in rows}


async def revisions_of(session: AsyncSession, submission_id: int) -> list[Revision]:
    return list(
        (
            await session.execute(
                select(Revision)
                .where(Revision.submission_id == submission_id)
                .order_by(Revision.number)
            )
        ).scalars()
    )


async def count_answers(session: AsyncSession, submission_id: int, revision: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Answer)
                .where(Answer.submission_id == submission_id, Answer.revision == revision)
            )
        ).scalar_one()
    )


async def touch_submission(
    session: AsyncSession, submission_id: int, *, version: int, now: datetime, **values: Any
) -> int:
    """Update a submission's conversation columns with one statement, if its version is
    still `version` (the one the caller read); returns the new version.

    Compare-and-set: the draft is shared by the school's principal and deputy, so
    between reading it and writing it another person may have moved it on. The UPDATE
    is the lock (PostgreSQL holds the row lock until commit, as SELECT ... FOR UPDATE
    would, and re-checks the version against the committed row after waiting for it;
    SQLite runs one writer at a time), and a version that moved raises DraftMoved:
    the caller rolls back and decides again from what is there now."""
    params = {"sid": submission_id, "expected": version, "updated_at": now, **values}
    result = await session.execute(_touch(frozenset(values)), params)
    if cast(Any, result).rowcount != 1:
        raise DraftMoved(submission_id)
    return version + 1


async def claim_draft(
    session: AsyncSession, submission_id: int, *, version: int, now: datetime
) -> int:
    """Lock the draft for this unit of work if it is still at `version` (else
    DraftMoved); returns the new version. Taken before submitting or revising."""
    return await touch_submission(session, submission_id, version=version, now=now)


async def save_step(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    changes: Mapping[AnswerKey, Value | None],
    *,
    version: int,
    by: int | None,
    now: datetime,
    replace: bool = False,
    **values: Any,
) -> int:
    """One step of the guided report: the draft's new conversation columns (`values`)
    and its changed answers (or, with `replace`, all of its working answers), written
    only if nobody changed the draft since it was read at `version` (else DraftMoved,
    and nothing is written). The draft row is written first: it is the lock."""
    new_version = await touch_submission(session, submission_id, version=version, now=now, **values)
    if replace:
        kept = {k: v for k, v in changes.items() if v is not None}
        await replace_working_answers(session, submission_id, form, kept, by=by, now=now)
    elif changes:
        await save_answers(session, submission_id, form, changes, by=by, now=now)
    return new_version


_TOUCH: dict[frozenset[str], Any] = {}


def _touch(columns: frozenset[str]) -> Any:
    # Core, not ORM: no session objects to synchronize; built once per set of columns.
    stmt = _TOUCH.get(columns)
    if stmt is None:
        table = cast(Table, Submission.__table__)
        stmt = _TOUCH[columns] = (
            update(table)
            .where(table.c.id == bindparam("sid"), table.c.version == bindparam("expected"))
            .values(
                {name: bindparam(name) for name in (*sorted(columns), "updated_at")}
                | {"version": table.c.version + 1}
            )
        )
    return stmt
