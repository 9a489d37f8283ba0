"""Private chats only: in a group or a channel the bot says one line and changes nothing.

Everything Huibao does is about one person (their school, their codes, their reports),
and anything it says in a group is read by every member: an invitation's Confirm
button, a staff screen with names and live codes. So one guard, registered by
handlers/routing.py in the first handler group (GUARD_GROUP), sees every update before any
capability does; no handler, however it was registered, can forget it:

- private chats: the guard does nothing and the update goes on as usual;
- `/help` (and `/help@<this bot>`) in a group goes on too: it shows commands, no data;
- a callback query from a message in a group (or with no chat at all) is answered with an
  alert and goes no further;
- any other command addressed to this bot, a message mentioning it, or a reply to one of
  its messages gets one line, in the person's language, with a button that opens the
  private chat (t.me/<bot>); ordinary group chatter (bots with privacy mode off see it
  all), edits, commands for other bots and anything else get no answer at all, so a busy
  group is not flooded. Nothing is written to the database: the person's language is
  only read.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from models.roster.people import get_person
from texts.i18n import Gettext, gettext_for, language_of
from transport.context import HuibaoContext

log = logging.getLogger("huibao.private")

# The one command that is the same for everyone and shows no data.
ANYWHERE = frozenset({"help"})


async def guard(update: Update, context: HuibaoContext) -> None:
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        return
    message = update.message or update.channel_post
    if update.callback_query is None and message is not None:
        command = _command(message, context.bot.username)
        if command in ANYWHERE:
            return
        if command is not None or _speaks_to_bot(message, context):
            await _ask_for_private_chat(update, context, message)
    elif update.callback_query is not None:
        await _refuse_button(update, context)
    log.info(
        "not a private chat: ignored",
        extra={"update_id": update.update_id, "chat_type": chat.type if chat else None},
    )
    raise ApplicationHandlerStop


def _command(message: Message, bot_username: str) -> str | None:
    """The command a message starts with, if it is addressed to this bot (or to no bot)."""
    entity = next(iter(message.entities), None)
    if entity is None or entity.type != MessageEntity.BOT_COMMAND or entity.offset != 0:
        return None
    name, _at, addressee = message.parse_entity(entity)[1:].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None  # /start@other_bot: not ours to answer
    return name.lower()


def _speaks_to_bot(message: Message, context: HuibaoContext) -> bool:
    """A mention of the bot, or a reply to one of its messages."""
    bot = context.bot
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    mention = "@" + bot.username.lower()
    for entity, text in message.parse_entities(
        [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    ).items():
        if text.lower() == mention or (entity.user is not None and entity.user.id == bot.id):
            return True
    return False


async def _gettext_for_sender(update: Update, context: HuibaoContext) -> Gettext:
    """The sender's gettext: their chosen language if they have one (read only)."""
    user = update.effective_user
    settings = context.services.settings
    person = None
    if user is not None:
        async with context.services.transaction() as session:
            person = await get_person(session, user.id)
    code = user.language_code if user else None
    return gettext_for(language_of(person, settings.bureau.default_language, code))


async def _ask_for_private_chat(
    update: Update, context: HuibaoContext, message: Message
) -> None:
    _ = await _gettext_for_sender(update, context)
    button = InlineKeyboardButton(
        _("Open a private chat"), url=f"https://t.me/{context.bot.username}"
    )
    try:
        await message.reply_text(
            _("Please talk to me in a private chat; here I only answer /help."),
            reply_markup=InlineKeyboardMarkup([[button]]),
        )
    except TelegramError:
        # No right to write here (a channel, a muted bot): nothing else to do.
        log.info("could not answer in a group", extra={"update_id": update.update_id})


async def _refuse_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = await _gettext_for_sender(update, context)
    try:
        await query.answer(
            _("Buttons work only in a private chat with me. Nothing was changed."),
            show_alert=True,
        )
    except TelegramError:
        log.info("could not refuse a group button", extra={"update_id": update.update_id})
