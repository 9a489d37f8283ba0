"""A file sent as the answer to a form's `file` question (the stamped scan of a table).

Three steps, so that no download happens inside a database transaction (principle 7):
1. read the draft: is the person at a file question? Telegram tells a file's size and
   type before it is fetched, so a file too large or of a wrong kind is refused here,
   before a byte is downloaded (a bot cannot download more than 20 MB anyway);
2. download it through the Bot API, check its first bytes, and (on PostgreSQL with
   `[files] dir`) write it to the folder, named by its SHA-256;
3. in a transaction of its own, read the draft again: if it is still at that question,
   record the file and its answer and show the next question; if a colleague moved the
   draft meanwhile, nothing is stored (a file written to the folder stays unreferenced,
   harmless: the folder is content-addressed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.error import TelegramError

from config.settings import files_directory
from handlers.report.answer import apply_changes, guard, moved_since_shown, refusal
from handlers.report.context import Ctx, load_ctx
from handlers.report.conversation import leave, retrying, send, sync_conversation
from handlers.report.screens import render_position, render_question
from handlers.report_view import Rendered
from models.files import Refusal, Upload, check_bytes, check_upload, kind_of, save_file
from models.files.store import Kept, store_bytes
from models.forms import AnswerKey, FieldDef, Step, format_value, steps
from texts import files as texts
from texts.i18n import gettext_for
from transport.context import HuibaoContext, Services

log = logging.getLogger("huibao.report.files")


@dataclass(frozen=True, slots=True)
class Attachment:
    """What Telegram tells of a file before it is downloaded."""

    file_id: str
    name: str
    mime: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Wanted:
    """A file the draft's current question may take: which question, and its field."""

    key: AnswerKey
    field: FieldDef
    lang: str
    file_mb: int


def attachment_of(message: Message) -> Attachment | None:
    doc = message.document
    if doc is not None:
        name = doc.file_name or "file"
        return Attachment(doc.file_id, name, doc.mime_type or "", doc.file_size)
    if message.photo:
        # Telegram sends a photo in several sizes, largest last; photos are JPEG.
        largest = message.photo[-1]
        return Attachment(largest.file_id, f"photo-{message.message_id}.jpg", "image/jpeg",
                          largest.file_size)
    return None


async def on_file(update: Update, context: HuibaoContext) -> None:
    """A document or a photo from a person whose conversation is a report."""
    message = update.effective_message
    if message is None:
        return
    sent = attachment_of(message)
    if sent is None:
        return
    services = context.services
    first = await retrying(services, lambda session: _check(session, services, update, sent))
    if isinstance(first, Rendered):
        await send(message, first)
        return
    data = await _download(context, sent)
    reply = _refuse_bytes(first, data, sent)
    if reply is None:
        assert data is not None
        kept = await asyncio.to_thread(store_bytes, files_directory(services.settings), data)
        reply = await retrying(
            services, lambda session: _record(session, services, update, first, sent, data, kept)
        )
    await send(message, reply)


async def _check(
    session: AsyncSession, services: Services, update: Update, sent: Attachment
) -> Rendered | Wanted:
    """Whether the person's current question takes this file (step 1)."""
    ctx = await load_ctx(session, services, update)
    if ctx is None:
        return Rendered(texts.not_now(gettext_for(services.settings.bureau.default_language)))
    reply = await _not_taken(session, services, ctx)
    if reply is not None:
        await sync_conversation(session, ctx)
        return reply
    assert ctx.form is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = ctx.current(visible)
    moved = moved_since_shown(ctx, visible, step)
    if moved is not None:
        reply = render_position(ctx, [moved, ""])
    elif step is None or step.field is None:  # the review, or "is there another item?"
        reply = render_position(ctx, [texts.not_now(ctx._), ""])
    elif step.field.type != "file":
        reply = render_position(ctx, [texts.not_a_file_question(ctx._), ""])
    else:
        why = check_upload(step.field, ctx.file_mb, sent.name, sent.mime, sent.size)
        if why is None:
            return Wanted(step.key, step.field, ctx.lang, ctx.file_mb)
        reply = _refused(ctx, visible, step, why, sent.size)
    await sync_conversation(session, ctx)
    return reply


async def _not_taken(session: AsyncSession, services: Services, ctx: Ctx) -> Rendered | None:
    """Why the report takes no file now: closed, submitted, not theirs, or waiting for
    typed words (a reason, a comment)."""
    why = guard(ctx, services.now())
    if why is not None:
        leave(ctx)
        return await refusal(session, services, ctx, why)
    if ctx.talk.awaiting is not None:
        return Rendered(texts.not_now(ctx._))
    return None


def _refused(ctx: Ctx, visible: list[Step], step: Step, why: Refusal, size: int | None) -> Rendered:
    """The refusal, with the same question (and its buttons) under it."""
    assert step.field is not None
    label = escape(step.field.label.get(ctx.lang))
    if why.reason == "too_large":
        text = texts.too_large(ctx._, label, size, why.max_mb)
    else:
        text = texts.wrong_kind(ctx._, label, step.field.kinds)
    return render_question(ctx, visible, step, [text, ""])


async def _download(context: HuibaoContext, sent: Attachment) -> bytes | None:
    """The file's bytes through the Bot API (step 2); None when Telegram would not give them."""
    try:
        tg_file = await context.bot.get_file(sent.file_id)
        return bytes(await tg_file.download_as_bytearray())
    except TelegramError:
        log.warning("a file could not be downloaded", exc_info=True)
        return None


def _refuse_bytes(wanted: Wanted, data: bytes | None, sent: Attachment) -> Rendered | None:
    """The downloaded bytes refused: not fetched, larger than said, or not their kind."""
    _ = gettext_for(wanted.lang)
    if data is None:
        return Rendered(texts.not_fetched(_))
    kind = kind_of(sent.name, sent.mime)
    assert kind is not None  # check_upload took it
    why = check_bytes(wanted.field, wanted.file_mb, data, kind)
    if why is None:
        return None
    label = escape(wanted.field.label.get(wanted.lang))
    if why.reason == "too_large":
        return Rendered(texts.too_large(_, label, len(data), why.max_mb))
    return Rendered(texts.wrong_kind(_, label, wanted.field.kinds))


async def _record(
    session: AsyncSession,
    services: Services,
    update: Update,
    wanted: Wanted,
    sent: Attachment,
    data: bytes,
    kept: Kept,
) -> Rendered:
    """Record the file as the answer, if the draft is still at its question (step 3)."""
    ctx = await load_ctx(session, services, update)
    assert ctx is not None
    reply = await _not_taken(session, services, ctx)
    if reply is not None:
        await sync_conversation(session, ctx)
        return reply
    assert ctx.form is not None and ctx.sub_id is not None
    message = update.effective_message
    ctx.message_id = message.message_id if message is not None else None
    seen = ctx.draft.seen.get(ctx.person_id)
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = ctx.current(visible)
    moved = moved_since_shown(ctx, visible, step)
    if moved is not None or step is None or step.key != wanted.key:
        reply = render_position(ctx, [moved or texts.not_a_file_question(ctx._), ""])
    elif ctx.message_id is not None and seen is not None and ctx.message_id <= seen:
        reply = render_position(ctx)  # stored before a crash: show where the draft is
    else:
        upload = Upload(ctx.sub_id, wanted.key[0], wanted.key[1], sent.name, sent.mime, data,
                        ctx.person_id)
        ref = await save_file(session, services.now(), upload, kept)
        answer = ref.encode()
        after = await apply_changes(session, ctx, step.key, {step.key: answer})
        shown = format_value(wanted.field, answer, ctx.lang)
        reply = Rendered(texts.received(ctx._, escape(shown)) + "\n\n" + after.text, after.markup)
    await sync_conversation(session, ctx)
    return reply
