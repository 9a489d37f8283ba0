"""A batch's progress message, edited as its deliveries go out, and the report to its
owner when it is finished (enqueued once, even with several workers)."""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import BadRequest, TelegramError

from models import outbox
from models.base import utcnow
from models.outbox import Button, DeliveryBatch, Outgoing, OutMessage, Progress
from models.roster.tables import Person
from texts.delivery import progress_text, report_text
from texts.i18n import gettext_for

log = logging.getLogger("huibao.delivery")


async def update_progress(bot: Bot, sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Edit each open batch's progress message; finish batches that are done.

    True when a report was enqueued (the worker should look for it now)."""
    async with sessionmaker() as session:
        batches = await outbox.open_batches(session)
        states = [(b, await outbox.progress(session, b.id)) for b in batches]
    enqueued = False
    for batch, state in states:
        if batch.progress_message_id and batch.progress_chat_id and _started(state):
            text = progress_text(batch, state)
            if text != batch.progress_text:
                await _edit_progress(bot, sessionmaker, batch, text)
        if state.total == 0 or state.done:
            enqueued = await _finish(sessionmaker, batch, state) or enqueued
    return enqueued


def _started(state: Progress) -> bool:
    return state.total > 0 and bool(
        state.left < state.total
        or state.counts.get(outbox.Status.SENDING.value, 0)
        or state.counts.get(outbox.Status.CLAIMED.value, 0)
    )


async def _edit_progress(
    bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], batch: DeliveryBatch, text: str
) -> None:
    assert batch.progress_chat_id is not None and batch.progress_message_id is not None
    try:
        await bot.edit_message_text(
            text, chat_id=batch.progress_chat_id, message_id=batch.progress_message_id
        )
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            log.info("progress message not edited", extra={"error": exc.message})
    except TelegramError as exc:
        log.info("progress message not edited", extra={"error": str(exc)})
        return
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(DeliveryBatch).where(DeliveryBatch.id == batch.id).values(progress_text=text)
        )


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession], batch: DeliveryBatch, state: Progress
) -> bool:
    """Mark the batch complete and enqueue its report, once even with several workers."""
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(DeliveryBatch)
            .where(DeliveryBatch.id == batch.id, DeliveryBatch.completed_at.is_(None))
            .values(completed_at=utcnow())
        )
        if not getattr(result, "rowcount", 0) or batch.owner_id is None:
            return False
        owner = await session.get(Person, batch.owner_id)
        if owner is None:
            return False
        report = await _report(session, batch, state)
        await outbox.enqueue(
            session, f"batch:{batch.id}:report", [Outgoing(owner.telegram_id, owner.id, report)]
        )
    log.info(
        "batch finished",
        extra={"batch_id": batch.id, "sent": state.sent, "failed": state.failed,
               "blocked": state.blocked, "in_doubt": state.in_doubt},
    )
    return True


async def _report(
    session: AsyncSession, batch: DeliveryBatch, state: Progress
) -> tuple[OutMessage, ...]:
    problems = await outbox.undelivered(session, batch.id)
    buttons: tuple[tuple[Button, ...], ...] = ()
    if batch.details_callback:
        _ = gettext_for(batch.language)
        buttons = ((Button(_("Details"), callback_data=batch.details_callback),),)
    return (OutMessage(text=report_text(batch, state, problems), keyboard=buttons),)
