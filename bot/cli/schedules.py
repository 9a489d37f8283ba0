"""`huibao schedules ...`: recurring rounds that open by themselves, and their reminders."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import CliError
from bot.cli.database import with_database
from bot.cli.printing import bureau_time
from bot.cli.stages import stage_codes
from bot.cli.subcommands import SubCommand, add_group
from config.settings import Settings
from models.audit import record
from models.db import transaction
from models.followup.reminders import Policy
from models.forms import FormDef, FormError, load_forms
from models.roster.tables import District
from models.rounds.schedules import (
    KIND_PERIOD_TYPE,
    WEEKDAY_NAMES,
    Schedule,
    ScheduleError,
    ScheduleKind,
    add_schedule,
    all_schedules,
    describe,
    last_occurrences,
    latest_occurrence,
    next_opening,
    occurrence_for,
)
from scheduler.tick import policy_defaults


def _time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 08:00") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-09-07") from None


def _month_day(text: str) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month and day like 07-01") from None
    return month, day


def _term(text: str) -> dict[str, str]:
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a term as CODE:OPENS:DEADLINE, e.g. 2026-autumn:2026-09-07:2026-09-30"
        )
    return {"term": parts[0], "opens": parts[1], "deadline": parts[2]}


def _params(args: argparse.Namespace) -> dict[str, Any]:
    kind = args.every
    if kind == ScheduleKind.WEEKLY.value:
        if args.weekday is None:
            raise CliError("--every weekly needs --weekday (monday ... sunday)")
        return {"weekday": args.weekday}
    if kind == ScheduleKind.MONTHLY.value:
        if args.day is None:
            raise CliError("--every monthly needs --day (1 to 31; 31 means the month's last day)")
        return {"day": args.day}
    if kind == ScheduleKind.YEARLY.value:
        if args.date is None:
            raise CliError("--every yearly needs --date MM-DD, e.g. --date 07-01")
        month, day = args.date
        return {"month": month, "day": day}
    if not args.term:
        raise CliError("--every term needs --term CODE:OPENS:DEADLINE (once per term)")
    return {"terms": args.term}


def _policy(args: argparse.Namespace, defaults: Policy) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if args.remind_weekly is not None:
        changes["weekly_day"] = args.remind_weekly
    if args.remind_days_before is not None:
        changes["days_before"] = args.remind_days_before
    if args.no_open_notice:
        changes["on_open"] = False
    if args.no_overdue:
        changes["overdue"] = False
    if args.no_escalation:
        changes["escalate_to_district"] = False
    if args.summary_days_before is not None:
        changes["summary_days_before"] = args.summary_days_before
    try:
        return Policy.from_mapping(changes, defaults).overrides(defaults)
    except ValueError as error:
        raise CliError(str(error)) from None


async def _district_ids(session: AsyncSession, names: list[str]) -> list[int]:
    rows = (await session.execute(select(District.id, District.name))).all()
    by_name = {name: district_id for district_id, name in rows}
    ids = set(by_name.values())
    out = []
    for name in names:
        if name in by_name:
            out.append(by_name[name])
        elif name.isdigit() and int(name) in ids:
            out.append(int(name))
        else:
            known = ", ".join(sorted(by_name)) or "none yet; import schools first"
            raise CliError(f"unknown district {name!r} (districts: {known})")
    return out


def _add(settings: Settings, args: argparse.Namespace) -> int:
    form = _form(settings, args.form)
    stages = stage_codes(args.stage, "--stage") or []
    params = _params(args)
    policy = _policy(args, policy_defaults(settings))
    grace = args.grace_minutes if args.grace_minutes is not None else int(args.grace_hours * 60)
    tz = settings.bureau.tz

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> Schedule:
        async with transaction(sessionmaker) as session:
            districts = await _district_ids(session, args.district)
            try:
                schedule = await add_schedule(
                    session,
                    form_code=form.code,
                    kind=args.every,
                    params=params,
                    open_time=args.open_time,
                    deadline_days=args.deadline_days,
                    deadline_time=args.deadline_time,
                    grace_minutes=grace,
                    lock_days=args.lock_days,
                    districts=districts,
                    stages=stages,
                    policy=policy,
                    starts_on=args.starts or datetime.now(tz).date(),
                )
            except ScheduleError as error:
                raise CliError(str(error)) from None
            record(
                session,
                "schedule.add",
                target_type="schedule",
                target_id=schedule.id,
                form=form.code,
                kind=args.every,
            )
            return schedule

    _print_added(with_database(settings, work), form, policy, tz)
    return 0


def _form(settings: Settings, code: str) -> FormDef:
    """The latest version of the form a schedule is for."""
    try:
        registry = load_forms(Path(settings.forms.directory))
    except FormError as error:
        raise CliError(str(error).splitlines()[0]) from None
    if code not in registry:
        known = ", ".join(f.code for f in registry.latest())
        raise CliError(f"unknown form {code!r} (forms: {known})")
    return registry.get(code)


def _print_added(schedule: Schedule, form: FormDef, policy: dict[str, Any], tz: Any) -> None:
    """The new schedule, and when its rounds open."""
    now = datetime.now(tz)
    print(f"schedule {schedule.id}: {form.code} {describe(schedule)}")
    if KIND_PERIOD_TYPE[ScheduleKind(schedule.kind)] != form.period_type:
        print(
            f"note: form {form.code} is defined per {form.period_type}; "
            f"this schedule opens a round per {KIND_PERIOD_TYPE[ScheduleKind(schedule.kind)]}"
        )
    current = latest_occurrence(schedule, now, tz)
    if current is not None and current.deadline > now:
        print(
            f"the round for {current.period} opens at the bot's next look (within a minute "
            f"while it runs), deadline {bureau_time(current.deadline, tz)}"
        )
    upcoming = next_opening(schedule, now, tz)
    if upcoming is not None:
        label = _period_at(schedule, upcoming, tz)
        print(f"next round: {label}, opens {bureau_time(upcoming, tz)}")
    if policy:
        print("reminders differ from the settings: " + json.dumps(policy, ensure_ascii=False))


def _period_at(schedule: Schedule, at: datetime, tz: Any) -> str:
    if schedule.kind == ScheduleKind.TERM.value:
        for term in schedule.parameters["terms"]:
            if date.fromisoformat(term["opens"]) == at.astimezone(tz).date():
                return str(term["term"])
        return "?"
    return occurrence_for(schedule, at.astimezone(tz).date(), tz).period


def _list(settings: Settings, args: argparse.Namespace) -> int:
    tz = settings.bureau.tz

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
        async with transaction(sessionmaker) as session:
            schedules = await all_schedules(session)
            last = await last_occurrences(session, [s.id for s in schedules])
            names = dict((await session.execute(select(District.id, District.name))).all())
        now = datetime.now(tz)
        lines = []
        for s in schedules:
            lines += _schedule_lines(s, names, last.get(s.id), now, tz)
        return lines

    lines = with_database(settings, work)
    print("\n".join(lines) if lines else "no schedules yet: add one with `huibao schedules add`")
    return 0


def _schedule_lines(
    s: Schedule, names: dict[int, str], occurrence: Any, now: datetime, tz: Any
) -> list[str]:
    """One schedule as `schedules list` shows it: what, for whom, and its rounds."""
    audience = s.audience_filter
    who = ", ".join(
        [names.get(d, str(d)) for d in audience.get("districts", [])] + audience.get("stages", [])
    )
    state = "active" if s.active else "paused"
    lines = [f"{s.id:>3}  {s.form_code}  {describe(s)}  [{state}]"]
    lines.append(f"     schools: {who or 'all active schools'}")
    if s.lock_days is not None or s.grace_minutes:
        lines.append(
            f"     grace {s.grace_minutes} min, entry closes "
            + (
                f"{s.lock_days} d after the deadline"
                if s.lock_days is not None
                else "when the grace ends"
            )
        )
    if s.policy_overrides:
        lines.append("     reminders: " + json.dumps(s.policy_overrides, ensure_ascii=False))
    if occurrence is not None:
        round_text = f" → round {occurrence.round_id}" if occurrence.round_id else ""
        detail = f" ({occurrence.detail})" if occurrence.detail else ""
        lines.append(f"     last: {occurrence.period} {occurrence.outcome}{round_text}{detail}")
    upcoming = next_opening(s, now, tz) if s.active else None
    if upcoming is not None:
        lines.append(
            f"     next: {_period_at(s, upcoming, tz)} opens {bureau_time(upcoming, tz)}"
        )
    return lines


def _set_active(active: bool) -> Callable[[Settings, argparse.Namespace], int]:
    def command(settings: Settings, args: argparse.Namespace) -> int:
        async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> Schedule:
            async with transaction(sessionmaker) as session:
                schedule = await session.get(Schedule, args.id)
                if schedule is None:
                    raise CliError(f"no schedule {args.id} (see `huibao schedules list`)")
                schedule.active = active
                record(
                    session,
                    "schedule.resume" if active else "schedule.pause",
                    target_type="schedule",
                    target_id=schedule.id,
                )
                return schedule

        schedule = with_database(settings, work)
        verb = "resumed" if active else "paused: it opens no more rounds"
        print(f"schedule {schedule.id} ({schedule.form_code}) {verb}")
        return 0

    return command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--form", required=True, help="form code, e.g. staffing")
    _when_arguments(parser)
    _audience_arguments(parser)
    _reminder_arguments(parser)


def _when_arguments(parser: argparse.ArgumentParser) -> None:
    """How often rounds open, and their deadline, grace and lock."""
    parser.add_argument("--every", required=True, choices=[k.value for k in ScheduleKind])
    parser.add_argument("--weekday", choices=WEEKDAY_NAMES, help="weekly: the opening day")
    parser.add_argument("--day", type=int, help="monthly: the opening day of the month")
    parser.add_argument("--date", type=_month_day, help="yearly: the opening date, MM-DD")
    parser.add_argument(
        "--term",
        type=_term,
        action="append",
        default=[],
        help="term: CODE:OPENS:DEADLINE, e.g. 2026-autumn:2026-09-07:2026-09-30 (repeatable)",
    )
    parser.add_argument("--open-time", type=_time, default=time(8, 0), help="bureau time")
    parser.add_argument(
        "--deadline-days", type=int, default=0, help="days from the opening day to the deadline"
    )
    parser.add_argument("--deadline-time", type=_time, default=time(17, 0), help="bureau time")
    grace = parser.add_mutually_exclusive_group()
    grace.add_argument(
        "--grace-hours", type=float, default=0, help="late submissions still counted on time"
    )
    grace.add_argument("--grace-minutes", type=int)
    parser.add_argument(
        "--lock-days",
        type=int,
        help="entry closes this many days after the deadline (default: when the grace ends)",
    )


def _audience_arguments(parser: argparse.ArgumentParser) -> None:
    """Which schools, and from when."""
    parser.add_argument(
        "--district", action="append", default=[], help="only this district (repeatable)"
    )
    parser.add_argument(
        "--stage", action="append", default=[],
        help="only schools of this stage: primary, junior, ... or 小学, 初中, ... (repeatable)",
    )
    parser.add_argument(
        "--stages", dest="stage", action="extend", nargs="+", metavar="STAGE",
        help="only schools of these stages (as --stage, several at once)",
    )
    parser.add_argument("--starts", type=_date, help="first day a round may open (default: today)")


def _reminder_arguments(parser: argparse.ArgumentParser) -> None:
    """Reminders that differ from the settings."""
    parser.add_argument(
        "--remind-weekly",
        choices=[*WEEKDAY_NAMES, "off"],
        help="weekly reminder day (default: reminders.weekly_day)",
    )
    parser.add_argument(
        "--remind-days-before", help="e.g. 3,1 (default: reminders.days_before); '' for none"
    )
    parser.add_argument("--no-open-notice", action="store_true", help="do not tell on opening")
    parser.add_argument("--no-overdue", action="store_true", help="no overdue notice")
    parser.add_argument(
        "--no-escalation", action="store_true", help="do not tell district officers"
    )
    parser.add_argument(
        "--summary-days-before", type=int, help="daily summaries before deadline"
    )


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int)


ADD_EXAMPLES = (
    "examples:\n"
    "  huibao schedules add --form staffing --every weekly --weekday monday "
    "--deadline-days 4\n"
    "  huibao schedules add --form training --every monthly --day 1 --deadline-days 9\n"
    "  huibao schedules add --form key_teacher_assessment --every yearly --date 07-01 "
    "--deadline-days 30\n"
    "  huibao schedules add --form training --every term "
    "--term 2026-autumn:2026-09-07:2026-09-30 --term 2027-spring:2027-02-22:2027-03-12"
)

SCHEDULES = [
    SubCommand(
        "add",
        "add a recurring schedule for a form",
        _add,
        _add_arguments,
        {"formatter_class": argparse.ArgumentDefaultsHelpFormatter, "epilog": ADD_EXAMPLES},
    ),
    SubCommand("list", "every schedule, its last and next round", _list),
    SubCommand("pause", "open no more rounds (open ones go on)", _set_active(False), _id_argument),
    SubCommand("resume", "open rounds again", _set_active(True), _id_argument),
]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_group(
        sub,
        "schedules",
        "schedules_command",
        SCHEDULES,
        help="recurring rounds that open by themselves",
        description="Recurring rounds: each occurrence opens by itself with its period "
        "label, deadline, grace and lock; principals are told and reminded.",
    )
