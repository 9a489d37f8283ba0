"""The automatic reminder of a notice: once, after the delay, to those who got it and have
not acknowledged it, never in quiet hours.

Run by the leader's tick (scheduler/tick.py), so one process sends them; the purpose
"notice:<id>:auto" is the once-only record, so a tick running twice enqueues once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import transaction
from models.notices.sending import enqueue_reminders
from models.notices.tables import Notice
from texts.notices.messages import ReminderRenderer

log = logging.getLogger("huibao.notices")


async def due_notices(session: AsyncSession, now: datetime) -> list[Notice]:
    return list((await session.execute(
        select(Notice)
        .where(
            Notice.requires_ack.is_(True),
            Notice.auto_reminder_due.is_not(None),
            Notice.auto_reminder_due <= now,
            Notice.auto_reminded_at.is_(None),
        )
        .order_by(Notice.id)
    )).scalars())


async def send_due(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], now: datetime
) -> int:
    """Enqueue every automatic reminder that is due; returns how many people get one."""
    bureau = settings.bureau
    render = ReminderRenderer(bureau.name, bureau.default_language, bureau.tz, bureau.name_en)
    total = 0
    async with transaction(sessionmaker) as session:
        for notice in await due_notices(session, now):
            allowed = settings.quiet_until(now)
            if allowed > now:
                # Due late (the bot was down) into the night: wait for the morning.
                notice.auto_reminder_due = allowed
                continue
            count = await enqueue_reminders(session, notice, f"{notice.purpose}:auto", render)
            notice.auto_reminded_at = now
            total += count
            log.info("automatic reminder", extra={"notice_id": notice.id, "recipients": count})
    return total
