"""Redeeming an invitation: deep link, `/start CODE`, or the code typed as a message.

The bot shows what the code would make of the person ("you are joining as principal of
<school>, <district>") with Confirm / Cancel; only Confirm binds. The Confirm button
carries a one-time nonce, never the code: the offer (which invite, for whom) stays in the
database (models.roster.invites.InviteOffer), so a button pressed by anyone but the person who
sent the code, a forged or reused nonce, or an older offer's button is refused and changes
nothing. The invite is checked again on Confirm. All of this happens in private chats
only (handlers/private.py).

Typed codes: handlers/routing.py hands typed_text the plain text of people with **no
role** who are in no round set-up; it answers the code, or a hint how to join. Everyone
who can be in a report or any other conversation has a role, and their text goes to that
conversation: a principal typing "1234" into a report is never read as a code, and a
newcomer's code never reaches a conversation. People who already have a role join with a
second invitation by its link or `/start CODE`.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from handlers import menu
from handlers.context import Who, unit
from models.roster.invites import (
    Check,
    Outcome,
    Throttle,
    check_code,
    looks_like_code,
    make_offer,
    redeem_offer,
    withdraw_offer,
)
from models.roster.tables import Person, Role
from texts.admin import invited_as
from texts.callbacks import CancelInvite, ConfirmInvite
from texts.i18n import gettext_for, language_of
from texts.labels import role_label
from texts.when import show
from transport.context import HuibaoApp, HuibaoContext

# What models.roster.invites.make_offer's nonces look like (secrets.token_urlsafe(16)).
NONCE_LENGTH = 22
NONCE_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


def _throttle(context: HuibaoContext) -> Throttle:
    settings = context.services.settings.invites
    return Throttle(settings.max_wrong_codes, timedelta(minutes=settings.wrong_code_window_minutes))


def describe(check: Check, who: Who, bureau: str) -> str:
    """'principal of <school>, <district>' for the invite in a check."""
    assert check.invite is not None
    return invited_as(who._, check.invite.role, check.school, check.district, bureau)


def refusal_text(check: Check, who: Who, context: HuibaoContext) -> str:
    _ = who._
    ask = _("Please ask the bureau for a new invitation.")
    outcome = check.outcome
    if outcome is Outcome.THROTTLED:
        assert check.retry_at is not None
        return _(
            "Too many codes that did not work. For your security, please wait and try "
            "again after {time}."
        ).format(time=show(check.retry_at, context.services.settings.bureau.tz, "clock"))
    if outcome is Outcome.STALE:
        return _(
            "This button is no longer valid. Open the invitation link again, or type the "
            "invitation code here."
        )
    if outcome is Outcome.UNKNOWN:
        return _(
            "This invitation code is not valid. Please check it: a code has 16 letters "
            "and digits, like ABCD-EFGH-JKMN-PQRS."
        ) + "\n" + _("If it still does not work, ask the bureau for a new invitation.")
    assert check.invite is not None
    if outcome is Outcome.USED:
        invite, person = check.invite, who.person
        still_bound = (person.role, person.school_id) == (invite.role, invite.school_id)
        if invite.used_by == person.id and still_bound:
            return _("You have already joined with this invitation.") + " " + _(
                "Send /menu to see your home screen."
            )
        return _("This invitation has already been used.") + " " + ask
    if outcome is Outcome.EXPIRED:
        return _("This invitation expired on {date}.").format(
            date=show(
                check.invite.expires_at, context.services.settings.bureau.tz, "date",
                who.language, context.now(),
            )
        ) + " " + ask
    if outcome is Outcome.REVOKED:
        return _(
            "This invitation was replaced by a newer one. Please use the latest invitation "
            "from the bureau."
        )
    if outcome is Outcome.CLOSED:
        assert check.school is not None
        return _(
            "{school} is marked as closed, so it cannot be joined. Please contact the bureau."
        ).format(school=escape(check.school.name))
    if outcome is Outcome.TAKEN:
        assert check.school is not None
        return _(
            "{school} already has a principal connected. If you are the new principal, "
            "ask the bureau for an invitation that replaces the previous one."
        ).format(school=escape(check.school.name))
    return _("This invitation cannot be used.") + " " + ask


def offer_text(check: Check, who: Who, context: HuibaoContext) -> str:
    _ = who._
    bureau = context.services.settings.bureau.name_in(who.language)
    lines = [
        _("Hello, {name}!").format(name=escape(who.person.name or "")),
        _("You are joining as {what}.").format(what=describe(check, who, bureau)),
    ]
    if check.current_principal is not None:
        lines.append(_("This invitation replaces the school's current principal."))
    if who.role is not Role.NONE:
        lines.append(
            _("You are now {role}; confirming changes that.").format(
                role=role_label(who.person.role, _)
            )
        )
    lines.append(_("Is this right?"))
    return "\n\n".join(lines)


async def offer(update: Update, context: HuibaoContext, text: str) -> None:
    """Show what a code would do, with Confirm / Cancel, or say why it cannot be used."""
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        check = await check_code(
            session, text, who.person.telegram_id, now=context.now(), throttle=_throttle(context)
        )
        nonce = ""
        if check.ok:
            assert check.invite is not None
            nonce = await make_offer(session, who.person, check.invite, now=context.now())
            reply = offer_text(check, who, context)
        else:
            reply = refusal_text(check, who, context)
    if not check.ok:
        await message.reply_text(reply)
        return
    _ = who._
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Confirm"), callback_data=ConfirmInvite(nonce).pack()),
                InlineKeyboardButton(_("Cancel"), callback_data=CancelInvite(nonce).pack()),
            ]
        ]
    )
    await message.reply_text(reply, reply_markup=buttons)


async def confirm(update: Update, context: HuibaoContext, button: ConfirmInvite) -> None:
    query = update.callback_query
    assert query is not None
    replaced: Person | None = None
    async with unit(update, context) as (session, who):
        check = await redeem_offer(session, button.nonce, who.person, now=context.now())
        if check.ok:
            replaced = check.current_principal
            bureau = context.services.settings.bureau.name_in(who.language)
            text = "\n\n".join(
                [
                    who._("Welcome! You are now {what}.").format(
                        what=describe(check, who, bureau)
                    ),
                    who._("Send /menu to see what is waiting for you."),
                ]
            )
        else:
            text = refusal_text(check, who, context)
    if check.outcome is Outcome.STALE:
        # Not this person's live offer: say so, and leave the message (it may be someone
        # else's, or the person's newer offer may be below it) as it is.
        await query.answer(text, show_alert=True)
        return
    if not check.ok:
        await query.answer(text, show_alert=True)
        await _edit(query, text)
        return
    await query.answer()
    await _edit(query, text)
    await menu.refresh_for(context, who)
    if replaced is not None:
        await _tell_replaced(context, replaced, check)


async def _edit(query: object, text: str) -> None:
    try:
        await query.edit_message_text(text)  # type: ignore[attr-defined]
    except TelegramError:
        pass  # the message may be too old to edit; the alert already said it


async def _tell_replaced(context: HuibaoContext, person: Person, check: Check) -> None:
    """The previous principal learns they were replaced, and loses the principal's menu."""
    language = language_of(person, context.services.settings.bureau.default_language)
    _ = gettext_for(language)
    school = escape(check.school.name) if check.school else ""
    await menu.refresh_commands(context.bot, person.telegram_id, Role.NONE, language)
    try:
        await context.bot.send_message(
            person.telegram_id,
            _(
                "You are no longer the principal of {school} in this bot: the bureau "
                "invited a new principal. If this is a mistake, please contact the bureau."
            ).format(school=school),
        )
    except TelegramError:
        pass  # they may have blocked the bot; the audit log has the change


def could_be_nonce(nonce: str) -> bool:
    """Whether make_offer could have made this nonce: anything else is forged data."""
    return len(nonce) == NONCE_LENGTH and set(nonce) <= NONCE_CHARACTERS


async def cancel(update: Update, context: HuibaoContext, button: CancelInvite) -> None:
    query = update.callback_query
    assert query is not None
    nonce = button.nonce
    async with unit(update, context) as (session, who):
        if nonce is not None and could_be_nonce(nonce):
            await withdraw_offer(session, who.person, nonce)
        text = who._("Cancelled. Nothing was changed.")
    if nonce is not None and not could_be_nonce(nonce):
        await menu.stale(update, who)
        return
    await query.answer()
    await _edit(query, text)


async def typed_text(update: Update, context: HuibaoContext) -> None:
    """Plain text from someone without a role (routing.Doing.JOINING): an invitation code,
    or a hint how to join."""
    message = update.effective_message
    if message is None or not message.text:
        return
    async with unit(update, context) as (_session, who):
        newcomer = who.role is Role.NONE
        hint = who._(
            "To connect your school, open the invitation link the bureau sent you, or type "
            "the invitation code here (16 letters and digits, like ABCD-EFGH-JKMN-PQRS)."
        )
    if not newcomer:
        return  # given a role since the router read them: not a joining text any more
    if looks_like_code(message.text):
        await offer(update, context, message.text)
    else:
        await message.reply_text(hint)


def register(app: HuibaoApp) -> None:
    # Typed codes come through handlers/routing.py (typed_text).
    # Everyone may press these: the presser's own offer, found by the nonce, is the
    # authorization (see redeem_offer).
    example = "A" * NONCE_LENGTH
    menu.add_button(app, ConfirmInvite, confirm, menu.EVERYONE, example=ConfirmInvite(example))
    menu.add_button(app, CancelInvite, cancel, menu.EVERYONE, example=CancelInvite(example))
