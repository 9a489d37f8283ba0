"""The dialect's INSERT, for the insert-or-ignore and upsert statements of the rounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which has on_conflict_do_update (PostgreSQL or SQLite)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def claim_row(
    session: AsyncSession, entity: Any, values: Mapping[str, Any], key: Sequence[str],
    returning: Any,
) -> Any | None:
    """Insert a once-only row unless its `key` is taken: `returning` of the new row when
    this transaction got it, None when another has it. On PostgreSQL a second transaction
    inserting the same key waits for the first to commit and then gets nothing back, so
    exactly one owns the row (a slot handled, a period opened)."""
    insert = insert_for(session.get_bind().dialect.name)
    return (
        await session.execute(
            insert(entity).values(**values).on_conflict_do_nothing(index_elements=key)
            .returning(returning)
        )
    ).scalar()
