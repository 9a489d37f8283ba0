"""The buttons of a round's screen and of the list: show, extend, close, unlock, send
again; each calls one action of models/rounds/actions.py, as `huibao rounds` does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers.context import Who, unit
from handlers.report import clear_conversation
from handlers.report_view import Rendered
from handlers.rounds import screens
from handlers.rounds.press import Origin, Outcome, press, refused, screen
from handlers.rounds.wizard import save_wizard, unlock_reply
from models.conversations import RoundSetup, SetupStep
from models.outbox import count_unreached, purpose_of_round
from models.roster.tables import School
from models.rounds import Round
from models.rounds import actions as actions
from texts import callbacks as cb
from texts.delivery import requeued_text
from texts.rounds import (
    closing_for,
    deadline_moved_meanwhile,
    extension_for,
    invalid_button,
    refusal_text,
    retry_changed,
)
from texts.when import show
from transport.context import HuibaoContext, Services

K = TypeVar("K")
Act = Callable[[AsyncSession, Services, Who, K], Awaitable[Outcome]]


def staff_button(act: Act[K]) -> Callable[[Update, HuibaoContext, K], Awaitable[None]]:
    """The handler of one kind of button (the role is checked by the menu's guard)."""

    async def handle(update: Update, context: HuibaoContext, button: K) -> None:
        async def work(
            session: AsyncSession, services: Services, who: Who, origin: Origin
        ) -> Outcome:
            return await act(session, services, who, button)

        await press(update, context, work)

    handle.__qualname__ = act.__qualname__
    return handle


class NamesRound(Protocol):
    @property
    def round_id(self) -> int: ...


R = TypeVar("R", bound=NamesRound)
RoundAct = Callable[[AsyncSession, Services, Who, Round, R], Awaitable[Outcome]]


def round_button(act: RoundAct[R]) -> Callable[[Update, HuibaoContext, R], Awaitable[None]]:
    """The handler of a button naming a round: a round that no longer exists (or a forged
    id) is refused before `act` runs, with the same answer for every such button."""

    async def found(session: AsyncSession, services: Services, who: Who, button: R) -> Outcome:
        round_ = await actions.find_round(session, button.round_id)
        if isinstance(round_, actions.Refused):
            return refused(refusal_text(round_, who._))
        return await act(session, services, who, round_, button)

    found.__qualname__ = act.__qualname__
    return staff_button(found)


async def round_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        reply = await screens.round_list(session, context.services, who)
    await message.reply_text(reply.text, reply_markup=reply.markup)


async def show_list(
    session: AsyncSession, services: Services, who: Who, button: cb.RoundList
) -> Outcome:
    return screen(await screens.round_list(session, services, who))


async def new_round(
    session: AsyncSession, services: Services, who: Who, button: cb.NewRound
) -> Outcome:
    await save_wizard(session, who.person.id, RoundSetup(), now=services.now())
    return screen(screens.ask_form(services, who))


async def cancel(
    session: AsyncSession, services: Services, who: Who, button: cb.CancelSetUp
) -> Outcome:
    await clear_conversation(session, who.person.id)
    return screen(Rendered(who._("Cancelled.")))


async def show_round(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.ShowRound
) -> Outcome:
    return screen(await screens.round_view(session, services, who, round_))


async def _changed(
    session: AsyncSession, services: Services, who: Who, changed: actions.Changed | actions.Refused
) -> Outcome:
    """The confirmation becomes the round's screen after it was extended or closed, with
    who is told of it."""
    if isinstance(changed, actions.Refused):
        return Outcome(answer=refusal_text(changed, who._), edit=refusal_text(changed, who._))
    if changed.told is None:
        view = await screens.round_view(session, services, who, changed.round_)
        return screen(view, in_place=True)
    view = await screens.told_view(session, services, who, changed.round_, changed.told)
    return screen(view, wake=True, in_place=True)


async def extend(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.ExtendRound
) -> Outcome:
    """Asks first: the new deadline (counted from now if the old one has passed), and who
    will be told; cb.ConfirmDeadline moves it."""
    if button.days not in screens.EXTEND_DAYS:
        return refused(invalid_button(who._))
    to = max(round_.deadline, services.now()) + timedelta(days=button.days)
    question = await screens.ask_deadline_change(session, services, who, round_, to)
    return screen(question, in_place=True)


async def confirm_deadline(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.ConfirmDeadline
) -> Outcome:
    """The deadline moves to the one the confirmation showed, only if the round's deadline
    is still the one it showed as current: a second press, or a stale confirmation after
    another change, changes nothing and says so."""
    _ = who._
    await clear_conversation(session, who.person.id)
    if screens.minute_of(round_.deadline) != button.was:
        text = deadline_moved_meanwhile(show(round_.deadline, services.settings.bureau.tz), _)
        return Outcome(answer=text, edit=text)
    to = screens.from_minute(button.to)
    if to <= services.now():
        text = _("That time has already passed. Please type a later one.")
        return Outcome(answer=text, edit=text)
    changed = await actions.extend(
        session, round_.id, to, extension_for(services.settings),
        now=services.now(), by=who.person.id,
    )
    return await _changed(session, services, who, changed)


async def back_to_round(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.BackToRound
) -> Outcome:
    """A confirmation cancelled: the round's screen in its place (a deadline being typed
    is forgotten too)."""
    await clear_conversation(session, who.person.id)
    return screen(await screens.round_view(session, services, who, round_), in_place=True)


async def type_deadline(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.TypeDeadline
) -> Outcome:
    await save_wizard(
        session, who.person.id, RoundSetup(SetupStep.EXTEND, round_id=round_.id), now=services.now()
    )
    return screen(Rendered(who._("Type the new deadline, like 2026-12-01 17:00 (bureau time).")))


async def ask_close(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.AskClose
) -> Outcome:
    return screen(await screens.ask_close(session, who, round_), in_place=True)


async def close(
    session: AsyncSession, services: Services, who: Who, button: cb.CloseRound
) -> Outcome:
    changed = await actions.close(
        session, button.round_id, closing_for(services.settings),
        now=services.now(), by=who.person.id,
    )
    return await _changed(session, services, who, changed)


async def choose_unlock(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.ChooseUnlock
) -> Outcome:
    reply = await screens.unlock_screen(session, services, who, round_)
    await save_wizard(
        session, who.person.id, RoundSetup(SetupStep.UNLOCK, round_id=round_.id), now=services.now()
    )
    return screen(reply)


async def unlock(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.UnlockSchool
) -> Outcome:
    school = await session.get(School, button.school_id)
    if school is None:
        return refused(invalid_button(who._))
    await clear_conversation(session, who.person.id)
    return screen(await unlock_reply(session, services, who, round_, school))


async def retry(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.RetryRound
) -> Outcome:
    """Asks first: how many messages will be sent again."""
    unreached = await count_unreached(session, purpose_of_round(round_.id))
    if not unreached.total:
        return refused(requeued_text(who._, unreached))
    return screen(screens.ask_retry(round_.id, unreached.total, who), in_place=True)


async def confirm_retry(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: cb.ConfirmRetry
) -> Outcome:
    """Staff send again, from the round's screen, every message about the round that did
    not reach its recipient (failed for good, or refused because they blocked the bot),
    if that is still what they were shown. The answer is the same as for a notice's "send
    again" (texts/delivery.py)."""
    unreached = await count_unreached(session, purpose_of_round(round_.id))
    if unreached.total != button.count:
        # Sent again already (a second press), or more failed since: ask again.
        view = await screens.round_view(session, services, who, round_)
        return Outcome(answer=retry_changed(who._), reply=view, in_place=True)
    retried = await actions.retry(session, round_.id, now=services.now(), by=who.person.id)
    if isinstance(retried, actions.Refused):
        return refused(refusal_text(retried, who._))
    view = await screens.round_view(session, services, who, retried.round_)
    again = retried.again
    return Outcome(answer=requeued_text(who._, again), alert=bool(again.blocked), reply=view,
                   in_place=True, wake=True)


ROUND_BUTTONS: tuple[tuple[type[Any], Any, Any], ...] = (
    (cb.RoundList, staff_button(show_list), cb.RoundList()),
    (cb.NewRound, staff_button(new_round), cb.NewRound()),
    (cb.CancelSetUp, staff_button(cancel), cb.CancelSetUp()),
    (cb.ShowRound, round_button(show_round), cb.ShowRound(1)),
    (cb.ExtendRound, round_button(extend), cb.ExtendRound(1, 3)),
    (cb.TypeDeadline, round_button(type_deadline), cb.TypeDeadline(1)),
    (cb.AskClose, round_button(ask_close), cb.AskClose(1)),
    (cb.CloseRound, staff_button(close), cb.CloseRound(1)),
    (cb.ChooseUnlock, round_button(choose_unlock), cb.ChooseUnlock(1)),
    (cb.UnlockSchool, round_button(unlock), cb.UnlockSchool(1, 1)),
    (cb.RetryRound, round_button(retry), cb.RetryRound(1)),
    (cb.ConfirmRetry, round_button(confirm_retry), cb.ConfirmRetry(1, 2)),
    (cb.ConfirmDeadline, round_button(confirm_deadline),
     cb.ConfirmDeadline(1, 29_000_000, 29_001_440)),
    (cb.BackToRound, round_button(back_to_round), cb.BackToRound(1)),
)
"""(kind, handler, example) of the buttons of the list and of a round's screen."""
