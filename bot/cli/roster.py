"""`huibao schools ...`, `huibao invites ...` and `huibao demo-data`: onboarding a bureau."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import CliError
from config.settings import Settings
from models.db import create_engine, create_sessionmaker, transaction
from models.invites import (
    CreatedInvite,
    InviteError,
    create_invites,
    deep_link,
    display,
    invite_counts,
    parse_duration,
    resolve_targets,
)
from models.people import Person, Role
from models.roster import (
    ImportResult,
    ParsedRoster,
    RosterFileError,
    import_roster,
    read_roster,
    roster,
    set_active,
)
from texts.i18n import gettext_for

T = TypeVar("T")
SHOWN_CHANGES = 40
SHOWN_DISTRICTS = 12
EXIT_BAD_FILE = 1


def with_database(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Migrate (so a fresh machine just works), then run `work` with a session factory."""
    from models.migrate import upgrade

    upgrade(settings.database.url)

    async def main() -> T:
        engine = create_engine(settings.database.url)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


# --- schools -----------------------------------------------------------------------------


def _print_result(result: ImportResult, *, dry_run: bool) -> None:
    verb = "would be" if dry_run else ""
    if dry_run:
        print("dry run: nothing was changed")
    print(
        f"added {len(result.added)}, updated {len(result.updated)}, "
        f"unchanged {result.unchanged}"
    )
    if result.new_districts:
        names = ", ".join(result.new_districts[:SHOWN_DISTRICTS])
        more = len(result.new_districts) - SHOWN_DISTRICTS
        names += f" and {more} more" if more > 0 else ""
        print(f"new districts{' ' + verb if verb else ''}: {names}")
    if dry_run:
        changes = [("add", c) for c in result.added] + [("update", c) for c in result.updated]
        changes.sort(key=lambda pair: pair[1].line)
        for kind, change in changes[:SHOWN_CHANGES]:
            detail = "; ".join(f"{f}: {old} -> {new}" for f, old, new in change.fields)
            print(f"  line {change.line}: {kind} {change.code} {change.name}"
                  + (f" ({detail})" if detail else ""))
        if len(changes) > SHOWN_CHANGES:
            print(f"  ... and {len(changes) - SHOWN_CHANGES} more")
    if result.not_in_file:
        print(
            f"{result.not_in_file} active school(s) in the database are not in this file; "
            "they are left as they are (close one with `huibao schools close CODE`)"
        )


def schools_import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        parsed: ParsedRoster = read_roster(path)
    except RosterFileError as exc:
        raise CliError(str(exc)) from None
    if parsed.problems:
        count = len(parsed.problems)
        print(
            f"{path.name}: {count} bad row{'s' if count > 1 else ''}, nothing was changed:",
            file=sys.stderr,
        )
        for problem in parsed.problems:
            print(f"  line {problem.line}: {problem.reason}", file=sys.stderr)
        return EXIT_BAD_FILE

    async def work(sessions: async_sessionmaker[AsyncSession]) -> ImportResult:
        async with transaction(sessions) as session:
            return await import_roster(
                session, parsed.rows, dry_run=args.dry_run, source=path.name
            )

    print(f"{path.name}: {len(parsed.rows)} schools read")
    _print_result(with_database(settings, work), dry_run=args.dry_run)
    return 0


def schools_export(settings: Settings, args: argparse.Namespace) -> int:
    from outputs.roster_files import roster_workbook

    path: Path = args.file
    if path.suffix.lower() != ".xlsx":
        raise CliError(f"{path}: the export is an Excel workbook; name it .xlsx")

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with transaction(sessions) as session:
            entries = await roster(session)
        roster_workbook(entries, gettext_for(settings.bureau.default_language), path)
        return len(entries)

    count = with_database(settings, work)
    print(f"{path}: {count} schools written")
    return 0


def _schools_active(active: bool) -> Callable[[Settings, argparse.Namespace], int]:
    def command(settings: Settings, args: argparse.Namespace) -> int:
        async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[str], list[str]]:
            async with transaction(sessions) as session:
                changed, unknown = await set_active(session, args.codes, active)
                return [f"{s.code} {s.name}" for s in changed], unknown

        changed, unknown = with_database(settings, work)
        verb = "reopened" if active else "closed"
        for line in changed:
            print(f"{verb}: {line}")
        if not changed:
            print(f"nothing to do: the schools were already {'open' if active else 'closed'}")
        if unknown:
            raise CliError(f"no school with code {', '.join(unknown)}")
        return 0

    return command


# --- invites -----------------------------------------------------------------------------


async def resolve_bot_username(settings: Settings) -> str:
    """Ask Telegram when a token is set; otherwise (or offline) use telegram.bot_username."""
    if settings.telegram.token:
        from telegram import Bot
        from telegram.error import TelegramError
        from telegram.request import HTTPXRequest

        bot = Bot(
            settings.telegram.token,
            base_url=settings.telegram.base_url,
            base_file_url=settings.telegram.base_file_url,
            request=HTTPXRequest(connect_timeout=5, read_timeout=5),
        )
        try:
            async with bot:
                return bot.username
        except TelegramError as exc:
            print(f"huibao: could not ask Telegram for the bot's name ({exc})", file=sys.stderr)
    if settings.telegram.bot_username:
        return settings.telegram.bot_username
    raise CliError(
        "cannot make invitation links without the bot's name: set telegram.bot_username "
        "(or HUIBAO_TELEGRAM__BOT_USERNAME), or a telegram.token that works"
    )


def invites_create(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    role = Role(args.role)
    expires: timedelta
    try:
        expires = (
            parse_duration(args.expires)
            if args.expires
            else timedelta(days=settings.invites.expires_days)
        )
    except InviteError as exc:
        raise CliError(str(exc)) from None
    if args.xlsx is not None and args.xlsx.suffix.lower() != ".xlsx":
        raise CliError(f"{args.xlsx}: name the workbook .xlsx")
    username = asyncio.run(resolve_bot_username(settings))

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[CreatedInvite], Any]:
        async with transaction(sessions) as session:
            targets = await resolve_targets(
                session,
                role,
                school_code=args.school,
                district_name=args.district,
                all_schools=args.all,
                replace=args.replace,
            )
            if role not in (Role.STAFF, Role.DISTRICT_OFFICER) and not targets.schools:
                return [], targets
            if role is Role.DISTRICT_OFFICER and not targets.districts:
                return [], targets
            created = await create_invites(
                session, role, targets, expires_in=expires, replace=args.replace
            )
            return created, targets

    try:
        created, targets = with_database(settings, work)
    except InviteError as exc:
        raise CliError(str(exc)) from None
    tz: ZoneInfo = settings.bureau.tz
    for item in created:
        if item.school:
            where = f"{item.school.code} {item.school.name}"
        else:
            where = item.district.name if item.district else settings.bureau.name
        print(f"{where}\t{role.value}\t{display(item.code)}\t{deep_link(username, item.code)}")
    if targets.skipped and role is Role.PRINCIPAL and not args.school:
        print(
            f"skipped {len(targets.skipped)} school(s) that already have a principal "
            "(add --replace to invite new principals for them too)"
        )
    if not created:
        print("no invitations made")
        return 0
    until = created[0].invite.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    print(f"{len(created)} invitation(s), each usable once, valid until {until} ({tz.key})")
    if args.xlsx is not None:
        write_invites_workbook(settings, created, username, args.xlsx)
        print(f"{args.xlsx}: printable invitations with QR codes written")
    return 0


def write_invites_workbook(
    settings: Settings, created: list[CreatedInvite], username: str, path: Path
) -> None:
    from outputs.roster_files import InviteLine, invites_workbook

    lines = [
        InviteLine(
            code=display(item.code),
            link=deep_link(username, item.code),
            role=item.invite.role,
            school_code=item.school.code if item.school else "",
            school_name=item.school.name if item.school else "",
            district=item.district.name if item.district else "",
            expires_at=item.invite.expires_at,
            replaces_principal=item.invite.replaces_principal,
        )
        for item in created
    ]
    invites_workbook(
        lines,
        gettext_for(settings.bureau.default_language),
        settings.bureau.tz,
        path,
        bureau=settings.bureau.name,
    )


def invites_status(settings: Settings, args: argparse.Namespace) -> int:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
        async with transaction(sessions) as session:
            return await invite_counts(session)

    counts = with_database(settings, work)
    print(f"{counts['pending']} invitation(s) waiting to be used, {counts['used']} used")
    return 0


# --- demo --------------------------------------------------------------------------------


def demo_data(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import DEMO_STAFF_NAME, DEMO_STAFF_TELEGRAM_ID, demo_rows
    from models.persons import set_role

    username = settings.telegram.bot_username or "huibao_demo_bot"
    rows = demo_rows()

    async def work(
        sessions: async_sessionmaker[AsyncSession],
    ) -> tuple[ImportResult, list[CreatedInvite]]:
        async with transaction(sessions) as session:
            result = await import_roster(session, rows, source="demo-data")
            staff = (
                await session.execute(
                    select(Person).where(Person.telegram_id == DEMO_STAFF_TELEGRAM_ID)
                )
            ).scalar_one_or_none()
            if staff is None:
                staff = Person(telegram_id=DEMO_STAFF_TELEGRAM_ID, name=DEMO_STAFF_NAME)
                session.add(staff)
                await session.flush()
            await set_role(session, staff, Role.STAFF, reason="demo data")
            targets = await resolve_targets(session, Role.PRINCIPAL, all_schools=True)
            # Only the demo county's schools, even in a database that has real ones.
            codes = {row.code for row in rows}
            targets.schools = [s for s in targets.schools if s.code in codes]
            created = await create_invites(
                session, Role.PRINCIPAL, targets, expires_in=timedelta(days=30)
            )
            return result, created

    result, created = with_database(settings, work)
    districts = sorted({row.district for row in rows})
    print(
        f"demo county: {len(rows)} schools in {len(districts)} districts "
        f"({', '.join(districts)}): added {len(result.added)}, "
        f"updated {len(result.updated)}, unchanged {result.unchanged}"
    )
    print(f"staff member: {DEMO_STAFF_NAME}")
    print(f"{len(created)} principal invitations (schools without a principal), for example:")
    for item in created[:3]:
        assert item.school is not None
        print(f"  {item.school.code} {item.school.name}: {display(item.code)}  "
              f"{deep_link(username, item.code)}")
    if args.xlsx is not None and created:
        write_invites_workbook(settings, created, username, args.xlsx)
        print(f"{args.xlsx}: all of them, printable with QR codes")
    print("try it: huibao console --as admin   (or --as newcomer and type a code above)")
    return 0


# --- wiring ------------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    schools = sub.add_parser("schools", help="the roster of districts and schools")
    schools_sub = schools.add_subparsers(dest="schools_command", metavar="ACTION", required=True)
    imp = schools_sub.add_parser(
        "import",
        help="add or update schools from a CSV or XLSX file (columns code, name, district, "
        "stage or 学校代码, 学校名称, 学区/乡镇, 学段; optional active/在用)",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--dry-run", action="store_true", help="show what would change; change nothing"
    )
    imp.set_defaults(func=schools_import)
    exp = schools_sub.add_parser("export", help="write the roster with who is bound where (XLSX)")
    exp.add_argument("file", type=Path)
    exp.set_defaults(func=schools_export)
    close = schools_sub.add_parser(
        "close", help="mark schools closed (merged, shut); their history is kept"
    )
    close.add_argument("codes", nargs="+", metavar="CODE")
    close.set_defaults(func=_schools_active(False))
    reopen = schools_sub.add_parser("reopen", help="mark closed schools open again")
    reopen.add_argument("codes", nargs="+", metavar="CODE")
    reopen.set_defaults(func=_schools_active(True))

    invites = sub.add_parser("invites", help="invitation codes and links for principals and staff")
    invites_sub = invites.add_subparsers(dest="invites_command", metavar="ACTION", required=True)
    create = invites_sub.add_parser(
        "create",
        help="make single-use invitation codes with Telegram links (one per school or district)",
    )
    target = create.add_mutually_exclusive_group()
    target.add_argument("--school", metavar="CODE", help="one school, by its code")
    target.add_argument("--district", metavar="NAME", help="every school of a district")
    target.add_argument("--all", action="store_true", help="every open school (or district)")
    create.add_argument(
        "--role",
        choices=[r.value for r in (Role.PRINCIPAL, Role.DEPUTY, Role.DISTRICT_OFFICER, Role.STAFF)],
        default=Role.PRINCIPAL.value,
        help="what the invited person becomes (default principal)",
    )
    create.add_argument(
        "--expires", metavar="DURATION", help="how long codes stay valid: 14d, 48h, 2w "
        "(default invites.expires_days)"
    )
    create.add_argument("--xlsx", type=Path, metavar="FILE", help="also write a printable workbook")
    create.add_argument(
        "--replace",
        action="store_true",
        help="principal invites replace a school's current principal when used "
        "(otherwise schools that have one are skipped)",
    )
    create.set_defaults(func=invites_create)
    status = invites_sub.add_parser("status", help="how many invitations are waiting or used")
    status.set_defaults(func=invites_status)

    demo = sub.add_parser(
        "demo-data", help="load a demo county (4 districts, 29 schools, a staff member, invites)"
    )
    demo.add_argument("--xlsx", type=Path, metavar="FILE", help="write the demo invitations here")
    demo.set_defaults(func=demo_data)
