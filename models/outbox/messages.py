"""What the outbox sends, as plain data: messages and their buttons (no Telegram types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "document", "photo"]


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class OutMessage:
    """One Telegram message, as plain data. `text` is the caption for documents and photos."""

    kind: Kind = "text"
    text: str = ""
    parse_mode: str | None = "HTML"
    keyboard: tuple[tuple[Button, ...], ...] = ()
    file_id: str | None = None
    file_blob_id: int | None = None
    file_name: str | None = None
    reply_to_message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.parse_mode:
            data["parse_mode"] = self.parse_mode
        if self.keyboard:
            data["keyboard"] = [
                [
                    {k: v for k, v in (("text", b.text), ("callback_data", b.callback_data),
                                        ("url", b.url)) if v is not None}
                    for b in row
                ]
                for row in self.keyboard
            ]
        for key in ("file_id", "file_blob_id", "file_name", "reply_to_message_id"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutMessage:
        keyboard = tuple(
            tuple(
                Button(b["text"], b.get("callback_data"), b.get("url")) for b in row
            )
            for row in data.get("keyboard", [])
        )
        return cls(
            kind=data.get("kind", "text"),
            text=data.get("text", ""),
            parse_mode=data.get("parse_mode"),
            keyboard=keyboard,
            file_id=data.get("file_id"),
            file_blob_id=data.get("file_blob_id"),
            file_name=data.get("file_name"),
            reply_to_message_id=data.get("reply_to_message_id"),
        )


@dataclass(frozen=True)
class Outgoing:
    """What one recipient gets for one purpose: one or more messages, sent in order."""

    chat_id: int
    person_id: int | None
    messages: tuple[OutMessage, ...]

    def payload(self) -> dict[str, Any]:
        return {"messages": [m.to_json() for m in self.messages]}
