"""Questions from schools to the bureau (the inbox): the tables.

A question is a thread between one school and the bureau. Every message in it is kept
with who wrote it and when; a photo or a document is kept as Telegram's file id (Telegram
keeps the file, the bot sends it again by that id when staff open the thread).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class ThreadStatus(enum.StrEnum):
    OPEN = "open"
    """The school wrote last: the bureau owes an answer."""
    ANSWERED = "answered"
    """The bureau answered last; the school may write again, which reopens it."""
    DONE = "done"
    """Closed by staff; a new message from the school reopens it."""


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    asked_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(10), default=ThreadStatus.OPEN.value, index=True)
    # The colleague it was handed to; None: any staff member (and the district's officers).
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Since when the school has been waiting for an answer (the first unanswered message).
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The one reminder to staff for the current wait; cleared by an answer.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuestionMessage(Base):
    __tablename__ = "question_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # True for the school's side (principal, deputy), False for the bureau's.
    from_school: Mapped[bool] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text, default="")
    file_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
