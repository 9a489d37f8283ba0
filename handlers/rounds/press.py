"""One way to answer a press of a /round button: the work runs in the update's
transaction; what it asks for (an alert, a new screen, waking the delivery worker) is
done after the commit (DESIGN principle 7)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.error import TelegramError

from handlers.context import Who, unit
from handlers.report_view import Rendered
from transport.context import HuibaoContext, Services

Origin = tuple[int, int] | None
"""(chat id, message id) of the pressed message."""


@dataclass
class Outcome:
    """What the press does once the update's transaction has committed."""

    answer: str | None = None
    """The answer to the press; an alert unless `alert` is False."""
    alert: bool = True
    reply: Rendered | None = None
    """A new screen: a new message, or the pressed one changed when `in_place`."""
    in_place: bool = False
    wake: bool = False
    """Deliveries were queued: wake the delivery worker."""
    edit: str | None = None
    """New text for the pressed message (buttons removed)."""


def refused(text: str) -> Outcome:
    return Outcome(answer=text)


def screen(reply: Rendered, *, wake: bool = False, in_place: bool = False) -> Outcome:
    return Outcome(reply=reply, wake=wake, in_place=in_place)


Work = Callable[[AsyncSession, Services, Who, Origin], Awaitable[Outcome]]


async def press(update: Update, context: HuibaoContext, work: Work) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    message = query.message
    origin = (message.chat.id, message.message_id) if isinstance(message, Message) else None
    async with unit(update, context) as (session, who):
        outcome = await work(session, services, who, origin)
    # Committed: what was queued may go out now.
    if outcome.wake:
        services.wake_outbox()
    await query.answer(outcome.answer, show_alert=outcome.answer is not None and outcome.alert)
    if not isinstance(message, Message):
        return
    if outcome.edit is not None:
        await message.edit_text(outcome.edit)
    reply = outcome.reply
    if reply is None:
        return
    if outcome.in_place:
        # The same screen changes (a tick, a retry) rather than one more being added.
        with contextlib.suppress(TelegramError):
            await message.edit_text(reply.text, reply_markup=reply.markup)
    else:
        await message.reply_text(reply.text, reply_markup=reply.markup)
