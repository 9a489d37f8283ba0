"""Choice aliases: other words a principal may type for a choice (a former name, the
programme at a level), checked by `huibao forms check` like labels are."""

from __future__ import annotations

from pathlib import Path

from models.forms import ParsedValue, check_forms, load_form, parse_answer

FORM = """
code = "t"
version = 1
period_type = "term"
title.zh = "测试"
title.en = "Test"

[[fields]]
code = "level"
type = "choice"
label.zh = "培训级别"
label.en = "Level"
choices = [
  {{ code = "national", label.zh = "国家级", label.en = "National", aliases = {national} }},
  {{ code = "provincial", label.zh = "省级", label.en = "Provincial", aliases = {provincial} }},
]
"""


def write(tmp_path: Path, national: str, provincial: str = '["省培"]') -> Path:
    path = tmp_path / "form.toml"
    path.write_text(FORM.format(national=national, provincial=provincial), encoding="utf-8")
    return path


def test_an_alias_picks_its_choice_and_is_never_shown(tmp_path: Path) -> None:
    form = load_form(write(tmp_path, '["国培", "国培计划"]'))
    level = form.field("level")
    assert parse_answer(level, "国培") == ParsedValue("national")
    assert parse_answer(level, " 国培计划。") == ParsedValue("national")
    assert parse_answer(level, "省培") == ParsedValue("provincial")
    assert [c.label.zh for c in level.choices] == ["国家级", "省级"]


def test_aliases_that_would_make_an_answer_ambiguous_are_refused(tmp_path: Path) -> None:
    write(tmp_path, '["省培"]')
    [problem] = check_forms(tmp_path)
    assert "share the answer '省培'" in problem.reason
    write(tmp_path, '["省级"]')
    assert "share the answer '省级'" in check_forms(tmp_path)[0].reason


def test_aliases_must_be_words_and_not_numbers(tmp_path: Path) -> None:
    write(tmp_path, '"国培"')
    assert "must be a list of words" in check_forms(tmp_path)[0].reason
    write(tmp_path, '["2"]')
    assert "mistaken for the choice's position" in check_forms(tmp_path)[0].reason
