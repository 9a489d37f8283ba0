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
    ParseError,
    RuleResult,
    Step,
    Value,
    format_value,
)
from texts.callbacks import (
    AddItem,
    DoneTicking,
    EditAnswer,
    GoBack,
    KeepAnswer,
    NoMoreItems,
    PauseReport,
    PickChoice,
    RemoveItem,
    ReviewReport,
    SkipQuestion,
    SubmitReport,
    TickChoice,
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


def type_hint(f: FieldDef, _: Gettext) -> str:
    return {
        "integer": _("Type a whole number."),
        "decimal": _("Type a number."),
        "date": _("Type a date like 2026-11-22."),
        "choice": _("Press a button or type its number."),
        "multi_choice": _("Tick the buttons, then press Done; or type numbers like 1,3."),
        "text": _("Type your answer."),
    }[f.type]


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


def question(view: QuestionView, _: Gettext, before: Iterable[str] = ()) -> Rendered:
    step, lang, form = view.step, view.lang, view.form
    lines = [*before]
    lines.append(
        f"📋 {escape(form.title.get(lang))} · {escape(view.period)} · {step.position}/{step.total}"
    )
    buttons: list[list[InlineKeyboardButton]] = []
    if step.kind == "add_item":
        lines.extend(_add_item_lines(view, _))
        buttons.append(_add_item_row(view, _))
    else:
        f = step.field
        assert f is not None
        lines.extend(_field_lines(view, f, _))
        buttons.extend(_field_rows(view, f, _))
    buttons.append(_nav_row(view, _))
    return Rendered("\n".join(lines), InlineKeyboardMarkup(buttons))


def _add_item_lines(view: QuestionView, _: Gettext) -> list[str]:
    """The question "add (another) item to this group?"."""
    step, lang = view.step, view.lang
    g = step.group
    assert g is not None
    prompt = g.add_prompt.get(lang) if g.add_prompt else None
    if prompt is None:
        prompt = (_("Add a {item}?") if step.item == 0 else _("Add another {item}?")).format(
            item=g.label.get(lang)
        )
    lines = [f"<b>{escape(prompt)}</b>"]
    if step.item:
        lines.append(_("{count} added so far.").format(count=step.item))
    if g.hint:
        lines.append(f"<i>{escape(g.hint.get(lang))}</i>")
    return lines


def _add_item_row(view: QuestionView, _: Gettext) -> list[InlineKeyboardButton]:
    sub, tok = view.submission_id, key_token(view.step.key)
    return [
        InlineKeyboardButton(_("Yes, add one"), callback_data=AddItem(sub, tok).pack()),
        InlineKeyboardButton(_("No more"), callback_data=NoMoreItems(sub, tok).pack()),
    ]


def _field_lines(view: QuestionView, f: FieldDef, _: Gettext) -> list[str]:
    """A field's question: label, what is allowed, its choices, the answer so far."""
    lang = view.lang
    label = escape(step_label(view.step, lang))
    unit = _(" ({unit})").format(unit=escape(f.unit.get(lang))) if f.unit else ""
    lines = [f"<b>{label}</b>{unit}"]
    allowed = range_text(f, lang, _)
    if allowed:
        lines.append(escape(allowed))
    if f.hint:
        lines.append(f"<i>{escape(f.hint.get(lang))}</i>")
    if f.type in ("choice", "multi_choice"):
        lines.extend(f"{i}. {escape(c.label.get(lang))}" for i, c in enumerate(f.choices, start=1))
    if not f.required:
        lines.append(_("(optional)"))
    if view.current is not None:
        lines.append(
            _("Current answer: {value}").format(value=escape(format_value(f, view.current, lang)))
        )
    elif view.previous is not None:
        lines.append(
            _("Last period: {value}").format(value=escape(format_value(f, view.previous, lang)))
        )
    lines.append(f"<i>{escape(type_hint(f, _))}</i>")
    return lines


def _field_rows(view: QuestionView, f: FieldDef, _: Gettext) -> list[list[InlineKeyboardButton]]:
    """A field's buttons: its choices (or ticks and Done), and Keep."""
    sub, tok, lang = view.submission_id, key_token(view.step.key), view.lang
    rows: list[list[InlineKeyboardButton]] = []
    if f.type == "choice":
        choice_buttons = [
            InlineKeyboardButton(
                ("✓ " if view.current == c.code else "") + short_label(c.label.get(lang)),
                callback_data=PickChoice(sub, tok, i).pack(),
            )
            for i, c in enumerate(f.choices)
        ]
        rows.extend(_rows(choice_buttons, 2))
    elif f.type == "multi_choice":
        ticked = set(view.ticked or ())
        tick_buttons = [
            InlineKeyboardButton(
                ("✅ " if c.code in ticked else "") + short_label(c.label.get(lang), 20),
                callback_data=TickChoice(sub, tok, i).pack(),
            )
            for i, c in enumerate(f.choices)
        ]
        rows.extend(_rows(tick_buttons, 3))
        rows.append(
            [InlineKeyboardButton(_("Done ✓"), callback_data=DoneTicking(sub, tok).pack())]
        )
    keep = view.current if view.current is not None else view.previous
    if keep is not None and f.type != "choice":
        shown = short_label(format_value(f, keep, lang), 30)
        text = _("Keep {value}") if view.current is not None else _("Same as last period: {value}")
        rows.append(
            [
                InlineKeyboardButton(
                    text.format(value=shown), callback_data=KeepAnswer(sub, tok).pack()
                )
            ]
        )
    return rows


def _nav_row(view: QuestionView, _: Gettext) -> list[InlineKeyboardButton]:
    """Back, Skip, Review and Pause."""
    step, sub, tok = view.step, view.submission_id, key_token(view.step.key)
    nav = []
    if view.can_go_back:
        nav.append(InlineKeyboardButton(_("⬅ Back"), callback_data=GoBack(sub, tok).pack()))
    if step.kind == "field" and step.field is not None and not step.field.required:
        nav.append(InlineKeyboardButton(_("Skip"), callback_data=SkipQuestion(sub, tok).pack()))
    if view.complete:
        nav.append(InlineKeyboardButton(_("Review"), callback_data=ReviewReport(sub).pack()))
    nav.append(InlineKeyboardButton(_("⏸ Pause"), callback_data=PauseReport(sub).pack()))
    return nav


def _refusal(err: ParseError, f: FieldDef, lang: str, _: Gettext) -> str:
    """The first line of parse_error: why the answer was refused."""
    p = err.params
    kind = err.kind
    if kind == "required":
        msg = _("This question needs an answer.")
    elif kind == "not_a_number":
        msg = _("That is not a number.")
    elif kind == "not_integer":
        msg = _("Please type a whole number, without decimals.")
    elif kind in ("below_min", "above_max"):
        msg = _out_of_range(err, f, lang, _)
    elif kind == "too_many_decimals":
        msg = _("Please use at most {count} decimal places.").format(count=p.get("decimals"))
    elif kind == "wrong_unit":
        unit = f.unit.get(lang) if f.unit else ""
        msg = _("“{given}” is not the unit of this question ({unit}).").format(
            given=escape(str(p.get("given", ""))), unit=escape(unit)
        )
    elif kind == "bad_date":
        msg = _("That is not a date I can read.")
    elif kind == "unknown_choice":
        msg = _("“{value}” is not one of the choices.").format(
            value=escape(str(p.get("value", "")))
        )
    elif kind == "too_few_choices":
        msg = _("Please choose at least {count}.").format(count=p.get("min"))
    elif kind == "too_many_choices":
        msg = _("Please choose at most {count}.").format(count=p.get("max"))
    else:  # too_long
        msg = _("That is {length} characters; at most {count} are allowed.").format(
            length=p.get("length"), count=p.get("max_length")
        )
    return msg


def _out_of_range(err: ParseError, f: FieldDef, lang: str, _: Gettext) -> str:
    """A number (or date) below the least or above the most allowed."""
    lo, hi = err.params.get("min"), err.params.get("max")

    def fmt(v: object) -> str:
        return escape(format_value(f, v, lang)) if v is not None else ""  # type: ignore[arg-type]

    if f.type == "date":
        return _("That date is outside the allowed dates.")
    if err.kind == "below_min":
        return _("That is less than {low}.").format(low=fmt(lo))
    return (
        _("That is more than {high}.").format(high=fmt(hi))
        if hi is not None
        else _("That number is too large.")
    )


def parse_error(err: ParseError, f: FieldDef, lang: str, _: Gettext) -> str:
    """Why an answer was refused and what is allowed, in the person's language."""
    msg = _refusal(err, f, lang, _)
    lines = ["❌ " + msg]
    allowed = range_text(f, lang, _)
    if allowed:
        lines.append(escape(allowed))
    lines.append(escape(type_hint(f, _)))
    lines.append(_("Nothing was saved; please answer again."))
    return "\n".join(lines)


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
    """One ✏️ button per answer the failing rules concern, in form order."""
    by_key = {s.key: s for s in steps}
    seen: list[AnswerKey] = []
    for r in results:
        for k in r.keys:
            if k in by_key and k not in seen:
                seen.append(k)
    buttons = [
        InlineKeyboardButton(
            "✏️ " + short_label(step_label(by_key[k], lang), 24),
            callback_data=EditAnswer(sub, key_token(k)).pack(),
        )
        for k in seen[:limit]
    ]
    return _rows(buttons, 2)


@dataclass(frozen=True)
class ReviewView:
    form: FormDef
    period: str
    lang: str
    steps: Sequence[Step]
    answers: Mapping[AnswerKey, Value]
    computed: Mapping[str, Value | None]
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


def review(view: ReviewView, _: Gettext, before: Iterable[str] = ()) -> Rendered:
    lang, form, sub = view.lang, view.form, view.submission_id
    lines = [*before]
    lines.append(
        f"📋 <b>{escape(form.title.get(lang))}</b> · {escape(view.period)} — "
        + _("please check your answers")
    )
    edit_buttons: list[InlineKeyboardButton] = []
    remove_buttons: list[InlineKeyboardButton] = []
    number = 0
    for step in view.steps:
        if step.kind == "add_item":
            continue
        assert step.field is not None
        number += 1
        value = view.answers.get(step.key)
        shown = format_value(step.field, value, lang) if value is not None else _("(no answer)")
        lines.append(
            f"{number}. "
            + _("{label}: {value}").format(
                label=escape(step_label(step, lang)), value=f"<b>{escape(shown)}</b>"
            )
        )
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
    shown_computed = [
        (c, view.computed.get(c.code))
        for c in form.computed
        if view.computed.get(c.code) is not None
    ]
    if shown_computed:
        lines.append("")
        lines.append("<b>" + _("Computed") + "</b>")
        for c, v in shown_computed:
            lines.append(
                _("{label}: {value}").format(
                    label=escape(c.label.get(lang)), value=escape(format_value(c, v, lang))
                )
            )
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
    number: int,
    reference: str,
    submitted_at: datetime,
    on_time: bool,
    until: datetime | None,
    tz: ZoneInfo,
    _: Gettext,
    closed: str = "",
) -> str:
    """The receipt. `until`: the last moment the school may still revise (the round's
    lock, or the end of a staff unlock); None when it no longer may, and `closed` then
    says so and whom to ask."""
    lines = [
        "✅ "
        + _("Submitted: {form} ({period})").format(
            form=escape(form.title.get(lang)), period=escape(period)
        ),
        _("Revision {number}, received {time}").format(
            number=number, time=local(submitted_at, tz, lang, submitted_at)
        ),
        _("Reference number: <code>{reference}</code>").format(reference=reference),
    ]
    if not on_time:
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
