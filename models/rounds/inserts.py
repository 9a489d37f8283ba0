"""The dialect's INSERT, for the insert-or-ignore and upsert statements of the rounds."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which has on_conflict_do_update (PostgreSQL or SQLite)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert
