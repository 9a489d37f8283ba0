"""/review: district officers (and the bureau's staff, for districts without an officer)
read the reports that wait for them, then approve one or return it with a comment.

A report of a round with district review arrives here when the school submits it
(`report_arrived`, called by the report's submit in the same transaction): its reviewers
are told through the outbox. Approving and returning tell the school's principal and
deputies through the outbox. Who may see and decide is asked of models/review/rules.py on
every press: button data is untrusted, and a refused button changes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers import menu
from handlers.admin.screen import Rows, Screen, act_and_show, home_row, show
from handlers.context import Who, unit
from handlers.report_view import answer_line, answered_steps, computed_lines
from models.conversations import (
    Kind,
    Reviewing,
    clear_conversation,
    reviewing,
    set_conversation,
)
from models.forms import computed, steps
from models.outbox import Outgoing, OutMessage, enqueue
from models.outbox.messages import Button
from models.review import rules
from models.review.rules import Case, ReviewError
from models.review.tables import ReviewStatus
from models.roster.tables import District, Person, School
from models.rounds import Round, RoundSchool, Submission, versions
from models.rounds.answers import load_answers
from models.rounds.locks import revisable_until
from models.rounds.periods import period_label
from models.rounds.submissions import school_context
from texts import review as words
from texts.callbacks import (
    ApproveReview,
    CancelReview,
    OpenReport,
    OpenReview,
    ReturnReview,
    ReviewList,
)
from texts.i18n import N_, Gettext, gettext_for, language_of
from transport.context import HuibaoApp, HuibaoContext, Services

REVIEWERS = menu.STAFF | menu.DISTRICT


def _speaks(services: Services, person: Person) -> tuple[str, Gettext]:
    language = language_of(person, services.settings.bureau.default_language)
    return language, gettext_for(language)


def _one(person: Person, text: str, row: tuple[tuple[str, str], ...] = ()) -> Outgoing:
    keyboard = (tuple(Button(label, data) for label, data in row),) if row else ()
    return Outgoing(person.telegram_id, person.id, (OutMessage(text=text, keyboard=keyboard),))


# --- a report arrives -----------------------------------------------------------------------


async def report_arrived(
    session: AsyncSession, services: Services, submission: Submission
) -> None:
    """The school submitted a revision: if its round is reviewed, the report waits for its
    reviewers, who are told (queued in the submit's own transaction)."""
    review = await rules.arrived(session, submission, now=services.now())
    if review is None:
        return
    school = await session.get(School, submission.school_id)
    assert school is not None
    district = await session.get(District, school.district_id)
    officers = await rules.officers(session, school.district_id)
    people = officers or await rules.reviewers(session, school.district_id)
    round_ = await session.get(Round, submission.round_id)
    assert round_ is not None
    form = await versions.form_version(session, round_.form_code, round_.form_version)
    items = []
    for person in people:
        language, _ = _speaks(services, person)
        facts = words.Arrived(school.name, district.name if district else "",
                              form.title.get(language), period_label(round_.period, language),
                              review.revision, not officers)
        items.append(_one(person, words.arrived(_, facts),
                          ((_("Open"), OpenReview(review.id).pack()),)))
    await enqueue(session, f"review:arrived:{review.id}:{review.revision}", items)


# --- the queue ------------------------------------------------------------------------------


async def review_command(update: Update, context: HuibaoContext) -> None:
    async with unit(update, context) as (session, who):
        screen = await _queue_screen(session, who)
    await show(update, screen)


async def list_button(update: Update, context: HuibaoContext, _button: ReviewList) -> None:
    await review_command(update, context)


async def _queue_screen(session: AsyncSession, who: Who) -> Screen:
    items = await rules.queue(session, who.person)
    rows: Rows = []
    for item in items:
        form = await versions.form_version(session, item.form_code, item.form_version)
        label = words.queue_button(item, form.title.get(who.language),
                                   period_label(item.period, who.language))
        rows.append([(label, OpenReview(item.review_id).pack())])
    rows.append(home_row(who._))
    return Screen(words.queue_screen(who._, items), rows)


# --- one report -----------------------------------------------------------------------------


async def open_button(update: Update, context: HuibaoContext, button: OpenReview) -> None:
    async with unit(update, context) as (session, who):
        try:
            case = await rules.open_case(session, button.review_id, who.person)
        except ReviewError:
            case = None
        screen = None if case is None else await _case_screen(session, context, who, case)
    await (show(update, screen) if screen else menu.stale(update, who))


async def _case_screen(
    session: AsyncSession, context: HuibaoContext, who: Who, case: Case
) -> Screen:
    lang, _ = who.language, who._
    form = await versions.form_version(session, case.round.form_code, case.round.form_version)
    answers = await load_answers(session, case.submission.id, case.review.revision, form)
    ctx = school_context(case.school)
    figures = [answer_line(n, s, answers, lang, _)
               for n, s in answered_steps(steps(form, answers, ctx))]
    figures.extend(computed_lines(form, computed(form, answers, ctx), lang, _))
    view = words.CaseView(
        school=case.school.name, district=case.district.name, form=form.title.get(lang),
        period=period_label(case.round.period, lang), revision=case.review.revision,
        received=case.revision.submitted_at, warnings=_warnings(case),
        returned_before=case.review.comment, figures=figures,
    )
    text = words.case_text(_, view, context.services.settings.bureau.tz, lang)
    rows: Rows = []
    if case.review.status == ReviewStatus.AWAITING.value:
        rid, number = case.review.id, case.review.revision
        rows.append([(_("✅ Approve"), ApproveReview(rid, number).pack()),
                     (_("↩️ Return"), ReturnReview(rid, number).pack())])
    else:
        text += "\n\n" + words.status_label(_, ReviewStatus(case.review.status))
    rows.append([(_("« Reports to review"), ReviewList().pack())])
    return Screen(text, rows)


def _warnings(case: Case) -> list[tuple[str, str]]:
    try:
        confirmed = json.loads(case.revision.confirmed_warnings or "[]")
    except ValueError:
        return []
    return [(str(w.get("message") or w.get("rule") or ""), str(w.get("comment") or ""))
            for w in confirmed if isinstance(w, dict)]


# --- approving ------------------------------------------------------------------------------


async def approve_button(update: Update, context: HuibaoContext, button: ApproveReview) -> None:
    await act_and_show(update, context,
                       lambda session, who: _approved(session, context.services, who, button))


async def _approved(
    session: AsyncSession, services: Services, who: Who, button: ApproveReview
) -> Screen | None:
    try:
        await rules.open_case(session, button.review_id, who.person)
    except ReviewError:
        return None
    try:
        case = await rules.approve(session, button.review_id, button.revision, who.person,
                                   now=services.now())
    except ReviewError:
        return _decided_already(who)
    form = await versions.form_version(session, case.round.form_code, case.round.form_version)
    items = []
    for person in await rules.school_people(session, case.school.id):
        language, _ = _speaks(services, person)
        text = words.approved_for_school(_, form.title.get(language),
                                         period_label(case.round.period, language),
                                         case.review.revision)
        items.append(_one(person, text))
    await enqueue(session, f"review:approved:{case.review.id}:{case.review.revision}", items)
    return Screen(words.approved(who._, case.school.name),
                  [[(who._("« Reports to review"), ReviewList().pack())]])


def _decided_already(who: Who) -> Screen:
    return Screen(words.decided_already(who._),
                  [[(who._("« Reports to review"), ReviewList().pack())]])


# --- returning ------------------------------------------------------------------------------


async def return_button(update: Update, context: HuibaoContext, button: ReturnReview) -> None:
    async with unit(update, context) as (session, who):
        try:
            case: Case | None = await rules.open_case(session, button.review_id, who.person)
        except ReviewError:
            case = None
        awaiting = case is not None and case.review.revision == button.revision and (
            case.review.status == ReviewStatus.AWAITING.value)
        if case is not None and awaiting:
            await set_conversation(session, who.person.id, Kind.REVIEW, None,
                                   Reviewing(button.review_id, button.revision),
                                   now=context.now())
    if case is None:
        await menu.stale(update, who)
        return
    if not awaiting:
        await show(update, _decided_already(who))
        return
    await show(update, Screen(words.return_prompt(who._, case.school.name),
                              [[(who._("Cancel"), CancelReview().pack())]]))


async def cancel_button(update: Update, context: HuibaoContext, _button: CancelReview) -> None:
    async with unit(update, context) as (session, who):
        await clear_conversation(session, who.person.id)
    await show(update, Screen(words.cancelled(who._),
                              [[(who._("« Reports to review"), ReviewList().pack())]]))


async def on_message(update: Update, context: HuibaoContext) -> None:
    """The comment of a return (handlers/routing.py sends a REVIEW conversation's text here)."""
    message = update.effective_message
    if message is None:
        return
    comment = (message.text or "").strip()

    async def give_back(session: AsyncSession, who: Who) -> Screen | None:
        state = await reviewing(session, who.person.id)
        if not comment or len(comment) > words.COMMENT_LENGTH:
            return Screen(words.bad_comment(who._), [[(who._("Cancel"), CancelReview().pack())]])
        if state is None:
            return None
        await clear_conversation(session, who.person.id)
        return await _returned(session, context.services, who, state, comment)

    await act_and_show(update, context, give_back)


async def _returned(
    session: AsyncSession, services: Services, who: Who, state: Reviewing, comment: str
) -> Screen | None:
    now = services.now()
    reopen = timedelta(hours=services.settings.rounds.unlock_hours)
    try:
        case = await rules.send_back(session, state.review_id, state.revision, who.person,
                                     comment, now=now, reopen=reopen)
    except ReviewError:
        return _decided_already(who)
    await _tell_school_returned(session, services, case, comment, now)
    return Screen(words.returned(who._, case.school.name),
                  [[(who._("« Reports to review"), ReviewList().pack())]])


async def _tell_school_returned(
    session: AsyncSession, services: Services, case: Case, comment: str, now: datetime
) -> None:
    form = await versions.form_version(session, case.round.form_code, case.round.form_version)
    round_school = await session.get(RoundSchool, (case.round.id, case.school.id))
    until = revisable_until(case.round, round_school, now)
    tz = services.settings.bureau.tz
    items = []
    for person in await rules.school_people(session, case.school.id):
        language, _ = _speaks(services, person)
        text = words.returned_for_school(_, form.title.get(language),
                                         period_label(case.round.period, language), comment,
                                         until, tz, language)
        items.append(_one(person, text, ((_("✏️ Revise"), OpenReport(case.round.id).pack()),)))
    await enqueue(session, f"review:returned:{case.review.id}:{case.review.revision}", items)


def register(app: HuibaoApp) -> None:
    menu.add_command(app, "review", review_command, N_("Reports to review"), REVIEWERS,
                     order=36)
    menu.add_button(app, ReviewList, list_button, REVIEWERS, example=ReviewList())
    menu.add_button(app, OpenReview, open_button, REVIEWERS, example=OpenReview(1))
    menu.add_button(app, ApproveReview, approve_button, REVIEWERS, example=ApproveReview(1, 1))
    menu.add_button(app, ReturnReview, return_button, REVIEWERS, example=ReturnReview(1, 1))
    menu.add_button(app, CancelReview, cancel_button, REVIEWERS, example=CancelReview())
    menu.add_stale_family(app, "rv", menu.CONNECTED)
