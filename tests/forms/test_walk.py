"""The only form walker (models/forms/walk.py): where a draft stands, what comes after an
answer in each walk mode, what comes before, and what is still missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.forms import (
    ITEM_COUNT,
    ITEM_DONE,
    REVIEW,
    Answers,
    FormDef,
    Value,
    Walk,
    add_item,
    complete,
    current_step,
    finish_group,
    load_form,
    missing,
    step_after,
    step_before,
    steps,
)
from tests.forms.test_engine import FORM

FULL: Answers = {
    ("teachers", 0): 10,
    ("hires", 0): 2,
    ("planned", 0): 5,
    ("done", 0): 5,
    ("courses", ITEM_DONE): True,
    ("channel", 0): "exam",
}
"""Everything answered but the exam date and the (optional) note."""


@pytest.fixture
def form(tmp_path: Path) -> FormDef:
    path = tmp_path / "mini.toml"
    path.write_text(FORM, encoding="utf-8")
    return load_form(path)


def test_current_step(form: FormDef) -> None:
    visible = steps(form, FULL, {})
    assert current_step(visible, FULL, set(), REVIEW) is None
    at = current_step(visible, FULL, set(), ("hires", 0))
    assert at is not None and at.key == ("hires", 0)
    # Nowhere yet, or at a question no longer asked: the first open question.
    for where in (None, ("why_not", 0)):
        at = current_step(visible, FULL, set(), where)
        assert at is not None and at.key == ("exam_date", 0)
    at = current_step(visible, FULL, {("exam_date", 0)}, None)
    assert at is not None and at.key == ("note", 0)


def test_walking_back_shows_every_next_question_until_an_open_one(form: FormDef) -> None:
    visible = steps(form, FULL, {})
    nxt, walk = step_after(visible, FULL, set(), ("hires", 0), Walk(back=True))
    assert nxt is not None and nxt.key == ("planned", 0) and walk == Walk(back=True)
    nxt, walk = step_after(visible, FULL, set(), ("channel", 0), walk)
    assert nxt is not None and nxt.key == ("exam_date", 0) and walk == Walk()
    # The review mode survives the walk back: it is what follows once all is answered.
    nxt, walk = step_after(visible, FULL, set(), ("channel", 0), Walk(back=True, review=True))
    assert nxt is not None and nxt.key == ("exam_date", 0) and walk == Walk(review=True)


def test_from_the_review_back_to_it_once_nothing_is_open(form: FormDef) -> None:
    answers = {**FULL, ("exam_date", 0): "2026-01-05"}
    visible = steps(form, answers, {})
    skipped = {("note", 0)}
    nxt, walk = step_after(visible, answers, skipped, ("teachers", 0), Walk(review=True))
    assert nxt is None and walk == Walk()
    # Something still open (anywhere in the form) comes first.
    nxt, walk = step_after(visible, answers, set(), ("teachers", 0), Walk(review=True))
    assert nxt is not None and nxt.key == ("note", 0) and walk == Walk(review=True)


def test_the_next_open_question_after_the_answer_then_from_the_top(form: FormDef) -> None:
    answers = dict(FULL)
    visible = steps(form, answers, {})
    nxt, walk = step_after(visible, answers, set(), ("hires", 0), Walk())
    assert nxt is not None and nxt.key == ("exam_date", 0) and walk == Walk()
    # Nothing open after the answer: the first open question before it.
    without_planned = {k: v for k, v in answers.items() if k != ("planned", 0)}
    visible = steps(form, without_planned, {})
    nxt, _ = step_after(visible, without_planned, set(), ("note", 0), Walk())
    assert nxt is not None and nxt.key == ("planned", 0)


def test_back_from_a_question_that_has_just_become_hidden(form: FormDef) -> None:
    answers = {**FULL, ("channel", 0): "special"}  # the exam date is no longer asked
    visible = steps(form, answers, {})
    assert ("exam_date", 0) not in [s.key for s in visible]
    before = step_before(form, visible, ("exam_date", 0))
    assert before is not None and before.key == ("channel", 0)
    first = step_before(form, visible, ("teachers", 0))
    assert first is None
    last = step_before(form, visible, REVIEW)
    assert last is not None and last.key == ("note", 0)


def test_missing_lists_required_questions_and_unfinished_groups(form: FormDef) -> None:
    answers = {k: v for k, v in FULL.items() if k != ("courses", ITEM_DONE)}
    visible = steps(form, answers, {})
    assert [s.key for s in missing(visible, answers)] == [("courses", ITEM_DONE), ("exam_date", 0)]
    assert not complete(visible, answers)
    answers = {**FULL, ("exam_date", 0): "2026-01-05"}
    assert complete(steps(form, answers, {}), answers)


TRAINING = Path(__file__).parents[2] / "forms" / "training.toml"


def test_progress_through_repeatable_items_counts_what_people_count() -> None:
    """The training form: its own questions count "1/2" (the follow-up counts until an
    answer rules it out); before the first item the add step asks whether there is one
    (never "another"); inside an item the count is the item's questions, the one whose
    condition is still open included; "back" from an item's first question goes to the
    previous item's last."""
    form = load_form(TRAINING)
    ctx = {"stage": "primary"}
    answers: Answers = {}
    seen: list[tuple[object, ...]] = []
    script: list[Value] = [0, True, "national", "ethics", "x", 10, 8, 5, True, "county"]
    step = steps(form, {}, ctx)[0]
    for value in script:
        seen.append((step.key, step.item_number, step.number, step.count, step.asks_first_item))
        if step.kind == "add_item":
            assert step.group is not None
            pick = add_item if value else finish_group
            answers.update(pick(form, answers, step.group.code))
        else:
            answers[step.key] = value
        nxt, _walk = step_after(steps(form, answers, ctx), answers, set(), step.key, Walk())
        assert nxt is not None
        step = nxt
    assert seen == [
        (("new_teachers", 0), None, 1, 2, False),
        (("programmes", ITEM_DONE), 0, 0, 0, True),
        (("level", 0), 1, 1, 6, False),
        (("kind", 0), 1, 2, 6, False),
        (("programme_name", 0), 1, 3, 6, False),
        (("planned", 0), 1, 4, 6, False),
        (("completed", 0), 1, 5, 6, False),
        (("hours", 0), 1, 6, 6, False),
        (("programmes", ITEM_DONE), 1, 0, 0, False),
        (("level", 1), 2, 1, 6, False),
    ]
    before = step_before(form, steps(form, answers, ctx), ("level", 1))
    assert before is not None and before.key == ("hours", 0)


def test_a_follow_up_ruled_out_leaves_the_count() -> None:
    form = load_form(TRAINING)
    own = [s for s in steps(form, {("new_teachers", 0): 3}, {}) if s.group is None]
    assert [(s.number, s.count) for s in own if s.kind == "field"] == [(1, 2), (2, 2)]
    answers: Answers = {("new_teachers", 0): 0, ("programmes", ITEM_COUNT): 1, ("completed", 0): 0}
    fields = [s for s in steps(form, answers, {}) if s.kind == "field"]
    assert [(s.key[0], s.number, s.count) for s in fields] == [
        ("new_teachers", 1, 1),
        ("level", 1, 5),
        ("kind", 2, 5),
        ("programme_name", 3, 5),
        ("planned", 4, 5),
        ("completed", 5, 5),
    ]
