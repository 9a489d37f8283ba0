"""`huibao export`: a round's workbook (or DHIS2 CSV) from the command line."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot.cli.subcommands import SubCommand, add_command
from config.settings import Settings


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--round", dest="round_id", type=int, required=True, metavar="ID", help="the round's id"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="file to write (default: a name from the form and period, in this folder)",
    )
    p.add_argument("--format", choices=("xlsx", "dhis2"), default="xlsx")
    p.add_argument(
        "--language",
        choices=("zh_CN", "en"),
        default=None,
        help="language of labels (default: bureau.default_language)",
    )
    p.add_argument("--district", type=int, default=None, metavar="ID", help="one district only")
    p.add_argument(
        "--period",
        default=None,
        help="DHIS2 period to write instead of the one derived from the round (e.g. 2026S2)",
    )


def add_commands(sub: Any) -> None:
    description = (
        "Write a round's Excel workbook (summary by district, one row per school, "
        "missing schools, revision history, flagged figures) or its figures as a "
        "DHIS2 dataValueSets CSV."
    )
    add_command(
        sub,
        SubCommand(
            "export",
            "write a round's Excel workbook or DHIS2 CSV",
            export,
            _arguments,
            {"description": description},
        ),
    )


def export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import CliError
    from models.followup.completeness import RoundNotFound
    from models.forms import FormError
    from models.migrate import upgrade

    upgrade(settings.database.url)
    language = args.language or settings.bureau.default_language
    try:
        out, count, what = asyncio.run(_export(settings, args, language))
    except RoundNotFound:
        raise CliError(f"there is no round {args.round_id}") from None
    except FormError as exc:
        raise CliError(f"the round's form cannot be read: {exc}") from None
    except ValueError as exc:
        raise CliError(f"{exc}; give one with --period (e.g. 2026S2)") from None
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {out} ({count} {what})")
    return 0


async def _export(
    settings: Settings, args: argparse.Namespace, language: str
) -> tuple[Path, int, str]:
    from models.db import create_engine, create_sessionmaker
    from models.followup.completeness import get_round
    from outputs.dhis2 import dhis2_period, write_dhis2_csv
    from outputs.private_files import open_private
    from outputs.workbook import write_workbook

    engine = create_engine(settings.database.url)
    try:
        async with create_sessionmaker(engine)() as session:
            rnd = await get_round(session, args.round_id)
            if args.format == "dhis2":
                period = args.period or dhis2_period(rnd.period)
                out = args.out or Path(f"round-{rnd.id}-dhis2-{period}.csv")
                with open_private(out, "w", encoding="utf-8", newline="") as fh:
                    count = await write_dhis2_csv(
                        session, rnd.id, fh, settings, period, args.district
                    )
                return out, count, "data values"
            tmp = args.out or Path(f".round-{rnd.id}.xlsx.part")
            with open_private(tmp) as fh:
                result = await write_workbook(
                    session, rnd.id, fh, language, settings, district_id=args.district
                )
            out = args.out or Path(result.filename)
            if tmp != out:
                tmp.replace(out)
            return out, result.schools, "schools"
    finally:
        await engine.dispose()
