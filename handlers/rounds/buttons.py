"""The buttons of a round's screen and of the list: show, extend, close, unlock, send
again; each calls one action of models/rounds/actions.py, as `huibao rounds` does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from models.roster.tables import School
from models.rounds import Round
from models.rounds import actions as actions
from texts.callbacks import (
    AskClose,
    CancelSetUp,
    ChooseUnlock,
    CloseRound,
    ExtendRound,
    NewRound,
    RetryRound,
    RoundList,
    ShowRound,
    TypeDeadline,
    UnlockSchool,
)
from texts.delivery import requeued_text
from texts.rounds import closing_for, extension_for, invalid_button, refusal_text
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
    session: AsyncSession, services: Services, who: Who, button: RoundList
) -> Outcome:
    return screen(await screens.round_list(session, services, who))


async def new_round(
    session: AsyncSession, services: Services, who: Who, button: NewRound
) -> Outcome:
    await save_wizard(session, who.person.id, RoundSetup(), now=services.now())
    return screen(screens.ask_form(services, who))


async def cancel(
    session: AsyncSession, services: Services, who: Who, button: CancelSetUp
) -> Outcome:
    await clear_conversation(session, who.person.id)
    return screen(Rendered(who._("Cancelled.")))


async def show_round(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: ShowRound
) -> Outcome:
    return screen(await screens.round_view(session, services, who, round_))


async def _changed(
    session: AsyncSession, services: Services, who: Who, changed: actions.Changed | actions.Refused
) -> Outcome:
    """The round's screen after it was extended or closed, with who is told of it."""
    if isinstance(changed, actions.Refused):
        return refused(refusal_text(changed, who._))
    if changed.told is None:
        return screen(await screens.round_view(session, services, who, changed.round_))
    view = await screens.told_view(session, services, who, changed.round_, changed.told)
    return screen(view, wake=True)


async def extend(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: ExtendRound
) -> Outcome:
    if button.days not in screens.EXTEND_DAYS:
        return refused(invalid_button(who._))
    changed = await actions.extend_by_days(
        session, round_.id, button.days, extension_for(services.settings),
        now=services.now(), by=who.person.id,
    )
    return await _changed(session, services, who, changed)


async def type_deadline(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: TypeDeadline
) -> Outcome:
    await save_wizard(
        session, who.person.id, RoundSetup(SetupStep.EXTEND, round_id=round_.id), now=services.now()
    )
    return screen(Rendered(who._("Type the new deadline, like 2026-12-01 17:00 (bureau time).")))


async def ask_close(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: AskClose
) -> Outcome:
    return screen(screens.ask_close(round_.id, who._))


async def close(
    session: AsyncSession, services: Services, who: Who, button: CloseRound
) -> Outcome:
    changed = await actions.close(
        session, button.round_id, closing_for(services.settings),
        now=services.now(), by=who.person.id,
    )
    return await _changed(session, services, who, changed)


async def choose_unlock(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: ChooseUnlock
) -> Outcome:
    reply = await screens.unlock_screen(session, services, who, round_)
    await save_wizard(
        session, who.person.id, RoundSetup(SetupStep.UNLOCK, round_id=round_.id), now=services.now()
    )
    return screen(reply)


async def unlock(
    session: AsyncSession, services: Services, who: Who, round_: Round, button: UnlockSchool
) -> Outcome:
    school = await session.get(School, button.school_id)
    if school is None:
        return refused(invalid_button(who._))
    await clear_conversation(session, who.person.id)
    return screen(await unlock_reply(session, services, who, round_, school))


async def retry(
    session: AsyncSession, services: Services, who: Who, button: RetryRound
) -> Outcome:
    """Staff send again, from the round's screen, every message about the round that did
    not reach its recipient (failed for good, or refused because they blocked the bot).
    The answer is the same as for a notice's "send again" (texts/delivery.py)."""
    retried = await actions.retry(session, button.round_id, now=services.now(),
                                  by=who.person.id)
    if isinstance(retried, actions.Refused):
        return refused(refusal_text(retried, who._))
    view = await screens.round_view(session, services, who, retried.round_)
    again = retried.again
    return Outcome(answer=requeued_text(who._, again), alert=bool(again.blocked), reply=view,
                   in_place=True, wake=True)


ROUND_BUTTONS: tuple[tuple[type[Any], Any, Any], ...] = (
    (RoundList, staff_button(show_list), RoundList()),
    (NewRound, staff_button(new_round), NewRound()),
    (CancelSetUp, staff_button(cancel), CancelSetUp()),
    (ShowRound, round_button(show_round), ShowRound(1)),
    (ExtendRound, round_button(extend), ExtendRound(1, 3)),
    (TypeDeadline, round_button(type_deadline), TypeDeadline(1)),
    (AskClose, round_button(ask_close), AskClose(1)),
    (CloseRound, staff_button(close), CloseRound(1)),
    (ChooseUnlock, round_button(choose_unlock), ChooseUnlock(1)),
    (UnlockSchool, round_button(unlock), UnlockSchool(1, 1)),
    (RetryRound, staff_button(retry), RetryRound(1)),
)
"""(kind, handler, example) of the buttons of the list and of a round's screen."""
