"""District review's rules: which rounds are reviewed, who reviews a school, what a
submission, an approval and a return change, the queue per reviewer, the reminder.

A school's reviewers are the district officers of its district; where the district has
none, the bureau's staff review it directly. Who may see and decide is checked here on
every call (button data is untrusted): a review that is not the viewer's looks exactly
like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.review.tables import ReviewLevel, ReviewRound, ReviewStatus, SubmissionReview
from models.roster.tables import District, Person, Role, School
from models.rounds.draft_state import DraftState
from models.rounds.locks import is_locked, lock_time
from models.rounds.tables import Revision, Round, RoundSchool, Submission, SubmissionStatus

STAFF_ROLES = (Role.STAFF.value, Role.ADMIN.value)
SCHOOL_ROLES = (Role.PRINCIPAL.value, Role.DEPUTY.value)


class ReviewError(Exception):
    """No such review, or not the viewer's (both look the same), or already decided."""


@dataclass(frozen=True, slots=True)
class Case:
    """One submission under review, with what a reviewer reads."""

    review: SubmissionReview
    submission: Submission
    round: Round
    school: School
    district: District
    revision: Revision


@dataclass(frozen=True, slots=True)
class QueueItem:
    review_id: int
    school: str
    district: str
    form_code: str
    form_version: int
    period: str
    revision: int
    since: datetime


# --- rounds with review ---------------------------------------------------------------------


async def enable(session: AsyncSession, round_id: int, *, actor_id: int | None,
                 now: datetime) -> None:
    """Make a round's submissions wait for district review (idempotent)."""
    if await session.get(ReviewRound, round_id) is None:
        session.add(ReviewRound(round_id=round_id, level=ReviewLevel.DISTRICT.value,
                                created_at=now))
        record(session, "round.review", round_id, actor_id=actor_id,
               level=ReviewLevel.DISTRICT.value)


async def is_reviewed(session: AsyncSession, round_id: int) -> bool:
    return await session.get(ReviewRound, round_id) is not None


async def districts_without_officer(session: AsyncSession, round_id: int) -> list[str]:
    """The districts of the round's schools that have no district officer: the bureau
    approves their schools directly (the round's screen says so)."""
    officer = select(Person.id).where(Person.role == Role.DISTRICT_OFFICER.value,
                                      Person.district_id == District.id).exists()
    rows = await session.execute(
        select(District.name).distinct()
        .join(School, School.district_id == District.id)
        .join(RoundSchool, RoundSchool.school_id == School.id)
        .where(RoundSchool.round_id == round_id, ~officer)
        .order_by(District.name)
    )
    return list(rows.scalars())


# --- who reviews ----------------------------------------------------------------------------


async def officers(session: AsyncSession, district_id: int) -> list[Person]:
    return list((await session.execute(
        select(Person).where(Person.role == Role.DISTRICT_OFFICER.value,
                             Person.district_id == district_id).order_by(Person.id)
    )).scalars())


async def reviewers(session: AsyncSession, district_id: int) -> list[Person]:
    """The district's officers; the bureau's staff where the district has none."""
    found = await officers(session, district_id)
    if found:
        return found
    return list((await session.execute(
        select(Person).where(Person.role.in_(STAFF_ROLES)).order_by(Person.id)
    )).scalars())


async def may_review(session: AsyncSession, person: Person, district_id: int) -> bool:
    if person.role == Role.DISTRICT_OFFICER.value:
        return person.district_id == district_id
    if person.role in STAFF_ROLES:
        return not await officers(session, district_id)
    return False


# --- a submission arrives -------------------------------------------------------------------


async def arrived(
    session: AsyncSession, submission: Submission, *, now: datetime
) -> SubmissionReview | None:
    """A submitted revision of a reviewed round waits for its reviewer; None when the
    round has no review."""
    if not await is_reviewed(session, submission.round_id):
        return None
    review = (await session.execute(
        select(SubmissionReview).where(SubmissionReview.submission_id == submission.id)
    )).scalar_one_or_none()
    if review is None:
        review = SubmissionReview(submission_id=submission.id, round_id=submission.round_id,
                                  school_id=submission.school_id, comment="")
        session.add(review)
    review.status = ReviewStatus.AWAITING.value
    review.revision = submission.current_revision
    review.waiting_since = now
    review.reminded_at = None
    review.updated_at = now
    await session.flush()
    record(session, "review.arrived", review.id, actor_id=None,
           submission_id=submission.id, revision=submission.current_revision)
    return review


# --- reading --------------------------------------------------------------------------------


async def open_case(session: AsyncSession, review_id: int, viewer: Person) -> Case:
    """The review with its submission, if the viewer reviews that school."""
    found = (await session.execute(
        select(SubmissionReview, Submission, Round, School, District, Revision)
        .join(Submission, Submission.id == SubmissionReview.submission_id)
        .join(Round, Round.id == SubmissionReview.round_id)
        .join(School, School.id == SubmissionReview.school_id)
        .join(District, District.id == School.district_id)
        .join(Revision, (Revision.submission_id == Submission.id)
              & (Revision.number == SubmissionReview.revision))
        .where(SubmissionReview.id == review_id)
    )).first()
    if found is None or not await may_review(session, viewer, found[3].district_id):
        raise ReviewError("no such review")
    return Case(*found)


async def queue(session: AsyncSession, viewer: Person) -> list[QueueItem]:
    """What waits for the viewer's decision, oldest first."""
    query = (
        select(SubmissionReview, School.name, District.name, District.id, Round.form_code,
               Round.form_version, Round.period)
        .join(School, School.id == SubmissionReview.school_id)
        .join(District, District.id == School.district_id)
        .join(Round, Round.id == SubmissionReview.round_id)
        .where(SubmissionReview.status == ReviewStatus.AWAITING.value)
        .order_by(SubmissionReview.waiting_since, SubmissionReview.id)
    )
    if viewer.role == Role.DISTRICT_OFFICER.value:
        query = query.where(School.district_id == (viewer.district_id or -1))
    elif viewer.role not in STAFF_ROLES:
        return []
    items = []
    for review, school, district, district_id, form_code, version, period in (
            await session.execute(query)).all():
        if viewer.role in STAFF_ROLES and await officers(session, district_id):
            continue
        items.append(QueueItem(review.id, school, district, form_code, version, period,
                               review.revision, review.waiting_since or review.updated_at))
    return items


# --- deciding -------------------------------------------------------------------------------


def _decidable(case: Case, revision: int) -> None:
    if case.review.status != ReviewStatus.AWAITING.value or case.review.revision != revision:
        raise ReviewError("already decided, or a newer revision arrived")


async def approve(
    session: AsyncSession, review_id: int, revision: int, person: Person, *, now: datetime
) -> Case:
    case = await open_case(session, review_id, person)
    _decidable(case, revision)
    _decide(case.review, ReviewStatus.APPROVED, person, now)
    record(session, "review.approve", review_id, actor_id=person.id,
           submission_id=case.submission.id, revision=revision)
    return case


async def send_back(
    session: AsyncSession, review_id: int, revision: int, person: Person, comment: str, *,
    now: datetime, reopen: timedelta,
) -> Case:
    """Return the report with a comment: the school may revise it until the round's lock;
    past the lock the school is unlocked for `reopen`."""
    case = await open_case(session, review_id, person)
    _decidable(case, revision)
    _decide(case.review, ReviewStatus.RETURNED, person, now)
    case.review.comment = comment
    unlocked_until = None
    round_school = await session.get(RoundSchool, (case.round.id, case.school.id))
    if round_school is not None and is_locked(case.round, round_school, now):
        round_school.unlocked_until = max(now + reopen, lock_time(case.round))
        unlocked_until = round_school.unlocked_until
    _reopen(case.submission, comment, now)
    record(session, "review.return", review_id, actor_id=person.id,
           submission_id=case.submission.id, revision=revision, comment=comment,
           unlocked_until=unlocked_until)
    return case


def _reopen(submission: Submission, comment: str, now: datetime) -> None:
    """The school finds its report open for revision, the comment as the revision's reason
    and at the top of its review screen (the draft's "returned", cleared by the next
    submission). The version moves, so a step of the school's read before fails its
    compare-and-set and is done again on what is here now."""
    state = DraftState.from_json(submission.state)
    state.reason = state.reason or comment
    state.other["returned"] = comment
    submission.state = state.to_json()
    if submission.status == SubmissionStatus.SUBMITTED.value:
        submission.status = SubmissionStatus.REVISING.value
        submission.position = None
        submission.skipped = "[]"
    submission.version = submission.version + 1
    submission.updated_at = now


def returned_of(state: str | None) -> str:
    """The comment of the return a draft answers, "" if none (for the school's review)."""
    returned = DraftState.from_json(state).other.get("returned")
    return returned if isinstance(returned, str) else ""


def _decide(review: SubmissionReview, status: ReviewStatus, person: Person,
            now: datetime) -> None:
    review.status = status.value
    review.decided_by = person.id
    review.decided_at = now
    review.waiting_since = None
    review.updated_at = now


async def returned_comment(session: AsyncSession, submission_id: int) -> str | None:
    """The comment of a return the school has not yet answered by resubmitting."""
    review = (await session.execute(
        select(SubmissionReview).where(SubmissionReview.submission_id == submission_id)
    )).scalar_one_or_none()
    if review is None or review.status != ReviewStatus.RETURNED.value:
        return None
    return review.comment


async def school_people(session: AsyncSession, school_id: int) -> list[Person]:
    return list((await session.execute(
        select(Person).where(Person.school_id == school_id, Person.role.in_(SCHOOL_ROLES))
        .order_by(Person.id)
    )).scalars())


# --- what the bureau reads ------------------------------------------------------------------


async def statuses(session: AsyncSession, round_id: int) -> dict[int, ReviewStatus]:
    """The review state of each school that submitted, by school id (empty for a round
    without review)."""
    rows = await session.execute(
        select(SubmissionReview.school_id, SubmissionReview.status)
        .where(SubmissionReview.round_id == round_id)
    )
    return {school_id: ReviewStatus(status) for school_id, status in rows.all()}


async def district_counts(
    session: AsyncSession, round_id: int, district_id: int | None = None
) -> list[tuple[str, dict[ReviewStatus, int]]]:
    """Per district of the round (or the one district): how many are approved, awaiting,
    returned."""
    query = (
        select(District.name, SubmissionReview.status, func.count(SubmissionReview.id))
        .join(School, School.id == SubmissionReview.school_id)
        .join(District, District.id == School.district_id)
        .where(SubmissionReview.round_id == round_id)
        .group_by(District.name, SubmissionReview.status)
        .order_by(District.name)
    )
    if district_id is not None:
        query = query.where(School.district_id == district_id)
    rows = await session.execute(query)
    out: dict[str, dict[ReviewStatus, int]] = {}
    for district, status, count in rows.all():
        out.setdefault(district, {})[ReviewStatus(status)] = int(count)
    return list(out.items())


async def school_states(
    session: AsyncSession, round_id: int, district_id: int
) -> list[tuple[str, ReviewStatus]]:
    """The review state of each school of the district that submitted, by school name."""
    rows = await session.execute(
        select(School.name, SubmissionReview.status)
        .join(School, School.id == SubmissionReview.school_id)
        .where(SubmissionReview.round_id == round_id, School.district_id == district_id)
        .order_by(School.name)
    )
    return [(name, ReviewStatus(status)) for name, status in rows.all()]


# --- the reminder ---------------------------------------------------------------------------


async def due_reminders(
    session: AsyncSession, now: datetime, after: timedelta
) -> dict[int, list[SubmissionReview]]:
    """Reviews waiting longer than `after` and not reminded in this wait, by district."""
    rows = await session.execute(
        select(SubmissionReview, School.district_id)
        .join(School, School.id == SubmissionReview.school_id)
        .where(SubmissionReview.status == ReviewStatus.AWAITING.value,
               SubmissionReview.reminded_at.is_(None),
               SubmissionReview.waiting_since <= now - after)
        .order_by(SubmissionReview.id)
    )
    out: dict[int, list[SubmissionReview]] = {}
    for review, district_id in rows.all():
        out.setdefault(district_id, []).append(review)
    return out
