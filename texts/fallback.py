"""The answer to a message nobody waits for (issue 11, item 1): every message gets one.

A principal who types a question ("你好，请问报表怎么填？"), a figure after pausing or
submitting ("85"), an unknown command ("/foo") or a photo is told that nothing was done
with it, what they can do now (continue their pending report, named, or see their
reports, or go home) and whom to ask. Staff and district officers get their home screen's
button; people without a role get the onboarding hint. Built from facts the caller read:
no query here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from config.settings import BureauSettings
from models.outbox import Button, OutMessage
from texts.callbacks import Home, OpenReport, ReportList, SendOffered
from texts.i18n import Gettext, gettext_for, ngettext_for
from texts.when import show

BUTTON_TITLE = 24
"""The longest form title on the "continue" button; the period always shows."""


class Sent(enum.Enum):
    """What kind of message nobody waited for."""

    TEXT = "text"
    FILE = "a document or a photo"
    COMMAND = "a command the bot does not have"


@dataclass(frozen=True)
class Pending:
    """A report the school still has to submit, as the answer names it."""

    round_id: int
    form: str
    """The form's title in the reader's language."""
    period: str
    deadline: datetime
    started: bool
    """Answers were given already (a draft, or a revision under way)."""


def _opening(sent: Sent, command: str, _: Gettext) -> str:
    if sent is Sent.COMMAND:
        return _("There is no command /{command}.").format(command=escape(command))
    if sent is Sent.FILE:
        return _("Sorry, I cannot take a file or a photo here; nothing was done with it.")
    return _(
        "Sorry, I am the bureau's reporting bot and was not waiting for a message, so "
        "nothing was saved. I cannot answer questions typed here."
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pending_lines(pending: Sequence[Pending], lang: str, bureau: BureauSettings) -> list[str]:
    _ = gettext_for(lang)
    if not pending:
        return [_("There is no report for your school to fill in at the moment.")]
    first = pending[0]
    lines = [
        "📝 "
        + _("Still to submit: <b>{form}</b> ({period}), deadline {time}.").format(
            form=escape(first.form),
            period=escape(first.period),
            time=show(first.deadline, bureau.tz, "full", lang),
        )
    ]
    if len(pending) > 1:
        more = len(pending) - 1
        lines.append(
            ngettext_for(lang)(
                "{count} more report is waiting for your school (/report).",
                "{count} more reports are waiting for your school (/report).",
                more,
            ).format(count=more)
        )
    return lines


def _continue_button(first: Pending, _: Gettext) -> Button:
    label = _("▶️ Continue: {form} · {period}") if first.started else _(
        "📝 Start: {form} · {period}"
    )
    text = label.format(form=_short(first.form, BUTTON_TITLE), period=first.period)
    return Button(text, callback_data=OpenReport(first.round_id).pack())


def whom_to_ask(bureau: BureauSettings, _: Gettext) -> str:
    """Whom a principal may put a question to (until the bot takes questions itself)."""
    if bureau.contact.strip():
        return _("Questions about a report? Please contact {bureau}: {contact}.").format(
            bureau=escape(bureau.name), contact=escape(bureau.contact.strip())
        )
    return _("Questions about a report? Please contact {bureau}.").format(
        bureau=escape(bureau.name)
    )


def for_school(
    sent: Sent,
    pending: Sequence[Pending],
    lang: str,
    bureau: BureauSettings,
    command: str = "",
    *,
    offered: bool = False,
) -> OutMessage:
    """A principal's or deputy's answer: their pending report named, with a button to go
    on with it, their reports, home, and whom to ask; when the message was kept as an
    offer (handlers/inbox.py), a button that sends it to the bureau as a question."""
    _ = gettext_for(lang)
    lines = [_opening(sent, command, _), "", *_pending_lines(pending, lang, bureau)]
    lines.append(_("/report: your school's reports · /menu: home · /help: all commands"))
    if offered:
        lines.append(_(
            "Was it a question for {bureau}? Press ✉️ Send to the bureau and the answer will "
            "come here; /ask writes to the bureau any time."
        ).format(bureau=escape(bureau.name)))
    lines.append(whom_to_ask(bureau, _))
    rows: list[tuple[Button, ...]] = []
    if pending:
        rows.append((_continue_button(pending[0], _),))
    if offered:
        rows.append((Button(_("✉️ Send to the bureau"), callback_data=SendOffered().pack()),))
    rows.append(
        (
            Button(_("📋 My reports"), callback_data=ReportList().pack()),
            Button(_("🏠 Home"), callback_data=Home().pack()),
        )
    )
    return OutMessage(text="\n".join(lines), keyboard=tuple(rows))


def for_staff(
    sent: Sent,
    lang: str,
    home: str,
    home_buttons: tuple[tuple[Button, ...], ...],
    command: str = "",
) -> OutMessage:
    """Staff's and district officers' answer: their home screen (its text and buttons, as
    /menu shows it), and /help."""
    _ = gettext_for(lang)
    lines = [
        _opening(sent, command, _),
        _("Here is your home screen; /help lists all your commands."),
        "",
        home,
    ]
    return OutMessage(text="\n".join(lines), keyboard=home_buttons)


def for_newcomer(sent: Sent, lang: str, command: str = "") -> OutMessage:
    """Someone without a role: how to join (the onboarding's own hint)."""
    _ = gettext_for(lang)
    lines = [
        _opening(sent, command, _),
        "",
        _(
            "To connect your school, open the invitation link the bureau sent you, or type "
            "the invitation code here (16 letters and digits, like ABCD-EFGH-JKMN-PQRS)."
        ),
    ]
    return OutMessage(text="\n".join(lines))
