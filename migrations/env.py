"""Alembic environment: runs migrations over the async engine the bot uses."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import models.all  # noqa: F401  (registers every table on Base.metadata)
from models.base import Base, UTCDateTime
from models.db import create_engine

config = context.config
# Held for the migration's transaction on PostgreSQL: two `huibao run` starting together
# on a fresh database would otherwise both create the same tables and one would die.
MIGRATION_LOCK_ID = 4_826_008
target_metadata = Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations must not import model code, so UTCDateTime is written as a plain column.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Alembic reads the current revision after this, so the second process finds
            # the first one's work done and applies nothing.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
