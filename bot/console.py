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
"""

from __future__ import annotations

import argparse
import asyncio
import html
import itertools
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from telegram import Update, User
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from bot.cli import CliError
from config.settings import Settings
from models import txguard

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from models.roster.tables import School

CONSOLE_BOT_ID = 1
CONSOLE_ID_BASE = 9_000_000_000_000
NEWCOMER_ID = CONSOLE_ID_BASE
ADMIN_ID = CONSOLE_ID_BASE + 1
STAFF_ID = CONSOLE_ID_BASE + 2
PRINCIPAL_ID_BASE = CONSOLE_ID_BASE + 1_000_000  # + school id
DEPUTY_ID_BASE = CONSOLE_ID_BASE + 2_000_000  # + school id

_TAG = re.compile(r"<[^>]+>")
DEFAULT_FILES_DIR = Path("console-files")
# A file sent without a name (a chart from bytes) still opens with a double click.
_EXTENSIONS = {
    b"\x89PNG": ".png",
    b"\xff\xd8\xff": ".jpg",
    b"PK\x03\x04": ".xlsx",
    b"%PDF": ".pdf",
}


def plain(text: str) -> str:
    """HTML as a terminal shows it: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", text))


@dataclass
class Shown:
    """A bot message as the console keeps it, to edit it and to press its buttons."""

    chat_id: int
    message_id: int
    text: str
    buttons: list[list[tuple[str, str | None]]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


class FileSaver:
    """Keeps the files the bot sends in one folder, so a person trying the bot can open them.

    A name sent twice in one run with different contents gets a number (`汇总 (2).xlsx`)
    instead of replacing the first file; the same file sent again is kept once.
    `shown_from` is the folder the printed path is relative to."""

    def __init__(self, folder: Path, *, shown_from: Path | None = None) -> None:
        self.folder = folder
        self.shown_from = shown_from
        self.saved: list[Path] = []
        self._kept: dict[tuple[str, bytes], Path] = {}

    def save(self, name: str, content: bytes) -> str:
        """Write the file; return its path as the conversation shows it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # The same file sent to several people (a summary to every staff member) is kept once.
        path = self._kept.get((name, content))
        if path is None:
            path = self.folder / _unique(self.folder, _with_extension(name, content), self.saved)
            path.write_bytes(content)
            self.saved.append(path)
            self._kept[(name, content)] = path
        return self.shown(path)

    def shown(self, path: Path) -> str:
        base = self.shown_from if self.shown_from is not None else Path.cwd()
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return str(path)


def _with_extension(name: str, content: bytes) -> str:
    name = Path(name).name or "file"
    if Path(name).suffix:
        return name
    for magic, extension in _EXTENSIONS.items():
        if content.startswith(magic):
            return name + extension
    return name


def _unique(folder: Path, name: str, taken: list[Path]) -> str:
    """`name`, or `stem (2).ext`, ... when this run already saved a file of that name."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 1
    while folder / candidate in taken:
        number += 1
        candidate = f"{stem} ({number}){suffix}"
    return candidate


class ConsoleTransport(BaseRequest):
    """Answers the Bot API in memory and reports what the bot "sent" through `output`."""

    def __init__(
        self,
        *,
        bot_username: str,
        user_chat_id: int,
        output: Callable[[str], None],
        files: FileSaver | None = None,
    ) -> None:
        self.bot_user = User(
            CONSOLE_BOT_ID, "Huibao", is_bot=True, username=bot_username
        ).to_dict()
        self.user_chat_id = user_chat_id
        self.output = output
        self.messages: dict[tuple[int, int], Shown] = {}
        self.commands: dict[str, list[str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.files: list[tuple[str, bytes]] = []
        self.by_id: dict[str, tuple[str, bytes]] = {}
        self.saver = files or FileSaver(DEFAULT_FILES_DIR)
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    # -- the Bot API ----------------------------------------------------------------------

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        txguard.check(url)  # as the real transport does (scheduler/http.py)
        name = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        files = request_data.multipart_data if request_data and request_data.contains_files else {}
        self.calls.append((name, params))
        handler = getattr(self, f"_api_{name}", None)
        if name == "getUpdates":
            # Nothing polls in the console, but never spin if something does.
            await asyncio.sleep(1)
            result: Any = []
        elif handler is None:
            result = True
        else:
            try:
                result = handler(params, files)
            except LookupError as exc:
                body = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
                return 400, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _api_getMe(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": False, "supports_inline_queries": False}

    def _new(self, params: dict[str, Any], shown_text: str, **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self.bot_user,
            **extra,
        }
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        shown = Shown(chat_id, message["message_id"], shown_text, _buttons(markup), message)
        self.messages[(chat_id, shown.message_id)] = shown
        self._print(shown, edited=False)
        return message

    def _api_sendMessage(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        text = str(params.get("text", ""))
        return self._new(params, text, text=plain(text))

    def _api_sendPhoto(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return self._file(params, files, "photo")

    def _api_sendDocument(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return self._file(params, files, "document")

    def _file(self, params: dict[str, Any], files: Any, kind: str) -> dict[str, Any]:
        file_id, sent = self._sent_file(params, files, kind)
        name, where = kind, ""
        if sent is not None:
            name = sent[0]
            where = f" → {self.saver.save(*sent)}"
        caption = str(params.get("caption") or "")
        text = f"[file] {name}{where}" + (f"\n{plain(caption)}" if caption else "")
        extra: dict[str, Any] = {"caption": plain(caption)} if caption else {}
        if kind == "photo":
            extra["photo"] = [
                {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 100, "height": 100}
            ]
        else:
            extra["document"] = {
                "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
            }
        return self._new(params, text, **extra)

    def _sent_file(
        self, params: dict[str, Any], files: Any, kind: str
    ) -> tuple[str, tuple[str, bytes] | None]:
        """The file's id and (name, content): uploaded now, or sent again by the id this
        transport gave it earlier (the outbox sends a file once, then by its file_id)."""
        for filename, content, _mime in (files or {}).values():
            self.files.append((filename or kind, content))
            file_id = f"{kind}{len(self.files)}"
            self.by_id[file_id] = self.files[-1]
            return file_id, self.files[-1]
        file_id = str(params.get(kind) or "")
        return file_id, self.by_id.get(file_id)

    def _edit(self, params: dict[str, Any], text: str | None) -> dict[str, Any] | bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        shown = self.messages.get(key)
        if shown is None:
            raise LookupError("message to edit not found")
        if text is not None:
            shown.text = text
            shown.raw["text"] = plain(text)
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        shown.buttons = _buttons(markup)
        if shown.buttons:
            shown.raw["reply_markup"] = markup
        else:
            shown.raw.pop("reply_markup", None)
        self._print(shown, edited=True)
        return shown.raw

    def _api_editMessageText(self, params: dict[str, Any], files: Any) -> Any:
        return self._edit(params, str(params.get("text", "")))

    def _api_editMessageReplyMarkup(self, params: dict[str, Any], files: Any) -> Any:
        return self._edit(params, None)

    def _api_editMessageCaption(self, params: dict[str, Any], files: Any) -> Any:
        return self._edit(params, str(params.get("caption", "")))

    def _api_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> bool:
        text = params.get("text")
        if text:
            kind = "alert" if params.get("show_alert") else "notice"
            self.output(f"bot ({kind})> {plain(str(text))}")
        return True

    def _api_setMyCommands(self, params: dict[str, Any], files: Any) -> bool:
        scope = _json_param(params, "scope", {"type": "default"})
        commands = _json_param(params, "commands", [])
        names = [f"/{c['command']}" for c in commands]
        key = json.dumps(scope, sort_keys=True)
        changed = self.commands.get(key) != names
        self.commands[key] = names
        if changed and scope.get("type") == "chat" and int(scope["chat_id"]) == self.user_chat_id:
            self.output(f"bot> [your commands: {' '.join(names)}]")
        return True

    def _api_deleteMyCommands(self, params: dict[str, Any], files: Any) -> bool:
        scope = _json_param(params, "scope", {"type": "default"})
        self.commands.pop(json.dumps(scope, sort_keys=True), None)
        return True

    def _api_getChat(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return {"id": int(params["chat_id"]), "type": "private"}

    # -- showing --------------------------------------------------------------------------

    def _print(self, shown: Shown, *, edited: bool) -> None:
        head = "bot (edited)> " if edited else "bot> "
        if shown.chat_id != self.user_chat_id:
            head = f"(to {shown.chat_id}) " + head
        lines = plain(shown.text).splitlines() or [""]
        out = [head + lines[0], *("     " + line for line in lines[1:])]
        if shown.buttons:
            number = itertools.count(1)
            for row in shown.buttons:
                out.append("     " + "  ".join(f"[{next(number)}] {label}" for label, _ in row))
        self.output("\n".join(out))

    def latest_with_buttons(self) -> Shown | None:
        for shown in reversed(list(self.messages.values())):
            if shown.chat_id == self.user_chat_id and shown.buttons:
                return shown
        return None


def _json_param(params: dict[str, Any], name: str, default: Any) -> Any:
    """A parameter that may come as JSON text (how PTB sends nested objects) or as is."""
    value = params.get(name) or default
    return json.loads(value) if isinstance(value, str) else value


def _buttons(markup: Any) -> list[list[tuple[str, str | None]]]:
    if not isinstance(markup, dict):
        return []
    return [
        [(str(b.get("text", "")), b.get("callback_data")) for b in row]
        for row in markup.get("inline_keyboard", [])
    ]


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
