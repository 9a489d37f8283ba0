"""/menu, per-role command lists, and the guard on every role-restricted command and button.

This module is the extension point other capabilities plug into; they call it from their
own `register(app)` and never need to edit it:

    from handlers import menu

    def register(app: HuibaoApp) -> None:
        # A command: a CommandHandler whose callback runs only for these roles (others get
        # a polite refusal), listed in their Telegram command menu in their language.
        menu.add_command(app, "round", open_round, N_("Open a collection round"), menu.STAFF)
        # Buttons: one kind of button (texts/callbacks.py) per call; other roles are
        # refused before your callback runs, and data not of the kind's exact shape gets
        # the one answer for stale buttons. `example` is a plausible button; the
        # authorization test presses it as every unauthorized role
        # (tests/onboarding/test_authorization.py).
        menu.add_button(app, CloseRound, on_close, menu.STAFF, example=CloseRound(1))
        # Then, if your kinds share a family ("rd:..."), the stale answer for the rest of it.
        menu.add_stale_family(app, "rd", menu.STAFF)
        # A block of the /menu home screen, for the roles that should see it.
        menu.add_section(menu.Section("report.pending", menu.SCHOOL, render_pending, order=10))

    async def render_pending(session, who, services) -> menu.Block | None:
        # The open session of this update, the person (re-read, with their gettext `who._`)
        # and the Services. Return lines (HTML, escape user text) and rows of
        # (label, callback_data) buttons, or None to show nothing.
        return menu.Block([who._("2 reports are waiting")],
                          [[(who._("Fill in"), OpenReport(round_id).pack())]])

Roles: menu.EVERYONE, SCHOOL (principal, deputy), DISTRICT, STAFF (staff, admin), ADMIN,
CONNECTED (any role but none); any frozenset of models.roster.tables.Role works. add_command
takes `filters=` and `order=` (its place in the list). Callback data is only ever built
by a kind's `pack()` and read by `add_button`'s decoder (tests/unit/test_callback_literals.py
checks that no module writes it by hand). No handler needs a private-chat filter:
handlers/private.py stops every update from a group or channel (but /help) before any
handler group runs.
When a person's role changes outside this module, call `await menu.refresh_commands(bot,
telegram_id, role, language)`.

Section orders used so far: 0 who you are (onboarding), 10 pending reports
("report.pending", handlers/report.py), 20 open rounds with their reporting rate
("status.rounds", handlers/status.py), 50 schools and people (admin), 60 notices. The
guard re-reads the role from the database on every update (principle 6); the callback
must still check *which* school or object the person may touch, because a role says
nothing about that.

Command lists are set per chat with BotCommandScopeChat: when a role changes
(`refresh_commands`), when the language changes, and on /start and /menu, so a deploy that
adds commands reaches people the next time they open the menu.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler
from telegram.ext.filters import BaseFilter

from handlers.context import Who, unit
from models.roster.people import get_person
from models.roster.tables import District, Role, School
from texts.callbacks import SEPARATOR, Callback, Home, Stale, kind_of
from texts.commands import BASE_COMMANDS
from texts.i18n import gettext_for, language_of
from texts.labels import role_label
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger("huibao.menu")

EVERYONE = frozenset(Role)
SCHOOL = frozenset({Role.PRINCIPAL, Role.DEPUTY})
STAFF = frozenset({Role.STAFF, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
DISTRICT = frozenset({Role.DISTRICT_OFFICER})
CONNECTED = EVERYONE - {Role.NONE}

HOME = Home().pack()

Handler = Callable[[Update, HuibaoContext], Coroutine[Any, Any, Any]]
K = TypeVar("K", bound=Callback)
# A button's handler gets the decoded button (texts/callbacks.py) as its third argument.
ButtonHandler = Callable[[Update, HuibaoContext, K], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str  # an N_() message id, translated per chat
    roles: frozenset[Role]
    order: int = 100


@dataclass(frozen=True)
class CallbackSpec:
    """What the authorization test presses: `example`, and garbage after `prefix`."""

    prefix: str
    roles: frozenset[Role]
    example: str


@dataclass
class Block:
    """What one section adds to the home screen: text lines and rows of buttons."""

    lines: list[str] = field(default_factory=list)
    # Rows of (label, callback_data); labels are already translated.
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)


Render = Callable[[AsyncSession, Who, Services], Awaitable[Block | None]]


@dataclass(frozen=True)
class Section:
    key: str
    roles: frozenset[Role]
    render: Render
    order: int = 100


# Keyed by name, so building the Application twice (tests) registers nothing twice.
COMMANDS: dict[str, CommandSpec] = {}
CALLBACKS: dict[str, CallbackSpec] = {}
SECTIONS: dict[str, Section] = {}


def add_command(
    app: HuibaoApp,
    name: str,
    callback: Handler,
    description: str,
    roles: frozenset[Role],
    *,
    order: int = 100,
    filters: BaseFilter | None = None,
) -> None:
    COMMANDS[name] = CommandSpec(name, description, frozenset(roles), order)
    app.add_handler(CommandHandler(name, guarded(callback, roles), filters=filters))


def add_button(
    app: HuibaoApp,
    kind: type[K],
    callback: ButtonHandler[K],
    roles: frozenset[Role],
    *,
    example: K,
) -> None:
    """Register the handler of one kind of button (texts/callbacks.py).

    The presser's role is checked first; then the data is decoded, and data that does not
    have the kind's exact shape gets the one answer for stale buttons; the handler gets the
    decoded button."""
    # Listed with the separator, so that whatever the authorization test puts after the
    # prefix reaches this kind's decoder.
    prefix = kind.PREFIX + SEPARATOR
    CALLBACKS[prefix] = CallbackSpec(prefix, frozenset(roles), example.pack())
    handler = guarded(_decoded(kind, callback), roles)
    app.add_handler(CallbackQueryHandler(handler, pattern=kind.matches))


def add_stale_family(app: HuibaoApp, family: str, roles: frozenset[Role]) -> None:
    """Answer every other `family:` data with the stale answer (call it after the family's
    kinds are registered): a room whose buttons share a family prefix keeps answering
    data under it that no kind of it takes, as its one prefix handler used to. Listed in
    CALLBACKS, so that the authorization test presses the family's leftovers too."""
    prefix = family + SEPARATOR
    example = prefix + "?"
    if kind_of(example) is not None:
        raise ValueError(f"the example {example!r} of family {family!r} is a kind's data")
    CALLBACKS[prefix] = CallbackSpec(prefix, frozenset(roles), example)

    async def stale_button(update: Update, context: HuibaoContext) -> None:
        async with unit(update, context) as (_session, who):
            pass
        await stale(update, who)

    handler = guarded(stale_button, roles)
    app.add_handler(CallbackQueryHandler(handler, pattern=_prefix_pattern(prefix)))


def _decoded(kind: type[K], callback: ButtonHandler[K]) -> Handler:
    async def decode(update: Update, context: HuibaoContext) -> Any:
        data = update.callback_query.data if update.callback_query else None
        try:
            button = kind.unpack(data)
        except Stale:
            async with unit(update, context) as (_session, who):
                pass
            await stale(update, who)
            return None
        return await callback(update, context, button)

    decode.__qualname__ = callback.__qualname__
    decode.__module__ = callback.__module__
    return decode


def add_section(section: Section) -> None:
    SECTIONS[section.key] = section


def _prefix_pattern(prefix: str) -> Callable[[object], bool]:
    def matches(data: object) -> bool:
        return isinstance(data, str) and data.startswith(prefix)

    return matches


# --- the guard ---------------------------------------------------------------------------


def refusal(who: Who, roles: frozenset[Role]) -> str:
    _ = who._
    if who.role is Role.NONE:
        return _(
            "You are not connected yet. Open the invitation link the bureau sent you, "
            "or type your invitation code here."
        )
    if roles <= ADMIN:
        return _("Sorry, only administrators can do this.")
    if roles <= STAFF:
        return _("Sorry, this is only for bureau staff.")
    if roles <= SCHOOL:
        return _("Sorry, this is only for principals and their deputies.")
    return _("Sorry, this is not available to you.")


async def refuse(update: Update, text: str) -> None:
    """Answer a button with an alert, a message with a reply; never raise."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except TelegramError:
        log.warning("could not send a refusal", extra={"update_id": update.update_id})


def guarded(callback: Handler, roles: frozenset[Role]) -> Handler:
    """Run `callback` only for people whose role, read from the database now, is in roles."""
    if roles == EVERYONE:
        return callback

    async def guard(update: Update, context: HuibaoContext) -> Any:
        async with unit(update, context) as (_session, who):
            allowed = who.role in roles
            text = "" if allowed else refusal(who, roles)
        if not allowed:
            log.info(
                "refused",
                extra={"handler": callback.__qualname__, "role": who.role.value,
                       "user_id": who.person.telegram_id},
            )
            await refuse(update, text)
            return None
        return await callback(update, context)

    guard.__qualname__ = callback.__qualname__
    guard.__module__ = callback.__module__
    guard.__wrapped__ = callback  # type: ignore[attr-defined]
    return guard


async def stale(update: Update, who: Who) -> None:
    """The answer to a button whose data is malformed, forged or out of date."""
    await refuse(update, who._("This button is no longer valid. Send /menu to start again."))


# --- command lists -----------------------------------------------------------------------


def commands_for(role: Role) -> list[tuple[str, str]]:
    """(command, description id) for a role: everyone's commands first, then the role's."""

    specs = sorted(
        (c for c in COMMANDS.values() if role in c.roles and c.roles != EVERYONE),
        key=lambda c: (c.order, c.name),
    )
    return [*BASE_COMMANDS, *((c.name, c.description) for c in specs)]


async def refresh_commands(bot: Any, telegram_id: int, role: Role, language: str) -> None:
    """Set one person's command menu for their role, in their language (best effort)."""
    _ = gettext_for(language)
    scope = BotCommandScopeChat(telegram_id)
    try:
        if role is Role.NONE:
            # Fall back to the bot-wide default list everyone has.
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(
                [BotCommand(name, _(text)) for name, text in commands_for(role)], scope=scope
            )
    except TelegramError as exc:
        # A person who never opened the chat (demo data, blocked bot) has no chat scope.
        log.info("could not set commands", extra={"user_id": telegram_id, "error": str(exc)})


async def refresh_for(context: HuibaoContext, who: Who) -> None:
    await refresh_commands(context.bot, who.person.telegram_id, who.role, who.language)


# --- /menu -------------------------------------------------------------------------------


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def home(session: AsyncSession, who: Who, services: Services) -> tuple[str, Block]:
    """The home screen for this person: every section their role may see, in order."""
    _ = who._
    name = escape(who.person.name or "")
    lines = [_("<b>Home</b> · {name}").format(name=name)]
    buttons: list[list[tuple[str, str]]] = []
    for section in sorted(SECTIONS.values(), key=lambda s: (s.order, s.key)):
        if who.role not in section.roles:
            continue
        block = await section.render(session, who, services)
        if block is None:
            continue
        if block.lines:
            lines.append("\n".join(block.lines))
        buttons.extend(block.buttons)
    return "\n\n".join(lines), Block([], buttons)


async def menu_command(update: Update, context: HuibaoContext) -> None:
    assert update.effective_message is not None
    async with unit(update, context) as (session, who):
        text, block = await home(session, who, context.services)
    await update.effective_message.reply_text(text, reply_markup=keyboard(block.buttons))
    await refresh_for(context, who)


async def menu_button(update: Update, context: HuibaoContext, _button: Home) -> None:
    query = update.callback_query
    assert query is not None
    async with unit(update, context) as (session, who):
        text, block = await home(session, who, context.services)
    await query.answer()
    await query.edit_message_text(text, reply_markup=keyboard(block.buttons))


async def render_identity(session: AsyncSession, who: Who, services: Services) -> Block:
    """Section 0: who the bot thinks you are, so nobody acts under a wrong binding."""
    _ = who._
    person = who.person
    role = role_label(person.role, _)
    if who.role is Role.NONE:
        return Block(
            [
                _(
                    "You are not connected to a school yet. Open the invitation link the "
                    "bureau sent you, or type your invitation code here."
                )
            ]
        )
    if who.role.is_school_contact and person.school_id is not None:
        school = await session.get(School, person.school_id)
        district = await session.get(District, school.district_id) if school else None
        if school is not None and district is not None:
            return Block(
                [
                    _("You are the {role} of <b>{school}</b>, {district}.").format(
                        role=role, school=escape(school.name), district=escape(district.name)
                    )
                ]
            )
    if who.role is Role.DISTRICT_OFFICER and person.district_id is not None:
        district = await session.get(District, person.district_id)
        if district is not None:
            return Block(
                [
                    _("You are the {role} of {district}.").format(
                        role=role, district=escape(district.name)
                    )
                ]
            )
    bureau = escape(services.settings.bureau.name_in(who.language))
    if who.role is Role.STAFF:
        # Not "bureau staff of the bureau": the bureau is named already.
        return Block([_("You are a staff member of {bureau}.").format(bureau=bureau)])
    if who.role is Role.ADMIN:
        return Block([_("You are an administrator of {bureau}.").format(bureau=bureau)])
    return Block([_("You are the {role} of {bureau}.").format(role=role, bureau=bureau)])


def register(app: HuibaoApp) -> None:
    app.add_handler(CommandHandler("menu", menu_command))
    # Everyone may go home; data that is not exactly menu:home gets the stale answer.
    add_button(app, Home, menu_button, EVERYONE, example=Home())
    add_section(Section("onboarding.identity", EVERYONE, render_identity, order=0))


async def on_startup(app: HuibaoApp) -> None:
    # bureau.admins were just made admins in post_init; give them the admin commands.
    services: Services = app.bot_data["services"]
    async with services.transaction() as session:
        admins = [await get_person(session, tid) for tid in services.settings.bureau.admins]
    for person in admins:
        if person is not None:
            language = language_of(person, services.settings.bureau.default_language)
            await refresh_commands(app.bot, person.telegram_id, Role(person.role), language)

