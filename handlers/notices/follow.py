"""Notices that went out: principals acknowledge them and open them again; staff list them,
follow one, remind those who have not acknowledged and send again to those not reached;
the home screen's section. Each handler calls one core function (models/notices/) and sends
what texts/notices/follow.py built."""

from __future__ import annotations

import contextlib
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, Update
from telegram.error import BadRequest, TelegramError

from handlers import menu
from handlers.context import Who, unit
from handlers.notices.replies import log, refusal, refuse, run_sends, send_out_message
from models.notices.acks import (
    ack_counts,
    acknowledge,
    notice_stats,
    notices_for,
    recent_notices,
)
from models.notices.sending import Refused, is_recipient, remind, retry
from models.notices.tables import Notice
from models.outbox import Button, undelivered
from texts.callbacks import (
    Acknowledge,
    ListNotices,
    OpenNotice,
    RemindNotice,
    RetryNotice,
    ViewNotice,
)
from texts.delivery import requeued_text
from texts.i18n import people
from texts.notices import follow
from texts.notices.compose import send_refusal, stale_text
from texts.notices.messages import (
    ReminderRenderer,
    acknowledged_keyboard,
    opened_messages,
)
from transport.context import HuibaoContext, Services
from transport.markup import keyboard_markup

LIST_LIMIT = 10
Rows = tuple[tuple[Button, ...], ...]


# --- acknowledgements and opening a notice again ------------------------------------------


async def ack_button(update: Update, context: HuibaoContext, button: Acknowledge) -> None:
    query = update.callback_query
    assert query is not None
    tz = context.services.settings.bureau.tz
    async with unit(update, context) as (session, who):
        outcome, recipient, notice = await acknowledge(
            session, button.notice_id, who.person.id, context.now()
        )
        at = recipient.acknowledged_at if recipient is not None else None
        title = notice.title if notice is not None else ""
        text = follow.ack_answer(outcome, at, tz, who._, title)
    if outcome.value == "not_recipient":
        await refuse(query, text)
    elif outcome.value != "recorded":
        await query.answer(text)
    else:
        assert at is not None
        await query.answer(text)
        keyboard = acknowledged_keyboard(who.language, at, tz, button.pack())
        await mark_acknowledged(query, keyboard, button.notice_id)


async def mark_acknowledged(query: CallbackQuery, keyboard: Rows, notice_id: int) -> None:
    try:
        await query.edit_message_reply_markup(keyboard_markup(keyboard))
    except TelegramError:
        # The acknowledgement is stored; an old message that cannot be edited is no problem.
        log.info("acknowledged message not edited", extra={"notice_id": notice_id})


async def open_button(update: Update, context: HuibaoContext, button: OpenNotice) -> None:
    """A principal opens a notice again: the text, the file and the button, as first sent."""
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    settings = context.services.settings
    async with unit(update, context) as (session, who):
        found = await is_recipient(session, button.notice_id, who.person.id, context.now())
        if found is None:
            sends = refusal(query, who._("This notice was not addressed to you."))
        else:
            notice, recipient = found
            messages = opened_messages(notice, who.language, settings.bureau.name_in(who.language),
                                       settings.bureau.tz, recipient.acknowledged_at)
            sends = [query.answer,
                     *(partial(send_out_message, context, chat.id, m) for m in messages)]
    await run_sends(sends)


# --- lists ------------------------------------------------------------------------------------


async def listing(session: AsyncSession, who: Who, context: HuibaoContext) -> tuple[str, Rows]:
    tz = context.services.settings.bureau.tz
    if who.role.is_staff:
        notices = await recent_notices(session, LIST_LIMIT)
        counts = await ack_counts(session, [n.id for n in notices])
        return follow.staff_list(notices, counts, tz, who._)
    items = await notices_for(session, who.person.id, context.now(), LIST_LIMIT)
    return follow.school_list(items, tz, who._)


async def notices_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        text, rows = await listing(session, who, context)
    await message.reply_text(text, reply_markup=keyboard_markup(rows) if rows else None)


async def list_button(update: Update, context: HuibaoContext, _button: ListNotices) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    async with unit(update, context) as (session, who):
        text, rows = await listing(session, who, context)
    await query.answer()
    await context.bot.send_message(
        chat.id, text, reply_markup=keyboard_markup(rows) if rows else None
    )


async def render_section(session: AsyncSession, who: Who, services: Services) -> menu.Block | None:
    tz = services.settings.bureau.tz
    if who.role.is_staff:
        latest = next(iter(await recent_notices(session, 1)), None)
        counts = (0, 0)
        if latest is not None:
            counts = (await ack_counts(session, [latest.id])).get(latest.id, (0, 0))
        block: follow.HomeBlock | None = follow.staff_home(latest, counts, who._)
    else:
        items = await notices_for(session, who.person.id, services.now(), LIST_LIMIT)
        block = follow.school_home(items, tz, who._)
    return menu.Block(block.lines, block.buttons) if block is not None else None


# --- staff: one notice, reminders, sending again ----------------------------------------------


async def staff_view(
    session: AsyncSession, notice: Notice, who: Who, context: HuibaoContext
) -> tuple[str, Rows]:
    stats = await notice_stats(session, notice)
    unreached = (
        await undelivered(session, notice.batch_id) if notice.batch_id is not None else []
    )
    tz = context.services.settings.bureau.tz
    return follow.staff_view(notice, stats, context.now(), tz, who._, unreached)


async def view_button(update: Update, context: HuibaoContext, button: ViewNotice) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    async with unit(update, context) as (session, who):
        notice = await session.get(Notice, button.notice_id)
        if notice is None:
            await_refusal: str | None = stale_text(who._)
        else:
            await_refusal = None
            text, rows = await staff_view(session, notice, who, context)
    if await_refusal is not None:
        await refuse(query, await_refusal)
        return
    await query.answer()
    if button.refresh:
        try:
            await query.edit_message_text(text, reply_markup=keyboard_markup(rows))
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
        return
    await context.bot.send_message(chat.id, text, reply_markup=keyboard_markup(rows))


async def remind_button(update: Update, context: HuibaoContext, button: RemindNotice) -> None:
    """Staff remind those who have not acknowledged; the k-th press of a notice sends once."""
    query = update.callback_query
    assert query is not None
    bureau = context.services.settings.bureau
    render = ReminderRenderer(bureau.name, bureau.default_language, bureau.tz, bureau.name_en)
    async with unit(update, context) as (session, who):
        done = await remind(session, button.notice_id, button.k, render, who.person.id)
        if not isinstance(done, Refused):
            text, rows = await staff_view(session, done[0], who, context)
    if isinstance(done, Refused):
        await refuse(query, send_refusal(done, who._))
        return
    context.services.wake_outbox()
    told = who._("Reminder on its way to {people}.").format(people=people(who._, done[1]))
    await query.answer(told)
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(text, reply_markup=keyboard_markup(rows))


async def retry_button(update: Update, context: HuibaoContext, button: RetryNotice) -> None:
    """Staff send a notice again to those it did not reach (failed, or blocked the bot)."""
    query = update.callback_query
    assert query is not None
    async with unit(update, context) as (session, who):
        done = await retry(session, button.notice_id, context.now(), who.person.id)
        if not isinstance(done, Refused):
            text, rows = await staff_view(session, done[0], who, context)
    # Committed: now Telegram.
    if isinstance(done, Refused):
        await refuse(query, send_refusal(done, who._))
        return
    again = done[1]
    context.services.wake_outbox()
    await query.answer(requeued_text(who._, again), show_alert=bool(again.blocked))
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(text, reply_markup=keyboard_markup(rows))

