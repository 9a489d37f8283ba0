"""Starts and stops the outbox's delivery worker with the bot (scheduler/delivery.py).

Capabilities that enqueue deliveries wake it with `outbox_worker(services).wake()` after
their transaction commits, so sending starts at once instead of at the next poll.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from config.settings import Settings
from handlers.context import HuibaoApp, Services
from models.outbox import Requeued
from scheduler.delivery import DeliveryWorker, outbox_bot
from scheduler.journal import Journal
from texts.i18n import Gettext

WORKER_KEY = "outbox"


def outbox_worker(services: Services) -> DeliveryWorker | None:
    worker = services.extra.get(WORKER_KEY)
    return worker if isinstance(worker, DeliveryWorker) else None


def wake(services: Services) -> None:
    worker = outbox_worker(services)
    if worker is not None:
        worker.wake()


def requeued_text(_: Gettext, again: Requeued) -> str:
    """What staff are told after "send again" (a notice's or a round's screen)."""
    if not again.total:
        return _("Nothing to send again: everyone was reached or is still in the queue.")
    if again.blocked:
        return _(
            "Sending again to {count}. {blocked} of them had blocked the bot: they get it "
            "only if they have unblocked it since."
        ).format(count=again.total, blocked=again.blocked)
    return _("Sending again to {count}.").format(count=again.total)


def journal_path(settings: Settings) -> Path | None:
    configured = settings.delivery.journal_path
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    url = make_url(settings.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".outbox-journal")
    return Path("huibao-outbox.journal")


def register(app: HuibaoApp) -> None:
    """No handlers: the worker only sends."""


async def on_startup(app: HuibaoApp) -> None:
    services: Services = app.bot_data["services"]
    bot: ExtBot[None] = app.bot
    if isinstance(app.bot.request, HTTPXRequest):
        # Talking to Telegram: the worker gets its own faster HTTP client (scheduler/http.py).
        # An application built with another transport (the console's) keeps that one.
        bot = outbox_bot(
            services.settings.telegram, rate_limiter=app.bot.rate_limiter, defaults=app.bot.defaults
        )
        await bot.initialize()
    path = journal_path(services.settings)
    journal = Journal.open(path) if path is not None else None
    worker = DeliveryWorker(
        bot, services.sessionmaker, services.settings.delivery, journal=journal
    )
    services.extra[WORKER_KEY] = worker
    await worker.start()


async def on_stop(app: HuibaoApp) -> None:
    # Called before the application's bot closes (post_stop), so sends in flight finish.
    services: Services | None = app.bot_data.get("services")
    worker = outbox_worker(services) if services is not None else None
    if worker is not None:
        await worker.stop()
        if worker.bot is not app.bot:
            await worker.bot.shutdown()
        if worker.journal is not None:
            worker.journal.close()
        services.extra.pop(WORKER_KEY, None)  # type: ignore[union-attr]


async def on_shutdown(app: HuibaoApp) -> None:
    # Only does anything when the Application was stopped without post_stop (tests).
    await on_stop(app)
