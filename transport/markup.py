"""Plain buttons (models.outbox.Button rows) as Telegram's inline keyboard."""

from __future__ import annotations

import functools
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from models.outbox import Button


def keyboard_markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(b.text, callback_data=b.callback_data)
                for b in row
            ]
            for row in rows
        ]
    )


@functools.lru_cache(maxsize=256)
def keyboard_json(rows: tuple[tuple[Button, ...], ...]) -> dict[str, Any]:
    """The same keyboard as plain JSON (what keyboard_markup's to_dict() gives), for the
    outbox's sends, which skip building and serialising telegram objects. Kept per
    keyboard (a broadcast sends one keyboard to every recipient); never to be changed."""
    return {
        "inline_keyboard": [
            [
                {"text": b.text, "url": b.url}
                if b.url
                else {"text": b.text, "callback_data": b.callback_data}
                for b in row
            ]
            for row in rows
        ]
    }
