"""The scheduler's jobs in python-telegram-bot's JobQueue (APScheduler).

One periodic job, ``huibao:tick``, runs `Ticker.run` every `scheduler.tick_seconds`; it
recomputes everything due from the database, so correctness never depends on which jobs
a process has in memory. To make reminders punctual rather than up to a tick late, each
tick also adds a one-off job at the exact time of every slot and recurring opening of
the next hour, with stable ids (``round:7:before:3``, ``schedule:2:2026-11-23``) so that
re-adding replaces, and a misfire grace equal to the reminders' one. All jobs are built
from the database when this process becomes the scheduler (at start with SQLite; when it
takes the PostgreSQL advisory lock otherwise, see scheduler/leader.py).

The clock is `services.clock` (default: the real UTC time), so tests can step time
through a running bot, for the scheduler and the handlers alike.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import JobLookupError

from models.base import utcnow
from models.db import is_sqlite
from scheduler.leader import Leader
from scheduler.tick import Ticker
from scheduler.tick_base import TickResult
from transport import metrics
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger("huibao.scheduler")

TICK_ID = "huibao:tick"
EXACT_PREFIXES = ("round:", "schedule:")
EXACT_HORIZON = timedelta(hours=1)

class Scheduler:
    """This process's scheduler: the ticker, its jobs, and (PostgreSQL) the lock."""

    def __init__(self, app: HuibaoApp, services: Services) -> None:
        self.app = app
        self.services = services
        settings = services.settings
        self.ticker = Ticker(
            settings, services.sessionmaker, forms_dir=Path(settings.forms.directory)
        )
        self.tick_seconds = settings.scheduler.tick_seconds
        self.misfire_seconds = int(settings.reminders.misfire_grace_hours * 3600) or 1
        self.leader: Leader | None = None
        self.running = False
        if not is_sqlite(settings.database.url):
            self.leader = Leader(
                settings.database.url,
                lock_id=settings.scheduler.leader_lock_id,
                poll_seconds=settings.scheduler.lock_poll_seconds,
                session_timeout_seconds=settings.scheduler.lock_session_timeout_seconds,
                on_acquire=self.install,
                on_release=self.uninstall,
            )

    def now(self) -> datetime:
        return self.services.now()

    async def start(self) -> None:
        if self.leader is None:
            await self.install()
        else:
            self.leader.start()

    async def stop(self) -> None:
        if self.leader is not None:
            await self.leader.stop()
        else:
            await self.uninstall()

    # --- jobs --------------------------------------------------------------------------

    @property
    def job_queue(self) -> Any:
        queue = self.app.job_queue
        if queue is None:
            raise RuntimeError("python-telegram-bot was installed without its job queue")
        return queue

    async def install(self) -> None:
        """Become the scheduler: the periodic tick, whose first run builds the exact jobs."""
        self.running = True
        metrics.LEADER.set(1)
        self.job_queue.run_repeating(
            tick_job,
            interval=self.tick_seconds,
            first=0.5,
            name=TICK_ID,
            job_kwargs={
                "id": TICK_ID,
                "replace_existing": True,
                "misfire_grace_time": self.tick_seconds,
                "coalesce": True,
                "max_instances": 1,
            },
        )
        log.info("scheduler running", extra={"tick_seconds": self.tick_seconds})

    async def uninstall(self) -> None:
        """Stop being the scheduler: remove every job this process added."""
        self.running = False
        metrics.LEADER.set(0)
        scheduler = self.job_queue.scheduler
        for job in list(scheduler.get_jobs()):
            if job.id == TICK_ID or job.id.startswith(EXACT_PREFIXES):
                try:
                    scheduler.remove_job(job.id)
                except JobLookupError:
                    pass
        log.info("scheduler stopped in this process")

    async def tick(self) -> TickResult | None:
        if not self.running:
            return None
        now = self.now()
        result = await self.ticker.run(now)
        if result.sent_anything:
            self.services.wake_outbox()
        await self._exact_jobs(now)
        return result

    async def _exact_jobs(self, now: datetime) -> None:
        wanted = dict(await self.ticker.upcoming(now, EXACT_HORIZON))
        scheduler = self.job_queue.scheduler
        for job in list(scheduler.get_jobs()):
            if job.id.startswith(EXACT_PREFIXES) and job.id not in wanted:
                try:
                    scheduler.remove_job(job.id)
                except JobLookupError:
                    pass
        real_now = utcnow()
        for job_id, at in wanted.items():
            # Under a test clock the slot's real time may differ; the tick covers it.
            when = real_now + (at - now)
            self.job_queue.run_once(
                tick_job,
                when=when,
                name=job_id,
                job_kwargs={
                    "id": job_id,
                    "replace_existing": True,
                    "misfire_grace_time": self.misfire_seconds,
                },
            )


async def tick_job(context: HuibaoContext) -> None:
    scheduler = context.services.scheduler
    if scheduler is None:
        return
    try:
        await scheduler.tick()
    except Exception:
        # The next tick tries again; nothing was committed by the failed one.
        log.exception("scheduler tick failed")
