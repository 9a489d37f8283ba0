"""/start, /help and /language: the first things anyone sees.

`/start CODE` (what a deep link t.me/<bot>?start=CODE sends) redeems an invitation
through handlers.onboarding; plain /start greets.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from handlers import menu, onboarding
from handlers.context import Who, unit
from models.roster.invites import looks_like_code
from models.roster.tables import Role
from texts.callbacks import ChooseLanguage
from texts.commands import BASE_COMMANDS
from texts.i18n import LANGUAGES, gettext_for
from transport.context import HuibaoApp, HuibaoContext

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def welcome_text(who: Who, bureau: str) -> str:
    _ = who._
    name = escape(who.person.name or "")
    lines = [
        _("Hello, {name}! This is the reporting assistant of {bureau}.").format(
            name=name, bureau=escape(bureau)
        )
    ]
    if who.role is Role.NONE:
        lines.append(
            _(
                "To connect your school, open the invitation link the bureau sent you, "
                "or type the invitation code here."
            )
        )
    lines.append(_("Send /help to see what you can do, and /language to change the language."))
    return "\n\n".join(lines)


def help_text(who: Who) -> str:
    _ = who._
    lines = [_("<b>What you can do</b>")]
    lines.append(_("/menu: your home screen"))
    lines.append(_("/language: choose 中文 or English"))
    lines.append(_("/help: this list"))
    # The commands of the person's role, as registered by each capability.
    base = {name for name, _description in BASE_COMMANDS}
    for name, description in menu.commands_for(who.role):
        if name not in base:
            # Through gettext too, so the colon is the reader's (：in Chinese).
            lines.append(
                _("/{command}: {description}").format(command=name, description=_(description))
            )
    return "\n".join(lines)


async def start(update: Update, context: HuibaoContext) -> None:
    assert update.effective_message is not None
    payload = " ".join(context.args or [])
    if payload and looks_like_code(payload):
        # A deep link t.me/<bot>?start=<code> arrives as "/start <code>". Payloads that
        # cannot be invitation codes fall through to the greeting.
        await onboarding.offer(update, context, payload)
        return
    async with unit(update, context) as (_session, who):
        text = welcome_text(who, context.services.settings.bureau.name_in(who.language))
    await update.effective_message.reply_text(text)
    await menu.refresh_for(context, who)


async def help_command(update: Update, context: HuibaoContext) -> None:
    assert update.effective_message is not None
    async with unit(update, context) as (_session, who):
        text = help_text(who)
    markup = None
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        # The one command answered in groups (handlers/private.py): the rest is private.
        text += "\n\n" + who._("Everything else works only in a private chat with me.")
        button = InlineKeyboardButton(
            who._("Open a private chat"), url=f"https://t.me/{context.bot.username}"
        )
        markup = InlineKeyboardMarkup([[button]])
    await update.effective_message.reply_text(text, reply_markup=markup)


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    LANGUAGE_NAMES[code], callback_data=ChooseLanguage(code).pack()
                )
                for code in LANGUAGES
            ]
        ]
    )


async def language_command(update: Update, context: HuibaoContext) -> None:
    assert update.effective_message is not None
    async with unit(update, context) as (_session, who):
        text = who._("Choose your language:")
    await update.effective_message.reply_text(text, reply_markup=language_keyboard())


async def language_chosen(
    update: Update, context: HuibaoContext, button: ChooseLanguage
) -> None:
    query = update.callback_query
    assert query is not None
    choice = button.code
    async with unit(update, context) as (_session, who):
        known = choice in LANGUAGES
        if known:
            who.person.language = choice
    if not known:
        # Callback data is untrusted: a forged value changes nothing.
        await query.answer(who._("This button is no longer valid."), show_alert=True)
        return
    _ = gettext_for(choice)
    await query.answer()
    await query.edit_message_text(
        _("Language set to {language}.").format(language=LANGUAGE_NAMES[choice])
    )
    # The command menu is per chat and per language; follow the new choice.
    await menu.refresh_commands(context.bot, who.person.telegram_id, who.role, choice)


def register(app: HuibaoApp) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("language", language_command))
    # Anyone may choose their language, a newcomer included.
    menu.add_button(
        app, ChooseLanguage, language_chosen, menu.EVERYONE, example=ChooseLanguage("en")
    )
