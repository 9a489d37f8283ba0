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
from models.followup.remind_now import PRESS_WINDOW_MINUTES, RemindPlan, RemindResult
from models.roster.phones import Callee
from models.roster.tables import Role
from texts.contacts import callee_line, fitting, with_phones
from texts.i18n import Gettext, colon, paren
from texts.labels import status_label
from texts.when import show

MAX_SCHOOL_LINES = 60
# The missing list's share of a Telegram message (4,096 characters with the round's head
# and the "… and more" line); a line with two phone numbers is some 90 characters.
MISSING_BUDGET = 3400
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
    """A missing school, where it stands, its principals (marked when unreachable) and
    its numbers (the callers show this list to staff and the district's officers only)."""
    principals = [c for c in s.contacts if c.role is Role.PRINCIPAL]
    if principals:
        names = "、".join(
            escape(c.name) + ("" if c.reachable else " " + _("(unreachable)")) for c in principals
        )
    else:
        names = _("no principal registered")
    line = "• " + colon(_, paren(_, escape(s.name), status_label(s.status, language)), names)
    return with_phones(_, line, s.phones())


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
    """A district's missing schools, the first MAX_SCHOOL_LINES of them, or fewer when
    their lines (with the phones) would not fit in MISSING_BUDGET characters."""
    if not missing:
        return _("Every school of this district has reported. 🎉")
    lines = [school_line(_, language, s) for s in missing[:MAX_SCHOOL_LINES]]
    return capped(
        _("<b>Missing schools</b> ({count}):").format(count=len(missing)),
        missing,
        lambda s: school_line(_, language, s),
        fitting(lines, MISSING_BUDGET),
        _("… and {count} more: /export has the full list."),
    )



Ngettext = Callable[[str, str, int], str]
MAX_REMIND_LINES = 20


def _names(_: Gettext, header: str, names: Sequence[str]) -> str:
    return capped(
        header, names, lambda n: "• " + escape(n), MAX_REMIND_LINES, _("… and {count} more")
    )


def _people(ngettext: Ngettext, count: int) -> str:
    return ngettext("{count} person", "{count} people", count).format(count=count)


def remind_question(
    _: Gettext, ngettext: Ngettext, plan: RemindPlan, district: str, *, overdue: bool
) -> str:
    """Before "remind these now" acts: exactly whom it will reach, and whom it cannot."""
    if overdue:
        head = ngettext(
            "Send an overdue notice to the {count} school of {district} that has not "
            "reported by the deadline ({people})?",
            "Send an overdue notice to the {count} schools of {district} that have not "
            "reported by the deadline ({people})?",
            plan.schools,
        )
    else:
        head = ngettext(
            "Remind the {count} school of {district} that has not reported ({people})?",
            "Remind the {count} schools of {district} that have not reported ({people})?",
            plan.schools,
        )
    lines = [head.format(
        count=plan.schools, district=escape(district), people=_people(ngettext, plan.people)
    )]
    if plan.nobody:
        lines += ["", _nobody_text(_, ngettext, plan.nobody)]
    return "\n".join(lines)


def nobody_to_remind(_: Gettext, ngettext: Ngettext, plan: RemindPlan) -> str:
    """When none of the missing schools has anyone to remind."""
    return _("Nobody at these schools can be reminded.") + "\n\n" + _nobody_text(
        _, ngettext, plan.nobody
    )


def _nobody_text(_: Gettext, ngettext: Ngettext, nobody: Sequence[Callee]) -> str:
    header = ngettext(
        "{count} school cannot be reminded: nobody there is connected to the bot (or they "
        "blocked it). Please phone it:",
        "{count} schools cannot be reminded: nobody there is connected to the bot (or they "
        "blocked it). Please phone them:",
        len(nobody),
    ).format(count=len(nobody))
    return capped(
        header, nobody, lambda c: callee_line(_, c), MAX_REMIND_LINES, _("… and {count} more")
    )


def reminded_text(_: Gettext, ngettext: Ngettext, result: RemindResult, *, overdue: bool) -> str:
    """For the staff member who confirmed "remind these now": who was reminded, who had
    been minutes ago, and who could not be (to phone)."""
    parts: list[str] = []
    if result.reminded:
        count = len(result.reminded)
        header = (
            ngettext(
                "Overdue notice sent to {count} school ({people}):",
                "Overdue notice sent to {count} schools ({people}):",
                count,
            )
            if overdue
            else ngettext(
                "Reminder sent to {count} school ({people}):",
                "Reminder sent to {count} schools ({people}):",
                count,
            )
        )
        people = _people(ngettext, result.recipients)
        parts.append(_names(_, header.format(count=count, people=people), result.reminded))
    if result.already:
        header = ngettext(
            "{count} school was reminded less than {minutes} minutes ago, so nothing was "
            "sent to it again:",
            "{count} schools were reminded less than {minutes} minutes ago, so nothing was "
            "sent to them again:",
            len(result.already),
        ).format(count=len(result.already), minutes=PRESS_WINDOW_MINUTES)
        parts.append(_names(_, header, result.already))
    if result.nobody:
        parts.append(_nobody_text(_, ngettext, result.nobody))
    if result.unreachable:
        parts.append(ngettext(
            "{count} contact has blocked the bot: please phone them.",
            "{count} contacts have blocked the bot: please phone them.",
            result.unreachable,
        ).format(count=result.unreachable))
    if not parts:
        return _("Nobody was reminded.")
    return "\n\n".join(parts)
