"""A report step wakes the delivery worker only when it queued a message: a wake costs the
worker a claim query (two or three round trips), which every answer paid once
(docs/development/benchmarks-step.md, stop 21)."""

from __future__ import annotations

import pytest

from models.outbox import Outgoing, OutMessage, enqueue, queued_in
from tests.report.conftest import County
from tests.report.test_conversation import start

PERIOD = "2026 秋季学期"


async def test_queued_in_says_whether_the_session_enqueued(county: County) -> None:
    async with county.sessionmaker() as session:
        await session.begin()
        assert not queued_in(session)
        assert await enqueue(session, "test:nothing", []) == 0
        assert not queued_in(session)  # nothing to send: nothing queued
        one = Outgoing(chat_id=424242, person_id=None, messages=(OutMessage(text="x"),))
        assert await enqueue(session, "test:one", [one]) == 1
        assert queued_in(session)
        await session.rollback()
    async with county.sessionmaker() as session:
        assert not queued_in(session)  # a new session starts unmarked


async def test_a_typed_answer_does_not_wake_the_delivery_worker(
    county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_ = await county.open_round("training", period=PERIOD)
    principal = county.user("principal:S001")
    await start(county, principal, round_.id, "本学期新入职教师数")
    services = county.app.bot_data["services"]
    wakes: list[None] = []
    monkeypatch.setattr(services, "wake_outbox", lambda: wakes.append(None))
    await principal.send("0")
    await principal.wait_for("是否有培训项目需要填报？")
    assert wakes == []  # the answer queued nothing: the worker is not made to look
