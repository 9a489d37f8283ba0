"""Telegram out for notices: Bot API calls prepared inside a transaction and made after it
has committed (a slow Telegram must never keep a transaction, on SQLite the one write
lock, open), and the messages texts/notices built, sent as the outbox worker would."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, TelegramError

from models.outbox import OutboxFile, OutMessage
from transport.context import HuibaoContext, Services
from transport.markup import keyboard_markup

log = logging.getLogger("huibao.notices")

Send = Callable[[], Awaitable[object]]


async def run_sends(sends: Sequence[Send]) -> None:
    for send in sends:
        await send()


async def refuse(query: CallbackQuery, text: str) -> None:
    try:
        await query.answer(text, show_alert=True)
    except TelegramError:
        log.warning("could not send a refusal")


def refusal(query: CallbackQuery, text: str) -> list[Send]:
    return [partial(refuse, query, text)]


async def ask(
    context: HuibaoContext,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    query: CallbackQuery | None,
) -> None:
    """A question: in place of the pressed message when there is one, else a new message."""
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
    await context.bot.send_message(chat_id, text, reply_markup=markup)


async def unmark(query: CallbackQuery | None) -> None:
    """The question answered: leave it as a record, without its buttons."""
    if query is not None and query.message is not None:
        try:
            await query.edit_message_reply_markup(None)
        except TelegramError:
            pass


async def send_out_message(context: HuibaoContext, chat_id: int, message: OutMessage) -> Message:
    """Send one rendered message directly (previews, /notices), as the worker would."""
    markup = keyboard_markup(message.keyboard) if message.keyboard else None
    reply = (
        ReplyParameters(message.reply_to_message_id, allow_sending_without_reply=True)
        if message.reply_to_message_id
        else None
    )
    if message.kind == "text":
        return await context.bot.send_message(
            chat_id, message.text, parse_mode=message.parse_mode, reply_markup=markup,
            reply_parameters=reply,
        )
    file: str | None = message.file_id
    if file is None and message.file_blob_id is not None:
        file = await blob_file_id(context.services, message.file_blob_id)
    if file is None:
        return await context.bot.send_message(chat_id, message.text, reply_markup=markup)
    send = context.bot.send_photo if message.kind == "photo" else context.bot.send_document
    return await send(
        chat_id, file, caption=message.text or None, parse_mode=message.parse_mode,
        reply_markup=markup, reply_parameters=reply,
    )


async def blob_file_id(services: Services, blob_id: int) -> str | None:
    async with services.sessionmaker() as session:
        blob = await session.get(OutboxFile, blob_id)
        return blob.telegram_file_id if blob is not None else None
