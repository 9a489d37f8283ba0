"""Walking a form: where a draft stands, which question comes next or before, and
whether anything is left to ask. The only walker: the report conversation, the
submission and the tests all ask these functions.

Every function is stateless. The ones the report's hot path calls take the visible
steps (`steps()`) it has already computed for the step being handled, so that one
answer resolves the form's visibility no more often than it has to.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from models.forms.definition import AnswerKey, FieldDef, FormDef, Value
from models.forms.engine import Step, StepKind, steps

REVIEW: Final = "review"
"""The position of a draft whose person is on the review screen (no question)."""

Position = AnswerKey | Literal["review"] | None
"""Where a draft stands: a question's key, the review, or nowhere yet (None)."""

Answers = Mapping[AnswerKey, Value]
Ctx = Mapping[str, Value | None]


@dataclass(frozen=True, slots=True)
class Walk:
    """How the person moves on once a question is answered.

    `back`: they pressed "back" and walk through answered questions: the very next
    question is shown, answered or not, until an open one is reached.
    `review`: they came from the review screen to change one answer, so the review
    follows as soon as nothing is left open."""

    back: bool = False
    review: bool = False


def answered(key: AnswerKey, kind: StepKind, answers: Answers) -> bool:
    """A field with a value, or a group whose "no more items" was said."""
    if kind == "add_item":
        return answers.get(key) is True
    return answers.get(key) is not None


def is_open(step: Step, answers: Answers, skipped: Collection[AnswerKey]) -> bool:
    """Still to be asked: unanswered (a group not finished) and not skipped."""
    return step.key not in skipped and not answered(step.key, step.kind, answers)


def first_open(
    visible: list[Step], answers: Answers, skipped: Collection[AnswerKey], start: int = 0
) -> Step | None:
    """The first question from `start` on that is still to be asked; None when done."""
    for s in visible[start:]:
        if is_open(s, answers, skipped):
            return s
    return None


def index_of(visible: list[Step], key: AnswerKey) -> int | None:
    for i, s in enumerate(visible):
        if s.key == key:
            return i
    return None


def current_step(
    visible: list[Step], answers: Answers, skipped: Collection[AnswerKey], at: Position
) -> Step | None:
    """The question a draft standing at `at` shows; None means the review screen.
    A position that is no longer asked (hidden since) shows the first open question."""
    if at == REVIEW:
        return None
    if at is not None:
        i = index_of(visible, at)
        if i is not None:
            return visible[i]
    return first_open(visible, answers, skipped)


def step_after(
    visible: list[Step],
    answers: Answers,
    skipped: Collection[AnswerKey],
    key: AnswerKey,
    walk: Walk,
) -> tuple[Step | None, Walk]:
    """Where to go once `key` is answered (or skipped), and how the walk goes on from
    there: the very next question while walking back through answered ones, the review
    (None) when editing from it and nothing is open, else the next open question."""
    i = index_of(visible, key)
    if walk.back and i is not None and i + 1 < len(visible):
        nxt = visible[i + 1]
        if is_open(nxt, answers, skipped):
            return nxt, Walk(review=walk.review)
        return nxt, walk
    walk = Walk(review=walk.review)
    if walk.review:
        found = first_open(visible, answers, skipped)
        return found, walk if found is not None else Walk()
    if i is not None:
        found = first_open(visible, answers, skipped, i + 1)
        if found is not None:
            return found, walk
    return first_open(visible, answers, skipped), walk


def next_step(
    form: FormDef, answers: Answers, context: Ctx, skipped: Iterable[AnswerKey] = frozenset()
) -> Step | None:
    """The first visible question neither answered nor skipped; None when done."""
    return first_open(steps(form, answers, context), answers, set(skipped))


def _order(form: FormDef, key: AnswerKey) -> tuple[int, int, int] | None:
    code, item = key
    for pos, entry in enumerate(form.items):
        if isinstance(entry, FieldDef):
            if entry.code == code:
                return (pos, 0, 0)
            continue
        if entry.code == code:
            return (pos, 1 << 30, 0)
        for fpos, f in enumerate(entry.fields):
            if f.code == code:
                return (pos, item, fpos)
    return None


def _step_order(form: FormDef, step: Step) -> tuple[int, int, int]:
    order = _order(form, step.key)
    assert order is not None  # a visible step is one of the form's own
    return order


def step_before(form: FormDef, visible: list[Step], current: Position) -> Step | None:
    """The question before `current` ("back") among the visible ones; from the review
    screen (or nowhere) the last question. A `current` that has just become hidden
    (an earlier answer changed) goes to the visible question before it in form order."""
    if current is None or current == REVIEW:
        return visible[-1] if visible else None
    i = index_of(visible, current)
    if i is not None:
        return visible[i - 1] if i > 0 else None
    where = _order(form, current)
    if where is None:
        return None
    before = [s for s in visible if _step_order(form, s) < where]
    return before[-1] if before else None


def previous_step(
    form: FormDef, answers: Answers, context: Ctx, current: AnswerKey | None
) -> Step | None:
    """step_before() over the steps the answers make visible."""
    return step_before(form, steps(form, answers, context), current)


def missing(visible: list[Step], answers: Answers) -> list[Step]:
    """What keeps the draft from being complete, in order: visible required questions
    unanswered and groups not finished."""
    return [
        s
        for s in visible
        if not answered(s.key, s.kind, answers)
        and (s.kind == "add_item" or (s.field is not None and s.field.required))
    ]


def complete(visible: list[Step], answers: Answers) -> bool:
    """Nothing left to ask: every visible required field answered and every group
    finished (or full). Rules are not considered: see validate()."""
    return not missing(visible, answers)


def is_complete(form: FormDef, answers: Answers, context: Ctx) -> bool:
    """complete() over the steps the answers make visible."""
    return complete(steps(form, answers, context), answers)


def missing_required(form: FormDef, answers: Answers, context: Ctx) -> list[Step]:
    """The visible required questions still unanswered (for a "still missing" list)."""
    return [s for s in missing(steps(form, answers, context), answers) if s.kind == "field"]
