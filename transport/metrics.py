"""What Prometheus scrapes (prometheus-client), and the small HTTP server that answers it
and the load balancer's health check: `/metrics` and `/healthz` on `metrics.listen` and
`metrics.port` (off when the port is 0).

The counters are counted where the things happen: updates in bot/app.py's wrapper around
every handler, deliveries in the outbox's worker (scheduler/delivery.py), reminders and
summaries in the scheduler's tick, the leadership in scheduler/jobs.py. The outbox's
backlog is read from the database when Prometheus asks, so it is right in every process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("huibao.metrics")

REGISTRY = CollectorRegistry()

UPDATES = Counter("huibao_updates_handled", "Telegram updates handled", registry=REGISTRY)
UPDATE_SECONDS = Histogram(
    "huibao_update_seconds", "Time to handle one Telegram update", registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERIES = Counter("huibao_deliveries", "Outbox deliveries by outcome", ["outcome"],
                     registry=REGISTRY)
"""outcome: sent, failed, blocked, in_doubt (may have arrived twice), retried."""
RETRY_AFTER = Counter("huibao_telegram_429", "429 Too Many Requests answers from Telegram",
                      registry=REGISTRY)
WAITING = Gauge("huibao_outbox_waiting", "Deliveries waiting to be sent", registry=REGISTRY)
OLDEST_SECONDS = Gauge("huibao_outbox_oldest_waiting_seconds",
                       "Age of the oldest delivery waiting to be sent", registry=REGISTRY)
SENT_BY_SCHEDULER = Counter("huibao_scheduler_messages",
                            "Messages the scheduler queued, by kind", ["kind"],
                            registry=REGISTRY)
"""kind: reminder, escalation, summary, notice_reminder, inbox_reminder."""
LEADER = Gauge("huibao_scheduler_leader", "1 while this process runs the scheduler",
               registry=REGISTRY)

Probe = Callable[[], Awaitable[tuple[int, float]]]
"""Reads the outbox's backlog: (waiting, age of the oldest in seconds)."""
HEALTH_TIMEOUT = 5.0


def count_tick(kind: str, amount: int) -> None:
    if amount:
        SENT_BY_SCHEDULER.labels(kind).inc(amount)


class MetricsServer:
    """`/metrics` and `/healthz`, served beside the bot (polling or webhook)."""

    def __init__(self, listen: str, port: int, probe: Probe) -> None:
        self.listen, self.port, self.probe = listen, port, probe
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        log.info("metrics served", extra={"listen": self.listen, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _backlog(self) -> bool:
        try:
            waiting, oldest = await asyncio.wait_for(self.probe(), HEALTH_TIMEOUT)
        except Exception:
            log.warning("metrics: the database did not answer")
            return False
        WAITING.set(waiting)
        OLDEST_SECONDS.set(oldest)
        return True

    async def _metrics(self, _request: web.Request) -> web.Response:
        await self._backlog()
        return web.Response(body=generate_latest(REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _request: web.Request) -> web.Response:
        # Healthy: this process answers and its database does (a load balancer sends no
        # updates to a process that cannot store them).
        if await self._backlog():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="database unavailable\n")
