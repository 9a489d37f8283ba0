"""What the delivery worker records of each send: sent, retried, paused, failed or blocked.

`DeliveryWorker` (scheduler/delivery.py) claims and sends; this part of it turns each
answer from Telegram into the row's new state, written through the group writer
(scheduler/delivery_writer.py), and keeps count of how many sends in a row found
Telegram unreachable, which pauses every send (an outage).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from config.settings import DeliverySettings
from models import outbox
from models.base import utcnow
from models.outbox import Delivery
from scheduler.delivery_send import Noted, Outcome, store_file_id
from scheduler.delivery_writer import GroupWriter, Op, Sending
from scheduler.journal import Entry, Journal
from transport import metrics

log = logging.getLogger("huibao.delivery")

# Sends in a row that find Telegram unreachable (network errors, 5xx) before the worker
# pauses as a whole and probes with one send at a time.
OUTAGE_AFTER = 3


@dataclass
class Held:
    """A delivery this worker has claimed, with the lease token it holds it by."""

    row: Delivery
    token: str
    lease_until: datetime
    given_back: bool = False


@dataclass
class WorkerStats:
    """What this worker has done since it started, for logs, the bench and the tests."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0
    retry_after: int = 0
    resent_in_doubt: int = 0
    # Sends that timed out or lost their connection after the request went out.
    in_doubt: int = 0
    outage_pauses: int = 0
    # The writer: transactions, writes merged into them, time spent in them.
    commits: int = 0
    committed_ops: int = 0
    commit_seconds: float = 0.0


class OutcomeRecording:
    """The part of DeliveryWorker that records outcomes (its state is set in its __init__)."""

    settings: DeliverySettings
    stats: WorkerStats
    journal: Journal | None
    writer: GroupWriter
    _unreachable: int
    _outage: int
    _pause_until: float

    # -- writing ----------------------------------------------------------------------------

    async def _write(self, op: Op | Sending | outbox.SentItem) -> Any:
        return await self.writer.write(op)

    async def _record(self, op: Op | outbox.SentItem, what: str, delivery_id: int) -> Any:
        return await self.writer.record(op, what, delivery_id, self.settings.lease_seconds)

    async def _record_file_id(self, blob_id: int, file_id: str) -> Any:
        return await self._record(
            lambda s: store_file_id(s, blob_id, file_id), "file_id", blob_id
        )


    # -- outcomes -------------------------------------------------------------------------

    async def _record_sent_earlier(self, held: Held) -> None:
        """Every part went out before (a resumed row): only the record is missing."""
        row, part = held.row, held.row.parts_sent
        await self._record(
            lambda s: outbox.mark_sent(
                s, row.id, held.token, parts_sent=part,
                message_id=row.telegram_message_id or 0, now=utcnow(),
            ),
            "sent",
            row.id,
        )

    async def _sent_part(
        self, held: Held, done: int, message_id: int, final: bool, noted: Noted
    ) -> bool:
        """Record a part Telegram has; False when the row was taken over meanwhile."""
        row, token = held.row, held.token
        if self.journal is not None and not noted.written:
            # Telegram has it: say so before anything else can go wrong (journal.py).
            # (Usually already done by the HTTP client the moment the answer arrived.)
            self.journal.record(Entry(row.id, token, done, message_id, final))
        if final:
            ok = await self._record(
                outbox.SentItem(row.id, token, done, message_id), "sent", row.id
            )
            self.stats.sent += 1
            metrics.DELIVERIES.labels("sent").inc()
        else:
            ok = await self._record(
                functools.partial(
                    outbox.mark_part_sent, delivery_id=row.id, token=token,
                    parts_sent=done, message_id=message_id,
                ),
                "part",
                row.id,
            )
        if self.journal is not None and ok is not None:
            self.journal.committed()
        if ok is False:
            log.warning("delivery taken over while sending", extra={"delivery_id": row.id})
            return False
        return True

    def _reachable(self) -> None:
        if self._outage:
            log.warning("Telegram reachable again: sending resumes")
        self._unreachable = 0
        self._outage = 0

    def _unreachable_send(self) -> None:
        """A send found Telegram unreachable; after a few in a row, pause everything."""
        self._unreachable += 1
        if self._unreachable < OUTAGE_AFTER or time.monotonic() < self._pause_until:
            return  # not yet an outage, or already paused (sends that were in flight)
        self._outage += 1
        self.stats.outage_pauses += 1
        pause = min(
            self.settings.backoff_max_seconds,
            self.settings.backoff_seconds * 2 ** (self._outage - 1),
        )
        self._pause_until = max(self._pause_until, time.monotonic() + pause)
        log.warning(
            "Telegram unreachable: all sends pause, then one tries",
            extra={"seconds": round(pause, 2), "failures_in_a_row": self._unreachable},
        )

    def _gives_up(self, row: Delivery, now: datetime) -> str | None:
        """Why a row that failed again is not retried any more (None: it is)."""
        since = row.failing_since or now
        if (now - since).total_seconds() >= self.settings.retry_for:
            return f"gave up after retrying for {self.settings.retry_for:g} s"
        if self.settings.max_attempts and row.attempts + 1 >= self.settings.max_attempts:
            return f"gave up after {row.attempts + 1} tries"
        return None

    async def _failed(self, held: Held, outcome: Outcome) -> None:
        row, token = held.row, held.token
        now = utcnow()
        extra = {"delivery_id": row.id, "chat_id": row.chat_id, "error": outcome.error}
        if outcome.in_doubt:
            self.stats.in_doubt += 1
            metrics.DELIVERIES.labels("in_doubt").inc()
        if outcome.kind == "transient":
            self._unreachable_send()
            given_up = self._gives_up(row, now)
            if given_up is not None:
                outcome = Outcome(
                    "failed", f"{outcome.error} ({given_up})", in_doubt=outcome.in_doubt
                )
            elif self._outage:
                await self._wait_for_telegram(held, outcome, now)
                return
        else:
            self._reachable()
        if outcome.kind == "retry_after":
            self.stats.retry_after += 1
            metrics.RETRY_AFTER.inc()
            # Telegram asks the bot to slow down: every sender of this worker waits.
            self._pause_until = max(self._pause_until, time.monotonic() + outcome.retry_after)
            at = now + timedelta(seconds=outcome.retry_after)
            log.info("Telegram asked to wait", extra={**extra, "seconds": outcome.retry_after})
            await self._record(
                lambda s: outbox.reschedule(
                    s, row.id, token, at=at, error=outcome.error, count_attempt=False
                ),
                "retry_after",
                row.id,
            )
        elif outcome.kind == "transient":
            self.stats.retried += 1
            metrics.DELIVERIES.labels("retried").inc()
            delay = min(
                self.settings.backoff_max_seconds,
                self.settings.backoff_seconds * 2**row.attempts,
            ) * random.uniform(0.8, 1.2)
            at = now + timedelta(seconds=delay)
            log.info("delivery will be retried", extra={**extra, "seconds": round(delay, 2)})
            await self._record(
                lambda s: outbox.reschedule(
                    s, row.id, token, at=at, error=outcome.error,
                    in_doubt=outcome.in_doubt, failing_since=now,
                ),
                "retry",
                row.id,
            )
        else:
            blocked = outcome.kind == "blocked"
            if blocked:
                self.stats.blocked += 1
                metrics.DELIVERIES.labels("blocked").inc()
                log.info("recipient blocked the bot", extra=extra)
            else:
                self.stats.failed += 1
                metrics.DELIVERIES.labels("failed").inc()
                log.warning("delivery failed", extra=extra)
            await self._record(
                lambda s: outbox.mark_failed(
                    s, row.id, token, error=outcome.error, blocked=blocked,
                    in_doubt=outcome.in_doubt,
                ),
                "blocked" if blocked else "failed",
                row.id,
            )

    async def _wait_for_telegram(self, held: Held, outcome: Outcome, now: datetime) -> None:
        """Telegram is unreachable: the row waits for the pause to end, no try used up
        (its retry budget still runs from its first failure)."""
        row = held.row
        self.stats.retried += 1
        at = now + timedelta(seconds=max(0.0, self._pause_until - time.monotonic()))
        await self._record(
            lambda s: outbox.reschedule(
                s, row.id, held.token, at=at, error=outcome.error, count_attempt=False,
                in_doubt=outcome.in_doubt, failing_since=now,
            ),
            "outage",
            row.id,
        )
