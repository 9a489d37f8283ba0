"""The report's buttons: their kinds (callback data "rp:...") are declared in
texts/callbacks.py, section "report"; `register_buttons` registers each through the menu
registry for principals and deputies, and the handlers get the decoded button."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.error import BadRequest

from handlers import menu
from handlers import report_view as view
from handlers.report.answer import (
    add_or_finish,
    apply_changes,
    guard,
    question_markup,
    refusal,
    skip,
)
from handlers.report.context import ButtonResult, Ctx, load_ctx
from handlers.report.conversation import (
    in_this_report,
    leave,
    point,
    retrying,
    send,
    sync_conversation,
)
from handlers.report.open import open_report
from handlers.report.question import parse_error
from handlers.report.screens import (
    not_yours_text,
    nothing_changed_text,
    previous_value,
    render_position,
    render_question,
    render_review,
    revision_not_begun,
    save_position,
    submitted_by_text,
    ticked_codes,
)
from handlers.report.submit import start_revision, submit_report
from handlers.report_view import REVIEW, Rendered, key_text, key_token
from models.conversations import Ticked
from models.forms import (
    ITEM_DONE,
    FieldDef,
    ParseError,
    Step,
    Walk,
    remove_item,
    step_before,
    steps,
)
from texts.callbacks import (
    AddItem,
    DoneTicking,
    EditAnswer,
    GoBack,
    KeepAnswer,
    NoMoreItems,
    OpenReport,
    PauseReport,
    PickChoice,
    QuestionButton,
    RemoveItem,
    ReportButton,
    ReviewReport,
    ReviseReport,
    SkipQuestion,
    SubmitReport,
    TickChoice,
)
from texts.i18n import gettext_for
from transport.context import HuibaoApp, HuibaoContext, Services

# --- buttons -----------------------------------------------------------------------------


async def open_button(update: Update, context: HuibaoContext, pressed: OpenReport) -> None:
    await open_report(update, context, pressed.round_id)


async def on_button(update: Update, context: HuibaoContext, pressed: ReportButton) -> None:
    """Any button of a report but "open": done in one retrying transaction, answered and
    the reply sent after the commit (principle 7)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    services = context.services

    async def step(session: AsyncSession) -> ButtonResult:
        ctx = await load_ctx(session, services, update, pressed.submission_id)
        if ctx is None or ctx.sub_id is None:
            gone = gettext_for(ctx.lang if ctx else services.settings.bureau.default_language)
            return gone("This button is no longer valid."), None, None
        result = await button(session, services, ctx, pressed)
        await sync_conversation(session, ctx)
        return result

    alert, reply, edit_markup = await retrying(services, step)
    if alert is not None:
        await query.answer(alert, show_alert=True)
    else:
        await query.answer()
    message = query.message
    if edit_markup is not None and isinstance(message, Message):
        try:
            await message.edit_reply_markup(edit_markup)
        except BadRequest as err:
            if "not modified" not in str(err):
                raise
    if reply is not None and isinstance(message, Message):
        await send(message, reply)


REPORT_BUTTONS: tuple[tuple[type[Any], Any, Any], ...] = (
    (OpenReport, open_button, OpenReport(1)),
    (PauseReport, on_button, PauseReport(1)),
    (ReviewReport, on_button, ReviewReport(1)),
    (SubmitReport, on_button, SubmitReport(1)),
    (ReviseReport, on_button, ReviseReport(1)),
    (EditAnswer, on_button, EditAnswer(1, "1f")),
    (RemoveItem, on_button, RemoveItem(1, "1f", 1)),
    (KeepAnswer, on_button, KeepAnswer(1, "1f")),
    (PickChoice, on_button, PickChoice(1, "1f", 0)),
    (TickChoice, on_button, TickChoice(1, "1f", 0)),
    (DoneTicking, on_button, DoneTicking(1, "1f")),
    (SkipQuestion, on_button, SkipQuestion(1, "1f")),
    (AddItem, on_button, AddItem(1, "1f")),
    (NoMoreItems, on_button, NoMoreItems(1, "1f")),
    (GoBack, on_button, GoBack(1, "1f")),
)
"""(kind, handler, example) of every report button."""


def register_buttons(app: HuibaoApp) -> None:
    # Principals and deputies: anyone else is refused before the handler runs; the
    # handlers still check that the report is of the presser's own school.
    for kind, handler, example in REPORT_BUTTONS:
        menu.add_button(app, kind, handler, menu.SCHOOL, example=example)
    # Whatever else starts with "rp:" (an older bot's button, or forged) is stale.
    menu.add_stale_family(app, "rp", menu.SCHOOL)


async def button(
    session: AsyncSession, services: Services, ctx: Ctx, pressed: ReportButton
) -> ButtonResult:
    """One report button, checked against the presser's school and where the report
    stands. A refusal (another school's button, an old one, a forged one) answers the
    press and changes nothing: the presser's own conversation goes on as it was."""
    _ = ctx._
    if isinstance(pressed, ReviseReport):
        return await start_revision(session, services, ctx)
    if isinstance(pressed, PauseReport):
        return await pause(session, ctx)
    why = guard(ctx, services.now())
    if why == "locked":
        return None, await refusal(session, services, ctx, why), None
    if why == "submitted":
        return await submitted_by_text(session, services, ctx), None, None
    if why is not None:
        return (await refusal(session, services, ctx, why)).text, None, None
    assert ctx.form is not None and ctx.sub_id is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = ctx.current(visible)
    if isinstance(pressed, QuestionButton) and not pressed_on(
        ctx, step, isinstance(pressed, GoBack), pressed.token
    ):
        stale = _("That button belongs to an earlier question. Here is the current one.")
        if not in_this_report(ctx):
            return _("This button is no longer valid."), None, None
        return stale, render_position(ctx), None
    stored = (ctx.conv_kind, ctx.conv_sub_id, ctx.talk)
    if not in_this_report(ctx) or ctx.talk.awaiting:
        # Pressing a report's button (e.g. on another phone) makes it the current one.
        point(ctx)
    alert, reply, markup = await act(session, services, ctx, pressed, visible, step)
    if alert is not None and reply is None and markup is None:
        # Refused (a forged choice, nothing to keep, ...): the conversation stays as it was.
        ctx.conv_kind, ctx.conv_sub_id, ctx.talk = stored
        ctx.shown = None
    return alert, reply, markup


async def act(
    session: AsyncSession,
    services: Services,
    ctx: Ctx,
    pressed: ReportButton,
    visible: list[Step],
    step: Step | None,
) -> ButtonResult:
    """Do what a checked button of the person's own report asks."""
    assert ctx.form is not None and ctx.sub_id is not None
    if isinstance(pressed, ReviewReport):
        await save_position(session, ctx, REVIEW)
        return None, render_review(ctx), None
    if isinstance(pressed, SubmitReport):
        return await submit_report(session, services, ctx)
    if isinstance(pressed, EditAnswer):
        return await edit(session, ctx, pressed.token, visible)
    if isinstance(pressed, RemoveItem):
        return await remove_group_item(session, ctx, pressed.token, pressed.index)
    if not isinstance(pressed, QuestionButton):
        return ctx._("This button is no longer valid."), None, None
    assert step is not None
    return await act_on_step(session, ctx, pressed, visible, step)


async def edit(session: AsyncSession, ctx: Ctx, token: str, visible: list[Step]) -> ButtonResult:
    """Go to a question chosen on the review (and come back to the review after it)."""
    target = next((s for s in visible if key_token(s.key) == token), None)
    if target is None:
        return ctx._("This question is no longer part of the form."), None, None
    ctx.draft.walk = Walk(review=ctx.draft.walk.review or ctx.position == REVIEW)
    await save_position(session, ctx, key_text(target.key))
    return None, render_question(ctx, visible, target), None


def pressed_on(ctx: Ctx, step: Step | None, back: bool, token: str) -> bool:
    """Was the button pressed on the question the draft shows? "Back" may also be
    pressed on the question the draft stands at when that one has just become hidden
    (a colleague changed an earlier answer): the person goes back from what they see."""
    if step is not None and key_token(step.key) == token:
        return True
    return back and step is not None and _hidden_at(ctx, step) == token


def _hidden_at(ctx: Ctx, step: Step) -> str | None:
    """The token of the draft's position if the draft shows another question (its own
    is no longer asked)."""
    at = ctx.at
    return key_token(at) if isinstance(at, tuple) and at != step.key else None


async def back(session: AsyncSession, ctx: Ctx, visible: list[Step], step: Step) -> ButtonResult:
    """The question before the one the draft stands at: the engine's step_before, which
    also knows where to go from a question that has just become hidden."""
    assert ctx.form is not None
    at = ctx.at
    before = step_before(ctx.form, visible, at if isinstance(at, tuple) else step.key)
    if before is None:
        return ctx._("This is the first question."), None, None
    ctx.draft.walk = Walk(back=True, review=ctx.draft.walk.review)
    await save_position(session, ctx, key_text(before.key))
    return None, render_question(ctx, visible, before), None


async def act_on_step(
    session: AsyncSession,
    ctx: Ctx,
    pressed: QuestionButton,
    visible: list[Step],
    step: Step,
) -> ButtonResult:
    """The buttons of the question shown: back, skip, add an item or not, then the
    buttons of its field."""
    _ = ctx._
    if isinstance(pressed, GoBack):
        return await back(session, ctx, visible, step)
    if isinstance(pressed, SkipQuestion):
        if step.field is None or step.field.required:
            return _("This question cannot be skipped."), None, None
        return None, await skip(session, ctx, step), None
    if isinstance(pressed, AddItem | NoMoreItems):
        if step.kind != "add_item":
            return _("This button is no longer valid."), None, None
        return None, await add_or_finish(session, ctx, step, isinstance(pressed, AddItem)), None
    f = step.field
    if f is None:
        return _("This button is no longer valid."), None, None
    if isinstance(pressed, KeepAnswer):
        return await keep(session, ctx, step)
    if isinstance(pressed, PickChoice):
        index = _choice(pressed.index, len(f.choices))
        if f.type != "choice" or index is None:
            return _("This button is no longer valid."), None, None
        return (
            None,
            await apply_changes(session, ctx, step.key, {step.key: f.choices[index].code}),
            None,
        )
    if isinstance(pressed, TickChoice):
        return tick(ctx, pressed.index, visible, step, f)
    if isinstance(pressed, DoneTicking):
        return await done_ticking(session, ctx, visible, step, f)
    return _("This button is no longer valid."), None, None


async def keep(session: AsyncSession, ctx: Ctx, step: Step) -> ButtonResult:
    """Keep the answer given (or the one of the previous period)."""
    value = ctx.answers.get(step.key)
    if value is None:
        value = previous_value(ctx, step)
    if value is None:
        return ctx._("There is no value to keep."), None, None
    return None, await apply_changes(session, ctx, step.key, {step.key: value}), None


def tick(ctx: Ctx, pressed: int, visible: list[Step], step: Step, f: FieldDef) -> ButtonResult:
    """Tick or untick one choice of a multiple-choice question (stored on Done)."""
    index = _choice(pressed, len(f.choices))
    if f.type != "multi_choice" or index is None:
        return ctx._("This button is no longer valid."), None, None
    picked = set(ticked_codes(ctx, step)) ^ {f.choices[index].code}
    codes = tuple(c.code for c in f.choices if c.code in picked)
    ctx.talk = replace(ctx.talk, ticked=Ticked(key_text(step.key), codes))
    return None, None, question_markup(ctx, visible, step)


async def done_ticking(
    session: AsyncSession, ctx: Ctx, visible: list[Step], step: Step, f: FieldDef
) -> ButtonResult:
    """Done on a multiple-choice question: the ticked choices checked, then stored."""
    if f.type != "multi_choice":
        return ctx._("This button is no longer valid."), None, None
    codes = ticked_codes(ctx, step)
    err = ticked_error(f, codes)
    if err is not None:
        text = parse_error(err, step, ctx.lang, ctx._)
        return None, Rendered(text, question_markup(ctx, visible, step)), None
    return None, await apply_changes(session, ctx, step.key, {step.key: codes}), None


def ticked_error(f: FieldDef, codes: list[str]) -> ParseError | None:
    if isinstance(f.min, int) and len(codes) < f.min:
        return ParseError("too_few_choices", {"min": f.min})
    if isinstance(f.max, int) and len(codes) > f.max:
        return ParseError("too_many_choices", {"max": f.max})
    if not codes and f.required:
        return ParseError("required")
    return None


def _choice(index: int, size: int) -> int | None:
    """The index of a choice the question has (a forged or older button may name none)."""
    return index if 0 <= index < size else None


async def remove_group_item(
    session: AsyncSession, ctx: Ctx, token: str, index: int
) -> ButtonResult:
    assert ctx.form is not None and ctx.sub_id is not None
    _ = ctx._
    group = next((g for g in ctx.form.groups if key_token((g.code, ITEM_DONE)) == token), None)
    if group is None:
        return _("This button is no longer valid."), None, None
    from models.forms import item_count

    if not (view.item_removable(group.min_items, index) and index < item_count(group, ctx.answers)):
        return _("This item cannot be removed."), None, None
    remaining = remove_item(ctx.form, ctx.answers, group.code, index)
    ctx.answers = dict(remaining)
    await save_position(session, ctx, REVIEW, dict(remaining), replace=True)
    return None, render_review(ctx), None


async def pause(session: AsyncSession, ctx: Ctx) -> ButtonResult:
    """Pause (or cancel the reason prompt of) the report the person is in. Only their
    own school's report, and only the one their conversation is about: another
    school's button or an old one of another report is refused and ends nothing."""
    _ = ctx._
    if not ctx.allowed:
        return not_yours_text(_), None, None
    if not in_this_report(ctx):
        return _("This button is no longer valid."), None, None
    not_begun = revision_not_begun(ctx.talk, ctx.status)
    leave(ctx)
    if not_begun:
        return None, Rendered(nothing_changed_text(_)), None
    text = _("Saved. Your answers are kept; send /report to continue where you stopped.")
    return None, Rendered(text), None
