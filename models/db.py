"""Engine and session factory, built from settings at start-up, never at import time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import DisconnectionError, MissingGreenlet, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from models import sqlite_fast, txguard

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the delivery worker read while a principal's answer is being written;
    # the busy timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # FULL: a commit is on disk when it returns, so a receipt shown after it survives a
    # power cut (NORMAL could lose the last commits); about +0.7 ms a commit (bench/sqlite_sync.py).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_HOLDS = "huibao_holds_writer"


def _serialize_sqlite_writers(engine: AsyncEngine) -> None:
    """One writing transaction at a time inside this process, queued in asyncio.

    SQLite lets one connection write at a time; the others wait in its busy handler,
    which polls with sleeps growing from 1 to 100 ms, so under load a writer that keeps
    losing waits far longer than the writes ahead of it took (p95 of the report step at
    200 principals: 150 ms, against 30 ms on PostgreSQL). Here a connection takes an
    asyncio lock before its first write and gives it back as its transaction commits or
    rolls back, so writers queue in order and each is woken the moment the one before
    it is done. Reads take no lock (WAL lets them run beside the writer).
    Other processes on the same file (the CLI beside the bot) still meet SQLite's own
    busy timeout.
    """
    writer = asyncio.Lock()
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000

    async def acquire() -> None:
        async with asyncio.timeout(timeout):
            await writer.acquire()

    def before_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if info.get(_HOLDS) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        try:
            await_only(acquire())
        except MissingGreenlet:
            return  # not under asyncio (a sync caller): SQLite's own locking applies
        except TimeoutError as exc:
            raise OperationalError(statement, None, exc) from exc
        info[_HOLDS] = True

    def release(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS, False):
            writer.release()

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before_execute)
    # Given back as the transaction commits or rolls back. (These events come just before
    # the driver's commit; holding on until it has returned measured slower, because the
    # next writer's statements then wait for one more hop through the busy event loop.)
    event.listen(sync, "commit", lambda conn: release(conn.info))
    event.listen(sync, "rollback", lambda conn: release(conn.info))
    # A connection given back to the pool (or thrown away) in the middle of a transaction.

    def on_reset(_dbapi: Any, record: Any, _state: Any) -> None:
        release(record.info)

    def on_invalidate(_dbapi: Any, record: Any, _exception: Any) -> None:
        release(record.info)

    event.listen(sync.pool, "reset", on_reset)
    event.listen(sync.pool, "invalidate", on_invalidate)


def create_private_sqlite_file(url: str) -> None:
    """Create a missing database file with mode 0600 before SQLite creates it 0644.

    It holds names and figures; SQLite gives its -wal and -shm files the same mode."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # exists already, or SQLite will say what is wrong
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        create_private_sqlite_file(url)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        sqlite_fast.install()
        _serialize_sqlite_writers(engine)
        txguard.track(engine)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    _ping_after_idle(engine)
    txguard.track(engine)  # no Bot API call while a transaction is open (models/txguard.py)
    return engine


IDLE_BEFORE_PING = 2.0
"""Seconds a pooled PostgreSQL connection may have lain unused before it is tried on
checkout (a server restarted meanwhile, a firewall that dropped it)."""


def _ping_after_idle(engine: AsyncEngine) -> None:
    """pool_pre_ping, but only for a connection that lay idle: SQLAlchemy's pings every
    checkout, one more round trip for every report step, while connections in steady use
    (a few hundred principals answering) are known to be alive. A connection found dead
    is thrown away and the pool gives out another (DisconnectionError)."""
    sync = engine.sync_engine

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            alive = sync.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError(f"an idle connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("an idle connection is gone")

    event.listen(sync.pool, "checkin", checkin)
    event.listen(sync.pool, "checkout", checkout)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers render objects after committing them.
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: committed on success, rolled back on any error."""
    async with sessionmaker() as session, session.begin():
        yield session


# The first key of every per-chat lock ("HUIB"): PostgreSQL keeps two-key advisory locks
# apart from one-key ones, so these never meet the scheduler's (scheduler.lock_id).
CHAT_LOCK_SPACE = 0x48554942
# A chat whose lock is held longer than this (a frozen process) fails the update with an
# error; Telegram posts it again later.
CHAT_LOCK_TIMEOUT = "30s"


def chat_lock_key(chat_id: int) -> int:
    """The chat id folded into a signed 32-bit key; two chats sharing one only wait."""
    return (chat_id + 2**31) % 2**32 - 2**31


class ChatTurns:
    """One chat's updates one at a time across processes (PostgreSQL, webhook mode).

    A session-level advisory lock per chat, `pg_advisory_lock(CHAT_LOCK_SPACE, chat)`,
    held on a connection of its own for as long as the update is handled. It is held
    outside any transaction: the handler calls the Bot API while holding it (never inside
    a transaction, models/txguard.py), and its own transactions use the engine's pool, so
    the two pools cannot starve each other. A process that dies closes the connection and
    PostgreSQL frees its locks at once; asyncpg's pool frees any left on release
    (pg_advisory_unlock_all), which is how it is given back."""

    def __init__(self, url: str, size: int) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.size = size
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg  # only PostgreSQL in webhook mode needs it

        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.size,
            server_settings={"lock_timeout": CHAT_LOCK_TIMEOUT},
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        async with self._pool.acquire() as connection:
            await connection.execute(
                "SELECT pg_advisory_lock($1, $2)", CHAT_LOCK_SPACE, chat_lock_key(chat_id)
            )
            yield
        # No unlock of our own: giving the connection back to the pool runs asyncpg's
        # reset, which starts with pg_advisory_unlock_all() (one round trip, not two).


class SqliteInUse(Exception):
    """Another process serves this SQLite file."""


def hold_sqlite_file(url: str) -> int | None:
    """Take `<database>.lock` for as long as this process lives; SqliteInUse if taken.

    SQLite is one process by design (models/db.py queues writers inside a process), so a
    second `huibao run` on the same file is refused rather than left to fight over it;
    the CLI beside the bot does not take it. The kernel frees the lock when the process
    ends, however it ends (even SIGKILL). Returns the lock's file descriptor, or None for
    PostgreSQL and in-memory databases."""
    import fcntl

    if not is_sqlite(url):
        return None
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    lock = f"{path}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SqliteInUse(lock) from None
    return fd
