"""/ask and /inbox: a school's questions to the bureau, and the bureau's answers.

A principal or deputy sends /ask (or presses "ask the bureau"): the next message, text, a
photo or a document, goes into the school's thread and every staff member (and the
district's officers, or the colleague the thread was handed to) is told through the outbox.
Staff and district officers read /inbox, open a thread, answer (the answer reaches every
principal and deputy of the school through the outbox), mark it done or hand it to a
colleague. Who may see which thread is decided in models/inbox/threads.py, again on every
press: button data is untrusted, and a refused button changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers import menu
from handlers.admin.screen import Rows, Screen, act_and_show, home_row, show
from handlers.context import Who, unit
from models.conversations import Asking, Kind, asking, clear_conversation, set_conversation
from models.inbox.threads import (
    Asked,
    Attachment,
    InboxError,
    Thread,
    answer,
    answerers,
    ask,
    asks_for,
    colleagues,
    done_count,
    hand_over,
    mark_done,
    open_thread,
    school_people,
    school_thread,
    waiting,
)
from models.outbox import Outgoing, OutMessage, enqueue
from models.outbox.messages import Button
from models.roster.tables import District, Person, School
from texts import inbox as words
from texts.callbacks import (
    AnswerQuestion,
    AskBureau,
    CancelAsking,
    ChooseColleague,
    HandOver,
    InboxList,
    OpenQuestion,
    QuestionDone,
    SendOffered,
)
from texts.i18n import N_, Gettext, gettext_for, language_of
from transport.context import HuibaoApp, HuibaoContext, Services

READERS = menu.STAFF | menu.DISTRICT
QUESTION_LENGTH = 4000
"""What one question or answer keeps (Telegram's own limit is 4,096 characters)."""


def _bureau(services: Services) -> str:
    return services.settings.bureau.name


def _speaks(services: Services, person: Person) -> tuple[str, Gettext]:
    language = language_of(person, services.settings.bureau.default_language)
    return language, gettext_for(language)


# --- a school asks ------------------------------------------------------------------------


async def ask_command(update: Update, context: HuibaoContext) -> None:
    """/ask: the school's thread so far, and the next message is the question; /ask TEXT
    sends TEXT at once."""
    typed = " ".join(context.args or []).strip()
    if typed:
        await _take_question(update, context, typed, None)
    else:
        await _start_asking(update, context)


async def ask_button(update: Update, context: HuibaoContext, _button: AskBureau) -> None:
    await _start_asking(update, context)


async def _start_asking(update: Update, context: HuibaoContext) -> None:
    services = context.services
    async with unit(update, context) as (session, who):
        thread = await school_thread(session, who.person)
        await set_conversation(session, who.person.id, Kind.ASK, None, Asking(),
                               now=context.now())
    parts = [] if thread is None else [_thread_text(services, who, thread)]
    parts.append(words.ask_prompt(who._, _bureau(services)))
    await show(update, Screen("\n\n".join(parts), [[(who._("Cancel"), CancelAsking().pack())]]))


async def cancel_asking(update: Update, context: HuibaoContext, _button: CancelAsking) -> None:
    async with unit(update, context) as (session, who):
        await clear_conversation(session, who.person.id)
    await show(update, Screen(words.cancelled(who._), [home_row(who._)]))


async def on_message(update: Update, context: HuibaoContext) -> bool:
    """The message of someone in an inbox conversation (handlers/routing.py sends it here):
    a school's question, or staff's answer to the thread they chose. False when the
    conversation held only an offer (see `offer`): the offer lapses and the message is the
    fallback's, like any other that nothing waits for."""
    message = update.effective_message
    if message is None:
        return True
    async with unit(update, context) as (session, who):
        state = await asking(session, who.person.id)
        if state is not None and state.is_offer:
            await clear_conversation(session, who.person.id)
            return False
    text = (message.text or message.caption or "").strip()
    if state is not None and state.question_id:
        await _take_answer(update, context, state.question_id, text)
    else:
        await _take_question(update, context, text, _attachment(update))
    return True


async def offer(session: AsyncSession, who: Who, update: Update, now: datetime) -> bool:
    """Keep a school's message that nothing waited for, so that one press of "send it to
    the bureau" under the fallback's answer asks it; False for anyone else."""
    message = update.effective_message
    if asks_for(who.person) is None or message is None:
        return False
    attachment = _attachment(update)
    text = (message.text or message.caption or "").strip()[:QUESTION_LENGTH]
    if not text and attachment is None:
        return False
    kept = (attachment.kind, attachment.file_id, attachment.name or "") if attachment else None
    await set_conversation(session, who.person.id, Kind.ASK, None,
                           Asking(offered=text, offered_file=kept), now=now)
    return True


async def send_offered(update: Update, context: HuibaoContext, _button: SendOffered) -> None:
    async with unit(update, context) as (session, who):
        state = await asking(session, who.person.id)
    if state is None or not state.is_offer:
        await menu.stale(update, who)
        return
    file = state.offered_file
    await _take_question(update, context, state.offered,
                         Attachment(file[0], file[1], file[2] or None) if file else None)


def _attachment(update: Update) -> Attachment | None:
    message = update.effective_message
    if message is None:
        return None
    if message.photo:
        return Attachment("photo", message.photo[-1].file_id)
    if message.document is not None:
        return Attachment("document", message.document.file_id, message.document.file_name)
    return None


async def _take_question(
    update: Update, context: HuibaoContext, text: str, attachment: Attachment | None
) -> None:
    services = context.services
    async with unit(update, context) as (session, who):
        if asks_for(who.person) is None:
            await clear_conversation(session, who.person.id)
            reply = words.school_only(who._)
        elif not text and attachment is None:
            reply = words.empty_question(who._)
        else:
            asked = await ask(session, who.person, text[:QUESTION_LENGTH], attachment,
                              now=context.now())
            await clear_conversation(session, who.person.id)
            await _tell_answerers(session, services, asked, who.person, text,
                                  attachment is not None)
            reply = words.asked(who._, _bureau(services))
    services.wake_outbox()
    await show(update, Screen(reply))


async def _tell_answerers(
    session: AsyncSession, services: Services, asked: Asked, asker: Person, text: str,
    has_file: bool,
) -> None:
    """Everyone who may answer hears of the school's message, each in their language."""
    question = asked.question
    school = await session.get(School, question.school_id)
    assert school is not None  # the asker's own school
    district = await session.get(District, school.district_id)
    items = []
    for person in await answerers(session, school, question.assigned_to):
        _language, _ = _speaks(services, person)
        note = words.new_question(_, school.name, district.name if district else "",
                                  asker.name, text, has_file)
        items.append(_one(person, note, ((_("Open"), OpenQuestion(question.id).pack()),)))
    await enqueue(session, f"inbox:ask:{asked.message_id}", items)


def _one(person: Person, text: str, row: tuple[tuple[str, str], ...] = ()) -> Outgoing:
    keyboard = (tuple(Button(label, data) for label, data in row),) if row else ()
    return Outgoing(person.telegram_id, person.id, (OutMessage(text=text, keyboard=keyboard),))


# --- staff read and answer --------------------------------------------------------------


async def inbox_command(update: Update, context: HuibaoContext) -> None:
    async with unit(update, context) as (session, who):
        screen = await _inbox_screen(session, context, who)
    await show(update, screen)


async def inbox_button(update: Update, context: HuibaoContext, _button: InboxList) -> None:
    await inbox_command(update, context)


async def _inbox_screen(session: AsyncSession, context: HuibaoContext, who: Who) -> Screen:
    items = await waiting(session, who.person)
    done = await done_count(session, who.person)
    now = context.now()
    rows: Rows = [
        [(words.waiting_button(who._, who.language, item, now),
          OpenQuestion(item.question_id).pack())]
        for item in items
    ]
    rows.append(home_row(who._))
    return Screen(words.inbox_screen(who._, who.language, items, done, now), rows)


T = TypeVar("T")


async def _in_scope(
    update: Update, context: HuibaoContext, work: Callable[[AsyncSession, Who], Awaitable[T]]
) -> tuple[Who, T | None]:
    """Do `work` in the update's transaction; None when the question is not the presser's
    (models.inbox.threads checks that before it changes anything)."""
    async with unit(update, context) as (session, who):
        try:
            return who, await work(session, who)
        except InboxError:
            return who, None


async def open_question(update: Update, context: HuibaoContext, button: OpenQuestion) -> None:
    who, thread = await _in_scope(
        update, context, lambda session, who: open_thread(session, button.question_id, who.person)
    )
    if thread is None:
        await menu.stale(update, who)
        return
    await show(update, _thread_screen(context.services, who, thread))
    await _send_files(update, thread)


def _thread_text(services: Services, who: Who, thread: Thread) -> str:
    return words.thread_text(who._, thread, services.settings.bureau.tz, who.language,
                             _bureau(services))


def _thread_screen(services: Services, who: Who, thread: Thread) -> Screen:
    qid = thread.question.id
    if asks_for(who.person) == thread.school.id:
        rows: Rows = [[(who._("✍️ Write again"), AskBureau().pack())]]
    else:
        rows = [
            [(who._("✍️ Answer"), AnswerQuestion(qid).pack()),
             (who._("✅ Done"), QuestionDone(qid).pack())],
            [(who._("👤 Hand to a colleague"), ChooseColleague(qid).pack())],
            [(who._("« Inbox"), InboxList().pack())],
        ]
    return Screen(_thread_text(services, who, thread), rows)


async def _send_files(update: Update, thread: Thread) -> None:
    """The photos and documents of the thread, sent again by Telegram's file id (after the
    transaction: no Bot API call inside one)."""
    chat = update.effective_chat
    if chat is None:
        return
    for line in thread.lines:
        if line.attachment is None:
            continue
        if line.attachment.kind == "photo":
            await chat.send_photo(line.attachment.file_id)
        else:
            await chat.send_document(line.attachment.file_id)


async def answer_button(update: Update, context: HuibaoContext, button: AnswerQuestion) -> None:
    async with unit(update, context) as (session, who):
        try:
            thread = await open_thread(session, button.question_id, who.person)
        except InboxError:
            thread = None
        if thread is not None and asks_for(who.person) is None:
            await set_conversation(session, who.person.id, Kind.ASK, None,
                                   Asking(thread.question.id), now=context.now())
    if thread is None or asks_for(who.person) is not None:
        await menu.stale(update, who)
        return
    prompt = words.answer_prompt(who._, thread.school.name)
    await show(update, Screen(prompt, [[(who._("Cancel"), CancelAsking().pack())]]))


async def _take_answer(
    update: Update, context: HuibaoContext, question_id: int, text: str
) -> None:
    async def answer(session: AsyncSession, who: Who) -> Screen | None:
        if not text:
            return Screen(words.empty_question(who._))
        return await _answered(session, context.services, who, question_id, text, context)

    await act_and_show(update, context, answer)


async def _answered(
    session: AsyncSession, services: Services, who: Who, question_id: int, text: str,
    context: HuibaoContext,
) -> Screen | None:
    await clear_conversation(session, who.person.id)
    try:
        thread, line_id = await answer(session, question_id, who.person, text[:QUESTION_LENGTH],
                                       now=context.now())
    except InboxError:
        return None
    people = await school_people(session, thread.school.id)
    items = []
    for person in people:
        _language, _ = _speaks(services, person)
        note = words.answer_for_school(_, _bureau(services), text)
        items.append(_one(person, note, ((_("✍️ Write again"), AskBureau().pack()),)))
    await enqueue(session, f"inbox:answer:{line_id}", items)
    sent = words.answer_sent(who._, who.language, thread.school.name, len(people))
    return Screen(sent, [[(who._("« Inbox"), InboxList().pack())]])


async def done_button(update: Update, context: HuibaoContext, button: QuestionDone) -> None:
    who, thread = await _in_scope(update, context, lambda session, who: mark_done(
        session, button.question_id, who.person, now=context.now()))
    if thread is None or asks_for(who.person) is not None:
        await menu.stale(update, who)
        return
    screen = _thread_screen(context.services, who, thread)
    screen.text = words.marked_done(who._) + "\n\n" + screen.text
    await show(update, screen)


async def colleague_button(
    update: Update, context: HuibaoContext, button: ChooseColleague
) -> None:
    who, people = await _in_scope(
        update, context, lambda session, who: colleagues(session, button.question_id, who.person)
    )
    if people is None:
        await menu.stale(update, who)
        return
    rows: Rows = [[(p.name, HandOver(button.question_id, p.id).pack())] for p in people]
    rows.append([(who._("« Back"), OpenQuestion(button.question_id).pack())])
    text = words.choose_colleague(who._) if people else words.no_colleague(who._)
    await show(update, Screen(text, rows))


async def hand_over_button(update: Update, context: HuibaoContext, button: HandOver) -> None:
    await act_and_show(update, context,
                       lambda session, who: _handed(session, context, who, button))


async def _handed(
    session: AsyncSession, context: HuibaoContext, who: Who, button: HandOver
) -> Screen | None:
    try:
        thread, colleague = await hand_over(session, button.question_id, who.person,
                                            button.person_id, now=context.now())
    except InboxError:
        return None
    _language, _ = _speaks(context.services, colleague)
    note = words.handed_to_you(_, who.person.name, thread.school.name)
    row = ((_("Open"), OpenQuestion(thread.question.id).pack()),)
    # Handing the same thread to the same colleague again tells them again.
    purpose = f"inbox:hand:{thread.question.id}:{colleague.id}:{context.now():%Y%m%d%H%M%S}"
    await enqueue(session, purpose, [_one(colleague, note, row)])
    screen = _thread_screen(context.services, who, thread)
    screen.text = words.handed_over(who._, colleague.name) + "\n\n" + screen.text
    return screen


def register(app: HuibaoApp) -> None:
    menu.add_command(app, "ask", ask_command, N_("Ask the bureau a question"), menu.SCHOOL,
                     order=15)
    menu.add_command(app, "inbox", inbox_command, N_("Questions from schools"), READERS,
                     order=35)
    menu.add_button(app, AskBureau, ask_button, menu.SCHOOL, example=AskBureau())
    menu.add_button(app, SendOffered, send_offered, menu.SCHOOL, example=SendOffered())
    menu.add_button(app, CancelAsking, cancel_asking, menu.CONNECTED, example=CancelAsking())
    menu.add_button(app, InboxList, inbox_button, READERS, example=InboxList())
    everyone = READERS | menu.SCHOOL
    menu.add_button(app, OpenQuestion, open_question, everyone, example=OpenQuestion(1))
    menu.add_button(app, AnswerQuestion, answer_button, READERS, example=AnswerQuestion(1))
    menu.add_button(app, QuestionDone, done_button, READERS, example=QuestionDone(1))
    menu.add_button(app, ChooseColleague, colleague_button, READERS,
                    example=ChooseColleague(1))
    menu.add_button(app, HandOver, hand_over_button, READERS, example=HandOver(1, 1))
    menu.add_stale_family(app, "ib", menu.CONNECTED)
