"""/export: choose a round, receive its workbook, and under it a "📊 Charts" button
that draws the round's charts (those of the deadline summary) on demand.

Staff export the whole bureau, a district officer their own district; the role is read
from the database on every command and every button (principle 6), so a forged or stale
button gets a polite refusal, never someone else's district. Files are built in a
read-only session and sent after it: no upload holds a database connection.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InputFile, Update

from handlers import menu
from handlers.context import Who, unit
from handlers.status import Viewer, reply_with_rounds, round_rows, viewer_of
from models.followup.completeness import RoundNotFound, get_round
from models.forms import FormError
from outputs.charts import round_charts
from outputs.round_files import ChecksumMismatch, file_field_codes, files_zip
from outputs.workbook import workbook_bytes
from texts import export as texts
from texts import files as file_texts
from texts import status as status_texts
from texts.callbacks import ExportCharts, ExportFiles, ExportRound
from texts.i18n import N_, Gettext
from transport.context import HuibaoApp, HuibaoContext

log = logging.getLogger(__name__)

Rows = list[list[tuple[str, str]]]


async def export_command(update: Update, context: HuibaoContext) -> None:
    await reply_with_rounds(update, context, _round_list)


async def _round_list(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext
) -> tuple[str, Rows | None]:
    rows = await round_rows(session, who, viewer, context, ExportRound)
    if not rows:
        return texts.no_rounds(who._), None
    return texts.choose_round(who._), rows


async def _allowed(
    update: Update, context: HuibaoContext, round_id: int
) -> str | tuple[Who, Viewer]:
    """Who asks for this round's files, or why not."""
    async with unit(update, context) as (session, who):
        viewer = viewer_of(who)
        if viewer is None:
            return status_texts.refusal(who._, who.role)
        try:
            await get_round(session, round_id)
        except RoundNotFound:
            return who._("This round no longer exists.")
        return who, viewer


async def _pressed(
    update: Update, context: HuibaoContext, round_id: int, preparing: Callable[[Gettext], str]
) -> tuple[Who, Viewer] | None:
    """A press of a round's file button: refused with an alert (None), or answered with
    what is being prepared, before the files are read (no Bot API call in a transaction)."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    allowed = await _allowed(update, context, round_id)
    if isinstance(allowed, str):
        await query.answer(allowed, show_alert=True)
        return None
    await query.answer(preparing(allowed[0]._))
    return allowed


Send = Callable[[HuibaoContext, int], Awaitable[object]]
"""One file to send to a chat, after the session that read it has closed."""
Reader = Callable[[AsyncSession, Who, Viewer, HuibaoContext, int], Awaitable[list[Send]]]


async def _send_files(
    update: Update, context: HuibaoContext, round_id: int,
    preparing: Callable[[Gettext], str], read: Reader,
) -> None:
    """A press of a round's file button: checked, answered, the files read in a read-only
    session, then sent (or why they cannot be)."""
    pressed = await _pressed(update, context, round_id, preparing)
    if pressed is None or update.effective_chat is None:
        return
    who, viewer = pressed
    async with context.services.sessionmaker() as session:  # reads only
        try:
            sends = await read(session, who, viewer, context, round_id)
        except (FormError, RoundNotFound):
            log.exception("files of round %s: its form cannot be read", round_id)
            sends = []
    chat_id = update.effective_chat.id
    if not sends:
        await context.bot.send_message(chat_id, texts.unreadable_form(who._))
    for send in sends:
        await send(context, chat_id)


async def _workbook(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext, round_id: int
) -> list[Send]:
    data, result = await workbook_bytes(session, round_id, who.language,
                                        context.services.settings, district_id=viewer.district_id)
    buttons = texts.workbook_buttons(who._, round_id)
    if await file_field_codes(session, round_id):
        buttons[0].append(file_texts.files_button(who._, round_id))

    async def send(context: HuibaoContext, chat_id: int) -> object:
        return await context.bot.send_document(
            chat_id,
            InputFile(io.BytesIO(data), filename=result.filename),
            caption=texts.workbook_caption(who.language, result.schools, result.submitted),
            reply_markup=menu.keyboard(buttons),
        )

    return [send]


async def _charts(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext, round_id: int
) -> list[Send]:
    title, pngs = await round_charts(session, round_id, who.language, context.services.settings,
                                     context.now(), viewer.district_id)

    def chart(n: int, png: bytes) -> Send:
        caption = escape(texts.chart_caption(who._, title, n, len(pngs)), quote=False)

        async def send(context: HuibaoContext, chat_id: int) -> object:
            return await context.bot.send_photo(
                chat_id, InputFile(io.BytesIO(png), filename=f"chart-{n + 1}.png"),
                caption=caption)

        return send

    return [chart(n, png) for n, png in enumerate(pngs)]


BOT_UPLOAD_LIMIT = 50 * 1024 * 1024
"""The largest file a bot may send through the Bot API."""


async def _files(
    session: AsyncSession, who: Who, viewer: Viewer, context: HuibaoContext, round_id: int
) -> list[Send]:
    """The files schools sent in the round (a district officer: their district's), as a zip."""
    try:
        zipped = await files_zip(session, round_id, context.services.settings,
                                 viewer.district_id, limit=BOT_UPLOAD_LIMIT)
    except (ChecksumMismatch, FileNotFoundError):
        log.exception("files of round %s cannot be exported", round_id)
        zipped = None

    async def send(context: HuibaoContext, chat_id: int) -> object:
        if zipped is None:
            return await context.bot.send_message(chat_id, file_texts.files_damaged(who._))
        if not zipped.count:
            return await context.bot.send_message(chat_id, file_texts.no_files(who._))
        if zipped.data is None:
            mb = -(-zipped.size // (1024 * 1024))
            return await context.bot.send_message(chat_id, file_texts.zip_too_large(who._, mb))
        return await context.bot.send_document(
            chat_id, InputFile(io.BytesIO(zipped.data), filename=f"round-{round_id}-files.zip"),
            caption=file_texts.files_caption(who._, zipped.count))

    return [send]


async def export_button(update: Update, context: HuibaoContext, button: ExportRound) -> None:
    await _send_files(update, context, button.round_id, texts.preparing_workbook, _workbook)


async def charts_button(update: Update, context: HuibaoContext, button: ExportCharts) -> None:
    await _send_files(update, context, button.round_id, texts.preparing_charts, _charts)


async def files_button(update: Update, context: HuibaoContext, button: ExportFiles) -> None:
    await _send_files(update, context, button.round_id, file_texts.preparing_files, _files)


def register(app: HuibaoApp) -> None:
    # Through the menu registry: staff and district officers see /export in their command
    # lists, everyone else is refused before these callbacks run (the callbacks still
    # check which district the person may see).
    viewers = menu.STAFF | menu.DISTRICT
    menu.add_command(app, "export", export_command, N_("A round as Excel"), viewers, order=31)
    menu.add_button(app, ExportRound, export_button, viewers, example=ExportRound(1))
    menu.add_button(app, ExportCharts, charts_button, viewers, example=ExportCharts(1))
    menu.add_button(app, ExportFiles, files_button, viewers, example=ExportFiles(1))
