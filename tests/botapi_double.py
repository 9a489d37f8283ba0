"""A stand-in for the Telegram Bot API, served over real HTTP on localhost.

python-telegram-bot reaches it unmodified through ``base_url``/``base_file_url``, so tests and
benchmarks exercise the same request encoding, error mapping, polling and webhook code as in
production while Telegram itself is unreachable.

Typical use::

    async with BotApiDouble() as tg:
        app = (ApplicationBuilder().token(tg.token).base_url(tg.base_url)
               .base_file_url(tg.base_file_url).build())
        ...
        alice = tg.user(1001)
        await alice.send("/start")
        reply = await alice.wait_for("欢迎")      # only replies after the last user action
        await alice.press(reply, "确认")
        await alice.wait_for(lambda m: m.edited)

Run ``python -m tests.botapi_double --port 8081`` to serve it standalone.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import io
import json
import logging
import math
import mimetypes
import random
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from aiohttp.multipart import parse_content_disposition
from PIL import Image, UnidentifiedImageError

__all__ = [
    "ApiCallError",
    "ApiError",
    "BotApiDouble",
    "CallbackAnswer",
    "FakeGroupMember",
    "FakeUser",
    "SentMessage",
    "StoredFile",
    "html_to_entities",
]

JSONDict = dict[str, Any]
Buttons = list[list[tuple[str, str | None]]]

_log = logging.getLogger(__name__)

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
THUMBNAIL_SIDE: Final = 90

NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BLOCKED: Final = "Forbidden: bot was blocked by the user"
CALLBACK_EXPIRED: Final = "query is too old and response timeout expired or query ID is invalid"

# Methods that put or change a message in a chat; these are what fault injection and flood
# limits apply to, because those are the calls Telegram itself rate-limits.
_MESSAGE_METHODS: Final = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
    }
)
_SEND_METHODS: Final = frozenset({"sendMessage", "sendDocument", "sendPhoto"})

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# Form and multipart bodies carry every value as a string (PTB JSON-encodes non-strings, and
# leaves strings raw), so the field's meaning decides how to decode it. A text that happens to
# look like JSON must stay a string, which is why decoding is by name and not by guessing.
_JSON_FIELDS: Final = frozenset(
    {
        "reply_markup",
        "scope",
        "commands",
        "allowed_updates",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "menu_button",
        "message_ids",
        "media",
    }
)
_NUMBER_FIELDS: Final = frozenset(
    {
        "chat_id",
        "message_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
        "from_chat_id",
        "message_thread_id",
    }
)
_BOOL_FIELDS: Final = frozenset(
    {
        "show_alert",
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
    }
)


# --------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """A Telegram-shaped failure; the HTTP status is what PTB maps to its exception classes."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def _fault(status: int, retry_after: int) -> ApiError:
    if status == 429:
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
    if status == 403:
        return ApiError(403, BLOCKED)
    if status == 400:
        return _bad("injected failure")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Injected Failure"
    return ApiError(status, phrase)


@dataclass(frozen=True)
class ApiCallError:
    """One API call the double answered with an error, kept so timeouts can explain themselves."""

    method: str
    chat_id: int | None
    status: int
    description: str
    params: JSONDict = field(repr=False)


# --------------------------------------------------------------------------------------------
# Text formatting


class _EntityError(Exception):
    pass


def utf16_len(text: str) -> int:
    """Telegram measures offsets and limits in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_HTML_ENTITY_TYPES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^>]*)?)>")
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_html_entity(token: str) -> str:
    name = token[1:-1]
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    else:
        # Telegram only knows these four named entities; anything else stays literal.
        return _HTML_NAMED.get(name, token)
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return token


def _attr_value(attrs: str, wanted: str) -> str | None:
    for match in _HTML_ATTR.finditer(attrs):
        if match.group(1).lower() == wanted:
            raw = next(g for g in match.groups()[1:] if g is not None)
            return "".join(
                _decode_html_entity(part) if part.startswith("&") else part
                for part in re.split(r"(&[^;\s]+;)", raw)
            )
    return None


def html_to_entities(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram's HTML subset into (plain text, MessageEntity dicts) like the server does.

    Raises ``_EntityError`` with a Telegram-like explanation for input Telegram would reject.
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int, JSONDict | None]] = []
    entities: list[JSONDict] = []
    i = 0
    while True:
        special = _HTML_SPECIAL.search(text, i)
        end = special.start() if special else len(text)
        if end > i:
            chunk = text[i:end]
            out.append(chunk)
            pos16 += utf16_len(chunk)
        if special is None:
            break
        j = special.start()
        if text[j] == "&":
            entity = _HTML_ENTITY.match(text, j)
            literal = _decode_html_entity(entity.group(0)) if entity else "&"
            out.append(literal)
            pos16 += utf16_len(literal)
            i = entity.end() if entity else j + 1
            continue
        tag = _HTML_TAG.match(text, j)
        if tag is None:
            following = re.match(r"[^\s<>]*", text[j + 1 :])
            name = following.group(0) if following else ""
            raise _EntityError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, j)}'
            )
        closing, name, attrs = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        if closing:
            if not stack:
                raise _EntityError(f"Unexpected end tag at byte offset {_byte_offset(text, j)}")
            open_name, start16, proto = stack.pop()
            if open_name != name:
                raise _EntityError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, j)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if proto is not None and pos16 > start16:
                entities.append({**proto, "offset": start16, "length": pos16 - start16})
        else:
            kind = _HTML_ENTITY_TYPES.get(name)
            if kind is None or (
                name == "span" and (_attr_value(attrs, "class") or "") != "tg-spoiler"
            ):
                raise _EntityError(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, j)}'
                )
            proto_entity: JSONDict | None = {"type": kind}
            if name == "a":
                href = _attr_value(attrs, "href")
                proto_entity = {"type": "text_link", "url": href} if href else None
            elif name == "tg-emoji":
                emoji_id = _attr_value(attrs, "emoji-id")
                proto_entity = {"type": kind, "custom_emoji_id": emoji_id} if emoji_id else None
            elif name == "blockquote" and re.search(r"\bexpandable\b", attrs):
                proto_entity = {"type": "expandable_blockquote"}
            elif name == "code" and stack and stack[-1][0] == "pre" and stack[-1][2] is not None:
                language = (_attr_value(attrs, "class") or "").removeprefix("language-")
                if language:
                    stack[-1][2]["language"] = language
                proto_entity = None  # Telegram folds <pre><code> into a single pre entity.
            stack.append((name, pos16, proto_entity))
        i = tag.end()
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD2_ALWAYS_ESCAPED: Final = frozenset("#+-={}.!")


def _check_markdown_v2(text: str) -> str:
    """Reject the mistakes Telegram rejects most often and return an approximate plain text.

    Only the characters that are never markup outside code must be escaped; full MarkdownV2
    entity parsing is beyond what the tests need.
    """
    i = 0
    in_code = False
    in_link_url = False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "`":
            in_code = not in_code
            i += 3 if text.startswith("```", i) else 1
            continue
        if in_code:
            i += 1
            continue
        if in_link_url:
            in_link_url = char != ")"
        elif char == "(" and i > 0 and text[i - 1] == "]":
            in_link_url = True
        elif char in _MD2_ALWAYS_ESCAPED or char in "()":
            raise _EntityError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        i += 1
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    plain = re.sub(r"(?<!\\)(\|\||[*_~`])", "", plain)
    return re.sub(r"\\(.)", r"\1", plain)


def _format(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSONDict]]:
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            return html_to_entities(text)
        if mode == "markdownv2":
            return _check_markdown_v2(text), []
        if mode == "markdown":
            return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).translate(
                str.maketrans("", "", "*_`")
            ), []
    except _EntityError as exc:
        raise _bad(f"can't parse entities: {exc}") from None
    if mode:
        raise _bad(f"unsupported parse_mode {parse_mode}")
    if entities is None:
        return text, []
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise _bad("can't parse entities JSON object")
    return text, entities


# --------------------------------------------------------------------------------------------
# Stored state


@dataclass(eq=False)
class StoredFile:
    """A file Telegram would hold: reachable by ``file_id`` and downloadable via ``file_path``."""

    file_id: str
    file_unique_id: str
    kind: str  # "document" or "photo"
    content: bytes = field(repr=False)
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.content)

    def document_dict(self) -> JSONDict:
        doc: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name is not None:
            doc["file_name"] = self.file_name
        if self.mime_type is not None:
            doc["mime_type"] = self.mime_type
        return doc

    def photo_size_dict(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "width": self.width,
            "height": self.height,
        }

    def file_dict(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass(eq=False, repr=False)
class SentMessage:
    """A message the bot sent. Live: edits update it in place and earlier versions go to
    ``history``, so a reference held by a test always shows what the user sees now."""

    chat_id: int
    message_id: int
    method: str
    date: int
    timestamp: float
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    plain: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    document: JSONDict | None = None
    photo: list[JSONDict] | None = None
    reply_to_message: JSONDict | None = None
    params: JSONDict = field(default_factory=dict)
    edit_date: int | None = None
    edited_at: float | None = None
    history: list[tuple[str | None, JSONDict | None]] = field(default_factory=list)
    deleted: bool = False
    seq: int = 0
    sender: JSONDict = field(default_factory=dict)
    chat: JSONDict = field(default_factory=dict)

    @property
    def content(self) -> str | None:
        """The raw text or caption as the bot sent it (HTML source if parse_mode was HTML)."""
        return self.text if self.text is not None else self.caption

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def kind(self) -> str:
        if self.document is not None:
            return "document"
        if self.photo is not None:
            return "photo"
        return "text"

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        if self.reply_markup is None:
            return []
        rows = self.reply_markup.get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    def buttons(self) -> Buttons:
        """Inline keyboard rows as (text, callback_data or url) pairs."""
        return [
            [(str(b.get("text", "")), _button_target(b)) for b in row]
            for row in self.inline_keyboard
        ]

    def to_dict(self) -> JSONDict:
        """The Telegram Message object as the user (and a callback query) sees it now."""
        msg: JSONDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            msg["edit_date"] = self.edit_date
        if self.reply_to_message is not None:
            msg["reply_to_message"] = self.reply_to_message
        if self.document is not None:
            msg["document"] = self.document
        if self.photo is not None:
            msg["photo"] = self.photo
        if self.text is not None:
            msg["text"] = self.plain
            if self.entities:
                msg["entities"] = self.entities
        elif self.caption is not None:
            msg["caption"] = self.plain
            if self.entities:
                msg["caption_entities"] = self.entities
        if self.inline_keyboard:
            msg["reply_markup"] = self.reply_markup
        return msg

    def summary(self, width: int = 160) -> str:
        body = self.plain if self.plain is not None else (self.content or "")
        if len(body) > width:
            body = body[: width - 1] + "…"
        parts = [f"#{self.message_id}"]
        if self.kind != "text":
            name = (self.document or {}).get("file_name", "") if self.document else ""
            parts.append(f"[{self.kind}{' ' + name if name else ''}]")
        if self.edited:
            parts.append("(edited)")
        parts.append(repr(body))
        if self.inline_keyboard:
            parts.append(f"buttons={self.buttons()}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"SentMessage(chat={self.chat_id} {self.summary()})"


def _button_target(button: JSONDict) -> str | None:
    for key in ("callback_data", "url"):
        value = button.get(key)
        if isinstance(value, str):
            return value
    web_app = button.get("web_app")
    if isinstance(web_app, dict) and isinstance(web_app.get("url"), str):
        return str(web_app["url"])
    return None


@dataclass
class CallbackAnswer:
    callback_query_id: str
    update_id: int
    chat_id: int
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    timestamp: float


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


# --------------------------------------------------------------------------------------------
# The user side


class FakeUser:
    """A Telegram user talking to the bot in a private chat (chat.id == user id)."""

    def __init__(
        self,
        double: BotApiDouble,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
        last_name: str | None = None,
    ) -> None:
        self.double = double
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.language_code = language_code
        self.username = username
        self.user_dict: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            self.user_dict["last_name"] = last_name
        if username is not None:
            self.user_dict["username"] = username
        if language_code is not None:
            self.user_dict["language_code"] = language_code
        self.chat_dict: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name is not None:
            self.chat_dict["last_name"] = last_name
        if username is not None:
            self.chat_dict["username"] = username
        self.last_press: int | None = None

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def _chat(self) -> _Chat:
        return self.double._chats[self.id]

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    # -- acting ---------------------------------------------------------------------------

    def mark(self) -> int:
        """A cursor for ``wait_for(after=...)``: only bot sends/edits after this point match."""
        return len(self._chat.events)

    def _user_message(self, payload: JSONDict) -> int:
        chat = self._chat
        message = {
            "message_id": chat.allocate_id(),
            "from": self.user_dict,
            "chat": self.chat_dict,
            "date": int(time.time()),
            **payload,
        }
        chat.user_messages[message["message_id"]] = message
        chat.action_cursor = len(chat.events)
        return self.double.enqueue_update({"message": message})

    async def send(self, text: str) -> int:
        """Send a text message (commands get a bot_command entity). Returns the update_id."""
        payload: JSONDict = {"text": text}
        entities = _command_entities(text)
        if entities:
            payload["entities"] = entities
        return self._user_message(payload)

    async def send_document(
        self,
        content: bytes,
        filename: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> int:
        stored = self.double._store_file(content, "document", filename, mime_type)
        payload: JSONDict = {"document": stored.document_dict()}
        if caption is not None:
            payload["caption"] = caption
        return self._user_message(payload)

    async def send_photo(self, content: bytes, caption: str | None = None) -> int:
        sizes = self.double._store_photo(content, strict=False)
        payload: JSONDict = {"photo": [s.photo_size_dict() for s in sizes]}
        if caption is not None:
            payload["caption"] = caption
        return self._user_message(payload)

    def _resolve(self, message: SentMessage | int) -> SentMessage:
        message_id = message if isinstance(message, int) else message.message_id
        if isinstance(message, SentMessage) and message.chat_id != self.chat_id:
            raise AssertionError(f"{message!r} is not in chat {self.chat_id} of user {self.id}")
        found = self._chat.bot_messages.get(message_id)
        if found is None:
            raise AssertionError(
                f"bot message #{message_id} does not exist (or was deleted) in chat {self.id}"
            )
        return found

    async def press(self, message: SentMessage | int, button: str) -> int:
        """Press an inline button chosen by exact text, exact callback_data, or a unique
        substring of its text. Returns the update_id of the callback query."""
        msg = self._resolve(message)
        flat = [b for row in msg.inline_keyboard for b in row]
        candidates = [b for b in flat if b.get("text") == button]
        if not candidates:
            candidates = [b for b in flat if b.get("callback_data") == button]
        if not candidates:
            candidates = [b for b in flat if button in str(b.get("text", ""))]
            if len(candidates) > 1:
                raise AssertionError(
                    f"button {button!r} is ambiguous on {msg!r}; buttons: {msg.buttons()}"
                )
        if not candidates:
            raise AssertionError(
                f"no button {button!r} on bot message {msg!r}; buttons: {msg.buttons()}"
            )
        data = candidates[0].get("callback_data")
        if not isinstance(data, str):
            raise AssertionError(
                f"button {button!r} on {msg!r} has no callback_data (it is {candidates[0]}); "
                "pressing it would not reach the bot"
            )
        return self._callback(msg, data)

    async def press_data(self, message: SentMessage | int, callback_data: str) -> int:
        """Send a callback query with arbitrary data, as a forged or stale client would."""
        return self._callback(self._resolve(message), callback_data)

    def _callback(self, message: SentMessage, data: str) -> int:
        double = self.double
        double._callback_counter += 1
        query_id = str(double._callback_counter)
        chat = self._chat
        chat.action_cursor = len(chat.events)
        update_id = double.enqueue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user_dict,
                    "message": message.to_dict(),
                    "chat_instance": str(-7_000_000_000 - self.id),
                    "data": data,
                }
            }
        )
        double._open_callbacks[query_id] = (update_id, self.id)
        self.last_press = update_id
        return update_id

    def in_group(
        self, chat_id: int, title: str = "校长群", chat_type: str = "supergroup"
    ) -> FakeGroupMember:
        """This user writing in a group chat (created on first use; ids are negative)."""
        if chat_id >= 0 or chat_type not in ("group", "supergroup"):
            raise ValueError("groups have negative ids and type group or supergroup")
        chat = self.double._chats.get(chat_id)
        if chat is None:
            chat = _Chat(chat_id, {"id": chat_id, "type": chat_type, "title": title})
            self.double._chats[chat_id] = chat
        return FakeGroupMember(self, chat)

    # -- observing ------------------------------------------------------------------------

    def messages(self) -> list[SentMessage]:
        """Bot messages in this chat as they are now (edits applied, deleted ones left out)."""
        return list(self._chat.bot_messages.values())

    def last(self) -> SentMessage:
        messages = self._chat.bot_messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing (left) in chat {self.id}")
        return next(reversed(messages.values()))

    def buttons(self, message: SentMessage | None = None) -> Buttons:
        return (message or self.last()).buttons()

    async def download(self, message: SentMessage) -> bytes:
        """The bytes of a document or photo the bot sent (the largest size for photos)."""
        if message.document is not None:
            file_id = str(message.document["file_id"])
        elif message.photo:
            file_id = str(message.photo[-1]["file_id"])
        else:
            raise AssertionError(f"{message!r} carries no document or photo")
        return self.double.files[file_id].content

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool] | str,
        timeout: float = 5.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
        after: int | None = None,
    ) -> SentMessage:
        """Wait for a bot message (new or edited) in this chat that matches.

        A str matches when it occurs in the visible text/caption (``plain``) or the raw source.
        ``after=None`` means "since this user's last send/press"; pass ``user.mark()`` taken
        earlier for another starting point, or ``after=0`` to search the whole chat.
        """
        chat = self._chat
        matches: Callable[[SentMessage], bool]
        if isinstance(predicate, str):
            needle = predicate

            def contains(m: SentMessage) -> bool:
                return needle in (m.plain or "") or needle in (m.content or "")

            matches = contains
            description = f"a message containing {needle!r}"
        else:
            matches = predicate
            description = f"a message matching {getattr(predicate, '__name__', predicate)!r}"
        index = chat.action_cursor if after is None else after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = chat.changed.current
            events = chat.events
            while index < len(events):
                candidate = events[index]
                index += 1
                if not candidate.deleted and matches(candidate):
                    return candidate
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {description} from the bot in "
                    f"chat {self.id}\n{self.double._describe_chat(chat)}"
                )
            await _wait(changed, remaining)

    async def expect_silence(self, within: float = 0.3, after: int | None = None) -> None:
        """Assert that the bot sends or edits nothing in this chat for ``within`` seconds."""
        chat = self._chat
        start = chat.action_cursor if after is None else after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(chat.events) <= start and (remaining := deadline - loop.time()) > 0:
            await _wait(chat.changed.current, remaining)
        if len(chat.events) > start:
            raise AssertionError(f"expected no reply in chat {self.id}, got {chat.events[start]!r}")

    async def wait_for_answer(
        self,
        update_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
    ) -> CallbackAnswer:
        """The bot's answerCallbackQuery for a press (default: this user's last press)."""
        target = self.last_press if update_id is None else update_id
        if target is None:
            raise AssertionError(f"user {self.id} has not pressed any button")
        return await self.double.wait_for_callback_answer(target, timeout)


class FakeGroupMember(FakeUser):
    """A user writing in a group chat: a FakeUser whose messages, presses and waits are in
    the group (whose bot messages every member sees) rather than in their private chat."""

    def __init__(self, user: FakeUser, group: _Chat) -> None:
        super().__init__(
            user.double, user.id, user.first_name, user.language_code, user.username,
            user.last_name,
        )
        self.group = group
        self.chat_dict = group.info

    @property
    def chat_id(self) -> int:
        return self.group.id

    @property
    def _chat(self) -> _Chat:
        return self.group

    async def send(self, text: str) -> int:
        """As FakeUser.send, with Telegram's "mention" entities for @usernames."""
        payload: JSONDict = {"text": text}
        entities = _command_entities(text) + [
            {"type": "mention", "offset": utf16_len(text[: m.start()]),
             "length": utf16_len(m.group(0))}
            for m in re.finditer(r"@[A-Za-z0-9_]{5,32}", text)
            if not (m.start() > 0 and text[m.start() - 1] not in " \n")  # not /cmd@bot
        ]
        if entities:
            payload["entities"] = entities
        return self._user_message(payload)

    async def reply(self, message: SentMessage, text: str) -> int:
        """A text message that replies to a bot message in the group."""
        return self._user_message({"text": text, "reply_to_message": message.to_dict()})


# --------------------------------------------------------------------------------------------
# The server


_Handler = Callable[[_Params], Awaitable[Any]]


class BotApiDouble:
    """A local Bot API server for one bot. See the module docstring for a usage sketch."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "huibao_test_bot",
        bot_id: int = 123456,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_name: str = "汇报测试机器人",
        auto_create_chats: bool = False,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.host = host
        self.port = port
        # Telegram answers "chat not found" for users who never opened the bot; benchmarks that
        # broadcast to synthetic ids can opt into creating those private chats on first use.
        self.auto_create_chats = auto_create_chats
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.latency: float = 0.0

        # observation
        self.sent: list[SentMessage] = []
        self.requests: list[tuple[str, JSONDict]] = []
        self.errors: list[ApiCallError] = []
        self.internal_errors: list[str] = []
        self.commands: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.webhook_deliveries: list[int] = []
        self.injected_faults: list[tuple[str, int]] = []
        # Every sendMessage/sendDocument/sendPhoto request as it arrived, answered or not:
        # (time.monotonic(), method, HTTP status, retry_after of a 429 or 0). What Telegram
        # counts against its limits, so rate tests count these.
        self.send_log: list[tuple[float, str, int, int]] = []
        self.files: dict[str, StoredFile] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.users: dict[int, FakeUser] = {}
        self.on_message: Callable[[SentMessage], None] | None = None
        self._counts: Counter[str] = Counter()

        # chats and updates
        self._chats: dict[int, _Chat] = {}
        self._pending: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._updates_signal = _Signal()
        self._sent_signal = _Signal()
        self._answers_signal = _Signal()
        self._poll_generation = 0
        self._allowed_updates: frozenset[str] | None = None
        self._callback_counter = 4_000_000
        self._open_callbacks: dict[str, tuple[int, int]] = {}
        self._answers_by_update: dict[int, CallbackAnswer] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._photo_sizes: dict[str, list[JSONDict]] = {}
        self._file_counter = 0

        # faults
        self._blocked: set[int] = set()
        self._fail_queue: deque[tuple[int, int]] = deque()
        self._rng = random.Random()
        self._p429 = 0.0
        self._p5xx = 0.0
        self._random_retry_after = 1
        self._flood_global: _Bucket | None = None
        self._flood_chat_rate: float | None = None
        self._flood_retry_after: int | None = None
        # chat id -> (seconds, methods or None for all): answers held back (delay_chat)
        self._chat_delays: dict[int, tuple[float, frozenset[str] | None]] = {}
        self._outage_until = 0.0
        self._outage_status = 500
        self._late_answers: deque[float] = deque()

        # webhook
        self._webhook: _Webhook | None = None
        self._webhook_loop_task: asyncio.Task[None] | None = None
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_tails: dict[int, asyncio.Task[None]] = {}
        self.webhook_max_attempts = 5
        self.webhook_retry_delay = 0.05

        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._closing = False
        self._bound_port: int | None = None
        self._handlers = self._build_handlers()
        self._canonical = {name.lower(): name for name in self._handlers}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # A short shutdown timeout: long polls are released explicitly in stop(), anything
        # left is a client that went away.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        # Benchmarks open hundreds of connections at once; the default backlog of 128 overflows.
        site = web.TCPSite(runner, self.host, self.port, backlog=2048)
        await site.start()
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        self._session = ClientSession(
            connector=TCPConnector(limit=200), timeout=ClientTimeout(total=30)
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing = True
        self._updates_signal.fire()
        tasks: list[asyncio.Task[None]] = list(self._webhook_tasks)
        if self._webhook_loop_task is not None:
            tasks.append(self._webhook_loop_task)
            self._webhook_loop_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._address()}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._address()}/file/bot"

    def _address(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("BotApiDouble is not started; use `async with` or await start()")
        return f"{self.host}:{self._bound_port}"

    # -- users and updates ----------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """The user with this id (created with its private chat on first call)."""
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("private chats have positive ids")
        user = FakeUser(
            self, user_id, first_name or f"用户{user_id}", language_code, username, last_name
        )
        self.users[user_id] = user
        self._chats[user_id] = _Chat(user_id, user.chat_dict)
        return user

    def message_from_bot(self, chat_id: int, text: str) -> SentMessage:
        """A message the bot sent to this user earlier (say, before a restart), without an
        API call: tests use it to set up state the bot will edit later."""
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"no chat {chat_id}: create the user first")
        params = _Params({"chat_id": chat_id, "text": text}, {})
        return self._new_message(chat, "sendMessage", params, text=text, plain=text)

    def enqueue_update(self, payload: JSONDict) -> int:
        """Queue a raw update (e.g. ``{"my_chat_member": {...}}``); returns its update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        self._pending.append({"update_id": update_id, **payload})
        self._updates_signal.fire()
        return update_id

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    # -- fault injection ------------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        """From now on send*/edit* to this chat fail with 403, as after the user blocked the bot."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def fail_next(self, n: int, status: int = 429, retry_after: int = 1) -> None:
        """Fail the next ``n`` message sends/edits (any chat); calls queue up in order."""
        self._fail_queue.extend([(status, retry_after)] * n)

    def outage(self, seconds: float, status: int = 500) -> None:
        """For the next ``seconds``, answer every message send/edit with ``status`` (500, 502,
        ...), or with 0 drop the connection without an answer (a network error)."""
        self._outage_until = time.monotonic() + seconds
        self._outage_status = status

    def answer_late(self, n: int, seconds: float) -> None:
        """Accept the next ``n`` sends as usual (the message is in the chat) but answer each
        only after ``seconds``: a bot whose read timeout is shorter never learns it worked."""
        self._late_answers.extend([seconds] * n)

    def set_fault_rates(
        self,
        p429: float = 0.0,
        p5xx: float = 0.0,
        seed: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Fail sendMessage/sendDocument/sendPhoto at random with 429 or 500/502."""
        if p429 < 0 or p5xx < 0 or p429 + p5xx > 1:
            raise ValueError("fault probabilities must be >= 0 and sum to <= 1")
        self._p429, self._p5xx, self._random_retry_after = p429, p5xx, retry_after
        self._rng = random.Random(seed)

    def set_flood_limits(
        self,
        global_per_second: float | None = 30.0,
        per_chat_per_second: float | None = 1.0,
        retry_after: int | None = None,
    ) -> None:
        """Answer 429 like Telegram when sends/edits exceed these rates (token buckets).

        ``retry_after=None`` reports the time until the bucket refills (at least 1 s).
        Call with both rates None to switch it off.
        """
        now = time.monotonic()
        self._flood_global = (
            _Bucket(global_per_second, max(1.0, global_per_second), now)
            if global_per_second
            else None
        )
        self._flood_chat_rate = per_chat_per_second or None
        self._flood_retry_after = retry_after
        for chat in self._chats.values():
            chat.flood = None

    def delay_chat(
        self, chat_id: int, seconds: float, methods: Iterable[str] | None = None
    ) -> None:
        """Answer calls for this chat (only ``methods``, when given) ``seconds`` late, as a
        slow Telegram or a long flood wait would; the call is recorded on arrival. Call
        with 0 to stop."""
        if seconds > 0:
            self._chat_delays[chat_id] = (seconds, frozenset(methods) if methods else None)
        else:
            self._chat_delays.pop(chat_id, None)

    # -- observation ----------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        chat = self._chats.get(chat_id)
        return list(chat.bot_messages.values()) if chat else []

    def method_count(self, method: str) -> int:
        return self._counts[self._canonical.get(method.lower(), method)]

    def requests_for(self, method: str) -> list[JSONDict]:
        canonical = self._canonical.get(method.lower(), method)
        return [params for name, params in self.requests if name == canonical]

    def commands_for(
        self,
        scope: str | JSONDict | None = None,
        language_code: str = "",
        chat_id: int | None = None,
    ) -> list[tuple[str, str]] | None:
        """The last setMyCommands for a scope ("all_private_chats", a scope dict, or None for
        the default scope) and language; None if never set."""
        if isinstance(scope, str):
            scope = {"type": scope} if chat_id is None else {"type": scope, "chat_id": chat_id}
        return self.commands.get((self._scope_key(scope), language_code))

    def callback_answer(self, update_id: int) -> CallbackAnswer | None:
        return self._answers_by_update.get(update_id)

    def unanswered_callbacks(self) -> list[str]:
        """Callback query ids the bot never answered (users would see a spinner)."""
        return list(self._open_callbacks)

    async def wait_for_callback_answer(
        self,
        update_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
    ) -> CallbackAnswer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._answers_signal.current
            answer = self._answers_by_update.get(update_id)
            if answer is not None:
                return answer
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"the bot did not answer the callback query of update {update_id} "
                    f"within {timeout}s"
                )
            await _wait(signal, remaining)

    async def wait_sent(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
    ) -> None:
        """Wait until ``len(sent) >= count`` (e.g. all messages of a broadcast went out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.sent) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"only {len(self.sent)} of {count} messages sent after {timeout}s; "
                    f"last errors: {self.errors[-5:]}"
                )
            await _wait(self._sent_signal.current, remaining)

    def clear_observations(self) -> None:
        """Forget sent/requests/errors/deliveries (chat state stays), e.g. between bench phases."""
        self.sent.clear()
        self.requests.clear()
        self.errors.clear()
        self.injected_faults.clear()
        self.send_log.clear()
        self.webhook_deliveries.clear()
        self._counts.clear()

    def _describe_chat(self, chat: _Chat, limit: int = 10) -> str:
        messages = list(chat.bot_messages.values())[-limit:]
        lines = [f"last {len(messages)} bot message(s) in chat {chat.id}:"]
        lines += [f"  {m.summary()}" for m in messages] or ["  (none)"]
        recent_errors = [e for e in self.errors[-200:] if e.chat_id == chat.id][-5:]
        if recent_errors:
            lines.append("API calls for this chat that failed:")
            lines += [f"  {e.method}: {e.status} {e.description}" for e in recent_errors]
        if self.internal_errors:
            lines.append(f"double internal errors: {self.internal_errors[-3:]}")
        return "\n".join(lines)

    # -- HTTP plumbing --------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        canonical = self._canonical.get(method.lower(), method)
        arrived = time.monotonic()
        if canonical in _MESSAGE_METHODS and arrived < self._outage_until:
            if canonical in _SEND_METHODS:
                self.send_log.append((arrived, canonical, self._outage_status, 0))
            if self._outage_status == 0:
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("injected outage")
            return self._error_response(_fault(self._outage_status, 0))
        params: _Params | None = None
        try:
            params = await self._read_params(request)
            self.requests.append((canonical, params.snapshot()))
            self._counts[canonical] += 1
            _log.debug("%s %s", canonical, params.values)
            held = self._chat_delays.get(params.get("chat_id"))
            if held is not None and (held[1] is None or canonical in held[1]):
                await asyncio.sleep(held[0])
            handler = self._handlers.get(canonical)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(params)
        except ApiError as exc:
            values = params.snapshot() if params else {}
            chat_id = values.get("chat_id")
            self.errors.append(
                ApiCallError(
                    canonical,
                    chat_id if isinstance(chat_id, int) else None,
                    exc.status,
                    exc.description,
                    values,
                )
            )
            if canonical in _SEND_METHODS:
                self.send_log.append((arrived, canonical, exc.status, exc.retry_after or 0))
            return self._error_response(exc)
        except Exception as exc:  # a bug in the double must not look like a network glitch
            _log.exception("BotApiDouble failed on %s", canonical)
            self.internal_errors.append(f"{canonical}: {exc!r}")
            return self._error_response(
                ApiError(500, f"Internal Server Error: BotApiDouble bug: {exc!r}")
            )
        if canonical in _SEND_METHODS:
            self.send_log.append((arrived, canonical, 200, 0))
            if self._late_answers:
                await asyncio.sleep(self._late_answers.popleft())
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error_response(exc: ApiError) -> web.Response:
        return web.json_response(exc.body(), status=exc.status)

    async def _read_params(self, request: web.Request) -> _Params:
        values: JSONDict = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad("JSON object expected")
                values.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        name = _literal_filename(value)
                        files[key] = _Upload(name, value.file.read(), value.content_type)
                    elif isinstance(value, bytes | bytearray):
                        values[key] = bytes(value).decode()
                    else:
                        values[key] = value
        return _Params({k: _normalize(k, v) for k, v in values.items()}, files)

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return self._error_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # -- shared checks --------------------------------------------------------------------

    def _chat_for(self, params: _Params) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
            if chat is not None:
                return chat
            if self.auto_create_chats and raw > 0:
                return self.user(raw)._chat
        raise _bad("chat not found")

    def _gate(self, method: str, params: _Params) -> _Chat:
        """Fault injection, chat lookup, blocking and flood control for send/edit calls."""
        if self._fail_queue:
            status, retry_after = self._fail_queue.popleft()
            self.injected_faults.append((method, status))
            raise _fault(status, retry_after)
        if method in _SEND_METHODS and (self._p429 or self._p5xx):
            roll = self._rng.random()
            if roll < self._p429:
                self.injected_faults.append((method, 429))
                raise _fault(429, self._random_retry_after)
            if roll < self._p429 + self._p5xx:
                status = self._rng.choice((500, 502))
                self.injected_faults.append((method, status))
                raise _fault(status, 0)
        chat = self._chat_for(params)
        if chat.id in self._blocked:
            raise ApiError(403, BLOCKED)
        if self._flood_global is not None or self._flood_chat_rate is not None:
            self._flood_check(chat)
        return chat

    def _flood_check(self, chat: _Chat) -> None:
        now = time.monotonic()
        wait = 0.0
        if self._flood_chat_rate is not None:
            if chat.flood is None:
                chat.flood = _Bucket(self._flood_chat_rate, max(1.0, self._flood_chat_rate), now)
            wait = chat.flood.take(now)
        if not wait and self._flood_global is not None:
            wait = self._flood_global.take(now)
        if wait:
            retry_after = self._flood_retry_after or max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _markup(self, params: _Params, *, inline_only: bool = False) -> JSONDict | None:
        if not params.has("reply_markup"):
            return None
        error = "can't parse reply keyboard markup JSON object"
        markup = params.json("reply_markup", error)
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad(error)
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif inline_only:
            raise _bad("inline keyboard expected")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "keyboard" must be an Array')
        elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
            raise _bad(error)
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad("can't parse inline keyboard button: Text must be a String")
                actions = [key for key in _BUTTON_ACTIONS if key in button]
                if not actions:
                    raise _bad("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if "callback_data" in actions and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in actions and (
                    not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
                ):
                    raise _bad("BUTTON_URL_INVALID")

    def _reply_to(self, chat: _Chat, params: _Params) -> JSONDict | None:
        reply = params.json("reply_parameters", "can't parse reply parameters JSON object")
        target: int | None
        allow_missing = params.flag("allow_sending_without_reply")
        if isinstance(reply, dict):
            raw_target = reply.get("message_id")
            target = int(raw_target) if raw_target is not None else None
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        else:
            target = params.integer("reply_to_message_id")
        if target is None:
            return None
        bot_message = chat.bot_messages.get(target)
        if bot_message is not None:
            return bot_message.to_dict()
        user_message = chat.user_messages.get(target)
        if user_message is not None:
            return user_message
        if allow_missing:
            return None
        raise _bad("message to be replied not found")

    def _formatted(
        self, params: _Params, name: str, limit: int, too_long: str
    ) -> tuple[str | None, str | None, list[JSONDict]]:
        raw = params.text(name)
        if raw is None:
            return None, None, []
        parse_mode = params.text("parse_mode")
        entities_field = "entities" if name == "text" else "caption_entities"
        plain, entities = _format(raw, parse_mode, params.get(entities_field))
        if utf16_len(plain) > limit:
            raise _bad(too_long)
        return raw, plain, entities

    def _new_message(self, chat: _Chat, method: str, params: _Params, **fields: Any) -> SentMessage:
        message = SentMessage(
            chat_id=chat.id,
            message_id=chat.allocate_id(),
            method=method,
            date=int(time.time()),
            timestamp=time.monotonic(),
            parse_mode=params.text("parse_mode"),
            params=params.snapshot(),
            sender=self.bot_user,
            chat=chat.info,
            **fields,
        )
        chat.bot_messages[message.message_id] = message
        self.sent.append(message)
        self._changed(chat, message)
        self._sent_signal.fire()
        return message

    def _changed(self, chat: _Chat, message: SentMessage) -> None:
        chat.events.append(message)
        message.seq = len(chat.events)
        chat.changed.fire()
        if self.on_message is not None:
            self.on_message(message)

    def _editable(self, chat: _Chat, params: _Params) -> SentMessage:
        if params.has("inline_message_id") and not params.has("message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        message_id = params.integer("message_id")
        message = chat.bot_messages.get(message_id) if message_id is not None else None
        if message is None:
            if message_id in chat.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return message

    def _apply_edit(
        self,
        chat: _Chat,
        message: SentMessage,
        *,
        raw: str | None,
        plain: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        is_caption: bool,
    ) -> JSONDict:
        if (plain, entities, markup) == (message.plain, message.entities, message.reply_markup):
            raise _bad(NOT_MODIFIED)
        message.history.append((message.content, message.reply_markup))
        if is_caption:
            message.caption = raw
        else:
            message.text = raw
        message.plain, message.entities, message.reply_markup = plain, entities, markup
        message.edit_date = int(time.time())
        message.edited_at = time.monotonic()
        self._changed(chat, message)
        return message.to_dict()

    # -- files ----------------------------------------------------------------------------

    def _store_file(
        self,
        content: bytes,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        prefix = "BQACAgUAAxkBAAI" if kind == "document" else "AgACAgUAAxkBAAI"
        suffix = Path(file_name).suffix if file_name else ".jpg"
        folder = "documents" if kind == "document" else "photos"
        stored = StoredFile(
            file_id=f"{prefix}{n:07d}",
            file_unique_id=f"AgAD{n:07d}",
            kind=kind,
            content=content,
            file_path=f"{folder}/file_{n}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, content: bytes, *, strict: bool) -> list[StoredFile]:
        """Telegram keeps several sizes of a photo, smallest first; keep a thumbnail and the
        original so code that wrongly uses ``photo[0]`` gets the thumbnail, as in production."""
        size = _image_size(content)
        if size is None:
            if strict:
                raise _bad("IMAGE_PROCESS_FAILED")
            single = [self._store_file(content, "photo", width=1, height=1)]
            self._remember_sizes(single)
            return single
        width, height = size
        sizes: list[StoredFile] = []
        if max(width, height) > THUMBNAIL_SIDE:
            thumb = _thumbnail(content)
            thumb_size = _image_size(thumb) if thumb else None
            if thumb is not None and thumb_size is not None:
                sizes.append(self._store_file(thumb, "photo", None, None, *thumb_size))
        sizes.append(self._store_file(content, "photo", None, None, width, height))
        self._remember_sizes(sizes)
        return sizes

    def _remember_sizes(self, sizes: list[StoredFile]) -> None:
        # Re-sending any size of a photo by file_id yields the whole set again, as on Telegram.
        family = [s.photo_size_dict() for s in sizes]
        for size in sizes:
            self._photo_sizes[size.file_id] = family

    def _input_file(self, params: _Params, name: str) -> _Upload | StoredFile:
        if name in params.files:
            return params.files[name]
        value = params.text(name)
        if not value:
            raise _bad(f"there is no {name} in the request")
        if value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(f"file {value} not found in the request")
            return upload
        stored = self.files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != name:
            raise _bad(f"can't use file of type {stored.kind.capitalize()} as {name.capitalize()}")
        return stored

    # -- Bot API methods ------------------------------------------------------------------

    def _build_handlers(self) -> dict[str, _Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendChatAction": self._send_chat_action,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getChat": self._get_chat,
            "close": self._true,
            "logOut": self._true,
            "setMyDescription": self._bot_text_setter("description"),
            "getMyDescription": self._bot_text_getter("description"),
            "setMyShortDescription": self._bot_text_setter("short_description"),
            "getMyShortDescription": self._bot_text_getter("short_description"),
            "setMyName": self._bot_text_setter("name"),
            "getMyName": self._bot_text_getter("name"),
        }

    async def _true(self, params: _Params) -> bool:
        return True

    async def _get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _is_allowed(self, update: JSONDict) -> bool:
        return self._allowed_updates is None or _update_type(update) in self._allowed_updates

    def _set_allowed_updates(self, params: _Params) -> None:
        if not params.has("allowed_updates"):
            return
        allowed = params.json("allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None and not isinstance(allowed, list):
            raise _bad("allowed_updates must be an Array")
        self._allowed_updates = frozenset(str(a) for a in allowed) if allowed else None

    async def _get_updates(self, params: _Params) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset", 0) or 0
        limit = min(100, max(1, params.integer("limit", 100) or 100))
        timeout = max(0.0, params.number("timeout", 0.0))
        self._set_allowed_updates(params)
        pending = self._pending
        if offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
        elif offset < 0:
            while len(pending) > -offset:
                pending.popleft()
        # A newer getUpdates ends an older waiting one, which is how Telegram reports two
        # bot instances polling at once.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._updates_signal.current
            batch: list[JSONDict] = []
            for update in pending:
                if self._is_allowed(update):
                    batch.append(update)
                    if len(batch) >= limit:
                        break
            if batch or self._closing:
                return batch
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            if self._webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await _wait(signal, remaining)

    async def _send_message(self, params: _Params) -> JSONDict:
        chat = self._gate("sendMessage", params)
        raw, plain, entities = self._formatted(
            params, "text", MAX_TEXT_LENGTH, "message is too long"
        )
        if raw is None or plain is None or not plain.strip():
            raise _bad("message text is empty")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        message = self._new_message(
            chat,
            "sendMessage",
            params,
            text=raw,
            plain=plain,
            entities=entities,
            reply_markup=markup,
            reply_to_message=reply_to,
        )
        return message.to_dict()

    async def _edit_message_text(self, params: _Params) -> JSONDict:
        chat = self._gate("editMessageText", params)
        message = self._editable(chat, params)
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        raw, plain, entities = self._formatted(params, "text", MAX_TEXT_LENGTH, "MESSAGE_TOO_LONG")
        if raw is None or plain is None or not plain.strip():
            raise _bad("message text is empty")
        markup = self._markup(params, inline_only=True)
        if markup is None and message.reply_markup and not message.inline_keyboard:
            markup = message.reply_markup  # a reply keyboard belongs to the chat, not the text
        return self._apply_edit(
            chat,
            message,
            raw=raw,
            plain=plain,
            entities=entities,
            markup=markup,
            is_caption=False,
        )

    async def _edit_message_caption(self, params: _Params) -> JSONDict:
        chat = self._gate("editMessageCaption", params)
        message = self._editable(chat, params)
        if message.kind == "text":
            raise _bad("there is no caption in the message to edit")
        raw, plain, entities = self._formatted(
            params, "caption", MAX_CAPTION_LENGTH, "message caption is too long"
        )
        return self._apply_edit(
            chat,
            message,
            raw=raw,
            plain=plain,
            entities=entities,
            markup=self._markup(params, inline_only=True),
            is_caption=True,
        )

    async def _edit_message_reply_markup(self, params: _Params) -> JSONDict:
        chat = self._gate("editMessageReplyMarkup", params)
        message = self._editable(chat, params)
        return self._apply_edit(
            chat,
            message,
            raw=message.content,
            plain=message.plain,
            entities=message.entities,
            markup=self._markup(params, inline_only=True),
            is_caption=message.text is None,
        )

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        opened = self._open_callbacks.pop(query_id, None)
        if opened is None:
            raise _bad(CALLBACK_EXPIRED)
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            self._open_callbacks[query_id] = opened
            raise _bad("MESSAGE_TOO_LONG")
        update_id, chat_id = opened
        answer = CallbackAnswer(
            callback_query_id=query_id,
            update_id=update_id,
            chat_id=chat_id,
            text=text,
            show_alert=params.flag("show_alert"),
            url=params.text("url"),
            cache_time=params.integer("cache_time", 0) or 0,
            timestamp=time.monotonic(),
        )
        self.callback_answers[query_id] = answer
        self._answers_by_update[update_id] = answer
        self._answers_signal.fire()
        return True

    def _delete(self, chat: _Chat, message_id: int) -> bool:
        message = chat.bot_messages.pop(message_id, None)
        if message is not None:
            message.deleted = True
            return True
        return chat.user_messages.pop(message_id, None) is not None

    async def _delete_message(self, params: _Params) -> bool:
        chat = self._chat_for(params)
        message_id = params.integer("message_id")
        if message_id is None or not self._delete(chat, message_id):
            raise _bad("message to delete not found")
        return True

    async def _delete_messages(self, params: _Params) -> bool:
        chat = self._chat_for(params)
        ids = params.json("message_ids", "can't parse message identifiers JSON object")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message identifiers are invalid")
        for message_id in ids:
            self._delete(chat, int(message_id))
        return True

    async def _send_document(self, params: _Params) -> JSONDict:
        chat = self._gate("sendDocument", params)
        source = self._input_file(params, "document")
        if isinstance(source, _Upload):
            if not source.content:
                raise _bad("file must be non-empty")
            if len(source.content) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            name = source.filename or "document"
            mime = mimetypes.guess_type(name)[0] or source.content_type
            stored = self._store_file(source.content, "document", name, mime)
        else:
            stored = source
        return self._send_media(chat, "sendDocument", params, document=stored.document_dict())

    async def _send_photo(self, params: _Params) -> JSONDict:
        chat = self._gate("sendPhoto", params)
        source = self._input_file(params, "photo")
        if isinstance(source, _Upload):
            if not source.content:
                raise _bad("file must be non-empty")
            sizes = self._store_photo(source.content, strict=True)
            photo = [s.photo_size_dict() for s in sizes]
        else:
            photo = self._photo_sizes[source.file_id]
        return self._send_media(chat, "sendPhoto", params, photo=photo)

    def _send_media(self, chat: _Chat, method: str, params: _Params, **media: Any) -> JSONDict:
        raw, plain, entities = self._formatted(
            params, "caption", MAX_CAPTION_LENGTH, "message caption is too long"
        )
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        message = self._new_message(
            chat,
            method,
            params,
            caption=raw,
            plain=plain,
            entities=entities,
            reply_markup=markup,
            reply_to_message=reply_to,
            **media,
        )
        return message.to_dict()

    async def _get_file(self, params: _Params) -> JSONDict:
        stored = self.files.get(params.text("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return stored.file_dict()

    @staticmethod
    def _scope_key(scope: Any) -> str:
        scope = dict(scope) if isinstance(scope, dict) else {"type": "default"}
        chat_id = scope.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            scope["chat_id"] = int(chat_id)
        return json.dumps(scope, sort_keys=True, separators=(",", ":"))

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.json("scope", "can't parse BotCommandScope JSON object")
        if scope is not None:
            if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
                raise _bad("can't parse BotCommandScope JSON object")
            if scope["type"].startswith("chat") and "chat_id" not in scope:
                raise _bad("chat_id is empty")
        language = params.text("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("LANG_CODE_INVALID")
        return self._scope_key(scope), language

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        parsed: list[tuple[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((name, description))
        key = self._commands_key(params)
        if parsed:
            self.commands[key] = parsed
        else:
            self.commands.pop(key, None)
        return True

    async def _delete_my_commands(self, params: _Params) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSONDict]:
        commands = self.commands.get(self._commands_key(params), [])
        return [{"command": c, "description": d} for c, d in commands]

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = params.integer("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(params)
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._webhook = _Webhook(url, secret, max_connections, asyncio.Semaphore(max_connections))
        self._updates_signal.fire()  # wakes a waiting getUpdates so it reports the conflict
        if self._webhook_loop_task is None or self._webhook_loop_task.done():
            self._webhook_loop_task = asyncio.create_task(self._webhook_loop())
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        self._webhook = None
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._updates_signal.fire()
        return True

    async def _get_webhook_info(self, params: _Params) -> JSONDict:
        hook = self._webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending) + len(self._webhook_tasks),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _send_chat_action(self, params: _Params) -> bool:
        chat = self._chat_for(params)
        if chat.id in self._blocked:
            raise ApiError(403, BLOCKED)
        if params.text("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _set_chat_menu_button(self, params: _Params) -> bool:
        chat_id: int | None = None
        if params.has("chat_id"):
            chat_id = self._chat_for(params).id
        button = params.json("menu_button", "can't parse menu button JSON object")
        if button is None:
            button = {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: _Params) -> JSONDict:
        chat_id = self._chat_for(params).id if params.has("chat_id") else None
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "commands"}))

    async def _get_chat(self, params: _Params) -> JSONDict:
        chat = self._chat_for(params)
        return {
            **chat.info,
            "accent_color_id": chat.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    def _bot_text_setter(self, name: str) -> _Handler:
        limit = {"name": 64, "description": 512, "short_description": 120}[name]

        async def handler(params: _Params) -> bool:
            value = params.text(name) or ""
            if len(value) > limit:
                raise _bad(f"{name.upper()}_INVALID")
            key = (name, params.text("language_code") or "")
            if value:
                self.bot_texts[key] = value
            else:
                self.bot_texts.pop(key, None)
            return True

        return handler

    def _bot_text_getter(self, name: str) -> _Handler:
        async def handler(params: _Params) -> JSONDict:
            language = params.text("language_code") or ""
            value = self.bot_texts.get((name, language), self.bot_texts.get((name, ""), ""))
            if name == "name" and not value:
                value = str(self.bot_user["first_name"])
            return {name: value}

        return handler

    # -- webhook delivery -----------------------------------------------------------------

    async def _webhook_loop(self) -> None:
        while not self._closing and self._webhook is not None:
            signal = self._updates_signal.current
            while self._pending and self._webhook is not None:
                update = self._pending.popleft()
                if self._is_allowed(update):
                    self._spawn_delivery(update)
            await signal.wait()

    def _spawn_delivery(self, update: JSONDict) -> None:
        # Updates of one chat are delivered in order, different chats concurrently (up to
        # max_connections), as Telegram does.
        chat_key = _update_chat_id(update)
        previous = self._webhook_tails.get(chat_key)
        task = asyncio.create_task(self._deliver(update, previous))
        self._webhook_tails[chat_key] = task
        self._webhook_tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._webhook_tasks.discard(finished)
            if self._webhook_tails.get(chat_key) is finished:
                del self._webhook_tails[chat_key]

        task.add_done_callback(done)

    async def _deliver(self, update: JSONDict, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        hook = self._webhook
        if hook is None:
            self._requeue(update)
            return
        delay = self.webhook_retry_delay
        async with hook.slots:
            for attempt in range(1, self.webhook_max_attempts + 1):
                if self._webhook is not hook:
                    self._requeue(update)
                    return
                status = await self._post_update(hook, update)
                self.webhook_deliveries.append(status)
                if 200 <= status < 300:
                    return
                hook.last_error_date = int(time.time())
                hook.last_error_message = (
                    f"Wrong response from the webhook: {status}" if status else "Connection refused"
                )
                if attempt < self.webhook_max_attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
        _log.warning(
            "dropping update %s after %d failed webhook deliveries",
            update["update_id"],
            self.webhook_max_attempts,
        )

    async def _post_update(self, hook: _Webhook, update: JSONDict) -> int:
        if self._session is None:
            return 0
        headers = {"Content-Type": "application/json"}
        if hook.secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                hook.url, data=json.dumps(update), headers=headers
            ) as response:
                await response.read()
                return response.status
        except (ClientError, TimeoutError, OSError):
            return 0

    def _requeue(self, update: JSONDict) -> None:
        ids = [u["update_id"] for u in self._pending]
        self._pending.insert(bisect.bisect(ids, update["update_id"]), update)
        self._updates_signal.fire()


# --------------------------------------------------------------------------------------------
# Standalone mode

_REPL_HELP = """\
commands:
  <user_id> <text>                      send text (e.g. "1001 /start hello") as that user
  press <user_id> <message_id> <button> press an inline button (text or callback_data)
  doc <user_id> <path>                  send a local file as a document
  block <user_id> | unblock <user_id>   make sends to that chat fail with 403
  quit"""


def _print_message(message: SentMessage) -> None:
    verb = "edited" if message.edited else "sent"
    print(f"[bot {verb} → {message.chat_id}] {message.summary(width=400)}", flush=True)


async def _repl(double: BotApiDouble) -> bool:
    """Read console commands; return True if asked to quit, False once stdin is closed."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return False
        line = line.strip()
        if line == "quit":
            return True
        if not line:
            continue
        try:
            await _repl_command(double, line)
        except (AssertionError, ValueError, OSError, KeyError) as exc:
            print(f"! {exc}", flush=True)


async def _repl_command(double: BotApiDouble, line: str) -> None:
    head, _, rest = line.partition(" ")
    if head == "press":
        user_id, message_id, button = rest.split(" ", 2)
        await double.user(int(user_id)).press(int(message_id), button)
    elif head == "doc":
        user_id, path = rest.split(" ", 1)
        file = Path(path)
        content = await asyncio.get_running_loop().run_in_executor(None, file.read_bytes)
        await double.user(int(user_id)).send_document(content, file.name)
    elif head in ("block", "unblock"):
        (double.block if head == "block" else double.unblock)(int(rest))
    elif head.isdigit():
        await double.user(int(head)).send(rest)
    else:
        print(_REPL_HELP, flush=True)


async def _serve(args: argparse.Namespace) -> None:
    double = BotApiDouble(
        token=args.token,
        bot_username=args.username,
        host=args.host,
        port=args.port,
        auto_create_chats=True,
    )
    double.on_message = _print_message
    async with double:
        print(f"base_url      {double.base_url}", flush=True)
        print(f"base_file_url {double.base_file_url}", flush=True)
        print(f"token         {double.token}", flush=True)
        print(_REPL_HELP, flush=True)
        if not await _repl(double):
            await asyncio.Event().wait()  # no console (stdin closed): serve until interrupted


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Telegram Bot API double.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--username", default="huibao_test_bot")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every API call")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
