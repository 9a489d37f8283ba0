"""`huibao export`: a round's workbook (or DHIS2 CSV) from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.subcommands import SubCommand, add_command
from config.settings import Settings
from models.rounds import Round


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
    p.add_argument(
        "--district",
        default=None,
        metavar="NAME",
        help="one district only: its name as in the roster (as `notices send --districts`)",
    )
    p.add_argument(
        "--charts",
        type=Path,
        default=None,
        metavar="DIR",
        help="also draw the round's charts (as in the deadline summary) as PNG files in DIR",
    )
    p.add_argument(
        "--files",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write the files schools sent (answers to file questions) into DIR, one "
        "folder per school, each checked against its SHA-256, listed in DIR/SHA256SUMS.txt",
    )
    p.add_argument(
        "--period",
        default=None,
        help="DHIS2 period to write instead of the one derived from the round (e.g. 2026S2)",
    )


def add_commands(sub: Any) -> None:
    description = (
        "Write a round's Excel workbook (summary by district, one row per school, "
        "missing schools, revision history, flagged figures) or its figures as a "
        "DHIS2 dataValueSets CSV; with --charts, its charts as PNG images too; with "
        "--files, the files schools sent as answers."
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
    from outputs.round_files import ChecksumMismatch

    upgrade(settings.database.url)
    language = args.language or settings.bureau.default_language
    try:
        for folder in (args.charts, args.files):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        out, count, what, charts = asyncio.run(_export(settings, args, language))
        sent = None if args.files is None else asyncio.run(_files(settings, args))
    except RoundNotFound:
        raise CliError(f"there is no round {args.round_id}") from None
    except FormError as exc:
        raise CliError(f"the round's form cannot be read: {exc}") from None
    except ValueError as exc:
        raise CliError(f"{exc}; give one with --period (e.g. 2026S2)") from None
    except (UnknownDistrict, ChecksumMismatch) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        where = exc.filename or args.out
        raise CliError(f"cannot write {where}: {exc.strerror or exc}") from None
    print(f"wrote {out} ({count} {what})")
    for chart in charts:
        print(f"wrote {chart}")
    if sent is not None:
        print(f"wrote {sent} files to {args.files} (checksums in SHA256SUMS.txt)")
    return 0


async def _files(settings: Settings, args: argparse.Namespace) -> int:
    """--files DIR: the files schools sent, each checked against its SHA-256."""
    from models.db import create_engine, create_sessionmaker
    from outputs.round_files import write_files

    engine = create_engine(settings.database.url)
    try:
        async with create_sessionmaker(engine)() as session:
            district_id = await _district_id(session, args.district)
            return await write_files(session, args.round_id, settings, args.files, district_id)
    finally:
        await engine.dispose()


class UnknownDistrict(Exception):
    pass


async def _district_id(session: AsyncSession, name: str | None) -> int | None:
    """The district `--district` names (as in the roster, or as `roster schools` lists
    it); a name that is none gets the list of those that are."""
    from models.roster.order import natural_key
    from models.roster.roster_file import district_by_name
    from models.roster.tables import District

    if name is None:
        return None
    district = await district_by_name(session, name)
    if district is not None:
        return district.id
    known = sorted((await session.scalars(select(District.name))).all(), key=natural_key)
    listed = ", ".join(known) or "none yet; import schools first"
    raise UnknownDistrict(f"no district named {name!r} (districts: {listed})")


async def _export(
    settings: Settings, args: argparse.Namespace, language: str
) -> tuple[Path, int, str, list[Path]]:
    from models.db import create_engine, create_sessionmaker
    from models.followup.completeness import get_round

    engine = create_engine(settings.database.url)
    try:
        async with create_sessionmaker(engine)() as session:
            rnd = await get_round(session, args.round_id)
            district_id = await _district_id(session, args.district)
            if args.format == "dhis2":
                out, count, what = await _dhis2(session, settings, args, rnd, district_id)
            else:
                out, count, what = await _workbook(session, settings, args, language, district_id)
            charts = []
            if args.charts is not None:
                charts = await _charts(session, settings, args, language, district_id, out)
            return out, count, what, charts
    finally:
        await engine.dispose()


async def _dhis2(
    session: AsyncSession,
    settings: Settings,
    args: argparse.Namespace,
    rnd: Round,
    district_id: int | None,
) -> tuple[Path, int, str]:
    from outputs.dhis2 import dhis2_period, write_dhis2_csv
    from outputs.private_files import open_private

    period = args.period or dhis2_period(rnd.period)
    out: Path = args.out or Path(f"round-{rnd.id}-dhis2-{period}.csv")
    with open_private(out, "w", encoding="utf-8", newline="") as fh:
        count = await write_dhis2_csv(session, rnd.id, fh, settings, period, district_id)
    return out, count, "data values"


async def _workbook(
    session: AsyncSession,
    settings: Settings,
    args: argparse.Namespace,
    language: str,
    district_id: int | None,
) -> tuple[Path, int, str]:
    from outputs.private_files import open_private
    from outputs.workbook import write_workbook

    tmp: Path = args.out or Path(f".round-{args.round_id}.xlsx.part")
    with open_private(tmp) as fh:
        result = await write_workbook(
            session, args.round_id, fh, language, settings, district_id=district_id
        )
    out = args.out or Path(result.filename)
    if tmp != out:
        os.replace(tmp, out)
    return out, result.schools, "schools"


async def _charts(
    session: AsyncSession,
    settings: Settings,
    args: argparse.Namespace,
    language: str,
    district_id: int | None,
    beside: Path,
) -> list[Path]:
    """The round's charts as PNG files in --charts DIR, named after the file written
    (编制与师资配备-2026-chart-1.png)."""
    from models.base import utcnow
    from outputs.charts import round_charts
    from outputs.private_files import open_private

    _title, pngs = await round_charts(
        session, args.round_id, language, settings, utcnow(), district_id
    )
    folder: Path = args.charts  # made before the event loop started
    written = []
    for n, png in enumerate(pngs, start=1):
        path = folder / f"{beside.stem}-chart-{n}.png"
        with open_private(path) as fh:
            fh.write(png)
        written.append(path)
    return written
