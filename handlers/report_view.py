"""What the report conversation looks like: question, error, review and receipt texts
and their buttons. Pure functions of the form, the answers and the person's language;
handlers/report.py decides which one to send.

The buttons' data are the report's kinds in texts/callbacks.py (section "report"): most
name the submission, and a question's buttons name the question by its `key_token`, so
that a button whose question is no longer the current one is refused politely instead of
answering the wrong question.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from models.forms import (
    ITEM_DONE,
    AnswerKey,
    FieldDef,
    FormDef,
    RuleResult,
    Step,
    Value,
    format_value,
)
from models.rounds.tables import Revision
from texts import files as file_texts
from texts.callbacks import (
    AskDiscard,
    DiscardRevision,
    EditAnswer,
    OpenReport,
    PauseReport,
    RemoveItem,
    ReportList,
    ReviewReport,
    ReviseReport,
    SubmitReport,
    ViewSubmitted,
)
from texts.i18n import Gettext
from texts.when import Style, show

REVIEW = "review"
MAX_MESSAGE = 4000
BUTTON_LABEL = 40


def key_token(key: AnswerKey) -> str:
    """A short, stable name of a question for callback data."""
    return format(zlib.crc32(f"{key[0]}:{key[1]}".encode()), "x")


def key_text(key: AnswerKey) -> str:
    return f"{key[0]}:{key[1]}"


def parse_key(text: str | None) -> AnswerKey | None:
    if not text or ":" not in text:
        return None
    code, _, item = text.rpartition(":")
    try:
        return code, int(item)
    except ValueError:
        return None


def local(
    dt: datetime, tz: ZoneInfo, lang: str, now: datetime | None = None, style: Style = "full"
) -> str:
    return show(dt, tz, style, lang, now)


def short_label(text: str, limit: int = BUTTON_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Rendered:
    text: str
    markup: InlineKeyboardMarkup | None = None


def _rows(
    buttons: Sequence[InlineKeyboardButton], per_row: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def step_label(step: Step, lang: str) -> str:
    """The question's label, with the group item it belongs to."""
    if step.field is None:
        assert step.group is not None
        return step.group.label.get(lang)
    label = step.field.label.get(lang)
    if step.group is not None and step.item is not None:
        return f"{step.group.label.get(lang)} {step.item + 1} · {label}"
    return label


def range_text(f: FieldDef, lang: str, _: Gettext) -> str | None:
    """'Allowed: 0 – 5,000 people' for numbers and dates; None when unbounded."""
    if f.type in ("integer", "decimal", "date"):
        lo = format_value(f, f.min, lang) if f.min is not None else None
        hi = format_value(f, f.max, lang) if f.max is not None else None
        if lo and hi:
            return _("Allowed: {low} to {high}").format(low=lo, high=hi)
        if lo:
            return _("Allowed: at least {low}").format(low=lo)
        if hi:
            return _("Allowed: at most {high}").format(high=hi)
        return None
    if f.type == "multi_choice":
        if isinstance(f.min, int) and isinstance(f.max, int):
            return _("Choose {low} to {high}").format(low=f.min, high=f.max)
        if isinstance(f.max, int):
            return _("Choose at most {high}").format(high=f.max)
        if isinstance(f.min, int):
            return _("Choose at least {low}").format(low=f.min)
    if f.type == "text" and f.max_length:
        return _("At most {count} characters").format(count=f.max_length)
    return None


@dataclass(frozen=True)
class QuestionView:
    form: FormDef
    period: str
    step: Step
    lang: str
    current: Value | None
    previous: Value | None
    ticked: Sequence[str] | None
    submission_id: int
    can_go_back: bool
    complete: bool
    file_mb: int = 10
    """For a file question without a max_mb of its own: the `[files] max_mb` setting."""


def rule_lines(results: Iterable[RuleResult], form: FormDef, lang: str, _: Gettext) -> list[str]:
    out = []
    for r in results:
        names = (
            "、".join(form.field(c).label.get(lang) for c in r.fields if form.has_field(c))
            if lang.startswith("zh")
            else ", ".join(form.field(c).label.get(lang) for c in r.fields if form.has_field(c))
        )
        mark = "❌" if r.severity == "error" else "⚠️"
        text = r.message.get("en" if lang.startswith("en") else "zh", "")
        line = f"{mark} {escape(text)}"
        if names:
            line += "\n    " + _("Fields: {names}").format(names=escape(names))
        out.append(line)
    return out


def fix_buttons(
    results: Iterable[RuleResult], steps: Sequence[Step], sub: int, lang: str, limit: int = 8
) -> list[list[InlineKeyboardButton]]:
    """One ✏️ button per answer the failing rules concern, in form order, each on a row of
    its own with the question's whole label: cut short, two labels that differ only at
    their end ("of whom: bachelor's deg…") could not be told apart."""
    by_key = {s.key: s for s in steps}
    seen: list[AnswerKey] = []
    for r in results:
        for k in r.keys:
            if k in by_key and k not in seen:
                seen.append(k)
    buttons = [
        InlineKeyboardButton(
            "✏️ " + step_label(by_key[k], lang), callback_data=EditAnswer(sub, key_token(k)).pack()
        )
        for k in seen[:limit]
    ]
    return _rows(buttons, 1)


@dataclass(frozen=True)
class AnswersView:
    """A report's answers as a list to read: the review before submitting, and what was
    submitted (SubmittedView)."""

    form: FormDef
    period: str
    lang: str
    steps: Sequence[Step]
    answers: Mapping[AnswerKey, Value]
    computed: Mapping[str, Value | None]


@dataclass(frozen=True)
class ReviewView(AnswersView):
    errors: Sequence[RuleResult]
    warnings: Sequence[RuleResult]
    missing: Sequence[Step]
    submission_id: int
    revising: bool


def _review_last_row(view: ReviewView, _: Gettext) -> list[InlineKeyboardButton]:
    """Continue answering (or Submit, once nothing is missing or wrong), and Pause."""
    sub = view.submission_id
    last: list[InlineKeyboardButton] = []
    if view.missing:
        last.append(
            InlineKeyboardButton(
                _("Continue answering"),
                callback_data=EditAnswer(sub, key_token(view.missing[0].key)).pack(),
            )
        )
    elif not view.errors:
        last.append(
            InlineKeyboardButton(
                _("✅ Submit revision") if view.revising else _("✅ Submit"),
                callback_data=SubmitReport(sub).pack(),
            )
        )
    last.append(InlineKeyboardButton(_("⏸ Pause"), callback_data=PauseReport(sub).pack()))
    return last


def answered_steps(steps: Iterable[Step]) -> Iterable[tuple[int, Step]]:
    """The questions that hold an answer (not "add another item?"), numbered from 1."""
    fields = (s for s in steps if s.kind != "add_item")
    return enumerate(fields, start=1)


def answer_line(
    number: int, step: Step, answers: Mapping[AnswerKey, Value], lang: str, _: Gettext
) -> str:
    """"3. 专任教师数：<b>57人</b>": the label, and the answer with its unit."""
    assert step.field is not None
    value = answers.get(step.key)
    shown = format_value(step.field, value, lang) if value is not None else _("(no answer)")
    return f"{number}. " + _("{label}: {value}").format(
        label=escape(step_label(step, lang)), value=f"<b>{escape(shown)}</b>"
    )


def computed_lines(
    form: FormDef, computed: Mapping[str, Value | None], lang: str, _: Gettext
) -> list[str]:
    """The form's computed figures that have a value, under their heading."""
    shown = [(c, computed.get(c.code)) for c in form.computed if computed.get(c.code) is not None]
    if not shown:
        return []
    lines = ["", "<b>" + _("Computed") + "</b>"]
    for c, v in shown:
        lines.append(
            _("{label}: {value}").format(
                label=escape(c.label.get(lang)), value=escape(format_value(c, v, lang))
            )
        )
    return lines


def discard_button(sub: int, _: Gettext) -> InlineKeyboardButton:
    """"Discard changes" of a revision under way (asks to confirm)."""
    return InlineKeyboardButton(_("🗑 Discard changes"), callback_data=AskDiscard(sub).pack())


def _discard_row(sub: int, _: Gettext) -> list[InlineKeyboardButton]:
    return [discard_button(sub, _)]


def review(view: ReviewView, _: Gettext, before: Iterable[str] = ()) -> Rendered:
    lang, form, sub = view.lang, view.form, view.submission_id
    lines = [*before]
    lines.append(
        f"📋 <b>{escape(form.title.get(lang))}</b> · {escape(view.period)} — "
        + _("please check your answers")
    )
    edit_buttons: list[InlineKeyboardButton] = []
    remove_buttons: list[InlineKeyboardButton] = []
    for number, step in answered_steps(view.steps):
        lines.append(answer_line(number, step, view.answers, lang, _))
        edit_buttons.append(
            InlineKeyboardButton(
                f"✏️ {number}", callback_data=EditAnswer(sub, key_token(step.key)).pack()
            )
        )
        g = step.group
        if g is not None and step.item is not None and step.field is g.fields[0]:
            if len(g.fields) and item_removable(g.min_items, step.item):
                remove_buttons.append(
                    InlineKeyboardButton(
                        "🗑 " + short_label(f"{g.label.get(lang)} {step.item + 1}", 24),
                        callback_data=RemoveItem(
                            sub, key_token((g.code, ITEM_DONE)), step.item
                        ).pack(),
                    )
                )
    lines.extend(computed_lines(form, view.computed, lang, _))
    if view.missing:
        lines.append("")
        lines.append("<b>" + _("Still to answer") + "</b>")
        lines.extend("• " + escape(step_label(s, lang)) for s in view.missing)
    if view.errors:
        lines.append("")
        lines.append("<b>" + _("To correct before submitting") + "</b>")
        lines.extend(rule_lines(view.errors, form, lang, _))
    if view.warnings:
        lines.append("")
        lines.append("<b>" + _("Please check (you may confirm these)") + "</b>")
        lines.extend(rule_lines(view.warnings, form, lang, _))
    buttons = _rows(edit_buttons, 6)
    buttons.extend(_rows(remove_buttons, 2))
    last = _review_last_row(view, _)
    buttons.append(last)
    if view.revising:
        buttons.append(_discard_row(sub, _))
    text = "\n".join(lines)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 2] + "\n…"
    return Rendered(text, InlineKeyboardMarkup(buttons))


def item_removable(min_items: int, item: int) -> bool:
    # Items below min_items are part of the form itself; only added ones can go.
    return item >= min_items


def receipt(
    *,
    form: FormDef,
    period: str,
    lang: str,
    revision: Revision,
    until: datetime | None,
    tz: ZoneInfo,
    _: Gettext,
    closed: str = "",
    files: Sequence[str] = (),
) -> str:
    """The receipt. `until`: the last moment the school may still revise (the round's
    lock, or the end of a staff unlock); None when it no longer may, and `closed` then
    says so and whom to ask."""
    submitted_at = revision.submitted_at
    lines = [
        "✅ "
        + _("Submitted: {form} ({period})").format(
            form=escape(form.title.get(lang)), period=escape(period)
        ),
        _("Revision {number}, received {time}").format(
            number=revision.number, time=local(submitted_at, tz, lang, submitted_at)
        ),
        _("Reference number: <code>{reference}</code>").format(reference=revision.reference),
        *file_texts.receipt_lines(_, [escape(f) for f in files]),
    ]
    if not revision.on_time:
        lines.append(_("Received after the deadline."))
    if until is not None:
        lines.append(
            _("You may revise it until {deadline}: send /report.").format(
                deadline=local(until, tz, lang, submitted_at)
            )
        )
    elif closed:
        lines.append(closed)
    return "\n".join(lines)


# --- the submitted report, read-only, and discarding a revision ------------------------------


@dataclass(frozen=True)
class SubmittedView(AnswersView):
    """What the school submitted last (a revision's answers), shown without changing it."""

    number: int
    reference: str
    submitted_at: datetime
    tz: ZoneInfo
    submission_id: int
    round_id: int
    may_revise: bool
    """Entry is open for the school: a revision may begin (or go on)."""
    revising: bool
    """A revision is under way: its draft is not what is shown here."""


def submitted_view(view: SubmittedView, _: Gettext) -> Rendered:
    lang = view.lang
    lines = [
        "📄 "
        + _("Submitted report: <b>{form}</b> ({period})").format(
            form=escape(view.form.title.get(lang)), period=escape(view.period)
        ),
        _("Revision {number}, received {time}").format(
            number=view.number, time=local(view.submitted_at, view.tz, lang)
        ),
        _("Reference number: <code>{reference}</code>").format(reference=view.reference),
    ]
    if view.revising:
        lines.append(
            _("A revision is under way; this is what the bureau has until it is submitted.")
        )
    lines.append("")
    lines.extend(answer_line(n, s, view.answers, lang, _) for n, s in answered_steps(view.steps))
    lines.extend(computed_lines(view.form, view.computed, lang, _))
    text = "\n".join(lines)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 2] + "\n…"
    return Rendered(text, InlineKeyboardMarkup(_submitted_rows(view, _)))


def _submitted_rows(view: SubmittedView, _: Gettext) -> list[list[InlineKeyboardButton]]:
    sub = view.submission_id
    rows: list[list[InlineKeyboardButton]] = []
    if view.may_revise and view.revising:
        rows.append(
            [
                InlineKeyboardButton(
                    _("▶️ Continue the revision"), callback_data=OpenReport(view.round_id).pack()
                )
            ]
        )
        rows.append(_discard_row(sub, _))
    elif view.may_revise:
        rows.append([InlineKeyboardButton(_("✏️ Revise"), callback_data=ReviseReport(sub).pack())])
    back = InlineKeyboardButton(_("⬅ Back to my reports"), callback_data=ReportList().pack())
    rows.append([back])
    return rows


def view_button(submission_id: int, _: Gettext) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        _("👁 View the submitted report"), callback_data=ViewSubmitted(submission_id).pack()
    )


def discard_question(
    submission_id: int, number: int, reference: str, _: Gettext
) -> Rendered:
    """The one-step confirmation of "Discard changes"."""
    text = _(
        "Discard the changes of this revision? Revision {number} as submitted (reference "
        "{reference}) stays exactly as it is with the bureau; what was changed since "
        "“✏️ Revise” is deleted."
    ).format(number=number, reference=f"<code>{escape(reference)}</code>")
    rows = [
        [
            InlineKeyboardButton(
                _("🗑 Yes, discard the changes"),
                callback_data=DiscardRevision(submission_id, number).pack(),
            )
        ],
        [
            InlineKeyboardButton(
                _("⬅ No, keep revising"), callback_data=ReviewReport(submission_id).pack()
            )
        ],
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))


def discarded(submission_id: int, number: int, reference: str, _: Gettext) -> Rendered:
    """After the discard: the submitted report is as it was."""
    text = "↩️ " + _(
        "The changes were discarded. Revision {number} (reference {reference}) stays as "
        "submitted."
    ).format(number=number, reference=f"<code>{escape(reference)}</code>")
    rows = [
        [view_button(submission_id, _)],
        [InlineKeyboardButton(_("📋 My reports"), callback_data=ReportList().pack())],
    ]
    return Rendered(text, InlineKeyboardMarkup(rows))
