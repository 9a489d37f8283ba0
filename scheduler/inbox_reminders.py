"""The one reminder of a question left unanswered: after `inbox.remind_after_working_days`
working days (bureau time), to whoever may answer it (the colleague it was handed to, or
all staff and the district's officers), never in quiet hours.

Run by the leader's tick (scheduler/tick.py). The purpose "inbox:remind:<id>:<since>" is the
once-only record for one wait, so a tick running twice enqueues once; an answer ends the
wait, and a later unanswered message starts a new one with a reminder of its own.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import transaction
from models.inbox.tables import Question
from models.inbox.threads import answerers, due_reminders
from models.outbox import Outgoing, OutMessage, enqueue
from models.outbox.messages import Button
from models.roster.tables import School
from texts import inbox as words
from texts.callbacks import OpenQuestion
from texts.i18n import gettext_for, language_of

log = logging.getLogger("huibao.inbox")


async def send_due(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], now: datetime
) -> int:
    """Enqueue the reminder of every question due one; returns how many people get one."""
    bureau = settings.bureau
    days = settings.inbox.remind_after_working_days
    if settings.quiet_until(now) > now:
        return 0  # the next tick after the night sends it
    total = 0
    async with transaction(sessionmaker) as session:
        for question in await due_reminders(session, now, days, bureau.tz):
            total += await _remind(session, settings, question, days)
            question.reminded_at = now
    if total:
        log.info("inbox reminders", extra={"recipients": total})
    return total


async def _remind(
    session: AsyncSession, settings: Settings, question: Question, days: int
) -> int:
    school = await session.get(School, question.school_id)
    if school is None:
        return 0
    items = []
    for person in await answerers(session, school, question.assigned_to):
        language = language_of(person, settings.bureau.default_language)
        _ = gettext_for(language)
        button = Button(_("Open"), OpenQuestion(question.id).pack())
        text = words.reminder(_, language, school.name, days)
        items.append(Outgoing(person.telegram_id, person.id,
                              (OutMessage(text=text, keyboard=((button,),)),)))
    since = question.waiting_since.strftime("%Y%m%d%H%M%S") if question.waiting_since else ""
    return await enqueue(session, f"inbox:remind:{question.id}:{since}", items)
