"""The kinds of callback data of home and start (handlers/menu.py, handlers/start.py).

Re-exported by texts/callbacks.py, which callers import them from.
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback


@dataclass(frozen=True)
class Home(Callback, prefix="menu:home"):
    """Back to the /menu home screen."""


@dataclass(frozen=True)
class ChooseLanguage(Callback, prefix="lang"):
    code: str  # one of texts.i18n.LANGUAGES; anything else is refused by the handler
