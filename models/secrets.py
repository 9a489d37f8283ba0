"""Secrets the bot makes for itself and shares between its processes (the webhook's)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

WEBHOOK_SECRET = "webhook_secret_token"


class StoredSecret(Base):
    """One named secret, made once and then read by every process of the bot."""

    __tablename__ = "stored_secrets"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def shared_secret(session: AsyncSession, name: str) -> str:
    """The secret called `name`, made with secrets.token_urlsafe(32) the first time.

    Several processes starting together each offer a new value; the first insert wins,
    the others' are dropped by ON CONFLICT DO NOTHING, and all read back the same one.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    offer = {"name": name, "value": secrets.token_urlsafe(32), "created_at": utcnow()}
    await session.execute(insert(StoredSecret).values(offer).on_conflict_do_nothing())
    return (
        await session.execute(select(StoredSecret.value).where(StoredSecret.name == name))
    ).scalar_one()
