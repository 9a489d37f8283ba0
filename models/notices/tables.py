"""Notices (通知) from the bureau to schools: the tables.

Each recipient gets one delivery through the outbox (purpose "notice:<id>"); whether it
arrived is read from that delivery, whether it was acknowledged from `notice_recipients`.
Reminders to those who have not acknowledged are outbox deliveries too
("notice:<id>:remind:<k>", "notice:<id>:auto"), so pressing a reminder button twice, or a
tick running twice, sends once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow
from models.notices.titles import derived_title

# Room for titles.TITLE_MAX with some to spare, should the maximum grow.
TITLE_COLUMN = 100


def _title_of_text(context: DefaultExecutionContext) -> str:
    """A notice stored without a title is called by its first line, as older ones are."""
    # SQLAlchemy leaves this method untyped; it returns the row's parameters as a dict.
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return derived_title(str(parameters.get("text") or ""))


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None when sent from the command line.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # Plain text, at most titles.TITLE_MAX characters: what lists, reminders and receipts show.
    title: Mapped[str] = mapped_column(String(TITLE_COLUMN), default=_title_of_text)
    # Telegram HTML, as the author wrote it (their bold and links kept).
    text: Mapped[str] = mapped_column(Text)
    attachment_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    attachment_file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachment_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # A file uploaded from the command line, kept until Telegram gives it a file_id.
    attachment_blob_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_files.id"), nullable=True
    )
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=True)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Codes of schools in the audience left out because nobody there is connected.
    excluded_schools: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When delivery starts: the moment it was confirmed, or the scheduled time.
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_batches.id"), nullable=True
    )
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # The one automatic reminder: when it is due, and when it went (None: not yet).
    auto_reminder_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    auto_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def purpose(self) -> str:
        return notice_purpose(self.id)


def notice_purpose(notice_id: int) -> str:
    return f"notice:{notice_id}"


class NoticeRecipient(Base):
    __tablename__ = "notice_recipients"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id"), primary_key=True, index=True
    )
    # Where the person was when the notice went out, for counts by school and district.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), nullable=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NoticeDraft(Base):
    """A notice being composed in chat, one per staff member, saved after every step."""

    __tablename__ = "notice_drafts"

    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    step: Mapped[str] = mapped_column(String(20), default="text")
    # Bumped on every change, and carried by preview buttons, so a stale preview cannot send.
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str | None] = mapped_column(String(TITLE_COLUMN), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # None: not asked yet; "none": asked, no attachment; else "document" or "photo".
    attachment_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    attachment_file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachment_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Districts or stages ticked so far while choosing an audience.
    selection: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requires_ack: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # None: not asked yet; "now" or "at" (then scheduled_at).
    send_mode: Mapped[str | None] = mapped_column(String(5), nullable=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
