"""Which report a person's plain text goes to (the `conversations` row), and the
retrying transaction every step runs in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message

from handlers.report.context import Ctx, T, log
from handlers.report_view import Rendered
from models.conversations import (
    Kind,
    ReportTalk,
    clear_conversation,
    save_state,
    set_conversation,
)
from models.conversations import conversation_kind as get_conversation_kind
from models.outbox import queued_in
from models.rounds.errors import DraftMoved
from models.rounds.step_write import TalkWrite, write_answer
from transport.context import Services
from transport.http import send_html

__all__ = [
    "clear_conversation",
    "get_conversation_kind",
    "in_this_report",
    "leave",
    "point",
    "retrying",
    "send",
    "set_conversation",
    "sync_conversation",
]


def point(ctx: Ctx, talk: ReportTalk | None = None) -> None:
    """Make the submission in `ctx` the person's conversation (written by sync_conversation)."""
    ctx.conv_kind, ctx.conv_sub_id, ctx.talk = Kind.REPORT, ctx.sub_id, talk or ReportTalk()


def leave(ctx: Ctx) -> None:
    """End the person's conversation (written by sync_conversation)."""
    ctx.conv_kind, ctx.conv_sub_id, ctx.talk = None, None, ReportTalk()


def in_this_report(ctx: Ctx) -> bool:
    """Is the person's conversation the report `ctx` is about?"""
    return ctx.conv_kind is Kind.REPORT and ctx.sub_id is not None and ctx.conv_sub_id == ctx.sub_id


async def sync_conversation(session: AsyncSession, ctx: Ctx) -> None:
    """Store the person's conversation as the step left it, in at most one statement,
    with "at": what the reply shows them (when it shows their report's question or
    review)."""
    if in_this_report(ctx) and ctx.shown is not None:
        ctx.talk = replace(ctx.talk, at=ctx.shown)
    kind, sub, talk = ctx.conv_kind, ctx.conv_sub_id, ctx.talk
    stored_kind, stored_sub, stored_talk = ctx.conv_stored
    if ctx.pending is not None:
        await _write_answer(session, ctx, talk)
        return
    if (kind, sub) == (stored_kind, stored_sub):
        # Another kind's state (a round set-up's) is not the step's to write.
        if kind is Kind.REPORT and talk != stored_talk:
            await save_state(session, ctx.person_id, talk, now=ctx.now)
    elif kind is None:
        await clear_conversation(session, ctx.person_id)
    else:
        await set_conversation(session, ctx.person_id, kind, sub, talk, now=ctx.now)
    ctx.conv_stored = (kind, sub, talk)


async def _write_answer(session: AsyncSession, ctx: Ctx, talk: ReportTalk) -> None:
    """The answer save_position left, with the conversation's new state when only its
    state changed (the common step); a conversation that changed more is written after."""
    assert ctx.pending is not None and ctx.form is not None
    pending, ctx.pending = ctx.pending, None
    kind, sub = ctx.conv_kind, ctx.conv_sub_id
    stored_kind, stored_sub, stored_talk = ctx.conv_stored
    same = (kind, sub) == (stored_kind, stored_sub)
    with_talk = same and kind is Kind.REPORT and talk != stored_talk
    await write_answer(
        session, ctx.form, pending, TalkWrite(ctx.person_id, talk) if with_talk else None
    )
    if with_talk or same:
        ctx.conv_stored = (kind, sub, talk)
    else:
        await sync_conversation(session, ctx)


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
                result = await step(session)
            if queued_in(session):  # a report to review: its reviewer is told now
                services.wake_outbox()
            return result
        except DraftMoved as moved:
            log.info(
                "draft moved meanwhile, step done again",
                extra={"submission_id": moved.submission_id, "attempt": attempt},
            )
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def send(message: Message, reply: Rendered) -> None:
    await send_html(message.get_bot(), message.chat_id, reply.text, reply.markup)
