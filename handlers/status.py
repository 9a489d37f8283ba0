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
import re
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)

from handlers import menu, report_view
from handlers.context import Who, unit
from models import round_service as rs
from models.base import utcnow
from models.completeness import (
    Completeness,
    RoundNotFound,
    SchoolStatus,
    get_round,
    round_completeness,
    rounds_overview,
    school_statuses,
)
from models.forms import FormError
from models.keytotals import round_form
from models.people import Person, Role
from models.remind_now import Reminder, remind_now
from models.rounds import Round
from models.schedules import period_label
from outputs.summary import counts_line, format_percent
from outputs.workbook import workbook_bytes
from texts.i18n import LANGUAGES, N_, choose_language, gettext_for, short
from texts.labels import status_label
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger(__name__)

STATUS = "st"
EXPORT = "ex"
MAX_SCHOOL_LINES = 60
_CALLBACK = re.compile(r"^(st):(l|r|d|m)(?::(\d{1,9}))?(?::(\d{1,9}))?$|^(ex):(\d{1,9})$")


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


def _refusal(who: Who) -> str:
    if who.role is Role.DISTRICT_OFFICER:
        return who._(
            "Your account is not linked to a district yet. Please ask the bureau to set it."
        )
    return who._("This is for bureau staff and district officers only.")


async def _round_title(session: AsyncSession, rnd: Round, language: str) -> str:
    try:
        form = await round_form(session, rnd)
        title = form.title.get(short(language))
    except (FormError, KeyError):
        title = rnd.form_code
    return f"{title} · {period_label(rnd.period, language)}"


# --- /status ---------------------------------------------------------------------------


async def status_command(update: Update, context: HuibaoContext) -> None:
    assert update.effective_message is not None
    async with unit(update, context) as (session, who):
        viewer = viewer_of(who)
        if viewer is None:
            text, markup = _refusal(who), None
        else:
            text, markup = await _round_list(session, who, viewer, context, STATUS)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _round_list(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext, prefix: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = who._
    limit = context.services.settings.summary.rounds_listed
    overview = await rounds_overview(session, viewer.district_id, limit=limit)
    if viewer.district_id is not None:
        # A round that asks nothing of this district is not the officer's business.
        overview = [o for o in overview if o.counts.expected]
    if not overview:
        return _("There are no rounds yet."), None
    buttons = []
    for o in overview:
        title = await _round_title(session, o.round, who.language)
        # Past its lock a round is closed for entry, whether or not staff closed it.
        mark = "🟢" if rs.accepting(o.round, utcnow()) else "⚪"
        label = f"{mark} {title} · {format_percent(o.counts.reporting_rate)}"
        data = f"{STATUS}:r:{o.round.id}" if prefix == STATUS else f"{EXPORT}:{o.round.id}"
        buttons.append([InlineKeyboardButton(label[:60], callback_data=data)])
    text = (
        _("Rounds (🟢 open), with their reporting rate. Choose one:")
        if prefix == STATUS
        else _("Choose the round to export:")
    )
    return text, InlineKeyboardMarkup(buttons)


def _round_text(who: Who, title: str, rnd: Round, c: Completeness, tz: ZoneInfo) -> str:
    _ = who._
    t = c.total
    deadline = rnd.deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"<b>{escape(title)}</b>",
        _("Deadline {deadline}").format(deadline=deadline),
        _("Reporting rate {rate} ({submitted} of {expected}), on time {on_time}").format(
            rate=format_percent(t.reporting_rate),
            submitted=t.submitted,
            expected=t.expected,
            on_time=format_percent(t.on_time_rate),
        ),
        counts_line(_, t),
    ]
    return "\n".join(lines)


async def _show_round(
    session: AsyncSession, who: Who, viewer: Viewer, rnd: Round, context: HuibaoContext
) -> tuple[str, InlineKeyboardMarkup]:
    _ = who._
    if viewer.district_id is not None:
        return await _show_district(session, who, viewer, rnd, viewer.district_id, context)
    c = await round_completeness(session, rnd.id)
    title = await _round_title(session, rnd, who.language)
    text = _round_text(who, title, rnd, c, context.services.settings.bureau.tz)
    text += "\n\n" + _("Choose a district to see its missing schools:")
    rows = []
    for d in sorted(c.districts, key=lambda d: (d.counts.reporting_rate or 0, d.name)):
        label = _("{district} {rate} · missing {missing}").format(
            district=d.name, rate=format_percent(d.counts.reporting_rate), missing=d.counts.missing
        )
        rows.append(
            [InlineKeyboardButton(label[:60], callback_data=f"{STATUS}:d:{rnd.id}:{d.district_id}")]
        )
    rows.append([InlineKeyboardButton(_("« Rounds"), callback_data=f"{STATUS}:l")])
    return text, InlineKeyboardMarkup(rows)


def _school_line(who: Who, s: SchoolStatus) -> str:
    _ = who._
    principals = [c for c in s.contacts if c.role is Role.PRINCIPAL]
    if principals:
        names = "、".join(
            escape(c.name) + ("" if c.reachable else " " + _("(unreachable)")) for c in principals
        )
    else:
        names = _("no principal registered")
    return f"• {escape(s.name)} ({status_label(s.status, who.language)}): {names}"


async def _show_district(
    session: AsyncSession,
    who: Who,
    viewer: Viewer,
    rnd: Round,
    district_id: int,
    context: HuibaoContext,
) -> tuple[str, InlineKeyboardMarkup]:
    _ = who._
    c = await round_completeness(session, rnd.id, district_id)
    missing = await school_statuses(session, rnd.id, district_id, only_missing=True)
    title = await _round_title(session, rnd, who.language)
    name = c.districts[0].name if c.districts else ""
    text = _round_text(who, f"{title} · {name}", rnd, c, context.services.settings.bureau.tz)
    if missing:
        lines = [_("<b>Missing schools</b> ({count}):").format(count=len(missing))]
        lines += [_school_line(who, s) for s in missing[:MAX_SCHOOL_LINES]]
        if len(missing) > MAX_SCHOOL_LINES:
            lines.append(
                _("… and {count} more: /export has the full list.").format(
                    count=len(missing) - MAX_SCHOOL_LINES
                )
            )
        text += "\n\n" + "\n".join(lines)
    else:
        text += "\n\n" + _("Every school of this district has reported. 🎉")
    rows = []
    if missing and rs.accepting(rnd, utcnow()):
        rows.append(
            [
                InlineKeyboardButton(
                    _("🔔 Remind these now"), callback_data=f"{STATUS}:m:{rnd.id}:{district_id}"
                )
            ]
        )
    back = f"{STATUS}:l" if viewer.district_id is not None else f"{STATUS}:r:{rnd.id}"
    rows.append([InlineKeyboardButton(_("« Back"), callback_data=back)])
    return text, InlineKeyboardMarkup(rows)


async def status_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    # Worked out and committed first: no Bot API call while the transaction is open.
    text, markup, reminded = await _status_press(update, context, query.data or "")
    if markup is None:
        if reminded:
            # Committed: the delivery worker may send now rather than at its next poll.
            context.services.wake_outbox()
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def _status_press(
    update: Update, context: HuibaoContext, data: str
) -> tuple[str, InlineKeyboardMarkup | None, bool]:
    """The screen for a /status button, or (without a keyboard) an alert to show; True when
    reminders were queued."""
    m = _CALLBACK.match(data)
    async with unit(update, context) as (session, who):
        _ = who._
        viewer = viewer_of(who)
        if viewer is None:
            return _refusal(who), None, False
        if m is None or m[1] != STATUS:
            return _("This button is no longer valid."), None, False
        action = m[2]
        round_id = int(m[3]) if m[3] else None
        district_id = int(m[4]) if m[4] else None
        if action in ("d", "m") and district_id is None:
            return _("This button is no longer valid."), None, False
        try:
            if action == "l":
                text, markup = await _round_list(session, who, viewer, context, STATUS)
                return text, markup, False
            if round_id is None:
                raise RoundNotFound(0)
            rnd = await get_round(session, round_id)
            if action == "r":
                text, markup = await _show_round(session, who, viewer, rnd, context)
                return text, markup, False
            if district_id is None or not _may_see(viewer, district_id):
                return _("You can only see the schools of your own district."), None, False
            if action == "m":
                return await _remind(session, who, rnd, district_id, context), None, True
            text, markup = await _show_district(session, who, viewer, rnd, district_id, context)
            return text, markup, False
        except RoundNotFound:
            return _("This round no longer exists."), None, False


def _may_see(viewer: Viewer, district_id: int) -> bool:
    return viewer.district_id is None or viewer.district_id == district_id


async def _reminders(
    session: AsyncSession, rnd: Round, bureau: str, tz: ZoneInfo
) -> dict[str, Reminder]:
    """The reminder in each language; its button opens the school's report in the
    report conversation (handlers/report.py)."""
    try:
        form = await round_form(session, rnd)
        titles = {lang: form.title.get(short(lang)) for lang in LANGUAGES}
    except (FormError, KeyError):
        titles = {lang: rnd.form_code for lang in LANGUAGES}
    deadline = rnd.deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    out = {}
    for lang in LANGUAGES:
        _ = gettext_for(lang)
        report = f"{titles[lang]} · {period_label(rnd.period, lang)}"
        text = _(
            "⏰ {bureau} reminds you: your school has not yet submitted <b>{report}</b>, "
            "due {deadline}. Tap below to fill it in; your answers are saved as you go."
        ).format(bureau=escape(bureau), report=escape(report), deadline=deadline)
        out[lang] = Reminder(text, _("Fill in now"), report_view.cb("o", rnd.id))
    return out


async def _remind(
    session: AsyncSession, who: Who, rnd: Round, district_id: int, context: HuibaoContext
) -> str:
    """Queue the reminders of a district's missing schools; what to tell the person."""
    _ = who._
    if not rs.accepting(rnd, utcnow()):
        return _("This round is closed: no more reminders.")
    missing = await school_statuses(session, rnd.id, district_id, only_missing=True)
    if not missing:
        return _("Every school of this district has reported.")
    settings = context.services.settings
    reminders = await _reminders(session, rnd, settings.bureau.name, settings.bureau.tz)

    def language_of(person: Person) -> str:
        return choose_language(
            person.language, person.telegram_language, settings.bureau.default_language
        )

    result = await remind_now(
        session, rnd, district_id, missing, who.person, utcnow(), reminders, language_of
    )
    if result.recipients:
        text = _("Reminders queued for {people} people at {schools} schools.").format(
            people=result.recipients, schools=result.schools
        )
    else:
        text = _("These schools were reminded a moment ago; nothing more was sent.")
    if result.unreachable:
        text += "\n" + _("{count} contacts blocked the bot: please phone them.").format(
            count=result.unreachable
        )
    return text


# --- /export ---------------------------------------------------------------------------


async def export_command(update: Update, context: HuibaoContext) -> None:
    assert update.effective_message is not None
    async with unit(update, context) as (session, who):
        viewer = viewer_of(who)
        if viewer is None:
            text, markup = _refusal(who), None
        else:
            text, markup = await _round_list(session, who, viewer, context, EXPORT)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _export_allowed(
    update: Update, context: HuibaoContext, data: str
) -> str | tuple[Who, Viewer, int]:
    """Who asks for which round's workbook, or why not."""
    m = _CALLBACK.match(data)
    async with unit(update, context) as (session, who):
        _ = who._
        viewer = viewer_of(who)
        if viewer is None:
            return _refusal(who)
        if m is None or m[5] != EXPORT:
            return _("This button is no longer valid.")
        try:
            await get_round(session, int(m[6]))
        except RoundNotFound:
            return _("This round no longer exists.")
        return who, viewer, int(m[6])


async def export_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    allowed = await _export_allowed(update, context, query.data or "")
    if isinstance(allowed, str):
        await query.answer(allowed, show_alert=True)
        return
    who, viewer, round_id = allowed
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
            text = _("{schools} schools, {submitted} reported.").format(
                schools=result.schools, submitted=result.submitted
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
    menu.add_callback(app, f"{STATUS}:", status_button, viewers, example=f"{STATUS}:r:1")
    menu.add_callback(app, f"{EXPORT}:", export_button, viewers, example=f"{EXPORT}:1")
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
    shown = [
        o
        for o in overview
        if rs.accepting(o.round, utcnow())
        and (viewer.district_id is None or o.counts.expected)
    ]
    staff_buttons = [[(_("📋 Collection rounds"), "rd:l")]] if who.role.is_staff else []
    if not shown:
        return menu.Block([_("<b>Rounds</b>: none open.")], staff_buttons)
    tz = services.settings.bureau.tz
    lines = [_("<b>Open rounds</b> (reporting rate):")]
    buttons: list[list[tuple[str, str]]] = []
    for o in shown:
        title = await _round_title(session, o.round, who.language)
        c = o.counts
        deadline = o.round.deadline.astimezone(tz).strftime("%m-%d %H:%M")
        lines.append(
            _("🟢 {title}: {rate} ({submitted} of {expected}), deadline {deadline}").format(
                title=escape(title),
                rate=format_percent(c.reporting_rate),
                submitted=c.submitted,
                expected=c.expected,
                deadline=deadline,
            )
        )
        label = f"🟢 {report_view.short_label(title, 44)} · {format_percent(c.reporting_rate)}"
        buttons.append([(label, f"{STATUS}:r:{o.round.id}")])
    return menu.Block(lines, buttons + staff_buttons)
