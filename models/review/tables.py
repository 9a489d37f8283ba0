"""District review (issue 12, item 2): the tables.

A round opened with district review has a ReviewRound row. Each submission of such a round
has one SubmissionReview: the state of its latest submitted revision (awaiting review,
approved, returned), who decided and the comment of a return. A resubmission puts it back
to awaiting; the comment of the last return stays until the next decision, so the
reviewer sees what they asked for.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ReviewLevel(enum.StrEnum):
    DISTRICT = "district"


class ReviewStatus(enum.StrEnum):
    AWAITING = "awaiting"
    """Submitted; the district officer (or the bureau, where the district has none) owes a
    decision."""
    APPROVED = "approved"
    RETURNED = "returned"
    """Sent back with a comment: the school revises and resubmits."""


class ReviewRound(Base):
    """A round whose submissions are reviewed before the bureau counts them approved."""

    __tablename__ = "review_rounds"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    level: Mapped[str] = mapped_column(String(12), default=ReviewLevel.DISTRICT.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubmissionReview(Base):
    __tablename__ = "submission_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.AWAITING.value,
                                        index=True)
    # The submitted revision this state is about; a decision names it, so a button shown
    # for revision 1 cannot approve revision 2 unseen.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Since when the reviewer's queue holds it; the one reminder of this wait.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
