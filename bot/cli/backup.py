"""`huibao db backup FILE` and `huibao db restore FILE`.

SQLite: the online backup API, a consistent copy while the bot runs. PostgreSQL:
pg_dump / pg_restore (or psql for a plain SQL dump), which must be on PATH. Backups
are written to FILE.part with mode 0600 and renamed into place only when complete.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import make_url

from config.settings import Settings
from outputs.private_files import make_private, open_private

PG_MAGIC = b"PGDMP"  # the first bytes of pg_dump's custom format


class BackupError(Exception):
    """A problem the user can fix, printed as one line (the CLI turns it into CliError)."""


def backup(settings: Settings, target: Path) -> str:
    """Write a backup of the database to `target`; returns what was done, for the user."""
    url = make_url(settings.database.url)
    part = target.with_name(target.name + ".part")
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_path(settings), part)
        else:
            _pg_dump(settings.database.url, part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return f"backed up to {target} ({target.stat().st_size:,} bytes)"


def restore(settings: Settings, source: Path) -> str:
    """Replace the database's content with the backup in `source`."""
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    if make_url(settings.database.url).get_backend_name() == "sqlite":
        _sqlite_restore(source, _sqlite_path(settings))
    else:
        _pg_restore(settings.database.url, source)
    return f"restored from {source}; run `huibao db upgrade` if it came from an older version"


# --- SQLite ---------------------------------------------------------------------------


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot back up the database {settings.database.url!r}")
    return Path(database)


def _sqlite_backup(database: Path, part: Path) -> None:
    if not database.is_file():
        raise BackupError(f"{database}: no such database file")
    part.unlink(missing_ok=True)
    make_private(part)
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(part)
    try:
        # Page by page under a read transaction: a consistent copy while the bot writes.
        source.backup(copy)
        # One self-contained file (the live database runs in WAL mode).
        copy.execute("PRAGMA journal_mode=DELETE")
        _check_sqlite(copy, part)
    finally:
        copy.close()
        source.close()
    _fsync(part)


def _sqlite_restore(source: Path, database: Path) -> None:
    backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _check_sqlite(backup_db, source)
        if not database.exists():
            make_private(database)
        live = sqlite3.connect(database, timeout=30)
        try:
            # The backup API again, into the live file: it takes SQLite's locks, so a
            # reader never sees half a database, and the WAL file is kept consistent.
            backup_db.backup(live)
        finally:
            live.close()
    finally:
        backup_db.close()


def _check_sqlite(connection: sqlite3.Connection, path: Path) -> None:
    try:
        ok = connection.execute("PRAGMA quick_check").fetchone()
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a SQLite database ({exc})") from None
    if ok != ("ok",) or tables != (1,):
        raise BackupError(f"{path}: not a Huibao database, or damaged ({ok[0] if ok else ''})")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- PostgreSQL -----------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools of the "
            f"server's major version (Debian/Ubuntu: apt-get install postgresql-client)"
        )
    return found


def _pg_target(url_text: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and an environment that carries it: the
    password never appears in the process list."""
    url = make_url(url_text)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None, query={})
    return plain.render_as_string(hide_password=False), env


def _pg_dump(url_text: str, part: Path) -> None:
    tool = _pg_tool("pg_dump")
    dsn, env = _pg_target(url_text)
    with open_private(part) as out:
        done = subprocess.run(
            [tool, "--format=custom", "--no-owner", "--no-privileges", f"--dbname={dsn}"],
            stdout=out, stderr=subprocess.PIPE, env=env, check=False,
        )
        out.flush()
        os.fsync(out.fileno())
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {_first_line(done.stderr)}")


def _pg_restore(url_text: str, source: Path) -> None:
    dsn, env = _pg_target(url_text)
    with source.open("rb") as fh:
        custom = fh.read(len(PG_MAGIC)) == PG_MAGIC
    if custom:
        command = [
            _pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
            "--no-privileges", "--single-transaction", f"--dbname={dsn}", str(source),
        ]
    else:  # a plain SQL dump
        command = [
            _pg_tool("psql"), "--quiet", "--no-psqlrc", "--set=ON_ERROR_STOP=1",
            "--single-transaction", f"--dbname={dsn}", f"--file={source}",
        ]
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {_first_line(done.stderr)}")


def _first_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[0] if lines else "no message"


# --- the commands ---------------------------------------------------------------------


def backup_command(settings: Settings, args: argparse.Namespace) -> int:
    print(_or_cli_error(lambda: backup(settings, args.file)))
    return 0


def restore_command(settings: Settings, args: argparse.Namespace) -> int:
    print(_or_cli_error(lambda: restore(settings, args.file)))
    return 0


def _or_cli_error(work: Callable[[], str]) -> str:
    from bot.cli import CliError

    try:
        return work()
    except BackupError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or 'backup'}: {exc.strerror or exc}") from None
