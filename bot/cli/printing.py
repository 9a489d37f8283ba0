"""What the command line prints again and again, said once: times in the bureau's zone,
lists of schools, long lists cut short, warnings on standard error, what `retry` queued."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from models.outbox.requeue import Requeued


class NamedSchool(Protocol):
    code: str
    name: str


def bureau_time(t: datetime, tz: tzinfo) -> str:
    """A time as staff read it: 2026-09-30 17:00 in the bureau's zone."""
    return f"{t.astimezone(tz):%Y-%m-%d %H:%M}"


def school_line(school: NamedSchool) -> str:
    return f"{school.code} {school.name}"


def print_schools(heading: str, schools: Iterable[NamedSchool]) -> None:
    """A heading, then one indented line per school."""
    print(heading)
    for school in schools:
        print(f"  {school_line(school)}")


def joined_cut(names: Sequence[str], limit: int) -> str:
    """"a, b, c and 4 more": at most `limit` names."""
    text = ", ".join(names[:limit])
    more = len(names) - limit
    return text + (f" and {more} more" if more > 0 else "")


def print_cut(lines: Sequence[str], limit: int) -> None:
    """At most `limit` lines, then "  ... and N more" for the rest."""
    for line in lines[:limit]:
        print(line)
    if len(lines) > limit:
        print(f"  ... and {len(lines) - limit} more")


def warn(text: str) -> None:
    print(text, file=sys.stderr)


def print_requeued(what: str, again: Requeued) -> None:
    """What `huibao notices retry` and `huibao rounds retry` put back in the queue."""
    if not again.total:
        print(f"{what}: nothing to retry (no failed or blocked deliveries)")
        return
    print(
        f"{what}: {again.total} deliveries queued again ({again.failed} failed, "
        f"{again.blocked} to people who had blocked the bot: they get it only if they "
        "have unblocked it); the running bot sends them"
    )
