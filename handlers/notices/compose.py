"""Notices in chat: staff compose and send them (/notice), follow acknowledgements and remind
(/notices); principals acknowledge them and open them again (/notices).

The draft lives in the database (notice_drafts), one step at a time, so a restart in the
middle of composing loses nothing (principle 1). Every staff command and button re-reads
the role from the database (principle 6); every button's data is checked against the
database before anything happens, and anything stale or forged gets a polite refusal.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    MessageHandler,
    filters,
)

from config.settings import Settings
from handlers import menu, report
from handlers.context import Who, unit
from handlers.notices_render import (
    ACK_PREFIX,
    PREVIEW_ACK,
    NoticeContent,
    acknowledged_keyboard,
    notice_messages,
    recipient_language,
    reminder_message,
    renderer,
    telegram_length,
    text_limit,
    title_of,
)
from models.audit import record
from models.base import utcnow
from models.clock import after_quiet_hours, parse_when
from models.notices import (
    AckOutcome,
    Audience,
    AudienceKind,
    NewNotice,
    Notice,
    NoticeDraft,
    NoticeRecipient,
    ack_counts,
    acknowledge,
    create_notice,
    districts,
    notice_stats,
    notices_for,
    parse_codes,
    pending_auto_reminders,
    recent_notices,
    reminder_targets,
    resolve_audience,
)
from models.outbox import (
    OutboxFile,
    Outgoing,
    OutMessage,
    Requeued,
    enqueue,
    purpose_of_notice,
    requeue_failed,
)
from models.people import District, Person, School, Stage
from texts.delivery import requeued_text
from texts.i18n import N_, Gettext
from transport.context import HuibaoApp, HuibaoContext, Services
from transport.markup import keyboard_markup

log = logging.getLogger("huibao.notices")

# Draft input (text, files, codes, times) is caught before onboarding's typed codes (group
# -1), and only when the person has a draft waiting for exactly that input; everything
# else passes on untouched. It comes after the report conversation (group -10), which
# stops principals' answers before this handler has to look for a draft, and which gives
# a staff member's text to the draft first (report.STAFF_INPUT) when one is waiting.
DRAFT_GROUP = -5
READERS = menu.STAFF | menu.SCHOOL
# A draft untouched for this long no longer catches messages; /notice offers to resume it.
DRAFT_IDLE = timedelta(hours=2)
LIST_LIMIT = 10
NAMES_LIMIT = 40
SCHEDULE_MAX = timedelta(days=90)

STEP_TEXT = "text"
STEP_ATTACHMENT = "attachment"
STEP_AUDIENCE = "audience"
STEP_DISTRICTS = "districts"
STEP_STAGES = "stages"
STEP_SCHOOLS = "schools"
STEP_ACK = "ack"
STEP_WHEN = "when"
STEP_TIME = "time"
STEP_PREVIEW = "preview"
INPUT_STEPS = {STEP_TEXT, STEP_ATTACHMENT, STEP_SCHOOLS, STEP_TIME}

STAGE_LABELS: dict[str, str] = {
    Stage.KINDERGARTEN.value: N_("kindergarten"),
    Stage.PRIMARY.value: N_("primary school"),
    Stage.JUNIOR.value: N_("junior secondary school"),
    Stage.SENIOR.value: N_("senior secondary school"),
    Stage.NINE_YEAR.value: N_("nine-year school"),
    Stage.COMPLETE_SECONDARY.value: N_("complete secondary school"),
    Stage.VOCATIONAL.value: N_("vocational school"),
    Stage.TEACHING_POINT.value: N_("teaching point"),
}

Keyboard = list[list[InlineKeyboardButton]]
# A Bot API call prepared inside a transaction and made after it has committed: a slow
# Telegram must never keep a transaction (on SQLite, the one write lock) open.
Send = Callable[[], Awaitable[object]]


async def run_sends(sends: Sequence[Send]) -> None:
    for send in sends:
        await send()


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def bureau_time(at: datetime, settings: Settings) -> str:
    return at.astimezone(settings.bureau.tz).strftime("%Y-%m-%d %H:%M")


async def refuse(query: CallbackQuery | None, message: Message | None, text: str) -> None:
    try:
        if query is not None:
            await query.answer(text, show_alert=True)
        elif message is not None:
            await message.reply_text(text)
    except TelegramError:
        log.warning("could not send a refusal")


def stale_text(_: Gettext) -> str:
    return _("This button is no longer valid. Send /notice or /notices to start again.")


# --- the draft -----------------------------------------------------------------------------


def next_step(draft: NoticeDraft) -> str:
    if draft.text is None:
        return STEP_TEXT
    if draft.attachment_kind is None:
        return STEP_ATTACHMENT
    if draft.audience is None:
        return STEP_AUDIENCE
    if draft.requires_ack is None:
        return STEP_ACK
    if draft.send_mode is None:
        return STEP_WHEN
    if draft.send_mode == "at" and draft.scheduled_at is None:
        return STEP_TIME
    return STEP_PREVIEW


def changed(draft: NoticeDraft, step: str | None = None) -> None:
    draft.version += 1
    draft.updated_at = utcnow()
    draft.step = step or next_step(draft)


def draft_content(draft: NoticeDraft) -> NoticeContent:
    return NoticeContent(
        text=draft.text or "",
        requires_ack=bool(draft.requires_ack),
        attachment_kind=draft.attachment_kind,
        attachment_file_id=draft.attachment_file_id,
        attachment_name=draft.attachment_name,
    )


async def audience_text(session: AsyncSession, audience: Audience, _: Gettext) -> str:
    if audience.kind is AudienceKind.ALL:
        return _("all schools")
    if audience.kind is AudienceKind.DISTRICTS:
        names = (
            await session.execute(
                select(District.name).where(District.id.in_([int(v) for v in audience.values]))
            )
        ).scalars()
        return _("districts: {names}").format(names=html.escape("、".join(sorted(names))))
    if audience.kind is AudienceKind.STAGES:
        labels = [_(STAGE_LABELS.get(str(v), str(v))) for v in audience.values]
        return _("stages: {names}").format(names="、".join(labels))
    return _("chosen schools: {codes}").format(
        codes=html.escape(" ".join(str(v) for v in audience.values))
    )


def school_list(schools: Sequence[School], _: Gettext) -> str:
    shown = [f"{html.escape(s.code)} {html.escape(s.name)}" for s in schools[:NAMES_LIMIT]]
    if len(schools) > NAMES_LIMIT:
        shown.append(_("… and {count} more").format(count=len(schools) - NAMES_LIMIT))
    return "\n".join("• " + line for line in shown)


async def prompt(
    session: AsyncSession, draft: NoticeDraft, who: Who, services: Services
) -> tuple[str, Keyboard]:
    """The question for the draft's current step, with its buttons."""
    _ = who._
    cancel = [button(_("Cancel"), "nd:cancel")]
    step = draft.step
    if step == STEP_TEXT:
        limit = text_limit(services.settings.bureau.name)
        return (
            _(
                "<b>New notice</b> · step 1 of 5\n\nSend the text of the notice as one "
                "message (up to {limit} characters; bold, italics and links are kept)."
            ).format(limit=limit),
            [cancel],
        )
    if step == STEP_ATTACHMENT:
        return (
            _(
                "Step 2 of 5 · Send a document or a photo to attach to the notice, or tap "
                "“No attachment”."
            ),
            [[button(_("No attachment"), "nd:noatt")], cancel],
        )
    if step == STEP_AUDIENCE:
        return (
            _("Step 3 of 5 · Who should receive it?"),
            [
                [button(_("All schools"), "nd:aud:all")],
                [button(_("By district"), "nd:aud:d"), button(_("By stage"), "nd:aud:s")],
                [button(_("Type school codes"), "nd:aud:c")],
                cancel,
            ],
        )
    if step == STEP_DISTRICTS:
        chosen = {int(v) for v in draft.selection}
        rows: Keyboard = []
        row: list[InlineKeyboardButton] = []
        for district in await districts(session):
            mark = "☑ " if district.id in chosen else "☐ "
            row.append(button(mark + district.name, f"nd:d:{district.id}"))
            if len(row) == 2:
                rows.append(row)
                row = []
        if row:
            rows.append(row)
        rows.append([button(_("Done"), "nd:d:ok"), button(_("Back"), "nd:aud")])
        return _("Step 3 of 5 · Tick the districts, then tap “Done”."), rows
    if step == STEP_STAGES:
        chosen_stages = {str(v) for v in draft.selection}
        rows = []
        row = []
        for code, label in STAGE_LABELS.items():
            mark = "☑ " if code in chosen_stages else "☐ "
            row.append(button(mark + _(label), f"nd:s:{code}"))
            if len(row) == 2:
                rows.append(row)
                row = []
        if row:
            rows.append(row)
        rows.append([button(_("Done"), "nd:s:ok"), button(_("Back"), "nd:aud")])
        return _("Step 3 of 5 · Tick the school stages, then tap “Done”."), rows
    if step == STEP_SCHOOLS:
        return (
            _(
                "Step 3 of 5 · Type the codes of the schools, separated by spaces or commas "
                "(for example: S00001 S00002)."
            ),
            [[button(_("Back"), "nd:aud")], cancel],
        )
    if step == STEP_ACK:
        return (
            _("Step 4 of 5 · Must recipients acknowledge it (tap “Acknowledge”)?"),
            [[button(_("Yes, ask for acknowledgement"), "nd:ack:1")],
             [button(_("No"), "nd:ack:0")], cancel],
        )
    if step == STEP_WHEN:
        return (
            _("Step 5 of 5 · When should it go out?"),
            [[button(_("Send now"), "nd:w:now"), button(_("At a time…"), "nd:w:at")], cancel],
        )
    if step == STEP_TIME:
        example = bureau_time(utcnow() + timedelta(days=1), services.settings).split()[0]
        return (
            _(
                "Type the date and time ({zone} time), for example: {example} 09:00"
            ).format(zone=services.settings.bureau.timezone, example=example),
            [[button(_("Send now instead"), "nd:w:now")], cancel],
        )
    return "", []


async def prompt_sends(
    session: AsyncSession,
    draft: NoticeDraft,
    who: Who,
    context: HuibaoContext,
    *,
    query: CallbackQuery | None = None,
    chat_id: int,
) -> list[Send]:
    """The current step's question (editing the pressed message when there is one), worked
    out in the transaction, to be asked after it has committed."""
    if draft.step == STEP_PREVIEW:
        return await preview_sends(session, draft, who, context, chat_id=chat_id, query=query)
    text, rows = await prompt(session, draft, who, context.services)
    markup = InlineKeyboardMarkup(rows) if rows else None
    return [partial(ask, context, chat_id, text, markup, query)]


async def ask(
    context: HuibaoContext,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    query: CallbackQuery | None,
) -> None:
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
    await context.bot.send_message(chat_id, text, reply_markup=markup)


async def unmark(query: CallbackQuery | None) -> None:
    """The question answered: leave it as a record, without its buttons."""
    if query is not None and query.message is not None:
        try:
            await query.edit_message_reply_markup(None)
        except TelegramError:
            pass


async def preview_sends(
    session: AsyncSession,
    draft: NoticeDraft,
    who: Who,
    context: HuibaoContext,
    *,
    chat_id: int,
    query: CallbackQuery | None = None,
) -> list[Send]:
    _ = who._
    settings = context.services.settings
    content = draft_content(draft)
    audience = Audience.from_json(draft.audience)
    assert audience is not None
    resolved = await resolve_audience(session, audience)
    sends: list[Send] = [partial(unmark, query)]
    for message in notice_messages(content, who.language, settings.bureau.name,
                                   ack_data=PREVIEW_ACK):
        sends.append(partial(send_out_message, context, chat_id, message))
    lines = [
        _("<b>Preview</b> ↑ This is exactly what recipients will see (the heading and "
          "buttons in each recipient's own language)."),
        "",
        _("Audience: {audience}").format(audience=await audience_text(session, audience, _)),
        _("Recipients: {people} people at {schools} schools").format(
            people=len(resolved.recipients), schools=resolved.school_count
        ),
    ]
    if resolved.excluded:
        lines.append(
            _("Left out, nobody connected there yet ({count}):").format(
                count=len(resolved.excluded)
            )
        )
        lines.append(school_list(resolved.excluded, _))
    lines.append(
        _("Acknowledgement: required") if draft.requires_ack else
        _("Acknowledgement: not required")
    )
    if draft.send_mode == "at" and draft.scheduled_at is not None:
        lines.append(_("Sending: at {time}").format(time=bureau_time(draft.scheduled_at, settings)))
    else:
        lines.append(_("Sending: as soon as you tap “Send”"))
    rows: Keyboard = []
    if resolved.recipients:
        rows.append([button(_("Send"), f"nd:send:{draft.version}")])
    else:
        lines.append("")
        lines.append(_("Nobody would receive this notice: choose another audience."))
    rows.append(
        [button(_("Edit"), f"nd:edit:{draft.version}"), button(_("Cancel"), "nd:cancel")]
    )
    sends.append(
        partial(
            context.bot.send_message, chat_id, "\n".join(lines),
            reply_markup=InlineKeyboardMarkup(rows),
        )
    )
    return sends


async def send_out_message(context: HuibaoContext, chat_id: int, message: OutMessage) -> Message:
    """Send one rendered message directly (previews, /notices), as the worker would."""
    markup = keyboard_markup(message.keyboard) if message.keyboard else None
    reply = (
        ReplyParameters(message.reply_to_message_id, allow_sending_without_reply=True)
        if message.reply_to_message_id
        else None
    )
    if message.kind == "text":
        return await context.bot.send_message(
            chat_id, message.text, parse_mode=message.parse_mode, reply_markup=markup,
            reply_parameters=reply,
        )
    file: str | None = message.file_id
    if file is None and message.file_blob_id is not None:
        file = await blob_file_id(context.services, message.file_blob_id)
    if file is None:
        return await context.bot.send_message(chat_id, message.text, reply_markup=markup)
    if message.kind == "photo":
        return await context.bot.send_photo(
            chat_id, file, caption=message.text or None, parse_mode=message.parse_mode,
            reply_markup=markup, reply_parameters=reply,
        )
    return await context.bot.send_document(
        chat_id, file, caption=message.text or None, parse_mode=message.parse_mode,
        reply_markup=markup, reply_parameters=reply,
    )


async def blob_file_id(services: Services, blob_id: int) -> str | None:
    async with services.sessionmaker() as session:
        blob = await session.get(OutboxFile, blob_id)
        return blob.telegram_file_id if blob is not None else None


async def load_draft(session: AsyncSession, who: Who) -> NoticeDraft | None:
    return await session.get(NoticeDraft, who.person.id)


# --- /notice and the draft's buttons ------------------------------------------------------


async def notice_command(update: Update, context: HuibaoContext) -> None:
    await run_sends(await new_draft(update, context))


async def new_draft(update: Update, context: HuibaoContext) -> list[Send]:
    chat = update.effective_chat
    assert chat is not None
    async with unit(update, context) as (session, who):
        draft = await load_draft(session, who)
        if draft is not None and draft.text is not None:
            return [resume_offer(context, chat.id, draft, who)]
        if draft is None:
            draft = NoticeDraft(author_id=who.person.id, step=STEP_TEXT, version=1, selection=[])
            session.add(draft)
        else:
            reset(draft)
        changed(draft, STEP_TEXT)
        await session.flush()
        return await prompt_sends(session, draft, who, context, chat_id=chat.id)


def resume_offer(context: HuibaoContext, chat_id: int, draft: NoticeDraft, who: Who) -> Send:
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [[button(_("Continue it"), "nd:resume"), button(_("Start over"), "nd:new")],
         [button(_("Cancel"), "nd:cancel")]]
    )
    title = html.escape(title_of(draft.text or ""))
    return partial(
        context.bot.send_message,
        chat_id,
        _("You have an unfinished notice: “{title}”.").format(title=title),
        reply_markup=keyboard,
    )


def reset(draft: NoticeDraft) -> None:
    draft.text = None
    draft.attachment_kind = draft.attachment_file_id = draft.attachment_name = None
    draft.audience = None
    draft.selection = []
    draft.requires_ack = None
    draft.send_mode = None
    draft.scheduled_at = None


async def draft_button(update: Update, context: HuibaoContext) -> None:
    # Committed: now the worker may send and the sender may be told.
    await run_sends(await press_draft(update, context))


async def press_draft(update: Update, context: HuibaoContext) -> list[Send]:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    data = (query.data or "").removeprefix("nd:")
    async with unit(update, context) as (session, who):
        _ = who._
        if not who.role.is_staff:
            return [partial(refuse, query, None, _("Only bureau staff can send notices."))]
        if data == "pvack":
            return [partial(
                query.answer,
                _("This is the preview: recipients' presses will be counted."),
                show_alert=True,
            )]
        draft = await load_draft(session, who)
        if data == "start":
            if draft is not None and draft.text is not None:
                return [query.answer, resume_offer(context, chat.id, draft, who)]
            if draft is None:
                draft = NoticeDraft(
                    author_id=who.person.id, step=STEP_TEXT, version=0, selection=[]
                )
                session.add(draft)
        if draft is None:
            return [partial(refuse, query, None, stale_text(_))]
        after: list[Send] = []
        outcome = await apply_button(session, draft, data, who, context, query, chat.id, after)
        if outcome is None:
            return after
        if outcome:
            return [partial(query.answer, outcome, show_alert=True)]
        return [
            query.answer,
            *await prompt_sends(session, draft, who, context, query=query, chat_id=chat.id),
        ]


async def apply_button(
    session: AsyncSession,
    draft: NoticeDraft,
    data: str,
    who: Who,
    context: HuibaoContext,
    query: CallbackQuery,
    chat_id: int,
    after: list[Send],
) -> str | None:
    """Change the draft for a button; returns an alert text, "" to show the next prompt, or
    None when the button's answer is in `after` (sent, cancelled), to be given after the
    commit."""
    _ = who._
    parts = data.split(":")
    action = parts[0]
    if action == "start":
        reset(draft)
        changed(draft, STEP_TEXT)
        after.append(query.answer)
        after.extend(await prompt_sends(session, draft, who, context, chat_id=chat_id))
        return None
    if action == "cancel":
        await session.delete(draft)
        after.append(query.answer)
        after.append(partial(query.edit_message_text, _("The notice was discarded.")))
        return None
    if action == "resume":
        draft.updated_at = utcnow()
        draft.step = next_step(draft) if draft.step == STEP_PREVIEW else draft.step
        return ""
    if action == "new":
        reset(draft)
        changed(draft, STEP_TEXT)
        return ""
    if action == "noatt" and draft.step == STEP_ATTACHMENT:
        draft.attachment_kind = "none"
        draft.attachment_file_id = draft.attachment_name = None
        changed(draft)
        return ""
    if action == "aud" and len(parts) == 1 and draft.step in (
        STEP_DISTRICTS, STEP_STAGES, STEP_SCHOOLS, STEP_AUDIENCE
    ):
        changed(draft, STEP_AUDIENCE)
        return ""
    if action == "aud" and len(parts) == 2 and draft.step == STEP_AUDIENCE:
        choice = parts[1]
        if choice == "all":
            draft.audience = Audience(AudienceKind.ALL).to_json()
            changed(draft)
            return ""
        step = {"d": STEP_DISTRICTS, "s": STEP_STAGES, "c": STEP_SCHOOLS}.get(choice)
        if step is None:
            return stale_text(_)
        draft.selection = []
        changed(draft, step)
        return ""
    if action == "d" and len(parts) == 2 and draft.step == STEP_DISTRICTS:
        if parts[1] == "ok":
            if not draft.selection:
                return _("Tick at least one district.")
            draft.audience = Audience(AudienceKind.DISTRICTS, tuple(draft.selection)).to_json()
            changed(draft)
            return ""
        if not parts[1].isdigit() or await session.get(District, int(parts[1])) is None:
            return stale_text(_)
        draft.selection = toggled(draft.selection, int(parts[1]))
        changed(draft, STEP_DISTRICTS)
        return ""
    if action == "s" and len(parts) == 2 and draft.step == STEP_STAGES:
        if parts[1] == "ok":
            if not draft.selection:
                return _("Tick at least one stage.")
            draft.audience = Audience(AudienceKind.STAGES, tuple(draft.selection)).to_json()
            changed(draft)
            return ""
        if parts[1] not in STAGE_LABELS:
            return stale_text(_)
        draft.selection = toggled(draft.selection, parts[1])
        changed(draft, STEP_STAGES)
        return ""
    if action == "ack" and len(parts) == 2 and parts[1] in ("0", "1") and draft.step == STEP_ACK:
        draft.requires_ack = parts[1] == "1"
        changed(draft)
        return ""
    if action == "w" and len(parts) == 2 and draft.step in (STEP_WHEN, STEP_TIME):
        if parts[1] == "now":
            draft.send_mode = "now"
            draft.scheduled_at = None
            changed(draft)
            return ""
        if parts[1] == "at":
            draft.send_mode = "at"
            draft.scheduled_at = None
            changed(draft, STEP_TIME)
            return ""
        return stale_text(_)
    if action == "edit" and len(parts) == 2:
        if parts[1] != str(draft.version) or draft.step != STEP_PREVIEW:
            return _("This preview is out of date; use the newest one.")
        after.append(query.answer)
        after.append(partial(query.edit_message_reply_markup, edit_keyboard(draft, _)))
        return None
    if action == "e" and len(parts) == 3 and draft.step == STEP_PREVIEW:
        if parts[2] != str(draft.version):
            return _("This preview is out of date; use the newest one.")
        step = {
            "text": STEP_TEXT, "att": STEP_ATTACHMENT, "aud": STEP_AUDIENCE,
            "ack": STEP_ACK, "when": STEP_WHEN, "back": STEP_PREVIEW,
        }.get(parts[1])
        if step is None:
            return stale_text(_)
        if step == STEP_PREVIEW:
            after.append(query.answer)
            after.append(partial(query.edit_message_reply_markup, preview_keyboard(draft, _)))
            return None
        changed(draft, step)
        return ""
    if action == "send" and len(parts) == 2:
        if parts[1] != str(draft.version) or draft.step != STEP_PREVIEW:
            return _("This preview is out of date; use the newest one.")
        return await send_draft(session, draft, who, context, query, chat_id, after)
    return stale_text(_)


def toggled(selection: list[object], value: object) -> list[object]:
    return [v for v in selection if v != value] if value in selection else [*selection, value]


def preview_keyboard(draft: NoticeDraft, _: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [button(_("Send"), f"nd:send:{draft.version}")],
            [button(_("Edit"), f"nd:edit:{draft.version}"), button(_("Cancel"), "nd:cancel")],
        ]
    )


def edit_keyboard(draft: NoticeDraft, _: Gettext) -> InlineKeyboardMarkup:
    v = draft.version
    return InlineKeyboardMarkup(
        [
            [button(_("Text"), f"nd:e:text:{v}"), button(_("Attachment"), f"nd:e:att:{v}")],
            [button(_("Audience"), f"nd:e:aud:{v}"),
             button(_("Acknowledgement"), f"nd:e:ack:{v}")],
            [button(_("Send time"), f"nd:e:when:{v}"), button(_("Back"), f"nd:e:back:{v}")],
        ]
    )


async def send_draft(
    session: AsyncSession,
    draft: NoticeDraft,
    who: Who,
    context: HuibaoContext,
    query: CallbackQuery,
    chat_id: int,
    after: list[Send],
) -> str | None:
    """Turn the draft into a notice with one delivery per recipient, in this transaction."""
    _ = who._
    services = context.services
    settings = services.settings
    audience = Audience.from_json(draft.audience)
    if audience is None or draft.text is None:
        return stale_text(_)
    limit = text_limit(settings.bureau.name, bool(draft.requires_ack))
    if telegram_length(draft.text) > limit:
        return too_long_text(telegram_length(draft.text), limit, _)
    now = utcnow()
    scheduled = draft.scheduled_at if draft.send_mode == "at" else None
    if scheduled is not None and scheduled <= now:
        return _("The chosen time has passed: choose a new one with “Edit”.")
    if not (await resolve_audience(session, audience)).recipients:
        return _("Nobody would receive this notice: choose another audience.")
    attachment = draft.attachment_kind if draft.attachment_kind in ("document", "photo") else None
    created = await create_notice(
        session,
        NewNotice(
            text=draft.text,
            audience=audience,
            requires_ack=bool(draft.requires_ack),
            author_id=who.person.id,
            attachment_kind=attachment,
            attachment_file_id=draft.attachment_file_id if attachment else None,
            attachment_name=draft.attachment_name if attachment else None,
            scheduled_at=scheduled,
        ),
        renderer(settings.bureau.name, settings.bureau.default_language),
        title=lambda notice: _("Notice #{id}: {title}").format(
            id=notice.id, title=title_of(notice.text)
        ),
        owner_language=who.language,
        reminder_due=lambda sent: reminder_due(sent, settings),
    )
    notice, batch = created.notice, created.batch
    assert query.message is not None
    # The preview's summary message becomes the live progress message.
    batch.progress_chat_id = chat_id
    batch.progress_message_id = query.message.message_id
    await session.delete(draft)
    record(
        session,
        "notice.send",
        actor_id=who.person.id,
        target_type="notice",
        target_id=notice.id,
        recipients=len(created.resolved.recipients),
        excluded=[s.code for s in created.resolved.excluded],
        scheduled_at=scheduled,
    )
    total = len(created.resolved.recipients)
    if scheduled is not None:
        text = _(
            "<b>{title}</b>\nScheduled for {time}: {total} recipients. This message will "
            "show the progress then."
        ).format(title=html.escape(batch.title), time=bureau_time(scheduled, settings), total=total)
    else:
        text = _("<b>{title}</b>\nSending to {total} recipients…").format(
            title=html.escape(batch.title), total=total
        )
    batch.progress_text = text

    async def announce() -> None:
        services.wake_outbox()
        schedule_auto_reminder(cast(HuibaoApp, context.application), notice)
        await query.answer()
        await query.edit_message_text(text)

    after.append(announce)
    return None


def reminder_due(sent_at: datetime, settings: Settings) -> datetime | None:
    hours = settings.notices.ack_reminder_delay_hours
    if hours <= 0:
        return None
    quiet = settings.quiet_hours
    return after_quiet_hours(
        sent_at + timedelta(hours=hours), settings.bureau.tz, quiet.start, quiet.end,
        enabled=quiet.enabled,
    )


def too_long_text(length: int, limit: int, _: Gettext) -> str:
    return _(
        "Telegram allows at most 4,096 characters in one message. With the bureau's heading "
        "and the acknowledgement line, the notice text can have {limit} characters; yours "
        "has {length}. Please shorten it by {excess} and send it again, or put the long part "
        "in a document and attach that in the next step."
    ).format(limit=limit, length=length, excess=length - limit)


# --- typed input for the draft (text, file, school codes, time) ---------------------------


def waits_for_input(draft: NoticeDraft | None) -> bool:
    return (
        draft is not None
        and draft.step in INPUT_STEPS
        and utcnow() - draft.updated_at <= DRAFT_IDLE
    )


async def draft_waits(session: AsyncSession, person_id: int) -> bool:
    """Does this person's notice draft wait for typed input? (report.STAFF_INPUT)"""
    draft = (
        await session.execute(select(NoticeDraft).where(NoticeDraft.author_id == person_id))
    ).scalar_one_or_none()
    return waits_for_input(draft)


async def draft_input(update: Update, context: HuibaoContext) -> None:
    """Messages from staff with a draft waiting for input; others pass on untouched."""
    message = update.effective_message
    chat = update.effective_chat
    user = update.effective_user
    if message is None or chat is None or user is None or chat.type != "private":
        return
    async with context.services.sessionmaker() as session:
        # A cheap read first: the text may be anybody's.
        draft = (
            await session.execute(
                select(NoticeDraft)
                .join(Person, Person.id == NoticeDraft.author_id)
                .where(Person.telegram_id == user.id)
            )
        ).scalar_one_or_none()
        if not waits_for_input(draft):
            return
    sends = await draft_answer(update, context, message, chat.id)
    if sends is None:
        return
    await run_sends(sends)
    raise ApplicationHandlerStop


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
        problem = await take_input(session, draft, message, who, context)
        if problem:
            return [partial(message.reply_text, problem)]
        return await prompt_sends(session, draft, who, context, chat_id=chat_id)


async def take_input(
    session: AsyncSession, draft: NoticeDraft, message: Message, who: Who, context: HuibaoContext
) -> str:
    """Store the input for the draft's step; returns what is wrong with it, or ""."""
    _ = who._
    settings = context.services.settings
    if draft.step == STEP_TEXT:
        if not message.text:
            return _("Please send the text of the notice first; you can attach a file next.")
        text = message.text_html
        limit = text_limit(settings.bureau.name)
        if telegram_length(text) > limit:
            return too_long_text(telegram_length(text), limit, _)
        draft.text = text
        changed(draft)
        return ""
    if draft.step == STEP_ATTACHMENT:
        if message.document is not None:
            draft.attachment_kind = "document"
            draft.attachment_file_id = message.document.file_id
            draft.attachment_name = message.document.file_name or "document"
        elif message.photo:
            draft.attachment_kind = "photo"
            draft.attachment_file_id = message.photo[-1].file_id
            draft.attachment_name = "photo.jpg"
        else:
            return _("Please send a document or a photo, or tap “No attachment”.")
        changed(draft)
        return ""
    if draft.step == STEP_SCHOOLS:
        codes = parse_codes(message.text or "")
        if not codes:
            return _("Please type at least one school code.")
        resolved = await resolve_audience(session, Audience(AudienceKind.SCHOOLS, tuple(codes)))
        if resolved.unknown_codes:
            return _(
                "No school has the code {codes}. Please check and type the codes again."
            ).format(codes=html.escape(", ".join(resolved.unknown_codes)))
        if resolved.inactive:
            return _(
                "These schools are closed: {codes}. Please type the codes again without them."
            ).format(codes=html.escape(", ".join(s.code for s in resolved.inactive)))
        draft.audience = Audience(AudienceKind.SCHOOLS, tuple(codes)).to_json()
        changed(draft)
        return ""
    if draft.step == STEP_TIME:
        now = utcnow()
        at = parse_when(message.text or "", settings.bureau.tz, now)
        if at is None:
            return _("Please type the date and time like 2026-11-25 09:00.")
        if at <= now + timedelta(minutes=1):
            return _("That time has passed. Please type a time in the future.")
        if at > now + SCHEDULE_MAX:
            return _("Please choose a time within the next 90 days.")
        draft.scheduled_at = at
        changed(draft)
        return ""
    return ""


# --- acknowledgements ---------------------------------------------------------------------


async def ack_button(update: Update, context: HuibaoContext) -> None:
    await run_sends(await acknowledge_press(update, context))


async def acknowledge_press(update: Update, context: HuibaoContext) -> list[Send]:
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    async with unit(update, context) as (session, who):
        _ = who._
        notice_id = parse_id(data.removeprefix(ACK_PREFIX))
        if notice_id is None:
            return [partial(refuse, query, None, stale_text(_))]
        outcome, recipient, _notice = await acknowledge(session, notice_id, who.person.id)
        settings = context.services.settings
        if outcome is AckOutcome.NOT_RECIPIENT:
            return [partial(refuse, query, None, _("This notice was not addressed to you."))]
        if outcome is AckOutcome.NOT_REQUIRED:
            return [partial(query.answer, _("This notice does not need an acknowledgement."))]
        assert recipient is not None and recipient.acknowledged_at is not None
        when = bureau_time(recipient.acknowledged_at, settings)
        if outcome is AckOutcome.ALREADY:
            return [partial(
                query.answer,
                _("You already acknowledged this notice at {time}; nothing changed.").format(
                    time=when
                ),
            )]
        keyboard = acknowledged_keyboard(
            who.language, recipient.acknowledged_at, settings.bureau.tz, data
        )
    return [
        partial(query.answer, _("Thank you: acknowledged at {time}.").format(time=when)),
        partial(mark_acknowledged, query, keyboard_markup(keyboard), notice_id),
    ]


async def mark_acknowledged(
    query: CallbackQuery, markup: InlineKeyboardMarkup, notice_id: int
) -> None:
    try:
        await query.edit_message_reply_markup(markup)
    except TelegramError:
        # The acknowledgement is stored; an old message that cannot be edited is no problem.
        log.info("acknowledged message not edited", extra={"notice_id": notice_id})


def parse_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


# --- /notices ------------------------------------------------------------------------------


async def notices_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        if who.role.is_staff:
            text, markup = await staff_list(session, who, context.services.settings)
        else:
            text, markup = await school_list_view(session, who, context.services.settings)
    await message.reply_text(text, reply_markup=markup)


async def staff_list(
    session: AsyncSession, who: Who, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = who._
    notices = await recent_notices(session, LIST_LIMIT)
    if not notices:
        return _("No notices have been sent yet. Send /notice to write one."), None
    counts = await ack_counts(session, [n.id for n in notices])
    lines = [_("<b>Recent notices</b>")]
    rows: Keyboard = []
    for notice in notices:
        acked, total = counts.get(notice.id, (0, 0))
        state = (
            _("acknowledged {acked} of {total}").format(acked=acked, total=total)
            if notice.requires_ack
            else _("{total} recipients").format(total=total)
        )
        lines.append(
            f"#{notice.id} · {bureau_time(notice.sent_at, settings)} · "
            f"{html.escape(title_of(notice.text))} · {state}"
        )
        rows.append([button(f"#{notice.id} {title_of(notice.text)}", f"nv:{notice.id}")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def school_list_view(
    session: AsyncSession, who: Who, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = who._
    items = await notices_for(session, who.person.id, utcnow(), LIST_LIMIT)
    if not items:
        return _("You have no notices yet."), None
    lines = [_("<b>Your recent notices</b>")]
    rows: Keyboard = []
    for notice, recipient in items:
        if not notice.requires_ack:
            state = ""
        elif recipient.acknowledged_at is not None:
            state = " · " + _("✅ acknowledged")
        else:
            state = " · " + _("⏳ please acknowledge")
        clip = " 📎" if notice.attachment_kind else ""
        lines.append(
            f"#{notice.id} · {bureau_time(notice.sent_at, settings)[:10]} · "
            f"{html.escape(title_of(notice.text))}{clip}{state}"
        )
        rows.append([button(_("Open #{id}").format(id=notice.id) + clip, f"nf:{notice.id}")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def open_button(update: Update, context: HuibaoContext) -> None:
    """A principal opens a notice again: the text, the file and the button, as first sent."""
    await run_sends(await reopen(update, context))


async def reopen(update: Update, context: HuibaoContext) -> list[Send]:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    async with unit(update, context) as (session, who):
        _ = who._
        notice_id = parse_id((query.data or "").removeprefix("nf:"))
        notice = await session.get(Notice, notice_id) if notice_id is not None else None
        recipient = (
            await session.get(NoticeRecipient, (notice_id, who.person.id))
            if notice is not None
            else None
        )
        if notice is None or recipient is None or notice.sent_at > utcnow():
            return [partial(refuse, query, None, _("This notice was not addressed to you."))]
        settings = context.services.settings
        messages = list(
            notice_messages(
                NoticeContent.of(notice), who.language, settings.bureau.name,
                ack_data=f"{ACK_PREFIX}{notice.id}",
            )
        )
        if recipient.acknowledged_at is not None and messages[-1].keyboard:
            last = messages[-1]
            messages[-1] = OutMessage(
                kind=last.kind, text=last.text, parse_mode=last.parse_mode,
                keyboard=acknowledged_keyboard(
                    who.language, recipient.acknowledged_at, settings.bureau.tz,
                    f"{ACK_PREFIX}{notice.id}",
                ),
                file_id=last.file_id, file_blob_id=last.file_blob_id, file_name=last.file_name,
            )
    return [query.answer, *(partial(send_out_message, context, chat.id, m) for m in messages)]


# --- staff: one notice, reminders ---------------------------------------------------------


async def staff_view(
    session: AsyncSession, notice: Notice, who: Who, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    _ = who._
    stats = await notice_stats(session, notice)
    lines = [
        f"<b>#{notice.id} · {html.escape(title_of(notice.text))}</b>",
        _("Sent {time}").format(time=bureau_time(notice.sent_at, settings))
        if notice.sent_at <= utcnow()
        else _("Scheduled for {time}").format(time=bureau_time(notice.sent_at, settings)),
        _("Delivered: {delivered} of {total}").format(delivered=stats.delivered, total=stats.total)
        + (_(" · blocked the bot: {count}").format(count=stats.blocked) if stats.blocked else "")
        + (_(" · failed: {count}").format(count=stats.failed) if stats.failed else "")
        + (_(" · still to send: {count}").format(count=stats.waiting) if stats.waiting else ""),
    ]
    if stats.in_doubt:
        lines.append(_(
            "{count} may have received it twice: their message was on its way when the bot "
            "restarted or lost its connection to Telegram."
        ).format(count=stats.in_doubt))
    rows: Keyboard = []
    if stats.failed or stats.blocked:
        rows.append([button(
            _("🔁 Send again to the {count} not reached").format(
                count=stats.failed + stats.blocked),
            f"nt:{notice.id}",
        )])
    if notice.requires_ack:
        lines.append(
            _("<b>Acknowledged: {acked} of {total}</b>").format(
                acked=stats.acknowledged, total=stats.total
            )
        )
        lines.append(_("By district:"))
        lines.extend(
            f"• {html.escape(d.name)}: {d.acknowledged}/{d.total}" for d in stats.by_district
        )
        if stats.not_acknowledged:
            lines.append(_("Not yet acknowledged ({count}):").format(
                count=len(stats.not_acknowledged)))
            for state in stats.not_acknowledged[:NAMES_LIMIT]:
                school = f" ({html.escape(state.school.name)})" if state.school else ""
                unreached = ""
                if state.delivery_status in ("blocked", "failed"):
                    unreached = " ⚠️ " + _("not delivered")
                lines.append(f"• {html.escape(state.person.name)}{school}{unreached}")
            if len(stats.not_acknowledged) > NAMES_LIMIT:
                lines.append(_("… and {count} more").format(
                    count=len(stats.not_acknowledged) - NAMES_LIMIT))
        targets = [
            s for s in stats.not_acknowledged if s.delivery_status == "sent"
        ]
        if targets:
            k = notice.reminders_sent + 1
            rows.append([button(
                _("🔔 Remind those who have not ({count})").format(count=len(targets)),
                f"nr:{notice.id}:{k}",
            )])
        if notice.auto_reminded_at is not None:
            lines.append(_("Automatic reminder sent {time}.").format(
                time=bureau_time(notice.auto_reminded_at, settings)))
        elif notice.auto_reminder_due is not None:
            lines.append(_("Automatic reminder due {time}.").format(
                time=bureau_time(notice.auto_reminder_due, settings)))
        if notice.reminders_sent:
            lines.append(_("Reminders sent by staff: {count}.").format(count=notice.reminders_sent))
    rows.append([button(_("🔄 Refresh"), f"nv:{notice.id}:r")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def view_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    parts = (query.data or "").removeprefix("nv:").split(":")
    async with unit(update, context) as (session, who):
        _ = who._
        refusal = None
        if not who.role.is_staff:
            refusal = _("Sorry, this is only for bureau staff.")
        else:
            notice_id = parse_id(parts[0])
            notice = await session.get(Notice, notice_id) if notice_id is not None else None
            if notice is None or len(parts) > 2 or (len(parts) == 2 and parts[1] != "r"):
                refusal = stale_text(_)
            else:
                text, markup = await staff_view(session, notice, who, context.services.settings)
    if refusal is not None:
        await refuse(query, None, refusal)
        return
    await query.answer()
    if len(parts) == 2:
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
        return
    await context.bot.send_message(chat.id, text, reply_markup=markup)


async def remind_button(update: Update, context: HuibaoContext) -> None:
    """Staff remind those who have not acknowledged; the k-th press of a notice sends once."""
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").removeprefix("nr:").split(":")
    async with unit(update, context) as (session, who):
        done = await remind(session, who, parts, context.services.settings)
    if isinstance(done, str):
        await refuse(query, None, done)
        return
    count, text, markup = done
    context.services.wake_outbox()
    await query.answer(who._("Reminder on its way to {count} people.").format(count=count))
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError:
        pass


async def remind(
    session: AsyncSession, who: Who, parts: list[str], settings: Settings
) -> str | tuple[int, str, InlineKeyboardMarkup]:
    """Enqueue the k-th reminder; returns a refusal, or the count and the staff view."""
    _ = who._
    if not who.role.is_staff:
        return _("Sorry, this is only for bureau staff.")
    notice_id = parse_id(parts[0]) if len(parts) == 2 else None
    k = parse_id(parts[1]) if len(parts) == 2 else None
    notice = await session.get(Notice, notice_id) if notice_id is not None else None
    if notice is None or k is None or k < 1 or not notice.requires_ack:
        return stale_text(_)
    if k <= notice.reminders_sent:
        return _("This reminder was already sent.")
    if k != notice.reminders_sent + 1:
        return stale_text(_)
    count = await enqueue_reminders(session, notice, f"{notice.purpose}:remind:{k}", settings)
    notice.reminders_sent = k
    record(session, "notice.remind", actor_id=who.person.id, target_type="notice",
           target_id=notice.id, reminder=k, recipients=count)
    text, markup = await staff_view(session, notice, who, settings)
    return count, text, markup


async def retry_button(update: Update, context: HuibaoContext) -> None:
    """Staff send a notice again to those it did not reach (failed, or blocked the bot)."""
    query = update.callback_query
    assert query is not None
    notice_id = parse_id((query.data or "").removeprefix("nt:"))
    async with unit(update, context) as (session, who):
        outcome = await retry(session, who, notice_id, context.services.settings)
    # Committed: now Telegram.
    _ = who._
    if isinstance(outcome, str):
        await refuse(query, None, outcome)
        return
    again, text, markup = outcome
    context.services.wake_outbox()
    await query.answer(requeued_text(_, again), show_alert=bool(again.blocked))
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(text, reply_markup=markup)


async def retry(
    session: AsyncSession, who: Who, notice_id: int | None, settings: Settings
) -> str | tuple[Requeued, str, InlineKeyboardMarkup]:
    """Requeue what did not reach anyone; returns a refusal, or the counts and the staff view."""
    _ = who._
    if not who.role.is_staff:
        return _("Sorry, this is only for bureau staff.")
    notice = await session.get(Notice, notice_id) if notice_id is not None else None
    if notice is None:
        return stale_text(_)
    again = await requeue_failed(session, purpose_of_notice(notice.id), utcnow())
    if again.total:
        record(session, "notice.retry", actor_id=who.person.id, target_type="notice",
               target_id=notice.id, failed=again.failed, blocked=again.blocked)
    text, markup = await staff_view(session, notice, who, settings)
    return again, text, markup


async def enqueue_reminders(
    session: AsyncSession, notice: Notice, purpose: str, settings: Settings
) -> int:
    targets = await reminder_targets(session, notice)
    default = settings.bureau.default_language
    items = [
        Outgoing(
            state.person.telegram_id,
            state.person.id,
            (
                reminder_message(
                    notice, recipient_language(state.person, default), settings.bureau.name,
                    settings.bureau.tz, state.message_id,
                ),
            ),
        )
        for state in targets
    ]
    await enqueue(session, purpose, items)
    return len(items)


# --- the automatic reminder (JobQueue, rebuilt from the database at start) ----------------


def reminder_job_id(notice_id: int) -> str:
    return f"notice-ack-reminder:{notice_id}"


def schedule_auto_reminder(app: HuibaoApp, notice: Notice) -> None:
    if app.job_queue is None or notice.auto_reminder_due is None:
        return
    if notice.auto_reminded_at is not None:
        return
    when = max(notice.auto_reminder_due, utcnow() + timedelta(seconds=1))
    job_id = reminder_job_id(notice.id)
    app.job_queue.run_once(
        auto_reminder,
        when=when,
        data=notice.id,
        name=job_id,
        job_kwargs={"id": job_id, "replace_existing": True, "misfire_grace_time": None},
    )


async def auto_reminder(context: HuibaoContext) -> None:
    job = context.job
    assert job is not None
    notice_id = int(job.data)  # type: ignore[call-overload]
    settings = context.services.settings
    quiet = settings.quiet_hours
    async with context.services.transaction() as session:
        notice = await session.get(Notice, notice_id)
        if notice is None or notice.auto_reminded_at is not None:
            return
        now = utcnow()
        allowed = after_quiet_hours(
            now, settings.bureau.tz, quiet.start, quiet.end, enabled=quiet.enabled
        )
        if allowed > now:
            # Fired late (the bot was down) into the night: wait for the morning.
            notice.auto_reminder_due = allowed
            later = notice
        else:
            # The purpose is the idempotency record: a job firing twice enqueues once.
            count = await enqueue_reminders(
                session, notice, f"{notice.purpose}:auto", settings
            )
            notice.auto_reminded_at = now
            later = None
            log.info("automatic reminder", extra={"notice_id": notice_id, "recipients": count})
    if later is not None:
        schedule_auto_reminder(cast(HuibaoApp, context.application), later)
    else:
        context.services.wake_outbox()


REMINDER_SYNC_JOB = "notice-ack-reminder-sync"


async def sync_auto_reminders(context: HuibaoContext) -> None:
    """Schedule the reminders of notices made elsewhere (the CLI, another bot process)."""
    await schedule_pending(cast(HuibaoApp, context.application))


async def schedule_pending(app: HuibaoApp) -> None:
    if app.job_queue is None:
        return
    services: Services = app.bot_data["services"]
    async with services.sessionmaker() as session:
        notices = await pending_auto_reminders(session)
    for notice in notices:
        if not app.job_queue.get_jobs_by_name(reminder_job_id(notice.id)):
            schedule_auto_reminder(app, notice)


async def on_startup(app: HuibaoApp) -> None:
    # Jobs are rebuilt from the database: nothing about them lives only in memory.
    await schedule_pending(app)
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            sync_auto_reminders,
            interval=60,
            first=60,
            name=REMINDER_SYNC_JOB,
            job_kwargs={"id": REMINDER_SYNC_JOB, "replace_existing": True},
        )


# --- the home screen ----------------------------------------------------------------------


async def render_section(session: AsyncSession, who: Who, services: Services) -> menu.Block | None:
    _ = who._
    if who.role.is_staff:
        notices = await recent_notices(session, 1)
        lines = [_("<b>Notices</b>")]
        if notices:
            notice = notices[0]
            acked, total = (await ack_counts(session, [notice.id])).get(notice.id, (0, 0))
            lines.append(
                _("Latest: #{id} {title}, acknowledged {acked} of {total}").format(
                    id=notice.id, title=html.escape(title_of(notice.text)), acked=acked,
                    total=total,
                )
                if notice.requires_ack
                else _("Latest: #{id} {title}").format(
                    id=notice.id, title=html.escape(title_of(notice.text))
                )
            )
        return menu.Block(
            lines, [[(_("✍️ New notice"), "nd:start"), (_("📋 Notices"), "nl:")]]
        )
    items = await notices_for(session, who.person.id, utcnow(), LIST_LIMIT)
    waiting = sum(
        1 for notice, r in items if notice.requires_ack and r.acknowledged_at is None
    )
    if not items:
        return None
    line = (
        _("<b>Notices</b>: {count} waiting for your acknowledgement").format(count=waiting)
        if waiting
        else _("<b>Notices</b>: all acknowledged")
    )
    lines = [line]
    # The most recent ones, so the home screen says what the bureau sent lately.
    for notice, recipient in items[:HOME_NOTICES]:
        state = ""
        if notice.requires_ack:
            state = " · " + (
                _("✅ acknowledged")
                if recipient.acknowledged_at is not None
                else _("⏳ please acknowledge")
            )
        lines.append(
            f"• {bureau_time(notice.sent_at, services.settings)[5:10]} "
            f"{html.escape(title_of(notice.text))}{state}"
        )
    return menu.Block(lines, [[(_("📋 Notices"), "nl:")]])


HOME_NOTICES = 3
"""How many recent notices the home screen of a principal or deputy lists."""


async def list_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    async with unit(update, context) as (session, who):
        if query.data != "nl:":
            text, markup = stale_text(who._), None
        elif who.role.is_staff:
            text, markup = await staff_list(session, who, context.services.settings)
        else:
            text, markup = await school_list_view(session, who, context.services.settings)
    if query.data != "nl:":
        await refuse(query, None, text)
        return
    await query.answer()
    await context.bot.send_message(chat.id, text, reply_markup=markup)


def register(app: HuibaoApp) -> None:
    private = filters.ChatType.PRIVATE
    menu.add_command(app, "notice", notice_command, N_("Write a notice to schools"),
                     menu.STAFF, order=30, filters=private)
    menu.add_command(app, "notices", notices_command, N_("Notices and acknowledgements"),
                     READERS, order=31, filters=private)
    menu.add_callback(app, "nd:", draft_button, menu.STAFF, example="nd:send:1")
    menu.add_callback(app, "nv:", view_button, menu.STAFF, example="nv:1")
    menu.add_callback(app, "nr:", remind_button, menu.STAFF, example="nr:1:1")
    menu.add_callback(app, "nt:", retry_button, menu.STAFF, example="nt:1")
    menu.add_callback(app, ACK_PREFIX, ack_button, menu.SCHOOL, example=f"{ACK_PREFIX}1")
    menu.add_callback(app, "nf:", open_button, menu.SCHOOL, example="nf:1")
    menu.add_callback(app, "nl:", list_button, READERS, example="nl:")
    # After the admin block (50): its buttons keep their places on the home screen.
    menu.add_section(menu.Section("notices", READERS, render_section, order=60))
    app.add_handler(
        MessageHandler(
            private & (filters.TEXT | filters.Document.ALL | filters.PHOTO) & ~filters.COMMAND,
            draft_input,
        ),
        group=DRAFT_GROUP,
    )
    report.STAFF_INPUT.append(draft_waits)
