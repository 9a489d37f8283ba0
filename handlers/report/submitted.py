"""The submitted report, read-only ("👁 查看已提交的报表"), giving up a revision ("🗑 放弃修改",
confirmed once), and the /report list as a button.

Viewing writes nothing: no revision begins, the person's conversation stays as it was.
Discarding hands the rule to models/rounds/revisions.py (discard_revision) after taking
the shared draft at the version read, so that an answer a colleague gives at the same
moment either lands before (and goes with the revision) or is refused after.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from handlers import menu
from handlers import report_view as view
from handlers.context import unit
from handlers.report.context import Ctx, load_ctx
from handlers.report.conversation import retrying, send
from handlers.report.open import report_list
from handlers.report.screens import not_yours_text
from handlers.report_view import Rendered
from models.forms import computed, steps
from models.rounds import Revision, Submission, SubmissionStatus, versions
from models.rounds.answers import load_answers
from models.rounds.locks import is_locked
from models.rounds.periods import period_label
from models.rounds.revisions import discard_revision
from models.rounds.submissions import claim_draft
from texts.callbacks import AskDiscard, DiscardRevision, ReportButton, ReportList, ViewSubmitted
from texts.i18n import gettext_for
from transport.context import HuibaoApp, HuibaoContext, Services

Reply = tuple[str | None, Rendered | None]
"""An alert for the press (a refusal), or the message to send."""


async def _pressed(update: Update, context: HuibaoContext, pressed: ReportButton) -> None:
    """One transaction for the press, the answer and the reply after the commit."""
    query = update.callback_query
    assert query is not None
    services = context.services

    async def step(session: AsyncSession) -> Reply:
        ctx = await load_ctx(session, services, update, pressed.submission_id, with_answers=False)
        if ctx is None or ctx.sub_id is None or ctx.round is None:
            gone = gettext_for(ctx.lang if ctx else services.settings.bureau.default_language)
            return gone("This button is no longer valid."), None
        if not ctx.allowed:
            return not_yours_text(ctx._), None
        if isinstance(pressed, ViewSubmitted):
            return await _view(session, services, ctx)
        if isinstance(pressed, DiscardRevision):
            return await _discard(session, services, ctx, pressed.revision)
        return await _ask(session, ctx)

    alert, reply = await retrying(services, step)
    await query.answer(alert, show_alert=alert is not None)
    if reply is not None and isinstance(query.message, Message):
        await send(query.message, reply)


async def _revision(session: AsyncSession, ctx: Ctx) -> Revision:
    assert ctx.sub_id is not None
    found = await session.execute(
        select(Revision).where(
            Revision.submission_id == ctx.sub_id, Revision.number == ctx.current_revision
        )
    )
    return found.scalar_one()


async def _view(session: AsyncSession, services: Services, ctx: Ctx) -> Reply:
    """The latest submitted revision's answers, with the form's labels and units."""
    assert ctx.sub_id is not None and ctx.round is not None
    if ctx.current_revision == 0:
        return ctx._("This report has not been submitted yet."), None
    form = await versions.form_version(session, ctx.round.form_code, ctx.round.form_version)
    answers = await load_answers(session, ctx.sub_id, ctx.current_revision, form)
    revision = await _revision(session, ctx)
    shown = view.SubmittedView(
        form=form,
        period=period_label(ctx.round.period, ctx.lang),
        lang=ctx.lang,
        steps=steps(form, answers, ctx.context),
        answers=answers,
        computed=computed(form, answers, ctx.context),
        number=revision.number,
        reference=revision.reference,
        submitted_at=revision.submitted_at,
        tz=services.settings.bureau.tz,
        submission_id=ctx.sub_id,
        round_id=ctx.round.id,
        may_revise=not is_locked(ctx.round, ctx.lock, services.now()),
        revising=ctx.status == SubmissionStatus.REVISING.value,
    )
    return None, view.submitted_view(shown, ctx._)


def _no_revision(ctx: Ctx) -> str | None:
    """Why there is nothing to discard (None: a revision is under way)."""
    if ctx.status != SubmissionStatus.REVISING.value or ctx.current_revision == 0:
        return ctx._("No revision is under way: the report is as it was submitted.")
    return None


async def _ask(session: AsyncSession, ctx: Ctx) -> Reply:
    why = _no_revision(ctx)
    if why is not None:
        return why, None
    assert ctx.sub_id is not None
    revision = await _revision(session, ctx)
    return None, view.discard_question(ctx.sub_id, revision.number, revision.reference, ctx._)


async def _discard(session: AsyncSession, services: Services, ctx: Ctx, shown: int) -> Reply:
    why = _no_revision(ctx)
    if why is not None:
        return why, None
    if shown != ctx.current_revision:
        # Asked about another revision (submitted meanwhile): this one was not asked about.
        return ctx._("This button is no longer valid."), None
    assert ctx.sub_id is not None
    ctx.version = await claim_draft(session, ctx.sub_id, version=ctx.version, now=services.now())
    submission = await session.get(Submission, ctx.sub_id)
    assert submission is not None
    kept = await discard_revision(session, submission, by=ctx.person_id, now=services.now())
    return None, view.discarded(ctx.sub_id, kept.number, kept.reference, ctx._)


async def list_pressed(update: Update, context: HuibaoContext, _pressed: ReportList) -> None:
    """The school's reports, as /report shows them."""
    query = update.callback_query
    assert query is not None
    async with unit(update, context) as (session, who):
        reply = await report_list(session, context.services, who.person, who._)
    await query.answer()
    if isinstance(query.message, Message):
        await send(query.message, reply)


def register_submitted(app: HuibaoApp) -> None:
    """Before the report's other buttons and its stale family ("rp:")."""
    menu.add_button(app, ReportList, list_pressed, menu.SCHOOL, example=ReportList())
    menu.add_button(app, ViewSubmitted, _pressed, menu.SCHOOL, example=ViewSubmitted(1))
    menu.add_button(app, AskDiscard, _pressed, menu.SCHOOL, example=AskDiscard(1))
    menu.add_button(
        app, DiscardRevision, _pressed, menu.SCHOOL, example=DiscardRevision(1, 1)
    )
