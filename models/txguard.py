"""The rule "no Bot API call inside an open database transaction", made checkable.

A handler that calls Telegram while its transaction is open keeps the transaction open for
as long as Telegram takes to answer: on SQLite that is the one write lock of the process
(models/db.py queues writers behind it), so a slow answer or a long 429 stops every other
principal's answer; on PostgreSQL it holds a pooled connection and its row locks. So the
engine notes which asyncio task has a transaction open on which connection (`track`), and
the bot's request class asks, before every request, whether the task making it has one
(`check`). Only the current task counts: the outbox worker and the updates of other people
run in tasks of their own, and their transactions are none of this request's business.

A violation is logged as an error naming the Bot API method and the code that called it.
With HUIBAO_TX_GUARD=raise (the test suite sets it) the call also fails with
`TransactionOpenError` and is kept in `violations`, so every test that reaches such a call
fails (tests/conftest.py), whatever the handler does with the exception. With
HUIBAO_TX_GUARD=collect the call goes out and is only kept: a run lists every violation
instead of stopping each test at its first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("huibao.txguard")

ENV = "HUIBAO_TX_GUARD"
_OWNER = "huibao_tx_owner"

# Task -> the connection records (their info dicts' ids) with a transaction open in it. A
# plain dict (a WeakKeyDictionary costs a microsecond more per transaction): every entry goes
# when its transactions end, and a connection's record ends it at the latest when the pool
# takes the connection back (reset) or throws it away (invalidate).
_open: dict[asyncio.Task[Any], set[int]] = {}


@dataclass(frozen=True)
class Violation:
    method: str
    origin: str  # "handlers/notices.py:show_prompt", the innermost project frame

    def __str__(self) -> str:
        return f"{self.method} from {self.origin}"


class TransactionOpenError(RuntimeError):
    """A Bot API call made while the calling task had a database transaction open."""


# Filled in the raise and collect modes (tests read and clear it).
violations: list[Violation] = []


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous caller (migrations)
        return None


def _began(info: dict[Any, Any]) -> None:
    task = _task()
    if task is None:
        return
    info[_OWNER] = task
    _open.setdefault(task, set()).add(id(info))


def _ended(info: dict[Any, Any]) -> None:
    task = info.pop(_OWNER, None)
    if task is not None:
        records = _open.get(task)
        if records is not None:
            records.discard(id(info))
            if not records:
                del _open[task]


def track(engine: AsyncEngine) -> None:
    """Note the task that begins each transaction on this engine, until it ends."""
    sync = engine.sync_engine
    event.listen(sync, "begin", lambda conn: _began(conn.info))
    event.listen(sync, "commit", lambda conn: _ended(conn.info))
    event.listen(sync, "rollback", lambda conn: _ended(conn.info))
    # A connection given back to the pool (or thrown away) in the middle of a transaction.
    event.listen(sync.pool, "reset", lambda _dbapi, record, _state: _ended(record.info))
    event.listen(sync.pool, "invalidate", lambda _dbapi, record, _exc: _ended(record.info))


def in_transaction() -> bool:
    """Has the current task a database transaction open?"""
    task = _task()
    return task is not None and bool(_open.get(task))


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The way out, not the caller: the request classes and the rate limiter.
_PLUMBING = frozenset({"check", "do_request", "process_request"})


def _origin() -> str:
    """The innermost frame of the project's own code that made the call."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(_ROOT) and frame.f_code.co_name not in _PLUMBING:
            relative = os.path.relpath(path, _ROOT)
            if not relative.startswith((".venv", "tests")):
                return f"{relative}:{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


def check(url: str) -> None:
    """Called by the bot's request class before each Bot API request goes out."""
    if not in_transaction():
        return
    violation = Violation(url.rsplit("/", 1)[-1], _origin())
    log.error(
        "Bot API call inside an open database transaction",
        extra={"method": violation.method, "origin": violation.origin},
    )
    mode = os.environ.get(ENV, "log")
    if mode not in ("raise", "collect"):
        return
    violations.append(violation)
    if mode == "raise":
        raise TransactionOpenError(
            f"Bot API call inside an open database transaction: {violation}"
        )
