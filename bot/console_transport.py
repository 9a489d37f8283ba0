"""The console's terminal side: a Bot API answered in memory, printed as plain text.

`ConsoleTransport` is the `telegram.request.BaseRequest` that `huibao console` (bot/console.py)
and the walkthrough (bot/walkthrough.py) build the real Application on: it answers getMe,
sendMessage, edits, answerCallbackQuery, setMyCommands, sendDocument/sendPhoto, ... in
memory, prints what the bot sent (HTML tags stripped, inline buttons as numbered choices),
and saves every file it sent in a folder (`FileSaver`).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram import User
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from models import txguard

if TYPE_CHECKING:

    pass

CONSOLE_BOT_ID = 1

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

    def __init__(self, *, bot_username: str, user_chat_id: int,
                 output: Callable[[str], None], files: FileSaver | None = None) -> None:
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
