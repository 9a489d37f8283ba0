"""One question of the report as the person sees it: where they are in terms they count
in ("3/14", or "培训项目 2 · 第 3/6 题" inside a repeatable item), the question, its
options listed once (as buttons when their labels fit, else as numbered text with number
buttons), and why a typed answer was refused, naming the question.

The counts come from the forms engine (Step.number / Step.count, outline()); this module
only words them. It replaces the question screen of handlers/report_view.py (question,
parse_error and their helpers there are no longer called)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.report_view import (
    QuestionView,
    Rendered,
    key_token,
    range_text,
    short_label,
    step_label,
)
from models.forms import FieldDef, FormDef, Outline, ParseError, Step, format_value
from texts import files as file_texts
from texts.callbacks import (
    AddItem,
    DoneTicking,
    GoBack,
    KeepAnswer,
    NoMoreItems,
    PauseReport,
    PickChoice,
    ReviewReport,
    SkipQuestion,
    TickChoice,
)
from texts.i18n import Gettext, ngettext_for

# What a phone shows of a button's label before it cuts it with "…", in columns (a Chinese
# character takes two): one button per row takes about 30, two per row about 15.
WIDE_BUTTON = 28
HALF_BUTTON = 14
NUMBERS_PER_ROW = 5
MAX_ROWS = 8
"""More options than this, one a row, make a keyboard taller than the screen: numbered."""


def columns(text: str) -> int:
    """How wide a label is on screen: Chinese (wide) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def choice_layout(f: FieldDef, lang: str) -> int:
    """Buttons per row when every option's label fits on its button uncut (2 or 1), or 0:
    the options are then numbered in the text and the buttons carry the numbers."""
    mark = 2 if f.type == "multi_choice" else 0  # room for the ✅ of a ticked option
    widest = max((columns(c.label.get(lang)) + mark for c in f.choices), default=0)
    if widest <= HALF_BUTTON:
        return 2
    return 1 if widest <= WIDE_BUTTON and len(f.choices) <= MAX_ROWS else 0


def type_hint(f: FieldDef, lang: str, _: Gettext) -> str:
    if f.type == "choice":
        if choice_layout(f, lang):
            return _("Press a button, or type your answer.")
        return _("Press a button or type its number.")
    if f.type == "multi_choice":
        if choice_layout(f, lang):
            return _("Tick the buttons, then press Done.")
        return _("Tick the buttons, then press Done; or type numbers like 1,3.")
    return {
        "integer": _("Type a whole number."),
        "decimal": _("Type a number."),
        "date": _("Type a date like 2026-11-22."),
        "text": _("Type your answer."),
        "file": file_texts.send_hint(_),
    }[f.type]


# --- where the person is ------------------------------------------------------------------


def progress_text(step: Step, lang: str, _: Gettext) -> str:
    """Where the person is: "3/14" among the form's own questions, "培训项目 2 · 第 3/6 题"
    inside an item, the group's name alone while asking whether to add an item."""
    g = step.group
    if g is None:
        return f"{step.number}/{step.count}"
    if step.kind == "add_item":
        return escape(g.label.get(lang))
    return _("{item} {number} · question {index} of {count}").format(
        item=escape(g.label.get(lang)),
        number=step.item_number,
        index=step.number,
        count=step.count,
    )


def opening_count(outline: Outline, lang: str, _: Gettext) -> str:
    """How many questions the opening screen promises, true for repeatable items too
    ("共 2 题；培训项目逐项填写，每项 6 题，逐题回答。…"): the opening screen
    (handlers/report/open.py) shows it for a report not started yet."""
    n_ = ngettext_for(lang)
    words = n_("{count} question", "{count} questions", outline.questions).format(
        count=outline.questions
    )
    for g, per_item in outline.per_item:
        then = n_(
            "then one {item} after another, {count} question each",
            "then one {item} after another, {count} questions each",
            per_item,
        ).format(item=escape(_in_sentence(g.label.get(lang))), count=per_item)
        words = _("{first}; {second}").format(first=words, second=then)
    return _(
        "{questions}, one at a time. Every answer is saved as you give it; you may pause "
        "and come back at any time."
    ).format(questions=words)


# --- the question ----------------------------------------------------------------------------


def question(view: QuestionView, _: Gettext, before: Iterable[str] = ()) -> Rendered:
    step, lang, form = view.step, view.lang, view.form
    lines = [*before, _heading(form, view.period, step, lang, _)]
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


def _heading(form: FormDef, period: str, step: Step, lang: str, _: Gettext) -> str:
    """The form, the period and where the person is: on the same line for the form's own
    questions, on a line of its own inside a repeatable item (it is long on a phone)."""
    where = progress_text(step, lang, _)
    title = f"📋 {escape(form.title.get(lang))} · {escape(period)}"
    return f"{title} · {where}" if step.group is None else f"{title}\n{where}"


def _add_item_lines(view: QuestionView, _: Gettext) -> list[str]:
    """Whether there is an item at all (before the first), or another one: the form's
    add_prompt speaks of "another", so it is never asked before the first item."""
    step, lang = view.step, view.lang
    g = step.group
    assert g is not None
    item = _in_sentence(g.label.get(lang))
    if step.asks_first_item:
        prompt = _("Is there any {item} to report?").format(item=item)
    elif g.add_prompt is not None:
        prompt = g.add_prompt.get(lang)
    else:
        prompt = _("Add another {item}?").format(item=item)
    lines = [f"<b>{escape(prompt)}</b>"]
    if step.item:
        lines.append(_("{count} added so far.").format(count=step.item))
    if g.hint:
        lines.append(f"<i>{escape(g.hint.get(lang))}</i>")
    return lines


def _in_sentence(label: str) -> str:
    """A label inside an English sentence ("a senior title applicant"); an acronym
    (IT teacher) and Chinese stay as they are."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _add_item_row(view: QuestionView, _: Gettext) -> list[InlineKeyboardButton]:
    sub, tok = view.submission_id, key_token(view.step.key)
    first = view.step.asks_first_item
    return [
        InlineKeyboardButton(
            _("Yes, fill one in") if first else _("Yes, add one"),
            callback_data=AddItem(sub, tok).pack(),
        ),
        InlineKeyboardButton(
            _("None to report") if first else _("No more"),
            callback_data=NoMoreItems(sub, tok).pack(),
        ),
    ]


def _field_lines(view: QuestionView, f: FieldDef, _: Gettext) -> list[str]:
    """A field's question: label, what is allowed, its options when numbered, the answer
    so far."""
    lang = view.lang
    unit = _(" ({unit})").format(unit=escape(f.unit.get(lang))) if f.unit else ""
    lines = [f"<b>{escape(f.label.get(lang))}</b>{unit}"]
    allowed = range_text(f, lang, _)
    if f.type == "file":
        allowed = file_texts.accepted(_, f.kinds, f.max_mb or view.file_mb)
    if allowed:
        lines.append(escape(allowed))
    if f.hint:
        lines.append(f"<i>{escape(f.hint.get(lang))}</i>")
    if f.type in ("choice", "multi_choice") and not choice_layout(f, lang):
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
    lines.append(f"<i>{escape(type_hint(f, lang, _))}</i>")
    return lines


def _field_rows(view: QuestionView, f: FieldDef, _: Gettext) -> list[list[InlineKeyboardButton]]:
    """A field's buttons: its options (or ticks and Done), and Keep."""
    rows = _option_rows(view, f)
    if f.type == "multi_choice":
        sub, tok = view.submission_id, key_token(view.step.key)
        rows.append([InlineKeyboardButton(_("Done ✓"), callback_data=DoneTicking(sub, tok).pack())])
    keep = view.current if view.current is not None else view.previous
    if keep is not None and f.type != "choice":
        shown = short_label(format_value(f, keep, lang=view.lang), 30)
        text = _("Keep {value}") if view.current is not None else _("Same as last period: {value}")
        data = KeepAnswer(view.submission_id, key_token(view.step.key)).pack()
        rows.append([InlineKeyboardButton(text.format(value=shown), callback_data=data)])
    return rows


def _option_rows(view: QuestionView, f: FieldDef) -> list[list[InlineKeyboardButton]]:
    """One button per option: its label when every label fits, else its number (the
    numbered list is then in the text). ✓ marks the answer, ✅ a ticked option."""
    if f.type not in ("choice", "multi_choice"):
        return []
    sub, tok, lang = view.submission_id, key_token(view.step.key), view.lang
    per_row = choice_layout(f, lang)
    if f.type == "choice":
        marked = {view.current} if isinstance(view.current, str) else set()
        mark = "✓ "
    else:
        marked, mark = set(view.ticked or ()), "✅ "
    buttons = []
    for i, c in enumerate(f.choices):
        label = c.label.get(lang) if per_row else str(i + 1)
        text = (mark if c.code in marked else "") + label
        data = (PickChoice if f.type == "choice" else TickChoice)(sub, tok, i).pack()
        buttons.append(InlineKeyboardButton(text, callback_data=data))
    return _rows(buttons, per_row or NUMBERS_PER_ROW)


def _rows(
    buttons: Sequence[InlineKeyboardButton], per_row: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


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


# --- a refused answer ------------------------------------------------------------------------


def parse_error(err: ParseError, step: Step, lang: str, _: Gettext) -> str:
    """Why an answer was refused, naming the question (the person may have scrolled), what
    is allowed, and that nothing was saved."""
    f = step.field
    assert f is not None
    lines = ["❌ " + refusal(err, step, lang, _)]
    allowed = range_text(f, lang, _)
    if allowed:
        lines.append(escape(allowed))
    lines.append(escape(type_hint(f, lang, _)))
    lines.append(_("Nothing was saved; please answer again."))
    return "\n".join(lines)


def refusal(err: ParseError, step: Step, lang: str, _: Gettext) -> str:
    """The reason, in one sentence that names the question."""
    f = step.field
    assert f is not None
    label = escape(step_label(step, lang))
    kind, p = err.kind, err.params
    n_ = ngettext_for(lang)
    if kind in ("below_min", "above_max"):
        return _out_of_range(err, f, label, lang, _)
    if kind == "too_many_decimals":
        places = int(str(p.get("decimals")))
        text = n_("“{label}” takes at most {count} decimal place.",
                  "“{label}” takes at most {count} decimal places.", places)
        return text.format(label=label, count=places)
    if kind == "too_few_choices":
        return _("“{label}”: please choose at least {count}.").format(
            label=label, count=p.get("min")
        )
    if kind == "too_many_choices":
        return _("“{label}”: please choose at most {count}.").format(
            label=label, count=p.get("max")
        )
    if kind == "too_long":
        most = int(str(p.get("max_length")))
        text = n_("“{label}” takes at most {count} character; that is {length}.",
                  "“{label}” takes at most {count} characters; that is {length}.", most)
        return text.format(label=label, count=most, length=p.get("length"))
    if kind == "wrong_unit":
        unit = escape(f.unit.get(lang)) if f.unit else ""
        return _("“{given}” is not the unit of “{label}” ({unit}).").format(
            given=escape(str(p.get("given", ""))), label=label, unit=unit
        )
    if kind == "unknown_choice":
        return _("“{value}” is not one of the options of “{label}”.").format(
            value=escape(str(p.get("value", ""))), label=label
        )
    return _simple(kind, f, _).format(label=label)


def _simple(kind: str, f: FieldDef, _: Gettext) -> str:
    if kind == "not_a_number":
        if f.type == "integer":
            return _("“{label}” needs a whole number; that is not a number.")
        return _("“{label}” needs a number; that is not a number.")
    if kind == "approximate":
        return _("“{label}” needs an exact figure, not an estimate.")
    if kind == "not_integer":
        return _("“{label}” needs a whole number, without decimals.")
    if kind == "bad_date":
        return _("“{label}” needs a date; that is not a date I can read.")
    if kind == "needs_file":
        return file_texts.needs_file(_, "{label}")
    return _("“{label}” needs an answer.")


def _out_of_range(err: ParseError, f: FieldDef, label: str, lang: str, _: Gettext) -> str:
    lo, hi = err.params.get("min"), err.params.get("max")
    if f.type == "date":
        return _("“{label}”: that date is outside the allowed dates.").format(label=label)
    if err.kind == "below_min" and lo is not None:
        low = escape(format_value(f, lo, lang))
        return _("“{label}” cannot be less than {low}.").format(label=label, low=low)
    if hi is not None:
        high = escape(format_value(f, hi, lang))
        return _("“{label}” cannot be more than {high}.").format(label=label, high=high)
    return _("“{label}”: that number is too large.").format(label=label)
