"""Every handler group and every room, in order, and where a person's message goes.

Order matters! python-telegram-bot runs handler groups from the lowest number up; in a
group the first handler whose filters match takes the update, and a handler that raises
ApplicationHandlerStop ends it for all later groups. So the groups are named here, once,
lowest first, and so are the rooms: each room still declares its own commands, buttons
and home-screen sections through handlers/menu.py (their roles, their /help lines, the
authorization test), but only `register` below decides in which order they are added.

Messages that are not commands (plain text, and the files and photos of a notice draft)
have one handler, `on_message`: it reads what the person is doing and hands the message to
the one room waiting for it (MESSAGE_ROUTES). The order of the questions is `doing`'s:

1. answering a report (their conversation is a report): the report takes it, whatever the
   text looks like; "1234" or an ID number is an answer, never an invitation code; a
   document or a photo is the answer to a file question (handlers/report/files.py);
2. writing to the inbox (their conversation is /ask's, or staff's ✍️ answer): the inbox,
   text, a photo or a document alike;
3. staff whose notice draft waits for typed input: the draft, even during a round set-up
   (the draft's prompt is the last thing they were asked);
4. setting up a round (their conversation is a round set-up): the set-up;
5. no role yet (a newcomer, or someone Telegram never showed us): onboarding, which reads
   an invitation code or says how to join; people with a role join with a second
   invitation by its link or `/start CODE`;
6. nothing waits for it: handlers/fallback.py answers it all the same (what the person
   can do now, with buttons, and whom to ask), so that no message meets silence.

Commands no room has ("/foo") reach the last handler of the default group
(`_unknown_commands`): within a group the first match wins, so it sees only the commands
that no room's CommandHandler took, and answers them with the same help.

The report answer is the hot path (bench/report_step.py): the question is asked of the
report's own read (load_ctx: person, conversation, submission, round, school and lock in
one query) and a report answer is taken in that same transaction, so it costs no query
more than before there was a router. Only staff pay one more cheap query: whether their
notice draft waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from types import MappingProxyType

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, TypeHandler, filters

from handlers import (
    admin,
    errors,
    export,
    fallback,
    inbox,
    menu,
    notices,
    onboarding,
    phone,
    private,
    report,
    review,
    rounds,
    start,
    status,
)
from handlers.notices.input import draft_input, draft_waits_for
from handlers.report.answer import answer_step, send_answer
from handlers.report.context import KIND_REPORT, KIND_ROUND, load_ctx
from handlers.report.conversation import retrying
from handlers.report.files import on_file as report_file
from handlers.report_view import Rendered
from models.conversations import Kind, conversation_of
from models.roster.tables import Role
from transport.context import HuibaoApp, HuibaoContext

# --- the handler groups, lowest (first) to highest -----------------------------------------

GUARD_GROUP = -1000
"""private.guard: before everything, so that no room, however it registers, can answer in
a group or a channel (but /help)."""
MESSAGE_GROUP = -10
"""on_message: every message that is not a command, routed by what the person is doing.
Before the default group, so nothing added there ever sees a message a room has taken."""
DEFAULT_GROUP = 0
"""Commands and buttons, as the rooms add them through handlers/menu.py. Within the group
the first match wins, so ROOMS' order is the order of the buttons' prefixes too."""

# --- the rooms, in the order their handlers are added ----------------------------------------

ROOMS = (
    start, errors, menu, onboarding, admin, report, rounds, notices, status, export, inbox,
    phone, review,
)
"""Each has register(app) (and may have on_startup(app), run by bot/app.py's post_init).
start and errors first: /start, /help and the error handler exist before any room's; the
rounds' catch-all prefixes ("rd:", "rt") come after the report's buttons and before the
notices', as they always have."""

# --- plain text and files: what is the person doing? ---------------------------------------


class Doing(Enum):
    REPORT = "answering a report"
    ASKING = "writing to the inbox"
    NOTICE_DRAFT = "their notice draft waits for typed input"
    ROUND_SETUP = "setting up a round"
    JOINING = "no role yet: joining with an invitation code"
    NOTHING = "nothing waits for a message"
    REPORT_FILE = "sending a file to a report (a form's file question)"
    REVIEWING = "typing the comment of a district review's return"


Route = Callable[[Update, HuibaoContext, Rendered | None], Awaitable[None]]
"""A room's part of a message, after the read; the Rendered is the report's answer, taken
(and committed) in the read, for everyone else None."""


def _reads_itself(handler: Callable[[Update, HuibaoContext], Awaitable[None]]) -> Route:
    """A room that reads what it needs in a transaction of its own, after the router's."""

    async def route(update: Update, context: HuibaoContext, _answer: Rendered | None) -> None:
        await handler(update, context)

    return route


async def _asking(update: Update, context: HuibaoContext) -> None:
    """The inbox's, unless the conversation held only an offer that has now lapsed."""
    if not await inbox.on_message(update, context):
        await fallback.on_unexpected(update, context)


MESSAGE_ROUTES: Mapping[Doing, Route] = MappingProxyType(
    {
        Doing.REPORT: send_answer,
        Doing.ASKING: _reads_itself(_asking),
        Doing.NOTICE_DRAFT: _reads_itself(draft_input),
        Doing.ROUND_SETUP: _reads_itself(rounds.on_text),
        Doing.JOINING: _reads_itself(onboarding.typed_text),
        Doing.NOTHING: _reads_itself(fallback.on_unexpected),
        Doing.REPORT_FILE: _reads_itself(report_file),
        Doing.REVIEWING: _reads_itself(review.on_message),
    }
)


async def doing(
    conversation: str | None, role: Role, draft_waits: Callable[[], Awaitable[bool]]
) -> Doing:
    """What a person's plain text is for, in the order of precedence (module docstring).

    `draft_waits` is asked only of staff, so principals never pay for it."""
    if conversation == KIND_REPORT:
        return Doing.REPORT
    if conversation == Kind.ASK.value:
        return Doing.ASKING
    if conversation == Kind.REVIEW.value:
        return Doing.REVIEWING
    if role.is_staff and await draft_waits():
        return Doing.NOTICE_DRAFT
    if conversation == KIND_ROUND:
        return Doing.ROUND_SETUP
    if role is Role.NONE:
        return Doing.JOINING
    return Doing.NOTHING


async def on_message(update: Update, context: HuibaoContext) -> None:
    """Every private message that is not a command: one room takes it (the fallback's
    answer when nothing waits for it), and no later group sees it."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    if message.text is None:
        now_doing, answer = await _read_file(context, user.id), None
    else:
        now_doing, answer = await _read_text(update, context, message.text, message.message_id)
    await MESSAGE_ROUTES[now_doing](update, context, answer)
    raise ApplicationHandlerStop


async def _read_file(context: HuibaoContext, telegram_id: int) -> Doing:
    """A document or a photo: a question to the bureau, a notice draft's attachment, or
    the answer to a report's file question."""
    async with context.services.sessionmaker() as session:
        kind = await conversation_of(session, telegram_id)
        if kind is Kind.ASK:
            return Doing.ASKING
        if kind is Kind.REPORT:
            return Doing.REPORT_FILE
        waits = await draft_waits_for(session, telegram_id, context.now())
    return Doing.NOTICE_DRAFT if waits else Doing.NOTHING


async def _read_text(
    update: Update, context: HuibaoContext, text: str, message_id: int
) -> tuple[Doing, Rendered | None]:
    services = context.services
    telegram_id = update.effective_user.id if update.effective_user else 0

    async def step(session: AsyncSession) -> tuple[Doing, Rendered | None]:
        ctx = await load_ctx(session, services, update)

        async def draft_waits() -> bool:
            return await draft_waits_for(session, telegram_id, services.now())

        if ctx is None:  # someone we have never seen: a newcomer
            return await doing(None, Role.NONE, draft_waits), None
        now_doing = await doing(ctx.conv_kind, Role(ctx.role), draft_waits)
        if now_doing is Doing.REPORT:
            return now_doing, await answer_step(session, services, ctx, text, message_id)
        return now_doing, None

    return await retrying(services, step)


def _message_handler(app: HuibaoApp) -> None:
    text_or_file = filters.TEXT | filters.Document.ALL | filters.PHOTO
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & text_or_file & ~filters.COMMAND, on_message),
        group=MESSAGE_GROUP,
    )


def _unknown_commands(app: HuibaoApp) -> None:
    """Last in the default group: the commands no room took."""
    command = filters.ChatType.PRIVATE & filters.COMMAND & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(command, fallback.unknown_command), group=DEFAULT_GROUP)


def register(app: HuibaoApp, wrap: Callable[[HuibaoApp], None]) -> None:
    """Every handler of the bot, in order. `wrap` is bot/app.py's logging of each handled
    update; the guard is added after it, since it logs only what it stops itself."""
    for room in ROOMS:
        room.register(app)
    _unknown_commands(app)
    _message_handler(app)
    wrap(app)
    app.add_handler(TypeHandler(Update, private.guard), group=GUARD_GROUP)


async def on_startup(app: HuibaoApp) -> None:
    """The rooms' start-up hooks, in ROOMS' order (post_init, once the services exist)."""
    for room in ROOMS:
        hook = getattr(room, "on_startup", None)
        if hook is not None:
            await hook(app)

