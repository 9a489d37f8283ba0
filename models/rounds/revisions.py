"""Submitting a report: the checks, and the immutable numbered revisions.

Submitting copies the working answers (revision 0) into the next numbered revision with
a receipt reference, so later edits never change what was reported. A submitted report
is opened again for revision with a reason.

    begin_revision(session, submission, round, round_school, *, reason, by, now)
        A submitted report is opened for revision (reason kept for the revision).
    submit(session, submission, round, round_school, form, context, *, by, now,
           reason="", confirmed_warnings=()) -> Revision
        Check (complete, no error rules, every warning confirmed), then copy the
        working answers into the next immutable revision with a receipt reference.
        SubmitRefused says why not.
    discard_revision(session, submission, *, by, now) -> Revision
        A revision under way is given up: the report is again exactly the submitted
        one (its answers, status and times), the revision's draft is gone.
    revisions_of(session, submission_id) -> list[Revision]
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.forms import (
    AnswerKey,
    Context,
    FormDef,
    RuleResult,
    Value,
    clean,
    missing_required,
    validate,
)
from models.rounds.answers import load_answers, save_answers
from models.rounds.errors import RoundError, SubmitRefused
from models.rounds.locks import grace_end, is_locked
from models.rounds.tables import (
    WORKING,
    Answer,
    Conversation,
    Revision,
    Round,
    RoundSchool,
    Submission,
    SubmissionStatus,
)
from models.rounds.tallies import Tallying

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
    number = submission.current_revision + 1
    reason = reason.strip()
    _refuse_unless_ready(form, answers, context, confirmed_warnings, number > 1 and not reason)
    # The round's tallies change in this same transaction (models/rounds/tallies.py).
    tally = Tallying(session, round_, form, submission)
    await tally.before()
    revision = Revision(
        submission_id=submission.id,
        number=number,
        submitted_at=now,
        submitted_by=by,
        on_time=now <= grace_end(round_),
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
    _mark_submitted(submission, round_school, number, now)
    await session.flush()
    await tally.after(now)
    return revision


def _refuse_unless_ready(
    form: FormDef,
    answers: Mapping[AnswerKey, Value],
    context: Context,
    confirmed_warnings: Sequence[Mapping[str, str]],
    reason_needed: bool,
) -> None:
    """SubmitRefused unless the answers are complete, break no error rule, every warning
    is confirmed, and a revision (2 onwards) gives its reason."""
    missing, errors, unconfirmed = check_submission(
        form, answers, context, (w["rule"] for w in confirmed_warnings)
    )
    if missing or errors or unconfirmed or reason_needed:
        raise SubmitRefused(
            missing=tuple(missing),
            errors=tuple(errors),
            unconfirmed=tuple(unconfirmed),
            reason_needed=reason_needed,
        )


def _mark_submitted(
    submission: Submission, round_school: RoundSchool | None, number: int, now: datetime
) -> None:
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


async def discard_revision(
    session: AsyncSession, submission: Submission, *, by: int | None, now: datetime
) -> Revision:
    """Give up the revision under way: the working answers become the submitted ones
    again, the draft's state (position, skipped, reason) goes, and so does every
    conversation still pointing at it (the principal's and the deputy's alike), so that
    the school sees one state. The submitted revisions, the status "submitted" and the
    submission times are those before the revision began. Returns the revision kept.

    The caller holds the draft (claim_draft), so that no answer lands meanwhile."""
    if submission.status != SubmissionStatus.REVISING.value or submission.current_revision == 0:
        raise RoundError("no revision is under way")
    kept = submission.current_revision
    reason = _reason_of(submission.state)
    await _restore_working(session, submission.id, kept)
    await session.execute(
        delete(Conversation).where(
            Conversation.submission_id == submission.id, Conversation.kind == "report"
        )
    )
    submission.status = SubmissionStatus.SUBMITTED.value
    submission.position = None
    submission.skipped = "[]"
    submission.state = "{}"
    submission.updated_at = now
    record(
        session,
        "submission.discard_revision",
        actor_id=by,
        target_type="submission",
        target_id=submission.id,
        revision=kept,
        reason=reason,
    )
    found = await session.execute(
        select(Revision).where(Revision.submission_id == submission.id, Revision.number == kept)
    )
    return found.scalar_one()


def _reason_of(state: str | None) -> str:
    try:
        raw = json.loads(state or "{}")
    except ValueError:
        return ""
    return str(raw.get("reason") or "") if isinstance(raw, dict) else ""


async def _restore_working(session: AsyncSession, submission_id: int, revision: int) -> None:
    """The working answers become a copy of submitted `revision`'s, row for row."""
    a = Answer.__table__.c
    await session.execute(
        delete(Answer).where(Answer.submission_id == submission_id, Answer.revision == WORKING)
    )
    columns = ("field", "item", "value_int", "value_dec", "value_text", "value_date",
               "answered_at", "answered_by")
    copied = select(
        a.submission_id, literal(WORKING).label("revision"), *(a[c] for c in columns)
    ).where(a.submission_id == submission_id, a.revision == revision)
    await session.execute(
        insert(Answer).from_select(["submission_id", "revision", *columns], copied)
    )
