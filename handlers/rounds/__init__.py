"""/round for bureau staff: open a collection round in chat, see how it stands, extend
it, close it early, unlock one school, send again what did not arrive.

    screens.py   the list, one round, the set-up's questions
    wizard.py    the set-up (a `conversations` row of kind "round") and typed input
    buttons.py   the buttons of the list and of a round's screen
    press.py     one way to answer a press, after the commit

The rules are in models/rounds/actions.py (the same actions as `huibao rounds`), who is
told in models/rounds/announce.py, the words in texts/rounds.py, the buttons' data in
texts/callbacks.py (section "rounds").
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import filters

from config.settings import Settings
from handlers.rounds.buttons import ROUND_BUTTONS, round_command
from handlers.rounds.wizard import SETUP_BUTTONS, on_text
from models.roster.tables import Person
from models.rounds import Round
from models.rounds import announce as round_announce
from models.rounds.announce import BatchOwner, Told
from texts.callbacks import ShowRound
from texts.rounds import announcement_for, batch_title, closing_for, extension_for
from transport.context import HuibaoApp

__all__ = ["Told", "announce_round", "on_text", "register", "tell_closing", "tell_extension"]


# The announcement and notices with the bureau's words, for callers holding the settings
# (kept under their old names: tests queue them directly).


async def announce_round(
    session: AsyncSession,
    round_: Round,
    settings: Settings,
    *,
    owner: Person | None = None,
    owner_language: str = "zh_CN",
) -> Told:
    batch = None
    if owner is not None:
        batch = BatchOwner(owner.id, owner_language, batch_title(owner_language),
                           details_callback=lambda round_id: ShowRound(round_id).pack())
    return await round_announce.announce_round(
        session, round_, announcement_for(settings), owner=batch
    )


async def tell_extension(session: AsyncSession, round_: Round, settings: Settings) -> Told:
    return await round_announce.tell_extension(session, round_, extension_for(settings))


async def tell_closing(session: AsyncSession, round_: Round, settings: Settings) -> Told:
    assert round_.closed_at is not None, "tell_closing follows close_round"
    return await round_announce.tell_closing(
        session, round_, closing_for(settings), round_.closed_at
    )


def register(app: HuibaoApp) -> None:
    from handlers import menu
    from texts.i18n import N_

    # Through the menu registry: /round is in staff's and admins' menus and /help, and
    # everyone else is refused (command and buttons) before these callbacks run.
    menu.add_command(app, "round", round_command,
                     N_("Collection rounds: open, extend, unlock, close"), menu.STAFF,
                     order=20, filters=filters.ChatType.PRIVATE)
    for kind, handler, example in (*ROUND_BUTTONS, *SETUP_BUTTONS):
        menu.add_button(app, kind, handler, menu.STAFF, example=example)
    # Last: whatever else starts with "rd:" is refused to all but staff, and stale to them
    # ("rt:..." is all RetryRound's: its decoder answers what is not of its shape).
    menu.add_stale_family(app, "rd", menu.STAFF)
