"""What every staff screen of /schools, /people and /invite shares: a screen (text and
rows of buttons), the pager row, and how a screen is shown (the words are texts/admin.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import BadRequest

from handlers import menu
from handlers.context import Who, unit
from models.roster.tables import Role
from texts.callbacks import Callback, Home
from texts.i18n import Gettext
from transport.context import HuibaoContext

PER_PAGE = 8
MISSING_PER_PAGE = 12
SEARCH_LIMIT = 10
# A search word is cut to this many characters.
SEARCH_CHARACTERS = 60

Rows = list[list[tuple[str, str]]]


@dataclass
class Screen:
    text: str
    rows: Rows = field(default_factory=list)


def pager(page_of: Callable[[int], Callback], page: int, total: int, per_page: int) -> Rows:
    """The row of ◀ n/m ▶ under a paged list (no row when it has one page)."""
    pages = max(1, -(-total // per_page))
    row: list[tuple[str, str]] = []
    if page > 0:
        row.append(("◀", page_of(page - 1).pack()))
    if pages > 1:
        row.append((f"{page + 1}/{pages}", page_of(page).pack()))
    if page + 1 < pages:
        row.append(("▶", page_of(page + 1).pack()))
    return [row] if row else []


def home_row(_: Gettext) -> list[tuple[str, str]]:
    return [(_("« Menu"), Home().pack())]


def staff_only(who: Who, roles: frozenset[Role] = menu.STAFF) -> bool:
    """The role check again, inside the transaction that acts on it."""
    return who.role in roles


def argument(context: HuibaoContext) -> str:
    return " ".join(context.args or []).strip()


async def show(update: Update, screen: Screen) -> None:
    """In place of the pressed button's message, or as the reply to a command."""
    markup = menu.keyboard(screen.rows)
    query = update.callback_query
    if query is not None:
        await query.answer()
        try:
            await query.edit_message_text(screen.text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        return
    message = update.effective_message
    assert message is not None
    await message.reply_text(screen.text, reply_markup=markup)


async def show_or_stale(update: Update, who: Who, screen: Screen | None) -> None:
    if screen is None or not staff_only(who):
        await menu.stale(update, who)
        return
    await show(update, screen)


async def search_command(
    update: Update,
    context: HuibaoContext,
    search: Callable[[AsyncSession, Who, str], Awaitable[Screen]],
    overview: Callable[[AsyncSession, Who], Awaitable[Screen | None]],
) -> None:
    """/schools and /people: with words after the command, what matches them; without,
    the overview. Staff only, checked in the transaction that reads."""
    text = argument(context)
    async with unit(update, context) as (session, who):
        if not staff_only(who):
            screen = None
        elif text:
            screen = await search(session, who, text[:SEARCH_CHARACTERS])
        else:
            screen = await overview(session, who)
    await command_screen(update, who, screen)


async def command_screen(update: Update, who: Who, screen: Screen | None) -> None:
    """A command's screen, or (None: the role check failed) the staff refusal."""
    if screen is None:
        await menu.refuse(update, menu.refusal(who, menu.STAFF))
        return
    await show(update, screen)


async def act_and_show(
    update: Update,
    context: HuibaoContext,
    act: Callable[[AsyncSession, Who], Awaitable[Screen | None]],
) -> None:
    """One unit of work that may queue messages: commit, wake the outbox so they leave now
    rather than at its next poll, then show the screen (None: the button was stale)."""
    async with unit(update, context) as (session, who):
        screen = await act(session, who)
    context.services.wake_outbox()
    await (show(update, screen) if screen else menu.stale(update, who))
