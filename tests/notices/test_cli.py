"""`huibao notices send` and `huibao notices status`: what a bureau's IT person types."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from models.db import create_engine, create_sessionmaker, transaction
from models.notices import Notice, NoticeRecipient
from models.outbox import Delivery, OutboxFile
from tests.notices.roster import make_roster

T = TypeVar("T")


def look(db_url: str, work: Callable[..., Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(db_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def county(db_url: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Ten schools in two districts (城关学区, 东关学区); nobody connected at S00005, S00010."""
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_BUREAU__NAME", "青山县教育局")
    roster = look(db_url, lambda s: make_roster(s, 10, districts=2, unconnected_every=5))
    return roster.telegram_ids


async def notice_ids(session: AsyncSession) -> list[int]:
    return list((await session.execute(select(Notice.id))).scalars())


def write(tmp_path: Path, text: str, name: str = "notice.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_send_to_some_districts_with_a_file(
    county: list[int], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(tmp_path, "关于报送教师培训完成情况的通知\n请于11月30日前报送。<见附件>")
    sheet = tmp_path / "培训统计表.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not really a workbook" * 10)
    code = main(["notices", "send", "--text-file", str(text), "--attach", str(sheet),
                 "--districts", "城关学区"])
    out = capsys.readouterr().out
    assert code == 0
    assert "notice #1: 4 recipients at 4 schools" in out
    assert "S00005" in out and "S00010" not in out  # left out: nobody connected there

    async def stored(session: AsyncSession) -> tuple[Notice, list[Delivery], OutboxFile]:
        notice = (await session.execute(select(Notice))).scalar_one()
        deliveries = (await session.execute(select(Delivery))).scalars().all()
        blob = (await session.execute(select(OutboxFile))).scalar_one()
        return notice, list(deliveries), blob

    notice, deliveries, blob = look(db_url, stored)
    assert notice.author_id is None and notice.requires_ack
    assert "&lt;见附件&gt;" in notice.text  # plain text from a file is escaped, not HTML
    assert blob.content == sheet.read_bytes() and blob.telegram_file_id is None
    assert len(deliveries) == 4 and {d.purpose for d in deliveries} == {"notice:1"}
    message = deliveries[0].messages[0]
    assert message.kind == "document" and message.file_blob_id == blob.id
    assert "青山县教育局通知" in message.text


def test_status_lists_who_has_not_acknowledged(
    county: list[int], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(tmp_path, "关于冬季安全的通知")
    assert main(["notices", "send", "--text-file", str(text), "--schools", "S00001",
                 "S00002"]) == 0
    capsys.readouterr()
    assert main(["notices", "status", "1"]) == 0
    out = capsys.readouterr().out
    assert "delivered 0 of 2" in out and "still to send 2" in out
    assert "acknowledged 0 of 2" in out
    assert "校长1 (第1小学) [pending]" in out
    assert main(["notices", "status", "99"]) == 2
    assert "no notice #99" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--districts", "月球学区"], "no district named 月球学区"),
        (["--stages", "university"], "unknown stage 'university'"),
        (["--schools", "S00001", "X999"], "no school has the code X999"),
        (["--at", "2020-01-01 09:00"], "is in the past"),
        (["--at", "tomorrow at nine"], "use the form"),
        (["--attach", "missing.pdf"], "cannot be read"),
    ],
)
def test_mistakes_are_explained_and_nothing_is_stored(
    county: list[int],
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    text = write(tmp_path, "关于冬季安全的通知")
    assert main(["notices", "send", "--text-file", str(text), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert look(db_url, notice_ids) == []


def test_a_text_too_long_for_telegram_is_refused_with_the_numbers(
    county: list[int], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(tmp_path, "通" * 4100)
    assert main(["notices", "send", "--text-file", str(text)]) == 2
    err = capsys.readouterr().err
    assert "4100 characters" in err and "4,096" in err and "attach" in err
    empty = write(tmp_path, "  \n", "empty.txt")
    assert main(["notices", "send", "--text-file", str(empty)]) == 2
    assert "empty" in capsys.readouterr().err


def test_recipients_are_the_connected_contacts_of_active_schools(
    county: list[int], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(tmp_path, "关于冬季安全的通知")
    assert main(["notices", "send", "--text-file", str(text), "--stages", "primary",
                 "--no-ack"]) == 0
    assert "notice #1" in capsys.readouterr().out
    async def recipients(session: AsyncSession) -> list[int | None]:
        return list((await session.execute(select(NoticeRecipient.school_id))).scalars())

    # make_roster gives S00001 and S00006 the stage "primary" (every fifth school).
    assert len(look(db_url, recipients)) == 2
