"""What the report shows: a question, the review, where the draft stands (saved), and
the texts of a refusal. Which question that is, the forms engine decides
(models/forms/walk.py, through Ctx.current / Ctx.after)."""

from __future__ import annotations

import json
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import report_view as view
from handlers.report.context import Ctx
from handlers.report.conversation import in_this_report
from handlers.report.question import question
from handlers.report_view import REVIEW, Rendered, key_text
from models.conversations import ReportTalk
from models.forms import (
    AnswerKey,
    Step,
    Value,
    complete,
    computed,
    index_of,
    load_value,
    missing,
    steps,
    validate,
)
from models.roster.tables import Person
from models.rounds import (
    Round,
    RoundStatus,
    SubmissionStatus,
)
from models.rounds.locks import lock_time
from models.rounds.periods import period_label
from models.rounds.revisions import revisions_of
from models.rounds.step_write import AnswerWrite
from models.rounds.submissions import (
    save_step,
    touch_submission,
)
from texts import review as review_words
from texts.callbacks import ReviseReport
from texts.i18n import Gettext, paren
from transport.context import Services

# --- what the person is shown ---------------------------------------------------------


def previous_value(ctx: Ctx, step: Step) -> Value | None:
    if step.field is None or step.group is not None:
        return None
    raw = (ctx.draft.previous or {}).get(step.field.code)
    if raw is None:
        return None
    try:
        return load_value(step.field, raw)
    except Exception:
        return None


def render_question(
    ctx: Ctx,
    visible: list[Step],
    step: Step,
    before: list[str] | None = None,
    extra: list[list[InlineKeyboardButton]] | None = None,
) -> Rendered:
    assert ctx.form is not None and ctx.round is not None and ctx.sub_id is not None
    ticked = None
    if step.field is not None and step.field.type == "multi_choice":
        ticked = ticked_codes(ctx, step)
    i = index_of(visible, step.key)
    ctx.shown = key_text(step.key)
    rendered = question(
        view.QuestionView(
            form=ctx.form,
            period=period_label(ctx.round.period, ctx.lang),
            step=step,
            lang=ctx.lang,
            current=ctx.answers.get(step.key) if step.kind == "field" else None,
            previous=previous_value(ctx, step),
            ticked=ticked,
            submission_id=ctx.sub_id,
            can_go_back=bool(i),
            complete=complete(visible, ctx.answers),
            file_mb=ctx.file_mb,
        ),
        ctx._,
        before or (),
    )
    if extra and rendered.markup is not None:
        rows = [list(r) for r in rendered.markup.inline_keyboard]
        rendered = Rendered(rendered.text, InlineKeyboardMarkup([*extra, *rows]))
    return rendered


def render_review(ctx: Ctx, before: list[str] | None = None) -> Rendered:
    assert ctx.form is not None and ctx.round is not None and ctx.sub_id is not None
    form, answers = ctx.form, ctx.answers
    visible = steps(form, answers, ctx.context)
    results = validate(form, answers, ctx.context)
    ctx.shown = REVIEW
    return view.review(
        view.ReviewView(
            form=form,
            period=period_label(ctx.round.period, ctx.lang),
            lang=ctx.lang,
            steps=visible,
            answers=answers,
            computed=computed(form, answers, ctx.context),
            errors=[r for r in results if r.severity == "error"],
            warnings=[r for r in results if r.severity == "warning"],
            missing=missing(visible, answers),
            submission_id=ctx.sub_id,
            revising=ctx.current_revision > 0,
        ),
        ctx._,
        [*_returned_banner(ctx), *(before or ())],
    )


def _returned_banner(ctx: Ctx) -> list[str]:
    """A report the district returned shows the comment at the top, until resubmitted."""
    comment = ctx.draft.other.get("returned")
    if not isinstance(comment, str) or not comment:
        return []
    return [review_words.returned_banner(ctx._, comment), ""]


def render_position(
    ctx: Ctx, before: list[str] | None = None, extra: list[list[InlineKeyboardButton]] | None = None
) -> Rendered:
    assert ctx.form is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = ctx.current(visible)
    if step is None:
        return render_review(ctx, before)
    return render_question(ctx, visible, step, before, extra)


async def save_position(
    session: AsyncSession,
    ctx: Ctx,
    position: str | None,
    changes: dict[AnswerKey, Value | None] | None = None,
    *,
    replace: bool = False,
) -> None:
    """Write where the draft stands now (and the answers that moved it there) if no
    colleague changed the draft since it was read (else rs.DraftMoved, nothing written:
    the step is done again from what is there now)."""
    assert ctx.sub_id is not None and (ctx.form is not None or changes is None)
    ctx.position = position
    status = ctx.status
    if status == SubmissionStatus.NOT_STARTED.value:
        status = SubmissionStatus.DRAFT.value
    ctx.status = status
    if ctx.message_id is not None:
        ctx.draft.seen[ctx.person_id] = ctx.message_id
    columns = {
        "position": position,
        "skipped": json.dumps(ctx.skipped),
        "state": ctx.draft.to_json(),
        "status": status,
    }
    now = ctx.now
    if changes is None:
        ctx.version = await touch_submission(
            session, ctx.sub_id, version=ctx.version, now=now, **columns
        )
        return
    assert ctx.form is not None
    if ctx.defer_answer and not replace and len(changes) == 1:
        ((key, value),) = changes.items()
        if value is not None:
            # Written by sync_conversation with the conversation (one statement on
            # PostgreSQL); a draft that moved meanwhile raises DraftMoved there.
            ctx.pending = AnswerWrite(
                ctx.sub_id, ctx.version, columns, key, value, ctx.person_id, now
            )
            ctx.version += 1
            return
    ctx.version = await save_step(
        session,
        ctx.sub_id,
        ctx.form,
        changes,
        version=ctx.version,
        by=ctx.person_id,
        now=now,
        replace=replace,
        **columns,
    )


# --- refusals ----------------------------------------------------------------------------


async def whom_to_ask(session: AsyncSession, services: Services, ctx: Ctx) -> str:
    _ = ctx._
    bureau = escape(services.settings.bureau.name_in(ctx.lang))
    creator = None
    if ctx.round is not None and ctx.round.created_by is not None:
        creator = await session.get(Person, ctx.round.created_by)
    if creator is not None and creator.name:
        who = escape(creator.name)
        if creator.username:
            who = paren(_, who, f"@{escape(creator.username)}")
        return _("please ask {person} at {bureau} to unlock it for your school.").format(
            person=who, bureau=bureau
        )
    return _("please ask the staff of {bureau} to unlock it for your school.").format(bureau=bureau)


async def locked_text(session: AsyncSession, services: Services, ctx: Ctx) -> str:
    assert ctx.round is not None
    _ = ctx._
    tz = services.settings.bureau.tz
    lock = lock_time(ctx.round)
    if ctx.round.status == RoundStatus.CLOSED.value and lock > services.now():
        # Closed early by staff: it closed then, not at the lock time still ahead.
        closed_when = await session.scalar(select(Round.closed_at).where(Round.id == ctx.round.id))
        if closed_when is not None:
            lock = min(lock, closed_when)
    closed_at = view.local(lock, tz, ctx.lang, services.now())
    return (
        "🔒 "
        + _("Sorry, this report closed on {time} and can no longer be changed here.").format(
            time=closed_at
        )
        + "\n"
        + _("If something must still be changed, {ask}").format(
            ask=await whom_to_ask(session, services, ctx)
        )
    )


def not_yours_text(_: Gettext) -> str:
    return _("Sorry, this report is not for your school, or you are no longer its contact.")


async def submitted_by_text(session: AsyncSession, services: Services, ctx: Ctx) -> str:
    """Who submitted the report and when (bureau time): what a colleague pressing an old
    button, or submitting at the same moment, is told."""
    assert ctx.sub_id is not None
    _ = ctx._
    revisions = await revisions_of(session, ctx.sub_id)
    if not revisions:
        return _("This button is no longer valid.")
    last = revisions[-1]
    who = await session.get(Person, last.submitted_by) if last.submitted_by else None
    return _("This report was already submitted by {person} on {time} (revision {number}).").format(
        person=who.name if who is not None and who.name else _("a colleague"),
        time=view.local(
            last.submitted_at, services.settings.bureau.tz, ctx.lang, services.now()
        ),
        number=last.number,
    )


def submitted_text(ctx: Ctx) -> Rendered:
    _ = ctx._
    assert ctx.sub_id is not None
    return Rendered(
        _("This report has already been submitted (revision {number}).").format(
            number=ctx.current_revision
        ),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("✏️ Revise"), callback_data=ReviseReport(ctx.sub_id).pack())]]
        ),
    )


def ticked_codes(ctx: Ctx, step: Step) -> list[str]:
    """The choices ticked so far on a multiple-choice question (the stored answer
    until the person ticks something)."""
    tick = ctx.talk.ticked if in_this_report(ctx) else None
    if tick is not None and tick.key == key_text(step.key):
        return list(tick.codes)
    current = ctx.answers.get(step.key)
    return list(current) if isinstance(current, list) else []

def revision_not_begun(talk: ReportTalk, status: str | None) -> bool:
    """Asked for the reason of a revision that has not begun: the report is still the
    submitted one, so leaving here changes nothing."""
    return talk.awaiting == "reason" and status == SubmissionStatus.SUBMITTED.value


def nothing_changed_text(_: Gettext) -> str:
    return _("Nothing was changed: the submitted report stays as it is.")
