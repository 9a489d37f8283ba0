"""The answer step: a typed answer checked, committed, and the next question out."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import report_view as view
from handlers.report.context import Ctx
from handlers.report.conversation import (
    in_this_report,
    leave,
    send,
    sync_conversation,
)
from handlers.report.question import parse_error
from handlers.report.screens import (
    locked_text,
    not_yours_text,
    render_position,
    render_question,
    render_review,
    save_position,
    submitted_by_text,
    submitted_text,
)
from handlers.report.submit import revision_reason, warning_comment
from handlers.report_view import REVIEW, Rendered, key_text, parse_key
from models.forms import (
    AnswerKey,
    ParseError,
    RuleResult,
    Step,
    Value,
    add_item,
    finish_group,
    is_open,
    parse_answer,
    parse_yes_no,
    steps,
    validate,
)
from models.rounds import SubmissionStatus
from models.rounds.locks import is_locked
from transport.context import HuibaoContext, Services

# --- the answer step ----------------------------------------------------------------------


async def apply_changes(
    session: AsyncSession,
    ctx: Ctx,
    key: AnswerKey,
    changes: dict[AnswerKey, Value | None],
) -> Rendered:
    """Commit answers for the current question, then show the next one (or the review),
    saying at once if an error rule the answer took part in now fails.

    The answers change in memory first and the reply is rendered from them; the writes
    come last, back to back, so that on SQLite the database's one write lock is held for
    as short a time as possible while a few hundred principals answer at once."""
    assert ctx.form is not None and ctx.sub_id is not None
    form = ctx.form
    for k, v in changes.items():
        if v is None:
            ctx.answers.pop(k, None)
        else:
            ctx.answers[k] = v
    kt = key_text(key)
    if kt in ctx.skipped:
        ctx.skipped.remove(kt)
    ctx.talk = replace(ctx.talk, ticked=None)  # the question is answered: its ticks are done
    visible = steps(form, ctx.answers, ctx.context)
    failing: list[RuleResult] = []
    announced = list(ctx.draft.failing)
    resolved: list[str] = []
    if any(key[0] in r.fields for r in form.all_rules()) or announced:
        errors = [r for r in validate(form, ctx.answers, ctx.context) if r.severity == "error"]
        failing = [r for r in errors if key in r.keys]
        still = {r.rule for r in errors}
        resolved = [code for code in announced if code not in still]
        ctx.draft.failing = sorted(
            {c for c in announced if c in still} | {r.rule for r in failing}
        )
    nxt = ctx.after(visible, key)
    before: list[str] = []
    extra: list[list[InlineKeyboardButton]] = []
    if resolved and not failing:
        before = ["✅ " + ctx._("Thank you, the figures agree now."), ""]
    if failing:
        before = view.rule_lines(failing, form, ctx.lang, ctx._)
        before.append(ctx._("Press ✏️ to correct a figure now, or go on and correct it later."))
        before.append("")
        extra = view.fix_buttons(failing, visible, ctx.sub_id, ctx.lang)
    if nxt is None:
        reply = render_review(ctx, before)
    else:
        reply = render_question(ctx, visible, nxt, before, extra)
    await save_position(session, ctx, REVIEW if nxt is None else key_text(nxt.key), changes)
    return reply


def question_markup(ctx: Ctx, visible: list[Step], step: Step) -> InlineKeyboardMarkup | None:
    return render_question(ctx, visible, step).markup


async def answer_text(session: AsyncSession, services: Services, ctx: Ctx, text: str) -> Rendered:
    """A typed answer to the question this person was shown (the draft's current one,
    or else nothing is stored and they are shown where the draft stands now)."""
    assert ctx.form is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = ctx.current(visible)
    _ = ctx._
    moved = moved_since_shown(ctx, visible, step)
    if moved is not None:
        return render_position(ctx, [moved, ""])
    if step is None:
        return render_review(
            ctx, [_("All questions are answered. Press ✏️ to change an answer, or submit."), ""]
        )
    if step.kind == "add_item":
        assert step.group is not None
        yes = parse_yes_no(text)
        if yes is None:
            return Rendered(
                "❌ " + _("Please answer yes or no, or press a button."),
                question_markup(ctx, visible, step),
            )
        return await add_or_finish(session, ctx, step, yes)
    f = step.field
    assert f is not None
    ctx.defer_answer = True  # the answer is written with the conversation (sync_conversation)
    parsed = parse_answer(f, text)
    if isinstance(parsed, ParseError):
        return Rendered(
            parse_error(parsed, step, ctx.lang, _), question_markup(ctx, visible, step)
        )
    if parsed.value is None:
        return await skip(session, ctx, step)
    return await apply_changes(session, ctx, step.key, {step.key: parsed.value})


def moved_since_shown(ctx: Ctx, visible: list[Step], step: Step | None) -> str | None:
    """Why the draft is no longer at what this person was last shown (None: it is).

    Principal and deputy share the draft: while one looked at a question the other may
    have answered it (or moved the draft elsewhere). A typed answer is meant for the
    question its writer saw, so it is not filed under another one."""
    at = ctx.talk.at if in_this_report(ctx) else None
    here = REVIEW if step is None else key_text(step.key)
    if not isinstance(at, str) or at == here:
        return None  # nothing recorded (a conversation from before "at" existed): as shown
    _ = ctx._
    key = parse_key(at)
    shown = next((s for s in visible if s.key == key), None) if key is not None else None
    if at != REVIEW and (shown is None or not is_open(shown, ctx.answers, ctx.skipped_keys)):
        return "ℹ️ " + _(
            "A colleague has already answered that question, so your answer was not saved. "
            "This is where the report stands now:"
        )
    return "ℹ️ " + _(
        "A colleague has moved the report to another question meanwhile, so your answer "
        "was not saved. This is where the report stands now:"
    )


async def add_or_finish(session: AsyncSession, ctx: Ctx, step: Step, yes: bool) -> Rendered:
    assert ctx.form is not None and step.group is not None
    code = step.group.code
    changes: dict[AnswerKey, Value | None] = dict(
        add_item(ctx.form, ctx.answers, code) if yes else finish_group(ctx.form, ctx.answers, code)
    )
    return await apply_changes(session, ctx, step.key, changes)


async def skip(session: AsyncSession, ctx: Ctx, step: Step) -> Rendered:
    assert ctx.form is not None and ctx.sub_id is not None
    kt = key_text(step.key)
    if kt not in ctx.skipped:
        ctx.skipped.append(kt)
    ctx.answers.pop(step.key, None)
    visible = steps(ctx.form, ctx.answers, ctx.context)
    nxt = ctx.after(visible, step.key)
    await save_position(
        session, ctx, REVIEW if nxt is None else key_text(nxt.key), {step.key: None}
    )
    if nxt is None:
        return render_review(ctx)
    return render_question(ctx, visible, nxt)


def guard(ctx: Ctx | None, now: datetime) -> str | None:
    """Why this person may not touch the submission now (None: they may)."""
    if ctx is None or ctx.sub_id is None or ctx.round is None:
        return "gone"
    if not ctx.allowed:
        return "not_yours"
    if is_locked(ctx.round, ctx.lock, now):
        return "locked"
    if ctx.status == SubmissionStatus.SUBMITTED.value:
        return "submitted"
    return None


async def refusal(session: AsyncSession, services: Services, ctx: Ctx, why: str) -> Rendered:
    _ = ctx._
    if why == "locked":
        return Rendered(await locked_text(session, services, ctx))
    if why == "submitted":
        told = submitted_text(ctx)
        return Rendered(escape(await submitted_by_text(session, services, ctx)), told.markup)
    if why == "not_yours":
        return Rendered(not_yours_text(_))
    return Rendered(_("This report is no longer available. Send /report to see your reports."))


async def answer_step(
    session: AsyncSession, services: Services, ctx: Ctx, text: str, message_id: int
) -> Rendered:
    """Plain text from a person whose conversation is a report: an answer, a reason or a
    comment. handlers/routing.py calls it in the transaction of its read (`ctx`, the one
    query of the hot path) and sends the reply after the commit (send_answer)."""
    ctx.message_id = message_id
    reply = await report_text(session, services, ctx, text)
    await sync_conversation(session, ctx)
    return reply


async def send_answer(update: Update, context: HuibaoContext, reply: Rendered | None) -> None:
    """The reply answer_step built, sent after its transaction has committed (principle 7)."""
    message = update.effective_message
    if message is not None and reply is not None:
        await send(message, reply)


async def report_text(session: AsyncSession, services: Services, ctx: Ctx, text: str) -> Rendered:
    why = guard(ctx, services.now())
    waiting = ctx.talk.awaiting
    if why == "submitted" and waiting == "reason":
        # The reason opens the revision, so the report is still "submitted" here.
        return await revision_reason(session, services, ctx, text)
    if why is not None:
        # The report this conversation is about was submitted (e.g. by a colleague) or
        # closed: the conversation has nothing left to take.
        leave(ctx)
        return await refusal(session, services, ctx, why)
    if waiting == "reason":
        return await revision_reason(session, services, ctx, text)
    if waiting == "comment":
        return await warning_comment(session, services, ctx, text)
    seen = ctx.draft.seen.get(ctx.person_id)
    if ctx.message_id is not None and seen is not None and ctx.message_id <= seen:
        # Already stored before a crash: ask the current question again instead.
        return render_position(ctx)
    return await answer_text(session, services, ctx, text)
