"""The three real forms in forms/ and the test-only fitness form."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models.forms import (
    Answers,
    FieldDef,
    FormDef,
    ParsedValue,
    add_item,
    aggregate_key_totals,
    check_forms,
    computed,
    finish_group,
    is_complete,
    load_form,
    load_forms,
    next_step,
    parse_answer,
    steps,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "forms"
FIXTURES = Path(__file__).parent / "fixtures"


def test_real_forms_have_no_problems() -> None:
    assert check_forms(FORMS) == []
    registry = load_forms(FORMS)
    assert {f.code for f in registry} == {"staffing", "training", "key_teacher_assessment"}
    for form in registry:
        assert form.title.zh and form.title.en
        for f in form.fields:
            assert f.label.zh and f.label.en


@pytest.fixture(scope="module")
def staffing() -> FormDef:
    return load_form(FORMS / "staffing.toml")


def primary_school() -> Answers:
    return {
        ("authorized_posts", 0): 48,
        ("on_payroll", 0): 45,
        ("full_time_teachers", 0): 42,
        ("degree_postgraduate", 0): 0,
        ("degree_bachelor", 0): 18,
        ("degree_college", 0): 22,
        ("degree_below_college", 0): 2,
        ("new_hires_total", 0): 3,
        ("new_hires_open_exam", 0): 2,
        ("new_hires_special_post", 0): 1,
        ("new_hires_free_normal", 0): 0,
        ("key_teachers", 0): 6,
        ("subject_leaders", 0): 2,
        ("famous_teachers", 0): 1,
        ("substitute_teachers", 0): 3,
        ("rural_exchange", 0): 2,
        ("shortage_subjects", 0): ["english", "music", "mental_health"],
    }


def test_staffing_primary_school_validates(staffing: FormDef) -> None:
    answers = primary_school()
    ctx = {"stage": "primary"}
    assert validate(staffing, answers, ctx) == []
    assert is_complete(staffing, answers, ctx)
    assert next_step(staffing, answers, ctx) is None
    values = computed(staffing, answers, ctx)
    assert values["vacancies"] == 3
    assert values["over_staffed"] == 0
    assert values["qualified_teachers"] == 40  # primary: college and above
    assert values["qualification_rate"] == Decimal("95.2")
    assert values["qualification_target"] == 95


def test_staffing_degree_split_must_add_up(staffing: FormDef) -> None:
    answers = primary_school() | {("degree_bachelor", 0): 20}  # 0+20+22+2 = 44 != 42
    results = validate(staffing, answers, {"stage": "primary"})
    errors = [r for r in results if r.severity == "error"]
    assert [r.rule for r in errors] == ["degree_split_adds_up"]
    assert errors[0].fields == (
        "full_time_teachers",
        "degree_postgraduate",
        "degree_bachelor",
        "degree_college",
        "degree_below_college",
    )
    assert ("degree_bachelor", 0) in errors[0].keys
    assert "42人" in errors[0].message["zh"]
    assert "full-time teachers (42)." in errors[0].message["en"]


def test_staffing_warnings(staffing: FormDef) -> None:
    answers = primary_school() | {
        ("on_payroll", 0): 60,  # > 48 * 1.2
        ("substitute_teachers", 0): 9,  # > 20 % of 42
    }
    warnings = {r.rule for r in validate(staffing, answers, {"stage": "primary"})}
    assert warnings == {"payroll_far_over_posts", "substitute_share"}
    assert computed(staffing, answers, {"stage": "primary"})["over_staffed"] == 12


def test_staffing_qualification_depends_on_stage(staffing: FormDef) -> None:
    answers = primary_school()
    # The same teachers in a junior school: bachelor and above only, 18/42 < 90 %.
    junior = validate(staffing, answers, {"stage": "junior"})
    assert [r.rule for r in junior] == ["qualification_below_target"]
    assert "42.9%" in junior[0].message["zh"] and "90%" in junior[0].message["zh"]
    # Kindergartens have no target in the plan: the rate is computed, never warned.
    kg = {"stage": "kindergarten"}
    assert computed(staffing, answers, kg)["qualification_target"] is None
    assert (
        validate(
            staffing, answers | {("degree_college", 0): 0, ("degree_below_college", 0): 24}, kg
        )
        == []
    )


def test_staffing_new_hire_channels_hidden_without_hires(staffing: FormDef) -> None:
    answers = primary_school() | {("new_hires_total", 0): 0}
    keys = [s.key[0] for s in steps(staffing, answers, {"stage": "primary"})]
    assert "new_hires_total" in keys
    assert "new_hires_open_exam" not in keys
    # Their stored answers (2 + 1 > 0) are ignored, so no channel error.
    assert validate(staffing, answers, {"stage": "primary"}) == []


def test_staffing_answers_parse_from_what_principals_type(staffing: FormDef) -> None:
    assert parse_answer(staffing.field("authorized_posts"), "４８人") == ParsedValue(48)
    assert parse_answer(staffing.field("shortage_subjects"), "3、10、15") == ParsedValue(
        ["english", "music", "mental_health"]
    )
    assert parse_answer(staffing.field("shortage_subjects"), "无") == ParsedValue([])
    # 15 choices: "1 3" is Chinese and English, not choice 13.
    assert parse_answer(staffing.field("shortage_subjects"), "1 3") == ParsedValue(
        ["chinese", "english"]
    )
    assert parse_answer(staffing.field("shortage_subjects"), "13") == ParsedValue(["it"])


def test_training_group_flow() -> None:
    form = load_form(FORMS / "training.toml")
    ctx = {"stage": "junior"}
    answers: Answers = {("new_teachers", 0): 4, ("inducted_teachers", 0): 4}
    step = next_step(form, answers, ctx)
    assert step is not None and step.kind == "add_item" and step.item == 0
    answers |= add_item(form, answers, "programmes")
    first = next_step(form, answers, ctx)
    assert first is not None and first.key == ("level", 0) and first.item_number == 1
    answers |= {
        ("level", 0): "county",
        ("kind", 0): "head_teacher",
        ("planned", 0): 30,
        ("completed", 0): 28,
        ("hours", 0): Decimal("24"),
    }
    # programme_name is optional: skip it, and the next question is "add another?".
    step = next_step(form, answers, ctx, skipped={("programme_name", 0)})
    assert step is not None and step.kind == "add_item" and step.item == 1
    answers |= add_item(form, answers, "programmes")
    answers |= {
        ("level", 1): "national",
        ("kind", 1): "distance",
        ("planned", 1): 10,
        ("completed", 1): 12,
        ("hours", 1): Decimal("50"),
    }
    results = validate(form, answers, ctx)
    assert [(r.rule, r.item, r.keys) for r in results] == [
        ("completed_within_planned", 1, (("planned", 1), ("completed", 1)))
    ]
    answers[("completed", 1)] = 10
    assert not is_complete(form, answers, ctx)
    answers |= finish_group(form, answers, "programmes")
    assert is_complete(form, answers, ctx)
    assert validate(form, answers, ctx) == []
    values = computed(form, answers, ctx)
    assert values["programme_count"] == 2
    assert values["planned_total"] == 40
    assert values["completion_rate"] == Decimal("95.0")
    assert values["induction_rate"] == Decimal("100.0")


def test_training_induction_rules() -> None:
    form = load_form(FORMS / "training.toml")
    done = {("programmes", -2): True}
    more = validate(form, {("new_teachers", 0): 3, ("inducted_teachers", 0): 5, **done}, {})
    assert [(r.rule, r.severity) for r in more] == [("inducted_within_new", "error")]
    fewer = validate(form, {("new_teachers", 0): 5, ("inducted_teachers", 0): 3, **done}, {})
    assert [(r.rule, r.severity) for r in fewer] == [("induction_before_teaching", "warning")]
    assert "先培训后上岗" in fewer[0].message["zh"]
    # No new teachers: the induction question is not asked and nothing is checked.
    none = {("new_teachers", 0): 0, ("inducted_teachers", 0): 7, **done}
    assert validate(form, none, {}) == []
    assert computed(form, none, {})["induction_rate"] is None


def test_key_teacher_assessment() -> None:
    form = load_form(FORMS / "key_teacher_assessment.toml")
    answers: Answers = {
        ("assessed", 0): 12,
        ("result_excellent", 0): 3,
        ("result_competent", 0): 8,
        ("result_basic", 0): 1,
        ("result_incompetent", 0): 0,
        ("off_front_line", 0): 0,
    }
    assert validate(form, answers, {}) == []
    assert is_complete(form, answers, {})
    assert computed(form, answers, {})["pass_rate"] == Decimal("91.7")
    wrong = validate(form, answers | {("result_basic", 0): 2}, {})
    assert [r.rule for r in wrong] == ["results_add_up"]
    unexplained = validate(form, answers | {("off_front_line", 0): 1}, {})
    assert [r.rule for r in unexplained] == ["explain_incompetent"]
    explained = answers | {("off_front_line", 0): 1, ("remarks", 0): "一人借调教育局满一年"}
    assert validate(form, explained, {}) == []


def test_a_new_form_needs_no_code() -> None:
    """The fitness-test return is only a TOML file; the same engine walks it."""
    assert check_forms(FIXTURES) == []
    form = load_form(FIXTURES / "fitness_test.toml")
    ctx = {"stage": "primary"}
    typed = {
        "test_date": "2026年11月22日",
        "students_enrolled": "1,200人",
        "students_exempt": "",
        "students_tested": "1200",
        "grade_excellent": "240",
        "grade_good": "480",
        "grade_pass": "430",
        "grade_fail": "50",
        "average_bmi": "18。6",
        "test_method": "测试中心统测",
        "centre_name": "县青少年体质测试中心",
    }
    answers: Answers = {}
    skipped: set[tuple[str, int]] = set()
    asked = []
    while (step := next_step(form, answers, ctx, skipped)) is not None:
        assert step.field is not None
        asked.append(step.field.code)
        result = parse_answer(step.field, typed[step.field.code])
        assert isinstance(result, ParsedValue), (step.field.code, result)
        if result.value is None:
            skipped.add(step.key)
        else:
            answers[step.key] = result.value
    assert asked == list(typed)
    assert is_complete(form, answers, ctx)
    assert validate(form, answers, ctx) == []
    assert computed(form, answers, ctx)["reporting_rate"] == Decimal("100.0")
    short = answers | {("students_tested", 0): 1150, ("grade_fail", 0): 0}
    assert [r.rule for r in validate(form, short, ctx)] == ["full_reporting"]
    totals = aggregate_key_totals(form, [(answers, ctx), (short, {"stage": "junior"})])
    assert totals["students_tested"].value == 2350
    assert totals["reporting_rate"].value == Decimal("97.9")
    assert totals["reporting_rate"].by == {"junior": Decimal("95.8"), "primary": Decimal("100.0")}


def test_staffing_summary_across_schools(staffing: FormDef) -> None:
    a = primary_school()
    b = primary_school() | {("on_payroll", 0): 50}  # over-staffed by 2
    c = primary_school() | {("degree_college", 0): 0, ("degree_bachelor", 0): 40}
    totals = aggregate_key_totals(
        staffing, [(a, {"stage": "primary"}), (b, {"stage": "primary"}), (c, {"stage": "junior"})]
    )
    assert totals["authorized_posts"].value == 144
    assert totals["vacant_posts"].value == 6  # 3 + 0 + 3
    assert totals["over_staffed"].value == 2  # not netted against the vacancies
    rate = totals["qualification_rate"]
    assert rate.numerator == 40 + 40 + 40 and rate.denominator == 126
    assert rate.value == Decimal("95.2")
    assert rate.by == {"junior": Decimal("95.2"), "primary": Decimal("95.2")}
    assert rate.schools == 3
    assert totals["new_hires_total"].schools == 3


def test_key_teacher_results_are_checked_once_all_four_are_given() -> None:
    """The ❌ of results_add_up (a sum()) comes after the last result, not the first."""
    form = load_form(FORMS / "key_teacher_assessment.toml")
    answers: Answers = {("assessed", 0): 10}
    for code, value in (("result_excellent", 3), ("result_competent", 5), ("result_basic", 1)):
        answers[(code, 0)] = value
        assert validate(form, answers, {}) == [], code
    answers[("result_incompetent", 0)] = 0
    [wrong] = validate(form, answers, {})
    assert wrong.rule == "results_add_up" and "（10人）" in wrong.message["zh"]
    answers[("result_incompetent", 0)] = 1
    assert validate(form, answers, {}) == []
    # Nobody assessed: the results are not asked, and the rule holds (0 == 0).
    assert validate(form, {("assessed", 0): 0, ("off_front_line", 0): 0}, {}) == []


def test_staffing_version_2_warns_of_more_teachers_than_staff_on_payroll(
    staffing: FormDef,
) -> None:
    registry = load_forms(FORMS)
    assert registry.versions("staffing") == [1, 2, 3]
    v2 = registry.get("staffing", 2)
    assert v2.version == 2 and staffing.version == 1
    # Same questions, same codes: only a rule was added.
    assert [f.code for f in v2.fields] == [f.code for f in staffing.fields]
    assert {r.code for r in v2.rules} - {r.code for r in staffing.rules} == {
        "teachers_within_payroll"
    }
    answers = primary_school() | {("on_payroll", 0): 40}  # 42 full-time teachers
    [warning] = validate(v2, answers, {"stage": "primary"})
    assert (warning.rule, warning.severity) == ("teachers_within_payroll", "warning")
    assert warning.message["zh"].startswith("专任教师数（42人）超过在编教职工数（40人）")
    assert validate(staffing, answers, {"stage": "primary"}) == []  # version 1 unchanged
    assert validate(v2, primary_school(), {"stage": "primary"}) == []


# --- version 3 of staffing and version 2 of training: the bureau's own words ---------


@pytest.fixture(scope="module")
def staffing_v3() -> FormDef:
    return load_form(FORMS / "staffing_v3.toml")


def test_staffing_v3_is_the_newest_and_keeps_every_code(
    staffing: FormDef, staffing_v3: FormDef
) -> None:
    assert load_forms(FORMS).get("staffing").version == 3
    # Stored answers of older versions keep their meaning: no field code went away.
    assert {f.code for f in staffing.fields} <= {f.code for f in staffing_v3.fields}
    label = staffing_v3.field("new_hires_free_normal").label
    assert label.zh == "其中：公费师范生" and "publicly funded" in label.en
    hint = staffing_v3.field("new_hires_free_normal").hint
    assert hint is not None and "免费师范生" in hint.zh


@pytest.mark.parametrize(
    ("payroll", "vacant", "over"), [(45, 3, None), (48, 0, None), (50, None, 2)]
)
def test_staffing_v3_shows_either_vacant_or_over(
    staffing_v3: FormDef, payroll: int, vacant: int | None, over: int | None
) -> None:
    values = computed(staffing_v3, primary_school() | {("on_payroll", 0): payroll}, {})
    assert (values["vacant_posts"], values["over_staffed"]) == (vacant, over)
    assert "vacancies" not in values  # the signed figure is gone


def test_staffing_v3_legal_and_higher_tier_rates_by_stage(staffing_v3: FormDef) -> None:
    # 42 teachers: 0 postgraduate, 18 bachelor, 22 college, 2 below college, of whom
    # 1 without a secondary diploma.
    answers = primary_school() | {("degree_below_secondary", 0): 1}
    primary = computed(staffing_v3, answers, {"stage": "primary"})
    assert primary["standard_teachers"] == 41  # 中师 and above
    assert primary["standard_rate"] == Decimal("97.6")
    assert primary["standard_target"] == 100
    assert primary["primary_college_rate"] == Decimal("95.2")  # 40 / 42
    assert primary["higher_degree_target"] == 68
    assert primary["junior_bachelor_rate"] is None
    [warning] = validate(staffing_v3, answers, {"stage": "primary"})
    assert warning.rule == "standard_below_target"
    assert warning.message["zh"] == "学历达标率 97.6% 低于本学段 100% 的目标，请确认学历数据。"
    # The same teachers in a junior school: 专科 and above is the legal standard (40 of
    # 42, target 95 %), 本科 and above the higher tier (18 of 42, target 35 %): the
    # higher tier is below its target, and that is no warning.
    junior = computed(staffing_v3, answers, {"stage": "junior"})
    assert junior["standard_rate"] == Decimal("95.2") and junior["standard_target"] == 95
    assert junior["junior_bachelor_rate"] == Decimal("42.9")
    assert junior["higher_degree_target"] == 35
    assert validate(staffing_v3, answers, {"stage": "junior"}) == []
    senior = computed(staffing_v3, answers, {"stage": "senior"})
    assert senior["standard_rate"] == Decimal("42.9") and senior["standard_target"] == 75
    assert senior["senior_postgraduate_rate"] == Decimal("0.0")
    assert senior["higher_degree_target"] == 10


def test_staffing_v3_asks_the_secondary_split_only_where_it_counts(
    staffing_v3: FormDef,
) -> None:
    answers = primary_school()
    asked = {s.key[0] for s in steps(staffing_v3, answers, {"stage": "primary"})}
    assert "degree_below_secondary" in asked
    assert not is_complete(staffing_v3, answers, {"stage": "primary"})
    junior = {s.key[0] for s in steps(staffing_v3, answers, {"stage": "junior"})}
    assert "degree_below_secondary" not in junior
    none_below = answers | {("degree_college", 0): 24, ("degree_below_college", 0): 0}
    assert "degree_below_secondary" not in {
        s.key[0] for s in steps(staffing_v3, none_below, {"stage": "primary"})
    }
    too_many = answers | {("degree_below_secondary", 0): 3}
    rules = [r.rule for r in validate(staffing_v3, too_many, {"stage": "primary"})]
    assert rules[0] == "below_secondary_within_below_college"


@pytest.mark.parametrize(
    ("teachers", "substitutes", "warned"),
    [(3, 1, False), (10, 2, False), (5, 2, True), (42, 9, True), (42, 8, False)],
)
def test_staffing_v3_substitute_warning_needs_two(
    staffing_v3: FormDef, teachers: int, substitutes: int, warned: bool
) -> None:
    answers = {
        ("authorized_posts", 0): teachers,
        ("on_payroll", 0): teachers,
        ("full_time_teachers", 0): teachers,
        ("substitute_teachers", 0): substitutes,
    }
    rules = {r.rule for r in validate(staffing_v3, answers, {"stage": "teaching_point"})}
    assert ("substitute_share" in rules) is warned
    v2 = {r.rule for r in validate(load_forms(FORMS).get("staffing", 2), answers, {})}
    assert "substitute_share" in v2 or not (substitutes > teachers * 0.2)


def test_staffing_v3_summary_keeps_the_two_rates_apart(staffing_v3: FormDef) -> None:
    a = primary_school() | {("degree_below_secondary", 0): 0}
    b = primary_school() | {("on_payroll", 0): 50, ("degree_below_secondary", 0): 2}
    c = primary_school() | {("degree_college", 0): 4, ("degree_bachelor", 0): 36}
    totals = aggregate_key_totals(
        staffing_v3,
        [(a, {"stage": "primary"}), (b, {"stage": "primary"}), (c, {"stage": "junior"})],
    )
    assert totals["vacant_posts"].value == 6 and totals["vacant_posts"].schools == 2
    assert totals["over_staffed"].value == 2 and totals["over_staffed"].schools == 1
    legal = totals["standard_rate"]
    assert legal.by == {"junior": Decimal("95.2"), "primary": Decimal("97.6")}  # 40/42, 82/84
    higher = totals["higher_degree_rate"]
    assert higher.by == {"junior": Decimal("85.7"), "primary": Decimal("95.2")}  # 36/42, 80/84
    assert higher.label.zh.startswith("高一层次学历比例")


def test_training_v2_levels_and_kinds_as_bureaus_name_them() -> None:
    form = load_forms(FORMS).get("training")
    assert form.version == 2
    level, kind = form.field("level"), form.field("kind")
    assert [c.label.zh for c in level.choices] == ["国家级", "省级", "市级", "县级", "校级"]
    labels = [c.label.zh for c in kind.choices]
    for name in ("新课标培训", "师德师风专题培训", "骨干教师培训", "班主任培训"):
        assert name in labels
    assert "信息技术应用能力提升培训" in labels
    # The programmes' names and version 1's labels still pick the level or kind.
    for typed, code in (("国培", "national"), ("省培", "provincial"), ("校本研修", "school_based")):
        assert parse_answer(level, typed) == ParsedValue(code)
    assert parse_answer(level, "省级") == ParsedValue("provincial")
    assert parse_answer(kind, "师德专题") == ParsedValue("ethics")
    # Codes of version 1 kept where the meaning is the same.
    v1 = load_form(FORMS / "training.toml")
    assert {c.code for c in level.choices} == {c.code for c in v1.field("level").choices}


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.toml")), ids=lambda p: p.stem)
@pytest.mark.parametrize("stage", ["primary", "junior_secondary", "kindergarten"])
@pytest.mark.parametrize("typed", ["0", "3"])
def test_the_questions_kept_are_those_the_form_asks(path: Path, stage: str, typed: str) -> None:
    """steps() keeps the questions by what decides them; answering every question of
    every real form in turn, with a zero or with a count that opens the follow-ups, they
    are always those resolved afresh (a copy of the form keeps nothing yet)."""
    form = load_form(path)
    context = {"stage": stage, "district": None}
    answers: Answers = {}
    for _turn in range(200):
        assert steps(form, answers, context) == steps(replace(form), answers, context)
        step = next_step(form, answers, context)
        if step is None:
            break
        if step.kind == "add_item":
            assert step.group is not None
            answers = {**answers, **finish_group(form, answers, step.group.code)}
        else:
            assert step.field is not None
            answers = {**answers, step.key: _answer_for(step.field, typed)}
    else:
        pytest.fail("the form never ended")


def _answer_for(field: FieldDef, typed: str) -> Any:
    for text in (typed, "1", "2026-01-01", "是", "说明"):
        parsed = parse_answer(field, text)
        if isinstance(parsed, ParsedValue) and parsed.value is not None:
            return parsed.value
    raise AssertionError(f"no sample answer for {field.code} ({field.type})")
