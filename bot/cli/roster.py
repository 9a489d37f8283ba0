"""`huibao schools ...`, `huibao invites ...` and `huibao demo-data`: onboarding a bureau."""

from __future__ import annotations

import argparse
import asyncio
import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import CliError
from bot.cli.database import with_database
from bot.cli.printing import bureau_time, joined_cut, print_cut, school_line, warn
from bot.cli.subcommands import SubCommand, add_command, add_group
from config.settings import Settings
from models.db import transaction
from models.roster.invites import (
    CreatedInvite,
    InviteError,
    create_invites,
    deep_link,
    display,
    invite_counts,
    parse_duration,
    resolve_targets,
)
from models.roster.roster_file import (
    ImportResult,
    ParsedRoster,
    RosterFileError,
    import_roster,
    read_roster,
    roster,
    set_active,
)
from models.roster.tables import Person, Role
from texts.i18n import gettext_for

SHOWN_CHANGES = 40
SHOWN_DISTRICTS = 12
EXIT_BAD_FILE = 1


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
        names = joined_cut(result.new_districts, SHOWN_DISTRICTS)
        print(f"new districts{' ' + verb if verb else ''}: {names}")
    if dry_run:
        _print_changes(result)
    if result.not_in_file:
        print(
            f"{result.not_in_file} active school(s) in the database are not in this file; "
            "they are left as they are (close one with `huibao schools close CODE`)"
        )


def _print_changes(result: ImportResult) -> None:
    """What a dry run would add or update, in the file's order."""
    changes = [("add", c) for c in result.added] + [("update", c) for c in result.updated]
    changes.sort(key=lambda pair: pair[1].line)
    lines = []
    for kind, change in changes:
        detail = "; ".join(f"{f}: {old} -> {new}" for f, old, new in change.fields)
        lines.append(
            f"  line {change.line}: {kind} {change.code} {change.name}"
            + (f" ({detail})" if detail else "")
        )
    print_cut(lines, SHOWN_CHANGES)


def schools_import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        parsed: ParsedRoster = read_roster(path)
    except RosterFileError as exc:
        raise CliError(str(exc)) from None
    if parsed.problems:
        count = len(parsed.problems)
        warn(f"{path.name}: {count} bad row{'s' if count > 1 else ''}, nothing was changed:")
        for problem in parsed.problems:
            warn(f"  line {problem.line}: {problem.reason}")
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
                return [school_line(s) for s in changed], unknown

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
            warn(f"huibao: could not ask Telegram for the bot's name ({exc})")
    if settings.telegram.bot_username:
        return settings.telegram.bot_username
    raise CliError(
        "cannot make invitation links without the bot's name: set telegram.bot_username "
        "(or HUIBAO_TELEGRAM__BOT_USERNAME), or a telegram.token that works"
    )


def invites_create(settings: Settings, args: argparse.Namespace) -> int:
    role = Role(args.role)
    expires = _invite_expiry(settings, args.expires)
    if args.xlsx is not None and args.xlsx.suffix.lower() != ".xlsx":
        raise CliError(f"{args.xlsx}: name the workbook .xlsx")
    username = asyncio.run(resolve_bot_username(settings))
    try:
        created, targets = with_database(
            settings, functools.partial(_create_invites, role=role, args=args, expires=expires)
        )
    except InviteError as exc:
        raise CliError(str(exc)) from None
    for item in created:
        print(f"{_invite_place(settings, item)}\t{role.value}\t{display(item.code)}\t"
              f"{deep_link(username, item.code)}")
    if targets.skipped and role is Role.PRINCIPAL and not args.school:
        print(
            f"skipped {len(targets.skipped)} school(s) that already have a principal "
            "(add --replace to invite new principals for them too)"
        )
    if not created:
        print("no invitations made")
        return 0
    tz = settings.bureau.tz
    until = bureau_time(created[0].invite.expires_at, tz)
    print(f"{len(created)} invitation(s), each usable once, valid until {until} ({tz.key})")
    if args.xlsx is not None:
        write_invites_workbook(settings, created, username, args.xlsx)
        print(f"{args.xlsx}: printable invitations with QR codes written")
    return 0


def _invite_expiry(settings: Settings, text: str | None) -> timedelta:
    """--expires as a duration, else invites.expires_days."""
    try:
        return parse_duration(text) if text else timedelta(days=settings.invites.expires_days)
    except InviteError as exc:
        raise CliError(str(exc)) from None


async def _create_invites(
    sessions: async_sessionmaker[AsyncSession],
    *,
    role: Role,
    args: argparse.Namespace,
    expires: timedelta,
) -> tuple[list[CreatedInvite], Any]:
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


def _invite_place(settings: Settings, item: CreatedInvite) -> str:
    """Where an invitation binds its user: the school, the district, or the bureau."""
    if item.school:
        return school_line(item.school)
    return item.district.name if item.district else settings.bureau.name


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
        settings.bureau.default_language,
        settings.bureau.tz,
        path,
        bureau=settings.bureau.name,
        made_at=max(item.invite.created_at for item in created),
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
    from bot.demo import DEMO_STAFF_NAME, demo_rows

    username = settings.telegram.bot_username or "huibao_demo_bot"
    rows = demo_rows()

    async def work(
        sessions: async_sessionmaker[AsyncSession],
    ) -> tuple[ImportResult, list[CreatedInvite]]:
        async with transaction(sessions) as session:
            result = await import_roster(session, rows, source="demo-data")
            await _demo_staff(session)
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
        link = deep_link(username, item.code)
        print(f"  {school_line(item.school)}: {display(item.code)}  {link}")
    if args.xlsx is not None and created:
        write_invites_workbook(settings, created, username, args.xlsx)
        print(f"{args.xlsx}: all of them, printable with QR codes")
    print("try it: huibao console --as admin   (or --as newcomer and type a code above)")
    return 0


async def _demo_staff(session: AsyncSession) -> None:
    """The demo's staff member, made once, with the staff role."""
    from bot.demo import DEMO_STAFF_NAME, DEMO_STAFF_TELEGRAM_ID
    from models.roster.people import set_role

    staff = (
        await session.execute(select(Person).where(Person.telegram_id == DEMO_STAFF_TELEGRAM_ID))
    ).scalar_one_or_none()
    if staff is None:
        staff = Person(telegram_id=DEMO_STAFF_TELEGRAM_ID, name=DEMO_STAFF_NAME)
        session.add(staff)
        await session.flush()
    await set_role(session, staff, Role.STAFF, reason="demo data")


# --- wiring ------------------------------------------------------------------------------


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; change nothing"
    )


def _codes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("codes", nargs="+", metavar="CODE")


def _create_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--school", metavar="CODE", help="one school, by its code")
    target.add_argument("--district", metavar="NAME", help="every school of a district")
    target.add_argument("--all", action="store_true", help="every open school (or district)")
    parser.add_argument(
        "--role",
        choices=[r.value for r in (Role.PRINCIPAL, Role.DEPUTY, Role.DISTRICT_OFFICER, Role.STAFF)],
        default=Role.PRINCIPAL.value,
        help="what the invited person becomes (default principal)",
    )
    parser.add_argument(
        "--expires", metavar="DURATION", help="how long codes stay valid: 14d, 48h, 2w "
        "(default invites.expires_days)"
    )
    parser.add_argument("--xlsx", type=Path, metavar="FILE", help="also write a printable workbook")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="principal invites replace a school's current principal when used "
        "(otherwise schools that have one are skipped)",
    )


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--xlsx", type=Path, metavar="FILE", help="write the demo invitations here")


SCHOOLS = [
    SubCommand(
        "import",
        "add or update schools from a CSV or XLSX file (columns code, name, district, "
        "stage or 学校代码, 学校名称, 学区/乡镇, 学段; optional active/在用)",
        schools_import,
        _import_arguments,
    ),
    SubCommand(
        "export", "write the roster with who is bound where (XLSX)", schools_export, _file_argument
    ),
    SubCommand(
        "close",
        "mark schools closed (merged, shut); their history is kept",
        _schools_active(False),
        _codes_argument,
    ),
    SubCommand(
        "reopen", "mark closed schools open again", _schools_active(True), _codes_argument
    ),
]

INVITES = [
    SubCommand(
        "create",
        "make single-use invitation codes with Telegram links (one per school or district)",
        invites_create,
        _create_arguments,
    ),
    SubCommand("status", "how many invitations are waiting or used", invites_status),
]

DEMO = SubCommand(
    "demo-data",
    "load a demo county (4 districts, 29 schools, a staff member, invites)",
    demo_data,
    _demo_arguments,
)


def add_commands(sub: Any) -> None:
    add_group(
        sub, "schools", "schools_command", SCHOOLS, help="the roster of districts and schools"
    )
    add_group(
        sub,
        "invites",
        "invites_command",
        INVITES,
        help="invitation codes and links for principals and staff",
    )
    add_command(sub, DEMO)
