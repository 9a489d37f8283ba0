"""The scheduler's leader lock on PostgreSQL: one holder, and a quick takeover."""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import pytest

from scheduler.leader import Leader, asyncpg_dsn
from tests.conftest import POSTGRES_ENV

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV), reason=f"needs PostgreSQL ({POSTGRES_ENV})"
)

POLL = 0.2


class Watched:
    def __init__(self, name: str, url: str, lock_id: int, timeout: float = 20) -> None:
        self.name = name
        self.events: list[tuple[str, float]] = []
        self.leader = Leader(
            url,
            lock_id=lock_id,
            poll_seconds=POLL,
            session_timeout_seconds=timeout,
            on_acquire=self._acquired,
            on_release=self._released,
        )

    async def _acquired(self) -> None:
        self.events.append(("acquired", time.monotonic()))

    async def _released(self) -> None:
        self.events.append(("released", time.monotonic()))

    async def wait(self, event: str, within: float = 30) -> float:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for name, at in self.events:
                if name == event:
                    return at
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.name} never {event}: {self.events}")


def lock_id() -> int:
    # Each test its own lock, so parallel test runs against one server never meet.
    return int.from_bytes(os.urandom(4), "big")


async def backend_pid(leader: Leader) -> int:
    connection = leader._connection
    assert connection is not None
    return int(connection.get_server_pid())


async def terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_one_holder_and_takeover_when_it_dies() -> None:
    url = os.environ[POSTGRES_ENV]
    key = lock_id()
    first, second = Watched("first", url, key), Watched("second", url, key)
    first.leader.start()
    await first.wait("acquired")
    second.leader.start()
    await asyncio.sleep(POLL * 5)
    assert first.leader.holding and not second.leader.holding
    # The holder dies: its code stops and its session ends, as with kill -9.
    assert first.leader._task is not None
    first.leader._task.cancel()
    pid = await backend_pid(first.leader)
    died_at = time.monotonic()
    await terminate(url, pid)
    took_over = await second.wait("acquired") - died_at
    print(f"takeover after the holder died: {took_over:.2f} s (poll {POLL} s)")
    await second.leader.stop()
    first.leader.holding = False
    await first.leader.stop()


async def test_a_holder_whose_session_ends_stops_its_jobs() -> None:
    url = os.environ[POSTGRES_ENV]
    key = lock_id()
    first, second = Watched("first", url, key), Watched("second", url, key)
    first.leader.start()
    await first.wait("acquired")
    second.leader.start()
    await terminate(url, await backend_pid(first.leader))
    await first.wait("released")
    # Someone holds the lock again soon, and never both.
    for _ in range(50):
        await asyncio.sleep(POLL / 2)
        assert not (first.leader.holding and second.leader.holding)
    assert first.leader.holding or second.leader.holding
    await first.leader.stop()
    await second.leader.stop()


async def test_a_hung_holder_loses_the_lock_to_the_server_timeout() -> None:
    url = os.environ[POSTGRES_ENV]
    key = lock_id()
    hung = Watched("hung", url, key, timeout=1.0)
    other = Watched("other", url, key, timeout=1.0)
    hung.leader.start()
    await hung.wait("acquired")
    other.leader.start()
    # Freeze the holder: its task stops checking in, its connection stays open.
    assert hung.leader._task is not None
    hung.leader._task.cancel()
    frozen_at = time.monotonic()
    took_over = await other.wait("acquired", within=15) - frozen_at
    print(f"takeover from a hung holder: {took_over:.2f} s (session timeout 1 s)")
    assert took_over >= 1.0
    await other.leader.stop()
    hung.leader.holding = False
    await hung.leader.stop()
