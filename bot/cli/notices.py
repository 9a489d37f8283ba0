"""`huibao notices ...`: send a notice from the command line, and follow it.

The command only writes to the database (the notice, its recipients, one delivery each);
the running bot (`huibao run`) sends them through its outbox worker, so a notice sent here
goes out exactly like one composed in Telegram.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import mimetypes
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.cli import CliError
from bot.cli.printing import print_requeued
from bot.cli.stages import stage_codes
from bot.cli.subcommands import add_command, retry_command
from config.settings import Settings
from models.notices.sending import Attachment, NewNotice, Sender
from models.notices.titles import TITLE_MAX, clean_title
from texts.i18n import gettext_for
from texts.notices.compose import cli_refusal

MAX_UPLOAD = 50 * 1024 * 1024
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def add_commands(subparsers: Any) -> None:
    notices = subparsers.add_parser("notices", help="send notices to schools and follow them")
    sub = notices.add_subparsers(dest="notices_command", metavar="ACTION", required=True)

    send = sub.add_parser(
        "send",
        help="send a notice to all schools or some (the running bot delivers it)",
        description=(
            "Send a notice to the principals and deputies of all active schools, or of some "
            "districts, stages or schools. Schools where nobody is connected yet are left "
            "out and listed."
        ),
    )
    send.add_argument("--text-file", type=Path, required=True,
                      help="text file with the notice (plain text; UTF-8 or GBK, as Notepad "
                           "saves it)")
    send.add_argument("--title", metavar="TITLE",
                      help=f"the notice's title (at most {TITLE_MAX} characters) for lists, "
                           "reminders and reports; default: the file's first line, if short")
    send.add_argument("--attach", type=Path, help="a file to attach (up to 50 MB)")
    send.add_argument("--as-photo", action="store_true",
                      help="send the attachment as a photo rather than a document")
    audience = send.add_mutually_exclusive_group()
    audience.add_argument("--districts", nargs="+", metavar="NAME",
                          help="only schools of these districts (names as in the roster)")
    audience.add_argument("--stages", nargs="+", metavar="STAGE",
                          help="only schools of these stages (primary, junior, ... or 小学 "
                               "初中 ...)")
    audience.add_argument("--schools", nargs="+", metavar="CODE",
                          help="only these schools (school codes)")
    send.add_argument("--no-ack", action="store_true",
                      help="do not ask recipients to acknowledge")
    send.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'",
                      help="send at this time (bureau time zone) instead of now")
    send.add_argument("--wait", action="store_true",
                      help="print the progress until every recipient is done")
    send.add_argument("--verbose", action="store_true",
                      help="with --wait: show Telegram's own error text for those not reached")
    send.set_defaults(func=_send)

    status = sub.add_parser("status", help="delivery and acknowledgements of one notice")
    status.add_argument("notice_id", type=int)
    status.add_argument("--verbose", action="store_true",
                        help="show Telegram's own error text for those not reached")
    status.set_defaults(func=_status)

    add_command(sub, retry_command("a notice", "the notice's failed deliveries (and its "
                                   "reminders')", "notice_id", _retry))


def _read_text(path: Path) -> str:
    from models.roster.roster_file import decode_text

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot be read: {exc}") from None
    text = decode_text(raw)
    if text is None:
        raise CliError(f"{path}: not UTF-8 or GBK text; save it as UTF-8 or ANSI in Notepad")
    text = text.strip()
    if not text:
        raise CliError(f"{path}: the notice text is empty")
    return text


def _title(args: argparse.Namespace, text: str) -> str:
    """--title, or the file's first line when it is short enough to be one."""
    from models.notices.titles import first_line

    if args.title is not None:
        title = clean_title(args.title)
        if not title:
            raise CliError("--title is empty")
        return title
    line = clean_title(first_line(text))
    if len(line) > TITLE_MAX:
        raise CliError(
            f"{args.text_file}: the first line has {len(line)} characters, too long for a "
            f"title (at most {TITLE_MAX}); give one with --title"
        )
    return line


def _parse_at(value: str | None, settings: Settings, now: datetime) -> datetime | None:
    if value is None:
        return None
    from models.clock import parse_when

    at = parse_when(value, settings.bureau.tz, now)
    if at is None:
        raise CliError(f"--at {value!r}: use the form 'YYYY-MM-DD HH:MM' (bureau time)")
    return at


def _read_attachment(args: argparse.Namespace) -> tuple[str, bytes, str] | None:
    if args.attach is None:
        return None
    try:
        content = args.attach.read_bytes()
    except OSError as exc:
        raise CliError(f"{args.attach}: cannot be read: {exc}") from None
    if not content:
        raise CliError(f"{args.attach}: the file is empty")
    if len(content) > MAX_UPLOAD:
        raise CliError(f"{args.attach}: larger than Telegram's 50 MB limit for bots")
    if args.as_photo and args.attach.suffix.lower() not in PHOTO_SUFFIXES:
        raise CliError(f"{args.attach}: --as-photo needs a .jpg, .png or .webp file")
    return (args.attach.name, content, "photo" if args.as_photo else "document")


def _sender(settings: Settings) -> Sender:
    from handlers.notices import reminder_due
    from texts.notices.compose import notice_title
    from texts.notices.messages import renderer, telegram_length, text_limit

    bureau = settings.bureau
    return Sender(
        render=renderer(bureau.name, bureau.default_language, bureau.name_en),
        title=notice_title(gettext_for(bureau.default_language)),
        owner_language=bureau.default_language,
        reminder_due=partial(reminder_due, settings=settings),
        measure=telegram_length,
        room=partial(text_limit, bureau.name),
        source="cli",
    )


def _send(settings: Settings, args: argparse.Namespace) -> int:
    from models.base import utcnow
    from models.migrate import upgrade
    from models.notices.sending import check

    plain_text = _read_text(args.text_file)
    text = html.escape(plain_text)
    # The text's length (and --title's) first, as before anything else is read.
    typed = NewNotice(text, _no_audience(), not args.no_ack, title=clean_title(args.title or ""))
    refused = check(typed, _sender(settings), utcnow())
    if refused is not None:
        raise CliError(cli_refusal(refused, str(args.text_file)))
    title = _title(args, plain_text)
    attachment = _read_attachment(args)
    scheduled = _parse_at(args.at, settings, utcnow())
    upgrade(settings.database.url)
    return asyncio.run(_send_async(settings, args, (title, text), attachment, scheduled))


def _no_audience() -> Any:
    from models.notices.audiences import Audience, AudienceKind

    return Audience(AudienceKind.ALL)


async def _audience(session: Any, args: argparse.Namespace) -> Any:
    """The audience of --districts (names), --stages (codes or names) or --schools (codes)."""
    from models.notices.audiences import Audience, AudienceKind, resolve_audience
    from models.roster.tables import District

    if args.districts:
        rows = await session.execute(select(District).where(District.name.in_(args.districts)))
        found = {d.name: d.id for d in rows.scalars()}
        unknown = [n for n in args.districts if n not in found]
        if unknown:
            raise CliError(f"no district named {', '.join(unknown)}")
        return Audience(AudienceKind.DISTRICTS, tuple(found[n] for n in args.districts))
    stages = stage_codes(args.stages)
    if stages:
        return Audience(AudienceKind.STAGES, tuple(stages))
    if not args.schools:
        return Audience(AudienceKind.ALL)
    audience = Audience(AudienceKind.SCHOOLS, tuple(args.schools))
    check = await resolve_audience(session, audience)
    if check.unknown_codes:
        raise CliError(f"no school has the code {', '.join(check.unknown_codes)}")
    if check.inactive:
        raise CliError(f"closed schools: {', '.join(s.code for s in check.inactive)}")
    return audience


async def _store_file(session: Any, attachment: tuple[str, bytes, str] | None) -> int | None:
    from models.outbox import OutboxFile

    if attachment is None:
        return None
    name, content, _kind = attachment
    blob = OutboxFile(
        name=name,
        content=content,
        mime_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
    )
    session.add(blob)
    await session.flush()
    return blob.id


async def _send_async(
    settings: Settings,
    args: argparse.Namespace,
    title_text: tuple[str, str],
    attachment: tuple[str, bytes, str] | None,
    scheduled: datetime | None,
) -> int:
    """The same core function as the chat's "Send" (models.notices.sending.send_notice)."""
    from models.base import utcnow
    from models.db import create_engine, create_sessionmaker, transaction
    from models.notices.sending import Refused, send_notice

    engine = create_engine(settings.database.url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with transaction(sessionmaker) as session:
            title, text = title_text
            new = NewNotice(
                title=title,
                text=text,
                audience=await _audience(session, args),
                requires_ack=not args.no_ack,
                attachment=Attachment(
                    attachment[2], attachment[0], blob_id=await _store_file(session, attachment)
                ) if attachment else None,
                scheduled_at=scheduled,
            )
            created = await send_notice(session, new, _sender(settings), utcnow())
            if isinstance(created, Refused):
                raise CliError(cli_refusal(created, args.at or ""))
        _report(created, args.at if scheduled else None)
        if args.wait:
            await _follow(sessionmaker, created.batch.id, verbose=args.verbose)
    finally:
        await engine.dispose()
    return 0


def _report(created: Any, at: str | None) -> None:
    resolved = created.resolved
    print(
        f"notice #{created.notice.id}: {len(resolved.recipients)} recipients at "
        f"{resolved.school_count} schools"
        + (f", at {at}" if at else "")
    )
    print(f"title: {created.notice.title}")
    if resolved.excluded:
        print(f"left out, nobody connected there yet ({len(resolved.excluded)}):")
        for school in resolved.excluded:
            print(f"  {school.code} {school.name}")
    print("the running bot (huibao run) delivers it")


def _print_problems(problems: list[Any], verbose: bool) -> None:
    """Whom it did not reach, by cause and what to do (the chat report's words, in English);
    Telegram's own error text only with --verbose."""
    from texts.delivery import CAUSE_HEADINGS, by_cause, tries_text, who_text

    _ = gettext_for("en")
    for cause, items in by_cause(problems).items():
        print(_(CAUSE_HEADINGS[cause]).format(count=len(items)))
        for item in items:
            line = f"  {who_text(item, _)}"
            if item.attempts and cause.value == "network":
                line += f" ({tries_text(item.attempts, 'en')})"
            print(line + (f": {item.error}" if verbose else ""))


async def _follow(sessionmaker: Any, batch_id: int, *, verbose: bool = False) -> None:
    from models import outbox

    last = ""
    while True:
        async with sessionmaker() as session:
            state = await outbox.progress(session, batch_id)
            line = f"sent {state.sent} · failed {state.failed + state.blocked} · left {state.left}"
            if line != last:
                print(line, flush=True)
                last = line
            if state.done:
                problems = await outbox.undelivered(session, batch_id)
                break
        await asyncio.sleep(2)
    print(f"finished: delivered {state.sent} of {state.total}")
    _print_problems(problems, verbose)
    if state.in_doubt:
        print(
            f"  {state.in_doubt} may have received it twice (the bot restarted, or its "
            "connection to Telegram broke, while their message was on its way)"
        )


def _status(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_status_async(settings, args.notice_id, args.verbose))


async def _status_async(settings: Settings, notice_id: int, verbose: bool) -> int:
    from models import outbox
    from models.db import create_engine, create_sessionmaker
    from models.notices import Notice, notice_stats

    engine = create_engine(settings.database.url)
    try:
        async with create_sessionmaker(engine)() as session:
            notice = await session.get(Notice, notice_id)
            if notice is None:
                raise CliError(f"no notice #{notice_id}")
            stats = await notice_stats(session, notice)
            problems = (
                await outbox.undelivered(session, notice.batch_id)
                if notice.batch_id is not None else []
            )
    finally:
        await engine.dispose()
    print(f"notice #{notice_id}: {notice.title}")
    print(
        f"delivered {stats.delivered} of {stats.total}, blocked "
        f"{stats.blocked}, failed {stats.failed}, still to send {stats.waiting}"
    )
    if stats.in_doubt:
        print(
            f"{stats.in_doubt} may have received it twice (the bot restarted, or its "
            "connection to Telegram broke, while their message was on its way)"
        )
    _print_problems(problems, verbose)
    if stats.failed or stats.blocked:
        print(f"to try again: huibao notices retry {notice_id}")
    if notice.requires_ack:
        print(f"acknowledged {stats.acknowledged} of {stats.total}")
        for district in stats.by_district:
            print(f"  {district.name}: {district.acknowledged}/{district.total}")
        if stats.not_acknowledged:
            print("not yet acknowledged:")
            for state in stats.not_acknowledged:
                school = f" ({state.school.name})" if state.school else ""
                print(f"  {state.person.name}{school} [{state.delivery_status or 'pending'}]")
    return 0


def _retry(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_retry_async(settings, args.notice_id))


async def _retry_async(settings: Settings, notice_id: int) -> int:
    """The same core function as the chat's "Send again" button."""
    from models.base import utcnow
    from models.db import create_engine, create_sessionmaker, transaction
    from models.notices.sending import Refused, retry

    engine = create_engine(settings.database.url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            done = await retry(session, notice_id, utcnow(), actor_id=None)
            if isinstance(done, Refused):
                raise CliError(cli_refusal(done, str(notice_id)))
    finally:
        await engine.dispose()
    print_requeued(f"notice #{notice_id}", done[1])
    return 0
