"""Staff send again what did not reach the schools about a round: the round's screen says
how many messages were not delivered (and how many because the bot was blocked), its
button and `huibao rounds retry ID` put them back in the queue, and nothing delivered is
sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from handlers.rounds import announce_round
from models.base import utcnow
from models.followup.remind_now import purpose_key
from models.outbox import (
    Delivery,
    Outgoing,
    OutMessage,
    Requeued,
    Status,
    count_unreached,
    enqueue,
    purpose_of_round,
    requeue_failed,
)
from models.roster.tables import Person, Role
from models.rounds import Round
from tests.report.conftest import County
from tests.report.roster import FORMS
from tests.report.test_rounds import button_labels

# A deputy of S003 whose private chat with the bot does not exist (never pressed Start):
# Telegram answers "chat not found" and the delivery fails for good.
NO_CHAT = 6003


@pytest.fixture
def cli_env(county: County, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HUIBAO_TELEGRAM__TOKEN", "HUIBAO_TELEGRAM__BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_FORMS__DIRECTORY", str(FORMS))


async def announce(county: County, round_: Round) -> None:
    async with county.sessionmaker() as session, session.begin():
        stored = await session.get(Round, round_.id)
        assert stored is not None
        await announce_round(session, stored, county.app.bot_data["services"].settings)
    county.app.bot_data["services"].wake_outbox()


async def states(county: County, round_id: int) -> Counter[str]:
    async with county.sessionmaker() as session:
        rows = await session.execute(
            select(Delivery.status).where(Delivery.purpose == f"round:{round_id}:announce")
        )
        return Counter(rows.scalars())


async def settled(county: County, round_id: int) -> Counter[str]:
    """The announcement's states once nothing is waiting or on its way (generous timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        counts = await states(county, round_id)
        if counts and set(counts) <= {"sent", "failed", "blocked"}:
            return counts
        await asyncio.sleep(0.1)
    raise AssertionError(f"deliveries not finished: {await states(county, round_id)}")


async def test_staff_send_a_round_again_to_those_not_reached(
    county: County, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async with county.sessionmaker() as session, session.begin():
        session.add(Person(
            telegram_id=NO_CHAT, name="副校长S003", role=Role.DEPUTY.value,
            school_id=county.roster.schools["S003"].id, language="zh_CN",
        ))
    blocked = county.roster.people["principal:S002"].telegram_id
    county.tg.block(blocked)
    round_ = await county.open_round()
    await announce(county, round_)
    # Six contacts: four get it, one blocked the bot, one has no chat with it.
    assert await settled(county, round_.id) == Counter({"sent": 4, "failed": 1, "blocked": 1})

    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), f"rd:v:{round_.id}")
    view = await staff.wait_for("应报学校")
    assert "⚠️ 2 条消息未送达（1 人已屏蔽机器人）" in (view.plain or "")
    assert "🔁 重新发送给未送达的 2 人" in button_labels(view)

    # Someone who is not staff presses it (a forged button): refused, nothing requeued.
    principal = county.user("principal:S001")
    await principal.send("/menu")
    target = await principal.wait_for("主页")
    pressed = await principal.press_data(target, f"rt:{round_.id}")
    refusal = await principal.wait_for_answer(pressed)
    assert refusal.show_alert and "仅供教育局工作人员" in (refusal.text or "")
    assert await states(county, round_.id) == Counter({"sent": 4, "failed": 1, "blocked": 1})

    # The button: the one who blocked the bot has unblocked it and gets it now; the chat
    # that does not exist fails again, and nobody reached before hears it twice.
    county.tg.unblock(blocked)
    await staff.press(view, "🔁 重新发送给未送达的 2 人")
    question = await staff.wait_for("重新发送本轮未送达的 2 条消息？")
    await staff.press(question, "确认")
    answer = await staff.wait_for_answer()
    assert answer.show_alert and "其中 1 人曾屏蔽本机器人" in (answer.text or "")
    assert await settled(county, round_.id) == Counter({"sent": 5, "failed": 1})
    screen = await staff.wait_for(
        lambda m: m.message_id == view.message_id and "⚠️" not in (m.plain or "")
    )
    assert not any("重新发送" in label for label in button_labels(screen))

    # The command line: once the deputy has a chat with the bot, they get it too.
    county.tg.user(NO_CHAT, "副校长S003", language_code="zh-hans")
    assert await asyncio.to_thread(main, ["rounds", "retry", str(round_.id)]) == 0
    out = capsys.readouterr().out
    assert f"round {round_.id}: 1 deliveries queued again (1 failed, 0 to people" in out
    assert await settled(county, round_.id) == Counter({"sent": 6})
    contacts = [p.telegram_id for k, p in county.roster.people.items() if k != "staff"]
    received = Counter(
        m.chat_id for m in county.tg.sent if "请您填报" in (m.plain or "")
        or "asks for a report" in (m.plain or "")
    )
    assert received == Counter({tid: 1 for tid in [*contacts, NO_CHAT]})

    # Nothing left: it says so. An unknown round: one line, exit 2.
    assert await asyncio.to_thread(main, ["rounds", "retry", str(round_.id)]) == 0
    assert "nothing to retry" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["rounds", "retry", "99999"]) == 2
    assert capsys.readouterr().err.strip() == "huibao: no round 99999"


async def test_a_round_selects_its_own_deliveries_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Round 1's messages, of every kind, and none of round 12's (nor a notice's)."""
    now = utcnow()
    ours = [
        "round:1:announce", "round:1:extend:20261201T0900", "round:1:d-3",
        "reminder:1:d-1", "escalation:1:4:late-2", "summary:1:2026-12-01",
        purpose_key(1, None, now), purpose_key(1, 4, now),
    ]
    theirs = [
        "round:12:announce", "reminder:12:d-1", "escalation:12:4:late-2",
        "summary:12:2026-12-01", purpose_key(12, None, now), "notice:1", "notice:1:remind:1",
    ]
    async with sessionmaker() as session, session.begin():
        for purpose in ours + theirs:
            await enqueue(session, purpose, [Outgoing(1, None, (OutMessage(text="x"),))])
        await session.execute(update(Delivery).values(
            status=Status.FAILED.value, last_error="Bad Request: chat not found"))
        await session.execute(
            update(Delivery).where(Delivery.purpose.like("reminder:%")).values(
                status=Status.BLOCKED.value, last_error="Forbidden: bot was blocked by the user")
        )
    async with sessionmaker() as session, session.begin():
        assert await count_unreached(session, purpose_of_round(1)) == Requeued(7, 1)
        assert await count_unreached(session, purpose_of_round(12)) == Requeued(4, 1)
        assert await requeue_failed(session, purpose_of_round(1), now) == Requeued(7, 1)
    async with sessionmaker() as session:
        rows = dict((await session.execute(select(Delivery.purpose, Delivery.status))).all())
    assert {p for p, s in rows.items() if s == Status.PENDING.value} == set(ours)
    assert all(rows[p] != Status.PENDING.value for p in theirs)
