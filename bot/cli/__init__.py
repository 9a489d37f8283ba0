"""The `huibao` command line."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.cli.subcommands import Command, SubCommand, add_command, add_group
from config.settings import DEFAULT_CONFIG, ConfigError, Settings, load_settings, sqlite_file

# Capabilities add their sub-commands here: each module has add_commands(subparsers).
COMMAND_MODULES: list[str] = [
    "bot.cli.roster",
    "bot.console",
    "bot.cli.rounds",
    "bot.cli.export",
    "bot.cli.notices",
    "bot.cli.schedules",
    "bot.cli.inbox",
    "bot.cli.doctor",
]

EXIT_CONFIG = 2
EXIT_FAILED = 1


class CliError(Exception):
    """A problem the user can fix, printed as one line with exit code 2."""


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run
    from config.logs import setup_logging
    from models.migrate import upgrade

    if not settings.telegram.token:
        raise CliError(
            "telegram.token is not set: put it in config.toml or set HUIBAO_TELEGRAM__TOKEN"
        )
    if settings.telegram.mode == "webhook" and not settings.telegram.webhook.url:
        raise CliError("telegram.webhook.url must be set when telegram.mode is webhook")
    _refuse_a_new_empty_database(settings, args.config)
    _hold_the_sqlite_file(settings)
    setup_logging(settings.logging.level, settings.logging.format, [settings.telegram.token])
    logging.getLogger("huibao.cli").info("where the data is", extra=data_paths(settings))
    try:
        upgrade(settings.database.url)
        run(settings)
    except Exception as exc:
        # One line through the redacting logger: a traceback would print Bot API URLs,
        # and they carry the token (e.g. a bad telegram.base_url).
        logging.getLogger("huibao.cli").error(
            "start-up failed", extra={"error": f"{type(exc).__name__}: {_first_line(exc)}"}
        )
        return EXIT_FAILED
    return 0


def data_paths(settings: Settings) -> dict[str, str]:
    """The database and the outbox journal, as `huibao run` and `huibao doctor` print them."""
    from bot.cli.doctor import where_the_data_is
    from bot.lifecycle import journal_path

    journal = journal_path(settings)
    return {"database": where_the_data_is(settings),
            "journal": str(journal.resolve()) if journal else "off"}


def _refuse_a_new_empty_database(settings: Settings, config: Path | None) -> None:
    """`huibao run` with no settings file and the default SQLite file missing is most
    likely started in the wrong directory: say so rather than make an empty database."""
    database = sqlite_file(settings)
    if (config is None and not DEFAULT_CONFIG.exists() and "HUIBAO_DATABASE__URL" not in
            os.environ and database is not None and not database.exists()):
        raise CliError(
            f"no config.toml in {Path.cwd()} and no database at {database}: run huibao in "
            "the folder of your config.toml (or pass --config), or start a new one "
            "there with `huibao db upgrade` (or `huibao demo-data` to try it)"
        )


def _hold_the_sqlite_file(settings: Settings) -> None:
    """One `huibao run` per SQLite file: a second would fight the first for the file's
    one writer and both would answer the same polling updates. Held until the process
    ends (the descriptor is left open on purpose)."""
    from models.db import SqliteInUse, hold_sqlite_file

    try:
        hold_sqlite_file(settings.database.url)
    except SqliteInUse as exc:
        raise CliError(
            f"another huibao run is already serving this SQLite database (it holds {exc}): "
            "stop it first; several processes need PostgreSQL "
            "(docs/operations/several-processes.md)"
        ) from None


def _first_line(exc: BaseException) -> str:
    # Database errors append their SQL over several lines; the first says what went wrong.
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from models.migrate import upgrade

    before, after = upgrade(settings.database.url)
    if before == after:
        print(f"database is up to date (revision {', '.join(sorted(after))})")
    else:
        was = ", ".join(sorted(before)) or "empty"
        print(f"database upgraded from {was} to {', '.join(sorted(after))}")
    return 0


def _db_current(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from models.migrate import current_revisions, head_revisions

    current = asyncio.run(current_revisions(settings.database.url))
    heads = head_revisions(settings.database.url)
    state = "up to date" if current == heads else "migrations pending"
    print(f"revision {', '.join(sorted(current)) or 'none'} ({state})")
    return 0


def _db_backup(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.backup import backup_command

    return backup_command(settings, args)


def _db_restore(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.backup import restore_command

    return restore_command(settings, args)


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE")


DB = [
    SubCommand("upgrade", "apply pending migrations (safe to repeat)", _db_upgrade),
    SubCommand("current", "show the database's revision", _db_current),
    SubCommand(
        "backup", "write a backup of the database to FILE (0600)", _db_backup, _file_argument
    ),
    SubCommand(
        "restore", "replace the database with the backup in FILE", _db_restore, _file_argument
    ),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huibao",
        description="Huibao (汇报): collect figures from schools, send notices, chase returns.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="settings file (default ./config.toml; built-in defaults when absent)",
    )
    parser.add_argument("--version", action="version", version=f"huibao {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_command(sub, SubCommand("run", "run the bot (applies pending migrations first)", _run))
    add_group(sub, "db", "db_command", DB, help="database migrations")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("huibao")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        func: Command = args.func
        return func(settings, args)
    except (ConfigError, CliError) as exc:
        print(f"huibao: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def entry() -> Any:
    sys.exit(main())

