"""A notice has a title: asked first in chat, politely refused when too long, and used in
the preview, the sender's receipts, /notices and the reminders instead of a clipped first
line. Older notices get theirs from their first line (migration 0013_notice_title)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from models.db import create_engine, transaction
from models.migrate import alembic_config
from models.notices import Notice, NoticeDraft
from tests.double import FakeUser, SentMessage
from tests.notices.conftest import Running, Sessions
from tests.notices.roster import make_roster, make_staff

STAFF_ID = 900
SENT = datetime(2026, 11, 2, 1, 0)
TITLE = "冬季校园安全检查"
# A first line much longer than a title, which lists used to clip mid-word.
TEXT = (
    "根据市教育局统一部署，现就做好2026年冬季校园安全检查和寒假前学生安全教育工作通知如下。\n"
    "请各校于12月20日前完成自查并报送自查表。"
)


def edited_to(text: str) -> Any:
    def matches(message: SentMessage) -> bool:
        return message.edited and text in (message.plain or "")

    return matches


async def seed(sessions: Sessions) -> list[int]:
    async with transaction(sessions) as session:
        roster = await make_roster(session, 2, districts=1)
        await make_staff(session, STAFF_ID)
    return roster.telegram_ids


async def draft_title(running: Running) -> str | None:
    async with running.sessions() as session:
        draft = (await session.execute(select(NoticeDraft))).scalar_one()
        return draft.title


async def compose_rest(staff: FakeUser, attach: str, everyone: str, ack: str, now: str) -> None:
    """From the text's question to the preview, the same in both languages."""
    await staff.send(TEXT)
    attachment = await staff.wait_for(attach)
    await staff.press(attachment, attachment.buttons()[0][0][0])
    audience = await staff.wait_for(lambda m: m.edited and everyone in str(m.buttons()))
    await staff.press(audience, everyone)
    asked = await staff.wait_for(lambda m: m.edited and ack in str(m.buttons()))
    await staff.press(asked, ack)
    when = await staff.wait_for(lambda m: m.edited and now in str(m.buttons()))
    await staff.press(when, now)


async def test_the_title_is_asked_first_and_names_the_notice_everywhere_zh(
    bot: Any, sessionmaker: Sessions
) -> None:
    principals = await seed(sessionmaker)
    async with bot(lambda tg: [tg.user(t) for t in principals]) as running:
        tg = running.tg
        staff = tg.user(STAFF_ID, "王科长")
        await staff.send("/notice")
        first = await staff.wait_for("新建通知")
        assert "第 1 步（共 6 步）" in (first.plain or "")
        assert "请输入通知标题（不超过 30 字）" in (first.plain or "")
        assert first.buttons() == [[("取消", "nd:cancel")]]

        # Too long: the numbers, nothing stored, the same question stands.
        await staff.send("关于做好2026年冬季校园安全检查和寒假前学生安全教育工作的通知")
        refused = await staff.wait_for("标题最多 30 字")
        assert "您输入了 32 字" in (refused.plain or "")
        assert await draft_title(running) is None

        await staff.send(f"  {TITLE} ")
        second = await staff.wait_for("第 2 步（共 6 步）")
        assert "请用一条消息发送通知正文" in (second.plain or "")
        assert await draft_title(running) == TITLE
        await compose_rest(staff, "附件", "全部学校", "需要，请收件人确认", "立即发送")
        summary = await staff.wait_for("预览")
        assert f"标题：{TITLE}" in (summary.plain or "")

        await staff.press(summary, "发送")
        await staff.wait_for(edited_to(f"通知 #1：{TITLE}\n正在发送给 2 位收件人"))
        report = await staff.wait_for("发送完毕", timeout=10)
        assert (report.plain or "").startswith(f"通知 #1：{TITLE}：发送完毕。")

        # The principals' copies carry the text as written; their lists use the title.
        principal = tg.user(principals[0])
        await principal.wait_for(lambda m: "根据市教育局" in (m.plain or ""), after=0)
        await principal.send("/notices")
        mine = await principal.wait_for("您最近的通知")
        assert "#1 · " in (mine.plain or "") and TITLE in (mine.plain or "")
        assert "根据市教育局" not in (mine.plain or "")

        await staff.send("/notices")
        listing = await staff.wait_for("最近的通知")
        assert TITLE in (listing.plain or "") and "根据市教育局" not in (listing.plain or "")
        assert listing.buttons()[0][0][0] == f"#1 {TITLE}"
        await staff.press(listing, f"#1 {TITLE}")
        view = await staff.wait_for(f"#1 · {TITLE}")
        await staff.press(view, "🔔")
        await staff.wait_for_answer()
        reminder = await principal.wait_for("提醒")
        assert f"的通知“{TITLE}”" in (reminder.plain or "")
        await principal.press(reminder, "已阅")
        thanks = (await principal.wait_for_answer()).text or ""
        assert thanks.startswith(f"谢谢，已确认阅读「{TITLE}」（")
        async with running.sessions() as session:
            notice = (await session.execute(select(Notice))).scalar_one()
            assert notice.title == TITLE and notice.text.startswith("根据市教育局")


async def test_the_title_can_be_edited_from_the_preview_en(
    bot: Any, sessionmaker: Sessions
) -> None:
    await seed(sessionmaker)
    async with bot() as running:
        staff = running.tg.user(STAFF_ID, "王科长", language_code="en")
        await staff.send("/notice")
        first = await staff.wait_for("New notice")
        assert "step 1 of 6" in (first.plain or "")
        assert "Type the title of the notice (at most 30 characters)" in (first.plain or "")
        await staff.send("Winter safety inspection of every primary and junior school")
        refused = await staff.wait_for("A title can have at most 30 characters")
        assert "yours has 59" in (refused.plain or "")
        await staff.send("Winter safety check")
        await staff.wait_for("Step 2 of 6 · Send the text")
        await compose_rest(staff, "Step 3 of 6", "All schools",
                           "Yes, ask for acknowledgement", "Send now")
        summary = await staff.wait_for("Preview")
        assert "Title: Winter safety check" in (summary.plain or "")

        await staff.press(summary, "Edit")
        parts = await staff.wait_for(lambda m: m.edited and "Title" in str(m.buttons()))
        assert [label for label, _data in parts.buttons()[0]] == ["Title", "Text"]
        await staff.press(parts, "Title")
        await staff.wait_for(edited_to("Type the title of the notice"))
        await staff.send("Winter safety: self-check")
        newer = await staff.wait_for("Preview")
        assert "Title: Winter safety: self-check" in (newer.plain or "")
        await staff.press(newer, "Send")
        await staff.wait_for(edited_to("Notice #1: Winter safety: self-check\nSending to 2"))


def test_older_notices_get_a_title_from_their_first_line(tmp_path: Path) -> None:
    """Upgrading a database whose notices have no title: each gets its first line, cut
    where a clause ends when it is long."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(db_url)
    command.upgrade(config, "0009")
    notices = sa.table(
        "notices", sa.column("id", sa.Integer), sa.column("text", sa.Text),
        sa.column("requires_ack", sa.Boolean), sa.column("audience", sa.JSON),
        sa.column("excluded_schools", sa.JSON), sa.column("created_at", sa.DateTime),
        sa.column("sent_at", sa.DateTime), sa.column("reminders_sent", sa.Integer),
    )
    old = [
        "<b>关于期末考试安排的通知</b>\n各校：……",
        "关于做好2026年冬季校园安全工作，以及寒假前后学生安全教育工作的通知\n正文",
    ]

    async def insert_then_read(upgrade: bool) -> list[str]:
        engine = create_engine(db_url)
        try:
            async with engine.begin() as connection:
                if not upgrade:
                    await connection.execute(notices.insert(), [
                        {"id": i, "text": text, "requires_ack": True,
                         "audience": {"kind": "all"}, "excluded_schools": [],
                         "created_at": SENT, "sent_at": SENT,
                         "reminders_sent": 0}
                        for i, text in enumerate(old, start=1)
                    ])
                    return []
                rows = await connection.execute(sa.text("SELECT title FROM notices ORDER BY id"))
                return [row[0] for row in rows]
        finally:
            await engine.dispose()

    asyncio.run(insert_then_read(False))
    command.upgrade(config, "heads")
    assert asyncio.run(insert_then_read(True)) == [
        "关于期末考试安排的通知",
        "关于做好2026年冬季校园安全工作…",
    ]
