"""The outbox on SQLite and PostgreSQL: idempotent enqueue, exclusive claims, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from models import outbox
from models.base import utcnow
from models.db import create_engine, create_sessionmaker, transaction
from models.outbox import Delivery, Outgoing, OutMessage, SentItem, Status
from models.roster.tables import Person
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster


def items(chat_ids: range, text: str = "通知") -> list[Outgoing]:
    return [Outgoing(chat_id, None, (OutMessage(text=text),)) for chat_id in chat_ids]


async def count(sessions: Sessions, *where: object) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Delivery)
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int((await session.execute(query)).scalar_one())


async def test_enqueue_twice_adds_nothing_the_second_time(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        assert await outbox.enqueue(session, "notice:1", items(range(1, 1201))) == 1200
    async with transaction(sessionmaker) as session:
        # A retried enqueue (crash, double click) with a few new recipients adds just those.
        assert await outbox.enqueue(session, "notice:1", items(range(1, 1211))) == 10
        # The same recipients for another purpose are new deliveries.
        assert await outbox.enqueue(session, "notice:1:remind:1", items(range(1, 4))) == 3
    assert await count(sessionmaker) == 1213
    assert await count(sessionmaker, Delivery.purpose == "notice:1") == 1210


async def test_payload_round_trips(sessionmaker: Sessions) -> None:
    message = OutMessage(
        kind="document",
        text="<b>附件</b>",
        keyboard=((outbox.Button("✅ 已阅", callback_data="nack:7"),),),
        file_id="F1",
        file_name="名单.xlsx",
        reply_to_message_id=12,
    )
    async with transaction(sessionmaker) as session:
        await outbox.enqueue(session, "p", [Outgoing(5, None, (message, OutMessage(text="x")))])
    async with transaction(sessionmaker) as session:
        (row,) = await outbox.claim(session, 10, utcnow(), token="t", lease_seconds=30)
    assert row.messages == [message, OutMessage(text="x")]


async def test_claims_are_exclusive_and_follow_due_time(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        await outbox.enqueue(session, "now", items(range(1, 31)))
        await outbox.enqueue(
            session, "later", items(range(1, 11)), not_before=utcnow() + timedelta(hours=1)
        )
    now = utcnow()
    async with transaction(sessionmaker) as session:
        first = await outbox.claim(session, 20, now, token="a", lease_seconds=7200)
    async with transaction(sessionmaker) as session:
        second = await outbox.claim(session, 20, now, token="b", lease_seconds=7200)
    async with transaction(sessionmaker) as session:
        third = await outbox.claim(session, 20, now, token="c", lease_seconds=30)
    assert len(first) == 20 and len(second) == 10 and third == []
    assert not {r.id for r in first} & {r.id for r in second}
    assert all(r.purpose == "now" and r.status == Status.CLAIMED for r in first + second)
    # An hour later the scheduled ones are due.
    async with transaction(sessionmaker) as session:
        later = await outbox.claim(
            session, 50, now + timedelta(hours=1, seconds=1), token="d", lease_seconds=30
        )
    assert {r.purpose for r in later} == {"later"} and len(later) == 10


async def test_concurrent_workers_never_claim_the_same_row(db_url: str) -> None:
    """Four workers with engines of their own claim at once until nothing is left."""
    setup = create_engine(db_url)
    async with transaction(create_sessionmaker(setup)) as session:
        await outbox.enqueue(session, "notice:9", items(range(1, 601)))
    await setup.dispose()

    async def worker(name: str) -> list[int]:
        engine = create_engine(db_url)
        sessions = create_sessionmaker(engine)
        taken: list[int] = []
        try:
            while True:
                async with transaction(sessions) as session:
                    rows = await outbox.claim(
                        session, 10, utcnow(), token=name, lease_seconds=60
                    )
                if not rows:
                    return taken
                taken.extend(r.id for r in rows)
                await asyncio.sleep(0)
        finally:
            await engine.dispose()

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    everything = [row_id for taken in results for row_id in taken]
    assert len(everything) == 600
    assert len(set(everything)) == 600
    if db_url.startswith("postgresql"):
        # SKIP LOCKED lets them work side by side (SQLite simply takes one writer at a time).
        assert sum(1 for taken in results if taken) >= 2, "the claims did not interleave"


async def test_expired_leases_are_claimed_again_and_in_flight_ones_flagged(
    sessionmaker: Sessions,
) -> None:
    async with transaction(sessionmaker) as session:
        await outbox.enqueue(session, "notice:2", items(range(1, 5)))
    now = utcnow()
    async with transaction(sessionmaker) as session:
        rows = await outbox.claim(session, 10, now, token="dead", lease_seconds=30)
        assert len(rows) == 4
        # The dead worker had handed two of them to Telegram when it died.
        assert await outbox.mark_sending_many(session, [(r.id, "dead") for r in rows[:2]]) == {
            r.id for r in rows[:2]
        }
    async with transaction(sessionmaker) as session:
        assert await outbox.claim(session, 10, now + timedelta(seconds=10), token="x",
                                  lease_seconds=30) == []
    async with transaction(sessionmaker) as session:
        again = await outbox.claim(
            session, 10, now + timedelta(seconds=31), token="alive", lease_seconds=30
        )
    assert len(again) == 4
    doubtful = {r.id for r in again if r.resumed_in_doubt}
    assert doubtful == {r.id for r in rows[:2]}
    # The dead worker's late writes do nothing: the rows are not its own any more.
    async with transaction(sessionmaker) as session:
        assert not await outbox.mark_sent(
            session, rows[0].id, "dead", parts_sent=1, message_id=1, now=now
        )
        recorded = await outbox.mark_sent_many(
            session, [SentItem(r.id, "alive", 1, 100 + r.id) for r in again], now
        )
    assert recorded == {r.id for r in again}
    async with sessionmaker() as session:
        batch_less = await session.execute(select(Delivery.in_doubt, Delivery.status))
        assert sorted(batch_less.all()) == [(0, "sent"), (0, "sent"), (1, "sent"), (1, "sent")]


async def test_outcomes_retry_fail_block_and_release(sessionmaker: Sessions) -> None:
    async with transaction(sessionmaker) as session:
        roster = await make_roster(session, 3, districts=1)
        people = (await session.execute(select(Person).order_by(Person.id))).scalars().all()
        batch = await outbox.create_batch(session, "notice", title="t")
        await outbox.enqueue(
            session,
            "notice:3",
            [Outgoing(p.telegram_id, p.id, (OutMessage(text="x"),)) for p in people],
            batch_id=batch.id,
        )
    now = utcnow()
    async with transaction(sessionmaker) as session:
        a, b, c = await outbox.claim(session, 10, now, token="t", lease_seconds=30)
        assert await outbox.reschedule(
            session, a.id, "t", at=now + timedelta(seconds=5), error="NetworkError: 502"
        )
        assert await outbox.mark_failed(session, b.id, "t", error="Forbidden", blocked=True)
        assert await outbox.release(session, [(c.id, "t")]) == 1
    async with sessionmaker() as session:
        states = {
            d.chat_id: (d.status, d.attempts, d.last_error)
            for d in (await session.execute(select(Delivery))).scalars()
        }
        blocked = (
            await session.execute(select(Person).where(Person.telegram_id == b.chat_id))
        ).scalar_one()
        progress = await outbox.progress(session, batch.id)
        undelivered = await outbox.undelivered(session, batch.id)
    assert states[a.chat_id] == ("pending", 1, "NetworkError: 502")
    assert states[b.chat_id][0] == "blocked"
    assert states[c.chat_id] == ("pending", 0, "")
    assert blocked.reachable is False
    assert (progress.total, progress.blocked, progress.left) == (3, 1, 2)
    assert [u.name for u in undelivered] == [blocked.name] and undelivered[0].school
    assert roster.telegram_ids
