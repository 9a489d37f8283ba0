"""`huibao forms check` and `huibao rounds ...`: forms and collection rounds from the shell.

    huibao forms check [DIR]
    huibao rounds open --form CODE --period LABEL --deadline "2026-12-01 17:00"
                       [--districts NAME ...] [--stages STAGE ...] [--schools CODE ...]
                       [--grace MINUTES] [--lock-at DATETIME] [--no-announce]
    huibao rounds list
    huibao rounds close ROUND
    huibao rounds extend ROUND --deadline DATETIME [--lock-at DATETIME]
    huibao rounds unlock ROUND --school CODE [--hours N]
    huibao rounds retry ROUND

Times are read in the bureau's time zone. Opening a round tells the expected schools'
principals and deputies (unless --no-announce); extending or closing it early tells the
schools that have not submitted. These messages are written to the outbox and sent by
the running bot (`huibao run`), so no token is needed here.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import CliError
from bot.cli.printing import print_requeued
from bot.cli.stages import stage_codes
from bot.cli.subcommands import add_command, retry_command
from config.settings import Settings
from models.forms import FormDef, FormError, check_forms, load_forms

if TYPE_CHECKING:
    from models.rounds.actions import OpenRequest, Refused
    from models.rounds.announce import Told

T = TypeVar("T")


def _forms_check(settings: Settings, args: argparse.Namespace) -> int:
    directory = Path(args.directory or settings.forms.directory)
    problems = check_forms(directory)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}")
        return 1
    forms = load_forms(directory)
    for form in forms:
        name = Path(form.source).name
        print(f"{form.code} v{form.version}: {form.title.zh} / {form.title.en} ({name})")
    print(f"{len(forms)} form(s) in {directory}: all good")
    return 0


def _when(text: str, settings: Settings) -> datetime:
    from models.base import utcnow
    from models.clock import parse_when

    when = parse_when(text, settings.bureau.tz, utcnow())
    if when is None:
        raise CliError(f"cannot read the time {text!r}; write it like 2026-12-01 17:00")
    return when


def _in_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from models.db import create_engine, create_sessionmaker, transaction
    from models.migrate import upgrade

    upgrade(settings.database.url)

    async def main() -> T:
        engine = create_engine(settings.database.url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _refused(refused: Refused) -> CliError:
    from texts.rounds import refusal_line

    return CliError(refusal_line(refused))


def _done(outcome: T | Refused) -> T:
    """The action's result; a refusal ends the command (the transaction rolls back)."""
    from models.rounds.actions import Refused

    if isinstance(outcome, Refused):
        raise _refused(outcome)
    return outcome


def _show(moment: datetime, settings: Settings) -> str:
    from texts.when import show

    return f"{show(moment, settings.bureau.tz, 'iso')} ({settings.bureau.tz})"


def _load_form(settings: Settings, code: str) -> FormDef:
    try:
        forms = load_forms(settings.forms.directory)
    except FormError as err:
        raise CliError(
            f"the forms in {settings.forms.directory} have problems; run `huibao forms check`"
        ) from err
    if code not in forms:
        known = ", ".join(sorted({f.code for f in forms})) or "none"
        raise CliError(f"no form {code!r} in {settings.forms.directory} (known: {known})")
    return forms.get(code)


def _open_request(settings: Settings, args: argparse.Namespace) -> OpenRequest:
    from models.rounds.actions import OpenRequest

    return OpenRequest(
        form=_load_form(settings, args.form),
        period=args.period,
        deadline=_when(args.deadline, settings),
        grace_minutes=settings.rounds.grace_minutes if args.grace is None else args.grace,
        lock_at=_when(args.lock_at, settings) if args.lock_at else None,
        districts=args.districts,
        stages=stage_codes(args.stages),
        school_codes=args.schools,
        review=args.review == "district",
    )


def _rounds_open(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.rounds import actions as actions
    from texts.rounds import announcement_for

    request = _open_request(settings, args)
    # The announcements are delivery rows written with the round; the running bot
    # (`huibao run`) sends them through its outbox, as it does notices.
    announcement = None if args.no_announce else announcement_for(settings)

    async def work(session: AsyncSession) -> actions.Opened:
        return _done(await actions.open_round(session, request, announcement, now=utcnow()))

    opened = _in_db(settings, work)
    round_, form = opened.round_, request.form
    print(
        f"round {round_.id} opened: {form.code} v{form.version} for {round_.period}, "
        f"deadline {_show(round_.deadline, settings)}, {opened.schools} school(s)"
    )
    if request.review:
        print("district review: each submission waits for the district officers "
              "(/review); the bureau approves where a district has none")
    if opened.told is not None:
        print(
            f"announcement queued for {opened.told.people} people at {opened.told.schools} "
            "school(s); the running bot sends it"
        )
        _print_unconnected(opened.told)
    return 0


def _print_unconnected(told: Told) -> None:
    if told.unconnected:
        print(f"not told, nobody connected there yet ({len(told.unconnected)}):")
        for school in told.unconnected:
            print(f"  {school.code} {school.name}")


def _round_line(round_: Any, counts: Counter[Any], state: str, settings: Settings) -> str:
    from models.rounds.submissions import ReportStatus
    from texts.when import show

    return (
        f"{round_.id}\t{round_.form_code} v{round_.form_version}\t{round_.period}\t{state}\t"
        f"deadline {show(round_.deadline, settings.bureau.tz, 'iso')}\t"
        f"on time {counts[ReportStatus.ON_TIME]}, late {counts[ReportStatus.LATE]}, "
        f"in progress {counts[ReportStatus.IN_PROGRESS]}, "
        f"not started {counts[ReportStatus.NOT_STARTED]}"
    )


def _rounds_list(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.rounds import Round
    from models.rounds.locks import entry_state
    from models.rounds.submissions import submission_statuses

    async def work(session: AsyncSession) -> list[str]:
        lines = []
        now = utcnow()
        for r in (await session.execute(select(Round).order_by(Round.id))).scalars():
            counts = Counter((await submission_statuses(session, r, now)).values())
            # Past its lock a round is closed for entry even if staff never closed it.
            state = entry_state(r, now).value.replace("_", " ")
            lines.append(_round_line(r, counts, state, settings))
        return lines

    lines = _in_db(settings, work)
    print("\n".join(lines) if lines else "no rounds")
    return 0


def _rounds_close(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.rounds import actions as actions
    from texts.rounds import closing_for

    async def work(session: AsyncSession) -> actions.Changed:
        # Schools that have not submitted learn it (not when entry had closed already).
        notice = closing_for(settings)
        return _done(await actions.close(session, args.round, notice, now=utcnow(), by=None))

    told = _in_db(settings, work).told
    print(f"round {args.round} closed")
    if told is not None:
        print(
            f"{told.people} people at {told.schools} school(s) that had not submitted "
            "will be told; the running bot sends it"
        )
    return 0


def _rounds_extend(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.rounds import actions as actions
    from texts.rounds import extension_for

    deadline = _when(args.deadline, settings)
    lock_at = _when(args.lock_at, settings) if args.lock_at else None

    async def work(session: AsyncSession) -> actions.Changed:
        notice = extension_for(settings)
        return _done(await actions.extend(session, args.round, deadline, notice,
                                          now=utcnow(), lock_at=lock_at))

    told = _in_db(settings, work).told
    assert told is not None
    print(f"round {args.round} now ends {_show(deadline, settings)}")
    print(
        f"{told.people} people at {told.schools} school(s) that have not submitted "
        "will be told; the running bot sends it"
    )
    return 0


def _rounds_unlock(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.rounds import actions as actions

    hours = args.hours or settings.rounds.unlock_hours

    async def work(session: AsyncSession) -> actions.Unlocked:
        school = _done(await actions.find_school(session, args.school, by_name=False))
        round_ = _done(await actions.find_round(session, args.round))
        return _done(await actions.unlock(session, round_, school, now=utcnow(), hours=hours,
                                          by=None))

    until = _in_db(settings, work).until
    print(
        f"school {args.school} may submit round {args.round} once more until "
        f"{_show(until, settings)}"
    )
    return 0


def _rounds_retry(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.rounds import actions as actions

    async def work(session: AsyncSession) -> actions.Retried:
        return _done(await actions.retry(session, args.round, now=utcnow(), by=None))

    print_requeued(f"round {args.round}", _in_db(settings, work).again)
    return 0


def add_commands(sub: Any) -> None:
    forms = sub.add_parser("forms", help="form definitions")
    forms_sub = forms.add_subparsers(dest="forms_command", metavar="ACTION", required=True)
    check = forms_sub.add_parser("check", help="list every problem in the form files")
    check.add_argument("directory", nargs="?", default=None, help="default: forms.directory")
    check.set_defaults(func=_forms_check)

    rounds = sub.add_parser("rounds", help="collection rounds")
    rsub = rounds.add_subparsers(dest="rounds_command", metavar="ACTION", required=True)
    open_ = rsub.add_parser(
        "open", help="open a round and tell the expected schools (the running bot sends it)"
    )
    open_.add_argument("--form", required=True, help="form code, e.g. staffing")
    open_.add_argument(
        "--period", required=True, help="e.g. 2026, 2026-11, 2026-autumn (or '2026 秋季学期')"
    )
    open_.add_argument("--deadline", required=True, help="bureau time, e.g. '2026-12-01 17:00'")
    open_.add_argument("--districts", nargs="+", default=None, metavar="NAME")
    open_.add_argument("--stages", nargs="+", default=None, metavar="STAGE",
                       help="only schools of these stages: primary, junior, ... or 小学, 初中, ...")
    open_.add_argument("--schools", nargs="+", default=None, metavar="CODE")
    open_.add_argument("--grace", type=int, default=None, metavar="MINUTES")
    open_.add_argument("--lock-at", default=None, metavar="DATETIME")
    open_.add_argument("--no-announce", action="store_true", help="do not tell the schools")
    open_.add_argument("--review", choices=["district"], default=None,
                       help="each submission waits for the district officers' approval")
    open_.set_defaults(func=_rounds_open)
    rsub.add_parser("list", help="every round with its counts").set_defaults(func=_rounds_list)
    close = rsub.add_parser("close", help="close a round early")
    close.add_argument("round", type=int)
    close.set_defaults(func=_rounds_close)
    extend = rsub.add_parser("extend", help="give a round a new deadline (reopens it)")
    extend.add_argument("round", type=int)
    extend.add_argument("--deadline", required=True)
    extend.add_argument("--lock-at", default=None, metavar="DATETIME")
    extend.set_defaults(func=_rounds_extend)
    unlock = rsub.add_parser("unlock", help="let one school submit once more after the lock")
    unlock.add_argument("round", type=int)
    unlock.add_argument("--school", required=True, metavar="CODE")
    unlock.add_argument("--hours", type=int, default=None)
    unlock.set_defaults(func=_rounds_unlock)
    add_command(rsub, retry_command(
        "what a round sent", "the round's failed deliveries (announcement, extensions, "
        "closing, reminders, escalations, summaries, 'remind now')", "round", _rounds_retry))
