"""The commands everyone sees; capabilities add role-specific ones through handlers/menu.py."""

from __future__ import annotations

from texts.i18n import N_

BASE_COMMANDS = [
    ("start", N_("Start or connect your school")),
    ("menu", N_("Your home screen")),
    ("help", N_("What you can do")),
    ("language", N_("Choose 中文 or English")),
]
