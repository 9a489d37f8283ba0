"""The server's own bookkeeping: uploads, signals, flood buckets, chats, webhook, parameters."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.multipart import parse_content_disposition
from PIL import Image, UnidentifiedImageError

from tests.double.formatting import utf16_len
from tests.double.protocol import (
    _BOOL_FIELDS,
    _JSON_FIELDS,
    _NUMBER_FIELDS,
    THUMBNAIL_SIDE,
    JSONDict,
    _bad,
)
from tests.double.records import SentMessage


def _literal_filename(field: web.FileField) -> str | None:
    """The part's filename="..." exactly as sent, as Telegram keeps it: no percent-
    decoding (a client that sends %E7%BC%96... gets a document named that) and no
    RFC 5987 filename*=, which Telegram does not read (aiohttp's own `filename`
    prefers and decodes it)."""
    header = field.headers.get("Content-Disposition", "")
    _kind, params = parse_content_disposition(header)
    return params.get("filename")


@dataclass
class _Upload:
    filename: str | None
    content: bytes
    content_type: str | None


class _Signal:
    """Wakes every waiter on each ``fire``.

    Waiters take ``current`` *before* checking state, so a change that lands between the check
    and the wait still wakes them; a fresh Event per fire avoids clear()/set() races.
    """

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current = asyncio.Event()

    def fire(self) -> None:
        event, self.current = self.current, asyncio.Event()
        event.set()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


@dataclass
class _Bucket:
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Consume one token; return 0 on success or the seconds until one is available."""
        capacity = max(1.0, self.rate)
        self.tokens = min(capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class _Chat:
    __slots__ = (
        "action_cursor",
        "bot_messages",
        "changed",
        "events",
        "flood",
        "id",
        "info",
        "next_message_id",
        "user_messages",
    )

    def __init__(self, chat_id: int, info: JSONDict) -> None:
        self.id = chat_id
        self.info = info
        self.next_message_id = 1
        # Insertion order equals message_id order, so values() is the chat as the user sees it.
        self.bot_messages: dict[int, SentMessage] = {}
        self.user_messages: dict[int, JSONDict] = {}
        # One entry per bot-side change (send or edit); its length is the chat's cursor.
        self.events: list[SentMessage] = []
        self.changed = _Signal()
        self.action_cursor = 0
        self.flood: _Bucket | None = None

    def allocate_id(self) -> int:
        # Telegram numbers bot and user messages of a private chat from one counter.
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    slots: asyncio.Semaphore
    last_error_date: int | None = None
    last_error_message: str | None = None


class _Params:
    """Request parameters with typed access that tolerates both JSON and form encodings."""

    __slots__ = ("files", "values")

    def __init__(self, values: JSONDict, files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return name in self.values or name in self.files

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return int(value)
        try:
            return int(float(str(value)))
        except ValueError:
            raise _bad(f"invalid {name} specified") from None

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, error: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(error) from None
        return value

    def snapshot(self) -> JSONDict:
        if not self.files:
            return self.values
        snap = dict(self.values)
        for name, upload in self.files.items():
            snap[name] = {"filename": upload.filename, "size": len(upload.content)}
        return snap


def _normalize(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value  # the handler reports the field-specific Telegram error
    if name in _NUMBER_FIELDS:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value  # e.g. "@channelname" as chat_id
    if name in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


def _command_entities(text: str) -> list[JSONDict]:
    match = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?(?=\s|$)", text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


def _update_chat_id(update: JSONDict) -> int:
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return 0


def _update_type(update: JSONDict) -> str:
    return next((key for key in update if key != "update_id"), "")


def _image_size(content: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
            return int(width), int(height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _thumbnail(content: bytes) -> bytes | None:
    try:
        with Image.open(io.BytesIO(content)) as image:
            small = image.convert("RGB")
            small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG")
            return buffer.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return None


_Handler = Callable[[_Params], Awaitable[Any]]
