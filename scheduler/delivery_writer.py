"""The delivery worker's writer: every outcome goes through one task that commits whatever
is queued in one transaction ("group commit").

The window in which a crash leaves a message sent but not recorded stays a millisecond or
two, and the database never becomes the bottleneck: the two writes every message needs
(`sending` before the HTTP call, `sent` after it) are merged into one statement each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from models import outbox
from models.base import utcnow

log = logging.getLogger("huibao.delivery")

Op = Callable[[AsyncSession], Awaitable[Any]]
# Writes merged into one transaction at most.
GROUP_LIMIT = 256


@dataclass(frozen=True)
class Sending:
    """Mark a delivery `sending` (right before its HTTP call); True if it is still ours."""

    delivery_id: int
    token: str


Write = Op | Sending | outbox.SentItem
Queued = tuple[Write, "asyncio.Future[Any]"]


class GroupWriter:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], stats: Any) -> None:
        self.sessionmaker = sessionmaker
        # The worker's stats object: commits, committed_ops and commit_seconds are counted.
        self.stats = stats
        self._ops: asyncio.Queue[Queued | None] = asyncio.Queue()
        self._connection: AsyncConnection | None = None

    async def write(self, op: Write) -> Any:
        """Queue a write; returns its result once committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ops.put_nowait((op, future))
        return await future

    async def record(self, op: Op | outbox.SentItem, what: str, delivery_id: int,
                     within: float) -> Any:
        """Write an outcome, retrying while the database is unavailable.

        Giving up would mean sending the message again later, so this keeps trying for
        `within` seconds (the lease)."""
        deadline = time.monotonic() + within
        delay = 0.1
        while True:
            try:
                return await self.write(op)
            except Exception:
                extra = {"delivery_id": delivery_id, "outcome": what}
                if time.monotonic() > deadline:
                    log.exception("could not record a delivery outcome", extra=extra)
                    return None
                log.warning("retrying a delivery outcome write", extra=extra)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def close(self) -> None:
        """The writer commits what is queued, then `run` returns."""
        self._ops.put_nowait(None)

    async def run(self) -> None:
        # One connection of its own, kept open: a transaction per group costs one COMMIT,
        # not a pool checkout and reset as well.
        try:
            while True:
                first = await self._ops.get()
                if first is None:
                    return
                batch, stop_after = self._group(first)
                await self._commit(batch)
                if stop_after:
                    return
        finally:
            await self._close_connection()

    def _group(self, first: Queued) -> tuple[list[Queued], bool]:
        batch = [first]
        while not self._ops.empty() and len(batch) < GROUP_LIMIT:
            item = self._ops.get_nowait()
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    async def _commit(self, batch: list[Queued]) -> None:
        began = time.perf_counter()
        try:
            if self._connection is None:
                self._connection = await self.sessionmaker.kw["bind"].connect()
            async with self._connection.begin():
                results = await self._apply(self._connection, batch)
        except Exception as exc:
            for _op, future in batch:
                if not future.done():
                    future.set_exception(exc)
            # The connection may be broken (database restarted): open a fresh one next time.
            await self._close_connection()
        else:
            for index, (_op, future) in enumerate(batch):
                if not future.done():
                    future.set_result(results[index])
        self.stats.commits += 1
        self.stats.committed_ops += len(batch)
        self.stats.commit_seconds += time.perf_counter() - began

    async def _close_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    @staticmethod
    async def _apply(connection: AsyncConnection, batch: list[Queued]) -> dict[int, Any]:
        sending = [op for op, _f in batch if isinstance(op, Sending)]
        sent = [op for op, _f in batch if isinstance(op, outbox.SentItem)]
        session = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            ours = await outbox.mark_sending_many(
                session, [(op.delivery_id, op.token) for op in sending]
            )
            recorded = await outbox.mark_sent_many(session, sent, utcnow())
            results: dict[int, Any] = {}
            for index, (op, _future) in enumerate(batch):
                if isinstance(op, Sending):
                    results[index] = op.delivery_id in ours
                elif isinstance(op, outbox.SentItem):
                    results[index] = op.delivery_id in recorded
                else:
                    results[index] = await op(session)
            await session.flush()
            return results
        finally:
            await session.close()
