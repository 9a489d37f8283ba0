"""What a notice looks like in Telegram: one function for the preview, the outbox and /notices.

Staff see their preview through exactly the function that renders what recipients get, so
the preview cannot drift from the real thing. Texts are Telegram HTML; limits are counted
the way Telegram counts them (characters after the tags are parsed, in UTF-16 units).
What staff read while composing is in texts/notices/compose.py, what staff and
principals read about sent notices in texts/notices/follow.py.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, tzinfo

from models.notices.acks import RecipientState
from models.notices.tables import Notice, NoticeDraft
from models.notices.titles import plain
from models.outbox import Button, Kind, Outgoing, OutMessage
from models.roster.tables import Person
from texts.callbacks import Acknowledge, DraftAction, ViewNotice
from texts.i18n import LANGUAGES, N_, gettext_for, language_of
from texts.when import show

MAX_TEXT = 4096
MAX_CAPTION = 1024

# The preview's button looks the same but only says that it is a preview.
PREVIEW_ACK = DraftAction("pvack").pack()

HEADER = N_("📢 <b>Notice from {bureau}</b>")
ACK_HINT = N_("Please read it and tap “{button}” below.")
ACK_BUTTON = N_("Acknowledge")
ACKED_BUTTON = N_("✅ Acknowledged {time}")
ATTACHMENT_CAPTION = N_("📎 {name}: the attachment of the notice below")
REMINDER = N_(
    "⏰ <b>Reminder</b>: please read the notice “{title}” of {date} from {bureau} and tap "
    "“{button}”."
)

def telegram_length(text_html: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the visible text."""
    return len(plain(text_html).encode("utf-16-le")) // 2


@dataclass(frozen=True)
class NoticeContent:
    text: str
    requires_ack: bool
    attachment_kind: str | None = None
    attachment_file_id: str | None = None
    attachment_name: str | None = None
    attachment_blob_id: int | None = None

    @classmethod
    def of(cls, notice: Notice) -> NoticeContent:
        return cls(
            text=notice.text,
            requires_ack=notice.requires_ack,
            attachment_kind=notice.attachment_kind,
            attachment_file_id=notice.attachment_file_id,
            attachment_name=notice.attachment_name,
            attachment_blob_id=notice.attachment_blob_id,
        )

    @classmethod
    def of_draft(cls, draft: NoticeDraft) -> NoticeContent:
        return cls(
            text=draft.text or "",
            requires_ack=bool(draft.requires_ack),
            attachment_kind=draft.attachment_kind,
            attachment_file_id=draft.attachment_file_id,
            attachment_name=draft.attachment_name,
        )

    @property
    def has_attachment(self) -> bool:
        return self.attachment_kind in ("document", "photo")


def body(content: NoticeContent, language: str, bureau: str) -> str:
    _ = gettext_for(language)
    parts = [_(HEADER).format(bureau=html.escape(bureau)), content.text]
    if content.requires_ack:
        parts.append("<i>" + _(ACK_HINT).format(button=_(ACK_BUTTON)) + "</i>")
    return "\n\n".join(parts)


def text_limit(bureau: str, requires_ack: bool = True) -> int:
    """How long the author's text may be so that the message fits in every language."""
    empty = NoticeContent(text="", requires_ack=requires_ack)
    overhead = max(telegram_length(body(empty, language, bureau)) for language in LANGUAGES)
    return MAX_TEXT - overhead


def ack_keyboard(language: str, data: str | None) -> tuple[tuple[Button, ...], ...]:
    if data is None:
        return ()
    return ((Button("✅ " + gettext_for(language)(ACK_BUTTON), callback_data=data),),)


def ack_data(notice_id: int) -> str:
    return Acknowledge(notice_id).pack()


def acknowledged_keyboard(
    language: str, at: datetime, tz: tzinfo, data: str
) -> tuple[tuple[Button, ...], ...]:
    # Pressed just now: the year goes without saying.
    when = show(at, tz, "short", language, at)
    return ((Button(gettext_for(language)(ACKED_BUTTON).format(time=when), callback_data=data),),)


def notice_messages(
    content: NoticeContent, language: str, bureau: str, *, ack_data: str | None
) -> tuple[OutMessage, ...]:
    """The messages one recipient gets: the text with the button, and the file if any.

    With a file: one message, the text as its caption, when it fits Telegram's 1,024
    caption characters; otherwise the file first (with a one-line caption) and the full
    text after it, so the acknowledgement button is at the bottom of the chat either way.
    """
    text = body(content, language, bureau)
    keyboard = ack_keyboard(language, ack_data if content.requires_ack else None)
    if not content.has_attachment:
        return (OutMessage(text=text, keyboard=keyboard),)
    kind: Kind = "photo" if content.attachment_kind == "photo" else "document"

    def file_message(caption: str, buttons: tuple[tuple[Button, ...], ...]) -> OutMessage:
        return OutMessage(
            kind=kind,
            text=caption,
            keyboard=buttons,
            file_id=content.attachment_file_id,
            file_blob_id=content.attachment_blob_id,
            file_name=content.attachment_name,
        )

    if telegram_length(text) <= MAX_CAPTION:
        return (file_message(text, keyboard),)
    caption = gettext_for(language)(ATTACHMENT_CAPTION).format(
        name=html.escape(content.attachment_name or "")
    )
    return (file_message(caption, ()), OutMessage(text=text, keyboard=keyboard))


def opened_messages(
    notice: Notice, language: str, bureau: str, tz: tzinfo, acknowledged_at: datetime | None
) -> list[OutMessage]:
    """A notice opened again from /notices: as first sent, its button marked when acknowledged."""
    data = ack_data(notice.id)
    messages = list(notice_messages(NoticeContent.of(notice), language, bureau, ack_data=data))
    last = messages[-1]
    if acknowledged_at is not None and last.keyboard:
        messages[-1] = OutMessage(
            kind=last.kind, text=last.text, parse_mode=last.parse_mode,
            keyboard=acknowledged_keyboard(language, acknowledged_at, tz, data),
            file_id=last.file_id, file_blob_id=last.file_blob_id, file_name=last.file_name,
        )
    return messages


@dataclass(frozen=True)
class Renderer:
    """The `render` argument of models.notices.create_notice: what each recipient gets, and
    the data of the "Details" button under the sender's progress message."""

    bureau: str
    default_language: str
    bureau_en: str = ""  # the name said in English, when the settings give one

    def __call__(self, notice: Notice, person: Person) -> Outgoing:
        language = language_of(person, self.default_language)
        messages = notice_messages(
            NoticeContent.of(notice), language, _bureau(self, language),
            ack_data=ack_data(notice.id),
        )
        return Outgoing(person.telegram_id, person.id, messages)

    def details(self, notice_id: int) -> str:
        return ViewNotice(notice_id).pack()


def renderer(bureau: str, default_language: str, bureau_en: str = "") -> Renderer:
    return Renderer(bureau, default_language, bureau_en)


def _bureau(render: Renderer | ReminderRenderer, language: str) -> str:
    return render.bureau_en if language.startswith("en") and render.bureau_en else render.bureau


def reminder_message(
    notice: Notice, language: str, bureau: str, tz: tzinfo, reply_to: int | None
) -> OutMessage:
    _ = gettext_for(language)
    text = _(REMINDER).format(
        title=html.escape(notice.title),
        date=show(notice.sent_at, tz, "date", language),
        bureau=html.escape(bureau),
        button=_(ACK_BUTTON),
    )
    return OutMessage(
        text=text,
        keyboard=ack_keyboard(language, ack_data(notice.id)),
        reply_to_message_id=reply_to,
    )


@dataclass(frozen=True)
class ReminderRenderer:
    """The reminder one recipient gets (models.notices.sending.RenderReminder), as a reply to
    their copy of the notice."""

    bureau: str
    default_language: str
    tz: tzinfo
    bureau_en: str = ""

    def __call__(self, notice: Notice, state: RecipientState) -> Outgoing:
        person = state.person
        language = language_of(person, self.default_language)
        message = reminder_message(
            notice, language, _bureau(self, language), self.tz, state.message_id
        )
        return Outgoing(person.telegram_id, person.id, (message,))

