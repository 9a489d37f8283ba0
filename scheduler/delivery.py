"""The delivery worker: sends the outbox through the bot's rate limiter, records every outcome.

One worker runs inside each bot process (started by bot/lifecycle.py). It

* claims due deliveries in small batches (models.outbox.claim: SKIP LOCKED on PostgreSQL,
  so several bot processes share the work without sending anything twice);
* sends them through the bot, whose HuibaoRateLimiter paces every send of the bot evenly
  (one every 1/rate s, never more than delivery.messages_per_second in any second) and
  holds them all after a 429; with about rate x round trip requests in flight (InFlight,
  at most delivery.concurrency), which is also the most a crash can repeat;
* commits `sending` right before each HTTP call and the result right after it, through one
  writer task that commits whatever is queued in one transaction (scheduler/delivery_writer.py);
* honours RetryAfter itself (all its sends pause, the row waits, no try is used up);
  retries network errors and 5xx with capped exponential backoff for delivery.retry_for;
  after OUTAGE_AFTER such errors in a row pauses as a whole and probes with one send at a
  time until Telegram answers (an outage uses up no tries); counts a send that timed out
  after it went out as in doubt; never retries permanent errors (BadRequest: failed;
  Forbidden: blocked, and the person is marked unreachable);
* keeps its leases alive while it holds rows, and gives back unsent rows when stopped;
* edits each batch's progress message at most every delivery.progress_seconds, and when a
  batch is finished enqueues the final report to its owner (through the outbox, once).

What it records of each answer (sent, retried, paused, failed, blocked) and the outage
count live in scheduler/delivery_outcomes.py, the worker's other half.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from config.settings import DeliverySettings
from models import outbox
from models.base import utcnow
from models.outbox import Delivery, OutMessage
from scheduler.delivery_outcomes import OUTAGE_AFTER as OUTAGE_AFTER
from scheduler.delivery_outcomes import Held, OutcomeRecording, WorkerStats
from scheduler.delivery_progress import update_progress
from scheduler.delivery_send import InFlight, LeaseLost, Noted, Outcome, Sender
from scheduler.delivery_writer import GroupWriter, Sending
from scheduler.journal import Journal
from transport.http import ON_RESPONSE

log = logging.getLogger("huibao.delivery")

# Rows a sender finds within this many seconds of their lease end are left alone: a
# renewal must have failed, and another worker may take them over at any moment.
LEASE_MARGIN = 2.0


def freeze_heap() -> None:
    """Leave what the process holds when a worker starts out of the collector's full passes.

    Python's full collection scans every object the process has; with the bot's modules
    loaded that took 100 to 270 ms each on the development machine, and at 1,000 sends a
    second it came every second or two: the event loop stood still and the rate
    limiter's slots went by unused. Frozen objects are still freed when their last
    reference goes; cycles among them are not, so what an earlier start froze is thawed
    and the garbage collected before freezing again (a process that starts many workers,
    the tests, keeps no cycles for ever). One full collection per start."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class DeliveryWorker(OutcomeRecording):
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: DeliverySettings,
        *,
        name: str | None = None,
        report: bool = True,
        journal: Journal | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.name = name or uuid.uuid4().hex[:12]
        self.report = report
        self.journal = journal
        self.stats = WorkerStats()
        self._claims = 0
        self._queue: asyncio.Queue[Held] = asyncio.Queue()
        self._held: dict[int, Held] = {}
        self.writer = GroupWriter(sessionmaker, self.stats)
        self.sender = Sender(bot, sessionmaker, settings, self._record_file_id)
        self.inflight: InFlight = self.sender.inflight
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._stopping = False
        self._pause_until = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._senders: list[asyncio.Task[Any]] = []
        self._busy: set[asyncio.Task[Any]] = set()
        self._claimer: asyncio.Task[Any] | None = None
        self._writer: asyncio.Task[Any] | None = None
        # Telegram unreachable: sends in a row that failed so, and how often the pause
        # was lengthened since the last success (0: no outage).
        self._unreachable = 0
        self._outage = 0
        self._probe = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    async def start(self) -> None:
        if self._tasks:
            return
        self._stopping = False
        freeze_heap()
        if self.journal is not None:
            await self.replay_journal()
        self._writer = asyncio.create_task(self.writer.run(), name="delivery-writer")
        self._senders = [
            asyncio.create_task(self._sender_loop(), name=f"delivery-sender-{i}")
            for i in range(self.settings.concurrency)
        ]
        self._claimer = asyncio.create_task(self._claim_loop(), name="delivery-claim")
        self._tasks = [
            self._claimer,
            asyncio.create_task(self._renew_loop(), name="delivery-renew"),
            *self._senders,
        ]
        if self.report:
            self._tasks.append(asyncio.create_task(self._progress_loop(), name="delivery-progress"))
        log.info("delivery worker started", extra={"worker": self.name})

    async def replay_journal(self) -> int:
        """Record what a killed predecessor had sent but not committed; returns how many."""
        assert self.journal is not None
        entries = self.journal.entries()
        if entries:
            finals = [
                outbox.SentItem(e.delivery_id, e.token, e.parts_sent, e.message_id)
                for e in entries
                if e.final
            ]
            async with self.sessionmaker() as session, session.begin():
                recorded = await outbox.mark_sent_many(session, finals, utcnow())
                for e in entries:
                    if not e.final:
                        await outbox.mark_part_sent(
                            session, e.delivery_id, e.token, e.parts_sent, e.message_id
                        )
            log.info(
                "delivery journal replayed",
                extra={"entries": len(entries), "recorded": len(recorded),
                       "path": str(self.journal.path)},
            )
        self.journal.clear()
        return len(entries)

    def wake(self) -> None:
        """New deliveries were enqueued in this process: look now, not at the next poll."""
        self._wakeup.set()

    async def stop(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Finish the sends in flight, give back the rest, record everything, then return."""
        if not self._tasks or self._stopping:
            return
        self._stopping = True
        self._wakeup.set()
        self._space.set()
        await self._stop_claiming(timeout)
        await self._stop_sending(timeout)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._give_back()
        self.writer.close()
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self.journal is not None and not self._busy:
            # Everything sent is committed now; what a cancelled send left stays for replay.
            self.journal.committed(0)
        self._tasks = []
        self._senders = []
        log.info(
            "delivery worker stopped",
            extra={"worker": self.name, "sent": self.stats.sent, "failed": self.stats.failed},
        )

    async def _stop_claiming(self, timeout: float) -> None:  # noqa: ASYNC109
        if self._claimer is not None:
            # Let a claim in progress finish, so the rows it took are known and given back.
            _done, pending = await asyncio.wait([self._claimer], timeout=timeout)
            for task in pending:
                task.cancel()
        # Rows waiting in the queue were never handed to Telegram: they go back.
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _stop_sending(self, timeout: float) -> None:  # noqa: ASYNC109
        busy = list(self._busy)
        for task in self._senders:
            if task not in busy:
                task.cancel()
        if busy:
            _done, pending = await asyncio.wait(busy, timeout=timeout)
            for task in pending:
                # Still waiting for Telegram: the row stays `sending` and counts as in doubt.
                task.cancel()
        for task in self._tasks:
            if task not in self._senders:
                task.cancel()

    async def _give_back(self) -> None:
        leftover = [(h.row.id, h.token) for h in self._held.values()]
        if leftover:
            with contextlib.suppress(Exception):
                released = await self._write(lambda s: outbox.release(s, leftover))
                log.info("deliveries given back", extra={"count": released})
        self._held.clear()

    # -- claiming -------------------------------------------------------------------------

    def _low_water(self) -> int:
        return max(1, self.settings.batch_size // 2)

    async def _claim_loop(self) -> None:
        settings = self.settings
        while not self._stopping:
            try:
                await self._wait_pause()
                if self._queue.qsize() >= self._low_water():
                    self._space.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._space.wait(), settings.poll_seconds)
                    continue
                self._wakeup.clear()
                rows = await self._claim(settings.batch_size - self._queue.qsize())
                if rows:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), settings.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming deliveries failed")
                await asyncio.sleep(settings.poll_seconds)

    async def _claim(self, limit: int) -> list[Delivery]:
        self._claims += 1
        token = f"{self.name}:{self._claims}"
        now = utcnow()
        lease = self.settings.lease_seconds
        rows: list[Delivery] = await self._write(
            lambda s: outbox.claim(s, limit, now, token=token, lease_seconds=lease)
        )
        until = now + timedelta(seconds=lease)
        for row in rows:
            held = Held(row, token, until)
            self._held[row.id] = held
            self._queue.put_nowait(held)
        return rows

    async def _renew_loop(self) -> None:
        every = self.settings.lease_seconds / 3
        while not self._stopping:
            await asyncio.sleep(every)
            held = list(self._held.values())
            if not held:
                continue
            until = utcnow() + timedelta(seconds=self.settings.lease_seconds)
            pairs = [(h.row.id, h.token) for h in held]
            try:
                await self._write(functools.partial(outbox.renew, held=pairs, until=until))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not renew delivery leases", exc_info=True)
                continue
            for h in held:
                h.lease_until = until

    # -- sending --------------------------------------------------------------------------

    async def _wait_pause(self) -> None:
        # Polled, not an Event: a RetryAfter during the wait may push the end further out.
        while True:
            remaining = self._pause_until - time.monotonic()
            if self._stopping or remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.5))

    async def _sender_loop(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        while not self._stopping:
            held = await self._queue.get()
            if self._stopping:
                return
            self._busy.add(task)
            try:
                await self._deliver(held)
            except Exception:
                log.exception("delivery failed unexpectedly", extra={"delivery_id": held.row.id})
            finally:
                self._busy.discard(task)
                if not held.given_back:
                    self._held.pop(held.row.id, None)
                if self._queue.qsize() < self._low_water():
                    self._space.set()

    async def _deliver(self, held: Held) -> None:
        row = held.row
        if row.resumed_in_doubt:
            self.stats.resent_in_doubt += 1
            log.warning(
                "sending again a delivery that was in flight when a worker stopped",
                extra={"delivery_id": row.id, "purpose": row.purpose, "chat_id": row.chat_id},
            )
        # Parsed once here: the payload's JSON into OutMessages was four parses a send.
        messages = row.messages
        if row.parts_sent >= len(messages):
            await self._record_sent_earlier(held)
            return
        for part in range(row.parts_sent, len(messages)):
            final = part + 1 == len(messages)
            noted = Noted(self.journal, row.id, held.token, part + 1, final)
            message_id = await self._send_part(held, messages[part], noted)
            if message_id is None:
                return
            self._reachable()
            if not await self._sent_part(held, part + 1, message_id, final, noted):
                return

    async def _send_part(self, held: Held, message: OutMessage, noted: Noted) -> int | None:
        """Send one part; None when it was not sent (given back, lost or failed)."""
        row = held.row
        async with self._turn():
            if self._stopping and noted.parts_sent - 1 == row.parts_sent:
                held.given_back = True  # never started: stop() gives it back
                return None
            if (held.lease_until - utcnow()).total_seconds() < LEASE_MARGIN:
                log.warning("lease ran out before sending", extra={"delivery_id": row.id})
                return None
            context_token = ON_RESPONSE.set(noted)
            try:
                return await self.sender.send(row.chat_id, message, self._marker(held))
            except LeaseLost:
                log.warning("delivery taken over by another worker", extra={"delivery_id": row.id})
                return None
            except Outcome as outcome:
                await self._failed(held, outcome)
                return None
            finally:
                ON_RESPONSE.reset(context_token)

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Wait for any pause, then for a place among the sends in flight. While Telegram
        is unreachable only one send at a time (the probe) goes, once each pause ends."""
        while True:
            await self._wait_pause()
            probing = False
            if self._outage:
                await self._probe.acquire()
                probing = bool(self._outage)
                if probing:
                    # A probe before this one failed and lengthened the pause.
                    await self._wait_pause()
                else:
                    self._probe.release()
            await self.inflight.acquire()
            paused = time.monotonic() < self._pause_until
            if probing or self._stopping or not (self._outage or paused):
                break
            # A pause began while this send waited for its place: wait again.
            await self.inflight.release()
        try:
            yield
        finally:
            await self.inflight.release()
            if probing:
                self._probe.release()

    def _marker(self, held: Held) -> Callable[[], Awaitable[None]]:
        async def mark_sending() -> None:
            try:
                ours = await self._write(Sending(held.row.id, held.token))
            except Exception as exc:
                log.warning("could not mark a delivery as sending", exc_info=True)
                raise LeaseLost from exc
            if not ours:
                raise LeaseLost

        return mark_sending

    # -- progress and reports -------------------------------------------------------------

    async def _progress_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.progress_seconds)
            try:
                await self.update_progress()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("updating delivery progress failed")

    async def update_progress(self) -> None:
        """Edit each open batch's progress message; finish batches that are done."""
        if await update_progress(self.bot, self.sessionmaker):
            self.wake()
