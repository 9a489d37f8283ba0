"""Schedules speak clearly: a round a schedule opens is announced to each school like
one opened by hand (the school's name, the form's description, that report only); the
staff member who made the schedule (or, without one, every staff member) is told it
opened, in their language; and nothing but the announcement reaches a school on the
day a round opens, whether a schedule or staff opened it."""

from __future__ import annotations

from datetime import date, time
from html import escape

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import transaction
from models.roster.tables import Person, Role
from models.rounds.lifecycle import open_round
from models.rounds.schedules import Schedule, add_schedule
from scheduler.tick import Ticker
from tests.schedule.conftest import County, Outbox, form, local, open_round_at
from texts.callbacks import ShowRound

OTHER_STAFF = 7002


async def weekly(sessionmaker: async_sessionmaker[AsyncSession], **extra: object) -> Schedule:
    """Every Monday 08:00, deadline Friday 17:00 (docs/staff/schedules.md's first example)."""
    values: dict[str, object] = {
        "form_code": "staffing",
        "kind": "weekly",
        "params": {"weekday": "monday"},
        "open_time": time(8, 0),
        "deadline_days": 4,
        "deadline_time": time(17, 0),
        "starts_on": date(2026, 11, 22),
    }
    values.update(extra)
    async with transaction(sessionmaker) as session:
        return await add_schedule(session, **values)  # type: ignore[arg-type]


async def second_staff(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessionmaker) as session:
        session.add(
            Person(telegram_id=OTHER_STAFF, name="办公室王", role=Role.STAFF.value, language="en")
        )


async def test_the_makers_of_a_schedule_hear_it_opened_in_chinese(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    await second_staff(sessionmaker)
    await weekly(sessionmaker, created_by=county.people["staff"].id)
    result = await ticker.run(local("2026-11-23 08:00"))
    [opened_round] = result.opened
    round_id = int(opened_round.rsplit(" ", 1)[1])
    fresh = await outbox.new()
    [staff] = [q for q in fresh if q.purpose == f"round:{round_id}:opened"]
    # Only the maker: the other staff member is not disturbed.
    assert staff.chat_id == 7001
    assert staff.texts == (
        "🗓 定期填报已自动开始：<b>编制与师资配备</b>（2026-W48）。\n"
        "截止时间：11月27日（周五）17:00（北京时间）\n"
        "应上报学校 4 所。\n"
        "开始填报的通知发给各校校长和副校长：3 所学校（4 人）。\n"
        "1 所学校尚无人接入机器人，请电话通知（/status 可查看名单）。",
    )
    assert staff.buttons == (("📋 查看填报", ShowRound(round_id).pack()),)


async def test_without_a_maker_every_staff_member_hears_it_in_their_language(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    await second_staff(sessionmaker)
    # Made on the command line (no maker), and sending no opening notice.
    await weekly(sessionmaker, policy={"on_open": False})
    await ticker.run(local("2026-11-23 08:00"))
    fresh = await outbox.new()
    told = {q.chat_id: q for q in fresh if q.purpose.endswith(":opened")}
    assert set(told) == {7001, OTHER_STAFF}
    assert told[OTHER_STAFF].texts == (
        "🗓 A schedule opened <b>Staffing and teachers</b> (2026-W48).\n"
        "Deadline: Fri 27 Nov 17:00 (Beijing time)\n"
        "4 schools are expected to report.\n"
        "This schedule sends no opening notice: schools hear of it with the first reminder.\n"
        "1 school has nobody connected to the bot yet: please phone it (/status lists it).",
    )
    assert told[OTHER_STAFF].buttons[0][0] == "📋 View the round"
    assert "此定期填报不发开始通知" in told[7001].texts[0]
    # No opening notice: the schools hear nothing today.
    assert not [q for q in fresh if q.purpose.startswith("reminder:")]


async def test_a_school_gets_the_announcement_of_the_new_report_only(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    # S001 already owes another report, opened by hand last week.
    async with transaction(sessionmaker) as session:
        await open_round_at(
            session, "2026-11-16 10:00", "2026-12-20 17:00", period="2026", code="training"
        )
    await outbox.new()
    await weekly(sessionmaker)
    await ticker.run(local("2026-11-23 08:00"))
    told = {q.chat_id: q for q in await outbox.new() if q.purpose.startswith("reminder:")}
    description = form("staffing").description
    assert description is not None
    for chat, lang, school in (
        (5001, "zh", "学校：城关第一小学"),
        (5011, "en", "School: 城关第一小学"),
    ):
        [text] = told[chat].texts
        assert school in text
        assert escape(description.get(lang)) in text
        assert form("training").title.get(lang) not in text  # only the new report
        assert len(told[chat].buttons) == 1


async def test_nothing_but_the_announcement_on_the_opening_day_of_a_round_opened_by_hand(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    """Staff open a round by hand on a Monday at 08:30, announcing it themselves; the
    weekly reminder (Monday 09:00) gives way, as docs/staff/schedules.md says."""
    async with transaction(sessionmaker) as session:
        await open_round(
            session,
            form=form("staffing"),
            period="2026",
            deadline=local("2026-12-04 17:00"),
            now=local("2026-11-23 08:30"),
        )
    for at in ("2026-11-23 09:00", "2026-11-23 20:00"):
        await ticker.run(local(at))
    assert not [q for q in await outbox.new() if q.purpose.startswith("reminder:")]
    # The next Monday's weekly reminder goes as usual.
    await ticker.run(local("2026-11-30 09:00"))
    reminded = [q.purpose for q in await outbox.new() if q.purpose.startswith("reminder:")]
    assert reminded and all(p.endswith(":weekly:2026-11-30") for p in reminded)


async def test_a_maker_who_left_is_replaced_by_every_staff_member(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    await second_staff(sessionmaker)
    await weekly(sessionmaker, created_by=county.people["staff"].id)
    async with transaction(sessionmaker) as session:
        staff_id = county.people["staff"].id
        await session.execute(
            update(Person).where(Person.id == staff_id).values(role=Role.NONE.value)
        )
    await ticker.run(local("2026-11-23 08:00"))
    told = [q.chat_id for q in await outbox.new() if q.purpose.endswith(":opened")]
    assert told == [OTHER_STAFF]


async def test_an_opening_and_a_reminder_due_together_stay_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    ticker: Ticker,
    outbox: Outbox,
) -> None:
    """The schedule opens its round at Monday 09:00, when the weekly reminder of a report
    the school already owes is due too: the announcement of the new report, then the
    reminder of the other one (not one list that buries the new report)."""
    async with transaction(sessionmaker) as session:
        await open_round_at(
            session, "2026-11-16 10:00", "2026-12-20 17:00", period="2026", code="training"
        )
    await ticker.run(local("2026-11-16 10:00"))
    await outbox.new()
    await weekly(sessionmaker, open_time=time(9, 0))
    await ticker.run(local("2026-11-23 09:00"))
    told = {q.chat_id: q for q in await outbox.new() if q.purpose.startswith("reminder:")}
    staffing, training = form("staffing").title, form("training").title
    for chat, lang in ((5002, "zh"), (5011, "en")):
        announcement, reminder = told[chat].texts
        assert staffing.get(lang) in announcement and training.get(lang) not in announcement
        assert training.get(lang) in reminder and staffing.get(lang) not in reminder
