"""Phones: how a school's numbers are shown in the lists staff call from, and what /phone
tells the person giving their own number.

The numbers are shown only to those the caller has checked may see them (bureau staff,
the school's district officers: models.roster.phones.may_see_phones); every list here
is one of theirs."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from models.roster.phones import Callee, Phones
from texts.i18n import Gettext


def phones_text(_: Gettext, phones: Phones) -> str:
    """'☎ school 0731-84123456 · principal 13812345678'; '' when none is known."""
    parts = []
    if phones.school:
        parts.append(_("☎ school {phone}").format(phone=escape(phones.school)))
    if phones.principal:
        parts.append(_("☎ principal {phone}").format(phone=escape(phones.principal)))
    return " · ".join(parts)


def with_phones(_: Gettext, line: str, phones: Phones) -> str:
    """A line (already HTML) followed by the school's numbers, when any is known."""
    shown = phones_text(_, phones)
    return f"{line} {shown}" if shown else line


def callee_line(_: Gettext, school: str | Callee) -> str:
    """'• school name ☎ …': a school to phone (a plain name when no numbers were read)."""
    if isinstance(school, str):
        return f"• {escape(school)}"
    return with_phones(_, f"• {escape(school.name)}", school.phones)


def fitting(lines: Sequence[str], budget: int) -> int:
    """How many of the first lines fit in `budget` characters, newlines counted: lists
    with numbers are longer, and a message must stay under Telegram's 4,096."""
    total = 0
    for count, line in enumerate(lines):
        total += len(line) + 1
        if total > budget:
            return count
    return len(lines)


# --- /phone -------------------------------------------------------------------------------


def phone_screen(_: Gettext, phone: str | None) -> str:
    """/phone with nothing after it: the number on record and how to change it."""
    if phone:
        head = _("Your phone number: {phone}").format(phone=f"<code>{escape(phone)}</code>")
    else:
        head = _("You have not given a phone number.")
    return "\n\n".join([
        head,
        _("Bureau staff and your district's officers see it, so they can call you about a "
          "late report. Nobody else sees it."),
        _("To give or change it, tap the button below, or send /phone and the number "
          "(for example /phone 13812345678). To remove it, send /phone clear."),
    ])


def share_button(_: Gettext) -> str:
    return _("📱 Share my number")


def phone_saved(_: Gettext, phone: str) -> str:
    return _("Thank you. Your phone number is now {phone}.").format(
        phone=f"<code>{escape(phone)}</code>"
    )


def phone_unchanged(_: Gettext, phone: str) -> str:
    return _("Your phone number was already {phone}; nothing changed.").format(
        phone=f"<code>{escape(phone)}</code>"
    )


def phone_cleared(_: Gettext) -> str:
    return _("Your phone number has been removed.")


def nothing_to_clear(_: Gettext) -> str:
    return _("You have not given a phone number, so there is nothing to remove.")


def phone_invalid(_: Gettext, typed: str) -> str:
    return _(
        "“{typed}” is not a phone number I can read. Please send a mobile number such as "
        "13812345678, or a landline with its area code such as 0731-84123456. Nothing was "
        "changed."
    ).format(typed=escape(typed[:40]))


def not_your_contact(_: Gettext) -> str:
    return _(
        "That is someone else's contact. Please share your own number with the button "
        "below, or send /phone and your number. Nothing was changed."
    )
