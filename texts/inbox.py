"""What the inbox says: to a school asking the bureau, to staff reading and answering, and
in the reminder of a question left unanswered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

from models.inbox.tables import ThreadStatus
from models.inbox.threads import Line, Thread, Waiting
from texts.i18n import Gettext, ngettext_for
from texts.when import show

SNIPPET = 30
LINES_SHOWN = 20


def snippet(text: str, limit: int = SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ask_prompt(_: Gettext, bureau: str) -> str:
    return _(
        "Write your question to {bureau} here: text, a photo or a document. "
        "The answer will come in this chat."
    ).format(bureau=escape(bureau))


def asked(_: Gettext, bureau: str) -> str:
    return _(
        "Sent to {bureau}. The answer will come in this chat; /ask shows your messages "
        "with the bureau."
    ).format(bureau=escape(bureau))


def empty_question(_: Gettext) -> str:
    return _("Please write what you want to ask, or send a photo or a document.")


def school_only(_: Gettext) -> str:
    return _("Only a principal or deputy asks the bureau for a school. Staff answer in /inbox.")


def _status(_: Gettext, status: ThreadStatus) -> str:
    return {
        ThreadStatus.OPEN: _("🟠 waiting for the bureau"),
        ThreadStatus.ANSWERED: _("✉️ answered"),
        ThreadStatus.DONE: _("✅ done"),
    }[status]


def _line(_: Gettext, line: Line, tz: tzinfo, language: str, bureau: str) -> str:
    who = escape(line.author) if line.from_school else _("{bureau} ({name})").format(
        bureau=escape(bureau), name=escape(line.author))
    parts = [escape(line.text)] if line.text else []
    if line.attachment is not None:
        parts.append(_("[photo]") if line.attachment.kind == "photo" else
                     _("[document: {name}]").format(name=escape(line.attachment.name or "")))
    when = show(line.at, tz, "short", language)
    return _("{when} {who}: {text}").format(when=when, who=who, text=" ".join(parts))


def thread_text(
    _: Gettext, thread: Thread, tz: tzinfo, language: str, bureau: str
) -> str:
    """A thread as both sides read it, the latest messages last."""
    head = _("{school} ({district}) · {status}").format(
        school=escape(thread.school.name), district=escape(thread.district.name),
        status=_status(_, ThreadStatus(thread.question.status)))
    lines = thread.lines[-LINES_SHOWN:]
    body = [_line(_, line, tz, language, bureau) for line in lines]
    if len(thread.lines) > len(lines):
        body.insert(0, _("(the {count} earlier messages are not shown)").format(
            count=len(thread.lines) - len(lines)))
    if thread.assigned_name:
        body.append(_("Handed to {name}.").format(name=escape(thread.assigned_name)))
    return "\n\n".join([f"<b>{head}</b>", *body])


def inbox_screen(
    _: Gettext, language: str, items: Sequence[Waiting], done: int, now: datetime,
) -> str:
    waiting = sum(1 for item in items if item.status is ThreadStatus.OPEN)
    n_ = ngettext_for(language)
    lines = [
        "<b>" + _("Questions from schools") + "</b>",
        n_("{count} question waits for an answer", "{count} questions wait for an answer",
           waiting).format(count=waiting),
    ]
    if not items:
        lines.append(_("Nothing waits: every question has been answered."))
    if done:
        lines.append(n_("{count} done", "{count} done", done).format(count=done))
    return "\n".join(lines)


def waiting_button(_: Gettext, language: str, item: Waiting, now: datetime) -> str:
    days = max(0, (now - item.since).days)
    mark = "🟠" if item.status is ThreadStatus.OPEN else "✉️"
    if item.status is ThreadStatus.OPEN and days:
        waited = ngettext_for(language)("{count} day", "{count} days", days).format(count=days)
        return f"{mark} {item.school} · {waited}"
    return f"{mark} {item.school}"


def new_question(
    _: Gettext, school: str, district: str, name: str, text: str, has_file: bool
) -> str:
    body = escape(snippet(text, 300)) if text else ""
    if has_file:
        body = (body + " " + _("[with a photo or document]")).strip()
    return _("📩 Question from {school} ({district}), {name}:\n{text}").format(
        school=escape(school), district=escape(district), name=escape(name), text=body)


def answer_for_school(_: Gettext, bureau: str, text: str) -> str:
    return _("📨 {bureau} answers:\n{text}\n\nTo write back, send /ask.").format(
        bureau=escape(bureau), text=escape(text))


def answer_sent(_: Gettext, language: str, school: str, people: int) -> str:
    if people == 0:
        return _(
            "Answer saved, but nobody at {school} is connected to the bot now: please phone "
            "the school."
        ).format(school=escape(school))
    return ngettext_for(language)(
        "Answer sent to {school} ({count} person).", "Answer sent to {school} ({count} people).",
        people,
    ).format(school=escape(school), count=people)


def answer_prompt(_: Gettext, school: str) -> str:
    return _("Write your answer to {school}. It goes to the school's principal and deputies.")\
        .format(school=escape(school))


def marked_done(_: Gettext) -> str:
    return _("Marked as done. If the school writes again, the question opens again.")


def handed_over(_: Gettext, name: str) -> str:
    return _("Handed to {name}; they have been told.").format(name=escape(name))


def handed_to_you(_: Gettext, by: str, school: str) -> str:
    return _("📩 {by} handed you the question from {school}.").format(
        by=escape(by), school=escape(school))


def choose_colleague(_: Gettext) -> str:
    return _("Hand this question to:")


def no_colleague(_: Gettext) -> str:
    return _("There is no colleague to hand it to.")


def reminder(_: Gettext, language: str, school: str, days: int) -> str:
    return ngettext_for(language)(
        "⏰ The question from {school} has waited {count} working day without an answer.",
        "⏰ The question from {school} has waited {count} working days without an answer.",
        days,
    ).format(school=escape(school), count=days)


def cancelled(_: Gettext) -> str:
    return _("Cancelled. Nothing was sent.")
