"""The delivery report says what went wrong in the sender's words and what to do about it
(blocked the bot: ask them to press Start again; not found: invite them again; Telegram
unreachable: tried N times, send again later), never Telegram's raw error text."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.cli import main
from models.db import transaction
from models.outbox.reports import Cause, cause_of
from tests.double import BotApiDouble
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, make_staff, post_notice

STAFF_ID = 900
RAW = ("Forbidden", "chat not found", "BadRequest", "NetworkError", "Internal Server Error")


async def test_blocked_and_unknown_recipients_are_explained_en(
    bot: Any, sessionmaker: Sessions
) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 3, districts=1, language="en")
        staff = await make_staff(session, STAFF_ID)
        await post_notice(session, author=staff, language="en", title="Winter safety check")
    reached, blocked, _unknown = roster.telegram_ids

    def prepare(tg: BotApiDouble) -> None:
        tg.user(STAFF_ID, "王科长", language_code="en")
        tg.user(reached)
        tg.user(blocked)
        tg.block(blocked)  # `_unknown` never opened the bot: "chat not found"

    async with bot(prepare) as running:
        running.services.outbox.wake()
        report = await running.tg.user(STAFF_ID).wait_for("finished", timeout=20, after=0)
        # The one reached acknowledges it: the answer names the notice.
        principal = running.tg.user(reached)
        await principal.press(await principal.wait_for("Notice from", after=0), "Acknowledge")
        thanks = (await principal.wait_for_answer()).text or ""
        assert thanks.startswith("Thank you: “Winter safety check” acknowledged at ")
        # The notice's screen says the same next to its "Send again" button.
        staff = running.tg.user(STAFF_ID)
        await staff.press(report, "Details")
        view = (await staff.wait_for("Winter safety check")).plain or ""
        assert "Delivered: 1 of 3 · blocked the bot: 1 · failed: 1\n" in view
        assert "\nBlocked the bot (1): ask them to open the bot and press “Start” again" in view
        assert "\nNot found on Telegram (1): they never opened the bot" in view
        assert not any(raw.lower() in view.lower() for raw in RAW)
    text = report.plain or ""
    assert text.startswith("Notice #1: Winter safety check: finished.\nDelivered: 1 of 3.")
    assert (
        "Blocked the bot (1): ask them to open the bot and press “Start” again, then send it "
        "again.\n• 校长2 (第2中学)"
    ) in text
    assert (
        "Not found on Telegram (1): they never opened the bot, or their account is gone. "
        "Send them a new invitation.\n• 校长3 (第3小学)"
    ) in text
    assert not any(raw.lower() in text.lower() for raw in RAW)
    assert report.buttons() == [[("Details", "nv:1")]]


async def test_telegram_unreachable_says_how_often_it_was_tried_zh(
    bot: Any, sessionmaker: Sessions, db_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 1, districts=1)
        staff = await make_staff(session, STAFF_ID)
        await post_notice(session, author=staff, title="冬季校园安全检查")
    (principal,) = roster.telegram_ids

    def prepare(tg: BotApiDouble) -> None:
        tg.user(STAFF_ID, "王科长")
        tg.user(principal)
        tg.fail_next(2, status=500)  # the notice's first try and its one retry

    async with bot(prepare, HUIBAO_DELIVERY__MAX_ATTEMPTS="2") as running:
        running.services.outbox.wake()
        staff = running.tg.user(STAFF_ID)
        report = await staff.wait_for("发送完毕", timeout=20, after=0)
        await staff.press(report, "详情")
        screen = await staff.wait_for("#1 · 冬季校园安全检查")
        assert "\n因无法连接 Telegram 未送达（1）：机器人多次重试后已停止。" in (screen.plain or "")
        assert screen.buttons()[0][0][0].startswith("🔁 ")
    text = report.plain or ""
    # (The test's sender titles batches in English: roster.post_notice.)
    assert "冬季校园安全检查：发送完毕。\n已送达：0 / 1。" in text
    assert (
        "因无法连接 Telegram 未送达（1）：机器人多次重试后已停止。请稍后重新发送。\n"
        "• 校长1（第1小学） · 已尝试 2 次"
    ) in text
    assert not any(raw.lower() in text.lower() for raw in RAW)

    # The command line: the same cause in English; Telegram's own words only with --verbose.
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    assert await asyncio.to_thread(main, ["notices", "status", "1"]) == 0
    out = capsys.readouterr().out
    assert "notice #1: 冬季校园安全检查" in out
    assert "Not delivered because Telegram could not be reached (1)" in out
    assert "  校长1 (第1小学) (tried 2 times)\n" in out
    assert "Internal Server Error" not in out
    assert await asyncio.to_thread(main, ["notices", "status", "1", "--verbose"]) == 0
    assert "(tried 2 times): NetworkError: Internal Server Error" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("status", "error", "cause"),
    [
        ("blocked", "Forbidden: Forbidden: bot was blocked by the user", Cause.BLOCKED),
        ("blocked", "Forbidden: Forbidden: user is deactivated", Cause.NO_CHAT),
        ("blocked", "Forbidden: bot can't initiate conversation with a user", Cause.NO_CHAT),
        ("failed", "BadRequest: Chat not found", Cause.NO_CHAT),
        ("failed", "NetworkError: Internal Server Error (gave up after 5 tries)",
         Cause.NETWORK),
        ("failed", "TimedOut: Timed out (gave up after retrying for 86400 s)", Cause.NETWORK),
        ("failed", "ServerDisconnectedError: gone (gave up after 3 tries)", Cause.NETWORK),
        ("failed", "BadRequest: Message is too long", Cause.REFUSED),
        ("failed", "InvalidToken: Not Found", Cause.REFUSED),
    ],
)
def test_causes_are_read_from_what_the_worker_stored(
    status: str, error: str, cause: Cause
) -> None:
    assert cause_of(status, error) is cause
