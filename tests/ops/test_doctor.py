"""`huibao doctor`: one line per check, what to do when one fails, exit code 1 on failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.cli import main
from bot.cli.doctor import diagnose
from config.settings import load_settings
from models.db import transaction
from models.outbox.tables import Delivery, Status
from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.notices.conftest import Sessions


async def test_a_ready_deployment_passes_every_check(db_url: str) -> None:
    async with BotApiDouble() as tg:
        settings = load_settings(environ=settings_env(db_url, tg))
        findings = await diagnose(settings, None)
    by_name = {f.name: f for f in findings}
    scheduler = by_name.pop("scheduler")
    if db_url.startswith("postgresql"):
        # No bot runs here, so no process holds the scheduler's lock: named, with the fix.
        assert not scheduler.ok and "huibao run" in scheduler.line()
    else:
        assert scheduler.ok and scheduler.detail.startswith("SQLite")
    assert all(f.ok for f in by_name.values()), [f.line() for f in by_name.values() if not f.ok]
    assert "migrated" in by_name["database"].detail
    assert by_name["outbox"].detail == "nothing waits to be sent"
    assert by_name["telegram"].detail.startswith("@")
    assert by_name["webhook"].detail.startswith("none (long polling)")
    assert "form(s) in" in by_name["forms"].detail


async def test_an_old_backlog_fails_with_what_to_do(db_url: str, sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        await session.execute(insert(Delivery), [{
            "purpose": "notice:1", "chat_id": 1, "payload": {"messages": []},
            "status": Status.PENDING.value, "attempts": 0, "parts_sent": 0, "in_doubt": 0,
            "next_attempt_at": datetime.now(UTC), "last_error": "",
            "created_at": datetime.now(UTC) - timedelta(minutes=25),
        }])
    async with BotApiDouble() as tg:
        settings = load_settings(environ=settings_env(db_url, tg))
        findings = await diagnose(settings, None)
    outbox = next(f for f in findings if f.name == "outbox")
    assert not outbox.ok
    assert outbox.detail == "1 message(s) waiting, the oldest for 25 min"
    assert "huibao run" in outbox.line()


def test_a_missing_database_and_token_are_named_and_the_exit_code_is_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUIBAO_TELEGRAM__TOKEN", raising=False)
    missing = tmp_path / "elsewhere.db"
    monkeypatch.setenv("HUIBAO_DATABASE__URL", f"sqlite+aiosqlite:///{missing}")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] settings: built-in defaults (no config.toml); telegram.token is not set" in out
    assert f"[FAIL] database: no database file at {missing}" in out
    assert "-> check database.url" in out
    assert not missing.exists()  # the doctor writes nothing


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("huibao 0.")
