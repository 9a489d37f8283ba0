"""`huibao console`: talk to the bot in a terminal, without Telegram, a token or a network.

The very same Application as `huibao run` is built, but its requests go to
`ConsoleTransport`, a `telegram.request.BaseRequest` that answers Bot API calls in memory
(getMe, sendMessage, edits, answerCallbackQuery, setMyCommands, sendDocument/sendPhoto,
...). What you type becomes an update processed by the Application; what the bot sends is
printed: HTML tags stripped, inline buttons as numbered choices `[1] Confirm  [2] Cancel`.
Typing a number presses that button of the latest message with buttons; to send a number
as text while buttons are shown, start it with a backslash (`\\35`).

`--as` picks who you are, in the configured database: `newcomer` (no role; the default),
`admin`, `staff`, `principal:CODE` or `deputy:CODE` (bound to that school). The console's
people have fixed fake Telegram ids far above real ones and are named "Console ...".
Messages the bot sends to other people (e.g. a replaced principal) are printed as
`(to <chat id>) ...`; they go nowhere else. Every file the bot sends (workbooks, charts,
QR codes, invitation sheets) is saved in a folder (`--files`, default `./console-files/`)
and its line in the conversation says where: `bot> [file] 汇总.xlsx → console-files/...`.

The terminal side (the in-memory Bot API, files saved) is bot/console_transport.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from telegram import Update, User

from bot.cli import CliError
from bot.console_transport import DEFAULT_FILES_DIR, ConsoleTransport, FileSaver, Shown
from config.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from models.roster.tables import School

CONSOLE_ID_BASE = 9_000_000_000_000
NEWCOMER_ID = CONSOLE_ID_BASE
ADMIN_ID = CONSOLE_ID_BASE + 1
STAFF_ID = CONSOLE_ID_BASE + 2
PRINCIPAL_ID_BASE = CONSOLE_ID_BASE + 1_000_000  # + school id
DEPUTY_ID_BASE = CONSOLE_ID_BASE + 2_000_000  # + school id


class Console:
    """One fake user talking to the real Application through a ConsoleTransport."""

    def __init__(
        self,
        settings: Settings,
        *,
        user_id: int,
        first_name: str,
        language_code: str,
        output: Callable[[str], None],
        files: FileSaver | None = None,
    ) -> None:
        from bot.app import build_application

        self.user = User(
            user_id, first_name, is_bot=False, language_code=language_code
        ).to_dict()
        self.chat = {"id": user_id, "type": "private", "first_name": first_name}
        self.output = output
        username = settings.telegram.bot_username or "huibao_demo_bot"
        self.transport = ConsoleTransport(
            bot_username=username, user_chat_id=user_id, output=output, files=files
        )
        # No token is needed: nothing leaves the process. A syntactically valid fake keeps
        # PTB's checks happy.
        telegram = settings.telegram.model_copy(update={"token": "1:console"})
        self.settings = settings.model_copy(update={"telegram": telegram})
        self.app = build_application(
            self.settings,
            request=self.transport,
            get_updates_request=self.transport,
            rate_limiter=False,
        )
        self._update_ids = itertools.count(1)
        self._last_message_id = 0

    async def start(self) -> None:
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await self.app.start()

    async def stop(self) -> None:
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)

    def next_message_id(self) -> int:
        """An id greater than any this chat had, in this run or an earlier one.

        Telegram numbers a chat's messages upwards for ever, and the report conversation
        relies on it (an answer whose id is not above the last one stored is a redelivery,
        not a new answer). The console has no memory between runs, so it takes the current
        time in milliseconds: a later run starts above everything an earlier run sent."""
        self._last_message_id = max(self._last_message_id + 1, time.time_ns() // 1_000_000)
        return self._last_message_id

    async def send(self, text: str) -> None:
        message: dict[str, Any] = {
            "message_id": self.next_message_id(),
            "date": int(time.time()),
            "chat": self.chat,
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        await self._process({"update_id": next(self._update_ids), "message": message})

    async def press(self, number: int) -> bool:
        """Press button `number` (1-based) of the latest message with buttons."""
        shown = self.transport.latest_with_buttons()
        flat = [b for row in shown.buttons for b in row] if shown else []
        if shown is None or not 1 <= number <= len(flat) or flat[number - 1][1] is None:
            return False
        await self.press_data(shown, str(flat[number - 1][1]))
        return True

    async def press_data(self, shown: Shown, data: str) -> None:
        query = {
            "id": str(next(self._update_ids)),
            "from": self.user,
            "message": shown.raw,
            "chat_instance": "console",
            "data": data,
        }
        await self._process({"update_id": next(self._update_ids), "callback_query": query})

    async def type(self, line: str) -> None:
        """What a person types: a button number, `\\text` (literal text) or a message."""
        line = line.rstrip("\n")
        if not line.strip():
            return
        if line.strip().isdigit() and await self.press(int(line.strip())):
            return
        await self.send(line[1:] if line.startswith("\\") else line)

    async def _process(self, data: dict[str, Any]) -> None:
        update = Update.de_json(data, self.app.bot)
        await self.app.process_update(update)


# --- who you are -------------------------------------------------------------------------


@dataclass
class Identity:
    user_id: int
    first_name: str
    description: str


_NEWCOMER = Identity(
    NEWCOMER_ID, "Console newcomer", "a newcomer with no role (type an invitation code)"
)
_IDENTITIES = {
    "admin": Identity(ADMIN_ID, "Console admin", "an administrator"),
    "staff": Identity(STAFF_ID, "Console staff", "bureau staff"),
}


async def prepare_identity(settings: Settings, spec: str) -> Identity:
    """Create or re-bind the console's fake person for `--as`, in the configured database."""
    from models.db import create_engine, create_sessionmaker, transaction

    kind, _, code = spec.partition(":")
    kind = kind.strip().lower()
    engine = create_engine(settings.database.url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            school = await _school_of(session, spec, kind, code)
            identity = await _identity(session, kind, school)
            await _bind(session, identity, kind, school, spec)
        return identity
    finally:
        await engine.dispose()


async def _school_of(session: AsyncSession, spec: str, kind: str, code: str) -> School | None:
    """The school a principal or deputy is bound to; None for the other kinds."""
    from models.roster.roster_file import school_by_code

    if kind in ("principal", "deputy"):
        if not code:
            raise CliError(f"say which school: --as {kind}:SCHOOLCODE")
        school = await school_by_code(session, code)
        if school is None:
            raise CliError(f"no school with code {code!r} (load the demo with `huibao demo-data`)")
        return school
    if code or kind not in ("newcomer", "admin", "staff"):
        raise CliError(f"--as {spec!r}: use newcomer, admin, staff, principal:CODE or deputy:CODE")
    return None


async def _identity(session: AsyncSession, kind: str, school: School | None) -> Identity:
    from models.roster.people import principal_of

    if school is None:
        return _IDENTITIES.get(kind, _NEWCOMER)
    if kind == "deputy":
        return Identity(
            DEPUTY_ID_BASE + school.id,
            "Console deputy",
            f"a deputy of {school.code} {school.name}",
        )
    identity = Identity(
        PRINCIPAL_ID_BASE + school.id,
        "Console principal",
        f"the principal of {school.code} {school.name}",
    )
    current = await principal_of(session, school.id)
    if current is not None and current.telegram_id != identity.user_id:
        raise CliError(
            f"{school.code} {school.name} already has a principal "
            f"({current.name or current.telegram_id}); the console will not "
            "replace a real one: pick another school or --as deputy:CODE"
        )
    return identity


async def _bind(
    session: AsyncSession, identity: Identity, kind: str, school: School | None, spec: str
) -> None:
    """The console's person, made once, with the role `--as` asks for."""
    from models.roster.people import get_person, set_role
    from models.roster.tables import Person, Role

    person = await get_person(session, identity.user_id)
    if person is None:
        person = Person(telegram_id=identity.user_id, name=identity.first_name)
        session.add(person)
        await session.flush()
    role = {
        "principal": Role.PRINCIPAL,
        "deputy": Role.DEPUTY,
        "admin": Role.ADMIN,
        "staff": Role.STAFF,
    }.get(kind, Role.NONE)
    await set_role(
        session,
        person,
        role,
        school_id=school.id if school else None,
        reason=f"huibao console --as {spec}",
    )


# --- the command -------------------------------------------------------------------------


async def run_console(
    settings: Settings,
    spec: str,
    language: str,
    stdin: TextIO,
    stdout: TextIO,
    files_dir: Path = DEFAULT_FILES_DIR,
) -> int:
    from models.migrate import upgrade_async

    def output(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    await upgrade_async(settings.database.url)
    identity = await prepare_identity(settings, spec)
    language_code = {"zh_CN": "zh-hans", "en": "en"}.get(language, language)
    console = Console(
        settings,
        user_id=identity.user_id,
        first_name=identity.first_name,
        language_code=language_code,
        output=output,
        files=FileSaver(files_dir),
    )
    await console.start()
    interactive = stdin.isatty()
    output(
        f"Huibao console: you are {identity.description}. Type /start, /menu or /help; "
        "a number presses a button; Ctrl-D quits."
    )
    try:
        while True:
            if interactive:
                stdout.write("you> ")
                stdout.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive and line.strip():
                output(f"you> {line.rstrip()}")
            await console.type(line)
    finally:
        await console.stop()
    return 0


def console_command(settings: Settings, args: argparse.Namespace) -> int:
    import logging

    # The bot's own log lines would drown the conversation; problems still show.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    language = args.language or settings.bureau.default_language
    return asyncio.run(
        run_console(settings, args.as_, language, sys.stdin, sys.stdout, args.files)
    )


def add_commands(sub: Any) -> None:
    console = sub.add_parser(
        "console",
        help="try the bot in this terminal: no Telegram, token or network needed",
    )
    console.add_argument(
        "--as",
        dest="as_",
        default="newcomer",
        metavar="WHO",
        help="newcomer (default), admin, staff, principal:SCHOOLCODE or deputy:SCHOOLCODE",
    )
    console.add_argument(
        "--language", choices=["zh_CN", "en"], help="your Telegram language (default: bureau's)"
    )
    console.add_argument(
        "--files",
        type=Path,
        default=DEFAULT_FILES_DIR,
        metavar="DIR",
        help="where to save the files the bot sends (default ./console-files/)",
    )
    console.set_defaults(func=console_command)
