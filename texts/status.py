"""What /status tells people: the screens of a round, of a district and its missing
schools, and what a tap on "remind these now" did.

The reminder that button sends is texts.reminders.remind_now_message: the scheduled
reminder's words, so a school is chased in one voice. The counts and rates here are the
deadline summary's too (outputs/summary.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from html import escape
from typing import TypeVar

from models.followup.completeness import Counts, SchoolStatus
from models.followup.remind_now import RemindResult
from models.roster.tables import Role
from texts.i18n import Gettext, colon, paren
from texts.labels import status_label
from texts.when import show

MAX_SCHOOL_LINES = 60
T = TypeVar("T")


def format_percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def counts_line(_: Gettext, t: Counts) -> str:
    return _(
        "On time {on_time} · late {late} · in progress {in_progress} · not started {not_started}"
    ).format(on_time=t.on_time, late=t.late, in_progress=t.in_progress, not_started=t.not_started)


def refusal(_: Gettext, role: Role) -> str:
    """Why someone may not use /status."""
    if role is Role.DISTRICT_OFFICER:
        return _("Your account is not linked to a district yet. Please ask the bureau to set it.")
    return _("This is for bureau staff and district officers only.")


def round_text(
    _: Gettext, title: str, deadline: datetime, tz: tzinfo, t: Counts,
    *, language: str, now: datetime,
) -> str:
    """A round's (or one district's) head: its deadline, reporting rate and counts."""
    lines = [
        f"<b>{escape(title)}</b>",
        _("Deadline {deadline}").format(deadline=show(deadline, tz, "full", language, now)),
        _("Reporting rate {rate} ({submitted} of {expected}), on time {on_time}").format(
            rate=format_percent(t.reporting_rate),
            submitted=t.submitted,
            expected=t.expected,
            on_time=format_percent(t.on_time_rate),
        ),
        counts_line(_, t),
    ]
    return "\n".join(lines)


def school_line(_: Gettext, language: str, s: SchoolStatus) -> str:
    """A missing school, where it stands and its principals (marked when unreachable)."""
    principals = [c for c in s.contacts if c.role is Role.PRINCIPAL]
    if principals:
        names = "、".join(
            escape(c.name) + ("" if c.reachable else " " + _("(unreachable)")) for c in principals
        )
    else:
        names = _("no principal registered")
    return "• " + colon(_, paren(_, escape(s.name), status_label(s.status, language)), names)


def capped(
    header: str, items: Sequence[T], line: Callable[[T], str], limit: int, more: str
) -> str:
    """A header and the lines of at most `limit` items; `more` (with {count}) says how
    many were left out and where they are."""
    shown = [header, *(line(item) for item in items[:limit])]
    if len(items) > limit:
        shown.append(more.format(count=len(items) - limit))
    return "\n".join(shown)


def missing_text(_: Gettext, language: str, missing: Sequence[SchoolStatus]) -> str:
    """A district's missing schools, the first MAX_SCHOOL_LINES of them."""
    if not missing:
        return _("Every school of this district has reported. 🎉")
    return capped(
        _("<b>Missing schools</b> ({count}):").format(count=len(missing)),
        missing,
        lambda s: school_line(_, language, s),
        MAX_SCHOOL_LINES,
        _("… and {count} more: /export has the full list."),
    )


def reminded_text(_: Gettext, result: RemindResult) -> str:
    """For the staff member who tapped "remind these now": what was queued."""
    if result.recipients:
        text = _("Reminders queued for {people} people at {schools} schools.").format(
            people=result.recipients, schools=result.schools
        )
    else:
        text = _("These schools were reminded a moment ago; nothing more was sent.")
    if result.unreachable:
        text += "\n" + _("{count} contacts blocked the bot: please phone them.").format(
            count=result.unreachable
        )
    return text
