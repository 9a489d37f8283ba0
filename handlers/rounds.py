"""/round for bureau staff: open a collection round in chat, see how it stands, extend
it, close it early, unlock one school; and the announcement principals receive.

The set-up is a short guided conversation (form → period → deadline → schools →
confirm) whose state is a `conversations` row of kind "round", so it survives restarts
like the report conversation. Staff role is re-read from the database on every update.

Callback data (under 64 bytes, all re-checked):
    rd:l                 the list of rounds     rd:n              open a new round
    rd:f:{form_code}     form chosen            rd:p:{i}          period suggestion i
    rd:d:{days}          deadline in N days     rd:td:{district}  tick a district
    rd:ts:{i}            tick stage i           rd:ok             schools chosen
    rd:go                open it                rd:x              cancel the set-up
    rd:v:{round}         one round              rd:e:{round}:{n}  extend by n days
    rd:E:{round}         type a new deadline    rd:c:{round}      close early (asks)
    rd:C:{round}         close, confirmed       rd:u:{round}      unlock a school
    rd:U:{round}:{school} unlock that school
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.i18n import Gettext, choose_language, gettext_for
from bot.settings import Settings
from handlers.context import HuibaoApp, HuibaoContext, Services, Who, unit
from handlers.report import (
    KIND_ROUND,
    clear_conversation,
    set_conversation,
)
from handlers.report_view import Rendered, local, short_label
from models import round_service as rs
from models.base import utcnow
from models.forms import STAGES, FormDef, FormRegistry
from models.people import District, Person, Role, School
from models.rounds import Conversation, Round, RoundStatus

log = logging.getLogger("huibao.rounds")

PREFIX = "rd"
DEADLINE_HOUR = 17
STAGE_CODES = list(STAGES)
MAX_UNLOCK_BUTTONS = 20
MAX_ROUNDS_LISTED = 15


def cb(*parts: object) -> str:
    return ":".join((PREFIX, *(str(p) for p in parts)))


def registry(services: Services) -> FormRegistry:
    found = services.extra.get("forms")
    return found if isinstance(found, FormRegistry) else FormRegistry()


# --- the announcement ------------------------------------------------------------------


def announcement(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> dict[str, Any]:
    """The message telling one school's contact that a round is open (a JSON payload:
    text, parse_mode, reply_markup) so that an outbox can store it as it is."""
    _ = gettext_for(lang)
    tz = settings.bureau.tz
    lines = [
        "📋 "
        + _("{bureau} asks for a report: <b>{form}</b> ({period})").format(
            bureau=escape(settings.bureau.name),
            form=escape(form.title.get(lang)),
            period=escape(round_.period),
        ),
        _("School: {school}").format(school=escape(school.name)),
        _("Deadline: {time}").format(time=local(round_.deadline, tz)),
    ]
    if form.description:
        lines.append(f"<i>{escape(form.description.get(lang))}</i>")
    lines.append(_("Press the button to start; you can stop and come back at any time."))
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("📝 Start the report"), callback_data=f"rp:o:{round_.id}")]]
    )
    return {"text": "\n".join(lines), "parse_mode": "HTML", "reply_markup": markup.to_dict()}


async def announce_round(
    session: AsyncSession, round_: Round, settings: Settings
) -> list[tuple[Person, dict[str, Any]]]:
    """Who is told that the round is open, and what each of them receives: every
    principal and deputy of the expected schools, in their own language."""
    form = await rs.round_form(session, round_)
    rows = (
        await session.execute(
            select(Person, School)
            .join(School, School.id == Person.school_id)
            .where(
                Person.school_id.in_(await rs.expected_school_ids(session, round_.id)),
                Person.role.in_([Role.PRINCIPAL.value, Role.DEPUTY.value]),
            )
            .order_by(School.id, Person.id)
        )
    ).all()
    out = []
    for person, school in rows:
        lang = choose_language(
            person.language, person.telegram_language, settings.bureau.default_language
        )
        out.append((person, announcement(form, round_, school, lang, settings)))
    return out


@dataclass
class Delivered:
    sent: int = 0
    failed: int = 0


async def send_announcements(
    bot: Bot, items: list[tuple[Person, dict[str, Any]]], concurrency: int = 8
) -> Delivered:
    """Direct sending, until bulk messages go through the outbox (principle 3): the
    caller has committed the round first, so a crash here loses messages but no round."""
    result = Delivered()
    gate = asyncio.Semaphore(concurrency)

    async def one(person: Person, payload: dict[str, Any]) -> None:
        async with gate:
            try:
                await bot.send_message(
                    chat_id=person.telegram_id,
                    text=payload["text"],
                    parse_mode=payload.get("parse_mode"),
                    reply_markup=InlineKeyboardMarkup.de_json(payload["reply_markup"], bot),
                )
                result.sent += 1
            except Forbidden:
                result.failed += 1
            except TelegramError:
                log.exception("announcement not sent", extra={"person_id": person.id})
                result.failed += 1

    await asyncio.gather(*(one(p, payload) for p, payload in items))
    return result


# --- the staff screens -------------------------------------------------------------------


def _is_staff(who: Who) -> bool:
    return who.role.is_staff


async def round_list(session: AsyncSession, services: Services, who: Who) -> Rendered:
    _ = who._
    forms = registry(services)
    rounds = (
        await session.execute(
            select(Round)
            .order_by((Round.status == RoundStatus.OPEN.value).desc(), Round.deadline.desc())
            .limit(MAX_ROUNDS_LISTED)
        )
    ).scalars()
    tz = services.settings.bureau.tz
    rows = []
    for r in rounds:
        title = r.form_code
        try:
            title = (await rs.round_form(session, r)).title.get(who.language)
        except KeyError:
            pass
        mark = "🟢" if r.status == RoundStatus.OPEN.value else "⚪"
        label = f"{mark} {title} · {r.period} · {local(r.deadline, tz)[5:]}"
        rows.append([InlineKeyboardButton(short_label(label, 60), callback_data=cb("v", r.id))])
    if len(forms):
        rows.append([InlineKeyboardButton(_("➕ Open a new round"), callback_data=cb("n"))])
    text = _("<b>Collection rounds</b>")
    if not len(forms):
        text += "\n" + _(
            "No form is loaded, so no round can be opened: run `huibao forms check` on the "
            "server and restart the bot."
        )
    elif len(rows) == 1:
        text += "\n" + _("No round yet.")
    return Rendered(text, InlineKeyboardMarkup(rows))


async def round_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        if not _is_staff(who):
            reply = Rendered(who._("Sorry, only bureau staff can manage collection rounds."))
        else:
            reply = await round_list(session, context.services, who)
    await message.reply_text(reply.text, reply_markup=reply.markup)


async def round_view(
    session: AsyncSession, services: Services, who: Who, round_: Round
) -> Rendered:
    _ = who._
    tz = services.settings.bureau.tz
    now = utcnow()
    try:
        title = (await rs.round_form(session, round_)).title.get(who.language)
    except KeyError:
        title = round_.form_code
    statuses = await rs.submission_statuses(session, round_, now)
    counts = Counter(statuses.values())
    status = _("open") if round_.status == RoundStatus.OPEN.value else _("closed")
    lines = [
        f"📋 <b>{escape(title)}</b> · {escape(round_.period)} ({status})",
        _("Deadline: {time}").format(time=local(round_.deadline, tz)),
        _("Entry closes: {time}").format(time=local(rs.lock_time(round_), tz)),
        _("Schools expected: {count}").format(count=len(statuses)),
        _(
            "On time: {on_time} · late: {late} · in progress: {progress} · not started: {none}"
        ).format(
            on_time=counts[rs.ReportStatus.ON_TIME],
            late=counts[rs.ReportStatus.LATE],
            progress=counts[rs.ReportStatus.IN_PROGRESS],
            none=counts[rs.ReportStatus.NOT_STARTED],
        ),
    ]
    rid = round_.id
    rows = [
        [
            InlineKeyboardButton(_("+1 day"), callback_data=cb("e", rid, 1)),
            InlineKeyboardButton(_("+3 days"), callback_data=cb("e", rid, 3)),
            InlineKeyboardButton(_("+7 days"), callback_data=cb("e", rid, 7)),
        ],
        [InlineKeyboardButton(_("🕒 Type a new deadline"), callback_data=cb("E", rid))],
        [InlineKeyboardButton(_("🔓 Unlock a school"), callback_data=cb("u", rid))],
    ]
    if round_.status == RoundStatus.OPEN.value:
        rows.append([InlineKeyboardButton(_("⏹ Close early"), callback_data=cb("c", rid))])
    rows.append([InlineKeyboardButton(_("⬅ All rounds"), callback_data=cb("l"))])
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


# --- the set-up conversation ----------------------------------------------------------------


def period_suggestions(form: FormDef, now: datetime, services: Services, _: Gettext) -> list[str]:
    local_now = now.astimezone(services.settings.bureau.tz)
    y = local_now.year
    if form.period_type == "year":
        return [str(y), str(y - 1)]
    if form.period_type == "month":
        return [
            f"{y}-{local_now.month:02d}",
            (local_now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
        ]
    if form.period_type == "week":
        iso = local_now.isocalendar()
        return [f"{iso.year}-W{iso.week:02d}"]
    autumn = local_now.month >= 8 or local_now.month == 1
    year = y if local_now.month >= 8 else y - 1 if local_now.month == 1 else y
    return [
        _("{year} autumn term").format(year=year)
        if autumn
        else _("{year} spring term").format(year=year)
    ]


async def wizard_state(session: AsyncSession, person_id: int) -> dict[str, Any] | None:
    row = (
        await session.execute(
            select(Conversation.kind, Conversation.state).where(Conversation.person_id == person_id)
        )
    ).first()
    if row is None or row[0] != KIND_ROUND:
        return None
    state: dict[str, Any] = json.loads(row[1] or "{}")
    return state


async def save_wizard(session: AsyncSession, person_id: int, state: dict[str, Any]) -> None:
    await set_conversation(session, person_id, KIND_ROUND, None, state)


def ask_period(form: FormDef, suggestions: list[str], who: Who) -> Rendered:
    _ = who._
    rows = [[InlineKeyboardButton(s, callback_data=cb("p", i))] for i, s in enumerate(suggestions)]
    rows.append([InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x"))])
    return Rendered(
        _(
            "<b>{form}</b>\nWhich period is collected? Press a suggestion or type it "
            "(e.g. 2026, 2026-11, 2026 autumn term)."
        ).format(form=escape(form.title.get(who.language))),
        InlineKeyboardMarkup(rows),
    )


def ask_deadline(services: Services, who: Who) -> Rendered:
    _ = who._
    tz = services.settings.bureau.tz
    now = utcnow().astimezone(tz)
    rows = []
    for days in (3, 7, 14):
        when = (now + timedelta(days=days)).replace(
            hour=DEADLINE_HOUR, minute=0, second=0, microsecond=0
        )
        label = _("in {days} days ({time})").format(days=days, time=when.strftime("%m-%d %H:%M"))
        rows.append([InlineKeyboardButton(label, callback_data=cb("d", days))])
    rows.append([InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x"))])
    return Rendered(
        _(
            "What is the deadline? Press one or type a date and time like 2026-12-01 17:00 "
            "(bureau time; a date alone means 23:59)."
        ),
        InlineKeyboardMarkup(rows),
    )


async def matching_schools(session: AsyncSession, state: dict[str, Any]) -> int:
    query = select(func.count()).select_from(School).where(School.active.is_(True))
    if state.get("districts"):
        query = query.where(School.district_id.in_(state["districts"]))
    if state.get("stages"):
        query = query.where(School.stage.in_(state["stages"]))
    return int((await session.execute(query)).scalar_one())


async def ask_audience(session: AsyncSession, who: Who, state: dict[str, Any]) -> Rendered:
    _ = who._
    districts = (await session.execute(select(District).order_by(District.name))).scalars().all()
    ticked_d = set(state.get("districts", []))
    ticked_s = set(state.get("stages", []))
    rows: list[list[InlineKeyboardButton]] = []
    buttons = [
        InlineKeyboardButton(
            ("✅ " if d.id in ticked_d else "") + short_label(d.name, 20),
            callback_data=cb("td", d.id),
        )
        for d in districts
    ]
    rows.extend(buttons[i : i + 3] for i in range(0, len(buttons), 3))
    stage_buttons = [
        InlineKeyboardButton(
            ("✅ " if code in ticked_s else "") + STAGES[code].get(who.language),
            callback_data=cb("ts", i),
        )
        for i, code in enumerate(STAGE_CODES)
    ]
    rows.extend(stage_buttons[i : i + 3] for i in range(0, len(stage_buttons), 3))
    count = await matching_schools(session, state)
    rows.append(
        [
            InlineKeyboardButton(
                _("Next ➡ ({count} schools)").format(count=count), callback_data=cb("ok")
            )
        ]
    )
    rows.append([InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x"))])
    return Rendered(
        _(
            "Which schools must answer? With nothing ticked, all active schools; tick "
            "districts and/or stages to narrow it."
        ),
        InlineKeyboardMarkup(rows),
    )


async def confirm_screen(
    session: AsyncSession, services: Services, who: Who, state: dict[str, Any]
) -> Rendered:
    _ = who._
    form = registry(services).get(state["form"])
    tz = services.settings.bureau.tz
    deadline = datetime.fromisoformat(state["deadline"])
    names = []
    if state.get("districts"):
        names = list(
            (
                await session.execute(
                    select(District.name).where(District.id.in_(state["districts"]))
                )
            ).scalars()
        )
    stages = [STAGES[s].get(who.language) for s in state.get("stages", [])]
    audience = "、".join([*names, *stages]) or _("all active schools")
    count = await matching_schools(session, state)
    text = "\n".join(
        [
            "<b>" + _("Open this round?") + "</b>",
            _("Form: {form} (version {version})").format(
                form=escape(form.title.get(who.language)), version=form.version
            ),
            _("Period: {period}").format(period=escape(state["period"])),
            _("Deadline: {time}").format(time=local(deadline, tz)),
            _("Schools: {audience} ({count})").format(audience=escape(audience), count=count),
            _("Their principals and deputies are told at once."),
        ]
    )
    rows = [
        [InlineKeyboardButton(_("✅ Open the round"), callback_data=cb("go"))],
        [InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x"))],
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


async def on_text(update: Update, context: HuibaoContext) -> None:
    """Typed input during staff set-up: a period, a deadline or a school to unlock."""
    message = update.effective_message
    assert message is not None and message.text is not None
    services = context.services
    async with unit(update, context) as (session, who):
        state = await wizard_state(session, who.person.id)
        if state is None:
            return
        if not _is_staff(who):
            await clear_conversation(session, who.person.id)
            reply = Rendered(who._("Sorry, only bureau staff can manage collection rounds."))
        else:
            reply = await wizard_text(session, services, who, state, message.text.strip())
    await message.reply_text(reply.text, reply_markup=reply.markup)


async def wizard_text(
    session: AsyncSession, services: Services, who: Who, state: dict[str, Any], text: str
) -> Rendered:
    _ = who._
    step = state.get("step")
    now = utcnow()
    tz = services.settings.bureau.tz
    if step == "period":
        if not text or len(text) > rs.MAX_PERIOD_LENGTH:
            return Rendered(
                "❌ "
                + _("Please type a period of at most {count} characters.").format(
                    count=rs.MAX_PERIOD_LENGTH
                )
            )
        state.update(period=text, step="deadline")
        await save_wizard(session, who.person.id, state)
        return ask_deadline(services, who)
    if step in ("deadline", "extend"):
        when = rs.parse_when(text, tz, now)
        if when is None:
            return Rendered(
                "❌ " + _("I cannot read that date. Please type it like 2026-12-01 17:00.")
            )
        if when <= now:
            return Rendered("❌ " + _("That time has already passed. Please type a later one."))
        if step == "extend":
            round_ = await session.get(Round, int(state.get("round", 0)))
            await clear_conversation(session, who.person.id)
            if round_ is None:
                return Rendered(_("That round no longer exists."))
            await rs.extend_round(session, round_, when, lock_at=None, by=who.person.id, now=now)
            return await round_view(session, services, who, round_)
        state.update(deadline=when.isoformat(), step="audience")
        await save_wizard(session, who.person.id, state)
        return await ask_audience(session, who, state)
    if step == "unlock":
        round_ = await session.get(Round, int(state.get("round", 0)))
        school = (
            (
                await session.execute(
                    select(School).where((School.code == text) | (School.name == text))
                )
            )
            .scalars()
            .first()
        )
        if round_ is None:
            await clear_conversation(session, who.person.id)
            return Rendered(_("That round no longer exists."))
        if school is None:
            return Rendered("❌ " + _("No school has that code or name. Please type it again."))
        await clear_conversation(session, who.person.id)
        return await do_unlock(session, services, who, round_, school)
    return Rendered(_("Please use the buttons above, or send /cancel."))


async def do_unlock(
    session: AsyncSession, services: Services, who: Who, round_: Round, school: School
) -> Rendered:
    _ = who._
    try:
        rs_row = await rs.unlock_school(
            session,
            round_,
            school.id,
            by=who.person.id,
            now=utcnow(),
            hours=services.settings.rounds.unlock_hours,
        )
    except rs.RoundError:
        return Rendered(
            "❌ " + _("{school} is not expected in this round.").format(school=escape(school.name))
        )
    assert rs_row.unlocked_until is not None
    tz = services.settings.bureau.tz
    return Rendered(
        "🔓 "
        + _("{school} may submit once more until {time}.").format(
            school=escape(school.name), time=local(rs_row.unlocked_until, tz)
        )
    )


# --- buttons -----------------------------------------------------------------------------


async def on_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    parts = (query.data or "").split(":")
    notify: list[tuple[Person, dict[str, Any]]] = []
    alert: str | None = None
    reply: Rendered | None = None
    async with unit(update, context) as (session, who):
        if not _is_staff(who):
            alert = who._("Sorry, only bureau staff can manage collection rounds.")
        else:
            try:
                alert, reply, notify = await staff_button(session, services, who, parts[1:])
            except (ValueError, IndexError):
                alert = who._("This button is no longer valid.")
    await query.answer(alert, show_alert=alert is not None)
    message = query.message
    if reply is not None and isinstance(message, Message):
        if parts[1:2] in (["td"], ["ts"]):
            # Ticking changes the same screen rather than adding one per tick.
            await message.edit_text(reply.text, reply_markup=reply.markup)
        else:
            await message.reply_text(reply.text, reply_markup=reply.markup)
    if notify:
        done = await send_announcements(context.bot, notify)
        if isinstance(message, Message):
            _ = who._
            await message.reply_text(
                _("Announced to {sent} people; {failed} could not be reached.").format(
                    sent=done.sent, failed=done.failed
                )
            )


StaffResult = tuple[str | None, Rendered | None, list[tuple[Person, dict[str, Any]]]]


async def staff_button(
    session: AsyncSession, services: Services, who: Who, args: list[str]
) -> StaffResult:
    _ = who._
    action = args[0]
    now = utcnow()
    forms = registry(services)
    if action == "l":
        return None, await round_list(session, services, who), []
    if action == "n":
        rows = [
            [
                InlineKeyboardButton(
                    short_label(f.title.get(who.language)), callback_data=cb("f", f.code)
                )
            ]
            for f in forms.latest()
        ]
        rows.append([InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x"))])
        await save_wizard(session, who.person.id, {"step": "form"})
        return None, Rendered(_("Which form?"), InlineKeyboardMarkup(rows)), []
    if action == "x":
        await clear_conversation(session, who.person.id)
        return None, Rendered(_("Cancelled.")), []
    if action in ("f", "p", "d", "td", "ts", "ok", "go"):
        state = await wizard_state(session, who.person.id)
        if state is None:
            return _("This set-up has ended; send /round to start again."), None, []
        return await wizard_button(session, services, who, state, action, args[1:])
    round_ = await session.get(Round, int(args[1]))
    if round_ is None:
        return _("That round no longer exists."), None, []
    if action == "v":
        return None, await round_view(session, services, who, round_), []
    if action == "e":
        days = int(args[2])
        if days not in (1, 3, 7):
            raise ValueError(days)
        base = max(round_.deadline, now)
        await rs.extend_round(
            session, round_, base + timedelta(days=days), by=who.person.id, now=now
        )
        return None, await round_view(session, services, who, round_), []
    if action == "E":
        await save_wizard(session, who.person.id, {"step": "extend", "round": round_.id})
        return None, Rendered(_("Type the new deadline, like 2026-12-01 17:00 (bureau time).")), []
    if action == "c":
        rows = [
            [InlineKeyboardButton(_("⏹ Yes, close it now"), callback_data=cb("C", round_.id))],
            [InlineKeyboardButton(_("⬅ Back to the round"), callback_data=cb("v", round_.id))],
        ]
        return (
            None,
            Rendered(
                _("Close this round now? Schools can no longer submit or revise."),
                InlineKeyboardMarkup(rows),
            ),
            [],
        )
    if action == "C":
        if round_.status == RoundStatus.CLOSED.value:
            return _("This round is already closed."), None, []
        await rs.close_round(session, round_, by=who.person.id, now=now)
        return None, await round_view(session, services, who, round_), []
    if action == "u":
        return None, await unlock_screen(session, who, round_), []
    if action == "U":
        school = await session.get(School, int(args[2]))
        if school is None:
            return _("This button is no longer valid."), None, []
        await clear_conversation(session, who.person.id)
        return None, await do_unlock(session, services, who, round_, school), []
    return _("This button is no longer valid."), None, []


async def unlock_screen(session: AsyncSession, who: Who, round_: Round) -> Rendered:
    _ = who._
    statuses = await rs.submission_statuses(session, round_, utcnow())
    waiting = [
        sid
        for sid, st in statuses.items()
        if st in (rs.ReportStatus.NOT_STARTED, rs.ReportStatus.IN_PROGRESS)
    ]
    submitted = [sid for sid in statuses if sid not in waiting]
    order = (waiting + submitted)[:MAX_UNLOCK_BUTTONS]
    schools = {
        s.id: s
        for s in (await session.execute(select(School).where(School.id.in_(order)))).scalars()
    }
    rows = [
        [
            InlineKeyboardButton(
                short_label(schools[sid].name), callback_data=cb("U", round_.id, sid)
            )
        ]
        for sid in order
        if sid in schools
    ]
    rows.append([InlineKeyboardButton(_("⬅ Back to the round"), callback_data=cb("v", round_.id))])
    await save_wizard(session, who.person.id, {"step": "unlock", "round": round_.id})
    return Rendered(
        _(
            "Which school may submit once more? Press it (schools that have not submitted come "
            "first) or type its code."
        ),
        InlineKeyboardMarkup(rows),
    )


async def wizard_button(
    session: AsyncSession,
    services: Services,
    who: Who,
    state: dict[str, Any],
    action: str,
    args: list[str],
) -> StaffResult:
    _ = who._
    forms = registry(services)
    now = utcnow()
    if action == "f":
        code = args[0]
        if code not in forms:
            return _("This form is no longer available."), None, []
        form = forms.get(code)
        suggestions = period_suggestions(form, now, services, _)
        state = {"step": "period", "form": code, "suggestions": suggestions}
        await save_wizard(session, who.person.id, state)
        return None, ask_period(form, suggestions, who), []
    if action == "p":
        suggestions = state.get("suggestions", [])
        i = int(args[0])
        if state.get("step") != "period" or not 0 <= i < len(suggestions):
            return _("This button is no longer valid."), None, []
        state.update(period=suggestions[i], step="deadline")
        await save_wizard(session, who.person.id, state)
        return None, ask_deadline(services, who), []
    if action == "d":
        days = int(args[0])
        if state.get("step") != "deadline" or days not in (3, 7, 14):
            return _("This button is no longer valid."), None, []
        tz = services.settings.bureau.tz
        when = (now.astimezone(tz) + timedelta(days=days)).replace(
            hour=DEADLINE_HOUR, minute=0, second=0, microsecond=0
        )
        state.update(deadline=when.isoformat(), step="audience")
        await save_wizard(session, who.person.id, state)
        return None, await ask_audience(session, who, state), []
    if action in ("td", "ts"):
        if state.get("step") != "audience":
            return _("This button is no longer valid."), None, []
        if action == "td":
            district = await session.get(District, int(args[0]))
            if district is None:
                return _("This button is no longer valid."), None, []
            ticked = set(state.get("districts", [])) ^ {district.id}
            state["districts"] = sorted(ticked)
        else:
            i = int(args[0])
            if not 0 <= i < len(STAGE_CODES):
                return _("This button is no longer valid."), None, []
            ticked_s = set(state.get("stages", [])) ^ {STAGE_CODES[i]}
            state["stages"] = [s for s in STAGE_CODES if s in ticked_s]
        await save_wizard(session, who.person.id, state)
        return None, await ask_audience(session, who, state), []
    if action == "ok":
        if state.get("step") != "audience":
            return _("This button is no longer valid."), None, []
        if await matching_schools(session, state) == 0:
            return _("No active school matches; tick fewer districts or stages."), None, []
        state["step"] = "confirm"
        await save_wizard(session, who.person.id, state)
        return None, await confirm_screen(session, services, who, state), []
    if action == "go":
        if state.get("step") != "confirm" or state.get("form") not in forms:
            return _("This button is no longer valid."), None, []
        try:
            round_ = await rs.open_round(
                session,
                form=forms.get(state["form"]),
                period=state["period"],
                deadline=datetime.fromisoformat(state["deadline"]),
                grace_minutes=services.settings.rounds.grace_minutes,
                districts=state.get("districts") or None,
                stages=state.get("stages") or None,
                created_by=who.person.id,
                now=now,
            )
        except rs.RoundError as err:
            await clear_conversation(session, who.person.id)
            return (
                None,
                Rendered(
                    "❌ " + _("The round was not opened: {reason}").format(reason=escape(str(err)))
                ),
                [],
            )
        await clear_conversation(session, who.person.id)
        notify = await announce_round(session, round_, services.settings)
        log.info("round opened", extra={"round_id": round_.id, "recipients": len(notify)})
        return None, await round_view(session, services, who, round_), notify
    return _("This button is no longer valid."), None, []


def register(app: HuibaoApp) -> None:
    app.add_handler(CommandHandler("round", round_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^rd:"))
