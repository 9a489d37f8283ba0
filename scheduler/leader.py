"""Which process runs the scheduler: the holder of a PostgreSQL advisory lock.

With PostgreSQL several bot processes may run side by side (DESIGN principle 5). Each
opens one connection of its own and tries `pg_try_advisory_lock(key)` every
`scheduler.lock_poll_seconds`; the one that gets it runs the reminder and summary jobs,
the others keep trying. A session-level advisory lock belongs to its connection, so:

- a holder that exits or is killed (even `kill -9`) closes its socket, PostgreSQL ends
  the session at once and frees the lock; another process takes it at its next try,
  within `lock_poll_seconds`;
- a holder that hangs (a frozen process, a dead network) keeps its socket open, so the
  lock connection is opened with `idle_session_timeout` (PostgreSQL 14+): the holder
  checks in every `lock_poll_seconds`, and a session silent for
  `lock_session_timeout_seconds` is ended by the server, freeing the lock. TCP keepalives
  on the server side catch a peer that vanished from the network. Takeover after a hang
  therefore takes at most lock_session_timeout_seconds + lock_poll_seconds (25 s with
  the defaults);
- a holder that loses its connection stops its jobs as soon as its check-in fails. If
  it was frozen, one last tick may still run as it wakes; the once-only records in the
  database make that harmless.

With SQLite there is one process by design, and it is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger("huibao.scheduler.leader")

Hook = Callable[[], Awaitable[None]]


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Leader:
    """Tries for the lock until stopped; calls on_acquire / on_release as it changes."""

    def __init__(
        self,
        url: str,
        *,
        lock_id: int,
        poll_seconds: float,
        session_timeout_seconds: float,
        on_acquire: Hook,
        on_release: Hook,
    ) -> None:
        self.dsn = asyncpg_dsn(url)
        self.lock_id = lock_id
        self.poll_seconds = poll_seconds
        self.session_timeout_seconds = session_timeout_seconds
        self.on_acquire = on_acquire
        self.on_release = on_release
        self.holding = False
        self._connection: Any = None
        self._task: asyncio.Task[None] | None = None
        self._waiting_logged = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="huibao-scheduler-leader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.holding:
            await self._lose("stopping")
        await self._close()

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.holding:
                    await self._lose(repr(error))
                else:
                    log.warning("scheduler lock unavailable", extra={"error": repr(error)})
                await self._close()
            await asyncio.sleep(self.poll_seconds)

    async def _step(self) -> None:
        if self._connection is not None and self._connection.is_closed():
            # The lock belonged to that session; a new connection holds nothing.
            if self.holding:
                await self._lose("the lock connection closed")
            await self._close()
        if self._connection is None:
            self._connection = await asyncpg.connect(
                self.dsn,
                timeout=max(self.poll_seconds, 5.0),
                server_settings={
                    "application_name": "huibao-scheduler-lock",
                    "idle_session_timeout": str(int(self.session_timeout_seconds * 1000)),
                    "tcp_keepalives_idle": "10",
                    "tcp_keepalives_interval": "5",
                    "tcp_keepalives_count": "3",
                },
            )
        if self.holding:
            # The check-in that keeps idle_session_timeout away; failing means lost.
            await self._connection.fetchval("SELECT 1", timeout=self.poll_seconds)
            return
        got = await self._connection.fetchval(
            "SELECT pg_try_advisory_lock($1)", self.lock_id, timeout=self.poll_seconds
        )
        if got:
            self.holding = True
            self._waiting_logged = False
            log.info("scheduler lock acquired", extra={"lock_id": self.lock_id})
            await self.on_acquire()
        elif not self._waiting_logged:
            self._waiting_logged = True
            log.info(
                "another process runs the scheduler; waiting for its lock",
                extra={"lock_id": self.lock_id, "poll_seconds": self.poll_seconds},
            )

    async def _lose(self, why: str) -> None:
        self.holding = False
        log.warning("scheduler lock lost", extra={"lock_id": self.lock_id, "why": why})
        try:
            await self.on_release()
        except Exception:
            log.exception("stopping the scheduler jobs failed")

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # Closing the session releases the lock; no explicit unlock is needed.
            await asyncio.wait_for(connection.close(), timeout=2)
        except Exception:
            connection.terminate()
