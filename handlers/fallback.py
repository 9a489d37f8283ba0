"""Every message gets an answer (issue 11, item 1): text or a file nobody waits for
(handlers/routing.py's Doing.NOTHING) and commands the bot does not have.

The answer depends on who sent it: a principal or deputy is shown their pending report
(named, with a button to go on with it), their reports and home, and whom to ask; staff
and district officers their home screen as /menu shows it; someone without a role how
to join. The words are texts/fallback.py's. This path is never the report's hot path: a
report answer is taken by the router before anything here runs.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers import inbox, menu
from handlers.context import Who, unit
from models.outbox import Button, OutMessage
from models.roster.tables import Role
from models.rounds import SubmissionStatus
from models.rounds.periods import period_label
from models.rounds.submissions import Report, pending_for_person
from models.rounds.versions import round_form
from texts.fallback import Pending, Sent, for_newcomer, for_school, for_staff
from transport.context import HuibaoContext, Services
from transport.markup import keyboard_markup

log = logging.getLogger("huibao.fallback")


async def on_unexpected(update: Update, context: HuibaoContext) -> None:
    """Text or a file that nothing waits for."""
    message = update.message
    if message is None:
        return  # an edit of an older message: answering every edit would be noise
    await answer(update, context, Sent.TEXT if message.text is not None else Sent.FILE)


async def unknown_command(update: Update, context: HuibaoContext) -> None:
    """A command no room has ("/foo"): said so, with the same help."""
    message = update.message
    if message is None or not message.text:
        return
    command = message.text.split()[0][1:].partition("@")[0]
    await answer(update, context, Sent.COMMAND, command)


async def answer(update: Update, context: HuibaoContext, sent: Sent, command: str = "") -> None:
    message = update.message
    assert message is not None
    async with unit(update, context) as (session, who):
        # A school's text or file may be a question for the bureau: kept for one press.
        offered = sent is not Sent.COMMAND and await inbox.offer(session, who, update,
                                                                 context.now())
        out = await _answer_for(session, context.services, who, sent, command, offered)
    markup = keyboard_markup(out.keyboard) if out.keyboard else None
    await message.reply_text(out.text, reply_markup=markup, do_quote=False)


async def _answer_for(
    session: AsyncSession, services: Services, who: Who, sent: Sent, command: str,
    offered: bool = False,
) -> OutMessage:
    if who.role is Role.NONE:
        return for_newcomer(sent, who.language, command)
    if who.role.is_school_contact and who.person.school_id is not None:
        reports = await pending_for_person(session, who.person, services.now())
        # By deadline: the first is named, the others counted (a school owes a few at most).
        pending = [p for r in reports if (p := await _pending(session, r, who)) is not None]
        return for_school(sent, pending, who.language, services.settings.bureau, command,
                          offered=offered)
    text, block = await menu.home(session, who, services)
    buttons = tuple(tuple(Button(label, callback_data=data) for label, data in row)
                    for row in block.buttons)
    return for_staff(sent, who.language, text, buttons, command)


async def _pending(session: AsyncSession, report: Report, who: Who) -> Pending | None:
    """A pending report as the answer names it; None if its form cannot be read."""
    try:
        form = await round_form(session, report.round)
    except Exception:
        log.exception("round form unavailable", extra={"round_id": report.round.id})
        return None
    started = report.submission is not None and report.status in (
        SubmissionStatus.DRAFT.value,
        SubmissionStatus.REVISING.value,
    )
    return Pending(
        round_id=report.round.id,
        form=form.title.get(who.language),
        period=period_label(report.round.period, who.language),
        deadline=report.round.deadline,
        started=started,
    )
