"""Several `huibao run` behind one address on one PostgreSQL database (issue 13, item 3).

Two real processes in webhook mode behind a round-robin proxy (tests/e2e/proxy.py), so
one principal's consecutive answers land on alternate processes. What a user would
notice: every principal is asked the next question after each answer, in order, and
every answer is stored; a notice broadcast is shared by the two processes' outbox workers
and reaches each school once; one process runs the scheduler. And the lock under it: one
chat's turn is held by one process at a time, another chat's is not held up.

SQLite is one process per file: a second `huibao run` is refused
(tests/e2e/test_concurrent_start.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models.base import utcnow
from models.db import ChatTurns, create_engine, create_sessionmaker, is_sqlite, transaction
from models.forms import load_forms
from models.rounds import Answer
from models.rounds.lifecycle import open_round
from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env
from tests.e2e.proxy import RoundRobinProxy
from tests.e2e.test_foundation import free_port
from tests.notices.roster import make_roster, make_staff, post_notice

SCHOOLS = 12
QUESTIONS = 4
ANSWERS = ["57", "48", "3", "19"]
QUICK = 4  # principals who type all their answers at once
NOTICE = "关于报送2026年教师培训完成情况的通知"


def _form() -> str:
    lines = ['code = "procs_staffing"', "version = 1", 'period_type = "year"',
             'title.zh = "编制与师资配备"', 'title.en = "Staffing"']
    for i in range(1, QUESTIONS + 1):
        lines += ["", "[[fields]]", f'code = "f{i}"', 'type = "integer"',
                  f'label.zh = "第{i}项：专任教师数"', f'label.en = "Item {i}: teachers"',
                  "min = 0", "max = 5000"]
    return "\n".join(lines) + "\n"


def _postgres_only(db_url: str) -> None:
    if is_sqlite(db_url):
        pytest.skip("one process per SQLite file (tests/e2e/test_concurrent_start.py)")


async def _seed(db_url: str, forms: Path) -> list[int]:
    (forms / "procs_staffing.toml").write_text(_form(), encoding="utf-8")
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            roster = await make_roster(session, SCHOOLS, districts=3)
            staff = await make_staff(session, 900)
            await open_round(session, form=load_forms(forms).get("procs_staffing"),
                             period="2026", deadline=utcnow() + timedelta(days=10),
                             created_by=staff.id, now=utcnow())
            await post_notice(session, NOTICE, author=staff, requires_ack=False)
    finally:
        await engine.dispose()
    return roster.telegram_ids


async def _answers(db_url: str) -> Counter[tuple[str, int | None]]:
    """How many schools gave each (question, answer)."""
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (await session.execute(select(Answer.field, Answer.value_int))).all()
    finally:
        await engine.dispose()
    return Counter((field, value) for field, value in rows)


async def _fill_at_once(tg: BotApiDouble, user_id: int) -> str:
    """A principal who types every answer without waiting for the next question: the
    answers reach alternate processes one after the other, and must apply in order."""
    user = tg.user(user_id)
    await user.send("/report")
    listing = await user.wait_for(lambda m: bool(m.inline_keyboard), timeout=60)
    await user.press(listing, "📝")
    await user.wait_for(f"1/{QUESTIONS}", timeout=60)
    for answer in ANSWERS:
        await user.send(answer)
    return (await user.wait_for("请核对", timeout=60)).plain or ""


async def _fill(tg: BotApiDouble, user_id: int) -> list[str]:
    """A principal opens the report and answers every question, each after the reply to
    the one before, as on a phone; returns the progress shown after each answer."""
    user = tg.user(user_id)
    await user.send("/report")
    listing = await user.wait_for(lambda m: bool(m.inline_keyboard), timeout=60)
    await user.press(listing, "📝")
    await user.wait_for(f"1/{QUESTIONS}", timeout=60)
    shown = []
    for answer in ANSWERS:
        await user.send(answer)
        sent = max(user._chat.user_messages)  # the answer's message id
        reply = await user.wait_for(lambda m, after=sent: m.message_id > after, timeout=60,
                                    after=0)
        shown.append(reply.plain or "")
    return shown


async def test_two_processes_behind_one_address(db_url: str, tmp_path: Path) -> None:
    _postgres_only(db_url)
    forms = tmp_path / "forms"
    forms.mkdir()
    users = await _seed(db_url, forms)
    ports = [free_port(), free_port()]
    async with (
        BotApiDouble(auto_create_chats=True) as tg,
        RoundRobinProxy([f"http://127.0.0.1:{port}" for port in ports]) as proxy,
    ):
        bots = [
            BotProcess(child_env(settings_env(
                db_url, tg,
                HUIBAO_TELEGRAM__MODE="webhook",
                HUIBAO_TELEGRAM__WEBHOOK__PORT=str(port),
                HUIBAO_TELEGRAM__WEBHOOK__URL=proxy.url,
                HUIBAO_FORMS__DIRECTORY=str(forms),
                HUIBAO_DELIVERY__POLL_SECONDS="0.2",
            )), tmp_path)
            for port in ports
        ]
        for bot in bots:
            bot.start()
        try:
            await asyncio.gather(*(bot.wait_ready(120) for bot in bots))
            shown = await asyncio.gather(*(_fill(tg, user) for user in users[QUICK:]))
            await asyncio.gather(*(_fill_at_once(tg, user) for user in users[:QUICK]))
            await _each_got_the_notice_once(tg, users)
        finally:
            codes = await asyncio.gather(*(bot.astop() for bot in bots))
    assert codes == [0, 0], [bot.log[-2000:] for bot in bots]

    # In order: after answer k, question k + 1 (then the check of all answers).
    for progress in shown:
        for k, plain in enumerate(progress[:-1], start=1):
            assert f"{k + 1}/{QUESTIONS}" in plain, progress
        assert "请核对" in progress[-1], progress
    assert await _answers(db_url) == Counter(
        {(f"f{i}", int(answer)): SCHOOLS for i, answer in enumerate(ANSWERS, start=1)}
    )
    # Both processes answered (the proxy took turns), and one ran the scheduler.
    assert all(count > 0 for count in proxy.answered.values()), proxy.answered
    assert [bot.log.count('"update handled"') > 0 for bot in bots] == [True, True]
    assert sum("scheduler lock acquired" in bot.log for bot in bots) == 1
    for bot in bots:
        assert "Traceback" not in bot.log, bot.log[-3000:]


async def _each_got_the_notice_once(tg: BotApiDouble, users: list[int]) -> None:
    def notices() -> Counter[int]:
        # The schools' copies (the author is told how the sending went, too).
        return Counter(m.chat_id for m in tg.sent if m.chat_id in users and m.plain
                       and m.plain.startswith("📢") and NOTICE in m.plain)

    for _ in range(600):
        if len(notices()) == len(users):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # a second copy, if any, would come now
    assert notices() == Counter(users), notices()


async def test_a_chat_turn_is_held_by_one_process_at_a_time(db_url: str) -> None:
    _postgres_only(db_url)
    # Two pools: two processes, as far as PostgreSQL can tell.
    first, second = ChatTurns(db_url, 2), ChatTurns(db_url, 2)
    await first.open()
    await second.open()
    try:
        order: list[str] = []
        async with first.turn(5_000_001):
            waiting = asyncio.create_task(_take(second, 5_000_001, order))
            # Another chat is not held up by this one.
            await asyncio.wait_for(_take(second, 5_000_002, order), 10)
            await asyncio.sleep(0.5)
            assert not waiting.done()
            order.append("first done")
        await asyncio.wait_for(waiting, 10)
        assert order == ["5000002", "first done", "5000001"]
    finally:
        await first.close()
        await second.close()


async def _take(turns: ChatTurns, chat_id: int, order: list[str]) -> None:
    async with turns.turn(chat_id):
        order.append(str(chat_id))
