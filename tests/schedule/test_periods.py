"""Recurring schedules: period labels and occurrences in the bureau's time zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from models.rounds.periods import canonical_period, period_label, term_code
from models.rounds.schedules import (
    Schedule,
    ScheduleError,
    check_params,
    latest_occurrence,
    next_opening,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def schedule(kind: str, params: dict[str, object], **extra: object) -> Schedule:
    values: dict[str, object] = {
        "form_code": "staffing",
        "kind": kind,
        "params": json.dumps(check_params(kind, params)),
        "open_time": time(8, 0),
        "deadline_days": 4,
        "deadline_time": time(17, 0),
        "grace_minutes": 0,
        "lock_days": None,
        "starts_on": date(2026, 1, 1),
    }
    values.update(extra)
    return Schedule(**values)


def test_weekly_occurrence_is_the_iso_week() -> None:
    weekly = schedule("weekly", {"weekday": "monday"}, grace_minutes=60, lock_days=2)
    # Thursday 2026-11-26: the week's round opened on Monday 2026-11-23 08:00.
    found = latest_occurrence(weekly, local("2026-11-26 12:00"), SHANGHAI)
    assert found is not None
    assert found.period == "2026-W48"
    assert found.opens_at == local("2026-11-23 08:00")
    assert found.deadline == local("2026-11-27 17:00")
    assert found.lock_at == local("2026-11-29 17:00")
    # Monday before 08:00 it is still last week's.
    earlier = latest_occurrence(weekly, local("2026-11-23 07:59"), SHANGHAI)
    assert earlier is not None and earlier.period == "2026-W47"
    assert next_opening(weekly, local("2026-11-23 07:59"), SHANGHAI) == local("2026-11-23 08:00")


def test_iso_week_across_the_new_year() -> None:
    weekly = schedule("weekly", {"weekday": 0}, starts_on=date(2026, 12, 1))
    found = latest_occurrence(weekly, local("2027-01-01 12:00"), SHANGHAI)
    assert found is not None and found.period == "2026-W53"


def test_monthly_occurrence_clamps_to_the_month() -> None:
    monthly = schedule("monthly", {"day": 31}, deadline_days=5)
    found = latest_occurrence(monthly, local("2026-11-30 09:00"), SHANGHAI)
    assert found is not None
    assert found.period == "2026-11"
    assert found.opens_at == local("2026-11-30 08:00")
    before = latest_occurrence(monthly, local("2026-11-29 09:00"), SHANGHAI)
    assert before is not None and before.period == "2026-10"


def test_yearly_key_teacher_assessment_every_july() -> None:
    yearly = schedule("yearly", {"month": 7, "day": 1}, deadline_days=30)
    found = latest_occurrence(yearly, local("2027-07-02 09:00"), SHANGHAI)
    assert found is not None
    assert (found.period, found.deadline) == ("2027", local("2027-07-31 17:00"))
    assert latest_occurrence(yearly, local("2026-06-30 09:00"), SHANGHAI) is None  # starts 2026
    assert next_opening(yearly, local("2026-06-30 09:00"), SHANGHAI) == local("2026-07-01 08:00")


def test_term_occurrences_come_from_their_dates() -> None:
    terms = schedule(
        "term",
        {
            "terms": [
                {"term": "2027-spring", "opens": "2027-02-22", "deadline": "2027-03-12"},
                {"term": "2026-autumn", "opens": "2026-09-07", "deadline": "2026-09-30"},
            ]
        },
    )
    found = latest_occurrence(terms, local("2026-10-10 09:00"), SHANGHAI)
    assert found is not None
    assert (found.period, found.deadline) == ("2026-autumn", local("2026-09-30 17:00"))
    assert next_opening(terms, local("2026-10-10 09:00"), SHANGHAI) == local("2027-02-22 08:00")


def test_labels_per_language() -> None:
    assert period_label("2026-autumn", "zh_CN") == "2026年秋季学期"
    assert period_label("2026-autumn", "en") == "2026 autumn term"
    assert period_label("2027-spring", "en") == "2027 spring term"
    assert period_label("2026-W48", "zh_CN") == "2026-W48"
    assert term_code(date(2026, 9, 1)) == "2026-autumn"
    assert term_code(date(2027, 1, 10)) == "2026-autumn"
    assert term_code(date(2027, 3, 1)) == "2027-spring"


@pytest.mark.parametrize(
    "typed",
    ["2026-autumn", "2026 秋季学期", "2026年秋季学期", "２０２６秋季学期", "2026 autumn term",
     "2026 Autumn Term", "2026-2027学年上学期", "  2026   秋季学期 "],
)
def test_a_term_however_written_is_one_period(typed: str) -> None:
    assert canonical_period(typed) == "2026-autumn"


def test_other_periods_are_kept_as_typed() -> None:
    assert canonical_period("2026-2027学年下学期") == "2027-spring"
    assert canonical_period("2027 春季学期") == "2027-spring"
    for label in ("2026", "2026-11", "2026-W48", "2026年度", "2026 第二批"):
        assert canonical_period(label) == label


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("daily", {}, "unknown schedule kind"),
        ("weekly", {"weekday": "funday"}, "weekday"),
        ("monthly", {"day": 0}, "day of the month"),
        ("yearly", {"month": 2, "day": 30}, "no day 30"),
        ("term", {"terms": []}, "at least one term"),
        (
            "term",
            {"terms": [{"term": "2026-fall", "opens": "2026-09-01", "deadline": "2026-09-30"}]},
            "2026-autumn",
        ),
        (
            "term",
            {"terms": [{"term": "2026-autumn", "opens": "2026-09-30", "deadline": "2026-09-01"}]},
            "before the opening",
        ),
    ],
)
def test_bad_parameters_are_refused(kind: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        check_params(kind, params)
