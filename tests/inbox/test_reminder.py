"""A question unanswered for a working day is reminded once to whoever may answer it;
an answer ends the wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config.settings import load_settings
from models.db import transaction
from models.inbox.threads import answer, ask, working_days_after
from models.outbox.tables import Delivery
from models.roster.tables import Person
from scheduler.inbox_reminders import send_due
from tests.inbox.test_inbox import OFFICER_ID, OTHER_OFFICER_ID, STAFF_ID, seed
from tests.notices.conftest import Sessions

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 4 December 2026, 15:00 in Shanghai.
FRIDAY_AFTERNOON = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


def test_a_working_day_after_friday_afternoon_is_monday_afternoon() -> None:
    due = working_days_after(FRIDAY_AFTERNOON, 1, SHANGHAI)
    assert (due.weekday(), due.hour) == (0, 15)
    saturday = FRIDAY_AFTERNOON + timedelta(days=1)
    assert working_days_after(saturday, 1, SHANGHAI).strftime("%a %H:%M") == "Tue 08:00"


async def reminders_to(sessions: Sessions) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.chat_id, Delivery.payload).where(Delivery.purpose.like("inbox:remind%"))
            .order_by(Delivery.chat_id))
        return [(chat_id, payload["messages"][0]["text"]) for chat_id, payload in rows]


async def test_unanswered_question_is_reminded_once(db_url: str, sessionmaker: Sessions) -> None:
    principal_id, *_ = await seed(sessionmaker)
    settings = load_settings(environ={"HUIBAO_DATABASE__URL": db_url,
                                      "HUIBAO_QUIET_HOURS__ENABLED": "false"})
    async with transaction(sessionmaker) as session:
        principal = (await session.execute(
            select(Person).where(Person.telegram_id == principal_id))).scalar_one()
        await ask(session, principal, "请问截止时间能否延后？", now=FRIDAY_AFTERNOON)

    sunday = FRIDAY_AFTERNOON + timedelta(days=2)
    assert await send_due(settings, sessionmaker, sunday) == 0
    monday = FRIDAY_AFTERNOON + timedelta(days=3, minutes=1)
    # Two staff members and the school's district officer; not the other district's.
    assert await send_due(settings, sessionmaker, monday) == 3
    assert await send_due(settings, sessionmaker, monday + timedelta(hours=1)) == 0
    reminded = await reminders_to(sessionmaker)
    assert [chat for chat, _text in reminded] == [STAFF_ID, STAFF_ID + 1, OFFICER_ID]
    assert OTHER_OFFICER_ID not in [chat for chat, _text in reminded]
    assert reminded[0][1] == "⏰ 第1小学的问题已等待 1 个工作日，尚未回复。"


async def test_answered_question_is_not_reminded(db_url: str, sessionmaker: Sessions) -> None:
    principal_id, *_ = await seed(sessionmaker)
    settings = load_settings(environ={"HUIBAO_DATABASE__URL": db_url,
                                      "HUIBAO_QUIET_HOURS__ENABLED": "false"})
    async with transaction(sessionmaker) as session:
        people = {p.telegram_id: p for p in (await session.execute(select(Person))).scalars()}
        asked = await ask(session, people[principal_id], "表格打不开", now=FRIDAY_AFTERNOON)
        await answer(session, asked.question.id, people[STAFF_ID], "已重新发送。",
                     now=FRIDAY_AFTERNOON + timedelta(hours=1))
    assert await send_due(settings, sessionmaker, FRIDAY_AFTERNOON + timedelta(days=7)) == 0
