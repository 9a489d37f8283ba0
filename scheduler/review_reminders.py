"""The reminder of district review: a report that has waited longer than
`review.remind_after_hours` in a reviewer's queue is reminded once, in one message per
reviewer (the district's officers, or the bureau's staff where the district has none)
naming how many reports wait, never in quiet hours.

Run by the leader's tick (scheduler/tick.py). Each review is reminded once per wait
(`reminded_at`, cleared when a resubmission starts a new wait); the purpose key names the
district and the newest review reminded, so a tick running twice enqueues once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import transaction
from models.outbox import Outgoing, OutMessage, enqueue
from models.outbox.messages import Button
from models.review.rules import due_reminders, reviewers
from models.review.tables import SubmissionReview
from texts import review as words
from texts.callbacks import ReviewList
from texts.i18n import gettext_for, language_of

log = logging.getLogger("huibao.review")


async def send_due(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], now: datetime
) -> int:
    """Enqueue the reminders due; returns how many people get one."""
    hours = settings.review.remind_after_hours
    if hours <= 0:
        return 0
    if settings.quiet_until(now) > now:
        return 0  # the next tick after the night sends it
    total = 0
    async with transaction(sessionmaker) as session:
        due = await due_reminders(session, now, timedelta(hours=hours))
        for district_id, waiting in due.items():
            total += await _remind(session, settings, district_id, waiting, hours)
            for review in waiting:
                review.reminded_at = now
    if total:
        log.info("review reminders", extra={"recipients": total})
    return total


async def _remind(
    session: AsyncSession, settings: Settings, district_id: int,
    waiting: list[SubmissionReview], hours: int,
) -> int:
    items = []
    for person in await reviewers(session, district_id):
        _ = gettext_for(language_of(person, settings.bureau.default_language))
        button = Button(_("« Reports to review"), ReviewList().pack())
        items.append(Outgoing(person.telegram_id, person.id, (OutMessage(
            text=words.reminder(_, len(waiting), hours), keyboard=((button,),)),)))
    newest = max(review.id for review in waiting)
    return await enqueue(session, f"review:remind:{district_id}:{newest}", items)
