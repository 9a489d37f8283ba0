"""The staff's screens of /round: the list of rounds, one round, and the questions of the
set-up (form, period, deadline, schools, confirm)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.context import Who
from handlers.report_view import Rendered, short_label
from models.conversations import RoundSetup
from models.followup.reminders import school_contacts, unsubmitted_school_ids
from models.forms import STAGES, FormDef
from models.outbox import Requeued, count_unreached, purpose_of_round
from models.review import rules as review_rules
from models.roster.tables import District, School
from models.rounds import Round
from models.rounds.announce import Told
from models.rounds.lifecycle import existing_round, recent_rounds
from models.rounds.locks import EntryState, accepting, entry_state, lock_time
from models.rounds.periods import month_period, period_label, term_code, week_period
from models.rounds.submissions import ReportStatus, submission_statuses
from models.rounds.versions import round_form
from texts import review as review_words
from texts.callbacks import (
    AskClose,
    BackToRound,
    CancelSetUp,
    ChooseDeadline,
    ChooseForm,
    ChoosePeriod,
    ChooseUnlock,
    CloseRound,
    ConfirmDeadline,
    ConfirmRetry,
    ExtendRound,
    NewRound,
    OpenRound,
    RetryRound,
    ReviewToggle,
    RoundDistrictTick,
    RoundList,
    RoundStageTick,
    SchoolsChosen,
    ShowRound,
    TypeDeadline,
    UnlockSchool,
)
from texts.i18n import Gettext, ngettext_for, paren, schools
from texts.rounds import (
    close_question,
    deadline_question,
    retry_question,
    told_text,
)
from texts.when import show
from transport.context import Services

DEADLINE_HOUR = 17
DEADLINE_DAYS = (3, 7, 14)
"""The deadlines offered by the set-up, in days from today."""
EXTEND_DAYS = (1, 3, 7)
"""The extensions offered on a round's screen."""
STAGE_CODES = list(STAGES)
MAX_UNLOCK_BUTTONS = 20
MAX_ROUNDS_LISTED = 15

Rows = list[list[InlineKeyboardButton]]


def button(label: str, data: Any) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def cancel_row(_: Gettext) -> list[InlineKeyboardButton]:
    return [button(_("✖ Cancel"), CancelSetUp())]


async def form_title(session: AsyncSession, round_: Round, language: str) -> str:
    """The round's form in this language; its code when the form is no longer loaded."""
    try:
        return (await round_form(session, round_)).title.get(language)
    except KeyError:
        return round_.form_code


# --- the list and one round ------------------------------------------------------------------


async def round_list(session: AsyncSession, services: Services, who: Who) -> Rendered:
    _ = who._
    forms = services.forms
    now = services.now()
    tz = services.settings.bureau.tz
    rows: Rows = []
    lines = []
    for r in await recent_rounds(session, now, MAX_ROUNDS_LISTED):
        title = await form_title(session, r, who.language)
        # Past its lock a round is closed for entry, whether or not staff closed it.
        mark = "🟢" if accepting(r, now) else "⚪"
        period = period_label(r.period, who.language)
        # The button stays short (never cut); the line above it carries the deadline.
        rows.append([button(f"{mark} {title} · {period}", ShowRound(r.id))])
        deadline = show(r.deadline, tz, "short", who.language, now)
        lines.append(f"{mark} {escape(title)} · {escape(period)} · " + _(
            "deadline {time}").format(time=deadline))
    if len(forms):
        rows.append([button(_("➕ Open a new round"), NewRound())])
    text = "\n".join([_("<b>Collection rounds</b>"), *lines])
    if not len(forms):
        text += "\n" + _(
            "No form is loaded, so no round can be opened: run `huibao forms check` on the "
            "server and restart the bot."
        )
    elif len(rows) == 1:
        text += "\n" + _("No round yet.")
    return Rendered(text, InlineKeyboardMarkup(rows))


def _state_word(state: EntryState, _: Gettext) -> str:
    return {
        EntryState.OPEN: _("open"),
        EntryState.ENTRY_CLOSED: _("entry closed"),
        EntryState.CLOSED: _("closed"),
    }[state]


def _counts_line(counts: Counter[ReportStatus], _: Gettext) -> str:
    return _(
        "On time: {on_time} · late: {late} · in progress: {progress} · not started: {none}"
    ).format(
        on_time=counts[ReportStatus.ON_TIME],
        late=counts[ReportStatus.LATE],
        progress=counts[ReportStatus.IN_PROGRESS],
        none=counts[ReportStatus.NOT_STARTED],
    )


def _round_rows(round_: Round, state: EntryState, _: Gettext) -> Rows:
    rid = round_.id
    labels = {1: _("+1 day"), 3: _("+3 days"), 7: _("+7 days")}
    rows: Rows = [
        [button(labels[days], ExtendRound(rid, days)) for days in EXTEND_DAYS],
        [button(_("🕒 Type a new deadline"), TypeDeadline(rid))],
        [button(_("🔓 Unlock a school"), ChooseUnlock(rid))],
    ]
    if state is EntryState.OPEN:
        rows.append([button(_("⏹ Close early"), AskClose(rid))])
    return rows


async def round_view(
    session: AsyncSession, services: Services, who: Who, round_: Round
) -> Rendered:
    _ = who._
    tz = services.settings.bureau.tz
    now = services.now()
    title = await form_title(session, round_, who.language)
    statuses = await submission_statuses(session, round_, now)
    counts = Counter(statuses.values())
    state = entry_state(round_, now)
    closes = show(lock_time(round_), tz, "full", who.language, now)
    period = period_label(round_.period, who.language)
    lines = [
        "📋 " + paren(_, f"<b>{escape(title)}</b> · {escape(period)}", _state_word(state, _)),
        _("Deadline: {time}").format(
            time=show(round_.deadline, tz, "full", who.language, now)
        ),
        _("Entry closes: {time}").format(time=closes)
        if state is EntryState.OPEN
        else _("Entry closed: {time}").format(time=closes),
        _("Schools expected: {count}").format(count=len(statuses)),
        _counts_line(counts, _),
        *await _review_lines(session, round_, _),
    ]
    rows = _round_rows(round_, state, _)
    # Messages about the round that failed for good or were refused (blocked the bot).
    unreached = await count_unreached(session, purpose_of_round(round_.id))
    if unreached.total:
        lines.append(unreached_line(unreached, _))
        label = _("🔁 Send again to the {count} not reached").format(count=unreached.total)
        rows.append([button(label, RetryRound(round_.id))])
    rows.append([button(_("⬅ All rounds"), RoundList())])
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


async def _review_lines(session: AsyncSession, round_: Round, _: Gettext) -> list[str]:
    """A round with district review: who reviews, and where each district stands."""
    if not await review_rules.is_reviewed(session, round_.id):
        return []
    lines = review_words.round_review_lines(
        _, await review_rules.districts_without_officer(session, round_.id))
    lines.extend(review_words.district_line(_, district, counts)
                 for district, counts in await review_rules.district_counts(session, round_.id))
    return lines


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
    """The round's screen after an extension or closing, with who was told of it. Its only
    button leads back to the round: a digit typed after a confirmation in the console
    (where a number presses a button) finds nothing there to change."""
    view = await round_view(session, services, who, round_)
    back = InlineKeyboardMarkup([[button(who._("⬅ Back to the round"), ShowRound(round_.id))]])
    return Rendered(view.text + "\n\n" + told_text(told, who._), back)


def minute_of(moment: datetime) -> int:
    """A deadline as a confirmation button carries it (minutes since the epoch)."""
    return int(moment.timestamp() // 60)


def from_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


async def would_be_told(session: AsyncSession, round_: Round) -> Told:
    """Who a new deadline or an early close would reach (announce.tell_extension and
    tell_closing tell the same schools: those that have not submitted)."""
    pending = await unsubmitted_school_ids(session, round_.id)
    contacts = await school_contacts(session, pending)
    told = Told()
    if pending:
        query = select(School).where(School.id.in_(pending)).order_by(School.code)
        for school in (await session.execute(query)).scalars():
            people = contacts.get(school.id, [])
            if people:
                told.schools += 1
                told.people += len(people)
            else:
                told.unconnected.append(school)
    return told


def confirm_row(_: Gettext, cancel: Any, confirm: Any, label: str | None = None) -> list[
    InlineKeyboardButton
]:
    """[Cancel] [Confirm]: cancel first, so that "1" typed in the console (it presses the
    first button) never confirms."""
    return [button(_("Cancel"), cancel), button(label or _("Confirm"), confirm)]


async def ask_deadline_change(
    session: AsyncSession, services: Services, who: Who, round_: Round, to: datetime
) -> Rendered:
    """Before a deadline moves: from when to when, and who will be told."""
    tz = services.settings.bureau.tz
    told = await would_be_told(session, round_)
    text = deadline_question(
        show(round_.deadline, tz), show(to, tz), told, who._, ngettext_for(who.language)
    )
    confirm = ConfirmDeadline(round_.id, minute_of(round_.deadline), minute_of(to))
    return Rendered(text, InlineKeyboardMarkup([confirm_row(who._, BackToRound(round_.id),
                                                            confirm)]))


async def ask_close(session: AsyncSession, who: Who, round_: Round) -> Rendered:
    told = await would_be_told(session, round_)
    text = close_question(told, who._, ngettext_for(who.language))
    row = confirm_row(who._, BackToRound(round_.id), CloseRound(round_.id),
                      who._("⏹ Yes, close it now"))
    return Rendered(text, InlineKeyboardMarkup([row]))


def ask_retry(round_id: int, count: int, who: Who) -> Rendered:
    text = retry_question(count, who._, ngettext_for(who.language))
    row = confirm_row(who._, BackToRound(round_id), ConfirmRetry(round_id, count))
    return Rendered(text, InlineKeyboardMarkup([row]))


async def unlock_screen(
    session: AsyncSession, services: Services, who: Who, round_: Round
) -> Rendered:
    """The schools that may be unlocked, those that have not submitted first."""
    _ = who._
    statuses = await submission_statuses(session, round_, services.now())
    waiting = [
        sid
        for sid, st in statuses.items()
        if st in (ReportStatus.NOT_STARTED, ReportStatus.IN_PROGRESS)
    ]
    submitted = [sid for sid in statuses if sid not in waiting]
    order = (waiting + submitted)[:MAX_UNLOCK_BUTTONS]
    query = select(School).where(School.id.in_(order))
    schools = {s.id: s for s in (await session.execute(query)).scalars()}
    rows: Rows = [
        [button(short_label(schools[sid].name), UnlockSchool(round_.id, sid))]
        for sid in order
        if sid in schools
    ]
    rows.append([button(_("⬅ Back to the round"), ShowRound(round_.id))])
    return Rendered(
        _(
            "Which school may submit once more? Press it (schools that have not submitted come "
            "first) or type its code."
        ),
        InlineKeyboardMarkup(rows),
    )


# --- the set-up ----------------------------------------------------------------------------


def ask_form(services: Services, who: Who) -> Rendered:
    rows: Rows = [
        # One form a row, its whole title: cut, two forms could read alike.
        [button(f.title.get(who.language), ChooseForm(f.code))]
        for f in services.forms.latest()
    ]
    rows.append(cancel_row(who._))
    return Rendered(who._("Which form?"), InlineKeyboardMarkup(rows))


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


def ask_period(form: FormDef, suggestions: list[str], who: Who) -> Rendered:
    _ = who._
    rows: Rows = [
        [button(period_label(s, who.language), ChoosePeriod(i))]
        for i, s in enumerate(suggestions)
    ]
    rows.append(cancel_row(_))
    return Rendered(
        _(
            "<b>{form}</b>\nWhich period is collected? Press a suggestion or type it "
            "(e.g. 2026, 2026-11, 2026 autumn term)."
        ).format(form=escape(form.title.get(who.language))),
        InlineKeyboardMarkup(rows),
    )


def deadline_in(days: int, services: Services) -> datetime:
    """DEADLINE_HOUR in bureau time, `days` days from today."""
    today = services.now().astimezone(services.settings.bureau.tz)
    return (today + timedelta(days=days)).replace(
        hour=DEADLINE_HOUR, minute=0, second=0, microsecond=0
    )


def ask_deadline(services: Services, who: Who) -> Rendered:
    _ = who._
    tz = services.settings.bureau.tz
    rows: Rows = []
    for days in DEADLINE_DAYS:
        when = show(deadline_in(days, services), tz, "short", who.language, services.now())
        label = _("in {days} days ({time})").format(days=days, time=when)
        rows.append([button(label, ChooseDeadline(days))])
    rows.append(cancel_row(_))
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
    found = await existing_round(session, form_code, period)
    if found is None:
        return None
    _ = who._
    text = "❌ " + _(
        "<b>{form}</b> for {period} is already collected by round #{id} (deadline {time}). "
        "There is one round per form and period: open that round to extend or reopen it, "
        "or type another period."
    ).format(
        form=escape(await form_title(session, found, who.language)),
        period=escape(period_label(found.period, who.language)),
        id=found.id,
        time=show(
            found.deadline, services.settings.bureau.tz, "full", who.language, services.now()
        ),
    )
    rows = [
        [button(_("📋 Open round #{id}").format(id=found.id), ShowRound(found.id))],
        cancel_row(_),
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


async def matching_schools(session: AsyncSession, state: RoundSetup) -> int:
    query = select(func.count()).select_from(School).where(School.active.is_(True))
    if state.districts:
        query = query.where(School.district_id.in_(state.districts))
    if state.stages:
        query = query.where(School.stage.in_(state.stages))
    return int((await session.execute(query)).scalar_one())


def _threes(buttons: Sequence[InlineKeyboardButton]) -> Rows:
    return [list(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]


async def ask_audience(session: AsyncSession, who: Who, state: RoundSetup) -> Rendered:
    _ = who._
    districts = (await session.execute(select(District).order_by(District.name))).scalars().all()
    ticked_d = set(state.districts)
    ticked_s = set(state.stages)
    rows = _threes([
        button(
            ("✅ " if d.id in ticked_d else "") + short_label(d.name, 20), RoundDistrictTick(d.id)
        )
        for d in districts
    ])
    rows += _threes([
        button(
            ("✅ " if code in ticked_s else "") + STAGES[code].get(who.language),
            RoundStageTick(i),
        )
        for i, code in enumerate(STAGE_CODES)
    ])
    count = await matching_schools(session, state)
    label = _("Next ➡ ({schools})").format(schools=schools(_, count))
    rows.append([button(label, SchoolsChosen())])
    rows.append(cancel_row(_))
    return Rendered(
        _(
            "Which schools must answer? With nothing ticked, all active schools; tick "
            "districts and/or stages to narrow it."
        ),
        InlineKeyboardMarkup(rows),
    )


async def _audience(session: AsyncSession, who: Who, state: RoundSetup) -> str:
    names: list[str] = []
    if state.districts:
        query = select(District.name).where(District.id.in_(state.districts))
        names = list((await session.execute(query)).scalars())
    stages = [STAGES[s].get(who.language) for s in state.stages]
    return "、".join([*names, *stages]) or who._("all active schools")


async def confirm_screen(
    session: AsyncSession, services: Services, who: Who, state: RoundSetup
) -> Rendered:
    _ = who._
    form = services.forms.get(state.form)
    assert state.deadline is not None  # the confirmation follows the deadline's step
    deadline = state.deadline
    audience = await _audience(session, who, state)
    count = await matching_schools(session, state)
    text = "\n".join(
        [
            "<b>" + _("Open this round?") + "</b>",
            _("Form: {form} (version {version})").format(
                form=escape(form.title.get(who.language)), version=form.version
            ),
            _("Period: {period}").format(
                period=escape(period_label(state.period, who.language))
            ),
            _("Deadline: {time}").format(time=show(
                deadline, services.settings.bureau.tz, "full", who.language, services.now()
            )),
            _("Schools: {audience} ({count})").format(audience=escape(audience), count=count),
            _("Their principals and deputies are told at once."),
        ]
    )
    rows = [
        [button(review_words.review_toggle(_, state.review), ReviewToggle())],
        [button(_("✅ Open the round"), OpenRound())], cancel_row(_),
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))
