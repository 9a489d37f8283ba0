"""`huibao schedules ...` as staff use it."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from models.db import transaction
from models.rounds.schedules import Schedule
from tests.schedule.conftest import County


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)


async def schedules(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Schedule]:
    async with transaction(sessionmaker) as session:
        return list((await session.execute(select(Schedule).order_by(Schedule.id))).scalars())


def run(args: list[str]) -> int:
    # The CLI runs its own event loop, as from a terminal.
    return main(args)


async def test_add_list_pause_resume(
    cli: None,
    county: County,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await asyncio.to_thread(
        run,
        [
            "schedules",
            "add",
            "--form",
            "staffing",
            "--every",
            "weekly",
            "--weekday",
            "monday",
            "--deadline-days",
            "4",
            "--grace-hours",
            "2",
            "--lock-days",
            "2",
            "--district",
            "城关学区",
            "--stage",
            "primary",
            "--remind-days-before",
            "2",
            "--no-escalation",
            "--starts",
            "2026-11-22",
        ],
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every monday at 08:00; deadline +4 d 17:00" in out
    [stored] = await schedules(sessionmaker)
    assert json.loads(stored.audience) == {
        "districts": [county.districts["城关学区"].id],
        "stages": ["primary"],
    }
    assert json.loads(stored.policy) == {"days_before": [2], "escalate_to_district": False}
    assert stored.grace_minutes == 120 and stored.lock_days == 2

    assert await asyncio.to_thread(run, ["schedules", "list"]) == 0
    listing = capsys.readouterr().out
    assert "staffing" in listing and "城关学区, primary" in listing and "[active]" in listing

    assert await asyncio.to_thread(run, ["schedules", "pause", str(stored.id)]) == 0
    assert "paused" in capsys.readouterr().out
    assert not (await schedules(sessionmaker))[0].active
    assert await asyncio.to_thread(run, ["schedules", "resume", str(stored.id)]) == 0
    assert (await schedules(sessionmaker))[0].active


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--form", "nope", "--every", "weekly", "--weekday", "monday"], "unknown form 'nope'"),
        (["--form", "staffing", "--every", "weekly"], "needs --weekday"),
        (
            ["--form", "staffing", "--every", "monthly", "--day", "1", "--deadline-days", "40"],
            "0 to 27 days",
        ),
        (
            [
                "--form",
                "staffing",
                "--every",
                "yearly",
                "--date",
                "07-01",
                "--district",
                "火星学区",
            ],
            "unknown district '火星学区'",
        ),
        (
            ["--form", "staffing", "--every", "yearly", "--date", "07-01", "--stage", "college"],
            "unknown stage 'college'",
        ),
        (
            ["--form", "staffing", "--every", "term", "--term", "2026-fall:2026-09-01:2026-09-30"],
            "2026-autumn",
        ),
        (
            [
                "--form",
                "staffing",
                "--every",
                "weekly",
                "--weekday",
                "monday",
                "--remind-days-before",
                "0",
            ],
            "days_before",
        ),
    ],
)
async def test_mistakes_get_one_clear_line(
    cli: None,
    county: County,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert await asyncio.to_thread(run, ["schedules", "add", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert await schedules(sessionmaker) == []
