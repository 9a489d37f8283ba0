"""What the Bot API double holds to: Telegram's limits, error texts, the decoding of
request fields, and the errors it answers with."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

JSONDict = dict[str, Any]
Buttons = list[list[tuple[str, str | None]]]

_log = logging.getLogger("tests.double")

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
