"""Opening a report (/report, the list, a round's button) and /cancel."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers import menu
from handlers import report_view as view
from handlers.context import Who, unit
from handlers.report.answer import guard, refusal
from handlers.report.context import KIND_REPORT, Ctx, RoundRow, load_ctx, log
from handlers.report.conversation import (
    clear_conversation,
    point,
    retrying,
    send,
    sync_conversation,
)
from handlers.report.question import opening_count
from handlers.report.screens import (
    locked_text,
    not_yours_text,
    nothing_changed_text,
    render_position,
    revision_not_begun,
    save_position,
)
from handlers.report_view import REVIEW, Rendered, key_text
from models.conversations import ReportTalk
from models.forms import dump_value, outline, steps
from models.roster.tables import Person, Role, School
from models.rounds import (
    Conversation,
    Round,
    Submission,
    SubmissionStatus,
)
from models.rounds.answers import previous_answers
from models.rounds.lifecycle import get_round_school
from models.rounds.locks import (
    is_locked,
    unlocked_end,
)
from models.rounds.periods import period_label
from models.rounds.revisions import revisions_of
from models.rounds.submissions import (
    Report,
    get_or_create_submission,
    pending_for_person,
    reports_for_school,
)
from models.rounds.versions import round_form
from texts.callbacks import OpenReport, ReviseReport
from texts.i18n import Gettext, gettext_for, language_of
from transport.context import HuibaoContext, Services

# --- opening a report ----------------------------------------------------------------------


async def open_report(update: Update, context: HuibaoContext, round_id: int) -> None:
    query = update.callback_query
    message = query.message if query else update.effective_message
    services = context.services


    async def step(session: AsyncSession) -> tuple[Rendered | None, str | None]:
        return await open_in(session, services, update, round_id)

    reply, alert = await retrying(services, step)
    if query is not None:
        await query.answer(alert, show_alert=alert is not None)
    if reply is not None and isinstance(message, Message):
        await send(message, reply)


async def open_in(
    session: AsyncSession, services: Services, update: Update, round_id: int
) -> tuple[Rendered | None, str | None]:
    ctx = await load_ctx(session, services, update, with_answers=False)
    default = gettext_for(services.settings.bureau.default_language)
    if ctx is None:
        return None, default("This button is no longer valid.")
    _ = ctx._
    round_ = await session.get(Round, round_id)
    if round_ is None:
        return None, _("This button is no longer valid.")
    if not Role(ctx.role).is_school_contact or ctx.person_school_id is None:
        return None, not_yours_text(_)
    round_school = await get_round_school(session, round_id, ctx.person_school_id)
    if round_school is None:
        return None, not_yours_text(_)
    existing = (
        await session.execute(
            select(Submission.id).where(
                Submission.round_id == round_id, Submission.school_id == ctx.person_school_id
            )
        )
    ).scalar_one_or_none()
    now = services.now()
    if existing is None:
        if is_locked(round_, round_school, now):
            ctx.round = RoundRow(
                round_.id,
                round_.form_code,
                round_.form_version,
                round_.period,
                round_.deadline,
                round_.grace_minutes,
                round_.lock_at,
                round_.status,
                round_.created_by,
            )
            return Rendered(await locked_text(session, services, ctx)), None
        sub = await get_or_create_submission(session, round_, ctx.person_school_id, now=now)
        existing = sub.id
    full = await load_ctx(session, services, update, existing)
    assert full is not None and full.round is not None and full.form is not None
    if full.allowed and full.status == SubmissionStatus.SUBMITTED.value:
        return await submitted_summary(session, services, full), None
    why = guard(full, services.now())
    if why is not None:
        return await refusal(session, services, full, why), None
    if full.draft.previous is None:
        school = await session.get(School, full.school_id)
        assert school is not None
        prev = await previous_answers(session, school.id, full.form, round_)
        full.draft.previous = {code: dump_value(v) for (code, _i), v in prev.items()}
    point(full)
    visible = steps(full.form, full.answers, full.context)
    step = full.current(visible)
    await save_position(session, full, REVIEW if step is None else key_text(step.key))
    tz = services.settings.bureau.tz
    intro = [
        "<b>"
        + escape(full.form.title.get(full.lang))
        + "</b> · "
        + escape(period_label(round_.period, full.lang)),
        escape(full.school_name),
        _("Deadline: {time}").format(time=view.local(round_.deadline, tz, full.lang, now)),
    ]
    unlocked = unlocked_end(round_, round_school, now)
    if unlocked is not None:
        intro.append(
            "🔓 "
            + _("Unlocked for your school until {time}: you may submit once more.").format(
                time=view.local(unlocked, tz, full.lang, now)
            )
        )
    if full.answers:
        intro.append(_("Welcome back: your earlier answers are kept."))
    else:
        intro.append(opening_count(outline(full.form, full.answers, full.context), full.lang, _))
    intro.append("")
    rendered = with_revision_row(full, render_position(full, intro))
    await sync_conversation(session, full)
    return rendered, None


def with_revision_row(ctx: Ctx, rendered: Rendered) -> Rendered:
    """A revision under way, opened again: what was submitted, and giving the revision up,
    are one press away (below the question's own buttons)."""
    if ctx.status != SubmissionStatus.REVISING.value or ctx.sub_id is None:
        return rendered
    _ = ctx._
    rows = [list(row) for row in rendered.markup.inline_keyboard] if rendered.markup else []
    rows.append([view.view_button(ctx.sub_id, _), view.discard_button(ctx.sub_id, _)])
    return Rendered(rendered.text, InlineKeyboardMarkup(rows))


async def submitted_summary(session: AsyncSession, services: Services, ctx: Ctx) -> Rendered:
    assert ctx.sub_id is not None and ctx.form is not None and ctx.round is not None
    _ = ctx._
    revisions = await revisions_of(session, ctx.sub_id)
    last = revisions[-1]
    tz = services.settings.bureau.tz
    lines = [
        "✅ "
        + _("Submitted: {form} ({period})").format(
            form=escape(ctx.form.title.get(ctx.lang)),
            period=escape(period_label(ctx.round.period, ctx.lang)),
        ),
        _("Revision {number}, received {time}").format(
            number=last.number, time=view.local(last.submitted_at, tz, ctx.lang, services.now())
        ),
        _("Reference number: <code>{reference}</code>").format(reference=last.reference),
    ]
    buttons = [[view.view_button(ctx.sub_id, _)]]
    if not is_locked(ctx.round, ctx.lock, services.now()):
        revise = ReviseReport(ctx.sub_id).pack()
        buttons.append([InlineKeyboardButton(_("✏️ Revise"), callback_data=revise)])
    else:
        lines.append(await locked_text(session, services, ctx))
    return Rendered("\n".join(lines), InlineKeyboardMarkup(buttons))


# --- /report ---------------------------------------------------------------------------------


async def report_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    async with unit(update, context) as (session, who):
        reply = await report_list(session, services, who.person, who._)
    await send(message, reply)


async def report_list(
    session: AsyncSession, services: Services, person: Person, _: Gettext
) -> Rendered:
    """The person's reports: pending ones first, then submitted ones they may revise."""
    if not Role(person.role).is_school_contact or person.school_id is None:
        return Rendered(
            _(
                "Reports are filled in by school principals and deputies. If you are one, "
                "connect your school first with the invitation the bureau sent you."
            )
        )
    now = services.now()
    reports = await reports_for_school(session, person.school_id, now)
    tz = services.settings.bureau.tz
    lang = language_of(person, services.settings.bureau.default_language)
    entries = await report_entries(session, reports, lang, tz, now)
    if not entries:
        return Rendered(_("There is no report for your school to fill in at the moment."))
    text = _(
        "Your school's reports (📝 to fill in, ✏️ being revised, ✅ submitted, 🔒 closed, "
        "🔓 unlocked until). Choose one:"
    )
    lines = [text, "", *(e.line for e in entries)]
    rows = []
    for e in entries:
        rows.append([InlineKeyboardButton(e.label, callback_data=OpenReport(e.round_id).pack())])
        if e.submission_id is not None:
            # What was submitted can be read without beginning a revision.
            rows.append([view.view_button(e.submission_id, _)])
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


@dataclass(frozen=True)
class ReportEntry:
    """A report as listed: the message's line says everything (state, form, period,
    deadline); the button is short by design (state and form), so nothing is cut."""

    round_id: int
    line: str
    label: str
    submission_id: int | None = None
    """Set when the school has submitted: the report can be viewed as submitted."""


async def report_entries(
    session: AsyncSession, reports: Sequence[Report], lang: str, tz: ZoneInfo, now: datetime
) -> list[ReportEntry]:
    found = [(r, await report_entry(session, r, lang, tz, now)) for r in reports]
    listed = [(r, e) for r, e in found if e is not None]
    labels = Counter(e.label for _r, e in listed)
    # Two periods of one form open at once: their buttons name the period too.
    return [
        replace(e, label=f"{e.label} · {period_label(r.round.period, lang)}")
        if labels[e.label] > 1
        else e
        for r, e in listed
    ]


async def report_entry(
    session: AsyncSession, r: Report, lang: str, tz: ZoneInfo, now: datetime
) -> ReportEntry | None:
    """A report's line and button: its state, form, period and deadline (or, when a staff
    unlock is what lets the school answer, 🔓 and the unlock's end); None if the form is
    gone."""
    try:
        form = await round_form(session, r.round)
    except Exception:
        log.exception("round form unavailable", extra={"round_id": r.round.id})
        return None
    if r.submitted and not r.pending:
        mark = "✅"
    elif r.locked:
        mark = "🔒"
    elif r.status == SubmissionStatus.REVISING.value:
        mark = "✏️"
    else:
        mark = "📝"
    _ = gettext_for(lang)
    unlocked = unlocked_end(r.round, r.round_school, now)
    title = form.title.get(lang)
    facts = {"mark": mark, "report": escape(title), "period": escape(
        period_label(r.round.period, lang))}
    line = (
        _("{mark} <b>{report}</b> · {period} · 🔓 unlocked until {time}").format(
            time=view.local(unlocked, tz, lang, now), **facts)
        if unlocked is not None
        else _("{mark} <b>{report}</b> · {period} · deadline {time}").format(
            time=view.local(r.round.deadline, tz, lang, now), **facts)
    )
    submitted = r.submission.id if r.submitted and r.submission is not None else None
    return ReportEntry(r.round.id, line, f"{mark} {title}", submitted)


async def render_pending(
    session: AsyncSession, who: Who, services: Services
) -> menu.Block | None:
    """The home screen's reports: those waiting for the school, each a button that
    opens it, with its deadline (section "report.pending")."""
    _ = who._
    person = who.person
    if person.school_id is None:
        return None
    now = services.now()
    reports = await pending_for_person(session, person, now)
    if not reports:
        return menu.Block([_("<b>Reports</b>: nothing to fill in at the moment.")])
    tz = services.settings.bureau.tz
    entries = await report_entries(session, reports, who.language, tz, now)
    line = _("<b>Reports</b>: {count} waiting for your school. Press one to fill it in:").format(
        count=len(entries)
    )
    buttons = [[(e.label, OpenReport(e.round_id).pack())] for e in entries]
    return menu.Block([line, *(e.line for e in entries)], buttons)


async def cancel_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        row = (
            await session.execute(
                select(Conversation.kind, Conversation.state, Submission.status)
                .outerjoin(Submission, Submission.id == Conversation.submission_id)
                .where(Conversation.person_id == who.person.id)
            )
        ).first()
        await clear_conversation(session, who.person.id)
    _ = who._
    kind = row[0] if row is not None else None
    if kind == KIND_REPORT and row is not None and revision_not_begun(
        ReportTalk.from_json(row[1]), row[2]
    ):
        text = nothing_changed_text(_)
    elif kind == KIND_REPORT:
        text = _("Saved. Your answers are kept; send /report to continue where you stopped.")
    elif kind is not None:
        text = _("Cancelled.")
    else:
        text = _("There is nothing to cancel.")
    await message.reply_text(text)
