"""Period labels: which period a round collects, and how people read it.

A round's period is a label: 2026-W48 (ISO week), 2026-11 (month), 2026-autumn or
2026-spring (a school term), 2026 (year), or free text staff typed. A term written the
way people write it (2026 秋季学期, 2026-2027学年上学期) is stored as its code
(canonical_period), so that one round per form and period means the same term however
it was typed; period_label shows a code the way people say it.
"""

from __future__ import annotations

import re
from datetime import date

TERM_CODE = re.compile(r"^(\d{4})-(spring|autumn)$")
TERM_NAMES = {"spring": ("春季学期", "spring term"), "autumn": ("秋季学期", "autumn term")}


def week_period(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def month_period(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def year_period(day: date) -> str:
    return f"{day.year}"


def term_code(day: date) -> str:
    """The school term a day falls in: Feb-Jul is the spring term of that year,
    Aug-Jan the autumn term of the year it started in."""
    if 2 <= day.month <= 7:
        return f"{day.year}-spring"
    return f"{day.year if day.month >= 8 else day.year - 1}-autumn"


def period_label(period: str, language: str) -> str:
    """A period as people say it: term codes become 2026年秋季学期 / 2026 autumn term;
    other labels (2026-W48, 2026-11, 2026, or anything staff typed) are shown as they are."""
    match = TERM_CODE.match(period)
    if match is None:
        return period
    zh, en = TERM_NAMES[match.group(2)]
    return f"{match.group(1)}年{zh}" if language.startswith("zh") else f"{match.group(1)} {en}"


_TERM_WORDS = re.compile(
    r"^(?P<year>\d{4})\s*(?:年\s*)?(?:-\s*)?"
    r"(?:(?P<autumn>秋季学期|秋季|秋|autumn\s+term|autumn|fall\s+term|fall)"
    r"|(?P<spring>春季学期|春季|春|spring\s+term|spring))$",
    re.IGNORECASE,
)
_SCHOOL_YEAR_HALF = re.compile(
    r"^(?P<first>\d{4})\s*[-－—~至到]\s*(?P<second>\d{4})\s*学年\s*(?P<half>上|下)\s*学期$"
)
_FULL_WIDTH_DIGITS = {0xFF10 + i: str(i) for i in range(10)} | {0x3000: " "}


def canonical_period(text: str) -> str:
    """The period's stored label: a term written as people write it (2026 秋季学期,
    2026年秋季学期, 2026 autumn term, 2026-2027学年上学期) becomes the code schedules use
    (2026-autumn); anything else is kept as typed, trimmed. Shown with period_label."""
    label = " ".join(text.translate(_FULL_WIDTH_DIGITS).split())
    match = _TERM_WORDS.match(label)
    if match is not None:
        return f"{match['year']}-{'autumn' if match['autumn'] else 'spring'}"
    half = _SCHOOL_YEAR_HALF.match(label)
    if half is not None and int(half["second"]) == int(half["first"]) + 1:
        if half["half"] == "上":
            return f"{half['first']}-autumn"
        return f"{half['second']}-spring"
    return label
