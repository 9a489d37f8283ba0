"""The scheduler inside the running bot: JobQueue jobs with stable ids, a controlled clock."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import transaction
from scheduler.jobs import TICK_ID, Scheduler
from tests.double import BotApiDouble
from tests.schedule.conftest import (
    Clock,
    County,
    Outbox,
    bot_settings,
    local,
    open_round_at,
    running_bot,
)


async def test_jobs_are_built_from_the_database_with_stable_ids(
    db_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    outbox: Outbox,
) -> None:
    async with transaction(sessionmaker) as session:
        round_ = await open_round_at(session, "2026-11-04 10:00", "2026-11-20 17:00")
    clock = Clock(local("2026-11-04 10:00"))
    async with BotApiDouble() as tg:
        settings = bot_settings(db_url, tg, scheduler={"tick_seconds": 5})
        async with running_bot(settings, clock) as app:
            scheduler = app.bot_data["services"].scheduler
            assert isinstance(scheduler, Scheduler)
            assert app.job_queue is not None
            # With PostgreSQL the jobs come once this process holds the leader lock.
            for _ in range(100):
                if scheduler.running:
                    break
                await asyncio.sleep(0.05)
            tick = app.job_queue.scheduler.get_job(TICK_ID)
            assert tick is not None and tick.misfire_grace_time == 5
            # The first tick runs through the job queue by itself and tells principals.
            for _ in range(100):
                if await outbox.all():
                    break
                await asyncio.sleep(0.05)
            assert {q.chat_id for q in (await outbox.new())} == {5001, 5011, 5002, 5003}
            # Half an hour before the 09:00 weekly reminder, its exact-time job is there.
            clock.set("2026-11-09 08:30")
            await scheduler.tick()
            job_id = f"round:{round_.id}:weekly:2026-11-09"
            job = app.job_queue.scheduler.get_job(job_id)
            assert job is not None
            assert job.misfire_grace_time == 6 * 3600
            assert (await outbox.new()) == []
            clock.set("2026-11-09 09:00")
            await scheduler.tick()
            assert app.job_queue.scheduler.get_job(job_id) is None
            assert {q.chat_id for q in (await outbox.new())} == {5001, 5011, 5002, 5003}
        # Stopping the bot removes the scheduler's jobs.
        assert app.job_queue.scheduler.get_job(TICK_ID) is None
