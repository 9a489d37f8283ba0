"""Sending again what failed for good, by purpose (a notice's, a round's deliveries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox.tables import Delivery, Status


@dataclass(frozen=True)
class Requeued:
    failed: int = 0
    blocked: int = 0

    @property
    def total(self) -> int:
        return self.failed + self.blocked


def purpose_of_notice(notice_id: int) -> Any:
    """The deliveries of one notice: the notice itself and its reminders."""
    return or_(
        Delivery.purpose == f"notice:{notice_id}",
        Delivery.purpose.like(f"notice:{notice_id}:%"),
    )


# What is sent about a collection round, by purpose prefix: its announcement, extensions,
# closing and scheduled opening slots ("round:7:announce"), the reminders, escalations and
# summaries of the reminder schedule (scheduler/tick.py) and staff's "remind now" taps
# (models/followup/remind_now.py). Each is followed by ":{round id}:", so round 1 never matches 12.
ROUND_PURPOSES = ("round", "reminder", "escalation", "summary", "remind-now")


def purpose_of_round(round_id: int) -> Any:
    """The deliveries about one collection round, whatever sent them."""
    return or_(
        *(
            or_(Delivery.purpose == f"{kind}:{round_id}",
                Delivery.purpose.like(f"{kind}:{round_id}:%"))
            for kind in ROUND_PURPOSES
        )
    )


async def count_unreached(session: AsyncSession, which: Any) -> Requeued:
    """How many deliveries matching `which` failed for good, and how many of those were
    refused because the person blocked the bot: what requeue_failed would put back."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(case((Delivery.status == Status.BLOCKED.value, 1), else_=0)), 0
                ),
            ).where(which, Delivery.status.in_([Status.FAILED.value, Status.BLOCKED.value]))
        )
    ).one()
    total, blocked = int(row[0]), int(row[1])
    return Requeued(failed=total - blocked, blocked=blocked)


async def requeue_failed(session: AsyncSession, which: Any, now: datetime) -> Requeued:
    """Staff ask to try again the deliveries matching `which` that failed for good.

    Failed rows (retry budget used up, or refused) and blocked ones both go back to
    pending with a fresh retry budget: a person who blocked the bot may have unblocked it
    since; if not, Telegram refuses again at once and the row is blocked again. Rows
    still pending, sending or sent are not touched, so nothing delivered is repeated.
    """
    result = await session.execute(
        update(Delivery)
        .where(which, Delivery.status.in_([Status.FAILED.value, Status.BLOCKED.value]))
        .values(
            status=Status.PENDING.value,
            attempts=0,
            failing_since=None,
            next_attempt_at=now,
            lease_until=None,
            claim_token=None,
        )
        .returning(Delivery.last_error)
        .execution_options(synchronize_session=False)
    )
    errors = [row[0] for row in result.all()]
    blocked = sum(1 for error in errors if error.startswith("Forbidden"))
    return Requeued(failed=len(errors) - blocked, blocked=blocked)
