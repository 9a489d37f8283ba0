"""The report's buttons (callback data `rp:<action>:<round>:<version>[:args]`)."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.error import BadRequest

from handlers import report_view as view
from handlers.context import unit
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
from texts.i18n import gettext_for
from transport.context import HuibaoContext, Services

# --- buttons -----------------------------------------------------------------------------

_STEP_ACTIONS = frozenset("kctdsynb")
_ACTIONS = _STEP_ACTIONS | frozenset("oxreDSv")
# Ids are row ids: at most nine digits keeps them inside PostgreSQL's 32-bit integers.
_ID, _TOKEN, _INDEX = r"[1-9]\d{0,8}", r"[0-9a-f]{1,8}", r"\d{1,3}"
_SHAPES = {
    **dict.fromkeys("oxrSv", re.compile(rf"{_ID}")),
    **dict.fromkeys("kdsynbe", re.compile(rf"{_ID}:{_TOKEN}")),
    **dict.fromkeys("ctD", re.compile(rf"{_ID}:{_TOKEN}:{_INDEX}")),
}
"""Every report button's exact shape (see report_view): callback data is untrusted, so
anything else (a part too many, a sign, a letter in an id) is refused as a whole."""


def parse_callback(data: str | None) -> tuple[str, list[str]] | None:
    prefix, _sep, rest = (data or "").partition(":")
    action, _sep, tail = rest.partition(":")
    shape = _SHAPES.get(action)
    if prefix != view.PREFIX or shape is None or shape.fullmatch(tail) is None:
        return None
    return action, tail.split(":")


async def on_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    parsed = parse_callback(query.data)
    services = context.services
    if parsed is None:
        async with unit(update, context) as (_session, who):
            invalid = who._("This button is no longer valid.")
        await query.answer(invalid, show_alert=True)  # after the commit (principle 7)
        return
    action, args = parsed
    if action == "o":
        await open_report(update, context, int(args[0]))
        return

    async def step(session: AsyncSession) -> ButtonResult:
        ctx = await load_ctx(session, services, update, int(args[0]))
        if ctx is None or ctx.sub_id is None:
            gone = gettext_for(ctx.lang if ctx else services.settings.bureau.default_language)
            return gone("This button is no longer valid."), None, None
        result = await button(session, services, ctx, action, args[1:])
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




async def button(
    session: AsyncSession, services: Services, ctx: Ctx, action: str, args: list[str]
) -> ButtonResult:
    """One report button, checked against the presser's school and where the report
    stands. A refusal (another school's button, an old one, a forged one) answers the
    press and changes nothing: the presser's own conversation goes on as it was."""
    _ = ctx._
    if action == "v":
        return await start_revision(session, services, ctx)
    if action == "x":
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
    if action in _STEP_ACTIONS and not pressed_on(ctx, step, action, args[0]):
        stale = _("That button belongs to an earlier question. Here is the current one.")
        if not in_this_report(ctx):
            return _("This button is no longer valid."), None, None
        return stale, render_position(ctx), None
    stored = (ctx.conv_kind, ctx.conv_sub_id, ctx.talk)
    if not in_this_report(ctx) or ctx.talk.awaiting:
        # Pressing a report's button (e.g. on another phone) makes it the current one.
        point(ctx)
    alert, reply, markup = await act(session, services, ctx, action, args, visible, step)
    if alert is not None and reply is None and markup is None:
        # Refused (a forged choice, nothing to keep, ...): the conversation stays as it was.
        ctx.conv_kind, ctx.conv_sub_id, ctx.talk = stored
        ctx.shown = None
    return alert, reply, markup


async def act(
    session: AsyncSession,
    services: Services,
    ctx: Ctx,
    action: str,
    args: list[str],
    visible: list[Step],
    step: Step | None,
) -> ButtonResult:
    """Do what a checked button of the person's own report asks."""
    assert ctx.form is not None and ctx.sub_id is not None
    if action == "r":
        await save_position(session, ctx, REVIEW)
        return None, render_review(ctx), None
    if action == "S":
        return await submit_report(session, services, ctx)
    if action == "e":
        return await edit(session, ctx, args, visible)
    if action == "D":
        return await remove_group_item(session, ctx, args)
    assert step is not None
    return await act_on_step(session, ctx, action, args, visible, step)


async def edit(
    session: AsyncSession, ctx: Ctx, args: list[str], visible: list[Step]
) -> ButtonResult:
    """Go to a question chosen on the review (and come back to the review after it)."""
    target = next((s for s in visible if key_token(s.key) == args[0]), None) if args else None
    if target is None:
        return ctx._("This question is no longer part of the form."), None, None
    ctx.draft.walk = Walk(review=ctx.draft.walk.review or ctx.position == REVIEW)
    await save_position(session, ctx, key_text(target.key))
    return None, render_question(ctx, visible, target), None


def pressed_on(ctx: Ctx, step: Step | None, action: str, token: str) -> bool:
    """Was the button pressed on the question the draft shows? "Back" may also be
    pressed on the question the draft stands at when that one has just become hidden
    (a colleague changed an earlier answer): the person goes back from what they see."""
    if step is not None and key_token(step.key) == token:
        return True
    return action == "b" and step is not None and _hidden_at(ctx, step) == token


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
    action: str,
    args: list[str],
    visible: list[Step],
    step: Step,
) -> ButtonResult:
    """The buttons of the question shown: back, skip, add an item or not, then the
    buttons of its field."""
    _ = ctx._
    if action == "b":
        return await back(session, ctx, visible, step)
    if action == "s":
        if step.field is None or step.field.required:
            return _("This question cannot be skipped."), None, None
        return None, await skip(session, ctx, step), None
    if action in ("y", "n"):
        if step.kind != "add_item":
            return _("This button is no longer valid."), None, None
        return None, await add_or_finish(session, ctx, step, action == "y"), None
    f = step.field
    if f is None:
        return _("This button is no longer valid."), None, None
    if action == "k":
        return await keep(session, ctx, step)
    if action == "c":
        index = _index(args, len(f.choices))
        if f.type != "choice" or index is None:
            return _("This button is no longer valid."), None, None
        return (
            None,
            await apply_changes(session, ctx, step.key, {step.key: f.choices[index].code}),
            None,
        )
    if action == "t":
        return tick(ctx, args, visible, step, f)
    if action == "d":
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


def tick(ctx: Ctx, args: list[str], visible: list[Step], step: Step, f: FieldDef) -> ButtonResult:
    """Tick or untick one choice of a multiple-choice question (stored on Done)."""
    index = _index(args, len(f.choices))
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
        text = view.parse_error(err, f, ctx.lang, ctx._)
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


def _index(args: list[str], size: int) -> int | None:
    if len(args) < 2 or not args[1].isdigit():
        return None
    i = int(args[1])
    return i if 0 <= i < size else None


async def remove_group_item(session: AsyncSession, ctx: Ctx, args: list[str]) -> ButtonResult:
    assert ctx.form is not None and ctx.sub_id is not None
    _ = ctx._
    group = next(
        (g for g in ctx.form.groups if key_token((g.code, ITEM_DONE)) == (args[0] if args else "")),
        None,
    )
    if group is None or len(args) < 2 or not args[1].isdigit():
        return _("This button is no longer valid."), None, None
    index = int(args[1])
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
