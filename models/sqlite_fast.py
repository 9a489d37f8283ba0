"""The one place Huibao reaches into SQLAlchemy's and aiosqlite's private internals: a
cursor that runs a statement, fetches its rows and closes in one trip to aiosqlite's thread.

Why: SQLAlchemy's aiosqlite cursor makes four trips (open, execute, fetch, close), and each
trip back needs the GIL from a busy event loop, which can keep a waiting thread up to the
interpreter's switch interval (5 ms); with a few hundred principals answering at once that,
not SQLite, was most of an answer's time (bench/report_step.py).

The internals it needs (INTERNALS) are checked before it is installed: when a release of
SQLAlchemy or aiosqlite changes them, `install()` leaves SQLAlchemy's own cursor in place
(slower, never wrong) and logs a warning, and tests/unit/test_sqlite_fast.py fails naming
what changed and the versions installed, so the patch is looked at before a release.
"""

from __future__ import annotations

import collections
import inspect
import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT, await_only

log = logging.getLogger("huibao.db")

INTERNALS: tuple[tuple[object, str], ...] = (
    (AsyncAdapt_aiosqlite_connection, "_cursor_cls"),
    (AsyncAdapt_aiosqlite_connection, "_handle_exception"),
    (AsyncAdapt_aiosqlite_cursor, "_soft_closed_memoized"),
    (aiosqlite.Connection, "_execute"),
    (aiosqlite.Connection, "_conn"),
)
"""(owner, attribute) of every private name the cursor below uses."""


def missing_internals() -> list[str]:
    """The private names that are gone from the installed versions (empty: all there)."""
    return [f"{getattr(owner, '__qualname__', owner)}.{name}" for owner, name in INTERNALS
            if not _has(owner, name)]


def _has(owner: object, name: str) -> bool:
    """A class attribute, a slot, or an instance attribute its __init__ sets."""
    for klass in getattr(owner, "__mro__", ()):
        if name in vars(klass) or name in getattr(klass, "__slots__", ()):
            return True
        init = vars(klass).get("__init__")
        if init is not None:
            try:
                if f"self.{name} =" in inspect.getsource(init):
                    return True
            except (OSError, TypeError):
                continue
    return False


def versions() -> str:
    return f"SQLAlchemy {version('sqlalchemy')}, aiosqlite {version('aiosqlite')}"


def install() -> bool:
    """Use the one-trip cursor for aiosqlite connections; False (and a warning) when the
    internals it needs are not there."""
    missing = missing_internals()
    if missing:
        log.warning("SQLite one-trip cursor not installed: internals changed",
                    extra={"missing": missing, "versions": versions()})
        return False
    AsyncAdapt_aiosqlite_connection._cursor_cls = OneTripCursor
    return True


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that runs a statement, fetches its rows and closes in one trip to the
    aiosqlite thread.

    SQLAlchemy's aiosqlite cursor makes four (open, execute, fetch, close), and each trip
    back needs the GIL from a busy event loop, which can keep a waiting thread up to the
    interpreter's switch interval (5 ms): with a few hundred principals answering at once
    that, not SQLite, was most of an answer's time on SQLite. Server-side cursors
    (streamed results) keep SQLAlchemy's own.
    """

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def _trip(self, run: Callable[[Any], Any]) -> None:
        def in_thread() -> tuple[Any, list[Any], int, int | None]:
            cursor = self._connection._conn.cursor()
            try:
                run(cursor)
                description = cursor.description
                rows = cursor.fetchall() if description else []
                return description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        try:
            found = await_only(self._connection._execute(in_thread))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = found
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._trip(lambda c: c.execute(operation, () if parameters is None else parameters))

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._trip(lambda c: c.executemany(operation, seq_of_parameters))

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None
