"""The delivery worker: sends the outbox through the bot's rate limiter, records every outcome.

One worker runs inside each bot process (started by handlers/delivery.py). It

* claims due deliveries in small batches (models.outbox.claim: SKIP LOCKED on PostgreSQL,
  so several bot processes share the work without sending anything twice);
* sends them through the bot, whose HuibaoRateLimiter paces every send of the bot evenly
  (one every 1/rate s, never more than delivery.messages_per_second in any second) and
  holds them all after a 429; with about rate x round trip requests in flight (InFlight,
  at most delivery.concurrency), which is also the most a crash can repeat;
* commits `sending` right before each HTTP call and the result right after it. All writes
  go through one writer task that commits whatever is queued in one transaction ("group
  commit"): the window in which a crash leaves a message sent but not recorded stays a
  millisecond or two, and the database never becomes the bottleneck;
* honours RetryAfter itself (all its sends pause, the row waits, no try is used up);
  retries network errors and 5xx with capped exponential backoff for delivery.retry_for;
  after OUTAGE_AFTER such errors in a row pauses as a whole and probes with one send at a
  time until Telegram answers (an outage uses up no tries); counts a send that timed out
  after it went out as in doubt; never retries permanent errors (BadRequest: failed;
  Forbidden: blocked, and the person is marked unreachable);
* keeps its leases alive while it holds rows, and gives back unsent rows when stopped;
* edits each batch's progress message at most every delivery.progress_seconds, and when a
  batch is finished enqueues the final report to its owner (through the outbox, once).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp
from aiolimiter import AsyncLimiter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from telegram import (
    Bot,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from config.settings import DeliverySettings
from models import outbox
from models.base import utcnow
from models.outbox import (
    Button,
    Delivery,
    DeliveryBatch,
    OutboxFile,
    Outgoing,
    OutMessage,
    Progress,
)
from models.people import Person
from scheduler.journal import Entry, Journal
from texts.delivery import progress_text, report_text
from texts.i18n import gettext_for
from transport.http import ON_RESPONSE
from transport.limiter import HuibaoRateLimiter, OutboxCall, retry_after_seconds
from transport.markup import keyboard_markup

log = logging.getLogger("huibao.delivery")

T = TypeVar("T")

# Rows a sender finds within this many seconds of their lease end are left alone: a
# renewal must have failed, and another worker may take them over at any moment.
LEASE_MARGIN = 2.0

REPORT_LIST_LIMIT = 30


@dataclass
class _Held:
    row: Delivery
    token: str
    lease_until: datetime
    given_back: bool = False


@dataclass
class WorkerStats:
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
    started: float = field(default_factory=time.monotonic)


class _Outcome(Exception):
    """How a send ended when it did not succeed; carries what to record."""

    def __init__(
        self, kind: str, error: str, retry_after: float = 0.0, *, in_doubt: bool = False
    ) -> None:
        super().__init__(error)
        self.kind = kind  # "retry_after" | "transient" | "failed" | "blocked"
        self.error = error
        self.retry_after = retry_after
        # The request may have reached Telegram (no answer came back): a retry may repeat it.
        self.in_doubt = in_doubt


Op = Callable[[AsyncSession], Awaitable[Any]]


@dataclass
class _Noted:
    """Writes the journal entry for one send as soon as Telegram's answer is read."""

    journal: Journal | None
    delivery_id: int
    token: str
    parts_sent: int
    final: bool
    written: bool = False

    def __call__(self, status: int, body: bytes) -> None:
        if self.journal is None or status != 200 or self.written:
            return
        try:
            message_id = int(json.loads(body)["result"]["message_id"])
        except (ValueError, KeyError, TypeError):
            return  # not a message (or not parseable here): recorded after PTB parsed it
        self.journal.record(
            Entry(self.delivery_id, self.token, self.parts_sent, message_id, self.final)
        )
        self.written = True


class _LeaseLost(Exception):
    """The delivery is no longer this worker's (or could not be marked): do not send."""


@dataclass(frozen=True)
class _Sending:
    delivery_id: int
    token: str


# Sends in a row that find Telegram unreachable (network errors, 5xx) before the worker
# pauses as a whole and probes with one send at a time.
OUTAGE_AFTER = 3


class InFlight:
    """How many sends may be between `sending` and Telegram's answer at once.

    With a rate limiter that is about rate x the time one send takes (marking it
    `sending`, then the HTTP round trip), measured as the worker goes, plus one: enough to
    keep the pacing busy, and no more, because what is in flight when the process dies is
    what may be sent twice. `cap` (delivery.concurrency) is the upper bound, and the
    number used without a rate limiter.
    """

    def __init__(self, cap: int, rate: float | None) -> None:
        self.cap = cap
        self.rate = rate
        self.limit = cap if rate is None else min(cap, 2)
        self.seconds_per_send: float | None = None
        self.peak = 0
        self._count = 0
        self._changed = asyncio.Condition()

    def observe(self, seconds: float) -> None:
        if self.rate is None:
            return
        known = self.seconds_per_send
        # Quick to rise, slow to fall: a slow moment must not starve the pacing.
        if known is None or seconds > known:
            known = seconds if known is None else 0.5 * known + 0.5 * seconds
        else:
            known = 0.9 * known + 0.1 * seconds
        self.seconds_per_send = known
        self.limit = max(1, min(self.cap, math.ceil(self.rate * known * 1.5) + 1))

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._count < self.limit)
            self._count += 1
            self.peak = max(self.peak, self._count)

    async def release(self) -> None:
        async with self._changed:
            self._count -= 1
            self._changed.notify_all()


class DeliveryWorker:
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
        self._queue: asyncio.Queue[_Held] = asyncio.Queue()
        self._held: dict[int, _Held] = {}
        self._ops: asyncio.Queue[
            tuple[Op | _Sending | outbox.SentItem, asyncio.Future[Any]] | None
        ] = asyncio.Queue()
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._stopping = False
        self._pause_until = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._senders: list[asyncio.Task[Any]] = []
        self._busy: set[asyncio.Task[Any]] = set()
        self._claimer: asyncio.Task[Any] | None = None
        self._writer: asyncio.Task[Any] | None = None
        self._file_ids: dict[int, str] = {}
        self._file_locks: dict[int, asyncio.Lock] = {}
        self._paid = (
            AsyncLimiter(settings.messages_per_second, 1) if settings.allow_paid_broadcast else None
        )
        limiter = getattr(bot, "rate_limiter", None)
        self._hooked = isinstance(limiter, HuibaoRateLimiter)
        rate: float | None = None
        if isinstance(limiter, HuibaoRateLimiter):
            paid = settings.allow_paid_broadcast
            rate = settings.messages_per_second if paid else limiter.pacer.rate
        self.inflight = InFlight(settings.concurrency, rate)
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
        if self.journal is not None:
            await self.replay_journal()
        self._writer = asyncio.create_task(self._writer_loop(), name="delivery-writer")
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
        if self._claimer is not None:
            # Let a claim in progress finish, so the rows it took are known and given back.
            _done, pending = await asyncio.wait([self._claimer], timeout=timeout)
            for task in pending:
                task.cancel()
        # Rows waiting in the queue were never handed to Telegram: they go back.
        while not self._queue.empty():
            self._queue.get_nowait()
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
        await asyncio.gather(*self._tasks, return_exceptions=True)
        leftover = [(h.row.id, h.token) for h in self._held.values()]
        if leftover:
            with contextlib.suppress(Exception):
                released = await self._write(lambda s: outbox.release(s, leftover))
                log.info("deliveries given back", extra={"count": released})
        self._held.clear()
        self._ops.put_nowait(None)
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

    # -- the writer (group commit) --------------------------------------------------------

    async def _write(self, op: Op | _Sending | outbox.SentItem) -> Any:
        """Queue a write for the writer task; returns its result once committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ops.put_nowait((op, future))
        return await future

    async def _writer_loop(self) -> None:
        # One connection of its own, kept open: a transaction per group costs one COMMIT,
        # not a pool checkout and reset as well.
        engine = self.sessionmaker.kw["bind"]
        connection: AsyncConnection | None = None
        try:
            while True:
                first = await self._ops.get()
                if first is None:
                    return
                batch = [first]
                stop_after = False
                while not self._ops.empty() and len(batch) < 256:
                    item = self._ops.get_nowait()
                    if item is None:
                        stop_after = True
                        break
                    batch.append(item)
                began = time.perf_counter()
                try:
                    if connection is None:
                        connection = await engine.connect()
                    async with connection.begin():
                        results = await self._apply(connection, batch)
                except Exception as exc:
                    for _op, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if connection is not None:
                        # It may be broken (database restarted): open a fresh one next time.
                        with contextlib.suppress(Exception):
                            await connection.close()
                        connection = None
                else:
                    for index, (_op, future) in enumerate(batch):
                        if not future.done():
                            future.set_result(results[index])
                self.stats.commits += 1
                self.stats.committed_ops += len(batch)
                self.stats.commit_seconds += time.perf_counter() - began
                if stop_after:
                    return
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def _apply(
        self, connection: AsyncConnection, batch: list[tuple[Any, asyncio.Future[Any]]]
    ) -> dict[int, Any]:
        # The two writes every message needs are merged into one statement each.
        sending = [op for op, _f in batch if isinstance(op, _Sending)]
        sent = [op for op, _f in batch if isinstance(op, outbox.SentItem)]
        session = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            ours = await outbox.mark_sending_many(
                session, [(op.delivery_id, op.token) for op in sending]
            )
            recorded = await outbox.mark_sent_many(session, sent, utcnow())
            results: dict[int, Any] = {}
            for index, (op, _future) in enumerate(batch):
                if isinstance(op, _Sending):
                    results[index] = op.delivery_id in ours
                elif isinstance(op, outbox.SentItem):
                    results[index] = op.delivery_id in recorded
                else:
                    results[index] = await op(session)
            await session.flush()
            return results
        finally:
            await session.close()

    async def _record(self, op: Op | outbox.SentItem, what: str, delivery_id: int) -> Any:
        """Write an outcome, retrying while the database is unavailable.

        Giving up would mean sending the message again later, so this keeps trying for as
        long as the lease lasts.
        """
        deadline = time.monotonic() + self.settings.lease_seconds
        delay = 0.1
        while True:
            try:
                return await self._write(op)
            except Exception:
                if time.monotonic() > deadline:
                    log.exception(
                        "could not record a delivery outcome",
                        extra={"delivery_id": delivery_id, "outcome": what},
                    )
                    return None
                log.warning(
                    "retrying a delivery outcome write",
                    extra={"delivery_id": delivery_id, "outcome": what},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

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
            held = _Held(row, token, until)
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

    async def _deliver(self, held: _Held) -> None:
        row, token = held.row, held.token
        messages = row.messages
        part = row.parts_sent
        if row.resumed_in_doubt:
            self.stats.resent_in_doubt += 1
            log.warning(
                "sending again a delivery that was in flight when a worker stopped",
                extra={"delivery_id": row.id, "purpose": row.purpose, "chat_id": row.chat_id},
            )
        if part >= len(messages):
            await self._record(
                lambda s: outbox.mark_sent(
                    s,
                    row.id,
                    token,
                    parts_sent=part,
                    message_id=row.telegram_message_id or 0,
                    now=utcnow(),
                ),
                "sent",
                row.id,
            )
            return
        while part < len(messages):
            noted = _Noted(self.journal, row.id, token, part + 1, part + 1 == len(messages))
            async with self._turn():
                if self._stopping and part == row.parts_sent:
                    held.given_back = True  # never started: stop() gives it back
                    return
                if (held.lease_until - utcnow()).total_seconds() < LEASE_MARGIN:
                    log.warning("lease ran out before sending", extra={"delivery_id": row.id})
                    return
                context_token = ON_RESPONSE.set(noted)
                try:
                    message_id = await self._send(
                        row.chat_id, messages[part], self._marker(held)
                    )
                except _LeaseLost:
                    log.warning(
                        "delivery taken over by another worker", extra={"delivery_id": row.id}
                    )
                    return
                except _Outcome as outcome:
                    await self._failed(held, outcome)
                    return
                finally:
                    ON_RESPONSE.reset(context_token)
            self._reachable()
            part += 1
            done = part
            final = part == len(messages)
            if self.journal is not None and not noted.written:
                # Telegram has it: say so before anything else can go wrong (journal.py).
                # (Usually already done by the HTTP client the moment the answer arrived.)
                self.journal.record(Entry(row.id, token, done, message_id, final))
            if not final:
                ok = await self._record(
                    functools.partial(
                        outbox.mark_part_sent,
                        delivery_id=row.id,
                        token=token,
                        parts_sent=done,
                        message_id=message_id,
                    ),
                    "part",
                    row.id,
                )
            else:
                ok = await self._record(
                    outbox.SentItem(row.id, token, done, message_id),
                    "sent",
                    row.id,
                )
                self.stats.sent += 1
            if self.journal is not None and ok is not None:
                self.journal.committed()
            if ok is False:
                log.warning("delivery taken over while sending", extra={"delivery_id": row.id})
                return

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

    async def _failed(self, held: _Held, outcome: _Outcome) -> None:
        row, token = held.row, held.token
        now = utcnow()
        extra = {"delivery_id": row.id, "chat_id": row.chat_id, "error": outcome.error}
        if outcome.in_doubt:
            self.stats.in_doubt += 1
        if outcome.kind == "transient":
            self._unreachable_send()
            given_up = self._gives_up(row, now)
            if given_up is not None:
                outcome = _Outcome(
                    "failed", f"{outcome.error} ({given_up})", in_doubt=outcome.in_doubt
                )
            elif self._outage:
                await self._wait_for_telegram(held, outcome, now)
                return
        else:
            self._reachable()
        if outcome.kind == "retry_after":
            self.stats.retry_after += 1
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
                log.info("recipient blocked the bot", extra=extra)
            else:
                self.stats.failed += 1
                log.warning("delivery failed", extra=extra)
            await self._record(
                lambda s: outbox.mark_failed(
                    s, row.id, token, error=outcome.error, blocked=blocked,
                    in_doubt=outcome.in_doubt,
                ),
                "blocked" if blocked else "failed",
                row.id,
            )

    async def _wait_for_telegram(self, held: _Held, outcome: _Outcome, now: datetime) -> None:
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

    def _marker(self, held: _Held) -> Callable[[], Awaitable[None]]:
        async def mark_sending() -> None:
            try:
                ours = await self._write(_Sending(held.row.id, held.token))
            except Exception as exc:
                log.warning("could not mark a delivery as sending", exc_info=True)
                raise _LeaseLost from exc
            if not ours:
                raise _LeaseLost

        return mark_sending

    async def _send(
        self, chat_id: int, message: OutMessage, before: Callable[[], Awaitable[None]]
    ) -> int:
        """One Telegram call; returns the message id or raises _Outcome (or _LeaseLost).

        `before` marks the delivery `sending`: inside the rate limiter when there is one
        (see OutboxCall), else right here.
        """
        kwargs: dict[str, Any] = {"chat_id": chat_id}
        if message.parse_mode:
            kwargs["parse_mode"] = message.parse_mode
        if message.keyboard:
            kwargs["reply_markup"] = keyboard_markup(message.keyboard)
        if message.reply_to_message_id:
            kwargs["reply_parameters"] = ReplyParameters(
                message.reply_to_message_id, allow_sending_without_reply=True
            )
        if self.settings.allow_paid_broadcast:
            kwargs["allow_paid_broadcast"] = True
        call = OutboxCall(before)
        try:
            if self._paid is not None:
                await self._paid.acquire()
            if self._hooked:
                kwargs["rate_limit_args"] = call
            else:
                await before()
            if message.kind == "text":
                sent = await self.bot.send_message(text=message.text, **kwargs)
                return sent.message_id
            return await self._send_file(message, kwargs)
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            raise _Outcome("retry_after", f"RetryAfter {wait:g}s", wait) from exc
        except Forbidden as exc:
            raise _Outcome("blocked", f"Forbidden: {exc.message}") from exc
        except BadRequest as exc:
            raise _Outcome("failed", f"BadRequest: {exc.message}") from exc
        except NetworkError as exc:  # includes TimedOut and Telegram's 5xx answers
            raise _Outcome(
                "transient", f"{type(exc).__name__}: {exc.message}", in_doubt=may_have_arrived(exc)
            ) from exc
        except TelegramError as exc:  # InvalidToken, Conflict, ChatMigrated, ...
            raise _Outcome("failed", f"{type(exc).__name__}: {exc.message}") from exc
        except (_Outcome, _LeaseLost):
            raise
        except Exception as exc:
            log.exception("unexpected error while sending", extra={"chat_id": chat_id})
            raise _Outcome("transient", f"{type(exc).__name__}: {exc}", in_doubt=True) from exc
        finally:
            if call.round_trip is not None:
                self.inflight.observe(call.marking + call.round_trip)

    async def _send_file(self, message: OutMessage, kwargs: dict[str, Any]) -> int:
        caption = message.text or None
        if message.file_id:
            return await self._send_media(message.kind, message.file_id, caption, kwargs)
        if message.file_blob_id is None:
            raise _Outcome("failed", "a file message without a file")
        blob_id = message.file_blob_id
        cached = self._file_ids.get(blob_id)
        if cached:
            return await self._send_media(message.kind, cached, caption, kwargs)
        # The first send uploads the file; the others wait for its Telegram file_id.
        async with self._file_locks.setdefault(blob_id, asyncio.Lock()):
            cached = self._file_ids.get(blob_id)
            if cached:
                return await self._send_media(message.kind, cached, caption, kwargs)
            async with self.sessionmaker() as session:
                blob = await session.get(OutboxFile, blob_id)
            if blob is None:
                raise _Outcome("failed", f"file {blob_id} is missing")
            if blob.telegram_file_id:
                self._file_ids[blob_id] = blob.telegram_file_id
                return await self._send_media(message.kind, blob.telegram_file_id, caption, kwargs)
            upload = InputFile(blob.content, filename=message.file_name or blob.name)
            sent_id, file_id = await self._upload(message.kind, upload, caption, kwargs)
            self._file_ids[blob_id] = file_id
            await self._record(lambda s: _store_file_id(s, blob_id, file_id), "file_id", blob_id)
            return sent_id

    async def _send_media(
        self, kind: str, file: str, caption: str | None, kwargs: dict[str, Any]
    ) -> int:
        sent = await self._media_call(kind, file, caption, kwargs)
        return sent.message_id

    async def _upload(
        self, kind: str, upload: InputFile, caption: str | None, kwargs: dict[str, Any]
    ) -> tuple[int, str]:
        sent = await self._media_call(kind, upload, caption, kwargs)
        if kind == "photo" and sent.photo:
            return sent.message_id, sent.photo[-1].file_id
        if sent.document is not None:
            return sent.message_id, sent.document.file_id
        raise _Outcome("failed", "Telegram returned no file for the upload")

    async def _media_call(
        self, kind: str, file: str | InputFile, caption: str | None, kwargs: dict[str, Any]
    ) -> Message:
        if kind == "photo":
            return await self.bot.send_photo(photo=file, caption=caption, **kwargs)
        return await self.bot.send_document(document=file, caption=caption, **kwargs)

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
        async with self.sessionmaker() as session:
            batches = await outbox.open_batches(session)
            states = [(b, await outbox.progress(session, b.id)) for b in batches]
        woke = False
        for batch, state in states:
            started = state.total > 0 and (
                state.left < state.total
                or state.counts.get(outbox.Status.SENDING.value, 0)
                or state.counts.get(outbox.Status.CLAIMED.value, 0)
            )
            if batch.progress_message_id and batch.progress_chat_id and started:
                text = progress_text(batch, state)
                if text != batch.progress_text:
                    await self._edit_progress(batch, text)
            if state.total == 0 or state.done:
                woke = await self._finish(batch, state) or woke
        if woke:
            self.wake()

    async def _edit_progress(self, batch: DeliveryBatch, text: str) -> None:
        assert batch.progress_chat_id is not None and batch.progress_message_id is not None
        try:
            await self.bot.edit_message_text(
                text, chat_id=batch.progress_chat_id, message_id=batch.progress_message_id
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.info("progress message not edited", extra={"error": exc.message})
        except TelegramError as exc:
            log.info("progress message not edited", extra={"error": str(exc)})
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(DeliveryBatch).where(DeliveryBatch.id == batch.id).values(progress_text=text)
            )

    async def _finish(self, batch: DeliveryBatch, state: Progress) -> bool:
        """Mark the batch complete and enqueue its report, once even with several workers."""
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(DeliveryBatch)
                .where(DeliveryBatch.id == batch.id, DeliveryBatch.completed_at.is_(None))
                .values(completed_at=utcnow())
            )
            if not getattr(result, "rowcount", 0):
                return False
            if batch.owner_id is None:
                return False
            owner = await session.get(Person, batch.owner_id)
            if owner is None:
                return False
            problems = await outbox.undelivered(session, batch.id)
            text = report_text(batch, state, problems)
            buttons: tuple[tuple[Button, ...], ...] = ()
            if batch.details_callback:
                _ = gettext_for(batch.language)
                buttons = ((Button(_("Details"), callback_data=batch.details_callback),),)
            await outbox.enqueue(
                session,
                f"batch:{batch.id}:report",
                [Outgoing(owner.telegram_id, owner.id, (OutMessage(text=text, keyboard=buttons),))],
            )
        log.info(
            "batch finished",
            extra={
                "batch_id": batch.id,
                "sent": state.sent,
                "failed": state.failed,
                "blocked": state.blocked,
                "in_doubt": state.in_doubt,
            },
        )
        return True


def may_have_arrived(exc: NetworkError) -> bool:
    """Whether a failed request may have reached Telegram all the same.

    A 5xx is Telegram's answer (it did not take the message), and a connection that could
    not be opened carried nothing; but a timeout or a connection lost after the request
    was written leaves it open whether Telegram accepted the message, so sending it again
    may repeat it.
    """
    cause: BaseException | None = exc.__cause__
    if cause is None:
        return False  # an HTTP answer (5xx), parsed by PTB
    if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return False
    return isinstance(cause, TimeoutError | aiohttp.ClientError | OSError)


async def _store_file_id(session: AsyncSession, blob_id: int, file_id: str) -> None:
    await session.execute(
        update(OutboxFile).where(OutboxFile.id == blob_id).values(telegram_file_id=file_id)
    )


async def batch_finished(session: AsyncSession, batch_id: int) -> bool:
    completed = (
        await session.execute(
            select(DeliveryBatch.completed_at).where(DeliveryBatch.id == batch_id)
        )
    ).scalar_one_or_none()
    return completed is not None
