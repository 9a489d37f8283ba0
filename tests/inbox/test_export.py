"""`huibao inbox export`: every message, with the school, the person and the time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from models.db import transaction
from models.inbox.threads import answer, ask
from models.roster.tables import Person
from tests.inbox.test_inbox import STAFF_ID, seed
from tests.notices.conftest import Sessions

ASKED = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)


async def _thread(sessions: Sessions) -> None:
    principal_id, *_ = await seed(sessions)
    async with transaction(sessions) as session:
        people = {p.telegram_id: p for p in (await session.execute(select(Person))).scalars()}
        asked = await ask(session, people[principal_id], "=HYPERLINK(\"x\") 表格打不开",
                          now=ASKED)
        await answer(session, asked.question.id, people[STAFF_ID], "已重新发送。",
                     now=ASKED + timedelta(hours=2))


def test_export_writes_every_message(
    db_url: str, sessionmaker: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(_thread(sessionmaker))
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_BUREAU__NAME", "青山县教育局")
    out = tmp_path / "来信.xlsx"
    assert main(["inbox", "export", str(out)]) == 0
    assert "1 question(s) written" in capsys.readouterr().out
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = [[c for c in row] for row in sheet.iter_rows(min_row=1, values_only=True)]
    assert rows[0][0] == "青山县教育局学校来信记录"
    assert rows[2] == ["编号", "学区", "学校代码", "学校", "状态", "时间", "发信人", "一方", "内容",
                       "附件"]
    first, second = rows[3], rows[4]
    assert first[3] == "第1小学" and first[5] == "2026-12-03 09:30" and first[6] == "校长1"
    # A message that looks like a formula is kept as text, never run by Excel.
    assert first[8] == "'=HYPERLINK(\"x\") 表格打不开"
    assert second[6] == "王科长" and second[7] == "教育局" and second[8] == "已重新发送。"
    assert second[4] == "已回复"
