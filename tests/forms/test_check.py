"""check_forms: every kind of mistake bureau staff can make, with file and field."""

from __future__ import annotations

import copy
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.forms import FormError, Problem, check_forms, load_form, load_forms
from models.forms.loader import _build

REAL_FORMS = Path(__file__).resolve().parents[2] / "forms"

HEADER = """
code = "{code}"
version = {version}
period_type = "term"
title.zh = "测试"
title.en = "Test"
"""

GOOD_FIELD = """
[[fields]]
code = "teachers"
type = "integer"
label.zh = "教师数"
label.en = "Teachers"
min = 0
max = 100
"""


def write(tmp_path: Path, name: str, body: str, code: str = "t", version: int = 1) -> Path:
    path = tmp_path / name
    path.write_text(HEADER.format(code=code, version=version) + body, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, body: str) -> list[Problem]:
    write(tmp_path, "form.toml", body)
    found = check_forms(tmp_path)
    assert found, "expected a problem"
    for p in found:
        assert p.file.endswith("form.toml")
    return found


def field(code: str, **extra: str) -> str:
    lines = [
        "[[fields]]",
        f'code = "{code}"',
        'type = "integer"',
        'label.zh = "数"',
        'label.en = "Number"',
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def rule(expr: str, severity: str = '"error"', message_zh: str = "错") -> str:
    quoted = expr.replace('"', '\\"')
    return (
        f'[[rules]]\ncode = "r"\nexpr = "{quoted}"\nseverity = {severity}\n'
        f'message.zh = "{message_zh}"\nmessage.en = "Wrong"\n'
    )


def group(extra: str = "") -> str:
    return (
        f'[[groups]]\ncode = "g"\n{extra}\nlabel.zh = "组"\nlabel.en = "G"\n'
        '[[groups.fields]]\ncode = "x"\ntype = "integer"\nlabel.zh = "甲"\nlabel.en = "X"\n'
    )


PLAIN_LABEL = '[[fields]]\ncode = "n"\ntype = "integer"\nlabel = "数"\n'
UNIT_ON_CHOICE = """
[[fields]]
code = "c"
type = "choice"
label.zh = "甲"
label.en = "A"
unit.zh = "人"
unit.en = "p"
choices = [{ code = "x", label.zh = "甲", label.en = "X" }]
"""
DUPLICATE_CHOICE = """
[[fields]]
code = "c"
type = "choice"
label.zh = "甲"
label.en = "A"
choices = [
  { code = "x", label.zh = "甲", label.en = "X" },
  { code = "x", label.zh = "乙", label.en = "Y" },
]
"""


CASES: list[tuple[str, str, str | None, str]] = [
    ("duplicate code", GOOD_FIELD + GOOD_FIELD, "teachers", "used twice"),
    (
        "unknown type",
        GOOD_FIELD.replace('"integer"', '"intger"'),
        "teachers",
        "unknown type 'intger' (did you mean 'integer'?)",
    ),
    ("min > max", field("n", min="10", max="5"), "n", "min (10) is greater than max (5)"),
    (
        "choice without choices",
        '[[fields]]\ncode = "level"\ntype = "choice"\nlabel.zh = "级"\nlabel.en = "Level"\n',
        "level",
        "needs choices",
    ),
    (
        "show_if unknown field",
        GOOD_FIELD + field("n", show_if='"teacher > 0"'),
        "n",
        "unknown name 'teacher' (did you mean 'teachers'?)",
    ),
    (
        "show_if later field",
        field("n", show_if='"teachers > 0"') + GOOD_FIELD,
        "n",
        "'teachers' is asked later in the form",
    ),
    (
        "bad rule syntax",
        GOOD_FIELD
        + '[[rules]]\ncode = "r"\nexpr = "teachers >> 1"\n'
        + 'message.zh = "错"\nmessage.en = "Wrong"\n',
        "rule r",
        "unexpected '>'",
    ),
    (
        "rule unknown field",
        GOOD_FIELD
        + '[[rules]]\ncode = "r"\nexpr = "teachers <= posts"\n'
        + 'message.zh = "错"\nmessage.en = "Wrong"\n',
        "rule r",
        "unknown name 'posts'",
    ),
    (
        "computed refers to a later computed",
        GOOD_FIELD
        + '[[computed]]\ncode = "a"\nlabel.zh = "甲"\nlabel.en = "A"\nexpr = "b + 1"\n'
        + '[[computed]]\ncode = "b"\nlabel.zh = "乙"\nlabel.en = "B"\nexpr = "teachers"\n',
        "computed a",
        "'b' is computed further down",
    ),
    (
        "missing en label",
        '[[fields]]\ncode = "n"\ntype = "integer"\nlabel.zh = "数"\n',
        "n",
        "label.en is missing",
    ),
    ("typo in a key", field("n", requried="false"), "n", "did you mean 'required'?"),
    ("label as a plain string", PLAIN_LABEL, "n", "needs both languages"),
    ("bad code", field("Teachers"), "fields[1]", "is not valid"),
    ("reserved code", field("sum"), "fields[1]", "reserved word"),
    (
        "unknown severity",
        GOOD_FIELD + rule("teachers > 0", severity='"fatal"'),
        "rule r",
        'severity must be "error" or "warning"',
    ),
    ("rule not a condition", GOOD_FIELD + rule("teachers + 1"), "rule r", "must be a condition"),
    (
        "message placeholder unknown",
        GOOD_FIELD + rule("teachers > 0", message_zh="{teacher}"),
        "rule r",
        "mentions {teacher}",
    ),
    (
        "misspelled stage",
        GOOD_FIELD + rule('stage == "juniour"'),
        "rule r",
        '"juniour" is not a choice of stage',
    ),
    ("unit on a choice", UNIT_ON_CHOICE, "c", "only integer and decimal fields have a unit"),
    ("duplicate choice", DUPLICATE_CHOICE, "c", "choice code 'x' appears twice"),
    (
        "group after unknown field",
        GOOD_FIELD + group('after = "nope"'),
        "group g",
        "after = 'nope' is not a top-level field",
    ),
    (
        "group field used bare",
        GOOD_FIELD + group() + rule("x <= teachers"),
        "rule r",
        "use sum(g.x)",
    ),
    (
        "key total of text",
        GOOD_FIELD + '[[key_totals]]\ncode = "nope"\n',
        "key total nope",
        "is not a numeric field",
    ),
    (
        "chart of unknown",
        GOOD_FIELD + '[chart]\nof = "nope"\n',
        "chart",
        "is not a key total or computed field",
    ),
]


@pytest.mark.parametrize(("case", "body", "where", "reason"), CASES, ids=[c[0] for c in CASES])
def test_check_reports_problem(
    tmp_path: Path, case: str, body: str, where: str | None, reason: str
) -> None:
    found = problems_of(tmp_path, body)
    assert any(p.field == where and reason in p.reason for p in found), (case, found)


def test_form_level_problems(tmp_path: Path) -> None:
    (tmp_path / "form.toml").write_text('code = "X"\nversion = 0\nperiod_type = "day"\n')
    reasons = [(p.field, p.reason) for p in check_forms(tmp_path)]
    assert (None, "form code 'X' is not valid (lower-case letters, digits, _)") in reasons
    assert any("version must be" in r for _, r in reasons)
    assert any("period_type must be one of week, month, term, year" in r for _, r in reasons)
    assert any("title.zh and title.en are missing" in r for _, r in reasons)
    assert any("the form has no fields" in r for _, r in reasons)


def test_toml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('code = "x\n')
    [problem] = check_forms(tmp_path)
    assert problem.file.endswith("broken.toml") and problem.field is None
    assert problem.reason.startswith("not valid TOML")


def test_duplicate_code_and_version_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_FIELD, code="same")
    write(tmp_path, "b.toml", GOOD_FIELD, code="same")
    write(tmp_path, "c.toml", GOOD_FIELD, code="same", version=2)
    [problem] = check_forms(tmp_path)
    assert problem.file.endswith("b.toml")
    assert "already defined in" in problem.reason and "a.toml" in problem.reason
    with pytest.raises(FormError) as err:
        load_forms(tmp_path)
    assert err.value.problems == [problem]


def test_versions_live_side_by_side(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_FIELD, code="same")
    write(tmp_path, "b.toml", GOOD_FIELD + field("extra"), code="same", version=2)
    registry = load_forms(tmp_path)
    assert registry.versions("same") == [1, 2]
    assert registry.get("same").version == 2
    assert not registry.get("same", 1).has_field("extra")
    assert "same" in registry and len(registry) == 2


def test_load_form_raises_with_all_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "form.toml", field("a", min="5", max="1") + field("b", requried="1"))
    with pytest.raises(FormError) as err:
        load_form(path)
    assert [p.field for p in err.value.problems] == ["a", "b"]
    assert "min (5) is greater than max (1)" in str(err.value)


def test_problem_prints_well() -> None:
    p = Problem("forms/staffing.toml", "degree_bachelor", "label.en is missing")
    assert str(p) == "forms/staffing.toml: degree_bachelor: label.en is missing"


# --- robustness ------------------------------------------------------------------------

_JUNK: list[object] = [
    None, 0, -1, 10**30, 1.5, float("inf"), float("nan"), True, "x", "", "a > 0", "sum(",
    "programmes.planned", [], {}, [{}], {"zh": "甲"}, ["code"], "integer", "choice", "ratio",
    "stage", "missing", "count(programmes)", "new_teachers", "completed <= planned",
]  # fmt: skip


def _paths(obj: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(sorted(REAL_FORMS.glob("*.toml"))))
def test_mangled_forms_give_problems_not_crashes(rnd: random.Random, path: Path) -> None:
    """Whatever staff do to a form file, the loader answers with problems."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for _ in range(rnd.randint(1, 3)):
        target = rnd.choice([p for p in _paths(data) if p])
        parent: Any = data
        for k in target[:-1]:
            parent = parent[k]
        if rnd.random() < 0.7 or isinstance(parent, list):
            parent[target[-1]] = copy.deepcopy(rnd.choice(_JUNK))
        else:
            del parent[target[-1]]
    form, problems = _build(data, str(path))
    assert (form is None) == bool(problems)
    assert all(isinstance(p.reason, str) and p.reason for p in problems)
