"""What starts and stops with the bot, beside the handlers: the forms, the outbox's delivery
worker and the scheduler. Called from bot/app.py's post_init, post_stop and post_shutdown.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url

from config.settings import Settings
from models.forms import FormError, FormRegistry, load_forms
from models.outbox.reports import backlog
from scheduler.delivery import DeliveryWorker
from scheduler.jobs import Scheduler
from scheduler.journal import Journal
from transport.context import HuibaoApp, Services
from transport.metrics import MetricsServer

log = logging.getLogger("huibao.app")


def load_form_folder(services: Services) -> None:
    """Load the forms folder into services.forms.

    A folder with problems is refused as a whole, but the bot still starts: rounds
    already open keep working from their stored form versions; staff are told that
    no new round can be opened until `huibao forms check` is clean."""
    directory = services.settings.forms.directory
    try:
        forms = load_forms(directory)
    except FormError as err:
        log.error("forms not loaded", extra={"directory": directory, "problems": str(err)})
        forms = FormRegistry()
    services.forms = forms
    log.info("forms loaded", extra={"directory": directory, "forms": len(forms)})


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


async def start_delivery(app: HuibaoApp, services: Services) -> None:
    # The worker shares the application's bot (aiohttp transport and rate limiter), so
    # handlers' replies and the outbox together keep to the configured rate.
    path = journal_path(services.settings)
    worker = DeliveryWorker(app.bot, services.sessionmaker, services.settings.delivery,
                            journal=Journal.open(path) if path is not None else None)
    services.outbox = worker
    await worker.start()


async def stop_delivery(services: Services) -> None:
    # Called before the application's bot closes (post_stop), so sends in flight finish.
    worker, services.outbox = services.outbox, None
    if isinstance(worker, DeliveryWorker):
        await worker.stop()
        if worker.journal is not None:
            worker.journal.close()


async def start_scheduler(app: HuibaoApp, services: Services) -> None:
    if services.settings.scheduler.enabled:
        services.scheduler = Scheduler(app, services)
        await services.scheduler.start()
    else:
        log.info("scheduler disabled in this process (scheduler.enabled = false)")


async def stop_scheduler(services: Services) -> None:
    if isinstance(services.scheduler, Scheduler):
        await services.scheduler.stop()


async def start_metrics(services: Services) -> None:
    """/metrics and /healthz beside the bot, when metrics.port is set."""
    port = services.settings.metrics.port
    if not port:
        return

    async def probe() -> tuple[int, float]:
        async with services.sessionmaker() as session:
            return await backlog(session, services.now())

    services.metrics = MetricsServer(services.settings.metrics.listen, port, probe)
    await services.metrics.start()


async def stop_metrics(services: Services) -> None:
    if services.metrics is not None:
        await services.metrics.stop()
        services.metrics = None
