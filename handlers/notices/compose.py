"""/notice and the composer's buttons: each button calls one function of the draft's state
machine (models/notices/drafts.py) and shows what texts/notices/compose.py built.

The draft lives in the database (notice_drafts), one step at a time, so a restart in the
middle of composing loses nothing (principle 1). Every button's data is checked against
the database before anything happens; anything stale gets a polite refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, Update

from config.settings import Settings
from handlers.context import Who, unit
from handlers.notices.replies import Send, ask, refusal, run_sends, send_out_message, unmark
from models.notices import drafts
from models.notices.audiences import Audience, AudienceKind, districts, resolve_audience
from models.notices.drafts import STEP_DISTRICTS, STEP_PREVIEW, Outcome
from models.notices.sending import Refused, Sender, send_notice
from models.notices.tables import NoticeDraft
from models.roster.tables import District
from texts.callbacks import (
    ChooseAck,
    ChooseAudience,
    ChooseWhen,
    DistrictsDone,
    DraftAction,
    EditPart,
    NoticeDistrictTick,
    NoticeStageTick,
    OpenEdit,
    SendDraft,
    StagesDone,
)
from texts.notices.compose import (
    PreviewFacts,
    PromptFacts,
    audience_text,
    draft_refusal,
    edit_keyboard,
    notice_title,
    preview_keyboard,
    preview_summary,
    progress_text,
    prompt,
    resume_offer,
    send_refusal,
    stale_text,
)
from texts.notices.messages import (
    PREVIEW_ACK,
    NoticeContent,
    notice_messages,
    renderer,
    telegram_length,
    text_limit,
)
from texts.when import show, zone_name
from transport.context import HuibaoContext
from transport.markup import keyboard_markup

# One change of the draft for one button: the draft in, what to show next out.
Change = Callable[[AsyncSession, NoticeDraft, datetime], Awaitable[Outcome]]


def reminder_due(sent_at: datetime, settings: Settings) -> datetime | None:
    """When the automatic reminder of a notice sent at `sent_at` is due (None: never)."""
    quiet = settings.quiet_hours
    return drafts.reminder_due(
        sent_at, settings.notices.ack_reminder_delay_hours, settings.bureau.tz,
        (quiet.start, quiet.end, quiet.enabled),
    )


def sender(settings: Settings, who: Who) -> Sender:
    bureau = settings.bureau
    return Sender(
        render=renderer(bureau.name, bureau.default_language, bureau.name_en),
        title=notice_title(who._),
        owner_language=who.language,
        reminder_due=partial(reminder_due, settings=settings),
        measure=telegram_length,
        room=partial(text_limit, bureau.name),
        author_id=who.person.id,
    )


async def load_draft(session: AsyncSession, who: Who) -> NoticeDraft | None:
    return await session.get(NoticeDraft, who.person.id)


# --- what follows a change ------------------------------------------------------------------


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
    settings = context.services.settings
    tomorrow = show(context.now() + timedelta(days=1), settings.bureau.tz, "iso_day")
    facts = PromptFacts(
        bureau=settings.bureau.name_in(who.language),
        zone=zone_name(settings.bureau.tz, who.language), tomorrow=tomorrow,
        districts=await districts(session) if draft.step == STEP_DISTRICTS else (),
    )
    text, rows = prompt(draft, facts, who._)
    markup = keyboard_markup(rows) if rows else None
    return [partial(ask, context, chat_id, text, markup, query)]


async def preview_sends(
    session: AsyncSession,
    draft: NoticeDraft,
    who: Who,
    context: HuibaoContext,
    *,
    chat_id: int,
    query: CallbackQuery | None = None,
) -> list[Send]:
    settings = context.services.settings
    audience = Audience.from_json(draft.audience)
    assert audience is not None
    resolved = await resolve_audience(session, audience)
    names = await district_names(session, audience)
    scheduled = draft.scheduled_at if draft.send_mode == "at" else None
    facts = PreviewFacts(
        title=draft.title or "",
        audience=audience_text(audience, names, who._),
        people=len(resolved.recipients), schools=resolved.school_count,
        excluded=resolved.excluded, requires_ack=bool(draft.requires_ack),
        scheduled=show(scheduled, settings.bureau.tz, "full", who.language, context.now())
        if scheduled is not None else None,
    )
    text, rows = preview_summary(facts, draft.version, who._)
    messages = notice_messages(NoticeContent.of_draft(draft), who.language,
                               settings.bureau.name_in(who.language), ack_data=PREVIEW_ACK)
    return [
        partial(unmark, query),
        *(partial(send_out_message, context, chat_id, m) for m in messages),
        partial(context.bot.send_message, chat_id, text, reply_markup=keyboard_markup(rows)),
    ]


async def district_names(session: AsyncSession, audience: Audience) -> list[str]:
    if audience.kind is not AudienceKind.DISTRICTS:
        return []
    ids = [int(v) for v in audience.values]
    return list((await session.execute(select(District.name).where(District.id.in_(ids))))
                .scalars())


async def after(
    session: AsyncSession,
    draft: NoticeDraft,
    who: Who,
    context: HuibaoContext,
    query: CallbackQuery,
    chat_id: int,
    outcome: Outcome,
) -> list[Send]:
    _ = who._
    if outcome is Outcome.PROMPT:
        return [query.answer, *await prompt_sends(session, draft, who, context, query=query,
                                                  chat_id=chat_id)]
    if outcome in (Outcome.EDIT_MENU, Outcome.PREVIEW_MENU):
        rows = (edit_keyboard(draft.version, _) if outcome is Outcome.EDIT_MENU
                else preview_keyboard(draft.version, _))
        return [query.answer, partial(query.edit_message_reply_markup, keyboard_markup(rows))]
    if outcome is Outcome.SEND:
        return await send_draft(session, draft, who, context, query)
    return [partial(query.answer, draft_refusal(outcome, _), show_alert=True)]


async def press(update: Update, context: HuibaoContext, change: Change) -> None:
    """A composer's button: load the draft, change it, answer after the commit."""
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    async with unit(update, context) as (session, who):
        draft = await load_draft(session, who)
        if draft is None:
            sends = refusal(query, stale_text(who._))
        else:
            outcome = await change(session, draft, context.now())
            sends = await after(session, draft, who, context, query, chat.id, outcome)
    await run_sends(sends)


async def send_draft(
    session: AsyncSession, draft: NoticeDraft, who: Who, context: HuibaoContext,
    query: CallbackQuery,
) -> list[Send]:
    """Turn the draft into a notice with one delivery per recipient, in this transaction;
    the pressed preview's summary message becomes the live progress message."""
    _ = who._
    services = context.services
    new = drafts.notice_from_draft(draft, who.person.id)
    if new is None:
        return [partial(query.answer, stale_text(_), show_alert=True)]
    created = await send_notice(session, new, sender(services.settings, who), context.now())
    if isinstance(created, Refused):
        return [partial(query.answer, send_refusal(created, _), show_alert=True)]
    batch = created.batch
    summary = query.message
    assert summary is not None
    batch.progress_chat_id = summary.chat.id
    batch.progress_message_id = summary.message_id
    await session.delete(draft)
    scheduled = new.scheduled_at
    batch.progress_text = text = progress_text(
        batch.title, len(created.resolved.recipients),
        show(scheduled, services.settings.bureau.tz, "full", who.language, services.now())
        if scheduled is not None else None, _,
    )

    async def announce() -> None:
        services.wake_outbox()
        await query.answer()
        await query.edit_message_text(text)

    return [announce]


# --- /notice and the buttons ------------------------------------------------------------------


async def notice_command(update: Update, context: HuibaoContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    async with unit(update, context) as (session, who):
        sends = await start(session, who, context, chat.id, version=1)
    await run_sends(sends)


async def start(
    session: AsyncSession, who: Who, context: HuibaoContext, chat_id: int, *, version: int
) -> list[Send]:
    """A new draft, or the offer to resume the unfinished one."""
    draft = await load_draft(session, who)
    if draft is not None and (draft.title is not None or draft.text is not None):
        text, rows = resume_offer(draft, who._)
        return [partial(context.bot.send_message, chat_id, text,
                        reply_markup=keyboard_markup(rows))]
    if draft is None:
        draft = drafts.new_draft(who.person.id, version)
        session.add(draft)
    drafts.start_over(draft, context.now())
    await session.flush()
    return await prompt_sends(session, draft, who, context, chat_id=chat_id)


async def action_button(update: Update, context: HuibaoContext, button: DraftAction) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    if button.action in ("resume", "new", "noatt"):
        simple = {"resume": drafts.resume, "new": drafts.start_over,
                  "noatt": drafts.no_attachment}[button.action]
        await press(update, context, lambda _s, draft, now: _now(simple(draft, now)))
        return
    async with unit(update, context) as (session, who):
        _ = who._
        if button.action == "pvack":
            sends: list[Send] = [partial(
                query.answer, _("This is the preview: recipients' presses will be counted."),
                show_alert=True,
            )]
        elif button.action == "start":
            sends = [query.answer, *await start(session, who, context, chat.id, version=0)]
        else:
            sends = await cancel(session, who, query)
    await run_sends(sends)


async def cancel(session: AsyncSession, who: Who, query: CallbackQuery) -> list[Send]:
    draft = await load_draft(session, who)
    if draft is None:
        return refusal(query, stale_text(who._))
    await session.delete(draft)
    return [query.answer, partial(query.edit_message_text, who._("The notice was discarded."))]


async def _now(outcome: Outcome) -> Outcome:
    return outcome


async def audience_button(
    update: Update, context: HuibaoContext, button: ChooseAudience
) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.choose_audience(draft, button.choice, now)))


async def district_button(
    update: Update, context: HuibaoContext, button: NoticeDistrictTick
) -> None:
    async def change(session: AsyncSession, draft: NoticeDraft, now: datetime) -> Outcome:
        if await session.get(District, button.district_id) is None:
            return Outcome.STALE
        return drafts.tick(draft, STEP_DISTRICTS, button.district_id, now)

    await press(update, context, change)


async def districts_done(update: Update, context: HuibaoContext, _button: DistrictsDone) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.ticked_done(draft, STEP_DISTRICTS, now)))


async def stage_button(update: Update, context: HuibaoContext, button: NoticeStageTick) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.tick_stage(draft, button.stage, now)))


async def stages_done(update: Update, context: HuibaoContext, _button: StagesDone) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.ticked_done(draft, drafts.STEP_STAGES, now)))


async def ack_choice(update: Update, context: HuibaoContext, button: ChooseAck) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.choose_ack(draft, button.required == 1, now)))


async def when_choice(update: Update, context: HuibaoContext, button: ChooseWhen) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.choose_when(draft, button.mode, now)))


async def edit_button(update: Update, context: HuibaoContext, button: OpenEdit) -> None:
    await press(update, context, lambda _s, draft, _now_: _now(
        drafts.open_edit(draft, button.version)))


async def edit_part(update: Update, context: HuibaoContext, button: EditPart) -> None:
    await press(update, context, lambda _s, draft, now: _now(
        drafts.edit_part(draft, button.part, button.version, now)))


async def send_button(update: Update, context: HuibaoContext, button: SendDraft) -> None:
    await press(update, context, lambda _s, draft, _now_: _now(
        drafts.may_send(draft, button.version)))
