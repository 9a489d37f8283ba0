"""The command line as a bureau's IT person meets it: notice files saved by Windows Notepad
(UTF-8 with a BOM, or GBK), titles, stage names in Chinese wherever --stages is taken, and
`notices status` counting those who may have received a notice twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from models.base import utcnow
from models.db import create_engine, create_sessionmaker, transaction
from models.notices import Notice
from models.outbox import Delivery
from models.rounds.schedules import Schedule
from tests.notices.roster import make_roster

T = TypeVar("T")
TEXT = "关于做好冬季校园安全检查的通知\n请各校于12月20日前完成自查。"


def look(db_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(db_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def county(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five schools: S00001 小学, S00002 初中, S00003 九年一贯制, S00004 幼儿园, S00005 高中."""
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_BUREAU__NAME", "青山县教育局")
    look(db_url, lambda s: make_roster(s, 5, districts=1))


async def only_notice(session: AsyncSession) -> Notice:
    return (await session.execute(select(Notice))).scalar_one()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_notepad_files_are_read_and_titled_by_their_first_line(
    county: None, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    encoding: str,
) -> None:
    path = tmp_path / "通知.txt"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode(encoding))
    assert main(["notices", "send", "--text-file", str(path), "--stages", "小学", "初中"]) == 0
    out = capsys.readouterr().out
    assert "notice #1: 2 recipients at 2 schools" in out
    assert "title: 关于做好冬季校园安全检查的通知" in out
    notice = look(db_url, only_notice)
    assert notice.text.startswith("关于做好冬季校园安全检查的通知")  # no BOM, no mojibake
    assert notice.title == "关于做好冬季校园安全检查的通知"
    assert notice.audience == {"kind": "stages", "values": ["primary", "junior"]}


def test_titles_on_the_command_line(
    county: None, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_first_line = tmp_path / "long.txt"
    long_first_line.write_text("根据市教育局统一部署，现就做好2026年冬季校园安全检查工作通知如下。\n请自查。",
                               encoding="utf-8")
    assert main(["notices", "send", "--text-file", str(long_first_line)]) == 2
    assert "too long for a title (at most 30); give one with --title" in capsys.readouterr().err
    too_long = "关于做好2026年冬季校园安全检查和寒假前学生安全教育工作的通知"
    assert main(["notices", "send", "--text-file", str(long_first_line),
                 "--title", too_long]) == 2
    assert "--title has 32 characters; a title can have at most 30" in capsys.readouterr().err
    assert look(db_url, lambda s: s.scalar(select(Notice.id))) is None

    assert main(["notices", "send", "--text-file", str(long_first_line),
                 "--title", "冬季安全 自查"]) == 0
    assert "title: 冬季安全 自查" in capsys.readouterr().out
    assert look(db_url, only_notice).title == "冬季安全 自查"
    assert main(["notices", "status", "1"]) == 0
    assert capsys.readouterr().out.startswith("notice #1: 冬季安全 自查\n")


def test_a_file_neither_utf8_nor_gbk_is_refused(
    county: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notice.txt"
    path.write_bytes(b"\xff\xfe\x00\xd8 not text")
    assert main(["notices", "send", "--text-file", str(path)]) == 2
    assert "not UTF-8 or GBK text" in capsys.readouterr().err


def test_stage_names_in_chinese_for_rounds_and_schedules(
    county: None, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notice.txt"
    text.write_text(TEXT, encoding="utf-8")
    deadline = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%d")
    assert main(["rounds", "open", "--form", "staffing", "--period", "2026", "--deadline",
                 deadline, "--stages", "初中", "九年一贯制", "--no-announce"]) == 0
    assert "2 school(s)" in capsys.readouterr().out

    assert main(["schedules", "add", "--form", "staffing", "--every", "weekly", "--weekday",
                 "monday", "--deadline-days", "4", "--stages", "小学", "高中",
                 "--stage", "幼儿园"]) == 0
    capsys.readouterr()
    stored = look(db_url, lambda s: s.scalar(select(Schedule.audience)))
    assert json.loads(str(stored))["stages"] == ["primary", "senior", "kindergarten"]

    for command in (["notices", "send", "--text-file", str(text), "--stages", "大学"],
                    ["rounds", "open", "--form", "staffing", "--period", "2027",
                     "--deadline", deadline, "--stages", "大学"],
                    ["schedules", "add", "--form", "staffing", "--every", "weekly",
                     "--weekday", "monday", "--deadline-days", "4", "--stage", "大学"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "unknown stage '大学'" in err and "小学" in err


def test_status_counts_those_who_may_have_received_it_twice(
    county: None, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notice.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert main(["notices", "send", "--text-file", str(path)]) == 0

    async def sent_twice(session: AsyncSession) -> None:
        first_two = select(Delivery.id).order_by(Delivery.id).limit(2).scalar_subquery()
        await session.execute(
            update(Delivery).where(Delivery.id.in_(first_two))
            .values(status="sent", in_doubt=1, sent_at=utcnow())
        )

    look(db_url, sent_twice)
    capsys.readouterr()
    assert main(["notices", "status", "1"]) == 0
    out = capsys.readouterr().out
    assert "delivered 2 of 5" in out
    assert "2 may have received it twice" in out
