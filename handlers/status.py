"""/status: following up a round in chat.

/status: the round list (open rounds first, each with its reporting rate) → one
round by district → the missing schools of a district, with their principals and a
"remind these now" button. (/export is handlers/export.py.)

Staff and admins see every district; a district officer sees only their own (the
district level is skipped for them). The role is read from the database on every
command and every button (principle 6); button data is untrusted, so a forged or
stale button gets a polite refusal, never someone else's district.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update

from config.settings import Settings
from handlers import menu
from handlers.context import Who, unit
from models.followup.completeness import (
    RoundNotFound,
    SchoolStatus,
    get_round,
    round_completeness,
    rounds_overview,
    school_statuses,
)
from models.followup.keytotals import round_form
from models.followup.remind_now import plan_of, remind_now
from models.followup.reminders import PendingReport, form_titles, pending_reports
from models.forms import FormError
from models.outbox import OutMessage
from models.review import rules as review_rules
from models.roster.tables import Person, Role
from models.rounds import Round
from models.rounds.locks import accepting
from models.rounds.periods import period_label
from texts import review as review_texts
from texts import status as status_texts
from texts.callbacks import (
    Callback,
    ConfirmRemind,
    RemindDistrict,
    RoundList,
    StatusDistrict,
    StatusRound,
    StatusRounds,
)
from texts.i18n import N_, Gettext, language_of, ngettext_for, short
from texts.reminders import remind_now_message
from texts.status import format_percent
from texts.when import show
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger(__name__)


Rows = list[list[tuple[str, str]]]
# A screen to show in place of the pressed one, or (rows None) an alert to answer with.
Answer = tuple[str, Rows | None]


@dataclass(frozen=True)
class Viewer:
    """What the person may see: every district (district_id None) or one."""

    district_id: int | None


def viewer_of(who: Who) -> Viewer | None:
    role = who.role
    if role.is_staff:
        return Viewer(None)
    if role is Role.DISTRICT_OFFICER and who.person.district_id is not None:
        return Viewer(who.person.district_id)
    return None


async def _round_title(session: AsyncSession, rnd: Round, language: str) -> str:
    try:
        form = await round_form(session, rnd)
        title = form.title.get(short(language))
    except (FormError, KeyError):
        title = rnd.form_code
    return f"{title} · {period_label(rnd.period, language)}"


def _markup(rows: Rows | None) -> InlineKeyboardMarkup | None:
    return menu.keyboard(rows) if rows else None


# --- /status: the round list ------------------------------------------------------------


RoundLister = Callable[
    [AsyncSession, Who, "Viewer", HuibaoContext], Awaitable[tuple[str, Rows | None]]
]


async def status_command(update: Update, context: HuibaoContext) -> None:
    """/status starts from the list of rounds."""
    await reply_with_rounds(update, context, _round_list)


async def reply_with_rounds(
    update: Update, context: HuibaoContext, round_list: RoundLister
) -> None:
    """A command that starts from a list of rounds (/status, /export): the viewer's list,
    or why they may not see one."""
    assert update.effective_message is not None
    async with unit(update, context) as (session, who):
        viewer = viewer_of(who)
        if viewer is None:
            text, rows = status_texts.refusal(who._, who.role), None
        else:
            text, rows = await round_list(session, who, viewer, context)
    await update.effective_message.reply_text(text, reply_markup=_markup(rows))


async def round_rows(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext,
    pick: Callable[[int], Callback],
) -> Rows:
    """The viewer's rounds as buttons (🟢 open, with the reporting rate), each pressing
    `pick(round id)`: /status's list and /export's."""
    limit = context.services.settings.summary.rounds_listed
    overview = await rounds_overview(session, viewer.district_id, limit=limit)
    if viewer.district_id is not None:
        # A round that asks nothing of this district is not the officer's business.
        overview = [o for o in overview if o.counts.expected]
    rows: Rows = []
    for o in overview:
        title = await _round_title(session, o.round, who.language)
        # Past its lock a round is closed for entry, whether or not staff closed it.
        mark = "🟢" if accepting(o.round, context.now()) else "⚪"
        label = f"{mark} {title} · {format_percent(o.counts.reporting_rate)}"
        rows.append([(label, pick(o.round.id).pack())])
    return rows


async def _round_list(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext
) -> Answer:
    _ = who._
    rows = await round_rows(session, who, viewer, context, StatusRound)
    if not rows:
        return _("There are no rounds yet."), None
    return _("Rounds (🟢 open), with their reporting rate. Choose one:"), rows


# --- /status: a round, a district --------------------------------------------------------


async def _show_round(
    session: AsyncSession, who: Who, viewer: Viewer, rnd: Round, context: HuibaoContext
) -> Answer:
    _ = who._
    if viewer.district_id is not None:
        return await _show_district(session, who, viewer, rnd, viewer.district_id, context)
    c = await round_completeness(session, rnd.id)
    title = await _round_title(session, rnd, who.language)
    text = status_texts.round_text(
        _, title, rnd.deadline, context.services.settings.bureau.tz, c.total,
        language=who.language, now=context.now(),
    )
    text += await review_words_for(session, _, rnd.id)
    text += "\n\n" + _("Choose a district to see its missing schools:")
    rows: Rows = []
    for d in sorted(c.districts, key=lambda d: (d.counts.reporting_rate or 0, d.name)):
        label = _("{district} {rate} · missing {missing}").format(
            district=d.name, rate=format_percent(d.counts.reporting_rate), missing=d.counts.missing
        )
        rows.append([(label, StatusDistrict(rnd.id, d.district_id).pack())])
    rows.append([(_("« Rounds"), StatusRounds().pack())])
    return text, rows


async def _show_district(
    session: AsyncSession,
    who: Who,
    viewer: Viewer,
    rnd: Round,
    district_id: int,
    context: HuibaoContext,
) -> Answer:
    _ = who._
    c = await round_completeness(session, rnd.id, district_id)
    missing = await school_statuses(session, rnd.id, district_id, only_missing=True)
    title = await _round_title(session, rnd, who.language)
    name = c.districts[0].name if c.districts else ""
    tz = context.services.settings.bureau.tz
    text = status_texts.round_text(
        _, f"{title} · {name}", rnd.deadline, tz, c.total,
        language=who.language, now=context.now(),
    )
    text += "\n\n" + status_texts.missing_text(_, who.language, missing)
    text += await review_words_for(session, _, rnd.id, district_id)
    rows: Rows = []
    if missing and accepting(rnd, context.now()):
        rows.append([(_("🔔 Remind these now"), RemindDistrict(rnd.id, district_id).pack())])
    back = StatusRounds() if viewer.district_id is not None else StatusRound(rnd.id)
    rows.append([(_("« Back"), back.pack())])
    return text, rows


# --- /status buttons ---------------------------------------------------------------------

StatusButton = StatusRounds | StatusRound | StatusDistrict | RemindDistrict | ConfirmRemind


async def review_words_for(
    session: AsyncSession, _: Gettext, round_id: int, district_id: int | None = None
) -> str:
    """A round with district review: per district (the bureau), or per school (a district)."""
    if not await review_rules.is_reviewed(session, round_id):
        return ""
    if district_id is None:
        rows = await review_rules.district_counts(session, round_id)
        return "\n\n" + review_texts.review_section(_, rows)
    states = await review_rules.school_states(session, round_id, district_id)
    return "\n\n" + review_texts.school_lines(_, states)


async def status_button(update: Update, context: HuibaoContext, button: StatusButton) -> None:
    query = update.callback_query
    assert query is not None
    # Worked out and committed first: no Bot API call while the transaction is open.
    async with unit(update, context) as (session, who):
        text, rows = await _status_press(session, who, context, button)
    if isinstance(button, ConfirmRemind):
        # Committed: the delivery worker may send now rather than at its next poll.
        context.services.wake_outbox()
    if rows is None:
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(text, reply_markup=_markup(rows))


async def _status_press(
    session: AsyncSession, who: Who, context: HuibaoContext, button: StatusButton
) -> Answer:
    """The screen for a /status button, or (without rows) an alert to show."""
    _ = who._
    viewer = viewer_of(who)
    if viewer is None:
        return status_texts.refusal(who._, who.role), None
    if isinstance(button, StatusRounds):
        return await _round_list(session, who, viewer, context)
    try:
        rnd = await get_round(session, button.round_id)
        if isinstance(button, StatusRound):
            return await _show_round(session, who, viewer, rnd, context)
        if not _may_see(viewer, button.district_id):
            return _("You can only see the schools of your own district."), None
        if isinstance(button, RemindDistrict):
            return await _ask_remind(session, who, rnd, button.district_id, context)
        if isinstance(button, ConfirmRemind):
            return await _remind(session, who, rnd, button, context)
        return await _show_district(session, who, viewer, rnd, button.district_id, context)
    except RoundNotFound:
        return _("This round no longer exists."), None


def _may_see(viewer: Viewer, district_id: int) -> bool:
    return viewer.district_id is None or viewer.district_id == district_id


async def reminder_for(
    session: AsyncSession,
    rnd: Round,
    schools: Sequence[SchoolStatus],
    now: datetime,
    settings: Settings,
) -> Callable[[Person], OutMessage]:
    """The reminder each contact of these schools gets on "remind these now": the
    scheduled reminder (texts.reminders) of this round, from the scheduler's own facts
    (pending_reports, form_titles), so a school hears the same words either way."""
    pending = await pending_reports(session, [s.school_id for s in schools], now)
    titles = await form_titles(session, [rnd])

    def message_for(person: Person) -> OutMessage:
        school_id = person.school_id or 0
        report = next(
            (r for r in pending.get(school_id, []) if r.round.id == rnd.id),
            PendingReport(rnd, school_id, started=False, open_for_entry=True),
        )
        return remind_now_message(
            language=language_of(person, settings.bureau.default_language),
            report=report,
            titles=titles,
            tz=settings.bureau.tz,
            now=now,
        )

    return message_for


async def _missing_to_remind(
    session: AsyncSession, who: Who, rnd: Round, district_id: int, now: datetime
) -> list[SchoolStatus] | str:
    """The district's missing schools, or why there is nobody to remind."""
    _ = who._
    if not accepting(rnd, now):
        return _("This round is closed: no more reminders.")
    missing = await school_statuses(session, rnd.id, district_id, now, only_missing=True)
    if not missing:
        return _("Every school of this district has reported.")
    return missing


async def _ask_remind(
    session: AsyncSession, who: Who, rnd: Round, district_id: int, context: HuibaoContext
) -> Answer:
    """The confirmation of "remind these now": whom it reaches and whom it cannot."""
    _ = who._
    now = context.now()
    missing = await _missing_to_remind(session, who, rnd, district_id, now)
    if isinstance(missing, str):
        return missing, None
    plan = plan_of(missing)
    ngettext = ngettext_for(who.language)
    back = StatusDistrict(rnd.id, district_id).pack()
    if not plan.people:
        # Nothing to confirm: only the schools to phone.
        return status_texts.nobody_to_remind(_, ngettext, plan), [[(_("« Back"), back)]]
    text = status_texts.remind_question(
        _, ngettext, plan, missing[0].district, overdue=now > rnd.deadline
    )
    confirm = ConfirmRemind(rnd.id, district_id, len(missing)).pack()
    return text, [[(_("Cancel"), back), (_("Confirm"), confirm)]]


async def _remind(
    session: AsyncSession, who: Who, rnd: Round, button: ConfirmRemind, context: HuibaoContext
) -> Answer:
    """Queue the reminders of a district's missing schools; what to tell the person."""
    _ = who._
    now = context.now()
    missing = await _missing_to_remind(session, who, rnd, button.district_id, now)
    if isinstance(missing, str):
        return missing, None
    if len(missing) != button.missing:
        # Schools reported (or were added) since the question: it named other schools.
        return _("The missing schools have changed since you were asked: nothing was sent. "
                 "Please look again."), None
    message_for = await reminder_for(session, rnd, missing, now, context.services.settings)
    result = await remind_now(
        session, rnd, button.district_id, missing, who.person, now, message_for
    )
    text = status_texts.reminded_text(
        _, ngettext_for(who.language), result, overdue=now > rnd.deadline
    )
    return text, [[(_("« Back"), StatusDistrict(rnd.id, button.district_id).pack())]]


def register(app: HuibaoApp) -> None:
    # Through the menu registry: the commands appear in staff's and district officers'
    # command lists, and everyone else is refused before these callbacks run (the
    # callbacks still check which district the person may see).
    viewers = menu.STAFF | menu.DISTRICT
    menu.add_command(
        app, "status", status_command, N_("Reporting rates and missing schools"), viewers, order=30
    )
    menu.add_button(app, StatusRounds, status_button, viewers, example=StatusRounds())
    menu.add_button(app, StatusRound, status_button, viewers, example=StatusRound(1))
    menu.add_button(app, StatusDistrict, status_button, viewers, example=StatusDistrict(1, 1))
    menu.add_button(app, RemindDistrict, status_button, viewers, example=RemindDistrict(1, 1))
    menu.add_button(
        app, ConfirmRemind, status_button, viewers, example=ConfirmRemind(1, 1, 2)
    )
    # /status buttons from older versions, or forged: "this button is no longer valid".
    menu.add_stale_family(app, "st", viewers)
    menu.add_section(menu.Section("status.rounds", viewers, render_rounds, order=20))


# --- /menu section -----------------------------------------------------------------------

HOME_ROUNDS = 5


async def render_rounds(
    session: AsyncSession, who: Who, services: Services
) -> menu.Block | None:
    """The home screen's open rounds, each with its reporting rate (and a button to its
    /status screen); for a district officer, their district's."""
    _ = who._
    viewer = viewer_of(who)
    if viewer is None:
        return None
    overview = await rounds_overview(session, viewer.district_id, limit=HOME_ROUNDS)
    now = services.now()
    shown = [
        o
        for o in overview
        if accepting(o.round, now) and (viewer.district_id is None or o.counts.expected)
    ]
    staff_buttons = [[(_("📋 Collection rounds"), RoundList().pack())]] if who.role.is_staff else []
    if not shown:
        return menu.Block([_("<b>Rounds</b>: none open.")], staff_buttons)
    tz = services.settings.bureau.tz
    lines = [_("<b>Open rounds</b> (reporting rate):")]
    buttons: list[list[tuple[str, str]]] = []
    for o in shown:
        title = await _round_title(session, o.round, who.language)
        c = o.counts
        deadline = show(o.round.deadline, tz, "short", who.language, now)
        lines.append(
            _("🟢 {title}: {rate} ({submitted} of {expected}), deadline {deadline}").format(
                title=escape(title),
                rate=format_percent(c.reporting_rate),
                submitted=c.submitted,
                expected=c.expected,
                deadline=deadline,
            )
        )
        label = f"🟢 {title} · {format_percent(c.reporting_rate)}"
        buttons.append([(label, StatusRound(o.round.id).pack())])
    return menu.Block(lines, buttons + staff_buttons)
