"""Typed input for a notice draft (its text, a file, school codes, a time).

handlers/routing.py hands a message here when the sender is staff and their draft waits
for exactly that input (draft_waits_for): before their round set-up, after a report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from handlers.context import unit
from handlers.notices.compose import load_draft, prompt_sends
from handlers.notices.replies import Send, run_sends
from models.clock import parse_when
from models.notices import drafts
from models.notices.audiences import Audience, AudienceKind, parse_codes, resolve_audience
from models.notices.drafts import (
    INPUT_STEPS,
    STEP_ATTACHMENT,
    STEP_SCHOOLS,
    STEP_TEXT,
    STEP_TIME,
    STEP_TITLE,
    Outcome,
)
from models.notices.tables import NoticeDraft
from models.notices.titles import clean_title
from models.roster.tables import Person
from texts.notices.compose import draft_refusal
from texts.notices.messages import telegram_length, text_limit
from transport.context import HuibaoContext

Taken = tuple[Outcome, dict[str, object]]
Take = Callable[[AsyncSession, NoticeDraft, Message, HuibaoContext], Awaitable[Taken]]


async def draft_waits_for(session: AsyncSession, telegram_id: int, now: datetime) -> bool:
    """Does this person's notice draft wait for typed input? (one cheap read)"""
    draft = (
        await session.execute(
            select(NoticeDraft)
            .join(Person, Person.id == NoticeDraft.author_id)
            .where(Person.telegram_id == telegram_id)
        )
    ).scalar_one_or_none()
    return drafts.waits_for_input(draft, now)


async def draft_input(update: Update, context: HuibaoContext) -> None:
    """A message for the draft that waits for it (routing.Doing.NOTICE_DRAFT)."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    sends = await draft_answer(update, context, message, chat.id)
    if sends is not None:
        await run_sends(sends)


async def draft_answer(
    update: Update, context: HuibaoContext, message: Message, chat_id: int
) -> list[Send] | None:
    """Take the input for the draft; None when there is no draft waiting for it after all."""
    async with unit(update, context) as (session, who):
        if not who.role.is_staff:
            return None
        draft = await load_draft(session, who)
        if draft is None or draft.step not in INPUT_STEPS:
            return None
        outcome, facts = await TAKES[draft.step](session, draft, message, context)
        if outcome is not Outcome.PROMPT:
            return [partial(message.reply_text, draft_refusal(outcome, who._, **facts))]
        return await prompt_sends(session, draft, who, context, chat_id=chat_id)


async def take_title(
    _session: AsyncSession, draft: NoticeDraft, message: Message, context: HuibaoContext
) -> Taken:
    # The plain text: a title is shown in lists and buttons, where no HTML is kept.
    raw = message.text
    outcome = drafts.take_title(draft, raw, context.now())
    return outcome, {"length": len(clean_title(raw or ""))}


async def take_text(
    _session: AsyncSession, draft: NoticeDraft, message: Message, context: HuibaoContext
) -> Taken:
    text = message.text_html if message.text else None
    length = telegram_length(text or "")
    limit = text_limit(context.services.settings.bureau.name)
    outcome = drafts.take_text(draft, text, length, limit, context.now())
    return outcome, {"length": length, "limit": limit}


async def take_file(
    _session: AsyncSession, draft: NoticeDraft, message: Message, context: HuibaoContext
) -> Taken:
    kind = file_id = name = None
    if message.document is not None:
        kind, file_id = "document", message.document.file_id
        name = message.document.file_name or "document"
    elif message.photo:
        kind, file_id, name = "photo", message.photo[-1].file_id, "photo.jpg"
    return drafts.take_file(draft, kind, file_id, name, context.now()), {}


async def take_codes(
    session: AsyncSession, draft: NoticeDraft, message: Message, context: HuibaoContext
) -> Taken:
    codes = parse_codes(message.text or "")
    resolved = (
        await resolve_audience(session, Audience(AudienceKind.SCHOOLS, tuple(codes)))
        if codes else None
    )
    outcome = drafts.take_codes(draft, codes, resolved, context.now())
    shown = ""
    if resolved is not None:
        shown = ", ".join(resolved.unknown_codes or [s.code for s in resolved.inactive])
    return outcome, {"codes": shown}


async def take_time(
    _session: AsyncSession, draft: NoticeDraft, message: Message, context: HuibaoContext
) -> Taken:
    now = context.now()
    at = parse_when(message.text or "", context.services.settings.bureau.tz, now)
    return drafts.take_time(draft, at, now), {}


TAKES: dict[str, Take] = {
    STEP_TITLE: take_title,
    STEP_TEXT: take_text,
    STEP_ATTACHMENT: take_file,
    STEP_SCHOOLS: take_codes,
    STEP_TIME: take_time,
}
