"""Turning what a principal types into a typed value, and back for review screens.

Forgiving where it is safe: full-width digits and punctuation (５７，１２．５), thousands
separators (1,234 / 1，234), spaces, a trailing unit that matches the field (57人,
12.5学时, 95%), and the Chinese full stop "。" typed for a decimal point between digits
(12。5 = 12.5) or at the end of a number (57。 = 57), which an IME in Chinese
punctuation mode produces, and whole numbers written exactly in Chinese numerals (八十五,
一百二十, 两千, 三千零五). Strict where it matters: letters, a unit that belongs to
something else (学时 for a count of people), a non-zero fraction for a whole number,
more decimals than the field allows, and anything out of bounds are refused; an estimate
(大约五十, 五十来个, 几十, 三四十, 50左右, 30-40) is refused as one, since the bureau adds
the figures up.

Errors are structured (ParseError.kind + params) and carry no language: the Telegram
layer words them through gettext.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final, Literal, TypeAlias

from models.forms.definition import ComputedDef, FieldDef, Value
from models.forms.expr_values import round_half_up
from models.forms.file_answer import show_file

ParseErrorKind = Literal[
    "required",
    "not_a_number",
    "approximate",
    "not_integer",
    "below_min",
    "above_max",
    "too_many_decimals",
    "wrong_unit",
    "bad_date",
    "unknown_choice",
    "too_few_choices",
    "too_many_choices",
    "needs_file",
    "too_long",
]
ParamValue: TypeAlias = int | Decimal | str | date | None


@dataclass(frozen=True, slots=True)
class ParseError:
    """Why an answer was refused. Params by kind:

    required: {}                    not_a_number: {}            not_integer: {}
    approximate: {}                 (an estimate such as 大约五十 or 30-40)
    below_min / above_max: {"min": bound or None, "max": bound or None}
    too_many_decimals: {"decimals": int}
    wrong_unit: {"given": str}      (the field's own unit is on the field)
    bad_date: {}
    unknown_choice: {"value": str, "count": number of choices}
    too_few_choices: {"min": int}   too_many_choices: {"max": int}
    too_long: {"max_length": int, "length": int}
    """

    kind: ParseErrorKind
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParsedValue:
    """An accepted answer. value is None when an optional field was left empty."""

    value: Value | None


MAX_DIGITS = 15
"""Whole-number digits accepted at most, bounds or not: the answers table stores
integers as BIGINT and decimals as NUMERIC(20, 4)."""
MAX_INPUT = 4000
"""Longer input is refused outright (too_long or not_a_number), whatever the field."""

_TRANSLATE: dict[int, str] = {0xFF10 + i: str(i) for i in range(10)}
_TRANSLATE.update(
    {
        ord("，"): ",",
        ord("．"): ".",
        ord("％"): "%",
        ord("－"): "-",
        ord("−"): "-",
        ord("＋"): "+",
        ord("／"): "/",
        ord("；"): ";",
        ord("\u3000"): " ",
        ord("\u00a0"): " ",
    }
)

# Each set holds spellings of one unit; a field accepts its own unit and its synonyms.
_UNIT_SETS: tuple[frozenset[str], ...] = (
    frozenset({"人", "名", "位", "个", "人次", "people", "person", "persons", "teachers"}),
    frozenset({"学时", "小时", "课时", "h", "hr", "hrs", "hour", "hours", "class hours"}),
    frozenset({"%", "percent", "pct"}),
    frozenset({"天", "日", "day", "days"}),
    frozenset({"所", "school", "schools"}),
    frozenset({"次", "time", "times"}),
    frozenset({"元", "yuan", "rmb", "¥"}),
    frozenset({"班", "个班", "class", "classes"}),
)
_ALL_UNITS = frozenset(
    unicodedata.normalize("NFKC", u).casefold().replace(" ", "") for s in _UNIT_SETS for u in s
)

_NUMBER_RE = re.compile(
    r"(?P<sign>[+-]?)\s*(?P<int>[0-9][0-9,]*)?(?:[.。](?P<frac>[0-9]*))?\s*(?P<rest>.*)",
    re.DOTALL,
)
_THOUSANDS_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_DATE_PATTERNS = (
    re.compile(r"([0-9]{4})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})"),
    re.compile(r"([0-9]{4})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*[日号]?"),
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"),
)
_MULTI_SPLIT_RE = re.compile(r"[,、;\n]+")
_CHOICE_NUMBER_RE = re.compile(r"\(?([0-9]{1,4})[.)、]?\)?")
_NONE_WORDS = frozenset({"无", "没有", "none", "no", "nothing", "—", "-", "n/a"})


def _normalize(text: str) -> str:
    return text.translate(_TRANSLATE).strip()


def _fold(text: str) -> str:
    """A matching key for codes and labels: NFKC folds full-width letters and
    circled digits, casefold ignores case, inner spaces do not matter."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _units_for(f: FieldDef | ComputedDef) -> frozenset[str]:
    if f.unit is None:
        return frozenset()
    own = {_fold(f.unit.zh), _fold(f.unit.en)}
    out = set(own)
    for s in _UNIT_SETS:
        if own & {_fold(u) for u in s}:
            out.update(_fold(u) for u in s)
    return frozenset(out)


def _bounds(f: FieldDef) -> dict[str, ParamValue]:
    return {"min": f.min, "max": f.max}


def parse_answer(field: FieldDef, text: str) -> ParsedValue | ParseError:
    """Parse what the principal typed for `field`. Never raises."""
    if not isinstance(text, str):
        return ParseError("not_a_number" if field.type in ("integer", "decimal") else "required")
    stripped = text.strip()
    if not stripped:
        return ParseError("required") if field.required else ParsedValue(None)
    if len(stripped) > MAX_INPUT:
        return _too_much(field, stripped)
    if field.type in ("integer", "decimal"):
        return _parse_number(field, stripped)
    if field.type == "date":
        return _parse_date(field, stripped)
    if field.type == "choice":
        return _parse_choice(field, stripped)
    if field.type == "multi_choice":
        return _parse_multi(field, stripped)
    if field.type == "file":
        return ParseError("needs_file")  # a file question is answered by sending the file
    return _parse_text(field, stripped)


def _too_much(f: FieldDef, text: str) -> ParseError:
    if f.type == "text":
        return ParseError("too_long", {"max_length": f.max_length, "length": len(text)})
    if f.type == "date":
        return ParseError("bad_date")
    if f.type in ("choice", "multi_choice"):
        return ParseError("unknown_choice", {"value": text[:50], "count": len(f.choices)})
    if _normalize(text).isdigit():
        return ParseError("above_max", _bounds(f))  # a number, only far too large
    return ParseError("not_a_number")


def _parse_number(f: FieldDef, text: str) -> ParsedValue | ParseError:
    s = _normalize(text)
    m = _NUMBER_RE.fullmatch(s)
    if m is None or (m.group("int") is None and not m.group("frac")):
        return _parse_chinese(f, s)
    unit_error = _check_unit(f, m.group("rest"))
    if unit_error is not None:
        return _estimate_or(s, unit_error)
    int_part = m.group("int") or "0"
    if "," in int_part:
        if not _THOUSANDS_RE.fullmatch(int_part):
            return ParseError("not_a_number")
        int_part = int_part.replace(",", "")
    if len(int_part.lstrip("0")) > MAX_DIGITS:
        return ParseError("above_max", _bounds(f))
    frac = (m.group("frac") or "").rstrip("0")
    value = _number_value(f, int_part, frac, negative=m.group("sign") == "-")
    if isinstance(value, ParseError):
        return value
    return _within_bounds(f, value)


# --- whole numbers in Chinese numerals ---------------------------------------------------

_CN_DIGITS: Final = {
    **dict.fromkeys("零〇", 0),
    **dict.fromkeys("一壹", 1),
    **dict.fromkeys("二贰两", 2),
    **dict.fromkeys("三叁", 3),
    **dict.fromkeys("四肆", 4),
    **dict.fromkeys("五伍", 5),
    **dict.fromkeys("六陆", 6),
    **dict.fromkeys("七柒", 7),
    **dict.fromkeys("八捌", 8),
    **dict.fromkeys("九玖", 9),
}
_CN_UNITS: Final = {
    **dict.fromkeys("十拾", 10),
    **dict.fromkeys("百佰", 100),
    **dict.fromkeys("千仟", 1000),
}
_CN_BIG: Final = (("亿億", 10**8), ("万萬", 10**4))
_CN_CHARS: Final = "".join([*_CN_DIGITS, *_CN_UNITS, *(cs for cs, _ in _CN_BIG)])
_CN_NUMBER_RE = re.compile(rf"(?P<sign>[-负]?)\s*(?P<num>[{_CN_CHARS}]+)(?P<rest>.*)", re.DOTALL)
# Words and shapes of an estimate: a bureau adds the figures up, so "about fifty" is
# refused as what it is rather than as "not a number".
_ESTIMATE_RE = re.compile(
    r"大约|大概|约|左右|上下|若干|差不多|将近|接近|不到|不足|以上|以下|超过|至少|最多|几"
    r"|[0-9十百千万亿][来多余]|[一二两三四五六七八九]{2}|[0-9]\s*[-~～到至]\s*[0-9]"
)


def _estimate_or(text: str, error: ParseError) -> ParseError:
    """`error`, unless the text is an estimate (then that is the reason)."""
    if error.kind == "not_a_number" and _ESTIMATE_RE.search(text):
        return ParseError("approximate")
    return error


def _parse_chinese(f: FieldDef, s: str) -> ParsedValue | ParseError:
    m = _CN_NUMBER_RE.fullmatch(s)
    n = chinese_integer(m.group("num")) if m is not None else None
    if m is None or n is None:
        return _estimate_or(s, ParseError("not_a_number"))
    unit_error = _check_unit(f, m.group("rest"))
    if unit_error is not None:
        return _estimate_or(s, unit_error)
    if n >= 10**MAX_DIGITS:
        return ParseError("above_max", _bounds(f))
    value = -n if m.group("sign") else n
    return _within_bounds(f, value if f.type == "integer" else Decimal(value))


def chinese_integer(text: str) -> int | None:
    """The exact value of a whole number in Chinese numerals (八十五, 一百二十, 两千,
    三千零五, 十二, 一万五 = 15000, 一百二 = 120); None for anything else, including
    ranges such as 三四十 and misplaced zeros (二十零)."""
    for chars, big in _CN_BIG:
        at = min((text.find(c) for c in chars if c in text), default=-1)
        if at < 0:
            continue
        head, tail = text[:at], text[at + 1 :]
        high = chinese_integer(head) if head else None
        low = _cn_below(tail, big)
        if high is None or low is None:
            return None
        return high * big + low
    return _cn_section(text, first=True)


def _cn_below(tail: str, big: int) -> int | None:
    """What follows 万 or 亿: nothing, a bare digit (一万五 = 15000), or a number below
    it, after a 零 when a place is skipped (一万零五)."""
    if not tail:
        return 0
    if len(tail) == 1 and _CN_DIGITS.get(tail):
        return _CN_DIGITS[tail] * big // 10
    if tail[0] in "零〇":
        low = chinese_integer(tail[1:]) if len(tail) > 1 else None
        return low if low is not None and low < big // 10 else None
    low = chinese_integer(tail)
    return low if low is not None and big // 10 <= low < big else None


def _cn_section(text: str, *, first: bool) -> int | None:
    """A number below 10,000: digits each followed by a falling unit, 零 where a place is
    skipped, a leading 十 for 一十 (十二), a last digit after 百 or 千 for the next
    place down (一百二 = 120, but 一百零二 = 102)."""
    if text in ("零", "〇"):
        return 0
    if text[0] in "零〇" or text[-1] in "零〇":
        return None
    total, digit, unit, after_zero = 0, None, 10**4, False
    for i, ch in enumerate(text):
        d = _CN_DIGITS.get(ch)
        if d is not None:
            if digit is not None or (d == 0 and after_zero):
                return None  # two digits in a row: 三四十 is a range, not a number
            if d == 0:
                after_zero = True
            else:
                digit = d
            continue
        u = _CN_UNITS.get(ch)
        if u is None or u >= unit or (digit is None and not (first and i == 0 and u == 10)):
            return None
        if after_zero and u * 10 >= unit:
            return None  # 零 skips a place: 一千零五百 skips none
        total, unit, digit, after_zero = total + (digit or 1) * u, u, None, False
    if after_zero and unit < 100:
        return None
    if digit is not None:
        total += digit * (unit // 10 if unit in (100, 1000) and not after_zero else 1)
    return total


def _check_unit(f: FieldDef, rest: str) -> ParseError | None:
    """What follows the digits may be this field's unit (and a full stop), nothing else."""
    rest = rest.strip()
    if rest.endswith(("。", ".")):
        rest = rest[:-1].strip()
    if not rest:
        return None
    unit = _fold(rest)
    if unit in _units_for(f):
        return None
    if unit in _ALL_UNITS:
        return ParseError("wrong_unit", {"given": rest[:20]})
    return ParseError("not_a_number")


def _number_value(
    f: FieldDef, int_part: str, frac: str, *, negative: bool
) -> int | Decimal | ParseError:
    if f.type == "integer":
        if frac:
            return ParseError("not_integer")
        n = int(int_part)
        return -n if negative else n
    places = f.decimals if f.decimals is not None else 2
    if len(frac) > places:
        return ParseError("too_many_decimals", {"decimals": places})
    value = Decimal(f"{'-' if negative else ''}{int(int_part)}.{frac or '0'}")
    return value if frac else value.quantize(Decimal(1))


def _within_bounds(f: FieldDef, value: int | Decimal) -> ParsedValue | ParseError:
    if f.min is not None and value < f.min:  # type: ignore[operator]
        return ParseError("below_min", _bounds(f))
    if f.max is not None and value > f.max:  # type: ignore[operator]
        return ParseError("above_max", _bounds(f))
    if isinstance(value, Decimal) and value == 0:
        value = value.copy_abs()  # "-0" is 0
    return ParsedValue(value)


def _parse_date(f: FieldDef, text: str) -> ParsedValue | ParseError:
    s = _normalize(text).rstrip("。.")
    for pattern in _DATE_PATTERNS:
        m = pattern.fullmatch(s)
        if m is None:
            continue
        try:
            value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return ParseError("bad_date")
        if isinstance(f.min, date) and value < f.min:
            return ParseError("below_min", _bounds(f))
        if isinstance(f.max, date) and value > f.max:
            return ParseError("above_max", _bounds(f))
        return ParsedValue(value)
    return ParseError("bad_date")


def _match_choice(f: FieldDef, text: str) -> str | None:
    key = _fold(text).rstrip("。.")
    if not key:
        return None
    # Numbers are matched before spaces are folded away: "1 3" is two choices, not 13.
    m = _CHOICE_NUMBER_RE.fullmatch(unicodedata.normalize("NFKC", text).strip().rstrip("。."))
    if m is not None:
        n = int(m.group(1))
        return f.choices[n - 1].code if 1 <= n <= len(f.choices) else None
    for c in f.choices:
        if key in {_fold(w) for w in c.answers}:
            return c.code
    return None


def _parse_choice(f: FieldDef, text: str) -> ParsedValue | ParseError:
    code = _match_choice(f, text)
    if code is None:
        return ParseError("unknown_choice", {"value": text[:50], "count": len(f.choices)})
    return ParsedValue(code)


def _parse_multi(f: FieldDef, text: str) -> ParsedValue | ParseError:
    s = _normalize(text)
    picked: set[str] = set()
    if _fold(s) not in _NONE_WORDS:
        for part in _MULTI_SPLIT_RE.split(s):
            part = part.strip()
            if not part:
                continue
            code = _match_choice(f, part)
            if code is not None:
                picked.add(code)
                continue
            for word in part.split():
                code = _match_choice(f, word)
                if code is None:
                    return ParseError(
                        "unknown_choice", {"value": word[:50], "count": len(f.choices)}
                    )
                picked.add(code)
        if not picked:
            return ParseError("unknown_choice", {"value": s[:50], "count": len(f.choices)})
    value = [c.code for c in f.choices if c.code in picked]
    if isinstance(f.min, int) and len(value) < f.min:
        return ParseError("too_few_choices", {"min": f.min})
    if isinstance(f.max, int) and len(value) > f.max:
        return ParseError("too_many_choices", {"max": f.max})
    return ParsedValue(value)


def _parse_text(f: FieldDef, text: str) -> ParsedValue | ParseError:
    limit = f.max_length
    if limit is not None and len(text) > limit:
        return ParseError("too_long", {"max_length": limit, "length": len(text)})
    return ParsedValue(text)


_YES = frozenset(
    {"是", "是的", "有", "有的", "好", "要", "继续", "添加", "y", "yes", "ok", "1", "对"}
)
_NO = frozenset(
    {"否", "不", "不要", "没有", "没有了", "没了", "无", "完成", "结束", "n", "no", "0", "done"}
)


def parse_yes_no(text: str) -> bool | None:
    """Read an answer to an "add another item?" question; None if it is neither."""
    key = _fold(_normalize(text)).rstrip("。.!！")
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None


# --- formatting ------------------------------------------------------------------------


def _format_number(v: int | Decimal, decimals: int | None) -> str:
    if isinstance(v, Decimal):
        if decimals is not None:
            v = round_half_up(v, decimals)
        if isinstance(v, Decimal):
            return f"{v:,f}"
    return f"{v:,}"


COUNTERS = frozenset("人名所个项次")
"""Chinese measure words that count (5人, 3所): English counts with the noun the label
already names ("Vacant posts: 5", not "5 people", never "1 people"), so it drops them;
units of measure (小时, %, 元) stay in both languages."""


def format_value(field: FieldDef | ComputedDef, value: Value | None, lang: str) -> str:
    """A value as a review screen shows it: labels in `lang`, units, thousands.

    Text produced here parses back to the same value with parse_answer."""
    zh = not lang.lower().startswith("en")
    if value is None:
        return "—"
    if isinstance(field, FieldDef) and field.type == "file":
        return show_file(value, zh)
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int | Decimal):
        # An answer is shown as given; a computed value is rounded for reading.
        decimals = None
        if isinstance(field, ComputedDef) and isinstance(value, Decimal):
            decimals = 2 if field.decimals is None else field.decimals
        elif isinstance(value, Decimal):
            # 12.5000 from a NUMERIC(20, 4) column is 12.5; -0 is 0.
            value = value.normalize().copy_abs() if value == 0 else value.normalize()
        s = _format_number(value, decimals)
        if field.unit is None or (not zh and field.unit.zh in COUNTERS):
            return s
        unit = field.unit.get(lang)
        return f"{s}{unit}" if zh or unit == "%" else f"{s} {unit}"
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日" if zh else value.isoformat()
    choices = field.choices if isinstance(field, FieldDef) else ()
    labels = {c.code: c.label.get(lang) for c in choices}
    if isinstance(value, list):
        if not value:
            return "—"
        return ("、" if zh else ", ").join(labels.get(v, v) for v in value)
    return labels.get(value, value)
