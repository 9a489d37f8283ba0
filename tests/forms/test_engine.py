"""The stateless engine on a small form written for the test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from models.forms import (
    ITEM_COUNT,
    ITEM_DONE,
    Answers,
    FieldDef,
    FormDef,
    FormError,
    Text,
    add_item,
    clean,
    computed,
    finish_group,
    from_rows,
    is_complete,
    load_form,
    load_value,
    missing_required,
    next_step,
    previous_step,
    remove_item,
    steps,
    to_rows,
    validate,
)

FORM = """
code = "mini"
version = 1
period_type = "term"
title.zh = "小表"
title.en = "Mini"

[[fields]]
code = "teachers"
type = "integer"
label.zh = "教师数"
label.en = "Teachers"
min = 0
max = 100

[[fields]]
code = "hires"
type = "integer"
label.zh = "新招聘"
label.en = "New hires"
min = 0
max = 100

[[fields]]
code = "channel"
type = "choice"
label.zh = "渠道"
label.en = "Channel"
show_if = "hires > 0"
choices = [
  { code = "exam", label.zh = "公开招考", label.en = "Open exam" },
  { code = "special", label.zh = "特岗", label.en = "Special post" },
]

[[fields]]
code = "exam_date"
type = "date"
label.zh = "考试日期"
label.en = "Exam date"
show_if = "channel == \\"exam\\""

[[fields]]
code = "note"
type = "text"
label.zh = "说明"
label.en = "Note"
required = false

[[groups]]
code = "courses"
after = "hires"
label.zh = "课程"
label.en = "Course"
min_items = 1
max_items = 3
show_if = "teachers > 0"

[[groups.fields]]
code = "planned"
type = "integer"
label.zh = "计划"
label.en = "Planned"
min = 0
max = 100

[[groups.fields]]
code = "done"
type = "integer"
label.zh = "完成"
label.en = "Done"
min = 0
max = 100

[[groups.fields]]
code = "why_not"
type = "text"
label.zh = "未完成原因"
label.en = "Why not all"
show_if = "done < planned"

[[groups.rules]]
code = "done_le_planned"
expr = "done <= planned"
message.zh = "第 {done} 人超过计划 {planned}"
message.en = "{done} done is more than {planned} planned"

[[rules]]
code = "courses_within_teachers"
expr = "sum(courses.done) <= teachers"
severity = "warning"
message.zh = "完成人次 {done_total} 超过教师数 {teachers}"
message.en = "{done_total} done exceeds {teachers} teachers"

[[computed]]
code = "done_total"
label.zh = "完成合计"
label.en = "Done in all"
expr = "sum(courses.done)"

[[computed]]
code = "rate"
label.zh = "完成率"
label.en = "Rate"
expr = "done_total / sum(courses.planned) * 100"
unit.zh = "%"
unit.en = "%"
decimals = 1
"""


@pytest.fixture
def form(tmp_path: Path) -> FormDef:
    path = tmp_path / "mini.toml"
    path.write_text(FORM, encoding="utf-8")
    return load_form(path)


def keys(form: FormDef, answers: Answers) -> list[tuple[str, int]]:
    return [s.key for s in steps(form, answers, {})]


def test_order_groups_after_their_field_and_show_if(form: FormDef) -> None:
    assert keys(form, {("teachers", 0): 10, ("hires", 0): 0}) == [
        ("teachers", 0),
        ("hires", 0),
        ("planned", 0),
        ("done", 0),
        ("courses", ITEM_DONE),
        ("note", 0),
    ]
    answers: Answers = {("teachers", 0): 10, ("hires", 0): 2, ("channel", 0): "exam"}
    assert ("exam_date", 0) in keys(form, answers)
    answers[("channel", 0)] = "special"
    assert ("exam_date", 0) not in keys(form, answers)
    # The whole group is hidden when there are no teachers.
    assert keys(form, {("teachers", 0): 0, ("hires", 0): 0}) == [
        ("teachers", 0),
        ("hires", 0),
        ("note", 0),
    ]


def test_unanswered_show_if_hides(form: FormDef) -> None:
    # `hires` not answered yet: the channel question is not shown (yet).
    assert ("channel", 0) not in keys(form, {("teachers", 0): 1})


def test_positions_for_progress(form: FormDef) -> None:
    s = steps(form, {("teachers", 0): 10, ("hires", 0): 0}, {})
    assert [(x.position, x.total) for x in s][:2] == [(1, 6), (2, 6)]


def test_per_item_show_if_and_rules(form: FormDef) -> None:
    answers: Answers = {
        ("teachers", 0): 10,
        ("hires", 0): 0,
        ("courses", ITEM_COUNT): 2,
        ("planned", 0): 5,
        ("done", 0): 5,
        ("planned", 1): 5,
        ("done", 1): 7,
    }
    ks = keys(form, answers)
    assert ("why_not", 0) not in ks and ("why_not", 1) not in ks
    answers[("done", 0)] = 3
    assert ("why_not", 0) in keys(form, answers)
    results = validate(form, answers, {})
    assert [(r.rule, r.item, r.keys) for r in results] == [
        ("done_le_planned", 1, (("planned", 1), ("done", 1)))
    ]
    assert results[0].message == {"zh": "第 7 人超过计划 5", "en": "7 done is more than 5 planned"}
    answers[("done", 1)] = 5
    answers[("teachers", 0)] = 7
    results = validate(form, answers, {})
    assert [r.rule for r in results] == ["courses_within_teachers"]
    assert results[0].keys == (("teachers", 0), ("done", 0), ("done", 1))
    assert results[0].message["en"] == "8 done exceeds 7 teachers"


def test_group_add_another_flow(form: FormDef) -> None:
    answers: Answers = {("teachers", 0): 10, ("hires", 0): 0}
    # min_items = 1: the first course is asked without an "add?" question.
    step = next_step(form, answers, {})
    assert step is not None and step.key == ("planned", 0) and step.item_number == 1
    answers |= {("planned", 0): 4, ("done", 0): 4}
    step = next_step(form, answers, {})
    assert step is not None and step.kind == "add_item" and step.group is not None
    assert step.group.code == "courses" and step.item == 1
    answers |= add_item(form, answers, "courses")
    step = next_step(form, answers, {})
    assert step is not None and step.key == ("planned", 1) and step.item_number == 2
    answers |= {("planned", 1): 2, ("done", 1): 2}
    answers |= add_item(form, answers, "courses")
    answers |= {("planned", 2): 1, ("done", 2): 1}
    # max_items = 3 reached: no more "add another?".
    assert all(s.kind == "field" for s in steps(form, answers, {}))
    with pytest.raises(FormError):
        add_item(form, answers, "courses")
    step = next_step(form, answers, {})
    assert step is not None and step.key == ("note", 0)
    assert is_complete(form, answers, {})  # note is optional
    assert computed(form, answers, {}) == {"done_total": 7, "rate": Decimal("100.0")}


def test_finish_group_and_remove_item(form: FormDef) -> None:
    answers: Answers = {("teachers", 0): 10, ("hires", 0): 0, ("planned", 0): 4, ("done", 0): 4}
    answers |= add_item(form, answers, "courses")
    answers |= {("planned", 1): 9, ("done", 1): 8, ("why_not", 1): "病假"}
    assert not is_complete(form, answers, {})
    answers |= finish_group(form, answers, "courses")
    assert is_complete(form, answers, {})
    after = remove_item(form, answers, "courses", 0)
    assert after[("courses", ITEM_COUNT)] == 1
    assert after[("planned", 0)] == 9 and after[("why_not", 0)] == "病假"
    assert ("planned", 1) not in after
    assert after[("teachers", 0)] == 10


def test_next_and_previous(form: FormDef) -> None:
    answers: Answers = {("teachers", 0): 10}
    step = next_step(form, answers, {})
    assert step is not None and step.key == ("hires", 0)
    back = previous_step(form, answers, {}, ("hires", 0))
    assert back is not None and back.key == ("teachers", 0)
    assert previous_step(form, answers, {}, ("teachers", 0)) is None
    # From a question that just became hidden, back goes to the visible one before it.
    answers |= {("hires", 0): 0}
    back = previous_step(form, answers, {}, ("exam_date", 0))
    assert back is not None and back.key == ("courses", ITEM_DONE)
    last = previous_step(form, answers, {}, None)
    assert last is not None and last.key == ("note", 0)


def test_skipped_required_is_not_complete(form: FormDef) -> None:
    answers: Answers = {("teachers", 0): 0}
    step = next_step(form, answers, {}, skipped={("hires", 0)})
    assert step is not None and step.key == ("note", 0)
    assert not is_complete(form, answers, {})
    assert [s.key for s in missing_required(form, answers, {})] == [("hires", 0)]


def test_clean_drops_hidden_and_unknown(form: FormDef) -> None:
    answers: Answers = {
        ("teachers", 0): 0,
        ("hires", 0): 0,
        ("channel", 0): "exam",  # hidden: no hires
        ("exam_date", 0): date(2026, 7, 1),
        ("planned", 0): 3,  # hidden: the group is hidden without teachers
        ("ghost", 0): 1,
    }
    assert clean(form, answers, {}) == {("teachers", 0): 0, ("hires", 0): 0}


def test_hidden_answers_are_ignored_by_rules(form: FormDef) -> None:
    answers: Answers = {
        ("teachers", 0): 0,
        ("hires", 0): 0,
        ("courses", ITEM_COUNT): 1,
        ("planned", 0): 1,
        ("done", 0): 50,
    }
    assert validate(form, answers, {}) == []
    assert computed(form, answers, {}) == {"done_total": 0, "rate": None}


def test_rows_round_trip(form: FormDef) -> None:
    answers: Answers = {
        ("teachers", 0): 10,
        ("hires", 0): 1,
        ("channel", 0): "exam",
        ("exam_date", 0): date(2026, 7, 1),
        ("courses", ITEM_COUNT): 2,
        ("courses", ITEM_DONE): True,
        ("planned", 1): 3,
    }
    rows = to_rows(answers)
    assert ("exam_date", 0, "2026-07-01") in rows
    assert ("courses", -1, 2) in rows
    assert from_rows(form, rows) == answers
    assert from_rows(form, [("teachers", 0, None)]) == {}
    with pytest.raises(FormError):
        from_rows(form, [("teachers", 0, "ten")])
    with pytest.raises(FormError):
        from_rows(form, [("nobody", 0, 1)])


def test_load_value_from_typed_sql_columns(form: FormDef) -> None:
    assert load_value(form.field("exam_date"), date(2026, 7, 1)) == date(2026, 7, 1)
    assert load_value(form.field("teachers"), 7) == 7
    hours = FieldDef("h", "decimal", Text("学时", "Hours"), decimals=1)
    assert load_value(hours, Decimal("12.5000")) == Decimal("12.5")
    pick = FieldDef("p", "multi_choice", Text("选", "Pick"), choices=())
    assert load_value(pick, '["maths", "pe"]') == ["maths", "pe"]
    with pytest.raises(FormError):
        load_value(pick, "not json")
    with pytest.raises(FormError):
        load_value(form.field("teachers"), True)


def test_a_rule_waits_until_the_required_questions_it_reads_are_answered(
    form: FormDef,
) -> None:
    """Not "❌" after the first of several figures: a rule is checked once every required
    question it reads (here through sum() and a computed field) has an answer."""
    answers: Answers = {
        ("teachers", 0): 10,
        ("hires", 0): 0,
        ("courses", ITEM_COUNT): 2,
        ("planned", 0): 5,
        ("done", 0): 12,
    }
    # Item 1 is still to be answered: only item 0's own rule speaks; the bureau-wide
    # sum(courses.done) <= teachers waits, though sum() would count item 1 as 0.
    assert [(r.rule, r.item) for r in validate(form, answers, {})] == [("done_le_planned", 0)]
    answers |= {("planned", 1): 1}
    assert [(r.rule, r.item) for r in validate(form, answers, {})] == [("done_le_planned", 0)]
    answers |= {("done", 1): 0}
    assert [(r.rule, r.item) for r in validate(form, answers, {})] == [
        ("courses_within_teachers", None),
        ("done_le_planned", 0),
    ]
    # An optional question left open, or a hidden one, holds nothing back.
    assert ("note", 0) not in answers and ("why_not", 1) not in answers
    answers |= {("done", 0): 5}
    assert validate(form, answers, {}) == []
