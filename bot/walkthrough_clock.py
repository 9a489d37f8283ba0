"""The walkthrough's fixed clock and seeded invitation codes, so every walk is the same.

While a walk runs, every module of the project reads the time from `Clock` (moved on by
STEP per line typed) and draws codes from a seeded generator: running it again writes the
same transcripts (bot/walkthrough.py).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

# How far the clock moves per line typed.
STEP = timedelta(seconds=30)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += STEP


_OURS = ("models", "texts", "outputs", "handlers", "scheduler", "transport", "config", "bot")


@contextlib.contextmanager
def frozen(clock: Clock) -> Iterator[None]:
    """Every `utcnow` of ours (module attributes and column defaults) reads `clock`.

    The core takes `now` from its callers, but the CLI, the outbox's worker and the
    tables' defaults read `models.base.utcnow`; one clock for all keeps the walk's times
    and its order of deliveries the same on every run."""
    # Everything the bot imports is loaded before the swap, so nothing keeps the walk's
    # clock once it is over (transport.context's Services takes utcnow as a default).
    import bot.app  # noqa: F401
    import models.all  # noqa: F401  (every table, for the column defaults)
    from models import base

    real = base.utcnow
    patched = _swap_modules(real, clock)
    defaults = _swap_defaults(base.Base.metadata, real, clock)
    try:
        yield
    finally:
        for module in patched:
            module.utcnow = real
        for default, arg in defaults:
            default.arg = arg
        _swap_modules(clock, real)


def _swap_modules(old: Any, new: Any) -> list[Any]:
    swapped: list[Any] = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in _OURS and getattr(module, "utcnow", None) is old:
            setattr(module, "utcnow", new)  # noqa: B010  (a module attribute mypy cannot see)
            swapped.append(module)
    return swapped


def _swap_defaults(metadata: Any, real: Any, clock: Clock) -> list[tuple[Any, Any]]:
    swapped = []
    for table in metadata.tables.values():
        for column in table.columns:
            for default in (column.default, column.onupdate):
                arg = getattr(default, "arg", None)
                if callable(arg) and getattr(arg, "__wrapped__", None) is real:
                    swapped.append((default, arg))
                    default.arg = lambda _context: clock()
    return swapped


class _SeededSecrets:
    """`secrets` for one module of ours, whose `choice` draws from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def choice(self, sequence: str) -> str:
        return self._random.choice(sequence)

    def __getattr__(self, name: str) -> Any:
        return getattr(secrets, name)


@contextlib.contextmanager
def fixed_codes(seed: int) -> Iterator[None]:
    """Invitation codes and receipt numbers from seeded generators, so the transcripts
    keep the same ones on every run."""
    from models.roster import invites
    from models.rounds import revisions

    modules: list[Any] = [invites, revisions]
    for number, module in enumerate(modules):
        module.secrets = _SeededSecrets(seed + number)
    try:
        yield
    finally:
        for module in modules:
            module.secrets = secrets
