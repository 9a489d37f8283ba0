"""The outbox's tables: deliveries, the batches that group them, and uploaded files."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, utcnow
from models.outbox.messages import OutMessage


class Status(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


HELD = (Status.CLAIMED.value, Status.SENDING.value)

# Purposes are namespaced strings: "notice:42", "notice:42:remind:1",
# "reminder:round:7:school:12:slot:d-3", "batch:9:report".
PURPOSE_LENGTH = 160
ERROR_LENGTH = 500


class DeliveryBatch(Base):
    """The deliveries one action created (one notice, one reminder run): what progress and
    the final report count, and where the sender's live progress message is."""

    __tablename__ = "delivery_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What created it ("notice", "reminder", ...) and that object's id.
    kind: Mapped[str] = mapped_column(String(40))
    ref_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Shown in progress and report messages, already in the owner's language.
    title: Mapped[str] = mapped_column(String(300), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    language: Mapped[str] = mapped_column(String(10), default="zh_CN")
    # The owner's message that is edited as the batch goes out (None: nobody watches).
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    progress_text: Mapped[str] = mapped_column(Text, default="")
    # Callback data of a "details" button on the final report, e.g. "nv:42".
    details_callback: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutboxFile(Base):
    """A file uploaded from the command line: sent from here once, then by Telegram file_id."""

    __tablename__ = "outbox_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    telegram_file_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # The idempotency key: enqueueing the same purpose for the same chat twice adds nothing.
        UniqueConstraint("purpose", "chat_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id"), nullable=True, index=True
    )
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_batches.id"), nullable=True, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=Status.PENDING.value)
    # Failed tries (RetryAfter does not count); they set the back-off.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The first failure since the row was made or requeued by staff: temporary errors are
    # retried until delivery.retry_for after it (migration 0009).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Parts of a multi-message payload already sent (e.g. a file, then a long text).
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Times the message may have reached Telegram without the bot learning it (the row was
    # found `sending` after its worker died, or the request timed out or its connection
    # broke after it was sent) and was sent again: it may have arrived twice.
    in_doubt: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_error: Mapped[str] = mapped_column(String(ERROR_LENGTH), default="")
    # The id of the last message sent for this row (the one carrying the buttons).
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # Set by claim() on rows found `sending` after their worker died (not stored).
    resumed_in_doubt = False

    @property
    def messages(self) -> list[OutMessage]:
        return [OutMessage.from_json(m) for m in self.payload.get("messages", [])]


def deliveries_table() -> Table:
    """The deliveries as a Core table, for bulk statements."""
    table = Delivery.__table__
    assert isinstance(table, Table)
    return table
