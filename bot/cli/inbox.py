"""`huibao inbox export FILE.xlsx`: the questions from schools and their answers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.database import with_database
from bot.cli.subcommands import SubCommand, add_group
from config.settings import Settings
from models.inbox.threads import export_rows
from outputs.inbox_sheet import inbox_workbook
from texts.i18n import gettext_for


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="the workbook to write (.xlsx)")
    parser.add_argument("--language", choices=["zh_CN", "en"], default=None,
                        help="the workbook's language (default: bureau.default_language)")


def export(settings: Settings, args: argparse.Namespace) -> int:
    language = args.language or settings.bureau.default_language

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session:
            rows = await export_rows(session)
        inbox_workbook(rows, args.path, gettext_for(language), bureau=settings.bureau.name,
                       tz=settings.bureau.tz)
        return len({row.question_id for row in rows})

    questions = with_database(settings, work)
    print(f"{args.path}: {questions} question(s) written")
    return 0


def add_commands(sub: Any) -> None:
    add_group(sub, "inbox", "inbox_command",
              [SubCommand("export", "write every question and answer to an Excel workbook",
                          export, _export_arguments)],
              help="questions from schools")
