"""What every handler and job gets: typed services and a context that reaches them.

Built once in post_init (bot/app.py) and kept in `bot_data["services"]`; python-telegram-
bot's `ContextTypes` makes every callback's context a `HuibaoContext`, so handlers and
jobs reach the services, and the clock, with types instead of a dict of extras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from config.settings import Settings
from models.base import utcnow
from models.db import transaction
from models.forms import FormRegistry
from transport.metrics import MetricsServer

Clock = Callable[[], datetime]


class Outbox(Protocol):
    """This process's delivery worker, as the chat and the timers see it."""

    def wake(self) -> None:
        """Rows were committed: start sending now instead of at the next poll."""


class SchedulerHandle(Protocol):
    """This process's scheduler (scheduler/jobs.py), when it runs here."""

    async def tick(self) -> Any:
        """Do what is due now; the periodic job calls it."""


@dataclass
class Services:
    """Resources built in post_init and shared by handlers and jobs."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # One clock for handlers and timers alike, so tests can move time for both.
    clock: Clock = utcnow
    forms: FormRegistry = field(default_factory=FormRegistry)
    outbox: Outbox | None = None
    scheduler: SchedulerHandle | None = None
    # /metrics and /healthz (transport/metrics.py), when metrics.port is set.
    metrics: MetricsServer | None = None

    def transaction(self) -> Any:
        return transaction(self.sessionmaker)

    def now(self) -> datetime:
        return self.clock()

    def wake_outbox(self) -> None:
        """Tell this process's delivery worker that rows are waiting (it also polls)."""
        if self.outbox is not None:
            self.outbox.wake()


class HuibaoContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data["services"]
        return services

    def now(self) -> datetime:
        """The current time (aware UTC) from the services' clock."""
        return self.services.clock()


HuibaoApp = Application[
    ExtBot[None], HuibaoContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]
