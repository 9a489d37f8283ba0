"""/phone: anyone connected gives (or changes, or removes) their own phone number, by
typing it after the command or by sharing their contact with Telegram's button.

A shared contact is taken only when it is the sender's own (Telegram's contact carries
the user id of the person it describes): forwarding a colleague's card changes nothing.
The rule (what a number is, the audit) is models/roster/phones.py; the words texts/contacts.py.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import MessageHandler, filters

from handlers import menu
from handlers.context import unit
from models.roster.phones import normalise, set_phone
from models.roster.tables import Person
from texts import contacts as texts
from texts.i18n import N_, Gettext
from transport.context import HuibaoApp, HuibaoContext

CLEAR_WORDS = frozenset({"clear", "remove", "delete", "none", "-", "清除", "删除", "无"})
Markup = ReplyKeyboardMarkup | ReplyKeyboardRemove


def _share_keyboard(_: Gettext) -> ReplyKeyboardMarkup:
    button = KeyboardButton(texts.share_button(_), request_contact=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)


async def phone_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    typed = " ".join(context.args or []).strip()
    markup: Markup
    async with unit(update, context) as (session, who):
        _ = who._
        if not typed:
            text, markup = texts.phone_screen(_, who.person.phone), _share_keyboard(_)
        elif typed.lower() in CLEAR_WORDS:
            changed = await set_phone(session, who.person, None, via="command")
            text = texts.phone_cleared(_) if changed else texts.nothing_to_clear(_)
            markup = ReplyKeyboardRemove()
        else:
            text, markup = await _store(session, who.person, typed, _, via="command")
    await message.reply_text(text, reply_markup=markup)


async def _store(
    session: AsyncSession, person: Person, typed: str, _: Gettext, *, via: str
) -> tuple[str, Markup]:
    phone = normalise(typed)
    if phone is None:
        return texts.phone_invalid(_, typed), _share_keyboard(_)
    if not await set_phone(session, person, phone, via=via):
        return texts.phone_unchanged(_, phone), ReplyKeyboardRemove()
    return texts.phone_saved(_, phone), ReplyKeyboardRemove()


async def on_contact(update: Update, context: HuibaoContext) -> None:
    """A shared contact: the sender's own number is stored; anyone else's is refused."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and message.contact is not None and user is not None
    contact = message.contact
    markup: Markup
    async with unit(update, context) as (session, who):
        _ = who._
        if contact.user_id != user.id:
            text, markup = texts.not_your_contact(_), _share_keyboard(_)
        else:
            text, markup = await _store(
                session, who.person, contact.phone_number, _, via="contact"
            )
    await message.reply_text(text, reply_markup=markup)


def register(app: HuibaoApp) -> None:
    menu.add_command(app, "phone", phone_command, N_("Give your phone number"), menu.CONNECTED,
                     order=90)
    # A contact is no text, so the router (handlers/routing.py) never takes it.
    app.add_handler(MessageHandler(filters.CONTACT, menu.guarded(on_contact, menu.CONNECTED)))
