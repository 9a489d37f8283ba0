"""/status and /export: following up a round in chat.

/status: the round list (open rounds first, each with its reporting rate) → one
round by district → the missing schools of a district, with their principals and a
"remind these now" button. /export: choose a round, receive its workbook.

Staff and admins see every district; a district officer sees only their own (the
district level is skipped for them). The role is read from the database on every
command and every button (principle 6); button data is untrusted, so a forged or
stale button gets a polite refusal, never someone else's district.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, InputFile, Update

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
from models.followup.remind_now import remind_now
from models.followup.reminders import PendingReport, form_titles, pending_reports
from models.forms import FormError
from models.outbox import OutMessage
from models.roster.tables import Person, Role
from models.rounds import Round
from models.rounds.locks import accepting
from models.rounds.periods import period_label
from outputs.workbook import workbook_bytes
from texts import status as status_texts
from texts.callbacks import (
    ExportRound,
    RemindDistrict,
    RoundList,
    StatusDistrict,
    StatusRound,
    StatusRounds,
)
from texts.i18n import N_, language_of, schools, short
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


# --- /status and /export: the round list -----------------------------------------------


async def status_command(update: Update, context: HuibaoContext) -> None:
    await _list_command(update, context, export=False)


async def export_command(update: Update, context: HuibaoContext) -> None:
    await _list_command(update, context, export=True)


async def _list_command(update: Update, context: HuibaoContext, *, export: bool) -> None:
    """/status and /export both start from the list of rounds."""
    assert update.effective_message is not None
    async with unit(update, context) as (session, who):
        viewer = viewer_of(who)
        if viewer is None:
            text, rows = status_texts.refusal(who._, who.role), None
        else:
            text, rows = await _round_list(session, who, viewer, context, export=export)
    await update.effective_message.reply_text(text, reply_markup=_markup(rows))


async def _round_list(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext, *, export: bool
) -> Answer:
    _ = who._
    limit = context.services.settings.summary.rounds_listed
    overview = await rounds_overview(session, viewer.district_id, limit=limit)
    if viewer.district_id is not None:
        # A round that asks nothing of this district is not the officer's business.
        overview = [o for o in overview if o.counts.expected]
    if not overview:
        return _("There are no rounds yet."), None
    rows: Rows = []
    for o in overview:
        title = await _round_title(session, o.round, who.language)
        # Past its lock a round is closed for entry, whether or not staff closed it.
        mark = "🟢" if accepting(o.round, context.now()) else "⚪"
        label = f"{mark} {title} · {format_percent(o.counts.reporting_rate)}"
        button = ExportRound(o.round.id) if export else StatusRound(o.round.id)
        rows.append([(label, button.pack())])
    text = (
        _("Choose the round to export:")
        if export
        else _("Rounds (🟢 open), with their reporting rate. Choose one:")
    )
    return text, rows


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
    rows: Rows = []
    if missing and accepting(rnd, context.now()):
        rows.append([(_("🔔 Remind these now"), RemindDistrict(rnd.id, district_id).pack())])
    back = StatusRounds() if viewer.district_id is not None else StatusRound(rnd.id)
    rows.append([(_("« Back"), back.pack())])
    return text, rows


# --- /status buttons ---------------------------------------------------------------------

StatusButton = StatusRounds | StatusRound | StatusDistrict | RemindDistrict


async def status_button(update: Update, context: HuibaoContext, button: StatusButton) -> None:
    query = update.callback_query
    assert query is not None
    # Worked out and committed first: no Bot API call while the transaction is open.
    async with unit(update, context) as (session, who):
        text, rows = await _status_press(session, who, context, button)
    if rows is None:
        if isinstance(button, RemindDistrict):
            # Committed: the delivery worker may send now rather than at its next poll.
            context.services.wake_outbox()
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
        return await _round_list(session, who, viewer, context, export=False)
    try:
        rnd = await get_round(session, button.round_id)
        if isinstance(button, StatusRound):
            return await _show_round(session, who, viewer, rnd, context)
        if not _may_see(viewer, button.district_id):
            return _("You can only see the schools of your own district."), None
        if isinstance(button, RemindDistrict):
            return await _remind(session, who, rnd, button.district_id, context), None
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


async def _remind(
    session: AsyncSession, who: Who, rnd: Round, district_id: int, context: HuibaoContext
) -> str:
    """Queue the reminders of a district's missing schools; what to tell the person."""
    _ = who._
    now = context.now()
    if not accepting(rnd, now):
        return _("This round is closed: no more reminders.")
    missing = await school_statuses(session, rnd.id, district_id, only_missing=True)
    if not missing:
        return _("Every school of this district has reported.")
    message_for = await reminder_for(session, rnd, missing, now, context.services.settings)
    result = await remind_now(session, rnd, district_id, missing, who.person, now, message_for)
    return status_texts.reminded_text(_, result)


# --- /export ---------------------------------------------------------------------------


async def _export_allowed(
    update: Update, context: HuibaoContext, round_id: int
) -> str | tuple[Who, Viewer]:
    """Who asks for this round's workbook, or why not."""
    async with unit(update, context) as (session, who):
        viewer = viewer_of(who)
        if viewer is None:
            return status_texts.refusal(who._, who.role)
        try:
            await get_round(session, round_id)
        except RoundNotFound:
            return who._("This round no longer exists.")
        return who, viewer


async def export_button(update: Update, context: HuibaoContext, button: ExportRound) -> None:
    query = update.callback_query
    assert query is not None
    round_id = button.round_id
    allowed = await _export_allowed(update, context, round_id)
    if isinstance(allowed, str):
        await query.answer(allowed, show_alert=True)
        return
    who, viewer = allowed
    _ = who._
    # Between the two sessions: no Bot API call while a transaction is open.
    await query.answer(_("Preparing the workbook…"))
    async with context.services.sessionmaker() as session:  # reads only
        try:
            data, result = await workbook_bytes(
                session,
                round_id,
                who.language,
                context.services.settings,
                district_id=viewer.district_id,
            )
        except FormError:
            log.exception("export of round %s: its form cannot be read", round_id)
            document = None
            text = _(
                "This round's form cannot be read, so it cannot be exported. "
                "Please tell the bureau's administrator."
            )
        else:
            document = InputFile(io.BytesIO(data), filename=result.filename)
            text = _("{schools}, {submitted} reported.").format(
                schools=schools(_, result.schools), submitted=result.submitted
            )
    chat = update.effective_chat
    assert chat is not None
    # Sent after the transaction: a slow upload holds no database connection.
    if document is None:
        await context.bot.send_message(chat.id, text)
    else:
        await context.bot.send_document(chat.id, document, caption=text)


def register(app: HuibaoApp) -> None:
    # Through the menu registry: the commands appear in staff's and district officers'
    # command lists, and everyone else is refused before these callbacks run (the
    # callbacks still check which district the person may see).
    viewers = menu.STAFF | menu.DISTRICT
    menu.add_command(
        app, "status", status_command, N_("Reporting rates and missing schools"), viewers, order=30
    )
    menu.add_command(app, "export", export_command, N_("A round as Excel"), viewers, order=31)
    menu.add_button(app, StatusRounds, status_button, viewers, example=StatusRounds())
    menu.add_button(app, StatusRound, status_button, viewers, example=StatusRound(1))
    menu.add_button(app, StatusDistrict, status_button, viewers, example=StatusDistrict(1, 1))
    menu.add_button(app, RemindDistrict, status_button, viewers, example=RemindDistrict(1, 1))
    menu.add_button(app, ExportRound, export_button, viewers, example=ExportRound(1))
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
