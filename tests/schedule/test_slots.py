"""Reminder slots and quiet hours, computed in the bureau's time zone (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.followup.reminders import Policy, QuietHours, SlotKind, defer_for_quiet_hours, slots_for
from models.rounds import Round

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUIET = QuietHours(start=time(21, 0), end=time(8, 0))


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def a_round(opened: str, deadline: str, grace_minutes: int = 0) -> Round:
    return Round(
        id=1,
        form_code="staffing",
        form_version=1,
        period="2026",
        opened_at=local(opened),
        deadline=local(deadline),
        grace_minutes=grace_minutes,
    )


def by_key(round_: Round, policy: Policy | None = None) -> dict[str, datetime]:
    return {
        s.key: s.send_at.astimezone(SHANGHAI).replace(tzinfo=None)
        for s in slots_for(round_, policy or Policy(), SHANGHAI, QUIET)
    }


def test_every_default_slot_at_its_bureau_time() -> None:
    # Opened Wednesday 2026-11-04 10:00; deadline Friday 2026-11-20 17:00 (+ 2 h grace).
    slots = by_key(a_round("2026-11-04 10:00", "2026-11-20 17:00", grace_minutes=120))
    assert slots == {
        "open": datetime(2026, 11, 4, 10, 0),
        "weekly:2026-11-09": datetime(2026, 11, 9, 9, 0),
        "weekly:2026-11-16": datetime(2026, 11, 16, 9, 0),
        "before:3:2026-11-17": datetime(2026, 11, 17, 9, 0),
        "before:1:2026-11-19": datetime(2026, 11, 19, 9, 0),
        "deadline-day:2026-11-20": datetime(2026, 11, 20, 9, 0),
        "overdue:2026-11-20T19:00": datetime(2026, 11, 20, 19, 0),
        "escalation:2026-11-20T19:00": datetime(2026, 11, 20, 19, 0),
        "summary:2026-11-17": datetime(2026, 11, 17, 17, 0),
        "summary:2026-11-18": datetime(2026, 11, 18, 17, 0),
        "summary:2026-11-19": datetime(2026, 11, 19, 17, 0),
        "summary-deadline:2026-11-20T17:00": datetime(2026, 11, 20, 17, 0),
    }


def test_a_weekly_day_that_already_has_a_reminder_gets_only_one() -> None:
    # Deadline Thursday: 3 days before is Monday, the weekly day.
    slots = by_key(a_round("2026-11-02 10:00", "2026-11-12 17:00"))
    assert slots["before:3:2026-11-09"] == datetime(2026, 11, 9, 9, 0)
    assert "weekly:2026-11-09" not in slots


def test_nothing_but_the_opening_notice_on_the_opening_day() -> None:
    # Opened Monday 08:00; the weekly reminder at 09:00 the same day would be noise.
    slots = by_key(a_round("2026-11-09 08:00", "2026-11-20 17:00"))
    assert "weekly:2026-11-09" not in slots
    assert "weekly:2026-11-16" in slots


def test_deadline_day_reminder_skipped_when_the_deadline_is_earlier() -> None:
    slots = by_key(a_round("2026-11-02 10:00", "2026-11-13 08:30"))
    assert not [key for key in slots if key.startswith("deadline-day")]


def test_quiet_hours_defer_to_their_end() -> None:
    # Deadline at 23:00 with no grace: the overdue notice waits until 08:00 next morning.
    slots = by_key(a_round("2026-11-02 10:00", "2026-11-13 23:00"))
    assert slots["overdue:2026-11-13T23:00"] == datetime(2026, 11, 14, 8, 0)
    # A slot at 22:00 goes at 08:00 the next day; one at 06:00 at 08:00 the same day.
    assert defer_for_quiet_hours(local("2026-11-13 22:00"), QUIET, SHANGHAI) == local(
        "2026-11-14 08:00"
    )
    assert defer_for_quiet_hours(local("2026-11-13 06:00"), QUIET, SHANGHAI) == local(
        "2026-11-13 08:00"
    )
    assert defer_for_quiet_hours(local("2026-11-13 20:59"), QUIET, SHANGHAI) == local(
        "2026-11-13 20:59"
    )
    assert defer_for_quiet_hours(local("2026-11-13 08:00"), QUIET, SHANGHAI) == local(
        "2026-11-13 08:00"
    )


def test_quiet_hours_within_one_day_and_switched_off() -> None:
    lunch = QuietHours(start=time(12, 0), end=time(14, 0))
    assert defer_for_quiet_hours(local("2026-11-13 12:30"), lunch, SHANGHAI) == local(
        "2026-11-13 14:00"
    )
    assert defer_for_quiet_hours(local("2026-11-13 22:00"), lunch, SHANGHAI) == local(
        "2026-11-13 22:00"
    )
    off = QuietHours(start=time(21, 0), end=time(8, 0), enabled=False)
    assert defer_for_quiet_hours(local("2026-11-13 22:00"), off, SHANGHAI) == local(
        "2026-11-13 22:00"
    )


def test_policy_overrides_switch_slots_off_and_move_them() -> None:
    policy = Policy.from_mapping(
        {
            "weekly_day": "off",
            "days_before": "2",
            "deadline_day": False,
            "escalate_to_district": False,
            "summary_days_before": 0,
            "overdue": True,
            "days_before_time": "10:30",
        }
    )
    slots = by_key(a_round("2026-11-04 10:00", "2026-11-20 17:00"), policy)
    assert set(slots) == {
        "open",
        "before:2:2026-11-18",
        "overdue:2026-11-20T17:00",
        "summary-deadline:2026-11-20T17:00",
    }
    assert slots["before:2:2026-11-18"] == datetime(2026, 11, 18, 10, 30)


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="weekly_day"):
        Policy.from_mapping({"weekly_day": "funday"})
    with pytest.raises(ValueError, match="days_before"):
        Policy.from_mapping({"days_before": [0]})
    with pytest.raises(ValueError, match="time"):
        Policy.from_mapping({"summary_time": "25:00"})


def test_overrides_round_trip() -> None:
    base = Policy()
    changed = Policy.from_mapping({"weekly_time": "08:15", "days_before": [5, 2]}, base)
    stored = changed.overrides(base)
    assert stored == {"weekly_time": "08:15", "days_before": [5, 2]}
    assert Policy.from_mapping(stored, base) == changed


def test_slot_kinds() -> None:
    slots = slots_for(a_round("2026-11-04 10:00", "2026-11-20 17:00"), Policy(), SHANGHAI, QUIET)
    kinds = {s.key: s.kind for s in slots}
    assert kinds["open"] is SlotKind.OPEN
    assert kinds["summary-deadline:2026-11-20T17:00"] is SlotKind.SUMMARY
    assert [s.send_at for s in slots] == sorted(s.send_at for s in slots)
    assert all(s.send_at - s.due_at < timedelta(hours=12) for s in slots)
