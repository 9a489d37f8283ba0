"""What principals type, and how the review screen shows it back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.forms import (
    Choice,
    FieldDef,
    ParsedValue,
    ParseError,
    Text,
    format_value,
    parse_answer,
    parse_yes_no,
)
from models.forms.parsing import chinese_integer

PEOPLE = Text("人", "people")
TEACHERS = FieldDef("teachers", "integer", Text("专任教师数", "Teachers"), PEOPLE, 0, 5000)
HOURS = FieldDef(
    "hours", "decimal", Text("学时", "Hours"), Text("学时", "hours"), 0, 500, decimals=1
)
RATE = FieldDef("rate", "decimal", Text("比例", "Rate"), Text("%", "%"), 0, 100, decimals=2)
DELTA = FieldDef("delta", "integer", Text("增减", "Change"), None, -100, 100)
OPTIONAL = FieldDef("opt", "integer", Text("选填", "Optional"), None, 0, 10, required=False)
DAY = FieldDef("day", "date", Text("日期", "Date"), min=date(2020, 1, 1), max=date(2035, 12, 31))
LEVELS = (
    Choice("national", Text("国培", "National")),
    Choice("provincial", Text("省培", "Provincial")),
    Choice("school_based", Text("校本研修", "School-based")),
)
LEVEL = FieldDef("level", "choice", Text("级别", "Level"), choices=LEVELS)
SUBJECTS = (
    Choice("chinese", Text("语文", "Chinese")),
    Choice("maths", Text("数学", "Mathematics")),
    Choice("english", Text("英语", "English")),
    Choice("it", Text("信息技术", "Information technology")),
)
SHORTAGE = FieldDef(
    "shortage", "multi_choice", Text("紧缺学科", "Shortage"), choices=SUBJECTS, required=False
)
PICK_TWO = FieldDef(
    "pick", "multi_choice", Text("选两项", "Pick two"), choices=SUBJECTS, min=1, max=2
)
REMARKS = FieldDef("remarks", "text", Text("备注", "Remarks"), max_length=10, required=False)


def ok(field: FieldDef, text: str) -> object:
    result = parse_answer(field, text)
    assert isinstance(result, ParsedValue), (text, result)
    return result.value


def err(field: FieldDef, text: str) -> ParseError:
    result = parse_answer(field, text)
    assert isinstance(result, ParseError), (text, result)
    return result


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("57", 57),
        ("  57 ", 57),
        ("５７", 57),
        ("1,234", 1234),
        ("1，234", 1234),
        ("１，２３４", 1234),
        ("57人", 57),
        ("57 人", 57),
        ("57名", 57),
        ("57 people", 57),
        ("57 People", 57),
        ("57。", 57),
        ("57人。", 57),
        ("12.0", 12),
        ("0", 0),
        ("+3", 3),
    ],
)
def test_integer_forgiving(text: str, value: int) -> None:
    assert ok(TEACHERS, text) == value


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("abc", "not_a_number"),
        ("57a", "not_a_number"),
        ("5 7", "not_a_number"),
        ("1,23", "not_a_number"),
        ("1e3", "not_a_number"),
        ("12.5", "not_integer"),
        ("-3", "below_min"),
        ("5001", "above_max"),
        ("12学时", "wrong_unit"),
        ("95%", "wrong_unit"),
        ("", "required"),
        ("   ", "required"),
        ("9" * 40, "above_max"),
        ("123456789012345678901234", "above_max"),
        ("9" * 5000, "above_max"),  # longer than any input read, still a number
    ],
)
def test_integer_strict(text: str, kind: str) -> None:
    assert err(TEACHERS, text).kind == kind


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("八十五", 85),
        ("一百二十", 120),
        ("两千", 2000),
        ("三千零五", 3005),
        ("十二", 12),
        ("十", 10),
        ("零", 0),
        ("五十七人", 57),
        ("两千五", 2500),  # colloquial but exact: the last digit is the next place down
        ("一百零五", 105),
        ("一千零五十", 1050),
        ("壹佰", 100),
        ("两个", 2),
    ],
)
def test_chinese_numerals_written_exactly(text: str, value: int) -> None:
    assert ok(TEACHERS, text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("一万五", 15000), ("一万零五", 10005), ("一亿二千万", 120_000_000), ("十万", 100_000)],
)
def test_chinese_numerals_with_wan_and_yi(text: str, value: int) -> None:
    assert chinese_integer(text) == value


@pytest.mark.parametrize(
    "text",
    ["大约五十", "五十来个", "几十", "三四十", "五十多", "50左右", "约50人", "30-40", "一百以上"],
)
def test_estimates_are_refused_as_estimates(text: str) -> None:
    assert err(TEACHERS, text).kind == "approximate"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("二十零", "not_a_number"),
        ("一千零五百", "not_a_number"),
        ("百", "not_a_number"),
        ("一百十", "not_a_number"),
        ("五十七学时", "wrong_unit"),
        ("六千", "above_max"),
        ("负五", "below_min"),
        ("九千九百万亿", "above_max"),
    ],
)
def test_chinese_numerals_strict(text: str, kind: str) -> None:
    assert err(TEACHERS, text).kind == kind


def test_chinese_numerals_in_a_decimal_field() -> None:
    assert ok(HOURS, "十二学时") == Decimal(12)


def test_error_params_for_translation() -> None:
    assert err(TEACHERS, "-3").params == {"min": 0, "max": 5000}
    assert err(TEACHERS, "6000").params == {"min": 0, "max": 5000}
    assert err(HOURS, "12.55").params == {"decimals": 1}
    assert err(TEACHERS, "12学时").params == {"given": "学时"}
    assert err(LEVEL, "9").params == {"value": "9", "count": 3}
    assert err(REMARKS, "x" * 11).params == {"max_length": 10, "length": 11}
    assert err(PICK_TWO, "1,2,3").params == {"max": 2}


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (HOURS, "12.5", Decimal("12.5")),
        (HOURS, "12.5学时", Decimal("12.5")),
        (HOURS, "12.5 小时", Decimal("12.5")),
        (HOURS, "12.5 hours", Decimal("12.5")),
        (HOURS, "12。5", Decimal("12.5")),  # Chinese full stop typed as a decimal point
        (HOURS, "１２．５", Decimal("12.5")),
        (HOURS, "12.50", Decimal("12.5")),
        (HOURS, ".5", Decimal("0.5")),
        (HOURS, "12", Decimal("12")),
        (RATE, "95%", Decimal("95")),
        (RATE, "95 %", Decimal("95")),
        (RATE, "95％", Decimal("95")),
        (RATE, "95.25", Decimal("95.25")),
        (DELTA, "-5", -5),
        (DELTA, "－5", -5),
    ],
)
def test_decimal_and_signed(field: FieldDef, text: str, value: object) -> None:
    assert ok(field, text) == value


def test_decimal_strict() -> None:
    assert err(HOURS, "12.55").kind == "too_many_decimals"
    assert err(HOURS, "12.5人").kind == "wrong_unit"
    assert err(RATE, "100.01").kind == "above_max"
    assert err(DELTA, "-101").kind == "below_min"
    assert err(HOURS, "NaN").kind == "not_a_number"
    assert err(HOURS, "Infinity").kind == "not_a_number"


def test_optional_empty_is_a_skip() -> None:
    assert ok(OPTIONAL, "") is None
    assert ok(OPTIONAL, " ") is None


@pytest.mark.parametrize(
    "text",
    ["2026-11-22", "2026/11/22", "2026年11月22日", "2026年11月22号", "20261122", "2026.11.22",
     "２０２６－１１－２２", " 2026-11-22。"],
)  # fmt: skip
def test_dates(text: str) -> None:
    assert ok(DAY, text) == date(2026, 11, 22)


def test_dates_strict() -> None:
    assert ok(DAY, "2026-1-5") == date(2026, 1, 5)
    assert err(DAY, "2026-02-30").kind == "bad_date"
    assert err(DAY, "22/11/2026").kind == "bad_date"
    assert err(DAY, "明天").kind == "bad_date"
    assert err(DAY, "2019-12-31").kind == "below_min"
    assert err(DAY, "2036-01-01").kind == "above_max"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1", "national"),
        ("２", "provincial"),
        ("3.", "school_based"),
        ("national", "national"),
        ("NATIONAL", "national"),
        ("国培", "national"),
        ("省培", "provincial"),
        ("School-based", "school_based"),
        ("school-based", "school_based"),
        ("校本研修", "school_based"),
    ],
)
def test_choice(text: str, code: str) -> None:
    assert ok(LEVEL, text) == code


def test_choice_strict() -> None:
    assert err(LEVEL, "0").kind == "unknown_choice"
    assert err(LEVEL, "4").kind == "unknown_choice"
    assert err(LEVEL, "国").kind == "unknown_choice"
    assert err(LEVEL, "").kind == "required"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("1,3", ["chinese", "english"]),
        ("1 3", ["chinese", "english"]),
        ("1、3", ["chinese", "english"]),
        ("1，3", ["chinese", "english"]),
        ("3;1", ["chinese", "english"]),
        ("数学、信息技术", ["maths", "it"]),
        ("Information technology, maths", ["maths", "it"]),
        ("2, 2, 数学", ["maths"]),
        ("无", []),
        ("none", []),
        ("", None),
    ],
)
def test_multi_choice(text: str, codes: list[str] | None) -> None:
    assert ok(SHORTAGE, text) == codes


def test_multi_choice_strict() -> None:
    assert err(SHORTAGE, "1,9").params["value"] == "9"
    assert err(SHORTAGE, ",,,").kind == "unknown_choice"
    assert err(PICK_TWO, "无").kind == "too_few_choices"
    assert err(PICK_TWO, "1 2 3").kind == "too_many_choices"


def test_text() -> None:
    assert ok(REMARKS, "  有两人借调  ") == "有两人借调"
    assert err(REMARKS, "一二三四五六七八九十一").kind == "too_long"
    assert ok(REMARKS, "") is None


def test_yes_no() -> None:
    assert parse_yes_no("是") is True
    assert parse_yes_no(" Yes ") is True
    assert parse_yes_no("否") is False
    # The words of the buttons of "is there any item?" and "another?", typed.
    assert parse_yes_no("有") is True
    assert parse_yes_no("没有") is False
    assert parse_yes_no("没有了") is False
    assert parse_yes_no("也许") is None
    assert parse_yes_no("no") is False


@pytest.mark.parametrize(
    ("field", "value", "zh", "en"),
    [
        (TEACHERS, 1234, "1,234人", "1,234"),
        (HOURS, Decimal("12.5"), "12.5学时", "12.5 hours"),
        (RATE, Decimal("95"), "95%", "95%"),
        (DAY, date(2026, 11, 22), "2026年11月22日", "2026-11-22"),
        (LEVEL, "provincial", "省培", "Provincial"),
        (SHORTAGE, ["maths", "it"], "数学、信息技术", "Mathematics, Information technology"),
        (SHORTAGE, [], "—", "—"),
        (REMARKS, "借调", "借调", "借调"),
        (TEACHERS, None, "—", "—"),
    ],
)
def test_format_value(field: FieldDef, value: object, zh: str, en: str) -> None:
    assert format_value(field, value, "zh") == zh  # type: ignore[arg-type]
    assert format_value(field, value, "en") == en  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------

ALL_FIELDS = [TEACHERS, HOURS, RATE, DELTA, OPTIONAL, DAY, LEVEL, SHORTAGE, PICK_TWO, REMARKS]

_typing = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789,.，。 -+人学时%５７、年月日/", max_size=25),
    st.from_regex(r"-?[0-9]{1,6}([.,][0-9]{1,4})?\s?(人|学时|%|hours)?", fullmatch=True),
)


def _within(field: FieldDef, value: object) -> bool:
    if value is None:
        return not field.required
    if field.type in ("integer", "decimal", "date"):
        lo, hi = field.min, field.max
        return (lo is None or value >= lo) and (hi is None or value <= hi)  # type: ignore[operator]
    if field.type == "choice":
        return field.choice(str(value)) is not None
    if field.type == "multi_choice":
        assert isinstance(value, list)
        codes = [c.code for c in field.choices]
        n = len(value)
        return (
            all(v in codes for v in value)
            and value == sorted(value, key=codes.index)
            and (not isinstance(field.min, int) or n >= field.min)
            and (not isinstance(field.max, int) or n <= field.max)
        )
    return isinstance(value, str) and len(value) <= (field.max_length or 10**9)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(ALL_FIELDS), _typing)
def test_any_text_parses_or_is_refused_cleanly(field: FieldDef, text: str) -> None:
    result = parse_answer(field, text)
    assert isinstance(result, ParsedValue | ParseError)
    if isinstance(result, ParsedValue):
        assert _within(field, result.value)
        if field.type == "decimal" and result.value is not None:
            assert isinstance(result.value, Decimal)
            exponent = result.value.as_tuple().exponent
            assert isinstance(exponent, int) and -exponent <= (field.decimals or 0)
        if result.value is not None:
            for lang in ("zh", "en"):
                again = parse_answer(field, format_value(field, result.value, lang))
                assert again == ParsedValue(result.value)


def _values(field: FieldDef) -> st.SearchStrategy[object]:
    if field.type == "integer":
        return st.integers(field.min, field.max)  # type: ignore[arg-type]
    if field.type == "decimal":
        assert not isinstance(field.min, date) and not isinstance(field.max, date)
        return st.decimals(
            field.min, field.max, places=field.decimals, allow_nan=False, allow_infinity=False
        )
    if field.type == "date":
        return st.dates(field.min, field.max)  # type: ignore[arg-type]
    codes = [c.code for c in field.choices]
    if field.type == "choice":
        return st.sampled_from(codes)
    if field.type == "multi_choice":
        lo = field.min if isinstance(field.min, int) else 0
        hi = field.max if isinstance(field.max, int) else len(codes)
        return st.lists(st.sampled_from(codes), min_size=max(lo, 1), max_size=hi, unique=True).map(
            lambda picked: [c for c in codes if c in picked]
        )
    return st.text(min_size=1, max_size=field.max_length).map(str.strip).filter(bool)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(ALL_FIELDS).flatmap(lambda f: st.tuples(st.just(f), _values(f))))
def test_format_then_parse_round_trips(pair: tuple[FieldDef, object]) -> None:
    field, value = pair
    for lang in ("zh", "en"):
        shown = format_value(field, value, lang)  # type: ignore[arg-type]
        assert parse_answer(field, shown) == ParsedValue(value), (lang, shown)  # type: ignore[arg-type]
