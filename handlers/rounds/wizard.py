"""The set-up of a round in chat (form → period → deadline → schools → confirm) and what
staff type during /round (a period, a deadline, a new deadline, a school to unlock).

Its state is a `conversations` row of kind "round" (models.conversations.RoundSetup),
so it survives restarts like the report conversation. Staff role is re-read from the
database on every update.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from html import escape
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers.context import Who, unit
from handlers.report_view import Rendered
from handlers.rounds import screens
from handlers.rounds.press import Origin, Outcome, press, refused, screen
from models.clock import parse_when
from models.conversations import (
    Kind,
    RoundSetup,
    SetupStep,
    clear_conversation,
    round_setup,
    set_conversation,
)
from models.roster.tables import District, School
from models.rounds import Round
from models.rounds import actions as actions
from models.rounds.announce import BatchOwner, Told
from models.rounds.lifecycle import MAX_PERIOD_LENGTH
from models.rounds.periods import canonical_period
from texts.callbacks import (
    Callback,
    ChooseDeadline,
    ChooseForm,
    ChoosePeriod,
    OpenRound,
    ReviewToggle,
    RoundDistrictTick,
    RoundStageTick,
    SchoolsChosen,
    ShowRound,
)
from texts.i18n import people, schools
from texts.rounds import (
    announcement_for,
    batch_title,
    invalid_button,
    no_school_matches,
    refusal_text,
    setup_ended,
    unconnected_text,
)
from texts.when import show
from transport.context import HuibaoContext, Services

log = logging.getLogger("huibao.rounds")

State = RoundSetup
K = TypeVar("K", bound=Callback)
T = TypeVar("T")
Step = Callable[[AsyncSession, Services, Who, State, K, Origin], Awaitable[Outcome]]


async def wizard_state(session: AsyncSession, person_id: int) -> State | None:
    return await round_setup(session, person_id)


async def save_wizard(
    session: AsyncSession, person_id: int, state: State, *, now: datetime
) -> None:
    await set_conversation(session, person_id, Kind.ROUND, None, state, now=now)


def setup_button(
    step: Step[K],
    *,
    at: SetupStep | None = None,
    known: Callable[[Services, K], bool] | None = None,
) -> Callable[[Update, HuibaoContext, K], Awaitable[None]]:
    """A button of the set-up: it works only while the set-up is on, at the step `at`.

    `known` says whether what the button names exists at all: a button naming nothing
    (forged, or from an older set of forms) is invalid whatever the set-up's state."""

    async def handle(update: Update, context: HuibaoContext, button: K) -> None:
        async def work(
            session: AsyncSession, services: Services, who: Who, origin: Origin
        ) -> Outcome:
            if known is not None and not known(services, button):
                return refused(invalid_button(who._))
            state = await wizard_state(session, who.person.id)
            if state is None:
                return refused(setup_ended(who._))
            if at is not None and state.step is not at:
                return refused(invalid_button(who._))
            return await step(session, services, who, state, button, origin)

        await press(update, context, work)

    handle.__qualname__ = step.__qualname__
    return handle


# --- the set-up's buttons --------------------------------------------------------------------


async def choose_form(
    session: AsyncSession, services: Services, who: Who, state: State, button: ChooseForm,
    origin: Origin,
) -> Outcome:
    forms = services.forms
    if button.form_code not in forms:
        return refused(who._("This form is no longer available."))
    form = forms.get(button.form_code)
    suggestions = screens.period_suggestions(form, services.now(), services)
    state = RoundSetup(SetupStep.PERIOD, form=form.code, suggestions=suggestions)
    await save_wizard(session, who.person.id, state, now=services.now())
    return screen(screens.ask_period(form, suggestions, who))


async def chosen_period(
    session: AsyncSession, services: Services, who: Who, state: State, period: str
) -> Rendered:
    """The period is chosen or typed: refused if a round collects it already."""
    refusal = await screens.duplicate_refusal(session, services, who, state.form, period)
    if refusal is not None:
        return refusal
    state.period, state.step = period, SetupStep.DEADLINE
    await save_wizard(session, who.person.id, state, now=services.now())
    return screens.ask_deadline(services, who)


async def choose_period(
    session: AsyncSession, services: Services, who: Who, state: State, button: ChoosePeriod,
    origin: Origin,
) -> Outcome:
    period = shown(state.suggestions, button.index)
    if period is None:
        return refused(invalid_button(who._))
    return screen(await chosen_period(session, services, who, state, period))


def shown(options: Sequence[T], index: int) -> T | None:
    """The option a button names by its place on the screen; None for a place the screen
    never had (a forged or stale button)."""
    return options[index] if 0 <= index < len(options) else None


async def chosen_deadline(
    session: AsyncSession, services: Services, who: Who, state: State, deadline: datetime
) -> Rendered:
    state.deadline, state.step = deadline, SetupStep.AUDIENCE
    await save_wizard(session, who.person.id, state, now=services.now())
    return await screens.ask_audience(session, who, state)


async def choose_deadline(
    session: AsyncSession, services: Services, who: Who, state: State, button: ChooseDeadline,
    origin: Origin,
) -> Outcome:
    deadline = screens.deadline_in(button.days, services)
    return screen(await chosen_deadline(session, services, who, state, deadline))


async def tick_district(
    session: AsyncSession, services: Services, who: Who, state: State, button: RoundDistrictTick,
    origin: Origin,
) -> Outcome:
    district = await session.get(District, button.district_id)
    if district is None:
        return refused(invalid_button(who._))
    state.districts = sorted(set(state.districts) ^ {district.id})
    return await _ticked(session, services, who, state)


async def tick_stage(
    session: AsyncSession, services: Services, who: Who, state: State, button: RoundStageTick,
    origin: Origin,
) -> Outcome:
    ticked = set(state.stages) ^ {screens.STAGE_CODES[button.index]}
    state.stages = [s for s in screens.STAGE_CODES if s in ticked]
    return await _ticked(session, services, who, state)


async def _ticked(session: AsyncSession, services: Services, who: Who, state: State) -> Outcome:
    """A district or stage ticked: the same audience screen changes in place."""
    await save_wizard(session, who.person.id, state, now=services.now())
    return screen(await screens.ask_audience(session, who, state), in_place=True)


async def schools_chosen(
    session: AsyncSession, services: Services, who: Who, state: State, button: SchoolsChosen,
    origin: Origin,
) -> Outcome:
    if await screens.matching_schools(session, state) == 0:
        return refused(no_school_matches(who._))
    state.step = SetupStep.CONFIRM
    await save_wizard(session, who.person.id, state, now=services.now())
    return screen(await screens.confirm_screen(session, services, who, state))


async def open_confirmed(
    session: AsyncSession, services: Services, who: Who, state: State, button: OpenRound,
    origin: Origin,
) -> Outcome:
    if state.form not in services.forms:
        return refused(invalid_button(who._))
    return await open_from_chat(session, services, who, state, origin)


async def toggle_review(
    session: AsyncSession, services: Services, who: Who, state: State, button: ReviewToggle,
    origin: Origin,
) -> Outcome:
    """District review on or off: the confirmation changes in place."""
    state.review = not state.review
    await save_wizard(session, who.person.id, state, now=services.now())
    return screen(await screens.confirm_screen(session, services, who, state), in_place=True)


# --- ✅ open the round -------------------------------------------------------------------------


async def _not_yet(
    session: AsyncSession, services: Services, who: Who, state: State
) -> Outcome | None:
    """Why the round cannot be opened as set up, found again at ✅ (time has passed)."""
    _ = who._
    refusal = await screens.duplicate_refusal(session, services, who, state.form, state.period)
    if refusal is not None:
        # Someone opened the same period meanwhile.
        await clear_conversation(session, who.person.id)
        return screen(refusal)
    if state.deadline is None or state.deadline <= services.now():
        state.step = SetupStep.DEADLINE
        await save_wizard(session, who.person.id, state, now=services.now())
        ask = screens.ask_deadline(services, who)
        text = "❌ " + _("The deadline you chose has passed meanwhile. Please choose a new one.")
        return screen(Rendered(text + "\n" + ask.text, ask.markup))
    if await screens.matching_schools(session, state) == 0:
        return refused(no_school_matches(_))
    return None


async def _refused_opening(
    session: AsyncSession, services: Services, who: Who, state: State, why: actions.Refused
) -> Outcome:
    await clear_conversation(session, who.person.id)
    if why.why is actions.Refusal.DUPLICATE:
        # Another officer's ✅ for the same period committed a moment before this one.
        refusal = await screens.duplicate_refusal(session, services, who, state.form,
                                                  state.period)
        if refusal is not None:
            return screen(refusal)
    return screen(Rendered(refusal_text(why, who._)))


def _progress(who: Who, round_id: int, told: Told, origin: Origin) -> str:
    """The confirmation turns into the announcement's live progress line (like a notice's
    preview)."""
    _ = who._
    if told.batch is None:
        return _(
            "Round #{id} is open. Nobody at its schools uses the bot yet, so nobody was "
            "told; they find the round in /report once they connect."
        ).format(id=round_id)
    progress = _("<b>{title}</b>\nTelling {people} at {schools}…").format(
        title=escape(told.batch.title), people=people(_, told.people),
        schools=schools(_, told.schools),
    )
    told.batch.progress_text = progress
    if origin is not None:
        told.batch.progress_chat_id, told.batch.progress_message_id = origin
    return progress


async def open_from_chat(
    session: AsyncSession, services: Services, who: Who, state: State, origin: Origin
) -> Outcome:
    """✅ Open the round: the round and one announcement per principal and deputy are
    written in this transaction; the confirmation becomes the announcement's progress
    line, and the staff member gets the delivery report when it is done."""
    not_yet = await _not_yet(session, services, who, state)
    if not_yet is not None:
        return not_yet
    settings = services.settings
    assert state.deadline is not None  # _not_yet asked for one otherwise
    request = actions.OpenRequest(
        form=services.forms.get(state.form),
        period=state.period,
        deadline=state.deadline,
        grace_minutes=settings.rounds.grace_minutes,
        districts=state.districts or None,
        stages=state.stages or None,
        created_by=who.person.id,
        review=state.review,
    )
    owner = BatchOwner(who.person.id, who.language, batch_title(who.language),
                       details_callback=lambda round_id: ShowRound(round_id).pack())
    opened = await actions.open_round(session, request, announcement_for(settings),
                                      now=services.now(), owner=owner)
    if isinstance(opened, actions.Refused):
        return await _refused_opening(session, services, who, state, opened)
    await clear_conversation(session, who.person.id)
    round_, told = opened.round_, opened.told
    assert told is not None
    log.info("round opened", extra={"round_id": round_.id, "recipients": told.people})
    view = await screens.round_view(session, services, who, round_)
    if told.unconnected:
        view = Rendered(view.text + "\n\n" + unconnected_text(told.unconnected, who._),
                        view.markup)
    progress = _progress(who, round_.id, told, origin)
    return Outcome(reply=view, wake=told.batch is not None, edit=progress)


# --- typed input ---------------------------------------------------------------------------


async def on_text(update: Update, context: HuibaoContext) -> None:
    """Typed input during staff set-up: a period, a deadline or a school to unlock
    (handlers/routing.py: Doing.ROUND_SETUP, unless a notice draft waits for it)."""
    message = update.effective_message
    assert message is not None and message.text is not None
    services = context.services
    async with unit(update, context) as (session, who):
        state = await wizard_state(session, who.person.id)
        if state is None:
            return
        if not who.role.is_staff:
            await clear_conversation(session, who.person.id)
            reply = Rendered(who._("Sorry, only bureau staff can manage collection rounds."))
        else:
            reply = await wizard_text(session, services, who, state, message.text.strip())
    await message.reply_text(reply.text, reply_markup=reply.markup)


async def typed_period(
    session: AsyncSession, services: Services, who: Who, state: State, text: str
) -> Rendered:
    period = canonical_period(text)
    if not period or len(period) > MAX_PERIOD_LENGTH:
        return Rendered(
            "❌ "
            + who._("Please type a period of at most {count} characters.").format(
                count=MAX_PERIOD_LENGTH
            )
        )
    return await chosen_period(session, services, who, state, period)


async def typed_time(services: Services, who: Who, text: str) -> datetime | Rendered:
    """A deadline typed in bureau time, or why it cannot be one."""
    now = services.now()
    when = parse_when(text, services.settings.bureau.tz, now)
    if when is None:
        return Rendered(
            "❌ " + who._("I cannot read that date. Please type it like 2026-12-01 17:00.")
        )
    if when <= now:
        return Rendered("❌ " + who._("That time has already passed. Please type a later one."))
    return when


async def typed_extension(
    session: AsyncSession, services: Services, who: Who, state: State, when: datetime
) -> Rendered:
    """Asks first (ConfirmDeadline moves it); the set-up waits on, so that another time
    typed instead asks again with that one."""
    round_ = await actions.find_round(session, state.round_id)
    if isinstance(round_, actions.Refused):
        await clear_conversation(session, who.person.id)
        return Rendered(refusal_text(round_, who._))
    return await screens.ask_deadline_change(session, services, who, round_, when)


async def typed_school(
    session: AsyncSession, services: Services, who: Who, state: State, text: str
) -> Rendered:
    round_ = await session.get(Round, state.round_id)
    school = await actions.find_school(session, text, by_name=True)
    if round_ is None:
        await clear_conversation(session, who.person.id)
        return Rendered(who._("That round no longer exists."))
    if isinstance(school, actions.Refused):
        return Rendered(refusal_text(school, who._))
    await clear_conversation(session, who.person.id)
    return await unlock_reply(session, services, who, round_, school)


async def unlock_reply(
    session: AsyncSession, services: Services, who: Who, round_: Round, school: School
) -> Rendered:
    """Unlock the school (pressed or typed) and say until when it may submit."""
    unlocked = await actions.unlock(
        session, round_, school, now=services.now(),
        hours=services.settings.rounds.unlock_hours, by=who.person.id,
    )
    if isinstance(unlocked, actions.Refused):
        return Rendered(refusal_text(unlocked, who._))
    until = show(
        unlocked.until, services.settings.bureau.tz, "full", who.language, services.now()
    )
    return Rendered(
        "🔓 "
        + who._("{school} may submit once more until {time}.").format(
            school=escape(school.name), time=until
        )
    )


async def wizard_text(
    session: AsyncSession, services: Services, who: Who, state: State, text: str
) -> Rendered:
    step = state.step
    if step is SetupStep.PERIOD:
        return await typed_period(session, services, who, state, text)
    if step in (SetupStep.DEADLINE, SetupStep.EXTEND):
        when = await typed_time(services, who, text)
        if isinstance(when, Rendered):
            return when
        if step is SetupStep.EXTEND:
            return await typed_extension(session, services, who, state, when)
        return await chosen_deadline(session, services, who, state, when)
    if step is SetupStep.UNLOCK:
        return await typed_school(session, services, who, state, text)
    return Rendered(who._("Please use the buttons above, or send /cancel."))


def _form_exists(services: Services, button: ChooseForm) -> bool:
    return button.form_code in services.forms


def _deadline_offered(services: Services, button: ChooseDeadline) -> bool:
    return button.days in screens.DEADLINE_DAYS


def _stage_offered(services: Services, button: RoundStageTick) -> bool:
    return shown(screens.STAGE_CODES, button.index) is not None


SETUP_BUTTONS: tuple[tuple[type[Callback], Any, Callback], ...] = (
    (ChooseForm, setup_button(choose_form, known=_form_exists), ChooseForm("staffing")),
    (ChoosePeriod, setup_button(choose_period, at=SetupStep.PERIOD), ChoosePeriod(0)),
    (ChooseDeadline, setup_button(choose_deadline, at=SetupStep.DEADLINE, known=_deadline_offered),
     ChooseDeadline(7)),
    (RoundDistrictTick, setup_button(tick_district, at=SetupStep.AUDIENCE), RoundDistrictTick(1)),
    (RoundStageTick, setup_button(tick_stage, at=SetupStep.AUDIENCE, known=_stage_offered),
     RoundStageTick(0)),
    (SchoolsChosen, setup_button(schools_chosen, at=SetupStep.AUDIENCE), SchoolsChosen()),
    (OpenRound, setup_button(open_confirmed, at=SetupStep.CONFIRM), OpenRound()),
    (ReviewToggle, setup_button(toggle_review, at=SetupStep.CONFIRM), ReviewToggle()),
)
"""(kind, handler, example) of the set-up's buttons."""
