"""Submitting a report, the warnings' comment, and revising before the lock."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import report_view as view
from handlers.report.context import MAX_REASON, ButtonResult, Ctx, log
from handlers.report.conversation import in_this_report, leave, point
from handlers.report.screens import (
    locked_text,
    not_yours_text,
    render_position,
    render_review,
    save_position,
    whom_to_ask,
)
from handlers.report_view import REVIEW, Rendered
from handlers.review import report_arrived
from models.conversations import ReportTalk
from models.forms import (
    RuleResult,
    format_value,
    steps,
    validate,
)
from models.rounds import (
    Round,
    RoundSchool,
    Submission,
    SubmissionStatus,
)
from models.rounds.draft_state import DraftState
from models.rounds.errors import SubmitRefused
from models.rounds.lifecycle import get_round_school
from models.rounds.locks import (
    is_locked,
    revisable_until,
)
from models.rounds.periods import period_label
from models.rounds.revisions import begin_revision, submit
from models.rounds.submissions import claim_draft
from texts.callbacks import PauseReport, ReviewReport
from transport.context import Services

# --- submitting and revising --------------------------------------------------------------


async def _orm(session: AsyncSession, ctx: Ctx) -> tuple[Submission, Round, RoundSchool | None]:
    assert ctx.sub_id is not None and ctx.round is not None and ctx.school_id is not None
    submission = await session.get(Submission, ctx.sub_id)
    round_ = await session.get(Round, ctx.round.id)
    assert submission is not None and round_ is not None
    return submission, round_, await get_round_school(session, round_.id, ctx.school_id)


async def submit_report(
    session: AsyncSession,
    services: Services,
    ctx: Ctx,
    confirmed: list[dict[str, str]] | None = None,
) -> ButtonResult:
    assert ctx.form is not None and ctx.round is not None and ctx.sub_id is not None
    _ = ctx._
    now = services.now()
    # Locked first, checked against what this step read: of two people submitting at
    # the same moment the second does the step again and is told who submitted it.
    ctx.version = await claim_draft(session, ctx.sub_id, version=ctx.version, now=now)
    submission, round_, round_school = await _orm(session, ctx)
    reason = ctx.draft.reason
    try:
        revision = await submit(
            session,
            submission,
            round_,
            round_school,
            ctx.form,
            ctx.context,
            by=ctx.person_id,
            now=now,
            reason=reason,
            confirmed_warnings=confirmed or [],
            answers=ctx.answers,
        )
    except SubmitRefused as refused:
        if refused.locked:
            return None, Rendered(await locked_text(session, services, ctx)), None
        if refused.missing or refused.errors:
            await save_position(session, ctx, REVIEW)
            return (
                _("Not submitted yet: please correct what the review shows."),
                render_review(ctx),
                None,
            )
        if refused.unconfirmed:
            return None, await ask_comment(session, ctx, list(refused.unconfirmed)), None
        # A revision without a reason: ask for it.
        point(ctx, ReportTalk(awaiting="reason", then="submit"))
        return None, Rendered(_("Please type in one line why you are revising this report.")), None
    leave(ctx)
    await report_arrived(session, services, submission)  # district review, if the round has it
    tz = services.settings.bureau.tz
    log.info(
        "report submitted",
        extra={
            "submission_id": submission.id,
            "revision": revision.number,
            "on_time": revision.on_time,
        },
    )
    # What the school may still do now: the round's lock while it is open, or what is
    # left of a staff unlock (the submission just used it up); nothing once both passed.
    until = revisable_until(round_, round_school, now)
    closed = ""
    if until is None:
        closed = "🔒 " + _(
            "Entry for this report is now closed. If something must still be changed, {ask}"
        ).format(ask=await whom_to_ask(session, services, ctx))
    period = period_label(ctx.round.period, ctx.lang)
    text = view.receipt(form=ctx.form, period=period, lang=ctx.lang, revision=revision,
                        until=until, closed=closed, tz=tz, _=_, files=submitted_files(ctx))
    return None, Rendered(text), None


def submitted_files(ctx: Ctx) -> list[str]:
    """The files among the submitted answers, as the receipt lists them."""
    assert ctx.form is not None
    form = ctx.form
    return [
        format_value(s.field, ctx.answers[s.key], ctx.lang)
        for s in steps(form, ctx.answers, ctx.context)
        if s.field is not None and s.field.type == "file" and s.key in ctx.answers
    ]


async def ask_comment(session: AsyncSession, ctx: Ctx, warnings: list[RuleResult]) -> Rendered:
    assert ctx.form is not None and ctx.sub_id is not None
    _ = ctx._
    point(ctx, ReportTalk(awaiting="comment"))
    lines = ["<b>" + _("Please confirm before submitting") + "</b>"]
    lines.extend(view.rule_lines(warnings, ctx.form, ctx.lang, _))
    lines.append("")
    lines.append(
        _(
            "If the figures are right, type a short explanation (it goes to the bureau with "
            "the report); or press ✏️ to correct a figure."
        )
    )
    visible = steps(ctx.form, ctx.answers, ctx.context)
    buttons = view.fix_buttons(warnings, visible, ctx.sub_id, ctx.lang)
    buttons.append(
        [
            InlineKeyboardButton(
                _("Back to the review"), callback_data=ReviewReport(ctx.sub_id).pack()
            )
        ]
    )
    return Rendered("\n".join(lines), InlineKeyboardMarkup(buttons))


async def warning_comment(
    session: AsyncSession, services: Services, ctx: Ctx, text: str
) -> Rendered:
    assert ctx.form is not None
    _ = ctx._
    comment = text.strip()
    if not comment or len(comment) > MAX_REASON:
        return Rendered(
            "❌ "
            + _("Please type an explanation of at most {count} characters.").format(
                count=MAX_REASON
            )
        )
    results = [r for r in validate(ctx.form, ctx.answers, ctx.context) if r.severity == "warning"]
    key = "en" if ctx.lang.startswith("en") else "zh"
    confirmed = [
        {"rule": r.rule, "message": r.message.get(key, ""), "comment": comment} for r in results
    ]
    _alert, reply, _markup = await submit_report(session, services, ctx, confirmed)
    return reply or render_position(ctx)


async def start_revision(session: AsyncSession, services: Services, ctx: Ctx) -> ButtonResult:
    _ = ctx._
    if ctx.sub_id is None or ctx.round is None:
        return _("This button is no longer valid."), None, None
    if not ctx.allowed:
        return not_yours_text(_), None, None
    if is_locked(ctx.round, ctx.lock, services.now()):
        return None, Rendered(await locked_text(session, services, ctx)), None
    if ctx.status == SubmissionStatus.REVISING.value:
        if not in_this_report(ctx) or ctx.talk.awaiting:
            point(ctx)
        return None, render_position(ctx), None
    if ctx.current_revision == 0:
        return _("This report has not been submitted yet."), None, None
    point(ctx, ReportTalk(awaiting="reason"))
    text = _(
        "You are revising revision {number}. The submitted figures stay with the bureau "
        "until you submit the new revision.\nPlease type in one line why you are revising."
    ).format(number=ctx.current_revision)
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("✖ Cancel"), callback_data=PauseReport(ctx.sub_id).pack())]]
    )
    return None, Rendered(text, markup), None


async def revision_reason(
    session: AsyncSession, services: Services, ctx: Ctx, text: str
) -> Rendered:
    _ = ctx._
    reason = text.strip()
    if not reason or len(reason) > MAX_REASON:
        return Rendered(
            "❌ "
            + _("Please type a reason of at most {count} characters.").format(count=MAX_REASON)
        )
    assert ctx.sub_id is not None
    ctx.version = await claim_draft(session, ctx.sub_id, version=ctx.version, now=services.now())
    submission, round_, round_school = await _orm(session, ctx)
    then = ctx.talk.then
    if submission.status == SubmissionStatus.SUBMITTED.value:
        try:
            await begin_revision(
                session,
                submission,
                round_,
                round_school,
                reason=reason,
                by=ctx.person_id,
                now=services.now(),
            )
        except SubmitRefused:
            return Rendered(await locked_text(session, services, ctx))
    else:
        state = DraftState.from_json(submission.state)
        state.reason = reason
        submission.state = state.to_json()
    ctx.draft = DraftState.from_json(submission.state)
    ctx.status = submission.status
    ctx.position = REVIEW
    submission.position = REVIEW
    point(ctx)
    if then == "submit":
        _alert, reply, _m = await submit_report(session, services, ctx)
        return reply or render_review(ctx)
    return render_review(
        ctx, [_("Reason noted. Press ✏️ to change an answer, then submit the revision."), ""]
    )
