"""What the double keeps of what the bot did: files, sent messages, callback answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.double.protocol import Buttons, JSONDict


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
