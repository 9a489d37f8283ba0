"""Collection rounds, the schools expected in them, submissions, revisions and answers.

A round asks one form, for one period, of a list of schools, by a deadline. Each expected
school has at most one submission per round. The submission's working answers (revision 0)
are committed one at a time as the principal gives them (principle 1); submitting copies
them into an immutable numbered revision, so later edits never change what was reported.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, BigId, UTCDateTime, utcnow

WORKING = 0
"""Revision number of the answers being entered (the draft); submitted ones start at 1."""


class RoundStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SubmissionStatus(enum.StrEnum):
    NOT_STARTED = "not_started"
    DRAFT = "draft"  # answers exist, never submitted
    SUBMITTED = "submitted"
    REVISING = "revising"  # submitted before, a new revision is being entered


class FormVersion(Base):
    """The exact text of every form version ever used, so old rounds keep their form."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Round(Base):
    __tablename__ = "rounds"
    # One round per form code (not version: a new version of the form still collects the
    # same figures) and period, closed ones included (a closed round is reopened by
    # extending it). The database refuses the second of two opens made at the same moment.
    __table_args__ = (Index("uq_rounds_form_code_period", "form_code", "period", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_code: Mapped[str] = mapped_column(String(60), index=True)
    form_version: Mapped[int] = mapped_column(Integer)
    # The period's label: 2026-W48, 2026-11, 2026-autumn (a term, as schedules label it and
    # models.rounds.schedules.canonical_period stores one typed by staff), 2026, or free text.
    period: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    # Submissions after the deadline but within the grace count as on time (DHIS2's
    # "days for timely submission"); entry closes at lock_at ("expiry days").
    grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    lock_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default=RoundStatus.OPEN.value, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # How the expected schools were chosen, for display: {"districts": [...], "stages": [...]}.
    audience: Mapped[str] = mapped_column(Text, default="{}")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)

    expected: Mapped[list[RoundSchool]] = relationship(
        back_populates="round", cascade="all, delete-orphan"
    )


class RoundSchool(Base):
    """A school expected to answer a round, fixed when the round opens."""

    __tablename__ = "round_schools"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True, index=True)
    # Staff may reopen one school after the lock; it lasts until this time.
    unlocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    round: Mapped[Round] = relationship(back_populates="expected")


class Submission(Base):
    """One school's answer to one round: its working answers and its revisions."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("round_id", "school_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=SubmissionStatus.DRAFT.value)
    # The latest submitted revision (0 = never submitted); summaries read this one.
    current_revision: Mapped[int] = mapped_column(Integer, default=0)
    first_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Conversation state lives here, not in memory (principle 1): where the principal is,
    # what they skipped, whether they came from the review screen.
    position: Mapped[str | None] = mapped_column(String(120), nullable=True)
    skipped: Mapped[str] = mapped_column(Text, default="[]")
    state: Mapped[str] = mapped_column(Text, default="{}")
    # Raised by one on every write of the draft's shared state (position, skipped, state,
    # status, answers): a write names the version it read and is refused if another
    # person's write came in between (compare-and-set), so no answer is lost or misfiled.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def submission_of_expected() -> ColumnElement[bool]:
    """The ON clause joining an expected school (RoundSchool) to its submission, if any."""
    return and_(
        Submission.round_id == RoundSchool.round_id,
        Submission.school_id == RoundSchool.school_id,
    )


class Revision(Base):
    """A submitted, immutable version of a submission."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    on_time: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why the principal revised (asked for revision 2 onwards).
    reason: Mapped[str] = mapped_column(Text, default="")
    # Warnings the principal confirmed past, with their comment (JSON list).
    confirmed_warnings: Mapped[str] = mapped_column(Text, default="[]")
    # A short receipt number the principal can quote to the bureau.
    reference: Mapped[str] = mapped_column(String(32), unique=True)


class Answer(Base):
    """One typed value of one field, so that SQL can sum and count them.

    `revision` is WORKING (0) for the answers being entered, else the revision number.
    Exactly one value column is set, by the field's type: integer → value_int,
    decimal → value_dec, choice/text → value_text, date → value_date,
    multi_choice → value_text as a JSON list.
    """

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("submission_id", "revision", "field", "item"),
        Index("ix_answers_field_revision", "field", "revision"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    revision: Mapped[int] = mapped_column(Integer, default=WORKING)
    field: Mapped[str] = mapped_column(String(80))
    # 0 outside groups; the item's index inside a repeatable group; negative for the
    # engine's bookkeeping keys (item count, group finished).
    item: Mapped[int] = mapped_column(Integer, default=0)
    value_int: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    value_dec: Mapped[Decimal | None] = mapped_column(Numeric(20, 4), nullable=True)
    value_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    value_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)


class Conversation(Base):
    """Which guided conversation a person is in right now, if any.

    Plain text from a person goes to the conversation named here (a report being
    filled, a round being set up by staff), so that any bot process, after any
    restart, routes it the same way (principle 1). Where a report stands (the
    current question) lives on the submission, shared by the school's principal
    and deputy; what only this person is doing (typing a comment, a reason, a
    multiple choice being ticked) lives in `state`.
    """

    __tablename__ = "conversations"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    # "report" (filling a submission) or "round" (staff setting up a round).
    kind: Mapped[str] = mapped_column(String(20))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id"), nullable=True, index=True
    )
    state: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
