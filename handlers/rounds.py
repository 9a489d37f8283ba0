"""/round for bureau staff: open a collection round in chat, see how it stands, extend
it, close it early, unlock one school; and what principals and deputies are told of it
(the announcement, an extension, an early close), queued in the outbox in the same
transaction (announce_round, tell_extension, tell_closing: also used by `huibao rounds`).

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
    rt:{round}           send again what did not reach its recipients (its own prefix, so
                         the authorization test presses it as every other role)
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import filters

from config.settings import Settings
from handlers.context import Who, unit
from handlers.report import (
    KIND_ROUND,
    clear_conversation,
    set_conversation,
)
from handlers.report_view import Rendered, local, short_label
from models import round_service as rs
from models.audit import record
from models.base import utcnow
from models.clock import parse_when
from models.forms import STAGES, FormDef
from models.outbox import (
    Button,
    DeliveryBatch,
    Outgoing,
    OutMessage,
    Requeued,
    count_unreached,
    create_batch,
    enqueue,
    purpose_of_round,
    requeue_failed,
)
from models.people import District, Person, School
from models.reminders import school_contacts, unsubmitted_school_ids
from models.rounds import Conversation, Round, RoundStatus
from models.schedules import canonical_period, month_period, period_label, term_code, week_period
from texts.delivery import requeued_text
from texts.i18n import Gettext, choose_language, gettext_for
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger("huibao.rounds")

PREFIX = "rd"
RETRY_PREFIX = "rt:"
DEADLINE_HOUR = 17
STAGE_CODES = list(STAGES)
MAX_UNLOCK_BUTTONS = 20
MAX_ROUNDS_LISTED = 15


def cb(*parts: object) -> str:
    return ":".join((PREFIX, *(str(p) for p in parts)))


# --- telling the schools -----------------------------------------------------------------
#
# Bulk messages go through the outbox (DESIGN principle 3): the caller's transaction (the
# one that opens, extends or closes the round) writes one delivery row per recipient and
# the delivery worker sends them through the rate limiter after the commit. The purposes
# below are the idempotency keys: the same announcement is never queued twice for a chat.


def announce_purpose(round_id: int) -> str:
    return f"round:{round_id}:announce"


def extend_purpose(round_: Round) -> str:
    return f"round:{round_.id}:extend:{round_.deadline.astimezone(UTC):%Y%m%dT%H%M}"


def close_purpose(round_: Round) -> str:
    closed = round_.closed_at or utcnow()
    return f"round:{round_.id}:close:{closed.astimezone(UTC):%Y%m%dT%H%M%S}"


def _language(person: Person, settings: Settings) -> str:
    return choose_language(
        person.language, person.telegram_language, settings.bureau.default_language
    )


def _start_button(round_: Round, _: Gettext) -> tuple[tuple[Button, ...], ...]:
    return ((Button(_("📝 Start the report"), callback_data=f"rp:o:{round_.id}"),),)


def _names(form: FormDef, round_: Round, lang: str, settings: Settings) -> dict[str, str]:
    """{bureau}, {form} and {period} of the messages about a round, escaped for HTML."""
    return {
        "bureau": escape(settings.bureau.name),
        "form": escape(form.title.get(lang)),
        "period": escape(period_label(round_.period, lang)),
    }


def announcement(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> OutMessage:
    """The message telling one school's contact that a round is open, in their language,
    with the button that starts the report."""
    _ = gettext_for(lang)
    tz = settings.bureau.tz
    lines = [
        "📋 "
        + _("{bureau} asks for a report: <b>{form}</b> ({period})").format(
            **_names(form, round_, lang, settings)
        ),
        _("School: {school}").format(school=escape(school.name)),
        _("Deadline: {time}").format(time=local(round_.deadline, tz)),
    ]
    if form.description:
        lines.append(f"<i>{escape(form.description.get(lang))}</i>")
    lines.append(_("Press the button to start; you can stop and come back at any time."))
    return OutMessage(text="\n".join(lines), keyboard=_start_button(round_, _))


def extension_notice(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> OutMessage:
    """A school that has not submitted learns the new deadline."""
    _ = gettext_for(lang)
    tz = settings.bureau.tz
    lines = [
        "🕒 "
        + _("{bureau} has moved the deadline of <b>{form}</b> ({period}).").format(
            **_names(form, round_, lang, settings)
        ),
        _("School: {school}").format(school=escape(school.name)),
        _("New deadline: {time}").format(time=local(round_.deadline, tz)),
        _("Your school has not submitted it yet. Answers already given are kept."),
    ]
    return OutMessage(text="\n".join(lines), keyboard=_start_button(round_, _))


def closing_notice(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> OutMessage:
    """A school that has not submitted learns that the round was closed early."""
    _ = gettext_for(lang)
    lines = [
        "⏹ "
        + _("{bureau} has closed <b>{form}</b> ({period}) early.").format(
            **_names(form, round_, lang, settings)
        ),
        _("School: {school}").format(school=escape(school.name)),
        _(
            "Your school had not submitted it, and reports can no longer be submitted. "
            "If your school still needs to, please contact the bureau."
        ),
    ]
    return OutMessage(text="\n".join(lines))


MessageFor = Callable[[FormDef, Round, School, str, Settings], OutMessage]


@dataclass
class Told:
    """Who a message about a round was queued for."""

    people: int = 0
    """Recipients (principals and deputies) with a delivery row."""
    schools: int = 0
    """Schools with at least one of them."""
    unconnected: list[School] = field(default_factory=list)
    """Schools it was meant for where nobody uses the bot yet."""
    batch: DeliveryBatch | None = None


async def _queue(
    session: AsyncSession,
    round_: Round,
    settings: Settings,
    school_ids: Sequence[int],
    purpose: str,
    message_for: MessageFor,
    *,
    batch_id: int | None = None,
) -> Told:
    """One delivery per principal and deputy of these schools, each in their language."""
    told = Told()
    if not school_ids:
        return told
    form = await rs.round_form(session, round_)
    schools = (
        await session.execute(select(School).where(School.id.in_(school_ids)).order_by(School.code))
    ).scalars().all()
    contacts = await school_contacts(session, list(school_ids))
    items = []
    for school in schools:
        people = contacts.get(school.id, [])
        if not people:
            told.unconnected.append(school)
            continue
        told.schools += 1
        for person in people:
            message = message_for(form, round_, school, _language(person, settings), settings)
            items.append(Outgoing(person.telegram_id, person.id, (message,)))
    told.people = len(items)
    await enqueue(session, purpose, items, batch_id=batch_id)
    return told


async def announce_round(
    session: AsyncSession,
    round_: Round,
    settings: Settings,
    *,
    owner: Person | None = None,
    owner_language: str = "zh_CN",
) -> Told:
    """Queue the announcement of a round just opened (in the opening transaction): every
    principal and deputy of the expected schools, in their own language. With an owner
    (staff in chat), the deliveries form a batch whose progress and final report go to
    them; the caller puts the progress message in `told.batch`."""
    school_ids = await rs.expected_school_ids(session, round_.id)
    contacts = await school_contacts(session, school_ids)
    batch = None
    if owner is not None and contacts:
        _ = gettext_for(owner_language)
        form = await rs.round_form(session, round_)
        batch = await create_batch(
            session,
            "round",
            ref_id=round_.id,
            title=_("Round #{id}: {form} · {period}").format(
                id=round_.id,
                form=form.title.get(owner_language),
                period=period_label(round_.period, owner_language),
            ),
            owner_id=owner.id,
            language=owner_language,
            details_callback=cb("v", round_.id),
        )
    told = await _queue(
        session,
        round_,
        settings,
        school_ids,
        announce_purpose(round_.id),
        announcement,
        batch_id=batch.id if batch is not None else None,
    )
    told.batch = batch
    return told


async def tell_extension(session: AsyncSession, round_: Round, settings: Settings) -> Told:
    """After extend_round, in its transaction: the schools that have not submitted learn
    the new deadline (once per new deadline)."""
    pending = await unsubmitted_school_ids(session, round_.id)
    purpose = extend_purpose(round_)
    return await _queue(session, round_, settings, pending, purpose, extension_notice)


async def tell_closing(session: AsyncSession, round_: Round, settings: Settings) -> Told:
    """After close_round, in its transaction: the schools that have not submitted learn
    that they no longer can."""
    pending = await unsubmitted_school_ids(session, round_.id)
    purpose = close_purpose(round_)
    return await _queue(session, round_, settings, pending, purpose, closing_notice)


def told_text(told: Told, _: Gettext) -> str:
    """For staff: who was told of an extension or closing."""
    if not told.people:
        return _("No school that has not submitted has anyone connected, so nobody was told.")
    return _("Telling the {schools} schools that have not submitted ({people} people).").format(
        people=told.people, schools=told.schools
    )


def unconnected_text(schools: Sequence[School], _: Gettext, limit: int = 10) -> str:
    lines = [
        _("Nobody is connected yet at {count} of the schools, so they were not told:").format(
            count=len(schools)
        )
    ]
    lines += [f"• {escape(s.code)} {escape(s.name)}" for s in schools[:limit]]
    if len(schools) > limit:
        lines.append(_("… and {count} more").format(count=len(schools) - limit))
    return "\n".join(lines)


# --- the staff screens -------------------------------------------------------------------


def _is_staff(who: Who) -> bool:
    return who.role.is_staff


async def round_list(session: AsyncSession, services: Services, who: Who) -> Rendered:
    _ = who._
    forms = services.forms
    now = utcnow()
    rounds = await rs.recent_rounds(session, now, MAX_ROUNDS_LISTED)
    tz = services.settings.bureau.tz
    rows = []
    for r in rounds:
        title = r.form_code
        try:
            title = (await rs.round_form(session, r)).title.get(who.language)
        except KeyError:
            pass
        # Past its lock a round is closed for entry, whether or not staff closed it.
        mark = "🟢" if rs.accepting(r, now) else "⚪"
        period = period_label(r.period, who.language)
        label = f"{mark} {title} · {period} · {local(r.deadline, tz)[5:]}"
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
    state = rs.entry_state(round_, now)
    status = {
        rs.EntryState.OPEN: _("open"),
        rs.EntryState.ENTRY_CLOSED: _("entry closed"),
        rs.EntryState.CLOSED: _("closed"),
    }[state]
    closes = local(rs.lock_time(round_), tz)
    period = period_label(round_.period, who.language)
    lines = [
        f"📋 <b>{escape(title)}</b> · {escape(period)} ({status})",
        _("Deadline: {time}").format(time=local(round_.deadline, tz)),
        _("Entry closes: {time}").format(time=closes)
        if state is rs.EntryState.OPEN
        else _("Entry closed: {time}").format(time=closes),
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
    if state is rs.EntryState.OPEN:
        rows.append([InlineKeyboardButton(_("⏹ Close early"), callback_data=cb("c", rid))])
    # Messages about the round that failed for good or were refused (blocked the bot).
    unreached = await count_unreached(session, purpose_of_round(rid))
    if unreached.total:
        lines.append(unreached_line(unreached, _))
        rows.append([InlineKeyboardButton(
            _("🔁 Send again to the {count} not reached").format(count=unreached.total),
            callback_data=f"{RETRY_PREFIX}{rid}",
        )])
    rows.append([InlineKeyboardButton(_("⬅ All rounds"), callback_data=cb("l"))])
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


def unreached_line(unreached: Requeued, _: Gettext) -> str:
    if unreached.blocked:
        return "⚠️ " + _(
            "{count} messages of this round did not reach their recipients "
            "({blocked} had blocked the bot)"
        ).format(count=unreached.total, blocked=unreached.blocked)
    return "⚠️ " + _("{count} messages of this round did not reach their recipients").format(
        count=unreached.total
    )


async def told_view(
    session: AsyncSession, services: Services, who: Who, round_: Round, told: Told
) -> Rendered:
    """The round's screen after an extension or closing, with who was told of it."""
    view = await round_view(session, services, who, round_)
    return Rendered(view.text + "\n\n" + told_text(told, who._), view.markup)


# --- the set-up conversation ----------------------------------------------------------------


def period_suggestions(form: FormDef, now: datetime, services: Services) -> list[str]:
    """Period labels as stored, the same as schedules give them (2026, 2026-11,
    2026-W49, 2026-autumn); shown to people through period_label."""
    today = now.astimezone(services.settings.bureau.tz).date()
    if form.period_type == "year":
        return [str(today.year), str(today.year - 1)]
    if form.period_type == "month":
        return [month_period(today), month_period(today.replace(day=1) - timedelta(days=1))]
    if form.period_type == "week":
        return [week_period(today)]
    return [term_code(today)]


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
    rows = [
        [InlineKeyboardButton(period_label(s, who.language), callback_data=cb("p", i))]
        for i, s in enumerate(suggestions)
    ]
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


async def duplicate_refusal(
    session: AsyncSession, services: Services, who: Who, form_code: str, period: str
) -> Rendered | None:
    """There is one round per form and period: said as soon as the period is chosen,
    with the way to the existing round. The set-up stays at the period question."""
    found = await rs.existing_round(session, form_code, period)
    if found is None:
        return None
    _ = who._
    try:
        title = (await rs.round_form(session, found)).title.get(who.language)
    except KeyError:
        title = found.form_code
    text = "❌ " + _(
        "<b>{form}</b> for {period} is already collected by round #{id} (deadline {time}). "
        "There is one round per form and period: open that round to extend or reopen it, "
        "or type another period."
    ).format(
        form=escape(title),
        period=escape(period_label(found.period, who.language)),
        id=found.id,
        time=local(found.deadline, services.settings.bureau.tz),
    )
    rows = [
        [
            InlineKeyboardButton(
                _("📋 Open round #{id}").format(id=found.id), callback_data=cb("v", found.id)
            )
        ],
        [InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x"))],
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


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
    form = services.forms.get(state["form"])
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
            _("Period: {period}").format(
                period=escape(period_label(state["period"], who.language))
            ),
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
    if state.get("step") == "extend":
        services.wake_outbox()  # committed: the schools' notices of the new deadline may go
    await message.reply_text(reply.text, reply_markup=reply.markup)


async def wizard_text(
    session: AsyncSession, services: Services, who: Who, state: dict[str, Any], text: str
) -> Rendered:
    _ = who._
    step = state.get("step")
    now = utcnow()
    tz = services.settings.bureau.tz
    if step == "period":
        period = canonical_period(text)
        if not period or len(period) > rs.MAX_PERIOD_LENGTH:
            return Rendered(
                "❌ "
                + _("Please type a period of at most {count} characters.").format(
                    count=rs.MAX_PERIOD_LENGTH
                )
            )
        refused = await duplicate_refusal(session, services, who, str(state.get("form")), period)
        if refused is not None:
            return refused
        state.update(period=period, step="deadline")
        await save_wizard(session, who.person.id, state)
        return ask_deadline(services, who)
    if step in ("deadline", "extend"):
        when = parse_when(text, tz, now)
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
            told = await tell_extension(session, round_, services.settings)
            return await told_view(session, services, who, round_, told)
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


async def retry_button(update: Update, context: HuibaoContext) -> None:
    """Staff send again, from the round's screen, every message about the round that did
    not reach its recipient (failed for good, or refused because they blocked the bot)."""
    query = update.callback_query
    assert query is not None
    services = context.services
    async with unit(update, context) as (session, who):
        outcome = await retry_round(session, services, who, query.data or "")
    # Committed: now Telegram.
    _ = who._
    if isinstance(outcome, str):
        await query.answer(outcome, show_alert=True)
        return
    again, view = outcome
    services.wake_outbox()
    await query.answer(requeued_text(_, again), show_alert=bool(again.blocked))
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramError):
            await query.message.edit_text(view.text, reply_markup=view.markup)


async def retry_round(
    session: AsyncSession, services: Services, who: Who, data: str
) -> str | tuple[Requeued, Rendered]:
    """Requeue the round's undelivered messages; a refusal, or the counts and the new screen.
    The data is untrusted: exactly "rt:" and a round id that exists."""
    _ = who._
    if not _is_staff(who):
        return _("Sorry, only bureau staff can manage collection rounds.")
    text = data.removeprefix(RETRY_PREFIX)
    # Ids are 32-bit: a longer number would make PostgreSQL raise rather than find nothing.
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) >= 2**31:
        return _("This button is no longer valid.")
    round_ = await session.get(Round, int(text))
    if round_ is None:
        return _("That round no longer exists.")
    again = await requeue_failed(session, purpose_of_round(round_.id), utcnow())
    if again.total:
        record(session, "round.retry", actor_id=who.person.id, target_type="round",
               target_id=round_.id, failed=again.failed, blocked=again.blocked)
    return again, await round_view(session, services, who, round_)


async def on_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    parts = (query.data or "").split(":")
    after = After()
    alert: str | None = None
    reply: Rendered | None = None
    message = query.message
    origin = (message.chat.id, message.message_id) if isinstance(message, Message) else None
    async with unit(update, context) as (session, who):
        if not _is_staff(who):
            alert = who._("Sorry, only bureau staff can manage collection rounds.")
        else:
            try:
                alert, reply, after = await staff_button(
                    session, services, who, parts[1:], origin
                )
            except (ValueError, IndexError):
                alert = who._("This button is no longer valid.")
    # Committed: what was queued may go out now.
    if after.wake:
        services.wake_outbox()
    await query.answer(alert, show_alert=alert is not None)
    if after.edit is not None and isinstance(message, Message):
        await message.edit_text(after.edit)
    if reply is not None and isinstance(message, Message):
        if parts[1:2] in (["td"], ["ts"]):
            # Ticking changes the same screen rather than adding one per tick.
            await message.edit_text(reply.text, reply_markup=reply.markup)
        else:
            await message.reply_text(reply.text, reply_markup=reply.markup)


@dataclass
class After:
    """What on_button does once the update's transaction has committed."""

    wake: bool = False
    """Deliveries were queued: wake the delivery worker."""
    edit: str | None = None
    """New text for the message whose button was pressed (buttons removed)."""


StaffResult = tuple[str | None, Rendered | None, After]


async def staff_button(
    session: AsyncSession,
    services: Services,
    who: Who,
    args: list[str],
    origin: tuple[int, int] | None = None,
) -> StaffResult:
    """origin: (chat id, message id) of the pressed message (the announcement's progress
    line replaces the confirmation)."""
    _ = who._
    action = args[0]
    now = utcnow()
    forms = services.forms
    if action == "l":
        return None, await round_list(session, services, who), After()
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
        return None, Rendered(_("Which form?"), InlineKeyboardMarkup(rows)), After()
    if action == "x":
        await clear_conversation(session, who.person.id)
        return None, Rendered(_("Cancelled.")), After()
    if action in ("f", "p", "d", "td", "ts", "ok", "go"):
        state = await wizard_state(session, who.person.id)
        if state is None:
            return _("This set-up has ended; send /round to start again."), None, After()
        return await wizard_button(session, services, who, state, action, args[1:], origin)
    round_ = await session.get(Round, int(args[1]))
    if round_ is None:
        return _("That round no longer exists."), None, After()
    if action == "v":
        return None, await round_view(session, services, who, round_), After()
    if action == "e":
        days = int(args[2])
        if days not in (1, 3, 7):
            raise ValueError(days)
        base = max(round_.deadline, now)
        await rs.extend_round(
            session, round_, base + timedelta(days=days), by=who.person.id, now=now
        )
        told = await tell_extension(session, round_, services.settings)
        return None, await told_view(session, services, who, round_, told), After(wake=True)
    if action == "E":
        await save_wizard(session, who.person.id, {"step": "extend", "round": round_.id})
        ask = _("Type the new deadline, like 2026-12-01 17:00 (bureau time).")
        return None, Rendered(ask), After()
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
            After(),
        )
    if action == "C":
        if round_.status == RoundStatus.CLOSED.value:
            return _("This round is already closed."), None, After()
        early = rs.accepting(round_, now)
        await rs.close_round(session, round_, by=who.person.id, now=now)
        if not early:
            # Entry had closed at the lock already: nobody learns anything new.
            return None, await round_view(session, services, who, round_), After()
        told = await tell_closing(session, round_, services.settings)
        return None, await told_view(session, services, who, round_, told), After(wake=True)
    if action == "u":
        return None, await unlock_screen(session, who, round_), After()
    if action == "U":
        school = await session.get(School, int(args[2]))
        if school is None:
            return _("This button is no longer valid."), None, After()
        await clear_conversation(session, who.person.id)
        return None, await do_unlock(session, services, who, round_, school), After()
    return _("This button is no longer valid."), None, After()


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
    origin: tuple[int, int] | None = None,
) -> StaffResult:
    _ = who._
    forms = services.forms
    now = utcnow()
    if action == "f":
        code = args[0]
        if code not in forms:
            return _("This form is no longer available."), None, After()
        form = forms.get(code)
        suggestions = period_suggestions(form, now, services)
        state = {"step": "period", "form": code, "suggestions": suggestions}
        await save_wizard(session, who.person.id, state)
        return None, ask_period(form, suggestions, who), After()
    if action == "p":
        suggestions = state.get("suggestions", [])
        i = int(args[0])
        if state.get("step") != "period" or not 0 <= i < len(suggestions):
            return _("This button is no longer valid."), None, After()
        refused = await duplicate_refusal(session, services, who, state["form"], suggestions[i])
        if refused is not None:
            return None, refused, After()
        state.update(period=suggestions[i], step="deadline")
        await save_wizard(session, who.person.id, state)
        return None, ask_deadline(services, who), After()
    if action == "d":
        days = int(args[0])
        if state.get("step") != "deadline" or days not in (3, 7, 14):
            return _("This button is no longer valid."), None, After()
        tz = services.settings.bureau.tz
        when = (now.astimezone(tz) + timedelta(days=days)).replace(
            hour=DEADLINE_HOUR, minute=0, second=0, microsecond=0
        )
        state.update(deadline=when.isoformat(), step="audience")
        await save_wizard(session, who.person.id, state)
        return None, await ask_audience(session, who, state), After()
    if action in ("td", "ts"):
        if state.get("step") != "audience":
            return _("This button is no longer valid."), None, After()
        if action == "td":
            district = await session.get(District, int(args[0]))
            if district is None:
                return _("This button is no longer valid."), None, After()
            ticked = set(state.get("districts", [])) ^ {district.id}
            state["districts"] = sorted(ticked)
        else:
            i = int(args[0])
            if not 0 <= i < len(STAGE_CODES):
                return _("This button is no longer valid."), None, After()
            ticked_s = set(state.get("stages", [])) ^ {STAGE_CODES[i]}
            state["stages"] = [s for s in STAGE_CODES if s in ticked_s]
        await save_wizard(session, who.person.id, state)
        return None, await ask_audience(session, who, state), After()
    if action == "ok":
        if state.get("step") != "audience":
            return _("This button is no longer valid."), None, After()
        if await matching_schools(session, state) == 0:
            return _("No active school matches; tick fewer districts or stages."), None, After()
        state["step"] = "confirm"
        await save_wizard(session, who.person.id, state)
        return None, await confirm_screen(session, services, who, state), After()
    if action == "go":
        if state.get("step") != "confirm" or state.get("form") not in forms:
            return _("This button is no longer valid."), None, After()
        return await open_from_chat(session, services, who, state, origin)
    return _("This button is no longer valid."), None, After()


async def open_from_chat(
    session: AsyncSession,
    services: Services,
    who: Who,
    state: dict[str, Any],
    origin: tuple[int, int] | None,
) -> StaffResult:
    """✅ Open the round: the round and one announcement per principal and deputy are
    written in this transaction; the confirmation becomes the announcement's progress
    line, and the staff member gets the delivery report when it is done."""
    _ = who._
    now = utcnow()
    deadline = datetime.fromisoformat(state["deadline"])
    refused = await duplicate_refusal(session, services, who, state["form"], state["period"])
    if refused is not None:
        # Someone opened the same period meanwhile.
        await clear_conversation(session, who.person.id)
        return None, refused, After()
    if deadline <= now:
        state["step"] = "deadline"
        await save_wizard(session, who.person.id, state)
        ask = ask_deadline(services, who)
        text = "❌ " + _("The deadline you chose has passed meanwhile. Please choose a new one.")
        return None, Rendered(text + "\n" + ask.text, ask.markup), After()
    if await matching_schools(session, state) == 0:
        return _("No active school matches; tick fewer districts or stages."), None, After()
    try:
        round_ = await rs.open_round(
            session,
            form=services.forms.get(state["form"]),
            period=state["period"],
            deadline=deadline,
            grace_minutes=services.settings.rounds.grace_minutes,
            districts=state.get("districts") or None,
            stages=state.get("stages") or None,
            created_by=who.person.id,
            now=now,
        )
    except rs.DuplicateRound as err:
        # Another officer's ✅ for the same period committed a moment before this one.
        refused = await duplicate_refusal(session, services, who, state["form"], state["period"])
        await clear_conversation(session, who.person.id)
        if refused is None:  # pragma: no cover - the round that won is committed
            reason = _("The round was not opened: {reason}").format(reason=escape(str(err)))
            refused = Rendered("❌ " + reason)
        return None, refused, After()
    except rs.RoundError as err:
        await clear_conversation(session, who.person.id)
        reason = _("The round was not opened: {reason}").format(reason=escape(str(err)))
        return None, Rendered("❌ " + reason), After()
    await clear_conversation(session, who.person.id)
    told = await announce_round(
        session, round_, services.settings, owner=who.person, owner_language=who.language
    )
    log.info("round opened", extra={"round_id": round_.id, "recipients": told.people})
    view = await round_view(session, services, who, round_)
    if told.unconnected:
        view = Rendered(view.text + "\n\n" + unconnected_text(told.unconnected, _), view.markup)
    if told.batch is None:
        progress = _(
            "Round #{id} is open. Nobody at its schools uses the bot yet, so nobody was "
            "told; they find the round in /report once they connect."
        ).format(id=round_.id)
        return None, view, After(edit=progress)
    progress = _("<b>{title}</b>\nTelling {people} people at {schools} schools…").format(
        title=escape(told.batch.title), people=told.people, schools=told.schools
    )
    # The confirmation turns into the live progress line (like a notice's preview).
    told.batch.progress_text = progress
    if origin is not None:
        told.batch.progress_chat_id, told.batch.progress_message_id = origin
    return None, view, After(wake=True, edit=progress)


def register(app: HuibaoApp) -> None:
    from handlers import menu
    from texts.i18n import N_

    # Through the menu registry: /round is in staff's and admins' menus and /help, and
    # everyone else is refused (command and buttons) before these callbacks run.
    menu.add_command(app, "round", round_command,
                     N_("Collection rounds: open, extend, unlock, close"), menu.STAFF,
                     order=20, filters=filters.ChatType.PRIVATE)
    menu.add_callback(app, f"{PREFIX}:", on_button, menu.STAFF, example=cb("v", 1))
    menu.add_callback(app, RETRY_PREFIX, retry_button, menu.STAFF, example=f"{RETRY_PREFIX}1")
