"""`huibao doctor`: is this deployment ready? One line per check, and what to do when one
fails. Exit code 1 when any check fails, so a deploy script or a monitor can run it.

It reads and asks, never writes: it does not migrate the database, set a webhook or send
a message. A check that cannot run because an earlier one failed says so.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cli.subcommands import SubCommand, add_command
from config.settings import DEFAULT_CONFIG, Settings, sqlite_file
from models.db import create_engine
from models.forms import FormError, load_forms
from models.migrate import current_revisions, head_revisions
from models.outbox.reports import backlog

TELEGRAM_TIMEOUT = 10.0
BACKLOG_WARNING_MINUTES = 10


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        tail = f"\n      -> {self.fix}" if not self.ok and self.fix else ""
        return f"[{mark}] {self.name}: {self.detail}{tail}"


def where_the_data_is(settings: Settings) -> str:
    """The database (without its password) and, for SQLite, the file's absolute path."""
    url = make_url(settings.database.url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite {sqlite_file(settings) or ':memory:'}"
    return f"PostgreSQL {url.render_as_string(hide_password=True)}"


def check_settings(settings: Settings, config: Path | None) -> Finding:
    path = config or DEFAULT_CONFIG
    source = str(path.resolve()) if path.exists() else "built-in defaults (no config.toml)"
    if not settings.telegram.token:
        return Finding("settings", False, f"{source}; telegram.token is not set",
                       "put the token from @BotFather in config.toml or HUIBAO_TELEGRAM__TOKEN")
    return Finding("settings", True, f"{source}; mode {settings.telegram.mode}")


def sqlite_file_missing(settings: Settings) -> Path | None:
    """The SQLite file the settings name, when it does not exist (connecting would make an
    empty one, and the doctor writes nothing)."""
    path = sqlite_file(settings)
    return None if path is None or path.exists() else path


async def check_database(engine: AsyncEngine, settings: Settings) -> Finding:
    where = where_the_data_is(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return Finding("database", False, f"{where}: {type(exc).__name__}",
                       "check database.url, that the server runs and accepts this user")
    current = await current_revisions(settings.database.url)
    heads = head_revisions(settings.database.url)
    if current != heads:
        shown = ", ".join(sorted(current)) or "empty"
        return Finding("database", False, f"{where}: revision {shown}, not the newest",
                       "run `huibao db upgrade` (huibao run does it too) before starting")
    return Finding("database", True, f"{where}: migrated ({', '.join(sorted(heads))})")


async def check_outbox(engine: AsyncEngine, now: datetime) -> Finding:
    async with AsyncSession(engine) as session:
        count, age = await backlog(session, now)
    if not count:
        return Finding("outbox", True, "nothing waits to be sent")
    minutes = int(age // 60)
    detail = f"{count} message(s) waiting, the oldest for {minutes} min"
    if minutes >= BACKLOG_WARNING_MINUTES:
        return Finding("outbox", False, detail,
                       "is the bot running? `huibao run` sends them; see its log for 429s "
                       "or network errors")
    return Finding("outbox", True, detail)


async def check_scheduler(engine: AsyncEngine, settings: Settings) -> Finding:
    if engine.dialect.name == "sqlite":
        return Finding("scheduler", True, "SQLite: the one bot process runs it")
    async with engine.connect() as connection:
        holder = (await connection.execute(text(
            "SELECT a.pid, coalesce(host(a.client_addr), 'local') FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            # objsubid 1: the one-key lock (a chat's turn uses two keys); this database only,
            # since other bureaus' databases on the same server have a leader of their own.
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key "
            "AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ), {"key": settings.scheduler.leader_lock_id})).first()
    if holder is None:
        return Finding("scheduler", False, "no process holds the scheduler lock",
                       "start `huibao run` (with scheduler.enabled = true) in one process")
    return Finding("scheduler", True, f"held by server process {holder[0]} from {holder[1]}")


def check_forms(settings: Settings) -> Finding:
    directory = settings.forms.directory
    try:
        forms = load_forms(directory)
    except FormError as exc:
        first = str(exc).splitlines()[0]
        return Finding("forms", False, f"{directory}: {first}",
                       "run `huibao forms check` for every problem with file and field")
    return Finding("forms", True, f"{len(forms)} form(s) in {directory}")


async def check_telegram(settings: Settings) -> list[Finding]:
    from telegram import Bot
    from telegram.error import TelegramError

    if not settings.telegram.token:
        return [Finding("telegram", False, "not asked: no token", "set telegram.token")]
    bot = Bot(settings.telegram.token, base_url=settings.telegram.base_url)
    try:
        async with bot:
            me = await asyncio.wait_for(bot.get_me(), TELEGRAM_TIMEOUT)
            hook = await asyncio.wait_for(bot.get_webhook_info(), TELEGRAM_TIMEOUT)
    except (TelegramError, TimeoutError, OSError) as exc:
        # The exception's text may hold the Bot API address, and with it the token.
        return [Finding("telegram", False, f"getMe failed: {type(exc).__name__}",
                        "check telegram.token and that this machine reaches the Bot API")]
    return [Finding("telegram", True, f"@{me.username} ({me.first_name})"),
            _webhook_finding(settings, hook.url, hook.pending_update_count,
                             hook.last_error_message)]


def _webhook_finding(
    settings: Settings, url: str, pending: int, last_error: str | None
) -> Finding:
    if settings.telegram.mode == "polling":
        if url:
            return Finding("webhook", False, f"Telegram posts to {url}, but mode is polling",
                           "`huibao run` removes it on start; or set telegram.mode = webhook")
        return Finding("webhook", True, f"none (long polling), {pending} update(s) waiting")
    expected = settings.telegram.webhook.url.rstrip("/") + "/" + settings.telegram.webhook.path
    if url != expected:
        return Finding("webhook", False, f"Telegram has {url or 'none'}, settings say {expected}",
                       "start `huibao run`: it sets the webhook")
    if last_error:
        return Finding("webhook", False, f"{url}: last error {last_error!r}",
                       "check the reverse proxy, TLS certificate and that the bot listens")
    return Finding("webhook", True, f"{url}, {pending} update(s) waiting")


async def diagnose(settings: Settings, config: Path | None) -> list[Finding]:
    findings = [check_settings(settings, config)]
    missing = sqlite_file_missing(settings)
    if missing is not None:
        findings.append(Finding("database", False, f"no database file at {missing}",
                                "check database.url (a relative path is relative to the "
                                "settings file, else to the directory huibao runs in), or "
                                "create it: huibao db upgrade"))
        findings.append(check_forms(settings))
        findings.extend(await check_telegram(settings))
        return findings
    engine = create_engine(settings.database.url)
    try:
        database = await check_database(engine, settings)
        findings.append(database)
        if database.ok:
            findings.append(await check_outbox(engine, datetime.now(UTC)))
            findings.append(await check_scheduler(engine, settings))
        else:
            findings.append(Finding("outbox and scheduler", False, "not checked: no database"))
    finally:
        await engine.dispose()
    findings.append(check_forms(settings))
    findings.extend(await check_telegram(settings))
    return findings


def doctor(settings: Settings, args: argparse.Namespace) -> int:
    findings = asyncio.run(diagnose(settings, args.config))
    for finding in findings:
        print(finding.line())
    failed = sum(1 for f in findings if not f.ok)
    print(f"{len(findings) - failed} of {len(findings)} checks passed")
    return 1 if failed else 0


def add_commands(sub: Any) -> None:
    add_command(sub, SubCommand(
        "doctor", "check this deployment: settings, database, Telegram, forms, outbox, "
        "scheduler", doctor))
