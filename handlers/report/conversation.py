"""Which report a person's plain text goes to (the `conversations` row), and the
retrying transaction every step runs in."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message

from handlers.report.context import KIND_REPORT, Ctx, T, log
from handlers.report_view import Rendered
from models.base import utcnow
from models.rounds import Conversation
from models.rounds.errors import DraftMoved
from models.rounds.inserts import insert_for
from transport.context import Services


async def set_conversation(
    session: AsyncSession,
    person_id: int,
    kind: str,
    submission_id: int | None,
    state: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    # `now` is optional only for the rounds' set-up wizard, which does not pass it yet.
    values = {
        "person_id": person_id,
        "kind": kind,
        "submission_id": submission_id,
        "state": json.dumps(state or {}, ensure_ascii=False),
        "updated_at": now or utcnow(),
    }
    stmt = insert_for(session.get_bind().dialect.name)(Conversation).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["person_id"],
        set_={
            k: getattr(stmt.excluded, k) for k in ("kind", "submission_id", "state", "updated_at")
        },
    )
    await session.execute(stmt)


_C = cast(Table, Conversation.__table__).c

_SAVE_STATE = (
    update(cast(Table, Conversation.__table__))
    .where(_C.person_id == bindparam("pid"))
    .values(state=bindparam("state"), updated_at=bindparam("now"))
)
"""Built once: the answer step writes the person's conversation state every time (what
they were shown), so it is a prepared Core statement like the step's other writes."""


async def save_conversation_state(
    session: AsyncSession, person_id: int, state: dict[str, Any] | str, now: datetime
) -> None:
    text = state if isinstance(state, str) else json.dumps(state, ensure_ascii=False)
    await session.execute(_SAVE_STATE, {"pid": person_id, "state": text, "now": now})


async def clear_conversation(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(Conversation).where(Conversation.person_id == person_id))


def point(ctx: Ctx, state: dict[str, Any] | None = None) -> None:
    """Make the submission in `ctx` the person's conversation (written by sync_conversation)."""
    ctx.conv_kind, ctx.conv_sub_id, ctx.conv_state = KIND_REPORT, ctx.sub_id, dict(state or {})


def leave(ctx: Ctx) -> None:
    """End the person's conversation (written by sync_conversation)."""
    ctx.conv_kind, ctx.conv_sub_id, ctx.conv_state = None, None, {}


def in_this_report(ctx: Ctx) -> bool:
    """Is the person's conversation the report `ctx` is about?"""
    return ctx.conv_kind == KIND_REPORT and ctx.sub_id is not None and ctx.conv_sub_id == ctx.sub_id


async def sync_conversation(session: AsyncSession, ctx: Ctx) -> None:
    """Store the person's conversation as the step left it, in at most one statement,
    with "at": what the reply shows them (when it shows their report's question or
    review)."""
    if in_this_report(ctx) and ctx.shown is not None:
        ctx.conv_state["at"] = ctx.shown
    kind, sub = ctx.conv_kind, ctx.conv_sub_id
    state = json.dumps(ctx.conv_state, ensure_ascii=False)
    stored_kind, stored_sub, stored_state = ctx.conv_stored
    if (kind, sub) == (stored_kind, stored_sub):
        if kind is not None and state != stored_state:
            await save_conversation_state(session, ctx.person_id, state, ctx.now)
    elif kind is None:
        await clear_conversation(session, ctx.person_id)
    else:
        await set_conversation(session, ctx.person_id, kind, sub, ctx.conv_state, ctx.now)
    ctx.conv_stored = (kind, sub, state)


async def get_conversation_kind(session: AsyncSession, person_id: int) -> str | None:
    return (
        await session.execute(select(Conversation.kind).where(Conversation.person_id == person_id))
    ).scalar_one_or_none()


ATTEMPTS = 5
"""How often a step is done again when a colleague's write to the shared draft came
first (rs.DraftMoved); each attempt reads what is there now, so the second one nearly
always decides differently (e.g. "a colleague answered that question")."""


async def retrying(services: Services, step: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `step` in a transaction of its own, again from the start if the shared
    draft moved under it (its writes are rolled back, nothing half-done stays)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with services.transaction() as session:
                return await step(session)
        except DraftMoved as moved:
            log.info(
                "draft moved meanwhile, step done again",
                extra={"submission_id": moved.submission_id, "attempt": attempt},
            )
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def send(message: Message, reply: Rendered) -> None:
    await message.reply_text(reply.text, reply_markup=reply.markup, do_quote=False)
