"""A report that waits longer than review.remind_after_hours in a district officer's queue
is reminded once to that district's officers, not to another district's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from config.settings import load_settings
from models.base import utcnow
from models.outbox.tables import Delivery
from scheduler.review_reminders import send_due
from tests.report.conftest import County
from tests.review.test_review import OFFICER_ID, add_officers, reviewed_round, submit


async def reminders(county: County) -> list[tuple[int, str]]:
    async with county.sessionmaker() as session:
        rows = await session.execute(
            select(Delivery.chat_id, Delivery.payload)
            .where(Delivery.purpose.like("review:remind%")).order_by(Delivery.chat_id))
        return [(chat_id, payload["messages"][0]["text"]) for chat_id, payload in rows]


async def test_a_waiting_report_is_reminded_once(county: County, db_url: str) -> None:
    await add_officers(county, "城关学区", "河西学区")
    round_ = await reviewed_round(county)
    county.tg.user(OFFICER_ID, "城关学区专干", language_code="zh-hans")
    await submit(county.user("principal:S001"), round_.id)
    settings = load_settings(environ={"HUIBAO_DATABASE__URL": db_url,
                                      "HUIBAO_QUIET_HOURS__ENABLED": "false"})
    assert settings.review.remind_after_hours == 24
    now = utcnow()
    assert await send_due(settings, county.sessionmaker, now + timedelta(hours=23)) == 0
    assert await send_due(settings, county.sessionmaker, now + timedelta(hours=25)) == 1
    assert await send_due(settings, county.sessionmaker, now + timedelta(hours=26)) == 0
    assert await reminders(county) == [
        (OFFICER_ID, "⏰ 1 份报表已等待审核超过 24 小时。\n发送 /review 查看并审核。")]
    off = load_settings(environ={"HUIBAO_DATABASE__URL": db_url,
                                 "HUIBAO_REVIEW__REMIND_AFTER_HOURS": "0"})
    assert await send_due(off, county.sessionmaker, now + timedelta(days=9)) == 0
