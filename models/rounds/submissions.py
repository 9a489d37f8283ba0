"""A school's reports: the rounds expecting it, its submission and the shared draft.

Each expected school has at most one submission per round, shared by its principal and
deputy. Where the draft stands (position, skipped questions, state) lives on the
submission, and every write of it is a compare-and-set on submissions.version, so two
people answering at once never lose or misfile an answer.

    reports_for_school(session, school_id, now, *, include_closed=False) -> list[Report]
        Open rounds, rounds locked less than LOCKED_LISTED (7 days) ago, unlocked ones.
    pending_for_person(session, person, now) -> list[Report]
        The reports a principal or deputy still has to submit and may still enter.
    get_or_create_submission(session, round, school_id, *, now) -> Submission
    save_step(session, submission_id, form, changes, *, version, by, now, **columns)
        -> int. The guided report's write: the draft's position/state and its answers,
        only if the draft is still at the version read (DraftMoved otherwise, nothing
        written). Returns the new version. touch_submission (columns only) and
        claim_draft (lock only) likewise.
    submission_status(round, submission, now) -> ReportStatus
        on_time (first submitted by deadline + grace), late, in_progress, not_started.
    school_context(school) -> Context       ({"stage": ..., "district": ...})
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.forms import AnswerKey, Context, FormDef, Value
from models.roster.tables import Person, Role, School
from models.rounds.answers import replace_working_answers, save_answers
from models.rounds.errors import DraftMoved
from models.rounds.inserts import insert_for
from models.rounds.locks import LOCKED_LISTED, grace_end, is_locked, is_unlocked, lock_time
from models.rounds.tables import (
    Round,
    RoundSchool,
    RoundStatus,
    Submission,
    SubmissionStatus,
    submission_of_expected,
)


class ReportStatus(enum.StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


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
            .outerjoin(Submission, submission_of_expected())
            .where(RoundSchool.round_id == round_.id)
        )
    ).all()
    return {sid: submission_status(round_, sub, now) for sid, sub in rows}


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
